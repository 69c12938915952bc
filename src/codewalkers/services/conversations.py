"""Agent-to-agent questions: ask one (the target given by agent, task or phase), listen for
the questions put to an agent, answer one.

Asking and listening wait by polling the database, so the two sides can be separate
processes (``cw ask`` in one agent's worktree, ``cw listen`` in another's).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from codewalkers.db import (
    Agent,
    Conversation,
    ConversationStatus,
    Database,
    NotFoundError,
    Phase,
    Task,
)
from codewalkers.services import events
from codewalkers.services.agents import find_agent
from codewalkers.services.plan import get_or_raise

#: Seconds between two looks at the database while waiting.
POLL_SECONDS = 0.2


@dataclass(frozen=True)
class Target:
    """Who a question goes to, and what it is about (``None`` where not known)."""

    agent: Agent
    initiative_id: str | None = None
    phase_id: str | None = None
    task_id: str | None = None


def resolve_target(
    db: Database,
    *,
    agent_id: str | None = None,
    task_id: str | None = None,
    phase_id: str | None = None,
) -> Target:
    """The agent a question goes to: the agent itself (by id or name), the newest agent
    assigned to the task, or the newest agent assigned to a task of the phase.

    Give exactly one of the three. Raises ``NotFoundError`` for an unknown agent, task or
    phase, and when no agent works on the task or phase.
    """
    given = [value for value in (agent_id, task_id, phase_id) if value is not None]
    if len(given) != 1:
        raise ValueError("give exactly one of agent_id, task_id, phase_id")
    if agent_id is not None:
        agent = find_agent(db, agent_id)
        return Target(agent, initiative_id=agent.initiative_id)
    if task_id is not None:
        task: Task = get_or_raise(db.tasks, task_id, "task")
        found = db.agents.find_by_task_id(task_id)
        if found is None:
            raise NotFoundError(f"no agent works on task {task_id!r}")
        return Target(found, task.initiative_id, task.phase_id, task.id)
    assert phase_id is not None
    phase: Phase = get_or_raise(db.phases, phase_id, "phase")
    tasks = db.tasks.find_by_phase_id(phase_id)
    candidates = [db.agents.find_by_task_id(task.id) for task in tasks]
    agents = [agent for agent in candidates if agent is not None]
    if not agents:
        raise NotFoundError(f"no agent works on phase {phase_id!r}")
    newest = max(agents, key=lambda agent: (agent.created_at, agent.id))
    return Target(newest, phase.initiative_id, phase.id)


def ask(
    db: Database,
    question: str,
    from_agent_id: str,
    *,
    agent_id: str | None = None,
    task_id: str | None = None,
    phase_id: str | None = None,
) -> Conversation:
    """Put the question from ``from_agent_id`` (an agent's id or name) to the target agent
    (see :func:`resolve_target`): a pending conversation, carrying the initiative, phase
    and task it is about where known.

    Raises ``NotFoundError`` for an unknown asking agent or target, ``ValidationError`` for
    a blank question.
    """
    with db.transaction():
        asker = find_agent(db, from_agent_id)
        target = resolve_target(db, agent_id=agent_id, task_id=task_id, phase_id=phase_id)
        conversation: Conversation = db.conversations.create(
            from_agent_id=asker.id,
            to_agent_id=target.agent.id,
            initiative_id=target.initiative_id,
            phase_id=target.phase_id,
            task_id=target.task_id,
            question=question,
        )
        events.emit(db, events.CONVERSATION_CREATED, conversation)
    return conversation


def wait_for_answer(
    db: Database,
    conversation_id: str,
    timeout: float,
    *,
    poll: float = POLL_SECONDS,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Conversation | None:
    """The conversation once answered, or ``None`` after ``timeout`` seconds (it stays
    pending and can still be answered). Raises ``NotFoundError`` if it disappears.
    """
    deadline = clock() + timeout
    while True:
        conversation: Conversation = get_or_raise(db.conversations, conversation_id, "conversation")
        if conversation.status == ConversationStatus.ANSWERED:
            return conversation
        remaining = deadline - clock()
        if remaining <= 0:
            return None
        sleep(min(poll, remaining))


def next_question(
    db: Database,
    agent_id: str,
    timeout: float,
    *,
    poll: float = POLL_SECONDS,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Conversation | None:
    """The oldest question waiting for the agent's answer, waiting up to ``timeout``
    seconds for one to arrive; ``None`` if none did. Listening marks nothing: the
    question stays pending until it is answered.

    Raises ``NotFoundError`` for an unknown agent.
    """
    agent = find_agent(db, agent_id)
    deadline = clock() + timeout
    while True:
        pending = db.conversations.find_pending_for_agent(agent.id)
        if pending:
            return pending[0]
        remaining = deadline - clock()
        if remaining <= 0:
            return None
        sleep(min(poll, remaining))


def answer(db: Database, conversation_id: str, text: str) -> Conversation:
    """Record the answer. Raises ``NotFoundError`` (unknown conversation) or
    ``ConflictError`` (already answered: the first answer stands).
    """
    with db.transaction():
        conversation: Conversation = db.conversations.answer(conversation_id, text)
        events.emit(db, events.CONVERSATION_ANSWERED, conversation)
    return conversation
