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
    InitiativeStatus,
    NotFoundError,
    Phase,
    PhaseStatus,
    Task,
    TaskStatus,
)
from codewalkers.services import events


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
        events.emit(db, events.INITIATIVE_CREATED, initiative)
        if project_ids:
            linked = [p.id for p in db.projects.find_projects_by_initiative_id(initiative.id)]
            events.emit(
                db,
                events.PROJECT_LINKED,
                {"initiative_id": initiative.id, "project_ids": linked},
                entity_id=initiative.id,
            )
    return initiative


def update_initiative(db: Database, initiative_id: str, **changes: Any) -> Initiative:
    """Change some of an initiative's fields (``name``, ``status``, ``branch``,
    ``merge_requires_approval``). Raises ``NotFoundError``, ``ValidationError``.
    """
    with db.transaction():
        initiative: Initiative = db.initiatives.update(initiative_id, **changes)
        events.emit(db, events.INITIATIVE_UPDATED, initiative)
    return initiative


def archive_initiative(db: Database, initiative_id: str) -> Initiative:
    """Set the initiative's status to archived (nothing is deleted)."""
    return update_initiative(db, initiative_id, status=InitiativeStatus.ARCHIVED)


def delete_initiative(db: Database, initiative_id: str) -> Initiative:
    """Delete the initiative with its phases, tasks and pages; return it as it was."""
    with db.transaction():
        initiative: Initiative = get_or_raise(db.initiatives, initiative_id, "initiative")
        db.initiatives.delete(initiative_id)
        events.emit(db, events.INITIATIVE_DELETED, initiative)
    return initiative


def create_phase(db: Database, initiative_id: str, name: str, markdown: str | None = None) -> Phase:
    """Create a phase (content given as Markdown). Raises ``ReferenceNotFoundError`` for an
    unknown initiative, ``ValidationError``.
    """
    content = markdown_to_tiptap(markdown) if markdown is not None else None
    with db.transaction():
        phase: Phase = db.phases.create(initiative_id=initiative_id, name=name, content=content)
        events.emit(db, events.PHASE_CREATED, phase)
    return phase


def set_phase_status(db: Database, phase_id: str, status: PhaseStatus | str) -> Phase:
    """Set a phase's status. Raises ``NotFoundError``, ``ValidationError`` (bad status)."""
    with db.transaction():
        before: Phase = get_or_raise(db.phases, phase_id, "phase")
        phase: Phase = db.phases.update(phase_id, status=status)
        events.emit(db, events.PHASE_STATUS_CHANGED, phase, previous_status=before.status)
    return phase


def add_phase_dependency(db: Database, phase_id: str, depends_on_phase_id: str) -> bool:
    """Make a phase depend on another of its initiative; ``False`` if it already did.
    Raises ``ValidationError`` for a self-dependency, a cycle or another initiative's phase.
    """
    with db.transaction():
        added = db.phases.create_dependency(phase_id, depends_on_phase_id)
        if added:
            phase: Phase = get_or_raise(db.phases, phase_id, "phase")
            events.emit(db, events.PHASE_UPDATED, phase, depends_on_phase_id=depends_on_phase_id)
    return added


def update_phase(db: Database, phase_id: str, **changes: Any) -> Phase:
    """Change some of a phase's fields (``name``, ``status``, ``content`` as Tiptap).

    Emits ``phase:status_changed`` when the status changed, then ``phase:updated``.
    Raises ``NotFoundError``, ``ValidationError``.
    """
    with db.transaction():
        before: Phase = get_or_raise(db.phases, phase_id, "phase")
        phase: Phase = db.phases.update(phase_id, **changes)
        if phase.status != before.status:
            events.emit(db, events.PHASE_STATUS_CHANGED, phase, previous_status=before.status)
        events.emit(db, events.PHASE_UPDATED, phase)
    return phase


def remove_phase_dependency(db: Database, phase_id: str, depends_on_phase_id: str) -> bool:
    """Remove the dependency; ``False`` if there was none. ``NotFoundError`` for an unknown
    phase.
    """
    with db.transaction():
        phase: Phase = get_or_raise(db.phases, phase_id, "phase")
        removed = db.phases.remove_dependency(phase_id, depends_on_phase_id)
        if removed:
            events.emit(
                db, events.PHASE_UPDATED, phase, removed_depends_on_phase_id=depends_on_phase_id
            )
    return removed


def delete_phase(db: Database, phase_id: str) -> Phase:
    """Delete a phase with its tasks; return it as it was. ``NotFoundError`` if unknown."""
    with db.transaction():
        phase: Phase = get_or_raise(db.phases, phase_id, "phase")
        db.phases.delete(phase_id)
        events.emit(db, events.PHASE_DELETED, phase)
    return phase


