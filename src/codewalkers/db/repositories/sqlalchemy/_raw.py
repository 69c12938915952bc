"""The hot paths: statements compiled once, executed on the driver's connection.

Through a SQLAlchemy ``Connection`` a one-row read costs about 40 us of Python before and
after the 5 us SQLite spends on it (statement cache keys, the connection and transaction
objects, result metadata, per-value type dispatch). The calls that run most often (find by
id, create, update, delete, log chunks, the root page) skip that layer:

- :class:`Prepared` compiles its statement once per dialect (the very SQL SQLAlchemy would
  send) and remembers where each parameter goes and how each column converts
  (``types.bind_converter`` / ``types.result_converter``);
- :class:`Raw` executes prepared statements on a DBAPI connection and wraps driver errors
  exactly as SQLAlchemy does (``sqlalchemy.exc.IntegrityError`` ...), so ``errors.translate``
  and the adapters' explanations work unchanged and no driver exception reaches a caller;
- :class:`Runner` runs work in the calling thread's ``db.transaction()`` when there is one
  (through ``Database.run``: same connection, savepoint per write), otherwise in a transaction
  of its own on a connection from a small idle list in front of the engine's pool, with the
  same boundaries as ``Database.run`` (``BEGIN IMMEDIATE`` for SQLite writes, autocommit
  SQLite reads, ``COMMIT``/``ROLLBACK`` on PostgreSQL) and the same retries.

Observability: while anyone listens to the engine's ``before_cursor_execute`` or
``after_cursor_execute`` events, or its statements are logged (``echo``, the
``sqlalchemy.engine`` logger at INFO), every call takes the plain SQLAlchemy route instead
(:class:`Plain`: ``Connection.execute`` of the same statement), so tracing, slow-query logging
and echo see all the traffic, with SQLAlchemy's own connection and execution context. The check
costs a few attribute reads per call; nobody listening, nothing else changes. Pool events see
connections leave and return to the idle list, not each call.

The switch: ``open_database(url, fast_path=False)``, or ``CW_DB_FAST_PATH=off`` in the
environment, sends every call through plain SQLAlchemy, to settle any doubt about this module
(the test suite runs the repository tests both ways).
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Column, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement

from codewalkers.db._retry import LostBeforeCommit, with_retries
from codewalkers.db.engine import invalidate_pool
from codewalkers.db.types import bind_converter, result_converter

if TYPE_CHECKING:
    from codewalkers.db.database import Database

T = TypeVar("T")

#: Idle connections kept out of the pool for the hot paths (per engine).
IDLE_LIMIT = 2

#: The environment variable that turns the fast path off (``off``, ``0``, ``false``, ``no``).
FAST_PATH_ENV = "CW_DB_FAST_PATH"
#: Engine execution option set by ``Database`` when the fast path is off.
PLAIN = "cw_plain"


def fast_path_from_environment() -> bool:
    """False when ``CW_DB_FAST_PATH`` turns the fast path off."""
    value = os.environ.get(FAST_PATH_ENV, "").strip().lower()
    return value not in {"off", "0", "false", "no"}


def observed(engine: Engine | Connection) -> bool:
    """True while someone would see statements run on ``engine`` (or this connection):
    a ``before_cursor_execute`` / ``after_cursor_execute`` listener (on it or its class), or
    statement logging (``echo``, the ``sqlalchemy.engine`` logger at INFO).
    """
    dispatch = engine.dispatch
    before = dispatch.before_cursor_execute
    after = dispatch.after_cursor_execute
    # What bool(listener collection) computes, without a Python-level __bool__ call: this
    # runs on every hot-path call. (tests/db/test_fast_path.py checks these attributes.)
    return bool(
        before.listeners
        or before.parent_listeners
        or after.listeners
        or after.parent_listeners
        or engine.engine.logger.isEnabledFor(logging.INFO)
    )


class _Compiled:
    """One statement in one dialect: its SQL, its parameters, its result converters."""

    __slots__ = ("binds", "convert", "converters", "positional", "sql")

    def __init__(self, statement: ClauseElement, columns: Sequence[Any], dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        self.sql: str = compiled.string
        self.positional = bool(dialect.positional)
        names = list(compiled.positiontup or ()) if self.positional else list(compiled.binds)
        #: (name in the SQL, caller's key or None, constant value, converter)
        self.binds: list[tuple[str, str | None, Any, Callable[[Any], Any] | None]] = []
        for name in names:
            bind = compiled.binds[name]
            if bind.expanding or bind.literal_execute:
                # Their SQL is only complete once SQLAlchemy renders the values at execution
                # time, which the fast path skips: the compiled string could not run.
                raise TypeError(
                    f"the fast path cannot run a statement with an expanding (IN list) or "
                    f"literal-execute parameter ({name!r}); run it through SQLAlchemy instead"
                )
            convert = bind_converter(bind.type)
            if bind.required:
                self.binds.append((name, bind.key, None, convert))
            else:
                value = bind.effective_value
                if value is not None and convert is not None:
                    value = convert(value)
                self.binds.append((name, None, value, None))
        converters = {
            index: convert
            for index, column in enumerate(columns)
            if (convert := result_converter(column.type)) is not None
        }
        self.converters = converters
        self.convert: Callable[[Sequence[Any]], tuple[Any, ...]] = _row_converter(
            len(columns), converters
        )

    def parameters(self, values: Mapping[str, Any]) -> Any:
        """The driver's parameters (a list, or a dict by name) for the caller's ``values``."""
        out = []
        for _name, key, constant, convert in self.binds:
            if key is None:
                out.append(constant)
            else:
                value = values[key]
                out.append(value if value is None or convert is None else convert(value))
        if self.positional:
            return out
        return {bind[0]: value for bind, value in zip(self.binds, out, strict=True)}


def _row_converter(
    width: int, converters: Mapping[int, Callable[[Any], Any]]
) -> Callable[[Sequence[Any]], tuple[Any, ...]]:
    """A function turning a driver row into a tuple of Python values, written out for this
    row's shape (about twice as fast as looping over the converters).
    """
    if not converters:
        return tuple
    names = [f"v{index}" for index in range(width)]
    values = [
        f"None if v{index} is None else c{index}(v{index})" if index in converters else f"v{index}"
        for index in range(width)
    ]
    source = (
        f"def convert(row):\n    {', '.join(names)}, = row\n    return ({', '.join(values)},)\n"
    )
    namespace: dict[str, Any] = {f"c{index}": convert for index, convert in converters.items()}
    exec(source, namespace)  # generated from column positions only
    convert: Callable[[Sequence[Any]], tuple[Any, ...]] = namespace["convert"]
    return convert


class Prepared:
    """A statement built once, compiled once per dialect, run by :class:`Raw`.

    ``columns`` are the statement's result columns, in order (for their converters). Caller
    parameters are the statement's ``bindparam()``s without a value, passed by key.
    """

    __slots__ = ("_compiled", "columns", "statement")

    def __init__(self, statement: ClauseElement, columns: Iterable[Column[Any]] = ()) -> None:
        self.statement = statement
        self.columns = tuple(columns)
        self._compiled: dict[str, _Compiled] = {}

    def compiled(self, dialect: Dialect) -> _Compiled:
        found = self._compiled.get(dialect.name)
        if found is None:
            found = self._compiled[dialect.name] = _Compiled(self.statement, self.columns, dialect)
        return found


class Raw:
    """Prepared statements executed on one DBAPI connection; rows come back converted."""

    __slots__ = ("_error", "connection", "dialect", "fairy")

    def __init__(self, connection: Any, dialect: Dialect, fairy: Any = None) -> None:
        self.connection = connection
        self.dialect = dialect
        #: The pooled connection this one was checked out as (idle-list connections only).
        self.fairy = fairy
        self._error: type[Exception] = dialect.loaded_dbapi.Error

    @classmethod
    def of(cls, connection: Connection | Raw) -> Raw:
        """The :class:`Raw` view of a SQLAlchemy connection (inside its transaction): the
        driver's connection, or :class:`Plain` when the fast path is off or observed.
        """
        if isinstance(connection, Raw):
            return connection
        if connection.get_execution_options().get(PLAIN) or observed(connection):
            return Plain(connection)
        return cls(connection.connection.driver_connection, connection.dialect)

    def _wrap(self, exc: Exception, sql: str, params: Any, cursor: Any) -> sa_exc.DBAPIError:
        is_disconnect: Any = self.dialect.is_disconnect
        invalidated = bool(is_disconnect(exc, self.connection, cursor))
        wrapped = sa_exc.DBAPIError.instance(
            sql,
            params,
            exc,
            self._error,
            connection_invalidated=invalidated,
            dialect=self.dialect,
        )
        assert isinstance(wrapped, sa_exc.DBAPIError)
        return wrapped

    def _run(self, sql: str, params: Any, fetch: int) -> Any:
        cursor = None
        try:
            cursor = self.connection.cursor()
            cursor.execute(sql, params)
            if fetch == 1:
                return cursor.fetchone()
            if fetch == 2:
                return cursor.fetchall()
            return cursor.rowcount
        except self._error as exc:
            raise self._wrap(exc, sql, params, cursor) from exc
        finally:
            if cursor is not None:
                cursor.close()

    def one(self, prepared: Prepared, values: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """The first row (converted), or ``None``."""
        compiled = prepared.compiled(self.dialect)
        row = self._run(compiled.sql, compiled.parameters(values), 1)
        return None if row is None else compiled.convert(row)

    def all(self, prepared: Prepared, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Every row (converted)."""
        compiled = prepared.compiled(self.dialect)
        rows = self._run(compiled.sql, compiled.parameters(values), 2)
        if not compiled.converters:
            return [tuple(row) for row in rows]
        convert = compiled.convert
        return [convert(row) for row in rows]

    def execute(self, prepared: Prepared, values: Mapping[str, Any]) -> int:
        """Run a statement without result rows; the number of rows it touched."""
        compiled = prepared.compiled(self.dialect)
        return int(self._run(compiled.sql, compiled.parameters(values), 0))

    def many(self, prepared: Prepared, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run a statement once per mapping in ``rows`` (the driver's ``executemany``)."""
        compiled = prepared.compiled(self.dialect)
        params = [compiled.parameters(values) for values in rows]
        cursor = None
        try:
            cursor = self.connection.cursor()
            cursor.executemany(compiled.sql, params)
        except self._error as exc:
            raise self._wrap(exc, compiled.sql, params, cursor) from exc
        finally:
            if cursor is not None:
                cursor.close()

    def sql(self, sql: str) -> None:
        """Run a bare statement (``BEGIN IMMEDIATE``)."""
        self._run(sql, (), 0)

    def commit(self) -> None:
        try:
            self.connection.commit()
        except self._error as exc:
            raise self._wrap(exc, "COMMIT", (), None) from exc

    def rollback(self) -> None:
        try:
            self.connection.rollback()
        except self._error as exc:
            raise self._wrap(exc, "ROLLBACK", (), None) from exc


class Plain(Raw):
    """Prepared statements run through SQLAlchemy itself (``Connection.execute`` of the
    statement, SQLAlchemy's type processing): what every call does when the fast path is off
    (or observed). Rows come back as tuples of Python values, as from :class:`Raw`.
    """

    __slots__ = ("sa",)

    def __init__(self, connection: Connection) -> None:
        super().__init__(connection.connection.driver_connection, connection.dialect)
        self.sa = connection

    def _params(self, prepared: Prepared, values: Mapping[str, Any]) -> dict[str, Any]:
        keys = prepared.compiled(self.dialect).binds
        return {key: values[key] for _name, key, _constant, _convert in keys if key is not None}

    def one(self, prepared: Prepared, values: Mapping[str, Any]) -> tuple[Any, ...] | None:
        row = self.sa.execute(prepared.statement, self._params(prepared, values)).first()  # type: ignore[call-overload]
        return None if row is None else tuple(row)

    def all(self, prepared: Prepared, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        result = self.sa.execute(prepared.statement, self._params(prepared, values))  # type: ignore[call-overload]
        return [tuple(row) for row in result]

    def execute(self, prepared: Prepared, values: Mapping[str, Any]) -> int:
        result = self.sa.execute(prepared.statement, self._params(prepared, values))  # type: ignore[call-overload]
        return int(result.rowcount)

    def many(self, prepared: Prepared, rows: Sequence[Mapping[str, Any]]) -> None:
        self.sa.execute(prepared.statement, [self._params(prepared, row) for row in rows])  # type: ignore[call-overload]

    def sql(self, sql: str) -> None:
        self.sa.exec_driver_sql(sql)

    def commit(self) -> None:  # pragma: no cover - a Plain always runs inside Database.run
        raise AssertionError("Database.run ends the transaction of a Plain connection")

    rollback = commit


class _Idle:
    """A few DBAPI connections kept checked out of the engine's pool between hot-path calls.

    A pool checkout and return cost about as much as the SQLite read itself. Connections are
    left here only clean (no open transaction); the list is emptied when the engine is
    disposed (``Database.close``), and a forked child never reuses its parent's connections.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._pid = os.getpid()
        self._free: list[Raw] = []
        self._orphans: list[Raw] = []
        event.listen(engine, "engine_disposed", self._disposed)

    def acquire(self) -> Raw:
        try:
            return self._free.pop()
        except IndexError:
            fairy = self._engine.raw_connection()
            return Raw(fairy.driver_connection, self._engine.dialect, fairy)

    def release(self, raw: Raw) -> None:
        if len(self._free) < IDLE_LIMIT:
            self._free.append(raw)
        else:
            raw.fairy.close()

    def _drain(self) -> Iterator[Raw]:
        """Take every idle connection off the list (safe against a concurrent pop)."""
        while self._free:
            try:
                yield self._free.pop()
            except IndexError:
                return

    def lost(self, raw: Raw, exc: BaseException) -> None:
        """``raw`` was found disconnected: as SQLAlchemy does, assume the server dropped
        every connection of its generation (idle here or pooled) and replace them all.
        """
        for idle in self._drain():
            idle.fairy.invalidate()
        invalidate_pool(self._engine, raw.fairy, exc)

    def clear(self) -> None:
        """Return every idle connection to the pool."""
        for raw in self._drain():
            raw.fairy.close()

    def _disposed(self, _engine: Engine) -> None:
        if os.getpid() != self._pid:
            # A forked child (engine.py replaces the pool there): these connections are the
            # parent's; never use or close them.
            self._orphans.extend(self._drain())
            self._pid = os.getpid()
            return
        for raw in self._drain():
            raw.fairy.invalidate()


_idle_lists: weakref.WeakKeyDictionary[Engine, _Idle] = weakref.WeakKeyDictionary()
_idle_lock = threading.Lock()


def idle_connections(engine: Engine) -> _Idle:
    """The engine's idle list (created on first use)."""
    with _idle_lock:
        idle = _idle_lists.get(engine)
        if idle is None:
            idle = _idle_lists[engine] = _Idle(engine)
        return idle


def release_idle(engine: Engine) -> None:
    """Return the hot paths' idle connections to the pool (e.g. before tracing checkouts)."""
    idle = _idle_lists.get(engine)
    if idle is not None:
        idle.clear()


class Runner:
    """Runs hot-path work with a :class:`Raw`, in the caller's transaction or its own."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._engine = db.engine
        self._dispatch = db.engine.dispatch
        self._fast = db.fast_path
        self._dialect = db.engine.dialect
        self._sqlite = self._dialect.name == "sqlite"
        self._idle = idle_connections(db.engine)

    def _direct(self) -> bool:
        """True when this call may skip SQLAlchemy: the fast path is on, the calling thread
        has no ``db.transaction()`` open, and nobody observes statements (:func:`observed`).
        """
        if not self._fast or self._db._local.tx is not None:
            return False
        # observed(), written out: this runs on every call.
        dispatch = self._dispatch
        before = dispatch.before_cursor_execute
        after = dispatch.after_cursor_execute
        return not (
            before.listeners
            or before.parent_listeners
            or after.listeners
            or after.parent_listeners
            or self._engine.logger.isEnabledFor(logging.INFO)
        )

    def read_one(self, prepared: Prepared, values: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """``Raw.one`` as a read of its own (or in the caller's transaction): the hottest
        path, written out; any failure goes the general way (:meth:`run`: retries,
        translation).
        """
        if self._direct():
            raw = None
            try:
                raw = self._idle.acquire()
                found = raw.one(prepared, values)
                if not self._sqlite:
                    raw.rollback()
            except BaseException as exc:
                if raw is not None:
                    self._discard(raw, exc)
                if not isinstance(exc, sa_exc.SQLAlchemyError):
                    raise
            else:
                self._idle.release(raw)
                return found
        return self.run(lambda raw: raw.one(prepared, values), write=False)

    def run(self, work: Callable[[Raw], T], *, write: bool) -> T:
        """``work``'s result; its errors (and the driver's, translated) propagate."""
        if not self._direct():
            return self._db.run(lambda c: work(Raw.of(c)), write=write)
        return with_retries(lambda: self._once(work, write))

    def _once(self, work: Callable[[Raw], T], write: bool) -> T:
        raw = self._idle.acquire()
        committing = False
        try:
            if write and self._sqlite:
                raw.sql("BEGIN IMMEDIATE")
            result = work(raw)
            committing = True
            if write:
                raw.commit()
            elif not self._sqlite:
                raw.rollback()  # end the read's implicit transaction
        except BaseException as exc:
            lost = self._discard(raw, exc)
            if lost and not committing:
                raise LostBeforeCommit() from exc
            raise
        self._idle.release(raw)
        return result

    def _discard(self, raw: Raw, exc: BaseException) -> bool:
        """Put back (rolled back) or replace the connection a failed call used; True when
        the failure was a lost connection.
        """
        lost = isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated
        if lost:
            self._idle.lost(raw, exc)
        elif self._reset(raw):
            self._idle.release(raw)
        else:
            raw.fairy.invalidate()
        return lost

    def _reset(self, raw: Raw) -> bool:
        """Roll back whatever the failed work left open; False when the connection is broken."""
        try:
            raw.connection.rollback()
        except Exception:
            return False
        return True
