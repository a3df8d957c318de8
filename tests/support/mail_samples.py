"""Small mails for the store and importer tests, built with the stdlib."""

from __future__ import annotations

import mailbox
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

# Bytes the parser refuses: quarantined by the store.
BROKEN = b"\x00\x01\x02 not a mail at all \xff\xfe"


def make_mail(
    message_id: str | None,
    subject: str = "Schade aan mijn auto",
    body: str = "Goedemorgen,\n\nIk heb schade aan mijn auto.\n\nMet vriendelijke groet,\nJan",
    *,
    sender: str = "Jan de Vries <jan@example.nl>",
    to: str = "info@polderzeker.example",
    in_reply_to: str | None = None,
    references: tuple[str, ...] = (),
    date: datetime | None = None,
) -> bytes:
    """A small, valid text/plain mail as bytes (Message-IDs given without brackets)."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(date or datetime(2024, 3, 1, 9, 30, tzinfo=UTC))
    if message_id is not None:
        msg["Message-ID"] = f"<{message_id}>"
    if in_reply_to:
        msg["In-Reply-To"] = f"<{in_reply_to}>"
    if references:
        msg["References"] = " ".join(f"<{ref}>" for ref in references)
    msg.set_content(body)
    return msg.as_bytes()


def write_maildir_tree(root: Path, folders: dict[str, list[bytes]]) -> None:
    """A Maildir++ tree: folder '' is the root Maildir, others become ``.Name`` folders."""
    top = mailbox.Maildir(root, create=True)
    for name, mails in folders.items():
        box = top if name == "" else top.add_folder(name)
        for raw in mails:
            box.add(raw)
    top.close()


def write_mbox(path: Path, mails: list[bytes]) -> None:
    box = mailbox.mbox(path, create=True)
    for raw in mails:
        box.add(raw)
    box.close()

