"""Messages: the ``messages`` table (user <-> agent, threaded through ``parent_message_id``)
and ``MessageRepository`` (find_pending_for_user, find_requiring_response, find_replies,
find_by_agent_id, standard CRUD).
"""

from __future__ import annotations

from typing import Any

import pytest

from codewalkers.db import (
    Agent,
    Database,
    Message,
    MessageStatus,
    MessageType,
    NotFoundError,
    ParticipantType,
    ReferenceNotFoundError,
    ValidationError,
)
from tests.factories import make_agent

MISSING = "no-such-message-000000"


def to_user(db: Database, agent: Agent, content: str = "Need a decision", **fields: Any) -> Message:
    return db.messages.create(
        **{
            "sender_type": "agent",
            "sender_id": agent.id,
            "recipient_type": "user",
            "content": content,
            **fields,
        }
    )


def to_agent(db: Database, agent: Agent, content: str = "Carry on", **fields: Any) -> Message:
    return db.messages.create(
        **{
            "sender_type": "user",
            "recipient_type": "agent",
            "recipient_id": agent.id,
            "content": content,
            **fields,
        }
    )


# --- create ---------------------------------------------------------------------------------


def test_a_new_message_is_a_pending_info_that_needs_no_response(db: Database) -> None:
    agent = make_agent(db)

    message = to_user(db, agent)

    assert isinstance(message, Message)
    assert len(message.id) == 21
    assert message.sender_type is ParticipantType.AGENT
    assert message.sender_id == agent.id
    assert message.recipient_type == "user"
    assert message.recipient_id is None
    assert message.type is MessageType.INFO
    assert message.status is MessageStatus.PENDING
    assert message.requires_response is False
    assert message.parent_message_id is None
    assert message.content == "Need a decision"
    assert db.messages.find_by_id(message.id) == message


@pytest.mark.parametrize("kind", ["question", "info", "error", "response"])
def test_every_message_type_is_accepted(db: Database, kind: str) -> None:
    message = to_user(db, make_agent(db), type=kind)

    assert message.type == kind


def test_agent_to_agent_and_user_to_agent_messages(db: Database) -> None:
    sender, recipient = make_agent(db), make_agent(db)

    between_agents = db.messages.create(
        sender_type="agent",
        sender_id=sender.id,
        recipient_type="agent",
        recipient_id=recipient.id,
        content="handing over",
    )
    from_user = to_agent(db, recipient)

    assert between_agents.sender_type is ParticipantType.AGENT
    assert between_agents.recipient_type is ParticipantType.AGENT
    assert from_user.sender_type is ParticipantType.USER
    assert from_user.sender_id is None
    assert from_user.recipient_id == recipient.id


