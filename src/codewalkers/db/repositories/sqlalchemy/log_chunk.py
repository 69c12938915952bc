"""Agent output, in chunks: the hottest write path. Chunks outlive their agent."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import Integer, Text, bindparam, delete, func, insert, select
from sqlalchemy.sql.elements import ColumnElement

from codewalkers.db import schema
from codewalkers.db._validation import TableRules, check_int
from codewalkers.db.errors import ValidationError
from codewalkers.db.ids import new_ids
from codewalkers.db.records import LogChunk
from codewalkers.db.repositories.sqlalchemy._base import SqlRepository, check_id
from codewalkers.db.repositories.sqlalchemy._raw import Prepared, Raw
from codewalkers.db.types import wall_ms

if TYPE_CHECKING:
    from codewalkers.db.database import Database

chunks = schema.agent_log_chunks

# SQLite has no identity column: the insert numbers the row itself, past the highest seq
# present and the highest ever deleted (kept by a trigger, schema.agent_log_chunks_seq), so a
# seq is never reused. Writers hold the write lock (BEGIN IMMEDIATE): no two rows get the
# same number. (SQLite's max() of two arguments is the larger one.)
_deleted = schema.agent_log_chunks_seq
_NEXT_SEQ = (
    func.max(
        select(func.coalesce(func.max(chunks.c.seq), 0)).scalar_subquery(),
        func.coalesce(select(_deleted.c.deleted_seq).scalar_subquery(), 0),
    )
    + 1
)

#: What an insert sends, in the order a row spells it (every row spells out every column).
_FIELDS = ("id", "agent_id", "agent_name", "session_number", "content", "created_at")
_INSERT_VALUES = {name: bindparam(name, type_=chunks.c[name].type) for name in _FIELDS}
_COLUMNS = tuple(chunks.columns)


def _prepared_inserts(*, returning: bool) -> dict[str, Prepared]:
    """The insert per dialect (SQLite numbers ``seq`` in the statement), prepared once."""
    result = {}
    for dialect in ("sqlite", "postgresql"):
        statement = insert(chunks).values(_INSERT_VALUES)
        if dialect == "sqlite":
            statement = statement.values(seq=_NEXT_SEQ)
        if returning:
            statement = statement.returning(*_COLUMNS)
        result[dialect] = Prepared(statement, _COLUMNS if returning else ())
    return result


_INSERT_ONE = _prepared_inserts(returning=True)
_INSERT_MANY = _prepared_inserts(returning=False)


_BY_AGENT: dict[tuple[str, ...], Prepared] = {}


def _by_agent(filters: tuple[str, ...]) -> Prepared:
    """``find_by_agent_id``'s select for this set of filters, prepared once."""
    found = _BY_AGENT.get(filters)
    if found is None:
        c = chunks.c
        statement = select(*_COLUMNS).where(c.agent_id == bindparam("agent_id", type_=Text()))
        if "session_number" in filters:
            statement = statement.where(
                c.session_number == bindparam("session_number", type_=c.session_number.type)
            )
        if "after_seq" in filters:
            statement = statement.where(c.seq > bindparam("after_seq", type_=c.seq.type))
        statement = statement.order_by(c.seq)
        if "limit" in filters:
            statement = statement.limit(bindparam("limit", type_=Integer()))
        found = _BY_AGENT[filters] = Prepared(statement, _COLUMNS)
    return found


