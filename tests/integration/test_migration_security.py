"""Revision 0008 on a store with labels in it: people's labels get who and in what role,
and the mail they labelled or skipped counts as served to them (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from labeling.settings import load_settings
from labeling.store.db import make_engine, upgrade


def test_0008_fills_in_roles_and_served_mail(database_url: str, instance_path: Path) -> None:
    settings = load_settings({}, instance_path=instance_path, database_url=database_url)
    engine = make_engine(settings)
    try:
        upgrade(settings, "0006", engine=engine)
        with engine.begin() as connection:
            run = connection.execute
            run(
                text(
                    "INSERT INTO users (id, username, password_hash, role, active, created_at) "
                    "VALUES (1, 'ann', 'x', 'labeler', true, CURRENT_TIMESTAMP), "
                    "(2, 'rev', 'x', 'reviewer', true, CURRENT_TIMESTAMP)"
                )
            )
            run(
                text(
                    "INSERT INTO teams (id, slug, name, description, forward_address, imap_folder,"
                    " created_at) VALUES (1, 'schade', 'Schade', '', '', '', CURRENT_TIMESTAMP)"
                )
            )
            for n in (1, 2, 3):
                run(
                    text(
                        "INSERT INTO messages (id, raw_compressed, raw_size, content_hash, "
                        "message_id_reused, subject, subject_key, sender_name, sender_email, "
                        'recipients, "references", body_text, new_text, quoted_text, signature, '
                        "attachments, language, parse_defects, status, origin, source_folder, "
                        "source_ref, imported_at, human_labels) VALUES (:n, :raw, 0, :hash, "
                        "false, '', '', '', '', '{}', '[]', '', '', '', '', '[]', 'nl', '[]', "
                        "'ok', 'archive', '', '', CURRENT_TIMESTAMP, 0)"
                    ).bindparams(n=n, raw=b"", hash=f"{n:064d}"),
                )
            run(
                text(
                    "INSERT INTO annotations (message_id, team_id, user_id, source, created_at) "
                    "VALUES (1, 1, 1, 'human', CURRENT_TIMESTAMP), "
                    "(2, 1, 2, 'review', CURRENT_TIMESTAMP), "
                    "(3, 1, NULL, 'archive-folder', CURRENT_TIMESTAMP)"
                )
            )
            run(
                text(
                    "INSERT INTO skips (user_id, message_id, created_at) "
                    "VALUES (1, 3, CURRENT_TIMESTAMP)"
                )
            )
        upgrade(settings, engine=engine)
        with engine.connect() as connection:
            labels = connection.execute(
                text("SELECT message_id, decided_by, role FROM annotations ORDER BY message_id")
            ).all()
            served = connection.execute(
                text("SELECT user_id, message_id FROM served_mail ORDER BY message_id")
            ).all()
            versions = connection.execute(text("SELECT session_version FROM users")).scalars()
            assert set(versions) == {0}
        assert [tuple(row) for row in labels] == [
            (1, 1, "labeler"),
            (2, 2, "reviewer"),
            (3, None, None),
        ]
        assert [tuple(row) for row in served] == [(1, 1), (1, 3)]
    finally:
        engine.dispose()
