"""What kind of mail this is, before any model reads it: a person, or a machine.

:func:`classify` looks at one raw mail's headers and structure and says which kind it is
and what the worker should do with it (``handling``):

- ``loop`` (handling ``file``): our own forward coming back — ``X-Mailroom-*`` headers, or
  a (Resent-)Message-ID that Mailroom minted — or mail from one of Mailroom's own
  addresses (the SMTP sender, the watched inbox), or an ``X-Loop`` naming one.
- ``bounce`` (``file``): ``multipart/report; report-type=delivery-status`` (RFC 3464), a
  MAILER-DAEMON/postmaster sender, ``X-Failed-Recipients``.
- ``auto_reply`` (``file``): RFC 3834 ``Auto-Submitted`` other than ``no``,
  ``X-Autoreply``, ``X-Autorespond``, ``X-Auto-Response-Suppress: All|OOF|AutoReply``
  (Exchange), ``Precedence: auto_reply``, an empty ``Return-Path``, an out-of-office
  subject ("Automatic reply:", "Automatisch antwoord:", "Out of Office:", …).
- ``bulk`` (``review``): ``Precedence: bulk|junk|list``, ``List-Id``, ``List-Unsubscribe``.
- ``customer`` (``route``): none of the above.

When several match, a bounce wins (a bounce of our forward carries our headers inside),
then a loop, an auto-reply, bulk mail.

A sender over the rate limit (``recent_from_sender`` mails from the same address within
the window the caller counts over) is treated as a probable loop with a machine that sets
no header: ``kind='loop'`` but ``handling='review'``, so a person, not a team, sees it —
a real customer who writes often loses nothing.

``file``: recorded with its thread, never forwarded (a bounce of one of our forwards also
puts that mail back in review: see :mod:`labeling.live.lifecycle`). ``review``: never
forwarded without a person. ``route``: the model decides.

Pure: bytes in, a value out. It reads headers and, for a report, its parts; every pattern
is linear-time and every header value is cut to a bound before it is looked at. (RT,
Zammad and Zendesk use the same headers; their users' complaints are mostly about
out-of-office replies that carry none of them, hence the subject prefixes, kept short
and exact to avoid catching a customer's own words.)
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses, parseaddr
from typing import Literal

Kind = Literal["customer", "auto_reply", "bounce", "loop", "bulk"]
KINDS: tuple[Kind, ...] = ("customer", "auto_reply", "bounce", "loop", "bulk")
Handling = Literal["route", "file", "review"]
# How people see each kind (the review page, the dashboard, ``mailroom inspect``).
KIND_LABELS: dict[str, str] = {
    "customer": "Customer mail",
    "auto_reply": "Auto-reply",
    "bounce": "Bounce",
    "loop": "Loop",
    "bulk": "Bulk or list mail",
}

# The Message-IDs labeling.live.lifecycle.outgoing_message_id mints.
MINTED_ID = re.compile(r"mailroom\.[0-9a-f]{24}@mailroom\.local", re.IGNORECASE)
MINTED_ID_BYTES = re.compile(rb"mailroom\.[0-9a-f]{24}@mailroom\.local", re.IGNORECASE)
# Headers our forwards carry (worker.outgoing.mailroom_headers); a mail that has one at the
# top was sent by a Mailroom.
MAILROOM_HEADERS = ("x-mailroom-team", "x-mailroom-decided-by", "x-mailroom-model-version")
# A header value is looked at only this far: enough for every real value, and a bound.
MAX_VALUE = 500
# Parts of a report walked at most (a report has three; a crafted one may have thousands).
MAX_PARTS = 50
# Recipients read from one DSN at most.
MAX_RECIPIENTS = 20

MACHINE_LOCALPARTS = frozenset({"mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon"})
AUTO_RESPONSE_SUPPRESS = frozenset({"all", "oof", "autoreply"})
BULK_PRECEDENCE = frozenset({"bulk", "junk", "list"})
# Subject prefixes of out-of-office replies (Exchange, Outlook, Gmail, Apple Mail) in the
# languages the demo insurer meets: Dutch, English, German, French. Casefolded.
AUTO_REPLY_SUBJECTS = (
    "automatic reply:",
    "auto reply:",
    "autoreply:",
    "auto-reply:",
    "out of office:",
    "out of office reply:",
    "automatisch antwoord:",
    "automatisch beantwoord:",
    "afwezigheidsbericht:",
    "afwezig:",
    "automatische antwort:",
    "abwesenheitsnotiz:",
    "réponse automatique :",
    "réponse automatique:",
)


@dataclass(frozen=True, slots=True)
class Hygiene:
    """What :func:`classify` found.

    ``reason``: the first signal, for people ("Auto-Submitted: auto-replied").
    ``signals``: every signal seen, for ``mailroom inspect``. For a bounce, ``our_ids``
    are the Message-IDs Mailroom minted that it names (with angle brackets, as
    ``deliveries.outgoing_message_id`` holds them), ``failed`` whether it reports a
    failure (not a delay), ``recipients`` and ``status`` what the DSN says.
    """

    kind: Kind
    handling: Handling
    reason: str = ""
    signals: tuple[str, ...] = ()
    our_ids: tuple[str, ...] = ()
    failed: bool = False
    recipients: tuple[str, ...] = ()
    status: str = ""

    @property
    def machine(self) -> bool:
        """True for anything but customer mail."""
        return self.kind != "customer"


@dataclass(frozen=True, slots=True)
class _Signals:
    loop: list[str] = field(default_factory=list)
    bounce: list[str] = field(default_factory=list)
    auto: list[str] = field(default_factory=list)
    bulk: list[str] = field(default_factory=list)


def _value(message: Message, name: str) -> str:
    raw = message.get(name)
    if raw is None:
        return ""
    return " ".join(str(raw)[:MAX_VALUE].split())


def _values(message: Message, name: str) -> list[str]:
    return [" ".join(str(v)[:MAX_VALUE].split()) for v in (message.get_all(name) or [])[:10]]


def _address(value: str) -> str:
    return parseaddr(value)[1].strip().lower()


def _localpart(address: str) -> str:
    return address.rpartition("@")[0] if "@" in address else address


def _minted(value: str) -> str | None:
    match = MINTED_ID.search(value)
    return f"<{match.group(0).lower()}>" if match else None


def classify(
    raw: bytes,
    *,
    own_addresses: Collection[str] = (),
    recent_from_sender: int = 0,
    sender_limit: int = 0,
) -> Hygiene:
    """The kind of ``raw`` and how to handle it (see the module docstring).

    ``own_addresses``: Mailroom's own addresses (lower case): the SMTP sender and the
    watched inbox; mail from one of them is a loop. ``recent_from_sender``: how many other
    mails the same sender sent within the caller's window; at or over ``sender_limit``
    (0: no limit) customer mail goes to a person instead of the model.
    """
    headers = BytesHeaderParser(policy=compat32).parsebytes(raw)
    signals = _Signals()
    own = {a.strip().lower() for a in own_addresses if a.strip()}
    sender = _address(_value(headers, "From"))

    # Loops: our own forward, or our own address.
    for name in MAILROOM_HEADERS:
        if headers.get(name) is not None:
            signals.loop.append(f"{name} header: our own forward came back")
            break
    for name in ("Message-ID", "Resent-Message-ID"):
        if _minted(_value(headers, name)):
            signals.loop.append(f"{name} minted by Mailroom")
    if sender and sender in own:
        signals.loop.append(f"From is Mailroom's own address {sender}")
    for value in _values(headers, "X-Loop"):
        if own and _address(value) in own:
            signals.loop.append(f"X-Loop names Mailroom's own address {_address(value)}")

    # Bounces.
    content_type = _value(headers, "Content-Type").lower()
    is_report = content_type.startswith("multipart/report") and re.search(
        r"report-type\s*=\s*\"?delivery-status", content_type
    )
    if is_report:
        signals.bounce.append("multipart/report; report-type=delivery-status")
    if sender and _localpart(sender) in MACHINE_LOCALPARTS:
        signals.bounce.append(f"sent by {_localpart(sender)}")
    if headers.get("X-Failed-Recipients") is not None:
        signals.bounce.append("X-Failed-Recipients header")

    # Auto-replies (RFC 3834 and what the big mail systems write).
    auto_submitted = _value(headers, "Auto-Submitted").lower()
    if auto_submitted and auto_submitted.split(";")[0].strip() != "no":
        signals.auto.append(f"Auto-Submitted: {auto_submitted}")
    for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponder", "X-Auto-Reply"):
        if headers.get(name) is not None:
            signals.auto.append(f"{name} header")
    suppress = {
        part.strip().lower() for part in _value(headers, "X-Auto-Response-Suppress").split(",")
    }
    if suppress & AUTO_RESPONSE_SUPPRESS:
        signals.auto.append(
            "X-Auto-Response-Suppress: " + ", ".join(sorted(suppress & AUTO_RESPONSE_SUPPRESS))
        )
    precedence = _value(headers, "Precedence").lower()
    if precedence == "auto_reply":
        signals.auto.append("Precedence: auto_reply")
    return_path = _value(headers, "Return-Path")
    if return_path.replace(" ", "") == "<>":
        signals.auto.append("empty Return-Path (null sender)")
    subject = _value(headers, "Subject").casefold()
    for prefix in AUTO_REPLY_SUBJECTS:
        if subject.startswith(prefix):
            signals.auto.append(f"subject starts with {prefix!r}")
            break

    # Mailing lists and bulk mail.
    if precedence in BULK_PRECEDENCE:
        signals.bulk.append(f"Precedence: {precedence}")
    for name in ("List-Id", "List-Unsubscribe"):
        if headers.get(name) is not None:
            signals.bulk.append(f"{name} header")

    every = (*signals.loop, *signals.bounce, *signals.auto, *signals.bulk)
    if signals.bounce:
        # A bounce of our own forward carries our Message-ID inside: that makes it a bounce
        # (with a mail to put back in review), not a loop.
        return _bounce(raw, signals.bounce[0], every)
    if signals.loop:
        return Hygiene("loop", "file", signals.loop[0], every)
    if signals.auto:
        return Hygiene("auto_reply", "file", signals.auto[0], every)
    if signals.bulk:
        return Hygiene("bulk", "review", signals.bulk[0], every)
    if sender_limit and recent_from_sender >= sender_limit:
        why = f"{recent_from_sender} other mails from {sender or 'this sender'} within the hour"
        return Hygiene("loop", "review", why, (*every, why))
    return Hygiene("customer", "route", "", every)


def _bounce(raw: bytes, reason: str, signals: tuple[str, ...]) -> Hygiene:
    """A bounce: which of our forwards it names, to whom delivery failed, and why."""
    # Our minted ids anywhere in the bounce (the returned mail, its headers, or a quoting
    # non-standard bounce's text): the pattern is literal and linear.
    ours = tuple(
        dict.fromkeys(
            f"<{m.group(0).decode('ascii').lower()}>" for m in MINTED_ID_BYTES.finditer(raw)
        )
    )[:MAX_RECIPIENTS]
    recipients: list[str] = []
    statuses: list[str] = []
    actions: list[str] = []
    message = message_from_bytes(raw, policy=compat32)
    for count, part in enumerate(message.walk()):
        if count >= MAX_PARTS:
            break
        if part.get_content_type() != "message/delivery-status":
            continue
        blocks = part.get_payload()
        if not isinstance(blocks, list):
            continue
        # The first block is per-message; the rest are per-recipient.
        for block in blocks[1 : 1 + MAX_RECIPIENTS]:
            if not isinstance(block, Message):
                continue
            action = _value(block, "Action").lower()
            actions.append(action)
            recipient = _value(block, "Final-Recipient") or _value(block, "Original-Recipient")
            if recipient:
                recipients.append(recipient.partition(";")[2].strip().lower() or recipient)
            status = _value(block, "Status")
            diagnostic = _value(block, "Diagnostic-Code")
            if status or diagnostic:
                statuses.append(" ".join(filter(None, (status, diagnostic)))[:MAX_VALUE])
    if not recipients:
        failed_header = _value(message, "X-Failed-Recipients")
        recipients = [a.lower() for _, a in getaddresses([failed_header]) if a][:MAX_RECIPIENTS]
    # A DSN that only says "delayed", "delivered", "relayed" or "expanded" is news, not a
    # failure; a bounce without a DSN (a non-standard one) is taken as one.
    failed = "failed" in actions if actions else True
    return Hygiene(
        "bounce",
        "file",
        reason,
        signals,
        our_ids=ours,
        failed=failed,
        recipients=tuple(dict.fromkeys(recipients)),
        status="; ".join(statuses)[:MAX_VALUE],
    )


def own_addresses(*addresses: Iterable[str] | str) -> frozenset[str]:
    """Mailroom's own addresses, lower-cased, from strings or lists of them (anything that
    is not an address is left out)."""
    found: set[str] = set()
    for item in addresses:
        for value in [item] if isinstance(item, str) else item:
            address = _address(value)
            if "@" in address:
                found.add(address)
    return frozenset(found)
