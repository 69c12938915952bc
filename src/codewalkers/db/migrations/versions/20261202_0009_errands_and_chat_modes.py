"""errands, and the agent modes chat and errand

- ``agents.mode`` may be ``chat`` (a chat session's agent, which changes the plan through
  change files) or ``errand`` (an errand's agent); docs/planning.md.
- ``errands``: small work on one project outside any initiative: its description, the
  agent's branch and the default branch it started from, the agent, its status
  (``active``, ``merged``, ``abandoned``) and the merge commit that landed it.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AGENT_MODES = ("execute", "discuss", "plan", "detail", "refine")


def _mode_check(modes: Sequence[str]) -> str:
    return "mode IN (" + ", ".join(f"'{m}'" for m in modes) + ")"


def upgrade() -> None:
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_agents_mode_enum"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_agents_mode_enum"), _mode_check((*AGENT_MODES, "chat", "errand"))
        )
    op.create_table(
        "errands",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("project_id", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("branch", sa.Text(), nullable=False),
        sa.Column("base_branch", sa.Text(), nullable=False),
        sa.Column("agent_id", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), server_default=sa.text("'active'"), nullable=False),
        sa.Column("merge_commit", sa.Text(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "status IN ('active', 'merged', 'abandoned')", name=op.f("ck_errands_status_enum")
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_errands_agent_id_agents"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_errands_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_errands")),
    )
    with op.batch_alter_table("errands", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_errands_agent_id"), ["agent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_errands_project_id"), ["project_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("errands", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_errands_project_id"))
        batch_op.drop_index(batch_op.f("ix_errands_agent_id"))
    op.drop_table("errands")
    # Chat and errand agents stay as records of what ran; the closest older mode is refine
    # (a chat changed the plan) and execute (an errand changed code).
    op.execute("UPDATE agents SET mode = 'refine' WHERE mode = 'chat'")
    op.execute("UPDATE agents SET mode = 'execute' WHERE mode = 'errand'")
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_agents_mode_enum"), type_="check")
        batch_op.create_check_constraint(op.f("ck_agents_mode_enum"), _mode_check(AGENT_MODES))
