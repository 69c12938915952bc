"""What can be asked of change sets."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from codewalkers.db.records import ChangeSet, ChangeSetEntry
from codewalkers.db.repositories._crud import CrudRepository


class ChangeSetRepository(CrudRepository[ChangeSet], Protocol):
    def create(self, *, entries: Iterable[Mapping[str, Any]] = (), **fields: Any) -> ChangeSet:
        """The change set and its entries, in one transaction."""
        ...

    def find_by_initiative_id(self, initiative_id: str) -> list[ChangeSet]: ...

    def find_entries(self, change_set_id: str) -> list[ChangeSetEntry]: ...

    def mark_reverted(self, id: str) -> ChangeSet: ...
