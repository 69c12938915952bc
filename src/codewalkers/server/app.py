"""The application: :func:`create_app` builds the FastAPI app over an open database."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version

from fastapi import FastAPI, Security
from fastapi.middleware import Middleware

from codewalkers.db import Database, head_revision
from codewalkers.server import dashboard, errors
from codewalkers.server.auth import GuardMiddleware
from codewalkers.server.errors import COMMON_RESPONSES
from codewalkers.server.events import EventHub, EventSettings
from codewalkers.server.models import Health, ServerStatus
from codewalkers.server.routes import ROUTERS
from codewalkers.server.routes._common import bearer
from codewalkers.services.chat import ChatAgents
from codewalkers.services.errands import Errands
from codewalkers.services.execution import Executor
from codewalkers.services.runtime import AgentRuntime


def codewalkers_version() -> str:
    try:
        return package_version("codewalkers")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0"


def create_app(
    db: Database,
    *,
    token: str,
    allowed_hosts: list[str],
    events: EventSettings | None = None,
    runtime: AgentRuntime | None = None,
    executor: Executor | None = None,
) -> FastAPI:
    """The HTTP API over ``db``. Every request needs ``Authorization: Bearer <token>``
    (except ``GET /health``) and a ``Host`` header in ``allowed_hosts`` (``"host:port"``).

    With ``runtime`` (the coordinator, ``cw start``) the app starts it when it starts
    (reconciling the agents a previous run left) and closes it when it stops; the agents'
    processes outlive it and are adopted at the next start. Without one, the endpoints that
    spawn, stop or resume agents answer 503. With ``executor`` (built over that runtime) a
    thread ticks it every ``[agents] maintenance_interval`` seconds: initiatives execute.

    The app does not own ``db``: the caller closes it after the app has shut down.
    """
    hub = EventHub(db, events)
    sessions = dashboard.DashboardSessions()
    started = time.monotonic()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await hub.start()
        try:
            if runtime is not None:
                await asyncio.to_thread(runtime.start)
                # Replies of chat agents that ended while no coordinator listened.
                await asyncio.to_thread(app.state.chat.catch_up)
            ticker = _Ticker(executor, runtime) if executor and runtime else None
            try:
                if ticker is not None:
                    ticker.start()
                yield
            finally:
                if ticker is not None:
                    await asyncio.to_thread(ticker.stop)
                if runtime is not None:
                    await asyncio.to_thread(runtime.close)
        finally:
            await hub.stop()

    app = FastAPI(
        title="Codewalkers",
        version=codewalkers_version(),
        description="The coordination server of a Codewalkers workspace (docs/server-api.md).",
        lifespan=lifespan,
        middleware=[
            Middleware(GuardMiddleware, token=token, allowed_hosts=allowed_hosts, sessions=sessions)
        ],
    )
    app.state.db = db
    app.state.events = hub
    app.state.runtime = runtime
    app.state.executor = executor
    # Chat sessions' and errands' agents run in the coordinator's runtime.
    app.state.chat = ChatAgents(runtime) if runtime is not None else None
    app.state.errands = Errands(runtime) if runtime is not None else None
    errors.install(app)

    @app.get("/health", response_model=Health, tags=["server"])
    def health() -> Health:
        """Liveness: always answers (no token needed)."""
        return Health(status="ok", uptime=round(time.monotonic() - started, 3), version=app.version)

    @app.get(
        "/status",
        response_model=ServerStatus,
        tags=["server"],
        dependencies=[Security(bearer)],
        responses={401: COMMON_RESPONSES[401]},
    )
    def server_status() -> ServerStatus:
        """Health plus the database (URL without password, schema revision) and events."""
        revision = db.schema_revision()
        head = head_revision()
        return ServerStatus(
            status="ok",
            uptime=round(time.monotonic() - started, 3),
            version=app.version,
            pid=os.getpid(),
            database_url=db.url,
            schema_revision=revision,
            head_revision=head,
            up_to_date=revision == head,
            latest_event_seq=db.events.latest_seq(),
            event_streams=hub.stream_count,
            listening=hub.listening,
        )

    for router in ROUTERS:
        app.include_router(router)
    dashboard.install(app, sessions)
    return app


class _Ticker:
    """The thread that runs the executor's loop while the coordinator serves."""

    def __init__(self, executor: Executor, runtime: AgentRuntime) -> None:
        self.executor = executor
        self.interval = max(runtime.settings.maintenance_interval, 0.05)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=executor.run, args=(self._stop, self.interval), name="cw-executor", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.executor.wake()
        self._thread.join(timeout=60)
