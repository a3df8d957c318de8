"""Admin rules, tried before the model; which rule decided a routing decision.

- ``rules``: ordered, enabled or not, with a name, a note, conditions (JSON) and one
  action (route to a team, review, set a priority, never auto-route).
- ``routing_decisions.rule_id``: the rule that decided (no foreign key: a deleted rule's
  decisions keep its id, and its name in ``details``).
- ``api_tokens``: per-integration tokens of the HTTP API (hashed, scoped, revocable).
- ``review_items.urgent``: urgent mail first in the review queue.

Revision ID: 0009
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("conditions", sa.JSON(), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("priority", sa.String(16), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "action IN ('route', 'review', 'priority', 'no-auto')",
            name=op.f("ck_rules_action"),
        ),
        sa.CheckConstraint(
            "priority IS NULL OR priority IN ('high', 'normal', 'low')",
            name=op.f("ck_rules_priority"),
        ),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_rules_team_id_teams")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rules")),
        sa.UniqueConstraint("name", name=op.f("uq_rules_name")),
    )
    op.create_index(op.f("ix_rules_position"), "rules", ["position"])
    op.add_column("routing_decisions", sa.Column("rule_id", sa.Integer(), nullable=True))
    op.create_index(op.f("ix_routing_decisions_rule_id"), "routing_decisions", ["rule_id"])
    op.add_column(
        "review_items",
        sa.Column("urgent", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("callback_url", sa.Text(), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("name", name=op.f("uq_api_tokens_name")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )


def downgrade() -> None:
    op.drop_table("api_tokens")
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("review_items") as batch:
            batch.drop_column("urgent")
    else:
        op.drop_column("review_items", "urgent")
    op.drop_index(op.f("ix_routing_decisions_rule_id"), table_name="routing_decisions")
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("routing_decisions") as batch:
            batch.drop_column("rule_id")
    else:
        op.drop_column("routing_decisions", "rule_id")
    op.drop_index(op.f("ix_rules_position"), table_name="rules")
    op.drop_table("rules")
