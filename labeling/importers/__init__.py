"""Sources of mail to import: an mbox file, a folder of .eml files, a Maildir tree, or an
IMAP folder.

:func:`open_source` looks at a path or URL and returns the matching :class:`MailSource`.
Every source reads lazily, one mail at a time, so an archive larger than memory imports
fine; none of them touches the database (resuming is the import runner's job).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol, runtime_checkable
from urllib.parse import urlsplit

from labeling.errors import ImportSourceError
from labeling.mail.values import RawMail

__all__ = ["MailSource", "StartAfter", "open_source"]

# (folder, uidvalidity) -> the last UID already imported from that folder (0 for none).
StartAfter = Callable[[str, int], int]


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
) -> MailSource:
    """The source for ``path_or_url``.

    - ``imap://user:pass@host:port/FOLDER`` or ``imaps://…``: an IMAP folder, fetched
      ``batch_size`` mails per round trip, skipping UIDs up to ``start_after(folder,
      uidvalidity)`` so an interrupted import resumes where it stopped.
    - a file starting with a ``From`` line: an mbox; a single ``.eml`` file.
    - a folder holding Maildirs (``cur``/``new``/``tmp``, Maildir++ ``.Sub`` folders or
      nested Maildirs): every Maildir in it, each mail tagged with its folder.
    - any other folder: every ``*.eml`` file below it, tagged with its sub-folder.

    ``maildir:///path`` is accepted as a path. Raises :class:`ImportSourceError` for a
    path that does not exist or holds no mail we can read.
    """
    scheme = urlsplit(path_or_url).scheme.lower() if "://" in path_or_url else ""
    if scheme in ("imap", "imaps"):
        # Imported here: imapclient is only needed when importing over IMAP.
        from labeling.importers.imap_source import ImapSource

        return ImapSource(path_or_url, batch_size=batch_size, start_after=start_after)
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
            return EmlFolderSource(path)
        raise ImportSourceError(
            f"{path}: not an mbox file (it does not start with a 'From ' line) "
            "and not an .eml file"
        )
    if not path.is_dir():
        raise ImportSourceError(f"{path}: neither a file nor a folder")
    if find_maildirs(path):
        return MaildirSource(path)
    source = EmlFolderSource(path)
    if source.count() == 0:
        raise ImportSourceError(
            f"{path}: no mail found — the folder holds no Maildir (cur/new/tmp folders) "
            "and no .eml files"
        )
    return source
