"""Fixtures shared by every test: a migrated database on SQLite and on PostgreSQL.

PostgreSQL runs when ``CW_TEST_DATABASE_URL`` names a server (``.ci/run`` starts one). Outside
CI, without it, the PostgreSQL half of each test is skipped with that reason; in CI
(``CI=true``) a missing URL is an error, never a silent skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from codewalkers.db import Database, generate_key, open_database
from codewalkers.db.engine import create_engine, ensure_schema
from codewalkers.db.schema import metadata

PG_URL = os.environ.get("CW_TEST_DATABASE_URL")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
BACKENDS = ["sqlite", "postgresql"]
#: The key that encrypts account secrets in the ``db`` fixture's database.
TEST_SECRET_KEY = generate_key()


def pytest_sessionstart(session: pytest.Session) -> None:
    if IN_CI and not PG_URL:
        raise pytest.UsageError(
            "CI=true but CW_TEST_DATABASE_URL is not set: PostgreSQL tests would not run"
        )


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating once is faster)."""
    path = tmp_path_factory.mktemp("template") / "cw.db"
    engine = create_engine(f"sqlite:///{path}")
    ensure_schema(engine)
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def pg_engine() -> Iterator[sa.Engine]:
    """A migrated PostgreSQL database of this test run's own (so parallel runs don't clash)."""
    if not PG_URL:
        pytest.skip("PostgreSQL: CW_TEST_DATABASE_URL is not set (scripts/start-postgres.sh)")
    server = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    name = f"{server.url.database}_run{os.getpid()}"
    with server.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine = create_engine(server.url.set(database=name).render_as_string(hide_password=False))
    ensure_schema(engine)
    yield engine
    engine.dispose()
    with server.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    server.dispose()


def _truncate_all(engine: sa.Engine) -> None:
    names = ", ".join(f'"{table.name}"' for table in metadata.sorted_tables)
    with engine.begin() as connection:
        connection.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The database backend under test."""
    return str(request.param)


@pytest.fixture
def database_url(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> str:
    """The URL of an empty, migrated database of the backend under test."""
    if backend == "sqlite":
        path = tmp_path / "cw.db"
        shutil.copyfile(sqlite_template, path)
        return f"sqlite:///{path}"
    engine: sa.Engine = request.getfixturevalue("pg_engine")
    _truncate_all(engine)
    return engine.url.render_as_string(hide_password=False)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """An open database (SQLite file or PostgreSQL), empty and migrated."""
    database = open_database(database_url, secret_key=TEST_SECRET_KEY)
    yield database
    database.close()


@pytest.fixture
def fresh_database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """The URL of a database that was never migrated (for migration tests)."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh.db'}"
    engine: sa.Engine = request.getfixturevalue("pg_engine")
    name = f"cw_fresh_{os.getpid()}_{abs(hash(request.node.nodeid)) % 10**8}"
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = engine.url.set(database=name)

    def drop() -> None:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    request.addfinalizer(drop)
    return url.render_as_string(hide_password=False)


PROJECT_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def built_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project built as a wheel once per run (several tests look inside it)."""
    wheels = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [
            sys.executable,
            "-c",
            f"from hatchling.build import build_wheel; build_wheel({str(wheels)!r})",
        ],
        cwd=PROJECT_ROOT,
        check=True,
        capture_output=True,
    )
    [wheel] = list(wheels.glob("*.whl"))
    return wheel
