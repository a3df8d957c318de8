"""Privacy: erasure tombstones and expired raw mail.

- ``erasures``: one row per erased e-mail address, by its hash only, so that a re-import
  does not bring the person's mail back and no training set includes it.
- ``messages.raw_expired_at``: when the raw bytes of a live mail were dropped under
  ``MAILROOM_RETENTION_DAYS`` (NULL while they are kept).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "erasures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("address_hash", sa.String(64), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasures")),
        sa.UniqueConstraint("address_hash", name=op.f("uq_erasures_address_hash")),
    )
    op.add_column(
        "messages", sa.Column("raw_expired_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE messages DROP COLUMN raw_expired_at")
    else:
        op.drop_column("messages", "raw_expired_at")
    op.drop_table("erasures")
