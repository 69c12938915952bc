"""Execution: an approved plan runs itself. Ready tasks go to agents, finished work is merged
task → phase → initiative, phases wait for review where the initiative asks for it.

:class:`Executor` is the coordinator's (``cw start``) engine. Its commands (``execute``,
``pause``, ``resume``, ``retry_task``, ``complete_task``, ``approve_phase_review``) are
called by the API; :meth:`Executor.tick` is called periodically by the coordinator and does
the rest, reading everything it decides from the database:

1. *bookkeeping*, per running or paused initiative, by the one coordinator holding the
   initiative's lease (``initiative:<id>``): what ended agents mean for their tasks (done →
   merge into the phase branch; crashed → retry with backoff, then ``blocked``; error →
   ``blocked``), which phases start, finish (YOLO: merged into the initiative branch) or
   wait for review, and whether the initiative is complete;
2. *dispatch*, by every coordinator: ready tasks, high > medium > low then oldest, up to
   ``[dispatch] max_agents`` running agents of this workspace, each claimed by a conditional
   update of the task (``pending`` → ``in_progress``) so that no task is dispatched twice.

Merges into one branch are serialised by a lease per project and target branch
(``merge:<project>:<branch>``), which expires when its holder dies. Git work goes through an
:class:`Integration` (default: :class:`GitIntegration` over ``codewalkers.agents.integration``).

State diagrams, branch names and what survives a crash: ``docs/execution.md``.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from codewalkers.agents.paths import RuntimePaths
from codewalkers.db import (
    Agent,
    AgentMode,
    AgentStatus,
    ConflictError,
    Database,
    Dispatch,
    DispatchState,
    Execution,
    ExecutionState,
    Initiative,
    InitiativeStatus,
    NotFoundError,
    Phase,
    PhaseStatus,
    Project,
    Task,
    TaskCategory,
    TaskPriority,
    TaskStatus,
    TaskType,
    ValidationError,
)
from codewalkers.services import events
from codewalkers.services.runtime import AgentRuntime, SpawnRequest, slug

log = logging.getLogger(__name__)

#: The agent mode each task category runs in. ``research`` has no mode of its own: it is
#: exploration that reports back, as ``discuss`` does.
MODE_OF_CATEGORY: Mapping[TaskCategory, AgentMode] = {
    TaskCategory.EXECUTE: AgentMode.EXECUTE,
    TaskCategory.VERIFY: AgentMode.EXECUTE,
    TaskCategory.REVIEW: AgentMode.EXECUTE,
    TaskCategory.MERGE: AgentMode.EXECUTE,
    TaskCategory.RESEARCH: AgentMode.DISCUSS,
    TaskCategory.DISCUSS: AgentMode.DISCUSS,
    TaskCategory.PLAN: AgentMode.PLAN,
    TaskCategory.DETAIL: AgentMode.DETAIL,
    TaskCategory.REFINE: AgentMode.REFINE,
}
_PRIORITY_RANK = {TaskPriority.HIGH: 0, TaskPriority.MEDIUM: 1, TaskPriority.LOW: 2}
#: Dispatch states in which a task's work is over for its dependents.
_FINAL_BLOCKED = {DispatchState.BLOCKED, DispatchState.CONFLICTED}
#: Agent statuses in which an agent of this workspace can be resumed.
_RESUMABLE = {AgentStatus.IDLE, AgentStatus.STOPPED, AgentStatus.CRASHED}


class DispatchSettingsError(ValueError):
    """A ``[dispatch]`` setting in ``.cwrc`` is unknown or has the wrong type."""


@dataclass(frozen=True, slots=True)
class DispatchSettings:
    """Every bound of the executor, overridable in ``.cwrc``::

    [dispatch]
    max_agents = 4      # agents of this workspace running at once
    provider = "claude" # the provider dispatched tasks use
    max_retries = 3     # a crashed task is dispatched again this often, then blocked
    backoff = 30        # seconds before the first retry; doubled for each further one
    """

    #: Agents of this workspace running at once (waiting-for-input agents do not count).
    max_agents: int = 4
    #: The provider of dispatched agents.
    provider: str = "claude"
    #: How often a crashed task is dispatched again before it is ``blocked``.
    max_retries: int = 3
    #: Seconds before the first retry of a crashed task; each further retry waits twice as
    #: long, at most ``backoff_max``.
    backoff: float = 30.0
    backoff_max: float = 900.0
    #: How often an agent (the task's own, resumed, or a new one of the merging
    #: coordinator) resolves a merge conflict before the task is ``blocked`` with the
    #: conflicting files named.
    max_resolutions: int = 2
    #: Seconds a coordinator's lease on an initiative's bookkeeping or on a merge lasts
    #: without renewal: after a coordinator dies, another takes over after this long.
    lease_seconds: float = 60.0
    #: Several coordinators (machines) share the database: branches travel through the
    #: project's remote (task branches pushed when done, merges fetched first and pushed,
    #: agents started from the newest of a branch's local and remote copies).
    share_branches: bool = False

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> DispatchSettings:
        """The ``[dispatch]`` table of ``.cwrc`` over the defaults; ``DispatchSettingsError``
        names an unknown key or a value of the wrong type."""
        table = settings.get("dispatch", {})
        if not isinstance(table, dict):
            raise DispatchSettingsError("dispatch: must be a table")
        known = {f.name: f for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, value in table.items():
            spec = known.get(key)
            if spec is None:
                raise DispatchSettingsError(f"dispatch.{key}: unknown setting")
            default = spec.default
            if isinstance(default, bool):
                ok = isinstance(value, bool)
            elif isinstance(default, str):
                ok = isinstance(value, str) and value.strip() != ""
            elif isinstance(default, int):
                ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
            else:
                ok = isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
            if not ok:
                raise DispatchSettingsError(
                    f"dispatch.{key}: expected a non-negative {type(default).__name__}, "
                    f"got {value!r}"
                )
            values[key] = float(value) if isinstance(default, float) else value
        if values.get("max_agents", 1) < 1:
            raise DispatchSettingsError("dispatch.max_agents: at least 1")
        return cls(**values)


# -- git, behind a small interface ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MergeResult:
    """What merging ``source`` into ``target`` did (conflicts: the merge was aborted and
    ``target`` is unchanged)."""

    merged: bool
    commit: str | None = None
    conflicts: list[str] = field(default_factory=list)
    already_merged: bool = False


class Integration(Protocol):
    """The git side of execution, per project: branches and merges. Never touches an
    agent's worktree. Implementations are idempotent where they can be."""

    def ensure_branch(self, project: Project, branch: str, start_point: str) -> bool:
        """Create ``branch`` at ``start_point`` unless it exists; True when created."""
        ...

    def default_branch(self, project: Project) -> str:
        """The project's default branch (the initiative branch's start point)."""
        ...

    def merge(self, project: Project, target: str, source: str, message: str) -> MergeResult:
        """Merge ``source`` into ``target`` (a merge commit)."""
        ...

    def land(self, project: Project, branch: str, message: str) -> MergeResult:
        """Merge ``branch`` into the remote's default branch and push that merge."""
        ...

    def push(self, project: Project, branch: str) -> None:
        """Push ``branch`` to the project's remote (never forced)."""
        ...

    def fetch(self, project: Project) -> None:
        """Fetch the remote's branches (local branches never move)."""
        ...

    def tip(self, project: Project, branch: str) -> str:
        """The commit of the newer of the local ``branch`` and ``origin/<branch>``."""
        ...


class GitIntegration:
    """:class:`Integration` over the workspace's clones (``.cw/repos/<project>.git``) and
    :class:`codewalkers.agents.integration.Integrator` (merges in the project's dedicated
    integration worktree, a remote's branches found after a fetch). A project's clone is
    made on first use."""

    def __init__(self, paths: RuntimePaths) -> None:
        self.paths = paths
        self._integrators: dict[str, Any] = {}

    def _integrator(self, project: Project) -> Any:
        integrator = self._integrators.get(project.name)
        if integrator is None:
            from codewalkers.agents import projects

            if not self.paths.repo_path(project.name).exists():
                projects.sync_project(self.paths, project.name, project.url, project.default_branch)
            # Imported by name: the module is built beside this one (h-merge).
            module = importlib.import_module("codewalkers.agents.integration")
            integrator = module.Integrator(
                self.paths, project.name, default_branch=project.default_branch
            )
            self._integrators[project.name] = integrator
        return integrator

    def ensure_branch(self, project: Project, branch: str, start_point: str) -> bool:
        return bool(self._integrator(project).ensure_branch(branch, start_point))

    def default_branch(self, project: Project) -> str:
        return str(self._integrator(project).default_branch())

    def merge(self, project: Project, target: str, source: str, message: str) -> MergeResult:
        return _result(self._integrator(project).merge(target, source, message))

    def land(self, project: Project, branch: str, message: str) -> MergeResult:
        return _result(self._integrator(project).merge_into_default(branch, message))

    def push(self, project: Project, branch: str) -> None:
        self._integrator(project).push(branch)

    def fetch(self, project: Project) -> None:
        self._integrator(project).fetch()

    def tip(self, project: Project, branch: str) -> str:
        return str(self._integrator(project).tip(branch))


