"""Verification and suspect labels; review items closed without a forward.

- ``verifications``: a person's blind answer (a team, or none) for a mail of the random
  verification sample; at most one current per mail.
- ``suspect_labels``: weak labels that confident learning ranks as probably wrong.
- ``review_items.closed_as``: ``'no-team'`` (the mail belongs to no team we have) or
  ``'by-hand'`` (an unreadable mail a person dealt with outside Mailroom).

SQLite gets the ``closed_as`` CHECK as a column constraint of ADD COLUMN (as in 0003).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CLOSED_AS = "closed_as IS NULL OR closed_as IN ('no-team', 'by-hand')"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "ALTER TABLE review_items ADD COLUMN closed_as VARCHAR(16) "
            f"CONSTRAINT ck_review_items_closed_as CHECK ({CLOSED_AS})"
        )
    else:
        op.add_column("review_items", sa.Column("closed_as", sa.String(16), nullable=True))
        op.create_check_constraint(op.f("ck_review_items_closed_as"), "review_items", CLOSED_AS)
    # Mail people dealt with by hand before this revision.
    op.execute(
        "UPDATE review_items SET closed_as = 'by-hand' "
        "WHERE status = 'resolved' AND team_id IS NULL"
    )

    op.create_table(
        "verifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_verifications_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_verifications_team_id_teams")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_verifications_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verifications")),
    )
    op.create_index(op.f("ix_verifications_user_id"), "verifications", ["user_id"])
    op.create_index(
        "uq_verifications_current",
        "verifications",
        ["message_id"],
        unique=True,
        sqlite_where=sa.text("superseded_at IS NULL"),
        postgresql_where=sa.text("superseded_at IS NULL"),
    )

    op.create_table(
        "suspect_labels",
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("weak_team_id", sa.Integer(), nullable=False),
        sa.Column("likely_team_id", sa.Integer(), nullable=True),
        sa.Column("quality", sa.Float(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("found_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_suspect_labels_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["weak_team_id"], ["teams.id"], name=op.f("fk_suspect_labels_weak_team_id_teams")
        ),
        sa.ForeignKeyConstraint(
            ["likely_team_id"], ["teams.id"], name=op.f("fk_suspect_labels_likely_team_id_teams")
        ),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_suspect_labels")),
    )
    op.create_index(op.f("ix_suspect_labels_rank"), "suspect_labels", ["rank"])


def downgrade() -> None:
    op.drop_index(op.f("ix_suspect_labels_rank"), table_name="suspect_labels")
    op.drop_table("suspect_labels")
    op.drop_index("uq_verifications_current", table_name="verifications")
    op.drop_index(op.f("ix_verifications_user_id"), table_name="verifications")
    op.drop_table("verifications")
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("review_items", recreate="always") as batch:
            batch.drop_constraint(op.f("ck_review_items_closed_as"), type_="check")
            batch.drop_column("closed_as")
    else:
        op.drop_constraint(op.f("ck_review_items_closed_as"), "review_items", type_="check")
        op.drop_column("review_items", "closed_as")
