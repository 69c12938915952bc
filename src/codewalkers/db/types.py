"""Column types: how Python values are stored, and read back, on SQLite and PostgreSQL alike.

- :class:`Millis`: a timezone-aware UTC ``datetime``, stored as INTEGER Unix epoch milliseconds.
- :class:`JSONText`: any JSON value, stored as compact text (``TiptapJSON`` for documents).
- :class:`EnumText`: a ``StrEnum`` member, stored as its string and read back as the member.

Values reaching these types have already been validated (``_validation.py``).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Boolean, Dialect, Text
from sqlalchemy.types import TypeDecorator

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_millis(value: datetime) -> int:
    """Milliseconds since the Unix epoch of an aware ``datetime`` (sub-millisecond dropped)."""
    delta = value - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def from_millis(value: int) -> datetime:
    """The aware UTC ``datetime`` of a millisecond timestamp."""
    return EPOCH + timedelta(0, 0, 0, value)  # positional: a third faster than milliseconds=


class _MonotonicClock:
    """Wall-clock milliseconds that never repeat or go back within one process.

    Rows written one after another in a process therefore sort in the order they were
    written, even when many are written within the same millisecond.
    """

    def __init__(self) -> None:
        self._last = 0
        self._lock = threading.Lock()

    def now_ms(self) -> int:
        wall = time.time_ns() // 1_000_000
        with self._lock:
            self._last = wall if wall > self._last else self._last + 1
            return self._last


_clock = _MonotonicClock()
now_ms = _clock.now_ms


def wall_ms() -> int:
    """Plain wall-clock milliseconds (for rows ordered by a sequence, not by time)."""
    return time.time_ns() // 1_000_000


class Millis(TypeDecorator[datetime]):
    """Aware UTC ``datetime`` <-> INTEGER epoch milliseconds. Integers pass through on write."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> int | None:
        if value is None or isinstance(value, int):
            return value
        return to_millis(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return None if value is None else from_millis(value)


def dump_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


class JSONText(TypeDecorator[Any]):
    """Any JSON value (``None`` is SQL NULL), stored as text so both engines keep it verbatim."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else dump_json(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else json.loads(value)


class TiptapJSON(JSONText):
    """A Tiptap (ProseMirror) document: ``{"type": "doc", "content": [...]}``."""

    cache_ok = True


class EnumText(TypeDecorator[StrEnum]):
    """A ``StrEnum`` stored as its value; the CHECK constraint lives in ``schema.py``."""

    impl = Text
    cache_ok = True

    def __init__(self, enum: type[StrEnum]) -> None:
        super().__init__()
        self.enum = enum

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> StrEnum | None:
        return None if value is None else self.enum(value)

    def __repr__(self) -> str:  # keeps Alembic's rendering of the type plain
        return "sa.Text()"


# --- converters for statements run on the driver directly ---------------------------------
# The hot repository paths execute precompiled SQL on the DBAPI cursor (see
# ``repositories/sqlalchemy/_raw.py``); these do there what the types above do through
# SQLAlchemy, without its per-value dispatch. ``None`` stays ``None`` and is never passed in.


def _bind_millis(value: Any) -> Any:
    return value if isinstance(value, int) else to_millis(value)


def bind_converter(kind: Any) -> Callable[[Any], Any] | None:
    """How a non-``None`` Python value of column type ``kind`` is sent to the driver."""
    if isinstance(kind, Millis):
        return _bind_millis
    if isinstance(kind, JSONText):
        return dump_json
    if isinstance(kind, EnumText):
        return str
    return None


class _Members(dict[Any, StrEnum]):
    """An enum's members by value; an unknown value raises as ``enum(value)`` does."""

    def __init__(self, enum: type[StrEnum]) -> None:
        super().__init__((member.value, member) for member in enum)
        self.enum = enum

    def __missing__(self, value: Any) -> StrEnum:
        return self.enum(value)


def result_converter(kind: Any) -> Callable[[Any], Any] | None:
    """How a non-``None`` value of column type ``kind`` read from the driver becomes Python."""
    if isinstance(kind, Millis):
        return from_millis
    if isinstance(kind, JSONText):
        return json.loads
    if isinstance(kind, EnumText):
        return _Members(kind.enum).__getitem__
    if isinstance(kind, Boolean):
        return bool
    return None
