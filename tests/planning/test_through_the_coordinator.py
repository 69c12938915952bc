"""Architect modes as a person drives them: `cw architect` and `cw proposal` against a real
`cw start --detach` coordinator running the shipped fake agent, real git; SQLite and
PostgreSQL."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from codewalkers.db import new_id
from tests.agents.conftest import Remote, make_remote
from tests.agents.test_coordinator import space  # noqa: F401 (fixture)
from tests.coordinated import coordinator_of
from tests.server.conftest import Server, Workspace

pytestmark = pytest.mark.slow


@pytest.fixture
def remote(tmp_path: Path) -> Remote:
    return make_remote(tmp_path / "remote", files=1)


@pytest.fixture
def coordinator(space: Workspace) -> Iterator[Server]:  # noqa: F811
    with coordinator_of(space) as running:
        yield running


def wait_idle(server: Server, name: str) -> dict[str, Any]:
    """The agent once it no longer runs (read over the API: each `cw` costs a process)."""
    deadline = time.monotonic() + 60
    with server.client() as client:
        while (agent := client.get(f"/agents/{name}").json())["status"] == "running":
            assert time.monotonic() < deadline, agent
            time.sleep(0.2)
    return dict(agent)


def test_architect_plan_then_accept_all_through_the_coordinator(
    space: Workspace,  # noqa: F811
    coordinator: Server,
    remote: Remote,
) -> None:
    cw = space.ok
    project = cw("project", "add", "app", remote.url)
    iid = cw("initiative", "create", "User auth", "--project", project["id"])["id"]
    base = cw("phase", "create", "--initiative", iid, "Foundation")["id"]

    # Bad input: one line, exit 1, no agent.
    for args, message in [
        (("architect", "detail", iid), "detail needs a phase"),
        (("architect", "refine", iid, "--page", new_id()), "not found"),
    ]:
        done = space.cw(*args)
        assert done.code == 1 and message in done.stderr, done.stderr
        assert done.stderr.count("\n") == 1
    with coordinator.client() as client:
        assert client.get("/agents").json() == []
        answer = client.post(f"/initiatives/{iid}/architect/cook", json={})
        assert answer.status_code == 422
        answer = client.post(f"/initiatives/{new_id()}/architect/plan", json={})
        assert answer.status_code == 404, answer.text

    schema, api = new_id(), new_id()
    steps = {
        "steps": [
            {
                "propose": [
                    {
                        "path": "phases/01-schema.md",
                        "front": {"title": "Schema", "id": schema, "depends_on": [base]},
                        "body": "Tables.",
                    },
                    {
                        "path": "phases/02-api.md",
                        "front": {"title": "API", "id": api, "depends_on": [schema]},
                        "body": "Endpoints.",
                    },
                    {"path": "phases/03-notes.md", "content": "no front matter\n"},
                ]
            },
            {"done": "Two phases."},
        ]
    }
    instructions = "Keep it small.\n\n```cw-fake\n" + json.dumps(steps) + "\n```"
    spawned = cw("architect", "plan", iid, "--instructions", instructions, "--name", "planner")
    assert (spawned["mode"], spawned["initiative_id"]) == ("plan", iid)
    assert wait_idle(coordinator, "planner")["status"] == "idle"
    prompt = (space.root / "agent-workdirs/planner/.cw/input/PROMPT.md").read_text()
    assert "Keep it small." in prompt and "## What you produce: proposals" in prompt

    result = wait_idle(coordinator, "planner")["result"]
    assert result["proposal_problems"] == [
        {"file": "phases/03-notes.md", "problem": result["proposal_problems"][0]["problem"]}
    ]
    assert "no front matter" in result["proposal_problems"][0]["problem"]
    listed = cw("proposal", "list", "--agent", "planner", "--status", "pending")
    assert [p["title"] for p in listed] == ["Schema", "API"]
    assert [p["id"] for p in listed] == result["proposals"]

    human = space.cw("proposal", "accept", "--all", "--agent", "planner")
    assert human.code == 0, human.stderr
    assert f"created phase {schema}" in human.stdout and f"created phase {api}" in human.stdout
    assert cw("phase", "get", api)["depends_on"] == [schema]
    with coordinator.client() as client:
        assert client.get(f"/phases/{schema}/dependencies").json() == [base]
    again = space.cw("proposal", "accept", "--all", "--agent", "planner")
    assert again.code == 0 and "no pending proposals" in again.stdout
    wrong = space.cw("proposal", "accept", "--agent", "planner")
    assert wrong.code == 1 and "--all" in wrong.stderr
