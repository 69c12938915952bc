"""A real server process per test: ``cw start --detach`` in a fresh workspace on a free port,
on SQLite or PostgreSQL, stopped (and killed if need be) when the test ends.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from codewalkers.server.runner import stop

CW = [sys.executable, "-m", "codewalkers"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Done:
    code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        return json.loads(self.stdout)


@dataclass
class Workspace:
    root: Path
    env: dict[str, str]

    @property
    def state(self) -> Path:
        return self.root / ".cw"

    def cw(self, *args: str, timeout: float = 60) -> Done:
        done = subprocess.run(
            [*CW, *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return Done(done.returncode, done.stdout, done.stderr)

    def ok(self, *args: str) -> Any:
        done = self.cw(*args, "--json")
        assert done.code == 0, f"cw {' '.join(args)}: {done.stderr}"
        return done.json

    @property
    def token(self) -> str:
        return (self.state / "api-token").read_text().strip()


@dataclass
class Server:
    workspace: Workspace
    port: int
    pid: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, token: str | None = "auto", **kwargs: Any) -> httpx.Client:
        headers = {}
        if token is not None:
            value = self.workspace.token if token == "auto" else token
            headers["Authorization"] = f"Bearer {value}"
        return httpx.Client(base_url=self.url, headers=headers, timeout=10, **kwargs)


@pytest.fixture
def workspace(backend: str, database_url: str, tmp_path: Path) -> Workspace:
    root = tmp_path / "workspace"
    root.mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith("CW_")}
    env.update(COLUMNS="200", CW_SSE_HEARTBEAT="0.5", CW_EVENTS_POLL="0.1")
    if backend == "postgresql":
        env["CW_DATABASE_URL"] = database_url
    space = Workspace(root, env)
    space.ok("init")
    return space


def start(workspace: Workspace, port: int) -> Server:
    data = workspace.ok("start", "--detach", "--port", str(port))
    return Server(workspace, port, int(data["pid"]))


def kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


@pytest.fixture
def server(workspace: Workspace) -> Iterator[Server]:
    running = start(workspace, free_port())
    try:
        yield running
    finally:
        stop(workspace.state, timeout=5)  # in-process: `cw stop` itself is tested elsewhere
        kill(running.pid)


def wait_until(predicate: Any, timeout: float = 10.0, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {predicate}")
        time.sleep(interval)
