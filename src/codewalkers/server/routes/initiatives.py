"""``/initiatives``: the top of the plan, its tree and its linked projects."""

from __future__ import annotations

from fastapi import status as http

from codewalkers.db import InitiativeStatus
from codewalkers.server import models as m
from codewalkers.server.errors import CONFLICT, NOT_FOUND
from codewalkers.server.routes._common import Db, changes, make_router, out, outs
from codewalkers.services import plan

router = make_router("initiatives")


@router.get("/initiatives", response_model=list[m.InitiativePublic])
def list_initiatives(db: Db, status: InitiativeStatus | None = None) -> list[m.InitiativePublic]:
    """Initiatives, oldest first (optionally only one status)."""
    rows = db.initiatives.find_by_status(status) if status else db.initiatives.find_all()
    return outs(m.InitiativePublic, rows)


@router.post(
    "/initiatives",
    status_code=http.HTTP_201_CREATED,
    response_model=m.InitiativePublic,
    responses={**NOT_FOUND, **CONFLICT},
)
def create_initiative(db: Db, body: m.InitiativeCreate) -> m.InitiativePublic:
    """Create an initiative linked to these projects, all or nothing."""
    initiative = plan.create_initiative(
        db,
        body.name,
        project_ids=body.project_ids,
        branch=body.branch,
        merge_requires_approval=body.merge_requires_approval,
    )
    return out(m.InitiativePublic, initiative)


@router.get("/initiatives/{id}", response_model=m.InitiativeDetail, responses=NOT_FOUND)
def get_initiative(db: Db, id: str) -> m.InitiativeDetail:
    """One initiative and the ids of its linked projects."""
    initiative = plan.get_or_raise(db.initiatives, id, "initiative")
    projects = db.projects.find_projects_by_initiative_id(id)
    return out(m.InitiativeDetail, initiative, project_ids=[p.id for p in projects])


@router.patch(
    "/initiatives/{id}", response_model=m.InitiativePublic, responses={**NOT_FOUND, **CONFLICT}
)
def update_initiative(db: Db, id: str, body: m.InitiativeUpdate) -> m.InitiativePublic:
    """Change what the body gives of name, status, branch, merge approval."""
    return out(m.InitiativePublic, plan.update_initiative(db, id, **changes(body)))


@router.delete("/initiatives/{id}", response_model=m.Deleted, responses=NOT_FOUND)
def delete_initiative(db: Db, id: str) -> m.Deleted:
    """Delete an initiative with its phases, tasks and pages."""
    plan.delete_initiative(db, id)
    return m.Deleted(id=id)


@router.get("/initiatives/{id}/tree", response_model=m.InitiativeTree, responses=NOT_FOUND)
def initiative_tree(db: Db, id: str) -> m.InitiativeTree:
    """Phases and tasks (subtasks nested) with their dependencies."""
    tree = plan.initiative_tree(db, id)
    return m.InitiativeTree.model_validate(tree, from_attributes=True)


@router.get("/initiatives/{id}/phases", response_model=list[m.PhasePublic], responses=NOT_FOUND)
def list_phases(db: Db, id: str) -> list[m.PhasePublic]:
    """The initiative's phases."""
    plan.get_or_raise(db.initiatives, id, "initiative")
    return outs(m.PhasePublic, db.phases.find_by_initiative_id(id))


@router.get("/initiatives/{id}/tasks", response_model=list[m.TaskPublic], responses=NOT_FOUND)
def list_tasks(db: Db, id: str) -> list[m.TaskPublic]:
    """Every task of the initiative."""
    plan.get_or_raise(db.initiatives, id, "initiative")
    return outs(m.TaskPublic, db.tasks.find_by_initiative_id(id))


@router.get("/initiatives/{id}/tasks/ready", response_model=list[m.TaskPublic], responses=NOT_FOUND)
def ready_tasks(db: Db, id: str) -> list[m.TaskPublic]:
    """Tasks that can start now: dependencies done, approved; high > medium > low, oldest."""
    plan.get_or_raise(db.initiatives, id, "initiative")
    return outs(m.TaskPublic, db.tasks.find_ready(id))


@router.get(
    "/initiatives/{id}/tasks/waiting", response_model=list[m.WaitingTask], responses=NOT_FOUND
)
def waiting_tasks(db: Db, id: str) -> list[m.WaitingTask]:
    """Each pending task that is not ready, with what it waits for (a task, a person, a
    phase, an approval).
    """
    waiting = plan.why_not_ready(db, id)
    return [m.WaitingTask.model_validate(entry, from_attributes=True) for entry in waiting]


@router.get("/initiatives/{id}/projects", response_model=list[m.ProjectPublic], responses=NOT_FOUND)
def list_linked_projects(db: Db, id: str) -> list[m.ProjectPublic]:
    """The projects the initiative changes."""
    plan.get_or_raise(db.initiatives, id, "initiative")
    return outs(m.ProjectPublic, db.projects.find_projects_by_initiative_id(id))


@router.put("/initiatives/{id}/projects", response_model=list[m.ProjectPublic], responses=NOT_FOUND)
def link_projects(db: Db, id: str, body: m.ProjectLinks) -> list[m.ProjectPublic]:
    """Link exactly these projects (others are unlinked); the linked projects."""
    return outs(m.ProjectPublic, plan.link_projects(db, id, body.project_ids))
