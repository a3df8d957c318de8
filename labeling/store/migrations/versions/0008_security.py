"""Security: revocable sessions, labels that say who and in what role, mail served per person.

- ``users.session_version``: bumped by logout, a password change and deactivation; a
  session cookie that carries an older version is refused (server-side revocation).
- ``users.password_changed_at``: when the password was last set (change or admin reset).
- ``annotations.decided_by`` / ``annotations.role``: the person behind a label and the
  role they had when they gave it (for an adjudication, the adjudicator; NULL for weak and
  model labels).
- ``served_mail``: which archive mail the labelling queue served to which person; a
  labeller may read and label only mail served to them (default deny per object).

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "users",
        sa.Column("session_version", sa.Integer(), nullable=False, server_default=sa.text("0")),
    )
    op.add_column(
        "users", sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=True)
    )
    if op.get_bind().dialect.name == "sqlite":
        # SQLite's ADD COLUMN takes the foreign key as a column constraint.
        op.execute(
            "ALTER TABLE annotations ADD COLUMN decided_by INTEGER "
            "CONSTRAINT fk_annotations_decided_by_users REFERENCES users (id)"
        )
    else:
        op.add_column("annotations", sa.Column("decided_by", sa.Integer(), nullable=True))
        op.create_foreign_key(
            op.f("fk_annotations_decided_by_users"), "annotations", "users", ["decided_by"], ["id"]
        )
    op.add_column("annotations", sa.Column("role", sa.String(16), nullable=True))
    # Labels given before this revision: a person's own labels name them.
    op.execute(
        "UPDATE annotations SET decided_by = user_id, "
        "role = (SELECT users.role FROM users WHERE users.id = annotations.user_id) "
        "WHERE user_id IS NOT NULL"
    )

    op.create_table(
        "served_mail",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("served_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_served_mail_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_served_mail_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_served_mail")),
        sa.UniqueConstraint(
            "user_id", "message_id", name=op.f("uq_served_mail_user_id_message_id")
        ),
    )
    op.create_index(op.f("ix_served_mail_message_id"), "served_mail", ["message_id"])
    # Mail people labelled or skipped before this revision was served to them.
    op.execute(
        "INSERT INTO served_mail (user_id, message_id, served_at) "
        "SELECT DISTINCT user_id, message_id, CURRENT_TIMESTAMP FROM annotations "
        "WHERE user_id IS NOT NULL AND source = 'human' "
        "UNION SELECT user_id, message_id, CURRENT_TIMESTAMP FROM skips"
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_served_mail_message_id"), table_name="served_mail")
    op.drop_table("served_mail")
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("annotations", recreate="always") as batch:
            batch.drop_column("decided_by")
            batch.drop_column("role")
        op.execute("ALTER TABLE users DROP COLUMN session_version")
        op.execute("ALTER TABLE users DROP COLUMN password_changed_at")
    else:
        op.drop_constraint(
            op.f("fk_annotations_decided_by_users"), "annotations", type_="foreignkey"
        )
        op.drop_column("annotations", "decided_by")
        op.drop_column("annotations", "role")
        op.drop_column("users", "session_version")
        op.drop_column("users", "password_changed_at")
