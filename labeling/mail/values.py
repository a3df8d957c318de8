"""Values that cross package boundaries: a normalised mail and a raw mail from a source.

Plain frozen dataclasses so that the parser, the store, the importers, the worker and the
classifier agree on one shape without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Address:
    """One mailbox address; ``name`` is the decoded display name ('' when absent)."""

    name: str
    email: str  # lower-cased addr-spec, '' when the header held no usable address


@dataclass(frozen=True, slots=True)
class Attachment:
    """An attachment as listed, not kept: its content is not needed for routing."""

    filename: str  # decoded; '' when the part has no name
    content_type: str  # e.g. 'application/pdf'
    size: int  # bytes after transfer decoding


@dataclass(frozen=True, slots=True)
class NormalisedMail:
    """What :func:`labeling.mail.mime.normalise` makes of a raw mail.

    ``body_text`` is the whole best text body. ``new_text`` is what the sender wrote in
    this mail, without quoted history and signature; ``quoted_text`` and ``signature`` hold
    what was split off (empty when none). ``html`` is the raw HTML alternative, if any, for
    a sanitised view; it is never shown as is.
    """

    message_id: str  # without angle brackets; '' when absent
    subject: str
    subject_key: str  # subject without Re:/Fwd:/WG:/AW:/Antw:/Doorst: prefixes, casefolded
    sender: Address | None
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    reply_to: tuple[Address, ...]
    date: datetime | None  # timezone-aware (UTC when the header had no zone); None if bad
    in_reply_to: str  # Message-ID without brackets; '' when absent
    references: tuple[str, ...]  # oldest first, without brackets
    body_text: str
    new_text: str
    quoted_text: str
    signature: str
    html: str | None
    attachments: tuple[Attachment, ...]
    language: str  # ISO 639-1 code: 'nl', 'en', … or 'und' when undetermined
    headers: tuple[tuple[str, str], ...] = field(default=())  # decoded, in order
    defects: tuple[str, ...] = field(default=())  # what was tolerated while parsing

    @property
    def thread_keys(self) -> tuple[str, ...]:
        """Message-IDs that may link this mail to a thread: its own, parent, references."""
        keys = [self.message_id, self.in_reply_to, *self.references]
        return tuple(dict.fromkeys(k for k in keys if k))


@dataclass(frozen=True, slots=True)
class RawMail:
    """A mail as a source hands it over: bytes plus where it came from.

    ``folder`` is the source folder ('' for a flat source), used for weak labels;
    ``source_ref`` identifies the mail within its source (file path, mbox index, IMAP UID)
    for messages and resumption.
    """

    raw: bytes
    folder: str
    source_ref: str
    uid: int | None = None  # IMAP UID, when the source is an IMAP folder
    uidvalidity: int | None = None
    # Why the source did not hand over the whole mail ('' when it did): a mail over
    # MAILROOM_MAX_MAIL_BYTES comes as its header section only, and is stored quarantined
    # with this reason.
    refused: str = ""
