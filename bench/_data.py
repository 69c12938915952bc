"""Building the benchmark's tables fast: bulk loads through the bare driver, not measured.

Rows carry 21-character random ids like the repositories' nanoids (so primary-key indexes
grow the same way) and realistic timestamps; statuses are valid enum values.
"""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from _floor import Floor

LOG_LINE = (
    '{"type":"assistant","message":{"content":[{"type":"text","text":"Running the test '
    'suite again after the fix; 42 passed, 0 failed."}]}}'
)


def fast_id() -> str:
    """A 21-character URL-safe random id (the nanoid alphabet), cheaper than ``new_id``."""
    return secrets.token_urlsafe(16)[:21]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class Plan:
    """An initiative built for cases 10 and 11."""

    initiative_id: str
    phase_ids: list[str]
    task_ids: list[str]
    dependencies: int
    pages: int


def build_initiative(
    floor: Floor,
    *,
    tasks: int,
    dependencies: int,
    pages: int,
    phases: int = 10,
    seed: int = 1,
    ready_mix: bool = False,
) -> Plan:
    """An initiative with ``phases`` phases, ``tasks`` tasks spread over them, ``dependencies``
    task dependencies (each on an earlier task: acyclic) and ``pages`` pages (a root and a tree
    under it).

    With ``ready_mix`` the statuses make the "ready tasks" query selective: the first phases
    are completed and most of their tasks too, the later phases and tasks are pending, and
    each phase depends on the one before it.
    """
    rng = random.Random(seed)
    now = now_ms()
    initiative_id = fast_id()
    floor.bulk_insert(
        "initiatives",
        ["id", "name", "created_at", "updated_at"],
        [(initiative_id, f"bench initiative {initiative_id}", now, now)],
    )
    phase_ids = [fast_id() for _ in range(phases)]

    def phase_status(index: int) -> str:
        return "completed" if ready_mix and index < 3 else "pending"

    floor.bulk_insert(
        "phases",
        ["id", "initiative_id", "name", "status", "created_at", "updated_at"],
        [
            (pid, initiative_id, f"phase {i}", phase_status(i), now + i, now + i)
            for i, pid in enumerate(phase_ids)
        ],
    )
    if ready_mix:
        floor.bulk_insert(
            "phase_dependencies",
            ["id", "phase_id", "depends_on_phase_id", "created_at"],
            [(fast_id(), phase_ids[i], phase_ids[i - 1], now) for i in range(1, phases)],
        )
    task_ids = [fast_id() for _ in range(tasks)]
    per_phase = max(1, tasks // phases)
    priorities = ("high", "medium", "low")

    def task_status(index: int) -> str:
        if not ready_mix:
            return "pending"
        phase = min(index // per_phase, phases - 1)
        completed_share = 0.9 if phase < 3 else 0.5 if phase == 3 else 0.0
        return "completed" if rng.random() < completed_share else "pending"

    floor.bulk_insert(
        "tasks",
        [
            "id",
            "phase_id",
            "initiative_id",
            "name",
            "priority",
            "status",
            "order",
            "created_at",
            "updated_at",
        ],
        (
            (
                tid,
                phase_ids[min(i // per_phase, phases - 1)],
                initiative_id,
                f"task {i}",
                priorities[i % 3],
                task_status(i),
                i % per_phase,
                now + i,
                now + i,
            )
            for i, tid in enumerate(task_ids)
        ),
    )
    edges: set[tuple[int, int]] = set()
    while len(edges) < dependencies and tasks > 1:
        node = rng.randrange(1, tasks)
        edges.add((node, rng.randrange(0, node)))
    floor.bulk_insert(
        "task_dependencies",
        ["id", "task_id", "depends_on_task_id", "created_at"],
        ((fast_id(), task_ids[a], task_ids[b], now) for a, b in sorted(edges)),
    )
    page_ids = [fast_id() for _ in range(pages)]
    floor.bulk_insert(
        "pages",
        [
            "id",
            "initiative_id",
            "parent_page_id",
            "title",
            "sort_order",
            "created_at",
            "updated_at",
        ],
        (
            (
                pid,
                initiative_id,
                None if i == 0 else page_ids[rng.randrange(0, i)],
                f"page {i}",
                i,
                now + i,
                now + i,
            )
            for i, pid in enumerate(page_ids)
        ),
    )
    return Plan(initiative_id, phase_ids, task_ids, len(edges), pages)


PAGE_COLUMNS = [
    "id",
    "initiative_id",
    "parent_page_id",
    "title",
    "sort_order",
    "created_at",
    "updated_at",
]


def add_tasks(floor: Floor, initiative_id: str, phase_id: str, count: int) -> list[str]:
    """``count`` pending tasks in one phase; their ids."""
    now = now_ms()
    ids = [fast_id() for _ in range(count)]
    floor.bulk_insert(
        "tasks",
        ["id", "phase_id", "initiative_id", "name", "created_at", "updated_at"],
        (
            (tid, phase_id, initiative_id, f"seed task {i}", now + i, now + i)
            for i, tid in enumerate(ids)
        ),
    )
    return ids


def add_agents(floor: Floor, count: int, prefix: str) -> list[str]:
    now = now_ms()
    ids = [fast_id() for _ in range(count)]
    floor.bulk_insert(
        "agents",
        ["id", "name", "worktree_id", "created_at", "updated_at"],
        ((aid, f"{prefix}-{i}", f"wt-{i}", now, now) for i, aid in enumerate(ids)),
    )
    return ids


@dataclass
class Growth:
    """A table grown in stages for the indexed look-ups (cases 5, 6, 7).

    Each stage adds rows up to the next size; the rows the measured call looks up are spread
    evenly over the rows the stage adds (as interleaved agent output would be), so larger
    tables put them on more, farther apart pages.
    """

    floor: Floor
    rows: int = 0
    targets: dict[int, str] = field(default_factory=dict)
    next_seq: int = 1
    others: list[str] = field(default_factory=list)


def grow_log_chunks(growth: Growth, size: int, per_agent: int = 1000) -> str:
    """Grow ``agent_log_chunks`` to ``size`` rows; the new stage's target agent has
    ``per_agent`` chunks (all of them when the stage adds fewer). Returns its agent id.
    """
    floor = growth.floor
    adding = size - growth.rows
    agents = max(1, adding // per_agent)
    agent_ids = [f"agent-{size}-{k}" for k in range(agents)]
    now = now_ms()
    start_seq = growth.next_seq

    def rows() -> Iterator[tuple[object, ...]]:
        for j in range(adding):
            agent = agent_ids[j % agents]
            row: tuple[object, ...] = (fast_id(), agent, agent, 1, LOG_LINE, now + j // 100)
            yield (*row, start_seq + j) if floor.is_sqlite else row

    columns = ["id", "agent_id", "agent_name", "session_number", "content", "created_at"]
    if floor.is_sqlite:
        columns.append("seq")
    floor.bulk_insert("agent_log_chunks", columns, rows())
    growth.rows = size
    growth.next_seq = start_seq + adding
    if not floor.is_sqlite:
        floor.execute_script("ANALYZE agent_log_chunks")
    return agent_ids[0]


def grow_conversations(growth: Growth, size: int, pending: int = 10, answered: int = 10) -> str:
    """Grow ``conversations`` to ``size`` rows. The stage's target agent receives ``pending``
    pending and ``answered`` answered questions spread over the new rows; the rest go to
    1,000 other agents, half of them pending. Returns the target agent's id.
    """
    floor = growth.floor
    if not growth.others:
        growth.others = add_agents(floor, 1000, "bench-peer")
    target = add_agents(floor, 1, f"bench-target-{size}")[0]
    adding = size - growth.rows
    mine = pending + answered
    step = max(1, adding // mine)
    rng = random.Random(size)
    others = growth.others
    now = now_ms()

    def rows() -> Iterator[tuple[object, ...]]:
        given = 0
        for j in range(adding):
            if j % step == 0 and given < mine:
                to_agent, status = target, "pending" if given < pending else "answered"
                given += 1
            else:
                to_agent = others[rng.randrange(len(others))]
                status = "pending" if rng.random() < 0.5 else "answered"
            answer = "yes" if status == "answered" else None
            from_agent = others[rng.randrange(len(others))]
            yield (fast_id(), from_agent, to_agent, "Which port?", answer, status, now + j, now + j)

    floor.bulk_insert(
        "conversations",
        [
            "id",
            "from_agent_id",
            "to_agent_id",
            "question",
            "answer",
            "status",
            "created_at",
            "updated_at",
        ],
        rows(),
    )
    growth.rows = size
    if not floor.is_sqlite:
        floor.execute_script("ANALYZE conversations")
    return target


def grow_accounts(growth: Growth, size: int, claude: int = 100) -> None:
    """Grow ``accounts`` to ``size`` rows: the first stage holds the ``claude`` accounts the
    measured call chooses among, later stages add accounts of ten other providers.
    """
    floor = growth.floor
    adding = size - growth.rows
    first = growth.rows == 0
    now = now_ms()

    def rows() -> Iterator[tuple[object, ...]]:
        for j in range(adding):
            provider = "claude" if first and j < claude else f"provider-{j % 10}"
            index = growth.rows + j
            yield (fast_id(), f"user{index}@example.com", provider, j, now + j, now + j)

    floor.bulk_insert(
        "accounts",
        ["id", "email", "provider", "sort_order", "created_at", "updated_at"],
        rows(),
    )
    growth.rows = size
    if not floor.is_sqlite:
        floor.execute_script("ANALYZE accounts")
