"""Audit rows for decisions that concern no one mail: a new target precision, a login …

Mail-level transitions write their own rows (:mod:`labeling.live.lifecycle`); this is for
the rest. The row holds who (``actor``: ``user:<id>``, ``cli`` …), what and the details a
person needs to understand it later — never mail content or secrets.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from labeling.store.tables import AuditLog, utcnow


def record(session: Session, actor: str, action: str, **details: Any) -> None:
    """Add one audit row (flushed with the caller's session; the caller commits)."""
    session.add(AuditLog(at=utcnow(), actor=actor[:100], action=action, details=details))
    session.flush()
