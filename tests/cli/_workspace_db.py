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
    url = cw.env.get("CW_DATABASE_URL") or f"sqlite:///{cw.root / '.cw' / 'cw.db'}"
    db = open_database(url)
    try:
        yield db
    finally:
        db.close()
