"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-25 12:49:56.531069
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("provider", sa.Text(), server_default=sa.text("'claude'"), nullable=False),
        sa.Column("config_json", sa.Text(), nullable=True),
        sa.Column("credentials", sa.Text(), nullable=True),
        sa.Column("is_exhausted", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("exhausted_until", sa.BigInteger(), nullable=True),
        sa.Column("last_used_at", sa.BigInteger(), nullable=True),
        sa.Column("sort_order", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
    )
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_accounts_provider"), ["provider"], unique=False)

    op.create_table(
        "agent_log_chunks",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("agent_id", sa.Text(), nullable=False),
        sa.Column("agent_name", sa.Text(), nullable=False),
        sa.Column("session_number", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_log_chunks")),
        sa.UniqueConstraint("seq", name=op.f("uq_agent_log_chunks_seq")),
    )
    with op.batch_alter_table("agent_log_chunks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_agent_log_chunks_agent_id_seq"), ["agent_id", "seq"], unique=False
        )

    op.create_table(
        "initiatives",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default=sa.text("'active'"), nullable=False),
        sa.Column(
            "merge_requires_approval", sa.Boolean(), server_default=sa.true(), nullable=False
        ),
        sa.Column("branch", sa.Text(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "status IN ('active', 'pending_review', 'completed', 'archived')",
            name=op.f("ck_initiatives_status_enum"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_initiatives")),
    )
    with op.batch_alter_table("initiatives", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_initiatives_status"), ["status"], unique=False)

    op.create_table(
        "projects",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("default_branch", sa.Text(), server_default=sa.text("'main'"), nullable=False),
        sa.Column("last_fetched_at", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projects")),
        sa.UniqueConstraint("name", name=op.f("uq_projects_name")),
        sa.UniqueConstraint("url", name=op.f("uq_projects_url")),
    )
    op.create_table(
        "initiative_projects",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("initiative_id", sa.Text(), nullable=False),
        sa.Column("project_id", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["initiative_id"],
            ["initiatives.id"],
            name=op.f("fk_initiative_projects_initiative_id_initiatives"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_initiative_projects_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_initiative_projects")),
        sa.UniqueConstraint(
            "initiative_id",
            "project_id",
            name=op.f("uq_initiative_projects_initiative_id_project_id"),
        ),
    )
    with op.batch_alter_table("initiative_projects", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_initiative_projects_project_id"), ["project_id"], unique=False
        )

    op.create_table(
        "pages",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("initiative_id", sa.Text(), nullable=False),
        sa.Column("parent_page_id", sa.Text(), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("content", sa.Text(), nullable=True),
        sa.Column("sort_order", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["initiative_id"],
            ["initiatives.id"],
            name=op.f("fk_pages_initiative_id_initiatives"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["parent_page_id"],
            ["pages.id"],
            name=op.f("fk_pages_parent_page_id_pages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pages")),
    )
    with op.batch_alter_table("pages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pages_initiative_id"), ["initiative_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_pages_parent_page_id"), ["parent_page_id"], unique=False
        )
        batch_op.create_index(
            "uq_pages_root_per_initiative",
            ["initiative_id"],
            unique=True,
            sqlite_where=sa.text("parent_page_id IS NULL"),
            postgresql_where=sa.text("parent_page_id IS NULL"),
        )

    op.create_table(
        "phases",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("initiative_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("content", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), server_default=sa.text("'pending'"), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'in_progress', 'completed', 'blocked')",
            name=op.f("ck_phases_status_enum"),
        ),
        sa.ForeignKeyConstraint(
            ["initiative_id"],
            ["initiatives.id"],
            name=op.f("fk_phases_initiative_id_initiatives"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_phases")),
    )
    with op.batch_alter_table("phases", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_phases_initiative_id"), ["initiative_id"], unique=False
        )

    op.create_table(
        "phase_dependencies",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("phase_id", sa.Text(), nullable=False),
        sa.Column("depends_on_phase_id", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["depends_on_phase_id"],
            ["phases.id"],
            name=op.f("fk_phase_dependencies_depends_on_phase_id_phases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["phase_id"],
            ["phases.id"],
            name=op.f("fk_phase_dependencies_phase_id_phases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_phase_dependencies")),
        sa.UniqueConstraint(
            "phase_id",
            "depends_on_phase_id",
            name=op.f("uq_phase_dependencies_phase_id_depends_on_phase_id"),
        ),
    )
    with op.batch_alter_table("phase_dependencies", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_phase_dependencies_depends_on_phase_id"),
            ["depends_on_phase_id"],
            unique=False,
        )

    op.create_table(
        "review_comments",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("phase_id", sa.Text(), nullable=False),
        sa.Column("file_path", sa.Text(), nullable=False),
        sa.Column("line_number", sa.Integer(), nullable=False),
        sa.Column("line_type", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("author", sa.Text(), server_default=sa.text("'you'"), nullable=False),
        sa.Column("resolved", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "line_type IN ('added', 'removed', 'context')",
            name=op.f("ck_review_comments_line_type_enum"),
        ),
        sa.ForeignKeyConstraint(
            ["phase_id"],
            ["phases.id"],
            name=op.f("fk_review_comments_phase_id_phases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_comments")),
    )
    with op.batch_alter_table("review_comments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_review_comments_phase_id"), ["phase_id"], unique=False)

    op.create_table(
        "tasks",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("phase_id", sa.Text(), nullable=True),
        sa.Column("initiative_id", sa.Text(), nullable=True),
        sa.Column("parent_task_id", sa.Text(), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("type", sa.Text(), server_default=sa.text("'auto'"), nullable=False),
        sa.Column("category", sa.Text(), server_default=sa.text("'execute'"), nullable=False),
        sa.Column("priority", sa.Text(), server_default=sa.text("'medium'"), nullable=False),
        sa.Column("status", sa.Text(), server_default=sa.text("'pending'"), nullable=False),
        sa.Column("requires_approval", sa.Boolean(), nullable=True),
        sa.Column("order", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "category IN ('execute', 'research', 'discuss', 'plan', 'detail', 'refine', 'verify', 'merge', 'review')",
            name=op.f("ck_tasks_category_enum"),
        ),
        sa.CheckConstraint(
            "priority IN ('low', 'medium', 'high')", name=op.f("ck_tasks_priority_enum")
        ),
        sa.CheckConstraint(
            "status IN ('pending_approval', 'pending', 'in_progress', 'completed', 'blocked')",
            name=op.f("ck_tasks_status_enum"),
        ),
        sa.CheckConstraint(
            "type IN ('auto', 'checkpoint:human-verify', 'checkpoint:decision', 'checkpoint:human-action')",
            name=op.f("ck_tasks_type_enum"),
        ),
        sa.ForeignKeyConstraint(
            ["initiative_id"],
            ["initiatives.id"],
            name=op.f("fk_tasks_initiative_id_initiatives"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["parent_task_id"],
            ["tasks.id"],
            name=op.f("fk_tasks_parent_task_id_tasks"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["phase_id"], ["phases.id"], name=op.f("fk_tasks_phase_id_phases"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
    )
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tasks_initiative_id"), ["initiative_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_tasks_parent_task_id"), ["parent_task_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_tasks_phase_id"), ["phase_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_tasks_status"), ["status"], unique=False)

    op.create_table(
        "agents",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("task_id", sa.Text(), nullable=True),
        sa.Column("initiative_id", sa.Text(), nullable=True),
        sa.Column("session_id", sa.Text(), nullable=True),
        sa.Column("worktree_id", sa.Text(), nullable=False),
        sa.Column("provider", sa.Text(), server_default=sa.text("'claude'"), nullable=False),
        sa.Column("account_id", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), server_default=sa.text("'idle'"), nullable=False),
        sa.Column("mode", sa.Text(), server_default=sa.text("'execute'"), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.Column("output_file_path", sa.Text(), nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("pending_questions", sa.Text(), nullable=True),
        sa.Column("user_dismissed_at", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "mode IN ('execute', 'discuss', 'plan', 'detail', 'refine')",
            name=op.f("ck_agents_mode_enum"),
        ),
        sa.CheckConstraint(
            "status IN ('idle', 'running', 'waiting_for_input', 'stopped', 'crashed')",
            name=op.f("ck_agents_status_enum"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_agents_account_id_accounts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["initiative_id"],
            ["initiatives.id"],
            name=op.f("fk_agents_initiative_id_initiatives"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name=op.f("fk_agents_task_id_tasks"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agents")),
        sa.UniqueConstraint("name", name=op.f("uq_agents_name")),
    )
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_agents_account_id"), ["account_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_agents_initiative_id"), ["initiative_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_agents_session_id"), ["session_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_agents_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_agents_task_id"), ["task_id"], unique=False)

    op.create_table(
        "task_dependencies",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("task_id", sa.Text(), nullable=False),
        sa.Column("depends_on_task_id", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["depends_on_task_id"],
            ["tasks.id"],
            name=op.f("fk_task_dependencies_depends_on_task_id_tasks"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["tasks.id"],
            name=op.f("fk_task_dependencies_task_id_tasks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_dependencies")),
        sa.UniqueConstraint(
            "task_id",
            "depends_on_task_id",
            name=op.f("uq_task_dependencies_task_id_depends_on_task_id"),
        ),
    )
    with op.batch_alter_table("task_dependencies", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_task_dependencies_depends_on_task_id"),
            ["depends_on_task_id"],
            unique=False,
        )

    op.create_table(
        "change_sets",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("initiative_id", sa.Text(), nullable=False),
        sa.Column("agent_id", sa.Text(), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), server_default=sa.text("'applied'"), nullable=False),
        sa.Column("reverted_at", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "status IN ('applied', 'reverted')", name=op.f("ck_change_sets_status_enum")
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_change_sets_agent_id_agents"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["initiative_id"],
            ["initiatives.id"],
            name=op.f("fk_change_sets_initiative_id_initiatives"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_sets")),
    )
    with op.batch_alter_table("change_sets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_change_sets_agent_id"), ["agent_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_change_sets_initiative_id"), ["initiative_id"], unique=False
        )

    op.create_table(
        "chat_sessions",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("target_type", sa.Text(), nullable=False),
        sa.Column("target_id", sa.Text(), nullable=False),
        sa.Column("initiative_id", sa.Text(), nullable=False),
        sa.Column("agent_id", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), server_default=sa.text("'active'"), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "status IN ('active', 'closed')", name=op.f("ck_chat_sessions_status_enum")
        ),
        sa.CheckConstraint(
            "target_type IN ('phase', 'task')", name=op.f("ck_chat_sessions_target_type_enum")
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_chat_sessions_agent_id_agents"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["initiative_id"],
            ["initiatives.id"],
            name=op.f("fk_chat_sessions_initiative_id_initiatives"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_sessions")),
    )
    with op.batch_alter_table("chat_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chat_sessions_agent_id"), ["agent_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_chat_sessions_initiative_id"), ["initiative_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_chat_sessions_target_type_target_id"),
            ["target_type", "target_id"],
            unique=False,
        )

    op.create_table(
        "conversations",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("from_agent_id", sa.Text(), nullable=False),
        sa.Column("to_agent_id", sa.Text(), nullable=False),
        sa.Column("initiative_id", sa.Text(), nullable=True),
        sa.Column("phase_id", sa.Text(), nullable=True),
        sa.Column("task_id", sa.Text(), nullable=True),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), server_default=sa.text("'pending'"), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'answered')", name=op.f("ck_conversations_status_enum")
        ),
        sa.ForeignKeyConstraint(
            ["from_agent_id"],
            ["agents.id"],
            name=op.f("fk_conversations_from_agent_id_agents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["initiative_id"],
            ["initiatives.id"],
            name=op.f("fk_conversations_initiative_id_initiatives"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["phase_id"],
            ["phases.id"],
            name=op.f("fk_conversations_phase_id_phases"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["tasks.id"],
            name=op.f("fk_conversations_task_id_tasks"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["to_agent_id"],
            ["agents.id"],
            name=op.f("fk_conversations_to_agent_id_agents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversations")),
    )
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_conversations_from_agent_id"), ["from_agent_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_conversations_initiative_id"), ["initiative_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_conversations_phase_id"), ["phase_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_conversations_task_id"), ["task_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_conversations_to_agent_id_status"),
            ["to_agent_id", "status"],
            unique=False,
        )

    op.create_table(
        "messages",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("sender_type", sa.Text(), nullable=False),
        sa.Column("sender_id", sa.Text(), nullable=True),
        sa.Column("recipient_type", sa.Text(), nullable=False),
        sa.Column("recipient_id", sa.Text(), nullable=True),
        sa.Column("type", sa.Text(), server_default=sa.text("'info'"), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("requires_response", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("status", sa.Text(), server_default=sa.text("'pending'"), nullable=False),
        sa.Column("parent_message_id", sa.Text(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "recipient_type IN ('agent', 'user')", name=op.f("ck_messages_recipient_type_enum")
        ),
        sa.CheckConstraint(
            "sender_type IN ('agent', 'user')", name=op.f("ck_messages_sender_type_enum")
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'read', 'responded')", name=op.f("ck_messages_status_enum")
        ),
        sa.CheckConstraint(
            "type IN ('question', 'info', 'error', 'response')", name=op.f("ck_messages_type_enum")
        ),
        sa.ForeignKeyConstraint(
            ["parent_message_id"],
            ["messages.id"],
            name=op.f("fk_messages_parent_message_id_messages"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["recipient_id"],
            ["agents.id"],
            name=op.f("fk_messages_recipient_id_agents"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["sender_id"],
            ["agents.id"],
            name=op.f("fk_messages_sender_id_agents"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
    )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_messages_parent_message_id"), ["parent_message_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_messages_recipient_id"), ["recipient_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_messages_recipient_type_status"),
            ["recipient_type", "status"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_messages_sender_id"), ["sender_id"], unique=False)

    op.create_table(
        "proposals",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("agent_id", sa.Text(), nullable=False),
        sa.Column("initiative_id", sa.Text(), nullable=False),
        sa.Column("target_type", sa.Text(), nullable=False),
        sa.Column("target_id", sa.Text(), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("content", sa.Text(), nullable=True),
        sa.Column("metadata", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), server_default=sa.text("'pending'"), nullable=False),
        sa.Column("sort_order", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'accepted', 'dismissed')", name=op.f("ck_proposals_status_enum")
        ),
        sa.CheckConstraint(
            "target_type IN ('page', 'phase', 'task')", name=op.f("ck_proposals_target_type_enum")
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_proposals_agent_id_agents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["initiative_id"],
            ["initiatives.id"],
            name=op.f("fk_proposals_initiative_id_initiatives"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proposals")),
    )
    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_proposals_agent_id_status"), ["agent_id", "status"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_proposals_initiative_id"), ["initiative_id"], unique=False
        )

    op.create_table(
        "change_set_entries",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("change_set_id", sa.Text(), nullable=False),
        sa.Column("entity_type", sa.Text(), nullable=False),
        sa.Column("entity_id", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("previous_state", sa.Text(), nullable=True),
        sa.Column("new_state", sa.Text(), nullable=True),
        sa.Column("sort_order", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "action IN ('create', 'update', 'delete')",
            name=op.f("ck_change_set_entries_action_enum"),
        ),
        sa.CheckConstraint(
            "entity_type IN ('page', 'phase', 'task')",
            name=op.f("ck_change_set_entries_entity_type_enum"),
        ),
        sa.ForeignKeyConstraint(
            ["change_set_id"],
            ["change_sets.id"],
            name=op.f("fk_change_set_entries_change_set_id_change_sets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_set_entries")),
    )
    with op.batch_alter_table("change_set_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_change_set_entries_change_set_id"), ["change_set_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_change_set_entries_entity_type_entity_id"),
            ["entity_type", "entity_id"],
            unique=False,
        )

    op.create_table(
        "chat_messages",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("chat_session_id", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("change_set_id", sa.Text(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "role IN ('user', 'assistant', 'system')", name=op.f("ck_chat_messages_role_enum")
        ),
        sa.ForeignKeyConstraint(
            ["change_set_id"],
            ["change_sets.id"],
            name=op.f("fk_chat_messages_change_set_id_change_sets"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["chat_session_id"],
            ["chat_sessions.id"],
            name=op.f("fk_chat_messages_chat_session_id_chat_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_messages")),
    )
    with op.batch_alter_table("chat_messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_chat_messages_change_set_id"), ["change_set_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_chat_messages_chat_session_id"), ["chat_session_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("chat_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chat_messages_chat_session_id"))
        batch_op.drop_index(batch_op.f("ix_chat_messages_change_set_id"))

    op.drop_table("chat_messages")
    with op.batch_alter_table("change_set_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_change_set_entries_entity_type_entity_id"))
        batch_op.drop_index(batch_op.f("ix_change_set_entries_change_set_id"))

    op.drop_table("change_set_entries")
    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_proposals_initiative_id"))
        batch_op.drop_index(batch_op.f("ix_proposals_agent_id_status"))

    op.drop_table("proposals")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_messages_sender_id"))
        batch_op.drop_index(batch_op.f("ix_messages_recipient_type_status"))
        batch_op.drop_index(batch_op.f("ix_messages_recipient_id"))
        batch_op.drop_index(batch_op.f("ix_messages_parent_message_id"))

    op.drop_table("messages")
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_conversations_to_agent_id_status"))
        batch_op.drop_index(batch_op.f("ix_conversations_task_id"))
        batch_op.drop_index(batch_op.f("ix_conversations_phase_id"))
        batch_op.drop_index(batch_op.f("ix_conversations_initiative_id"))
        batch_op.drop_index(batch_op.f("ix_conversations_from_agent_id"))

    op.drop_table("conversations")
    with op.batch_alter_table("chat_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chat_sessions_target_type_target_id"))
        batch_op.drop_index(batch_op.f("ix_chat_sessions_initiative_id"))
        batch_op.drop_index(batch_op.f("ix_chat_sessions_agent_id"))

    op.drop_table("chat_sessions")
    with op.batch_alter_table("change_sets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_change_sets_initiative_id"))
        batch_op.drop_index(batch_op.f("ix_change_sets_agent_id"))

    op.drop_table("change_sets")
    with op.batch_alter_table("task_dependencies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_task_dependencies_depends_on_task_id"))

    op.drop_table("task_dependencies")
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agents_task_id"))
        batch_op.drop_index(batch_op.f("ix_agents_status"))
        batch_op.drop_index(batch_op.f("ix_agents_session_id"))
        batch_op.drop_index(batch_op.f("ix_agents_initiative_id"))
        batch_op.drop_index(batch_op.f("ix_agents_account_id"))

    op.drop_table("agents")
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tasks_status"))
        batch_op.drop_index(batch_op.f("ix_tasks_phase_id"))
        batch_op.drop_index(batch_op.f("ix_tasks_parent_task_id"))
        batch_op.drop_index(batch_op.f("ix_tasks_initiative_id"))

    op.drop_table("tasks")
    with op.batch_alter_table("review_comments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_review_comments_phase_id"))

    op.drop_table("review_comments")
    with op.batch_alter_table("phase_dependencies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_phase_dependencies_depends_on_phase_id"))

    op.drop_table("phase_dependencies")
    with op.batch_alter_table("phases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_phases_initiative_id"))

    op.drop_table("phases")
    with op.batch_alter_table("pages", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_pages_root_per_initiative",
            sqlite_where=sa.text("parent_page_id IS NULL"),
            postgresql_where=sa.text("parent_page_id IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_pages_parent_page_id"))
        batch_op.drop_index(batch_op.f("ix_pages_initiative_id"))

    op.drop_table("pages")
    with op.batch_alter_table("initiative_projects", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_initiative_projects_project_id"))

    op.drop_table("initiative_projects")
    op.drop_table("projects")
    with op.batch_alter_table("initiatives", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_initiatives_status"))

    op.drop_table("initiatives")
    with op.batch_alter_table("agent_log_chunks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agent_log_chunks_agent_id_seq"))

    op.drop_table("agent_log_chunks")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_accounts_provider"))

    op.drop_table("accounts")
