"""``run_import`` from a real Dovecot into a real database: folders become labels, and an
interrupted import resumes from the UID cursor instead of fetching everything again."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from labeling.importers.imap_source import ImapSource
from labeling.importers.run import ImportCursors, imap_source_key, run_import
from labeling.mail.values import RawMail
from labeling.store.tables import ImportCursor, Message
from mailroom.testbed.dovecot_server import DovecotServer
from tests.support.mail_samples import make_mail


class Interrupted(Exception):
    pass


class StopAfter:
    """Wraps a source and raises after ``n`` mails, like a Ctrl-C mid-import."""

    def __init__(self, source: ImapSource, n: int) -> None:
        self.source, self.n = source, n
        self.description = source.description

    def count(self) -> int | None:
        return None

    def __iter__(self) -> Iterator[RawMail]:
        for index, mail in enumerate(self.source):
            if index == self.n:
                raise Interrupted
            yield mail


def stored(sessions: sessionmaker[Session]) -> dict[str, int]:
    with sessions() as session:
        rows = session.execute(
            select(Message.source_folder, func.count(Message.id)).group_by(Message.source_folder)
        )
        return {folder: number for folder, number in rows}


def test_imap_import_labels_folders_and_resumes(
    dovecot: DovecotServer, imap_user: str, db_sessions: sessionmaker[Session]
) -> None:
    inbox = [make_mail(f"in{i}@{imap_user}") for i in range(7)]
    claims = [make_mail(f"cl{i}@{imap_user}") for i in range(4)]
    dovecot.append_many(imap_user, "INBOX", inbox)
    dovecot.append_many(imap_user, "Claims", claims)
    url = dovecot.url(imap_user)
    key = imap_source_key(url)

    # Interrupted after 5 mails with batches of 3: one batch (and its cursor) is committed.
    cursors = ImportCursors(db_sessions, key)
    source = ImapSource(url, batch_size=3, start_after=cursors.start_after)
    with pytest.raises(Interrupted):
        run_import(db_sessions, StopAfter(source, 5), batch_size=3, progress=False, cursor_key=key)
    assert stored(db_sessions) == {"": 3}

    # The rerun fetches only what is after the cursor: nothing is seen twice.
    summary = run_import(db_sessions, url, batch_size=3, progress=False)
    assert (summary.imported, summary.duplicates, summary.quarantined) == (8, 0, 0)
    assert stored(db_sessions) == {"": 7, "Claims": 4}

    # New mail arrives; the next run imports just that.
    dovecot.append_many(imap_user, "Claims", [make_mail(f"late@{imap_user}")])
    summary = run_import(db_sessions, url, batch_size=3, progress=False)
    assert (summary.imported, summary.duplicates) == (1, 0)
    assert {f: (c.imported, c.duplicates) for f, c in summary.per_folder.items()} == {
        "Claims": (1, 0)
    }
    with db_sessions() as session:
        cursor_rows = session.scalars(select(ImportCursor).order_by(ImportCursor.folder)).all()
        assert [(c.source_key, c.folder, c.last_uid) for c in cursor_rows] == [
            (key, "", 7),
            (key, "Claims", 5),
        ]
        assert "password" not in key and dovecot.users[imap_user] not in key
