"""execution: a task's own provider, tasks queued by hand

- ``tasks.provider`` (not in the seed): the provider the executor dispatches this task to,
  overriding ``[dispatch] provider``; null takes the workspace's (docs/execution.md).
- ``dispatches.queued_by_hand_at``: when a person put the task at the front of the dispatch
  queue (``cw dispatch queue TASK``); such tasks go first, in the order they were queued.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("provider", sa.Text(), nullable=True))
    with op.batch_alter_table("dispatches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("queued_by_hand_at", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dispatches", schema=None) as batch_op:
        batch_op.drop_column("queued_by_hand_at")
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_column("provider")
