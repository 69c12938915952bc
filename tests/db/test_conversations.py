"""Conversations: the seed's ``conversations`` table (one agent's question to another) and
``ConversationRepository`` (create, find_by_id, find_pending_for_agent, answer).
"""

from __future__ import annotations

import threading

import pytest

from codewalkers.db import (
    ConflictError,
    Conversation,
    ConversationStatus,
    Database,
    NotFoundError,
    ReferenceNotFoundError,
    ValidationError,
)
from tests.factories import (
    make_agent,
    make_conversation,
    make_initiative,
    make_phase,
    make_task,
)

MISSING = "no-such-conversation00"


# --- create ---------------------------------------------------------------------------------


def test_a_new_conversation_is_pending_without_an_answer(db: Database) -> None:
    asker = make_agent(db)
    answerer = make_agent(db)

    conversation = db.conversations.create(
        from_agent_id=asker.id, to_agent_id=answerer.id, question="Which port?"
    )

    assert isinstance(conversation, Conversation)
    assert len(conversation.id) == 21
    assert conversation.status == "pending"
    assert conversation.status is ConversationStatus.PENDING
    assert conversation.answer is None
    assert conversation.from_agent_id == asker.id
    assert conversation.to_agent_id == answerer.id
    assert conversation.question == "Which port?"
    assert conversation.initiative_id is None
    assert conversation.phase_id is None
    assert conversation.task_id is None
    assert conversation.created_at.tzinfo is not None
    assert conversation.updated_at == conversation.created_at


def test_find_by_id(db: Database) -> None:
    conversation = make_conversation(db)

    assert db.conversations.find_by_id(conversation.id) == conversation
    assert db.conversations.find_by_id(MISSING) is None


def test_a_conversation_can_name_its_initiative_phase_and_task(db: Database) -> None:
    initiative = make_initiative(db)
    phase = make_phase(db, initiative)
    task = make_task(db, phase)

    conversation = make_conversation(
        db, initiative_id=initiative.id, phase_id=phase.id, task_id=task.id
    )

    stored = db.conversations.find_by_id(conversation.id)
    assert stored is not None
    assert (stored.initiative_id, stored.phase_id, stored.task_id) == (
        initiative.id,
        phase.id,
        task.id,
    )


@pytest.mark.parametrize("missing", ["from_agent_id", "to_agent_id"])
def test_a_conversation_with_a_missing_agent_is_refused(db: Database, missing: str) -> None:
    with pytest.raises(ReferenceNotFoundError):
        make_conversation(db, **{missing: "no-such-agent-00000000"})
    assert db.conversations.find_all() == []


@pytest.mark.parametrize("missing", ["initiative_id", "phase_id", "task_id"])
def test_a_conversation_about_a_missing_entity_is_refused(db: Database, missing: str) -> None:
    asker, answerer = make_agent(db), make_agent(db)

    with pytest.raises(ReferenceNotFoundError):
        make_conversation(
            db, from_agent_id=asker.id, to_agent_id=answerer.id, **{missing: "nope-00000000000000"}
        )
    assert db.conversations.find_all() == []


@pytest.mark.parametrize(
    "fields",
    [{"question": ""}, {"question": None}, {"status": "closed"}, {"colour": "blue"}],
    ids=["blank-question", "no-question", "bad-status", "unknown-field"],
)
def test_a_bad_conversation_is_refused(db: Database, fields: dict[str, object]) -> None:
    asker, answerer = make_agent(db), make_agent(db)

    with pytest.raises(ValidationError):
        db.conversations.create(
            **{"from_agent_id": asker.id, "to_agent_id": answerer.id, "question": "q?", **fields}
        )
    assert db.conversations.find_all() == []


def test_a_conversation_needs_both_agents(db: Database) -> None:
    asker = make_agent(db)

    with pytest.raises(ValidationError):
        db.conversations.create(from_agent_id=asker.id, question="Anyone?")
    assert db.conversations.find_all() == []


# --- finders --------------------------------------------------------------------------------


def test_find_pending_for_agent_returns_only_pending_questions_to_it_oldest_first(
    db: Database,
) -> None:
    me, asker, other = make_agent(db), make_agent(db), make_agent(db)
    first = make_conversation(db, from_agent_id=asker.id, to_agent_id=me.id, question="1?")
    make_conversation(db, from_agent_id=asker.id, to_agent_id=other.id, question="not me")
    make_conversation(db, from_agent_id=me.id, to_agent_id=asker.id, question="mine")
    answered = make_conversation(db, from_agent_id=other.id, to_agent_id=me.id, question="2?")
    db.conversations.answer(answered.id, "done")
    third = make_conversation(db, from_agent_id=other.id, to_agent_id=me.id, question="3?")

    assert db.conversations.find_pending_for_agent(me.id) == [first, third]


def test_find_pending_for_agent_is_empty_when_nothing_waits(db: Database) -> None:
    agent = make_agent(db)

    assert db.conversations.find_pending_for_agent(agent.id) == []
    assert db.conversations.find_pending_for_agent("no-such-agent-00000000") == []


def test_find_by_from_agent_id_returns_what_the_agent_asked_oldest_first(db: Database) -> None:
    asker, other, third = make_agent(db), make_agent(db), make_agent(db)
    first = make_conversation(db, from_agent_id=asker.id, to_agent_id=other.id)
    make_conversation(db, from_agent_id=other.id, to_agent_id=asker.id)
    second = make_conversation(db, from_agent_id=asker.id, to_agent_id=third.id)
    second = db.conversations.answer(second.id, "yes")

    assert db.conversations.find_by_from_agent_id(asker.id) == [first, second]
    assert db.conversations.find_by_from_agent_id(third.id) == []


