"""Execution: initiatives that run themselves (``docs/execution.md``). Every endpoint here
asks the coordinator's executor or runtime (503 without them)."""

from __future__ import annotations

import dataclasses
from typing import Any

from codewalkers.server import models as m
from codewalkers.server.errors import CONFLICT, NOT_FOUND
from codewalkers.server.routes._common import (
    NO_RUNTIME,
    ExecutorDep,
    Runtime,
    make_router,
    out,
    outs,
)
from codewalkers.services import landing

router = make_router("execution")

ANSWERS = {**NOT_FOUND, **CONFLICT, **NO_RUNTIME}


@router.post("/initiatives/{id}/execute", response_model=m.ExecutionPublic, responses=ANSWERS)
def execute(executor: ExecutorDep, id: str) -> m.ExecutionPublic:
    """Start executing the initiative (its branch is made in every linked project); a
    paused one resumes."""
    return out(m.ExecutionPublic, executor.execute(id))


@router.post("/initiatives/{id}/pause", response_model=m.ExecutionPublic, responses=ANSWERS)
def pause(executor: ExecutorDep, id: str) -> m.ExecutionPublic:
    """Dispatch no more of its tasks; running agents finish and their work is merged."""
    return out(m.ExecutionPublic, executor.pause(id))


@router.post("/initiatives/{id}/resume", response_model=m.ExecutionPublic, responses=ANSWERS)
def resume(executor: ExecutorDep, id: str) -> m.ExecutionPublic:
    """Dispatch its ready tasks again."""
    return out(m.ExecutionPublic, executor.resume(id))


@router.post("/initiatives/{id}/merge", response_model=list[m.LandedPublic], responses=ANSWERS)
def merge(runtime: Runtime, id: str, force: bool = False) -> list[m.LandedPublic]:
    """Merge the initiative's branch into each linked project's default branch and push
    (409 unless it is pending_review, or with the conflicting files)."""
    return outs(
        m.LandedPublic, landing.merge_initiative(runtime.db, runtime.paths, id, force=force)
    )


@router.post("/initiatives/{id}/push", response_model=list[m.LandedPublic], responses=ANSWERS)
def push(runtime: Runtime, id: str) -> list[m.LandedPublic]:
    """Push the initiative's branch to each linked project's remote."""
    return outs(m.LandedPublic, landing.push_initiative(runtime.db, runtime.paths, id))


@router.post("/phases/{id}/approve-review", response_model=m.PhasePublic, responses=ANSWERS)
def approve_review(executor: ExecutorDep, id: str) -> m.PhasePublic:
    """Merge a phase waiting for review into the initiative branch."""
    return out(m.PhasePublic, executor.approve_phase_review(id))


@router.get("/phases/{id}/diff", response_model=list[m.DiffPublic], responses=ANSWERS)
def phase_diff(runtime: Runtime, id: str) -> list[m.DiffPublic]:
    """The phase branch against the initiative branch, per linked project."""
    return [
        m.DiffPublic.model_validate(dataclasses.asdict(diff))
        for diff in landing.phase_diff(runtime.db, runtime.paths, id)
    ]


@router.post("/tasks/{id}/complete", response_model=m.TaskPublic, responses=ANSWERS)
def complete_task(executor: ExecutorDep, id: str, body: m.TaskComplete) -> m.TaskPublic:
    """A person completes a task (a checkpoint): dependents may start."""
    return out(m.TaskPublic, executor.complete_task(id, body.summary))


@router.post("/tasks/{id}/retry", response_model=m.TaskPublic, responses=ANSWERS)
def retry_task(executor: ExecutorDep, id: str) -> m.TaskPublic:
    """Give a blocked task another go."""
    return out(m.TaskPublic, executor.retry_task(id))


@router.get("/dispatch/status", response_model=dict[str, Any], responses=ANSWERS)
def dispatch_status(executor: ExecutorDep, initiative_id: str | None = None) -> dict[str, Any]:
    """What runs, what is queued, and why every waiting task, phase and initiative waits."""
    return executor.dispatch_status(initiative_id)


@router.get("/worktrees", response_model=list[m.WorktreePublic], responses=NO_RUNTIME)
def worktrees(runtime: Runtime) -> list[m.WorktreePublic]:
    """Every agent and integration worktree, with whether removing it would lose work."""
    return outs(m.WorktreePublic, landing.list_worktrees(runtime.db, runtime.paths))


@router.post("/worktrees/prune", response_model=dict[str, Any], responses=NO_RUNTIME)
def prune(runtime: Runtime) -> dict[str, Any]:
    """Remove the workdirs whose worktrees hold nothing unmerged or unpushed; say why the
    others stay."""
    return landing.prune_worktrees(runtime.db, runtime.paths, runtime.delete)
