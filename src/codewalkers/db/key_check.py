"""Which key encrypts this database's secrets: its key check value, in the ``settings`` table.

A database shared by a team (one PostgreSQL server, several workspaces) must be opened with
one key. The first key that writes a secret (or that ``cw init`` finds) is remembered by its
key check value (see :func:`codewalkers.db.secrets.key_check_value`), never the key itself;
afterwards :func:`verify_secret_key` refuses another key before anything is written with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from codewalkers.db import schema
from codewalkers.db.errors import SecretKeyError
from codewalkers.db.secrets import fingerprint, fingerprint_of_check, key_check_value
from codewalkers.db.types import now_ms

if TYPE_CHECKING:
    from codewalkers.db.database import Database

#: The ``settings`` row that holds the key check value.
KEY_CHECK = "secret_key_check"

#: How to get the team's key, said in every message about a missing or different key.
GET_THE_TEAMS_KEY = (
    "ask a teammate to run `cw secret export FILE`, then run `cw secret import FILE` here "
    "(or set CW_SECRET_KEY)"
)

settings = schema.settings


def stored_key_check(db: Database) -> str | None:
    """The database's key check value, or ``None`` while no key has been recorded."""

    def work(connection: Connection) -> str | None:
        statement = select(settings.c.value).where(settings.c.id == KEY_CHECK)
        value = connection.execute(statement).scalar()
        return None if value is None else str(value)

    return db.run(work, write=False)


def stored_fingerprint(db: Database) -> str | None:
    """The fingerprint of the key this database's secrets are encrypted with, if recorded."""
    check = stored_key_check(db)
    return None if check is None else fingerprint_of_check(check)


def verify_secret_key(db: Database, key: str | bytes | None) -> None:
    """Refuse ``key`` when the database remembers another one.

    Raises :class:`SecretKeyError` naming both fingerprints and how to get the team's key.
    No key, or a database that remembers none, passes.
    """
    if key is None:
        return
    check = stored_key_check(db)
    if check is not None and check != key_check_value(key):
        raise SecretKeyError(
            f"this database's secrets are encrypted with the key {fingerprint_of_check(check)}, "
            f"but this workspace's key is {fingerprint(key)}: {GET_THE_TEAMS_KEY}"
        )


def remember_secret_key(db: Database, key: str | bytes) -> bool:
    """Record ``key``'s check value unless one is recorded; return whether it was recorded.

    Raises :class:`SecretKeyError` when another key is recorded (as :func:`verify_secret_key`).
    """
    check = key_check_value(key)
    return db.run(lambda connection: remember_key_check(connection, check), write=True)


def remember_key_check(connection: Connection, check: str) -> bool:
    """In the caller's transaction: record ``check`` unless one is recorded (return whether it
    was), or raise :class:`SecretKeyError` when another is.
    """
    statement = select(settings.c.value).where(settings.c.id == KEY_CHECK)
    stored = connection.execute(statement).scalar()
    if stored is not None:
        if stored != check:
            raise SecretKeyError(
                f"this database's secrets are encrypted with the key "
                f"{fingerprint_of_check(stored)}, but this workspace's key is "
                f"{fingerprint_of_check(check)}: {GET_THE_TEAMS_KEY}"
            )
        return False
    now = now_ms()
    connection.execute(
        insert(settings).values(id=KEY_CHECK, value=check, created_at=now, updated_at=now)
    )
    return True
