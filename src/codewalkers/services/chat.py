"""Chat sessions about a phase or a task: start (or resume), send, show, close, and the
agent that answers (docs/planning.md, "Chat sessions").

Each session has one agent (mode ``chat``), spawned for its first message and resumed for
every next one, so it keeps its context. It changes the plan by writing change files
(:mod:`codewalkers.services.changes`); when it ends, :class:`ChatAgents` applies them in one
transaction as one change set and stores its reply as the assistant message, linked to that
change set. Only the coordinator builds a :class:`ChatAgents` (it owns the runtime).
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from codewalkers.db import (
    Agent,
    AgentMode,
    AgentStatus,
    ChangeSet,
    ChangeSetEntry,
    ChatMessage,
    ChatRole,
    ChatSession,
    ChatSessionStatus,
    ChatTargetType,
    ConflictError,
    Database,
    DatabaseError,
    NotFoundError,
    ValidationError,
)
from codewalkers.services import changes, events
from codewalkers.services.plan import get_or_raise
from codewalkers.services.runtime import AgentRuntime, SpawnRequest

log = logging.getLogger(__name__)

#: Where a chat agent writes its change files, relative to its workdir.
CHANGES_DIR = Path(".cw") / "output" / "changes"


@dataclass(frozen=True)
class Started:
    session: ChatSession
    created: bool  # False: an active session about the target already existed


@dataclass(frozen=True)
class Transcript:
    """The session, its messages in order, and the change set (with its entries) of each
    message that made one, by change set id."""

    session: ChatSession
    messages: list[ChatMessage]
    change_sets: dict[str, tuple[ChangeSet, list[ChangeSetEntry]]] = field(default_factory=dict)


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
    """The session, its messages in the order they were written, and their change sets."""
    session: ChatSession = get_or_raise(db.chat_sessions, session_id, "chat session")
    messages = db.chat_sessions.find_messages_by_session_id(session_id)
    found = {}
    for message in messages:
        if message.change_set_id:
            change_set = db.change_sets.find_by_id(message.change_set_id)
            if change_set is not None:
                found[change_set.id] = (change_set, db.change_sets.find_entries(change_set.id))
    return Transcript(session, messages, found)


def replies_after(db: Database, session_id: str, message_id: str) -> list[ChatMessage]:
    """The messages written after ``message_id`` in the session (the reply, once there)."""
    messages = db.chat_sessions.find_messages_by_session_id(session_id)
    ids = [m.id for m in messages]
    if message_id not in ids:
        raise NotFoundError(f"message {message_id!r} not found in chat session {session_id!r}")
    return messages[ids.index(message_id) + 1 :]


def wait_for_reply(
    db: Database, session_id: str, message_id: str, *, timeout: float, poll: float = 0.2
) -> list[ChatMessage]:
    """Wait until the message has its reply (the assistant's message, with any system
    message about changes that were refused) and return it. Raises ``ConflictError`` when
    the agent is no longer running and there is still no reply, ``TimeoutError`` after
    ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    idle_since: float | None = None
    while True:
        replies = replies_after(db, session_id, message_id)
        if replies:
            return replies
        now = time.monotonic()
        session = db.chat_sessions.find_by_id(session_id)
        agent = db.agents.find_by_id(session.agent_id) if session and session.agent_id else None
        if agent is None or agent.status != AgentStatus.RUNNING:
            # The reply is written just after the agent ends: give it a moment.
            idle_since = idle_since or now
            if now - idle_since > 10:
                name = agent.name if agent else "(none)"
                raise ConflictError(
                    f"the chat agent {name} is not running and has not replied "
                    "(is the coordinator running? see `cw agent result`)"
                )
        else:
            idle_since = None
        if now > deadline:
            raise TimeoutError(
                f"no reply after {timeout:.0f}s; `cw chat show {session_id}` shows it once there"
            )
        time.sleep(poll)


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


# -- the chat agent (coordinator side) -------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    message: ChatMessage
    agent: Agent


