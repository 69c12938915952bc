"""Conversations: one agent's question to another, and its answer."""

from __future__ import annotations

from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import Connection

from codewalkers.db import schema
from codewalkers.db._validation import TableRules, check_text
from codewalkers.db.enums import ConversationStatus
from codewalkers.db.errors import ConflictError
from codewalkers.db.records import Conversation
from codewalkers.db.repositories.sqlalchemy._base import SqlRepository, check_id
from codewalkers.db.repositories.sqlalchemy._raw import Prepared
from codewalkers.db.types import now_ms

conversations = schema.conversations


_PENDING_FOR_AGENT = Prepared(
    select(*conversations.columns)
    .where(
        conversations.c.to_agent_id == bindparam("agent_id", type_=conversations.c.id.type),
        conversations.c.status == ConversationStatus.PENDING.value,
    )
    .order_by(conversations.c.created_at, conversations.c.id),
    conversations.columns,
)


class SqlConversationRepository(SqlRepository[Conversation]):
    table = conversations
    record_type = Conversation
    entity = "conversation"
    rules = TableRules(table, entity, not_blank=["question"])

    def find_pending_for_agent(self, agent_id: str) -> list[Conversation]:
        """Questions waiting for ``agent_id``'s answer, oldest first."""
        check_id(agent_id, "agent_id")
        return self._prepared_all(_PENDING_FOR_AGENT, {"agent_id": agent_id})

    def find_by_from_agent_id(self, agent_id: str) -> list[Conversation]:
        """Questions ``agent_id`` asked, oldest first."""
        check_id(agent_id, "agent_id")
        return self._find_where(conversations.c.from_agent_id == agent_id)

    def answer(self, id: str, answer: str) -> Conversation:
        """Record the answer. Raises ``NotFoundError`` for an unknown conversation and
        ``ConflictError`` when it was already answered (the first answer stands).
        """
        check_id(id)
        check_text("answer", answer)

        def work(connection: Connection) -> Conversation:
            statement = (
                update(conversations)
                .where(
                    conversations.c.id == id,
                    conversations.c.status == ConversationStatus.PENDING.value,
                )
                .values(
                    answer=answer,
                    status=ConversationStatus.ANSWERED.value,
                    updated_at=now_ms(),
                )
                .returning(*self._columns)
            )
            row = connection.execute(statement).first()
            if row is not None:
                return self._record(row)
            if self._exists(connection, conversations, id):
                raise ConflictError(f"conversation {id!r} was already answered")
            raise self._not_found(id)

        return self._write(work)
