"""What can be asked of review comments."""

from __future__ import annotations

from typing import Any, Protocol

from codewalkers.db.records import ReviewComment


class ReviewCommentRepository(Protocol):
    def create(self, **fields: Any) -> ReviewComment: ...

    def find_by_phase_id(self, phase_id: str) -> list[ReviewComment]: ...

    def resolve(self, id: str) -> ReviewComment: ...

    def unresolve(self, id: str) -> ReviewComment: ...

    def delete(self, id: str) -> None: ...
