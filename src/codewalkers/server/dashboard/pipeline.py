"""What the Execution and Review tabs show: the pipeline by dependency level, a phase's
diff parsed into files and lines with its review threads. Read through the services and
repositories (no SQL here), pure functions where they can be.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from codewalkers.db import (
    Agent,
    Database,
    Execution,
    Initiative,
    Phase,
    PhaseStatus,
    ReviewComment,
    Task,
    TaskStatus,
    TaskType,
)
from codewalkers.services import plan

# --- the pipeline ----------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskRow:
    task: Task
    depth: int  # 0 for a phase's own tasks, 1 for their subtasks, ...
    agent: Agent | None
    reason: str | None  # why it waits, when the executor says so
    phase_pending: bool = False  # its phase is not approved yet

    @property
    def can_retry(self) -> bool:
        return self.task.status == TaskStatus.BLOCKED

    @property
    def can_queue(self) -> bool:
        """Waiting for approval, or in a phase not queued yet: queueing approves them."""
        return self.task.status == TaskStatus.PENDING_APPROVAL or (
            self.task.status == TaskStatus.PENDING and self.phase_pending
        )

    @property
    def can_complete(self) -> bool:
        """A checkpoint waits for a person to complete it."""
        return self.task.type != TaskType.AUTO and self.task.status in {
            TaskStatus.PENDING,
            TaskStatus.BLOCKED,
        }


@dataclass(frozen=True)
class PhaseCard:
    phase: Phase
    depends_on: list[str]  # names
    tasks: list[TaskRow]
    reason: str | None

    @property
    def done(self) -> int:
        return sum(row.task.status == TaskStatus.COMPLETED for row in self.tasks)

    @property
    def can_queue(self) -> bool:
        """A pending phase is queued by approving it: its tasks run once it may start."""
        return self.phase.status == PhaseStatus.PENDING


@dataclass(frozen=True)
class Pipeline:
    initiative: Initiative
    execution: Execution | None
    columns: list[list[PhaseCard]]  # by dependency level
    loose: list[TaskRow]  # tasks in no phase
    initiative_reason: str | None
    status_known: bool  # whether the executor said why things wait

    @property
    def state(self) -> str:
        return str(self.execution.state) if self.execution else "not executing"

    @property
    def counts(self) -> dict[str, int]:
        counted: dict[str, int] = {}
        for row in [r for column in self.columns for card in column for r in card.tasks]:
            counted[str(row.task.status)] = counted.get(str(row.task.status), 0) + 1
        for row in self.loose:
            counted[str(row.task.status)] = counted.get(str(row.task.status), 0) + 1
        return counted


def levels(phase_ids: list[str], depends_on: dict[str, list[str]]) -> dict[str, int]:
    """Each phase's dependency level: 0 without dependencies, else one more than its
    deepest dependency's. A cycle (the plan service refuses them) counts as level 0."""
    found: dict[str, int] = {}

    def level(phase_id: str, seen: frozenset[str]) -> int:
        if phase_id in found:
            return found[phase_id]
        deps = [d for d in depends_on.get(phase_id, []) if d in phase_ids and d not in seen]
        value = 1 + max((level(d, seen | {phase_id}) for d in deps), default=-1)
        found[phase_id] = value
        return value

    for phase_id in phase_ids:
        level(phase_id, frozenset())
    return found


def _rows(
    nodes: list[plan.TaskNode],
    agents: dict[str, Agent],
    reasons: dict[str, str],
    depth: int = 0,
    phase_pending: bool = False,
) -> list[TaskRow]:
    rows: list[TaskRow] = []
    for node in nodes:
        task = node.task
        agent, reason = agents.get(task.id), reasons.get(task.id)
        rows.append(TaskRow(task, depth, agent, reason, phase_pending))
        rows += _rows(node.children, agents, reasons, depth + 1, phase_pending)
    return rows


def pipeline(db: Database, initiative_id: str, status: dict[str, Any] | None) -> Pipeline:
    """The initiative's phases in columns by dependency level, each task with the agent
    that runs (or ran) it; ``status`` is the executor's ``dispatch_status`` for the
    initiative (``None`` without an executor), which says why each waiting thing waits."""
    tree = plan.initiative_tree(db, initiative_id)
    agents: dict[str, Agent] = {}
    for agent in db.agents.find_all():
        if agent.initiative_id == initiative_id and agent.task_id:
            agents[agent.task_id] = agent  # oldest first: the newest wins
    reasons: dict[str, str] = {}
    for waiting in (status or {}).get("waiting", []):
        reasons[str(waiting["id"])] = str(waiting["reason"])
    for queued in (status or {}).get("queued", []):
        reasons[str(queued["task_id"])] = "queued: dispatched when an agent is free"
    names = {node.phase.id: node.phase.name for node in tree.phases}
    by_level = levels(
        [n.phase.id for n in tree.phases], {n.phase.id: n.depends_on for n in tree.phases}
    )
    columns: list[list[PhaseCard]] = [[] for _ in range(max(by_level.values(), default=-1) + 1)]
    for node in tree.phases:
        card = PhaseCard(
            node.phase,
            [names.get(d, d) for d in node.depends_on],
            _rows(node.tasks, agents, reasons, phase_pending=node.phase.status == "pending"),
            reasons.get(node.phase.id),
        )
        columns[by_level[node.phase.id]].append(card)
    return Pipeline(
        tree.initiative,
        db.execution.find_execution(initiative_id),
        columns,
        _rows(tree.tasks, agents, reasons),
        reasons.get(initiative_id),
        status is not None,
    )


