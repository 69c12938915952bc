"""Projects: the git repositories initiatives work on, and their links to initiatives."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from codewalkers.agents import git
from codewalkers.agents import projects as disk
from codewalkers.agents.paths import RuntimePaths
from codewalkers.db import Database, NotFoundError, Project
from codewalkers.services import events
from codewalkers.services.inputs import check_name, check_project_url

_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")


@dataclass(frozen=True, slots=True)
class Synced:
    """One project's sync: ``error`` is ``None`` when it worked."""

    project: Project
    cloned: bool = False
    default_branch: str | None = None
    head_commit: str | None = None
    error: str | None = None


def add_project(db: Database, name: str, url: str, *, default_branch: str | None = None) -> Project:
    """Register a project. Raises ``ConflictError`` for a name or URL already taken,
    ``ValidationError`` for a bad name or a URL git could not clone (see
    :func:`codewalkers.services.inputs.check_project_url`).
    """
    fields = {"name": check_name(name), "url": check_project_url(url)}
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


def _project(db: Database, project_id: str) -> Project:
    project: Project | None = db.projects.find_by_id(project_id)
    if project is None:
        raise NotFoundError(f"project {project_id!r} not found")
    return project


def update_project(db: Database, project_id: str, **changes: Any) -> Project:
    """Change some of ``name``, ``url``, ``default_branch``. Raises ``NotFoundError``,
    ``ConflictError`` (name or URL taken), ``ValidationError``.
    """
    if changes.get("name") is not None:
        check_name(changes["name"])
    if changes.get("url") is not None:
        changes["url"] = check_project_url(changes["url"])
    if changes.get("default_branch") is not None:
        check_name(changes["default_branch"], "default_branch")
    with db.transaction():
        _project(db, project_id)
        project: Project = db.projects.update(project_id, **changes)
        events.emit(db, events.PROJECT_UPDATED, project)
    return project


def project_removal(db: Database, project_id: str) -> list[tuple[str, int, str]]:
    """What removing the project undoes: its links to initiatives (they stay)."""
    _project(db, project_id)
    linked = db.projects.find_initiative_ids_by_project_id(project_id)
    return [("unlinks it from", len(linked), "initiative")]


def remove_project(db: Database, project_id: str) -> Project:
    """Remove the project and its links to initiatives (the initiatives stay); return it as
    it was. Raises ``NotFoundError``.
    """
    with db.transaction():
        project = _project(db, project_id)
        linked = db.projects.find_initiative_ids_by_project_id(project_id)
        db.projects.delete(project_id)
        events.emit(db, events.PROJECT_DELETED, project, initiative_ids=linked)
    return project


def redact(text: str) -> str:
    """``text`` without the user/password part of any URL in it."""
    return _USERINFO.sub("***@", text)


def sync_projects(db: Database, paths: RuntimePaths, name: str | None = None) -> list[Synced]:
    """Clone (first time) or fetch the workspace's copy of one project (by name or id) or
    of every project; set ``last_fetched_at`` and emit ``project:synced`` for each that
    worked, ``project:sync_failed`` (one line, no credentials) for each that did not.

    One failing project does not stop the others. Raises ``NotFoundError`` for an unknown
    name.
    """
    if name is None:
        chosen = db.projects.find_all()
    else:
        found = db.projects.find_by_name(name) or db.projects.find_by_id(name)
        if found is None:
            raise NotFoundError(f"project {name!r} not found")
        chosen = [found]
    return [sync_project(db, paths, project) for project in chosen]


def sync_project(db: Database, paths: RuntimePaths, project: Project) -> Synced:
    """Sync one project (see :func:`sync_projects`); never raises for a git failure."""
    try:
        result = disk.sync_project(paths, project.name, project.url, project.default_branch)
    except (git.GitError, disk.ProjectError) as exc:
        error = redact(" ".join(str(exc).split()))[:500]
        with db.transaction():
            events.emit(db, events.PROJECT_SYNC_FAILED, project, error=error)
        return Synced(project, error=error)
    with db.transaction():
        updated: Project = db.projects.update(project.id, last_fetched_at=datetime.now(UTC))
        events.emit(
            db,
            events.PROJECT_SYNCED,
            updated,
            cloned=result.cloned,
            default_branch=result.default_branch,
            head_commit=result.head_commit,
        )
    return Synced(
        updated,
        cloned=result.cloned,
        default_branch=result.default_branch,
        head_commit=result.head_commit,
    )
