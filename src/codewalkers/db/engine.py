"""Engine creation, configured once for each backend, and ``ensure_schema`` (migrations).

SQLite: foreign keys on, WAL, ``synchronous=NORMAL`` (durable across process crashes), a busy
timeout, and write transactions opened with ``BEGIN IMMEDIATE`` so that concurrent writers
queue for the lock instead of failing with "database is locked" half-way through. Read-only
transactions open with a plain ``BEGIN`` (a WAL snapshot that takes no lock); lone reads run
in autocommit.

PostgreSQL (psycopg 3): READ COMMITTED; the few operations that must not race (account
claims, dependency cycle checks, migrations) take a transaction-scoped advisory lock. No
``pool_pre_ping`` (a round trip per checkout): a connection found dead is replaced and the
transaction, which cannot have committed, run again (``codewalkers.db._retry``).

Both: an engine made here is safe across ``os.fork()``. In the child, its pool is replaced
without closing the parent's connections (SQLAlchemy's documented recipe,
``engine.dispose(close=False)``), so the child opens its own and the parent's sockets are
never touched by two processes.
"""

from __future__ import annotations

import functools
import os
import re
import sqlite3
import weakref
import zlib
from importlib import resources
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import StaticPool

from codewalkers.db.errors import (
    DatabaseError,
    SchemaError,
    is_retryable,
    translate,
    translate_errors,
)
from codewalkers.db.schema import SQLITE_ONLY_TABLES

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

SQLITE_BUSY_TIMEOUT_MS = 30_000

#: Connection execution option: this connection's transaction will write.
WRITE = "cw_write"
#: Connection execution option: a read-only transaction (SQLite: ``BEGIN``, no write lock).
SNAPSHOT = "cw_snapshot"

# Every engine made here, so that a forked child can replace their pools.
_engines: weakref.WeakSet[Engine] = weakref.WeakSet()
# The parent's pools, kept referenced in a child: were they collected, closing their
# connections could end the parent's sessions (a PostgreSQL Terminate on a shared socket).
_inherited_pools: list[Any] = []


def _replace_pools_in_child() -> None:
    for engine in list(_engines):
        _inherited_pools.append(engine.pool)
        engine.dispose(close=False)


os.register_at_fork(after_in_child=_replace_pools_in_child)


def invalidate_pool(engine: Engine, connection: Any, exc: BaseException) -> None:
    """``connection`` (a pooled connection) was found dead: as SQLAlchemy does on a
    disconnect, assume the server dropped every connection of its generation, and have the
    pool replace them all as they are checked out.

    Uses the pool's private ``_invalidate`` (SQLAlchemy's own disconnect handling calls it;
    ``tests/db/test_fast_path.py`` fails loudly if it goes away).
    """
    engine.pool._invalidate(connection, exc)


def normalize_url(url: str) -> sa.URL:
    """Parse a database URL; ``postgresql://`` and ``postgres://`` select psycopg 3."""
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise DatabaseError(f"invalid database URL {url!r}: {exc}") from exc
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in {"sqlite", "postgresql"}:
        raise DatabaseError(
            f"unsupported database {parsed.get_backend_name()!r}: use sqlite:/// or postgresql://"
        )
    # The engine settings and the error translation are written for these two drivers.
    if parsed.drivername not in SUPPORTED_DRIVERS:
        raise DatabaseError(
            f"unsupported database driver {parsed.drivername!r}: use sqlite:/// or "
            "postgresql:// (psycopg 3)"
        )
    return parsed


SUPPORTED_DRIVERS = {"sqlite", "sqlite+pysqlite", "postgresql+psycopg"}


