"""Chat sessions about a phase or a task: start (or resume), send, show, close."""

from __future__ import annotations

from dataclasses import dataclass

from codewalkers.db import (
    ChatMessage,
    ChatRole,
    ChatSession,
    ChatSessionStatus,
    ChatTargetType,
    ConflictError,
    Database,
    ValidationError,
)
from codewalkers.services import events
from codewalkers.services.plan import get_or_raise


@dataclass(frozen=True)
class Started:
    session: ChatSession
    created: bool  # False: an active session about the target already existed


@dataclass(frozen=True)
class Transcript:
    session: ChatSession
    messages: list[ChatMessage]


def start_session(db: Database, target_type: ChatTargetType | str, target_id: str) -> Started:
    """The active chat session about this phase or task, created (in the target's
    initiative) when there is none.

    Raises ``NotFoundError`` for an unknown target, ``ValidationError`` for a bad type.
    """
    try:
        kind = ChatTargetType(target_type)
    except ValueError:
        raise ValidationError(f"invalid target_type {target_type!r}: phase or task") from None
    with db.transaction():
        repository = db.phases if kind == ChatTargetType.PHASE else db.tasks
        target = get_or_raise(repository, target_id, kind.value)
        existing = db.chat_sessions.find_active_session(kind, target_id)
        if existing is not None:
            return Started(existing, created=False)
        initiative_id: str | None = target.initiative_id
        if initiative_id is None:
            raise ValidationError(f"{kind.value} {target_id!r} belongs to no initiative")
        session = db.chat_sessions.create_session(
            target_type=kind, target_id=target_id, initiative_id=initiative_id
        )
        events.emit(db, events.CHAT_SESSION_CREATED, session)
    return Started(session, created=True)


def send(db: Database, session_id: str, content: str) -> ChatMessage:
    """Add the user's message to an active session.

    Raises ``NotFoundError`` for an unknown session, ``ConflictError`` for a closed one.
    """
    with db.transaction():
        session: ChatSession = get_or_raise(db.chat_sessions, session_id, "chat session")
        if session.status == ChatSessionStatus.CLOSED:
            raise ConflictError(f"chat session {session_id!r} is closed")
        message = db.chat_sessions.create_message(
            chat_session_id=session_id, role=ChatRole.USER, content=content
        )
        events.emit(db, events.CHAT_MESSAGE_CREATED, message, initiative_id=session.initiative_id)
    return message


def show(db: Database, session_id: str) -> Transcript:
    """The session and its messages in the order they were written."""
    session: ChatSession = get_or_raise(db.chat_sessions, session_id, "chat session")
    return Transcript(session, db.chat_sessions.find_messages_by_session_id(session_id))


def close(db: Database, session_id: str) -> ChatSession:
    """Close the session (closing a closed session changes nothing).

    Raises ``NotFoundError`` for an unknown session.
    """
    with db.transaction():
        session: ChatSession = get_or_raise(db.chat_sessions, session_id, "chat session")
        if session.status == ChatSessionStatus.CLOSED:
            return session
        closed: ChatSession = db.chat_sessions.update_session(
            session_id, status=ChatSessionStatus.CLOSED
        )
        events.emit(db, events.CHAT_SESSION_CLOSED, closed)
    return closed
