"""Identity by content: Message-ID is a hint, no longer unique.

- ``messages.message_id`` loses its UNIQUE constraint and keeps a plain index
  (``ix_messages_message_id``) for threading and for finding a moved mail. A mail is the same
  mail when its bytes are (``content_hash``, still unique) or its server position is
  (mailbox + UIDVALIDITY + UID, still unique); anyone can write any Message-ID.
- ``messages.message_id_reused``: true when the store already held *different* content
  under this mail's Message-ID when it arrived (shown to people, counted by imports).

SQLite cannot drop a constraint: ``messages`` is rebuilt by SQLite's own procedure
(https://www.sqlite.org/lang_altertable.html#otheralter): the new table from the stored
CREATE statement without the constraint, rows copied, the old table dropped, the new one
renamed, then its indexes and the triggers that name it re-created from their stored SQL.
The migration environment runs SQLite migrations with foreign keys off (a DROP TABLE would
otherwise cascade into every table that references ``messages``) and this revision checks
them (``PRAGMA foreign_key_check``) before the transaction commits.

The downgrade puts the constraint back; it fails, leaving the schema as it was, when two
stored mails share a Message-ID.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNIQUE_NAME = "uq_messages_message_id"
INDEX_NAME = "ix_messages_message_id"
UNIQUE_CLAUSE = f"CONSTRAINT {UNIQUE_NAME} UNIQUE (message_id)"


def upgrade() -> None:
    op.add_column(
        "messages",
        sa.Column("message_id_reused", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite_messages(_without_unique)
    else:
        op.drop_constraint(UNIQUE_NAME, "messages", type_="unique")
    op.create_index(INDEX_NAME, "messages", ["message_id"])


def downgrade() -> None:
    op.drop_index(INDEX_NAME, table_name="messages")
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite_messages(_with_unique)
        # Native DROP COLUMN (SQLite 3.35+), as revision 0002's downgrade.
        op.drop_column("messages", "message_id_reused")
    else:
        op.create_unique_constraint(UNIQUE_NAME, "messages", ["message_id"])
        op.drop_column("messages", "message_id_reused")


def _without_unique(create_sql: str) -> str:
    start = create_sql.find(UNIQUE_CLAUSE)
    if start < 0:
        raise RuntimeError(f"messages has no {UNIQUE_NAME} constraint to drop")
    # The clause and the comma (and line break) that separate it from the one before.
    cut = create_sql.rfind(",", 0, start)
    return create_sql[:cut] + create_sql[start + len(UNIQUE_CLAUSE) :]


def _with_unique(create_sql: str) -> str:
    end = create_sql.rstrip().rfind(")")
    return create_sql[:end].rstrip() + f", \n\t{UNIQUE_CLAUSE}\n)"


def _rebuild_sqlite_messages(change: Callable[[str], str]) -> None:
    """Rebuild ``messages`` from its stored CREATE statement changed by ``change``."""
    bind = op.get_bind()

    def stored(query: str) -> list[str]:
        return [row[0] for row in bind.exec_driver_sql(query) if row[0]]

    (create_sql,) = stored(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'messages'"
    )
    indexes = stored(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'messages'"
    )
    # Triggers on other tables (the label counter on annotations) name messages in their
    # bodies; they are dropped and re-created around the rename, as SQLite's procedure says.
    triggers = bind.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND sql LIKE '%messages%'"
    ).all()
    columns = ", ".join(
        f'"{row[1]}"' for row in bind.exec_driver_sql("PRAGMA table_info(messages)")
    )
    if bind.exec_driver_sql("PRAGMA foreign_keys").scalar():
        raise RuntimeError("rebuilding messages needs foreign keys off (see migrations/env.py)")

    # 'CREATE TABLE messages (' as created, 'CREATE TABLE "messages" (' after a rename.
    head, paren, body = change(create_sql).partition("(")
    if not paren or head.replace('"', "").split() != ["CREATE", "TABLE", "messages"]:
        raise RuntimeError(f"unexpected CREATE statement for messages: {create_sql[:80]!r}")
    for name, _sql in triggers:
        bind.exec_driver_sql(f'DROP TRIGGER "{name}"')
    bind.exec_driver_sql("CREATE TABLE _messages_0004 (" + body)
    bind.exec_driver_sql(f"INSERT INTO _messages_0004 ({columns}) SELECT {columns} FROM messages")
    bind.exec_driver_sql("DROP TABLE messages")
    bind.exec_driver_sql("ALTER TABLE _messages_0004 RENAME TO messages")
    for sql in indexes:
        bind.exec_driver_sql(sql)
    for _name, sql in triggers:
        bind.exec_driver_sql(sql)
    problems = bind.exec_driver_sql("PRAGMA foreign_key_check").all()
    if problems:
        raise RuntimeError(f"foreign keys broken by the rebuild of messages: {problems[:5]}")
