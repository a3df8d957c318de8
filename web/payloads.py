"""The JSON the labelling page reads: values built from the store's rows, nothing more.

Every field here is plain text that the page puts into the DOM with ``textContent``; the
mail's HTML travels separately (:func:`web.api.message_html`) as a frame document.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from labeling.mail.quotes import FORWARDED_ORIGINAL_MARK
from labeling.store.tables import Message

QUOTED_HISTORY = "Quoted history"
FORWARDER_NOTE = "Note from the person who forwarded it"


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
    # What the folded part holds: the quoted history, or for a mail that carries a forwarded
    # message, the forwarder's own note (the forwarded message is then the text shown).
    quoted_label: str = QUOTED_HISTORY


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

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _sender(message: Message) -> str:
    if message.sender_name and message.sender_email:
        return f"{message.sender_name} <{message.sender_email}>"
    return message.sender_name or message.sender_email or "(unknown sender)"


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


def message_view(message: Message, group_size: int) -> MessageView:
    if message.new_text and message.quoted_text.startswith(FORWARDED_ORIGINAL_MARK):
        # Forwarded as an attachment: the original is the mail to read, the wrapper's note
        # ("zie onderstaande mail van onze klant") is folded.
        shown, folded, label = message.quoted_text, message.new_text, FORWARDER_NOTE
    else:
        # The parser leaves new_text empty when it could not tell new from quoted text;
        # the whole body is then the best "new text" there is.
        shown = message.new_text or message.body_text
        folded = message.quoted_text if message.new_text else ""
        label = QUOTED_HISTORY
    return MessageView(
        id=message.id,
        subject=message.subject or "(no subject)",
        sender=_sender(message),
        date=message.date.strftime("%Y-%m-%d %H:%M UTC") if message.date else "",
        date_iso=message.date.isoformat() if message.date else "",
        language=message.language or "und",
        new_text=shown,
        quoted_text=folded,
        quoted_label=label,
        signature=message.signature,
        attachments=_attachments(message.attachments),
        has_html=bool(message.html),
        group_size=group_size if group_size > 1 else 0,
    )
