"""Import mail from an IMAP account: read-only, in batches, resumable by UID.

The source is an ``imap://`` or ``imaps://`` URL (see :mod:`labeling.imap`, which also
connects and translates errors). FOLDER is the server's own mailbox name (``INBOX``,
``INBOX.Claims``, ``Archive/2023``); an empty path or ``*`` imports every selectable folder
that LIST shows, INBOX first.

The archive is never changed: folders are opened with EXAMINE (read-only SELECT) and bodies
are fetched with ``BODY.PEEK[]``, which does not set ``\\Seen``.

**Folder names for weak labels** (:attr:`RawMail.folder`, and the ``folder`` handed to
``start_after``): the server's mailbox name, with

* INBOX itself (any case) as ``''`` — what the Maildir importer calls its root folder;
* a leading ``INBOX<delimiter>`` removed, so ``INBOX.Claims`` and ``INBOX/Claims`` both
  become ``Claims``: servers that keep folders under INBOX (Courier, Cyrus, some Dovecot
  setups) and servers that keep them beside it label alike;
* deeper levels kept with the server's delimiter (``Claims.Auto`` on Dovecot's Maildir++),
  as the user sees them in a mail client.

If stripping would make two mailboxes share a name (an account holding both ``Claims`` and
``INBOX.Claims``), the one under INBOX keeps its full name, so that resumption, which is
kept per folder name and UIDVALIDITY, never mixes two mailboxes.

Each mail's ``source_ref`` is ``<label>:<uidvalidity>:<uid>`` (``:1700000000:42`` for
INBOX), unique within one account.

**Resumption.** ``start_after(folder, uidvalidity)`` returns the highest UID already
imported from that folder under that UIDVALIDITY (0 for none); only later UIDs are fetched.
A new UIDVALIDITY means the server renumbered the folder, so the caller answers 0 and the
whole folder is read again (the store's Message-ID and content-hash dedupe catches repeats).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass

from imapclient import IMAPClient

from labeling import imap
from labeling.errors import ImapError
from labeling.imap import DEFAULT_TIMEOUT, as_text
from labeling.importers import DEFAULT_MAX_MAIL_BYTES
from labeling.mail.values import RawMail

log = logging.getLogger(__name__)

RESUME_HINT = "Run the import again; it resumes where it stopped."

StartAfter = Callable[[str, int], int]


def folder_label(mailbox: str, delimiter: str | None) -> str:
    """The folder name used for weak labels (see the module docstring)."""
    if mailbox.upper() == "INBOX":
        return ""
    if delimiter and mailbox.upper().startswith("INBOX" + delimiter.upper()):
        return mailbox[len("INBOX") + len(delimiter) :]
    return mailbox


@dataclass(frozen=True, slots=True)
class Mailbox:
    """A server mailbox to read: its name on the server and its label name."""

    name: str
    label: str


def label_mailboxes(listing: list[tuple[str, str | None]]) -> list[Mailbox]:
    """Label (name, delimiter) pairs from LIST; INBOX first, then by name.

    A mailbox under INBOX whose stripped name another mailbox already has keeps its full
    name, so two mailboxes never share a label.
    """
    names = {name for name, _ in listing}
    mailboxes = []
    for name, delimiter in listing:
        label = folder_label(name, delimiter)
        if label and label != name and label in names:
            label = name
        mailboxes.append(Mailbox(name=name, label=label))
    return sorted(mailboxes, key=lambda m: (m.label != "", m.label))


@dataclass(frozen=True, slots=True)
class _Selected:
    mailbox: Mailbox
    uidvalidity: int
    uids: list[int]  # still to fetch, ascending


class ImapSource:
    """Mail of one IMAP folder, or of every folder of an account, as :class:`RawMail`.

    At most ``batch_size`` UIDs, and ``max_mail_bytes`` bytes, are fetched per FETCH; a
    mail the server says is larger than ``max_mail_bytes`` comes as its header section with
    ``RawMail.refused`` (:func:`labeling.imap.fetch_bounded`). ``start_after`` makes the
    import resumable
    (module docstring). ``connect`` returns a connected IMAPClient that is not yet logged in;
    the source logs in with the URL's user and password. It exists so tests can pass a fake;
    the default opens a plain or TLS connection to the URL's host with ``timeout``.

    Every failure is an :class:`ImapError`: a refused login has ``transient=False``, a lost
    connection ``transient=True`` (run the import again: it resumes). A URL that cannot be
    used raises :class:`ImportSourceError` from the constructor.
    """

    def __init__(
        self,
        url: str,
        *,
        batch_size: int,
        start_after: StartAfter | None = None,
        connect: Callable[[], IMAPClient] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_mail_bytes: int = DEFAULT_MAX_MAIL_BYTES,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        self.url = imap.parse_imap_url(url)
        self.batch_size = batch_size
        self.max_mail_bytes = max_mail_bytes
        self._start_after = start_after
        self._connect = connect or self._default_connect
        self._timeout = timeout
        self.description = self.url.redacted()

    def __repr__(self) -> str:
        return f"ImapSource({self.description!r}, batch_size={self.batch_size})"

    def count(self) -> int | None:
        """How many mails iterating now would yield (after resumption)."""
        with self._session() as client:
            return sum(len(s.uids) for s in self._select_all(client))

    def __iter__(self) -> Iterator[RawMail]:
        with self._session() as client:
            for mailbox in self._mailboxes(client):
                selected = self._select(client, mailbox)
                batches = imap.fetch_bounded(
                    client,
                    selected.uids,
                    max_mail_bytes=self.max_mail_bytes,
                    max_batch=self.batch_size,
                )
                while True:
                    # Fetched before yielding: no server call is in flight while the caller
                    # works, and a failure is translated here, not inside the caller's code.
                    with self._errors(f"fetching mail from folder {mailbox.name!r}"):
                        batch = next(batches, None)
                    if batch is None:
                        break
                    yield from self._raw_mails(selected, batch)

    # -- connection --------------------------------------------------------------------

    def _default_connect(self) -> IMAPClient:
        return imap.connect(self.url, self._timeout)

    @contextmanager
    def _session(self) -> Iterator[IMAPClient]:
        """A logged-in client, logged out (or at least closed) afterwards."""
        with imap.session(self.url, self._connect, lost=RESUME_HINT) as client:
            yield client

    def _errors(self, doing: str) -> AbstractContextManager[None]:
        return imap.errors(self.url, doing, lost=RESUME_HINT)

    # -- folders -----------------------------------------------------------------------

    def _mailboxes(self, client: IMAPClient) -> list[Mailbox]:
        with self._errors("listing folders"):
            listing = client.list_folders()
        selectable = [
            (as_text(name), as_text(delimiter) if delimiter else None)
            for flags, delimiter, name in listing
            if not {b"\\NOSELECT", b"\\NONEXISTENT"} & {f.upper() for f in flags}
        ]
        mailboxes = label_mailboxes(selectable)
        if self.url.folder is None:
            return mailboxes
        wanted = self.url.folder
        for mailbox in mailboxes:
            if mailbox.name == wanted or mailbox.name.upper() == wanted.upper() == "INBOX":
                return [mailbox]
        known = ", ".join(m.name for m in mailboxes) or "none"
        raise ImapError(
            f"folder {wanted!r} is not a selectable folder of {self.description} "
            f"(folders: {known})",
            transient=False,
        )

    def _select_all(self, client: IMAPClient) -> list[_Selected]:
        return [self._select(client, mailbox) for mailbox in self._mailboxes(client)]

    def _select(self, client: IMAPClient, mailbox: Mailbox) -> _Selected:
        with self._errors(f"opening folder {mailbox.name!r}"):
            info = client.select_folder(mailbox.name, readonly=True)
        uidvalidity = int(info[b"UIDVALIDITY"])
        # Outside the translation: a failing callback (the store) is not an IMAP error.
        after = self._start_after(mailbox.label, uidvalidity) if self._start_after else 0
        if int(info.get(b"EXISTS", 1)) == 0:
            return _Selected(mailbox, uidvalidity, [])
        with self._errors(f"searching folder {mailbox.name!r}"):
            found = client.search(["UID", f"{after + 1}:*"])
        # `UID n:*` always matches the highest UID, even below n: keep only what is new.
        uids = sorted(uid for uid in found if uid > after)
        log.debug("%s: %d new mail(s) after UID %d", mailbox.name, len(uids), after)
        return _Selected(mailbox, uidvalidity, uids)

    def _raw_mails(self, selected: _Selected, batch: list[imap.FetchedMail]) -> list[RawMail]:
        label = selected.mailbox.label
        return [
            RawMail(
                raw=mail.raw,
                folder=label,
                source_ref=f"{label}:{selected.uidvalidity}:{mail.uid}",
                uid=mail.uid,
                uidvalidity=selected.uidvalidity,
                refused="" if mail.whole else imap.too_large_reason(mail.size, self.max_mail_bytes),
            )
            for mail in batch
        ]
