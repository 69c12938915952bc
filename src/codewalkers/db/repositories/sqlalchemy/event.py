"""The domain-event outbox in SQL.

Events must become visible in ``seq`` order, or a reader that has already moved past a
``seq`` would miss an event committed later with a smaller one. SQLite serializes writers
(``BEGIN IMMEDIATE``), so that holds by itself. On PostgreSQL, ``append`` first takes a
transaction-scoped advisory lock: transactions that record events commit one after the
other, from their first event on. Emit events last in a transaction, after its other
writes, so the lock is held briefly and never waited for while holding row locks.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, insert, or_, select
from sqlalchemy.engine import Connection, Row
from sqlalchemy.sql.elements import ColumnElement

from codewalkers.db import schema
from codewalkers.db._validation import check_datetime, check_int, check_json, check_text
from codewalkers.db.errors import DatabaseError, DatabaseUnavailableError, ValidationError
from codewalkers.db.records import Event
from codewalkers.db.types import now_ms

if TYPE_CHECKING:
    from codewalkers.db.database import Database

events = schema.events

#: The PostgreSQL channel ``append`` notifies on commit; the payload is the event's seq.
CHANNEL = "codewalkers_events"

_APPEND_LOCK_KEY = zlib.crc32(b"codewalkers:events")
_COLUMNS = tuple(events.columns)
_MAX_SEQ = 2**63 - 1


# Built once: building and caching an insert per call cost more than running it.
_INSERT = insert(events).returning(*_COLUMNS)
_INSERT_MANY = insert(events).returning(*_COLUMNS, sort_by_parameter_order=True)
_LOCK = select(func.pg_advisory_xact_lock(_APPEND_LOCK_KEY))


def _record(row: Row[Any]) -> Event:
    return Event(**row._mapping)


def _optional_id(field: str, value: Any) -> str | None:
    return None if value is None else check_text(field, value)


def _type_filter(types: Sequence[str]) -> ColumnElement[bool] | None:
    """``type`` matching any of ``types`` (``x:*`` = prefix); ``None`` when all match."""
    if isinstance(types, str):
        types = [types]
    clauses: list[ColumnElement[bool]] = []
    for name in types:
        check_text("types", name)
        if name.endswith("*"):
            prefix = name[:-1]
            if not prefix:
                return None
            clauses.append(events.c.type.startswith(prefix, autoescape=True))
        else:
            clauses.append(events.c.type == name)
    return or_(*clauses)


class SqlEventRepository:
    """The outbox table ``events``; see :class:`codewalkers.db.EventRepository`."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def append(
        self,
        type: str,
        payload: Any,
        initiative_id: str | None = None,
        entity_id: str | None = None,
    ) -> Event:
        return self.append_many([(type, payload, initiative_id, entity_id)])[0]

    def append_many(self, items: Sequence[tuple[str, Any, str | None, str | None]]) -> list[Event]:
        created_at = now_ms()
        rows = []
        for type, payload, initiative_id, entity_id in items:
            check_text("type", type)
            if not type.strip():
                raise ValidationError("type must not be empty")
            check_json("payload", payload)
            if payload is None:
                raise ValidationError("payload must not be None")
            rows.append(
                {
                    "type": type,
                    "initiative_id": _optional_id("initiative_id", initiative_id),
                    "entity_id": _optional_id("entity_id", entity_id),
                    "payload": payload,
                    "created_at": created_at,
                }
            )
        if not rows:
            return []

        def work(connection: Connection) -> list[Event]:
            postgres = connection.dialect.name == "postgresql"
            if postgres:
                connection.execute(_LOCK)
            if len(rows) == 1:
                found = [_record(connection.execute(_INSERT, rows[0]).one())]
            else:
                # One multi-row INSERT ... RETURNING (SQLAlchemy's "insertmanyvalues"), the
                # rows returned in the parameters' order.
                found = [_record(row) for row in connection.execute(_INSERT_MANY, rows)]
            if postgres:
                # Delivered to LISTENers when (and only if) the transaction commits; one
                # wakes them for all (they read every event after the seq they last saw).
                connection.execute(select(func.pg_notify(CHANNEL, str(found[-1].seq))))
            return found

        return self._db.run(work, write=True)

    def find_after(
        self,
        after_seq: int = 0,
        *,
        types: Sequence[str] | None = None,
        initiative_id: str | None = None,
        limit: int = 1000,
    ) -> list[Event]:
        statement = select(*_COLUMNS).where(
            events.c.seq > check_int("after_seq", after_seq, (0, _MAX_SEQ))
        )
        if types:
            clause = _type_filter(types)
            if clause is not None:
                statement = statement.where(clause)
        if initiative_id is not None:
            statement = statement.where(
                events.c.initiative_id == check_text("initiative_id", initiative_id)
            )
        statement = statement.order_by(events.c.seq).limit(
            check_int("limit", limit, (0, 2**31 - 1))
        )
        return self._db.run(lambda c: [_record(row) for row in c.execute(statement)], write=False)

    def latest_seq(self) -> int:
        statement = select(func.coalesce(func.max(events.c.seq), 0))
        return int(self._db.run(lambda c: c.execute(statement).scalar_one(), write=False))

    @contextmanager
    def subscribe(self) -> Iterator[Callable[[float], Iterator[int]]]:
        if self._db.dialect != "postgresql":
            raise DatabaseError(
                "only PostgreSQL notifies new events; on SQLite poll find_after() instead"
            )
        import psycopg

        # A connection of its own, outside the pool: it stays LISTENing for as long as the
        # subscriber lives, in autocommit (a notification is delivered between transactions).
        url = self._db.engine.url.set(drivername="postgresql")
        try:
            with psycopg.connect(
                url.render_as_string(hide_password=False), autocommit=True
            ) as connection:
                connection.execute(f"LISTEN {CHANNEL}")

                def notifications(timeout: float) -> Iterator[int]:
                    for notify in connection.notifies(timeout=timeout):
                        yield int(notify.payload)

                yield notifications
        except psycopg.Error as exc:
            raise DatabaseUnavailableError(f"listening for new events failed: {exc}") from exc

    def prune(self, older_than: datetime, keep_last: int) -> int:
        check_datetime("older_than", older_than)
        keep = check_int("keep_last", keep_last, (0, _MAX_SEQ))

        def work(connection: Connection) -> int:
            statement = delete(events).where(events.c.created_at < older_than)
            if keep > 0:
                # The oldest of the newest ``keep`` events; none: there are fewer, keep all.
                oldest_kept = connection.execute(
                    select(events.c.seq).order_by(events.c.seq.desc()).offset(keep - 1).limit(1)
                ).scalar()
                if oldest_kept is None:
                    return 0
                statement = statement.where(events.c.seq < oldest_kept)
            return int(connection.execute(statement).rowcount)

        return self._db.run(work, write=True)
