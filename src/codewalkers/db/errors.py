"""The exceptions the database layer raises.

No driver exception (``sqlite3``, ``psycopg``, ``sqlalchemy.exc``) reaches a caller: each is
translated here, in :func:`translate_errors`, with the driver error chained as ``__cause__``.

::

    DatabaseError                    anything the database layer raises
    ├── NotFoundError                the row the call is about does not exist
    ├── ConflictError                a unique rule, or a state that forbids the change
    ├── ValidationError              bad input: unknown field, wrong type, bad enum value,
    │   │                            bad JSON or Tiptap document, dependency cycle
    │   └── ReferenceNotFoundError   a referenced row does not exist (also a NotFoundError)
    ├── SchemaError                  the database schema cannot be used by this code
    ├── SecretKeyError               no secret key, a malformed one, or the wrong one
    └── DatabaseUnavailableError     the database cannot be reached or stays locked

A write that raises leaves the database as it was.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import exc as sa_exc

# SQLAlchemy is imported where an error of its own is looked at, not with these classes:
# `cw id` and the CLI's error handling need the classes without SQLAlchemy (~0.1 s).

__all__ = [
    "ConflictError",
    "DatabaseError",
    "DatabaseUnavailableError",
    "NotFoundError",
    "ReferenceNotFoundError",
    "SchemaError",
    "SecretKeyError",
    "ValidationError",
    "translate",
    "translate_errors",
]


class DatabaseError(Exception):
    """Base class of every error the database layer raises."""


class NotFoundError(DatabaseError):
    """The row the call is about does not exist."""


class ConflictError(DatabaseError):
    """The write breaks a unique rule, or the row's state forbids it (e.g. answered twice)."""


class ValidationError(DatabaseError):
    """The input is invalid: unknown field, wrong type, bad enum value, cycle, bad JSON."""


class ReferenceNotFoundError(ValidationError, NotFoundError):
    """A row that the input refers to (a foreign key, a dependency) does not exist."""


class SchemaError(DatabaseError):
    """The schema is newer than this code, could not be migrated, or was never migrated."""


class SecretKeyError(DatabaseError):
    """Secrets cannot be encrypted or decrypted: the key is missing, malformed or wrong."""


class DatabaseUnavailableError(DatabaseError):
    """The database could not be reached, or stayed locked past every retry."""


_SQLITE_UNIQUE = re.compile(r"UNIQUE constraint failed: (?P<cols>[\w., ]+)")
_SQLITE_CHECK = re.compile(r"CHECK constraint failed: (?P<name>\w+)")
_PG_CONSTRAINT = re.compile(r'constraint "(?P<name>[^"]+)"')


def _message(exc: sa_exc.DBAPIError) -> str:
    if exc.orig is None:
        return str(exc)
    first = str(exc.orig).strip().splitlines()[0]
    detail = getattr(getattr(exc.orig, "diag", None), "message_detail", None)
    return f"{first} ({detail})" if detail else first


def integrity_error(exc: sa_exc.IntegrityError) -> DatabaseError:
    """Map one integrity violation to the error a caller should see."""
    text = _message(exc)
    lowered = text.lower()
    if "unique" in lowered or "duplicate key" in lowered:
        match = _SQLITE_UNIQUE.search(text)
        what = match.group("cols") if match else _constraint_name(text)
        return ConflictError(f"already exists: {what} must be unique")
    if "foreign key" in lowered:
        return ReferenceNotFoundError(f"a referenced row does not exist ({_constraint_name(text)})")
    if "check constraint" in lowered or "violates check" in lowered:
        match = _SQLITE_CHECK.search(text)
        return ValidationError(
            f"value not allowed by {match.group('name') if match else _constraint_name(text)}"
        )
    if "not null" in lowered or "null value" in lowered:
        return ValidationError(f"a required field is missing ({text})")
    return ValidationError(text)


def _constraint_name(text: str) -> str:
    match = _PG_CONSTRAINT.search(text)
    return match.group("name") if match else text


def is_retryable(exc: BaseException) -> bool:
    """True for the transient errors a transaction may simply run again after."""
    from sqlalchemy import exc as sa_exc

    if not isinstance(exc, sa_exc.DBAPIError) or exc.orig is None:
        return False
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate in {"40001", "40P01", "55P03"}:  # serialization failure, deadlock, lock n/a
        return True
    text = str(exc.orig).lower()
    return "database is locked" in text or "database table is locked" in text


def _is_missing_schema(exc: sa_exc.DBAPIError) -> bool:
    """A table or column the code uses is not in the database (e.g. it was never migrated)."""
    if exc.orig is None:
        return False
    if getattr(exc.orig, "sqlstate", None) in {"42P01", "42703"}:  # undefined table / column
        return True
    text = str(exc.orig)
    return text.startswith(("no such table:", "no such column:"))


def translate(exc: sa_exc.SQLAlchemyError) -> DatabaseError:
    """The :class:`DatabaseError` a caller sees for a SQLAlchemy or driver error."""
    from sqlalchemy import exc as sa_exc

    if isinstance(exc, sa_exc.IntegrityError):
        return integrity_error(exc)
    if isinstance(exc, sa_exc.DataError):
        return ValidationError(f"invalid value: {_message(exc)}")
    if isinstance(exc, sa_exc.DBAPIError) and _is_missing_schema(exc):
        return SchemaError(
            f"the database schema does not match this code ({_message(exc)}); "
            "open it with open_database(), which migrates it"
        )
    if isinstance(exc, sa_exc.OperationalError):
        return DatabaseUnavailableError(f"database error: {_message(exc)}")
    detail = _message(exc) if isinstance(exc, sa_exc.DBAPIError) else str(exc)
    return DatabaseError(f"database error: {detail}")


@contextmanager
def translate_errors() -> Iterator[None]:
    """Turn driver and SQLAlchemy errors raised inside the block into :class:`DatabaseError`."""
    try:
        yield
    except Exception as exc:
        # Only a SQLAlchemy error is translated, and none exists before SQLAlchemy is loaded.
        sa_exc = sys.modules.get("sqlalchemy.exc")
        if sa_exc is None or not isinstance(exc, sa_exc.SQLAlchemyError):
            raise
        raise translate(exc) from exc
