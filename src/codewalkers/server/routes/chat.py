"""``/chat-sessions``: chat sessions about a phase or a task."""

from __future__ import annotations

from fastapi import status as http

from codewalkers.server import models as m
from codewalkers.server.errors import CONFLICT, NOT_FOUND
from codewalkers.server.routes._common import Db, make_router, out, outs
from codewalkers.services import chat

router = make_router("chat")


@router.post("/chat-sessions", response_model=m.ChatSessionStarted, responses=NOT_FOUND)
def start(db: Db, body: m.ChatSessionCreate) -> m.ChatSessionStarted:
    """The active session about the phase or task, started when there is none
    (``created`` says which).
    """
    started = chat.start_session(db, body.target_type, body.target_id)
    return out(m.ChatSessionStarted, started.session, created=started.created)


@router.get("/chat-sessions/{id}", response_model=m.ChatTranscript, responses=NOT_FOUND)
def show(db: Db, id: str) -> m.ChatTranscript:
    """The session and its messages in order."""
    transcript = chat.show(db, id)
    return out(
        m.ChatTranscript,
        transcript.session,
        messages=outs(m.ChatMessagePublic, transcript.messages),
    )


@router.post(
    "/chat-sessions/{id}/messages",
    status_code=http.HTTP_201_CREATED,
    response_model=m.ChatMessagePublic,
    responses={**NOT_FOUND, **CONFLICT},
)
def send(db: Db, id: str, body: m.ChatMessageCreate) -> m.ChatMessagePublic:
    """Add the user's message to an active session (409 when it is closed)."""
    return out(m.ChatMessagePublic, chat.send(db, id, body.content))


@router.post("/chat-sessions/{id}/close", response_model=m.ChatSessionPublic, responses=NOT_FOUND)
def close(db: Db, id: str) -> m.ChatSessionPublic:
    """Close the session (closing a closed session changes nothing)."""
    return out(m.ChatSessionPublic, chat.close(db, id))
