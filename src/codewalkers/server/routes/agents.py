"""``/agents``: the coding agents (by name or id), their output and the questions put to them.

Spawning, stopping, answering, resuming and deleting go to the coordinator's agent runtime
(:class:`~codewalkers.services.runtime.AgentRuntime`), which owns the processes.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from fastapi import status as http

from codewalkers.db import AgentStatus, ProposalStatus
from codewalkers.server import models as m
from codewalkers.server.errors import CONFLICT, NOT_FOUND
from codewalkers.server.routes._common import NO_RUNTIME, Db, Runtime, make_router, out, outs
from codewalkers.services import agents, lookup
from codewalkers.services.runtime import SpawnRequest

router = make_router("agents")

MAX_LOG_PAGE = 1000


@router.get("/agents", response_model=list[m.AgentPublic])
def list_agents(db: Db, status: AgentStatus | None = None) -> list[m.AgentPublic]:
    """Agents, oldest first (optionally only one status)."""
    rows = db.agents.find_by_status(status) if status else db.agents.find_all()
    return outs(m.AgentPublic, rows)


@router.post(
    "/agents",
    status_code=http.HTTP_201_CREATED,
    response_model=m.AgentPublic,
    responses={**CONFLICT, **NO_RUNTIME},
)
def spawn_agent(runtime: Runtime, body: m.AgentSpawn) -> m.AgentPublic:
    """Spawn an agent: its row, worktrees, input files, an account, the process (running).

    A task, initiative, provider, account or mode that does not exist is a 422 and creates
    nothing; a project that cannot be cloned is a 409 (the agent is recorded as crashed).
    """
    fields = body.model_dump(mode="json")
    for key, entity in (
        ("task_id", "task"),
        ("initiative_id", "initiative"),
        ("account_id", "account"),
    ):
        if fields[key]:  # a full id or a unique prefix, as the CLI takes them
            fields[key] = lookup.resolve(runtime.db, entity, fields[key])
    request = SpawnRequest(**fields)
    return out(m.AgentPublic, runtime.spawn(request))


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


@router.get("/agents/{name}/result", response_model=m.AgentResult, responses=NOT_FOUND)
def agent_result(db: Db, name: str) -> m.AgentResult:
    """What the agent ended with: its result (summary, session id, cost), pending
    questions, exit code and why it is in its status."""
    return m.AgentResult.model_validate(agents.describe(agents.find_agent(db, name)))


@router.post(
    "/agents/{name}/stop",
    response_model=m.AgentPublic,
    responses={**NOT_FOUND, **NO_RUNTIME},
)
def stop_agent(runtime: Runtime, name: str) -> m.AgentPublic:
    """Stop the agent: SIGTERM to its process group, a grace period, SIGKILL; ``stopped``."""
    return out(m.AgentPublic, runtime.stop(name))


@router.post(
    "/agents/{name}/resume",
    response_model=m.AgentPublic,
    responses={**NOT_FOUND, **CONFLICT, **NO_RUNTIME},
)
def resume_agent(runtime: Runtime, name: str, body: m.AgentResume) -> m.AgentPublic:
    """Resume an idle, stopped or crashed agent's session, optionally with a message
    (409 while it runs or waits for answers)."""
    return out(m.AgentPublic, runtime.resume(name, body.message))


@router.post(
    "/agents/{name}/answer",
    response_model=m.AgentPublic,
    responses={**NOT_FOUND, **CONFLICT, **NO_RUNTIME},
)
def answer_agent(runtime: Runtime, name: str, body: m.AgentAnswer) -> m.AgentPublic:
    """Answer one pending question; once all are answered the session resumes with them."""
    return out(m.AgentPublic, runtime.answer(name, body.text, body.question_id))


@router.delete(
    "/agents/{name}",
    response_model=m.AgentDeleted,
    responses={**NOT_FOUND, **CONFLICT, **NO_RUNTIME},
)
def delete_agent(runtime: Runtime, name: str, force: bool = False) -> m.AgentDeleted:
    """Remove the agent's workdir when every branch in it is merged or pushed (409 naming
    the branches otherwise); ``force`` commits leftovers and keeps the branches. The
    agent's record and log stay."""
    deleted = runtime.delete(name, force=force)
    return m.AgentDeleted(
        agent=out(m.AgentPublic, deleted["agent"]),
        branches_kept=deleted["branches_kept"],
        workdir=deleted["workdir"],
    )
