"""How routed mail leaves, and how the original is marked done: SMTP, IMAP, Maildir.

Building the forwarded mail is pure (:func:`build_forward`). The senders take a connection
factory (a seam: unit tests pass fakes, integration tests the real servers) and raise only
:class:`SmtpError` / :class:`ImapError`, with ``transient`` telling whether a retry may
succeed (4xx and lost connections: yes; 5xx and refusals: no).

The forwarded copy carries a deterministic Message-ID
(:func:`labeling.live.lifecycle.outgoing_message_id`, from the original's content hash and
the team), so if a worker dies after the server accepted
a forward but before it was recorded, the copy sent again on retry has the same
Message-ID and downstream can drop it: at-least-once delivery with an idempotency key.
"""

from __future__ import annotations

import hashlib
import imaplib
import logging
import os
import re
import smtplib
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from email.header import Header
from email.utils import format_datetime
from pathlib import Path
from typing import Literal, TypeVar

from imapclient import IMAPClient

from labeling import imap
from labeling.errors import ImapError, SmtpError
from labeling.imap import ImapUrl, close_quietly
from labeling.mail.addresses import display_address, needs_smtputf8

log = logging.getLogger(__name__)

ForwardMode = Literal["attach", "resend"]

ROUTED_KEYWORD = "$MailroomRouted"
REVIEW_KEYWORD = "$MailroomReview"
CRLF = b"\r\n"
SMTP_TIMEOUT = 60.0
# RFC 5322 2.1.1: header lines SHOULD stay within 78 characters and MUST within 998.
FOLD_AT = 78
MAX_LINE_CHARS = 998
# A rule's priority as mail clients read it (RFC 2156 Importance; X-Priority as Outlook
# and Thunderbird write it). 'normal' adds nothing.
PRIORITY_HEADERS = {"high": ("high", "1 (Highest)"), "low": ("low", "5 (Lowest)")}


@dataclass(frozen=True, slots=True)
class ForwardInfo:
    """What the forwarded copy says about the decision (the ``X-Mailroom-*`` headers)."""

    team_slug: str
    to_address: str
    outgoing_id: str
    decided_by: str
    confidence: float | None = None
    model_version: str | None = None
    original_message_id: str | None = None
    original_subject: str = ""
    original_sender_name: str = ""
    original_sender_email: str = ""
    reason: str = ""
    send_back_url: str = ""  # where the team reports a misroute; "" when unknown
    explanation: tuple[str, ...] = ()  # "rule 'X' matched", one line each
    priority: str | None = None  # 'high' or 'low' from a rule: Importance / X-Priority


def _clean(value: str) -> str:
    """A header value on one line: mail content must not add headers of its own."""
    return re.sub(r"[\r\n\t]+", " ", value).strip()


def _header(name: str, value: str) -> bytes:
    """An unstructured header (subject, X-Mailroom-*, a Reply-To made by display_address):
    RFC 2047-encoded when not ASCII, folded when longer than a line should be, and never
    with a line over RFC 5322's 998 characters (a word longer than that is encoded, which
    may be split anywhere)."""
    value = _clean(value)
    line = f"{name}: {value}"
    if value.isascii() and len(line) <= FOLD_AT:
        return line.encode("ascii") + CRLF
    if value.isascii():
        folded = Header(value, "us-ascii", FOLD_AT, header_name=name).encode(linesep="\r\n")
        if all(len(part) <= MAX_LINE_CHARS - len(name) - 2 for part in folded.split("\r\n")):
            return f"{name}: {folded}".encode("ascii") + CRLF
    encoded = Header(value, "utf-8", FOLD_AT, header_name=name).encode(linesep="\r\n")
    return f"{name}: {encoded}".encode("ascii") + CRLF


def _address_header(name: str, address: str) -> bytes:
    """A header holding one bare addr-spec, as checked when it was stored (a team's address,
    our sender). A non-ASCII local part goes as UTF-8 (RFC 6532); SmtpSender then sends
    with SMTPUTF8. Never RFC 2047: an encoded address is no address."""
    return f"{name}: {_clean(address)}".encode() + CRLF


def _sender_line(info: ForwardInfo) -> str:
    """The original sender for the summary text: as a header would show it, else as is."""
    email = info.original_sender_email
    shown = display_address(info.original_sender_name, email) if email else None
    return _clean(shown or " ".join(filter(None, (info.original_sender_name, email))))


