"""Agents: the seed's ``agents`` table and ``AgentRepository`` (find_by_name, find_by_task_id,
find_by_session_id, find_by_status), its defaults, its unique name, its JSON columns, and what
happens to the rows around an agent when it, its account, task or initiative is deleted.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

import pytest

from codewalkers.db import (
    Agent,
    AgentMode,
    AgentStatus,
    ConflictError,
    Database,
    NotFoundError,
    ReferenceNotFoundError,
    ValidationError,
)
from codewalkers.db.ids import ADJECTIVES, ANIMALS
from tests.factories import (
    make_account,
    make_agent,
    make_conversation,
    make_initiative,
    make_task,
)

NAME = re.compile(r"^(?P<adjective>[a-z]+)-(?P<animal>[a-z]+)(-\d+)?$")


# --- create and defaults --------------------------------------------------------------------


def test_a_new_agent_is_idle_in_execute_mode_on_claude(db: Database) -> None:
    agent = db.agents.create(name="solo")

    assert agent.status == "idle"
    assert agent.status is AgentStatus.IDLE
    assert agent.mode == "execute"
    assert agent.mode is AgentMode.EXECUTE
    assert agent.provider == "claude"
    for optional in (
        "task_id",
        "initiative_id",
        "session_id",
        "account_id",
        "pid",
        "exit_code",
        "output_file_path",
        "result",
        "pending_questions",
        "user_dismissed_at",
    ):
        assert getattr(agent, optional) is None, optional


def test_an_agent_gets_an_id_and_timestamps(db: Database) -> None:
    agent = make_agent(db)

    assert isinstance(agent, Agent)
    assert len(agent.id) == 21
    assert agent.created_at.tzinfo is not None
    assert agent.created_at.utcoffset() == UTC.utcoffset(None)
    assert agent.updated_at == agent.created_at


def test_an_agent_round_trips(db: Database) -> None:
    initiative = make_initiative(db)
    task = make_task(db)
    account = make_account(db)
    dismissed = datetime(2025, 3, 4, 5, 6, 7, 123000, tzinfo=UTC)
    agent = db.agents.create(
        name="full-agent",
        task_id=task.id,
        initiative_id=initiative.id,
        session_id="session-1",
        worktree_id="/tmp/worktrees/full",
        provider="codex",
        account_id=account.id,
        status="running",
        mode="plan",
        pid=4242,
        exit_code=0,
        output_file_path="/tmp/out.jsonl",
        result={"ok": True},
        pending_questions=[{"q": "why?"}],
        user_dismissed_at=dismissed,
    )

    assert db.agents.find_by_id(agent.id) == agent
    assert agent.status is AgentStatus.RUNNING
    assert agent.mode is AgentMode.PLAN
    assert agent.provider == "codex"
    assert agent.worktree_id == "/tmp/worktrees/full"
    assert agent.user_dismissed_at == dismissed
    assert db.agents.find_all() == [agent]


def test_an_agent_created_without_a_name_gets_an_adjective_animal_name(db: Database) -> None:
    agent = db.agents.create()

    match = NAME.match(agent.name)
    assert match, agent.name
    assert match["adjective"] in ADJECTIVES
    assert match["animal"] in ANIMALS


def test_an_agent_created_with_name_none_gets_a_generated_name(db: Database) -> None:
    agent = db.agents.create(name=None)

    assert NAME.match(agent.name), agent.name


def test_generated_agent_names_are_unique(db: Database) -> None:
    agents = [db.agents.create() for _ in range(60)]

    names = [agent.name for agent in agents]
    assert len(set(names)) == len(names)
    assert all(NAME.match(name) for name in names)


def test_the_worktree_defaults_to_the_generated_name(db: Database) -> None:
    agent = db.agents.create()

    assert agent.worktree_id == agent.name


def test_the_worktree_defaults_to_the_given_name(db: Database) -> None:
    agent = db.agents.create(name="brave-otter")

    assert agent.worktree_id == "brave-otter"


def test_a_given_worktree_is_kept_with_a_generated_name(db: Database) -> None:
    agent = db.agents.create(worktree_id="/work/trees/abc")

    assert agent.worktree_id == "/work/trees/abc"
    assert NAME.match(agent.name)


def test_a_duplicate_agent_name_is_a_conflict_and_changes_nothing(db: Database) -> None:
    first = db.agents.create(name="calm-heron", session_id="s1")

    with pytest.raises(ConflictError):
        db.agents.create(name="calm-heron", session_id="s2")

    assert db.agents.find_all() == [first]
    assert db.agents.find_by_session_id("s2") is None


def test_renaming_an_agent_to_a_taken_name_is_a_conflict(db: Database) -> None:
    db.agents.create(name="taken")
    other = db.agents.create(name="other")

    with pytest.raises(ConflictError):
        db.agents.update(other.id, name="taken")

    assert db.agents.find_by_id(other.id) == other


@pytest.mark.parametrize("name", ["", "   "])
def test_a_blank_agent_name_is_refused(db: Database, name: str) -> None:
    with pytest.raises(ValidationError):
        db.agents.create(name=name)
    assert db.agents.find_all() == []


@pytest.mark.parametrize(
    ("field", "value"),
    [("status", "bogus"), ("mode", "sleep"), ("pid", "123"), ("unknown_field", 1)],
)
def test_an_agent_with_a_bad_field_is_refused(db: Database, field: str, value: object) -> None:
    with pytest.raises(ValidationError):
        db.agents.create(name="bad", **{field: value})
    assert db.agents.find_all() == []


def test_an_agent_for_a_missing_task_is_refused(db: Database) -> None:
    with pytest.raises(ReferenceNotFoundError):
        db.agents.create(name="lost", task_id="no-such-task-000000000")
    assert db.agents.find_all() == []


# --- update and delete ----------------------------------------------------------------------


def test_updating_an_agent_returns_the_stored_row_and_bumps_updated_at(db: Database) -> None:
    agent = make_agent(db)

    updated = db.agents.update(agent.id, status="running", pid=99, session_id="sess")

    assert updated.status is AgentStatus.RUNNING
    assert updated.pid == 99
    assert updated.session_id == "sess"
    assert updated.name == agent.name
    assert updated.created_at == agent.created_at
    assert updated.updated_at > agent.updated_at
    assert db.agents.find_by_id(agent.id) == updated


def test_updating_a_missing_agent_is_not_found(db: Database) -> None:
    with pytest.raises(NotFoundError):
        db.agents.update("no-such-agent-00000000", status="running")


def test_an_update_with_a_bad_status_changes_nothing(db: Database) -> None:
    agent = make_agent(db)

    with pytest.raises(ValidationError):
        db.agents.update(agent.id, status="bogus")

    assert db.agents.find_by_id(agent.id) == agent


def test_deleting_an_agent_removes_it(db: Database) -> None:
    agent = make_agent(db)
    kept = make_agent(db)

    db.agents.delete(agent.id)

    assert db.agents.find_by_id(agent.id) is None
    assert db.agents.find_all() == [kept]


def test_deleting_a_missing_agent_is_not_found(db: Database) -> None:
    with pytest.raises(NotFoundError):
        db.agents.delete("no-such-agent-00000000")


# --- finders --------------------------------------------------------------------------------


def test_find_by_name(db: Database) -> None:
    agent = db.agents.create(name="swift-falcon")
    make_agent(db)

    assert db.agents.find_by_name("swift-falcon") == agent
    assert db.agents.find_by_name("slow-falcon") is None


def test_find_by_task_id(db: Database) -> None:
    task = make_task(db)
    other_task = make_task(db)
    agent = make_agent(db, task_id=task.id)
    make_agent(db, task_id=other_task.id)

    assert db.agents.find_by_task_id(task.id) == agent
    assert db.agents.find_by_task_id(make_task(db).id) is None


def test_find_by_task_id_returns_the_newest_agent_of_the_task(db: Database) -> None:
    task = make_task(db)
    make_agent(db, task_id=task.id, status="crashed")
    newest = make_agent(db, task_id=task.id)

    assert db.agents.find_by_task_id(task.id) == newest


def test_find_by_session_id(db: Database) -> None:
    agent = make_agent(db, session_id="cli-session-7")
    make_agent(db, session_id="cli-session-8")
    make_agent(db)

    assert db.agents.find_by_session_id("cli-session-7") == agent
    assert db.agents.find_by_session_id("cli-session-9") is None


def test_find_by_status_returns_matching_agents_oldest_first(db: Database) -> None:
    first = make_agent(db, status="running")
    make_agent(db)
    second = make_agent(db, status="running")
    make_agent(db, status="crashed")

    assert db.agents.find_by_status("running") == [first, second]
    assert db.agents.find_by_status(AgentStatus.RUNNING) == [first, second]
    assert db.agents.find_by_status("waiting_for_input") == []


def test_find_by_status_with_an_unknown_status_is_a_validation_error(db: Database) -> None:
    with pytest.raises(ValidationError):
        db.agents.find_by_status("asleep")


# --- JSON columns ---------------------------------------------------------------------------

JSON_VALUES = [
    {"summary": "done", "files": ["a.py", "b.py"], "nested": {"n": 1, "pi": 3.5, "x": None}},
    [1, "two", 3.0, True, None, {"k": []}],
    "just a string",
    42,
    0.25,
    True,
    {"unicode": "héllo ✓ 日本", "empty": {}},
]


@pytest.mark.parametrize("value", JSON_VALUES)
def test_result_and_pending_questions_round_trip_as_python_values(
    db: Database, value: object
) -> None:
    agent = make_agent(db, result=value, pending_questions=value)

    stored = db.agents.find_by_id(agent.id)
    assert stored is not None
    assert stored.result == value
    assert stored.pending_questions == value
    assert type(stored.result) is type(value)


def test_json_columns_can_be_set_and_cleared_by_update(db: Database) -> None:
    agent = make_agent(db)

    updated = db.agents.update(agent.id, pending_questions=[{"question": "Which DB?"}])
    assert updated.pending_questions == [{"question": "Which DB?"}]

    cleared = db.agents.update(agent.id, pending_questions=None)
    assert cleared.pending_questions is None
    stored = db.agents.find_by_id(agent.id)
    assert stored is not None and stored.pending_questions is None


@pytest.mark.parametrize(
    "bad",
    [
        math.nan,
        {"score": math.inf},
        [1, -math.inf],
        {1: "non-string key"},
        {"nested": {(1, 2): "tuple key"}},
        {1, 2, 3},
        {"s": {1}},
        object(),
        b"bytes",
    ],
    ids=["nan", "inf", "-inf", "int-key", "tuple-key", "set", "nested-set", "object", "bytes"],
)
@pytest.mark.parametrize("column", ["result", "pending_questions"])
def test_bad_json_is_a_validation_error(db: Database, column: str, bad: object) -> None:
    with pytest.raises(ValidationError):
        db.agents.create(name="json", **{column: bad})
    assert db.agents.find_all() == []

    agent = make_agent(db, **{column: {"ok": 1}})
    with pytest.raises(ValidationError):
        db.agents.update(agent.id, **{column: bad})
    assert db.agents.find_by_id(agent.id) == agent


# --- what deleting an agent does around it --------------------------------------------------


def test_deleting_an_agent_deletes_the_conversations_it_started(db: Database) -> None:
    asker = make_agent(db)
    other = make_agent(db)
    conversation = make_conversation(db, from_agent_id=asker.id, to_agent_id=other.id)
    kept = make_conversation(db, from_agent_id=other.id, to_agent_id=make_agent(db).id)

    db.agents.delete(asker.id)

    assert db.conversations.find_by_id(conversation.id) is None
    assert db.conversations.find_by_id(kept.id) == kept


def test_deleting_an_agent_deletes_the_conversations_addressed_to_it(db: Database) -> None:
    asker = make_agent(db)
    answerer = make_agent(db)
    conversation = make_conversation(db, from_agent_id=asker.id, to_agent_id=answerer.id)

    db.agents.delete(answerer.id)

    assert db.conversations.find_by_id(conversation.id) is None
    assert db.conversations.find_by_from_agent_id(asker.id) == []
    assert db.agents.find_by_id(asker.id) is not None


def test_deleting_an_agent_deletes_its_proposals(db: Database) -> None:
    initiative = make_initiative(db)
    agent = make_agent(db)
    other = make_agent(db)
    proposal = db.proposals.create(
        agent_id=agent.id, initiative_id=initiative.id, target_type="page", title="Intro"
    )
    kept = db.proposals.create(
        agent_id=other.id, initiative_id=initiative.id, target_type="task", title="Keep"
    )

    db.agents.delete(agent.id)

    assert db.proposals.find_by_id(proposal.id) is None
    assert db.proposals.find_by_id(kept.id) == kept


def test_deleting_an_agent_keeps_its_messages_without_sender_or_recipient(
    db: Database,
) -> None:
    agent = make_agent(db)
    sent = db.messages.create(
        sender_type="agent", sender_id=agent.id, recipient_type="user", content="Need input"
    )
    received = db.messages.create(
        sender_type="user", recipient_type="agent", recipient_id=agent.id, content="Go on"
    )

    db.agents.delete(agent.id)

    stored_sent = db.messages.find_by_id(sent.id)
    stored_received = db.messages.find_by_id(received.id)
    assert stored_sent is not None and stored_received is not None
    assert stored_sent.sender_id is None
    assert stored_sent.content == "Need input"
    assert stored_received.recipient_id is None
    assert stored_received.content == "Go on"


def test_deleting_an_agent_unlinks_its_chat_sessions(db: Database) -> None:
    initiative = make_initiative(db)
    task = make_task(db, initiative_id=initiative.id)
    agent = make_agent(db)
    session = db.chat_sessions.create_session(
        target_type="task", target_id=task.id, initiative_id=initiative.id, agent_id=agent.id
    )

    db.agents.delete(agent.id)

    stored = db.chat_sessions.find_by_id(session.id)
    assert stored is not None
    assert stored.agent_id is None
    assert stored.status == "active"


def test_deleting_an_account_unlinks_its_agents(db: Database) -> None:
    account = make_account(db)
    agent = make_agent(db, account_id=account.id)

    db.accounts.delete(account.id)

    stored = db.agents.find_by_id(agent.id)
    assert stored is not None
    assert stored.account_id is None
    assert stored.name == agent.name


def test_deleting_an_initiative_unlinks_its_agents(db: Database) -> None:
    initiative = make_initiative(db)
    agent = make_agent(db, initiative_id=initiative.id)

    db.initiatives.delete(initiative.id)

    stored = db.agents.find_by_id(agent.id)
    assert stored is not None
    assert stored.initiative_id is None


def test_deleting_a_task_unlinks_its_agents(db: Database) -> None:
    task = make_task(db)
    agent = make_agent(db, task_id=task.id)

    db.tasks.delete(task.id)

    stored = db.agents.find_by_id(agent.id)
    assert stored is not None
    assert stored.task_id is None
    assert db.agents.find_by_task_id(task.id) is None
