"""Watching live mailboxes: record each new mail, then queue it.

One watcher per mailbox across all workers: a watcher holds the database lease
``mailbox:<id>`` (see :mod:`worker.leases`) while it watches and renews it every cycle, so
a dead worker's mailbox is taken over once its lease expires.

**IMAP** (:class:`ImapWatcher`): the folder is opened read-only (EXAMINE); bodies are
fetched with ``BODY.PEEK[]``. On every (re)connection the watcher looks at every mail not
yet flagged ``$MailroomRouted``/``$MailroomReview``; afterwards only at UIDs above the
highest it has seen, woken by IDLE where the server offers it and polling otherwise. A mail
whose mailbox + UIDVALIDITY + UID the store already holds is skipped without fetching;
others are fetched, stored by :func:`labeling.store.ingest` (which also dedupes by content
hash and Message-ID, so mail renumbered by a UIDVALIDITY change is recognised and not
routed again), committed, and only then queued. A lost connection is retried with
exponential backoff; mail recorded but not queued (a crash, a broker outage) is queued
again by the periodic sweep.

**Maildir** (:class:`MaildirWatcher`): the embedded default polls the inbox's ``new/`` and
``cur/``; a processed file is moved into a Maildir++ subfolder, so the inbox only holds
mail still on its way.
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import socket
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

from imapclient import IMAPClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from labeling import imap
from labeling.errors import ImapError, ImportSourceError, StoreError
from labeling.imap import ImapUrl, close_quietly, parse_imap_url
from labeling.importers import read_mail_file
from labeling.live import lifecycle
from labeling.live.lifecycle import Arrival
from labeling.mail.values import RawMail
from labeling.settings import Settings
from labeling.store import ingest
from labeling.store.db import session_scope
from labeling.store.tables import Mailbox, Message
from worker import leases
from worker.outgoing import REVIEW_KEYWORD, ROUTED_KEYWORD

log = logging.getLogger(__name__)

Enqueue = Callable[[int], None]
FETCH_BATCH = 50
MAX_BACKOFF = 60.0


@dataclass(frozen=True, slots=True)
class MailboxConfig:
    """One configured live mailbox. ``key`` is its URL without a password: the name the
    ``mailboxes`` table knows it by (credentials stay in the settings)."""

    kind: Literal["imap", "maildir"]
    key: str
    folder: str
    imap: ImapUrl | None = None
    path: Path | None = None


def parse_mailbox_url(url: str) -> MailboxConfig:
    """A mailbox from ``imap://user:pass@host:port/FOLDER`` (INBOX when no folder is given)
    or ``maildir:///absolute/path``; :class:`ImportSourceError` says what is wrong."""
    if url.startswith("maildir://"):
        path = Path(unquote(urlsplit(url).path))
        if not path.is_absolute():
            raise ImportSourceError(f"maildir URL {url!r}: write maildir:///absolute/path")
        return MailboxConfig(kind="maildir", key=f"maildir://{path}", folder="", path=path)
    parsed = parse_imap_url(url)
    folder = parsed.folder or "INBOX"
    parsed = ImapUrl(parsed.scheme, parsed.host, parsed.port, parsed.user, parsed.password, folder)
    return MailboxConfig(kind="imap", key=parsed.redacted(), folder=folder, imap=parsed)


def configured_mailboxes(settings: Settings) -> list[MailboxConfig]:
    """The mailboxes to watch: ``settings.mailboxes``, or the instance's Maildir inbox."""
    urls = settings.mailboxes or [f"maildir://{settings.maildir_inbox}"]
    return [parse_mailbox_url(url) for url in urls]


def mailboxes_by_key(settings: Settings) -> dict[str, MailboxConfig]:
    """The configured mailboxes by key (their URL without password), so a ``mailboxes``
    row, which holds no password, finds its credentials in the settings."""
    return {config.key: config for config in configured_mailboxes(settings)}


def register_mailboxes(
    sessions: sessionmaker[Session], configs: Iterable[MailboxConfig]
) -> dict[int, MailboxConfig]:
    """Make sure each mailbox has its row; return them by id."""
    found: dict[int, MailboxConfig] = {}
    for config in configs:
        with session_scope(sessions) as session:
            row = session.scalar(select(Mailbox).where(Mailbox.url == config.key))
            if row is None:
                name = config.key
                if len(name) > 100:
                    name = name[:87] + "-" + hashlib.sha256(name.encode()).hexdigest()[:12]
                row = Mailbox(name=name, kind=config.kind, url=config.key, folder=config.folder)
                session.add(row)
                session.flush()
            found[row.id] = config
    return found


