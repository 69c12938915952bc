"""A chat session end to end, in-process: the real runtime and supervisor, the shipped fake
agent as a real process writing change files, SQLite and PostgreSQL.

One session of five messages: three change sets; reverting the second gives the state after
the first plus what the third changed; reverting again changes nothing; a fourth message
touching what the first changed makes reverting the first refuse, naming it, until
``force``; a malformed change file applies nothing and says why.
"""

from __future__ import annotations

from typing import Any

import pytest

from codewalkers.db import AgentStatus, ChatRole, Database
from codewalkers.services import changes, chat
from codewalkers.services.chat import ChatAgents
from codewalkers.services.runtime import AgentRuntime
from tests.chat.conftest import scenario, wait_for
from tests.factories import make_initiative, make_page, make_phase, make_task

NEW_TASK = "NewTaskFromChat000001"


def plan_state(db: Database, initiative_id: str) -> dict[tuple[str, str], Any]:
    """Every page, phase and task of the initiative, as change sets record them."""
    found: dict[tuple[str, str], Any] = {}
    for kind, rows in (
        ("page", db.pages.find_by_initiative_id(initiative_id)),
        ("phase", db.phases.find_by_initiative_id(initiative_id)),
        ("task", db.tasks.find_by_initiative_id(initiative_id)),
    ):
        for row in rows:
            found[(kind, row.id)] = changes.state(db, kind, row.id)
    return found


def test_a_chat_changes_the_plan_in_revertable_change_sets(
    db: Database, runtime: AgentRuntime
) -> None:
    initiative = make_initiative(db, name="User auth")
    phase = make_phase(db, initiative, name="Build")
    hashing = make_task(db, phase, name="Hash passwords", description="Use bcrypt")
    sessions = make_task(db, phase, name="Store sessions")
    page = make_page(db, initiative, title="Decisions")
    agents = ChatAgents(runtime)
    session = chat.start_session(db, "task", hashing.id).session

    def say(text: str) -> list[Any]:
        sent = agents.send(session.id, text)
        return chat.wait_for_reply(db, session.id, sent.message.id, timeout=60)

    first = say(
        "Use Argon2 for the hashing.\n\n"
        + scenario(
            {
                "change": {
                    "action": "update",
                    "entity": "task",
                    "id": hashing.id,
                    "fields": {"description": "Use Argon2id"},
                }
            },
            {"done": "I switched the hashing task to Argon2id."},
            {
                "change": [
                    {
                        "action": "update",
                        "entity": "task",
                        "id": sessions.id,
                        "fields": {"name": "Store sessions in Redis", "priority": "high"},
                    },
                    {
                        "action": "create",
                        "entity": "task",
                        "id": NEW_TASK,
                        "fields": {
                            "phase_id": phase.id,
                            "name": "Migrate old sessions",
                            "depends_on": [sessions.id],
                        },
                    },
                ]
            },
            {"done": "Sessions go to Redis; I added a migration task."},
            {
                "change": {
                    "action": "update",
                    "entity": "page",
                    "id": page.id,
                    "fields": {"content": "# Decisions\n\nArgon2id, Redis."},
                }
            },
            {"done": "The decisions page says so."},
            {
                "change": {
                    "action": "update",
                    "entity": "task",
                    "id": hashing.id,
                    "fields": {"priority": "high"},
                }
            },
            {"done": "Hashing is high priority now."},
            {"change": "this is not JSON"},
            {"done": "I tried something odd."},
        )
    )
    agent_id = db.chat_sessions.find_by_id(session.id).agent_id  # type: ignore[union-attr]
    assert agent_id is not None
    assert [m.role for m in first] == [ChatRole.ASSISTANT]
    assert first[0].content == "I switched the hashing task to Argon2id."
    after_first = plan_state(db, initiative.id)
    assert after_first[("task", hashing.id)]["description"] == "Use Argon2id"

    second = say("Put sessions in Redis, and plan their migration.")
    after_second = plan_state(db, initiative.id)
    assert after_second[("task", NEW_TASK)]["depends_on"] == [sessions.id]
    third = say("Write the decisions down.")
    after_third = plan_state(db, initiative.id)
    # One session, resumed for each message: the agent keeps its context.
    agent = wait_for(db, agent_id, lambda a: a.status == AgentStatus.IDLE)
    assert agent.session_number == 3 and agent.mode == "chat"

    sets = [m[0].change_set_id for m in (first, second, third)]
    assert all(sets) and len(set(sets)) == 3
    entries = db.change_sets.find_entries(sets[1])  # type: ignore[arg-type]
    assert [(e.entity_type, e.entity_id, e.action) for e in entries] == [
        ("task", sessions.id, "update"),
        ("task", NEW_TASK, "create"),
    ]
    assert entries[0].previous_state["name"] == "Store sessions"
    assert entries[0].new_state["name"] == "Store sessions in Redis"
    assert entries[1].previous_state is None

    # Revert the second: the state after the first, except what the third changed.
    done = changes.revert(db, sets[1])  # type: ignore[arg-type]
    assert done.reverted
    expected = {**after_first, ("page", page.id): after_third[("page", page.id)]}
    assert plan_state(db, initiative.id) == expected
    again = changes.revert(db, sets[1])  # type: ignore[arg-type]
    assert not again.reverted and "already reverted" in again.message
    assert plan_state(db, initiative.id) == expected

    # A fourth message changes the task the first changed: reverting the first refuses.
    fourth = say("Make the hashing urgent.")
    assert fourth[0].change_set_id
    with pytest.raises(changes.ChangeConflictError) as refused:
        changes.revert(db, sets[0])  # type: ignore[arg-type]
    assert hashing.id in str(refused.value) and "Hash passwords" in str(refused.value)
    assert changes.state(db, "task", hashing.id)["priority"] == "high"  # type: ignore[index]
    forced = changes.revert(db, sets[0], force=True)  # type: ignore[arg-type]
    assert forced.reverted and forced.forced
    restored = changes.state(db, "task", hashing.id)
    assert restored is not None
    assert restored["description"] == "Use bcrypt" and restored["priority"] == "medium"

    # A malformed change file: the reply is kept, nothing applied, a system message says why.
    before_bad = plan_state(db, initiative.id)
    fifth = say("Try something odd.")
    assert [m.role for m in fifth] == [ChatRole.ASSISTANT, ChatRole.SYSTEM]
    assert fifth[0].change_set_id is None
    assert "001.json" in fifth[1].content and "not JSON" in fifth[1].content
    assert plan_state(db, initiative.id) == before_bad

    transcript = chat.show(db, session.id)
    assert [m.role for m in transcript.messages].count(ChatRole.USER) == 5
    assert set(transcript.change_sets) == {*sets, fourth[0].change_set_id}
    types = [e.type for e in db.events.find_after(0)]
    assert types.count("change_set:applied") == 4
    assert types.count("change_set:reverted") == 2
    assert "task:created" in types and "task:deleted" in types and "page:updated" in types


