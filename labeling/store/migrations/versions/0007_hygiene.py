"""Mail hygiene: the kind of each mail (labeling.mail.hygiene).

- ``messages.kind``: ``'customer'``, ``'auto_reply'``, ``'bounce'``, ``'loop'`` or
  ``'bulk'``; NULL for mail stored before this revision (read as customer mail).

SQLite gets the CHECK as a column constraint of ADD COLUMN (as in 0003 and 0006).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KIND = "kind IS NULL OR kind IN ('customer', 'auto_reply', 'bounce', 'loop', 'bulk')"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "ALTER TABLE messages ADD COLUMN kind VARCHAR(16) "
            f"CONSTRAINT ck_messages_kind CHECK ({KIND})"
        )
    else:
        op.add_column("messages", sa.Column("kind", sa.String(16), nullable=True))
        op.create_check_constraint(op.f("ck_messages_kind"), "messages", KIND)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite (3.35+) drops a column whose only CHECK is its own column constraint.
        op.execute("ALTER TABLE messages DROP COLUMN kind")
        return
    op.drop_constraint(op.f("ck_messages_kind"), "messages", type_="check")
    op.drop_column("messages", "kind")
