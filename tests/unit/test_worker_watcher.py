"""The IMAP watcher through its connection seam: a fake server without IDLE (polling),
new mail recorded before it is queued, nothing queued twice, a UIDVALIDITY change
recognised by the store, and a lost connection retried."""

from __future__ import annotations

import imaplib
import threading
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from labeling.settings import Settings, load_settings
from labeling.store.db import make_engine, make_session_factory, upgrade
from labeling.store.tables import Message
from worker.watchers import ImapWatcher, configured_mailboxes, register_mailboxes


def _mail(n: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = "klant@example.nl"
    msg["Subject"] = f"vraag {n}"
    msg["Message-ID"] = f"<w{n}@example.nl>"
    msg.set_content(f"tekst {n}")
    return msg.as_bytes()


class FakeServer:
    """A folder as a polling-only IMAP server shows it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.uidvalidity = 100
        self.mails: dict[int, bytes] = {}
        self.next_uid = 1
        self.fetched: list[int] = []
        self.fail_next_fetch = False
        self.logins = 0

    def add(self, raw: bytes) -> None:
        with self.lock:
            self.mails[self.next_uid] = raw
            self.next_uid += 1

    def renumber(self) -> None:
        with self.lock:
            self.uidvalidity += 1
            old = list(self.mails.values())
            self.mails, self.next_uid = {}, 1
        for raw in old:
            self.add(raw)


class FakeClient:
    def __init__(self, server: FakeServer) -> None:
        self.server = server

    def login(self, user: str, password: str) -> None:
        self.server.logins += 1

    def has_capability(self, name: str) -> bool:
        return False  # no IDLE: the watcher polls

    def select_folder(self, folder: str, readonly: bool = False) -> dict[bytes, Any]:
        with self.server.lock:
            return {b"UIDVALIDITY": self.server.uidvalidity, b"UIDNEXT": self.server.next_uid}

    def search(self, criteria: list[str]) -> list[int]:
        with self.server.lock:
            return sorted(self.server.mails)

    def fetch(self, uids: list[int], parts: list[str]) -> dict[int, dict[bytes, Any]]:
        with self.server.lock:
            if parts == ["RFC822.SIZE"]:  # the watcher asks the sizes before fetching
                return {uid: {b"RFC822.SIZE": len(self.server.mails[uid])} for uid in uids}
            if self.server.fail_next_fetch:
                self.server.fail_next_fetch = False
                raise imaplib.IMAP4.abort("socket error: EOF")
            self.server.fetched += uids
            return {uid: {b"BODY[]": self.server.mails[uid]} for uid in uids}

    def logout(self) -> None:
        pass

    def shutdown(self) -> None:
        pass


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[Settings, sessionmaker[Session], int, Any]]:
    settings = load_settings(
        {},
        instance_path=tmp_path / "instance",
        mailboxes=["imap://u:p@127.0.0.1:1/INBOX"],
        poll_interval=0.05,
        lease_ttl=3,
    )
    upgrade(settings)
    engine = make_engine(settings)
    sessions = make_session_factory(engine)
    ((mailbox_id, config),) = register_mailboxes(sessions, configured_mailboxes(settings)).items()
    yield settings, sessions, mailbox_id, config
    engine.dispose()


def _wait(check: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_polling_records_then_queues_each_mail_once(setup: Any) -> None:
    settings, sessions, mailbox_id, config = setup
    server = FakeServer()
    for n in range(3):
        server.add(_mail(n))
    queued: list[int] = []

    def enqueue(message_id: int) -> None:
        with sessions() as session:  # recorded (committed) before it is queued
            state = session.scalar(select(Message.route_state).where(Message.id == message_id))
        assert state == "new"
        queued.append(message_id)

    watcher = ImapWatcher(
        settings, sessions, mailbox_id, config, enqueue, connect=lambda: FakeClient(server)
    )
    stop = threading.Event()
    thread = threading.Thread(target=watcher.run, args=(stop,))
    thread.start()
    try:
        _wait(lambda: len(queued) == 3)
        server.add(_mail(3))
        _wait(lambda: len(queued) == 4)
        cycles = watcher.cycles
        _wait(lambda: watcher.cycles > cycles + 3)  # polled a few more times
        assert len(queued) == 4 and sorted(server.fetched) == [1, 2, 3, 4]

        # The server renumbers the folder: every mail is new to IMAP, none to the store.
        server.renumber()
        server.add(_mail(4))
        _wait(lambda: len(queued) == 5)
        cycles = watcher.cycles
        _wait(lambda: watcher.cycles > cycles + 3)
        assert len(queued) == 5

        # A connection lost in the middle of a fetch: reconnect, and nothing is lost.
        server.fail_next_fetch = True
        server.add(_mail(5))
        _wait(lambda: len(queued) == 6, timeout=15)
        assert server.logins >= 2
    finally:
        stop.set()
        thread.join(timeout=10)
    assert len(set(queued)) == 6
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Message)) == 6
        uidvalidities = set(session.scalars(select(Message.uidvalidity)))
    assert uidvalidities == {101}


def test_a_second_watcher_waits_for_the_lease(setup: Any) -> None:
    settings, sessions, mailbox_id, config = setup
    server = FakeServer()
    server.add(_mail(0))
    stop = threading.Event()
    first = ImapWatcher(
        settings, sessions, mailbox_id, config, lambda _: None, connect=lambda: FakeClient(server)
    )
    second = ImapWatcher(
        settings, sessions, mailbox_id, config, lambda _: None, connect=lambda: FakeClient(server)
    )
    threads = [threading.Thread(target=w.run, args=(stop,)) for w in (first, second)]
    for thread in threads:
        thread.start()
    try:
        _wait(lambda: first.cycles + second.cycles > 5)
        assert (first.cycles == 0) != (second.cycles == 0)  # exactly one watches
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
