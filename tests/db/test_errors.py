"""One exception tree; no driver exception reaches a caller; a failed write changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

import codewalkers.db as cw
from codewalkers.db import (
    ConflictError,
    Database,
    DatabaseError,
    DatabaseUnavailableError,
    NotFoundError,
    ReferenceNotFoundError,
    SchemaError,
    ValidationError,
    open_database,
)
from codewalkers.db.engine import WRITE
from codewalkers.db.errors import translate_errors
from codewalkers.db.schema import metadata
from tests.factories import (
    make_agent,
    make_initiative,
    make_phase,
    make_project,
    make_task,
)


def snapshot(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table."""
    with db.engine.connect() as connection:
        return {
            table.name: sorted(
                map(tuple, connection.execute(sa.select(*table.columns)).all()), key=repr
            )
            for table in metadata.sorted_tables
        }


def raises_unchanged(
    db: Database,
    error: type[DatabaseError],
    call: Callable[[], object],
    *,
    match: str | None = None,
) -> DatabaseError:
    """Run ``call``, expecting ``error`` (and nothing from a driver); the database must
    be exactly as it was before."""
    before = snapshot(db)
    with pytest.raises(error, match=match) as caught:
        call()
    assert type(caught.value).__module__ == "codewalkers.db.errors"
    assert snapshot(db) == before
    return caught.value


# --- the tree -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        NotFoundError,
        ConflictError,
        ValidationError,
        ReferenceNotFoundError,
        SchemaError,
        DatabaseUnavailableError,
    ],
)
def test_every_error_is_a_database_error(error: type[Exception]) -> None:
    assert issubclass(error, DatabaseError)
    assert issubclass(DatabaseError, Exception)
    assert getattr(cw, error.__name__) is error
    assert error.__doc__


def test_a_missing_reference_is_both_not_found_and_invalid_input() -> None:
    assert issubclass(ReferenceNotFoundError, NotFoundError)
    assert issubclass(ReferenceNotFoundError, ValidationError)


def test_the_other_errors_are_distinct() -> None:
    distinct = [NotFoundError, ConflictError, ValidationError, SchemaError]
    for one in distinct:
        for other in distinct:
            assert issubclass(one, other) == (one is other)


# --- unique rules ---------------------------------------------------------------------------


def test_a_taken_agent_name_is_a_conflict_naming_it(db: Database) -> None:
    make_agent(db, name="brave-otter")
    error = raises_unchanged(db, ConflictError, lambda: db.agents.create(name="brave-otter"))
    assert "name" in str(error)
    assert "brave-otter" in str(error)
    assert isinstance(error.__cause__, sa.exc.IntegrityError)


def test_renaming_an_agent_to_a_taken_name_is_a_conflict(db: Database) -> None:
    make_agent(db, name="brave-otter")
    other = make_agent(db, name="calm-heron")
    error = raises_unchanged(
        db, ConflictError, lambda: db.agents.update(other.id, name="brave-otter")
    )
    assert "brave-otter" in str(error)
    assert isinstance(error.__cause__, sa.exc.IntegrityError)


@pytest.mark.parametrize("field", ["name", "url"])
def test_a_taken_project_name_or_url_is_a_conflict(db: Database, field: str) -> None:
    taken = make_project(db, name="codewalkers", url="https://git.example.com/cw.git")
    fields = {"name": "other", "url": "https://git.example.com/other.git"}
    fields[field] = getattr(taken, field)
    error = raises_unchanged(db, ConflictError, lambda: db.projects.create(**fields))
    assert field in str(error)
    assert getattr(taken, field) in str(error)
    assert isinstance(error.__cause__, sa.exc.IntegrityError)


def test_moving_a_project_to_a_taken_url_is_a_conflict(db: Database) -> None:
    taken = make_project(db)
    other = make_project(db)
    error = raises_unchanged(db, ConflictError, lambda: db.projects.update(other.id, url=taken.url))
    assert taken.url in str(error)
    assert isinstance(error.__cause__, sa.exc.IntegrityError)


def test_a_second_root_page_is_a_conflict(db: Database) -> None:
    initiative = make_initiative(db)
    db.pages.get_or_create_root_page(initiative.id)
    error = raises_unchanged(
        db, ConflictError, lambda: db.pages.create(initiative_id=initiative.id, title="Root 2")
    )
    assert initiative.id in str(error)


# --- references to rows that do not exist ----------------------------------------------------


