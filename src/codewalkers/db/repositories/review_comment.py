"""What can be asked of review comments."""

from __future__ import annotations

from typing import Protocol

from codewalkers.db.records import ReviewComment
from codewalkers.db.repositories._crud import CrudRepository


class ReviewCommentRepository(CrudRepository[ReviewComment], Protocol):
    def find_by_phase_id(self, phase_id: str) -> list[ReviewComment]: ...

    def resolve(self, id: str) -> ReviewComment: ...

    def unresolve(self, id: str) -> ReviewComment: ...
