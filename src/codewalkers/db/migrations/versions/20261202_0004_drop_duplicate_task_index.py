"""drop ix_tasks_initiative_id, covered by ix_tasks_initiative_id_status (issue 9)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 05:45:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The composite (initiative_id, status) index of 0003 serves every lookup by
    # initiative_id alone; the single-column one only cost writes.
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tasks_initiative_id"))


def downgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tasks_initiative_id"), ["initiative_id"], unique=False)
