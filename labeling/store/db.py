"""Database access: engines, sessions and schema migrations, built from :class:`Settings`.

Nothing here runs at import time; callers build an engine when they need one::

    engine = make_engine(settings)
    sessions = make_session_factory(engine)
    check_schema(engine)                 # MigrationError when `mailroom db upgrade` is due
    with session_scope(sessions) as session:
        ...                              # committed on success, rolled back on error

SQLAlchemy errors raised while connecting, migrating, or inside :func:`session_scope` come
out as :class:`StoreError` (or :class:`MigrationError`) with a message for the user.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import CursorResult, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from labeling.errors import MigrationError, StoreError
from labeling.files import private_sqlite_file
from labeling.settings import Settings

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

# Alembic is imported inside the functions below, under _quiet_alembic(): importing it and
# configuring a migration context log plugin set-up at INFO, noise in a command's output.

log = logging.getLogger(__name__)

MIGRATIONS_PATH = Path(__file__).resolve().parent / "migrations"
UPGRADE_HINT = "run `mailroom db upgrade`"

# Seconds a SQLite writer waits for another writer's lock before giving up.
SQLITE_BUSY_TIMEOUT_S = 30


def make_engine(settings: Settings) -> Engine:
    """An engine for ``settings.sqlalchemy_url``.

    SQLite: creates the database's folder, turns foreign keys on, uses write-ahead logging
    (readers do not block the writer) and waits for locks instead of failing at once.
    PostgreSQL: checks pooled connections before use, so a restarted server is survived.
    """
    try:
        url = make_url(settings.sqlalchemy_url)
    except ArgumentError as exc:
        raise StoreError(f"bad database URL {settings.sqlalchemy_url!r}: {exc}") from None
    if url.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)

    in_memory = url.database in (None, "", ":memory:")
    if not in_memory:
        # Every raw mail and the password hashes: for the owner only (files 0600, 0700).
        private_sqlite_file(Path(str(url.database)).expanduser())
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take BEGIN away from the sqlite3 driver (it skips it for SELECT, DDL and SAVEPOINT,
        # which breaks savepoints and transactional migrations); _on_begin emits it instead.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_S * 1000}")
        if not in_memory:
            cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A transaction that will write takes the write lock when it begins (IMMEDIATE): one
        # that read first and then tried to write after another writer committed would get
        # "database is locked" at once, whatever the busy timeout (WAL snapshot rules).
        immediate = connection.get_execution_options().get(SQLITE_IMMEDIATE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


SQLITE_IMMEDIATE = "mailroom_sqlite_immediate"


def make_session_factory(engine: Engine, *, writes: bool = False) -> sessionmaker[Session]:
    """A session factory on ``engine``. Objects stay readable after commit.

    ``writes``: the sessions are for work that writes; on SQLite their transactions take
    the write lock when they begin, so a read followed by a write never fails on a lock
    another writer took in between (it waits up to the busy timeout instead).
    """
    bind = engine.execution_options(**{SQLITE_IMMEDIATE: True}) if writes else engine
    return sessionmaker(bind, expire_on_commit=False)


@contextmanager
def session_scope(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A session in a transaction: committed when the block ends, rolled back on an error.

    Database errors leave as :class:`StoreError`; our own errors pass through unchanged.
    """
    session = sessions()
    try:
        yield session
        session.commit()
    except SQLAlchemyError as exc:
        session.rollback()
        raise store_error(exc) from exc
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def open_database(settings: Settings, *, check: bool = True) -> Iterator[sessionmaker[Session]]:
    """A session factory on the configured database, for the length of a command.

    ``check`` first verifies the schema is current (:func:`check_schema` says to run
    ``mailroom db upgrade`` when it is not); the engine is disposed of on the way out.
    """
    engine = make_engine(settings)
    try:
        if check:
            check_schema(engine)
        yield make_session_factory(engine)
    finally:
        engine.dispose()


