"""The agent runtime end to end, in-process: a real bare remote, the shipped fake agent as
a real process in a real worktree, the real supervisor thread; SQLite and PostgreSQL.

The coordinator's HTTP layer is not involved here: these tests drive
:class:`~codewalkers.services.runtime.AgentRuntime` as ``cw start`` will.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from codewalkers.agents import process
from codewalkers.agents.providers import fake_provider
from codewalkers.agents.settings import AgentSettings
from codewalkers.db import Agent, AgentStatus, Database, TaskStatus
from codewalkers.services.runtime import AgentRuntime, SpawnRequest, UnsafeDeleteError
from codewalkers.workspace import Workspace
from tests.agents.conftest import Remote, make_remote
from tests.factories import make_account, make_initiative, make_phase, make_task

SETTINGS = AgentSettings(
    poll_interval=0.02, maintenance_interval=0.1, stop_grace=2.0, signal_grace=0.1
)


def scenario(*steps: object) -> str:
    return "```cw-fake\n" + json.dumps({"steps": list(steps)}) + "\n```"


@pytest.fixture
def remote(tmp_path: Path) -> Remote:
    return make_remote(tmp_path / "remote", files=3)


@pytest.fixture
def runtime(db: Database, tmp_path: Path) -> Iterator[AgentRuntime]:
    root = tmp_path / "ws"
    (root / ".cw").mkdir(parents=True)
    workspace = Workspace(root, {})
    runtime = AgentRuntime(
        db, workspace, settings=SETTINGS, providers={"claude": fake_provider("claude")}
    )
    runtime.start()
    yield runtime
    runtime.close()
    for run in runtime.supervisor.runs():
        process.stop_group(run.pid, run.started_at_ms, grace=1.0)


def wait_for(db: Database, agent: Agent, check: Callable[[Agent], bool]) -> Agent:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        current = db.agents.find_by_id(agent.id)
        assert current is not None
        if check(current):
            return current
        time.sleep(0.05)
    raise AssertionError(f"agent never reached the state; last: {current}")


def task_with(db: Database, remote: Remote, description: str) -> tuple[str, str]:
    initiative = make_initiative(db, name="User auth")
    project = db.projects.create(name="app", url=remote.url)
    db.projects.set_initiative_projects(initiative.id, [project.id])
    phase = make_phase(db, initiative)
    task = make_task(db, phase, name="Add login", description=description)
    return initiative.id, task.id


def branch_log(runtime: AgentRuntime, branch: str) -> str:
    repo = runtime.paths.repo_path("app")
    return subprocess.run(
        ["git", "-C", str(repo), "log", "--format=%s", branch],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_a_task_agent_commits_on_its_branch_and_completes_the_task(
    db: Database, runtime: AgentRuntime, remote: Remote
) -> None:
    _, task_id = task_with(
        db,
        remote,
        scenario(
            {"write": {"path": "login.py", "content": "def login(): ...\n"}},
            {"commit": "add login"},
            {"print": 30},
            {"done": "Added login."},
        ),
    )
    agent = runtime.spawn(SpawnRequest(task_id=task_id))
    assert agent.status == AgentStatus.RUNNING and agent.pid
    started = db.tasks.find_by_id(task_id)
    assert started is not None and started.status == TaskStatus.IN_PROGRESS

    done = wait_for(db, agent, lambda a: a.status == AgentStatus.IDLE)
    task = db.tasks.find_by_id(task_id)
    assert task is not None and task.status == TaskStatus.COMPLETED
    assert task.summary == "Added login."
    assert done.session_id and done.result["result"] == "Added login."
    workdir = runtime.paths.workdir(agent.name)
    branch = subprocess.run(
        ["git", "-C", str(workdir / "app"), "branch", "--show-current"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert branch.startswith("cw/user-auth--add-login-")
    assert "add login" in branch_log(runtime, branch)
    # Every line the agent printed is in the log, once, in order.
    chunks = db.log_chunks.find_by_agent_id(agent.id)
    text = "".join(chunk.content for chunk in chunks)
    output = Path(done.output_file_path or "").read_text(encoding="utf-8")
    assert text == output
    assert done.output_offset == len(output.encode())
    types = [e.type for e in db.events.find_after(0)]
    assert "agent:spawned" in types and "agent:stopped" in types and "agent:output" in types
    assert (workdir / ".cw" / "input" / "PROMPT.md").is_file()


def test_questions_then_answer_resumes_the_same_session(
    db: Database, runtime: AgentRuntime, remote: Remote
) -> None:
    _, task_id = task_with(
        db,
        remote,
        scenario(
            {"ask": [{"id": "q1", "question": "Which colour?"}]},
            {"write": {"path": "colour.txt", "content": "{answer:q1}"}},
            {"commit": "colour"},
            {"done": "Colour chosen."},
        ),
    )
    agent = runtime.spawn(SpawnRequest(task_id=task_id))
    waiting = wait_for(db, agent, lambda a: a.status == AgentStatus.WAITING_FOR_INPUT)
    assert [q["id"] for q in waiting.pending_questions] == ["q1"]
    assert any("Which colour?" in m.content for m in db.messages.find_pending_for_user())
    runtime.answer(agent.name, "blue")
    done = wait_for(db, agent, lambda a: a.status == AgentStatus.IDLE)
    assert done.session_number == 2 and done.session_id == waiting.session_id
    colour = runtime.paths.workdir(agent.name) / "app" / "colour.txt"
    assert colour.read_text() == "blue"


def test_a_crash_without_signal_is_crashed_and_its_work_committed(
    db: Database, runtime: AgentRuntime, remote: Remote
) -> None:
    _, task_id = task_with(
        db,
        remote,
        scenario(
            {"leave_uncommitted": {"path": "half.txt", "content": "half done"}},
            {"crash": True},
        ),
    )
    agent = runtime.spawn(SpawnRequest(task_id=task_id))
    crashed = wait_for(db, agent, lambda a: a.status == AgentStatus.CRASHED)
    assert crashed.exit_code == 3
    task = db.tasks.find_by_id(task_id)
    assert task is not None and task.status == TaskStatus.BLOCKED
    tree = runtime.paths.workdir(agent.name) / "app"
    status = subprocess.run(
        ["git", "-C", str(tree), "status", "--porcelain"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert status == ""
    assert (tree / "half.txt").read_text() == "half done"
    with pytest.raises(UnsafeDeleteError, match="not merged or pushed"):
        runtime.delete(agent.name)
    assert tree.is_dir()


def test_stop_kills_the_whole_process_group(
    db: Database, runtime: AgentRuntime, remote: Remote
) -> None:
    _, task_id = task_with(db, remote, scenario({"spawn_child": 300}, {"hang": True}))
    agent = runtime.spawn(SpawnRequest(task_id=task_id))
    assert agent.pid is not None
    deadline = time.monotonic() + 30
    while len(process.group_members(agent.pid)) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    members = process.group_members(agent.pid)
    assert len(members) >= 3  # wrapper, fake agent, its child
    stopped = runtime.stop(agent.name)
    assert stopped.status == AgentStatus.STOPPED
    assert stopped.status_reason == "user_requested"
    assert not [p for p in members if p.is_running() and p.status() != "zombie"]


def test_usage_limit_fails_over_to_the_next_account_and_keeps_the_session(
    db: Database, runtime: AgentRuntime, remote: Remote
) -> None:
    first = make_account(db, email="a@example.com", provider="claude")
    second = make_account(db, email="b@example.com", provider="claude")
    _, task_id = task_with(
        db,
        remote,
        scenario(
            {"write": {"path": "a.txt", "content": "a"}},
            {"commit": "a"},
            {"usage_limit": {"first_config_dir_only": True, "resets_in": 3600}},
            {"write": {"path": "b.txt", "content": "{config_dir}"}},
            {"commit": "b"},
            {"done": "Both."},
        ),
    )
    agent = runtime.spawn(SpawnRequest(task_id=task_id))
    done = wait_for(db, agent, lambda a: a.status == AgentStatus.IDLE)
    used = {first.id, second.id}
    assert done.account_id in used and agent.account_id in used
    assert done.account_id != agent.account_id
    exhausted = db.accounts.find_by_id(agent.account_id or "")
    assert exhausted is not None and exhausted.is_exhausted
    assert done.session_number == 2
    tree = runtime.paths.workdir(agent.name) / "app"
    assert (tree / "b.txt").read_text() == str(runtime.paths.accounts_dir(done.account_id or ""))
    types = [e.type for e in db.events.find_after(0)]
    assert "agent:account_switched" in types and "account:exhausted" in types


def test_bad_spawn_input_changes_nothing(db: Database, runtime: AgentRuntime) -> None:
    from codewalkers.db import ValidationError

    before = len(db.agents.find_all())
    with pytest.raises(ValidationError, match="not found"):
        runtime.spawn(SpawnRequest(task_id="nope"))
    with pytest.raises(ValidationError, match="unknown provider"):
        runtime.spawn(SpawnRequest(provider="nobody"))
    with pytest.raises(ValidationError, match="unknown mode"):
        runtime.spawn(SpawnRequest(mode="dance"))
    assert len(db.agents.find_all()) == before
