"""Urgency and churn risk as labels people give (issue 14 item 3).

- ``annotations.urgent``, ``annotations.churn``: the labeller's second, optional judgement
  of the mail ("urgent", "wants to leave"). NULL: not asked (labels given before this
  revision, folder and model labels); false: the person labelled the mail and did not
  flag it.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("annotations", sa.Column("urgent", sa.Boolean(), nullable=True))
    op.add_column("annotations", sa.Column("churn", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("annotations") as batch:
        batch.drop_column("churn")
        batch.drop_column("urgent")
