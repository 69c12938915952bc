"""Change sets: a revertable group of changes to pages, phases and tasks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.engine import Connection

from codewalkers.db import schema
from codewalkers.db._validation import TableRules
from codewalkers.db.enums import ChangeSetStatus
from codewalkers.db.errors import ConflictError, ValidationError
from codewalkers.db.ids import new_id
from codewalkers.db.records import ChangeSet, ChangeSetEntry
from codewalkers.db.repositories.sqlalchemy._base import SqlRepository, check_id
from codewalkers.db.types import now_ms

change_sets = schema.change_sets
entries = schema.change_set_entries


class _Entries(SqlRepository[ChangeSetEntry]):
    table = entries
    record_type = ChangeSetEntry
    entity = "change set entry"
    rules = TableRules(table, entity, managed=["created_at", "change_set_id"])


class SqlChangeSetRepository(SqlRepository[ChangeSet]):
    table = change_sets
    record_type = ChangeSet
    entity = "change set"
    rules = TableRules(table, entity, immutable=["id", "initiative_id"])

    def __init__(self, db: Any) -> None:
        super().__init__(db)
        self._entries = _Entries(db)

    def create(self, *, entries: Iterable[Mapping[str, Any]] = (), **fields: Any) -> ChangeSet:
        """Record a change set and its entries (each: ``entity_type``, ``entity_id``,
        ``action``, ``previous_state``, ``new_state``; ``sort_order`` defaults to position)
        in one transaction.
        """
        values = self.rules.for_create(fields)
        items = []
        for position, entry in enumerate(entries):
            if not isinstance(entry, Mapping):
                raise ValidationError("each change set entry must be a mapping of fields")
            items.append({"sort_order": position, **self._entries.rules.for_create(entry)})

        def work(connection: Connection) -> ChangeSet:
            change_set: ChangeSet = self._insert(connection, values)
            if items:
                now = now_ms()
                # Every row names every column: an executemany takes its columns from the
                # first row, so a state given only by a later entry would be lost or refused.
                rows = [
                    {
                        "id": new_id(),
                        "change_set_id": change_set.id,
                        "created_at": now,
                        "previous_state": None,
                        "new_state": None,
                        **item,
                    }
                    for item in items
                ]
                connection.execute(insert(schema.change_set_entries), rows)
            return change_set

        return self._write(work)

    def find_by_initiative_id(self, initiative_id: str) -> list[ChangeSet]:
        """The initiative's change sets, oldest first."""
        check_id(initiative_id, "initiative_id")
        return self._find_where(change_sets.c.initiative_id == initiative_id)

    def find_entries(self, change_set_id: str) -> list[ChangeSetEntry]:
        """The change set's entries, in order."""
        check_id(change_set_id, "change_set_id")
        return self._entries._fetch_all(
            self._entries._select()
            .where(entries.c.change_set_id == change_set_id)
            .order_by(entries.c.sort_order, entries.c.id)
        )

    def mark_reverted(self, id: str) -> ChangeSet:
        """Mark the change set reverted. Raises ``NotFoundError`` for an unknown id and
        ``ConflictError`` when it was already reverted.
        """
        check_id(id)

        def work(connection: Connection) -> ChangeSet:
            now = now_ms()
            statement = (
                update(change_sets)
                .where(
                    change_sets.c.id == id,
                    change_sets.c.status == ChangeSetStatus.APPLIED.value,
                )
                .values(status=ChangeSetStatus.REVERTED.value, reverted_at=now, updated_at=now)
                .returning(*self._columns)
            )
            row = connection.execute(statement).first()
            if row is not None:
                return self._record(row)
            if self._exists(connection, change_sets, id):
                raise ConflictError(f"change set {id!r} was already reverted")
            raise self._not_found(id)

        return self._write(work)
