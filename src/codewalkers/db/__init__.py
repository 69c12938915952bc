"""The Codewalkers database: schema, migrations, and one repository per table.

from codewalkers.db import open_database, NotFoundError

db = open_database("sqlite:///.cw/cw.db")       # migrates first
initiative = db.initiatives.create(name="Auth")
with db.transaction():                          # all or nothing
    phase = db.phases.create(initiative_id=initiative.id, name="Design")
    db.tasks.create(phase_id=phase.id, name="Sketch the schema")
db.close()
"""

from codewalkers.db.database import Database, open_database
from codewalkers.db.engine import create_engine, current_revision, ensure_schema, head_revision
from codewalkers.db.enums import *  # noqa: F403
from codewalkers.db.enums import __all__ as _enums
from codewalkers.db.errors import (
    ConflictError,
    DatabaseError,
    DatabaseUnavailableError,
    NotFoundError,
    ReferenceNotFoundError,
    SchemaError,
    ValidationError,
)
from codewalkers.db.ids import new_id
from codewalkers.db.records import *  # noqa: F403
from codewalkers.db.records import __all__ as _records
from codewalkers.db.repositories import *  # noqa: F403
from codewalkers.db.repositories import __all__ as _ports

__all__ = [
    "ConflictError",
    "Database",
    "DatabaseError",
    "DatabaseUnavailableError",
    "NotFoundError",
    "ReferenceNotFoundError",
    "SchemaError",
    "ValidationError",
    "create_engine",
    "current_revision",
    "ensure_schema",
    "head_revision",
    "new_id",
    "open_database",
    *_enums,
    *_ports,
    *_records,
]
