"""Initiatives: the top of the plan (initiative > phase > task)."""

from __future__ import annotations

from typing import Any

from codewalkers.db import schema
from codewalkers.db._validation import TableRules, check_enum
from codewalkers.db.enums import InitiativeStatus
from codewalkers.db.records import Initiative
from codewalkers.db.repositories.sqlalchemy._base import SqlRepository


class SqlInitiativeRepository(SqlRepository[Initiative]):
    table = schema.initiatives
    record_type = Initiative
    entity = "initiative"
    rules = TableRules(table, entity, not_blank=["name"])

    def find_by_status(self, status: InitiativeStatus | str) -> list[Initiative]:
        """Initiatives with this status, oldest first."""
        value: Any = check_enum("status", status, InitiativeStatus)
        return self._find_where(self.table.c.status == value)
