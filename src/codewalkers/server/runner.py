"""Running the server for a workspace: the PID file, uvicorn, detaching, stopping.

``.cw/server.pid`` is JSON (``pid``, ``host``, ``port``, ``started_at``). It is created with
``O_EXCL``, so of two ``cw start`` racing for one workspace exactly one runs; a PID file
whose process is gone is stale, and is detected and removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from codewalkers.db import Database
    from codewalkers.server.events import EventHub, EventSettings
    from codewalkers.workspace import Workspace

PID_FILE = "server.pid"
LOG_FILE = "server.log"
DEFAULT_PORT = 3847
DEFAULT_HOST = "127.0.0.1"
STOP_TIMEOUT = 10.0


class ServerError(Exception):
    """The server cannot be started, reached or stopped (one line for the user)."""


@dataclass(frozen=True)
class ServerInfo:
    """What the PID file says about the running server."""

    pid: int
    host: str
    port: int
    started_at: str

    @property
    def url(self) -> str:
        host = self.host
        if host in {"0.0.0.0", "::", "[::]"}:
            host = "127.0.0.1"
        elif ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"http://{host}:{self.port}"


def pid_path(state_dir: Path) -> Path:
    return state_dir / PID_FILE


def log_path(state_dir: Path) -> Path:
    return state_dir / LOG_FILE


def process_alive(pid: int) -> bool:
    """True when ``pid`` runs (a zombie does not count)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive, not ours to judge
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def read_info(state_dir: Path) -> ServerInfo | None:
    """The PID file's contents, or ``None`` when there is none (or it is unreadable)."""
    try:
        data = json.loads(pid_path(state_dir).read_text(encoding="utf-8"))
        return ServerInfo(
            pid=int(data["pid"]),
            host=str(data["host"]),
            port=int(data["port"]),
            started_at=str(data["started_at"]),
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        return ServerInfo(pid=0, host="", port=0, started_at="")  # corrupt: treated as stale


def running(state_dir: Path) -> tuple[ServerInfo | None, bool]:
    """The server of the workspace, and whether a stale PID file was cleaned up."""
    info = read_info(state_dir)
    if info is None:
        return None, False
    if process_alive(info.pid):
        return info, False
    with contextlib.suppress(FileNotFoundError):
        pid_path(state_dir).unlink()
    return None, True


def claim_pid_file(state_dir: Path, host: str, port: int) -> ServerInfo:
    """Write this process's PID file; ``ServerError`` when a live server has one."""
    info = ServerInfo(
        pid=os.getpid(),
        host=host,
        port=port,
        started_at=datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    )
    path = pid_path(state_dir)
    for _ in range(3):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            other, _stale = running(state_dir)
            if other is not None and other.pid != os.getpid():
                raise already_running(other) from None
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(asdict(info), handle)
        return info
    raise ServerError(f"cannot claim {path}: it keeps reappearing")


def release_pid_file(state_dir: Path) -> None:
    """Remove the PID file if it is this process's."""
    info = read_info(state_dir)
    if info is not None and info.pid == os.getpid():
        with contextlib.suppress(FileNotFoundError):
            pid_path(state_dir).unlink()


def already_running(info: ServerInfo) -> ServerError:
    return ServerError(
        f"a server is already running for this workspace (pid {info.pid}, {info.url}); "
        "stop it with `cw stop`"
    )


class ApiError(ServerError):
    """The server answered with an error: ``detail`` is its one-line reason."""

    def __init__(self, status: int, detail: str, code: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.code = code


def request_json(
    info: ServerInfo,
    path: str,
    token: str | None = None,
    timeout: float = 5.0,
    *,
    method: str = "GET",
    body: Any = None,
) -> Any:
    """``method`` ``path`` on the server (``body`` sent as JSON), the answer as JSON.

    Raises :class:`ApiError` with the server's own one-line reason when it answers an
    error, ``ServerError`` when it does not answer.
    """
    host_header = f"127.0.0.1:{info.port}" if info.host in {"0.0.0.0", "::"} else None
    data = None if body is None else json.dumps(body).encode("utf-8")
    request = urllib.request.Request(info.url + path, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if host_header:
        request.add_header("Host", host_header)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        detail, code = f"the server answered {exc.code} to {path}", None
        with contextlib.suppress(OSError, ValueError, AttributeError):
            answer = json.loads(exc.read().decode("utf-8"))
            detail, code = str(answer["detail"]) or detail, answer.get("code")
        raise ApiError(exc.code, detail, code) from exc
    except (OSError, ValueError) as exc:
        raise ServerError(f"the server at {info.url} does not answer ({exc})") from exc


def start_detached(
    state_dir: Path, argv: list[str], host: str, port: int, timeout: float = 30.0
) -> ServerInfo:
    """Run ``argv`` (a foreground ``cw start``) in a new session, output to
    ``.cw/server.log``, and return once its ``/health`` answers.
    """
    log = log_path(state_dir)
    with open(log, "ab") as output:
        child = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code = child.poll()
        if code is not None:
            raise ServerError(f"the server exited with code {code}: {_last_line(log)}")
        info = read_info(state_dir)
        if info is not None and info.pid == child.pid:
            with contextlib.suppress(ServerError):
                request_json(info, "/health", timeout=1.0)
                return info
        time.sleep(0.1)
    child.terminate()
    raise ServerError(f"the server did not answer within {timeout:g} s; see {log}")


def _last_line(log: Path) -> str:
    try:
        lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return "(no log)"
    errors = [line for line in lines if line.startswith("error:")]
    return (errors or lines or ["(no output)"])[-1].strip()


@dataclass(frozen=True)
class Stopped:
    pid: int | None
    how: str  # "terminated", "killed", "stale" (PID file of a dead process), "not_running"


def stop(state_dir: Path, timeout: float = STOP_TIMEOUT) -> Stopped:
    """Stop the workspace's server: SIGTERM, up to ``timeout`` seconds for a graceful exit,
    then SIGKILL. A stale PID file is removed.
    """
    info = read_info(state_dir)
    if info is None:
        return Stopped(None, "not_running")
    if not process_alive(info.pid):
        with contextlib.suppress(FileNotFoundError):
            pid_path(state_dir).unlink()
        return Stopped(info.pid or None, "stale")
    try:
        os.kill(info.pid, signal.SIGTERM)
    except ProcessLookupError:
        return _cleanup(state_dir, info, "terminated")
    except PermissionError as exc:
        raise ServerError(f"not allowed to stop pid {info.pid}: {exc}") from exc
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process_alive(info.pid):
            return _cleanup(state_dir, info, "terminated")
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(info.pid, signal.SIGKILL)
    for _ in range(100):
        if not process_alive(info.pid):
            break
        time.sleep(0.05)
    return _cleanup(state_dir, info, "killed")


def _cleanup(state_dir: Path, info: ServerInfo, how: str) -> Stopped:
    current = read_info(state_dir)
    if current is not None and current.pid == info.pid:
        with contextlib.suppress(FileNotFoundError):
            pid_path(state_dir).unlink()
    return Stopped(info.pid, how)


def port_free(host: str, port: int) -> bool:
    """Whether ``host:port`` can be bound now (checked before detaching, for a clear error)."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host.strip("[]"), port))
        except OSError as exc:
            if exc.errno in {errno.EADDRINUSE, errno.EACCES}:
                return False
            raise ServerError(f"cannot bind {host}:{port}: {exc}") from exc
    return True


def python_argv() -> list[str]:
    """How to run ``cw`` again from this process."""
    return [sys.executable, "-m", "codewalkers"]


def event_settings_from_env() -> EventSettings:
    """Event stream settings, overridable for tests and tuning through the environment:
    ``CW_SSE_HEARTBEAT`` (s), ``CW_EVENTS_POLL`` (s), ``CW_EVENTS_RETENTION_DAYS``,
    ``CW_EVENTS_KEEP_LAST``, ``CW_EVENTS_PRUNE_INTERVAL`` (s).
    """
    from datetime import timedelta

    from codewalkers.server.events import EventSettings

    defaults = EventSettings()

    def number(name: str, default: float) -> float:
        value = os.environ.get(name, "").strip()
        if not value:
            return default
        try:
            parsed = float(value)
        except ValueError:
            raise ServerError(f"{name} must be a number, not {value!r}") from None
        if parsed <= 0:
            raise ServerError(f"{name} must be positive, not {value!r}")
        return parsed

    return EventSettings(
        heartbeat=number("CW_SSE_HEARTBEAT", defaults.heartbeat),
        poll_interval=number("CW_EVENTS_POLL", defaults.poll_interval),
        retention=timedelta(
            days=number("CW_EVENTS_RETENTION_DAYS", defaults.retention.total_seconds() / 86400)
        ),
        keep_last=int(number("CW_EVENTS_KEEP_LAST", defaults.keep_last)),
        prune_interval=number("CW_EVENTS_PRUNE_INTERVAL", defaults.prune_interval),
    )


def check_agent_settings(workspace: Workspace) -> None:
    """``ServerError`` naming the key when the workspace's ``[providers.*]``, ``[agents]`` or
    ``[dispatch]`` settings cannot run agents (checked before anything starts)."""
    from codewalkers.agents.providers import ProviderConfigError, load_providers
    from codewalkers.agents.settings import AgentSettings, AgentSettingsError
    from codewalkers.services.execution import DispatchSettings, DispatchSettingsError

    try:
        load_providers(workspace.settings)
        AgentSettings.from_settings(workspace.settings)
        DispatchSettings.from_settings(workspace.settings)
    except (ProviderConfigError, AgentSettingsError, DispatchSettingsError) as exc:
        raise ServerError(f"{workspace.root / '.cwrc'}: {exc}") from exc


def serve(
    db: Database,
    *,
    state_dir: Path,
    host: str,
    port: int,
    token: str,
    events: EventSettings | None = None,
    workspace: Workspace | None = None,
) -> None:
    """Serve the API in this process until SIGTERM / SIGINT, holding the PID file; with
    ``workspace``, run its agents too (the coordinator).

    Raises ``ServerError`` when another server runs for the workspace, the port is taken, or
    the workspace's provider or agent settings are invalid.
    """
    import uvicorn

    from codewalkers.server.app import create_app
    from codewalkers.server.auth import allowed_hosts_for
    from codewalkers.services.execution import Executor
    from codewalkers.services.runtime import AgentRuntime

    if not port_free(host, port):
        raise ServerError(f"port {port} on {host} is already in use; choose another with --port")
    runtime = executor = None
    if workspace is not None:
        check_agent_settings(workspace)
        runtime = AgentRuntime(db, workspace)
        executor = Executor(db, runtime)
    app = create_app(
        db,
        token=token,
        allowed_hosts=allowed_hosts_for(host, port),
        events=events,
        runtime=runtime,
        executor=executor,
    )
    hub: EventHub = app.state.events

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            # Open event streams would hold a graceful shutdown open: end them first.
            with contextlib.suppress(RuntimeError):
                asyncio.get_running_loop().call_soon_threadsafe(hub.close_streams)
            super().handle_exit(sig, frame)

    config = uvicorn.Config(
        app,
        host=host.strip("[]"),
        port=port,
        log_level="info",
        access_log=False,
        timeout_graceful_shutdown=int(STOP_TIMEOUT // 2),
        lifespan="on",
    )
    claim_pid_file(state_dir, host, port)
    try:
        Server(config).run()
    finally:
        release_pid_file(state_dir)
