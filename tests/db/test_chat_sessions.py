"""Chat sessions for refining a phase or task, and their messages (seed: ``chat_sessions``,
``chat_messages``, ``ChatSessionRepository``)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa

from codewalkers.db import (
    ChatRole,
    ChatSession,
    ChatSessionStatus,
    ChatTargetType,
    Database,
    Initiative,
    NotFoundError,
    ReferenceNotFoundError,
    ValidationError,
)
from codewalkers.db.schema import chat_messages, chat_sessions
from tests.factories import make_agent, make_initiative, make_phase, make_task


def make_session(db: Database, initiative: Initiative | None = None, **fields: Any) -> ChatSession:
    initiative = initiative or make_initiative(db)
    if "target_id" not in fields:
        fields["target_id"] = make_phase(db, initiative).id
    return db.chat_sessions.create_session(
        **{"target_type": "phase", "initiative_id": initiative.id, **fields}
    )


def count(db: Database, table: sa.Table) -> int:
    with db.engine.connect() as connection:
        return int(connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


@pytest.fixture
def frozen_wall_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every write the database layer makes happens within the same wall-clock millisecond."""
    fixed = 1_750_000_000_000 * 1_000_000
    monkeypatch.setattr("codewalkers.db.types.time", SimpleNamespace(time_ns=lambda: fixed))


# --- sessions -----------------------------------------------------------------------------


def test_create_session_starts_an_active_session(db: Database) -> None:
    initiative = make_initiative(db)
    phase = make_phase(db, initiative)

    session = db.chat_sessions.create_session(
        target_type="phase", target_id=phase.id, initiative_id=initiative.id
    )

    assert len(session.id) == 21
    assert session.target_type == "phase"
    assert session.target_type is ChatTargetType.PHASE
    assert session.target_id == phase.id
    assert session.initiative_id == initiative.id
    assert session.agent_id is None
    assert session.status == "active"
    assert session.status is ChatSessionStatus.ACTIVE
    assert session.updated_at == session.created_at
    assert db.chat_sessions.find_by_id(session.id) == session


def test_a_session_may_be_about_a_task_and_linked_to_an_agent(db: Database) -> None:
    initiative = make_initiative(db)
    task = make_task(db, initiative_id=initiative.id)
    agent = make_agent(db)

    session = make_session(
        db, initiative, target_type=ChatTargetType.TASK, target_id=task.id, agent_id=agent.id
    )

    assert session.target_type == "task"
    assert session.agent_id == agent.id


def test_a_session_needs_target_and_initiative(db: Database) -> None:
    initiative = make_initiative(db)
    complete = {"target_type": "phase", "target_id": "p", "initiative_id": initiative.id}

    for missing in complete:
        with pytest.raises(ValidationError):
            db.chat_sessions.create_session(**{k: v for k, v in complete.items() if k != missing})

    assert count(db, chat_sessions) == 0


def test_a_session_of_an_unknown_initiative_or_agent_is_refused(db: Database) -> None:
    initiative = make_initiative(db)

    with pytest.raises(ReferenceNotFoundError):
        make_session(db, initiative, initiative_id="no-such-initiative")
    with pytest.raises(ReferenceNotFoundError):
        make_session(db, initiative, agent_id="no-such-agent")

    assert count(db, chat_sessions) == 0


def test_target_type_must_be_phase_or_task(db: Database) -> None:
    with pytest.raises(ValidationError):
        make_session(db, target_type="page")

    assert count(db, chat_sessions) == 0


def test_status_must_be_active_or_closed(db: Database) -> None:
    session = make_session(db)

    with pytest.raises(ValidationError):
        db.chat_sessions.update_session(session.id, status="archived")

    assert db.chat_sessions.find_by_id(session.id) == session


def test_update_session_closes_it_and_stamps_updated_at(db: Database) -> None:
    session = make_session(db)

    closed = db.chat_sessions.update_session(session.id, status="closed")

    assert closed.status == ChatSessionStatus.CLOSED
    assert closed.updated_at > session.updated_at
    assert closed.created_at == session.created_at
    assert db.chat_sessions.find_by_id(session.id) == closed


def test_update_session_links_an_agent(db: Database) -> None:
    session = make_session(db)
    agent = make_agent(db)

    assert db.chat_sessions.update_session(session.id, agent_id=agent.id).agent_id == agent.id


def test_update_session_of_an_unknown_session_raises_not_found(db: Database) -> None:
    with pytest.raises(NotFoundError):
        db.chat_sessions.update_session("no-such-session", status="closed")


def test_a_session_keeps_its_target(db: Database) -> None:
    session = make_session(db)

    with pytest.raises(ValidationError):
        db.chat_sessions.update_session(session.id, target_id="elsewhere")

    assert db.chat_sessions.find_by_id(session.id) == session


