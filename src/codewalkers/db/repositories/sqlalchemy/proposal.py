"""Proposals: pages, phases and tasks an agent suggests, waiting to be accepted."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from codewalkers.db import schema
from codewalkers.db._validation import TableRules, check_enum
from codewalkers.db.enums import ProposalStatus
from codewalkers.db.records import Proposal
from codewalkers.db.repositories.sqlalchemy._base import SqlRepository, check_id
from codewalkers.db.types import now_ms

proposals = schema.proposals


class SqlProposalRepository(SqlRepository[Proposal]):
    table = proposals
    record_type = Proposal
    entity = "proposal"
    rules = TableRules(table, entity, not_blank=["title"])

    def _order(self) -> tuple[ColumnElement[Any], ...]:
        return (proposals.c.sort_order, proposals.c.created_at, proposals.c.id)

    def find_by_agent_id(self, agent_id: str) -> list[Proposal]:
        """The agent's proposals, by ``sort_order``."""
        check_id(agent_id, "agent_id")
        return self._find_where(proposals.c.agent_id == agent_id)

    def find_by_initiative_id(self, initiative_id: str) -> list[Proposal]:
        """The initiative's proposals, by ``sort_order``."""
        check_id(initiative_id, "initiative_id")
        return self._find_where(proposals.c.initiative_id == initiative_id)

    def find_by_agent_id_and_status(
        self, agent_id: str, status: ProposalStatus | str
    ) -> list[Proposal]:
        """The agent's proposals with this status, by ``sort_order``."""
        check_id(agent_id, "agent_id")
        value: Any = check_enum("status", status, ProposalStatus)
        return self._find_where(proposals.c.agent_id == agent_id, proposals.c.status == value)

    def count_by_agent_id_and_status(self, agent_id: str, status: ProposalStatus | str) -> int:
        """How many of the agent's proposals have this status."""
        check_id(agent_id, "agent_id")
        value: Any = check_enum("status", status, ProposalStatus)
        statement = select(func.count()).where(
            proposals.c.agent_id == agent_id, proposals.c.status == value
        )
        return int(self._read(lambda c: c.execute(statement).scalar_one()))

    def update_many_by_agent_id(self, agent_id: str, **changes: Any) -> int:
        """Apply the same changes to every proposal of the agent; return how many changed."""
        check_id(agent_id, "agent_id")
        values = self.rules.for_update(changes)

        def work(connection: Connection) -> int:
            statement = (
                update(proposals)
                .where(proposals.c.agent_id == agent_id)
                .values({**values, "updated_at": now_ms()})
            )
            return int(connection.execute(statement).rowcount)

        return self._write(work)
