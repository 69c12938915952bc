"""Direct access to a test workspace's database, for what no ``cw`` command creates
(agents, messages from agents) and for checking that a failed command changed nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from codewalkers.db import Database, open_database
from tests.cli.conftest import Cw


@contextmanager
def workspace_db(cw: Cw) -> Iterator[Database]:
    """The database the workspace's ``cw`` commands use (SQLite file or PostgreSQL)."""
    db = open_database(cw.database_url)
    try:
        yield db
    finally:
        db.close()