def mailroom_headers(info: ForwardInfo) -> bytes:
    """The ``X-Mailroom-*`` headers, CRLF-terminated."""
    confidence = "-" if info.confidence is None else f"{info.confidence:.4f}"
    headers = [
        _header("X-Mailroom-Team", info.team_slug),
        _header("X-Mailroom-Confidence", confidence),
        _header("X-Mailroom-Model-Version", info.model_version or "-"),
        _header("X-Mailroom-Decided-By", info.decided_by),
    ]
    if info.reason:
        headers.append(_header("X-Mailroom-Reason", info.reason))
    if info.priority in PRIORITY_HEADERS:
        importance, x_priority = PRIORITY_HEADERS[info.priority]
        headers.append(_header("Importance", importance))
        headers.append(_header("X-Priority", x_priority))
    if info.original_message_id:
        # The store keeps Message-IDs without their angle brackets; the header has them.
        original = info.original_message_id.strip()
        if not original.startswith("<"):
            original = f"<{original}>"
        headers.append(_header("X-Mailroom-Original-Message-ID", original))
    return b"".join(headers)


def _crlf(raw: bytes) -> bytes:
    """Bare LF (as a Maildir file holds it) to CRLF, as SMTP and RFC 5322 want."""
    return re.sub(rb"\r?\n", CRLF, raw)


def build_forward(
    raw: bytes, info: ForwardInfo, *, mode: ForwardMode, sender: str, now: datetime
) -> bytes:
    """The bytes to send to the team.

    ``attach``: a new mail from ``sender`` to the team, Reply-To the original sender, a
    short text part and the original, byte for byte, as a ``message/rfc822`` attachment.
    ``resend``: the original itself with ``Resent-From/To/Date/Message-ID`` on top (RFC
    5322 §3.6.6). Both carry the ``X-Mailroom-*`` headers; the deterministic id is the
    Message-ID (attach) or Resent-Message-ID (resend).
    """
    original = _crlf(raw)
    if not original.endswith(CRLF):
        original += CRLF
    date = format_datetime(now)
    if mode == "resend":
        top = (
            _address_header("Resent-From", sender)
            + _address_header("Resent-To", info.to_address)
            + _header("Resent-Date", date)
            + _header("Resent-Message-ID", info.outgoing_id)
            + mailroom_headers(info)
        )
        return top + original

    boundary = "mailroom-" + hashlib.sha256(original).hexdigest()[:32]
    if boundary.encode() in original:  # pragma: no cover - a hash collision in the body
        boundary += "-" + info.outgoing_id.strip("<>").split("@")[0]
    subject = _clean(info.original_subject)
    summary = (
        f"Mailroom routed this mail to {info.team_slug}.\r\n"
        f"Decided by: {info.decided_by}"
        + (f", confidence {info.confidence:.2f}" if info.confidence is not None else "")
        + (f", model {info.model_version}" if info.model_version else "")
        + ".\r\n"
        + "".join(f"Why: {_clean(line)}.\r\n" for line in info.explanation)
        + (f"Priority: {info.priority}.\r\n" if info.priority in PRIORITY_HEADERS else "")
        + f"From: {_sender_line(info) or '(unknown)'}\r\n"
        f"Subject: {subject or '(no subject)'}\r\n"
        "The original is attached.\r\n"
        + (
            f"Not for {info.team_slug}? Send it back to review: {_clean(info.send_back_url)}\r\n"
            if info.send_back_url
            else ""
        )
    )
    eight_bit = not original.isascii()
    parts = [
        _address_header("From", sender),
        _address_header("To", info.to_address),
        _header("Subject", f"Fwd: {subject}" if subject else "Fwd: (no subject)"),
        _header("Date", date),
        _header("Message-ID", info.outgoing_id),
    ]
    # The team's reply goes to the original sender: one address, its display name quoted or
    # encoded by the email package ("Jansen, Piet" stays one recipient; a name cannot add
    # one). A sender whose address cannot be written in ASCII gets no Reply-To; the summary
    # names it.
    reply_to = (
        display_address(info.original_sender_name, info.original_sender_email)
        if info.original_sender_email
        else None
    )
    if reply_to:
        parts.append(_header("Reply-To", reply_to))
    parts += [
        mailroom_headers(info),
        b"MIME-Version: 1.0\r\n",
        f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n'.encode(),
        CRLF,
        f"--{boundary}\r\n".encode(),
        b"Content-Type: text/plain; charset=utf-8\r\n",
        b"Content-Transfer-Encoding: 8bit\r\n" if not summary.isascii() else b"",
        CRLF,
        summary.encode("utf-8"),
        f"--{boundary}\r\n".encode(),
        b"Content-Type: message/rfc822\r\n",
        b'Content-Disposition: attachment; filename="original.eml"\r\n',
        # RFC 2046 §5.2.1: a message/rfc822 part is 7bit, 8bit or binary, never encoded.
        b"Content-Transfer-Encoding: 8bit\r\n" if eight_bit else b"",
        CRLF,
        original,
        f"--{boundary}--\r\n".encode(),
    ]
    return b"".join(parts)


