"""Execution end to end as a person drives it: `cw` commands, a real `cw start --detach`
coordinator, real git (a bare remote in a temp dir), the shipped fake agent; SQLite and
PostgreSQL. The executor's finer cases are in-process in the other modules here.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from codewalkers.agents.git import run_git
from codewalkers.server.runner import stop as stop_server
from tests.agents.conftest import Remote, make_remote
from tests.agents.test_coordinator import space  # noqa: F401 (fixture)
from tests.coordinated import coordinator_of, fake_agent_workspace, kill_agents
from tests.server.conftest import Server, Workspace, free_port, kill, start

pytestmark = pytest.mark.slow


def writes(path: str, summary: str) -> str:
    steps = [
        {"write": {"path": path, "content": f"{summary}\n"}},
        {"commit": f"Add {path}"},
        {"done": summary},
    ]
    return "```cw-fake\n" + json.dumps({"steps": steps}) + "\n```"


@pytest.fixture
def remote(tmp_path: Path) -> Remote:
    return make_remote(tmp_path / "remote", files=1)


@pytest.fixture
def coordinator(space: Workspace) -> Iterator[Server]:  # noqa: F811
    with (space.root / ".cwrc").open("a", encoding="utf-8") as cwrc:
        cwrc.write("\n[dispatch]\nmax_agents = 3\nbackoff = 0.2\n")
    with coordinator_of(space) as running:
        yield running


def test_a_planned_initiative_executes_merges_and_lands_on_the_remote(
    space: Workspace,  # noqa: F811
    coordinator: Server,
    remote: Remote,
) -> None:
    """Three phases (the third depends on the first two), eight tasks with dependencies,
    YOLO: execute → every task runs once → phases merge → pending_review → merge lands the
    initiative on the remote's default branch with every task's file."""
    cw = space.ok
    project = cw("project", "add", "app", remote.url)
    initiative = cw(
        "initiative", "create", "User auth", "--project", project["id"], "--no-merge-approval"
    )
    iid = initiative["id"]
    schema, api, ui = (
        cw("phase", "create", "--initiative", iid, name) for name in ("Schema", "API", "UI")
    )
    cw("phase", "depend", ui["id"], "--on", schema["id"])
    cw("phase", "depend", ui["id"], "--on", api["id"])

    def task(phase: dict[str, Any], name: str, path: str) -> str:
        made = cw(
            "task", "create", name, "--phase", phase["id"], "--description", writes(path, name)
        )
        return str(made["id"])

    users = task(schema, "Users table", "schema/users.sql")
    sessions = task(schema, "Sessions table", "schema/sessions.sql")
    login = task(api, "Login endpoint", "api/login.py")
    form = task(ui, "Login form", "ui/form.html")
    page = task(ui, "Login page", "ui/page.html")
    roles = task(schema, "Roles table", "schema/roles.sql")
    logout = task(api, "Logout endpoint", "api/logout.py")
    refresh = task(api, "Token refresh", "api/refresh.py")
    cw("task", "depend", sessions, "--on", users)
    cw("task", "depend", roles, "--on", sessions)
    cw("task", "depend", page, "--on", form)
    cw("task", "depend", refresh, "--on", login)
    every = [users, sessions, roles, login, logout, refresh, form, page]
    for phase in (schema, api, ui):
        cw("phase", "approve", phase["id"])

    executing = cw("initiative", "execute", iid)
    assert executing["state"] == "running"
    status = cw("dispatch", "status", "--initiative", iid)
    assert isinstance(status, dict)

    deadline = time.monotonic() + 240
    while cw("initiative", "get", iid)["status"] != "pending_review":
        assert time.monotonic() < deadline, cw("dispatch", "status", "--initiative", iid)
        time.sleep(0.5)

    tasks = {t["id"]: t for t in cw("task", "list", "--initiative", iid)}
    for tid in every:
        assert tasks[tid]["status"] == "completed", tasks[tid]
    agents = cw("agent", "list")
    assert sorted(a["task_id"] for a in agents) == sorted(every)  # each ran exactly once

    # Merge commits follow the dependency order: users, then sessions, then roles.
    merged = run_git(
        ["log", "--merges", "--reverse", "--format=%s", "cw/user-auth--schema"],
        space.root / ".cw/repos/app.git",
    ).splitlines()
    order = [
        next(i for i, s in enumerate(merged) if f"'{n}'" in s)
        for n in ("Users table", "Sessions table", "Roles table")
    ]
    assert order == sorted(order), merged

    # Dependencies ran in order: the sessions agent saw the users task's summary.
    sessions_agent = next(a for a in agents if a["task_id"] == sessions)
    context = space.root / "agent-workdirs" / sessions_agent["name"] / ".cw" / "input"
    assert "Users table" in "".join(p.read_text() for p in context.rglob("*.md"))

    # YOLO: the phase is merged into the initiative branch already, so it has no changes
    # left to review.
    diff = cw("review", "diff", ui["id"])
    assert [(d["project"], d["files"]) for d in diff] == [("app", [])]

    landed = cw("initiative", "merge", iid)
    assert list(landed["commits"]) == ["app"]
    assert landed["commits"]["app"] == run_git(["rev-parse", "main"], remote.path).strip()
    assert cw("initiative", "get", iid)["status"] == "completed"
    files = run_git(["ls-tree", "-r", "--name-only", "main"], remote.path).split()
    for path in (
        "schema/users.sql",
        "schema/sessions.sql",
        "schema/roles.sql",
        "api/login.py",
        "api/logout.py",
        "api/refresh.py",
        "ui/form.html",
        "ui/page.html",
    ):
        assert path in files
    merges = run_git(["log", "--merges", "--format=%s", "main"], remote.path)
    assert "User auth" in merges

    trees = cw("worktree", "list")
    assert {t["kind"] for t in trees} >= {"agent"}
    pruned = cw("worktree", "prune")
    assert len(pruned["removed"]) == 8 and pruned["kept"] == []
    # Every branch stays: pruning removes worktrees, never commits.
    branches = run_git(["branch", "--list", "cw/*"], space.root / ".cw/repos/app.git")
    assert branches.count("cw/user-auth--") >= 8 + 3


def test_a_coordinator_killed_mid_initiative_finishes_it_after_a_restart(
    space: Workspace,  # noqa: F811
    coordinator: Server,
    remote: Remote,
) -> None:
    """SIGKILL the coordinator while the second of four chained tasks runs; restarted, it
    adopts the running agent, goes on, and the initiative finishes: no task ran twice, no
    commit is lost."""
    cw = space.ok
    project = cw("project", "add", "app", remote.url)
    iid = cw("initiative", "create", "Chain", "--project", project["id"], "--no-merge-approval")[
        "id"
    ]
    phase = cw("phase", "create", "--initiative", iid, "Only")
    ids: list[str] = []
    for n in range(1, 5):
        steps = [
            {"sleep": 1.5},
            {"write": {"path": f"step{n}.txt", "content": f"{n}\n"}},
            {"commit": f"Step {n}"},
            {"done": f"step {n}"},
        ]
        description = "```cw-fake\n" + json.dumps({"steps": steps}) + "\n```"
        ids.append(
            cw("task", "create", f"Step {n}", "--phase", phase["id"], "--description", description)[
                "id"
            ]
        )
        if n > 1:
            cw("task", "depend", ids[-1], "--on", ids[-2])
    cw("phase", "approve", phase["id"])
    cw("initiative", "execute", iid[:6])  # a unique prefix will do, as everywhere

    deadline = time.monotonic() + 120
    while cw("task", "get", ids[1])["status"] != "in_progress":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    os.kill(coordinator.pid, signal.SIGKILL)
    time.sleep(2)  # the second agent may end while no coordinator runs
    restarted = start(space, free_port())
    try:
        deadline = time.monotonic() + 240
        while cw("initiative", "get", iid)["status"] != "pending_review":
            assert time.monotonic() < deadline, cw("dispatch", "status")
            time.sleep(0.5)
        agents = cw("agent", "list")
        assert sorted(a["task_id"] for a in agents) == sorted(ids)  # each ran exactly once
        branch = cw("initiative", "get", iid)["branch"]
        clone = space.root / ".cw/repos/app.git"
        files = run_git(["ls-tree", "-r", "--name-only", branch], clone).split()
        assert {f"step{n}.txt" for n in range(1, 5)} <= set(files)
        log = run_git(["log", "--format=%s", branch], clone)
        assert all(log.count(f"Step {n}") >= 1 for n in range(1, 5))
    finally:
        stop_server(space.state, timeout=10)
        kill(restarted.pid)


@pytest.mark.parametrize("backend", ["postgresql"])  # several machines share PostgreSQL
def test_two_coordinators_on_one_postgresql_database_run_one_initiative_together(
    backend: str,
    database_url: str,
    space: Workspace,  # noqa: F811
    remote: Remote,
    tmp_path: Path,
) -> None:
    """Two workspaces (two machines) on one PostgreSQL database and one remote, each with
    its own coordinator, branches shared through the remote: six independent tasks run
    exactly once between them, and the other coordinator lands the result."""
    settings = "\n[dispatch]\nmax_agents = 2\nshare_branches = true\nbackoff = 0.2\n"
    key = (space.state / "secret.key").read_text().strip()  # the team's key (issue 15)
    other = fake_agent_workspace(
        tmp_path / "other-machine",
        backend,
        database_url,
        settings=settings,
        env={"CW_SECRET_KEY": key},
    )
    with (space.root / ".cwrc").open("a", encoding="utf-8") as cwrc:
        cwrc.write(settings)

    cw = space.ok
    project = cw("project", "add", "app", remote.url)
    iid = cw("initiative", "create", "Shared", "--project", project["id"], "--no-merge-approval")[
        "id"
    ]
    phase = cw("phase", "create", "--initiative", iid, "Work")
    tasks = [
        cw(
            "task",
            "create",
            f"Part {n}",
            "--phase",
            phase["id"],
            "--description",
            writes(f"part{n}.txt", f"part {n}"),
        )["id"]
        for n in range(1, 7)
    ]
    cw("phase", "approve", phase["id"])
    first = start(space, free_port())
    second = start(other, free_port())
    try:
        cw("initiative", "execute", iid)
        deadline = time.monotonic() + 300
        while cw("initiative", "get", iid)["status"] != "pending_review":
            assert time.monotonic() < deadline, cw("dispatch", "status")
            time.sleep(0.5)
        agents = cw("agent", "list")
        assert sorted(a["task_id"] for a in agents) == sorted(tasks)  # each exactly once
        landed = other.ok("initiative", "merge", iid)
        assert list(landed["commits"]) == ["app"]
        files = run_git(["ls-tree", "-r", "--name-only", "main"], remote.path).split()
        assert {f"part{n}.txt" for n in range(1, 7)} <= set(files)
    finally:
        for workspace, server in ((space, first), (other, second)):
            stop_server(workspace.state, timeout=10)
            kill(server.pid)
            kill_agents(workspace)
