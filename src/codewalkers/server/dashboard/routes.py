"""The dashboard's pages and fragments (``/ui/...``), its login, and the ticket endpoint.

Pages are whole documents; fragments (``.../cards``, ``.../plan``, ``.../header``, ...)
are the parts a page re-fetches when the live stream says they changed. Actions (create,
stop, resume, answer) are form posts that answer with the fragment to swap in; a failed
action answers the API's JSON error (one line in ``detail``) and changes nothing.

Reads go through the services and repositories (``views``), agent actions through the
coordinator's runtime: the same code paths as the API and the CLI.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Query, Request
from fastapi import status as http
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from codewalkers.agents.dialects import DIALECTS
from codewalkers.db import AgentStatus, Database, NotFoundError, ValidationError
from codewalkers.server.dashboard import render, views
from codewalkers.server.dashboard.sessions import DashboardSessions, cookie_name
from codewalkers.server.dashboard.stream import Scope, dashboard_stream
from codewalkers.server.events import EventHub
from codewalkers.server.routes._common import get_runtime, make_router
from codewalkers.services import plan
from codewalkers.services.agents import find_agent

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.globals["htmx_version"] = "2.0.11"
templates.env.globals["sse_version"] = "2.2.4"

#: Pages for browsers (session cookie, see server/auth.py); not part of the API document.
pages = APIRouter(include_in_schema=False)
#: The one API endpoint of the dashboard: ``cw open`` mints a login ticket with the token.
api = make_router("dashboard")

INITIATIVE_FILTERS = ("all", "active", "pending_review", "completed", "archived")
SECURITY_HEADERS = {
    # Only this server's own scripts and styles; htmx runs without eval (see base.html).
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Frame-Options": "DENY",
    # Nothing (the login ticket in a URL included) leaves for another site. Not
    # "no-referrer": with it a form post sends "Origin: null", which the guard refuses.
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class LoginTicket(BaseModel):
    """A one-time login link's ticket: open ``path`` on this server within ``expires_in``
    seconds, once."""

    ticket: str
    path: str
    expires_in: float


def _sessions(request: Request) -> DashboardSessions:
    sessions: DashboardSessions = request.app.state.dashboard_sessions
    return sessions


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


@api.post("/login-tickets", status_code=http.HTTP_201_CREATED, response_model=LoginTicket)
def mint_login_ticket(request: Request) -> LoginTicket:
    """A one-time ticket for the dashboard's login link (``cw open`` asks for it)."""
    ticket = _sessions(request).mint_ticket()
    return LoginTicket(
        ticket=ticket.value,
        path="/login?" + urlencode({"ticket": ticket.value}),
        expires_in=ticket.expires_in,
    )


# --- rendering helpers -----------------------------------------------------------------------


def seq_at_start(request: Request) -> None:
    """Every dashboard route's first step: the newest event's seq, taken before the route
    reads anything. A page's event stream starts after it, so a change made while the page
    was being read still reaches the page (taken after the reads, it was lost: a phase that
    went to review in between stayed "in progress" on screen)."""
    request.state.after_seq = _db(request).events.latest_seq()


