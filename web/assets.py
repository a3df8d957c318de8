"""URLs of our static files with a content hash, so browsers may cache them for a year."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from flask import current_app, url_for

STATIC_FOLDER = Path(__file__).resolve().parent / "static"


@lru_cache(maxsize=64)
def _digest(filename: str, mtime_ns: int) -> str:
    # mtime is part of the key so an edited file (debug server) gets a new URL.
    return hashlib.sha256((STATIC_FOLDER / filename).read_bytes()).hexdigest()[:12]


def static_url(filename: str) -> str:
    """``url_for('static', …)`` plus ``?v=<hash of the file>``."""
    path = STATIC_FOLDER / filename
    version = _digest(filename, path.stat().st_mtime_ns)
    return url_for("static", filename=filename, v=version)


def cache_seconds() -> int:
    """How long browsers keep static files: a year (URLs change with content), none in debug."""
    return 0 if current_app.debug else 365 * 24 * 3600
