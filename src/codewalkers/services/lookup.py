"""Ids by unique prefix, as git takes commits: ``cw task get 16Z7`` finds ``16Z7...``.

A full id is used as given; a prefix of at least :data:`MIN_PREFIX` characters is expanded
when exactly one row of the entity's table starts with it, and refused with the candidates
listed when several do.
"""

from __future__ import annotations

from typing import Any

from codewalkers.db import Database, ValidationError
from codewalkers.db.ids import ID_LENGTH

MIN_PREFIX = 4
_LISTED = 10

#: The repository attribute of ``Database`` for each entity word the messages use.
REPOSITORIES = {
    "initiative": "initiatives",
    "phase": "phases",
    "task": "tasks",
    "page": "pages",
    "project": "projects",
    "account": "accounts",
    "agent": "agents",
    "proposal": "proposals",
    "message": "messages",
    "conversation": "conversations",
    "chat session": "chat_sessions",
    "review comment": "review_comments",
    "errand": "errands",
    "change set": "change_sets",
}


def label(record: Any) -> str:
    """What a person calls the record: its name, title or email ("" when it has none)."""
    for attribute in ("name", "title", "email"):
        value = getattr(record, attribute, None)
        if isinstance(value, str) and value:
            return value
    return ""


def _rows(db: Database, entity: str) -> list[Any]:
    if entity == "account":
        # Accounts this key cannot decrypt still have ids worth finding.
        return [account for account, _ in db.accounts.find_all_with_readability()]
    rows: list[Any] = getattr(db, REPOSITORIES[entity]).find_all()
    return rows


def resolve(db: Database, entity: str, given: str) -> str:
    """The full id ``given`` stands for: itself when it is a full id, or too short to be a
    prefix, or matches nothing (the caller's lookup then reports it as not found); the one id
    it is a prefix of; ``ValidationError`` listing the candidates when it is ambiguous.
    """
    if len(given) >= ID_LENGTH or len(given) < MIN_PREFIX or entity not in REPOSITORIES:
        return given
    matches = [row for row in _rows(db, entity) if row.id.startswith(given)]
    if len(matches) == 1:
        return str(matches[0].id)
    if not matches or any(row.id == given for row in matches):
        return given
    shown = ", ".join(
        f"{row.id}" + (f" {label(row)!r}" if label(row) else "") for row in matches[:_LISTED]
    )
    more = f" and {len(matches) - _LISTED} more" if len(matches) > _LISTED else ""
    raise ValidationError(
        f"{entity} id prefix {given!r} is ambiguous: {len(matches)} {entity}s start with it "
        f"({shown}{more}); give more characters"
    )