def page(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A template rendered with what every page's shell needs."""
    db = _db(request)
    if context.get("full", True):
        context.setdefault("counts", views.counts(db))
        after_seq = getattr(request.state, "after_seq", None)
        context.setdefault("after_seq", db.events.latest_seq() if after_seq is None else after_seq)
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    response.headers.update(SECURITY_HEADERS)
    return response


def fragment(request: Request, name: str, **context: Any) -> HTMLResponse:
    return page(request, name, full=False, **context)


def not_found(request: Request, section: str, what: str) -> HTMLResponse:
    return page(request, "missing.html", 404, section=section, what=what, title="Not found")


def dialect_of(request: Request, provider: str) -> str:
    runtime = getattr(request.app.state, "runtime", None)
    if runtime is not None and provider in runtime.providers:
        return str(runtime.providers[provider].dialect)
    return provider if provider in DIALECTS else "raw"


async def form(request: Request) -> dict[str, str]:
    """The url-encoded form of a post (htmx's default), first value of each field."""
    body = (await request.body()).decode("utf-8", "replace")
    return {key: values[0] for key, values in parse_qs(body, keep_blank_values=True).items()}


# --- login -----------------------------------------------------------------------------------


@pages.get("/login")
def login(request: Request, ticket: str = "") -> Response:
    """Exchange a one-time ticket for the session cookie, then go to the dashboard.

    The answer is a page that moves on by itself (meta refresh) rather than a redirect: a
    SameSite=Strict cookie is not sent along a redirect chain that began on another site
    (a link clicked in a chat or a mail client), but this page's own navigation is
    same-site, so the cookie goes with it.
    """
    if not ticket:
        return page(request, "login_failed.html", 401, full=False, title="Sign in", reason="none")
    session = _sessions(request).exchange(ticket)
    if session is None:
        return page(
            request, "login_failed.html", 401, full=False, title="Login link refused", reason="used"
        )
    response = page(request, "login_ok.html", full=False, title="Signed in")
    response.set_cookie(
        cookie_name(request.headers.get("host", "")),
        session,
        max_age=int(_sessions(request).session_ttl),
        path="/",
        httponly=True,
        samesite="strict",
    )
    return response


@pages.post("/ui/logout")
def logout(request: Request) -> Response:
    name = cookie_name(request.headers.get("host", ""))
    _sessions(request).end(request.cookies.get(name))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(name, path="/", httponly=True, samesite="strict")
    return response


@pages.get("/")
@pages.get("/ui")
@pages.get("/ui/")
def home() -> Response:
    return RedirectResponse("/ui/initiatives", status_code=303)


@pages.get("/ui/nav")
def nav(request: Request, section: str = "") -> HTMLResponse:
    return fragment(request, "_nav.html", section=section, counts=views.counts(_db(request)))


# --- the live stream -------------------------------------------------------------------------


@pages.get("/ui/events")
async def events(
    request: Request,
    initiative: str | None = None,
    agent: str | None = None,
    after: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None,
    after_chunk: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
) -> StreamingResponse:
    """The page's live updates (see ``dashboard/stream.py``)."""
    hub: EventHub = request.app.state.events
    db = _db(request)
    agent_id, dialect = None, "raw"
    if agent:
        found = await run_in_threadpool(find_agent, db, agent)
        agent_id, dialect = found.id, dialect_of(request, found.provider)
    resume = request.headers.get("last-event-id", "").strip()
    after_seq = int(resume) if resume.isdigit() else after

    def render_output(payload: dict[str, Any]) -> str:
        return render.render_chunk(
            dialect,
            int(payload.get("seq") or 0),
            int(payload.get("session_number") or 1),
            str(payload.get("content") or ""),
        )

    scope = Scope(initiative_id=initiative, agent_id=agent_id, after_chunk=after_chunk)
    return StreamingResponse(
        dashboard_stream(hub, scope, after_seq, render_output),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


# --- initiatives -----------------------------------------------------------------------------


def _status_filter(status: str) -> str | None:
    return status if status in INITIATIVE_FILTERS and status != "all" else None


@pages.get("/ui/initiatives")
def initiatives_page(request: Request, status: str = "all") -> HTMLResponse:
    cards = views.initiative_cards(_db(request), _status_filter(status))
    return page(
        request,
        "initiatives.html",
        section="initiatives",
        title="Initiatives",
        cards=cards,
        status=status if status in INITIATIVE_FILTERS else "all",
        filters=INITIATIVE_FILTERS,
    )


@pages.get("/ui/initiatives/cards")
def initiative_cards(request: Request, status: str = "all") -> HTMLResponse:
    cards = views.initiative_cards(_db(request), _status_filter(status))
    return fragment(request, "_cards.html", cards=cards, status=status)


@pages.post("/ui/initiatives")
async def create_initiative(request: Request) -> HTMLResponse:
    fields = await form(request)
    name = fields.get("name", "").strip()
    if not name:
        raise ValidationError("name: give the initiative a name")
    db = _db(request)
    await run_in_threadpool(plan.create_initiative, db, name)
    status = fields.get("status", "all")
    cards = await run_in_threadpool(views.initiative_cards, db, _status_filter(status))
    return fragment(request, "_cards.html", cards=cards, status=status)


@pages.get("/ui/initiatives/{id}")
def initiative_page(request: Request, id: str) -> HTMLResponse:
    db = _db(request)
    try:
        view = views.plan_view(db, id)
    except NotFoundError:
        return not_found(request, "initiatives", f"initiative {id!r}")
    return page(
        request,
        "initiative.html",
        section="initiatives",
        title=view.tree.initiative.name,
        initiative=view.tree.initiative,
        view=view,
        planning=views.proposals_view(db, id),
        phases=[node.phase for node in view.tree.phases],
        has_runtime=getattr(request.app.state, "runtime", None) is not None,
    )


@pages.get("/ui/initiatives/{id}/plan")
def initiative_plan(request: Request, id: str) -> HTMLResponse:
    view = views.plan_view(_db(request), id)
    return fragment(request, "_plan.html", initiative=view.tree.initiative, view=view)


# --- agents ----------------------------------------------------------------------------------


@pages.get("/ui/agents")
def agents_page(request: Request, filter: str = "running") -> HTMLResponse:
    db = _db(request)
    chosen = filter if filter in views.AGENT_FILTERS else "all"
    return page(
        request,
        "agents.html",
        section="agents",
        title="Agents",
        filter=chosen,
        agents=views.agents(db, chosen),
        filter_counts=views.agent_filter_counts(db),
    )


@pages.get("/ui/agents/list")
def agents_list(request: Request, filter: str = "running") -> HTMLResponse:
    db = _db(request)
    chosen = filter if filter in views.AGENT_FILTERS else "all"
    return fragment(
        request,
        "_agents.html",
        filter=chosen,
        agents=views.agents(db, chosen),
        filter_counts=views.agent_filter_counts(db),
    )


def _agent_context(request: Request, name: str) -> dict[str, Any]:
    db = _db(request)
    agent, initiative = views.agent_page(db, name)
    task = db.tasks.find_by_id(agent.task_id) if agent.task_id else None
    return {
        "agent": agent,
        "initiative": initiative,
        "task": task,
        "questions": views.questions_of(agent),
        "can_stop": agent.status in {AgentStatus.RUNNING, AgentStatus.WAITING_FOR_INPUT},
        "can_resume": agent.status in {AgentStatus.IDLE, AgentStatus.STOPPED, AgentStatus.CRASHED},
        "has_runtime": getattr(request.app.state, "runtime", None) is not None,
    }


@pages.get("/ui/agents/{name}")
def agent_page(request: Request, name: str) -> HTMLResponse:
    db = _db(request)
    after_seq = db.events.latest_seq()  # before reading the log: nothing falls between
    try:
        context = _agent_context(request, name)
    except NotFoundError:
        return not_found(request, "agents", f"agent {name!r}")
    agent = context["agent"]
    window = views.log_window(db, agent)
    return page(
        request,
        "agent.html",
        section="agents",
        title=agent.name,
        after_seq=after_seq,
        window=window,
        log_html=render.render_chunks(dialect_of(request, agent.provider), window.chunks),
        **context,
    )


@pages.get("/ui/agents/{name}/header")
def agent_header(request: Request, name: str) -> HTMLResponse:
    return fragment(request, "_agent_head.html", **_agent_context(request, name))


@pages.get("/ui/agents/{name}/older")
def agent_older(
    request: Request, name: str, before: Annotated[int, Query(ge=1, le=2**63 - 1)]
) -> HTMLResponse:
    """The window of output before chunk ``before``, with a button for the one before it."""
    db = _db(request)
    agent = find_agent(db, name)
    window = views.log_window(db, agent, before_seq=before)
    return fragment(
        request,
        "_older.html",
        agent=agent,
        window=window,
        log_html=render.render_chunks(dialect_of(request, agent.provider), window.chunks),
    )


@pages.post("/ui/agents/{name}/stop")
def stop_agent(request: Request, name: str) -> HTMLResponse:
    get_runtime(request).stop(name)
    return fragment(request, "_agent_head.html", **_agent_context(request, name))


@pages.post("/ui/agents/{name}/resume")
def resume_agent(request: Request, name: str) -> HTMLResponse:
    get_runtime(request).resume(name)
    return fragment(request, "_agent_head.html", **_agent_context(request, name))


# --- inbox -----------------------------------------------------------------------------------


@pages.get("/ui/inbox")
def inbox_page(request: Request) -> HTMLResponse:
    return page(
        request, "inbox.html", section="inbox", title="Inbox", items=views.inbox(_db(request))
    )


@pages.get("/ui/inbox/list")
def inbox_list(request: Request) -> HTMLResponse:
    return fragment(request, "_inbox.html", items=views.inbox(_db(request)))


@pages.post("/ui/inbox/{name}/answer")
async def answer(request: Request, name: str) -> HTMLResponse:
    """Answer one question; the agent resumes once all its questions are answered."""
    fields = await form(request)
    runtime = get_runtime(request)
    text = fields.get("text", "")
    if not text.strip():
        raise ValidationError("text: write an answer first")
    question_id = fields.get("question_id") or None
    await run_in_threadpool(runtime.answer, name, text, question_id)
    items = await run_in_threadpool(views.inbox, _db(request))
    return fragment(request, "_inbox.html", items=items)
