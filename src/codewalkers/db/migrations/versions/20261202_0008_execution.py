"""execution: phase status pending_review, executions, dispatches, leases

- ``phases.status`` may be ``pending_review`` (not in the seed): a phase whose tasks are all
  done waits there for a person's review before its branch is merged (docs/execution.md).
- ``executions``: whether an executed initiative's ready work is dispatched or paused.
- ``dispatches``: a task in the executor's hands (state, attempts, retry time, which
  workspace dispatched it to which agent, why it waits, its merge commit, how often its
  agent was asked to resolve a merge conflict).
- ``leases``: named, expiring locks that serialise merges across coordinators.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 12:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PHASE_STATUSES = ("pending", "approved", "in_progress", "completed", "blocked")


def _phase_check(statuses: Sequence[str]) -> str:
    return "status IN (" + ", ".join(f"'{s}'" for s in statuses) + ")"


def upgrade() -> None:
    with op.batch_alter_table("phases", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_phases_status_enum"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_phases_status_enum"), _phase_check((*PHASE_STATUSES, "pending_review"))
        )
    op.create_table(
        "executions",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("initiative_id", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), server_default=sa.text("'running'"), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("state IN ('running', 'paused')", name=op.f("ck_executions_state_enum")),
        sa.ForeignKeyConstraint(
            ["initiative_id"],
            ["initiatives.id"],
            name=op.f("fk_executions_initiative_id_initiatives"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_executions")),
        sa.UniqueConstraint("initiative_id", name=op.f("uq_executions_initiative_id")),
    )
    op.create_table(
        "dispatches",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("task_id", sa.Text(), nullable=False),
        sa.Column("initiative_id", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), server_default=sa.text("'queued'"), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("retry_after", sa.BigInteger(), nullable=True),
        sa.Column("workspace_id", sa.Text(), nullable=True),
        sa.Column("agent_id", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("merge_commit", sa.Text(), nullable=True),
        sa.Column("resolutions", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "state IN ('queued', 'dispatched', 'retrying', 'completed', 'done', "
            "'conflicted', 'blocked')",
            name=op.f("ck_dispatches_state_enum"),
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_dispatches_agent_id_agents"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["initiative_id"],
            ["initiatives.id"],
            name=op.f("fk_dispatches_initiative_id_initiatives"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["tasks.id"],
            name=op.f("fk_dispatches_task_id_tasks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispatches")),
        sa.UniqueConstraint("task_id", name=op.f("uq_dispatches_task_id")),
    )
    with op.batch_alter_table("dispatches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dispatches_agent_id"), ["agent_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_dispatches_initiative_id"), ["initiative_id"], unique=False
        )
    op.create_table(
        "leases",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("holder", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leases")),
    )


def downgrade() -> None:
    op.drop_table("leases")
    with op.batch_alter_table("dispatches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dispatches_initiative_id"))
        batch_op.drop_index(batch_op.f("ix_dispatches_agent_id"))
    op.drop_table("dispatches")
    op.drop_table("executions")
    # A phase waiting for review goes back to completed work not yet merged: in_progress.
    op.execute("UPDATE phases SET status = 'in_progress' WHERE status = 'pending_review'")
    with op.batch_alter_table("phases", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_phases_status_enum"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_phases_status_enum"), _phase_check(PHASE_STATUSES)
        )
