"""Import mail from an IMAP account: read-only, in batches, resumable by UID.

The source is a URL::

    imap://USER:PASSWORD@HOST[:PORT]/FOLDER     plain IMAP, port 143 by default
    imaps://USER:PASSWORD@HOST[:PORT]/FOLDER    IMAP over TLS, port 993 by default

USER, PASSWORD and FOLDER are percent-decoded, so a password holding ``@``, ``:``, ``/``,
``?``, ``#`` or ``%`` is written with ``%40``, ``%3A``, ``%2F``, ``%3F``, ``%23``, ``%25``.
FOLDER is the server's own mailbox name (``INBOX``, ``INBOX.Claims``, ``Archive/2023``); an
empty path or ``*`` imports every selectable folder that LIST shows, INBOX first.

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

import imaplib
import logging
import re
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from labeling.errors import ImapError, ImportSourceError
from labeling.mail.values import RawMail

log = logging.getLogger(__name__)

DEFAULT_PORTS = {"imap": 143, "imaps": 993}
DEFAULT_TIMEOUT = 60.0  # seconds per connect or read; a silent server must not hang an import

# Response codes (RFC 5530) after which trying again later may succeed.
_TRANSIENT_CODES = ("[UNAVAILABLE]", "[SERVERBUG]", "[INUSE]", "[LIMIT]")

StartAfter = Callable[[str, int], int]


@dataclass(frozen=True, slots=True)
class ImapUrl:
    """A parsed ``imap://`` or ``imaps://`` URL. ``folder`` is None for every folder."""

    scheme: str
    host: str
    port: int
    user: str
    password: str
    folder: str | None

    @property
    def ssl(self) -> bool:
        return self.scheme == "imaps"

    @property
    def address(self) -> str:
        """``host:port``, with brackets around an IPv6 literal."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def redacted(self) -> str:
        """The URL without the password, safe for logs, progress bars and the store."""
        folder = "" if self.folder is None else quote(self.folder, safe="")
        return f"{self.scheme}://{quote(self.user, safe='')}@{self.address}/{folder}"


def parse_imap_url(url: str) -> ImapUrl:
    """Parse an IMAP source URL, or raise :class:`ImportSourceError` saying how to fix it."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        # Not the library's words: for an unencoded '#' or '/' in the password they quote
        # part of it as "the port".
        raise ImportSourceError(
            f"bad IMAP URL {_redact(url)!r}: cannot read the host and port. The port must be "
            "a number from 1 to 65535, and '#', '?', '/' and '@' in the user or password "
            "must be written as %23, %3F, %2F and %40"
        ) from exc
    if port == 0:
        raise ImportSourceError(f"bad IMAP URL {_redact(url)!r}: port 0")
    if parts.scheme not in DEFAULT_PORTS:
        raise ImportSourceError(
            f"bad IMAP URL {_redact(url)!r}: the scheme must be imap:// or imaps://"
        )
    if parts.query or parts.fragment:
        raise ImportSourceError(
            f"bad IMAP URL {_redact(url)!r}: it has a '?' or '#' part; write those characters "
            "in a password or folder as %3F and %23"
        )
    if not parts.hostname:
        raise ImportSourceError(f"bad IMAP URL {_redact(url)!r}: no host")
    if not parts.username or parts.password is None:
        raise ImportSourceError(
            f"bad IMAP URL {_redact(url)!r}: write the login as "
            f"{parts.scheme}://USER:PASSWORD@{parts.hostname}/FOLDER "
            "(percent-encode '@', ':' and '/' in them)"
        )
    path = unquote(parts.path.removeprefix("/"))
    return ImapUrl(
        scheme=parts.scheme,
        host=parts.hostname,
        port=port or DEFAULT_PORTS[parts.scheme],
        user=unquote(parts.username),
        password=unquote(parts.password),
        folder=None if path in ("", "*") else path,
    )


