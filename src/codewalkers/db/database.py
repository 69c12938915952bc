"""The database handle: one engine, the fourteen repositories, and ``transaction()``."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Engine

from codewalkers.db.engine import WRITE, create_engine, ensure_schema
from codewalkers.db.errors import DatabaseError, is_retryable, translate, translate_errors

T = TypeVar("T")

#: How long a lone repository call keeps retrying a transient failure (lock, deadlock).
RETRY_SECONDS = 60.0


class Database:
    """An open Codewalkers database. Build it with :func:`open_database`.

    Each repository call runs in its own transaction, unless the calling thread is inside
    ``with db.transaction():``, in which case it joins that transaction.
    """

    def __init__(self, engine: Engine, *, secret_key: str | bytes | None = None) -> None:
        from codewalkers.db import repositories as ports
        from codewalkers.db.repositories import sqlalchemy as adapters

        self.engine = engine
        self._local = threading.local()
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
        self.events: ports.EventRepository = adapters.SqlEventRepository(self)

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.engine.dialect.name

    @property
    def url(self) -> str:
        """The database URL, with any password hidden."""
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Run the block's repository calls in one transaction: all commit, or none does.

        Nested blocks become savepoints. An exception rolls the block back and propagates
        (driver errors as :class:`DatabaseError`).
        """
        current: Connection | None = getattr(self._local, "connection", None)
        if current is not None:
            with translate_errors(), current.begin_nested():
                yield
            return
        with translate_errors(), self.engine.connect() as connection:
            connection.execution_options(**{WRITE: True})
            with connection.begin():
                self._local.connection = connection
                try:
                    yield
                finally:
                    self._local.connection = None

    def run(self, work: Callable[[Connection], T], *, write: bool) -> T:
        """Run ``work`` in the caller's transaction, or in a transaction of its own.

        A transaction of its own is retried (with jittered backoff) on transient failures:
        a busy SQLite file, a PostgreSQL deadlock or serialization failure; and once on a
        connection found dead before its transaction could commit (the pool does not ping
        connections on checkout: that would cost a round trip per call).
        """
        current: Connection | None = getattr(self._local, "connection", None)
        if current is not None:
            with translate_errors():
                if not write:
                    return work(current)
                # A savepoint, so that a failed write leaves the caller's transaction usable
                # (PostgreSQL would otherwise abort it; SQLite would not: keep them alike).
                with current.begin_nested():
                    return work(current)
        deadline = 0.0
        delay = 0.005
        reconnected = False
        while True:
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
                lost = getattr(exc, "connection_invalidated", False)
                if lost and not committing and not reconnected:
                    reconnected = True  # nothing was committed: run once more, reconnected
                    continue
                if not is_retryable(exc):
                    raise translate(exc) from exc
                deadline = deadline or time.monotonic() + RETRY_SECONDS
                if time.monotonic() + delay > deadline:
                    raise translate(exc) from exc
            time.sleep(delay * (1 + random.random()))
            delay = min(delay * 2, 0.5)

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
    url: str, *, migrate: bool = True, secret_key: str | bytes | None = None
) -> Database:
    """Open the database at ``url`` (``sqlite:///path`` or ``postgresql://...``).

    Migrations run first (see :func:`ensure_schema`) unless ``migrate`` is false.
    ``secret_key`` (a Fernet key, see :mod:`codewalkers.db.secrets`) encrypts and decrypts
    account credentials and config; without it, accounts that hold them cannot be read or
    written (:class:`SecretKeyError`), and every other table works as usual.
    Raises :class:`SchemaError` when the database is newer than this code, and
    :class:`DatabaseError` when it cannot be opened.
    """
    engine = create_engine(url)
    try:
        database = Database(engine, secret_key=secret_key)  # a malformed key fails first
        if migrate:
            ensure_schema(engine)
        return database
    except DatabaseError:
        engine.dispose()
        raise