@pytest.mark.parametrize(
    ("table", "column"),
    [(chat_sessions, "target_type"), (chat_sessions, "status"), (chat_messages, "role")],
)
def test_the_database_itself_enforces_the_enums(db: Database, table: sa.Table, column: str) -> None:
    session = make_session(db)
    message = db.chat_sessions.create_message(chat_session_id=session.id, role="user", content="hi")
    id = session.id if table is chat_sessions else message.id

    with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as connection:
        connection.execute(
            sa.text(f"UPDATE {table.name} SET {column} = 'bogus' WHERE id = :id"), {"id": id}
        )

    assert db.chat_sessions.find_by_id(session.id) == session
    assert db.chat_sessions.find_messages_by_session_id(session.id) == [message]


# --- finding the active session -----------------------------------------------------------


def test_find_active_session_finds_the_targets_active_session(db: Database) -> None:
    initiative = make_initiative(db)
    phase = make_phase(db, initiative)
    session = make_session(db, initiative, target_id=phase.id)
    make_session(db, initiative)  # another phase

    assert db.chat_sessions.find_active_session("phase", phase.id) == session
    assert db.chat_sessions.find_active_session(ChatTargetType.PHASE, phase.id) == session


def test_find_active_session_ignores_closed_sessions(db: Database) -> None:
    initiative = make_initiative(db)
    phase = make_phase(db, initiative)
    session = make_session(db, initiative, target_id=phase.id)
    db.chat_sessions.update_session(session.id, status="closed")

    assert db.chat_sessions.find_active_session("phase", phase.id) is None

    reopened = make_session(db, initiative, target_id=phase.id)
    assert db.chat_sessions.find_active_session("phase", phase.id) == reopened


def test_find_active_session_matches_the_target_type_too(db: Database) -> None:
    initiative = make_initiative(db)
    make_session(db, initiative, target_type="phase", target_id="same-id")

    assert db.chat_sessions.find_active_session("task", "same-id") is None


def test_find_active_session_of_an_unknown_target_is_none(db: Database) -> None:
    make_session(db)

    assert db.chat_sessions.find_active_session("phase", "no-such-phase") is None


def test_find_active_session_refuses_an_unknown_target_type(db: Database) -> None:
    with pytest.raises(ValidationError):
        db.chat_sessions.find_active_session("page", "x")


def test_find_active_session_by_agent_id(db: Database) -> None:
    initiative = make_initiative(db)
    agent, other = make_agent(db), make_agent(db)
    closed = make_session(db, initiative, agent_id=agent.id)
    db.chat_sessions.update_session(closed.id, status="closed")
    active = make_session(db, initiative, agent_id=agent.id)
    make_session(db, initiative, agent_id=other.id)

    assert db.chat_sessions.find_active_session_by_agent_id(agent.id) == active

    db.chat_sessions.update_session(active.id, status="closed")
    assert db.chat_sessions.find_active_session_by_agent_id(agent.id) is None
    assert db.chat_sessions.find_active_session_by_agent_id("no-such-agent") is None


def test_find_by_initiative_id_lists_the_initiatives_sessions(db: Database) -> None:
    initiative = make_initiative(db)
    first = make_session(db, initiative)
    second = make_session(db, initiative)
    make_session(db)

    assert db.chat_sessions.find_by_initiative_id(initiative.id) == [first, second]


# --- messages -----------------------------------------------------------------------------


def test_create_message_adds_a_message_to_the_session(db: Database) -> None:
    session = make_session(db)

    message = db.chat_sessions.create_message(
        chat_session_id=session.id, role="user", content="Split this phase in two."
    )

    assert len(message.id) == 21
    assert message.chat_session_id == session.id
    assert message.role == "user"
    assert message.role is ChatRole.USER
    assert message.content == "Split this phase in two."
    assert message.change_set_id is None
    assert message.created_at.tzinfo is not None
    assert db.chat_sessions.find_messages_by_session_id(session.id) == [message]


def test_an_assistant_message_links_its_change_set(db: Database) -> None:
    session = make_session(db)
    change_set = db.change_sets.create(initiative_id=session.initiative_id)

    message = db.chat_sessions.create_message(
        chat_session_id=session.id,
        role=ChatRole.ASSISTANT,
        content="Done.",
        change_set_id=change_set.id,
    )

    assert message.change_set_id == change_set.id


def test_messages_come_back_in_the_order_they_were_written(db: Database) -> None:
    session = make_session(db)
    roles = ["user", "assistant", "system"]

    written = [
        db.chat_sessions.create_message(
            chat_session_id=session.id, role=roles[i % 3], content=f"message {i}"
        )
        for i in range(60)
    ]

    assert db.chat_sessions.find_messages_by_session_id(session.id) == written