# SMTP --------------------------------------------------------------------------------

SmtpConnect = Callable[[], smtplib.SMTP]


def translate_smtp_error(exc: BaseException, where: str) -> SmtpError:
    """An error raised while sending, as :class:`SmtpError`: 4xx answers, lost links and
    anything unforeseen are transient; 5xx answers, a missing SMTPUTF8 and an address that
    cannot be encoded are permanent (the same mail would fail the same way)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        text = "; ".join(
            f"{rcpt}: {code} {_decode(msg)}" for rcpt, (code, msg) in exc.recipients.items()
        )
        transient = any(400 <= code < 500 for code in codes)
        return SmtpError(f"{where} refused the recipient: {text}", transient=transient)
    if isinstance(exc, smtplib.SMTPResponseException):
        code = exc.smtp_code
        return SmtpError(
            f"{where} answered {code} {_decode(exc.smtp_error)}",
            transient=not 500 <= code < 600,
        )
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return SmtpError(f"{where} closed the connection: {exc}", transient=True)
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return SmtpError(
            f"{where} cannot take this mail: {exc} (an address with non-ASCII characters "
            "before the @ needs a server that offers SMTPUTF8)",
            transient=False,
        )
    if isinstance(exc, smtplib.SMTPException):
        return SmtpError(f"{where} failed: {exc}", transient=True)
    if isinstance(exc, UnicodeError):
        # The same mail would fail the same way: nothing to retry.
        return SmtpError(
            f"cannot send this mail to {where}: an address or header cannot be encoded "
            f"({exc}); check the team's forwarding address",
            transient=False,
        )
    if not isinstance(exc, OSError):
        return SmtpError(
            f"sending to {where} failed: {type(exc).__name__}: {exc}", transient=True
        )
    return SmtpError(
        f"cannot talk to {where}: {exc or type(exc).__name__}; check MAILROOM_SMTP_HOST and "
        "MAILROOM_SMTP_PORT, or try again later",
        transient=True,
    )


def _decode(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class SmtpSender:
    """Sends mail over one connection per thread, kept open between mails (a forward costs
    one transaction, not a connection, a greeting and a login).

    ``connect`` returns a connected :class:`smtplib.SMTP` (the seam for tests); by default
    it connects to ``host:port`` with STARTTLS and login when configured. A kept connection
    that turns out closed (the server's idle timeout) is replaced once, at once; any other
    failure — a server answer, a lost link, an address that cannot be encoded, anything
    raised mid-transaction — drops the connection and raises :class:`SmtpError`, classified
    as transient or permanent, so that no mail is sent over a connection another mail left
    mid-transaction ("503 nested MAIL command").
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        connect: SmtpConnect | None = None,
        timeout: float = SMTP_TIMEOUT,
    ) -> None:
        self.where = f"SMTP server {host}:{port}"
        self._host, self._port = host, port
        self._username, self._password = username, password
        self._starttls = starttls
        self._timeout = timeout
        self._connect = connect or self._default_connect
        self._local = threading.local()

    def _default_connect(self) -> smtplib.SMTP:
        client = smtplib.SMTP(self._host, self._port, timeout=self._timeout)
        if self._starttls:
            client.starttls()
        if self._username:
            client.login(self._username, self._password or "")
        return client

    def send(self, envelope_from: str, recipients: list[str], data: bytes) -> None:
        """Send ``data``; returns once the server accepted it for every recipient."""
        client: smtplib.SMTP | None = getattr(self._local, "client", None)
        if client is not None:
            try:
                self._transaction(client, envelope_from, recipients, data)
                return
            except (smtplib.SMTPServerDisconnected, ConnectionError):
                # The kept connection was closed by the server while idle: a new one.
                self._drop(client)
            except Exception as exc:
                # Whatever it was, the connection may be mid-transaction: never reuse it.
                self._drop(client)
                raise translate_smtp_error(exc, self.where) from exc
        try:
            client = self._connect()
        except (smtplib.SMTPException, OSError) as exc:
            raise translate_smtp_error(exc, self.where) from exc
        try:
            self._transaction(client, envelope_from, recipients, data)
        except Exception as exc:
            self._drop(client)
            raise translate_smtp_error(exc, self.where) from exc
        self._local.client = client

    @staticmethod
    def _transaction(
        client: smtplib.SMTP, envelope_from: str, recipients: list[str], data: bytes
    ) -> None:
        client.ehlo_or_helo_if_needed()
        options = ["BODY=8BITMIME"] if client.has_extn("8bitmime") else []
        if any(map(needs_smtputf8, [envelope_from, *recipients])):
            # smtplib refuses (SMTPNotSupportedError) when the server does not offer it.
            options.append("SMTPUTF8")
        refused = client.sendmail(envelope_from, recipients, data, mail_options=options)
        if refused:  # some recipients refused, others accepted: treat as a refusal
            raise smtplib.SMTPRecipientsRefused(refused)

    def close(self) -> None:
        """Close this thread's kept connection, if any (QUIT)."""
        client: smtplib.SMTP | None = getattr(self._local, "client", None)
        if client is not None:
            self._drop(client)

    def _drop(self, client: smtplib.SMTP) -> None:
        self._local.client = None
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            client.close()


