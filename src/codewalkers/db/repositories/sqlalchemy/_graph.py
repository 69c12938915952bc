"""Dependency edges (phase → phase, task → task) kept acyclic."""

from __future__ import annotations

import zlib

from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.engine import Connection

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
        self._lock_key = zlib.crc32(f"codewalkers:{edges.name}".encode())

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