def _result(outcome: Any) -> MergeResult:
    return MergeResult(
        merged=bool(outcome.merged),
        commit=outcome.commit,
        conflicts=list(outcome.conflicts),
        already_merged=bool(outcome.already_merged),
    )


# -- branch names --------------------------------------------------------------------------


def initiative_branch_name(name: str, taken: Iterable[str]) -> str:
    """``cw/<slug of name>``, with ``-2``, ``-3`` … when another initiative has it."""
    used = set(taken)
    base = f"cw/{slug(name)}"
    candidate, number = base, 1
    while candidate in used:
        number += 1
        candidate = f"{base}-{number}"
    return candidate


def phase_branches(initiative_branch: str, phases: list[Phase]) -> dict[str, str]:
    """Each phase's branch, ``<initiative branch>--<phase slug>`` (a later phase with the
    same slug gets its id's start appended). ``--`` never occurs in a slug, so these names
    can collide neither with each other nor with task branches, and none lives "under" the
    initiative branch (git refuses ``cw/x/y`` beside ``cw/x``)."""
    names: dict[str, str] = {}
    used: set[str] = set()
    for phase in sorted(phases, key=lambda p: (p.created_at, p.id)):
        name = f"{initiative_branch}--{slug(phase.name)}"
        if name in used:
            name = f"{name}-{slug(phase.id, 8)}"
        used.add(name)
        names[phase.id] = name
    return names


def task_branch(phase_branch: str, task: Task) -> str:
    """``<phase branch>--<task slug>-<id start>``."""
    return f"{phase_branch}--{slug(task.name, 30)}-{slug(task.id, 8)}"


# -- the report of one tick --------------------------------------------------------------


@dataclass
class TickReport:
    """What one :meth:`Executor.tick` did (for logs and tests)."""

    dispatched: list[str] = field(default_factory=list)
    completed: list[str] = field(default_factory=list)
    retried: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    merged: list[str] = field(default_factory=list)
    phases_started: list[str] = field(default_factory=list)
    phases_finished: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@dataclass
class _Plan:
    """One initiative as the executor reads it in one tick."""

    initiative: Initiative
    execution: Execution
    phases: dict[str, Phase]
    phase_deps: dict[str, list[str]]
    tasks: dict[str, Task]
    task_deps: dict[str, list[str]]
    dispatches: dict[str, Dispatch]
    projects: list[Project]

    @property
    def branch(self) -> str:
        return self.initiative.branch or initiative_branch_name(self.initiative.name, ())

    def phase_branch(self, phase_id: str) -> str:
        return phase_branches(self.branch, list(self.phases.values()))[phase_id]

    def target_branch(self, task: Task) -> str:
        """Where the task's work is merged: its phase branch, or the initiative branch for
        a task in no phase."""
        return self.phase_branch(task.phase_id) if task.phase_id else self.branch

    def task_branch(self, task: Task) -> str:
        """The task's own branch, from its target branch."""
        return task_branch(self.target_branch(task), task)

    def phaseless(self) -> list[Task]:
        """The initiative's tasks in no phase: dispatched as soon as it executes, merged
        straight into the initiative branch."""
        return [t for t in self.tasks.values() if t.phase_id is None]

    def satisfied(self, task_id: str) -> bool:
        """A dependency is satisfied when its task completed and its work is merged (or
        there was nothing to merge: a checkpoint, a planning task)."""
        task = self.tasks.get(task_id)
        if task is None or task.status != TaskStatus.COMPLETED:
            return False
        row = self.dispatches.get(task_id)
        return row is None or row.state == DispatchState.DONE

    def tasks_of(self, phase_id: str) -> list[Task]:
        return [t for t in self.tasks.values() if t.phase_id == phase_id]


def utcnow() -> datetime:
    return datetime.now(UTC)


_EPOCH = datetime.fromtimestamp(0, UTC)
_NEVER = datetime.max.replace(tzinfo=UTC)


def _queue_order(task: Task, row: Dispatch | None) -> tuple[Any, ...]:
    """Dispatch order: tasks a person queued by hand first, in the order they were queued;
    then high > medium > low, then oldest (then id)."""
    by_hand = row.queued_by_hand_at if row is not None else None
    return (
        by_hand is None,
        by_hand or _EPOCH,
        _PRIORITY_RANK[task.priority],
        task.created_at,
        task.id,
    )