def holder_name() -> str:
    """This process, as a lease holder: host, pid and a random part (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{random.randrange(16**6):06x}"


# Recording ------------------------------------------------------------------------------


def record(sessions: sessionmaker[Session], mailbox_id: int, raw_mail: RawMail) -> Arrival:
    """Store one live mail and set it on its way (see
    :func:`labeling.live.lifecycle.record_arrival`): a new mail starts in 'new' (an
    unreadable one is quarantined when routed, so a person sees it); a mail the store
    already holds is not routed again. The mail is parsed before the transaction begins,
    so a big one holds no database lock while it is read."""
    parsed = ingest.read(raw_mail)
    with session_scope(sessions) as session:
        return lifecycle.record_arrival(session, mailbox_id, raw_mail, pre_parsed=parsed)


def record_many(
    sessions: sessionmaker[Session], mailbox_id: int, raw_mails: list[RawMail]
) -> list[int]:
    """:func:`record` for a batch in one transaction (one commit, not one per mail);
    the ids to queue. If the batch fails, each mail is tried on its own, so one mail the
    database refuses does not hold up the others (it raises when its turn comes)."""
    # Parsed first, outside the transaction: the write lock is held for the inserts only.
    parsed = [ingest.read(mail) for mail in raw_mails]
    try:
        with session_scope(sessions) as session:
            arrivals = [
                lifecycle.record_arrival(session, mailbox_id, mail, pre_parsed=read)
                for mail, read in zip(raw_mails, parsed, strict=True)
            ]
        return [arrival.message_id for arrival in arrivals if arrival.queue]
    except StoreError as exc:
        if len(raw_mails) == 1:
            raise
        log.warning("recording a batch failed (%s); recording one by one", exc)
    to_queue: list[int] = []
    failed: list[tuple[RawMail, StoreError]] = []
    for mail in raw_mails:
        try:
            arrival = record(sessions, mailbox_id, mail)
        except StoreError as exc:
            failed.append((mail, exc))
            continue
        if arrival.queue:
            to_queue.append(arrival.message_id)
    if failed:
        # The others are recorded; the caller queues them and then sees this error, backs
        # off and reconnects, and its full scan tries these mails again.
        for mail, error in failed:
            # A lock that outlived the busy timeout clears by itself: the retry will do.
            level = logging.WARNING if error.locked else logging.ERROR
            log.log(level, "could not record %s: %s", mail.source_ref, error)
        raise PartlyRecorded(to_queue, failed[0][1])
    return to_queue


class PartlyRecorded(StoreError):
    """Some mails of a batch could not be recorded; ``recorded`` are the ids to queue."""

    def __init__(self, recorded: list[int], cause: StoreError) -> None:
        super().__init__(f"some mails could not be recorded: {cause}")
        self.recorded = recorded


def warm_up_parser() -> None:
    """Parse one tiny mail, so the parser's language model is loaded before real mail
    waits for it (about a second)."""
    from labeling.mail.mime import normalise

    normalise(b"From: a@example.org\r\nSubject: hallo\r\n\r\nGoedemorgen, dit is een test.\r\n")


def _record_and_queue(
    sessions: sessionmaker[Session], mailbox_id: int, raw_mail: RawMail, enqueue: Enqueue
) -> None:
    arrival = record(sessions, mailbox_id, raw_mail)
    if arrival.queue:
        # Recorded and committed first: if queueing fails (the broker is down) the mail
        # waits as 'new' and the sweep queues it. ``enqueue`` logs its own failures.
        enqueue(arrival.message_id)


# IMAP -------------------------------------------------------------------------------------


class ImapWatcher:
    """Watches one IMAP folder (see the module docstring). :meth:`run` blocks until
    ``stop`` is set; every error is logged and retried with backoff, none ends it."""

    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        mailbox_id: int,
        config: MailboxConfig,
        enqueue: Enqueue,
        *,
        connect: Callable[[], IMAPClient] | None = None,
        holder: str | None = None,
    ) -> None:
        assert config.imap is not None
        self.settings = settings
        self.sessions = sessions
        self.mailbox_id = mailbox_id
        self.config = config
        self.url = config.imap
        self.enqueue = enqueue
        self.holder = holder or holder_name()
        self.lease = f"mailbox:{mailbox_id}"
        self._connect = connect or self._default_connect
        self.cycles = 0

    def _default_connect(self) -> IMAPClient:
        return imap.connect(self.url, self.settings.imap_timeout)

    def run(self, stop: threading.Event) -> None:
        backoff = 1.0
        try:
            while not stop.is_set():
                try:
                    if not leases.acquire(
                        self.sessions, self.lease, self.holder, self.settings.lease_ttl
                    ):
                        stop.wait(min(5.0, self.settings.lease_ttl / 3))
                        continue
                    log.info("watching %s", self.config.key)
                    self._watch(stop)
                    backoff = 1.0
                except (ImapError, StoreError) as exc:
                    wait = backoff * (1 + random.random() / 2)
                    log.warning("%s: %s; trying again in %.1f s", self.config.key, exc, wait)
                    stop.wait(wait)
                    backoff = min(backoff * 2, MAX_BACKOFF)
        finally:
            try:
                leases.release(self.sessions, self.lease, self.holder)
            except StoreError as exc:
                log.warning("could not release %s: %s (it expires)", self.lease, exc)

    def _errors(self, doing: str) -> AbstractContextManager[None]:
        return imap.errors(self.url, doing)

    def _watch(self, stop: threading.Event) -> None:
        with self._errors("connecting"):
            client = self._connect()
        try:
            imap.login(client, self.url)
            with self._errors("asking for IDLE"):
                idle = client.has_capability("IDLE")
            uidvalidity, highest = self._select(client)
            highest = max(highest, self._scan(client, uidvalidity, full=True, after=0))
            while not stop.is_set():
                if not leases.acquire(
                    self.sessions, self.lease, self.holder, self.settings.lease_ttl
                ):
                    log.warning("lost the lease on %s; another worker watches it", self.lease)
                    return
                self.cycles += 1
                wait = min(self.settings.idle_timeout, self.settings.lease_ttl / 3)
                with self._errors("waiting for new mail"):
                    if idle:
                        # Woken by the server's EXISTS, or every second to see ``stop``.
                        client.idle()
                        deadline = time.monotonic() + wait
                        while not stop.is_set() and time.monotonic() < deadline:
                            if client.idle_check(timeout=1.0):
                                break
                        client.idle_done()
                    else:
                        stop.wait(min(wait, self.settings.poll_interval))
                current, top = self._select(client)
                if current != uidvalidity:
                    log.warning(
                        "%s: UIDVALIDITY changed %d -> %d; looking at every unrouted mail",
                        self.config.key,
                        uidvalidity,
                        current,
                    )
                    uidvalidity = current
                    highest = max(top, self._scan(client, uidvalidity, full=True, after=0))
                else:
                    highest = max(
                        highest, self._scan(client, uidvalidity, full=False, after=highest)
                    )
        finally:
            close_quietly(client)

    def _select(self, client: IMAPClient) -> tuple[int, int]:
        with self._errors(f"opening {self.config.folder!r}"):
            info = client.select_folder(self.config.folder, readonly=True)
        uidvalidity = int(info[b"UIDVALIDITY"])
        # Everything below UIDNEXT existed at SELECT; the first full scan saw what of it
        # still needs routing, so later scans start above it.
        return uidvalidity, max(int(info.get(b"UIDNEXT", 1)) - 1, 0)

    def _scan(self, client: IMAPClient, uidvalidity: int, *, full: bool, after: int) -> int:
        """Record and queue unseen mail; return the highest UID looked at."""
        with self._errors("searching for new mail"):
            if full:
                found = client.search(
                    ["UNKEYWORD", ROUTED_KEYWORD, "UNKEYWORD", REVIEW_KEYWORD, "UNDELETED"]
                )
            else:
                found = client.search(["UID", f"{after + 1}:*"])
        uids = sorted(uid for uid in found if uid > after)
        if not uids:
            return after
        unknown = self._unknown(uidvalidity, uids)
        limit = self.settings.max_mail_bytes
        # Sizes first: a mail over the limit is quarantined from its headers, never fetched
        # whole, and a batch holds at most `limit` bytes (imap.fetch_bounded).
        batches = imap.fetch_bounded(
            client, unknown, max_mail_bytes=limit, max_batch=FETCH_BATCH
        )
        while True:
            with self._errors("fetching new mail"):
                fetched = next(batches, None)
            if fetched is None:
                break
            mails = [
                RawMail(
                    raw=mail.raw,
                    folder=self.config.folder,
                    source_ref=f"{self.config.folder}:{uidvalidity}:{mail.uid}",
                    uid=mail.uid,
                    uidvalidity=uidvalidity,
                    refused="" if mail.whole else imap.too_large_reason(mail.size, limit),
                )
                for mail in fetched
            ]
            if not mails:
                continue
            # Recorded and committed first: if queueing fails (the broker is down) the
            # mail waits as 'new' and the sweep queues it. ``enqueue`` logs its failures.
            try:
                recorded = record_many(self.sessions, self.mailbox_id, mails)
            except PartlyRecorded as exc:
                for message_id in exc.recorded:
                    self.enqueue(message_id)
                raise
            for message_id in recorded:
                self.enqueue(message_id)
            # A long backlog must not outlast the lease: renew it between batches.
            if not leases.acquire(self.sessions, self.lease, self.holder, self.settings.lease_ttl):
                log.warning("lost the lease on %s during a scan", self.lease)
                return max(mail.uid or 0 for mail in mails)
        return max(uids)

    def _unknown(self, uidvalidity: int, uids: list[int]) -> list[int]:
        known: set[int] = set()
        with session_scope(self.sessions) as session:
            for start in range(0, len(uids), 500):
                chunk = uids[start : start + 500]
                known.update(
                    uid
                    for uid in session.scalars(
                        select(Message.uid).where(
                            Message.mailbox_id == self.mailbox_id,
                            Message.uidvalidity == uidvalidity,
                            Message.uid.in_(chunk),
                        )
                    )
                    if uid is not None
                )
        return [uid for uid in uids if uid not in known]


# Maildir ------------------------------------------------------------------------------------


class MaildirWatcher:
    """Polls a local Maildir inbox (the embedded default); see the module docstring."""

    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        mailbox_id: int,
        config: MailboxConfig,
        enqueue: Enqueue,
        *,
        holder: str | None = None,
    ) -> None:
        assert config.path is not None
        self.settings = settings
        self.sessions = sessions
        self.mailbox_id = mailbox_id
        self.path = config.path
        self.enqueue = enqueue
        self.holder = holder or holder_name()
        self.lease = f"mailbox:{mailbox_id}"

    def run(self, stop: threading.Event) -> None:
        for sub in ("tmp", "new", "cur"):
            (self.path / sub).mkdir(parents=True, exist_ok=True)
        try:
            while not stop.is_set():
                try:
                    if leases.acquire(
                        self.sessions, self.lease, self.holder, self.settings.lease_ttl
                    ):
                        self.scan()
                except StoreError as exc:
                    log.warning("%s: %s; trying again", self.path, exc)
                stop.wait(min(self.settings.poll_interval, self.settings.lease_ttl / 3))
        finally:
            try:
                leases.release(self.sessions, self.lease, self.holder)
            except StoreError as exc:
                log.warning("could not release %s: %s (it expires)", self.lease, exc)

    def scan(self) -> int:
        """Record and queue the inbox's unseen files; return how many were new."""
        names = sorted(
            entry.name
            for sub in ("new", "cur")
            for entry in os.scandir(self.path / sub)
            if entry.is_file() and not entry.name.startswith(".")
        )
        if not names:
            return 0
        with session_scope(self.sessions) as session:
            known = set(
                session.scalars(
                    select(Message.source_ref).where(
                        Message.mailbox_id == self.mailbox_id, Message.source_ref.in_(names)
                    )
                )
            )
        new = 0
        for name in names:
            if name in known:
                continue
            read = _read(self.path, name, self.settings.max_mail_bytes)
            if read is None:
                continue
            raw, refused = read
            try:
                _record_and_queue(
                    self.sessions,
                    self.mailbox_id,
                    RawMail(raw=raw, folder="", source_ref=name, refused=refused),
                    self.enqueue,
                )
            except StoreError as exc:
                # The file stays in the inbox and is tried again on the next poll; the
                # files after it are not held up.
                level = logging.WARNING if exc.locked else logging.ERROR
                log.log(level, "could not record %s: %s", self.path / name, exc)
                continue
            new += 1
        return new


def _read(inbox: Path, name: str, max_mail_bytes: int) -> tuple[bytes, str] | None:
    for sub in ("new", "cur"):
        try:
            return read_mail_file(inbox / sub / name, max_mail_bytes=max_mail_bytes)
        except FileNotFoundError:
            continue
    return None  # moved away meanwhile (a mail client, or another worker)
