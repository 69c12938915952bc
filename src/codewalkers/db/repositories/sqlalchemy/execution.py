"""Execution bookkeeping: executions, task claims, dispatch rows and leases.

Claims and leases are single conditional statements, so two coordinators sharing one
database cannot both win: the database decides, not a read followed by a write.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.sql.dml import Insert

from codewalkers.db import schema
from codewalkers.db._validation import check_enum
from codewalkers.db.enums import DispatchState, ExecutionState, TaskStatus
from codewalkers.db.errors import ReferenceNotFoundError, ValidationError
from codewalkers.db.ids import new_id
from codewalkers.db.records import Dispatch, Execution, Lease, Task
from codewalkers.db.repositories.sqlalchemy._base import check_id
from codewalkers.db.types import now_ms

if TYPE_CHECKING:
    from codewalkers.db.database import Database

executions = schema.executions
dispatches = schema.dispatches
leases = schema.leases
tasks = schema.tasks

#: The dispatch fields a caller may change.
_DISPATCH_FIELDS = frozenset(
    {
        "state",
        "attempts",
        "retry_after",
        "workspace_id",
        "agent_id",
        "reason",
        "merge_commit",
        "queued_by_hand_at",
        "resolutions",
    }
)


def _insert_ignoring_conflict(connection: Connection, table: Table, key: str) -> Insert:
    """``INSERT ... ON CONFLICT (key) DO NOTHING`` in the connection's dialect."""
    maker: Any = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    statement: Insert = maker(table).on_conflict_do_nothing(index_elements=[key])
    return statement


class SqlExecutionRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    # --- executions -----------------------------------------------------------------------

    def find_execution(self, initiative_id: str) -> Execution | None:
        check_id(initiative_id, "initiative_id")
        statement = select(*executions.c).where(executions.c.initiative_id == initiative_id)
        row = self._db.run(lambda c: c.execute(statement).first(), write=False)
        return None if row is None else Execution(*row)

    def find_executions(self, state: ExecutionState | str | None = None) -> list[Execution]:
        statement = select(*executions.c).order_by(executions.c.created_at, executions.c.id)
        if state is not None:
            value = check_enum("state", state, ExecutionState)
            statement = statement.where(executions.c.state == value)
        rows = self._db.run(lambda c: c.execute(statement).all(), write=False)
        return [Execution(*row) for row in rows]

    def set_execution_state(self, initiative_id: str, state: ExecutionState | str) -> Execution:
        check_id(initiative_id, "initiative_id")
        value = check_enum("state", state, ExecutionState)

        def work(connection: Connection) -> Execution:
            now = now_ms()
            if (
                connection.execute(
                    select(schema.initiatives.c.id).where(schema.initiatives.c.id == initiative_id)
                ).first()
                is None
            ):
                raise ReferenceNotFoundError(f"initiative {initiative_id!r} does not exist")
            connection.execute(
                _insert_ignoring_conflict(connection, executions, "initiative_id").values(
                    id=new_id(),
                    initiative_id=initiative_id,
                    state=value,
                    created_at=now,
                    updated_at=now,
                )
            )
            row = connection.execute(
                update(executions)
                .where(executions.c.initiative_id == initiative_id)
                .values(state=value, updated_at=now)
                .returning(*executions.c)
            ).one()
            return Execution(*row)

        return self._db.run(work, write=True)

    # --- claims ---------------------------------------------------------------------------

    def claim_task(self, task_id: str) -> Task | None:
        check_id(task_id, "task_id")
        statement = (
            update(tasks)
            .where(tasks.c.id == task_id, tasks.c.status == TaskStatus.PENDING.value)
            .values(status=TaskStatus.IN_PROGRESS.value, updated_at=now_ms())
            .returning(*tasks.c)
        )
        row = self._db.run(lambda c: c.execute(statement).first(), write=True)
        return None if row is None else Task(*row)

    def find_task_dependencies(self, initiative_id: str) -> list[tuple[str, str]]:
        check_id(initiative_id, "initiative_id")
        deps = schema.task_dependencies
        statement = (
            select(deps.c.task_id, deps.c.depends_on_task_id)
            .join(tasks, tasks.c.id == deps.c.task_id)
            .where(tasks.c.initiative_id == initiative_id)
            .order_by(deps.c.created_at, deps.c.id)
        )
        rows = self._db.run(lambda c: c.execute(statement).all(), write=False)
        return [(row[0], row[1]) for row in rows]

    # --- dispatches -----------------------------------------------------------------------

    def find_dispatch(self, task_id: str) -> Dispatch | None:
        check_id(task_id, "task_id")
        statement = select(*dispatches.c).where(dispatches.c.task_id == task_id)
        row = self._db.run(lambda c: c.execute(statement).first(), write=False)
        return None if row is None else Dispatch(*row)

    def find_dispatches(self, initiative_id: str) -> list[Dispatch]:
        check_id(initiative_id, "initiative_id")
        statement = (
            select(*dispatches.c)
            .where(dispatches.c.initiative_id == initiative_id)
            .order_by(dispatches.c.created_at, dispatches.c.id)
        )
        rows = self._db.run(lambda c: c.execute(statement).all(), write=False)
        return [Dispatch(*row) for row in rows]

    def _check_changes(self, changes: dict[str, Any]) -> dict[str, Any]:
        unknown = set(changes) - _DISPATCH_FIELDS
        if unknown:
            raise ValidationError(f"dispatch: unknown field(s) {', '.join(sorted(unknown))}")
        if "state" in changes:
            changes["state"] = check_enum("state", changes["state"], DispatchState)
        return changes

    def _insert_dispatch(
        self, connection: Connection, task_id: str, fields: dict[str, Any]
    ) -> bool:
        owner = connection.execute(
            select(tasks.c.initiative_id).where(tasks.c.id == task_id)
        ).first()
        if owner is None:
            raise ReferenceNotFoundError(f"task {task_id!r} does not exist")
        if owner[0] is None:
            raise ValidationError(f"task {task_id!r} belongs to no initiative")
        now = now_ms()
        inserted = connection.execute(
            _insert_ignoring_conflict(connection, dispatches, "task_id")
            .values(
                id=new_id(),
                task_id=task_id,
                initiative_id=owner[0],
                **fields,
                created_at=now,
                updated_at=now,
            )
            .returning(dispatches.c.id)
        ).first()
        return inserted is not None

    def create_dispatch(self, task_id: str, **fields: Any) -> Dispatch | None:
        check_id(task_id, "task_id")
        values = self._check_changes(dict(fields))

        def work(connection: Connection) -> Dispatch | None:
            if not self._insert_dispatch(connection, task_id, values):
                return None
            row = connection.execute(
                select(*dispatches.c).where(dispatches.c.task_id == task_id)
            ).one()
            return Dispatch(*row)

        return self._db.run(work, write=True)

    def update_dispatch(
        self, task_id: str, *, expected_state: DispatchState | str | None = None, **changes: Any
    ) -> Dispatch | None:
        check_id(task_id, "task_id")
        values = self._check_changes(dict(changes))
        criteria = [dispatches.c.task_id == task_id]
        if expected_state is not None:
            expected = check_enum("expected_state", expected_state, DispatchState)
            criteria.append(dispatches.c.state == expected)

        def work(connection: Connection) -> Dispatch | None:
            if expected_state is None:
                self._insert_dispatch(connection, task_id, {})
            row = connection.execute(
                update(dispatches)
                .where(*criteria)
                .values(**values, updated_at=now_ms())
                .returning(*dispatches.c)
            ).first()
            return None if row is None else Dispatch(*row)

        return self._db.run(work, write=True)

    # --- leases ---------------------------------------------------------------------------

    def acquire_lease(self, name: str, holder: str, seconds: float) -> bool:
        check_id(name, "name")
        check_id(holder, "holder")

        def work(connection: Connection) -> bool:
            now = now_ms()
            expires = now + round(seconds * 1000)
            taken = connection.execute(
                _insert_ignoring_conflict(connection, leases, "id")
                .values(id=name, holder=holder, expires_at=expires, created_at=now, updated_at=now)
                .returning(leases.c.id)
            ).first()
            if taken is not None:
                return True
            renewed = connection.execute(
                update(leases)
                .where(
                    leases.c.id == name,
                    or_(leases.c.holder == holder, leases.c.expires_at < now),
                )
                .values(holder=holder, expires_at=expires, updated_at=now)
            ).rowcount
            return bool(renewed == 1)

        return self._db.run(work, write=True)

    def release_lease(self, name: str, holder: str) -> bool:
        check_id(name, "name")
        statement = (
            update(leases)
            .where(leases.c.id == name, leases.c.holder == holder)
            .values(expires_at=0, updated_at=now_ms())
        )
        return bool(self._db.run(lambda c: c.execute(statement).rowcount, write=True) == 1)

    def find_lease(self, name: str) -> Lease | None:
        check_id(name, "name")
        statement = select(*leases.c).where(leases.c.id == name)
        row = self._db.run(lambda c: c.execute(statement).first(), write=False)
        return None if row is None else Lease(*row)