def test_messages_written_within_one_millisecond_keep_their_order(
    db: Database, frozen_wall_clock: None
) -> None:
    session = make_session(db)

    written = [
        db.chat_sessions.create_message(chat_session_id=session.id, role="user", content=str(i))
        for i in range(30)
    ]

    assert db.chat_sessions.find_messages_by_session_id(session.id) == written


def test_find_messages_by_session_id_returns_only_that_sessions_messages(db: Database) -> None:
    mine, theirs = make_session(db), make_session(db)
    message = db.chat_sessions.create_message(chat_session_id=mine.id, role="user", content="a")
    db.chat_sessions.create_message(chat_session_id=theirs.id, role="user", content="b")

    assert db.chat_sessions.find_messages_by_session_id(mine.id) == [message]
    assert db.chat_sessions.find_messages_by_session_id("no-such-session") == []


def test_role_must_be_user_assistant_or_system(db: Database) -> None:
    session = make_session(db)

    with pytest.raises(ValidationError):
        db.chat_sessions.create_message(chat_session_id=session.id, role="agent", content="x")

    assert db.chat_sessions.find_messages_by_session_id(session.id) == []


def test_a_message_needs_role_and_content(db: Database) -> None:
    session = make_session(db)

    with pytest.raises(ValidationError):
        db.chat_sessions.create_message(chat_session_id=session.id, content="x")
    with pytest.raises(ValidationError):
        db.chat_sessions.create_message(chat_session_id=session.id, role="user")

    assert count(db, chat_messages) == 0


def test_a_message_in_an_unknown_session_or_change_set_is_refused(db: Database) -> None:
    session = make_session(db)

    with pytest.raises(ReferenceNotFoundError):
        db.chat_sessions.create_message(chat_session_id="no-such", role="user", content="x")
    with pytest.raises(ReferenceNotFoundError):
        db.chat_sessions.create_message(
            chat_session_id=session.id, role="assistant", content="x", change_set_id="no-such"
        )

    assert count(db, chat_messages) == 0


# --- cascades and set-null ----------------------------------------------------------------


def test_deleting_a_session_deletes_its_messages(db: Database) -> None:
    doomed, kept = make_session(db), make_session(db)
    for i in range(3):
        db.chat_sessions.create_message(chat_session_id=doomed.id, role="user", content=str(i))
    survivor = db.chat_sessions.create_message(chat_session_id=kept.id, role="user", content="k")

    # The port has no delete: the rule under test is the foreign key's ON DELETE CASCADE.
    with db.engine.begin() as connection:
        connection.execute(sa.delete(chat_sessions).where(chat_sessions.c.id == doomed.id))

    assert db.chat_sessions.find_by_id(doomed.id) is None
    assert db.chat_sessions.find_messages_by_session_id(doomed.id) == []
    assert count(db, chat_messages) == 1
    assert db.chat_sessions.find_messages_by_session_id(kept.id) == [survivor]


def test_deleting_an_initiative_deletes_its_sessions_and_their_messages(db: Database) -> None:
    doomed, other = make_initiative(db), make_initiative(db)
    session = make_session(db, doomed)
    db.chat_sessions.create_message(chat_session_id=session.id, role="user", content="x")
    kept = make_session(db, other)

    db.initiatives.delete(doomed.id)

    assert db.chat_sessions.find_by_initiative_id(doomed.id) == []
    assert db.chat_sessions.find_by_initiative_id(other.id) == [kept]
    assert count(db, chat_sessions) == 1
    assert count(db, chat_messages) == 0


def test_deleting_a_change_set_unlinks_its_messages(db: Database) -> None:
    session = make_session(db)
    change_set = db.change_sets.create(initiative_id=session.initiative_id)
    message = db.chat_sessions.create_message(
        chat_session_id=session.id, role="assistant", content="Done.", change_set_id=change_set.id
    )

    db.change_sets.delete(change_set.id)

    [after] = db.chat_sessions.find_messages_by_session_id(session.id)
    assert after.change_set_id is None
    assert after.id == message.id
    assert after.content == message.content


def test_deleting_an_agent_unlinks_its_sessions(db: Database) -> None:
    agent = make_agent(db)
    session = make_session(db, agent_id=agent.id)

    db.agents.delete(agent.id)

    after = db.chat_sessions.find_by_id(session.id)
    assert after is not None
    assert after.agent_id is None
    assert after.status == ChatSessionStatus.ACTIVE
    assert db.chat_sessions.find_active_session_by_agent_id(agent.id) is None


def test_find_active_session_prefers_the_newest_of_several_active(db: Database) -> None:
    initiative = make_initiative(db)
    phase = make_phase(db, initiative)
    make_session(db, initiative, target_id=phase.id)
    newest = make_session(db, initiative, target_id=phase.id)

    assert db.chat_sessions.find_active_session("phase", phase.id) == newest
