"""The module ``celery -A worker.app worker`` loads: the app built once from MAILROOM_*.

Importing this module reads the settings; nothing else in ``worker`` does at import time.
"""

from __future__ import annotations

from labeling.settings import load_settings
from worker.celery_app import make_celery

settings = load_settings()
celery = make_celery(settings, watch=settings.worker_watch)
