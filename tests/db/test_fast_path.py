"""The fast path's guards: statements it cannot run are refused when compiled, and the
private SQLAlchemy API it relies on is still there (pinned range in pyproject.toml)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.pool import Pool
from sqlalchemy.sql.compiler import SQLCompiler

from codewalkers.db import Database, open_database, schema
from codewalkers.db.repositories.sqlalchemy._raw import Prepared, Raw
from tests.conftest import TEST_SECRET_KEY
from tests.factories import make_initiative, make_task

DIALECTS = [sqlite.dialect(), postgresql.psycopg.dialect()]


@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.name)
def test_an_in_list_is_refused_when_compiled(dialect: object) -> None:
    tasks = schema.tasks
    statement = select(tasks.c.id).where(tasks.c.id.in_(bindparam("ids", expanding=True)))
    with pytest.raises(TypeError, match="expanding"):
        Prepared(statement, [tasks.c.id]).compiled(dialect)  # type: ignore[arg-type]


@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.name)
def test_a_plain_statement_compiles(dialect: object) -> None:
    tasks = schema.tasks
    statement = select(tasks.c.id).where(tasks.c.id == bindparam("id"))
    compiled = Prepared(statement, [tasks.c.id]).compiled(dialect)  # type: ignore[arg-type]
    assert "tasks" in compiled.sql


def test_the_private_sqlalchemy_api_the_fast_path_uses_still_exists() -> None:
    # If a SQLAlchemy upgrade fails here, re-verify _raw.py and engine.invalidate_pool.
    assert callable(getattr(Pool, "_invalidate", None))
    compiled = select(schema.tasks.c.id).compile(dialect=sqlite.dialect())
    assert isinstance(compiled, SQLCompiler)
    for attribute in ("binds", "positiontup", "string"):
        assert hasattr(compiled, attribute)
    bind = bindparam("x")
    for attribute in ("expanding", "literal_execute", "required", "effective_value", "key"):
        assert hasattr(bind, attribute)
    # Runner._direct reads what bool() of a listener collection would compute, unlisted or
    # listened to, on the engine or its class.
    engine = sa.create_engine("sqlite://")
    try:
        for name in ("before_cursor_execute", "after_cursor_execute"):
            quiet = getattr(engine.dispatch, name)
            assert not quiet.listeners and not quiet.parent_listeners and not quiet

            def listener(*_args: Any) -> None:
                pass

            sa.event.listen(engine, name, listener)
            heard = getattr(engine.dispatch, name)
            assert len(heard.listeners) == 1 and heard
            sa.event.remove(engine, name, listener)
            sa.event.listen(sa.Engine, name, listener)
            try:
                assert len(getattr(engine.dispatch, name).parent_listeners) == 1
            finally:
                sa.event.remove(sa.Engine, name, listener)
    finally:
        engine.dispose()


# --- observability: engine events and logging see the fast path's statements -------------


class Statements:
    """Every statement the engine's cursor-execute events report, before and after."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.before: list[str] = []
        self.after: list[str] = []

    def _before(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.before.append(statement)

    def _after(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.after.append(statement)

    def __enter__(self) -> Statements:
        sa.event.listen(self.engine, "before_cursor_execute", self._before)
        sa.event.listen(self.engine, "after_cursor_execute", self._after)
        return self

    def __exit__(self, *_exc: object) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._before)
        sa.event.remove(self.engine, "after_cursor_execute", self._after)

    def saw(self, verb: str, table: str) -> bool:
        wanted = f"{verb} {table}"
        return any(wanted in " ".join(s.split()) for s in self.before) and any(
            wanted in " ".join(s.split()) for s in self.after
        )


def _crud(db: Database) -> None:
    initiative = db.initiatives.create(name="Traced")
    assert db.initiatives.find_by_id(initiative.id) == initiative
    db.initiatives.update(initiative.id, name="Traced again")
    db.initiatives.delete(initiative.id)


@pytest.mark.parametrize("in_transaction", [False, True], ids=["lone", "transaction"])
def test_a_cursor_listener_sees_every_fast_path_statement(
    db: Database, in_transaction: bool
) -> None:
    with Statements(db.engine) as seen:
        if in_transaction:
            with db.transaction():
                _crud(db)
        else:
            _crud(db)
        db.log_chunks.insert_chunk("agent-1", "brave-otter", "hello")
    assert seen.saw("INSERT INTO", "initiatives")
    assert seen.saw("FROM", "initiatives WHERE initiatives.id")
    assert seen.saw("UPDATE", "initiatives")
    assert seen.saw("DELETE FROM", "initiatives")
    assert seen.saw("INSERT INTO", "agent_log_chunks")


def test_a_listener_on_the_engine_class_sees_fast_path_statements(db: Database) -> None:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    sa.event.listen(sa.Engine, "before_cursor_execute", record)
    try:
        db.initiatives.create(name="Seen from the class")
    finally:
        sa.event.remove(sa.Engine, "before_cursor_execute", record)
    assert any("INSERT INTO initiatives" in statement for statement in seen)


def test_a_listener_removed_leaves_the_fast_path_silent_again(db: Database) -> None:
    with Statements(db.engine) as seen:
        db.initiatives.create(name="Seen")
    count = len(seen.before)
    db.initiatives.create(name="Not seen")  # nobody listens: no event machinery runs
    assert len(seen.before) == count


def test_echo_logs_fast_path_statements(db: Database, caplog: pytest.LogCaptureFixture) -> None:
    db.initiatives.create(name="warm")  # the idle list holds a connection already
    db.engine.echo = True
    try:
        with caplog.at_level(logging.INFO, logger="sqlalchemy.engine"):
            initiative = db.initiatives.create(name="Echoed")
            db.initiatives.find_by_id(initiative.id)
    finally:
        db.engine.echo = False
    logged = " ".join(record.getMessage() for record in caplog.records)
    assert "INSERT INTO initiatives" in logged
    assert "FROM initiatives" in logged


# --- the switch: every call through plain SQLAlchemy ---------------------------------------


def test_the_fast_path_can_be_turned_off_by_option_or_environment(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CW_DB_FAST_PATH", raising=False)
    with open_database(database_url) as db:
        assert db.fast_path
    with open_database(database_url, fast_path=False) as db:
        assert not db.fast_path
    monkeypatch.setenv("CW_DB_FAST_PATH", "off")
    with open_database(database_url) as db:
        assert not db.fast_path
    with open_database(database_url, fast_path=True) as db:
        assert db.fast_path  # the option wins over the environment


def test_with_the_fast_path_off_no_statement_runs_on_the_driver_directly(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_args: Any) -> Any:
        raise AssertionError("the fast path ran although it is off")

    monkeypatch.setattr(Raw, "_run", refuse)
    monkeypatch.setattr(Raw, "many", refuse)
    with open_database(database_url, fast_path=False, secret_key=TEST_SECRET_KEY) as db:
        _crud(db)
        with db.transaction():
            _crud(db)
        make_task(db)
        db.log_chunks.insert_chunks([{"agent_id": "a", "agent_name": "n", "content": "x"}] * 3)
        assert len(db.log_chunks.find_by_agent_id("a")) == 3
        db.accounts.create(email="a@example.com", credentials="secret")
        assert db.accounts.find_next_available() is not None
        assert db.pages.get_or_create_root_page(make_initiative(db).id) is not None


def test_with_the_fast_path_off_results_are_identical(database_url: str) -> None:
    fast = open_database(database_url, secret_key=TEST_SECRET_KEY)
    plain = open_database(database_url, secret_key=TEST_SECRET_KEY, fast_path=False)
    try:
        for writer, reader in ((fast, plain), (plain, fast)):
            task = make_task(writer, priority="high", requires_approval=True)
            assert reader.tasks.find_by_id(task.id) == task
            updated = writer.tasks.update(task.id, status="in_progress", order=3)
            assert reader.tasks.find_by_id(task.id) == updated
            phase = reader.phases.find_by_id(task.phase_id or "")
            assert phase is not None and writer.phases.find_by_id(phase.id) == phase
            chunk = writer.log_chunks.insert_chunk(task.id, "otter", "line\x01\n", 2)
            assert reader.log_chunks.find_by_agent_id(task.id) == [chunk]
            account = writer.accounts.create(email=f"{task.id}@example.com", credentials="c")
            assert reader.accounts.find_by_id(account.id) == account
            root = writer.pages.get_or_create_root_page(task.initiative_id or "")
            assert reader.pages.get_or_create_root_page(task.initiative_id or "") == root
            writer.tasks.delete(task.id)
            assert reader.tasks.find_by_id(task.id) is None
    finally:
        fast.close()
        plain.close()
