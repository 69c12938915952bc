"""Agents: one AI coding process (or its record) working in its own worktree."""

from __future__ import annotations

from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection

from codewalkers.db import schema
from codewalkers.db._validation import TableRules, check_enum
from codewalkers.db.enums import AgentStatus
from codewalkers.db.errors import ConflictError
from codewalkers.db.ids import new_agent_name
from codewalkers.db.records import Agent
from codewalkers.db.repositories.sqlalchemy._base import SqlRepository, check_id

agents = schema.agents
NAME_ATTEMPTS = 50
_NAMED_ON_INSERT = frozenset({"name", "worktree_id"})


class SqlAgentRepository(SqlRepository[Agent]):
    table = agents
    record_type = Agent
    entity = "agent"
    rules = TableRules(table, entity, not_blank=["name", "worktree_id"])

    def create(self, **fields: Any) -> Agent:
        """Insert an agent. Without a ``name`` it gets a fresh adjective-animal one, and
        without a ``worktree_id`` its worktree is named after it.

        Raises ``ConflictError`` when the given name is taken.
        """
        if fields.get("name") is not None:
            fields.setdefault("worktree_id", fields["name"])
            return super().create(**fields)
        fields.pop("name", None)
        values = self.rules.for_create(fields, filled_later=_NAMED_ON_INSERT)
        return self._write(lambda c: self._insert_named(c, values))

    def _insert_named(self, connection: Connection, values: dict[str, Any]) -> Agent:
        for attempt in range(NAME_ATTEMPTS):
            name = new_agent_name(attempt)
            if self._find_name(connection, name):
                continue
            row = {"worktree_id": name, **values, "name": name}
            try:
                # A savepoint, so that losing a race for the name leaves the transaction usable.
                with connection.begin_nested():
                    return self._insert(connection, row)
            except ConflictError as exc:
                if not isinstance(exc.__cause__, sa_exc.IntegrityError):
                    raise
        raise ConflictError(f"no free agent name found after {NAME_ATTEMPTS} attempts")

    def _find_name(self, connection: Connection, name: str) -> bool:
        statement = self._select().where(agents.c.name == name)
        return connection.execute(statement).first() is not None

    def find_by_name(self, name: str) -> Agent | None:
        """The agent with this name, or ``None``."""
        check_id(name, "name")
        return self._fetch_one(self._select().where(agents.c.name == name))

    def find_by_task_id(self, task_id: str) -> Agent | None:
        """The newest agent assigned to the task, or ``None``."""
        check_id(task_id, "task_id")
        statement = (
            self._select()
            .where(agents.c.task_id == task_id)
            .order_by(agents.c.created_at.desc(), agents.c.id.desc())
        )
        return self._fetch_one(statement)

    def find_by_session_id(self, session_id: str) -> Agent | None:
        """The agent running this CLI session, or ``None``."""
        check_id(session_id, "session_id")
        return self._fetch_one(self._select().where(agents.c.session_id == session_id))

    def find_by_status(self, status: AgentStatus | str) -> list[Agent]:
        """Agents with this status, oldest first."""
        value: Any = check_enum("status", status, AgentStatus)
        return self._find_where(agents.c.status == value)
