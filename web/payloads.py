"""The JSON the labelling page reads: values built from the store's rows, nothing more.

Every field here is plain text that the page puts into the DOM with ``textContent``; the
mail's HTML travels separately (:func:`web.api.message_html`) as a frame document.

Given a pseudonymiser (people who do not need the identity: see
:func:`web.security.sees_original`), every field a person reads — subject, sender, text,
quote, signature, attachment names, and the HTML — is pseudonymised with one set of
placeholders per mail, so ``[NAAM-1]`` in the text is ``[NAAM-1]`` in the HTML too.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, replace
from typing import Any

from flask_babel import gettext

from labeling.mail.pseudonymise import (
    MailPseudonyms,
    MailText,
    Pseudonymiser,
    pseudonymise_mail,
)
from labeling.mail.quotes import FORWARDED_ORIGINAL_MARK
from labeling.store.tables import Message
from web.i18n import N_

QUOTED_HISTORY = N_("Quoted history")
FORWARDER_NOTE = N_("Note from the person who forwarded it")


@dataclass(frozen=True, slots=True)
class AttachmentView:
    filename: str
    content_type: str
    size: int


@dataclass(frozen=True, slots=True)
class MessageView:
    id: int
    subject: str
    sender: str
    date: str  # for people, in UTC; "" when the mail had no usable date
    date_iso: str
    language: str
    new_text: str
    quoted_text: str
    signature: str
    attachments: list[AttachmentView]
    has_html: bool
    group_size: int  # messages in its near-duplicate group, itself included; 0: no group
    pseudonymised: bool = False
    # What the folded part holds: the quoted history, or for a mail that carries a forwarded
    # message, the forwarder's own note (the forwarded message is then the text shown).
    quoted_label: str = QUOTED_HISTORY
    # The other members of its near-duplicate group, so a labeller can open each one before
    # labelling them all at once.
    group_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class SuggestionView:
    team_id: int
    team_slug: str
    source: str  # 'archive-folder' or 'model'
    confidence: float | None


@dataclass(frozen=True, slots=True)
class ProgressView:
    total: int
    labelled: int
    per_team: dict[str, int]
    double_target: int
    double_done: int
    verified: int = 0  # answers in the verification sample
    weak_only: int = 0  # mails whose only label is their archive folder's


@dataclass(frozen=True, slots=True)
class SuspectView:
    """Why a mail is in the "suspect labels first" order: its folder label is probably
    wrong, and which team the model expects instead."""

    weak_team_slug: str
    likely_team_slug: str | None
    quality: float


@dataclass(frozen=True, slots=True)
class QueuePayload:
    """One answer of the labelling API: what to show next, and what just happened.

    ``progress`` is only filled by ``GET /api/next``; after a label the page asks
    ``/api/progress`` separately, so counting never delays the next mail.
    """

    message: MessageView | None
    suggestion: SuggestionView | None
    progress: ProgressView | None
    notice: str = ""
    # Set when the message shown is one the labeller asked back (undo), not the queue's next.
    returned: bool = False
    # How the queue chose this mail: "undone", "second" (a pending second label), the
    # order asked for, or "oldest" when that order had nothing; "verify" in the sample.
    served_by: str = ""
    verifying: bool = False  # the verification sample: no suggestion, "0" is "no team"
    suspect: SuspectView | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _sender(name: str, email: str) -> str:
    if name and email:
        return f"{name} <{email}>"
    return name or email or "(unknown sender)"


def _shown(message: Message) -> MailText:
    # The parser leaves new_text empty when it could not tell new from quoted text; the
    # whole body is then the best "new text" there is.
    return MailText(
        subject=message.subject,
        sender_name=message.sender_name,
        sender_email=message.sender_email,
        new_text=message.new_text or message.body_text,
        quoted_text=message.quoted_text if message.new_text else "",
        signature=message.signature,
    )


def mail_pseudonyms(
    message: Message, pseudonymiser: Pseudonymiser
) -> tuple[MailText, MailPseudonyms]:
    """What a person who may not see the identity reads of ``message``, and its
    placeholders (for the HTML and attachment names); the same for every request."""
    people = [
        (str(person.get("name") or ""), str(person.get("email") or ""))
        for group in (message.recipients or {}).values()
        for person in group or ()
        if isinstance(person, dict)
    ]
    return pseudonymise_mail(_shown(message), pseudonymiser, correspondents=people)


# Characters that reorder or hide text (Unicode bidi controls): in a file name they make
# "rechnung\u202efdp.exe" look like "rechnungexe.pdf". Shown as what they are instead.
_BIDI_CONTROLS = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def visible_name(name: str) -> str:
    """``name`` with each bidi control character written out as ``[U+202E]``."""
    return _BIDI_CONTROLS.sub(lambda m: f"[U+{ord(m.group()):04X}]", name)


def _attachments(raw: list[Any]) -> list[AttachmentView]:
    views = []
    for item in raw or []:
        if not isinstance(item, dict):
            continue
        size = item.get("size")
        views.append(
            AttachmentView(
                filename=visible_name(str(item.get("filename") or "(no name)")),
                content_type=str(item.get("content_type") or ""),
                size=size if isinstance(size, int) else 0,
            )
        )
    return views


def message_view(
    message: Message,
    group_size: int,
    *,
    pseudonymiser: Pseudonymiser | None = None,
    group_ids: tuple[int, ...] = (),
) -> MessageView:
    """The view of ``message``; pseudonymised when a ``pseudonymiser`` is given."""
    shown = _shown(message)
    attachments = _attachments(message.attachments)
    if pseudonymiser is not None:
        shown, pseudonyms = mail_pseudonyms(message, pseudonymiser)
        attachments = [replace(a, filename=pseudonyms.text(a.filename)) for a in attachments]
    text, folded, label = shown.new_text, shown.quoted_text, QUOTED_HISTORY
    if message.new_text and message.quoted_text.startswith(FORWARDED_ORIGINAL_MARK):
        # Forwarded as an attachment: the original is the mail to read, the wrapper's note
        # ("zie onderstaande mail van onze klant") is folded.
        text, folded, label = shown.quoted_text, shown.new_text, FORWARDER_NOTE
    return MessageView(
        id=message.id,
        subject=shown.subject or gettext("(no subject)"),
        sender=_sender(shown.sender_name, shown.sender_email),
        date=message.date.strftime("%Y-%m-%d %H:%M UTC") if message.date else "",
        date_iso=message.date.isoformat() if message.date else "",
        language=message.language or "und",
        new_text=text,
        quoted_text=folded,
        quoted_label=gettext(label),
        signature=shown.signature,
        attachments=attachments,
        has_html=bool(message.html),
        group_size=group_size if group_size > 1 else 0,
        pseudonymised=pseudonymiser is not None,
        group_ids=tuple(other for other in group_ids if other != message.id),
    )


def pseudonymised_html(message: Message, sanitised: str, pseudonymiser: Pseudonymiser) -> str:
    """Sanitised HTML of ``message`` with the placeholders of its text view."""
    _, pseudonyms = mail_pseudonyms(message, pseudonymiser)
    return pseudonyms.html(sanitised)
