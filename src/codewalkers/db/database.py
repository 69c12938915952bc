"""The database handle: one engine, the fourteen repositories, and ``transaction()``.

A ``Database`` survives what a long-running coordinator meets:

- **fork**: a child process never uses its parent's connections (the engine's pool is
  replaced in the child, see :mod:`codewalkers.db.engine`, and a transaction the parent had
  open is not the child's);
- **a dropped connection**: a lone call is run again once on a new connection when its
  connection was found dead before it could commit; so is a ``transaction()`` whose first
  statement finds its connection dead (nothing was sent yet). A connection lost after a
  transaction's work began is an error (:class:`DatabaseUnavailableError`), never a silent
  retry of half the work.
"""

from __future__ import annotations

import contextlib
import os
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Engine, RootTransaction

from codewalkers.db._retry import RETRY_SECONDS, LostBeforeCommit, is_lost, with_retries
from codewalkers.db.engine import (
    SNAPSHOT,
    WRITE,
    create_engine,
    current_revision,
    ensure_schema,
    invalidate_pool,
)
from codewalkers.db.errors import DatabaseError, translate, translate_errors

T = TypeVar("T")

__all__ = ["RETRY_SECONDS", "Database", "open_database"]


class _Transaction:
    """The calling thread's open ``db.transaction()``: its connection, and whether anything
    has run in it yet (until then, a dead connection may be swapped for a new one).
    """

    __slots__ = ("connection", "fresh", "readonly", "root", "savepoints")

    def __init__(self, engine: Engine, readonly: bool, savepoints: bool = True) -> None:
        self.readonly = readonly
        self.savepoints = savepoints
        self.fresh = True
        self.connection, self.root = self._begin(engine)

    def _begin(self, engine: Engine) -> tuple[Connection, RootTransaction]:
        connection = engine.connect()
        try:
            # SQLite: BEGIN IMMEDIATE (the write lock) for a writer, a plain BEGIN (a snapshot,
            # no lock) for a read-only transaction. PostgreSQL ignores both options.
            connection.execution_options(**{SNAPSHOT if self.readonly else WRITE: True})
            return connection, connection.begin()
        except BaseException:
            connection.close()
            raise

    def reconnect(self, exc: BaseException) -> None:
        """Replace a connection found dead before anything ran in this transaction."""
        old = self.connection
        if not old.invalidated:
            # Found by the fast path, which SQLAlchemy did not see: do what it would have.
            with contextlib.suppress(sa_exc.SQLAlchemyError):
                invalidate_pool(old.engine, old.connection, exc)
                old.invalidate(exc)
        with contextlib.suppress(sa_exc.SQLAlchemyError):
            self.root.rollback()
        with contextlib.suppress(sa_exc.SQLAlchemyError):
            old.close()
        self.connection, self.root = self._begin(old.engine)

    def end(self, commit: bool) -> None:
        try:
            if commit:
                self.root.commit()
            else:
                # The connection may be dead: the error that ended the block matters, not this.
                with contextlib.suppress(sa_exc.SQLAlchemyError):
                    self.root.rollback()
        finally:
            with contextlib.suppress(sa_exc.SQLAlchemyError):
                self.connection.close()


class _Local(threading.local):
    """Per-thread state: the thread's open ``db.transaction()``, if any."""

    # A class default: reading it in a thread that never opened a transaction is a plain
    # attribute read (a missing thread-local attribute costs an exception, ~1 us per call).
    tx: _Transaction | None = None


_databases: weakref.WeakSet[Database] = weakref.WeakSet()


def _forget_transactions_in_child() -> None:
    # A transaction the parent had open when it forked is the parent's, not the child's.
    for database in list(_databases):
        database._local.__dict__.clear()


os.register_at_fork(after_in_child=_forget_transactions_in_child)