class Executor:
    """Executes initiatives with a runtime's agents. Thread-safe: commands and ticks are
    serialised by one lock."""

    def __init__(
        self,
        db: Database,
        runtime: AgentRuntime,
        settings: DispatchSettings | None = None,
        *,
        integration: Integration | None = None,
    ) -> None:
        self.db = db
        self.runtime = runtime
        self.settings = settings or DispatchSettings.from_settings(runtime.workspace.settings)
        self.integration: Integration = integration or GitIntegration(runtime.paths)
        self.workspace_id = runtime.workspace_id
        self._lock = threading.RLock()
        self._wake = threading.Event()
        runtime.end_listeners.append(lambda _agent_id: self._wake.set())

    # -- commands ----------------------------------------------------------------------------

    def execute(self, initiative_id: str) -> Execution:
        """Start executing the initiative: its branch is named (from its name, unique) when
        unset and created in every linked project from the project's default branch; its
        approved phases are queued. Executing a running initiative changes nothing; a paused
        one is resumed. Raises ``NotFoundError``, ``ConflictError`` (archived or completed).
        """
        with self._lock:
            initiative = self._initiative(initiative_id)
            if initiative.status in {InitiativeStatus.ARCHIVED, InitiativeStatus.COMPLETED}:
                raise ConflictError(f"initiative {initiative.name} is {initiative.status}")
            current = self.db.execution.find_execution(initiative_id)
            if current is not None:
                if current.state == ExecutionState.PAUSED:
                    return self.resume(initiative_id)
                return current
            if not initiative.branch:
                taken = [i.branch for i in self.db.initiatives.find_all() if i.branch]
                with self.db.transaction():
                    initiative = self.db.initiatives.update(
                        initiative.id, branch=initiative_branch_name(initiative.name, taken)
                    )
                    events.emit(self.db, events.INITIATIVE_UPDATED, initiative)
            branch = initiative.branch or ""
            for project in self.db.projects.find_projects_by_initiative_id(initiative.id):
                if self.settings.share_branches:
                    self.integration.fetch(project)
                start = self.integration.default_branch(project)
                created = self.integration.ensure_branch(project, branch, start)
                if created and self.settings.share_branches:
                    self.integration.push(project, branch)
            with self.db.transaction():
                execution = self.db.execution.set_execution_state(
                    initiative.id, ExecutionState.RUNNING
                )
                events.emit(
                    self.db, events.INITIATIVE_EXECUTING, initiative, execution=execution.state
                )
                for phase in self.db.phases.find_by_initiative_id(initiative.id):
                    if phase.status == PhaseStatus.APPROVED:
                        events.emit(self.db, events.PHASE_QUEUED, phase)
            self.wake()
            return execution

    def pause(self, initiative_id: str) -> Execution:
        """Dispatch no more of the initiative's tasks; running agents finish, their work is
        still merged. Raises ``NotFoundError``, ``ConflictError`` when it was never executed.
        """
        return self._set_state(initiative_id, ExecutionState.PAUSED, events.INITIATIVE_PAUSED)

    def resume(self, initiative_id: str) -> Execution:
        """Dispatch the initiative's ready tasks again after :meth:`pause`."""
        return self._set_state(initiative_id, ExecutionState.RUNNING, events.INITIATIVE_RESUMED)

    def _set_state(self, initiative_id: str, state: ExecutionState, event: str) -> Execution:
        with self._lock:
            initiative = self._initiative(initiative_id)
            if self.db.execution.find_execution(initiative_id) is None:
                raise ConflictError(
                    f"initiative {initiative.name} is not executing: execute it first"
                )
            with self.db.transaction():
                execution = self.db.execution.set_execution_state(initiative_id, state)
                events.emit(self.db, event, initiative, execution=execution.state)
            self.wake()
            return execution

    def retry_task(self, task_id: str) -> Task:
        """Give a blocked task another go (``cw task retry``): its attempts start again from
        zero; a task whose merge conflicted is merged again (resolve the conflict on its
        branch first). Raises ``NotFoundError``, ``ConflictError`` when it is not blocked.
        """
        with self._lock:
            task = self._task(task_id)
            row = self.db.execution.find_dispatch(task_id)
            if task.status != TaskStatus.BLOCKED:
                raise ConflictError(f"task {task.name} is {task.status}, not blocked")
            with self.db.transaction():
                if row is not None and row.state == DispatchState.CONFLICTED:
                    self.db.execution.update_dispatch(
                        task_id, state=DispatchState.COMPLETED, reason=None
                    )
                    updated = self._task_status(task, TaskStatus.COMPLETED)
                else:
                    if row is not None:
                        self.db.execution.update_dispatch(
                            task_id,
                            state=DispatchState.QUEUED,
                            attempts=0,
                            retry_after=None,
                            reason=None,
                        )
                    updated = self._task_status(task, TaskStatus.PENDING)
                if task.phase_id:
                    phase = self.db.phases.find_by_id(task.phase_id)
                    if phase is not None and phase.status == PhaseStatus.BLOCKED:
                        self._phase_status(phase, PhaseStatus.IN_PROGRESS)
            self.wake()
            return updated

    def complete_task(self, task_id: str, summary: str | None = None) -> Task:
        """A person completes a task (a checkpoint, ``cw task complete``); dependents may
        start. Raises ``NotFoundError``, ``ConflictError`` when it is completed already or
        an agent runs it."""
        with self._lock:
            task = self._task(task_id)
            if task.status == TaskStatus.COMPLETED:
                raise ConflictError(f"task {task.name} is completed already")
            if task.status == TaskStatus.IN_PROGRESS:
                raise ConflictError(f"task {task.name} is in progress (an agent runs it)")
            with self.db.transaction():
                extra = {"summary": summary} if summary is not None else {}
                updated = self._task_status(task, TaskStatus.COMPLETED, **extra)
                if self.db.execution.find_dispatch(task_id) is not None:
                    self.db.execution.update_dispatch(task_id, state=DispatchState.DONE)
                events.emit(self.db, events.TASK_COMPLETED, updated, by="user")
            self.wake()
            return updated

    def approve_phase_review(self, phase_id: str) -> Phase:
        """Merge a phase waiting for review into the initiative branch (``cw phase
        approve-review``). Raises ``NotFoundError``, ``ConflictError`` when it does not wait
        for review, or when the merge conflicts or another coordinator merges into that
        branch right now (try again)."""
        with self._lock:
            phase = self.db.phases.find_by_id(phase_id)
            if phase is None:
                raise NotFoundError(f"phase {phase_id!r} not found")
            if phase.status != PhaseStatus.PENDING_REVIEW:
                raise ConflictError(f"phase {phase.name} is {phase.status}, not pending_review")
            plan = self._plan(self._initiative(phase.initiative_id))
            if plan is None:
                raise ConflictError("the initiative is not executing")
            result = self._merge_phase(plan, phase)
            if result != "merged":
                raise ConflictError(f"phase {phase.name} was not merged: {result}")
            merged = self.db.phases.find_by_id(phase_id)
            assert merged is not None
            return merged

    def request_phase_changes(self, phase_id: str, summary: str | None = None) -> Task:
        """Send a phase waiting for review back for changes (``cw phase request-changes``): a
        high-priority ``review`` task in the phase carries the summary and the unresolved
        review comments; an agent does it on a branch from the phase branch, its work is
        merged back, and the phase waits for review again. Returns the task. Raises
        ``NotFoundError``, ``ConflictError`` when the phase does not wait for review,
        ``ValidationError`` when there is neither a summary nor an unresolved comment."""
        with self._lock:
            phase = self.db.phases.find_by_id(phase_id)
            if phase is None:
                raise NotFoundError(f"phase {phase_id!r} not found")
            if phase.status != PhaseStatus.PENDING_REVIEW:
                raise ConflictError(f"phase {phase.name} is {phase.status}, not pending_review")
            comments = [
                c for c in self.db.review_comments.find_by_phase_id(phase.id) if not c.resolved
            ]
            if not (summary or "").strip() and not comments:
                raise ValidationError(
                    "nothing to change: give a summary or leave review comments first"
                )
            lines = ["The reviewer asked for changes to this phase's work."]
            if summary and summary.strip():
                lines += ["", summary.strip()]
            lines += _comment_lines(comments)
            with self.db.transaction():
                task = self.db.tasks.create(
                    phase_id=phase.id,
                    name=f"Review changes: {phase.name}",
                    description="\n".join(lines) + "\n",
                    category=TaskCategory.REVIEW,
                    priority=TaskPriority.HIGH,
                )
                events.emit(self.db, events.TASK_CREATED, task)
                self._phase_status(phase, PhaseStatus.IN_PROGRESS)
                events.emit(
                    self.db,
                    events.PHASE_CHANGES_REQUESTED,
                    phase,
                    task_id=task.id,
                    comment_ids=[c.id for c in comments],
                )
            self.wake()
            return task

    def request_initiative_changes(self, initiative_id: str, summary: str) -> Task:
        """Send a finished (pending_review) initiative back for changes (``cw initiative
        request-changes``): a new approved phase "Changes requested", depending on every
        other phase, holds a high-priority ``review`` task with the summary and the
        unresolved review comments of all phases; the initiative is active again, the phase
        runs and merges like any other, and the initiative then waits for review again.
        Returns the task. Raises ``NotFoundError``, ``ConflictError`` when it does not wait
        for review, ``ValidationError`` for an empty summary."""
        with self._lock:
            initiative = self._initiative(initiative_id)
            if initiative.status != InitiativeStatus.PENDING_REVIEW:
                raise ConflictError(
                    f"initiative {initiative.name} is {initiative.status}, not pending_review"
                )
            if not summary.strip():
                raise ValidationError("say what to change: --summary TEXT")
            phases = self.db.phases.find_by_initiative_id(initiative.id)
            lines = ["The reviewer asked for changes to the initiative's work.", "", summary]
            comments = [
                c
                for phase in phases
                for c in self.db.review_comments.find_by_phase_id(phase.id)
                if not c.resolved
            ]
            lines += _comment_lines(comments)
            rounds = sum(p.name.startswith("Changes requested") for p in phases)
            with self.db.transaction():
                phase = self.db.phases.create(
                    initiative_id=initiative.id,
                    name="Changes requested" + (f" ({rounds + 1})" if rounds else ""),
                    status=PhaseStatus.APPROVED,
                )
                for other in phases:
                    self.db.phases.create_dependency(phase.id, other.id)
                task = self.db.tasks.create(
                    phase_id=phase.id,
                    name=f"Review changes: {initiative.name}",
                    description="\n".join(lines) + "\n",
                    category=TaskCategory.REVIEW,
                    priority=TaskPriority.HIGH,
                )
                active = self.db.initiatives.update(initiative.id, status=InitiativeStatus.ACTIVE)
                events.emit(self.db, events.PHASE_CREATED, phase)
                events.emit(self.db, events.TASK_CREATED, task)
                events.emit(
                    self.db,
                    events.INITIATIVE_CHANGES_REQUESTED,
                    active,
                    phase_id=phase.id,
                    task_id=task.id,
                    comment_ids=[c.id for c in comments],
                )
            self.wake()
            return task

    def merge_initiative(self, initiative_id: str) -> dict[str, Any]:
        """Land a finished initiative (``cw initiative merge``): its branch is merged into
        each linked project's default branch and pushed; the initiative is ``completed``
        (``initiative:merged``). Returns ``{"initiative", "commits": {project: commit}}``.
        Raises ``NotFoundError``, ``ConflictError`` when it is not ``pending_review``, when a
        project's merge conflicts (the files named; projects merged before stay merged, and
        merging again skips them) or another coordinator lands on that branch right now."""
        with self._lock:
            initiative = self._initiative(initiative_id)
            if initiative.status != InitiativeStatus.PENDING_REVIEW or not initiative.branch:
                raise ConflictError(
                    f"initiative {initiative.name} is {initiative.status}, not pending_review"
                )
            commits: dict[str, str | None] = {}
            for project in self.db.projects.find_projects_by_initiative_id(initiative.id):
                lease = f"merge:{project.name}:{self.integration.default_branch(project)}"
                if not self.db.execution.acquire_lease(
                    lease, self.workspace_id, self.settings.lease_seconds
                ):
                    raise ConflictError(f"{lease} is being merged into by another coordinator")
                try:
                    result = self.integration.land(
                        project,
                        initiative.branch,
                        f"Merge initiative {initiative.name!r} ({initiative.branch})",
                    )
                finally:
                    self.db.execution.release_lease(lease, self.workspace_id)
                if result.conflicts:
                    raise ConflictError(
                        f"{project.name}: {initiative.branch} conflicts with the default branch "
                        f"in {', '.join(result.conflicts)}"
                    )
                commits[project.name] = result.commit
            with self.db.transaction():
                done = self.db.initiatives.update(initiative.id, status=InitiativeStatus.COMPLETED)
                events.emit(self.db, events.INITIATIVE_REVIEW_APPROVED, done)
                events.emit(self.db, events.INITIATIVE_MERGED, done, commits=commits)
            return {"initiative": done, "commits": commits}

    def push_initiative(self, initiative_id: str) -> Initiative:
        """Push the initiative branch to each linked project's remote (``cw initiative
        push``), e.g. to open a pull request; nothing else changes (``initiative:pushed``).
        Raises ``NotFoundError``, ``ConflictError`` when it has no branch yet."""
        with self._lock:
            initiative = self._initiative(initiative_id)
            if not initiative.branch:
                raise ConflictError(f"initiative {initiative.name} has no branch: execute it")
            projects = self.db.projects.find_projects_by_initiative_id(initiative.id)
            for project in projects:
                self.integration.push(project, initiative.branch)
            with self.db.transaction():
                events.emit(
                    self.db,
                    events.INITIATIVE_PUSHED,
                    initiative,
                    projects=[p.name for p in projects],
                )
            return initiative

    def queue(self, initiative_id: str | None = None) -> dict[str, Any]:
        """What ``cw dispatch queue`` shows: the ready tasks in the order they will be
        dispatched (queued by hand first, then high > medium > low, then oldest), each with
        its priority, age, provider and what it waits for (a free agent slot, or nothing).
        JSON-ready. Raises ``NotFoundError`` for an unknown initiative."""
        with self._lock:
            plans = self._plans_of(initiative_id)
            running = len(self._running_agents())
            return {
                "max_agents": self.settings.max_agents,
                "running_agents": running,
                "free_slots": max(self.settings.max_agents - running, 0),
                "queue": self._queue_entries(plans, running, utcnow()),
            }

    def queue_task(self, task_id: str) -> dict[str, Any]:
        """Put a ready task at the front of the queue (``cw dispatch queue TASK``): it is
        dispatched before every task not queued by hand (after those queued by hand before
        it). A task waiting only for a retry's backoff is queued at once. Returns its queue
        entry. Raises ``NotFoundError``, ``ConflictError`` naming why a task that is not
        ready waits (nothing is changed)."""
        with self._lock:
            task = self._task(task_id)
            if task.initiative_id is None:
                raise ConflictError(f"task {task.name} belongs to no initiative")
            initiative = self._initiative(task.initiative_id)
            plan = self._plan(initiative)
            if plan is None:
                raise ConflictError(
                    f"initiative {initiative.name} is not executing: cw initiative execute"
                )
            now = utcnow()
            row = plan.dispatches.get(task.id)
            backoff = (
                row is not None
                and row.state == DispatchState.RETRYING
                and row.retry_after is not None
                and row.retry_after > now
            )
            # A backoff is the one wait a person may cut short.
            reason = self._waiting_reason(plan, task, _NEVER if backoff else now)
            if reason is not None:
                raise ConflictError(f"task {task.name} is not ready: {reason}")
            with self.db.transaction():
                if row is None:
                    row = self.db.execution.create_dispatch(task.id)
                    if row is not None:
                        events.emit(self.db, events.TASK_QUEUED, task)
                row = self.db.execution.update_dispatch(
                    task.id,
                    queued_by_hand_at=now,
                    **({"retry_after": None} if backoff else {}),
                )
                events.emit(self.db, events.TASK_QUEUED, task, by_hand=True)
            assert row is not None
            plan.dispatches[task.id] = row
            running = len(self._running_agents())
            entries = self._queue_entries([plan], running, utcnow())
            self.wake()
            return next(e for e in entries if e["task_id"] == task.id)

    def set_task_provider(self, task_id: str, provider: str | None) -> Task:
        """The provider the task is dispatched to (None: ``[dispatch] provider``), among
        this coordinator's providers; see :func:`set_task_provider`."""
        with self._lock:
            return set_task_provider(self.db, task_id, provider, self.runtime.providers)

    # -- the tick --------------------------------------------------------------------------

    def tick(self) -> TickReport:
        """One round: bookkeeping of the initiatives this coordinator holds the lease of,
        then dispatch of ready tasks into free agent slots. Never raises for one
        initiative's trouble: it is logged and reported in ``errors``."""
        report = TickReport()
        with self._lock:
            # This coordinator's heartbeat: others recover its tasks once it expires.
            self.db.execution.acquire_lease(
                f"workspace:{self.workspace_id}", self.workspace_id, self.settings.lease_seconds
            )
            plans: list[_Plan] = []
            for execution in self.db.execution.find_executions():
                try:
                    initiative = self.db.initiatives.find_by_id(execution.initiative_id)
                    if initiative is None or initiative.status in {
                        InitiativeStatus.ARCHIVED,
                        InitiativeStatus.COMPLETED,
                    }:
                        continue
                    lease = f"initiative:{initiative.id}"
                    plan = self._plan(initiative)
                    if plan is not None:
                        self._outcomes(plan, report)
                    if plan is not None and self.db.execution.acquire_lease(
                        lease, self.workspace_id, self.settings.lease_seconds
                    ):
                        self._bookkeeping(plan, report)
                        plan = self._plan(plan.initiative)  # as the bookkeeping left it
                    if plan is not None:
                        plans.append(plan)
                except Exception as exc:
                    log.exception("execution of initiative %s failed", execution.initiative_id)
                    report.errors.append(f"{execution.initiative_id}: {exc}")
            try:
                self._dispatch(plans, report)
            except Exception as exc:
                log.exception("dispatch failed")
                report.errors.append(f"dispatch: {exc}")
        return report

    def run(self, stop: threading.Event, interval: float = 1.0) -> None:
        """The coordinator's loop (run it in a thread of its own, not the supervisor's): a
        tick every ``interval`` seconds, and at once when an agent ends or a command asks
        (:meth:`wake`), until ``stop`` is set. A failing tick is logged, never fatal."""
        while not stop.is_set():
            try:
                report = self.tick()
                for error in report.errors:
                    log.warning("execution: %s", error)
            except Exception:
                log.exception("execution tick failed")
            self._wake.wait(interval)
            self._wake.clear()

    def wake(self) -> None:
        """Tick now rather than at the next interval (e.g. after a command changed a plan)."""
        self._wake.set()

    def _plan(self, initiative: Initiative) -> _Plan | None:
        execution = self.db.execution.find_execution(initiative.id)
        if execution is None:
            return None
        phases = {p.id: p for p in self.db.phases.find_by_initiative_id(initiative.id)}
        phase_deps: dict[str, list[str]] = {p: [] for p in phases}
        for phase_id, depends_on in self.db.phases.find_dependencies_by_initiative_id(
            initiative.id
        ):
            phase_deps.setdefault(phase_id, []).append(depends_on)
        tasks = {t.id: t for t in self.db.tasks.find_by_initiative_id(initiative.id)}
        task_deps: dict[str, list[str]] = {t: [] for t in tasks}
        for task_id, depends_on in self.db.execution.find_task_dependencies(initiative.id):
            task_deps.setdefault(task_id, []).append(depends_on)
        dispatches = {d.task_id: d for d in self.db.execution.find_dispatches(initiative.id)}
        return _Plan(
            initiative=initiative,
            execution=execution,
            phases=phases,
            phase_deps=phase_deps,
            tasks=tasks,
            task_deps=task_deps,
            dispatches=dispatches,
            projects=self.db.projects.find_projects_by_initiative_id(initiative.id),
        )

    # -- bookkeeping -----------------------------------------------------------------------

    def _outcomes(self, plan: _Plan, report: TickReport) -> None:
        """What ended agents mean, for the tasks this coordinator dispatched (their agents
        and branches are here)."""
        for row in list(plan.dispatches.values()):
            if row.state == DispatchState.DISPATCHED and row.workspace_id in (
                None,
                self.workspace_id,
            ):
                self._outcome(plan, row, report)

    def _bookkeeping(self, plan: _Plan, report: TickReport) -> None:
        for row in list(plan.dispatches.values()):
            if row.state == DispatchState.DISPATCHED:
                self._recover(plan, row, report)
        for row in sorted(plan.dispatches.values(), key=lambda r: (r.updated_at, r.id)):
            if row.state == DispatchState.COMPLETED:
                self._merge_task(plan, row, report)
        self._phases(plan, report)
        self._initiative_done(plan)

    def _recover(self, plan: _Plan, row: Dispatch, report: TickReport) -> None:
        """A task left in progress by a coordinator that stopped: ours, killed between the
        claim and the agent's start (no agent recorded: adopt the agent if it was made,
        else retry), or another workspace's whose heartbeat expired (retry here)."""
        task = plan.tasks.get(row.task_id)
        if task is None or task.status != TaskStatus.IN_PROGRESS:
            return
        if row.workspace_id == self.workspace_id:
            if row.agent_id is not None:
                return
            agent = self.db.agents.find_by_task_id(task.id)
            if agent is not None and agent.workspace_id == self.workspace_id:
                updated = self.db.execution.update_dispatch(task.id, agent_id=agent.id)
                if updated is not None:
                    plan.dispatches[task.id] = updated
                return
            reason = "the coordinator stopped before its agent started"
        else:
            if row.workspace_id is not None and self._alive(row.workspace_id):
                return
            reason = f"its coordinator (workspace {row.workspace_id}) stopped"
        if self._failed(plan, task, row, reason):
            report.retried.append(task.id)
        else:
            report.blocked.append(task.id)

    def _outcome(self, plan: _Plan, row: Dispatch, report: TickReport) -> None:
        """What the end of a dispatched task's agent means (the runtime already set the
        task's status from the agent's signal)."""
        task = self.db.tasks.find_by_id(row.task_id)
        if task is None:
            return
        agent = self.db.agents.find_by_id(row.agent_id) if row.agent_id else None
        if task.status == TaskStatus.COMPLETED:
            needs_merge = MODE_OF_CATEGORY.get(task.category) == AgentMode.EXECUTE and bool(
                plan.projects
            )
            state = DispatchState.COMPLETED if needs_merge else DispatchState.DONE
            if needs_merge and self.settings.share_branches:
                # Whoever holds the initiative's lease merges it: from the remote.
                branch = plan.task_branch(task)
                for project in plan.projects:
                    self.integration.push(project, branch)
            with self.db.transaction():
                updated = self.db.execution.update_dispatch(
                    task.id, expected_state=DispatchState.DISPATCHED, state=state
                )
                if updated is None:
                    return
                events.emit(self.db, events.TASK_COMPLETED, task, agent_id=row.agent_id)
                if needs_merge:
                    for project in plan.projects:
                        events.emit(
                            self.db,
                            events.MERGE_QUEUED,
                            self._merge_payload(plan, project, task=task),
                            initiative_id=plan.initiative.id,
                            entity_id=task.id,
                        )
            plan.dispatches[task.id] = updated
            plan.tasks[task.id] = task
            report.completed.append(task.id)
        elif task.status == TaskStatus.BLOCKED:
            result = agent.result if agent is not None and isinstance(agent.result, dict) else {}
            if (
                agent is not None
                and agent.status == AgentStatus.IDLE
                and result.get("status") == "error"
            ):
                self._give_up(plan, task, row, f"the agent reported an error: {result['error']}")
                report.blocked.append(task.id)
            else:
                reason = (agent.status_reason if agent is not None else None) or "agent lost"
                if self._failed(plan, task, row, f"its agent crashed: {reason}"):
                    report.retried.append(task.id)
                else:
                    report.blocked.append(task.id)
        elif task.status == TaskStatus.PENDING:
            # The agent was stopped and the runtime gave the task back: dispatch it again.
            with self.db.transaction():
                updated = self.db.execution.update_dispatch(
                    task.id,
                    expected_state=DispatchState.DISPATCHED,
                    state=DispatchState.QUEUED,
                    reason="its agent was stopped",
                )
            if updated is not None:
                plan.dispatches[task.id] = updated
        elif task.status == TaskStatus.IN_PROGRESS and row.agent_id is not None and agent is None:
            self._failed(plan, task, row, "its agent was deleted")

    def _failed(self, plan: _Plan, task: Task, row: Dispatch, reason: str) -> bool:
        """A crash: retry later (True) or, out of retries, block the task (False)."""
        if row.attempts > self.settings.max_retries:
            self._give_up(plan, task, row, f"{reason} (gave up after {row.attempts} attempts)")
            return False
        delay = min(
            self.settings.backoff * 2 ** max(row.attempts - 1, 0), self.settings.backoff_max
        )
        with self.db.transaction():
            updated = self.db.execution.update_dispatch(
                task.id,
                expected_state=row.state,
                state=DispatchState.RETRYING,
                retry_after=utcnow() + timedelta(seconds=delay),
                reason=reason,
            )
            if updated is None:
                return False
            plan.tasks[task.id] = self._task_status(task, TaskStatus.PENDING)
        plan.dispatches[task.id] = updated
        return True

    def _give_up(self, plan: _Plan, task: Task, row: Dispatch | None, reason: str) -> None:
        """Block the task for good (a person retries it), with ``task:blocked``."""
        with self.db.transaction():
            if row is not None:
                updated = self.db.execution.update_dispatch(
                    task.id, expected_state=row.state, state=DispatchState.BLOCKED, reason=reason
                )
                if updated is None:
                    return
                plan.dispatches[task.id] = updated
            blocked = self._task_status(task, TaskStatus.BLOCKED)
            plan.tasks[task.id] = blocked
            events.emit(
                self.db,
                events.TASK_BLOCKED,
                blocked,
                reason=reason,
                waiting_dependents=self._dependents(plan, task.id),
            )

    def _dependents(self, plan: _Plan, task_id: str) -> list[str]:
        return sorted(t for t, deps in plan.task_deps.items() if task_id in deps)

    # -- merges ----------------------------------------------------------------------------

    def _merge_payload(
        self,
        plan: _Plan,
        project: Project,
        *,
        task: Task | None = None,
        phase: Phase | None = None,
    ) -> dict[str, Any]:
        if task is not None:
            return {
                "project": project.name,
                "source": plan.task_branch(task),
                "target": plan.target_branch(task),
                "task_id": task.id,
                "phase_id": task.phase_id,
            }
        assert phase is not None
        return {
            "project": project.name,
            "source": plan.phase_branch(phase.id),
            "target": plan.branch,
            "phase_id": phase.id,
        }

    def _merge(
        self,
        plan: _Plan,
        payloads: list[tuple[Project, dict[str, Any]]],
        message: str,
        entity_id: str,
    ) -> tuple[str, list[str], list[str]]:
        """Merge ``source`` into ``target`` in each project, each under its lease.

        Returns ``("merged" | "busy" | "conflicted", commits, conflicting files)``; a busy
        lease leaves the rest for a later tick (merges are idempotent: an already merged
        project merges as ``already_merged``)."""
        commits: list[str] = []
        for project, payload in payloads:
            lease = f"merge:{project.name}:{payload['target']}"
            if not self.db.execution.acquire_lease(
                lease, self.workspace_id, self.settings.lease_seconds
            ):
                return "busy", commits, []
            try:
                with self.db.transaction():
                    events.emit(
                        self.db,
                        events.MERGE_STARTED,
                        payload,
                        initiative_id=plan.initiative.id,
                        entity_id=entity_id,
                    )
                if self.settings.share_branches:
                    self.integration.fetch(project)
                result = self.integration.merge(
                    project, payload["target"], payload["source"], message
                )
                if self.settings.share_branches and result.merged:
                    self.integration.push(project, payload["target"])
            finally:
                self.db.execution.release_lease(lease, self.workspace_id)
            if result.conflicts or not (result.merged or result.already_merged):
                with self.db.transaction():
                    for event in (events.MERGE_CONFLICTED, events.WORKTREE_CONFLICT):
                        events.emit(
                            self.db,
                            event,
                            {**payload, "conflicts": result.conflicts},
                            initiative_id=plan.initiative.id,
                            entity_id=entity_id,
                        )
                return "conflicted", commits, result.conflicts
            with self.db.transaction():
                for event in (events.MERGE_COMPLETED, events.WORKTREE_MERGED):
                    events.emit(
                        self.db,
                        event,
                        {
                            **payload,
                            "commit": result.commit,
                            "already_merged": result.already_merged,
                        },
                        initiative_id=plan.initiative.id,
                        entity_id=entity_id,
                    )
            if result.commit:
                commits.append(result.commit)
        return "merged", commits, []

    def _merge_task(self, plan: _Plan, row: Dispatch, report: TickReport) -> None:
        task = plan.tasks.get(row.task_id)
        if task is None:
            return
        payloads = [(p, self._merge_payload(plan, p, task=task)) for p in plan.projects]
        outcome, commits, conflicts = self._merge(
            plan,
            payloads,
            f"Merge task {task.name!r} ({task.id})",
            task.id,
        )
        if outcome == "busy":
            return
        if outcome == "conflicted":
            if self._resolve(plan, task, row, conflicts):
                report.retried.append(task.id)
                return
            with self.db.transaction():
                updated = self.db.execution.update_dispatch(
                    task.id,
                    expected_state=DispatchState.COMPLETED,
                    state=DispatchState.CONFLICTED,
                    reason="merge conflict in " + ", ".join(conflicts),
                )
                if updated is None:
                    return
                blocked = self._task_status(task, TaskStatus.BLOCKED)
                events.emit(
                    self.db,
                    events.TASK_BLOCKED,
                    blocked,
                    reason=updated.reason,
                    conflicts=conflicts,
                    waiting_dependents=self._dependents(plan, task.id),
                )
            plan.dispatches[task.id], plan.tasks[task.id] = updated, blocked
            report.blocked.append(task.id)
            return
        with self.db.transaction():
            updated = self.db.execution.update_dispatch(
                task.id,
                expected_state=DispatchState.COMPLETED,
                state=DispatchState.DONE,
                merge_commit=commits[-1] if commits else None,
            )
        if updated is not None:
            plan.dispatches[task.id] = updated
            report.merged.append(task.id)

    def _resolve(self, plan: _Plan, task: Task, row: Dispatch, conflicts: list[str]) -> bool:
        """Hand a conflict back: an agent merges the target branch into the task's branch,
        resolves the files and signals done; the merge is tried again when it is done. The
        task's own agent is resumed when it is of this workspace (its worktree holds the
        branch); when another coordinator ran it (or it was deleted), a new agent of this
        workspace is spawned on the task's branch. False when neither is possible or it was
        tried ``max_resolutions`` times."""
        if row.resolutions >= self.settings.max_resolutions:
            return False
        agent = self.db.agents.find_by_id(row.agent_id) if row.agent_id else None
        own = agent is not None and agent.workspace_id == self.workspace_id
        if own and agent is not None and agent.status not in _RESUMABLE:
            return False  # still at work (or waiting): its worktree holds the branch
        target = plan.target_branch(task)
        files = ", ".join(f"`{name}`" for name in conflicts) or "(git names them)"
        message = (
            f"Your branch no longer merges cleanly into `{target}`: the merge conflicts in "
            f"{files}. In each project worktree run `git merge {target}`, resolve the "
            "conflicts keeping what both sides meant to do (the other tasks are in "
            "`.cw/input/context/tasks.md`), run the tests, commit the merge, then write the "
            "signal file. Do not abort the merge, rebase or switch branches; if you cannot "
            "resolve it, signal an error naming the files and why."
        )
        who = "its agent" if own else "a new agent"
        with self.db.transaction():
            updated = self.db.execution.update_dispatch(
                task.id,
                expected_state=DispatchState.COMPLETED,
                state=DispatchState.DISPATCHED,
                resolutions=row.resolutions + 1,
                reason=f"merge conflict in {', '.join(conflicts)}: {who} resolves it",
                # A new agent's end is this workspace's to read (``_outcomes``); until it
                # is recorded, a restart adopts the task's newest agent (``_recover``).
                **({} if own else {"workspace_id": self.workspace_id, "agent_id": None}),
            )
            if updated is None:
                return False
            plan.tasks[task.id] = self._task_status(task, TaskStatus.IN_PROGRESS)
        plan.dispatches[task.id] = updated
        try:
            if own and agent is not None:
                self.runtime.resume(agent.name, message)
            else:
                self._spawn_resolution(plan, task, updated, agent, message)
        except Exception:
            log.exception("could not start the resolution of task %s's conflict", task.name)
            with self.db.transaction():
                self.db.execution.update_dispatch(
                    task.id,
                    state=DispatchState.COMPLETED,
                    workspace_id=row.workspace_id,
                    agent_id=row.agent_id,
                )
                plan.tasks[task.id] = self._task_status(task, TaskStatus.COMPLETED)
            return False
        return True

    def _spawn_resolution(
        self, plan: _Plan, task: Task, row: Dispatch, previous: Agent | None, message: str
    ) -> None:
        """A new agent of this workspace on the task's branch (as another coordinator's
        agent pushed it: sharing branches, the merge just fetched it), told to resolve the
        conflict rather than do the task again. The dispatch row points at it, so its end
        completes the task and the merge is retried."""
        branch = plan.task_branch(task)
        # The branch's newest copy (``origin/`` when only the remote has it); raises when
        # neither exists: a new branch from the target would lose the task's work.
        starts = {p.name: self.integration.tip(p, branch) for p in plan.projects}
        ran = (
            f"agent {previous.name} of another coordinator (workspace {previous.workspace_id})"
            if previous is not None
            else "an agent that no longer exists"
        )
        instructions = (
            f"This task was done by {ran}; its work is committed on your branch `{branch}`. "
            f"Do not do the task again: resolve its merge conflict. {message}"
        )
        agent = self.runtime.spawn(
            SpawnRequest(
                task_id=task.id,
                initiative_id=plan.initiative.id,
                provider=self._provider_of(task),
                mode=str(AgentMode.EXECUTE),
                instructions=instructions,
                start_points=starts,
                branch=branch,
            )
        )
        with self.db.transaction():
            updated = self.db.execution.update_dispatch(task.id, agent_id=agent.id)
            events.emit(
                self.db,
                events.TASK_DISPATCHED,
                plan.tasks[task.id],
                agent_id=agent.id,
                agent_name=agent.name,
                attempt=row.attempts,
                workspace_id=self.workspace_id,
                resolution=row.resolutions,
            )
        if updated is not None:
            plan.dispatches[task.id] = updated

    def _merge_phase(self, plan: _Plan, phase: Phase) -> str:
        payloads = [(p, self._merge_payload(plan, p, phase=phase)) for p in plan.projects]
        with self.db.transaction():
            for _, payload in payloads:
                events.emit(
                    self.db,
                    events.MERGE_QUEUED,
                    payload,
                    initiative_id=plan.initiative.id,
                    entity_id=phase.id,
                )
        outcome, _, conflicts = self._merge(
            plan, payloads, f"Merge phase {phase.name!r} ({phase.id})", phase.id
        )
        if outcome == "conflicted":
            with self.db.transaction():
                blocked = self._phase_status(phase, PhaseStatus.BLOCKED)
                events.emit(
                    self.db,
                    events.PHASE_BLOCKED,
                    blocked,
                    reason="merge conflict in " + ", ".join(conflicts),
                    conflicts=conflicts,
                )
            plan.phases[phase.id] = blocked
            return "conflicted in " + ", ".join(conflicts)
        if outcome == "busy":
            return "another coordinator merges into the initiative branch"
        with self.db.transaction():
            done = self._phase_status(phase, PhaseStatus.COMPLETED)
            events.emit(self.db, events.PHASE_COMPLETED, done, branch=plan.phase_branch(phase.id))
        plan.phases[phase.id] = done
        return "merged"

    # -- phases and the initiative -----------------------------------------------------------

    def _phases(self, plan: _Plan, report: TickReport) -> None:
        for phase in sorted(plan.phases.values(), key=lambda p: (p.created_at, p.id)):
            if phase.status == PhaseStatus.APPROVED:
                if all(
                    plan.phases[d].status == PhaseStatus.COMPLETED
                    for d in plan.phase_deps.get(phase.id, [])
                    if d in plan.phases
                ):
                    self._start_phase(plan, phase)
                    report.phases_started.append(phase.id)
            elif phase.status == PhaseStatus.IN_PROGRESS:
                tasks = plan.tasks_of(phase.id)
                stuck = [
                    t
                    for t in tasks
                    if t.status == TaskStatus.BLOCKED
                    and (
                        plan.dispatches.get(t.id) is None
                        or plan.dispatches[t.id].state in _FINAL_BLOCKED
                    )
                ]
                if stuck:
                    with self.db.transaction():
                        blocked = self._phase_status(phase, PhaseStatus.BLOCKED)
                        events.emit(
                            self.db,
                            events.PHASE_BLOCKED,
                            blocked,
                            reason="blocked tasks: " + ", ".join(t.name for t in stuck),
                            task_ids=[t.id for t in stuck],
                        )
                    plan.phases[phase.id] = blocked
                elif all(plan.satisfied(t.id) for t in tasks):
                    report.phases_finished.append(phase.id)
                    if plan.initiative.merge_requires_approval:
                        with self.db.transaction():
                            waiting = self._phase_status(phase, PhaseStatus.PENDING_REVIEW)
                            events.emit(
                                self.db,
                                events.PHASE_PENDING_REVIEW,
                                waiting,
                                branch=plan.phase_branch(phase.id),
                            )
                        plan.phases[phase.id] = waiting
                    else:
                        self._merge_phase(plan, phase)

    def _start_phase(self, plan: _Plan, phase: Phase) -> None:
        branch = plan.phase_branch(phase.id)
        for project in plan.projects:
            self._ensure_branches(plan, project, branch)
        with self.db.transaction():
            started = self._phase_status(phase, PhaseStatus.IN_PROGRESS)
            events.emit(self.db, events.PHASE_STARTED, started, branch=branch)
        plan.phases[phase.id] = started

    def _ensure_branches(self, plan: _Plan, project: Project, phase_branch: str | None) -> None:
        """The initiative branch (from the default branch) and the phase branch (from the
        initiative branch; none for a task in no phase) exist in the project's clone (and,
        sharing branches, on the remote: a branch another machine pushed is taken from
        there)."""
        share = self.settings.share_branches
        if share:
            self.integration.fetch(project)
        wanted = [(plan.branch, self.integration.default_branch(project))]
        if phase_branch is not None:
            wanted.append((phase_branch, plan.branch))
        for branch, start in wanted:
            if self.integration.ensure_branch(project, branch, start) and share:
                self.integration.push(project, branch)

    def _initiative_done(self, plan: _Plan) -> None:
        """Every phase completed (merged) and every task in no phase done (merged):
        the initiative waits for review."""
        phaseless = plan.phaseless()
        if plan.initiative.status != InitiativeStatus.ACTIVE or not (plan.phases or phaseless):
            return
        if all(p.status == PhaseStatus.COMPLETED for p in plan.phases.values()) and all(
            plan.satisfied(t.id) for t in phaseless
        ):
            with self.db.transaction():
                done = self.db.initiatives.update(
                    plan.initiative.id, status=InitiativeStatus.PENDING_REVIEW
                )
                events.emit(self.db, events.INITIATIVE_PENDING_REVIEW, done)
            plan.initiative = done

    # -- dispatch --------------------------------------------------------------------------

    def _waiting_reason(self, plan: _Plan, task: Task, now: datetime) -> str | None:
        """Why the task cannot be dispatched now, or ``None`` when it is ready."""
        if task.status == TaskStatus.PENDING_APPROVAL:
            return "waits for approval (cw task approve)"
        if task.status == TaskStatus.BLOCKED:
            row = plan.dispatches.get(task.id)
            why = row.reason if row is not None and row.reason else "blocked"
            return f"blocked: {why} (cw task retry)"
        if task.status != TaskStatus.PENDING:
            return str(task.status)
        phase = plan.phases.get(task.phase_id) if task.phase_id else None
        if task.phase_id is not None and phase is None:
            return "its phase belongs to another initiative"
        if phase is not None and phase.status != PhaseStatus.IN_PROGRESS:
            if phase.status in {PhaseStatus.PENDING}:
                return f"phase {phase.name} is not approved (cw phase approve)"
            if phase.status == PhaseStatus.APPROVED:
                open_ = [
                    plan.phases[d].name
                    for d in plan.phase_deps.get(phase.id, [])
                    if d in plan.phases and plan.phases[d].status != PhaseStatus.COMPLETED
                ]
                if open_:
                    return f"phase {phase.name} waits for phase(s) {', '.join(open_)}"
                return f"phase {phase.name} is about to start"
            return f"phase {phase.name} is {phase.status}"
        open_deps = [d for d in plan.task_deps.get(task.id, []) if not plan.satisfied(d)]
        if open_deps:
            names = []
            for dep in open_deps:
                other = plan.tasks.get(dep)
                names.append(f"{other.name} ({other.status})" if other else dep)
            return "waits for " + ", ".join(names)
        if task.type != TaskType.AUTO:
            return f"{task.type}: waits for a person (cw task complete)"
        row = plan.dispatches.get(task.id)
        if (
            row is not None
            and row.state == DispatchState.RETRYING
            and row.retry_after is not None
            and row.retry_after > now
        ):
            return f"retry {row.attempts + 1} after {row.retry_after:%H:%M:%SZ} ({row.reason})"
        if plan.execution.state != ExecutionState.RUNNING:
            return "the initiative is paused (cw initiative resume)"
        if (
            row is not None
            and row.agent_id is not None
            and row.workspace_id not in (None, self.workspace_id)
            and self._alive(row.workspace_id)
        ):
            return f"its agent's coordinator (workspace {row.workspace_id}) resumes it"
        return None

    def _alive(self, workspace_id: str) -> bool:
        """Whether that workspace's coordinator renewed its heartbeat lately."""
        if workspace_id == self.workspace_id:
            return True
        heartbeat = self.db.execution.find_lease(f"workspace:{workspace_id}")
        return heartbeat is not None and heartbeat.expires_at > utcnow()

    def _ready(self, plans: list[_Plan]) -> list[tuple[_Plan, Task]]:
        now = utcnow()
        ready = [
            (plan, task)
            for plan in plans
            for task in plan.tasks.values()
            if self._waiting_reason(plan, task, now) is None
        ]
        ready.sort(key=lambda pt: _queue_order(pt[1], pt[0].dispatches.get(pt[1].id)))
        return ready

    def _running_agents(self) -> list[Agent]:
        return [
            a
            for a in self.db.agents.find_by_status(AgentStatus.RUNNING)
            if a.workspace_id == self.workspace_id
        ]

    def _dispatch(self, plans: list[_Plan], report: TickReport) -> None:
        ready = self._ready(plans)
        for plan, task in ready:
            if task.id not in plan.dispatches:
                with self.db.transaction():
                    row = self.db.execution.create_dispatch(task.id)
                    if row is not None:
                        events.emit(self.db, events.TASK_QUEUED, task)
                if row is not None:
                    plan.dispatches[task.id] = row
        free = self.settings.max_agents - len(self._running_agents())
        for plan, task in ready:
            if free <= 0:
                break
            if self._dispatch_one(plan, task, report):
                free -= 1

    def _dispatch_one(self, plan: _Plan, task: Task, report: TickReport) -> bool:
        provider = self._provider_of(task)
        if provider not in self.runtime.providers:
            # Set before a .cwrc changed: a person picks another (and retries the task).
            known = ", ".join(sorted(self.runtime.providers))
            self._give_up(
                plan,
                task,
                plan.dispatches.get(task.id),
                f"unknown provider {provider!r} (known: {known}; cw task update --provider)",
            )
            report.blocked.append(task.id)
            return False
        with self.db.transaction():
            claimed = self.db.execution.claim_task(task.id)
            if claimed is None:
                return False
            events.emit(self.db, events.TASK_STATUS_CHANGED, claimed, previous_status=task.status)
            previous = self.db.execution.find_dispatch(task.id)
            attempts = (previous.attempts if previous else 0) + 1
            row = self.db.execution.update_dispatch(
                task.id,
                state=DispatchState.DISPATCHED,
                attempts=attempts,
                retry_after=None,
                workspace_id=self.workspace_id,
                queued_by_hand_at=None,
            )
        assert row is not None
        plan.dispatches[task.id] = row
        try:
            agent = self._start_agent(plan, claimed, previous)
        except Exception as exc:
            log.exception("could not start an agent for task %s", task.name)
            report.errors.append(f"{task.id}: {exc}")
            self._failed(plan, claimed, row, f"its agent could not start: {exc}")
            return False
        with self.db.transaction():
            row = self.db.execution.update_dispatch(task.id, agent_id=agent.id, reason=None)
            events.emit(
                self.db,
                events.TASK_DISPATCHED,
                claimed,
                agent_id=agent.id,
                agent_name=agent.name,
                attempt=attempts,
                workspace_id=self.workspace_id,
            )
        if row is not None:
            plan.dispatches[task.id] = row
        report.dispatched.append(task.id)
        return True

    def _start_agent(self, plan: _Plan, task: Task, previous: Dispatch | None) -> Agent:
        """A task that had an agent of this workspace (a retry, a manual retry, a task given
        back) resumes it: same worktree, branch and session. Otherwise a new agent is spawned
        on the task's branch, started from the phase branch (an existing branch is reused)."""
        if previous is not None and previous.agent_id:
            # Its worktree holds the task's branch: a new agent here could not check it out.
            agent = self.db.agents.find_by_id(previous.agent_id)
            if (
                agent is not None
                and agent.workspace_id == self.workspace_id
                and agent.user_dismissed_at is None
                and agent.status in {AgentStatus.CRASHED, AgentStatus.STOPPED, AgentStatus.IDLE}
            ):
                return self.runtime.resume(
                    agent.name,
                    "Your previous run of this task ended without finishing "
                    f"({previous.reason or 'it crashed'}). Continue the task where you left "
                    "off, commit your work, and write the signal file.",
                )
        base = plan.target_branch(task)
        starts: dict[str, str] = {}
        for project in plan.projects:
            self._ensure_branches(plan, project, base if task.phase_id else None)
            # Sharing branches, the local phase branch may be behind the remote's.
            starts[project.name] = (
                self.integration.tip(project, base) if self.settings.share_branches else base
            )
        mode = MODE_OF_CATEGORY.get(task.category, AgentMode.EXECUTE)
        return self.runtime.spawn(
            SpawnRequest(
                task_id=task.id,
                initiative_id=plan.initiative.id,
                provider=self._provider_of(task),
                mode=str(mode),
                start_points=starts,
                branch=plan.task_branch(task),
            )
        )

    def _provider_of(self, task: Task) -> str:
        """The task's own provider (``cw task update --provider``), else ``[dispatch]
        provider``."""
        return task.provider or self.settings.provider

    # -- status ------------------------------------------------------------------------------

    def dispatch_status(self, initiative_id: str | None = None) -> dict[str, Any]:
        """What ``cw dispatch status`` shows: the running agents' tasks, the queue in
        dispatch order, and why every other unfinished task, phase and initiative waits.
        JSON-ready. Raises ``NotFoundError`` for an unknown initiative."""
        with self._lock:
            now = utcnow()
            plans = self._plans_of(initiative_id)
            running_agents = self._running_agents()
            running = []
            queued = self._queue_entries(plans, len(running_agents), now)
            waiting = []
            for plan in plans:
                for task in plan.tasks.values():
                    if task.status == TaskStatus.IN_PROGRESS:
                        row = plan.dispatches.get(task.id)
                        agent = (
                            self.db.agents.find_by_id(row.agent_id)
                            if row is not None and row.agent_id
                            else None
                        )
                        running.append(
                            {
                                "task_id": task.id,
                                "task": task.name,
                                "initiative": plan.initiative.name,
                                "agent": agent.name if agent else None,
                                "agent_status": str(agent.status) if agent else None,
                                "workspace_id": row.workspace_id if row else None,
                                "attempt": row.attempts if row else None,
                            }
                        )
                        continue
                    if task.status == TaskStatus.COMPLETED:
                        row = plan.dispatches.get(task.id)
                        if row is not None and row.state == DispatchState.COMPLETED:
                            merge_wait = "completed: waits for its merge"
                            waiting.append(
                                self._waiting("task", task.id, task.name, plan, merge_wait)
                            )
                        continue
                    reason = self._waiting_reason(plan, task, now)
                    if reason is not None:
                        waiting.append(self._waiting("task", task.id, task.name, plan, reason))
                for phase in plan.phases.values():
                    phase_wait = self._phase_reason(plan, phase)
                    if phase_wait is not None:
                        waiting.append(
                            self._waiting("phase", phase.id, phase.name, plan, phase_wait)
                        )
                if plan.execution.state == ExecutionState.PAUSED:
                    waiting.append(
                        self._waiting(
                            "initiative", plan.initiative.id, plan.initiative.name, plan, "paused"
                        )
                    )
                elif plan.initiative.status == InitiativeStatus.PENDING_REVIEW:
                    waiting.append(
                        self._waiting(
                            "initiative",
                            plan.initiative.id,
                            plan.initiative.name,
                            plan,
                            "every phase is merged: waits for review (cw initiative merge)",
                        )
                    )
            return {
                "workspace_id": self.workspace_id,
                "max_agents": self.settings.max_agents,
                "running_agents": len(running_agents),
                "free_slots": max(self.settings.max_agents - len(running_agents), 0),
                "initiatives": [
                    {
                        "id": p.initiative.id,
                        "name": p.initiative.name,
                        "status": str(p.initiative.status),
                        "execution": str(p.execution.state),
                        "branch": p.initiative.branch,
                    }
                    for p in plans
                ],
                "running": running,
                "queued": queued,
                "waiting": waiting,
            }

    def _plans_of(self, initiative_id: str | None) -> list[_Plan]:
        """The plans of the executed initiatives (or of that one)."""
        if initiative_id is not None:
            selected = [self._initiative(initiative_id)]
        else:
            selected = [
                i
                for e in self.db.execution.find_executions()
                if (i := self.db.initiatives.find_by_id(e.initiative_id)) is not None
            ]
        return [p for i in selected if (p := self._plan(i)) is not None]

    def _queue_entries(
        self, plans: list[_Plan], running: int, now: datetime
    ) -> list[dict[str, Any]]:
        """The ready tasks in dispatch order, as ``cw dispatch queue`` lists them."""
        free = max(self.settings.max_agents - running, 0)
        entries = []
        for position, (plan, task) in enumerate(self._ready(plans), start=1):
            row = plan.dispatches.get(task.id)
            phase = plan.phases.get(task.phase_id) if task.phase_id else None
            by_hand = row.queued_by_hand_at if row is not None else None
            entries.append(
                {
                    "position": position,
                    "task_id": task.id,
                    "task": task.name,
                    "initiative_id": plan.initiative.id,
                    "initiative": plan.initiative.name,
                    "phase": phase.name if phase is not None else None,
                    "priority": str(task.priority),
                    "category": str(task.category),
                    "provider": self._provider_of(task),
                    "by_hand": by_hand is not None,
                    "queued_by_hand_at": by_hand.isoformat() if by_hand else None,
                    "created_at": task.created_at.isoformat(),
                    "age_seconds": max(int((now - task.created_at).total_seconds()), 0),
                    "attempt": (row.attempts if row is not None else 0) + 1,
                    "waits_for": (
                        "nothing: dispatched at the next round"
                        if position <= free
                        else f"a free agent slot ({running} of {self.settings.max_agents} running)"
                    ),
                }
            )
        return entries

    def _waiting(self, kind: str, id: str, name: str, plan: _Plan, reason: str) -> dict[str, Any]:
        return {
            "kind": kind,
            "id": id,
            "name": name,
            "initiative": plan.initiative.name,
            "reason": reason,
        }

    def _phase_reason(self, plan: _Plan, phase: Phase) -> str | None:
        if phase.status == PhaseStatus.PENDING:
            return "not approved (cw phase approve)"
        if phase.status == PhaseStatus.APPROVED:
            open_ = [
                plan.phases[d].name
                for d in plan.phase_deps.get(phase.id, [])
                if d in plan.phases and plan.phases[d].status != PhaseStatus.COMPLETED
            ]
            return "waits for phase(s) " + ", ".join(open_) if open_ else "about to start"
        if phase.status == PhaseStatus.PENDING_REVIEW:
            return "waits for review (cw phase approve-review)"
        if phase.status == PhaseStatus.BLOCKED:
            return "blocked: a task is blocked or its merge conflicted"
        return None

    # -- helpers -----------------------------------------------------------------------------

    def _initiative(self, initiative_id: str) -> Initiative:
        initiative = self.db.initiatives.find_by_id(initiative_id)
        if initiative is None:
            raise NotFoundError(f"initiative {initiative_id!r} not found")
        return initiative

    def _task(self, task_id: str) -> Task:
        task = self.db.tasks.find_by_id(task_id)
        if task is None:
            raise NotFoundError(f"task {task_id!r} not found")
        return task

    def _task_status(self, task: Task, status: TaskStatus, **extra: Any) -> Task:
        """In the caller's transaction: the task's status, with ``task:status_changed``."""
        current = self.db.tasks.find_by_id(task.id) or task
        if current.status == status and not extra:
            return current
        updated = self.db.tasks.update(task.id, status=status, **extra)
        events.emit(self.db, events.TASK_STATUS_CHANGED, updated, previous_status=current.status)
        return updated

    def _phase_status(self, phase: Phase, status: PhaseStatus) -> Phase:
        """In the caller's transaction: the phase's status, with ``phase:status_changed``."""
        updated = self.db.phases.update(phase.id, status=status)
        events.emit(self.db, events.PHASE_STATUS_CHANGED, updated, previous_status=phase.status)
        return updated


