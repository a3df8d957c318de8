"""Alembic environment for Mailroom's schema.

Run through :func:`labeling.store.db.upgrade` (or ``mailroom db upgrade``), which passes the
engine or the :class:`~labeling.settings.Settings` in ``config.attributes``; there is no
alembic.ini. For the alembic command line, set ``sqlalchemy.url`` in a config of your own.
"""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from sqlalchemy import Connection, Engine, create_engine

from labeling.store.db import make_engine
from labeling.store.tables import Base, UtcDateTime

config = context.config
target_metadata = Base.metadata


def _render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    # Migrations stay frozen: they spell out the stored type instead of importing models.
    if type_ == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _engine() -> tuple[Engine, bool]:
    """The engine to migrate, and whether this module made it (and so disposes it)."""
    engine = config.attributes.get("engine")
    if engine is not None:
        return engine, False
    settings = config.attributes.get("settings")
    if settings is not None:
        return make_engine(settings), True
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database: call labeling.store.db.upgrade(settings)")
    return create_engine(url), True


def _sqlite_foreign_keys(connection: Connection, *, on: bool) -> None:
    driver = connection.connection.driver_connection
    assert driver is not None
    driver.execute(f"PRAGMA foreign_keys = {'ON' if on else 'OFF'}")


def run_migrations_offline() -> None:
    """Write the SQL to stdout instead of running it (``alembic upgrade --sql``)."""
    url = config.get_main_option("sqlalchemy.url")
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=bool(url and url.startswith("sqlite")),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine, owned = _engine()
    is_sqlite = engine.dialect.name == "sqlite"
    try:
        with engine.connect() as connection:
            if is_sqlite:
                # SQLite's procedure for changes ALTER TABLE cannot make (rebuild the table):
                # foreign keys off while the schema changes, else dropping the old table
                # cascades into every table that references it. It only takes effect outside a
                # transaction, so it goes to the driver before Alembic begins one; a revision
                # that rebuilds a table runs PRAGMA foreign_key_check before it commits.
                _sqlite_foreign_keys(connection, on=False)
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
                render_as_batch=is_sqlite,
                # labeling.store.db's SQLite engine emits a real BEGIN, so migrations are atomic
                # there too: a failed upgrade leaves the previous schema intact.
                transactional_ddl=True,
                compare_type=True,
                render_item=_render_item,
            )
            with context.begin_transaction():
                context.run_migrations()
            # A connection handed to us may still be in a transaction Alembic joined.
            if connection.in_transaction():
                connection.commit()
            if is_sqlite:
                _sqlite_foreign_keys(connection, on=True)
    finally:
        if owned:
            engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
