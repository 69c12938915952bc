"""Chat sessions for refining a phase or task, and their messages."""

from __future__ import annotations

from typing import Any

from codewalkers.db import schema
from codewalkers.db._validation import TableRules, check_enum
from codewalkers.db.enums import ChatSessionStatus, ChatTargetType
from codewalkers.db.records import ChatMessage, ChatSession
from codewalkers.db.repositories.sqlalchemy._base import SqlRepository, check_id

sessions = schema.chat_sessions
messages = schema.chat_messages
_ACTIVE = sessions.c.status == ChatSessionStatus.ACTIVE.value


class _ChatMessages(SqlRepository[ChatMessage]):
    table = messages
    record_type = ChatMessage
    entity = "chat message"
    rules = TableRules(table, entity, managed=["created_at"])


class SqlChatSessionRepository(SqlRepository[ChatSession]):
    table = sessions
    record_type = ChatSession
    entity = "chat session"
    rules = TableRules(table, entity, immutable=["id", "target_type", "target_id"])

    def __init__(self, db: Any) -> None:
        super().__init__(db)
        self._messages = _ChatMessages(db)

    def create_session(self, **fields: Any) -> ChatSession:
        """Start a session (``target_type``, ``target_id``, ``initiative_id``, ...)."""
        return self.create(**fields)

    def update_session(self, id: str, **changes: Any) -> ChatSession:
        """Change a session (e.g. ``status="closed"``). Raises ``NotFoundError``."""
        return self.update(id, **changes)

    def find_active_session(
        self, target_type: ChatTargetType | str, target_id: str
    ) -> ChatSession | None:
        """The newest active session about this phase or task, or ``None``."""
        kind: Any = check_enum("target_type", target_type, ChatTargetType)
        check_id(target_id, "target_id")
        return self._newest(sessions.c.target_type == kind, sessions.c.target_id == target_id)

    def find_active_session_by_agent_id(self, agent_id: str) -> ChatSession | None:
        """The newest active session the agent is linked to, or ``None``."""
        check_id(agent_id, "agent_id")
        return self._newest(sessions.c.agent_id == agent_id)

    def find_by_initiative_id(self, initiative_id: str) -> list[ChatSession]:
        """The initiative's sessions, oldest first."""
        check_id(initiative_id, "initiative_id")
        return self._find_where(sessions.c.initiative_id == initiative_id)

    def _newest(self, *criteria: Any) -> ChatSession | None:
        statement = (
            self._select()
            .where(_ACTIVE, *criteria)
            .order_by(sessions.c.created_at.desc(), sessions.c.id.desc())
        )
        return self._fetch_one(statement)

    def create_message(self, **fields: Any) -> ChatMessage:
        """Add a message (``chat_session_id``, ``role``, ``content``, ``change_set_id``)."""
        return self._messages.create(**fields)

    def find_messages_by_session_id(self, chat_session_id: str) -> list[ChatMessage]:
        """The session's messages in the order they were written."""
        check_id(chat_session_id, "chat_session_id")
        return self._messages._find_where(messages.c.chat_session_id == chat_session_id)