class SqlLogChunkRepository(SqlRepository[LogChunk]):
    table = chunks
    record_type = LogChunk
    entity = "log chunk"
    rules = TableRules(
        table, entity, managed=["created_at", "seq"], immutable=["id", "agent_id", "agent_name"]
    )

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self._insert_one = _INSERT_ONE[db.dialect]
        self._insert_many = _INSERT_MANY[db.dialect]

    def _order(self) -> tuple[ColumnElement[Any], ...]:
        return (chunks.c.seq,)

    def _rows(self, items: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        now = wall_ms()
        rows = []
        check = self.rules.for_create
        for item in items:
            if not isinstance(item, Mapping):
                raise ValidationError("each log chunk must be a mapping of fields")
            values = check(item)
            values.setdefault("session_number", 1)
            values.setdefault("id", None)
            values["created_at"] = now
            rows.append(values)
        ids = iter(new_ids(len(rows)))
        for row in rows:
            if row["id"] is None:
                row["id"] = next(ids)
        return rows

    def _insert_row(self, row: Mapping[str, Any]) -> LogChunk:
        def work(raw: Raw) -> LogChunk:
            found = raw.one(self._insert_one, row)
            assert found is not None  # INSERT ... RETURNING
            return self._from_values(found)

        return self._write_raw(work)

    def insert_chunk(
        self, agent_id: str, agent_name: str, content: str, session_number: int = 1
    ) -> LogChunk:
        """Store one chunk of an agent's output and return it."""
        fields = {
            "agent_id": agent_id,
            "agent_name": agent_name,
            "content": content,
            "session_number": session_number,
        }
        return self._insert_row(self._rows([fields])[0])

    def create(self, **fields: Any) -> LogChunk:
        """Same as :meth:`insert_chunk`, with keyword fields."""
        return self._insert_row(self._rows([fields])[0])

    def insert_chunks(self, items: Iterable[Mapping[str, Any]]) -> int:
        """Store many chunks (mappings of ``agent_id``, ``agent_name``, ``content`` and
        optionally ``session_number``) in one transaction, in order; return how many.
        """
        rows = self._rows(items)
        if not rows:
            return 0
        self._write_raw(lambda raw: raw.many(self._insert_many, rows))
        return len(rows)

    def find_by_agent_id(
        self,
        agent_id: str,
        *,
        session_number: int | None = None,
        after_seq: int | None = None,
        limit: int | None = None,
    ) -> list[LogChunk]:
        """The agent's chunks in insertion order; optionally one session's, only those after
        ``after_seq`` (to page or follow), at most ``limit``.
        """
        values: dict[str, Any] = {"agent_id": check_id(agent_id, "agent_id")}
        if session_number is not None:
            values["session_number"] = check_int("session_number", session_number)
        if after_seq is not None:
            values["after_seq"] = check_int("after_seq", after_seq, (0, 2**63 - 1))
        if limit is not None:
            values["limit"] = check_int("limit", limit, (0, 2**31 - 1))
        return self._prepared_all(_by_agent(tuple(values)), values)

    def find_latest_by_agent_id(
        self, agent_id: str, *, before_seq: int | None = None, limit: int = 200
    ) -> list[LogChunk]:
        """The agent's newest ``limit`` chunks (older than ``before_seq`` when given), in
        insertion order: a window on a long log, paged backwards, never the whole log.
        """
        check_id(agent_id, "agent_id")
        limit = check_int("limit", limit, (0, 2**31 - 1))
        statement = self._select().where(chunks.c.agent_id == agent_id)
        if before_seq is not None:
            before_seq = check_int("before_seq", before_seq, (0, 2**63 - 1))
            statement = statement.where(chunks.c.seq < before_seq)
        newest = self._fetch_all(statement.order_by(chunks.c.seq.desc()).limit(limit))
        return newest[::-1]

    def delete_by_agent_id(self, agent_id: str) -> int:
        """Delete the agent's chunks; return how many."""
        check_id(agent_id, "agent_id")
        statement = delete(chunks).where(chunks.c.agent_id == agent_id)
        return self._write(lambda c: int(c.execute(statement).rowcount))

    def get_session_count(self, agent_id: str) -> int:
        """The agent's highest session number (spawn = 1, each resume + 1); 0 when none."""
        check_id(agent_id, "agent_id")
        statement = select(func.coalesce(func.max(chunks.c.session_number), 0)).where(
            chunks.c.agent_id == agent_id
        )
        return int(self._read(lambda c: c.execute(statement).scalar_one()))
