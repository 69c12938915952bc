"""What each screen shows, read through the services and repositories (no SQL here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from codewalkers.db import (
    Agent,
    AgentStatus,
    Database,
    Initiative,
    LogChunk,
    PhaseStatus,
    Proposal,
    ProposalStatus,
    TaskStatus,
)
from codewalkers.services import plan
from codewalkers.services.agents import find_agent
from codewalkers.services.architect import ARCHITECT_MODES

#: How many chunks the agent page loads at first, and per "older" page.
LOG_WINDOW = 200

AGENT_FILTERS: dict[str, tuple[AgentStatus, ...] | None] = {
    "all": None,
    "running": (AgentStatus.RUNNING,),
    "waiting": (AgentStatus.WAITING_FOR_INPUT,),
    "crashed": (AgentStatus.CRASHED,),
    "idle": (AgentStatus.IDLE, AgentStatus.STOPPED),
    "dismissed": None,  # by user_dismissed_at, whatever the status
}


@dataclass(frozen=True)
class Counts:
    running: int
    waiting: int  # unanswered questions waiting for a person


@dataclass(frozen=True)
class InitiativeCard:
    initiative: Initiative
    phases_done: int
    phases_total: int
    tasks_done: int
    tasks_total: int

    @property
    def progress(self) -> int:
        """Completed tasks in percent (0 with no tasks)."""
        return round(100 * self.tasks_done / self.tasks_total) if self.tasks_total else 0


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    answer: str | None


@dataclass(frozen=True)
class InboxItem:
    agent: Agent
    questions: list[Question] = field(default_factory=list)

    @property
    def open(self) -> list[Question]:
        return [q for q in self.questions if q.answer is None]


def questions_of(agent: Agent) -> list[Question]:
    found = []
    for raw in agent.pending_questions or []:
        if isinstance(raw, dict) and "id" in raw:
            answer = raw.get("answer")
            text = str(raw.get("question", ""))
            found.append(Question(str(raw["id"]), text, None if answer is None else str(answer)))
    return found


def counts(db: Database) -> Counts:
    running = len(db.agents.find_by_status(AgentStatus.RUNNING))
    waiting = sum(len(item.open) for item in inbox(db))
    return Counts(running=running, waiting=waiting)


def initiative_cards(db: Database, status: str | None = None) -> list[InitiativeCard]:
    initiatives = db.initiatives.find_all()
    if status:
        initiatives = [i for i in initiatives if i.status == status]
    cards = []
    for initiative in reversed(initiatives):  # newest first
        phases = db.phases.find_by_initiative_id(initiative.id)
        tasks = db.tasks.find_by_initiative_id(initiative.id)
        cards.append(
            InitiativeCard(
                initiative,
                phases_done=sum(p.status == PhaseStatus.COMPLETED for p in phases),
                phases_total=len(phases),
                tasks_done=sum(t.status == TaskStatus.COMPLETED for t in tasks),
                tasks_total=len(tasks),
            )
        )
    return cards


@dataclass(frozen=True)
class PlanView:
    tree: plan.InitiativeTree
    names: dict[str, str]  # phase and task ids -> names, to show dependencies
    agents_by_task: dict[str, Agent]


def plan_view(db: Database, initiative_id: str) -> PlanView:
    tree = plan.initiative_tree(db, initiative_id)
    names: dict[str, str] = {}
    for phase in tree.phases:
        names[phase.phase.id] = phase.phase.name
    for task in db.tasks.find_by_initiative_id(initiative_id):
        names[task.id] = task.name
    agents_by_task: dict[str, Agent] = {}
    for agent in db.agents.find_all():
        if agent.initiative_id == initiative_id and agent.task_id:
            agents_by_task[agent.task_id] = agent  # oldest first: the newest wins
    return PlanView(tree, names, agents_by_task)


def agents(db: Database, filter_name: str) -> list[Agent]:
    if filter_name not in AGENT_FILTERS:
        filter_name = "all"
    if filter_name == "dismissed":
        rows = [a for a in db.agents.find_all() if a.user_dismissed_at is not None]
    else:
        statuses = AGENT_FILTERS[filter_name]
        rows = db.agents.find_all()
        if statuses is not None:
            rows = [a for a in rows if a.status in statuses and a.user_dismissed_at is None]
    return list(reversed(rows))  # newest first


def agent_filter_counts(db: Database) -> dict[str, int]:
    rows = db.agents.find_all()
    counted: dict[str, int] = {}
    for name, statuses in AGENT_FILTERS.items():
        if name == "dismissed":
            counted[name] = sum(a.user_dismissed_at is not None for a in rows)
        elif statuses is None:
            counted[name] = len(rows)
        else:
            counted[name] = sum(a.status in statuses and a.user_dismissed_at is None for a in rows)
    return counted


@dataclass(frozen=True)
class LogWindow:
    chunks: list[LogChunk]
    has_older: bool

    @property
    def first_seq(self) -> int | None:
        return self.chunks[0].seq if self.chunks else None

    @property
    def last_seq(self) -> int:
        return self.chunks[-1].seq if self.chunks else 0


def log_window(db: Database, agent: Agent, before_seq: int | None = None) -> LogWindow:
    """The newest :data:`LOG_WINDOW` chunks (before ``before_seq``), and whether older ones
    exist: one row more is read to know."""
    rows = db.log_chunks.find_latest_by_agent_id(
        agent.id, before_seq=before_seq, limit=LOG_WINDOW + 1
    )
    has_older = len(rows) > LOG_WINDOW
    return LogWindow(rows[1:] if has_older else rows, has_older)


def agent_page(db: Database, name: str) -> tuple[Agent, Any]:
    agent = find_agent(db, name)
    initiative = db.initiatives.find_by_id(agent.initiative_id) if agent.initiative_id else None
    return agent, initiative


def inbox(db: Database) -> list[InboxItem]:
    items = []
    for agent in db.agents.find_by_status(AgentStatus.WAITING_FOR_INPUT):
        item = InboxItem(agent, questions_of(agent))
        if item.open:
            items.append(item)
    return items


@dataclass(frozen=True)
class AgentProposals:
    """One agent's pending proposals, in their order."""

    agent: Agent
    proposals: list[Proposal]


