"""Every table, column, constraint and index of the Codewalkers database, in one place.

The same ``MetaData`` serves SQLite and PostgreSQL. Timestamps are INTEGER epoch milliseconds,
ids 21-character nanoids, enums text columns guarded by CHECK constraints. Constraints carry
names (see ``NAMING_CONVENTION``) so that Alembic batch migrations on SQLite can alter them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlalchemy import column as column_clause
from sqlalchemy import table as table_clause

from codewalkers.db import enums as e
from codewalkers.db.types import EnumText, JSONText, Millis, TiptapJSON

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _id() -> Column[str]:
    return Column("id", Text, primary_key=True)


def _fk(
    name: str, target: str, *, on_delete: str, nullable: bool = True, index: bool = False
) -> Column[str]:
    return Column(
        name, Text, ForeignKey(target, ondelete=on_delete), nullable=nullable, index=index
    )


def _enum(name: str, enum: type[StrEnum], default: StrEnum | None = None) -> Column[Any]:
    """An enum column; its CHECK constraint is added by :func:`_table`."""
    column: Column[Any] = Column(
        name,
        EnumText(enum),
        nullable=False,
        server_default=None if default is None else text(f"'{default.value}'"),
    )
    column.info["enum"] = enum
    return column


def _timestamps() -> list[Column[Any]]:
    return [
        Column("created_at", Millis, nullable=False),
        Column("updated_at", Millis, nullable=False),
    ]


def _table(name: str, *items: Any) -> Table:
    """A table, with a named CHECK constraint for each of its enum columns."""
    table = Table(name, metadata, *items)
    for column in table.columns:
        enum = column.info.get("enum")
        if enum is not None:
            allowed = ", ".join(f"'{member.value}'" for member in enum)
            table.append_constraint(
                CheckConstraint(f"{column.name} IN ({allowed})", name=f"{column.name}_enum")
            )
    return table


initiatives = _table(
    "initiatives",
    _id(),
    Column("name", Text, nullable=False),
    _enum("status", e.InitiativeStatus, e.InitiativeStatus.ACTIVE),
    Column("merge_requires_approval", Boolean, nullable=False, server_default=true()),
    Column("branch", Text),
    *_timestamps(),
    Index(None, "status"),
)

phases = _table(
    "phases",
    _id(),
    _fk("initiative_id", "initiatives.id", on_delete="CASCADE", nullable=False, index=True),
    Column("name", Text, nullable=False),
    Column("content", TiptapJSON),
    _enum("status", e.PhaseStatus, e.PhaseStatus.PENDING),
    *_timestamps(),
)

phase_dependencies = _table(
    "phase_dependencies",
    _id(),
    _fk("phase_id", "phases.id", on_delete="CASCADE", nullable=False),
    _fk("depends_on_phase_id", "phases.id", on_delete="CASCADE", nullable=False, index=True),
    Column("created_at", Millis, nullable=False),
    UniqueConstraint("phase_id", "depends_on_phase_id"),
)

tasks = _table(
    "tasks",
    _id(),
    _fk("phase_id", "phases.id", on_delete="CASCADE", index=True),
    # Indexed by (initiative_id, status) below, which serves lookups by initiative_id alone.
    _fk("initiative_id", "initiatives.id", on_delete="CASCADE"),
    _fk("parent_task_id", "tasks.id", on_delete="CASCADE", index=True),
    Column("name", Text, nullable=False),
    Column("description", Text),
    _enum("type", e.TaskType, e.TaskType.AUTO),
    _enum("category", e.TaskCategory, e.TaskCategory.EXECUTE),
    _enum("priority", e.TaskPriority, e.TaskPriority.MEDIUM),
    _enum("status", e.TaskStatus, e.TaskStatus.PENDING),
    Column("requires_approval", Boolean),
    Column("order", Integer, nullable=False, server_default=text("0")),
    Column("summary", Text),
    *_timestamps(),
    # Not in the seed (migration 0010): the provider the executor dispatches this task to;
    # null takes the workspace's ``[dispatch] provider``. After the timestamps, as the
    # record's fields (rows become records by position).
    Column("provider", Text),
    Index(None, "status"),
    # find_ready: one initiative's pending tasks, without reading every initiative's.
    Index(None, "initiative_id", "status"),
)

task_dependencies = _table(
    "task_dependencies",
    _id(),
    _fk("task_id", "tasks.id", on_delete="CASCADE", nullable=False),
    _fk("depends_on_task_id", "tasks.id", on_delete="CASCADE", nullable=False, index=True),
    Column("created_at", Millis, nullable=False),
    UniqueConstraint("task_id", "depends_on_task_id"),
)

accounts = _table(
    "accounts",
    _id(),
    Column("email", Text, nullable=False),
    Column("provider", Text, nullable=False, server_default=text("'claude'")),
    Column("config_json", Text),
    Column("credentials", Text),
    Column("is_exhausted", Boolean, nullable=False, server_default=false()),
    Column("exhausted_until", Millis),
    Column("last_used_at", Millis),
    Column("sort_order", Integer, nullable=False, server_default=text("0")),
    *_timestamps(),
    Index(None, "provider"),
)

agents = _table(
    "agents",
    _id(),
    Column("name", Text, nullable=False, unique=True),
    _fk("task_id", "tasks.id", on_delete="SET NULL", index=True),
    _fk("initiative_id", "initiatives.id", on_delete="SET NULL", index=True),
    Column("session_id", Text, index=True),
    Column("worktree_id", Text, nullable=False),
    Column("provider", Text, nullable=False, server_default=text("'claude'")),
    _fk("account_id", "accounts.id", on_delete="SET NULL", index=True),
    _enum("status", e.AgentStatus, e.AgentStatus.IDLE),
    _enum("mode", e.AgentMode, e.AgentMode.EXECUTE),
    Column("pid", Integer),
    Column("exit_code", Integer),
    Column("output_file_path", Text),
    Column("result", JSONText),
    Column("pending_questions", JSONText),
    Column("user_dismissed_at", Millis),
    *_timestamps(),
    # The runtime's bookkeeping (migration 0005): which provider session run is current
    # (spawn = 1, each resume + 1), how far its output file has been stored (bytes), the
    # process's start time (with pid, its identity across a coordinator restart), and why
    # the agent is in its status (e.g. waiting for an account, hung, stopped by the user).
    Column("session_number", Integer, nullable=False, server_default=text("1")),
    Column("output_offset", BigInteger, nullable=False, server_default=text("0")),
    Column("process_started_at", Millis),
    Column("status_reason", Text),
    # The workspace whose coordinator runs it: coordinators sharing one PostgreSQL database
    # reconcile only their own agents' processes.
    Column("workspace_id", Text),
    Index(None, "status"),
)

proposals = _table(
    "proposals",
    _id(),
    _fk("agent_id", "agents.id", on_delete="CASCADE", nullable=False),
    _fk("initiative_id", "initiatives.id", on_delete="CASCADE", nullable=False, index=True),
    _enum("target_type", e.ProposalTargetType),
    Column("target_id", Text),
    Column("title", Text, nullable=False),
    Column("summary", Text),
    Column("content", Text),
    Column("metadata", JSONText),
    _enum("status", e.ProposalStatus, e.ProposalStatus.PENDING),
    Column("sort_order", Integer, nullable=False, server_default=text("0")),
    *_timestamps(),
    Index(None, "agent_id", "status"),
)

pages = _table(
    "pages",
    _id(),
    _fk("initiative_id", "initiatives.id", on_delete="CASCADE", nullable=False, index=True),
    _fk("parent_page_id", "pages.id", on_delete="CASCADE", index=True),
    Column("title", Text, nullable=False),
    Column("content", TiptapJSON),
    Column("sort_order", Integer, nullable=False, server_default=text("0")),
    *_timestamps(),
    # At most one root page (parent_page_id IS NULL) per initiative.
    Index(
        "uq_pages_root_per_initiative",
        "initiative_id",
        unique=True,
        sqlite_where=text("parent_page_id IS NULL"),
        postgresql_where=text("parent_page_id IS NULL"),
    ),
)

projects = _table(
    "projects",
    _id(),
    Column("name", Text, nullable=False, unique=True),
    Column("url", Text, nullable=False, unique=True),
    Column("default_branch", Text, nullable=False, server_default=text("'main'")),
    Column("last_fetched_at", Millis),
    *_timestamps(),
)

initiative_projects = _table(
    "initiative_projects",
    _id(),
    _fk("initiative_id", "initiatives.id", on_delete="CASCADE", nullable=False),
    _fk("project_id", "projects.id", on_delete="CASCADE", nullable=False, index=True),
    Column("created_at", Millis, nullable=False),
    UniqueConstraint("initiative_id", "project_id"),
)

messages = _table(
    "messages",
    _id(),
    _enum("sender_type", e.ParticipantType),
    _fk("sender_id", "agents.id", on_delete="SET NULL", index=True),
    _enum("recipient_type", e.ParticipantType),
    _fk("recipient_id", "agents.id", on_delete="SET NULL", index=True),
    _enum("type", e.MessageType, e.MessageType.INFO),
    Column("content", Text, nullable=False),
    Column("requires_response", Boolean, nullable=False, server_default=false()),
    _enum("status", e.MessageStatus, e.MessageStatus.PENDING),
    _fk("parent_message_id", "messages.id", on_delete="SET NULL", index=True),
    *_timestamps(),
    Index(None, "recipient_type", "status"),
)

agent_log_chunks = _table(
    "agent_log_chunks",
    _id(),
    Column("agent_id", Text, nullable=False),  # no foreign key: logs outlive their agent
    Column("agent_name", Text, nullable=False),
    Column("session_number", Integer, nullable=False, server_default=text("1")),
    Column("content", Text, nullable=False),
    Column("created_at", Millis, nullable=False),
    # Insertion order: an identity on PostgreSQL, assigned in the insert itself on SQLite.
    Column("seq", BigInteger, Identity(), nullable=False, unique=True),
    Index(None, "agent_id", "seq"),
)

conversations = _table(
    "conversations",
    _id(),
    _fk("from_agent_id", "agents.id", on_delete="CASCADE", nullable=False, index=True),
    _fk("to_agent_id", "agents.id", on_delete="CASCADE", nullable=False),
    _fk("initiative_id", "initiatives.id", on_delete="SET NULL", index=True),
    _fk("phase_id", "phases.id", on_delete="SET NULL", index=True),
    _fk("task_id", "tasks.id", on_delete="SET NULL", index=True),
    Column("question", Text, nullable=False),
    Column("answer", Text),
    _enum("status", e.ConversationStatus, e.ConversationStatus.PENDING),
    *_timestamps(),
    Index(None, "to_agent_id", "status"),
)

chat_sessions = _table(
    "chat_sessions",
    _id(),
    _enum("target_type", e.ChatTargetType),
    Column("target_id", Text, nullable=False),
    _fk("initiative_id", "initiatives.id", on_delete="CASCADE", nullable=False, index=True),
    _fk("agent_id", "agents.id", on_delete="SET NULL", index=True),
    _enum("status", e.ChatSessionStatus, e.ChatSessionStatus.ACTIVE),
    *_timestamps(),
    Index(None, "target_type", "target_id"),
)

change_sets = _table(
    "change_sets",
    _id(),
    _fk("initiative_id", "initiatives.id", on_delete="CASCADE", nullable=False, index=True),
    _fk("agent_id", "agents.id", on_delete="SET NULL", index=True),
    Column("summary", Text),
    _enum("status", e.ChangeSetStatus, e.ChangeSetStatus.APPLIED),
    Column("reverted_at", Millis),
    *_timestamps(),
)

change_set_entries = _table(
    "change_set_entries",
    _id(),
    _fk("change_set_id", "change_sets.id", on_delete="CASCADE", nullable=False, index=True),
    _enum("entity_type", e.ChangeEntityType),
    Column("entity_id", Text, nullable=False),
    _enum("action", e.ChangeAction),
    Column("previous_state", JSONText),
    Column("new_state", JSONText),
    Column("sort_order", Integer, nullable=False, server_default=text("0")),
    Column("created_at", Millis, nullable=False),
    Index(None, "entity_type", "entity_id"),
)

chat_messages = _table(
    "chat_messages",
    _id(),
    _fk("chat_session_id", "chat_sessions.id", on_delete="CASCADE", nullable=False, index=True),
    _enum("role", e.ChatRole),
    Column("content", Text, nullable=False),
    _fk("change_set_id", "change_sets.id", on_delete="SET NULL", index=True),
    Column("created_at", Millis, nullable=False),
)

review_comments = _table(
    "review_comments",
    _id(),
    _fk("phase_id", "phases.id", on_delete="CASCADE", nullable=False, index=True),
    Column("file_path", Text, nullable=False),
    Column("line_number", Integer, nullable=False),
    _enum("line_type", e.ReviewLineType),
    Column("body", Text, nullable=False),
    Column("author", Text, nullable=False, server_default=text("'you'")),
    Column("resolved", Boolean, nullable=False, server_default=false()),
    *_timestamps(),
)

# Execution (migration 0008). An initiative that was executed once has one row: whether its
# ready work is dispatched (running) or held (paused).
executions = _table(
    "executions",
    _id(),
    _fk("initiative_id", "initiatives.id", on_delete="CASCADE", nullable=False),
    _enum("state", e.ExecutionState, e.ExecutionState.RUNNING),
    *_timestamps(),
    UniqueConstraint("initiative_id"),
)

# A task in the executor's hands: its state, how often it was given to an agent, when it may
# be retried, which workspace's coordinator dispatched it and to which agent, why it waits or
# was given up on, the merge commit that brought its branch into the phase branch, and how
# often its agent was asked to resolve a merge conflict.
dispatches = _table(
    "dispatches",
    _id(),
    _fk("task_id", "tasks.id", on_delete="CASCADE", nullable=False),
    _fk("initiative_id", "initiatives.id", on_delete="CASCADE", nullable=False, index=True),
    _enum("state", e.DispatchState, e.DispatchState.QUEUED),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("retry_after", Millis),
    Column("workspace_id", Text),
    _fk("agent_id", "agents.id", on_delete="SET NULL", index=True),
    Column("reason", Text),
    Column("merge_commit", Text),
    # How often its agent was resumed to resolve a merge conflict.
    Column("resolutions", Integer, nullable=False, server_default=text("0")),
    *_timestamps(),
    # When a person put it at the front of the queue (migration 0010, ``cw dispatch queue``).
    Column("queued_by_hand_at", Millis),
    UniqueConstraint("task_id"),
)

# Named leases that serialise work across coordinators sharing one database (e.g. merges into
# one branch): ``id`` is the name, held by ``holder`` until ``expires_at``; an expired lease
# may be taken by anyone, so a dead holder blocks nobody for long.
leases = _table(
    "leases",
    _id(),
    Column("holder", Text, nullable=False),
    Column("expires_at", Millis, nullable=False),
    *_timestamps(),
)

# Errands (migration 0009): small work on one project outside any initiative. An agent works on
# ``branch``, started from the project's default branch ``base_branch``; ``merge`` lands it on
# the default branch and pushes (``merge_commit``), ``abandon`` gives it up (docs/planning.md).
errands = _table(
    "errands",
    _id(),
    _fk("project_id", "projects.id", on_delete="CASCADE", nullable=False, index=True),
    Column("description", Text, nullable=False),
    Column("branch", Text, nullable=False),
    Column("base_branch", Text, nullable=False),
    _fk("agent_id", "agents.id", on_delete="SET NULL", index=True),
    _enum("status", e.ErrandStatus, e.ErrandStatus.ACTIVE),
    Column("merge_commit", Text),
    *_timestamps(),
)

# Facts about the database itself, one row per name (``id``). ``secret_key_check`` holds the
# key check value of the key that encrypts account secrets (never the key; see db/secrets.py).
settings = _table(
    "settings",
    _id(),
    Column("value", Text, nullable=False),
    *_timestamps(),
)

# The outbox of domain events. No foreign keys: events outlive what they describe.
# ``seq`` is never reused: AUTOINCREMENT on SQLite (not max + 1), a sequence on PostgreSQL.
events = Table(
    "events",
    metadata,
    Column(
        "seq",
        BigInteger().with_variant(Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    Column("type", Text, nullable=False),
    Column("initiative_id", Text, index=True),
    Column("entity_id", Text),
    Column("payload", JSONText, nullable=False),
    Column("created_at", Millis, nullable=False, index=True),
    sqlite_autoincrement=True,
)


# --- SQLite only, outside the models ---------------------------------------------------------

#: SQLite has no sequence, and ``agent_log_chunks.seq`` is numbered by the insert itself:
#: without a memory, deleting the newest chunks would let the next insert reuse their seq. A
#: trigger (migration 0007) keeps here the highest seq ever deleted, in one row (id 1); an
#: insert numbers past both it and the highest seq present. PostgreSQL's identity never
#: reuses a value, so the table exists only in SQLite databases and is not in ``metadata``.
agent_log_chunks_seq = table_clause(
    "agent_log_chunks_seq", column_clause("id", Integer), column_clause("deleted_seq", BigInteger)
)

#: Tables that only SQLite databases have (model comparisons and autogenerate leave them out).
SQLITE_ONLY_TABLES = frozenset({"agent_log_chunks_seq"})