def refresh_statistics(session: Session) -> None:
    """After a bulk write, bring PostgreSQL's planner statistics up to date.

    Straight after thousands of rows arrive, and before autovacuum catches up, PostgreSQL can
    pick plans that make the labelling queue take seconds instead of milliseconds. SQLite
    keeps no statistics unless asked, so there is nothing to refresh there.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("ANALYZE messages"))
        session.execute(text("ANALYZE annotations"))


# What a lock that outlived the busy timeout says (SQLite; PostgreSQL: lock_not_available,
# deadlock_detected, serialization_failure). Lower-case substrings of the DBAPI message.
LOCK_MESSAGES = (
    "database is locked",
    "database table is locked",
    "database is busy",
    "could not obtain lock",
    "deadlock detected",
    "could not serialize access",
)


def is_lock_error(exc: BaseException) -> bool:
    """True for a database error that only says another writer held a lock too long."""
    detail = str(getattr(exc, "orig", None) or exc).lower()
    return any(message in detail for message in LOCK_MESSAGES)


def store_error(exc: SQLAlchemyError, doing: str = "") -> StoreError:
    """Translate a SQLAlchemy error into a :class:`StoreError` a user can act on."""
    # The DBAPI's own message is the useful part; SQLAlchemy's wrapper adds the SQL text.
    lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    detail = lines[0] if lines else type(exc).__name__
    prefix = f"{doing}: " if doing else ""
    locked = is_lock_error(exc)
    if locked:
        return StoreError(
            f"{prefix}the database is busy ({detail}); try again in a moment", locked=True
        )
    return StoreError(f"{prefix}database error: {detail}")


# Migrations ----------------------------------------------------------------------------


@contextmanager
def _quiet_alembic() -> Iterator[None]:
    # Alembic logs its plugins and dialect choices at INFO on every call; that is noise in a
    # command's output unless someone asked for DEBUG.
    logger = logging.getLogger("alembic")
    if logger.getEffectiveLevel() <= logging.DEBUG:
        yield
        return
    previous = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(previous)


def alembic_config(settings: Settings | None = None, *, engine: Engine | None = None) -> Config:
    """A programmatic Alembic config for our migrations (no alembic.ini needed).

    ``env.py`` uses ``engine`` when given, else builds one from ``settings``.
    """
    with _quiet_alembic():
        from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_PATH))
    config.attributes["settings"] = settings
    config.attributes["engine"] = engine
    return config


def _scripts() -> ScriptDirectory:
    with _quiet_alembic():
        from alembic.script import ScriptDirectory

        return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    """The newest migration this code knows."""
    head = _scripts().get_current_head()
    if head is None:  # pragma: no cover - only when the versions folder is empty
        raise MigrationError("no migrations found in " + str(MIGRATIONS_PATH))
    return head


def upgrade(settings: Settings, revision: str = "head", *, engine: Engine | None = None) -> str:
    """Migrate the database to ``revision`` (default: the newest); returns the revision."""
    own_engine = engine is None
    engine = engine or make_engine(settings)
    try:
        with _quiet_alembic():
            from alembic import command

            command.upgrade(alembic_config(settings, engine=engine), revision)
        return current_revision(engine) or ""
    except SQLAlchemyError as exc:
        raise MigrationError(str(store_error(exc, "migrating the database"))) from exc
    finally:
        if own_engine:
            engine.dispose()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at; None for a database without our schema."""
    try:
        with _quiet_alembic(), engine.connect() as connection:
            from alembic.runtime.migration import MigrationContext

            return MigrationContext.configure(connection).get_current_revision()
    except SQLAlchemyError as exc:
        raise store_error(exc, f"reading the schema version of {_safe_url(engine)}") from exc


def check_schema(engine: Engine) -> str:
    """Raise :class:`MigrationError` unless the database is at the newest revision.

    Returns the current revision. The message says what to do: upgrade the database when
    it is behind, upgrade Mailroom when the database is newer than the code.
    """
    current = current_revision(engine)
    head = head_revision()
    if current == head:
        return current
    where = _safe_url(engine)
    if current is None:
        raise MigrationError(f"the database {where} has no Mailroom schema yet; {UPGRADE_HINT}")
    known = {rev.revision for rev in _scripts().walk_revisions()}
    if current not in known:
        raise MigrationError(
            f"the database {where} is at revision {current}, which this version of Mailroom "
            "does not know; it was migrated by a newer Mailroom — upgrade Mailroom"
        )
    raise MigrationError(
        f"the database {where} is at revision {current}, behind {head}; {UPGRADE_HINT}"
    )


def _safe_url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def rowcount(result: object) -> int:
    """Rows an UPDATE or DELETE matched (0 for a result that does not say)."""
    return int(result.rowcount) if isinstance(result, CursorResult) else 0
