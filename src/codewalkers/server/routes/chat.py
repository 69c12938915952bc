"""``/chat-sessions``, ``/change-sets``: chat sessions about a phase or a task, the agent
that answers each message, and the change sets its replies made (docs/planning.md)."""

from __future__ import annotations

from typing import Any

from fastapi import status as http

from codewalkers.db import ChangeSet, ChangeSetEntry
from codewalkers.server import models as m
from codewalkers.server.errors import CONFLICT, NOT_FOUND
from codewalkers.server.routes._common import NO_RUNTIME, Chat, Db, make_router, out, outs
from codewalkers.services import changes, chat, lookup

router = make_router("chat")


def _change_set(change_set: ChangeSet, entries: list[ChangeSetEntry]) -> m.ChangeSetPublic:
    return out(m.ChangeSetPublic, change_set, entries=outs(m.ChangeSetEntryPublic, entries))


@router.post("/chat-sessions", response_model=m.ChatSessionStarted, responses=NOT_FOUND)
def start(db: Db, body: m.ChatSessionCreate) -> m.ChatSessionStarted:
    """The active session about the phase or task, started when there is none
    (``created`` says which).
    """
    started = chat.start_session(db, body.target_type, body.target_id)
    return out(m.ChatSessionStarted, started.session, created=started.created)


@router.get("/chat-sessions/{id}", response_model=m.ChatTranscript, responses=NOT_FOUND)
def show(db: Db, id: str) -> m.ChatTranscript:
    """The session and its messages in order, each with the change set it made."""
    transcript = chat.show(db, lookup.resolve(db, "chat session", id))
    messages: list[Any] = []
    for message in transcript.messages:
        found = transcript.change_sets.get(message.change_set_id or "")
        messages.append(
            out(
                m.ChatMessageWithChanges,
                message,
                change_set=_change_set(*found) if found else None,
            )
        )
    return out(m.ChatTranscript, transcript.session, messages=messages)


@router.post(
    "/chat-sessions/{id}/messages",
    status_code=http.HTTP_201_CREATED,
    response_model=m.ChatSent,
    responses={**NOT_FOUND, **CONFLICT, **NO_RUNTIME},
)
def send(db: Db, agents: Chat, id: str, body: m.ChatMessageCreate) -> m.ChatSent:
    """Add the person's message and give it to the session's agent (spawned for the first
    message, resumed after). The reply comes when the agent ends: poll
    ``GET /chat-sessions/{id}/messages/{message_id}/reply`` (409 when closed or the agent is
    still answering)."""
    sent = agents.send(lookup.resolve(db, "chat session", id), body.content, provider=body.provider)
    return m.ChatSent(
        message=out(m.ChatMessagePublic, sent.message), agent=out(m.AgentPublic, sent.agent)
    )


@router.get(
    "/chat-sessions/{id}/messages/{message_id}/reply",
    response_model=list[m.ChatMessagePublic],
    responses=NOT_FOUND,
)
def reply(db: Db, id: str, message_id: str) -> list[m.ChatMessagePublic]:
    """The messages after this one: the reply (empty until the agent has answered)."""
    return outs(m.ChatMessagePublic, chat.replies_after(db, id, message_id))


@router.post("/chat-sessions/{id}/close", response_model=m.ChatSessionPublic, responses=NOT_FOUND)
def close(db: Db, id: str) -> m.ChatSessionPublic:
    """Close the session (closing a closed session changes nothing)."""
    return out(m.ChatSessionPublic, chat.close(db, id))


@router.get("/change-sets/{id}", response_model=m.ChangeSetPublic, responses=NOT_FOUND)
def show_change_set(db: Db, id: str) -> m.ChangeSetPublic:
    """A change set and its entries (each entity's state before and after)."""
    change_set, entries = changes.get(db, lookup.resolve(db, "change set", id))
    return _change_set(change_set, entries)


@router.post(
    "/change-sets/{id}/revert",
    response_model=m.ChangeSetReverted,
    responses={**NOT_FOUND, **CONFLICT},
)
def revert(db: Db, id: str, force: bool = False) -> m.ChangeSetReverted:
    """Restore every entity of the change set to its state before it, in one transaction.
    409 naming the entities changed since (``force=true`` overwrites them); a change set
    reverted before is left as it is (``reverted`` false)."""
    done = changes.revert(db, lookup.resolve(db, "change set", id), force=force)
    entries = db.change_sets.find_entries(done.change_set.id)
    return m.ChangeSetReverted(
        change_set=_change_set(done.change_set, entries),
        reverted=done.reverted,
        message=done.message,
        forced=done.forced,
    )
