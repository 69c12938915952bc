"""Direct access to a ``cw`` test workspace's database, for rows only other parts of the
system create (agents, log chunks, proposals) and for checking what a command stored.
"""

from __future__ import annotations

from codewalkers.db import Database, open_database
from tests.cli.conftest import Cw


def workspace_database(cw: Cw, backend: str, database_url: str) -> Database:
    """The database the workspace's commands use (close it when done)."""
    return open_database(cw.database_url)
