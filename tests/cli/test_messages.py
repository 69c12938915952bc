"""``cw message send|list|reply``: user <-> agent messages, in threads."""

from __future__ import annotations

from codewalkers.db import Agent, Message
from tests.cli._workspace_db import workspace_db
from tests.cli.conftest import Cw
from tests.factories import make_agent


def agent_named(cw: Cw, name: str) -> Agent:
    with workspace_db(cw) as db:
        return make_agent(db, name=name)


def question_from(cw: Cw, agent: Agent, content: str = "Which database?") -> Message:
    with workspace_db(cw) as db:
        return db.messages.create(
            sender_type="agent",
            sender_id=agent.id,
            recipient_type="user",
            type="question",
            content=content,
            requires_response=True,
        )


def message_count(cw: Cw) -> int:
    with workspace_db(cw) as db:
        return len(db.messages.find_all())


def test_a_message_sent_to_an_agent_is_listed_with_the_agent(cw: Cw) -> None:
    worker = agent_named(cw, "worker")
    agent_named(cw, "other")
    sent = cw.ok(
        "message",
        "send",
        "--to",
        "worker",
        "Use the v2 API",
        "--type",
        "question",
        "--requires-response",
    )
    assert sent["sender_type"] == "user" and sent["sender_id"] is None
    assert sent["recipient_type"] == "agent" and sent["recipient_id"] == worker.id
    assert sent["type"] == "question" and sent["requires_response"] is True
    assert sent["status"] == "pending" and sent["parent_message_id"] is None
    assert sent["content"] == "Use the v2 API"
    assert isinstance(sent["id"], str) and sent["created_at"].endswith("Z")

    assert [m["id"] for m in cw.ok("message", "list", "--agent", "worker")] == [sent["id"]]
    assert cw.ok("message", "list", "--agent", "other") == []
    # Not waiting for the user: it is addressed to the agent.
    assert cw.ok("message", "list", "--pending") == []


def test_a_reply_goes_back_to_the_sender_in_the_thread_and_marks_it_responded(cw: Cw) -> None:
    worker = agent_named(cw, "worker")
    question = question_from(cw, worker)
    assert [m["id"] for m in cw.ok("message", "list", "--pending")] == [question.id]

    reply = cw.ok("message", "reply", question.id, "PostgreSQL")
    assert reply["sender_type"] == "user" and reply["sender_id"] is None
    assert reply["recipient_type"] == "agent" and reply["recipient_id"] == worker.id
    assert reply["type"] == "response" and reply["parent_message_id"] == question.id

    assert cw.ok("message", "list", "--pending") == []
    thread = cw.ok("message", "list", "--thread", question.id)
    assert [m["id"] for m in thread] == [question.id, reply["id"]]
    assert thread[0]["status"] == "responded"

    human = cw("message", "list", "--thread", question.id)
    assert human.code == 0 and "worker" in human.stdout and "PostgreSQL" in human.stdout


def test_bad_messages_are_refused_in_one_line_and_change_nothing(cw: Cw) -> None:
    worker = agent_named(cw, "worker")
    before = message_count(cw)

    assert "agent 'nobody' not found" in cw.fails("message", "send", "--to", "nobody", "hi").stderr
    assert "type" in cw.fails("message", "send", "--to", "worker", "hi", "--type", "shout").stderr
    assert "not found" in cw.fails("message", "reply", "nope", "hi").stderr
    assert "not found" in cw.fails("message", "list", "--agent", "nobody").stderr
    cw.fails("message", "send", "hi", code=2)  # --to is required
    assert message_count(cw) == before

    sent = cw.ok("message", "send", "--to", worker.name, "hi")
    assert "not addressed to the user" in cw.fails("message", "reply", sent["id"], "x").stderr
    with workspace_db(cw) as db:
        assert [m.id for m in db.messages.find_all()] == [sent["id"]]
        original = db.messages.find_by_id(sent["id"])
        assert original is not None and original.status == "pending"
