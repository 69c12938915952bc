"""Tasks: the units of work agents execute, their hierarchy and dependencies."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, bindparam, case, exists, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from codewalkers.db import schema
from codewalkers.db._validation import TableRules
from codewalkers.db.enums import PhaseStatus, TaskPriority, TaskStatus
from codewalkers.db.errors import ValidationError
from codewalkers.db.records import Task
from codewalkers.db.repositories.sqlalchemy._base import Derived, SqlRepository, check_id
from codewalkers.db.repositories.sqlalchemy._graph import DependencyEdges
from codewalkers.db.repositories.sqlalchemy._raw import Prepared, Raw

tasks = schema.tasks
phases = schema.phases

_ID = bindparam("id", type_=tasks.c.id.type)
_PHASE_OF = Prepared(select(tasks.c.phase_id).where(tasks.c.id == _ID), [tasks.c.phase_id])
_PARENT_OF = Prepared(
    select(tasks.c.parent_task_id).where(tasks.c.id == _ID), [tasks.c.parent_task_id]
)
_PLACEMENT_OF = Prepared(
    select(tasks.c.phase_id, tasks.c.initiative_id).where(tasks.c.id == _ID),
    [tasks.c.phase_id, tasks.c.initiative_id],
)
_INITIATIVE_OF_PHASE = Prepared(
    select(phases.c.initiative_id).where(phases.c.id == bindparam("id", type_=phases.c.id.type)),
    [phases.c.initiative_id],
)


def _initiative_of_phase() -> ColumnElement[Any]:
    lookup = bindparam("phase_lookup", type_=phases.c.id.type)
    return select(phases.c.initiative_id).where(phases.c.id == lookup).scalar_subquery()


_PRIORITY_RANK = case(
    {TaskPriority.HIGH.value: 0, TaskPriority.MEDIUM.value: 1},
    value=tasks.c.priority,
    else_=2,
)


class SqlTaskRepository(SqlRepository[Task]):
    table = tasks
    record_type = Task
    entity = "task"
    rules = TableRules(table, entity, not_blank=["name"])
    edges = DependencyEdges(
        schema.task_dependencies, tasks, "task_id", "depends_on_task_id", "task"
    )

    def _order(self) -> tuple[ColumnElement[Any], ...]:
        return (tasks.c.order, tasks.c.created_at, tasks.c.id)

    def create(self, **fields: Any) -> Task:
        """Insert a task. ``initiative_id`` is filled from the phase (or parent) when omitted.

        Raises ``ValidationError`` when the phase belongs to another initiative than the one
        given, ``ReferenceNotFoundError`` for an unknown phase, initiative or parent.
        """
        values = self.rules.for_create(fields)
        return self._write_raw(lambda raw: self._insert(raw, self._placed(raw, values)))

    def update(self, id: str, **changes: Any) -> Task:
        """Change some fields; return the stored row.

        The task's initiative stays its phase's: moving it to another phase moves it to that
        phase's initiative, and an initiative its phase is not in is refused. Raises
        ``NotFoundError`` for an unknown task, ``ValidationError`` for bad values or for a
        parent that is the task itself or one of its subtasks, ``ReferenceNotFoundError`` for
        an unknown phase, initiative or parent.
        """
        check_id(id)
        values = self.rules.for_update(changes)

        def work(raw: Raw) -> Task:
            if values.get("parent_task_id") is not None:
                self._refuse_ancestry_cycle(raw, id, values["parent_task_id"])
            placed = values
            if "initiative_id" in values and "phase_id" not in values:
                # The task stays in its phase, so the new initiative must be that phase's.
                current = raw.one(_PHASE_OF, {"id": id})
                if current is None:
                    raise self._not_found(id)
                placed = {**values, "phase_id": current[0]}
            return self._update(raw, id, self._placed(raw, placed))

        return self._write_raw(work)

    def _refuse_ancestry_cycle(self, raw: Raw, id: str, parent_id: str) -> None:
        """Raise ``ValidationError`` if ``parent_id`` is ``id`` or one of its subtasks."""
        chain = [parent_id]
        while chain[-1] != id:
            found = raw.one(_PARENT_OF, {"id": chain[-1]})
            parent = None if found is None else found[0]
            if parent is None or parent in chain:
                return
            chain.append(parent)
        path = " → ".join([id, *chain])
        raise ValidationError(f"task {id!r} cannot be a subtask of itself: {path}")

    def _placed(self, raw: Raw, values: dict[str, Any]) -> dict[str, Any]:
        """``values`` with the task's initiative made consistent with its phase and parent."""
        phase_id = values.get("phase_id")
        initiative_id = values.get("initiative_id")
        parent_id = values.get("parent_task_id")
        if phase_id is None and initiative_id is None and parent_id is not None:
            parent = raw.one(_PLACEMENT_OF, {"id": parent_id})
            if parent is not None:
                values = {**values, "phase_id": parent[0], "initiative_id": parent[1]}
        elif phase_id is not None and initiative_id is None:
            # One round trip: the insert reads the phase's initiative itself.
            derived = Derived("initiative_of_phase", _initiative_of_phase, "phase_lookup", phase_id)
            values = {**values, "initiative_id": derived}
        elif phase_id is not None:
            found = raw.one(_INITIATIVE_OF_PHASE, {"id": phase_id})
            owner = None if found is None else found[0]
            if owner is not None and owner != initiative_id:
                raise ValidationError(
                    f"phase {phase_id!r} belongs to initiative {owner!r}, not {initiative_id!r}"
                )
        return values

    def find_by_phase_id(self, phase_id: str) -> list[Task]:
        """The phase's tasks, by ``order`` then age."""
        check_id(phase_id, "phase_id")
        return self._find_where(tasks.c.phase_id == phase_id)

    def find_by_initiative_id(self, initiative_id: str) -> list[Task]:
        """Every task of the initiative (in any of its phases or directly under it)."""
        check_id(initiative_id, "initiative_id")
        return self._find_where(tasks.c.initiative_id == initiative_id)

    def find_by_parent_task_id(self, parent_task_id: str) -> list[Task]:
        """The subtasks a task was decomposed into."""
        check_id(parent_task_id, "parent_task_id")
        return self._find_where(tasks.c.parent_task_id == parent_task_id)

    def find_pending_approval(self, initiative_id: str | None = None) -> list[Task]:
        """Tasks waiting for a person's approval, optionally of one initiative."""
        criteria = [tasks.c.status == TaskStatus.PENDING_APPROVAL.value]
        if initiative_id is not None:
            criteria.append(tasks.c.initiative_id == check_id(initiative_id, "initiative_id"))
        return self._find_where(*criteria)

    def find_ready(self, initiative_id: str) -> list[Task]:
        """Tasks of the initiative that can start now.

        Pending (so approved where approval was required), every task dependency completed,
        every dependency of the task's phase completed. High > medium > low, then oldest.
        """
        check_id(initiative_id, "initiative_id")
        deps, blocker = schema.task_dependencies, tasks.alias("blocker")
        phase_deps, blocking_phase = schema.phase_dependencies, phases.alias("blocking_phase")
        open_task_dependency = exists().where(
            deps.c.task_id == tasks.c.id,
            blocker.c.id == deps.c.depends_on_task_id,
            blocker.c.status != TaskStatus.COMPLETED.value,
        )
        open_phase_dependency = exists().where(
            phase_deps.c.phase_id == tasks.c.phase_id,
            blocking_phase.c.id == phase_deps.c.depends_on_phase_id,
            blocking_phase.c.status != PhaseStatus.COMPLETED.value,
        )
        statement = (
            self._select()
            .where(
                and_(
                    tasks.c.initiative_id == initiative_id,
                    tasks.c.status == TaskStatus.PENDING.value,
                    ~open_task_dependency,
                    ~open_phase_dependency,
                )
            )
            .order_by(_PRIORITY_RANK, tasks.c.created_at, tasks.c.id)
        )
        return self._fetch_all(statement)

    def get_effective_requires_approval(self, task_id: str) -> bool:
        """Whether the task's work needs approval before merging.

        The task's own ``requires_approval``, or when that is ``None`` its initiative's
        ``merge_requires_approval`` (``True`` for a task outside any initiative).
        Raises ``NotFoundError`` for an unknown task.
        """
        check_id(task_id, "task_id")
        initiatives = schema.initiatives
        statement = (
            select(tasks.c.requires_approval, initiatives.c.merge_requires_approval)
            .select_from(tasks)
            .outerjoin(initiatives, initiatives.c.id == tasks.c.initiative_id)
            .where(tasks.c.id == task_id)
        )
        row = self._read(lambda c: c.execute(statement).first())
        if row is None:
            raise self._not_found(task_id)
        own, inherited = row
        if own is not None:
            return bool(own)
        return True if inherited is None else bool(inherited)

    def create_dependency(self, task_id: str, depends_on_task_id: str) -> bool:
        """Make ``task_id`` depend on ``depends_on_task_id``; False if it already did.

        Both tasks must belong to the same initiative (or both to none). Raises
        ``ValidationError`` for a self-dependency, tasks of different initiatives, or a cycle
        in the plan's combined graph of tasks and phases (named in the message),
        ``ReferenceNotFoundError`` for an unknown task.
        """
        check_id(task_id, "task_id")
        check_id(depends_on_task_id, "depends_on_task_id")

        def work(connection: Connection) -> bool:
            owners = dict(
                connection.execute(
                    select(tasks.c.id, tasks.c.initiative_id).where(
                        tasks.c.id.in_([task_id, depends_on_task_id])
                    )
                ).all()
            )
            if len(owners) == 2 and len(set(owners.values())) > 1:
                raise ValidationError(
                    f"task {task_id!r} and task {depends_on_task_id!r} belong to different "
                    "initiatives; a task may only depend on a task of its own initiative"
                )
            return self.edges.add(connection, task_id, depends_on_task_id)

        return self._write(work)

    def remove_dependency(self, task_id: str, depends_on_task_id: str) -> bool:
        """Remove the dependency; False when there was none."""
        check_id(task_id, "task_id")
        check_id(depends_on_task_id, "depends_on_task_id")
        return self._write(lambda c: self.edges.remove(c, task_id, depends_on_task_id))

    def get_dependencies(self, task_id: str) -> list[str]:
        """Ids of the tasks ``task_id`` depends on."""
        check_id(task_id, "task_id")
        return self._read(lambda c: self.edges.targets(c, task_id))

    def find_dependencies_by_initiative_id(self, initiative_id: str) -> list[tuple[str, str]]:
        """Every ``(task_id, depends_on_task_id)`` edge among the initiative's tasks, oldest
        first (one query, however many tasks: what a whole-plan view needs).
        """
        check_id(initiative_id, "initiative_id")
        edges = schema.task_dependencies
        statement = (
            select(edges.c.task_id, edges.c.depends_on_task_id)
            .join(self.table, self.table.c.id == edges.c.task_id)
            .where(self.table.c.initiative_id == initiative_id)
            .order_by(edges.c.created_at, edges.c.id)
        )
        return self._read(lambda c: [(a, b) for a, b in c.execute(statement)])

    def get_dependents(self, task_id: str) -> list[str]:
        """Ids of the tasks that depend on ``task_id``."""
        check_id(task_id, "task_id")
        return self._read(lambda c: self.edges.dependents(c, task_id))
