"""Big mail: the size is asked before fetching, a mail over MAILROOM_MAX_MAIL_BYTES is stored
quarantined with the reason and only its headers, and one FETCH holds a bounded number of
bytes. Against a real Dovecot (importer and watcher) and on files (Maildir, .eml)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from labeling import imap
from labeling.importers import read_mail_file
from labeling.importers.imap_source import ImapSource
from labeling.importers.run import run_import
from labeling.settings import Settings, load_settings
from labeling.store.db import make_engine, make_session_factory, upgrade
from labeling.store.tables import Message
from mailroom.testbed.dovecot_server import DovecotServer
from worker.watchers import ImapWatcher, MaildirWatcher, configured_mailboxes, register_mailboxes

LIMIT = 64 * 1024  # the smallest MAILROOM_MAX_MAIL_BYTES allowed


def mail(n: int, body_bytes: int) -> bytes:
    head = (
        f"From: Jan <jan@example.nl>\r\nTo: info@polderzeker.example\r\n"
        f"Subject: Mail {n}\r\nMessage-ID: <big-{n}@example.nl>\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
    )
    line = b"Schade aan de auto, zie de bijlage. " * 2 + b"\r\n"
    return head.encode() + (line * (body_bytes // len(line) + 1))[:body_bytes]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[tuple[Settings, sessionmaker[Session]]]:
    settings = load_settings(
        {}, instance_path=tmp_path / "instance", max_mail_bytes=LIMIT, poll_interval=0.05
    )
    upgrade(settings)
    engine = make_engine(settings)
    yield settings, make_session_factory(engine)
    engine.dispose()


def _rows(sessions: sessionmaker[Session]) -> dict[str, Message]:
    with sessions() as session:
        return {row.source_ref: row for row in session.scalars(select(Message))}


def test_read_mail_file_reads_only_the_headers_of_a_file_over_the_limit(tmp_path: Path) -> None:
    small, big = tmp_path / "small.eml", tmp_path / "big.eml"
    small.write_bytes(mail(1, 1000))
    big.write_bytes(mail(2, LIMIT + 1))
    assert read_mail_file(small, max_mail_bytes=LIMIT) == (small.read_bytes(), "")
    head, reason = read_mail_file(big, max_mail_bytes=LIMIT)
    assert head.endswith(b"\r\n\r\n") and b"Subject: Mail 2" in head and b"Schade" not in head
    assert reason.startswith(f"too large: {big.stat().st_size:,} bytes")
    assert "MAILROOM_MAX_MAIL_BYTES" in reason


def test_an_eml_import_quarantines_a_file_over_the_limit(
    store: tuple[Settings, sessionmaker[Session]], tmp_path: Path
) -> None:
    settings, sessions = store
    folder = tmp_path / "eml"
    folder.mkdir()
    (folder / "a.eml").write_bytes(mail(1, 2000))
    (folder / "b.eml").write_bytes(mail(2, LIMIT * 2))
    summary = run_import(sessions, str(folder), max_mail_bytes=settings.max_mail_bytes)
    assert (summary.imported, summary.quarantined) == (1, 1)
    rows = {Path(ref).name: row for ref, row in _rows(sessions).items()}
    assert rows["a.eml"].status == "ok"
    big = rows["b.eml"]
    assert big.status == "quarantined" and "too large" in (big.quarantine_reason or "")
    assert big.raw_size < 1024  # the headers, not the mail


class CountingClient:
    """Wraps an IMAPClient and records the bytes each whole-mail FETCH brought."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.batches: list[int] = []

    def fetch(self, uids: list[int], data: list[str]) -> Any:
        response = self._client.fetch(uids, data)
        if data == ["BODY.PEEK[]"]:
            self.batches.append(sum(len(d.get(b"BODY[]", b"")) for d in response.values()))
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def test_the_imap_import_asks_sizes_first_and_bounds_each_fetch(
    store: tuple[Settings, sessionmaker[Session]], dovecot: DovecotServer
) -> None:
    _settings, sessions = store
    user = dovecot.add_user()
    raws = [mail(n, 20_000) for n in range(6)]
    raws.insert(3, mail(99, LIMIT * 3))
    dovecot.append_many(user, "INBOX", raws)
    counting: list[CountingClient] = []

    def connect() -> Any:
        url = imap.parse_imap_url(dovecot.url(user, "INBOX"))
        counting.append(CountingClient(imap.connect(url)))
        return counting[-1]

    source = ImapSource(
        dovecot.url(user, "INBOX"), batch_size=50, connect=connect, max_mail_bytes=LIMIT
    )
    summary = run_import(sessions, source)
    assert (summary.imported, summary.quarantined) == (6, 1)
    (big,) = [row for row in _rows(sessions).values() if row.status == "quarantined"]
    assert big.uid == 4 and "too large" in (big.quarantine_reason or "")
    assert b"Subject: Mail 99" in big.raw and b"Schade" not in big.raw
    fetched = [n for client in counting for n in client.batches]
    assert fetched and max(fetched) <= LIMIT
    assert len(fetched) >= 2  # 6 x 20 kB do not fit one 64 kB fetch


