"""The schema as it is in the database, read back with the inspector and raw SQL.

Nothing here goes through a repository to check a rule: the tables, columns, CHECK
constraints, foreign keys, indexes and server defaults are what the database itself holds,
so even raw SQL cannot break them.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from codewalkers.db import Database, generate_key, new_id, records
from codewalkers.db.engine import WRITE
from codewalkers.db.key_check import KEY_CHECK, remember_secret_key
from codewalkers.db.schema import SQLITE_ONLY_TABLES, metadata
from tests.factories import make_account, make_agent, make_page, make_phase, make_project, make_task

# --- the seed, written down -----------------------------------------------------------

SEED_TABLES = {
    "initiatives",
    "phases",
    "phase_dependencies",
    "tasks",
    "task_dependencies",
    "agents",
    "accounts",
    "proposals",
    "pages",
    "projects",
    "initiative_projects",
    "messages",
    "agent_log_chunks",
    "conversations",
    "chat_sessions",
    "chat_messages",
    "review_comments",
}
DESIGNED_TABLES = {"change_sets", "change_set_entries"}
#: The domain-event outbox: keyed by ``seq``, no foreign keys.
OUTBOX_TABLES = {"events"}
#: Facts about the database itself, keyed by name (``secret_key_check``), not by nanoid.
SETTINGS_TABLES = {"settings"}
#: Execution bookkeeping (migration 0008); leases are keyed by name, not by nanoid.
EXECUTION_TABLES = {"executions", "dispatches"}
LEASE_TABLES = {"leases"}
#: Small work outside any initiative (migration 0009).
ERRAND_TABLES = {"errands"}
#: At most one row per parent (a unique foreign key): a raw copy of a row cannot be made.
ONE_ROW_PER_PARENT = {"executions", "dispatches"}

TIMESTAMPS = ["created_at", "updated_at"]

#: The seed's columns (camelCase turned snake_case), per table.
SEED_COLUMNS: dict[str, list[str]] = {
    "initiatives": ["id", "name", "status", "merge_requires_approval", "branch", *TIMESTAMPS],
    "phases": ["id", "initiative_id", "name", "content", "status", *TIMESTAMPS],
    "phase_dependencies": ["phase_id", "depends_on_phase_id"],
    "tasks": [
        "id",
        "phase_id",
        "initiative_id",
        "parent_task_id",
        "name",
        "description",
        "type",
        "category",
        "priority",
        "status",
        "requires_approval",
        "order",
        "summary",
        *TIMESTAMPS,
    ],
    "task_dependencies": ["task_id", "depends_on_task_id"],
    "agents": [
        "id",
        "name",
        "task_id",
        "initiative_id",
        "session_id",
        "worktree_id",
        "provider",
        "account_id",
        "status",
        "mode",
        "pid",
        "exit_code",
        "output_file_path",
        "result",
        "pending_questions",
        "user_dismissed_at",
        *TIMESTAMPS,
    ],
    "accounts": [
        "id",
        "email",
        "provider",
        "config_json",
        "credentials",
        "is_exhausted",
        "exhausted_until",
        "last_used_at",
        "sort_order",
        *TIMESTAMPS,
    ],
    "proposals": [
        "id",
        "agent_id",
        "initiative_id",
        "target_type",
        "target_id",
        "title",
        "summary",
        "content",
        "metadata",
        "status",
        "sort_order",
        *TIMESTAMPS,
    ],
    "pages": [
        "id",
        "initiative_id",
        "parent_page_id",
        "title",
        "content",
        "sort_order",
        *TIMESTAMPS,
    ],
    "projects": ["id", "name", "url", "default_branch", "last_fetched_at", *TIMESTAMPS],
    "initiative_projects": ["initiative_id", "project_id"],
    # The seed only names the thread link and the participant types; the issue spells out
    # the rest of the design.
    "messages": [
        "id",
        "sender_type",
        "sender_id",
        "recipient_type",
        "recipient_id",
        "type",
        "content",
        "requires_response",
        "status",
        "parent_message_id",
        *TIMESTAMPS,
    ],
    "agent_log_chunks": [
        "id",
        "agent_id",
        "agent_name",
        "session_number",
        "content",
        "created_at",
    ],
    "conversations": [
        "id",
        "from_agent_id",
        "to_agent_id",
        "initiative_id",
        "phase_id",
        "task_id",
        "question",
        "answer",
        "status",
        *TIMESTAMPS,
    ],
    "chat_sessions": [
        "id",
        "target_type",
        "target_id",
        "initiative_id",
        "agent_id",
        "status",
        *TIMESTAMPS,
    ],
    "chat_messages": ["id", "chat_session_id", "role", "content", "change_set_id", "created_at"],
    "review_comments": [
        "id",
        "phase_id",
        "file_path",
        "line_number",
        "line_type",
        "body",
        "author",
        "resolved",
        *TIMESTAMPS,
    ],
}

#: Columns beyond the seed's, each a documented design choice.
EXTRA_COLUMNS: dict[str, set[str]] = {
    # Junction and edge rows get an id and a creation time like every other row.
    "phase_dependencies": {"id", "created_at"},
    "task_dependencies": {"id", "created_at"},
    "initiative_projects": {"id", "created_at"},
    # A sequence keeps chunks in insertion order within one millisecond.
    "agent_log_chunks": {"seq"},
    # The agent runtime's bookkeeping (migration 0005, docs/agents.md).
    "agents": {
        "session_number",
        "output_offset",
        "process_started_at",
        "status_reason",
        "workspace_id",
    },
    # The executor's per-task provider (migration 0010, docs/execution.md).
    "tasks": {"provider"},
}

#: The seed's NOT NULL columns, and the ones it says are nullable.
SEED_NOT_NULL: dict[str, set[str]] = {
    "initiatives": {"name", "status"},
    "phases": {"initiative_id", "name"},
    "tasks": {"name"},
    "agents": {"name", "worktree_id", "provider"},
    "accounts": {"email", "provider"},
    "pages": {"initiative_id", "title"},
    "projects": {"name", "url", "default_branch"},
    "agent_log_chunks": {"agent_id", "agent_name", "content"},
    "conversations": {"from_agent_id", "to_agent_id", "question"},
    "chat_sessions": {"target_id"},
    "chat_messages": {"content"},
    "review_comments": {"file_path", "line_number", "body", "author"},
}
SEED_NULLABLE: dict[str, set[str]] = {
    "initiatives": {"branch"},
    "phases": {"content"},
    "tasks": {
        "phase_id",
        "initiative_id",
        "parent_task_id",
        "description",
        "requires_approval",
        "summary",
    },
    "agents": {
        "task_id",
        "initiative_id",
        "session_id",
        "account_id",
        "pid",
        "exit_code",
        "output_file_path",
        "result",
        "pending_questions",
        "user_dismissed_at",
    },
    "accounts": {"config_json", "credentials", "exhausted_until", "last_used_at"},
    "proposals": {"target_id", "metadata"},
    "pages": {"parent_page_id", "content"},
    "projects": {"last_fetched_at"},
    "conversations": {"initiative_id", "phase_id", "task_id", "answer"},
}

CASCADE, SET_NULL = "CASCADE", "SET NULL"

#: Every foreign key: (table, column) -> (referred table, ON DELETE), as the seed says.
SEED_FOREIGN_KEYS: dict[tuple[str, str], tuple[str, str]] = {
    ("phases", "initiative_id"): ("initiatives", CASCADE),
    ("phase_dependencies", "phase_id"): ("phases", CASCADE),
    ("phase_dependencies", "depends_on_phase_id"): ("phases", CASCADE),
    ("tasks", "phase_id"): ("phases", CASCADE),
    ("tasks", "initiative_id"): ("initiatives", CASCADE),
    ("tasks", "parent_task_id"): ("tasks", CASCADE),
    ("task_dependencies", "task_id"): ("tasks", CASCADE),
    ("task_dependencies", "depends_on_task_id"): ("tasks", CASCADE),
    ("agents", "task_id"): ("tasks", SET_NULL),
    ("agents", "initiative_id"): ("initiatives", SET_NULL),
    ("agents", "account_id"): ("accounts", SET_NULL),
    ("proposals", "agent_id"): ("agents", CASCADE),
    ("proposals", "initiative_id"): ("initiatives", CASCADE),
    ("pages", "initiative_id"): ("initiatives", CASCADE),
    ("pages", "parent_page_id"): ("pages", CASCADE),
    ("initiative_projects", "initiative_id"): ("initiatives", CASCADE),
    ("initiative_projects", "project_id"): ("projects", CASCADE),
    ("conversations", "from_agent_id"): ("agents", CASCADE),
    ("conversations", "to_agent_id"): ("agents", CASCADE),
    ("conversations", "initiative_id"): ("initiatives", SET_NULL),
    ("conversations", "phase_id"): ("phases", SET_NULL),
    ("conversations", "task_id"): ("tasks", SET_NULL),
    ("chat_sessions", "initiative_id"): ("initiatives", CASCADE),
    ("chat_sessions", "agent_id"): ("agents", SET_NULL),
    ("chat_messages", "chat_session_id"): ("chat_sessions", CASCADE),
    ("chat_messages", "change_set_id"): ("change_sets", SET_NULL),
    ("review_comments", "phase_id"): ("phases", CASCADE),
    # Our design (the seed does not say): a thread survives the deletion of a message or an
    # agent; a change set belongs to its initiative and outlives its agent.
    ("messages", "parent_message_id"): ("messages", SET_NULL),
    ("messages", "sender_id"): ("agents", SET_NULL),
    ("messages", "recipient_id"): ("agents", SET_NULL),
    ("change_sets", "initiative_id"): ("initiatives", CASCADE),
    ("change_sets", "agent_id"): ("agents", SET_NULL),
    ("change_set_entries", "change_set_id"): ("change_sets", CASCADE),
    # Execution bookkeeping goes with its initiative and task, and outlives its agent.
    ("executions", "initiative_id"): ("initiatives", CASCADE),
    ("dispatches", "task_id"): ("tasks", CASCADE),
    ("dispatches", "initiative_id"): ("initiatives", CASCADE),
    ("dispatches", "agent_id"): ("agents", SET_NULL),
    ("errands", "project_id"): ("projects", CASCADE),
    ("errands", "agent_id"): ("agents", SET_NULL),
}

#: The seed's unique rules: table -> column lists that must be unique.
SEED_UNIQUE: list[tuple[str, list[str]]] = [
    ("agents", ["name"]),
    ("projects", ["name"]),
    ("projects", ["url"]),
    ("initiative_projects", ["initiative_id", "project_id"]),
    ("phase_dependencies", ["phase_id", "depends_on_phase_id"]),
    ("task_dependencies", ["task_id", "depends_on_task_id"]),
]

#: The seed's indexes: an index on these leading columns must exist (a unique
#: constraint or a longer index with them as prefix serves the same queries).
SEED_INDEXES: list[tuple[str, list[str]]] = [
    ("conversations", ["to_agent_id", "status"]),
    ("conversations", ["from_agent_id"]),
    ("chat_sessions", ["target_type", "target_id"]),
    ("chat_sessions", ["initiative_id"]),
    ("chat_messages", ["chat_session_id"]),
    ("review_comments", ["phase_id"]),
    ("agent_log_chunks", ["agent_id"]),
]


# --- helpers ----------------------------------------------------------------------------


@contextmanager
def writing(db: Database) -> Iterator[Connection]:
    """A raw write transaction (``BEGIN IMMEDIATE`` on SQLite), committed on success."""
    with db.engine.connect() as connection:
        connection.execution_options(**{WRITE: True})
        with connection.begin():
            yield connection


def now_ms() -> int:
    return int(time.time() * 1000)


def one_of_everything(db: Database) -> dict[str, str]:
    """One row in every table, made through the repositories; table -> id of its row."""
    task = make_task(db)
    phase = db.phases.find_by_id(task.phase_id or "")
    assert phase is not None
    initiative_id = phase.initiative_id
    account = make_account(db)
    agent = make_agent(db, task_id=task.id, initiative_id=initiative_id, account_id=account.id)
    other = make_agent(db)
    proposal = db.proposals.create(
        agent_id=agent.id, initiative_id=initiative_id, target_type="task", title="Split it"
    )
    page = make_page(db, db.initiatives.find_by_id(initiative_id))
    project = make_project(db)
    db.projects.set_initiative_projects(initiative_id, [project.id])
    message = db.messages.create(
        sender_type="agent", sender_id=agent.id, recipient_type="user", content="Which DB?"
    )
    db.messages.create(
        sender_type="user",
        recipient_type="agent",
        recipient_id=agent.id,
        type="response",
        content="PostgreSQL",
        parent_message_id=message.id,
    )
    db.tasks.create(name="subtask", parent_task_id=task.id)
    chunk = db.log_chunks.insert_chunk(agent.id, agent.name, '{"type":"text"}')
    conversation = db.conversations.create(
        from_agent_id=agent.id,
        to_agent_id=other.id,
        initiative_id=initiative_id,
        phase_id=phase.id,
        task_id=task.id,
        question="API shape?",
    )
    session = db.chat_sessions.create_session(
        target_type="phase", target_id=phase.id, initiative_id=initiative_id, agent_id=agent.id
    )
    change_set = db.change_sets.create(
        initiative_id=initiative_id,
        agent_id=agent.id,
        entries=[
            {
                "entity_type": "task",
                "entity_id": task.id,
                "action": "update",
                "previous_state": {"name": "a"},
                "new_state": {"name": "b"},
            }
        ],
    )
    chat_message = db.chat_sessions.create_message(
        chat_session_id=session.id, role="assistant", content="Done", change_set_id=change_set.id
    )
    comment = db.review_comments.create(
        phase_id=phase.id, file_path="a.py", line_number=3, line_type="added", body="Why?"
    )
    second = make_task(db, phase)
    db.tasks.create_dependency(second.id, task.id)
    second_phase = make_phase(db, db.initiatives.find_by_id(initiative_id))
    db.phases.create_dependency(second_phase.id, phase.id)
    remember_secret_key(db, generate_key())
    execution = db.execution.set_execution_state(initiative_id, "running")
    dispatch = db.execution.create_dispatch(task.id, agent_id=agent.id)
    assert dispatch is not None
    db.execution.acquire_lease("merge:app:cw/x", "workspace", 60)
    errand = db.errands.create(
        project_id=project.id,
        description="Fix the typo",
        branch="cw/errand--fix-the-typo",
        base_branch="main",
        agent_id=agent.id,
    )
    with db.engine.connect() as connection:

        def first_id(table: str) -> str:
            return str(connection.execute(sa.text(f"SELECT id FROM {table}")).scalars().first())

        edge_ids = {
            name: first_id(name)
            for name in ("phase_dependencies", "task_dependencies", "initiative_projects")
        }
        entry_id = first_id("change_set_entries")
    return {
        "settings": KEY_CHECK,
        "initiatives": initiative_id,
        "phases": phase.id,
        "tasks": task.id,
        "accounts": account.id,
        "agents": agent.id,
        "proposals": proposal.id,
        "pages": page.id,
        "projects": project.id,
        "messages": message.id,
        "agent_log_chunks": chunk.id,
        "conversations": conversation.id,
        "chat_sessions": session.id,
        "change_sets": change_set.id,
        "change_set_entries": entry_id,
        "chat_messages": chat_message.id,
        "review_comments": comment.id,
        "executions": execution.id,
        "dispatches": dispatch.id,
        "leases": "merge:app:cw/x",
        "errands": errand.id,
        **edge_ids,
    }


def enum_columns() -> list[tuple[str, str]]:
    return [
        (table.name, column.name)
        for table in metadata.sorted_tables
        for column in table.columns
        if "enum" in column.info
    ]


def quoted(connection: Connection, name: str) -> str:
    return str(connection.dialect.identifier_preparer.quote(name))


def copy_row(
    connection: Connection,
    table_name: str,
    row_id: str,
    values: dict[str, Any] | None = None,
    *,
    keep: tuple[str, ...] = (),
) -> None:
    """INSERT ... SELECT a copy of a row: a new id, ``values`` replaced, and every other
    unique column (but those in ``keep``) made unique with a suffix, so that only the
    rule under test can refuse the copy.
    """
    table = metadata.tables[table_name]
    values = values or {}
    params: dict[str, Any] = {"new_id": new_id(), "suffix": "-" + new_id(), "id": row_id}
    names, exprs = [], []
    for col in table.columns:
        name = quoted(connection, col.name)
        names.append(name)
        if col.name == "id":
            exprs.append(":new_id")
        elif col.name in values:
            exprs.append(f":v_{col.name}")
            params[f"v_{col.name}"] = values[col.name]
        elif col.unique and col.name not in keep:
            exprs.append(f"{name} || :suffix")
        else:
            exprs.append(name)
    connection.execute(
        sa.text(
            f"INSERT INTO {table_name} ({', '.join(names)}) "
            f"SELECT {', '.join(exprs)} FROM {table_name} WHERE id = :id"
        ),
        params,
    )


def is_check_violation(exc: sa.exc.DBAPIError, constraint: str) -> bool:
    text = str(exc.orig).lower()
    return ("check constraint" in text or "violates check" in text) and constraint in text


# --- tables and columns -----------------------------------------------------------------


def test_the_tables_are_the_seeds_plus_change_sets(db: Database) -> None:
    names = set(sa.inspect(db.engine).get_table_names()) - {"alembic_version"}
    # SQLite also keeps the log chunk seq high-water mark (migration 0007), outside the models.
    only_here = SQLITE_ONLY_TABLES if db.dialect == "sqlite" else set()
    assert names == (
        SEED_TABLES
        | DESIGNED_TABLES
        | OUTBOX_TABLES
        | SETTINGS_TABLES
        | EXECUTION_TABLES
        | LEASE_TABLES
        | ERRAND_TABLES
        | only_here
    )


@pytest.mark.parametrize("table", sorted(SEED_COLUMNS))
def test_columns_are_the_seeds_in_snake_case(db: Database, table: str) -> None:
    columns = {column["name"] for column in sa.inspect(db.engine).get_columns(table)}
    assert columns == set(SEED_COLUMNS[table]) | EXTRA_COLUMNS.get(table, set())


def test_change_sets_keep_each_entitys_state_before_and_after(db: Database) -> None:
    inspector = sa.inspect(db.engine)
    change_sets = {column["name"] for column in inspector.get_columns("change_sets")}
    entries = {column["name"] for column in inspector.get_columns("change_set_entries")}
    assert {"id", "initiative_id", "status", "created_at", "updated_at"} <= change_sets
    assert {
        "id",
        "change_set_id",
        "entity_type",
        "entity_id",
        "action",
        "previous_state",
        "new_state",
    } <= entries


@pytest.mark.parametrize("table", sorted(SEED_NOT_NULL.keys() | SEED_NULLABLE.keys()))
def test_nullability_is_the_seeds(db: Database, table: str) -> None:
    nullable = {c["name"]: c["nullable"] for c in sa.inspect(db.engine).get_columns(table)}
    for column in SEED_NOT_NULL.get(table, set()):
        assert nullable[column] is False, f"{table}.{column} must be NOT NULL"
    for column in SEED_NULLABLE.get(table, set()):
        assert nullable[column] is True, f"{table}.{column} must be nullable"


def test_every_table_has_a_text_primary_key_named_id(db: Database) -> None:
    inspector = sa.inspect(db.engine)
    for table in SEED_TABLES | DESIGNED_TABLES | EXECUTION_TABLES | LEASE_TABLES | ERRAND_TABLES:
        assert inspector.get_pk_constraint(table)["constrained_columns"] == ["id"], table
        id_column = next(c for c in inspector.get_columns(table) if c["name"] == "id")
        assert isinstance(id_column["type"], sa.Text | sa.String), table


RECORD_TABLES = {
    "Initiative": "initiatives",
    "Phase": "phases",
    "PhaseDependency": "phase_dependencies",
    "Task": "tasks",
    "TaskDependency": "task_dependencies",
    "Agent": "agents",
    "Account": "accounts",
    "Proposal": "proposals",
    "Page": "pages",
    "Project": "projects",
    "InitiativeProject": "initiative_projects",
    "Message": "messages",
    "LogChunk": "agent_log_chunks",
    "Conversation": "conversations",
    "ChatSession": "chat_sessions",
    "ChatMessage": "chat_messages",
    "ReviewComment": "review_comments",
    "ChangeSet": "change_sets",
    "ChangeSetEntry": "change_set_entries",
    "Event": "events",
    "Setting": "settings",
    "Execution": "executions",
    "Dispatch": "dispatches",
    "Lease": "leases",
    "Errand": "errands",
}


def test_every_table_has_exactly_one_record_type() -> None:
    assert set(RECORD_TABLES) == set(records.__all__)
    assert set(RECORD_TABLES.values()) == set(metadata.tables)


@pytest.mark.parametrize(("name", "table"), sorted(RECORD_TABLES.items()))
def test_each_records_fields_are_its_tables_columns_in_order(
    db: Database, name: str, table: str
) -> None:
    fields = [field.name for field in dataclasses.fields(getattr(records, name))]
    in_model = [column.name for column in metadata.tables[table].columns]
    in_database = [c["name"] for c in sa.inspect(db.engine).get_columns(table)]
    assert fields == in_model == in_database


# --- enums: CHECK constraints -----------------------------------------------------------


def test_every_enum_column_of_the_schema_has_a_check_constraint(db: Database) -> None:
    inspector = sa.inspect(db.engine)
    for table, column in enum_columns():
        checks = {c["name"]: c["sqltext"] for c in inspector.get_check_constraints(table)}
        name = f"ck_{table}_{column}_enum"
        assert name in checks, f"{table}.{column} has no CHECK constraint"
        enum = metadata.tables[table].c[column].info["enum"]
        for member in enum:
            assert f"'{member.value}'" in checks[name]


@pytest.mark.parametrize(("table", "column"), enum_columns())
def test_raw_sql_cannot_store_a_bogus_enum_value(db: Database, table: str, column: str) -> None:
    rows = one_of_everything(db)
    constraint = f"ck_{table}_{column}_enum"
    enum = metadata.tables[table].c[column].info["enum"]
    # Every member is accepted (so the CHECK is not simply refusing everything) ...
    for member in enum:
        with writing(db) as connection:
            if table in ONE_ROW_PER_PARENT:  # a copy would break its unique parent: update
                connection.execute(
                    sa.text(f"UPDATE {table} SET {quoted(connection, column)} = :v WHERE id = :id"),
                    {"v": member.value, "id": rows[table]},
                )
            else:
                copy_row(connection, table, rows[table], {column: member.value})
    # ... and anything else is refused, by INSERT and by UPDATE.
    near_miss = str(next(iter(enum)).value).upper()
    for bogus in ["bogus", "", near_miss]:
        with pytest.raises(sa.exc.IntegrityError) as insert_error, writing(db) as connection:
            copy_row(connection, table, rows[table], {column: bogus})
        assert is_check_violation(insert_error.value, constraint), insert_error.value
        with pytest.raises(sa.exc.IntegrityError) as update_error, writing(db) as connection:
            connection.execute(
                sa.text(f"UPDATE {table} SET {quoted(connection, column)} = :v WHERE id = :id"),
                {"v": bogus, "id": rows[table]},
            )
        assert is_check_violation(update_error.value, constraint), update_error.value
    with db.engine.connect() as connection:
        stored = connection.execute(
            sa.text(f"SELECT {quoted(connection, column)} FROM {table} WHERE id = :id"),
            {"id": rows[table]},
        ).scalar()
    assert stored in {member.value for member in enum}


# --- foreign keys -----------------------------------------------------------------------


def test_every_foreign_key_has_the_seeds_on_delete_action(db: Database) -> None:
    inspector = sa.inspect(db.engine)
    found: dict[tuple[str, str], tuple[str, str]] = {}
    for table in inspector.get_table_names():
        for fk in inspector.get_foreign_keys(table):
            assert len(fk["constrained_columns"]) == 1, fk
            assert fk["referred_columns"] == ["id"], fk
            ondelete = (fk.get("options") or {}).get("ondelete")
            key = (table, fk["constrained_columns"][0])
            found[key] = (fk["referred_table"], str(ondelete).upper())
    assert found == SEED_FOREIGN_KEYS


def test_agent_log_chunks_has_no_foreign_key(db: Database) -> None:
    assert sa.inspect(db.engine).get_foreign_keys("agent_log_chunks") == []


def test_foreign_keys_are_enforced_for_raw_sql(db: Database) -> None:
    with pytest.raises(sa.exc.IntegrityError), writing(db) as connection:
        connection.execute(
            sa.text(
                "INSERT INTO phases (id, initiative_id, name, created_at, updated_at) "
                "VALUES (:id, 'no-such-initiative', 'p', 0, 0)"
            ),
            {"id": new_id()},
        )


def test_a_log_chunk_for_an_unknown_agent_can_be_stored(db: Database) -> None:
    with writing(db) as connection:
        connection.execute(
            sa.text(
                "INSERT INTO agent_log_chunks (id, agent_id, agent_name, content, created_at, seq)"
                " VALUES (:id, 'gone', 'brave-otter', 'x', 0, 1)"
            ),
            {"id": new_id()},
        )


@pytest.mark.parametrize(
    ("child", "column", "parent", "action"),
    [
        (child, column, parent, action)
        for (child, column), (parent, action) in SEED_FOREIGN_KEYS.items()
    ],
)
def test_deleting_a_parent_with_raw_sql_applies_the_on_delete_action(
    db: Database, child: str, column: str, parent: str, action: str
) -> None:
    one_of_everything(db)
    with db.engine.connect() as connection:
        child_id, parent_id = connection.execute(
            sa.text(f"SELECT id, {column} FROM {child} WHERE {column} IS NOT NULL")
        ).first() or pytest.fail(f"one_of_everything made no {child} row with a {column}")
    with writing(db) as connection:
        connection.execute(sa.text(f"DELETE FROM {parent} WHERE id = :id"), {"id": parent_id})
    with db.engine.connect() as connection:
        remaining = connection.execute(
            sa.text(f"SELECT {column} FROM {child} WHERE id = :id"), {"id": child_id}
        ).all()
    if action == CASCADE:
        assert remaining == [], f"deleting {parent} must delete its {child}"
    else:
        assert remaining == [(None,)], f"deleting {parent} must set {child}.{column} to NULL"


# --- indexes and unique constraints -----------------------------------------------------


def _unique_column_sets(db: Database, table: str) -> list[list[str]]:
    inspector = sa.inspect(db.engine)
    sets = [uc["column_names"] for uc in inspector.get_unique_constraints(table)]
    sets += [ix["column_names"] for ix in inspector.get_indexes(table) if ix["unique"]]
    return sets


def _indexed_prefixes(db: Database, table: str) -> list[list[str]]:
    inspector = sa.inspect(db.engine)
    indexed = [list(ix["column_names"]) for ix in inspector.get_indexes(table)]
    indexed += [list(uc["column_names"]) for uc in inspector.get_unique_constraints(table)]
    return indexed


@pytest.mark.parametrize(("table", "columns"), SEED_UNIQUE)
def test_the_seeds_unique_rules_exist(db: Database, table: str, columns: list[str]) -> None:
    assert columns in _unique_column_sets(db, table)


@pytest.mark.parametrize(("table", "columns"), SEED_INDEXES)
def test_the_seeds_indexes_exist(db: Database, table: str, columns: list[str]) -> None:
    indexed = _indexed_prefixes(db, table)
    assert any(index[: len(columns)] == columns for index in indexed), indexed


def test_the_seeds_named_indexes_exist(db: Database) -> None:
    inspector = sa.inspect(db.engine)

    def exact(table: str) -> list[list[str]]:
        return [ix["column_names"] for ix in inspector.get_indexes(table)]

    assert ["to_agent_id", "status"] in exact("conversations")
    assert ["from_agent_id"] in exact("conversations")
    assert ["target_type", "target_id"] in exact("chat_sessions")
    assert ["initiative_id"] in exact("chat_sessions")
    assert ["chat_session_id"] in exact("chat_messages")
    assert ["phase_id"] in exact("review_comments")


@pytest.mark.parametrize(
    ("table", "columns"),
    [("agents", ["name"]), ("projects", ["name"]), ("projects", ["url"])],
)
def test_raw_sql_cannot_duplicate_a_unique_value(
    db: Database, table: str, columns: list[str]
) -> None:
    rows = one_of_everything(db)
    with writing(db) as connection:  # the copy itself is fine once the value differs
        copy_row(connection, table, rows[table])
    with pytest.raises(sa.exc.IntegrityError) as error, writing(db) as connection:
        copy_row(connection, table, rows[table], keep=tuple(columns))
    assert "unique" in str(error.value.orig).lower() or "duplicate" in str(error.value.orig)


@pytest.mark.parametrize(
    ("table", "columns"),
    [
        ("initiative_projects", ["initiative_id", "project_id"]),
        ("phase_dependencies", ["phase_id", "depends_on_phase_id"]),
        ("task_dependencies", ["task_id", "depends_on_task_id"]),
    ],
)
def test_raw_sql_cannot_duplicate_a_pair(db: Database, table: str, columns: list[str]) -> None:
    rows = one_of_everything(db)
    with pytest.raises(sa.exc.IntegrityError), writing(db) as connection:
        connection.execute(
            sa.text(
                f"INSERT INTO {table} (id, {', '.join(columns)}, created_at) "
                f"SELECT :new_id, {', '.join(columns)}, created_at FROM {table} WHERE id = :id"
            ),
            {"new_id": new_id(), "id": rows[table]},
        )


def test_an_initiative_has_at_most_one_root_page_even_in_raw_sql(db: Database) -> None:
    rows = one_of_everything(db)
    with pytest.raises(sa.exc.IntegrityError), writing(db) as connection:
        connection.execute(
            sa.text(
                "INSERT INTO pages (id, initiative_id, title, created_at, updated_at) "
                "VALUES (:id, :initiative_id, 'second root', 0, 0)"
            ),
            {"id": new_id(), "initiative_id": rows["initiatives"]},
        )


# --- server defaults --------------------------------------------------------------------


def _insert_minimal(db: Database, table: str, **values: Any) -> dict[str, Any]:
    """Insert only ``values`` (plus id and timestamps) with raw SQL; return the stored row."""
    row_id = new_id()
    now = now_ms()
    row = {"id": row_id, **values, "created_at": now}
    if "updated_at" in metadata.tables[table].c:
        row["updated_at"] = now
    with writing(db) as connection:
        names = ", ".join(quoted(connection, name) for name in row)
        params = ", ".join(f":{name}" for name in row)
        connection.execute(sa.text(f"INSERT INTO {table} ({names}) VALUES ({params})"), row)
    with db.engine.connect() as connection:
        stored = connection.execute(
            sa.text(f"SELECT * FROM {table} WHERE id = :id"), {"id": row_id}
        ).one()
    return dict(stored._mapping)


def _bool(value: Any) -> bool:
    assert value in (0, 1, True, False)
    return bool(value)


def test_a_task_inserted_with_raw_sql_gets_the_defaults(db: Database) -> None:
    row = _insert_minimal(db, "tasks", name="Sketch")
    assert row["type"] == "auto"
    assert row["category"] == "execute"
    assert row["priority"] == "medium"
    assert row["status"] == "pending"
    assert row["order"] == 0
    assert row["requires_approval"] is None
    assert row["phase_id"] is None


def test_an_initiative_inserted_with_raw_sql_gets_the_defaults(db: Database) -> None:
    row = _insert_minimal(db, "initiatives", name="Auth")
    assert row["status"] == "active"
    assert _bool(row["merge_requires_approval"]) is True
    assert row["branch"] is None


def test_a_phase_inserted_with_raw_sql_gets_the_defaults(db: Database) -> None:
    initiative = _insert_minimal(db, "initiatives", name="Auth")
    row = _insert_minimal(db, "phases", initiative_id=initiative["id"], name="Design")
    assert row["status"] == "pending"


def test_an_agent_inserted_with_raw_sql_gets_the_defaults(db: Database) -> None:
    row = _insert_minimal(db, "agents", name="brave-otter", worktree_id="wt")
    assert row["status"] == "idle"
    assert row["mode"] == "execute"
    assert row["provider"] == "claude"


def test_an_account_inserted_with_raw_sql_gets_the_defaults(db: Database) -> None:
    row = _insert_minimal(db, "accounts", email="a@example.com")
    assert row["provider"] == "claude"
    assert _bool(row["is_exhausted"]) is False
    assert row["sort_order"] == 0
    assert row["last_used_at"] is None


def test_a_project_inserted_with_raw_sql_gets_the_defaults(db: Database) -> None:
    row = _insert_minimal(db, "projects", name="cw", url="https://example.com/cw.git")
    assert row["default_branch"] == "main"


def test_a_proposal_inserted_with_raw_sql_gets_the_defaults(db: Database) -> None:
    initiative = _insert_minimal(db, "initiatives", name="Auth")
    agent = _insert_minimal(db, "agents", name="brave-otter", worktree_id="wt")
    row = _insert_minimal(
        db,
        "proposals",
        agent_id=agent["id"],
        initiative_id=initiative["id"],
        target_type="page",
        title="t",
    )
    assert row["status"] == "pending"
    assert row["sort_order"] == 0


def test_a_chat_session_inserted_with_raw_sql_gets_the_defaults(db: Database) -> None:
    initiative = _insert_minimal(db, "initiatives", name="Auth")
    row = _insert_minimal(
        db, "chat_sessions", target_type="phase", target_id="x", initiative_id=initiative["id"]
    )
    assert row["status"] == "active"


def test_a_review_comment_inserted_with_raw_sql_gets_the_defaults(db: Database) -> None:
    initiative = _insert_minimal(db, "initiatives", name="Auth")
    phase = _insert_minimal(db, "phases", initiative_id=initiative["id"], name="Design")
    row = _insert_minimal(
        db,
        "review_comments",
        phase_id=phase["id"],
        file_path="a.py",
        line_number=1,
        line_type="context",
        body="?",
    )
    assert row["author"] == "you"
    assert _bool(row["resolved"]) is False


def test_a_message_inserted_with_raw_sql_gets_the_defaults(db: Database) -> None:
    row = _insert_minimal(db, "messages", sender_type="user", recipient_type="agent", content="hi")
    assert row["type"] == "info"
    assert row["status"] == "pending"
    assert _bool(row["requires_response"]) is False


def test_a_log_chunk_inserted_with_raw_sql_starts_at_session_one(db: Database) -> None:
    row = _insert_minimal(db, "agent_log_chunks", agent_id="a", agent_name="n", content="c", seq=1)
    assert row["session_number"] == 1


# --- storage formats --------------------------------------------------------------------


def test_timestamps_are_stored_as_integer_epoch_milliseconds(db: Database) -> None:
    rows = one_of_everything(db)
    before = now_ms()
    with db.engine.connect() as connection:
        for table in metadata.sorted_tables:
            if table.name in OUTBOX_TABLES:  # keyed by seq; see tests/services/test_events.py
                continue
            stamps = [c.name for c in table.columns if c.name.endswith("_at")]
            for stamp in stamps:
                value = connection.execute(
                    sa.text(f"SELECT {stamp} FROM {table.name} WHERE id = :id"),
                    {"id": rows[table.name]},
                ).scalar()
                if value is None:
                    continue
                assert type(value) is int, f"{table.name}.{stamp} is {type(value).__name__}"
                assert abs(value - before) < 60_000, f"{table.name}.{stamp}={value}"


def test_a_fresh_created_at_is_within_a_second_of_now(db: Database) -> None:
    before = time.time() * 1000
    initiative = db.initiatives.create(name="Auth")
    after = time.time() * 1000
    with db.engine.connect() as connection:
        created_at = connection.execute(
            sa.text("SELECT created_at FROM initiatives WHERE id = :id"), {"id": initiative.id}
        ).scalar()
    assert isinstance(created_at, int)
    assert before - 1000 <= created_at <= after + 1000
    assert created_at == round(initiative.created_at.timestamp() * 1000)


def test_timestamp_columns_are_integers_in_the_database(db: Database) -> None:
    inspector = sa.inspect(db.engine)
    for table in metadata.sorted_tables:
        for column in inspector.get_columns(table.name):
            if column["name"].endswith("_at"):
                assert isinstance(column["type"], sa.Integer), (table.name, column["type"])


def test_booleans_are_stored_as_0_and_1_on_sqlite(db: Database, backend: str) -> None:
    initiative = db.initiatives.create(name="Auth", merge_requires_approval=False)
    other = db.initiatives.create(name="Billing")
    with db.engine.connect() as connection:
        stored = dict(
            connection.execute(sa.text("SELECT id, merge_requires_approval FROM initiatives")).all()
        )
        if backend == "sqlite":
            types = dict(
                connection.execute(
                    sa.text("SELECT id, typeof(merge_requires_approval) FROM initiatives")
                ).all()
            )
            assert set(types.values()) == {"integer"}
    if backend == "sqlite":
        assert stored == {initiative.id: 0, other.id: 1}
    else:
        assert stored == {initiative.id: False, other.id: True}


NANOID = re.compile(r"^[A-Za-z0-9_-]{21}$")


def test_ids_are_21_character_nanoids(db: Database) -> None:
    one_of_everything(db)
    with db.engine.connect() as connection:
        for table in metadata.sorted_tables:
            if table.name in OUTBOX_TABLES | SETTINGS_TABLES | LEASE_TABLES:  # seq or name
                continue
            ids = connection.execute(sa.text(f"SELECT id FROM {table.name}")).scalars().all()
            assert ids, table.name
            for value in ids:
                assert NANOID.match(value), f"{table.name}.id {value!r}"
            assert len(set(ids)) == len(ids)