@pytest.mark.parametrize(
    "fields",
    [
        {"sender_type": "robot"},
        {"recipient_type": "admin"},
        {"type": "shout"},
        {"status": "archived"},
        {"requires_response": "yes"},
        {"content": None},
        {"sender_type": None},
        {"unknown": 1},
    ],
)
def test_a_bad_message_is_refused(db: Database, fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        db.messages.create(
            **{"sender_type": "user", "recipient_type": "user", "content": "hi", **fields}
        )
    assert db.messages.find_all() == []


def test_a_message_needs_content_and_both_participant_types(db: Database) -> None:
    for fields in (
        {"recipient_type": "user", "content": "hi"},
        {"sender_type": "user", "content": "hi"},
        {"sender_type": "user", "recipient_type": "user"},
    ):
        with pytest.raises(ValidationError):
            db.messages.create(**fields)
    assert db.messages.find_all() == []


@pytest.mark.parametrize("field", ["sender_id", "recipient_id", "parent_message_id"])
def test_a_message_referring_to_a_missing_row_is_refused(db: Database, field: str) -> None:
    with pytest.raises(ReferenceNotFoundError):
        db.messages.create(
            sender_type="agent",
            recipient_type="agent",
            content="?",
            **{field: "missing-0000000000000"},
        )
    assert db.messages.find_all() == []


# --- update and delete ----------------------------------------------------------------------


def test_marking_a_message_read_and_responded(db: Database) -> None:
    message = to_user(db, make_agent(db), requires_response=True)

    read = db.messages.update(message.id, status="read")
    responded = db.messages.update(message.id, status=MessageStatus.RESPONDED)

    assert read.status is MessageStatus.READ
    assert responded.status is MessageStatus.RESPONDED
    assert responded.updated_at > message.updated_at
    assert db.messages.find_by_id(message.id) == responded


def test_updating_or_deleting_a_missing_message_is_not_found(db: Database) -> None:
    with pytest.raises(NotFoundError):
        db.messages.update(MISSING, status="read")
    with pytest.raises(NotFoundError):
        db.messages.delete(MISSING)


def test_deleting_a_message(db: Database) -> None:
    agent = make_agent(db)
    message = to_user(db, agent)
    kept = to_user(db, agent)

    db.messages.delete(message.id)

    assert db.messages.find_by_id(message.id) is None
    assert db.messages.find_all() == [kept]


# --- finders --------------------------------------------------------------------------------


def test_find_pending_for_user_returns_unread_messages_to_the_user_oldest_first(
    db: Database,
) -> None:
    agent = make_agent(db)
    first = to_user(db, agent, "first")
    to_agent(db, agent, "to the agent")
    read = to_user(db, agent, "already read")
    db.messages.update(read.id, status="read")
    responded = to_user(db, agent, "already answered", status="responded")
    second = to_user(db, agent, "second", type="question", requires_response=True)

    pending = db.messages.find_pending_for_user()

    assert pending == [first, second]
    assert responded not in pending


def test_find_pending_for_user_with_nothing_pending(db: Database) -> None:
    to_agent(db, make_agent(db))

    assert db.messages.find_pending_for_user() == []


def test_find_requiring_response_returns_unanswered_questions_oldest_first(
    db: Database,
) -> None:
    agent = make_agent(db)
    question = to_user(db, agent, "Postgres or SQLite?", type="question", requires_response=True)
    to_user(db, agent, "FYI")
    read_question = to_user(db, agent, "Seen but not answered", requires_response=True)
    read_question = db.messages.update(read_question.id, status="read")
    answered = to_user(db, agent, "Answered", requires_response=True)
    db.messages.update(answered.id, status="responded")
    to_agent_question = to_agent(db, agent, "Status?", requires_response=True)

    assert db.messages.find_requiring_response() == [question, read_question, to_agent_question]


def test_find_requiring_response_with_nothing_to_answer(db: Database) -> None:
    to_user(db, make_agent(db))

    assert db.messages.find_requiring_response() == []


def test_find_replies_follows_the_thread_oldest_first(db: Database) -> None:
    agent = make_agent(db)
    question = to_user(db, agent, "Which DB?", type="question", requires_response=True)
    other = to_user(db, agent, "unrelated")
    first = to_agent(db, agent, "SQLite", type="response", parent_message_id=question.id)
    to_agent(db, agent, "reply elsewhere", parent_message_id=other.id)
    second = to_agent(db, agent, "…for now", type="response", parent_message_id=question.id)
    nested = to_user(db, agent, "ok", parent_message_id=first.id)

    assert db.messages.find_replies(question.id) == [first, second]
    assert db.messages.find_replies(first.id) == [nested]
    assert db.messages.find_replies(second.id) == []
    assert db.messages.find_replies(MISSING) == []


def test_deleting_a_message_keeps_its_replies_without_a_parent(db: Database) -> None:
    agent = make_agent(db)
    question = to_user(db, agent, "Which DB?")
    reply = to_agent(db, agent, "SQLite", parent_message_id=question.id)

    db.messages.delete(question.id)

    stored = db.messages.find_by_id(reply.id)
    assert stored is not None
    assert stored.parent_message_id is None
    assert stored.content == "SQLite"
    assert db.messages.find_replies(question.id) == []


def test_find_by_agent_id_returns_what_the_agent_sent_or_received_oldest_first(
    db: Database,
) -> None:
    agent, other = make_agent(db), make_agent(db)
    sent = to_user(db, agent, "sent")
    to_user(db, other, "someone else's")
    received = to_agent(db, agent, "received")
    between = db.messages.create(
        sender_type="agent",
        sender_id=other.id,
        recipient_type="agent",
        recipient_id=agent.id,
        content="from a peer",
    )

    assert db.messages.find_by_agent_id(agent.id) == [sent, received, between]
    assert db.messages.find_by_agent_id(other.id)[-1] == between
    assert db.messages.find_by_agent_id(make_agent(db).id) == []


def test_deleting_an_agent_keeps_its_messages_without_the_agent(db: Database) -> None:
    agent, peer = make_agent(db), make_agent(db)
    sent = db.messages.create(
        sender_type="agent",
        sender_id=agent.id,
        recipient_type="agent",
        recipient_id=peer.id,
        content="to a peer",
    )
    received = db.messages.create(
        sender_type="agent",
        sender_id=peer.id,
        recipient_type="agent",
        recipient_id=agent.id,
        content="from a peer",
    )

    db.agents.delete(agent.id)

    stored_sent = db.messages.find_by_id(sent.id)
    stored_received = db.messages.find_by_id(received.id)
    assert stored_sent is not None and stored_received is not None
    assert (stored_sent.sender_id, stored_sent.recipient_id) == (None, peer.id)
    assert (stored_received.sender_id, stored_received.recipient_id) == (peer.id, None)
    assert stored_sent.sender_type is ParticipantType.AGENT
    assert db.messages.find_by_agent_id(agent.id) == []
