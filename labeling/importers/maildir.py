"""A Maildir tree: the root Maildir plus every sub-folder, in either common layout.

- Maildir++ (Courier, Dovecot's default): sub-folders are hidden siblings of ``cur``,
  ``.Claims``, ``.Claims.Car``; the folder names are ``Claims`` and ``Claims.Car``.
- Nested plain Maildirs (Dovecot ``LAYOUT=fs``, many exports): ``Claims/cur``,
  ``Claims/Car/cur``; the folder names are ``Claims`` and ``Claims/Car``.

The root itself (or a top-level ``INBOX``) is folder ''. These are the names the IMAP
importer gives the same folders when Dovecot serves the tree (it keeps the server's
hierarchy delimiter), so weak labels and resumption agree whichever way a tree is read.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

from labeling.errors import ImportSourceError
from labeling.importers import DEFAULT_MAX_MAIL_BYTES, read_mail_file
from labeling.mail.values import RawMail

log = logging.getLogger(__name__)

_MAILDIR_PARTS = ("cur", "new", "tmp")


def is_maildir(path: Path) -> bool:
    """Whether ``path`` is one Maildir (it has ``cur`` and ``new``; ``tmp`` may be gone)."""
    return (path / "cur").is_dir() and (path / "new").is_dir()


def find_maildirs(root: Path) -> list[tuple[str, Path]]:
    """Every Maildir at or below ``root`` as (folder name, path), sorted by folder name."""
    found: list[tuple[str, Path]] = []

    def walk(directory: Path, parts: list[str]) -> None:
        if is_maildir(directory):
            found.append((_folder_name(parts), directory))
        try:
            children = sorted(directory.iterdir())
        except OSError as exc:
            raise ImportSourceError(f"{directory}: cannot list: {exc.strerror or exc}") from exc
        for child in children:
            if child.name in _MAILDIR_PARTS or child.is_symlink() or not child.is_dir():
                continue
            name = child.name[1:] if child.name.startswith(".") else child.name  # Maildir++
            if name.strip("."):
                walk(child, [*parts, name])

    walk(root, [])
    return sorted(found, key=lambda item: item[0])


def _folder_name(parts: list[str]) -> str:
    if parts and parts[0].upper() == "INBOX":
        parts = parts[1:]
    return "/".join(parts)


class MaildirSource:
    """The mails of every Maildir in a tree, folder by folder, ``new`` before ``cur``."""

    def __init__(self, root: Path, *, max_mail_bytes: int = DEFAULT_MAX_MAIL_BYTES) -> None:
        self.root = root
        self.max_mail_bytes = max_mail_bytes
        self.description = f"Maildir tree {root}"

    def folders(self) -> list[tuple[str, Path]]:
        """(folder name, Maildir path) for every Maildir in the tree."""
        return find_maildirs(self.root)

    def _files(self, maildir: Path) -> list[Path]:
        files: list[Path] = []
        for part in ("new", "cur"):
            try:
                files.extend(
                    sorted(
                        path
                        for path in (maildir / part).iterdir()
                        if not path.name.startswith(".") and path.is_file()
                    )
                )
            except OSError as exc:
                raise ImportSourceError(f"{maildir / part}: cannot list: {exc}") from exc
        return files

    def count(self) -> int:
        return sum(len(self._files(path)) for _, path in self.folders())

    def __iter__(self) -> Iterator[RawMail]:
        for folder, maildir in self.folders():
            for path in self._files(maildir):
                try:
                    raw, refused = read_mail_file(path, max_mail_bytes=self.max_mail_bytes)
                except FileNotFoundError:
                    # A mail client moved it (new → cur, or a flag change renamed it) since
                    # we listed the folder; running the import again picks it up.
                    log.warning("%s vanished while importing; run the import again", path)
                    continue
                except OSError as exc:
                    raise ImportSourceError(
                        f"{path}: cannot read: {exc.strerror or exc}"
                    ) from exc
                yield RawMail(raw=raw, folder=folder, source_ref=str(path), refused=refused)
