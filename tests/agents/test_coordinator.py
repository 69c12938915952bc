"""The agent runtime through the real pipeline: a ``cw start --detach`` coordinator process,
``cw agent …`` / ``cw project sync`` commands, the shipped fake agent as real processes in
real worktrees of a bare remote, on SQLite and PostgreSQL.

A few thorough journeys; the finer cases of each decision are in ``test_runtime.py``
(in-process, same code).
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from codewalkers.agents.git import run_git
from codewalkers.server.runner import stop as stop_server
from tests.agents.conftest import Remote, make_remote
from tests.coordinated import coordinator_of, fake_agent_workspace
from tests.server.conftest import Server, Workspace, free_port, kill, start

pytestmark = pytest.mark.slow

SECRET = "sk-ant-PLANTED-SECRET-7f3a9c"


def scenario(*steps: object) -> str:
    return "```cw-fake\n" + json.dumps({"steps": list(steps)}) + "\n```"


@pytest.fixture
def remote(tmp_path: Path) -> Remote:
    return make_remote(tmp_path / "remote", files=2)


@pytest.fixture
def space(backend: str, database_url: str, tmp_path: Path) -> Workspace:
    return fake_agent_workspace(tmp_path / "workspace", backend, database_url)


@pytest.fixture
def coordinator(space: Workspace) -> Iterator[Server]:
    with coordinator_of(space) as running:
        yield running


def plan(space: Workspace, remote: Remote, *descriptions: str) -> list[str]:
    """A project on ``remote``, an initiative linked to it, one phase, a task per
    description; returns the task ids."""
    project = space.ok("project", "add", "app", remote.url)
    initiative = space.ok("initiative", "create", "Ship it", "--project", project["id"])
    phase = space.ok("phase", "create", "--initiative", initiative["id"], "Build")
    return [
        space.ok("task", "create", f"Task {n}", "--phase", phase["id"], "--description", text)["id"]
        for n, text in enumerate(descriptions, 1)
    ]


def get(server: Server, path: str) -> Any:
    with server.client() as client:
        answer = client.get(path)
        assert answer.status_code == 200, answer.text
        return answer.json()


def wait_agent(
    server: Server, name: str, check: Callable[[dict[str, Any]], bool], timeout: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        agent = get(server, f"/agents/{name}")
        if check(agent):
            return agent
        if time.monotonic() > deadline:
            raise AssertionError(f"agent {name} stayed {agent['status']} ({agent})")
        time.sleep(0.1)


def status_is(*statuses: str) -> Callable[[dict[str, Any]], bool]:
    return lambda agent: agent["status"] in statuses


def events(server: Server) -> list[dict[str, Any]]:
    """Every event so far, page by page."""
    seen: list[dict[str, Any]] = []
    with server.client() as client:
        while True:
            after = seen[-1]["seq"] if seen else 0
            answer = client.get("/events/history", params={"after_seq": after, "limit": 1000})
            assert answer.status_code == 200, answer.text
            page = list(answer.json())
            if not page:
                return seen
            seen.extend(page)


def log_text(server: Server, name: str) -> str:
    chunks = get(server, f"/agents/{name}/logs?limit=1000")
    return "".join(chunk["content"] for chunk in chunks)


def group_alive(pid: int) -> list[int]:
    """Processes still in the process group ``pid`` led."""
    alive = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if os.getpgid(proc.pid) == pid and proc.status() != psutil.STATUS_ZOMBIE:
                alive.append(proc.pid)
        except (ProcessLookupError, psutil.Error):
            continue
    return alive


def test_without_a_coordinator_agent_commands_say_to_start_one(space: Workspace) -> None:
    for argv in (
        ("agent", "spawn", "--task", "nothing"),
        ("agent", "stop", "brave-otter"),
        ("agent", "answer", "brave-otter", "yes"),
    ):
        done = space.cw(*argv)
        assert done.code == 1
        assert done.stderr.count("\n") == 1 and "cw start --detach" in done.stderr


def test_sync_then_ask_answer_commit_done_and_delete_through_the_coordinator(
    space: Workspace, coordinator: Server, remote: Remote
) -> None:
    """The whole life of an agent, as a person drives it with `cw`: project sync, an
    account with a planted secret, spawn, questions, answers, resume, done with a commit;
    the result, the log, the events; delete refused while unmerged, --force keeps the
    branch; no secret anywhere it must not be."""
    (task,) = plan(
        space,
        remote,
        scenario(
            {"print": 3},
            {"ask": [{"id": "q1", "question": "Colour?"}, {"id": "q2", "question": "Size?"}]},
            {"write": {"path": "choice.txt", "content": "{answer:q1} {answer:q2}\n"}},
            {"commit": "Record the choice"},
            {"done": "Chose {answer:q1} and {answer:q2}"},
        ),
    )
    credentials = space.root / "credentials.json"
    credentials.write_text(json.dumps({"claudeAiOauth": {"accessToken": SECRET}}))
    account = space.ok("account", "add", "me@example.com", "--credentials-file", str(credentials))
    credentials.unlink()

    synced = space.ok("project", "sync")
    assert [(s["project"]["name"], s["cloned"], s["error"]) for s in synced] == [
        ("app", True, None)
    ]
    assert synced[0]["head_commit"] == remote.head()
    assert space.ok("project", "list")[0]["last_fetched_at"] is not None
    assert (space.root / ".cw/repos/app.git").is_dir()

    spawned = space.ok("agent", "spawn", "--task", task[:6])  # a unique prefix will do
    name = spawned["name"]
    assert spawned["status"] == "running" and spawned["account_id"] == account["id"]
    assert space.ok("task", "get", task)["status"] == "in_progress"

    waiting = wait_agent(coordinator, name, status_is("waiting_for_input"))
    assert [q["id"] for q in waiting["pending_questions"]] == ["q1", "q2"]
    refused = space.cw("agent", "answer", name, "blue")
    assert refused.code == 1 and "q1" in refused.stderr and "q2" in refused.stderr
    half = space.ok("agent", "answer", name, "blue", "--question", "q1")
    assert half["status"] == "waiting_for_input"
    resumed = space.ok("agent", "answer", name, "large", "--question", "q2")
    assert resumed["status"] == "running" and resumed["session_number"] == 2

    done = wait_agent(coordinator, name, status_is("idle", "crashed"))
    assert done["status"] == "idle", done
    result = space.ok("agent", "result", name)
    assert result["result"]["result"] == "Chose blue and large"
    task_row = space.ok("task", "get", task)
    assert task_row["status"] == "completed" and task_row["summary"] == "Chose blue and large"

    worktree = space.root / "agent-workdirs" / name / "app"
    assert (worktree / "choice.txt").read_text() == "blue large\n"
    branch = run_git(["rev-parse", "--abbrev-ref", "HEAD"], worktree).strip()
    assert branch.startswith("cw/ship-it--task-1-")
    assert "Record the choice" in run_git(["log", "--format=%s", "-1"], worktree)

    text = log_text(coordinator, name)
    assert text.count("line 3 of 3") == 1
    sessions = {c["session_number"] for c in get(coordinator, f"/agents/{name}/logs?limit=1000")}
    assert sessions == {1, 2}
    kinds = [event["type"] for event in events(coordinator)]
    for kind in (
        "project:synced",
        "worktree:created",
        "agent:spawned",
        "agent:output",
        "agent:waiting",
        "agent:answered",
        "agent:resumed",
    ):
        assert kind in kinds, kind

    refused = space.cw("agent", "delete", name)
    assert refused.code == 1 and branch in refused.stderr
    assert worktree.is_dir()
    deleted = space.ok("agent", "delete", name, "--force")
    assert deleted["branches_kept"] == [branch] and not worktree.exists()
    clone = space.root / ".cw/repos/app.git"
    assert "Record the choice" in run_git(["log", "--format=%s", "-1", branch], clone)

    # The secret went only into the account's config dir.
    outputs = [json.dumps(events(coordinator)), text, json.dumps(get(coordinator, "/agents"))]
    outputs.append(space.cw("account", "list", "--json").stdout)
    assert not any(SECRET in output for output in outputs)
    for path in [*space.root.glob("agent-workdirs/**/*"), *space.root.glob(".cw/agent-logs/**/*")]:
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
    leaked = [
        path
        for path in space.root.rglob("*")
        if path.is_file() and SECRET.encode() in path.read_bytes()
    ]
    assert all(".cw/accounts/" in str(path) for path in leaked), leaked
    (config,) = {path.parent for path in leaked}
    assert config.stat().st_mode & 0o777 == 0o700


def test_coordinator_killed_mid_run_adopts_its_agents_on_restart(
    space: Workspace, coordinator: Server, remote: Remote
) -> None:
    """SIGKILL the coordinator while one agent prints and another sleeps past its end;
    restarted, it adopts the live one and finishes the dead one's end from its files: the
    log has every line exactly once."""
    printing, quick = plan(
        space,
        remote,
        scenario({"print": {"lines": 60, "rate": 20}}, {"done": "printed"}),
        scenario({"print": 5}, {"sleep": 1}, {"done": "quick"}),
    )
    slow = space.ok("agent", "spawn", "--task", printing)["name"]
    fast = space.ok("agent", "spawn", "--task", quick)["name"]
    wait_agent(coordinator, slow, lambda a: "line 10 of 60" in log_text(coordinator, slow))

    os.kill(coordinator.pid, signal.SIGKILL)
    _wait_gone(coordinator.pid)
    time.sleep(1.5)  # the quick agent ends while no coordinator runs
    restarted = start(space, free_port())
    try:
        for name, summary, lines in ((slow, "printed", 60), (fast, "quick", 5)):
            agent = wait_agent(restarted, name, status_is("idle", "crashed"))
            assert agent["status"] == "idle", agent
            assert agent["result"]["result"] == summary
            text = log_text(restarted, name)
            for n in range(1, lines + 1):
                assert text.count(f"line {n} of {lines}") == 1, (name, n)
            seqs = [c["seq"] for c in get(restarted, f"/agents/{name}/logs?limit=1000")]
            assert seqs == sorted(set(seqs))
    finally:
        stop_server(space.state, timeout=10)
        kill(restarted.pid)


def _wait_gone(pid: int) -> None:
    deadline = time.monotonic() + 10
    while psutil.pid_exists(pid) and time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return
        except psutil.NoSuchProcess:
            return
        time.sleep(0.05)


def test_usage_limits_fail_over_then_wait_for_the_reset_and_resume_by_themselves(
    space: Workspace, coordinator: Server, remote: Remote
) -> None:
    """Two accounts; the agent hits the limit on each (reset in 3 s): it switches to the
    second with the same session, then waits with the reason visible, then resumes on its
    own once the earliest exhaustion ends, and finishes."""
    (task,) = plan(
        space,
        remote,
        scenario(
            {"print": 2},
            {"usage_limit": {"once_per_config_dir": True, "resets_in": 3}},
            {"done": "ran in {config_dir}"},
        ),
    )
    first = space.ok("account", "add", "one@example.com")["id"]
    second = space.ok("account", "add", "two@example.com")["id"]
    name = space.ok("agent", "spawn", "--task", task, "--account", first)["name"]

    waiting = wait_agent(
        coordinator, name, lambda a: (a["status_reason"] or "").startswith("waiting for an")
    )
    assert waiting["status"] == "running" and waiting["pid"] is None
    switched = [e for e in events(coordinator) if e["type"] == "agent:account_switched"]
    assert [(e["payload"]["from_account_id"], e["payload"]["to_account_id"]) for e in switched][
        :1
    ] == [(first, second)]
    exhausted = [e["entity_id"] for e in events(coordinator) if e["type"] == "account:exhausted"]
    assert set(exhausted) == {first, second}

    done = wait_agent(coordinator, name, status_is("idle", "crashed"), timeout=90)
    assert done["status"] == "idle", done
    runs = [
        json.loads(line)
        for line in (space.root / "agent-workdirs" / name / ".cw/output/cw-fake-runs.jsonl")
        .read_text()
        .splitlines()
    ]
    assert len({run["session_id"] for run in runs}) == 1  # one session all along
    assert len({run["config_dir"] for run in runs}) == 2  # on both accounts
    assert done["result"]["result"].startswith("ran in ")


def test_hang_garbage_crash_and_stop_leave_the_coordinator_serving_and_no_process(
    space: Workspace, coordinator: Server, remote: Remote
) -> None:
    hanging, noisy, crashing, stoppable = plan(
        space,
        remote,
        scenario({"print": 1}, {"hang": True}),
        scenario({"garbage": True}, {"done": "survived"}),
        scenario({"print": 2}, {"crash": 7}),
        scenario({"spawn_child": 300}, {"sleep": 300}),
    )
    names = {
        key: space.ok("agent", "spawn", "--task", task)["name"]
        for key, task in (
            ("hang", hanging),
            ("garbage", noisy),
            ("crash", crashing),
            ("stop", stoppable),
        )
    }
    wait_agent(coordinator, names["stop"], lambda a: a["pid"] is not None)
    pid = get(coordinator, f"/agents/{names['stop']}")["pid"]
    wait_agent(coordinator, names["stop"], lambda a: len(group_alive(pid)) >= 2)
    stopped = space.ok("agent", "stop", names["stop"])
    assert stopped["status"] == "stopped"
    assert group_alive(pid) == []

    hung = wait_agent(coordinator, names["hang"], status_is("stopped", "crashed", "idle"))
    assert hung["status"] == "stopped" and "hung" in (hung["status_reason"] or ""), hung
    noisy_agent = wait_agent(coordinator, names["garbage"], status_is("idle", "crashed"))
    assert noisy_agent["status"] == "idle" and noisy_agent["result"]["result"] == "survived"
    crashed = wait_agent(coordinator, names["crash"], status_is("crashed", "idle"))
    assert crashed["status"] == "crashed" and crashed["exit_code"] == 7
    crash_events = [e for e in events(coordinator) if e["type"] == "agent:crashed"]
    assert [e["payload"]["name"] for e in crash_events] == [names["crash"]]

    assert get(coordinator, "/status")["status"] == "ok"
    listed = {agent["name"] for agent in space.ok("agent", "list")}
    assert set(names.values()) <= listed


def test_a_broken_provider_config_stops_cw_start_naming_the_key(space: Workspace) -> None:
    with (space.root / ".cwrc").open("a", encoding="utf-8") as cwrc:
        cwrc.write('\n[providers.mybot]\ndialect = "klingon"\n')
    for argv in (("start", "--port", str(free_port())), ("start", "--detach")):
        done = space.cw(*argv)
        assert done.code == 1 and done.stdout == ""
        assert "providers.mybot" in done.stderr and done.stderr.count("\n") == 1
    assert not (space.state / "server.pid").exists()
