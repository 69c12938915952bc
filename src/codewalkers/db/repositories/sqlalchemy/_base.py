"""What every SQLAlchemy adapter shares: checked CRUD, row-to-record, error messages."""

from __future__ import annotations

import re
from collections import namedtuple
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from sqlalchemy import (
    Row,
    Select,
    Table,
    UniqueConstraint,
    bindparam,
    delete,
    exists,
    insert,
    select,
    update,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from codewalkers.db._validation import TableRules, check_text
from codewalkers.db.errors import (
    ConflictError,
    DatabaseError,
    NotFoundError,
    ReferenceNotFoundError,
    translate,
)
from codewalkers.db.ids import new_id
from codewalkers.db.repositories.sqlalchemy._raw import Prepared, Raw, Runner
from codewalkers.db.types import now_ms

if TYPE_CHECKING:
    from codewalkers.db.database import Database

R = TypeVar("R")
T = TypeVar("T")

_SQLITE_UNIQUE = re.compile(r"UNIQUE constraint failed: (?P<cols>[\w., ]+)")


def check_id(value: Any, field: str = "id") -> str:
    """An id argument: a string (an unknown one is simply not found)."""
    return check_text(field, value)


class Derived:
    """An insert value computed in SQL from one parameter (a task's initiative, from its
    phase). ``shape`` names the expression: statements are prepared once per shape.
    """

    __slots__ = ("build", "param", "shape", "value")

    def __init__(
        self, shape: str, build: Callable[[], ColumnElement[Any]], param: str, value: Any
    ) -> None:
        self.shape = shape
        self.build = build
        self.param = param
        self.value = value


_EXISTS: dict[Table, Prepared] = {}


def exists_statement(table: Table) -> Prepared:
    """``SELECT EXISTS (... WHERE id = :id)`` for ``table``, prepared once."""
    found = _EXISTS.get(table)
    if found is None:
        criterion = table.c.id == bindparam("id", type_=table.c.id.type)
        found = _EXISTS[table] = Prepared(select(exists().where(criterion)))
    return found


class SqlRepository(Generic[R]):
    """Standard CRUD over one table, returning immutable records.

    Subclasses set ``table``, ``record_type``, ``entity`` and ``rules``, and add the
    table's domain methods. The standard CRUD runs prepared statements (``_raw.py``).
    """

    table: ClassVar[Table]
    record_type: ClassVar[type[Any]]
    entity: ClassVar[str]
    rules: ClassVar[TableRules]

    def __init__(self, db: Database) -> None:
        self._db = db
        self._columns = tuple(self.table.columns)
        self._has_updated_at = "updated_at" in self.table.c
        self._runner = Runner(db)
        self._id = bindparam("where_id", type_=self.table.c.id.type)
        self._by_id = Prepared(self._select().where(self.table.c.id == self._id), self._columns)
        self._delete_by_id = Prepared(
            delete(self.table).where(self.table.c.id == self._id).returning(self.table.c.id)
        )
        self._inserts: dict[tuple[Any, ...], Prepared] = {}
        self._updates: dict[tuple[Any, ...], Prepared] = {}
        if type(self)._record is SqlRepository._record:
            record_type = self.record_type
            self._from_values: Callable[[Sequence[Any]], R] = lambda values: record_type(*values)
        else:
            # A subclass reads rows by column name (``row._asdict()``): give it named rows.
            row_type = namedtuple(  # type: ignore[misc]
                f"{self.table.name}_row", [column.name for column in self._columns]
            )
            make: Callable[[Sequence[Any]], Any] = row_type._make
            self._from_values = lambda values: self._record(make(values))

    # --- running ------------------------------------------------------------------------

    def _read(self, work: Callable[[Connection], T]) -> T:
        return self._db.run(work, write=False)

    def _write(self, work: Callable[[Connection], T]) -> T:
        return self._db.run(work, write=True)

    def _read_raw(self, work: Callable[[Raw], T]) -> T:
        return self._runner.run(work, write=False)

    def _write_raw(self, work: Callable[[Raw], T]) -> T:
        return self._runner.run(work, write=True)

    def _record(self, row: Row[Any]) -> R:
        record: R = self.record_type(*row)
        return record

    def _select(self) -> Select[Any]:
        return select(*self._columns)

    def _order(self) -> tuple[ColumnElement[Any], ...]:
        return (self.table.c.created_at, self.table.c.id)

    def _fetch_one(self, statement: Select[Any]) -> R | None:
        def work(connection: Connection) -> R | None:
            row = connection.execute(statement).first()
            return None if row is None else self._record(row)

        return self._read(work)

    def _fetch_all(self, statement: Select[Any]) -> list[R]:
        return self._read(lambda c: [self._record(row) for row in c.execute(statement)])

    def _prepared_one(self, prepared: Prepared, values: Mapping[str, Any]) -> R | None:
        """The first row of a prepared select of this table's columns, as a record."""
        found = self._runner.read_one(prepared, values)
        return None if found is None else self._from_values(found)

    def _prepared_all(self, prepared: Prepared, values: Mapping[str, Any]) -> list[R]:
        """Every row of a prepared select of this table's columns, as records."""
        rows = self._read_raw(lambda raw: raw.all(prepared, values))
        return [self._from_values(row) for row in rows]

    def _find_where(self, *criteria: ColumnElement[bool]) -> list[R]:
        return self._fetch_all(self._select().where(*criteria).order_by(*self._order()))

    def _not_found(self, id: str) -> NotFoundError:
        return NotFoundError(f"{self.entity} {id!r} not found")

    # --- standard CRUD ------------------------------------------------------------------

    def create(self, **fields: Any) -> R:
        """Insert a row and return it. Raises ``ValidationError``, ``ConflictError``."""
        values = self.rules.for_create(fields)
        return self._write_raw(lambda raw: self._insert(raw, values))

    def find_by_id(self, id: str) -> R | None:
        """The row with this id, or ``None``."""
        check_id(id)
        return self._prepared_one(self._by_id, {"where_id": id})

    def find_all(self) -> list[R]:
        """Every row, oldest first."""
        return self._fetch_all(self._select().order_by(*self._order()))

    def update(self, id: str, **changes: Any) -> R:
        """Change some fields; return the stored row. Raises ``NotFoundError`` for an unknown id."""
        check_id(id)
        values = self.rules.for_update(changes)
        return self._write_raw(lambda raw: self._update(raw, id, values))

    def delete(self, id: str) -> None:
        """Delete the row (and, through the schema, what cascades from it)."""
        check_id(id)

        def work(raw: Raw) -> None:
            if raw.one(self._delete_by_id, {"where_id": id}) is None:
                raise self._not_found(id)

        self._write_raw(work)

    # --- building blocks for subclasses -------------------------------------------------

    def _prepared_values(
        self, row: Mapping[str, Any]
    ) -> tuple[tuple[Any, ...], Callable[[], dict[str, Any]], dict[str, Any]]:
        """A row's shape, how to build its ``values()``, and the parameters it runs with."""
        shape = tuple(
            (key, value.shape) if isinstance(value, Derived) else key for key, value in row.items()
        )
        params = dict(row)
        for value in row.values():
            if isinstance(value, Derived):
                params[value.param] = value.value

        def build() -> dict[str, Any]:
            columns = self.table.c
            return {
                key: value.build()
                if isinstance(value, Derived)
                else bindparam(key, type_=columns[key].type)
                for key, value in row.items()
            }

        return shape, build, params

    def _insert(self, connection: Connection | Raw, values: Mapping[str, Any]) -> R:
        """Insert checked values (adding id and timestamps) and return the stored record."""
        now = now_ms()
        row = {"id": new_id(), **values, "created_at": now}
        if self._has_updated_at:
            row["updated_at"] = now
        shape, build, params = self._prepared_values(row)
        prepared = self._inserts.get(shape)
        if prepared is None:
            statement = insert(self.table).values(build()).returning(*self._columns)
            prepared = self._inserts[shape] = Prepared(statement, self._columns)
        try:
            found = Raw.of(connection).one(prepared, params)
        except sa_exc.IntegrityError as exc:
            raise self._explain(connection, exc, row) from exc
        assert found is not None
        return self._from_values(found)

    def _update(self, connection: Connection | Raw, id: str, values: Mapping[str, Any]) -> R:
        row = dict(values)
        if self._has_updated_at:
            row["updated_at"] = now_ms()
        raw = Raw.of(connection)
        if not row:
            found = raw.one(self._by_id, {"where_id": id})
        else:
            shape, build, params = self._prepared_values(row)
            prepared = self._updates.get(shape)
            if prepared is None:
                statement = (
                    update(self.table)
                    .where(self.table.c.id == self._id)
                    .values(build())
                    .returning(*self._columns)
                )
                prepared = self._updates[shape] = Prepared(statement, self._columns)
            params["where_id"] = id
            try:
                found = raw.one(prepared, params)
            except sa_exc.IntegrityError as exc:
                raise self._explain(connection, exc, row) from exc
        if found is None:
            raise self._not_found(id)
        return self._from_values(found)

    def _exists(self, connection: Connection | Raw, table: Table, id: str) -> bool:
        found = Raw.of(connection).one(exists_statement(table), {"id": id})
        return bool(found and found[0])

    def _require(self, connection: Connection | Raw, table: Table, id: str, what: str) -> None:
        """Raise ``ReferenceNotFoundError`` unless ``table`` has a row with this id."""
        if not self._exists(connection, table, id):
            raise ReferenceNotFoundError(f"{what} {id!r} does not exist")

    def _explain(
        self, connection: Connection | Raw, exc: sa_exc.IntegrityError, values: Mapping[str, Any]
    ) -> DatabaseError:
        """The error for an integrity violation, naming the field and value at fault."""
        error = translate(exc)
        if isinstance(error, ReferenceNotFoundError):
            column = self._constraint_column(exc) or self._missing_reference(connection, values)
            if column is not None:
                return ReferenceNotFoundError(
                    f"{self.entity} {column} {values.get(column)!r} does not exist"
                )
        elif isinstance(error, ConflictError):
            columns = self._unique_columns(exc)
            if columns:
                shown = ", ".join(f"{name} {values.get(name)!r}" for name in columns)
                article = "an" if self.entity[0] in "aeiou" else "a"
                return ConflictError(f"{article} {self.entity} with {shown} already exists")
        return error

    def _constraint_column(self, exc: sa_exc.IntegrityError) -> str | None:
        name = getattr(getattr(exc.orig, "diag", None), "constraint_name", None)
        for constraint in self.table.foreign_key_constraints:
            if constraint.name == name:
                return constraint.column_keys[0]
        return None

    def _missing_reference(
        self, connection: Connection | Raw, values: Mapping[str, Any]
    ) -> str | None:
        # SQLite does not say which foreign key failed; its transaction is still usable.
        if connection.dialect.name != "sqlite":
            return None
        for constraint in self.table.foreign_key_constraints:
            name = constraint.column_keys[0]
            value = values.get(name)
            target = constraint.elements[0].column.table
            if isinstance(value, str) and not self._exists(connection, target, value):
                return name
        return None

    def _unique_columns(self, exc: sa_exc.IntegrityError) -> Sequence[str]:
        match = _SQLITE_UNIQUE.search(str(exc.orig))
        if match:
            return [part.strip().split(".")[-1] for part in match.group("cols").split(",")]
        name = getattr(getattr(exc.orig, "diag", None), "constraint_name", None)
        for constraint in self.table.constraints:
            if constraint.name == name and isinstance(constraint, UniqueConstraint):
                return [column.name for column in constraint.columns]
        for index in self.table.indexes:
            if index.name == name:
                return [column.name for column in index.columns]
        return []


def in_order(ids: Iterable[str]) -> list[str]:
    """Distinct ids, first occurrence first."""
    return list(dict.fromkeys(ids))