class Database:
    """An open Codewalkers database. Build it with :func:`open_database`.

    Each repository call runs in its own transaction, unless the calling thread is inside
    ``with db.transaction():``, in which case it joins that transaction.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        secret_key: str | bytes | None = None,
        fast_path: bool | None = None,
    ) -> None:
        from codewalkers.db import repositories as ports
        from codewalkers.db.repositories import sqlalchemy as adapters
        from codewalkers.db.repositories.sqlalchemy._raw import PLAIN, fast_path_from_environment

        self.engine = engine
        #: False: every call runs through plain SQLAlchemy (see :func:`open_database`).
        self.fast_path = fast_path_from_environment() if fast_path is None else fast_path
        if not self.fast_path:
            engine.update_execution_options(**{PLAIN: True})
        self._local = _Local()
        self.initiatives: ports.InitiativeRepository = adapters.SqlInitiativeRepository(self)
        self.phases: ports.PhaseRepository = adapters.SqlPhaseRepository(self)
        self.tasks: ports.TaskRepository = adapters.SqlTaskRepository(self)
        self.agents: ports.AgentRepository = adapters.SqlAgentRepository(self)
        self.messages: ports.MessageRepository = adapters.SqlMessageRepository(self)
        self.pages: ports.PageRepository = adapters.SqlPageRepository(self)
        self.projects: ports.ProjectRepository = adapters.SqlProjectRepository(self)
        self.accounts: ports.AccountRepository = adapters.SqlAccountRepository(self, secret_key)
        self.proposals: ports.ProposalRepository = adapters.SqlProposalRepository(self)
        self.log_chunks: ports.LogChunkRepository = adapters.SqlLogChunkRepository(self)
        self.conversations: ports.ConversationRepository = adapters.SqlConversationRepository(self)
        self.chat_sessions: ports.ChatSessionRepository = adapters.SqlChatSessionRepository(self)
        self.review_comments: ports.ReviewCommentRepository = adapters.SqlReviewCommentRepository(
            self
        )
        self.change_sets: ports.ChangeSetRepository = adapters.SqlChangeSetRepository(self)
        self.errands: ports.ErrandRepository = adapters.SqlErrandRepository(self)
        self.events: ports.EventRepository = adapters.SqlEventRepository(self)
        self.execution: ports.ExecutionRepository = adapters.SqlExecutionRepository(self)
        _databases.add(self)

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.engine.dialect.name

    @property
    def url(self) -> str:
        """The database URL, with any password hidden."""
        return self.engine.url.render_as_string(hide_password=True)

    def schema_revision(self) -> str | None:
        """The migration revision the database is at (``None`` when it was never migrated);
        compare with :func:`~codewalkers.db.head_revision`.
        """
        with translate_errors(), self.engine.connect() as connection:
            return current_revision(connection)

    @property
    def in_transaction(self) -> bool:
        """True inside ``with db.transaction():`` (in this thread)."""
        return self._local.tx is not None

    @contextmanager
    def transaction(self, *, readonly: bool = False, savepoints: bool = True) -> Iterator[None]:
        """Run the block's repository calls in one transaction: all commit, or none does.

        Nested blocks become savepoints. An exception rolls the block back and propagates
        (driver errors as :class:`DatabaseError`).

        A writing transaction (the default) takes SQLite's write lock when it begins (``BEGIN
        IMMEDIATE``): writers queue for the lock instead of deadlocking half-way through.
        ``readonly=True`` takes no lock (SQLite: a snapshot read, ``BEGIN``), so it never makes
        a writer wait; a write inside it raises :class:`DatabaseError`. A nested block follows
        the outermost one.

        When the transaction's connection turns out to be dead on its first statement, it
        is replaced and the statement sent again (nothing had been sent). A connection lost
        later raises :class:`DatabaseUnavailableError`.

        Each write inside runs in a savepoint of its own, so that a failed write (a unique
        key taken, ...) can be caught and the transaction go on. ``savepoints=False`` spares
        them (two statements per write) for a block that is all-or-none anyway and never
        goes on after a failed write: PostgreSQL then aborts the whole transaction, which
        the block's exception rolls back. The output path uses it (``docs/performance.md``).
        Ignored by a nested block (it follows the outermost one).
        """
        current: _Transaction | None = self._local.tx
        if current is not None:
            with translate_errors():
                savepoint = self._in(current, lambda c: c.begin_nested())
                with savepoint:
                    yield
            return
        with translate_errors():
            tx = _Transaction(self.engine, readonly, savepoints)
        self._local.tx = tx
        try:
            with translate_errors():
                try:
                    yield
                except BaseException:
                    tx.end(commit=False)
                    raise
                tx.end(commit=True)
        finally:
            self._local.tx = None

    def _in(self, tx: _Transaction, work: Callable[[Connection], T]) -> T:
        """``work`` on the transaction's connection; swaps a connection that turns out dead
        before anything ran in the transaction, and runs ``work`` again on the new one.
        """
        try:
            result = work(tx.connection)
        except sa_exc.SQLAlchemyError as exc:
            if not (tx.fresh and is_lost(exc)):
                raise
            tx.reconnect(exc)
            result = work(tx.connection)
        tx.fresh = False
        return result

    def run(self, work: Callable[[Connection], T], *, write: bool) -> T:
        """Run ``work`` in the caller's transaction, or in a transaction of its own.

        A transaction of its own is retried (with jittered backoff) on transient failures:
        a busy SQLite file, a PostgreSQL deadlock or serialization failure; and once on a
        connection found dead before its transaction could commit (the pool does not ping
        connections on checkout: that would cost a round trip per call). See
        :mod:`codewalkers.db._retry`.
        """
        tx: _Transaction | None = self._local.tx
        if tx is not None:
            if write and tx.readonly:
                raise DatabaseError("cannot write in a read-only transaction (readonly=True)")
            try:
                saved = write and tx.savepoints
                return self._in(tx, (lambda c: _in_savepoint(c, work)) if saved else work)
            except sa_exc.SQLAlchemyError as exc:
                raise translate(exc) from exc

        def attempt() -> T:
            committing = False
            try:
                with self.engine.connect() as connection:
                    if write:
                        connection.execution_options(**{WRITE: True})
                    with connection.begin():
                        result = work(connection)
                        committing = True
                    return result
            except sa_exc.SQLAlchemyError as exc:
                if is_lost(exc) and not committing:
                    raise LostBeforeCommit() from exc
                raise

        return with_retries(attempt)

    def close(self) -> None:
        """Release every connection. The handle cannot be used afterwards."""
        self.engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Database({self.url!r})"


def open_database(
    url: str,
    *,
    migrate: bool = True,
    secret_key: str | bytes | None = None,
    fast_path: bool | None = None,
) -> Database:
    """Open the database at ``url`` (``sqlite:///path`` or ``postgresql://...``).

    Migrations run first (see :func:`ensure_schema`) unless ``migrate`` is false.
    ``secret_key`` (a Fernet key, see :mod:`codewalkers.db.secrets`) encrypts and decrypts
    account credentials and config; without it, accounts that hold them cannot be read or
    written (:class:`SecretKeyError`), and every other table works as usual.
    ``fast_path=False`` runs every repository call through plain SQLAlchemy instead of the
    prepared statements of ``repositories/sqlalchemy/_raw.py`` (same results, slower); the
    default follows ``CW_DB_FAST_PATH`` (``off`` turns it off), else on.
    Raises :class:`SchemaError` when the database is newer than this code, and
    :class:`DatabaseError` when it cannot be opened.
    """
    engine = create_engine(url)
    try:
        # A malformed key fails first.
        database = Database(engine, secret_key=secret_key, fast_path=fast_path)
        if migrate:
            ensure_schema(engine)
        return database
    except DatabaseError:
        engine.dispose()
        raise


def _in_savepoint(connection: Connection, work: Callable[[Connection], T]) -> T:
    """``work`` in a savepoint, so that a failed write leaves the caller's transaction usable
    (PostgreSQL would otherwise abort it; SQLite would not: keep them alike).
    """
    savepoint = connection.begin_nested()
    try:
        result = work(connection)
    except BaseException as exc:
        if not is_lost(exc):
            savepoint.rollback()
        raise
    savepoint.commit()
    return result
