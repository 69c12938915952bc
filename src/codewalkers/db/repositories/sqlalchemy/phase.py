"""Phases of an initiative, and the dependencies between them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import Connection

from codewalkers.db import schema
from codewalkers.db._validation import TableRules
from codewalkers.db.errors import ValidationError
from codewalkers.db.records import Phase
from codewalkers.db.repositories.sqlalchemy._base import SqlRepository, check_id
from codewalkers.db.repositories.sqlalchemy._graph import DependencyEdges


class SqlPhaseRepository(SqlRepository[Phase]):
    table = schema.phases
    record_type = Phase
    entity = "phase"
    rules = TableRules(table, entity, immutable=["id", "initiative_id"], not_blank=["name"])
    edges = DependencyEdges(
        schema.phase_dependencies, schema.phases, "phase_id", "depends_on_phase_id", "phase"
    )

    def find_by_initiative_id(self, initiative_id: str) -> list[Phase]:
        """The initiative's phases, in the order they were created."""
        check_id(initiative_id, "initiative_id")
        return self._find_where(self.table.c.initiative_id == initiative_id)

    def create_dependency(self, phase_id: str, depends_on_phase_id: str) -> bool:
        """Make ``phase_id`` depend on ``depends_on_phase_id``; False if it already did.

        Both phases must belong to the same initiative. Raises ``ValidationError`` for a
        self-dependency, a cycle (named in the message) or phases of different initiatives,
        ``ReferenceNotFoundError`` for an unknown phase.
        """
        check_id(phase_id, "phase_id")
        check_id(depends_on_phase_id, "depends_on_phase_id")

        def work(connection: Connection) -> bool:
            initiatives = dict(
                connection.execute(
                    select(self.table.c.id, self.table.c.initiative_id).where(
                        self.table.c.id.in_([phase_id, depends_on_phase_id])
                    )
                ).all()
            )
            if len(set(initiatives.values())) > 1:
                raise ValidationError(
                    f"phase {phase_id!r} and phase {depends_on_phase_id!r} belong to different "
                    "initiatives; a phase may only depend on a phase of its own initiative"
                )
            return self.edges.add(connection, phase_id, depends_on_phase_id)

        return self._write(work)

    def remove_dependency(self, phase_id: str, depends_on_phase_id: str) -> bool:
        """Remove the dependency; False when there was none."""
        check_id(phase_id, "phase_id")
        check_id(depends_on_phase_id, "depends_on_phase_id")
        return self._write(lambda c: self.edges.remove(c, phase_id, depends_on_phase_id))

    def get_dependencies(self, phase_id: str) -> list[str]:
        """Ids of the phases ``phase_id`` depends on."""
        check_id(phase_id, "phase_id")
        return self._read(lambda c: self.edges.targets(c, phase_id))

    def get_dependents(self, phase_id: str) -> list[str]:
        """Ids of the phases that depend on ``phase_id``."""
        check_id(phase_id, "phase_id")
        return self._read(lambda c: self.edges.dependents(c, phase_id))

    def find_dependencies_by_initiative_id(self, initiative_id: str) -> list[tuple[str, str]]:
        """Every ``(phase_id, depends_on_phase_id)`` edge among the initiative's phases."""
        check_id(initiative_id, "initiative_id")
        edges = schema.phase_dependencies
        statement = (
            select(edges.c.phase_id, edges.c.depends_on_phase_id)
            .join(self.table, self.table.c.id == edges.c.phase_id)
            .where(self.table.c.initiative_id == initiative_id)
            .order_by(edges.c.created_at)
        )
        return self._read(lambda c: [(a, b) for a, b in c.execute(statement)])
