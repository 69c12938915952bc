"""Errands: small work on one project outside any initiative."""

from __future__ import annotations

from codewalkers.db import schema
from codewalkers.db._validation import TableRules
from codewalkers.db.records import Errand
from codewalkers.db.repositories.sqlalchemy._base import SqlRepository, check_id

errands = schema.errands


class SqlErrandRepository(SqlRepository[Errand]):
    table = errands
    record_type = Errand
    entity = "errand"
    rules = TableRules(
        table,
        entity,
        immutable=["id", "project_id", "branch", "base_branch"],
        not_blank=["description", "branch", "base_branch"],
    )

    def find_by_project_id(self, project_id: str) -> list[Errand]:
        """The project's errands, oldest first."""
        check_id(project_id, "project_id")
        return self._find_where(errands.c.project_id == project_id)

    def find_by_agent_id(self, agent_id: str) -> Errand | None:
        """The errand the agent works on, if any."""
        check_id(agent_id, "agent_id")
        found = self._find_where(errands.c.agent_id == agent_id)
        return found[0] if found else None
