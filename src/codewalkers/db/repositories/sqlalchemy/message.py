"""Messages between the user and agents, threaded through ``parent_message_id``."""

from __future__ import annotations

from codewalkers.db import schema
from codewalkers.db._validation import TableRules
from codewalkers.db.enums import MessageStatus, ParticipantType
from codewalkers.db.records import Message
from codewalkers.db.repositories.sqlalchemy._base import SqlRepository, check_id

messages = schema.messages


class SqlMessageRepository(SqlRepository[Message]):
    table = messages
    record_type = Message
    entity = "message"
    rules = TableRules(table, entity)

    def find_pending_for_user(self) -> list[Message]:
        """Messages to the user that the user has not read yet, oldest first."""
        return self._find_where(
            messages.c.recipient_type == ParticipantType.USER.value,
            messages.c.status == MessageStatus.PENDING.value,
        )

    def find_requiring_response(self) -> list[Message]:
        """Messages that ask for a response and have not had one, oldest first."""
        return self._find_where(
            messages.c.requires_response.is_(True),
            messages.c.status != MessageStatus.RESPONDED.value,
        )

    def find_replies(self, parent_message_id: str) -> list[Message]:
        """The replies to a message, oldest first."""
        check_id(parent_message_id, "parent_message_id")
        return self._find_where(messages.c.parent_message_id == parent_message_id)

    def find_by_agent_id(self, agent_id: str) -> list[Message]:
        """Messages an agent sent or received, oldest first."""
        check_id(agent_id, "agent_id")
        return self._find_where(
            (messages.c.sender_id == agent_id) | (messages.c.recipient_id == agent_id)
        )