def create_task(db: Database, name: str, **fields: Any) -> Task:
    """Create a task in a phase, an initiative or under a parent task (``phase_id``,
    ``initiative_id``, ``parent_task_id``, ``type``, ``category``, ``priority``,
    ``description``, ...). Raises ``ReferenceNotFoundError``, ``ValidationError``.
    """
    with db.transaction():
        task: Task = db.tasks.create(name=name, **fields)
        events.emit(db, events.TASK_CREATED, task)
    return task


def set_task_status(db: Database, task_id: str, status: TaskStatus | str) -> Task:
    """Set a task's status. Raises ``NotFoundError``, ``ValidationError`` (bad status)."""
    with db.transaction():
        before: Task = get_or_raise(db.tasks, task_id, "task")
        task: Task = db.tasks.update(task_id, status=status)
        events.emit(db, events.TASK_STATUS_CHANGED, task, previous_status=before.status)
    return task


def add_task_dependency(db: Database, task_id: str, depends_on_task_id: str) -> bool:
    """Make a task depend on another; ``False`` if it already did. Raises
    ``ValidationError`` for a self-dependency or a cycle.
    """
    with db.transaction():
        added = db.tasks.create_dependency(task_id, depends_on_task_id)
        if added:
            task: Task = get_or_raise(db.tasks, task_id, "task")
            events.emit(db, events.TASK_UPDATED, task, depends_on_task_id=depends_on_task_id)
    return added


def update_task(db: Database, task_id: str, **changes: Any) -> Task:
    """Change some of a task's fields (``name``, ``description``, ``status``, ``priority``,
    ...). Emits ``task:status_changed`` when the status changed, then ``task:updated``.
    Raises ``NotFoundError``, ``ValidationError``.
    """
    with db.transaction():
        before: Task = get_or_raise(db.tasks, task_id, "task")
        task: Task = db.tasks.update(task_id, **changes)
        if task.status != before.status:
            events.emit(db, events.TASK_STATUS_CHANGED, task, previous_status=before.status)
        events.emit(db, events.TASK_UPDATED, task)
    return task


def remove_task_dependency(db: Database, task_id: str, depends_on_task_id: str) -> bool:
    """Remove the dependency; ``False`` if there was none. ``NotFoundError`` for an unknown
    task.
    """
    with db.transaction():
        task: Task = get_or_raise(db.tasks, task_id, "task")
        removed = db.tasks.remove_dependency(task_id, depends_on_task_id)
        if removed:
            events.emit(
                db, events.TASK_UPDATED, task, removed_depends_on_task_id=depends_on_task_id
            )
    return removed


def delete_task(db: Database, task_id: str) -> Task:
    """Delete a task with its subtasks; return it as it was. ``NotFoundError`` if unknown."""
    with db.transaction():
        task: Task = get_or_raise(db.tasks, task_id, "task")
        db.tasks.delete(task_id)
        events.emit(db, events.TASK_DELETED, task)
    return task


def approve_task(db: Database, task_id: str) -> Task:
    """Approve a task waiting for approval: it becomes pending (ready once unblocked)."""
    with db.transaction():
        task: Task = get_or_raise(db.tasks, task_id, "task")
        if task.status != TaskStatus.PENDING_APPROVAL:
            raise ConflictError(f"task {task_id!r} is not waiting for approval ({task.status})")
        approved: Task = db.tasks.update(task_id, status=TaskStatus.PENDING)
        events.emit(db, events.TASK_APPROVED, approved)
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
    """The initiative's phases and tasks (subtasks nested), with their dependencies.

    Five queries whatever the plan's size, in one read-only transaction (one snapshot).
    """
    with db.transaction(readonly=True):
        initiative: Initiative = get_or_raise(db.initiatives, initiative_id, "initiative")
        phase_pairs = db.phases.find_dependencies_by_initiative_id(initiative_id)
        tasks = db.tasks.find_by_initiative_id(initiative_id)
        task_pairs = db.tasks.find_dependencies_by_initiative_id(initiative_id)
        found_phases = db.phases.find_by_initiative_id(initiative_id)
    phase_edges: dict[str, list[str]] = {}
    for phase_id, target in phase_pairs:
        phase_edges.setdefault(phase_id, []).append(target)
    task_edges: dict[str, list[str]] = {}
    for task_id, target in task_pairs:
        task_edges.setdefault(task_id, []).append(target)
    nodes = {task.id: TaskNode(task, task_edges.get(task.id, [])) for task in tasks}
    roots: dict[str | None, list[TaskNode]] = {}
    for node in nodes.values():
        parent = nodes.get(node.task.parent_task_id or "")
        if parent is not None:
            parent.children.append(node)
        else:
            roots.setdefault(node.task.phase_id, []).append(node)
    phases = [
        PhaseNode(phase, phase_edges.get(phase.id, []), roots.get(phase.id, []))
        for phase in found_phases
    ]
    return InitiativeTree(initiative, phases, roots.get(None, []))
