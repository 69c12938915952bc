"""The Execution tab: the pipeline (phases in columns by dependency level, tasks with live
status and their agents) and its actions: execute / pause the initiative, queue a phase,
retry a blocked task, complete a checkpoint. Each action calls the coordinator's executor
(503 without one) and answers the re-rendered pipeline; a refused one changes nothing and
answers the one-line error.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from codewalkers.db import ConflictError, Database, NotFoundError, PhaseStatus, Task, TaskStatus
from codewalkers.server.dashboard import pipeline
from codewalkers.server.dashboard.routes import form, fragment, not_found, page
from codewalkers.server.routes._common import get_executor
from codewalkers.services import plan

router = APIRouter(include_in_schema=False)


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _pipeline(request: Request, initiative_id: str) -> pipeline.Pipeline:
    db = _db(request)
    executor = getattr(request.app.state, "executor", None)
    status = None
    if executor is not None and db.execution.find_execution(initiative_id) is not None:
        status = executor.dispatch_status(initiative_id)
    return pipeline.pipeline(db, initiative_id, status)


def _context(request: Request, initiative_id: str, **extra: Any) -> dict[str, Any]:
    view = _pipeline(request, initiative_id)
    has_executor = getattr(request.app.state, "executor", None) is not None
    return {"view": view, "initiative": view.initiative, "has_executor": has_executor, **extra}


def _initiative_of(db: Database, task: Task) -> str:
    if task.initiative_id:
        return task.initiative_id
    phase = db.phases.find_by_id(task.phase_id or "")
    if phase is None:  # pragma: no cover - a task belongs to an initiative or a phase
        raise NotFoundError(f"task {task.id!r} belongs to no initiative")
    return phase.initiative_id


@router.get("/ui/initiatives/{id}/execution")
def execution_page(request: Request, id: str) -> HTMLResponse:
    try:
        context = _context(request, id)
    except NotFoundError:
        return not_found(request, "initiatives", f"initiative {id!r}")
    return page(
        request,
        "execution.html",
        section="initiatives",
        tab="execution",
        title=f"{context['initiative'].name} · Execution",
        **context,
    )


@router.get("/ui/initiatives/{id}/pipeline")
def pipeline_fragment(request: Request, id: str) -> HTMLResponse:
    return fragment(request, "_pipeline.html", **_context(request, id))


@router.post("/ui/initiatives/{id}/execute")
def execute(request: Request, id: str) -> HTMLResponse:
    """Execute (or resume a paused) initiative."""
    executor = get_executor(request)
    executor.execute(id)
    executor.wake()
    return fragment(request, "_pipeline.html", **_context(request, id))


@router.post("/ui/initiatives/{id}/pause")
def pause(request: Request, id: str) -> HTMLResponse:
    get_executor(request).pause(id)
    return fragment(request, "_pipeline.html", **_context(request, id))


@router.post("/ui/phases/{id}/queue")
def queue_phase(request: Request, id: str) -> HTMLResponse:
    """Approve a pending phase: the executor runs its tasks once its dependencies are done
    (``cw phase approve``)."""
    executor = get_executor(request)
    phase = plan.set_phase_status(_db(request), id, PhaseStatus.APPROVED)
    executor.wake()
    return fragment(request, "_pipeline.html", **_context(request, phase.initiative_id))


def queue_task(db: Database, task_id: str) -> Task:
    """Make a task dispatchable: approve it when it waits for approval, and queue its phase
    when that is still pending. Raises ``NotFoundError``, ``ConflictError`` when neither
    applies (it is running, done, blocked or queued already)."""
    task: Task = plan.get_or_raise(db.tasks, task_id, "task")
    phase = db.phases.find_by_id(task.phase_id) if task.phase_id else None
    waits = task.status == TaskStatus.PENDING_APPROVAL
    phase_waits = phase is not None and phase.status == PhaseStatus.PENDING
    if not waits and not (task.status == TaskStatus.PENDING and phase_waits):
        raise ConflictError(f"task {task.name} is {task.status}: nothing to queue")
    if waits:
        task = plan.approve_task(db, task.id)
    if phase is not None and phase_waits:
        plan.set_phase_status(db, phase.id, PhaseStatus.APPROVED)
    return task


@router.post("/ui/tasks/{id}/queue")
def queue(request: Request, id: str) -> HTMLResponse:
    """Queue one task (approve it, and its phase if need be); it runs once the initiative
    executes and its dependencies are done."""
    executor = get_executor(request)
    task = queue_task(_db(request), id)
    executor.wake()
    return fragment(
        request, "_pipeline.html", **_context(request, _initiative_of(_db(request), task))
    )


@router.post("/ui/tasks/{id}/retry")
def retry_task(request: Request, id: str) -> HTMLResponse:
    task = get_executor(request).retry_task(id)
    return fragment(
        request, "_pipeline.html", **_context(request, _initiative_of(_db(request), task))
    )


@router.post("/ui/tasks/{id}/complete")
async def complete_task(request: Request, id: str) -> HTMLResponse:
    """A person completes a checkpoint task (with an optional summary)."""
    fields = await form(request)
    executor = get_executor(request)
    summary = fields.get("summary", "").strip() or None
    task = await run_in_threadpool(executor.complete_task, id, summary)
    context = await run_in_threadpool(_context, request, _initiative_of(_db(request), task))
    return fragment(request, "_pipeline.html", **context)
