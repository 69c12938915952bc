"""A workspace whose coordinator (``cw start --detach``) runs the shipped fake agent as its
Claude, for the journeys through the real pipeline (agents, execution, dashboard)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

from codewalkers.server.runner import stop as stop_server
from tests.server.conftest import Server, Workspace, free_port, kill, start

FAKE_AGENT = str(Path(sys.executable).parent / "cw-fake-agent")

#: The fake agent as ``claude``, and supervision fast enough for tests.
CWRC = f"""
[providers.claude]
command = "{FAKE_AGENT}"

[agents]
poll_interval = 0.05
maintenance_interval = 0.2
stop_grace = 2
signal_grace = 0.2
"""


def fake_agent_workspace(
    root: Path,
    backend: str,
    database_url: str,
    *,
    settings: str = "hang_timeout = 4\n",
    env: dict[str, str] | None = None,
) -> Workspace:
    """``cw init`` in ``root`` (on PostgreSQL when ``backend`` says so) with :data:`CWRC`
    plus ``settings`` (more ``[agents]`` keys, or other tables) in its ``.cwrc``."""
    root.mkdir(parents=True)
    base = {key: value for key, value in os.environ.items() if not key.startswith("CW_")}
    base.update({"COLUMNS": "200", "CW_EVENTS_POLL": "0.1", **(env or {})})
    if backend == "postgresql":
        base["CW_DATABASE_URL"] = database_url
    workspace = Workspace(root, base)
    workspace.ok("init")
    with (root / ".cwrc").open("a", encoding="utf-8") as cwrc:
        cwrc.write(CWRC + settings)
    return workspace


@contextlib.contextmanager
def coordinator_of(space: Workspace) -> Iterator[Server]:
    """The workspace's coordinator, stopped (killed if need be) with its agents after."""
    running = start(space, free_port())
    try:
        yield running
    finally:
        stop_server(space.state, timeout=10)
        kill(running.pid)
        kill_agents(space)


def kill_agents(space: Workspace) -> None:
    """Whatever agent process a test left behind: the process group of every fake-agent
    run (the runtime's shell wrapper leads it, so the group is not the agent's own pid)."""
    for info in space.root.glob("agent-workdirs/*/.cw/output/cw-fake-runs.jsonl"):
        for line in info.read_text().splitlines():
            pid = json.loads(line)["pid"]
            with contextlib.suppress(ProcessLookupError, PermissionError):
                group = os.getpgid(pid)
                if group != os.getpgrp():
                    os.killpg(group, signal.SIGKILL)
