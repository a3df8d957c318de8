"""A folder of ``.eml`` files (one mail per file), searched recursively."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from labeling.errors import ImportSourceError
from labeling.importers import DEFAULT_MAX_MAIL_BYTES, read_mail_file
from labeling.mail.values import RawMail


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


class EmlFolderSource:
    """Every ``*.eml`` file below ``root`` (or ``root`` itself when it is one file).

    A mail's ``folder`` is its sub-folder relative to ``root`` (``claims/2023``), '' for
    files directly in ``root``. Hidden files (``.name``, e.g. macOS ``._x.eml`` resource
    forks) are skipped.
    """

    def __init__(self, root: Path, *, max_mail_bytes: int = DEFAULT_MAX_MAIL_BYTES) -> None:
        self.root = root
        self.max_mail_bytes = max_mail_bytes
        self.description = f".eml file {root}" if root.is_file() else f".eml folder {root}"
        self._files: list[Path] | None = None

    def files(self) -> list[Path]:
        """The files to import, in a stable (sorted) order."""
        if self._files is None:
            if self.root.is_file():
                self._files = [self.root]
            else:
                try:
                    self._files = sorted(
                        path
                        for path in self.root.rglob("*")
                        if path.suffix.lower() == ".eml"
                        and not _hidden(path.relative_to(self.root))
                        and path.is_file()
                    )
                except OSError as exc:
                    raise ImportSourceError(f"{self.root}: cannot list: {exc}") from exc
        return self._files

    def count(self) -> int:
        return len(self.files())

    def __iter__(self) -> Iterator[RawMail]:
        base = self.root.parent if self.root.is_file() else self.root
        for path in self.files():
            relative = path.relative_to(base)
            folder = relative.parent.as_posix()
            try:
                raw, refused = read_mail_file(path, max_mail_bytes=self.max_mail_bytes)
            except OSError as exc:
                raise ImportSourceError(f"{path}: cannot read: {exc.strerror or exc}") from exc
            yield RawMail(
                raw=raw,
                folder="" if folder == "." else folder,
                source_ref=str(path),
                refused=refused,
            )
