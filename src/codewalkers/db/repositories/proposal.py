"""What can be asked of proposals."""

from __future__ import annotations

from typing import Any, Protocol

from codewalkers.db.enums import ProposalStatus
from codewalkers.db.records import Proposal
from codewalkers.db.repositories._crud import CrudRepository


class ProposalRepository(CrudRepository[Proposal], Protocol):
    def find_by_agent_id(self, agent_id: str) -> list[Proposal]: ...

    def find_by_initiative_id(self, initiative_id: str) -> list[Proposal]: ...

    def find_by_agent_id_and_status(
        self, agent_id: str, status: ProposalStatus | str
    ) -> list[Proposal]: ...

    def count_by_agent_id_and_status(self, agent_id: str, status: ProposalStatus | str) -> int: ...

    def update_many_by_agent_id(self, agent_id: str, **changes: Any) -> int: ...
