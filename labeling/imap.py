"""The one IMAP module: URLs, connecting with a timeout, logging in, and the one translation
of IMAP errors into ours — used by the archive importer, the mailbox watchers and the
worker's IMAP actions alike.

A mailbox URL::

    imap://USER:PASSWORD@HOST[:PORT]/FOLDER     plain IMAP, port 143 by default
    imaps://USER:PASSWORD@HOST[:PORT]/FOLDER    IMAP over TLS, port 993 by default

USER, PASSWORD and FOLDER are percent-decoded, so a password holding ``@``, ``:``, ``/``,
``?``, ``#`` or ``%`` is written with ``%40``, ``%3A``, ``%2F``, ``%3F``, ``%23``, ``%25``.

Every failure leaves :func:`errors` as an :class:`ImapError` whose ``transient`` says
whether trying again may help: a refused login is not (unless the server says it is busy:
RFC 5530's ``[UNAVAILABLE]`` and friends), nor is an untrusted TLS certificate; a dropped
connection, a timeout or an unreachable host is.
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
from labeling.masking import mask_url

log = logging.getLogger(__name__)

DEFAULT_PORTS = {"imap": 143, "imaps": 993}
DEFAULT_TIMEOUT = 60.0  # seconds per connect or read: a silent server must not hang us

# Response codes (RFC 5530) after which trying again later may succeed.
_TRANSIENT_CODES = ("[UNAVAILABLE]", "[SERVERBUG]", "[INUSE]", "[LIMIT]")

Connect = Callable[[], IMAPClient]


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
    """For error messages about URLs that did not parse: the password as ``***``, whatever
    characters it holds (``/``, ``#``, ``@`` …)."""
    return mask_url(url)


def lacks_password(url: str) -> bool:
    """Whether ``url`` is an IMAP URL with a user but no password (``imap://user@host/``):
    the password then comes from MAILROOM_IMPORT_PASSWORD or a prompt."""
    if not url.startswith(("imap://", "imaps://")):
        return False
    rest = url.partition("://")[2]
    at = rest.rfind("@")
    return at > 0 and ":" not in rest[:at]


def with_password(url: str, password: str) -> str:
    """``imap://user@host/…`` with ``password`` put in, percent-encoded (kept in memory
    only: never on a command line, where every local user could read it)."""
    scheme, _sep, rest = url.partition("://")
    at = rest.rfind("@")
    return f"{scheme}://{rest[:at]}:{quote(password, safe='')}@{rest[at + 1 :]}"


def connect(url: ImapUrl, timeout: float = DEFAULT_TIMEOUT) -> IMAPClient:
    """A connected, not yet logged-in client for ``url`` (plain or TLS), with ``timeout``
    on every socket operation. Raises what the socket raises: wrap it in :func:`errors`."""
    return IMAPClient(url.host, port=url.port, ssl=url.ssl, timeout=timeout)


@contextmanager
def session(
    url: ImapUrl, connect_to: Connect | None = None, *, lost: str = ""
) -> Iterator[IMAPClient]:
    """A logged-in client for ``url``, logged out (or at least closed) afterwards.
    ``connect_to`` is the seam: tests pass a fake; the default is :func:`connect`.
    ``lost`` is added to the message of a dropped connection (what the user may do)."""
    with errors(url, "connecting", lost=lost):
        client = (connect_to or (lambda: connect(url)))()
    try:
        login(client, url, lost=lost)
        yield client
    finally:
        close_quietly(client)


def login(client: IMAPClient, url: ImapUrl, *, lost: str = "") -> None:
    """Log ``client`` in with the URL's user and password; closes it if that fails."""
    try:
        with errors(url, "logging in", lost=lost):
            client.login(url.user, url.password)
    except ImapError:
        close_quietly(client)
        raise


@contextmanager
def errors(url: ImapUrl, doing: str, *, lost: str = "") -> Iterator[None]:
    """Translate imapclient, imaplib, ssl and socket errors raised inside into
    :class:`ImapError` (see the module doc); ``doing`` says what was under way."""
    try:
        yield
    except (imaplib.IMAP4.error, OSError, EOFError) as exc:
        raise translate(exc, url, doing, lost=lost) from exc


def translate(exc: BaseException, url: ImapUrl, doing: str, *, lost: str = "") -> ImapError:
    """The :class:`ImapError` for an error of the IMAP libraries or the socket."""
    where = f"IMAP server {url.address}"
    if isinstance(exc, LoginError):
        # imapclient turns every failure during LOGIN into LoginError, a dropped
        # connection included: the original tells a refusal from a lost link.
        if isinstance(exc.__context__, imaplib.IMAP4.abort | OSError | EOFError):
            return translate(exc.__context__, url, doing, lost=lost)
        text = server_text(exc)
        return ImapError(
            f"{where} refused the login of user {url.user!r}: {text}. Check the user and "
            "password (in a URL, percent-encode special characters).",
            transient=_is_transient(text),
        )
    if isinstance(exc, imaplib.IMAP4.abort):  # connection dropped, or the server said BYE
        return ImapError(
            f"lost the connection to {where} while {doing}: {server_text(exc)}."
            + (f" {lost}" if lost else ""),
            transient=True,
        )
    if isinstance(exc, imaplib.IMAP4.error):  # a NO or BAD answer, or a protocol violation
        text = server_text(exc)
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
        "Check the host and port; if they are right, it is tried again.",
        transient=True,
    )


