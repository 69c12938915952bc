"""Migrations: applied on open, idempotent, reversible, in agreement with the models, and
shipped inside the package."""

from __future__ import annotations

import multiprocessing
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from codewalkers.db import (
    SchemaError,
    current_revision,
    ensure_schema,
    head_revision,
    open_database,
)
from codewalkers.db.engine import WRITE, alembic_config, create_engine, in_models
from codewalkers.db.schema import SQLITE_ONLY_TABLES, metadata

# --- helpers ----------------------------------------------------------------------------


@contextmanager
def connected(url: str, *, write: bool = False) -> Iterator[Connection]:
    """A connection to ``url`` (a write transaction when ``write``), committed on success."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            if write:
                connection.execution_options(**{WRITE: True})
                with connection.begin():
                    yield connection
            else:
                yield connection
    finally:
        engine.dispose()


def dump(url: str) -> dict[str, Any]:
    """Everything about a database a migration could change: its tables, their columns,
    indexes, constraints, every row, and the recorded revision."""
    with connected(url) as connection:
        inspector = sa.inspect(connection)
        tables = sorted(inspector.get_table_names())
        result: dict[str, Any] = {"tables": tables}
        for table in tables:
            result[table] = {
                "columns": [
                    (c["name"], str(c["type"]), c["nullable"], str(c["default"]))
                    for c in inspector.get_columns(table)
                ],
                "indexes": sorted(
                    (ix["name"] or "", tuple(ix["column_names"]), bool(ix["unique"]))
                    for ix in inspector.get_indexes(table)
                ),
                "uniques": sorted(
                    (uc["name"] or "", tuple(uc["column_names"]))
                    for uc in inspector.get_unique_constraints(table)
                ),
                "checks": sorted(
                    (ck["name"] or "", ck["sqltext"])
                    for ck in inspector.get_check_constraints(table)
                ),
                "foreign_keys": sorted(
                    (fk["name"] or "", tuple(fk["constrained_columns"]), fk["referred_table"])
                    for fk in inspector.get_foreign_keys(table)
                ),
                "rows": sorted(
                    map(tuple, connection.execute(sa.text(f'SELECT * FROM "{table}"')).all()),
                    key=repr,
                ),
            }
        if connection.dialect.name == "sqlite":
            result["sqlite_master"] = connection.execute(
                sa.text("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name")
            ).all()
        connection.rollback()
    return result


def model_differences(connection: Connection) -> list[Any]:
    """What Alembic autogenerate would add to a migration to match the models."""
    context = MigrationContext.configure(
        connection,
        opts={"compare_type": True, "compare_server_default": True, "include_object": in_models},
    )
    differences = []
    for diff in compare_metadata(context, metadata):
        # Column changes come grouped in a list per column.
        if isinstance(diff, list):
            diff = [change for change in diff if not _sqlite_identity(change)]
            if not diff:
                continue
        elif _sqlite_identity(diff):
            continue
        differences.append(diff)
    return differences


def _sqlite_identity(diff: Any) -> bool:
    """SQLite has no identity columns: ``agent_log_chunks.seq`` is an ``Identity()`` on
    PostgreSQL, and SQLite's DDL simply leaves it out (the repository assigns ``seq`` in the
    INSERT itself). Alembic reports that as a server-default change from None to
    ``Identity()`` on SQLite; that one diff, and only it, is expected."""
    if not (isinstance(diff, tuple) and diff and diff[0] == "modify_default"):
        return False
    _, _, table, column, _, existing, wanted = diff
    return (
        (table, column) == ("agent_log_chunks", "seq")
        and existing is None
        and isinstance(wanted, sa.Identity)
    )


# --- ensure_schema ----------------------------------------------------------------------


def test_opening_a_new_database_migrates_it_to_head(fresh_database_url: str) -> None:
    with connected(fresh_database_url) as connection:
        assert current_revision(connection) is None
        assert sa.inspect(connection).get_table_names() == []
    db = open_database(fresh_database_url)
    try:
        with db.engine.connect() as connection:
            assert current_revision(connection) == head_revision()
            tables = set(sa.inspect(connection).get_table_names())
        only_here = SQLITE_ONLY_TABLES if db.dialect == "sqlite" else set()
        assert tables == set(metadata.tables) | {"alembic_version"} | only_here
        assert db.initiatives.create(name="Auth").name == "Auth"
    finally:
        db.close()


def test_opening_without_migrate_leaves_a_new_database_empty(fresh_database_url: str) -> None:
    db = open_database(fresh_database_url, migrate=False)
    db.close()
    with connected(fresh_database_url) as connection:
        assert sa.inspect(connection).get_table_names() == []


def test_ensure_schema_again_is_a_no_op(fresh_database_url: str) -> None:
    db = open_database(fresh_database_url)
    try:
        initiative = db.initiatives.create(name="Auth")
        db.phases.create(initiative_id=initiative.id, name="Design")
        before = dump(fresh_database_url)
        assert ensure_schema(db.engine) == head_revision()
        assert ensure_schema(db.engine) == head_revision()
    finally:
        db.close()
    reopened = open_database(fresh_database_url)
    reopened.close()
    assert dump(fresh_database_url) == before


def test_the_migrations_form_one_line_to_one_head() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    assert script.get_heads() == [head_revision()]
    revisions = list(script.walk_revisions())
    assert revisions[-1].down_revision is None
    assert all(not revision.is_merge_point for revision in revisions)


def _open_and_count(url: str) -> int:
    db = open_database(url)
    try:
        return len(db.initiatives.find_all())
    finally:
        db.close()


@pytest.mark.slow
def test_several_processes_opening_a_new_database_at_once_all_succeed(
    fresh_database_url: str,
) -> None:
    context = multiprocessing.get_context("spawn")
    with context.Pool(4) as pool:
        results = pool.map(_open_and_count, [fresh_database_url] * 4)
    assert results == [0, 0, 0, 0]
    with connected(fresh_database_url) as connection:
        assert current_revision(connection) == head_revision()
        assert model_differences(connection) == []


# --- models and migrations agree ----------------------------------------------------------


def test_the_migrations_build_exactly_the_models(fresh_database_url: str) -> None:
    open_database(fresh_database_url).close()
    with connected(fresh_database_url) as connection:
        assert model_differences(connection) == []


def test_the_test_databases_match_the_models(db: Any) -> None:
    with db.engine.connect() as connection:
        assert model_differences(connection) == []


def test_a_missing_column_is_a_model_difference(fresh_database_url: str) -> None:
    # The comparison above is only worth something if it notices a difference.
    open_database(fresh_database_url).close()
    with connected(fresh_database_url, write=True) as connection:
        connection.exec_driver_sql("ALTER TABLE initiatives ADD COLUMN stray TEXT")
    with connected(fresh_database_url) as connection:
        differences = model_differences(connection)
    assert [diff[0] for diff in differences] == ["remove_column"]


QUOTED = re.compile(r"'([^']*)'")


def test_the_migrations_create_the_models_check_constraints(fresh_database_url: str) -> None:
    # Autogenerate does not compare CHECK constraints, so compare them here: the same
    # constraints, on the same column, allowing the same values.
    open_database(fresh_database_url).close()
    with connected(fresh_database_url) as connection:
        inspector = sa.inspect(connection)
        for table in metadata.sorted_tables:
            wanted = {
                str(constraint.name): str(constraint.sqltext)
                for constraint in table.constraints
                if isinstance(constraint, sa.CheckConstraint)
            }
            found = {
                ck["name"]: ck["sqltext"] for ck in inspector.get_check_constraints(table.name)
            }
            assert set(found) == set(wanted), table.name
            for name, sqltext in wanted.items():
                column = sqltext.split()[0]
                assert column in found[name], (name, found[name])
                assert set(QUOTED.findall(found[name])) == set(QUOTED.findall(sqltext)), name


def test_the_migrations_create_the_partial_root_page_index(fresh_database_url: str) -> None:
    open_database(fresh_database_url).close()
    with connected(fresh_database_url) as connection:
        if connection.dialect.name == "sqlite":
            sql = connection.execute(
                sa.text("SELECT sql FROM sqlite_master WHERE name = :name"),
                {"name": "uq_pages_root_per_initiative"},
            ).scalar()
        else:
            sql = connection.execute(
                sa.text("SELECT indexdef FROM pg_indexes WHERE indexname = :name"),
                {"name": "uq_pages_root_per_initiative"},
            ).scalar()
    assert sql is not None
    assert "unique" in sql.lower()
    assert "parent_page_id is null" in sql.lower().replace("(", "").replace(")", "")


# --- a database newer than the code -------------------------------------------------------


def test_a_database_at_an_unknown_revision_is_refused_and_left_alone(
    fresh_database_url: str,
) -> None:
    db = open_database(fresh_database_url)
    db.initiatives.create(name="Auth")
    db.close()
    with connected(fresh_database_url, write=True) as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = 'ffffffffffff'"))
    before = dump(fresh_database_url)

    with pytest.raises(SchemaError) as error:
        open_database(fresh_database_url)

    assert "upgrade Codewalkers" in str(error.value)
    assert "ffffffffffff" in str(error.value)
    assert dump(fresh_database_url) == before
    with connected(fresh_database_url) as connection:
        assert current_revision(connection) == "ffffffffffff"


def test_ensure_schema_refuses_an_unknown_revision_too(fresh_database_url: str) -> None:
    open_database(fresh_database_url).close()
    with connected(fresh_database_url, write=True) as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = 'ffffffffffff'"))
    before = dump(fresh_database_url)
    engine = create_engine(fresh_database_url)
    try:
        with pytest.raises(SchemaError, match="upgrade Codewalkers"):
            ensure_schema(engine)
    finally:
        engine.dispose()
    assert dump(fresh_database_url) == before


# --- downgrade and upgrade ----------------------------------------------------------------


def _alembic(url: str, action: str, revision: str) -> None:
    with connected(url, write=True) as connection:
        getattr(command, action)(alembic_config(connection), revision)


def test_downgrade_to_base_then_upgrade_to_head(fresh_database_url: str) -> None:
    db = open_database(fresh_database_url)
    db.initiatives.create(name="Auth")
    db.close()

    _alembic(fresh_database_url, "downgrade", "base")
    with connected(fresh_database_url) as connection:
        assert current_revision(connection) is None
        assert set(sa.inspect(connection).get_table_names()) <= {"alembic_version"}

    _alembic(fresh_database_url, "upgrade", "head")
    with connected(fresh_database_url) as connection:
        assert current_revision(connection) == head_revision()
        assert model_differences(connection) == []

    db = open_database(fresh_database_url)
    try:
        assert db.initiatives.find_all() == []
        assert db.initiatives.create(name="Again").name == "Again"
    finally:
        db.close()


def test_a_failed_migration_leaves_the_database_as_it_was(fresh_database_url: str) -> None:
    # Migrations run in one transaction: break the last step and nothing of the first stays.
    open_database(fresh_database_url).close()
    _alembic(fresh_database_url, "downgrade", "base")
    with connected(fresh_database_url, write=True) as connection:
        # chat_messages is created last; a table in its way makes the upgrade fail there.
        connection.exec_driver_sql("CREATE TABLE chat_messages (x INTEGER)")
    before = dump(fresh_database_url)
    engine = create_engine(fresh_database_url)
    try:
        with pytest.raises(SchemaError, match="rolled back") as error:
            ensure_schema(engine)
    finally:
        engine.dispose()
    assert error.value.__cause__ is not None
    assert dump(fresh_database_url) == before


# --- packaging ----------------------------------------------------------------------------


def test_the_package_carries_its_migrations() -> None:
    migrations = resources.files("codewalkers.db") / "migrations"
    versions = migrations / "versions"
    names = {item.name for item in versions.iterdir()}
    assert any(name.endswith(".py") and name != "__init__.py" for name in names)
    assert (migrations / "env.py").is_file()
    assert (migrations / "script.py.mako").is_file()


@pytest.mark.slow
def test_a_built_wheel_contains_the_migrations_and_can_migrate(
    tmp_path: Path, built_wheel: Path
) -> None:
    with zipfile.ZipFile(built_wheel) as archive:
        names = set(archive.namelist())
        archive.extractall(tmp_path / "site")
    migration_files = {
        name for name in names if name.startswith("codewalkers/db/migrations/versions/")
    }
    assert any(name.endswith("_initial_schema.py") for name in migration_files)
    assert "codewalkers/db/migrations/env.py" in names
    assert "codewalkers/db/migrations/script.py.mako" in names

    # The unpacked wheel, first on the path, migrates a new database by itself.
    site = tmp_path / "site"
    target = tmp_path / "from-wheel.db"
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "import codewalkers.db as cw;"
        "assert cw.__file__.startswith(sys.argv[1]), cw.__file__;"
        "db = cw.open_database('sqlite:///' + sys.argv[2]);"
        "print(len(db.initiatives.find_all())); db.close()"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(site), str(target)],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        text=True,
    )
    assert result.stdout.strip() == "0"
    with connected(f"sqlite:///{target}") as connection:
        assert current_revision(connection) == head_revision()


def test_tasks_have_no_duplicate_initiative_index(fresh_database_url: str) -> None:
    # ix_tasks_initiative_id_status covers lookups by initiative_id alone (issue 9, item 12).
    open_database(fresh_database_url).close()
    with connected(fresh_database_url) as connection:
        names = {ix["name"] for ix in sa.inspect(connection).get_indexes("tasks")}
    assert "ix_tasks_initiative_id" not in names
    assert "ix_tasks_initiative_id_status" in names
