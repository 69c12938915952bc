"""What can be asked of initiatives."""

from __future__ import annotations

from typing import Protocol

from codewalkers.db.enums import InitiativeStatus
from codewalkers.db.records import Initiative
from codewalkers.db.repositories._crud import CrudRepository


class InitiativeRepository(CrudRepository[Initiative], Protocol):
    def find_by_status(self, status: InitiativeStatus | str) -> list[Initiative]: ...
