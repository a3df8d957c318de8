"""Named, expiring locks in the database: one holder at a time, none forever.

A watcher takes the lease ``mailbox:<id>`` before it watches that mailbox and renews it on
every cycle; if its worker dies the lease expires after its TTL and another worker's
watcher takes over. Taking and renewing are single conditional statements, so two workers
racing for a lease cannot both win (on SQLite and PostgreSQL alike).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, or_, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from labeling.store.db import rowcount, session_scope, store_error
from labeling.store.tables import Lease, utcnow


def acquire(
    sessions: sessionmaker[Session],
    name: str,
    holder: str,
    ttl: float,
    *,
    now: datetime | None = None,
) -> bool:
    """Take or renew ``name`` for ``holder`` for ``ttl`` seconds; False if someone else
    holds it and it has not expired. Raises StoreError when the database fails."""
    now = now or utcnow()
    expires = now + timedelta(seconds=ttl)
    with session_scope(sessions) as session:
        taken = rowcount(
            session.execute(
                update(Lease)
                .where(Lease.name == name, or_(Lease.holder == holder, Lease.expires_at < now))
                .values(holder=holder, expires_at=expires)
                .execution_options(synchronize_session=False)
            )
        )
        if taken:
            return True
    with sessions() as session:
        try:
            session.add(Lease(name=name, holder=holder, expires_at=expires))
            session.commit()
        except IntegrityError:
            session.rollback()
            return False  # the lease exists and is someone else's
        except SQLAlchemyError as exc:
            session.rollback()
            raise store_error(exc, f"taking the lease {name}") from exc
    return True


def release(sessions: sessionmaker[Session], name: str, holder: str) -> None:
    """Give ``name`` up if ``holder`` holds it (a clean shutdown hands over at once)."""
    with session_scope(sessions) as session:
        session.execute(delete(Lease).where(Lease.name == name, Lease.holder == holder))
