"""An mbox file (``From ``-separated mails, as Thunderbird and most archivers export them)."""

from __future__ import annotations

import mailbox
from collections.abc import Iterator
from pathlib import Path

from labeling.errors import ImportSourceError
from labeling.mail.values import RawMail


def looks_like_mbox(path: Path) -> bool:
    """Whether the file starts (after blank lines) with an mbox ``From `` separator line."""
    try:
        with path.open("rb") as handle:
            head = handle.read(4096)
    except OSError as exc:
        raise ImportSourceError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    return head.lstrip(b"\r\n").startswith(b"From ")


class MboxSource:
    """The mails of one mbox file, read one at a time.

    Each mail's ``folder`` is the file name without extension (an mbox file is usually one
    exported folder: ``Claims.mbox`` holds the Claims folder), unless ``folder`` is given.
    """

    def __init__(self, path: Path, *, folder: str | None = None) -> None:
        self.path = path
        self.folder = path.stem if folder is None else folder
        self.description = f"mbox file {path}"
        self._box: mailbox.mbox | None = None

    def _mbox(self) -> mailbox.mbox:
        if self._box is None:
            try:
                # factory=None: the stdlib finds the separators (and keeps a table of
                # offsets) without building message objects; get_bytes() reads one mail.
                self._box = mailbox.mbox(self.path, factory=None, create=False)
            except OSError as exc:
                raise ImportSourceError(f"{self.path}: cannot open: {exc}") from exc
        return self._box

    def count(self) -> int:
        """Number of mails (scans the file for separators once; iteration reuses the scan)."""
        try:
            return len(self._mbox())
        except OSError as exc:
            raise ImportSourceError(f"{self.path}: cannot read: {exc}") from exc

    def __iter__(self) -> Iterator[RawMail]:
        box = self._mbox()
        try:
            for index, key in enumerate(box.iterkeys(), start=1):
                yield RawMail(
                    raw=box.get_bytes(key),
                    folder=self.folder,
                    source_ref=f"{self.path}#{index}",
                )
        except OSError as exc:
            raise ImportSourceError(f"{self.path}: cannot read: {exc}") from exc
        finally:
            box.close()
            self._box = None
