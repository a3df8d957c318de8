"""Customer affinity: team members with their own address, and what links a mail to its
customer.

- ``team_members``: a team's people, each with an address (a customer's next mail goes to
  the member who handles their case).
- ``case_keys``: hashes of a live mail's sender address and the customer, policy or
  claim numbers in it (never the values).
- ``deliveries.member_id``: the member a forward went to.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "team_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["teams.id"],
            name=op.f("fk_team_members_team_id_teams"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_team_members")),
        sa.UniqueConstraint("team_id", "email", name=op.f("uq_team_members_team_id_email")),
    )
    op.create_index(op.f("ix_team_members_team_id"), "team_members", ["team_id"])
    op.create_table(
        "case_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_case_keys_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_keys")),
    )
    op.create_index(op.f("ix_case_keys_message_id"), "case_keys", ["message_id"])
    op.create_index("ix_case_keys_key_message_id", "case_keys", ["key", "message_id"])
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("member_id", sa.Integer(), nullable=True))
        batch.create_index(batch.f("ix_deliveries_member_id"), ["member_id"])
        batch.create_foreign_key(
            batch.f("fk_deliveries_member_id_team_members"),
            "team_members",
            ["member_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_constraint(batch.f("fk_deliveries_member_id_team_members"), type_="foreignkey")
        batch.drop_index(batch.f("ix_deliveries_member_id"))
        batch.drop_column("member_id")
    op.drop_index("ix_case_keys_key_message_id", table_name="case_keys")
    op.drop_index(op.f("ix_case_keys_message_id"), table_name="case_keys")
    op.drop_table("case_keys")
    op.drop_index(op.f("ix_team_members_team_id"), table_name="team_members")
    op.drop_table("team_members")
