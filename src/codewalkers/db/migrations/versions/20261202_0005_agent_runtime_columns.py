"""agent runtime columns

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 04:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The supervisor stores output and advances output_offset in one transaction, so a
    # coordinator killed at any line resumes following the file with no chunk lost or
    # stored twice; pid + process_started_at tell a live agent from a reused pid.
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("session_number", sa.Integer(), server_default=sa.text("1"), nullable=False)
        )
        batch_op.add_column(
            sa.Column("output_offset", sa.BigInteger(), server_default=sa.text("0"), nullable=False)
        )
        batch_op.add_column(sa.Column("process_started_at", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("status_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("workspace_id", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.drop_column("workspace_id")
        batch_op.drop_column("status_reason")
        batch_op.drop_column("process_started_at")
        batch_op.drop_column("output_offset")
        batch_op.drop_column("session_number")