def test_a_bad_message_or_a_busy_agent_is_refused_and_records_nothing(
    db: Database, runtime: AgentRuntime
) -> None:
    task = make_task(db, make_phase(db, make_initiative(db)))
    session = chat.start_session(db, "task", task.id).session
    agents = ChatAgents(runtime)
    with pytest.raises(Exception, match="unknown provider"):
        agents.send(session.id, "hello", provider="nope")
    with pytest.raises(Exception, match="empty"):
        agents.send(session.id, "  ")
    assert db.chat_sessions.find_messages_by_session_id(session.id) == []
    assert db.agents.find_all() == []
    sent = agents.send(session.id, scenario({"sleep": 30}))
    with pytest.raises(Exception, match="still answering"):
        agents.send(session.id, "and another thing")
    assert [m.id for m in db.chat_sessions.find_messages_by_session_id(session.id)] == [
        sent.message.id
    ]
    runtime.stop(sent.agent.name)


def test_a_reply_missed_while_no_coordinator_listened_is_recorded_at_the_next_start(
    db: Database, runtime: AgentRuntime
) -> None:
    task = make_task(db, make_phase(db, make_initiative(db)), name="Sketch")
    session = chat.start_session(db, "task", task.id).session
    agents = ChatAgents(runtime)
    runtime.end_listeners.remove(agents.on_agent_end)  # as if the coordinator had died
    change = {"action": "update", "entity": "task", "id": task.id, "fields": {"name": "Draw"}}
    sent = agents.send(session.id, scenario({"change": change}, {"done": "Renamed."}))
    wait_for(db, sent.agent.id, lambda a: a.status == AgentStatus.IDLE)
    assert chat.replies_after(db, session.id, sent.message.id) == []

    assert ChatAgents(runtime).catch_up() == 1
    [reply] = chat.replies_after(db, session.id, sent.message.id)
    assert reply.content == "Renamed." and reply.change_set_id
    assert db.tasks.find_by_id(task.id).name == "Draw"  # type: ignore[union-attr]
    assert ChatAgents(runtime).catch_up() == 0  # once
