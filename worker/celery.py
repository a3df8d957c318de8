"""Lets ``celery -A worker …`` find the app: for a package, Celery looks in ``<package>.celery``.

Importing this module reads the settings (see :mod:`worker.app`); nothing else in
``worker`` does at import time.
"""

from __future__ import annotations

from worker.app import celery

__all__ = ["celery"]
