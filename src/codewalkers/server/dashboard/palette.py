"""The command palette (Ctrl/⌘-K): jump to any initiative, agent or task, or to a screen,
and run the common action on it (execute / pause an initiative, stop / resume an agent,
retry / complete a task) through the same executor and runtime as the buttons and the API.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from codewalkers.db import (
    AgentStatus,
    Database,
    ExecutionState,
    NotFoundError,
    TaskStatus,
    TaskType,
    ValidationError,
)
from codewalkers.server.dashboard.execution import queue_task
from codewalkers.server.dashboard.routes import form, fragment
from codewalkers.server.routes._common import get_executor, get_runtime
from codewalkers.services.agents import find_agent

router = APIRouter(include_in_schema=False)

#: Results per kind.
LIMIT = 6
SCREENS = (
    ("Initiatives", "/ui/initiatives"),
    ("Agents", "/ui/agents"),
    ("Inbox", "/ui/inbox"),
    ("Settings", "/ui/settings"),
)


@dataclass(frozen=True)
class Action:
    label: str
    kind: str
    name: str  # the action
    id: str


@dataclass(frozen=True)
class Item:
    kind: str  # "initiative", "agent", "task", "screen"
    label: str
    detail: str
    href: str
    actions: list[Action] = field(default_factory=list)


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def search(db: Database, query: str) -> list[Item]:
    """What matches ``query`` (case-insensitive substring; everything recent when empty),
    screens first, then initiatives, agents and tasks, newest first, at most :data:`LIMIT`
    of each."""
    q = query.strip().lower()

    def hit(*texts: str) -> bool:
        return not q or any(q in text.lower() for text in texts)

    items = [Item("screen", name, "screen", href) for name, href in SCREENS if q and hit(name)]
    initiatives = [i for i in reversed(db.initiatives.find_all()) if hit(i.name, i.id)][:LIMIT]
    names: dict[str, str] = {}
    for initiative in db.initiatives.find_all():
        names[initiative.id] = initiative.name
    for initiative in initiatives:
        execution = db.execution.find_execution(initiative.id)
        actions = []
        if initiative.status not in {"completed", "archived"}:
            if execution is None or execution.state == ExecutionState.PAUSED:
                actions.append(Action("Execute", "initiative", "execute", initiative.id))
            else:
                actions.append(Action("Pause", "initiative", "pause", initiative.id))
        items.append(
            Item(
                "initiative",
                initiative.name,
                f"initiative · {initiative.status}"
                + (f" · {execution.state}" if execution else ""),
                f"/ui/initiatives/{initiative.id}/execution",
                actions,
            )
        )
    agents = [a for a in reversed(db.agents.find_all()) if hit(a.name, a.id)][:LIMIT]
    for agent in agents:
        actions = []
        if agent.status in {AgentStatus.RUNNING, AgentStatus.WAITING_FOR_INPUT}:
            actions.append(Action("Stop", "agent", "stop", agent.name))
        elif agent.status in {AgentStatus.IDLE, AgentStatus.STOPPED, AgentStatus.CRASHED}:
            actions.append(Action("Resume", "agent", "resume", agent.name))
        items.append(
            Item(
                "agent", agent.name, f"agent · {agent.status}", f"/ui/agents/{agent.name}", actions
            )
        )
    phases = {p.id: p for p in db.phases.find_all()}
    tasks = [t for t in reversed(db.tasks.find_all()) if hit(t.name, t.id)][:LIMIT]
    for task in tasks:
        initiative_id = task.initiative_id or (
            phases[task.phase_id].initiative_id if task.phase_id in phases else None
        )
        actions = []
        phase = phases.get(task.phase_id or "")
        if task.status == TaskStatus.PENDING_APPROVAL or (
            task.status == TaskStatus.PENDING and phase is not None and phase.status == "pending"
        ):
            actions.append(Action("Queue", "task", "queue", task.id))
        if task.status == TaskStatus.BLOCKED:
            actions.append(Action("Retry", "task", "retry", task.id))
        if task.type != TaskType.AUTO and task.status in {TaskStatus.PENDING, TaskStatus.BLOCKED}:
            actions.append(Action("Complete", "task", "complete", task.id))
        where = names.get(initiative_id or "", "")
        items.append(
            Item(
                "task",
                task.name,
                f"task · {task.status}" + (f" · {where}" if where else ""),
                f"/ui/initiatives/{initiative_id}/execution#task-{task.id}"
                if initiative_id
                else "/ui/initiatives",
                actions,
            )
        )
    return items


@router.get("/ui/palette")
def palette(request: Request, q: str = "") -> HTMLResponse:
    return fragment(request, "_palette.html", items=search(_db(request), q[:200]), q=q)


@router.post("/ui/palette/run")
async def run(request: Request) -> HTMLResponse:
    """Run one action on one thing; answers a one-line confirmation."""
    fields = await form(request)
    kind, name, id = fields.get("kind", ""), fields.get("action", ""), fields.get("id", "")
    db = _db(request)

    def apply() -> str:
        if kind == "initiative" and name in {"execute", "pause"}:
            executor = get_executor(request)
            initiative = db.initiatives.find_by_id(id)
            if initiative is None:
                raise NotFoundError(f"initiative {id!r} not found")
            if name == "execute":
                executor.execute(id)
                executor.wake()
                return f'executing "{initiative.name}"'
            executor.pause(id)
            return f'paused "{initiative.name}"'
        if kind == "agent" and name in {"stop", "resume"}:
            runtime = get_runtime(request)
            agent = find_agent(db, id)
            (runtime.stop if name == "stop" else runtime.resume)(agent.name)
            return f"{'stopped' if name == 'stop' else 'resumed'} {agent.name}"
        if kind == "task" and name == "queue":
            executor = get_executor(request)
            task = queue_task(db, id)
            executor.wake()
            return f'queued "{task.name}"'
        if kind == "task" and name in {"retry", "complete"}:
            executor = get_executor(request)
            task = executor.retry_task(id) if name == "retry" else executor.complete_task(id)
            return f'{"retrying" if name == "retry" else "completed"} "{task.name}"'
        raise ValidationError(f"action: no action {name!r} for a {kind or 'nothing'}")

    done = await run_in_threadpool(apply)
    return fragment(request, "_palette_done.html", text=done)
