"""Issue 9: a transaction survives a connection dropped before it began (item 2), and a
read-only transaction takes no SQLite write lock (item 4)."""

from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy as sa

from codewalkers.db import Database, DatabaseError, DatabaseUnavailableError
from codewalkers.db.engine import create_engine


def _drop_connections(db: Database, database_url: str, request: pytest.FixtureRequest) -> None:
    """PostgreSQL: the server ends every session of this database but the killer's (the
    test run's own engine, which empties tables between tests, reconnects).
    """
    if db.dialect != "postgresql":
        pytest.skip("only a server can drop connections")
    killer = create_engine(database_url)
    with killer.connect() as connection:
        connection.execute(
            sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
        connection.commit()
    killer.dispose()
    request.getfixturevalue("pg_engine").dispose()


def test_a_transaction_after_the_server_dropped_connections_succeeds(
    db: Database, database_url: str, request: pytest.FixtureRequest
) -> None:
    db.initiatives.create(name="before")  # a pooled connection the server will drop
    with db.transaction():
        db.initiatives.find_all()
    _drop_connections(db, database_url, request)
    with db.transaction():
        db.initiatives.create(name="after")
    assert sorted(i.name for i in db.initiatives.find_all()) == ["after", "before"]


def test_a_connection_lost_after_work_began_surfaces(
    db: Database, database_url: str, request: pytest.FixtureRequest
) -> None:
    db.initiatives.create(name="before")
    with pytest.raises(DatabaseUnavailableError), db.transaction():
        db.initiatives.create(name="lost")
        _drop_connections(db, database_url, request)
        db.initiatives.create(name="never")
    assert [i.name for i in db.initiatives.find_all()] == ["before"]


def test_a_read_only_transaction_does_not_hold_the_write_lock(
    db: Database, database_url: str
) -> None:
    db.initiatives.create(name="one")
    with db.transaction(readonly=True):
        assert len(db.initiatives.find_all()) == 1
        if db.dialect == "sqlite":
            # A writer that will not wait: it fails at once if the lock is held.
            path = database_url.removeprefix("sqlite:///")
            other = sqlite3.connect(path, timeout=0, isolation_level=None)
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            other.close()
        else:
            db_other = Database(create_engine(database_url))
            db_other.initiatives.create(name="two")
            db_other.close()


def test_a_write_in_a_read_only_transaction_is_refused(db: Database) -> None:
    with pytest.raises(DatabaseError, match="read-only"), db.transaction(readonly=True):
        db.initiatives.create(name="no")
    assert db.initiatives.find_all() == []
