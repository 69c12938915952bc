"""What can be asked of agent-to-agent conversations."""

from __future__ import annotations

from typing import Protocol

from codewalkers.db.records import Conversation
from codewalkers.db.repositories._crud import CrudRepository


class ConversationRepository(CrudRepository[Conversation], Protocol):
    def find_pending_for_agent(self, agent_id: str) -> list[Conversation]: ...

    def find_by_from_agent_id(self, agent_id: str) -> list[Conversation]: ...

    def answer(self, id: str, answer: str) -> Conversation:
        """Raises ``NotFoundError`` (unknown) or ``ConflictError`` (already answered)."""
        ...
