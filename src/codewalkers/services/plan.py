"""Planning use cases: initiatives with their projects, trees, approvals, readiness."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from codewalkers.content import markdown_to_tiptap
from codewalkers.db import (
    ConflictError,
    Database,
    Initiative,
    NotFoundError,
    Phase,
    Task,
    TaskStatus,
)


def get_or_raise(repository: Any, id: str, entity: str) -> Any:
    """The record with this id, or ``NotFoundError`` naming the entity."""
    record = repository.find_by_id(id)
    if record is None:
        raise NotFoundError(f"{entity} {id!r} not found")
    return record


def create_initiative(
    db: Database,
    name: str,
    *,
    project_ids: Sequence[str] = (),
    branch: str | None = None,
    merge_requires_approval: bool = True,
) -> Initiative:
    """Create an initiative linked to these projects, all or nothing."""
    with db.transaction():
        initiative: Initiative = db.initiatives.create(
            name=name, branch=branch, merge_requires_approval=merge_requires_approval
        )
        if project_ids:
            db.projects.set_initiative_projects(initiative.id, project_ids)
    return initiative


def create_phase(db: Database, initiative_id: str, name: str, markdown: str | None = None) -> Phase:
    content = markdown_to_tiptap(markdown) if markdown is not None else None
    phase: Phase = db.phases.create(initiative_id=initiative_id, name=name, content=content)
    return phase


def approve_task(db: Database, task_id: str) -> Task:
    """Approve a task waiting for approval: it becomes pending (ready once unblocked)."""
    with db.transaction():
        task: Task = get_or_raise(db.tasks, task_id, "task")
        if task.status != TaskStatus.PENDING_APPROVAL:
            raise ConflictError(f"task {task_id!r} is not waiting for approval ({task.status})")
        approved: Task = db.tasks.update(task_id, status=TaskStatus.PENDING)
    return approved


@dataclass
class TaskNode:
    task: Task
    depends_on: list[str]
    children: list[TaskNode] = field(default_factory=list)


@dataclass
class PhaseNode:
    phase: Phase
    depends_on: list[str]
    tasks: list[TaskNode]


@dataclass
class InitiativeTree:
    initiative: Initiative
    phases: list[PhaseNode]
    tasks: list[TaskNode]  # tasks directly under the initiative, in no phase


def initiative_tree(db: Database, initiative_id: str) -> InitiativeTree:
    """The initiative's phases and tasks (subtasks nested), with their dependencies."""
    initiative: Initiative = get_or_raise(db.initiatives, initiative_id, "initiative")
    phase_edges: dict[str, list[str]] = {}
    for phase_id, target in db.phases.find_dependencies_by_initiative_id(initiative_id):
        phase_edges.setdefault(phase_id, []).append(target)
    tasks = db.tasks.find_by_initiative_id(initiative_id)
    nodes = {task.id: TaskNode(task, db.tasks.get_dependencies(task.id)) for task in tasks}
    roots: dict[str | None, list[TaskNode]] = {}
    for node in nodes.values():
        parent = nodes.get(node.task.parent_task_id or "")
        if parent is not None:
            parent.children.append(node)
        else:
            roots.setdefault(node.task.phase_id, []).append(node)
    phases = [
        PhaseNode(phase, phase_edges.get(phase.id, []), roots.get(phase.id, []))
        for phase in db.phases.find_by_initiative_id(initiative_id)
    ]
    return InitiativeTree(initiative, phases, roots.get(None, []))
