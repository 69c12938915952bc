"""The floor: the repositories' SQL run through the bare driver, with nothing in between.

SQLite goes through stdlib ``sqlite3`` with the pragmas ``engine.py`` sets (busy timeout,
foreign keys, WAL, ``synchronous=NORMAL``) and its transaction boundaries: ``BEGIN IMMEDIATE``
... ``COMMIT`` around each write, single autocommit statements for reads. PostgreSQL goes
through psycopg 3 as SQLAlchemy drives it: an implicit ``BEGIN`` before the first statement,
``COMMIT`` after a write and ``ROLLBACK`` after a read (the pool's reset on return).

The SQL strings below are the statements the SQLAlchemy adapters compile to on SQLite
(``repositories/sqlalchemy/*.py``), copied verbatim so that the harness can check, statement
by statement, that both sides make SQLite do the same work (see ``run.py``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from codewalkers.db.engine import SQLITE_BUSY_TIMEOUT_MS


def _columns(table: str, names: str, *, qualified: bool) -> str:
    parts = [name.strip() for name in names.split(",")]
    quoted = [f'"{name}"' if name == "order" else name for name in parts]
    return ", ".join(f"{table}.{name}" if qualified else name for name in quoted)


_TASK = (
    "id, phase_id, initiative_id, parent_task_id, name, description, type, category, "
    "priority, status, requires_approval, order, summary, created_at, updated_at"
)
_CHUNK = "id, agent_id, agent_name, session_number, content, created_at, seq"
_CONVERSATION = (
    "id, from_agent_id, to_agent_id, initiative_id, phase_id, task_id, question, answer, "
    "status, created_at, updated_at"
)
_ACCOUNT = (
    "id, email, provider, config_json, credentials, is_exhausted, exhausted_until, "
    "last_used_at, sort_order, created_at, updated_at"
)
_PAGE = "id, initiative_id, parent_page_id, title, content, sort_order, created_at, updated_at"

# One past the highest seq present and the highest ever deleted (migration 0007).
_NEXT_SEQ = (
    "(max((SELECT coalesce(max(agent_log_chunks.seq), ?) AS coalesce_1 FROM agent_log_chunks), "
    "coalesce((SELECT agent_log_chunks_seq.deleted_seq FROM agent_log_chunks_seq), ?)) + ?)"
)


class Sql:
    """The statements of each case, in the floor's dialect (``?`` or ``%s`` placeholders)."""

    def __init__(self, dialect: str) -> None:
        sqlite = dialect == "sqlite"

        def q(text: str) -> str:
            return text if sqlite else text.replace("?", "%s")

        self.task_create = q(
            "INSERT INTO tasks (id, phase_id, initiative_id, name, created_at, updated_at) "
            "VALUES (?, ?, (SELECT phases.initiative_id FROM phases WHERE phases.id = ?), "
            f"?, ?, ?) RETURNING {_columns('tasks', _TASK, qualified=not sqlite)}"
        )
        self.task_by_id = q(
            f"SELECT {_columns('tasks', _TASK, qualified=True)} FROM tasks WHERE tasks.id = ?"
        )
        self.task_update_status = q(
            "UPDATE tasks SET status=?, updated_at=? WHERE tasks.id = ? "
            f"RETURNING {_columns('tasks', _TASK, qualified=not sqlite)}"
        )
        returning_chunk = _columns("agent_log_chunks", _CHUNK, qualified=not sqlite)
        if sqlite:
            self.chunk_insert = (
                "INSERT INTO agent_log_chunks (id, agent_id, agent_name, session_number, "
                f"content, created_at, seq) VALUES (?, ?, ?, ?, ?, ?, {_NEXT_SEQ}) "
                f"RETURNING {returning_chunk}"
            )
            self.chunk_insert_many = (
                "INSERT INTO agent_log_chunks (id, agent_id, agent_name, session_number, "
                f"content, created_at, seq) VALUES (?, ?, ?, ?, ?, ?, {_NEXT_SEQ})"
            )
        else:
            self.chunk_insert = (
                "INSERT INTO agent_log_chunks (id, agent_id, agent_name, session_number, "
                f"content, created_at) VALUES (%s, %s, %s, %s, %s, %s) RETURNING {returning_chunk}"
            )
            self.chunk_insert_many = (
                "INSERT INTO agent_log_chunks (id, agent_id, agent_name, session_number, "
                "content, created_at) VALUES (%s, %s, %s, %s, %s, %s)"
            )
        self.chunks_by_agent = q(
            f"SELECT {_columns('agent_log_chunks', _CHUNK, qualified=True)} FROM agent_log_chunks "
            "WHERE agent_log_chunks.agent_id = ? ORDER BY agent_log_chunks.seq"
        )
        self.pending_for_agent = q(
            f"SELECT {_columns('conversations', _CONVERSATION, qualified=True)} "
            "FROM conversations WHERE conversations.to_agent_id = ? AND conversations.status = ? "
            "ORDER BY conversations.created_at, conversations.id"
        )
        not_exhausted = "accounts.is_exhausted IS 0" if sqlite else "accounts.is_exhausted IS false"
        # PostgreSQL: claims queue on an advisory lock first (``claim_lock``), no row locks.
        limit = "LIMIT ? OFFSET ?" if sqlite else "LIMIT %s"
        # The stamp is later than every earlier claim's (see repositories/sqlalchemy/account.py).
        latest = (
            "(SELECT coalesce(max(accounts.last_used_at), ?) + ? AS anon_1 FROM accounts "
            "WHERE accounts.provider = ?)"
        )
        self.next_account = q(
            "UPDATE accounts SET is_exhausted=?, exhausted_until=?, "
            f"last_used_at=CASE WHEN ({latest} > ?) THEN {latest} ELSE ? END, updated_at=? "
            "WHERE accounts.id = (SELECT accounts.id FROM accounts WHERE accounts.provider = ? "
            f"AND ({not_exhausted} OR accounts.exhausted_until IS NOT NULL "
            "AND accounts.exhausted_until <= ?) ORDER BY accounts.last_used_at IS NOT NULL, "
            "accounts.last_used_at, accounts.sort_order, accounts.created_at, accounts.id "
            f"{limit}) RETURNING {_columns('accounts', _ACCOUNT, qualified=not sqlite)}"
        )
        self.claim_lock = "SELECT pg_advisory_xact_lock(%s) AS pg_advisory_xact_lock_1"
        self.root_page = q(
            f"SELECT {_columns('pages', _PAGE, qualified=True)} FROM pages "
            "WHERE pages.initiative_id = ? AND pages.parent_page_id IS NULL"
        )
        self.initiative_exists = q(
            "SELECT EXISTS (SELECT * FROM initiatives WHERE initiatives.id = ?) AS anon_1"
        )
        self.linked_projects = q(
            "SELECT initiative_projects.project_id FROM initiative_projects "
            "WHERE initiative_projects.initiative_id = ?"
        )
        self.unlink_projects = q(
            "DELETE FROM initiative_projects WHERE initiative_projects.initiative_id = ? "
            "AND initiative_projects.project_id IN ({})"
        )
        self.known_projects = q("SELECT projects.id FROM projects WHERE projects.id IN ({})")
        self.link_project = q(
            "INSERT INTO initiative_projects (id, initiative_id, project_id, created_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (initiative_id, project_id) DO NOTHING"
        )
        self.delete_initiative = q(
            "DELETE FROM initiatives WHERE initiatives.id = ? "
            f"RETURNING {'id' if sqlite else 'initiatives.id'}"
        )
        self.ready_tasks = q(
            f"SELECT {_columns('tasks', _TASK, qualified=True)} FROM tasks "
            "WHERE tasks.initiative_id = ? AND tasks.status = ? "
            "AND NOT (EXISTS (SELECT * FROM task_dependencies, tasks AS blocker "
            "WHERE task_dependencies.task_id = tasks.id "
            "AND blocker.id = task_dependencies.depends_on_task_id AND blocker.status != ?)) "
            "AND NOT (EXISTS (SELECT * FROM phase_dependencies, phases AS blocking_phase "
            "WHERE phase_dependencies.phase_id = tasks.phase_id "
            "AND blocking_phase.id = phase_dependencies.depends_on_phase_id "
            "AND blocking_phase.status != ?)) "
            "ORDER BY CASE tasks.priority WHEN ? THEN ? WHEN ? THEN ? ELSE ? END, "
            "tasks.created_at, tasks.id"
        )
        self.placeholder = "?" if sqlite else "%s"

    def in_list(self, template: str, count: int) -> str:
        """``template`` with its ``IN ({})`` expanded to ``count`` placeholders."""
        return template.format(", ".join([self.placeholder] * count))


