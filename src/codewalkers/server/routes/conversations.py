"""``/conversations``: questions between agents (the server side of ``cw ask`` / ``cw
answer``; ``GET /agents/{name}/conversations/pending`` is ``cw listen``).
"""

from __future__ import annotations

from fastapi import status as http

from codewalkers.db import ValidationError
from codewalkers.server import models as m
from codewalkers.server.errors import CONFLICT, NOT_FOUND
from codewalkers.server.routes._common import Db, make_router, out
from codewalkers.services import conversations, plan

router = make_router("conversations")


@router.post(
    "/conversations",
    status_code=http.HTTP_201_CREATED,
    response_model=m.ConversationPublic,
    responses=NOT_FOUND,
)
def ask(db: Db, body: m.ConversationCreate) -> m.ConversationPublic:
    """Put a question to an agent, given by exactly one of ``agent_id``, ``task_id``,
    ``phase_id``. The answer arrives as a ``conversation:answered`` event, or by polling.
    """
    given = [body.agent_id, body.task_id, body.phase_id]
    if sum(value is not None for value in given) != 1:
        raise ValidationError("give exactly one of agent_id, task_id, phase_id")
    conversation = conversations.ask(
        db,
        body.question,
        body.from_agent_id,
        agent_id=body.agent_id,
        task_id=body.task_id,
        phase_id=body.phase_id,
    )
    return out(m.ConversationPublic, conversation)


@router.get("/conversations/{id}", response_model=m.ConversationPublic, responses=NOT_FOUND)
def get_conversation(db: Db, id: str) -> m.ConversationPublic:
    """One conversation: its question and, once answered, its answer."""
    return out(m.ConversationPublic, plan.get_or_raise(db.conversations, id, "conversation"))


@router.post(
    "/conversations/{id}/answer",
    response_model=m.ConversationPublic,
    responses={**NOT_FOUND, **CONFLICT},
)
def answer(db: Db, id: str, body: m.ConversationAnswer) -> m.ConversationPublic:
    """Answer the question (once: a second answer is a 409)."""
    return out(m.ConversationPublic, conversations.answer(db, id, body.answer))
