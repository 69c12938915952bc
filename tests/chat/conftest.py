"""A runtime in-process (as the coordinator runs it) with the shipped fake agent as Claude,
for the chat and errand journeys; the git isolation of the runtime's own tests."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from codewalkers.agents import process
from codewalkers.agents.providers import fake_provider
from codewalkers.agents.settings import AgentSettings
from codewalkers.db import Agent, Database
from codewalkers.services.runtime import AgentRuntime
from codewalkers.workspace import Workspace
from tests.agents.conftest import isolated_git_config  # noqa: F401 (an autouse fixture)

SETTINGS = AgentSettings(
    poll_interval=0.02, maintenance_interval=0.1, stop_grace=2.0, signal_grace=0.1
)


def scenario(*steps: object) -> str:
    """A fake-agent scenario as a fenced block, to put in a prompt."""
    return "```cw-fake\n" + json.dumps({"steps": list(steps)}) + "\n```"


@pytest.fixture
def runtime(db: Database, tmp_path: Path) -> Iterator[AgentRuntime]:
    root = tmp_path / "ws"
    (root / ".cw").mkdir(parents=True)
    runtime = AgentRuntime(
        db, Workspace(root, {}), settings=SETTINGS, providers={"claude": fake_provider("claude")}
    )
    runtime.start()
    yield runtime
    runtime.close()
    for run in runtime.supervisor.runs():
        process.stop_group(run.pid, run.started_at_ms, grace=1.0)


def wait_for(db: Database, agent_id: str, check: Callable[[Agent], bool]) -> Agent:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        current = db.agents.find_by_id(agent_id)
        assert current is not None
        if check(current):
            return current
        time.sleep(0.05)
    raise AssertionError(f"agent never reached the state; last: {current}")