# IMAP --------------------------------------------------------------------------------

ImapConnect = Callable[[], IMAPClient]


@dataclass(frozen=True, slots=True)
class ImapLocation:
    """Where a mail is on the server: folder, UIDVALIDITY and UID when it was seen, and its
    Message-ID to find it again after the folder was renumbered. Anyone can reuse a
    Message-ID, so with ``content_hash`` (and ``size``) known a candidate found by it counts
    only when its bytes are the mail's."""

    folder: str
    uidvalidity: int | None
    uid: int | None
    message_id: str | None
    content_hash: str | None = None
    size: int | None = None


# Logged-in IMAP connections kept per thread, by server URL (without password).
_KEPT = threading.local()
T = TypeVar("T")


class ImapActions:
    """Flag or move one mail on an IMAP server, over a connection kept per thread (a
    Dovecot login forks a process: far dearer than the STORE itself).

    ``connect`` returns a connected, not logged-in :class:`IMAPClient` (the seam). MOVE is
    used where offered, else COPY + ``\\Deleted`` + EXPUNGE (UID EXPUNGE with UIDPLUS, so
    mail another client marked deleted is left alone).
    """

    def __init__(
        self,
        url: ImapUrl,
        *,
        connect: ImapConnect | None = None,
        timeout: float = imap.DEFAULT_TIMEOUT,
    ) -> None:
        self.url = url
        self._timeout = timeout
        self._connect = connect or self._default_connect

    def _default_connect(self) -> IMAPClient:
        return imap.connect(self.url, self._timeout)

    def _errors(self, doing: str) -> AbstractContextManager[None]:
        return imap.errors(self.url, doing)

    def _open(self) -> IMAPClient:
        with self._errors("connecting"):
            client = self._connect()
        imap.login(client, self.url)
        return client

    def _run(self, doing: str, action: Callable[[IMAPClient], T]) -> T:
        """Run ``action`` on this thread's kept, logged-in connection (a new one when the
        kept one fails: it may have been closed while idle). Errors leave as ImapError."""
        key = self.url.redacted()
        kept: dict[str, IMAPClient] = _KEPT.__dict__.setdefault("clients", {})
        client = kept.pop(key, None)
        if client is not None:
            try:
                with self._errors(doing):
                    result = action(client)
                kept[key] = client
                return result
            except ImapError as exc:
                log.debug("kept IMAP connection failed (%s); opening a new one", exc)
                close_quietly(client)
        client = self._open()
        try:
            with self._errors(doing):
                result = action(client)
        except ImapError:
            close_quietly(client)
            raise
        kept[key] = client
        return result

    def _find(self, client: IMAPClient, where: ImapLocation) -> int | None:
        """The mail's UID in its folder now, or None when it is no longer there."""
        info = client.select_folder(where.folder)
        current = int(info[b"UIDVALIDITY"])
        if where.uid is not None and where.uidvalidity == current:
            found = client.search(["UID", str(where.uid)])
            if where.uid in found:
                return where.uid
            return None
        if where.message_id:
            # The folder was renumbered since the mail was seen: find it by Message-ID.
            found = client.search(["HEADER", "Message-ID", where.message_id])
            return _same_mail(client, found, where)
        return None

    def mark(self, where: ImapLocation, *, keyword: str, seen: bool, move_to: str = "") -> bool:
        """Flag the mail with ``keyword`` (and ``\\Seen``), then move it to ``move_to`` if
        given. Returns False when the mail is no longer in its folder (someone moved or
        deleted it: nothing left to mark). Safe to repeat."""

        def action(client: IMAPClient) -> bool:
            uid = self._find(client, where)
            if uid is None:
                return False
            flags = [keyword.encode()] + ([b"\\Seen"] if seen else [])
            client.add_flags([uid], flags)
            if move_to:
                self._move(client, uid, move_to)
            return True

        return self._run(f"marking mail in {where.folder!r}", action)

    def move_to_folder(self, where: ImapLocation, folder: str, outgoing_id: str) -> bool:
        """Move the mail into ``folder`` (a team's folder), flagged as routed. Idempotent:
        when the mail already left its folder, True if ``folder`` holds a mail with the
        same Message-ID (an earlier attempt moved it), else False."""

        def action(client: IMAPClient) -> bool:
            _ensure_folder(client, folder)
            uid = self._find(client, where)
            if uid is None:
                if not where.message_id:
                    return False
                client.select_folder(folder, readonly=True)
                found = client.search(["HEADER", "Message-ID", where.message_id])
                return _same_mail(client, found, where) is not None
            client.add_flags([uid], [ROUTED_KEYWORD.encode()])
            self._move(client, uid, folder)
            return True

        return self._run(f"moving mail to {folder!r}", action)

    @staticmethod
    def _move(client: IMAPClient, uid: int, folder: str) -> None:
        _ensure_folder(client, folder)
        if client.has_capability("MOVE"):
            client.move([uid], folder)
            return
        client.copy([uid], folder)
        client.add_flags([uid], [b"\\Deleted"])
        if client.has_capability("UIDPLUS"):
            client.uid_expunge([uid])
        else:
            client.expunge()


