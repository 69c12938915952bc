"""What can be asked of errands."""

from __future__ import annotations

from typing import Protocol

from codewalkers.db.records import Errand
from codewalkers.db.repositories._crud import CrudRepository


class ErrandRepository(CrudRepository[Errand], Protocol):
    def find_by_project_id(self, project_id: str) -> list[Errand]: ...

    def find_by_agent_id(self, agent_id: str) -> Errand | None: ...
