"""The fast path's guards: statements it cannot run are refused when compiled, and the
private SQLAlchemy API it relies on is still there (pinned range in pyproject.toml)."""

from __future__ import annotations

import pytest
from sqlalchemy import bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.pool import Pool
from sqlalchemy.sql.compiler import SQLCompiler

from codewalkers.db import schema
from codewalkers.db.repositories.sqlalchemy._raw import Prepared

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