def close_quietly(client: IMAPClient) -> None:
    """Log out politely; if the connection is already gone, just close the socket."""
    try:
        client.logout()
    except (imaplib.IMAP4.error, OSError, EOFError):
        try:
            client.shutdown()
        except (imaplib.IMAP4.error, OSError, EOFError) as exc:
            log.debug("closing the IMAP connection failed: %s", exc)


def as_text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def server_text(exc: BaseException) -> str:
    """The server's words from an imaplib/imapclient error, without a ``b'…'`` wrapper."""
    text = " ".join(as_text(arg) if isinstance(arg, bytes | str) else str(arg) for arg in exc.args)
    match = re.fullmatch(r"b(['\"])(.*)\1", text)
    text = (match.group(2) if match else text).strip().rstrip(".")
    return text or type(exc).__name__


def _is_transient(text: str) -> bool:
    return any(code in text.upper() for code in _TRANSIENT_CODES)


# Fetching mail whole, within a size bound --------------------------------------------------

# The header section fetched of a mail too large to fetch whole: what a person needs to find
# it in the mailbox (From, Subject, Date, Message-ID), never more.
MAX_HEADER_BYTES = 64 * 1024
# UIDs asked about per RFC822.SIZE round trip.
SIZE_CHUNK = 500


@dataclass(frozen=True, slots=True)
class FetchedMail:
    """One mail from :func:`fetch_bounded`: its bytes, or — when the server said it is larger
    than the bound — only its header section, with ``size`` the size the server reported."""

    uid: int
    raw: bytes
    whole: bool
    size: int


def fetch_bounded(
    client: IMAPClient, uids: list[int], *, max_mail_bytes: int, max_batch: int
) -> Iterator[list[FetchedMail]]:
    """Fetch the mails ``uids`` (ascending) of the selected folder, asking their sizes
    first (``RFC822.SIZE``): a mail over ``max_mail_bytes`` is not fetched whole, only its
    header section (``BODY.PEEK[HEADER]``, cut at :data:`MAX_HEADER_BYTES`). The others are
    fetched with ``BODY.PEEK[]`` in batches of at most ``max_batch`` mails and at most
    ``max_mail_bytes`` bytes together (a mail as large as the bound goes alone), so one
    batch holds a bounded amount of memory. Yields each batch, fetched whole before it is
    yielded, in UID order; a UID expunged meanwhile is left out. IMAP errors leave as
    imaplib/IMAPClient errors: the caller advances this generator inside :func:`errors`."""
    for start in range(0, len(uids), SIZE_CHUNK):
        chunk = uids[start : start + SIZE_CHUNK]
        sizes = {
            uid: int(data[b"RFC822.SIZE"])
            for uid, data in client.fetch(chunk, ["RFC822.SIZE"]).items()
            if b"RFC822.SIZE" in data
        }
        batch: list[int] = []
        batch_bytes = 0
        for uid in chunk:
            if uid not in sizes:
                continue  # expunged since the search
            size = sizes[uid]
            if size > max_mail_bytes:
                if batch:
                    yield _fetch_whole(client, batch, sizes)
                    batch, batch_bytes = [], 0
                yield _fetch_headers(client, uid, size)
                continue
            if batch and (len(batch) >= max_batch or batch_bytes + size > max_mail_bytes):
                yield _fetch_whole(client, batch, sizes)
                batch, batch_bytes = [], 0
            batch.append(uid)
            batch_bytes += size
        if batch:
            yield _fetch_whole(client, batch, sizes)


def _fetch_whole(client: IMAPClient, uids: list[int], sizes: dict[int, int]) -> list[FetchedMail]:
    response = client.fetch(uids, ["BODY.PEEK[]"])
    fetched = []
    for uid in uids:
        raw = response.get(uid, {}).get(b"BODY[]")
        if isinstance(raw, bytes):
            fetched.append(FetchedMail(uid, raw, True, sizes.get(uid, len(raw))))
    return fetched


def _fetch_headers(client: IMAPClient, uid: int, size: int) -> list[FetchedMail]:
    response = client.fetch([uid], [f"BODY.PEEK[HEADER]<0.{MAX_HEADER_BYTES}>"])
    data = response.get(uid, {})
    raw = next((value for key, value in data.items() if key.startswith(b"BODY[HEADER]")), None)
    if not isinstance(raw, bytes):
        return []
    return [FetchedMail(uid, raw, False, size)]


def too_large_reason(size: int, limit: int) -> str:
    """The quarantine reason of a mail not fetched whole."""
    return (
        f"too large: {size:,} bytes, more than MAILROOM_MAX_MAIL_BYTES ({limit:,}); only its "
        "headers were read: open it in the mailbox"
    )
