"""never reuse agent_log_chunks.seq on SQLite (issue 9)

SQLite numbers ``seq`` in the insert (one past the highest present), so deleting the newest
chunks let the next insert reuse their numbers, and a reader that had remembered one would
skip the new chunk. ``agent_log_chunks_seq`` keeps the highest seq ever deleted (one row,
kept by an AFTER DELETE trigger that only writes when a deleted seq beats it); inserts number
past both. SQLite only: PostgreSQL's identity never reuses a value.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 12:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TRIGGER = "trg_agent_log_chunks_seq_deleted"


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.create_table(
        "agent_log_chunks_seq",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deleted_seq", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_agent_log_chunks_seq_one_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_log_chunks_seq")),
    )
    # Chunks already deleted are forgotten; from now on none is reused.
    op.execute("INSERT INTO agent_log_chunks_seq (id, deleted_seq) VALUES (1, 0)")
    op.execute(
        f"CREATE TRIGGER {TRIGGER} AFTER DELETE ON agent_log_chunks FOR EACH ROW "
        "WHEN OLD.seq > (SELECT deleted_seq FROM agent_log_chunks_seq WHERE id = 1) "
        "BEGIN UPDATE agent_log_chunks_seq SET deleted_seq = OLD.seq WHERE id = 1; END"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute(f"DROP TRIGGER {TRIGGER}")
    op.drop_table("agent_log_chunks_seq")