class Floor:
    """One bare driver connection to the benchmark database, configured like ``engine.py``."""

    def __init__(self, url: str) -> None:
        parsed = sa.make_url(url)
        self.dialect = parsed.get_backend_name()
        self.conn: Any
        if self.dialect == "sqlite":
            conn = sqlite3.connect(
                parsed.database or ":memory:",
                timeout=30,
                isolation_level=None,
                check_same_thread=False,
            )
            conn.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            self.conn = conn
        else:
            import psycopg

            plain = parsed.set(drivername="postgresql")
            self.conn = psycopg.connect(plain.render_as_string(hide_password=False))
        self.sql = Sql(self.dialect)

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    # --- the transaction boundaries the repositories use ------------------------------

    @contextmanager
    def write(self) -> Iterator[Any]:
        """A write transaction: ``BEGIN IMMEDIATE`` ... ``COMMIT`` (SQLite), or psycopg's
        implicit ``BEGIN`` ... ``COMMIT``. Rolls back on an exception.
        """
        conn = self.conn
        if self.is_sqlite:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        else:
            try:
                yield conn
            except BaseException:
                conn.rollback()
                raise
            conn.commit()

    def fetch_all(self, sql: str, params: Sequence[Any]) -> list[Any]:
        """A read: one autocommit statement (SQLite) or BEGIN; statement; ROLLBACK."""
        if self.is_sqlite:
            return self.conn.execute(sql, params).fetchall()  # type: ignore[no-any-return]
        try:
            return self.conn.execute(sql, params).fetchall()  # type: ignore[no-any-return]
        finally:
            self.conn.rollback()

    def fetch_one(self, sql: str, params: Sequence[Any]) -> Any:
        if self.is_sqlite:
            return self.conn.execute(sql, params).fetchone()
        try:
            return self.conn.execute(sql, params).fetchone()
        finally:
            self.conn.rollback()

    def executemany(self, conn: Any, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        if self.is_sqlite:
            conn.executemany(sql, rows)
        else:
            with conn.cursor() as cursor:
                cursor.executemany(sql, rows)

    # --- bulk loading (not measured) ---------------------------------------------------

    def bulk_insert(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
        """Load rows fast in one transaction: ``executemany`` (SQLite) or ``COPY`` (PostgreSQL)."""
        names = ", ".join(f'"{c}"' if c == "order" else c for c in columns)
        count = 0

        def counted() -> Iterator[Sequence[Any]]:
            nonlocal count
            for row in rows:
                count += 1
                yield row

        if self.is_sqlite:
            marks = ", ".join("?" * len(columns))
            with self.write() as conn:
                conn.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", counted())
        else:
            cursor = self.conn.cursor()
            with cursor, cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in counted():
                    copy.write_row(row)
            self.conn.commit()
        return count

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self.fetch_one(sql if self.is_sqlite else sql.replace("?", "%s"), params)
        return None if row is None else row[0]

    def count(self, table: str) -> int:
        return int(self.scalar(f"SELECT count(*) FROM {table}"))

    def execute_script(self, statement: str) -> None:
        """Run one maintenance statement in its own transaction (DELETE, TRUNCATE, ANALYZE)."""
        if self.is_sqlite:
            self.conn.execute(statement)
        else:
            self.conn.execute(statement)
            self.conn.commit()

    def explain(self, sql: str, params: Sequence[Any]) -> list[str]:
        """The query plan: ``EXPLAIN QUERY PLAN`` (SQLite) or ``EXPLAIN`` (PostgreSQL)."""
        if self.is_sqlite:
            rows = self.conn.execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()
            depth: dict[int, int] = {0: -1}
            lines = []
            for node, parent, _unused, detail in rows:
                depth[node] = depth.get(parent, -1) + 1
                lines.append("  " * depth[node] + detail)
            return lines
        try:
            return [row[0] for row in self.conn.execute(f"EXPLAIN {sql}", params).fetchall()]
        finally:
            self.conn.rollback()

    def close(self) -> None:
        self.conn.close()
