"""``cw start``, ``cw stop``, ``cw status``: the workspace's coordination server."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from codewalkers.cli._common import CliError, JsonOption, database, emit, ok, settings, workspace
from codewalkers.server import runner
from codewalkers.server.auth import ensure_token, is_loopback, read_token
from codewalkers.server.runner import ServerError


def register(app: typer.Typer) -> None:
    app.command("start", epilog="Example: cw start --port 3847 --detach")(start)
    app.command("stop", epilog="Example: cw stop")(stop)
    app.command("status", epilog="Example: cw status --json")(status)
    from codewalkers.cli.commands import open as open_command

    open_command.register(app)


def start(
    port: Annotated[
        int,
        typer.Option("--port", "-p", envvar="CW_PORT", min=1, max=65535, help="TCP port."),
    ] = runner.DEFAULT_PORT,
    host: Annotated[
        str, typer.Option("--host", help="Address to bind (a warning unless loopback).")
    ] = runner.DEFAULT_HOST,
    detach: Annotated[
        bool,
        typer.Option(
            "--detach", help="Run in the background (output to .cw/server.log); return once up."
        ),
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Start the coordination server (HTTP API and event stream) for this workspace.

    Migrates the database first, writes .cw/server.pid, and refuses to start a second
    server for the same workspace. Requests need the token in .cw/api-token.
    """
    here = workspace()
    state = here.state_dir
    token = ensure_token(state)
    if not is_loopback(host):
        sys.stderr.write(
            f"warning: binding {host}, not a loopback address: the API is reachable from "
            "other machines (every request still needs the token)\n"
        )
    try:
        other, _stale = runner.running(state)
        if other is not None:
            raise runner.already_running(other)
        runner.check_agent_settings(here)
        if detach:
            if not runner.port_free(host, port):
                raise ServerError(f"port {port} on {host} is already in use; choose another")
            argv = [*runner.python_argv()]
            if settings.database_url:
                argv += ["--database-url", settings.database_url]
            argv += ["start", "--host", host, "--port", str(port)]
            info = runner.start_detached(state, argv, host, port)
            data = {"pid": info.pid, "url": info.url, "host": host, "port": port, "detached": True}
            emit(data, json_output, lambda: ok(f"server running at {info.url} (pid {info.pid})"))
            return
        with database() as db:  # migrates first
            data = {"pid": _pid(), "url": _url(host, port), "host": host, "port": port}
            emit(
                {**data, "detached": False},
                json_output,
                lambda: ok(f"serving {db.url} at {data['url']} (pid {data['pid']}); Ctrl-C stops"),
            )
            sys.stdout.flush()
            runner.serve(
                db,
                state_dir=state,
                host=host,
                port=port,
                token=token,
                events=runner.event_settings_from_env(),
                workspace=here,
            )
    except ServerError as exc:
        raise CliError(str(exc)) from exc


def stop(
    timeout: Annotated[
        float, typer.Option("--timeout", min=0, help="Seconds to wait before SIGKILL.")
    ] = runner.STOP_TIMEOUT,
    json_output: JsonOption = False,
) -> None:
    """Stop the workspace's server: SIGTERM, a graceful exit within 10 s, else SIGKILL."""
    try:
        result = runner.stop(workspace().state_dir, timeout=timeout)
    except ServerError as exc:
        raise CliError(str(exc)) from exc
    messages = {
        "terminated": f"stopped the server (pid {result.pid})",
        "killed": f"the server (pid {result.pid}) did not stop within {timeout:g} s: killed it",
        "stale": f"no server was running; removed a stale PID file (pid {result.pid})",
        "not_running": "no server is running for this workspace",
    }
    emit({"pid": result.pid, "result": result.how}, json_output, lambda: ok(messages[result.how]))


def status(json_output: JsonOption = False) -> None:
    """Show whether the server runs: health, uptime, database (no password), schema revision.

    Exits 1 when no server is running.
    """
    state = workspace().state_dir
    info, stale = runner.running(state)
    if info is None:
        data: dict[str, Any] = {"running": False, "stale_pid_file_removed": stale}
        emit(data, json_output, lambda: ok("no server is running for this workspace"))
        raise typer.Exit(1)
    try:
        remote = runner.request_json(info, "/status", token=read_token(state))
    except ServerError as exc:
        raise CliError(f"a server process runs (pid {info.pid}) but: {exc}") from exc
    data = {"running": True, "url": info.url, "started_at": info.started_at, **remote}

    def human() -> None:
        ok(f"running at {info.url} (pid {info.pid}, version {data['version']})")
        ok(f"uptime    {data['uptime']:.0f} s")
        ok(f"database  {data['database_url']}")
        revision = data["schema_revision"]
        ok(f"schema    {revision}" + ("" if data["up_to_date"] else " (not the newest)"))
        ok(f"events    last seq {data['latest_event_seq']}, {data['event_streams']} stream(s)")

    emit(data, json_output, human)


def _pid() -> int:
    import os

    return os.getpid()


def _url(host: str, port: int) -> str:
    return runner.ServerInfo(pid=0, host=host, port=port, started_at="").url