def _reference_calls(db: Database) -> dict[str, tuple[str, Callable[[], object]]]:
    initiative = make_initiative(db)
    phase = make_phase(db, initiative)
    task = make_task(db, phase)
    agent = make_agent(db)
    return {
        "phase.initiative_id": (
            "initiative_id",
            lambda: db.phases.create(initiative_id="no-such-id", name="x"),
        ),
        "task.phase_id": ("phase_id", lambda: db.tasks.create(phase_id="no-such-id", name="x")),
        "task.update.parent_task_id": (
            "parent_task_id",
            lambda: db.tasks.update(task.id, parent_task_id="no-such-id"),
        ),
        "agent.account_id": ("account_id", lambda: db.agents.create(account_id="no-such-id")),
        "agent.update.task_id": (
            "task_id",
            lambda: db.agents.update(agent.id, task_id="no-such-id"),
        ),
        "review_comment.phase_id": (
            "phase_id",
            lambda: db.review_comments.create(
                phase_id="no-such-id", file_path="a.py", line_number=1, line_type="added", body="?"
            ),
        ),
        "proposal.agent_id": (
            "agent_id",
            lambda: db.proposals.create(
                agent_id="no-such-id", initiative_id=initiative.id, target_type="page", title="t"
            ),
        ),
        "chat_message.chat_session_id": (
            "chat_session_id",
            lambda: db.chat_sessions.create_message(
                chat_session_id="no-such-id", role="user", content="hi"
            ),
        ),
        "conversation.to_agent_id": (
            "to_agent_id",
            lambda: db.conversations.create(
                from_agent_id=agent.id, to_agent_id="no-such-id", question="?"
            ),
        ),
        "initiative_projects": (
            "project",
            lambda: db.projects.set_initiative_projects(initiative.id, ["no-such-id"]),
        ),
        "task_dependency": (
            "task",
            lambda: db.tasks.create_dependency(task.id, "no-such-id"),
        ),
    }


REFERENCE_CASES = [
    "phase.initiative_id",
    "task.phase_id",
    "task.update.parent_task_id",
    "agent.account_id",
    "agent.update.task_id",
    "review_comment.phase_id",
    "proposal.agent_id",
    "chat_message.chat_session_id",
    "conversation.to_agent_id",
    "initiative_projects",
    "task_dependency",
]


@pytest.mark.parametrize("case", REFERENCE_CASES)
def test_a_reference_to_a_missing_row_is_refused_naming_it(db: Database, case: str) -> None:
    field, call = _reference_calls(db)[case]
    error = raises_unchanged(db, ReferenceNotFoundError, call)
    assert field in str(error)
    assert "no-such-id" in str(error)
    assert isinstance(error, NotFoundError)
    assert isinstance(error, ValidationError)


@pytest.mark.parametrize("case", REFERENCE_CASES[:9])
def test_a_foreign_key_violation_chains_the_driver_error(db: Database, case: str) -> None:
    _, call = _reference_calls(db)[case]
    with pytest.raises(ReferenceNotFoundError) as caught:
        call()
    assert isinstance(caught.value.__cause__, sa.exc.IntegrityError)


# --- missing required fields ----------------------------------------------------------------


def _required_calls(db: Database) -> dict[str, tuple[str, Callable[[], object]]]:
    initiative = make_initiative(db)
    phase = make_phase(db, initiative)
    task = make_task(db, phase)
    agent = make_agent(db)
    return {
        "initiative name None": ("name", lambda: db.initiatives.create(name=None)),
        "initiative name missing": ("name", lambda: db.initiatives.create()),
        "initiative status None": (
            "status",
            lambda: db.initiatives.update(initiative.id, status=None),
        ),
        "task name None": ("name", lambda: db.tasks.update(task.id, name=None)),
        "phase name missing": ("name", lambda: db.phases.create(initiative_id=initiative.id)),
        "agent worktree None": (
            "worktree_id",
            lambda: db.agents.update(agent.id, worktree_id=None),
        ),
        "review line_number missing": (
            "line_number",
            lambda: db.review_comments.create(
                phase_id=phase.id, file_path="a.py", line_type="added", body="?"
            ),
        ),
        "log chunk agent_name None": (
            "agent_name",
            lambda: db.log_chunks.insert_chunk(agent.id, None, "x"),  # type: ignore[arg-type]
        ),
        "account email missing": ("email", lambda: db.accounts.create()),
        "project url None": ("url", lambda: db.projects.create(name="p", url=None)),
    }


REQUIRED_CASES = [
    "initiative name None",
    "initiative name missing",
    "initiative status None",
    "task name None",
    "phase name missing",
    "agent worktree None",
    "review line_number missing",
    "log chunk agent_name None",
    "account email missing",
    "project url None",
]


@pytest.mark.parametrize("case", REQUIRED_CASES)
def test_a_missing_required_field_is_invalid_naming_it(db: Database, case: str) -> None:
    field, call = _required_calls(db)[case]
    error = raises_unchanged(db, ValidationError, call)
    assert field in str(error)


