"""``/projects``: the git repositories initiatives change."""

from __future__ import annotations

from fastapi import status as http

from codewalkers.server import models as m
from codewalkers.server.errors import CONFLICT, NOT_FOUND
from codewalkers.server.routes._common import (
    NO_RUNTIME,
    Db,
    Runtime,
    changes,
    make_router,
    out,
    outs,
)
from codewalkers.services import plan, projects

router = make_router("projects")


@router.get("/projects", response_model=list[m.ProjectPublic])
def list_projects(db: Db) -> list[m.ProjectPublic]:
    """Projects, oldest first."""
    return outs(m.ProjectPublic, db.projects.find_all())


@router.post(
    "/projects",
    status_code=http.HTTP_201_CREATED,
    response_model=m.ProjectPublic,
    responses=CONFLICT,
)
def create_project(db: Db, body: m.ProjectCreate) -> m.ProjectPublic:
    """Register a project; name and URL are unique (409)."""
    project = projects.add_project(db, body.name, body.url, default_branch=body.default_branch)
    return out(m.ProjectPublic, project)


@router.get("/projects/{id}", response_model=m.ProjectPublic, responses=NOT_FOUND)
def get_project(db: Db, id: str) -> m.ProjectPublic:
    """One project."""
    return out(m.ProjectPublic, plan.get_or_raise(db.projects, id, "project"))


@router.get("/projects/{id}/initiatives", response_model=list[str], responses=NOT_FOUND)
def linked_initiatives(db: Db, id: str) -> list[str]:
    """The ids of the initiatives linked to the project."""
    plan.get_or_raise(db.projects, id, "project")
    return db.projects.find_initiative_ids_by_project_id(id)


@router.patch("/projects/{id}", response_model=m.ProjectPublic, responses={**NOT_FOUND, **CONFLICT})
def update_project(db: Db, id: str, body: m.ProjectUpdate) -> m.ProjectPublic:
    """Change what the body gives of name, URL and default branch."""
    return out(m.ProjectPublic, projects.update_project(db, id, **changes(body)))


@router.delete("/projects/{id}", response_model=m.Deleted, responses=NOT_FOUND)
def remove_project(db: Db, id: str) -> m.Deleted:
    """Remove the project and its links to initiatives (the initiatives stay)."""
    projects.remove_project(db, id)
    return m.Deleted(id=id)


@router.post(
    "/projects/sync",
    response_model=list[m.ProjectSynced],
    responses={**NOT_FOUND, **NO_RUNTIME},
)
def sync_projects(runtime: Runtime, name: str | None = None) -> list[m.ProjectSynced]:
    """Clone (first time) or fetch the workspace's copy of one project (``name``: its name
    or id) or of all; each answer says whether it worked (``error``), one failing project
    does not stop the others."""
    return [
        m.ProjectSynced(
            project=out(m.ProjectPublic, synced.project),
            cloned=synced.cloned,
            default_branch=synced.default_branch,
            head_commit=synced.head_commit,
            error=synced.error,
        )
        for synced in projects.sync_projects(runtime.db, runtime.paths, name)
    ]
