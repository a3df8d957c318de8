"""Worker: routing decisions, review items, deliveries, leases; messages.route_state.

- ``messages.route_state`` / ``route_state_at``: where a live mail is on its way (NULL for
  archive mail), with an index the worker's sweep walks.
- ``routing_decisions``: who or what decided where each live mail goes (history kept, one
  current per message).
- ``review_items``: live mail waiting for a person (one per message).
- ``deliveries``: the one forward per message, with its deterministic outgoing Message-ID.
- ``leases``: named, expiring locks (one mailbox watcher across all workers).

SQLite gets the ``route_state`` CHECK as a column constraint of ADD COLUMN: a batch rebuild
of ``messages`` would trip over the label-counter triggers of revision 0002.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROUTE_STATES = "route_state IS NULL OR route_state IN ('new', 'review', 'forwarding', 'forwarded', 'done', 'quarantined')"  # noqa: E501


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "ALTER TABLE messages ADD COLUMN route_state VARCHAR(16) "
            f"CONSTRAINT ck_messages_route_state CHECK ({ROUTE_STATES})"
        )
    else:
        op.add_column("messages", sa.Column("route_state", sa.String(16), nullable=True))
        op.create_check_constraint(op.f("ck_messages_route_state"), "messages", ROUTE_STATES)
    op.add_column(
        "messages", sa.Column("route_state_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_index(
        "ix_messages_route_state_route_state_at", "messages", ["route_state", "route_state_at"]
    )

    op.create_table(
        "routing_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("model_version", sa.String(100), nullable=True),
        sa.Column("top", sa.JSON(), nullable=False),
        sa.Column("decided_by", sa.String(100), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(100), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("is_current", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("mode IN ('auto', 'review')", name=op.f("ck_routing_decisions_mode")),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_routing_decisions_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_routing_decisions_team_id_teams")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_decisions")),
    )
    op.create_index(op.f("ix_routing_decisions_message_id"), "routing_decisions", ["message_id"])
    op.create_index(
        "uq_routing_decisions_current",
        "routing_decisions",
        ["message_id"],
        unique=True,
        sqlite_where=sa.text("is_current"),
        postgresql_where=sa.text("is_current"),
    )

    op.create_table(
        "review_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.Integer(), nullable=True),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("flagged_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('open', 'resolved')", name=op.f("ck_review_items_status")),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_review_items_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by"], ["users.id"], name=op.f("fk_review_items_resolved_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_review_items_team_id_teams")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_items")),
        sa.UniqueConstraint("message_id", name=op.f("uq_review_items_message_id")),
    )
    op.create_index(op.f("ix_review_items_status"), "review_items", ["status"])

    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("outgoing_message_id", sa.String(200), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "method IN ('smtp', 'imap-move', 'maildir')", name=op.f("ck_deliveries_method")
        ),
        sa.CheckConstraint(
            "state IN ('pending', 'sent', 'failed')", name=op.f("ck_deliveries_state")
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_deliveries_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_deliveries_team_id_teams")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
        sa.UniqueConstraint("message_id", name=op.f("uq_deliveries_message_id")),
        sa.UniqueConstraint("outgoing_message_id", name=op.f("uq_deliveries_outgoing_message_id")),
    )

    op.create_table(
        "leases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leases")),
        sa.UniqueConstraint("name", name=op.f("uq_leases_name")),
    )


def downgrade() -> None:
    op.drop_table("leases")
    op.drop_table("deliveries")
    op.drop_index(op.f("ix_review_items_status"), table_name="review_items")
    op.drop_table("review_items")
    op.drop_index("uq_routing_decisions_current", table_name="routing_decisions")
    op.drop_index(op.f("ix_routing_decisions_message_id"), table_name="routing_decisions")
    op.drop_table("routing_decisions")
    op.drop_index("ix_messages_route_state_route_state_at", table_name="messages")
    if op.get_bind().dialect.name == "sqlite":
        # SQLite (3.35+) drops a column whose only CHECK is its own column constraint.
        op.execute("ALTER TABLE messages DROP COLUMN route_state_at")
        op.execute("ALTER TABLE messages DROP COLUMN route_state")
        return
    op.drop_constraint(op.f("ck_messages_route_state"), "messages", type_="check")
    op.drop_column("messages", "route_state_at")
    op.drop_column("messages", "route_state")