# --- a phase's diff --------------------------------------------------------------------------


@dataclass
class Line:
    kind: str  # "added", "removed", "context", "hunk"
    text: str
    old: int | None = None
    new: int | None = None

    @property
    def number(self) -> int | None:
        """The line a comment on it names: the old number for a removed line, else the new."""
        return self.old if self.kind == "removed" else self.new


@dataclass
class Thread:
    file_path: str
    line_number: int
    line_type: str
    comments: list[ReviewComment]

    @property
    def key(self) -> tuple[str, int, str]:
        return (self.file_path, self.line_number, self.line_type)

    @property
    def resolved(self) -> bool:
        return all(c.resolved for c in self.comments)

    @property
    def anchor(self) -> str:
        return thread_anchor(self.file_path, self.line_number, self.line_type)


@dataclass
class SplitRow:
    left: Line | None
    right: Line | None
    hunk: Line | None = None


@dataclass
class FileDiff:
    project: str
    path: str
    lines: list[Line] = field(default_factory=list)
    binary: bool = False
    threads: dict[tuple[int, str], Thread] = field(default_factory=dict)
    outdated: list[Thread] = field(default_factory=list)  # on lines no longer in the diff

    @property
    def added(self) -> int:
        return sum(line.kind == "added" for line in self.lines)

    @property
    def removed(self) -> int:
        return sum(line.kind == "removed" for line in self.lines)

    @property
    def unresolved(self) -> int:
        every = [*self.threads.values(), *self.outdated]
        return sum(not thread.resolved for thread in every)

    def thread_at(self, line: Line) -> Thread | None:
        if line.number is None or line.kind == "hunk":
            return None
        return self.threads.get((line.number, line.kind))

    def split(self) -> list[SplitRow]:
        """Side by side: removed lines on the left facing the added lines that replaced them."""
        rows: list[SplitRow] = []
        removed: list[Line] = []
        added: list[Line] = []

        def flush() -> None:
            for i in range(max(len(removed), len(added))):
                rows.append(
                    SplitRow(
                        removed[i] if i < len(removed) else None,
                        added[i] if i < len(added) else None,
                    )
                )
            removed.clear()
            added.clear()

        for line in self.lines:
            if line.kind == "removed":
                removed.append(line)
            elif line.kind == "added":
                added.append(line)
            else:
                flush()
                if line.kind == "hunk":
                    rows.append(SplitRow(None, None, hunk=line))
                else:
                    rows.append(SplitRow(line, line))
        flush()
        return rows


def thread_anchor(file_path: str, line_number: int, line_type: str) -> str:
    """A stable element id for the thread on one line of one file."""
    import hashlib

    digest = hashlib.sha1(f"{file_path}\0{line_number}\0{line_type}".encode()).hexdigest()
    return "t-" + digest[:12]


def _path_of(header: str) -> str:
    # "diff --git a/x b/x": the b/ side names the file after the change.
    parts = header.split(" b/", 1)
    return parts[1] if len(parts) == 2 else header.removeprefix("diff --git ")


def parse_diff(project: str, text: str) -> list[FileDiff]:
    """A unified git diff as files of numbered lines (hunk headers kept as lines)."""
    files: list[FileDiff] = []
    current: FileDiff | None = None
    old = new = 0
    in_hunk = False
    for raw in text.splitlines():
        if raw.startswith("diff --git "):
            current = FileDiff(project, _path_of(raw))
            files.append(current)
            in_hunk = False
            continue
        if current is None:
            continue
        if raw.startswith("@@"):
            in_hunk = True
            try:
                ranges = raw.split("@@")[1].split()
                old = int(ranges[0][1:].split(",")[0])
                new = int(ranges[1][1:].split(",")[0])
            except (IndexError, ValueError):
                old = new = 0
            current.lines.append(Line("hunk", raw))
            continue
        if not in_hunk:
            if raw.startswith("Binary files"):
                current.binary = True
            elif raw.startswith("+++ ") and raw[4:] != "/dev/null":
                current.path = raw[4:].removeprefix("b/")
            continue
        if raw.startswith("+"):
            current.lines.append(Line("added", raw[1:], new=new))
            new += 1
        elif raw.startswith("-"):
            current.lines.append(Line("removed", raw[1:], old=old))
            old += 1
        elif raw.startswith(" ") or raw == "":
            current.lines.append(Line("context", raw[1:], old=old, new=new))
            old += 1
            new += 1
        # "\ No newline at end of file" and the like: not a line of either side
    return files


def attach_threads(files: list[FileDiff], comments: list[ReviewComment]) -> list[Thread]:
    """Group the comments into threads (one per file, line and side) and hang each on its
    file's line; a thread whose line is no longer in the diff is the file's ``outdated``
    (or, for a file no longer in the diff, one of the returned orphans)."""
    threads: dict[tuple[str, int, str], Thread] = {}
    for comment in comments:
        key = (comment.file_path, comment.line_number, str(comment.line_type))
        if key not in threads:
            threads[key] = Thread(*key, comments=[])
        threads[key].comments.append(comment)
    by_path = {f.path: f for f in files}
    orphans = []
    for thread in threads.values():
        diff = by_path.get(thread.file_path)
        if diff is None:
            orphans.append(thread)
            continue
        present = {(ln.number, ln.kind) for ln in diff.lines if ln.kind != "hunk"}
        if (thread.line_number, thread.line_type) in present:
            diff.threads[(thread.line_number, thread.line_type)] = thread
        else:
            diff.outdated.append(thread)
    return orphans