def _same_mail(client: IMAPClient, found: list[int], where: ImapLocation) -> int | None:
    """The lowest of ``found`` (UIDs with the mail's Message-ID in the selected folder)
    that holds the mail's very bytes; any of them when the bytes are not known."""
    candidates = sorted(found)
    if not candidates or where.content_hash is None:
        return candidates[0] if candidates else None
    if where.size is not None:
        sizes = client.fetch(candidates, ["RFC822.SIZE"])
        candidates = [
            uid for uid in candidates if sizes.get(uid, {}).get(b"RFC822.SIZE") == where.size
        ]
    for uid in candidates:
        raw = client.fetch([uid], ["BODY.PEEK[]"]).get(uid, {}).get(b"BODY[]")
        if isinstance(raw, bytes) and hashlib.sha256(raw).hexdigest() == where.content_hash:
            return uid
    return None


def _ensure_folder(client: IMAPClient, folder: str) -> None:
    if not client.folder_exists(folder):
        try:
            client.create_folder(folder)
        except imaplib.IMAP4.error:
            # Another worker created it meanwhile; anything else shows up on first use.
            if not client.folder_exists(folder):
                raise


# Maildir -----------------------------------------------------------------------------


def maildir_file_name(outgoing_id: str) -> str:
    """The deterministic file name of a forward in a team's Maildir."""
    return hashlib.sha256(outgoing_id.encode()).hexdigest()[:32] + ".mailroom"


def deliver_to_maildir(root: Path, team_slug: str, outgoing_id: str, data: bytes) -> Path:
    """Write ``data`` into ``root/<team_slug>/new/`` once: written to ``tmp/`` and renamed,
    so a reader never sees half a mail; a second call finds the first copy and stops."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", team_slug):
        raise ValueError(f"team slug {team_slug!r} cannot name a folder")
    folder = root / team_slug
    for sub in ("tmp", "new", "cur"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    name = maildir_file_name(outgoing_id)
    for sub in ("new", "cur"):
        if (folder / sub / name).exists():
            return folder / sub / name
    tmp = folder / "tmp" / f"{name}.{os.getpid()}"
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    final = folder / "new" / name
    os.replace(tmp, final)
    return final


def move_maildir_file(inbox: Path, name: str, subfolder: str) -> bool:
    """Move ``name`` from the inbox's ``new/`` or ``cur/`` into the Maildir++ subfolder
    ``.<subfolder>/cur/``; False when it is in neither (already moved)."""
    target = inbox / f".{subfolder}" / "cur"
    for sub in ("tmp", "new", "cur"):
        (inbox / f".{subfolder}" / sub).mkdir(parents=True, exist_ok=True)
    for sub in ("new", "cur"):
        source = inbox / sub / name
        try:
            os.replace(source, target / name)
            return True
        except FileNotFoundError:
            continue
    return (target / name).exists()


__all__ = [
    "REVIEW_KEYWORD",
    "ROUTED_KEYWORD",
    "ForwardInfo",
    "ImapActions",
    "ImapLocation",
    "SmtpSender",
    "build_forward",
    "deliver_to_maildir",
    "move_maildir_file",
    "translate_smtp_error",
]
