"""``/tasks``: units of work, their dependencies, approval."""

from __future__ import annotations

from fastapi import status as http

from codewalkers.db import Database, Task, ValidationError
from codewalkers.server import models as m
from codewalkers.server.errors import CONFLICT, NOT_FOUND
from codewalkers.server.routes._common import Db, changes, make_router, out, outs
from codewalkers.services import plan

router = make_router("tasks")


def _detail(db: Database, task: Task) -> m.TaskDetail:
    return out(
        m.TaskDetail,
        task,
        depends_on=db.tasks.get_dependencies(task.id),
        dependents=db.tasks.get_dependents(task.id),
        effective_requires_approval=db.tasks.get_effective_requires_approval(task.id),
    )


@router.post(
    "/tasks",
    status_code=http.HTTP_201_CREATED,
    response_model=m.TaskPublic,
    responses={**NOT_FOUND, **CONFLICT},
)
def create_task(db: Db, body: m.TaskCreate) -> m.TaskPublic:
    """Create a task in a phase, directly in an initiative, or under a parent task."""
    fields = body.model_dump(exclude_none=True)
    if not fields.keys() & {"phase_id", "initiative_id", "parent_task_id"}:
        raise ValidationError("give the task a place: phase_id, initiative_id or parent_task_id")
    name = fields.pop("name")
    return out(m.TaskPublic, plan.create_task(db, name, **fields))


@router.get("/tasks/pending-approval", response_model=list[m.TaskPublic])
def pending_approval(db: Db, initiative_id: str | None = None) -> list[m.TaskPublic]:
    """Tasks waiting for approval (optionally of one initiative)."""
    return outs(m.TaskPublic, db.tasks.find_pending_approval(initiative_id))


@router.get("/tasks/{id}", response_model=m.TaskDetail, responses=NOT_FOUND)
def get_task(db: Db, id: str) -> m.TaskDetail:
    """A task, its dependencies and dependents, and whether its merge needs approval."""
    return _detail(db, plan.get_or_raise(db.tasks, id, "task"))


@router.patch("/tasks/{id}", response_model=m.TaskPublic, responses={**NOT_FOUND, **CONFLICT})
def update_task(db: Db, id: str, body: m.TaskUpdate, force: bool = False) -> m.TaskPublic:
    """Change what the body gives (status, priority, name, phase, ...). Completing a task
    whose dependencies are not completed is a 409 unless ``force``; a move that would make
    the plan impossible is a 422.
    """
    fields = changes(body)
    if set(fields) == {"status"}:
        return out(m.TaskPublic, plan.set_task_status(db, id, fields["status"], force=force))
    return out(m.TaskPublic, plan.update_task(db, id, force=force, **fields))


@router.delete("/tasks/{id}", response_model=m.Deleted, responses=NOT_FOUND)
def delete_task(db: Db, id: str) -> m.Deleted:
    """Delete a task with its subtasks."""
    plan.delete_task(db, id)
    return m.Deleted(id=id)


@router.get("/tasks/{id}/subtasks", response_model=list[m.TaskPublic], responses=NOT_FOUND)
def list_subtasks(db: Db, id: str) -> list[m.TaskPublic]:
    """The task's direct subtasks."""
    plan.get_or_raise(db.tasks, id, "task")
    return outs(m.TaskPublic, db.tasks.find_by_parent_task_id(id))


@router.post(
    "/tasks/{id}/approve", response_model=m.TaskPublic, responses={**NOT_FOUND, **CONFLICT}
)
def approve_task(db: Db, id: str) -> m.TaskPublic:
    """Approve a task waiting for approval (pending_approval → pending); 409 otherwise."""
    return out(m.TaskPublic, plan.approve_task(db, id))


@router.get("/tasks/{id}/dependencies", response_model=list[str], responses=NOT_FOUND)
def list_dependencies(db: Db, id: str) -> list[str]:
    """The ids of the tasks this one depends on."""
    plan.get_or_raise(db.tasks, id, "task")
    return db.tasks.get_dependencies(id)


@router.post("/tasks/{id}/dependencies", response_model=m.TaskDependencyResult, responses=NOT_FOUND)
def add_dependency(db: Db, id: str, body: m.TaskDependencyCreate) -> m.TaskDependencyResult:
    """Make the task depend on another (cycles are refused with 422)."""
    added = plan.add_task_dependency(db, id, body.depends_on_task_id)
    return m.TaskDependencyResult(
        task_id=id, depends_on_task_id=body.depends_on_task_id, added=added
    )


@router.delete(
    "/tasks/{id}/dependencies/{depends_on_task_id}",
    response_model=m.DependencyRemoved,
    responses=NOT_FOUND,
)
def remove_dependency(db: Db, id: str, depends_on_task_id: str) -> m.DependencyRemoved:
    """Remove the dependency, if there is one."""
    removed = plan.remove_task_dependency(db, id, depends_on_task_id)
    return m.DependencyRemoved(removed=removed)
