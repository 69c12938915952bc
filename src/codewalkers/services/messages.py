"""Messages between the user and agents: sending, listing, and replying in threads."""

from __future__ import annotations

from codewalkers.db import (
    Database,
    Message,
    MessageStatus,
    MessageType,
    ParticipantType,
    ValidationError,
)
from codewalkers.services import events
from codewalkers.services.agents import find_agent
from codewalkers.services.plan import get_or_raise


def send_to_agent(
    db: Database,
    agent: str,
    content: str,
    *,
    type: MessageType | str = MessageType.INFO,
    requires_response: bool = False,
) -> Message:
    """A message from the user to the agent named ``agent`` (a name or an id).

    Raises ``NotFoundError`` for an unknown agent, ``ValidationError`` for a bad type.
    """
    with db.transaction():
        recipient = find_agent(db, agent)
        message: Message = db.messages.create(
            sender_type=ParticipantType.USER,
            sender_id=None,
            recipient_type=ParticipantType.AGENT,
            recipient_id=recipient.id,
            type=type,
            content=content,
            requires_response=requires_response,
        )
        events.emit(db, events.MESSAGE_CREATED, message, initiative_id=recipient.initiative_id)
    return message


def list_messages(
    db: Database, *, agent: str | None = None, pending: bool = False
) -> list[Message]:
    """Messages oldest first: all, or those an agent sent or received; with ``pending``
    only those waiting for the user (to the user and not yet read or answered).
    """
    agent_id = find_agent(db, agent).id if agent is not None else None
    if pending:
        rows = db.messages.find_pending_for_user()
        if agent_id is not None:
            rows = [row for row in rows if row.sender_id == agent_id]
        return rows
    if agent_id is not None:
        return db.messages.find_by_agent_id(agent_id)
    return db.messages.find_all()


def thread(db: Database, message_id: str) -> list[Message]:
    """The message followed by every reply under it, depth first, each level oldest first."""
    root: Message = get_or_raise(db.messages, message_id, "message")
    result = [root]
    seen = {root.id}

    def walk(parent_id: str) -> None:
        for reply in db.messages.find_replies(parent_id):
            if reply.id not in seen:
                seen.add(reply.id)
                result.append(reply)
                walk(reply.id)

    walk(root.id)
    return result


def reply(db: Database, message_id: str, content: str) -> Message:
    """The user's reply to a message addressed to the user, sent back to its sender in the
    same thread; the original is marked responded. One transaction.

    Raises ``NotFoundError`` for an unknown message and ``ValidationError`` for a message
    that was not addressed to the user.
    """
    with db.transaction():
        original: Message = get_or_raise(db.messages, message_id, "message")
        if original.recipient_type != ParticipantType.USER:
            raise ValidationError(
                f"message {message_id!r} is not addressed to the user: nothing to reply to"
            )
        answer: Message = db.messages.create(
            sender_type=ParticipantType.USER,
            sender_id=None,
            recipient_type=original.sender_type,
            recipient_id=original.sender_id,
            type=MessageType.RESPONSE,
            content=content,
            parent_message_id=original.id,
        )
        db.messages.update(original.id, status=MessageStatus.RESPONDED)
        agent = db.agents.find_by_id(original.sender_id) if original.sender_id else None
        events.emit(
            db,
            events.MESSAGE_CREATED,
            answer,
            initiative_id=agent.initiative_id if agent is not None else None,
        )
    return answer
