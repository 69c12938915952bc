"""``cw chat start|send|show|close``: chat sessions about a phase or a task."""

from __future__ import annotations

from tests.cli._workspace_db import workspace_db
from tests.cli.conftest import Cw


def test_a_chat_about_a_phase_is_started_once_written_to_and_closed(cw: Cw) -> None:
    initiative = cw.ok("initiative", "create", "Auth")
    phase = cw.ok("phase", "create", "--initiative", initiative["id"], "Design")

    session = cw.ok("chat", "start", "--phase", phase["id"])
    assert session["target_type"] == "phase" and session["target_id"] == phase["id"]
    assert session["initiative_id"] == initiative["id"] and session["agent_id"] is None
    assert session["status"] == "active" and session["created"] is True
    assert session["created_at"].endswith("Z")
    again = cw.ok("chat", "start", "--phase", phase["id"])
    assert again["id"] == session["id"] and again["created"] is False

    # Sending runs the session's agent: it needs the coordinator (tests/chat/ runs one).
    no_coordinator = cw.fails("chat", "send", session["id"], "Split the second task").stderr
    assert "no coordinator is running" in no_coordinator

    closed = cw.ok("chat", "close", session["id"])
    assert closed["id"] == session["id"] and closed["status"] == "closed"

    shown = cw.ok("chat", "show", session["id"])
    assert shown["status"] == "closed" and shown["messages"] == []
    human = cw("chat", "show", session["id"])
    assert human.code == 0 and "no messages yet" in human.stdout

    # Closed sessions are not resumed: a new start makes a new session.
    fresh = cw.ok("chat", "start", "--phase", phase["id"])
    assert fresh["id"] != session["id"] and fresh["created"] is True


def test_a_chat_about_a_task_belongs_to_the_tasks_initiative(cw: Cw) -> None:
    initiative = cw.ok("initiative", "create", "Auth")
    task = cw.ok("task", "create", "Sketch", "--initiative", initiative["id"])
    session = cw.ok("chat", "start", "--task", task["id"])
    assert session["target_type"] == "task" and session["target_id"] == task["id"]
    assert session["initiative_id"] == initiative["id"]


def test_bad_chat_commands_are_refused_in_one_line_and_change_nothing(cw: Cw) -> None:
    assert "task 'nope' not found" in cw.fails("chat", "start", "--task", "nope").stderr
    assert "phase 'nope' not found" in cw.fails("chat", "start", "--phase", "nope").stderr
    assert "exactly one" in cw.fails("chat", "start").stderr
    assert "exactly one" in cw.fails("chat", "start", "--phase", "a", "--task", "b").stderr
    assert "not found" in cw.fails("chat", "send", "nope", "hello").stderr
    assert "not found" in cw.fails("chat", "show", "nope").stderr
    assert "not found" in cw.fails("chat", "close", "nope").stderr
    cw.fails("chat", "send", "nope", code=2)  # MESSAGE is required
    with workspace_db(cw) as db:
        assert db.chat_sessions.find_all() == []  # type: ignore[attr-defined]