class ChatAgents:
    """The coordinator's chat agents: spawns or resumes a session's agent for each message,
    and turns its end into the reply (and its change files into one change set)."""

    def __init__(self, runtime: AgentRuntime) -> None:
        self.runtime = runtime
        self.db = runtime.db
        # Orders a send (agent started, then the user's message recorded) before the reply.
        self._lock = threading.Lock()
        runtime.end_listeners.append(self.on_agent_end)

    def send(self, session_id: str, content: str, *, provider: str | None = None) -> Sent:
        """Record the person's message and give it to the session's agent (spawned for the
        first message, resumed after). Raises ``NotFoundError``; ``ConflictError`` for a
        closed session or an agent still answering; ``ValidationError`` for an empty
        message or an unknown provider. On any error nothing is recorded."""
        if not content.strip():
            raise ValidationError("the message is empty")
        db = self.db
        with self._lock:
            session: ChatSession = get_or_raise(db.chat_sessions, session_id, "chat session")
            if session.status == ChatSessionStatus.CLOSED:
                raise ConflictError(f"chat session {session_id!r} is closed")
            agent = db.agents.find_by_id(session.agent_id) if session.agent_id else None
            if agent is not None and agent.status == AgentStatus.RUNNING:
                raise ConflictError(
                    f"the chat agent {agent.name} is still answering: wait for its reply"
                )
            if agent is None or agent.user_dismissed_at is not None or not agent.session_id:
                self.runtime.provider(provider)  # an unknown provider changes nothing
                agent = self.runtime.spawn(
                    SpawnRequest(
                        initiative_id=session.initiative_id,
                        mode=str(AgentMode.CHAT),
                        provider=provider,
                        instructions=_opening(db, session, content),
                        project_ids=(),
                    )
                )
                with db.transaction():
                    session = db.chat_sessions.update_session(session.id, agent_id=agent.id)
            else:
                _set_aside(self.runtime.paths.workdir(agent.name), f"stale-{agent.session_number}")
                if agent.status == AgentStatus.WAITING_FOR_INPUT and agent.pending_questions:
                    open_ = [q for q in agent.pending_questions if q.get("answer") is None]
                    for question in open_:
                        agent = self.runtime.answer(agent.name, content, str(question["id"]))
                else:
                    agent = self.runtime.resume(agent.name, content)
            message = send(db, session.id, content)
        return Sent(message, agent)

    def on_agent_end(self, agent_id: str) -> None:
        """The runtime's end listener: the reply of a chat agent that ended. Never raises."""
        try:
            with self._lock:
                session = self.db.chat_sessions.find_active_session_by_agent_id(agent_id)
                agent = self.db.agents.find_by_id(agent_id)
                if session is not None and agent is not None:
                    self.reply(session, agent)
        except Exception:
            log.exception("could not record the reply of chat agent %s", agent_id)

    def reply(self, session: ChatSession, agent: Agent) -> ChatMessage | None:
        """Record the ended agent's reply to the last message (once): its change files as
        one change set, linked to the assistant message. Returns the assistant message
        (``None`` when there is nothing to answer or the agent still runs)."""
        db = self.db
        if agent.status == AgentStatus.RUNNING:
            return None
        messages = db.chat_sessions.find_messages_by_session_id(session.id)
        if not messages or messages[-1].role != ChatRole.USER:
            return None  # answered already (or nothing asked)
        workdir = self.runtime.paths.workdir(agent.name)
        result = agent.result if isinstance(agent.result, dict) else {}
        problem: str | None = None
        found: list[changes.Change] = []
        if agent.status == AgentStatus.WAITING_FOR_INPUT:
            questions = agent.pending_questions or []
            text = "I have questions before I change anything:\n" + "\n".join(
                f"- {q.get('question')}" for q in questions
            )
        elif agent.status == AgentStatus.IDLE and result.get("status") == "done":
            text = str(result.get("result") or "(no reply)")
            try:
                found = changes.read_change_files(workdir / CHANGES_DIR)
            except ValidationError as exc:
                problem = str(exc)
        else:
            reason = result.get("error") or agent.status_reason or str(agent.status)
            text = f"(the chat agent {agent.name} ended without a reply: {reason})"
        message = None
        if found:
            try:
                with db.transaction():
                    change_set, _ = changes.apply_changes(
                        db,
                        session.initiative_id,
                        found,
                        agent_id=agent.id,
                        summary=text[:500],
                    )
                    message = self._message(session, ChatRole.ASSISTANT, text, change_set.id)
            except (ValidationError, NotFoundError, ConflictError) as exc:
                problem = str(exc)
            except DatabaseError as exc:
                problem = f"the changes could not be stored: {exc}"
        if message is None:
            with db.transaction():
                message = self._message(session, ChatRole.ASSISTANT, text, None)
                if problem is not None:
                    self._message(
                        session, ChatRole.SYSTEM, f"No change was applied: {problem}", None
                    )
        _set_aside(workdir, str(agent.session_number))
        return message

    def _message(
        self, session: ChatSession, role: ChatRole, text: str, change_set_id: str | None
    ) -> ChatMessage:
        message: ChatMessage = self.db.chat_sessions.create_message(
            chat_session_id=session.id, role=role, content=text, change_set_id=change_set_id
        )
        events.emit(
            self.db, events.CHAT_MESSAGE_CREATED, message, initiative_id=session.initiative_id
        )
        return message

    def catch_up(self) -> int:
        """Record the replies of chat agents that ended while no coordinator listened
        (at start). Returns how many replies were recorded."""
        count = 0
        for agent in self.db.agents.find_all():
            if agent.mode != AgentMode.CHAT or agent.status == AgentStatus.RUNNING:
                continue
            session = self.db.chat_sessions.find_active_session_by_agent_id(agent.id)
            if session is not None:
                with self._lock:
                    count += self.reply(session, agent) is not None
        return count


def _opening(db: Database, session: ChatSession, content: str) -> str:
    """The first prompt's extra part: what the chat is about, and the first message."""
    repository = db.phases if session.target_type == ChatTargetType.PHASE else db.tasks
    target = repository.find_by_id(session.target_id)
    name = getattr(target, "name", "?")
    return (
        f"This chat is about {session.target_type} `{session.target_id}` ({name!r}): see "
        f"`.cw/input/context/{session.target_type}s.md`. Change it, and the initiative's other "
        "pages, phases and tasks, as the person asks.\n\n"
        f"## The person says\n\n{content}\n"
    )


def _set_aside(workdir: Path, suffix: str) -> None:
    """Move the agent's change files aside (``changes-<suffix>``): the next reply starts
    with an empty folder, and what was applied stays readable."""
    folder = workdir / CHANGES_DIR
    if not folder.is_dir():
        return
    target = folder.with_name(f"changes-{suffix}")
    if target.exists():
        shutil.rmtree(target, ignore_errors=True)
    folder.rename(target)
