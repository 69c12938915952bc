"""The web dashboard: server-rendered pages (Jinja2) kept live by htmx and its SSE
extension over the event outbox, served by ``cw start`` on the API's origin.

Every asset is package data (``static/``: htmx and htmx-ext-sse vendored at pinned
versions, see ``static/vendor/VERSIONS``), so ``pip install`` needs no Node. Auth: see
``sessions.py`` and ``server/auth.py``; what exists and what does not: ``docs/dashboard.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from codewalkers.server.dashboard.sessions import DashboardSessions

if TYPE_CHECKING:
    from fastapi import FastAPI


def install(app: FastAPI, sessions: DashboardSessions) -> None:
    """Serve the dashboard from ``app``: pages, static files, the ticket endpoint."""
    # Imported here: `cw` commands import server.auth (hence this package) and should not
    # pay for FastAPI and Jinja2 on every start.
    import time

    from fastapi import Depends
    from fastapi.staticfiles import StaticFiles

    from codewalkers.server.dashboard import (
        chat,
        content_tab,
        execution,
        palette,
        proposals,
        review,
        settings,
    )
    from codewalkers.server.dashboard.routes import STATIC_DIR, api, pages, seq_at_start

    app.state.dashboard_sessions = sessions
    app.state.dashboard_started = time.monotonic()  # the Settings screen's uptime
    app.include_router(api)
    # Before a route reads anything: where its page's event stream starts (seq_at_start).
    first = [Depends(seq_at_start)]
    app.include_router(pages, dependencies=first)
    for module in (content_tab, execution, review, settings, palette, proposals, chat):
        app.include_router(module.router, dependencies=first)
    app.mount("/ui/static", StaticFiles(directory=STATIC_DIR), name="dashboard-static")


__all__ = ["DashboardSessions", "install"]
