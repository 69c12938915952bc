"""What can be asked of chat sessions and their messages."""

from __future__ import annotations

from typing import Any, Protocol

from codewalkers.db.enums import ChatTargetType
from codewalkers.db.records import ChatMessage, ChatSession
from codewalkers.db.repositories._crud import CrudRepository


class ChatSessionRepository(CrudRepository[ChatSession], Protocol):
    def create_session(self, **fields: Any) -> ChatSession: ...

    def find_active_session(
        self, target_type: ChatTargetType | str, target_id: str
    ) -> ChatSession | None: ...

    def find_active_session_by_agent_id(self, agent_id: str) -> ChatSession | None: ...

    def find_by_initiative_id(self, initiative_id: str) -> list[ChatSession]: ...

    def update_session(self, id: str, **changes: Any) -> ChatSession: ...

    def create_message(self, **fields: Any) -> ChatMessage: ...

    def find_messages_by_session_id(self, chat_session_id: str) -> list[ChatMessage]: ...