# --- answer ---------------------------------------------------------------------------------


def test_answer_sets_the_answer_and_marks_it_answered(db: Database) -> None:
    conversation = make_conversation(db)

    answered = db.conversations.answer(conversation.id, "Use port 8080.")

    assert answered.answer == "Use port 8080."
    assert answered.status is ConversationStatus.ANSWERED
    assert answered.question == conversation.question
    assert answered.created_at == conversation.created_at
    assert answered.updated_at > conversation.updated_at
    assert db.conversations.find_by_id(conversation.id) == answered


def test_answering_twice_is_a_conflict_and_the_first_answer_stays(db: Database) -> None:
    conversation = make_conversation(db)
    first = db.conversations.answer(conversation.id, "first")

    with pytest.raises(ConflictError):
        db.conversations.answer(conversation.id, "second")

    assert db.conversations.find_by_id(conversation.id) == first


def test_answering_a_missing_conversation_is_not_found(db: Database) -> None:
    with pytest.raises(NotFoundError):
        db.conversations.answer(MISSING, "hello?")


def test_an_answer_must_be_text(db: Database) -> None:
    conversation = make_conversation(db)

    with pytest.raises(ValidationError):
        db.conversations.answer(conversation.id, None)  # type: ignore[arg-type]

    assert db.conversations.find_by_id(conversation.id) == conversation


def test_an_answered_conversation_is_no_longer_pending(db: Database) -> None:
    conversation = make_conversation(db)

    db.conversations.answer(conversation.id, "ok")

    assert db.conversations.find_pending_for_agent(conversation.to_agent_id) == []


# --- standard CRUD --------------------------------------------------------------------------


def test_find_all_lists_conversations_oldest_first(db: Database) -> None:
    first = make_conversation(db)
    second = make_conversation(db)

    assert db.conversations.find_all() == [first, second]


def test_update_and_delete(db: Database) -> None:
    conversation = make_conversation(db)

    updated = db.conversations.update(conversation.id, question="Rephrased?")
    assert updated.question == "Rephrased?"
    assert db.conversations.find_by_id(conversation.id) == updated

    db.conversations.delete(conversation.id)
    assert db.conversations.find_by_id(conversation.id) is None


def test_updating_or_deleting_a_missing_conversation_is_not_found(db: Database) -> None:
    with pytest.raises(NotFoundError):
        db.conversations.update(MISSING, question="x?")
    with pytest.raises(NotFoundError):
        db.conversations.delete(MISSING)


# --- what deleting the things it names does -------------------------------------------------


def test_deleting_its_task_keeps_the_conversation_without_a_task(db: Database) -> None:
    task = make_task(db)
    conversation = make_conversation(db, task_id=task.id, phase_id=task.phase_id)

    db.tasks.delete(task.id)

    stored = db.conversations.find_by_id(conversation.id)
    assert stored is not None
    assert stored.task_id is None
    assert stored.phase_id == task.phase_id
    assert stored.question == conversation.question


def test_deleting_its_phase_keeps_the_conversation_without_a_phase(db: Database) -> None:
    initiative = make_initiative(db)
    phase = make_phase(db, initiative)
    conversation = make_conversation(db, phase_id=phase.id, initiative_id=initiative.id)

    db.phases.delete(phase.id)

    stored = db.conversations.find_by_id(conversation.id)
    assert stored is not None
    assert stored.phase_id is None
    assert stored.initiative_id == initiative.id


def test_deleting_its_initiative_keeps_the_conversation_without_one(db: Database) -> None:
    initiative = make_initiative(db)
    phase = make_phase(db, initiative)
    task = make_task(db, phase)
    conversation = make_conversation(
        db, initiative_id=initiative.id, phase_id=phase.id, task_id=task.id
    )

    db.initiatives.delete(initiative.id)

    stored = db.conversations.find_by_id(conversation.id)
    assert stored is not None
    assert stored.initiative_id is None
    assert stored.phase_id is None
    assert stored.task_id is None
    assert stored.status is ConversationStatus.PENDING


def test_deleting_the_asking_agent_deletes_the_conversation(db: Database) -> None:
    conversation = make_conversation(db)

    db.agents.delete(conversation.from_agent_id)

    assert db.conversations.find_by_id(conversation.id) is None


def test_deleting_the_asked_agent_deletes_the_conversation(db: Database) -> None:
    conversation = make_conversation(db)

    db.agents.delete(conversation.to_agent_id)

    assert db.conversations.find_by_id(conversation.id) is None
    assert db.conversations.find_by_from_agent_id(conversation.from_agent_id) == []


def test_concurrent_answers_one_wins_and_the_rest_conflict(db: Database) -> None:
    conversation = make_conversation(db)
    count = 6
    barrier = threading.Barrier(count)
    outcomes: list[str] = []

    def work(n: int) -> None:
        barrier.wait(timeout=30)
        try:
            db.conversations.answer(conversation.id, f"answer {n}")
            outcomes.append(f"answer {n}")
        except ConflictError:
            outcomes.append("conflict")
        except BaseException as exc:  # reported by the assertion below
            outcomes.append(repr(exc))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    winners = [outcome for outcome in outcomes if outcome != "conflict"]
    assert len(outcomes) == count
    assert len(winners) == 1, outcomes
    stored = db.conversations.find_by_id(conversation.id)
    assert stored is not None and stored.answer == winners[0]
