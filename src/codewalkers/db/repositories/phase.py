"""What can be asked of phases and their dependencies."""

from __future__ import annotations

from typing import Protocol

from codewalkers.db.records import Phase
from codewalkers.db.repositories._crud import CrudRepository


class PhaseRepository(CrudRepository[Phase], Protocol):
    def find_by_initiative_id(self, initiative_id: str) -> list[Phase]: ...

    def create_dependency(self, phase_id: str, depends_on_phase_id: str) -> bool:
        """Add the edge (False if it existed); cycles and other initiatives are refused."""
        ...

    def remove_dependency(self, phase_id: str, depends_on_phase_id: str) -> bool: ...

    def get_dependencies(self, phase_id: str) -> list[str]: ...

    def get_dependents(self, phase_id: str) -> list[str]: ...

    def find_dependencies_by_initiative_id(self, initiative_id: str) -> list[tuple[str, str]]: ...
