"""``cw start`` / ``cw stop`` / ``cw status``: the PID file, refusal of a second server,
graceful stop, stale PID files.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from codewalkers.server.runner import process_alive
from tests.server.conftest import Server, Workspace, free_port, wait_until

# Process handling does not depend on the database: these run on SQLite only.
SQLITE_ONLY = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def test_status_reports_health_database_and_revision(server: Server) -> None:
    status = server.workspace.ok("status")
    assert status["running"] is True and status["status"] == "ok"
    assert status["pid"] == server.pid
    assert status["uptime"] >= 0
    assert status["schema_revision"] == status["head_revision"]
    assert status["up_to_date"] is True
    assert "://" in status["database_url"]
    if "@" in status["database_url"]:
        assert ":***@" in status["database_url"] or "postgres@" in status["database_url"]
    pid_file = json.loads((server.workspace.state / "server.pid").read_text())
    assert pid_file["pid"] == server.pid and pid_file["port"] == server.port
    assert set(pid_file) == {"pid", "host", "port", "started_at"}
    token = server.workspace.state / "api-token"
    assert token.stat().st_mode & 0o777 == 0o600


def test_a_second_server_for_the_workspace_is_refused(server: Server) -> None:
    again = server.workspace.cw("start", "--port", str(free_port()))
    assert again.code == 1
    assert "already running" in again.stderr and str(server.pid) in again.stderr
    assert again.stderr.count("\n") == 1
    detached = server.workspace.cw("start", "--detach", "--port", str(free_port()))
    assert detached.code == 1 and "already running" in detached.stderr
    assert server.workspace.ok("status")["pid"] == server.pid


@SQLITE_ONLY
def test_stop_is_graceful_and_says_so(server: Server) -> None:
    with server.client() as client:
        assert client.get("/health").status_code == 200
    stopped = server.workspace.ok("stop")
    assert stopped == {"pid": server.pid, "result": "terminated"}
    assert not process_alive(server.pid)
    assert not (server.workspace.state / "server.pid").exists()
    log = (server.workspace.state / "server.log").read_text()
    assert "Application shutdown complete" in log
    assert server.workspace.ok("stop") == {"pid": None, "result": "not_running"}
    status = server.workspace.cw("status", "--json")
    assert status.code == 1 and json.loads(status.stdout)["running"] is False


@SQLITE_ONLY
def test_a_stale_pid_file_is_detected_and_cleaned(workspace: Workspace) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    pid_file = workspace.state / "server.pid"
    record = {"pid": dead.pid, "host": "127.0.0.1", "port": 1, "started_at": "x"}
    pid_file.write_text(json.dumps(record))
    status = workspace.cw("status", "--json")
    assert status.code == 1
    assert json.loads(status.stdout) == {"running": False, "stale_pid_file_removed": True}
    assert not pid_file.exists()
    pid_file.write_text(json.dumps(record))
    assert workspace.ok("stop") == {"pid": dead.pid, "result": "stale"}
    assert not pid_file.exists()
    # And a stale file does not keep a new server from starting.
    pid_file.write_text(json.dumps(record))
    port = free_port()
    started = workspace.ok("start", "--detach", "--port", str(port))
    try:
        assert started["pid"] != dead.pid and process_alive(started["pid"])
    finally:
        assert workspace.ok("stop")["result"] == "terminated"
    wait_until(lambda: not process_alive(started["pid"]), timeout=5)


@SQLITE_ONLY
def test_a_server_that_ignores_sigterm_is_killed(workspace: Workspace) -> None:
    stubborn = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "print('ready', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert stubborn.stdout is not None and stubborn.stdout.readline().strip() == "ready"
        record = {"pid": stubborn.pid, "host": "127.0.0.1", "port": 1, "started_at": "x"}
        (workspace.state / "server.pid").write_text(json.dumps(record))
        stopped = workspace.ok("stop", "--timeout", "0.5")
        assert stopped == {"pid": stubborn.pid, "result": "killed"}
        assert stubborn.wait(timeout=5) != 0
    finally:
        if stubborn.poll() is None:
            os.kill(stubborn.pid, 9)
            stubborn.wait()


@SQLITE_ONLY
def test_a_non_loopback_bind_warns(workspace: Workspace) -> None:
    port = free_port()
    started = workspace.cw("start", "--detach", "--host", "0.0.0.0", "--port", str(port))
    try:
        assert started.code == 0, started.stderr
        assert "warning" in started.stderr and "0.0.0.0" in started.stderr
        assert workspace.ok("status")["running"] is True
    finally:
        workspace.cw("stop")
