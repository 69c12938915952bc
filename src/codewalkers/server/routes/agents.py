"""``/agents``: the coding agents (by name or id), their output and the questions put to them.

Agents are created by the supervisor that spawns them, not through this API.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from codewalkers.db import AgentStatus, ProposalStatus
from codewalkers.server import models as m
from codewalkers.server.errors import NOT_FOUND
from codewalkers.server.routes._common import Db, make_router, out, outs
from codewalkers.services import agents

router = make_router("agents")

MAX_LOG_PAGE = 1000


@router.get("/agents", response_model=list[m.AgentPublic])
def list_agents(db: Db, status: AgentStatus | None = None) -> list[m.AgentPublic]:
    """Agents, oldest first (optionally only one status)."""
    rows = db.agents.find_by_status(status) if status else db.agents.find_all()
    return outs(m.AgentPublic, rows)


@router.get("/agents/{name}", response_model=m.AgentPublic, responses=NOT_FOUND)
def get_agent(db: Db, name: str) -> m.AgentPublic:
    """One agent, by name or id."""
    return out(m.AgentPublic, agents.find_agent(db, name))


@router.post("/agents/{name}/dismiss", response_model=m.AgentPublic, responses=NOT_FOUND)
def dismiss_agent(db: Db, name: str) -> m.AgentPublic:
    """Mark the agent dismissed by the user."""
    return out(m.AgentPublic, agents.dismiss_agent(db, name))


@router.get("/agents/{name}/logs", response_model=list[m.LogChunkPublic], responses=NOT_FOUND)
def agent_logs(
    db: Db,
    name: str,
    after_seq: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LOG_PAGE)] = 200,
    session_number: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> list[m.LogChunkPublic]:
    """The agent's output chunks in order, a page at a time: pass the last ``seq`` you got
    as ``after_seq`` for the next page (an empty page: nothing newer yet).
    """
    agent = agents.find_agent(db, name)
    chunks = db.log_chunks.find_by_agent_id(
        agent.id, session_number=session_number, after_seq=after_seq, limit=limit
    )
    return outs(m.LogChunkPublic, chunks)


@router.get(
    "/agents/{name}/conversations/pending",
    response_model=list[m.ConversationPublic],
    responses=NOT_FOUND,
)
def pending_questions(db: Db, name: str) -> list[m.ConversationPublic]:
    """The questions waiting for this agent's answer, oldest first."""
    agent = agents.find_agent(db, name)
    return outs(m.ConversationPublic, db.conversations.find_pending_for_agent(agent.id))


@router.get("/agents/{name}/proposals", response_model=list[m.ProposalPublic], responses=NOT_FOUND)
def agent_proposals(
    db: Db, name: str, status: ProposalStatus | None = None
) -> list[m.ProposalPublic]:
    """The agent's proposals (optionally only one status)."""
    agent_id = agents.find_agent(db, name).id
    if status:
        rows = db.proposals.find_by_agent_id_and_status(agent_id, status)
    else:
        rows = db.proposals.find_by_agent_id(agent_id)
    return outs(m.ProposalPublic, rows)
