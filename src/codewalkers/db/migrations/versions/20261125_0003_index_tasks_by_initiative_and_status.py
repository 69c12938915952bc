"""index tasks by initiative and status

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 14:34:56.053379
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # tasks.find_ready reads one initiative's pending tasks; without this index SQLite went
    # through ix_tasks_status and read every initiative's pending tasks.
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_tasks_initiative_id_status"), ["initiative_id", "status"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tasks_initiative_id_status"))
