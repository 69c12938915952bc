"""Review mode, a merge conflict, a checkpoint, the queue and a task's own provider, as a
person drives them: `cw` commands against a real `cw start --detach` coordinator, real git
(a bare remote in a temp dir), the shipped fake agent; SQLite and PostgreSQL. One journey
per engine, one workspace and coordinator for all of it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from codewalkers.agents.git import run_git
from codewalkers.db import open_database
from tests.agents.conftest import Remote, make_remote
from tests.coordinated import FAKE_AGENT, coordinator_of, fake_agent_workspace
from tests.server.conftest import Server, Workspace

#: About forty `cw` calls: each starts a Python process, seconds apiece on a busy machine.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

#: Two agents at once (the two colours race: one merge conflicts), and a second provider
#: (the fake agent again) for the task that names its own.
SETTINGS = f"""hang_timeout = 600

[dispatch]
max_agents = 2
backoff = 0.2

[providers.other]
dialect = "claude"
command = "{FAKE_AGENT}"
"""


def scenario(*steps: object) -> str:
    return "```cw-fake\n" + json.dumps({"steps": list(steps)}) + "\n```"


def colour(name: str) -> str:
    """Paint colour.txt; when resumed to resolve a conflict, keep both sides."""
    return scenario(
        {"write": {"path": "colour.txt", "content": f"{name}\n"}},
        {"commit": f"Paint it {name}"},
        {"done": f"Painted it {name}."},
        {"resolve_conflicts": True},
        {"done": f"Painted it {name}, merged with the other colour."},
    )


@pytest.fixture
def space(backend: str, database_url: str, tmp_path: Path) -> Workspace:
    return fake_agent_workspace(tmp_path / "workspace", backend, database_url, settings=SETTINGS)


@pytest.fixture
def coordinator(space: Workspace) -> Iterator[Server]:
    with coordinator_of(space) as running:
        yield running


def wait_for(what: str, done: Callable[[], Any], status: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + 180
    while not (found := done()):
        assert time.monotonic() < deadline, f"never {what}: {status()}"
        time.sleep(0.3)
    return found


def test_review_a_conflict_and_a_checkpoint_through_the_coordinator(
    backend: str, database_url: str, space: Workspace, coordinator: Server, tmp_path: Path
) -> None:
    """Red and blue paint one line at once: the loser's merge conflicts, its agent resolves
    it, both colours are merged. Green waits in the queue (put first by hand) and runs on
    its own provider. A checkpoint waits for a person in `cw dispatch status` until
    `cw task complete`. The phase then waits for review; a comment and request-changes run
    a review task on the phase branch; approve-review merges it; the initiative lands."""
    remote: Remote = make_remote(tmp_path / "remote", files=1)
    cw = space.ok
    project = cw("project", "add", "app", remote.url)
    initiative = cw("initiative", "create", "Palette", "--project", project["id"])
    assert initiative["merge_requires_approval"] is True  # review mode, the default
    iid = initiative["id"]
    phase = cw("phase", "create", "--initiative", iid, "Paint")
    pid = phase["id"]

    def task(name: str, description: str, *extra: str) -> str:
        made = cw("task", "create", name, "--phase", pid, "--description", description, *extra)
        return str(made["id"])

    red = task("Red", colour("red"), "--priority", "high")
    blue = task("Blue", colour("blue"), "--priority", "high")
    green = task(
        "Green",
        scenario(
            {"write": {"path": "green.txt", "content": "green\n"}},
            {"commit": "Add green"},
            {"done": "Added green."},
        ),
        "--priority",
        "low",
    )
    shade = task("Shade", scenario({"done": "Nothing to shade."}), "--priority", "low")
    check = task("Look at it", "Open the page and look.", "--type", "checkpoint:human-verify")
    for before in (red, blue, green):
        cw("task", "depend", check, "--on", before)

    # A task's own provider: an unknown one is refused in one line, nothing changed.
    refused = space.cw("task", "update", green, "--provider", "nope")
    assert refused.code != 0
    assert "unknown provider 'nope'" in refused.stderr and len(refused.stderr.splitlines()) == 1
    assert cw("task", "get", green)["provider"] is None
    assert cw("task", "update", green, "--provider", "other")["provider"] == "other"

    def status() -> Any:
        return cw("dispatch", "status", "--initiative", iid)

    def task_status(tid: str) -> str:
        return str(cw("task", "get", tid)["status"])

    # Not executing yet: nothing can be put first.
    early = space.cw("dispatch", "queue", green)
    assert early.code != 0 and "not executing" in early.stderr
    # Two agents spawned by hand hold both slots: once it executes, every ready task waits
    # in the queue, high before low, then oldest.
    other = cw("initiative", "create", "Errands")["id"]
    holders = []
    for n in (1, 2):
        hold = cw(
            "task",
            "create",
            f"Hold {n}",
            "--initiative",
            other,
            "--description",
            scenario({"sleep": 600}),
        )
        holders.append(cw("agent", "spawn", "--task", hold["id"]))
    cw("phase", "approve", pid)
    cw("initiative", "execute", iid)

    wait_for(
        "the queue of four",
        lambda: len(cw("dispatch", "queue", "--initiative", iid)["queue"]) == 4,
        status,
    )
    queue = cw("dispatch", "queue", "--initiative", iid)
    assert (queue["running_agents"], queue["free_slots"]) == (2, 0)
    entries = queue["queue"]
    assert [e["task_id"] for e in entries] == [red, blue, green, shade]
    assert [e["position"] for e in entries] == [1, 2, 3, 4]
    assert entries[0]["waits_for"] == "a free agent slot (2 of 2 running)"
    assert entries[0]["priority"] == "high" and entries[0]["phase"] == "Paint"
    assert [e["provider"] for e in entries] == ["claude", "claude", "other", "claude"]
    assert [q["task_id"] for q in cw("dispatch", "status")["queued"]] == [red, blue, green, shade]
    # Blue put first by hand: it goes before red, which is as high and older.
    first = cw("dispatch", "queue", blue)
    assert (first["task_id"], first["position"], first["by_hand"]) == (blue, 1, True)
    assert [e["task_id"] for e in cw("dispatch", "queue")["queue"]] == [blue, red, green, shade]
    not_ready = space.cw("dispatch", "queue", check)
    assert not_ready.code != 0 and "is not ready: waits for Red (pending)" in not_ready.stderr
    assert len(not_ready.stderr.strip().splitlines()) == 1

    # Both slots free up in one round (paused meanwhile): blue and red start together from
    # the same phase branch, and paint the same line.
    cw("initiative", "pause", iid)
    for holder in holders:
        cw("agent", "stop", holder["name"])
    cw("initiative", "resume", iid)

    # The checkpoint waits for a person, and says so, once the colours and green are done.
    def checkpoint_waits() -> bool:
        reasons = {w["id"]: w["reason"] for w in status()["waiting"]}
        return "waits for a person (cw task complete)" in reasons.get(check, "")

    wait_for("the checkpoint waiting for a person", checkpoint_waits, status)
    assert task_status(check) == "pending"
    assert all(task_status(t) == "completed" for t in (red, blue, green, shade))
    assert not [a for a in cw("agent", "list") if a["task_id"] == check]  # never an agent's
    done = cw("task", "complete", check, "--summary", "Looked at it: both colours show.")
    assert done["status"] == "completed"

    # The phase waits for review: its diff holds both colours (the conflict was resolved).
    wait_for(
        "the phase pending review",
        lambda: cw("phase", "get", pid)["status"] == "pending_review",
        status,
    )
    [diff] = cw("review", "diff", pid)
    assert {"colour.txt", "green.txt"} <= set(diff["files"])
    assert sorted(
        line[1:]
        for line in diff["diff"].splitlines()
        if line[:1] == "+" and line[1:] in {"red", "blue"}
    ) == ["blue", "red"]
    reasons = {w["id"]: w["reason"] for w in status()["waiting"]}
    assert reasons[pid] == "waits for review (cw phase approve-review)"
    agents = {a["task_id"]: a for a in cw("agent", "list")}
    assert agents[green]["provider"] == "other" and agents[red]["provider"] == "claude"
    clone = space.root / ".cw/repos/app.git"
    conflicted = run_git(["log", "--format=%s", "cw/palette--paint"], clone)
    assert conflicted.count("Merge task 'Red'") == 1 and conflicted.count("Merge task 'Blue'") == 1

    # A review comment, then changes requested: a review task runs on the phase branch.
    cw(
        "review",
        "comment",
        "Say which shade of green",
        "--phase",
        pid,
        "--file",
        "green.txt",
        "--line",
        "1",
        "--type",
        "added",
    )
    fix = scenario(
        {"write": {"path": "green.txt", "content": "forest green\n"}},
        {"commit": "Name the shade"},
        {"done": "Named the shade of green."},
    )
    review = cw("phase", "request-changes", pid, "--summary", "Name the shade.\n\n" + fix)
    assert review["category"] == "review" and review["phase_id"] == pid
    assert "Say which shade of green" in review["description"]
    # (The phase is in progress again until the review task's work is merged: too short
    # for a `cw` call to catch it, the events below show it.)
    wait_for(
        "the phase pending review again",
        lambda: cw("phase", "get", pid)["status"] == "pending_review",
        status,
    )
    assert task_status(review["id"]) == "completed"
    [diff] = cw("review", "diff", pid)
    assert "+forest green" in diff["diff"]

    merged = cw("phase", "approve-review", pid)
    assert merged["status"] == "completed"
    wait_for(
        "the initiative pending review",
        lambda: cw("initiative", "get", iid)["status"] == "pending_review",
        status,
    )
    landed = cw("initiative", "merge", iid)
    assert landed["commits"]["app"] == run_git(["rev-parse", "main"], remote.path).strip()
    files = run_git(["ls-tree", "-r", "--name-only", "main"], remote.path).split()
    assert {"colour.txt", "green.txt"} <= set(files)
    assert run_git(["show", "main:green.txt"], remote.path) == "forest green\n"
    assert sorted(run_git(["show", "main:colour.txt"], remote.path).split()) == ["blue", "red"]

    # Every state change above was published.
    url = database_url if backend == "postgresql" else f"sqlite:///{space.state / 'cw.db'}"
    db = open_database(url)
    try:
        published = db.events.find_after(0)
    finally:
        db.close()
    kinds = [e.type for e in published]
    for kind in (
        "task:queued",
        "task:dispatched",
        "task:completed",
        "phase:started",
        "phase:pending_review",
        "phase:changes_requested",
        "phase:completed",
        "merge:queued",
        "merge:started",
        "merge:completed",
        "merge:conflicted",
        "worktree:merged",
        "worktree:conflict",
        "initiative:pending_review",
        "initiative:review_approved",
        "initiative:merged",
    ):
        assert kind in kinds, kind
    assert kinds.count("phase:pending_review") == 2
    by_hand = [
        e.payload["id"] for e in published if e.type == "task:queued" and e.payload.get("by_hand")
    ]
    assert by_hand == [blue]
    [conflict] = [e.payload for e in published if e.type == "merge:conflicted"]
    assert conflict["conflicts"] == ["colour.txt"] and conflict["target"] == "cw/palette--paint"
