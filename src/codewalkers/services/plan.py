"""Planning use cases: initiatives with their projects, trees, approvals, readiness."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from codewalkers.db import (
    ConflictError,
    Database,
    Initiative,
    InitiativeStatus,
    NotFoundError,
    Phase,
    PhaseStatus,
    Project,
    Task,
    TaskStatus,
    TaskType,
    ValidationError,
)
from codewalkers.services import events
from codewalkers.services.inputs import check_name

#: What a deletion takes with it: ``(verb, count, noun)``, e.g. ``("deletes", 3, "task")``.
Consequence = tuple[str, int, str]


def _check_names(changes: dict[str, Any]) -> None:
    if changes.get("name") is not None:
        check_name(changes["name"])


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
    """Create an initiative linked to these projects, all or nothing. Raises
    ``ValidationError`` for a bad name (see :func:`codewalkers.services.inputs.check_name`).
    """
    check_name(name)
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


def link_projects(db: Database, initiative_id: str, project_ids: Sequence[str]) -> list[Project]:
    """Link the initiative to exactly these projects (others are unlinked); return them.
    Raises ``NotFoundError`` for an unknown initiative, ``ReferenceNotFoundError`` for an
    unknown project.
    """
    with db.transaction():
        get_or_raise(db.initiatives, initiative_id, "initiative")
        from codewalkers.services import projects  # git and the runtime: not for plain reads

        return projects.link_projects(db, initiative_id, project_ids)


def update_initiative(db: Database, initiative_id: str, **changes: Any) -> Initiative:
    """Change some of an initiative's fields (``name``, ``status``, ``branch``,
    ``merge_requires_approval``). Raises ``NotFoundError``, ``ValidationError``.
    """
    _check_names(changes)
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
    check_name(name)
    from codewalkers.content import markdown_to_tiptap  # markdown-it: ~0.1 s to import

    content = markdown_to_tiptap(markdown) if markdown is not None else None
    with db.transaction():
        phase: Phase = db.phases.create(initiative_id=initiative_id, name=name, content=content)
        events.emit(db, events.PHASE_CREATED, phase)
    return phase


def set_phase_status(
    db: Database, phase_id: str, status: PhaseStatus | str, *, force: bool = False
) -> Phase:
    """Set a phase's status. A phase is completed only when its tasks are, unless ``force``
    (the event's ``forced_past`` then lists the unfinished task ids). Raises
    ``NotFoundError``, ``ValidationError`` (bad status), ``ConflictError`` (unfinished tasks).
    """
    with db.transaction():
        before: Phase = get_or_raise(db.phases, phase_id, "phase")
        skipped = _guard_phase_completion(db, before, status, force)
        phase: Phase = db.phases.update(phase_id, status=status)
        events.emit(
            db, events.PHASE_STATUS_CHANGED, phase, previous_status=before.status, **skipped
        )
    return phase


def add_phase_dependency(db: Database, phase_id: str, depends_on_phase_id: str) -> bool:
    """Make a phase depend on another of its initiative; ``False`` if it already did.
    Raises ``NotFoundError`` for an unknown phase, ``ReferenceNotFoundError`` for an unknown
    ``depends_on_phase_id``, ``ValidationError`` for a self-dependency, a cycle or another
    initiative's phase.
    """
    with db.transaction():
        phase: Phase = get_or_raise(db.phases, phase_id, "phase")
        added = db.phases.create_dependency(phase_id, depends_on_phase_id)
        if added:
            events.emit(db, events.PHASE_UPDATED, phase, depends_on_phase_id=depends_on_phase_id)
    return added


def update_phase(db: Database, phase_id: str, *, force: bool = False, **changes: Any) -> Phase:
    """Change some of a phase's fields (``name``, ``status``, ``content`` as Tiptap).

    Emits ``phase:status_changed`` when the status changed, then ``phase:updated``.
    Completing it is refused while it has unfinished tasks unless ``force`` (as in
    :func:`set_phase_status`). Raises ``NotFoundError``, ``ValidationError``,
    ``ConflictError``.
    """
    _check_names(changes)
    with db.transaction():
        before: Phase = get_or_raise(db.phases, phase_id, "phase")
        skipped = _guard_phase_completion(db, before, changes.get("status"), force)
        phase: Phase = db.phases.update(phase_id, **changes)
        if phase.status != before.status:
            events.emit(
                db, events.PHASE_STATUS_CHANGED, phase, previous_status=before.status, **skipped
            )
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
    check_name(name)
    with db.transaction():
        task: Task = db.tasks.create(name=name, **fields)
        events.emit(db, events.TASK_CREATED, task)
    return task


def set_task_status(
    db: Database, task_id: str, status: TaskStatus | str, *, force: bool = False
) -> Task:
    """Set a task's status. A task is completed only when the tasks it depends on are,
    unless ``force`` (the event's ``forced_past`` then lists them). Raises
    ``NotFoundError``, ``ValidationError`` (bad status), ``ConflictError`` (open
    dependencies).
    """
    with db.transaction():
        before: Task = get_or_raise(db.tasks, task_id, "task")
        skipped = _guard_task_completion(db, before, status, force)
        task: Task = db.tasks.update(task_id, status=status)
        events.emit(db, events.TASK_STATUS_CHANGED, task, previous_status=before.status, **skipped)
    return task


def add_task_dependency(db: Database, task_id: str, depends_on_task_id: str) -> bool:
    """Make a task depend on another; ``False`` if it already did. Raises ``NotFoundError``
    for an unknown task, ``ReferenceNotFoundError`` for an unknown ``depends_on_task_id``,
    ``ValidationError`` for a self-dependency, another initiative's task or a cycle.
    """
    with db.transaction():
        task: Task = get_or_raise(db.tasks, task_id, "task")
        added = db.tasks.create_dependency(task_id, depends_on_task_id)
        if added:
            events.emit(db, events.TASK_UPDATED, task, depends_on_task_id=depends_on_task_id)
    return added


def update_task(db: Database, task_id: str, *, force: bool = False, **changes: Any) -> Task:
    """Change some of a task's fields (``name``, ``description``, ``status``, ``priority``,
    ``phase_id``, ``parent_task_id``, ...). Emits ``task:status_changed`` when the status
    changed, then ``task:updated``.

    Moving the task to another phase is refused when it would make the plan impossible
    (a cycle through the combined graph of tasks and phases, named in the message) or
    carry its dependencies into another initiative; completing it follows
    :func:`set_task_status`. Raises ``NotFoundError``, ``ValidationError``,
    ``ConflictError``.
    """
    _check_names(changes)
    with db.transaction():
        before: Task = get_or_raise(db.tasks, task_id, "task")
        skipped = _guard_task_completion(db, before, changes.get("status"), force)
        task: Task = db.tasks.update(task_id, **changes)
        if task.phase_id != before.phase_id or task.initiative_id != before.initiative_id:
            _refuse_impossible_move(db, before, task)
        if task.status != before.status:
            events.emit(
                db, events.TASK_STATUS_CHANGED, task, previous_status=before.status, **skipped
            )
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


# --- completion guards ------------------------------------------------------------------


def task_completion_blockers(db: Database, task_id: str) -> list[Task]:
    """The tasks ``task_id`` depends on that are not completed (what completing it skips)."""
    blockers = [get_or_raise(db.tasks, id, "task") for id in db.tasks.get_dependencies(task_id)]
    return [task for task in blockers if task.status != TaskStatus.COMPLETED]


def phase_completion_blockers(db: Database, phase_id: str) -> list[Task]:
    """The phase's tasks that are not completed (what completing the phase skips)."""
    return [t for t in db.tasks.find_by_phase_id(phase_id) if t.status != TaskStatus.COMPLETED]


def _listed(tasks: list[Task]) -> str:
    shown = ", ".join(f'"{task.name}" ({task.id}, {task.status})' for task in tasks[:5])
    return shown + (f" and {len(tasks) - 5} more" if len(tasks) > 5 else "")


def _guard_task_completion(db: Database, before: Task, status: Any, force: bool) -> dict[str, Any]:
    if status != TaskStatus.COMPLETED or before.status == TaskStatus.COMPLETED:
        return {}
    open_ = task_completion_blockers(db, before.id)
    if open_ and not force:
        raise ConflictError(
            f'task "{before.name}" ({before.id}) cannot be completed while it depends on '
            f"unfinished tasks: {_listed(open_)}; complete them first, or give --force"
        )
    return {"forced_past": [task.id for task in open_]} if open_ else {}


def _guard_phase_completion(
    db: Database, before: Phase, status: Any, force: bool
) -> dict[str, Any]:
    if status != PhaseStatus.COMPLETED or before.status == PhaseStatus.COMPLETED:
        return {}
    open_ = phase_completion_blockers(db, before.id)
    if open_ and not force:
        raise ConflictError(
            f'phase "{before.name}" ({before.id}) cannot be completed while it has '
            f"unfinished tasks: {_listed(open_)}; complete them first, or give --force"
        )
    return {"forced_past": [task.id for task in open_]} if open_ else {}


# --- moving a task ----------------------------------------------------------------------

Node = tuple[str, str]  # ("task" | "phase", id)


def _waits_for_graph(db: Database, initiative_id: str) -> dict[Node, list[Node]]:
    """The initiative's combined "waits for" graph: a task waits for the tasks it depends on
    and for the phases its phase depends on; a phase waits for the phases it depends on and
    for its own tasks (the same graph the repositories keep acyclic on every new edge).
    """
    graph: dict[Node, list[Node]] = {}
    phase_deps: dict[str, list[str]] = {}
    for phase_id, target in db.phases.find_dependencies_by_initiative_id(initiative_id):
        phase_deps.setdefault(phase_id, []).append(target)
        graph.setdefault(("phase", phase_id), []).append(("phase", target))
    for task in db.tasks.find_by_initiative_id(initiative_id):
        node: Node = ("task", task.id)
        edges = graph.setdefault(node, [])
        edges += [("task", id) for id in db.tasks.get_dependencies(task.id)]
        if task.phase_id is not None:
            edges += [("phase", id) for id in phase_deps.get(task.phase_id, [])]
            graph.setdefault(("phase", task.phase_id), []).append(node)
    return graph


def _cycle_through(graph: dict[Node, list[Node]], start: Node) -> list[Node] | None:
    """A path of "waits for" edges from ``start`` back to itself, breadth first."""
    parent: dict[Node, Node] = {}
    frontier = [start]
    while frontier:
        next_frontier = []
        for node in frontier:
            for target in graph.get(node, []):
                if target == start:
                    chain = [node]
                    while chain[-1] != start:
                        chain.append(parent[chain[-1]])
                    return [*chain[::-1], start]
                if target not in parent:
                    parent[target] = node
                    next_frontier.append(target)
        frontier = next_frontier
    return None


def _refuse_impossible_move(db: Database, before: Task, after: Task) -> None:
    """Raise ``ValidationError`` when the task's new place makes the plan impossible."""
    if after.initiative_id != before.initiative_id and (
        db.tasks.get_dependencies(after.id) or db.tasks.get_dependents(after.id)
    ):
        raise ValidationError(
            f'task "{after.name}" ({after.id}) has dependencies in initiative '
            f"{before.initiative_id!r}; remove them before moving it to initiative "
            f"{after.initiative_id!r}"
        )
    if after.initiative_id is None:
        return
    cycle = _cycle_through(_waits_for_graph(db, after.initiative_id), ("task", after.id))
    if cycle is not None:
        shown = " → ".join(f"{kind} {id}" for kind, id in cycle)
        raise ValidationError(
            f"moving task {after.id} to phase {after.phase_id} would make the plan impossible, "
            f"each waiting for the next: {shown}"
        )


# --- what a deletion takes with it ------------------------------------------------------


def _subtask_count(db: Database, task_id: str) -> int:
    children = db.tasks.find_by_parent_task_id(task_id)
    return len(children) + sum(_subtask_count(db, child.id) for child in children)


def initiative_deletion(db: Database, initiative_id: str) -> list[Consequence]:
    """What deleting the initiative deletes with it (its phases, tasks and pages)."""
    get_or_raise(db.initiatives, initiative_id, "initiative")
    return [
        ("deletes", len(db.phases.find_by_initiative_id(initiative_id)), "phase"),
        ("deletes", len(db.tasks.find_by_initiative_id(initiative_id)), "task"),
        ("deletes", len(db.pages.find_by_initiative_id(initiative_id)), "page"),
    ]


def phase_deletion(db: Database, phase_id: str) -> list[Consequence]:
    """What deleting the phase deletes with it (its tasks) or undoes (phases waiting on it)."""
    get_or_raise(db.phases, phase_id, "phase")
    return [
        ("deletes", len(db.tasks.find_by_phase_id(phase_id)), "task"),
        ("removes the dependency of", len(db.phases.get_dependents(phase_id)), "phase"),
    ]


def task_deletion(db: Database, task_id: str) -> list[Consequence]:
    """What deleting the task deletes with it (its subtasks) or undoes (tasks waiting on it)."""
    get_or_raise(db.tasks, task_id, "task")
    return [
        ("deletes", _subtask_count(db, task_id), "subtask"),
        ("removes the dependency of", len(db.tasks.get_dependents(task_id)), "task"),
    ]


# --- why a task is not ready ------------------------------------------------------------


@dataclass
class Reason:
    """One thing a pending task waits for.

    ``kind``: ``task`` (a dependency not completed), ``person`` (a dependency that is a
    checkpoint a person does: human-verify, decision, human-action), ``phase`` (a phase
    its phase depends on, not completed) or ``approval`` (the task itself waits for a
    person's approval: ``cw task approve``).
    """

    kind: str
    id: str
    name: str
    status: str


@dataclass
class Waiting:
    task: Task
    waits_for: list[Reason]


def why_not_ready(db: Database, initiative_id: str) -> list[Waiting]:
    """Each pending (or pending-approval) task of the initiative that is not ready, with
    what it waits for. Raises ``NotFoundError`` for an unknown initiative.
    """
    get_or_raise(db.initiatives, initiative_id, "initiative")
    ready = {task.id for task in db.tasks.find_ready(initiative_id)}
    tasks = {task.id: task for task in db.tasks.find_by_initiative_id(initiative_id)}
    phases = {phase.id: phase for phase in db.phases.find_by_initiative_id(initiative_id)}
    phase_deps: dict[str, list[str]] = {}
    for phase_id, target in db.phases.find_dependencies_by_initiative_id(initiative_id):
        phase_deps.setdefault(phase_id, []).append(target)
    waiting = []
    for task in tasks.values():
        if task.id in ready or task.status not in (
            TaskStatus.PENDING,
            TaskStatus.PENDING_APPROVAL,
        ):
            continue
        reasons = []
        if task.status == TaskStatus.PENDING_APPROVAL:
            reasons.append(Reason("approval", task.id, task.name, task.status))
        for id in db.tasks.get_dependencies(task.id):
            dep = tasks.get(id) or get_or_raise(db.tasks, id, "task")
            if dep.status != TaskStatus.COMPLETED:
                kind = "task" if dep.type == TaskType.AUTO else "person"
                reasons.append(Reason(kind, dep.id, dep.name, dep.status))
        for id in phase_deps.get(task.phase_id or "", []):
            phase = phases[id]
            if phase.status != PhaseStatus.COMPLETED:
                reasons.append(Reason("phase", phase.id, phase.name, phase.status))
        waiting.append(Waiting(task, reasons))
    return waiting
