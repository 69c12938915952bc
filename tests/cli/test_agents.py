import json
import subprocess
import threading
from collections.abc import Iterator

import pytest

from codewalkers.db import Database
from tests.cli._workspace_db import workspace_db
from tests.cli.conftest import CW, Cw


@pytest.fixture
def db(cw: Cw, backend: str, database_url: str) -> Iterator[Database]:
    """The workspace's own database, for making agents and their output."""
    with workspace_db(cw) as database:
        yield database


def test_agents_are_listed_shown_and_dismissed(cw: Cw, db: Database) -> None:
    otter = db.agents.create(name="brave-otter", status="running", mode="plan")
    db.agents.create(name="calm-heron")
    listed = cw.ok("agent", "list")
    assert [a["name"] for a in listed] == ["brave-otter", "calm-heron"]
    assert listed[0]["status"] == "running" and listed[0]["created_at"].endswith("Z")
    running = cw.ok("agent", "list", "--status", "running")
    assert [a["id"] for a in running] == [otter.id]
    shown = cw("agent", "get", "brave-otter")
    assert shown.code == 0 and otter.id in shown.stdout and "plan" in shown.stdout
    dismissed = cw.ok("agent", "dismiss", "brave-otter")
    assert dismissed["id"] == otter.id and dismissed["user_dismissed_at"].endswith("Z")
    assert cw.ok("agent", "get", otter.id)["user_dismissed_at"] == dismissed["user_dismissed_at"]


def test_bad_agent_input_is_one_line_and_changes_nothing(cw: Cw, db: Database) -> None:
    db.agents.create(name="brave-otter")
    assert "status" in cw.fails("agent", "list", "--status", "sleeping").stderr
    assert "agent 'nobody' not found" in cw.fails("agent", "dismiss", "nobody").stderr
    assert "not found" in cw.fails("agent", "log", "nobody").stderr
    cw.fails("agent", "log", "brave-otter", "--session", "0", code=2)
    [agent] = db.agents.find_all()
    assert agent.user_dismissed_at is None


def test_log_prints_the_output_in_order_and_follows_it(cw: Cw, db: Database) -> None:
    agent = db.agents.create(name="brave-otter", status="idle")
    db.log_chunks.insert_chunks(
        {"agent_id": agent.id, "agent_name": agent.name, "content": text, "session_number": n}
        for n, text in [(1, "reading the task\n"), (1, "done.\n"), (2, "resumed\n")]
    )
    everything = cw("agent", "log", "brave-otter")
    assert everything.code == 0
    assert everything.stdout == "reading the task\ndone.\nresumed\n"
    second = cw.ok("agent", "log", "brave-otter", "--session", "2")
    assert [(c["session_number"], c["content"]) for c in second] == [(2, "resumed\n")]
    assert isinstance(second[0]["seq"], int) and second[0]["agent_id"] == agent.id
    # Following an agent that already finished prints what there is and ends after one poll;
    # with --json, one chunk per line (JSON Lines).
    followed = cw("--json", "agent", "log", "brave-otter", "--follow", "--session", "1", timeout=20)
    assert followed.code == 0, followed.stderr
    chunks = [json.loads(line) for line in followed.stdout.splitlines()]
    assert [c["content"] for c in chunks] == ["reading the task\n", "done.\n"]


def test_follow_prints_new_output_until_the_agent_is_idle(cw: Cw, db: Database) -> None:
    agent = db.agents.create(name="brave-otter", status="running")
    db.log_chunks.insert_chunk(agent.id, agent.name, "line 1\n")
    process = subprocess.Popen(
        [*CW, "agent", "log", "brave-otter", "--follow"],
        cwd=cw.root,
        env=cw.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    watchdog = threading.Timer(30, process.kill)  # a broken --follow must not hang the suite
    watchdog.start()
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == "line 1\n"  # printed before the agent finishes
        db.log_chunks.insert_chunk(agent.id, agent.name, "line 2\n")
        assert process.stdout.readline() == "line 2\n"
        db.log_chunks.insert_chunk(agent.id, agent.name, "line 3\n")
        db.agents.update(agent.id, status="idle")
        rest, errors = process.communicate(timeout=20)
    finally:
        watchdog.cancel()
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, errors
    assert rest == "line 3\n" and errors == ""
