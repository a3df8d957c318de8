"""Labelling: skips, model scores for the queue, near-duplicate groups, adjudications.

- ``skips``: a labeller passed on a message.
- ``message_scores``: a model version's top team, confidence and margin per message.
- ``messages.dup_group_id``: the near-duplicate group (smallest message id in it).
- ``messages.human_labels``: the number of current human labels, kept by triggers on
  ``annotations`` so the queue finds unlabelled mail in an index, not by scanning labels.
- ``annotations.source`` may be ``'adjudication'`` (at most one current per message).
- ``ix_messages_label_queue`` / ``_shuffle``: the archive mail the labelling queue walks,
  by date or in random order, and
  ``ix_annotations_user_id_superseded``: the labels a person undid (they come back first).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_SOURCES = "source IN ('human', 'archive-folder', 'review', 'model')"
NEW_SOURCES = "source IN ('human', 'archive-folder', 'review', 'model', 'adjudication')"
QUEUE_WHERE = "status = 'ok' AND origin = 'archive'"

# A label counts while it is a current human one.
COUNTED = "{row}.source = 'human' AND {row}.superseded_at IS NULL"

PG_COUNTER_FUNCTION = f"""
CREATE FUNCTION mailroom_count_human_labels() RETURNS trigger AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        IF {COUNTED.format(row="OLD")} THEN
            UPDATE messages SET human_labels = human_labels - 1 WHERE id = OLD.message_id;
        END IF;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        IF {COUNTED.format(row="NEW")} THEN
            UPDATE messages SET human_labels = human_labels + 1 WHERE id = NEW.message_id;
        END IF;
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql
"""

SQLITE_COUNTER_TRIGGERS = (
    f"""CREATE TRIGGER trg_annotations_human_labels_insert AFTER INSERT ON annotations
    WHEN {COUNTED.format(row="NEW")}
    BEGIN
        UPDATE messages SET human_labels = human_labels + 1 WHERE id = NEW.message_id;
    END""",
    f"""CREATE TRIGGER trg_annotations_human_labels_update
    AFTER UPDATE OF source, superseded_at, message_id ON annotations
    BEGIN
        UPDATE messages SET human_labels = human_labels - 1
            WHERE id = OLD.message_id AND {COUNTED.format(row="OLD")};
        UPDATE messages SET human_labels = human_labels + 1
            WHERE id = NEW.message_id AND {COUNTED.format(row="NEW")};
    END""",
    f"""CREATE TRIGGER trg_annotations_human_labels_delete AFTER DELETE ON annotations
    WHEN {COUNTED.format(row="OLD")}
    BEGIN
        UPDATE messages SET human_labels = human_labels - 1 WHERE id = OLD.message_id;
    END""",
)


def _partial(where: str) -> dict[str, Any]:
    """A partial index's condition, for both SQLite and PostgreSQL."""
    return {"sqlite_where": sa.text(where), "postgresql_where": sa.text(where)}


def upgrade() -> None:
    op.create_table(
        "skips",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_skips_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_skips_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_skips")),
        sa.UniqueConstraint("user_id", "message_id", name=op.f("uq_skips_user_id_message_id")),
    )
    op.create_index(op.f("ix_skips_message_id"), "skips", ["message_id"])

    op.create_table(
        "message_scores",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("model_version", sa.String(length=100), nullable=False),
        sa.Column("top_team_id", sa.Integer(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("margin", sa.Float(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_message_scores_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["top_team_id"], ["teams.id"], name=op.f("fk_message_scores_top_team_id_teams")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_scores")),
        sa.UniqueConstraint(
            "model_version",
            "message_id",
            name=op.f("uq_message_scores_model_version_message_id"),
        ),
    )
    op.create_index(
        "ix_message_scores_model_version_margin", "message_scores", ["model_version", "margin"]
    )
    op.create_index(op.f("ix_message_scores_message_id"), "message_scores", ["message_id"])
    op.create_index(op.f("ix_message_scores_computed_at"), "message_scores", ["computed_at"])

    # Plain ADD COLUMN, never batch mode: rebuilding messages on SQLite (foreign keys on)
    # would cascade-delete every annotation.
    op.add_column("messages", sa.Column("dup_group_id", sa.Integer(), nullable=True))
    op.add_column(
        "messages",
        sa.Column("human_labels", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.create_index(op.f("ix_messages_dup_group_id"), "messages", ["dup_group_id"])
    op.create_index(
        "ix_messages_label_queue",
        "messages",
        ["human_labels", "date", "id"],
        **_partial(QUEUE_WHERE),
    )
    op.create_index(
        "ix_messages_label_shuffle",
        "messages",
        ["human_labels", "content_hash"],
        **_partial(QUEUE_WHERE),
    )

    with op.batch_alter_table("annotations") as batch:
        batch.drop_constraint(op.f("ck_annotations_source"), type_="check")
        batch.create_check_constraint(op.f("ck_annotations_source"), sa.text(NEW_SOURCES))
    op.create_index(
        "uq_annotations_current_adjudication",
        "annotations",
        ["message_id"],
        unique=True,
        **_partial("superseded_at IS NULL AND source = 'adjudication'"),
    )
    op.create_index(
        "ix_annotations_user_id_superseded",
        "annotations",
        ["user_id"],
        **_partial("superseded_at IS NOT NULL"),
    )
    # After the batch rebuild of annotations above: rebuilding a table drops its triggers.
    _create_label_counter()


def _create_label_counter() -> None:
    """Triggers that keep messages.human_labels equal to the current human labels."""
    op.execute(
        "UPDATE messages SET human_labels = (SELECT count(*) FROM annotations a "
        f"WHERE a.message_id = messages.id AND {COUNTED.format(row='a')})"
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_COUNTER_FUNCTION)
        op.execute(
            "CREATE TRIGGER trg_annotations_human_labels "
            "AFTER INSERT OR UPDATE OR DELETE ON annotations "
            "FOR EACH ROW EXECUTE FUNCTION mailroom_count_human_labels()"
        )
        return
    for statement in SQLITE_COUNTER_TRIGGERS:
        op.execute(statement)


def _drop_label_counter() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS trg_annotations_human_labels ON annotations")
        op.execute("DROP FUNCTION IF EXISTS mailroom_count_human_labels()")
        return
    for name in ("insert", "update", "delete"):
        op.execute(f"DROP TRIGGER IF EXISTS trg_annotations_human_labels_{name}")


def downgrade() -> None:
    _drop_label_counter()
    op.drop_index("ix_annotations_user_id_superseded", table_name="annotations")
    op.drop_index("uq_annotations_current_adjudication", table_name="annotations")
    # The old schema has no place for adjudications; they are in the audit log.
    op.execute("DELETE FROM annotations WHERE source = 'adjudication'")
    with op.batch_alter_table("annotations") as batch:
        batch.drop_constraint(op.f("ck_annotations_source"), type_="check")
        batch.create_check_constraint(op.f("ck_annotations_source"), sa.text(OLD_SOURCES))
    op.drop_index("ix_messages_label_shuffle", table_name="messages")
    op.drop_index("ix_messages_label_queue", table_name="messages")
    op.drop_index(op.f("ix_messages_dup_group_id"), table_name="messages")
    # Not batch mode (see upgrade); native DROP COLUMN needs SQLite 3.35 or newer.
    op.drop_column("messages", "human_labels")
    op.drop_column("messages", "dup_group_id")
    op.drop_table("message_scores")
    op.drop_table("skips")