def test_an_unknown_field_is_invalid_naming_it(db: Database) -> None:
    error = raises_unchanged(
        db, ValidationError, lambda: db.initiatives.create(name="Auth", colour="blue")
    )
    assert "colour" in str(error)


def test_an_unknown_id_is_not_found_naming_it(db: Database) -> None:
    error = raises_unchanged(
        db, NotFoundError, lambda: db.initiatives.update("no-such-id", name="x")
    )
    assert "no-such-id" in str(error)
    assert not isinstance(error, ValidationError)
    raises_unchanged(db, NotFoundError, lambda: db.tasks.delete("no-such-id"))


# --- the translation itself, fed by raw SQL --------------------------------------------------


def _raw(db: Database, sql: str, **params: Any) -> None:
    with translate_errors(), db.engine.connect() as connection:
        connection.execution_options(**{WRITE: True})
        with connection.begin():
            connection.execute(sa.text(sql), params)


@pytest.mark.parametrize(
    ("sql", "error", "words"),
    [
        (
            "INSERT INTO initiatives (id, name, created_at, updated_at) VALUES ('i', NULL, 0, 0)",
            ValidationError,
            ["name"],
        ),
        (
            "INSERT INTO initiatives (id, name, status, created_at, updated_at)"
            " VALUES ('i', 'x', 'bogus', 0, 0)",
            ValidationError,
            ["status"],
        ),
        (
            "INSERT INTO phases (id, initiative_id, name, created_at, updated_at)"
            " VALUES ('p', 'no-such-id', 'x', 0, 0)",
            ReferenceNotFoundError,
            [],
        ),
        (
            "INSERT INTO projects (id, name, url, created_at, updated_at)"
            " VALUES ('a', 'same', 'u1', 0, 0), ('b', 'same', 'u2', 0, 0)",
            ConflictError,
            ["name"],
        ),
        ("SELECT * FROM no_such_table", SchemaError, ["no_such_table"]),
        ("SELECT no_such_column FROM initiatives", SchemaError, ["no_such_column"]),
        ("THIS IS NOT SQL", DatabaseError, []),
    ],
)
def test_driver_errors_are_translated_with_their_cause(
    db: Database, sql: str, error: type[DatabaseError], words: list[str]
) -> None:
    before = snapshot(db)
    with pytest.raises(error) as caught:
        _raw(db, sql)
    assert isinstance(caught.value.__cause__, sa.exc.SQLAlchemyError)
    for word in words:
        assert word in str(caught.value)
    assert snapshot(db) == before


def test_an_unmigrated_database_is_a_schema_error(fresh_database_url: str) -> None:
    db = open_database(fresh_database_url, migrate=False)
    try:
        with pytest.raises(SchemaError, match="open_database"):
            db.initiatives.find_all()
        with pytest.raises(SchemaError):
            db.initiatives.create(name="Auth")
    finally:
        db.close()


# --- opening ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "",
        "not a url",
        "mysql://root@localhost/cw",
        "postgresql+asyncpg://postgres@127.0.0.1/cw",
        "sqlite+pysqlcipher:///cw.db",
    ],
)
def test_a_bad_url_is_a_database_error(url: str) -> None:
    with pytest.raises(DatabaseError) as caught:
        open_database(url)
    assert type(caught.value) is DatabaseError


def test_an_unparseable_url_chains_the_parse_error() -> None:
    with pytest.raises(DatabaseError) as caught:
        open_database("not a url")
    assert "not a url" in str(caught.value)
    assert caught.value.__cause__ is not None


def test_a_sqlite_file_in_a_missing_directory_is_unavailable(tmp_path: Any) -> None:
    with pytest.raises(DatabaseUnavailableError) as caught:
        open_database(f"sqlite:///{tmp_path}/no/such/dir/cw.db")
    assert isinstance(caught.value.__cause__, sa.exc.OperationalError)


def test_an_unreachable_postgresql_server_is_unavailable() -> None:
    with pytest.raises(DatabaseUnavailableError) as caught:
        open_database("postgresql://postgres@127.0.0.1:1/codewalkers")
    assert isinstance(caught.value.__cause__, sa.exc.OperationalError)
    assert "127.0.0.1" in str(caught.value)


def test_a_missing_postgresql_database_is_unavailable(pg_engine: sa.Engine) -> None:
    url = pg_engine.url.set(database="cw_no_such_database")
    with pytest.raises(DatabaseUnavailableError) as caught:
        open_database(url.render_as_string(hide_password=False))
    assert caught.value.__cause__ is not None