def set_task_provider(
    db: Database, task_id: str, provider: str | None, known: Iterable[str]
) -> Task:
    """Dispatch the task to ``provider`` rather than ``[dispatch] provider`` (None, "" or
    "default": back to that), with ``task:updated``. ``known``: the workspace's providers.
    Raises ``NotFoundError``, ``ValidationError`` for an unknown provider, ``ConflictError``
    once an agent ran the task (its retries resume that agent, provider and all)."""
    value = check_task_provider(db, task_id, provider, known)
    with db.transaction():
        task = db.tasks.update(task_id, provider=value)
        events.emit(db, events.TASK_UPDATED, task, provider=value)
    return task


def check_task_provider(
    db: Database, task_id: str, provider: str | None, known: Iterable[str]
) -> str | None:
    """The value :func:`set_task_provider` would store (None for the workspace's), or the
    error it would raise; changes nothing."""
    task = db.tasks.find_by_id(task_id)
    if task is None:
        raise NotFoundError(f"task {task_id!r} not found")
    value = task_provider_name(provider, known)
    agent = db.agents.find_by_task_id(task.id)
    if agent is not None:
        raise ConflictError(
            f"task {task.name} was run by agent {agent.name} ({agent.provider}): its retries "
            "resume that agent, so its provider stays"
        )
    if task.status in {TaskStatus.IN_PROGRESS, TaskStatus.COMPLETED}:
        raise ConflictError(f"task {task.name} is {task.status}")
    return value


def task_provider_name(provider: str | None, known: Iterable[str]) -> str | None:
    """A task's provider as stored: None (or "", "default") for ``[dispatch] provider``,
    else one of ``known`` (the workspace's providers). Raises ``ValidationError`` naming the
    known ones for any other name (e.g. ``cw task create --provider``, before anything is
    created)."""
    value = (provider or "").strip()
    if value in {"", "default"}:
        return None
    names = sorted(known)
    if value not in names:
        raise ValidationError(f"unknown provider {value!r} (known: {', '.join(names)})")
    return value


__all__ = [
    "MODE_OF_CATEGORY",
    "DispatchSettings",
    "DispatchSettingsError",
    "Executor",
    "GitIntegration",
    "Integration",
    "MergeResult",
    "TickReport",
    "check_task_provider",
    "initiative_branch_name",
    "phase_branches",
    "set_task_provider",
    "task_branch",
    "task_provider_name",
]


def _comment_lines(comments: list[Any]) -> list[str]:
    """The unresolved review comments as lines of a review task's description."""
    if not comments:
        return []
    return ["", "Unresolved review comments:", ""] + [
        f"- `{c.file_path}` line {c.line_number} ({c.line_type}, {c.author}): {c.body}"
        for c in comments
    ]
