"""Files only their owner reads: the instance folder and what Mailroom writes in it.

The database holds every raw mail and the password hashes, the broker the queued tasks,
the secret key signs sessions, exports and models hold mail text: none of them is for the
other local users. Folders are made 0700 and files 0600, whatever the umask.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def make_private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents, 0700); an existing folder of ours is made
    0700 too. Returns ``path``."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    restrict(path)
    return path


def restrict(path: Path) -> None:
    """Make an existing file 0600 or folder 0700, when this process owns it (a shared
    folder someone else owns is left as it is)."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return
    if info.st_uid != os.getuid():
        return
    mode = PRIVATE_DIR if path.is_dir() else PRIVATE_FILE
    if info.st_mode & 0o777 != mode:
        path.chmod(mode)


def write_private(path: Path, data: bytes | str) -> None:
    """Write ``data`` to ``path`` as a 0600 file (created so, never readable in between)."""
    make_private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data.encode("utf-8") if isinstance(data, str) else data)
    restrict(path)


# What SQLite keeps beside a database file (they hold its pages too).
SQLITE_SIDECARS = ("-wal", "-shm", "-journal")


def private_sqlite_file(path: Path) -> None:
    """Make ``path`` an owner-only SQLite file before SQLite opens it: its folder made
    0700 when missing (an existing folder is the admin's choice), the file created empty
    0600 when missing (SQLite gives its WAL and shared-memory files the database file's
    permissions), an existing one and its sidecars made 0600."""
    path.parent.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    for suffix in ("", *SQLITE_SIDECARS):
        restrict(path.with_name(path.name + suffix))


def restrict_tree(root: Path) -> None:
    """:func:`restrict` on ``root`` and everything under it (a model version, an export)."""
    restrict(root)
    for path in root.rglob("*"):
        if not path.is_symlink():
            restrict(path)
