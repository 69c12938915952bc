"""Execution: initiatives that run themselves (``docs/execution.md``). Every endpoint here
asks the coordinator's executor or runtime (503 without them)."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from codewalkers.server import models as m
from codewalkers.server.errors import CONFLICT, NOT_FOUND
from codewalkers.server.routes._common import (
    NO_RUNTIME,
    ExecutorDep,
    InitiativeId,
    PhaseId,
    Runtime,
    TaskId,
    make_router,
    out,
    outs,
)
from codewalkers.services import branches
from codewalkers.services.execution import Executor
from codewalkers.services.serialize import plain

router = make_router("execution")

ANSWERS = {**NOT_FOUND, **CONFLICT, **NO_RUNTIME}

T = TypeVar("T")


def _woken(executor: Executor, result: T) -> T:
    """``result``, after asking the executor for a round now (the command changed what is
    ready) rather than at its next interval."""
    executor.wake()
    return result


@router.post("/initiatives/{id}/execute", response_model=m.ExecutionPublic, responses=ANSWERS)
def execute(executor: ExecutorDep, id: InitiativeId) -> m.ExecutionPublic:
    """Start executing the initiative (its branch is made in every linked project); a
    paused one resumes."""
    return out(m.ExecutionPublic, _woken(executor, executor.execute(id)))


@router.post("/initiatives/{id}/pause", response_model=m.ExecutionPublic, responses=ANSWERS)
def pause(executor: ExecutorDep, id: InitiativeId) -> m.ExecutionPublic:
    """Dispatch no more of its tasks; running agents finish and their work is merged."""
    return out(m.ExecutionPublic, executor.pause(id))


@router.post("/initiatives/{id}/resume", response_model=m.ExecutionPublic, responses=ANSWERS)
def resume(executor: ExecutorDep, id: InitiativeId) -> m.ExecutionPublic:
    """Dispatch its ready tasks again."""
    return out(m.ExecutionPublic, _woken(executor, executor.resume(id)))


@router.post("/initiatives/{id}/merge", response_model=dict[str, Any], responses=ANSWERS)
def merge(executor: ExecutorDep, id: InitiativeId) -> dict[str, Any]:
    """Land a finished (pending_review) initiative: its branch merged into each linked
    project's default branch and pushed; ``commits`` per project (409 with the conflicting
    files, or when it is not pending_review)."""
    landed: dict[str, Any] = plain(executor.merge_initiative(id))
    return landed


@router.post("/initiatives/{id}/push", response_model=m.InitiativePublic, responses=ANSWERS)
def push(executor: ExecutorDep, id: InitiativeId) -> m.InitiativePublic:
    """Push the initiative's branch to each linked project's remote."""
    return out(m.InitiativePublic, executor.push_initiative(id))


@router.post("/initiatives/{id}/request-changes", response_model=m.TaskPublic, responses=ANSWERS)
def request_initiative_changes(
    executor: ExecutorDep, id: InitiativeId, body: m.ChangesRequest
) -> m.TaskPublic:
    """Send a finished initiative back: a "Changes requested" phase with a review task runs,
    then the initiative waits for review again (422 without a summary)."""
    task = executor.request_initiative_changes(id, body.summary or "")
    return out(m.TaskPublic, _woken(executor, task))


@router.post("/phases/{id}/request-changes", response_model=m.TaskPublic, responses=ANSWERS)
def request_changes(executor: ExecutorDep, id: PhaseId, body: m.ChangesRequest) -> m.TaskPublic:
    """Send a phase waiting for review back: a review task carries the summary and the
    unresolved comments; after it the phase waits for review again."""
    return out(m.TaskPublic, _woken(executor, executor.request_phase_changes(id, body.summary)))


@router.post("/phases/{id}/approve-review", response_model=m.PhasePublic, responses=ANSWERS)
def approve_review(executor: ExecutorDep, id: PhaseId) -> m.PhasePublic:
    """Merge a phase waiting for review into the initiative branch."""
    return out(m.PhasePublic, _woken(executor, executor.approve_phase_review(id)))


@router.get("/phases/{id}/diff", response_model=list[m.DiffPublic], responses=ANSWERS)
def phase_diff(runtime: Runtime, id: PhaseId) -> list[m.DiffPublic]:
    """The phase branch against the initiative branch, per linked project."""
    return [
        m.DiffPublic.model_validate(dataclasses.asdict(diff))
        for diff in branches.phase_diff(runtime.db, runtime.paths, id)
    ]


@router.post("/tasks/{id}/complete", response_model=m.TaskPublic, responses=ANSWERS)
def complete_task(executor: ExecutorDep, id: TaskId, body: m.TaskComplete) -> m.TaskPublic:
    """A person completes a task (a checkpoint): dependents may start."""
    return out(m.TaskPublic, _woken(executor, executor.complete_task(id, body.summary)))


@router.post("/tasks/{id}/retry", response_model=m.TaskPublic, responses=ANSWERS)
def retry_task(executor: ExecutorDep, id: TaskId) -> m.TaskPublic:
    """Give a blocked task another go."""
    return out(m.TaskPublic, _woken(executor, executor.retry_task(id)))


@router.get("/dispatch/status", response_model=dict[str, Any], responses=ANSWERS)
def dispatch_status(executor: ExecutorDep, initiative_id: str | None = None) -> dict[str, Any]:
    """What runs, what is queued, and why every waiting task, phase and initiative waits."""
    return executor.dispatch_status(initiative_id)


@router.get("/dispatch/queue", response_model=dict[str, Any], responses=ANSWERS)
def dispatch_queue(executor: ExecutorDep, initiative_id: str | None = None) -> dict[str, Any]:
    """The ready tasks in dispatch order (queued by hand first, then by priority, then
    oldest), with what each waits for."""
    return executor.queue(initiative_id)


@router.post("/dispatch/queue/{id}", response_model=dict[str, Any], responses=ANSWERS)
def queue_task(executor: ExecutorDep, id: TaskId) -> dict[str, Any]:
    """Put a ready task at the front of the queue (409 naming why a task that is not ready
    waits); its queue entry."""
    return executor.queue_task(id)


@router.put("/tasks/{id}/provider", response_model=m.TaskPublic, responses=ANSWERS)
def set_provider(executor: ExecutorDep, id: TaskId, body: m.TaskProvider) -> m.TaskPublic:
    """Dispatch the task to this provider (422 for an unknown one, 409 once an agent ran
    it)."""
    return out(m.TaskPublic, _woken(executor, executor.set_task_provider(id, body.provider)))


@router.get("/worktrees", response_model=list[m.WorktreePublic], responses=NO_RUNTIME)
def worktrees(runtime: Runtime) -> list[m.WorktreePublic]:
    """Every agent and integration worktree, with whether removing it would lose work."""
    return outs(m.WorktreePublic, branches.list_worktrees(runtime.db, runtime.paths))


@router.post("/worktrees/prune", response_model=dict[str, Any], responses=NO_RUNTIME)
def prune(runtime: Runtime) -> dict[str, Any]:
    """Remove the workdirs whose worktrees hold nothing unmerged or unpushed; say why the
    others stay."""
    return branches.prune_worktrees(runtime.db, runtime.paths, runtime.delete)
