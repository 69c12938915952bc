"""The Plan tab's planning panel: start an architect mode (discuss, plan, detail, refine,
with an optional phase and instructions) through the coordinator's runtime, as
``POST /initiatives/{id}/architect/{mode}`` does; and the initiative's pending proposals,
grouped by the agent that made them, each accepted or dismissed, or all of an agent's
accepted at once (``docs/planning.md``, "Proposals").

Actions answer the re-rendered panel; accepting says its warnings (dependencies dropped) in
one line. A refused action changes nothing and answers the one-line error.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from codewalkers.db import Database, ValidationError
from codewalkers.server.dashboard import views
from codewalkers.server.dashboard.routes import form, fragment
from codewalkers.server.routes._common import get_runtime
from codewalkers.services import lookup, proposals
from codewalkers.services.agents import find_agent
from codewalkers.services.architect import ARCHITECT_MODES, ArchitectRequest, spawn_architect

router = APIRouter(include_in_schema=False)


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _answer(request: Request, initiative_id: str, message: str | None = None) -> HTMLResponse:
    view = views.proposals_view(_db(request), initiative_id, message)
    return fragment(request, "_proposals.html", planning=view, initiative=view.initiative)


def _said(results: list[proposals.AcceptedProposal], who: str) -> str:
    made = ", ".join(f"{r.action} {r.proposal.target_type} {r.entity.id}" for r in results)
    line = f"accepted {who}: {made}"
    warnings = [w for r in results for w in r.warnings]
    return line + (f" · warnings: {'; '.join(warnings)}" if warnings else "")


@router.get("/ui/initiatives/{id}/proposals")
def proposals_fragment(request: Request, id: str) -> HTMLResponse:
    return _answer(request, lookup.resolve(_db(request), "initiative", id))


@router.get("/ui/initiatives/{id}/phase-options")
def phase_options(request: Request, id: str, phase: str = "") -> HTMLResponse:
    """The architect form's phase choices (re-read when the plan changes), ``phase`` (the
    select's own value, sent by htmx) still chosen."""
    db = _db(request)
    phases = db.phases.find_by_initiative_id(lookup.resolve(db, "initiative", id))
    return fragment(request, "_phase_options.html", phases=phases, chosen=phase)


@router.post("/ui/initiatives/{id}/architect")
async def start_architect(request: Request, id: str) -> HTMLResponse:
    """Spawn an architect agent in the form's ``mode`` (with ``phase`` and
    ``instructions``); its proposals appear here when it ends done."""
    fields = await form(request)
    runtime = get_runtime(request)
    mode = fields.get("mode", "").strip()
    if mode not in ARCHITECT_MODES:
        raise ValidationError(f"mode: choose one of {', '.join(ARCHITECT_MODES)}")
    db = _db(request)
    initiative_id = await run_in_threadpool(lookup.resolve, db, "initiative", id)
    phase = fields.get("phase", "").strip()
    architect = ArchitectRequest(
        mode=mode,
        initiative_id=initiative_id,
        phase_id=await run_in_threadpool(lookup.resolve, db, "phase", phase) if phase else None,
        instructions=fields.get("instructions", "").strip() or None,
    )
    agent = await run_in_threadpool(spawn_architect, runtime, architect)
    said = f"started {agent.name} ({mode}): its proposals appear here when it is done"
    return await run_in_threadpool(_answer, request, initiative_id, said)


@router.post("/ui/proposals/{id}/accept")
def accept(request: Request, id: str) -> HTMLResponse:
    db = _db(request)
    result = proposals.accept_proposal(db, lookup.resolve(db, "proposal", id))
    return _answer(
        request, result.proposal.initiative_id, _said([result], repr(result.proposal.title))
    )


@router.post("/ui/proposals/{id}/dismiss")
def dismiss(request: Request, id: str) -> HTMLResponse:
    db = _db(request)
    dismissed = proposals.dismiss_proposal(db, lookup.resolve(db, "proposal", id))
    warnings = proposals.dropped_dependencies(db, dismissed.id)
    said = f"dismissed {dismissed.title!r}"
    if warnings:
        said += f" · warnings: {'; '.join(warnings)}"
    return _answer(request, dismissed.initiative_id, said)


@router.post("/ui/agents/{name}/proposals/accept")
def accept_all(request: Request, name: str) -> HTMLResponse:
    """Every pending proposal of the agent, in order, all or none."""
    db = _db(request)
    agent = find_agent(db, name)
    if agent.initiative_id is None:
        raise ValidationError(f"agent {agent.name} works on no initiative: it proposes nothing")
    results = proposals.accept_all(db, agent.id)
    if not results:
        return _answer(request, agent.initiative_id, f"{agent.name} has no pending proposals")
    return _answer(request, agent.initiative_id, _said(results, f"{len(results)} of {agent.name}"))
