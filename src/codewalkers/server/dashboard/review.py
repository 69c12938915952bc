"""The Review tab: a phase's diff against its initiative's branch (file tree, unified or
split view) with review threads on its lines (comment, reply, resolve, reopen), request
changes and approve for the phase; merge, push and request changes for the initiative.

Server-rendered: a thread is every comment on one line of one side of a file (the
comments have no parent, so a reply is another comment on that line); resolving a thread
resolves each of its comments. Actions answer the re-rendered review; a refused one
changes nothing and answers the one-line error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from codewalkers.db import (
    ConflictError,
    Database,
    Initiative,
    NotFoundError,
    Phase,
    PhaseStatus,
    ValidationError,
)
from codewalkers.server.dashboard import pipeline
from codewalkers.server.dashboard.routes import form, fragment, not_found, page
from codewalkers.server.routes._common import get_executor
from codewalkers.services import branches, plan, review

router = APIRouter(include_in_schema=False)

VIEWS = ("unified", "split")


@dataclass
class ReviewView:
    initiative: Initiative
    phases: list[Phase]
    phase: Phase | None
    mode: str
    files: list[pipeline.FileDiff] = field(default_factory=list)
    orphans: list[pipeline.Thread] = field(default_factory=list)
    diff_error: str | None = None
    unresolved: dict[str, int] = field(default_factory=dict)  # open threads per phase id
    message: str | None = None

    @property
    def can_review(self) -> bool:
        return self.phase is not None and self.phase.status == PhaseStatus.PENDING_REVIEW


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _default_phase(phases: list[Phase]) -> Phase | None:
    """The first phase waiting for review, else the first that has started, else the first."""
    for wanted in (
        {PhaseStatus.PENDING_REVIEW},
        {PhaseStatus.IN_PROGRESS, PhaseStatus.BLOCKED, PhaseStatus.COMPLETED},
    ):
        for phase in phases:
            if phase.status in wanted:
                return phase
    return phases[0] if phases else None


def review_view(
    request: Request, initiative_id: str, phase_id: str | None, mode: str, message: str | None
) -> ReviewView:
    db = _db(request)
    initiative: Initiative = plan.get_or_raise(db.initiatives, initiative_id, "initiative")
    phases = db.phases.find_by_initiative_id(initiative.id)
    chosen = next((p for p in phases if p.id == phase_id), None) or _default_phase(phases)
    view = ReviewView(
        initiative, phases, chosen, mode if mode in VIEWS else "unified", message=message
    )
    for phase in phases:
        comments = db.review_comments.find_by_phase_id(phase.id)
        open_threads = {
            (c.file_path, c.line_number, str(c.line_type)) for c in comments if not c.resolved
        }
        view.unresolved[phase.id] = len(open_threads)
    if chosen is None:
        return view
    runtime = getattr(request.app.state, "runtime", None)
    diffs: list[branches.Diff] = []
    if runtime is None:
        view.diff_error = "this server runs no agents, so it has no repositories to diff"
    else:
        try:
            diffs = branches.phase_diff(db, runtime.paths, chosen.id)
        except (ConflictError, NotFoundError) as exc:
            view.diff_error = str(exc).splitlines()[0]
    for diff in diffs:
        view.files += pipeline.parse_diff(diff.project, diff.diff)
    comments = db.review_comments.find_by_phase_id(chosen.id)
    view.orphans = pipeline.attach_threads(view.files, comments)
    return view


def _render(
    request: Request,
    initiative_id: str,
    phase_id: str | None,
    mode: str,
    message: str | None = None,
) -> HTMLResponse:
    view = review_view(request, initiative_id, phase_id, mode, message)
    return fragment(request, "_review.html", view=view, initiative=view.initiative)


def _phase(db: Database, phase_id: str) -> Phase:
    found: Phase = plan.get_or_raise(db.phases, phase_id, "phase")
    return found


@router.get("/ui/initiatives/{id}/review")
def review_page(
    request: Request, id: str, phase: str | None = None, view: str = "unified"
) -> HTMLResponse:
    try:
        shown = review_view(request, id, phase, view, None)
    except NotFoundError:
        return not_found(request, "initiatives", f"initiative {id!r}")
    return page(
        request,
        "review.html",
        section="initiatives",
        tab="review",
        title=f"{shown.initiative.name} · Review",
        initiative=shown.initiative,
        view=shown,
    )


@router.get("/ui/initiatives/{id}/review/body")
def review_body(
    request: Request, id: str, phase: str | None = None, view: str = "unified"
) -> HTMLResponse:
    return _render(request, id, phase, view)


def _line(fields: dict[str, str]) -> tuple[str, int, str]:
    path = fields.get("file_path", "").strip()
    if not path:
        raise ValidationError("file_path: name the file the comment is on")
    try:
        number = int(fields.get("line_number", ""))
    except ValueError:
        raise ValidationError("line_number: a line number is a whole number") from None
    return path, number, fields.get("line_type", "")


@router.post("/ui/phases/{id}/comments")
async def comment(request: Request, id: str) -> HTMLResponse:
    """Comment on a line (a new thread, or a reply in the line's thread)."""
    fields = await form(request)
    db = _db(request)
    path, number, line_type = _line(fields)
    body = fields.get("body", "").strip()
    if not body:
        raise ValidationError("body: write a comment first")
    phase = await run_in_threadpool(_phase, db, id)
    await run_in_threadpool(review.add_comment, db, id, path, number, line_type, body)
    return await run_in_threadpool(
        _render, request, phase.initiative_id, id, fields.get("view", "unified")
    )


@router.post("/ui/phases/{id}/threads/resolve")
async def resolve_thread(request: Request, id: str) -> HTMLResponse:
    """Resolve every comment of a line's thread (``reopen=1``: mark them unresolved)."""
    fields = await form(request)
    db = _db(request)
    path, number, line_type = _line(fields)
    reopen = fields.get("reopen") == "1"

    def apply() -> Phase:
        phase = _phase(db, id)
        thread = [
            c
            for c in db.review_comments.find_by_phase_id(id)
            if (c.file_path, c.line_number, str(c.line_type)) == (path, number, line_type)
        ]
        if not thread:
            raise NotFoundError(f"no comments on {path} line {number} ({line_type})")
        for c in thread:
            if reopen and c.resolved:
                review.unresolve_comment(db, c.id)
            elif not reopen and not c.resolved:
                review.resolve_comment(db, c.id)
        return phase

    phase = await run_in_threadpool(apply)
    return await run_in_threadpool(
        _render, request, phase.initiative_id, id, fields.get("view", "unified")
    )


@router.post("/ui/phases/{id}/request-changes")
async def request_changes(request: Request, id: str) -> HTMLResponse:
    """Send the phase back: a review task carries the summary and the open threads."""
    fields = await form(request)
    executor = get_executor(request)
    summary = fields.get("summary", "").strip() or None
    task = await run_in_threadpool(executor.request_phase_changes, id, summary)
    phase = await run_in_threadpool(_phase, _db(request), id)
    message = f'changes requested: task "{task.name}" will run on the phase branch'
    return await run_in_threadpool(
        _render, request, phase.initiative_id, id, fields.get("view", "unified"), message
    )


@router.post("/ui/phases/{id}/approve")
async def approve(request: Request, id: str) -> HTMLResponse:
    """Approve the phase: it is merged into the initiative branch."""
    fields = await form(request)
    executor = get_executor(request)
    phase = await run_in_threadpool(executor.approve_phase_review, id)
    message = f'approved: "{phase.name}" is merged into {phase_branch_target(_db(request), phase)}'
    return await run_in_threadpool(
        _render, request, phase.initiative_id, id, fields.get("view", "unified"), message
    )


def phase_branch_target(db: Database, phase: Phase) -> str:
    initiative = db.initiatives.find_by_id(phase.initiative_id)
    return (initiative.branch if initiative else None) or "the initiative branch"


def _summary_of(landed: dict[str, Any]) -> str:
    commits = landed.get("commits") or {}
    parts = [f"{name} at {str(commit or '')[:10]}" for name, commit in commits.items()]
    return "merged and pushed: " + (", ".join(parts) if parts else "no linked project")


async def _initiative_answer(
    request: Request, id: str, fields: dict[str, str], message: str
) -> HTMLResponse:
    """The review re-rendered after an initiative action, on the phase and view it showed."""
    return await run_in_threadpool(
        _render, request, id, fields.get("phase") or None, fields.get("view", "unified"), message
    )


@router.post("/ui/initiatives/{id}/merge")
async def merge(request: Request, id: str) -> HTMLResponse:
    """Land the finished initiative on each linked project's default branch."""
    fields = await form(request)
    executor = get_executor(request)
    landed = await run_in_threadpool(executor.merge_initiative, id)
    return await _initiative_answer(request, id, fields, _summary_of(landed))


@router.post("/ui/initiatives/{id}/push")
async def push(request: Request, id: str) -> HTMLResponse:
    """Push the initiative branch to each linked project's remote."""
    fields = await form(request)
    executor = get_executor(request)
    initiative = await run_in_threadpool(executor.push_initiative, id)
    return await _initiative_answer(request, id, fields, f"pushed {initiative.branch}")


@router.post("/ui/initiatives/{id}/request-changes")
async def request_initiative_changes(request: Request, id: str) -> HTMLResponse:
    """Send the finished initiative back: a "Changes requested" phase runs."""
    fields = await form(request)
    executor = get_executor(request)
    task = await run_in_threadpool(
        executor.request_initiative_changes, id, fields.get("summary", "")
    )
    message = f'changes requested: task "{task.name}" will run'
    return await _initiative_answer(request, id, fields, message)
