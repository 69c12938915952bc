"""The Settings screen: health and server facts, accounts (added without ever showing a
secret: the page shows only whether one is set), projects (add, sync, last fetched) and the
workspace's effective settings (read-only).
"""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from codewalkers.db import Account, Database, Project, ValidationError, head_revision
from codewalkers.server.dashboard.routes import form, fragment, page
from codewalkers.server.routes._common import get_runtime
from codewalkers.services import accounts, projects
from codewalkers.services.serialize import account_public

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class AccountRow:
    account: Account
    readable: bool
    public: dict[str, Any]  # what the API shows: has_credentials, has_config, no secrets
    agents: int  # agents that ran under it (removing it leaves them without an account)


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def health(request: Request) -> list[tuple[str, str]]:
    """The server's facts, as label and value (no secret: the URL has no password)."""
    db = _db(request)
    started = float(getattr(request.app.state, "dashboard_started", time.monotonic()))
    revision = db.schema_revision()
    head = head_revision()
    hub = request.app.state.events
    runtime = getattr(request.app.state, "runtime", None)
    uptime = int(time.monotonic() - started)
    facts = [
        ("Version", request.app.version),
        ("Uptime", f"{uptime // 3600}h {uptime % 3600 // 60}m {uptime % 60}s"),
        ("Process", str(os.getpid())),
        ("Database", db.url),
        (
            "Schema",
            f"{revision} (up to date)" if revision == head else f"{revision}, code wants {head}",
        ),
        ("Latest event", str(db.events.latest_seq())),
        ("Event streams", f"{hub.stream_count} open{' · listening' if hub.listening else ''}"),
        ("Coordinator", "runs agents and executes initiatives" if runtime else "none (API only)"),
    ]
    if runtime is not None:
        facts += [
            ("Workspace", str(runtime.workspace.root)),
            ("Workspace id", str(runtime.workspace_id)),
        ]
    return facts


def workspace_settings(request: Request) -> list[tuple[str, list[tuple[str, str]]]]:
    """The effective ``.cwrc`` settings of the coordinator, by table (defaults filled in).
    Provider tables show their command only; nothing here is a secret."""
    runtime = getattr(request.app.state, "runtime", None)
    executor = getattr(request.app.state, "executor", None)
    tables: list[tuple[str, list[tuple[str, str]]]] = []
    if executor is not None:
        values = dataclasses.asdict(executor.settings)
        tables.append(("dispatch", [(k, repr(v)) for k, v in values.items()]))
    if runtime is not None:
        values = dataclasses.asdict(runtime.settings)
        tables.append(("agents", [(k, repr(v)) for k, v in values.items()]))
        tables.append(
            (
                "providers",
                [
                    (name, " ".join(p.command) or name)
                    for name, p in sorted(runtime.providers.items())
                ],
            )
        )
    return tables


def account_rows(db: Database) -> list[AccountRow]:
    users: dict[str, int] = {}
    for agent in db.agents.find_all():
        if agent.account_id:
            users[agent.account_id] = users.get(agent.account_id, 0) + 1
    return [
        AccountRow(account, readable, account_public(account), users.get(account.id, 0))
        for account, readable in db.accounts.find_all_with_readability()
    ]


def _project_rows(db: Database) -> list[tuple[Project, int]]:
    """Each project with the number of initiatives it is linked to."""
    return [
        (project, len(db.projects.find_initiative_ids_by_project_id(project.id)))
        for project in db.projects.find_all()
    ]


def _context(request: Request) -> dict[str, Any]:
    db = _db(request)
    return {
        "accounts": account_rows(db),
        "projects": _project_rows(db),
        "redact": projects.redact,
        "has_runtime": getattr(request.app.state, "runtime", None) is not None,
    }


@router.get("/ui/settings")
def settings_page(request: Request) -> HTMLResponse:
    return page(
        request,
        "settings.html",
        section="settings",
        title="Settings",
        facts=health(request),
        tables=workspace_settings(request),
        **_context(request),
    )


@router.get("/ui/settings/accounts")
def accounts_fragment(request: Request) -> HTMLResponse:
    return fragment(request, "_accounts.html", **_context(request))


@router.get("/ui/settings/projects")
def projects_fragment(request: Request) -> HTMLResponse:
    return fragment(request, "_projects.html", **_context(request))


@router.post("/ui/settings/accounts")
async def add_account(request: Request) -> HTMLResponse:
    """Add an account; its credentials and config are stored, never shown (the answer,
    like the page, says only whether each is set)."""
    fields = await form(request)
    email = fields.get("email", "").strip()
    if not email:
        raise ValidationError("email: give the account's email")
    await run_in_threadpool(
        accounts.add_account,
        _db(request),
        email,
        provider=fields.get("provider", "").strip() or None,
        credentials=fields.get("credentials") or None,
        config_json=fields.get("config_json") or None,
    )
    return fragment(request, "_accounts.html", **_context(request))


@router.post("/ui/settings/projects")
async def add_project(request: Request) -> HTMLResponse:
    fields = await form(request)
    name, url = fields.get("name", "").strip(), fields.get("url", "").strip()
    if not name:
        raise ValidationError("name: give the project a name")
    if not url:
        raise ValidationError("url: give the project's git URL")
    branch = fields.get("default_branch", "").strip() or None
    await run_in_threadpool(projects.add_project, _db(request), name, url, default_branch=branch)
    return fragment(request, "_projects.html", **_context(request))


@router.post("/ui/settings/accounts/{id}/available")
def account_available(request: Request, id: str) -> HTMLResponse:
    """Make an exhausted account available now (``cw account available``)."""
    accounts.mark_available(_db(request), id)
    return fragment(request, "_accounts.html", **_context(request))


@router.post("/ui/settings/accounts/{id}/remove")
def remove_account(request: Request, id: str) -> HTMLResponse:
    """Remove the account (``cw account remove``): its agents keep their records."""
    accounts.remove_account(_db(request), id)
    return fragment(request, "_accounts.html", **_context(request))


@router.post("/ui/settings/projects/{id}/remove")
def remove_project(request: Request, id: str) -> HTMLResponse:
    """Remove the project and its links (``cw project remove``): initiatives stay, and so
    does the workspace's clone with every branch agents pushed."""
    projects.remove_project(_db(request), id)
    return fragment(request, "_projects.html", **_context(request))


@router.post("/ui/settings/projects/{id}/sync")
def sync_project(request: Request, id: str) -> HTMLResponse:
    """Clone or fetch the workspace's copy; a git failure is the one-line error (no
    credentials) and changes nothing."""
    runtime = get_runtime(request)
    (synced,) = projects.sync_projects(_db(request), runtime.paths, id)
    if synced.error:
        raise ValidationError(f"sync {synced.project.name}: {synced.error}")
    return fragment(request, "_projects.html", **_context(request))
