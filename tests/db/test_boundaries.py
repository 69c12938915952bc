"""The database package keeps its engine to itself (issue 9 item 11): code outside it asks
``Database`` and the repositories, never ``db.engine`` or ``db.run``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from codewalkers.db import Database, DatabaseError, head_revision, open_database

SRC = Path(__file__).resolve().parents[2] / "src" / "codewalkers"
# ``.engine`` as an attribute (not the module codewalkers.db.engine), and ``.run(`` on a db.
ENGINE_OR_RUN = re.compile(r"(?<!codewalkers\.db)\.engine\b|\bdb\.run\(")


def test_nothing_outside_the_db_package_uses_its_engine_or_run() -> None:
    offenders = [
        f"{path.relative_to(SRC)}:{number}: {line.strip()}"
        for path in sorted(SRC.rglob("*.py"))
        if "db" not in path.relative_to(SRC).parts[:1]
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if ENGINE_OR_RUN.search(line)
    ]
    assert offenders == []


def test_schema_revision_says_where_the_database_is(db: Database, fresh_database_url: str) -> None:
    assert db.schema_revision() == head_revision()
    with open_database(fresh_database_url, migrate=False) as empty:
        assert empty.schema_revision() is None


def test_subscribe_hears_each_committed_event(db: Database, backend: str) -> None:
    if backend != "postgresql":
        with pytest.raises(DatabaseError, match="PostgreSQL"), db.events.subscribe():
            pass
        return
    with db.events.subscribe() as notifications:
        assert list(notifications(0.05)) == []
        with db.transaction():
            first = db.events.append("x:one", {})
            assert list(notifications(0.05)) == []  # not before the commit
        second = db.events.append("x:two", {})
        assert list(notifications(0.5)) == [first.seq, second.seq]
