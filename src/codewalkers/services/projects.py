"""Projects: the git repositories initiatives work on, and their links to initiatives."""

from __future__ import annotations

from collections.abc import Sequence

from codewalkers.db import Database, Project
from codewalkers.services import events


def add_project(db: Database, name: str, url: str, *, default_branch: str | None = None) -> Project:
    """Register a project. Raises ``ConflictError`` for a name or URL already taken."""
    fields = {"name": name, "url": url}
    if default_branch is not None:
        fields["default_branch"] = default_branch
    with db.transaction():
        project: Project = db.projects.create(**fields)
        events.emit(db, events.PROJECT_CREATED, project)
    return project


def link_projects(db: Database, initiative_id: str, project_ids: Sequence[str]) -> list[Project]:
    """Link the initiative to exactly these projects (others are unlinked); return them.

    Raises ``ReferenceNotFoundError`` for an unknown initiative or project.
    """
    with db.transaction():
        db.projects.set_initiative_projects(initiative_id, project_ids)
        linked: list[Project] = db.projects.find_projects_by_initiative_id(initiative_id)
        events.emit(
            db,
            events.PROJECT_LINKED,
            {"initiative_id": initiative_id, "project_ids": [p.id for p in linked]},
            entity_id=initiative_id,
        )
    return linked
