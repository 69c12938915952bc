"""Agents as people see them: find by name, dismiss, read and follow their output."""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from datetime import UTC, datetime
from typing import Any

from codewalkers.db import Agent, AgentStatus, Database, LogChunk, NotFoundError
from codewalkers.services import events

#: An agent in one of these states writes no more output (until it is resumed).
FINISHED = frozenset({AgentStatus.STOPPED, AgentStatus.CRASHED, AgentStatus.IDLE})


def find_agent(db: Database, name_or_id: str) -> Agent:
    """The agent with this name (or, failing that, this id); ``NotFoundError`` otherwise."""
    agent = db.agents.find_by_name(name_or_id) or db.agents.find_by_id(name_or_id)
    if agent is None:
        raise NotFoundError(f"agent {name_or_id!r} not found")
    return agent


def dismiss_agent(db: Database, name_or_id: str) -> Agent:
    """Mark the agent dismissed by the user (``user_dismissed_at`` = now)."""
    with db.transaction():
        agent = find_agent(db, name_or_id)
        dismissed: Agent = db.agents.update(agent.id, user_dismissed_at=datetime.now(UTC))
        events.emit(db, events.AGENT_DISMISSED, dismissed)
    return dismissed


def record_output(db: Database, agent: Agent, content: str, session_number: int = 1) -> LogChunk:
    """Store a chunk of the agent's output and emit ``agent:output`` with it, in one
    transaction.
    """
    with db.transaction():
        chunk: LogChunk = db.log_chunks.insert_chunk(agent.id, agent.name, content, session_number)
        events.emit(
            db, events.AGENT_OUTPUT, chunk, initiative_id=agent.initiative_id, entity_id=agent.id
        )
    return chunk


def follow_log(
    db: Database,
    agent_id: str,
    *,
    session_number: int | None = None,
    interval: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
) -> Generator[list[LogChunk], None, None]:
    """Batches of the agent's log chunks in order: what exists now, then every ``interval``
    seconds what came after the last one.

    Ends once a poll brings nothing new while the agent (read before that poll) is
    stopped, crashed or idle, or no longer exists. The caller ends it earlier by closing
    the iterator (e.g. on Ctrl-C).
    """
    chunks = db.log_chunks.find_by_agent_id(agent_id, session_number=session_number)
    last = chunks[-1].seq if chunks else 0
    if chunks:
        yield chunks
    while True:
        sleep(interval)
        # Status first: chunks written before the agent finished are then seen by this poll.
        agent = db.agents.find_by_id(agent_id)
        chunks = db.log_chunks.find_by_agent_id(
            agent_id, session_number=session_number, after_seq=last
        )
        if chunks:
            last = chunks[-1].seq
            yield chunks
        elif agent is None or agent.status in FINISHED:
            return


def describe(agent: Agent) -> dict[str, Any]:
    """What ``cw agent result`` shows: how the agent ended and why it is in its status."""
    return {
        "name": agent.name,
        "status": str(agent.status),
        "status_reason": agent.status_reason,
        "result": agent.result,
        "pending_questions": agent.pending_questions,
        "exit_code": agent.exit_code,
    }
