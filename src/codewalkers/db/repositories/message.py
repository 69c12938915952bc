"""What can be asked of user <-> agent messages."""

from __future__ import annotations

from typing import Protocol

from codewalkers.db.records import Message
from codewalkers.db.repositories._crud import CrudRepository


class MessageRepository(CrudRepository[Message], Protocol):
    def find_pending_for_user(self) -> list[Message]: ...

    def find_requiring_response(self) -> list[Message]: ...

    def find_replies(self, parent_message_id: str) -> list[Message]: ...

    def find_by_agent_id(self, agent_id: str) -> list[Message]: ...
