"""Dependency edges (phase → phase, task → task) kept acyclic, in the plan's combined graph.

A plan can progress only if its combined graph has no cycle. Its nodes are tasks and phases;
"X waits for Y" edges are: a task for the tasks it depends on, a task for the phases its own
phase depends on, a phase for the phases it depends on, and a phase for its own tasks (it is
completed only when they are). So a task of Design may not depend on a task of Rollout when
Rollout depends on Design: task → task (Rollout) → phase Design → the task itself.
"""

from __future__ import annotations

import zlib

from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.engine import Connection

from codewalkers.db import schema
from codewalkers.db.errors import ReferenceNotFoundError, ValidationError
from codewalkers.db.ids import new_id
from codewalkers.db.types import now_ms


class DependencyEdges:
    """The edges of one dependency table: ``node`` depends on ``target``."""

    def __init__(self, edges: Table, nodes: Table, node: str, target: str, entity: str) -> None:
        self.edges = edges
        self.nodes = nodes
        self.node = edges.c[node]
        self.target = edges.c[target]
        self.entity = entity
        # One lock for both edge tables: a task edge and a phase edge can close one cycle.
        self._lock_key = zlib.crc32(b"codewalkers:plan-graph")

    def add(self, connection: Connection, node_id: str, target_id: str) -> bool:
        """Add ``node_id`` → ``target_id``; False when the edge already existed.

        Raises ``ValidationError`` for a self-dependency or one that would close a cycle
        (naming the cycle), ``ReferenceNotFoundError`` for an unknown id.
        """
        if node_id == target_id:
            raise ValidationError(f"{self.entity} {node_id!r} cannot depend on itself")
        if connection.dialect.name == "postgresql":
            # Two concurrent inserts could each pass the cycle check; serialize them.
            connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": self._lock_key})
        found = set(
            connection.execute(
                select(self.nodes.c.id).where(self.nodes.c.id.in_([node_id, target_id]))
            ).scalars()
        )
        for id in (node_id, target_id):
            if id not in found:
                raise ReferenceNotFoundError(f"{self.entity} {id!r} does not exist")
        if self._has_edge(connection, node_id, target_id):
            return False
        path = self._path(connection, target_id, node_id)
        if path is not None:
            cycle = " → ".join([node_id, *path])
            raise ValidationError(f"{self.entity} dependency would create a cycle: {cycle}")
        goals: set[Node] = {(self.entity, node_id)}
        if self.entity == "phase":
            # The phase's tasks wait for what it depends on, so they may not be reached either.
            members = select(schema.tasks.c.id).where(schema.tasks.c.phase_id == node_id)
            goals |= {("task", id) for id in connection.execute(members).scalars()}
        combined = plan_path(connection, (self.entity, target_id), goals)
        if combined is not None:
            cycle = " → ".join(f"{kind} {id}" for kind, id in [combined[-1], *combined])
            raise ValidationError(
                f"{self.entity} dependency would make the plan impossible, each waiting for "
                f"the next: {cycle}"
            )
        connection.execute(
            insert(self.edges).values(
                {
                    "id": new_id(),
                    self.node.name: node_id,
                    self.target.name: target_id,
                    "created_at": now_ms(),
                }
            )
        )
        return True

    def remove(self, connection: Connection, node_id: str, target_id: str) -> bool:
        """Remove the edge; False when there was none."""
        result = connection.execute(
            self.edges.delete().where(self.node == node_id, self.target == target_id)
        )
        return bool(result.rowcount)

    def _has_edge(self, connection: Connection, node_id: str, target_id: str) -> bool:
        statement = select(func.count()).where(self.node == node_id, self.target == target_id)
        return bool(connection.execute(statement).scalar())

    def _path(self, connection: Connection, start: str, goal: str) -> list[str] | None:
        """A dependency path from ``start`` to ``goal`` (both included), breadth first."""
        parent: dict[str, str | None] = {start: None}
        frontier = [start]
        while frontier:
            rows = connection.execute(
                select(self.node, self.target).where(self.node.in_(frontier))
            ).all()
            frontier = []
            for node_id, target_id in rows:
                if target_id in parent:
                    continue
                parent[target_id] = node_id
                if target_id == goal:
                    path = [goal]
                    while (previous := parent[path[-1]]) is not None:
                        path.append(previous)
                    return path[::-1]
                frontier.append(target_id)
        return None

    def targets(self, connection: Connection, node_id: str) -> list[str]:
        """What ``node_id`` depends on."""
        statement = (
            select(self.target).where(self.node == node_id).order_by(self.edges.c.created_at)
        )
        return list(connection.execute(statement).scalars())

    def dependents(self, connection: Connection, target_id: str) -> list[str]:
        """What depends on ``target_id``."""
        statement = (
            select(self.node).where(self.target == target_id).order_by(self.edges.c.created_at)
        )
        return list(connection.execute(statement).scalars())


Node = tuple[str, str]  # ("task" | "phase", id)


def _waits_for(connection: Connection, frontier: list[Node]) -> list[tuple[Node, Node]]:
    """The combined graph's edges out of ``frontier`` (see the module docstring)."""
    tasks = schema.tasks
    task_deps, phase_deps = schema.task_dependencies, schema.phase_dependencies
    task_ids = [id for kind, id in frontier if kind == "task"]
    phase_ids = [id for kind, id in frontier if kind == "phase"]
    edges: list[tuple[Node, Node]] = []
    if task_ids:
        rows = connection.execute(
            select(task_deps.c.task_id, task_deps.c.depends_on_task_id).where(
                task_deps.c.task_id.in_(task_ids)
            )
        )
        edges += [(("task", a), ("task", b)) for a, b in rows]
        rows = connection.execute(
            select(tasks.c.id, phase_deps.c.depends_on_phase_id)
            .join(phase_deps, phase_deps.c.phase_id == tasks.c.phase_id)
            .where(tasks.c.id.in_(task_ids))
        )
        edges += [(("task", a), ("phase", b)) for a, b in rows]
    if phase_ids:
        rows = connection.execute(
            select(phase_deps.c.phase_id, phase_deps.c.depends_on_phase_id).where(
                phase_deps.c.phase_id.in_(phase_ids)
            )
        )
        edges += [(("phase", a), ("phase", b)) for a, b in rows]
        rows = connection.execute(
            select(tasks.c.phase_id, tasks.c.id).where(tasks.c.phase_id.in_(phase_ids))
        )
        edges += [(("phase", a), ("task", b)) for a, b in rows]
    return edges


def plan_path(connection: Connection, start: Node, goals: set[Node]) -> list[Node] | None:
    """A path of "waits for" edges from ``start`` to one of ``goals`` (both ends included)
    through the plan's combined graph, breadth first; ``None`` when none can be reached.
    """
    parent: dict[Node, Node | None] = {start: None}
    frontier = [start]
    while frontier:
        found = _waits_for(connection, frontier)
        frontier = []
        for node, target in found:
            if target in parent:
                continue
            parent[target] = node
            if target in goals:
                path = [target]
                while (previous := parent[path[-1]]) is not None:
                    path.append(previous)
                return path[::-1]
            frontier.append(target)
    return None
