"""What can be asked of projects and their links to initiatives."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from codewalkers.db.records import Project
from codewalkers.db.repositories._crud import CrudRepository


class ProjectRepository(CrudRepository[Project], Protocol):
    def find_by_name(self, name: str) -> Project | None: ...

    def find_by_url(self, url: str) -> Project | None: ...

    def find_projects_by_initiative_id(self, initiative_id: str) -> list[Project]: ...

    def find_initiative_ids_by_project_id(self, project_id: str) -> list[str]: ...

    def set_initiative_projects(self, initiative_id: str, project_ids: Iterable[str]) -> None:
        """Link exactly these projects; only the difference is written."""
        ...
