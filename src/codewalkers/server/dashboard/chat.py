"""The chat panel: a conversation about one phase or task (docs/planning.md, "Chat
sessions"), opened from the Plan tab (``/ui/chat?phase=ID`` or ``?task=ID``).

Sending is non-blocking: the post records the message and starts (or resumes) the
session's agent through the coordinator's ``ChatAgents`` (503 without one); the reply, and
the change set it made, appear when the agent ends (the ``chat`` stream message re-renders
the panel). Each assistant message shows its change set's entries with a Revert button; a
refused revert (entities changed since) shows the reason in one line with "Revert anyway".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from codewalkers.db import (
    Agent,
    ChangeSet,
    ChangeSetEntry,
    ChatMessage,
    ChatRole,
    ChatSession,
    ChatTargetType,
    Database,
    Initiative,
    NotFoundError,
    Phase,
    Task,
    ValidationError,
)
from codewalkers.server.dashboard.routes import form, fragment, not_found, page
from codewalkers.server.routes._common import get_chat
from codewalkers.services import changes, chat, plan

router = APIRouter(include_in_schema=False)

#: Longer field values are cut in an entry's before → after line.
MAX_VALUE_CHARS = 80


@dataclass(frozen=True)
class FieldChange:
    name: str
    before: str
    after: str


@dataclass(frozen=True)
class EntryView:
    line: str  # changes.describe_entry: "updated task … 'name': name"
    fields: list[FieldChange]


@dataclass
class ChatView:
    target_type: str
    target: Phase | Task
    initiative: Initiative
    session: ChatSession | None
    agent: Agent | None = None  # the session's agent (it answers every message)
    messages: list[ChatMessage] = field(default_factory=list)
    change_sets: dict[str, tuple[ChangeSet, list[EntryView]]] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)  # change set id → one-line reason
    notice: str | None = None

    @property
    def waiting(self) -> bool:
        """The last message is the person's: the agent is answering."""
        return bool(self.messages) and self.messages[-1].role == ChatRole.USER

    @property
    def query(self) -> str:
        return f"{self.target_type}={self.target.id}"


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _show(value: Any) -> str:
    text = "—" if value is None else str(value)
    text = " ".join(text.split())
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"


def entry_view(entry: ChangeSetEntry) -> EntryView:
    """An entry as a person reads it: its line, and each changed field before → after."""
    before = entry.previous_state or {}
    after = entry.new_state or {}
    names = sorted(k for k in {*before, *after} if before.get(k) != after.get(k))
    names = [n for n in names if n not in {"updated_at", "created_at"}]
    if str(entry.action) != "update":
        names = [n for n in names if n in {"name", "title"}]
    fields = [FieldChange(n, _show(before.get(n)), _show(after.get(n))) for n in names]
    return EntryView(changes.describe_entry(entry), fields)


def _target(db: Database, phase: str | None, task: str | None) -> tuple[str, Phase | Task]:
    if bool(phase) == bool(task):
        raise ValidationError("give the chat's phase or its task (one of them)")
    if phase:
        return "phase", plan.get_or_raise(db.phases, phase, "phase")
    return "task", plan.get_or_raise(db.tasks, task or "", "task")


def chat_view(
    db: Database,
    phase: str | None,
    task: str | None,
    *,
    refused: dict[str, str] | None = None,
    notice: str | None = None,
) -> ChatView:
    """The panel of the phase's or task's active chat session (none yet: an empty one).
    Raises ``NotFoundError``, ``ValidationError``."""
    kind, target = _target(db, phase, task)
    initiative_id = target.initiative_id
    if initiative_id is None:
        raise ValidationError(f"{kind} {target.id!r} belongs to no initiative")
    initiative = plan.get_or_raise(db.initiatives, initiative_id, "initiative")
    session = db.chat_sessions.find_active_session(ChatTargetType(kind), target.id)
    view = ChatView(kind, target, initiative, session, refused=refused or {}, notice=notice)
    if session is not None:
        transcript = chat.show(db, session.id)
        view.messages = transcript.messages
        view.agent = db.agents.find_by_id(session.agent_id) if session.agent_id else None
        view.change_sets = {
            key: (change_set, [entry_view(e) for e in entries])
            for key, (change_set, entries) in transcript.change_sets.items()
        }
    return view


def _fields(values: dict[str, str]) -> tuple[str | None, str | None]:
    return values.get("phase") or None, values.get("task") or None


@router.get("/ui/chat")
def chat_page(request: Request, phase: str | None = None, task: str | None = None) -> HTMLResponse:
    try:
        view = chat_view(_db(request), phase, task)
    except (NotFoundError, ValidationError) as exc:
        return not_found(request, "initiatives", str(exc))
    return page(
        request,
        "chat.html",
        section="initiatives",
        title=f"{view.target.name} · Chat",
        view=view,
        initiative=view.initiative,
    )


@router.get("/ui/chat/panel")
def chat_panel(request: Request, phase: str | None = None, task: str | None = None) -> HTMLResponse:
    return fragment(request, "_chat.html", view=chat_view(_db(request), phase, task))


@router.post("/ui/chat/messages")
async def send(request: Request) -> HTMLResponse:
    """Start the target's session if need be and give the message to its agent; answers
    the panel at once (the reply arrives on the stream)."""
    values = await form(request)
    phase, task = _fields(values)
    agents = get_chat(request)
    db = _db(request)

    def run() -> ChatView:
        kind, target = _target(db, phase, task)
        content = values.get("content", "")
        if not content.strip():
            raise ValidationError("the message is empty")
        started = chat.start_session(db, kind, target.id)
        agents.send(started.session.id, content)
        return chat_view(db, phase, task)

    return fragment(request, "_chat.html", view=await run_in_threadpool(run))


@router.post("/ui/change-sets/{id}/revert")
async def revert(request: Request, id: str) -> HTMLResponse:
    """Revert a change set (``force=1`` overwrites what changed since); a refusal naming
    the changed entities is shown next to the change set, with "Revert anyway"."""
    values = await form(request)
    phase, task = _fields(values)
    db = _db(request)

    def run() -> ChatView:
        _target(db, phase, task)  # bad input changes nothing
        try:
            done = changes.revert(db, id, force=values.get("force") == "1")
        except changes.ChangeConflictError as exc:
            return chat_view(db, phase, task, refused={id: str(exc).splitlines()[0]})
        return chat_view(db, phase, task, notice=done.message)

    return fragment(request, "_chat.html", view=await run_in_threadpool(run))