@dataclass
class ProposalsView:
    initiative: Initiative
    groups: list[AgentProposals] = field(default_factory=list)
    message: str | None = None  # what the last action did, warnings included, one line
    #: The initiative's architect agents still at work (running or waiting for an answer).
    working: list[Agent] = field(default_factory=list)


def proposals_view(db: Database, initiative_id: str, message: str | None = None) -> ProposalsView:
    """The initiative's pending proposals by agent (oldest agent first). Raises
    ``NotFoundError`` for an unknown initiative."""
    initiative: Initiative = plan.get_or_raise(db.initiatives, initiative_id, "initiative")
    by_agent: dict[str, list[Proposal]] = {}
    for proposal in db.proposals.find_by_initiative_id(initiative.id):
        if proposal.status == ProposalStatus.PENDING:
            by_agent.setdefault(proposal.agent_id, []).append(proposal)
    groups = []
    for agent_id, rows in by_agent.items():
        agent = db.agents.find_by_id(agent_id)
        if agent is not None:
            groups.append(AgentProposals(agent, sorted(rows, key=lambda p: p.sort_order)))
    groups.sort(key=lambda group: group.agent.created_at)
    working = [
        agent
        for agent in db.agents.find_all()
        if agent.initiative_id == initiative.id
        and agent.mode in ARCHITECT_MODES
        and agent.status in {AgentStatus.RUNNING, AgentStatus.WAITING_FOR_INPUT}
    ]
    return ProposalsView(initiative, groups, message, working)