def test_the_imap_watcher_quarantines_a_mail_over_the_limit_without_fetching_it(
    tmp_path: Path, dovecot: DovecotServer
) -> None:
    user = dovecot.add_user()
    dovecot.append_many(user, "INBOX", [mail(1, 1000), mail(2, LIMIT * 4), mail(3, 1000)])
    settings = load_settings(
        {},
        instance_path=tmp_path / "instance",
        mailboxes=[dovecot.url(user, "INBOX")],
        max_mail_bytes=LIMIT,
        poll_interval=0.05,
    )
    upgrade(settings)
    engine = make_engine(settings)
    sessions = make_session_factory(engine)
    try:
        ((mailbox_id, config),) = register_mailboxes(
            sessions, configured_mailboxes(settings)
        ).items()
        queued: list[int] = []
        watcher = ImapWatcher(settings, sessions, mailbox_id, config, queued.append)
        stop = threading.Event()
        thread = threading.Thread(target=watcher.run, args=(stop,), daemon=True)
        thread.start()
        try:
            _wait(lambda: len(queued) == 3)
        finally:
            stop.set()
            thread.join(10)
        with sessions() as session:
            rows = session.scalars(select(Message).order_by(Message.uid)).all()
            assert [row.status for row in rows] == ["ok", "quarantined", "ok"]
            assert "too large" in (rows[1].quarantine_reason or "")
            assert rows[1].route_state == "new"  # routed to a person as unreadable
            assert rows[1].raw_size < 1024
    finally:
        engine.dispose()


def test_the_maildir_watcher_quarantines_a_file_over_the_limit(
    store: tuple[Settings, sessionmaker[Session]],
) -> None:
    settings, sessions = store
    inbox = settings.maildir_inbox
    for sub in ("new", "cur", "tmp"):
        (inbox / sub).mkdir(parents=True, exist_ok=True)
    (inbox / "new" / "1.mail").write_bytes(mail(1, 500))
    (inbox / "new" / "2.mail").write_bytes(mail(2, LIMIT + 10))
    ((mailbox_id, config),) = register_mailboxes(sessions, configured_mailboxes(settings)).items()
    queued: list[int] = []
    watcher = MaildirWatcher(settings, sessions, mailbox_id, config, queued.append)
    assert watcher.scan() == 2
    rows = _rows(sessions)
    assert rows["1.mail"].status == "ok"
    assert rows["2.mail"].status == "quarantined"
    assert "too large" in (rows["2.mail"].quarantine_reason or "")


def _wait(check: Any, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_the_watcher_parses_a_batch_before_it_takes_the_write_lock(
    store: tuple[Settings, sessionmaker[Session]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from contextlib import contextmanager

    from labeling.mail import mime
    from labeling.mail.values import RawMail
    from worker import watchers

    settings, sessions = store
    ((mailbox_id, _config),) = register_mailboxes(sessions, configured_mailboxes(settings)).items()
    events: list[str] = []
    real_normalise, real_scope = mime.normalise, watchers.session_scope

    def normalise(raw: bytes) -> Any:
        events.append("parse")
        return real_normalise(raw)

    @contextmanager
    def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
        events.append("transaction")
        with real_scope(factory) as session:
            yield session

    monkeypatch.setattr(mime, "normalise", normalise)
    monkeypatch.setattr(watchers, "session_scope", session_scope)
    mails = [RawMail(mail(n, 500), "", f"{n}.mail") for n in range(3)]
    assert len(watchers.record_many(sessions, mailbox_id, mails)) == 3
    assert events == ["parse", "parse", "parse", "transaction"]
