"""Sources of mail to import: an mbox file, a folder of .eml files, a Maildir tree, or an
IMAP folder.

:func:`open_source` looks at a path or URL and returns the matching :class:`MailSource`.
Every source reads lazily, one mail at a time, so an archive larger than memory imports
fine; none of them touches the database (resuming is the import runner's job).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol, runtime_checkable
from urllib.parse import urlsplit

from labeling.errors import ImportSourceError
from labeling.mail.values import RawMail

__all__ = ["DEFAULT_MAX_MAIL_BYTES", "MailSource", "StartAfter", "open_source", "read_mail_file"]

# (folder, uidvalidity) -> the last UID already imported from that folder (0 for none).
StartAfter = Callable[[str, int], int]

# The default of MAILROOM_MAX_MAIL_BYTES (labeling.settings): the parser's own limit.
DEFAULT_MAX_MAIL_BYTES = 25 * 1024 * 1024


def read_mail_file(
    path: Path, *, max_mail_bytes: int = DEFAULT_MAX_MAIL_BYTES
) -> tuple[bytes, str]:
    """A mail file's bytes and ``''``; or, for a file over ``max_mail_bytes``, only its
    header section (at most :data:`labeling.imap.MAX_HEADER_BYTES`) and the reason it was
    not read whole (``RawMail.refused``). OSError as from reading the file."""
    from labeling.imap import MAX_HEADER_BYTES, too_large_reason

    with path.open("rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size <= max_mail_bytes:
            return handle.read(), ""
        head = handle.read(MAX_HEADER_BYTES)
    for separator in (b"\r\n\r\n", b"\n\n"):
        end = head.find(separator)
        if end >= 0:
            head = head[: end + len(separator)]
            break
    return head, too_large_reason(size, max_mail_bytes)


@runtime_checkable
class MailSource(Protocol):
    """Something that yields raw mails, with a description for people and a size if known."""

    description: str

    def count(self) -> int | None:
        """How many mails iteration will yield, or None when it is not known cheaply."""
        ...

    def __iter__(self) -> Iterator[RawMail]: ...


def open_source(
    path_or_url: str,
    *,
    batch_size: int,
    start_after: StartAfter | None = None,
    max_mail_bytes: int = DEFAULT_MAX_MAIL_BYTES,
) -> MailSource:
    """The source for ``path_or_url``.

    - ``imap://user:pass@host:port/FOLDER`` or ``imaps://…``: an IMAP folder, fetched
      ``batch_size`` mails per round trip, skipping UIDs up to ``start_after(folder,
      uidvalidity)`` so an interrupted import resumes where it stopped.
    - a file starting with a ``From`` line: an mbox; a single ``.eml`` file.
    - a folder holding Maildirs (``cur``/``new``/``tmp``, Maildir++ ``.Sub`` folders or
      nested Maildirs): every Maildir in it, each mail tagged with its folder.
    - any other folder: every ``*.eml`` file below it, tagged with its sub-folder.

    ``maildir:///path`` is accepted as a path. A mail over ``max_mail_bytes`` comes as its
    header section only, with ``RawMail.refused`` saying why (IMAP asks the size before
    fetching; mbox files are read as they are). Raises :class:`ImportSourceError` for a
    path that does not exist or holds no mail we can read.
    """
    scheme = urlsplit(path_or_url).scheme.lower() if "://" in path_or_url else ""
    if scheme in ("imap", "imaps"):
        # Imported here: imapclient is only needed when importing over IMAP.
        from labeling.importers.imap_source import ImapSource

        return ImapSource(
            path_or_url,
            batch_size=batch_size,
            start_after=start_after,
            max_mail_bytes=max_mail_bytes,
        )
    if scheme == "maildir":
        path_or_url = urlsplit(path_or_url).path
    elif scheme:
        raise ImportSourceError(
            f"cannot import from {path_or_url!r}: unsupported URL scheme {scheme!r}; "
            "give a path (mbox file, folder of .eml files, Maildir) or an imap:// URL"
        )

    from labeling.importers.eml import EmlFolderSource
    from labeling.importers.maildir import MaildirSource, find_maildirs
    from labeling.importers.mbox import MboxSource, looks_like_mbox

    path = Path(path_or_url).expanduser()
    if not path.exists():
        raise ImportSourceError(f"{path}: no such file or folder")
    if path.is_file():
        if path.stat().st_size == 0:
            raise ImportSourceError(f"{path}: the file is empty")
        if looks_like_mbox(path):
            return MboxSource(path)
        if path.suffix.lower() == ".eml":
            return EmlFolderSource(path, max_mail_bytes=max_mail_bytes)
        raise ImportSourceError(
            f"{path}: not an mbox file (it does not start with a 'From ' line) "
            "and not an .eml file"
        )
    if not path.is_dir():
        raise ImportSourceError(f"{path}: neither a file nor a folder")
    if find_maildirs(path):
        return MaildirSource(path, max_mail_bytes=max_mail_bytes)
    source = EmlFolderSource(path, max_mail_bytes=max_mail_bytes)
    if source.count() == 0:
        raise ImportSourceError(
            f"{path}: no mail found — the folder holds no Maildir (cur/new/tmp folders) "
            "and no .eml files"
        )
    return source
