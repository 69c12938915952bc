"""The team's secret key: which key a database's secrets are encrypted with, and whether a
workspace's key is that one (see :mod:`codewalkers.db.key_check`).
"""

from __future__ import annotations

from dataclasses import dataclass

from codewalkers.db import Database, SecretKeyError
from codewalkers.db.key_check import (
    GET_THE_TEAMS_KEY,
    remember_secret_key,
    stored_fingerprint,
    verify_secret_key,
)
from codewalkers.db.secrets import fingerprint


@dataclass(frozen=True, slots=True)
class KeyStatus:
    """A workspace's key against its database's: fingerprints only, never a key."""

    workspace_key: str | None  # the workspace key's fingerprint, None without a key
    database_key: str | None  # the fingerprint the database remembers, None before any
    matches: bool  # the workspace can read and write the database's secrets


def key_status(db: Database, key: str | None) -> KeyStatus:
    """Compare ``key`` with the key the database remembers."""
    mine = None if key is None else fingerprint(key)
    theirs = stored_fingerprint(db)
    return KeyStatus(mine, theirs, mine is not None and (theirs is None or mine == theirs))


def check_key(db: Database, key: str | None) -> None:
    """Refuse a key other than the one the database remembers (``SecretKeyError`` naming
    both fingerprints and how to get the team's key).
    """
    verify_secret_key(db, key)


def adopt_key(db: Database, key: str) -> bool:
    """Make ``key`` the database's key unless it has one (return whether it did); refuse a
    key other than the one it has (``SecretKeyError``).
    """
    return remember_secret_key(db, key)


def missing_key_message(database_fingerprint: str) -> str:
    """What a workspace without a key is told when its database already has one."""
    return (
        f"this database's secrets are encrypted with the team's key {database_fingerprint} "
        f"and this workspace has no key: {GET_THE_TEAMS_KEY}"
    )


__all__ = [
    "KeyStatus",
    "SecretKeyError",
    "adopt_key",
    "check_key",
    "key_status",
    "missing_key_message",
]
