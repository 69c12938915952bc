"""Alembic environment: runs on the connection ``ensure_schema`` (or the test suite) passes in.

Run from the command line (``alembic`` with ``-x url=...``) it opens its own engine.
"""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from sqlalchemy.types import TypeDecorator

from codewalkers.db.engine import in_models
from codewalkers.db.schema import metadata


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    """Render our column types as the plain types they are stored as."""
    if type_ == "type" and isinstance(obj, TypeDecorator):
        impl = obj.impl_instance
        autogen_context.imports.add("import sqlalchemy as sa")
        return f"sa.{impl!r}"
    return False


def run_migrations(connection: Any) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,
        render_item=render_item,
        include_object=in_models,
        compare_type=True,
        compare_server_default=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    run_migrations(connection)
else:
    from codewalkers.db.engine import WRITE, create_engine

    url = context.get_x_argument(as_dictionary=True).get("url")
    if not url:
        raise SystemExit("give the database with: alembic -x url=sqlite:///path/to/cw.db ...")
    engine = create_engine(url)
    with engine.connect() as own_connection:
        own_connection.execution_options(**{WRITE: True})
        run_migrations(own_connection)
        own_connection.commit()