def create_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url`` with Codewalkers' per-backend settings applied.

    Raises :class:`DatabaseError` for a URL that cannot be parsed, an unsupported database,
    or a driver that is not installed (PostgreSQL needs ``codewalkers[postgres]``).
    """
    parsed = normalize_url(url)
    try:
        with translate_errors():
            if parsed.get_backend_name() == "sqlite":
                engine = _sqlite_engine(parsed, **kwargs)
                _engines.add(engine)
                return engine
            # No pre-ping (a round trip per checkout): a connection found dead is replaced
            # and the transaction, which cannot have committed, run again (_retry.py).
            engine = sa.create_engine(parsed, **kwargs)
        _engines.add(engine)
        return engine
    except ImportError as exc:
        raise DatabaseError(
            f"the driver for {parsed.drivername!r} is not installed ({exc}); for PostgreSQL "
            "install codewalkers[postgres]"
        ) from exc


def _sqlite_engine(url: sa.URL, **kwargs: Any) -> Engine:
    in_memory = url.database in (None, "", ":memory:")
    if in_memory:
        kwargs.setdefault("poolclass", StaticPool)
    engine = sa.create_engine(
        url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
    )

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver: BEGIN is emitted below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        if not in_memory:
            cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        # Lone reads run in autocommit (WAL readers never block); writers take the lock up
        # front; a read-only transaction reads one snapshot and takes no lock.
        # Sent on the driver's connection: exec_driver_sql costs 20x as much. Its errors are
        # wrapped as SQLAlchemy's would be, so callers translate and retry them alike.
        options = connection.get_execution_options()
        if options.get(WRITE):
            sql = "BEGIN IMMEDIATE"
        elif options.get(SNAPSHOT):
            sql = "BEGIN"
        else:
            return
        driver: Any = connection.connection.driver_connection
        try:
            driver.execute(sql)
        except sqlite3.Error as exc:
            is_disconnect: Any = connection.dialect.is_disconnect
            raise sa.exc.DBAPIError.instance(
                sql,
                (),
                exc,
                sqlite3.Error,
                connection_invalidated=bool(is_disconnect(exc, driver, None)),
                dialect=connection.dialect,
            ) from exc

    return engine


# --- migrations --------------------------------------------------------------------------

MIGRATION_LOCK_KEY = zlib.crc32(b"codewalkers:migrations")


def in_models(_object: Any, name: str | None, type_: str, *_rest: Any) -> bool:
    """Alembic's ``include_object``: False for the SQLite-only bookkeeping tables (see
    ``schema.SQLITE_ONLY_TABLES``), which migrations create and the models leave out.
    """
    return not (type_ == "table" and name in SQLITE_ONLY_TABLES)


def alembic_config(connection: Connection | None = None) -> Config:
    """The Alembic configuration of the migrations shipped inside the package."""
    from alembic.config import Config

    config = Config()
    location = resources.files("codewalkers.db") / "migrations"
    config.set_main_option("script_location", str(location))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@functools.cache
def _script() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


# Alembic takes ~0.1 s (much more on a loaded machine) to import and to load the migration
# scripts: too much for every `cw` call, which only needs to know whether the database is
# current. The revision graph is read from the scripts' own `revision = "..."` lines, the
# database's revision with plain SQL; Alembic is imported only to migrate
# (tests/db/test_migrations.py checks both readings against Alembic's own).
_REVISION_LINE = re.compile(
    r"^(down_revision|revision)\s*(?::[^=]*)?=\s*(?:(None)|[\"']([^\"']+)[\"'])\s*$",
    re.MULTILINE,
)


@functools.cache
def revision_graph() -> dict[str, str | None]:
    """Each migration's revision and the revision it follows (``None`` for the first), read
    from the scripts' text without importing them or Alembic. Empty when a script cannot be
    read this way (then :func:`head_revision` asks Alembic).
    """
    graph: dict[str, str | None] = {}
    versions = resources.files("codewalkers.db") / "migrations" / "versions"
    for entry in versions.iterdir():
        if not entry.name.endswith(".py") or entry.name.startswith("__"):
            continue
        found = {
            match.group(1): match.group(3) for match in _REVISION_LINE.finditer(entry.read_text())
        }
        revision = found.get("revision")
        if revision is None or "down_revision" not in found or revision in graph:
            return {}
        graph[revision] = found["down_revision"]
    return graph


def head_revision() -> str:
    """The newest revision this code knows."""
    graph = revision_graph()
    heads = set(graph) - set(graph.values())
    if len(heads) == 1:
        return heads.pop()
    head = _script().get_current_head()  # raises on several heads
    assert head is not None
    return head


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at (``None`` when it was never migrated), read from
    Alembic's ``alembic_version`` table with plain SQL.
    """
    if connection.dialect.name == "sqlite":
        exists = connection.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
        ).first()
    else:
        exists = connection.exec_driver_sql("SELECT to_regclass('alembic_version')").scalar()
    if not exists:
        return None
    rows = connection.exec_driver_sql("SELECT version_num FROM alembic_version").all()
    if len(rows) > 1:
        raise SchemaError(
            "the database records several schema revisions ("
            + ", ".join(sorted(str(row[0]) for row in rows))
            + "); Codewalkers migrations have one head"
        )
    return str(rows[0][0]) if rows else None


def _check_known(revision: str | None) -> None:
    if revision is None:
        return
    graph = revision_graph()
    if graph:
        if revision in graph:
            return
        raise SchemaError(
            f"the database schema is at revision {revision}, newer than this Codewalkers "
            f"knows (newest: {head_revision()}); upgrade Codewalkers to use this database"
        )
    try:
        _script().get_revision(revision)
    except Exception as exc:  # alembic raises several types for an unknown revision
        raise SchemaError(
            f"the database schema is at revision {revision}, newer than this Codewalkers "
            f"knows (newest: {head_revision()}); upgrade Codewalkers to use this database"
        ) from exc


def ensure_schema(engine: Engine) -> str:
    """Migrate the database to the newest schema; return the revision it is at.

    A no-op when the schema is current. Concurrent callers serialize on a lock (SQLite's
    write lock, a PostgreSQL advisory lock) and the migration runs in one transaction, so an
    interrupted migration leaves the database as it was and the next start finishes it.
    Raises :class:`SchemaError` when the database is newer than this code (and leaves it
    untouched).
    """
    head = head_revision()
    with translate_errors():
        with engine.connect() as connection:
            revision = current_revision(connection)
            connection.rollback()
        if revision == head:
            return head
        _check_known(revision)
        with engine.connect() as connection:
            connection.execution_options(**{WRITE: True})
            with connection.begin():
                if connection.dialect.name == "postgresql":
                    connection.execute(
                        sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
                    )
                revision = current_revision(connection)
                _check_known(revision)
                if revision != head:
                    _upgrade(connection, revision, head)
    return head


def _upgrade(connection: Connection, revision: str | None, head: str) -> None:
    from alembic import command

    try:
        command.upgrade(alembic_config(connection), "head")
    except sa.exc.SQLAlchemyError as exc:
        if is_retryable(exc) or getattr(exc, "connection_invalidated", False):
            raise  # a busy or lost database, not a broken migration
        # The transaction rolls back: the database stays at ``revision``.
        raise SchemaError(
            f"migrating the database from revision {revision or '(empty)'} to {head} failed "
            f"and was rolled back: {translate(exc)}"
        ) from exc
