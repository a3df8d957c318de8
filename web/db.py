"""One database session per request, scoped to the app context and closed at teardown.

Views call :func:`db_session` for the session and :func:`commit` after a change; whatever a
request did not commit is rolled back when its app context ends (an error half-way through
a request leaves nothing behind).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app, g, request
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from labeling.settings import Settings
from labeling.store.db import check_schema, make_engine, make_session_factory, store_error

EXTENSION = "mailroom.db"


@dataclass(frozen=True)
class Database:
    engine: Engine
    sessions: sessionmaker[Session]  # for requests that only read
    writing: sessionmaker[Session]  # for requests that change something (POST and friends)


def init_app(app: Flask, settings: Settings) -> None:
    """Build the engine for ``settings`` and check the schema is current.

    Raises :class:`MigrationError` (with "run `mailroom db upgrade`") before the app serves
    a request, rather than failing on the first page.
    """
    engine = make_engine(settings)
    try:
        check_schema(engine)
    except BaseException:
        engine.dispose()
        raise
    app.extensions[EXTENSION] = Database(
        engine, make_session_factory(engine), make_session_factory(engine, writes=True)
    )
    app.teardown_appcontext(_close_session)


def db_session() -> Session:
    """The session of the current request, opened on first use."""
    if "db_session" not in g:
        database: Database = current_app.extensions[EXTENSION]
        writes = request.method not in ("GET", "HEAD", "OPTIONS")
        g.db_session = (database.writing if writes else database.sessions)()
    session: Session = g.db_session
    return session


def commit() -> None:
    """Commit the request's session; a database error leaves as :class:`StoreError`."""
    session = db_session()
    try:
        session.commit()
    except SQLAlchemyError as exc:
        session.rollback()
        raise store_error(exc, "saving") from exc


def rollback_request() -> None:
    """Roll back the request's session, if it has one (after a database error)."""
    session: Session | None = g.get("db_session")
    if session is not None:
        session.rollback()


def _close_session(_exc: BaseException | None) -> None:
    session: Session | None = g.pop("db_session", None)
    if session is not None:
        # close() rolls back anything uncommitted and returns the connection to the pool.
        session.close()