def _redact(url: str) -> str:
    """Best effort for error messages about URLs that did not parse: drop the password."""
    return re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", url)


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

    ``batch_size`` UIDs are fetched per FETCH. ``start_after`` makes the import resumable
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
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        self.url = parse_imap_url(url)
        self.batch_size = batch_size
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
                for start in range(0, len(selected.uids), self.batch_size):
                    batch = selected.uids[start : start + self.batch_size]
                    # Fetched before yielding: no server call is in flight while the caller
                    # works, and a failure is translated here, not inside the caller's code.
                    yield from self._fetch(client, selected, batch)

    # -- connection --------------------------------------------------------------------

    def _default_connect(self) -> IMAPClient:
        return IMAPClient(
            self.url.host, port=self.url.port, ssl=self.url.ssl, timeout=self._timeout
        )

    @contextmanager
    def _session(self) -> Iterator[IMAPClient]:
        """A logged-in client, logged out (or at least closed) afterwards."""
        with self._errors("connecting"):
            client = self._connect()
        try:
            with self._errors("logging in"):
                client.login(self.url.user, self.url.password)
            yield client
        finally:
            close_quietly(client)

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        """Translate imapclient, imaplib, ssl and socket errors into ImapError."""
        try:
            yield
        except (imaplib.IMAP4.error, OSError, EOFError) as exc:
            raise self._translate(exc, doing) from exc

    def _translate(self, exc: BaseException, doing: str) -> ImapError:
        where = f"IMAP server {self.url.address}"
        if isinstance(exc, LoginError):
            # imapclient turns every failure during LOGIN into LoginError, a dropped
            # connection included: the original tells a refusal from a lost link.
            if isinstance(exc.__context__, imaplib.IMAP4.abort | OSError | EOFError):
                return self._translate(exc.__context__, doing)
            text = _server_text(exc)
            return ImapError(
                f"{where} refused the login of user {self.url.user!r}: {text}. Check the "
                "user and password in the URL (percent-encode special characters).",
                transient=_is_transient(text),
            )
        if isinstance(exc, imaplib.IMAP4.abort):  # connection dropped, or the server said BYE
            return ImapError(
                f"lost the connection to {where} while {doing}: {_server_text(exc)}. "
                "Run the import again; it resumes where it stopped.",
                transient=True,
            )
        if isinstance(exc, imaplib.IMAP4.error):  # a NO or BAD answer, or a protocol violation
            text = _server_text(exc)
            return ImapError(f"{where} failed while {doing}: {text}", transient=_is_transient(text))
        if isinstance(exc, ssl.SSLCertVerificationError):
            return ImapError(
                f"the TLS certificate of {where} is not trusted: {exc.verify_message}. "
                "Add its CA to the system's trust store, or use the name it was issued for.",
                transient=False,
            )
        # OSError or EOFError: refused, unreachable, reset, timed out.
        return ImapError(
            f"cannot talk to {where} while {doing}: {exc or type(exc).__name__}. "
            "Check the host and port; if they are right, try again later.",
            transient=True,
        )

    # -- folders -----------------------------------------------------------------------

    def _mailboxes(self, client: IMAPClient) -> list[Mailbox]:
        with self._errors("listing folders"):
            listing = client.list_folders()
        selectable = [
            (_text(name), _text(delimiter) if delimiter else None)
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

    def _fetch(self, client: IMAPClient, selected: _Selected, batch: list[int]) -> list[RawMail]:
        name = selected.mailbox.name
        with self._errors(f"fetching mail from folder {name!r}"):
            response = client.fetch(batch, ["BODY.PEEK[]"])
        mails = []
        for uid in batch:
            data = response.get(uid)
            if data is None:  # expunged since the search: nothing left to import
                log.info("%s: UID %d vanished before it was fetched", name, uid)
                continue
            raw = data.get(b"BODY[]")
            if not isinstance(raw, bytes):
                raise ImapError(
                    f"IMAP server {self.url.address} sent no body for UID {uid} in folder {name!r}",
                    transient=False,
                )
            label = selected.mailbox.label
            mails.append(
                RawMail(
                    raw=raw,
                    folder=label,
                    source_ref=f"{label}:{selected.uidvalidity}:{uid}",
                    uid=uid,
                    uidvalidity=selected.uidvalidity,
                )
            )
        return mails


def close_quietly(client: IMAPClient) -> None:
    """Log out politely; if the connection is already gone, just close the socket."""
    try:
        client.logout()
    except (imaplib.IMAP4.error, OSError, EOFError):
        try:
            client.shutdown()
        except (imaplib.IMAP4.error, OSError, EOFError) as exc:
            log.debug("closing the IMAP connection failed: %s", exc)


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _server_text(exc: BaseException) -> str:
    """The server's words from an imaplib/imapclient error, without a ``b'…'`` wrapper."""
    text = " ".join(_text(arg) if isinstance(arg, bytes | str) else str(arg) for arg in exc.args)
    match = re.fullmatch(r"b(['\"])(.*)\1", text)
    text = (match.group(2) if match else text).strip().rstrip(".")
    return text or type(exc).__name__


def _is_transient(text: str) -> bool:
    return any(code in text.upper() for code in _TRANSIENT_CODES)
