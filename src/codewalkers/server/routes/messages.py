"""``/messages``: messages between the user and the agents, in threads."""

from __future__ import annotations

from fastapi import status as http

from codewalkers.server import models as m
from codewalkers.server.errors import NOT_FOUND
from codewalkers.server.routes._common import Db, make_router, out, outs
from codewalkers.services import messages

router = make_router("messages")


@router.get("/messages", response_model=list[m.MessagePublic], responses=NOT_FOUND)
def list_messages(db: Db, agent: str | None = None, pending: bool = False) -> list[m.MessagePublic]:
    """Messages oldest first: all, or those to or from an agent (name or id); ``pending``:
    only those to the user not yet handled.
    """
    return outs(m.MessagePublic, messages.list_messages(db, agent=agent, pending=pending))


@router.post(
    "/messages",
    status_code=http.HTTP_201_CREATED,
    response_model=m.MessagePublic,
    responses=NOT_FOUND,
)
def send(db: Db, body: m.MessageCreate) -> m.MessagePublic:
    """Send a message from the user to an agent."""
    message = messages.send_to_agent(
        db, body.to, body.content, type=body.type, requires_response=body.requires_response
    )
    return out(m.MessagePublic, message)


@router.get("/messages/{id}/thread", response_model=list[m.MessagePublic], responses=NOT_FOUND)
def thread(db: Db, id: str) -> list[m.MessagePublic]:
    """The message and every reply under it, depth first."""
    return outs(m.MessagePublic, messages.thread(db, id))


@router.post(
    "/messages/{id}/reply",
    status_code=http.HTTP_201_CREATED,
    response_model=m.MessagePublic,
    responses=NOT_FOUND,
)
def reply(db: Db, id: str, body: m.MessageReply) -> m.MessagePublic:
    """Reply to a message addressed to the user; it is marked responded."""
    return out(m.MessagePublic, messages.reply(db, id, body.content))
