"""What can be asked of agents."""

from __future__ import annotations

from typing import Protocol

from codewalkers.db.enums import AgentStatus
from codewalkers.db.records import Agent
from codewalkers.db.repositories._crud import CrudRepository


class AgentRepository(CrudRepository[Agent], Protocol):
    def find_by_name(self, name: str) -> Agent | None: ...

    def find_by_task_id(self, task_id: str) -> Agent | None: ...

    def find_by_session_id(self, session_id: str) -> Agent | None: ...

    def find_by_status(self, status: AgentStatus | str) -> list[Agent]: ...
