"""Reading a generated demo corpus back: the truth file, the raw mails, and a plain
subject + body text extracted with nothing but the stdlib ``email`` package.

This is the evaluation side of :mod:`data.demo_corpus` (baselines, tests); the product's own
MIME normalising lives in ``labeling``.
"""

from __future__ import annotations

import email
import html
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage, Message
from pathlib import Path

from data.demo_corpus import MAILDIR_NAME, TRUTH_NAME


@dataclass(frozen=True)
class TruthRecord:
    """One line of ``truth.jsonl`` (see :mod:`data.demo_corpus` for the meaning of fields)."""

    message_id: str
    team: str
    language: str
    folder: str
    kind: str
    topics: tuple[str, ...]
    path: str
    intent: str
    features: tuple[str, ...]
    parent: str | None = None
    # The personal details in the mail: {"kind", "text"} (see data.pii_truth).
    pii: tuple[dict[str, str], ...] = ()
    # A repeat customer's mail: the Message-ID of their earlier mail about the same case.
    repeat_of: str | None = None
    # The demo organisation's judgement (data.mood): urgent, wants to leave.
    urgent: bool = False
    churn: bool = False


@dataclass(frozen=True)
class CorpusMail:
    """A truth record with the mail's raw bytes."""

    truth: TruthRecord
    raw: bytes


def read_truth(out_dir: Path) -> list[TruthRecord]:
    """All truth records of the corpus in ``out_dir``, in file order."""
    records = []
    with open(Path(out_dir) / TRUTH_NAME, encoding="utf-8") as handle:
        for line in handle:
            data = json.loads(line)
            records.append(
                TruthRecord(
                    message_id=data["message_id"],
                    team=data["team"],
                    language=data["language"],
                    folder=data["folder"],
                    kind=data["kind"],
                    topics=tuple(data["topics"]),
                    path=data["path"],
                    intent=data["intent"],
                    features=tuple(data["features"]),
                    parent=data.get("parent"),
                    pii=tuple(data.get("pii", ())),
                    repeat_of=data.get("repeat_of"),
                    urgent=bool(data.get("urgent", False)),
                    churn=bool(data.get("churn", False)),
                )
            )
    return records


def iter_corpus(out_dir: Path) -> Iterator[CorpusMail]:
    """Each mail of the corpus with its truth, in truth-file order."""
    maildir = Path(out_dir) / MAILDIR_NAME
    for record in read_truth(out_dir):
        yield CorpusMail(record, (maildir / record.path).read_bytes())


def subject_and_body(raw: bytes) -> tuple[str, str]:
    """Subject and readable body text of a mail, best effort, never raising on bad MIME.

    The body joins every inline text/plain part (forwarded message/rfc822 parts included);
    a mail without text/plain contributes its text/html with the tags stripped. Quoted
    history and signatures are kept: this is a deliberately simple baseline extraction.
    """
    return message_subject_and_body(email.message_from_bytes(raw, policy=policy.default))


def message_subject_and_body(message: Message) -> tuple[str, str]:
    """:func:`subject_and_body` of an already parsed message (``policy.default``)."""
    try:
        subject = str(message.get("subject", "") or "")
    except (ValueError, LookupError, IndexError):  # a header the parser cannot fold back
        subject = ""
    plain: list[str] = []
    markup: list[str] = []
    for part in message.walk():
        if part.is_multipart() or part.get_content_maintype() != "text":
            continue
        if part.get_content_disposition() == "attachment":
            continue
        text = _part_text(part)
        if part.get_content_subtype() == "html":
            markup.append(_strip_tags(text))
        else:
            plain.append(text)
    return subject, "\n".join(plain or markup)


def _part_text(part: Message) -> str:
    if isinstance(part, EmailMessage):
        try:
            content = part.get_content()
            if isinstance(content, str):
                return content
        except (LookupError, UnicodeError, ValueError, AssertionError):
            pass
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes):
        return payload.decode("latin-1")
    return str(part.get_payload())


_TAG = re.compile(r"<[^>]+>")
_BLOCK_END = re.compile(r"(?i)<br\s*/?>|</p>|</div>")


def _strip_tags(markup: str) -> str:
    markup = re.sub(r"(?is)<(style|head)[^>]*>.*?</\1>", " ", markup)
    return html.unescape(_TAG.sub("", _BLOCK_END.sub("\n", markup)))
