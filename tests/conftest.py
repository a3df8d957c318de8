"""Shared fixtures, and the markers a test gets from the fixtures it uses.

Here: ``instance_path``, ``settings`` (the embedded default in a fresh instance folder),
and the web app's ``app``, ``client``, ``sessions`` and ``seeded`` (a store seeded by
:func:`tests.support.web.seed`), on every database backend. The database, Dovecot,
worker, process and browser fixtures come from the plugin modules under tests/support;
the real servers they start are in :mod:`mailroom.testbed`.

The markers ``server``, ``postgres`` and ``browser`` are never written by hand:
:func:`pytest_collection_modifyitems` sets them from the fixtures a test uses, so one can
neither be forgotten nor be put on a test that needs no such thing. ``slow`` is written by
hand.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from labeling.settings import Settings, load_settings
from tests.support.web import Seeded, make_app, seed

pytest_plugins = [
    "tests.support.db",
    "tests.support.dovecot",
    "tests.support.browser",
    "tests.support.processes",
    "tests.support.worker_stack",
    "tests.support.smtp",
]

DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"

# Marker -> the fixtures that make a test need it (the fixtures a test uses, directly or
# through other fixtures). dovecot and imap_user go through dovecot_factory; make_stack
# starts an SMTP server and worker processes on Redis; spawn starts a worker or the demo;
# smtp_server is a recording SMTP server.
NEEDS = {
    "server": frozenset({"dovecot_factory", "make_stack", "spawn", "smtp_server"}),
    "postgres": frozenset({"postgres_url", "_migrated_postgres"}),
    "browser": frozenset({"browser"}),
}


def needed_markers(item: pytest.Item) -> set[str]:
    """The markers ``item`` needs, from its fixtures and its database backend."""
    fixtures = set(getattr(item, "fixturenames", ()))
    needed = {marker for marker, names in NEEDS.items() if fixtures & names}
    callspec = getattr(item, "callspec", None)
    if callspec is not None and callspec.params.get("db_backend") == "postgresql":
        needed.add("postgres")
    return needed


@pytest.hookimpl(tryfirst=True)  # before -m selects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    by_hand = []
    for item in items:
        needed = needed_markers(item)
        by_hand += [
            f"{item.nodeid}: {marker}"
            for marker in NEEDS
            if marker not in needed and item.get_closest_marker(marker) is not None
        ]
        for marker in sorted(needed):
            item.add_marker(marker)
    if by_hand:
        raise pytest.UsageError(
            "these tests carry a marker that tests/conftest.py sets from their fixtures, "
            "but use no such fixture (take the fixture instead of writing the marker):\n  "
            + "\n  ".join(by_hand)
        )


@pytest.fixture
def instance_path(tmp_path: Path) -> Path:
    path = tmp_path / "instance"
    path.mkdir()
    return path


@pytest.fixture
def settings(instance_path: Path) -> Settings:
    """Settings on the embedded default (SQLite) in a fresh instance folder."""
    return load_settings({}, instance_path=instance_path)


@pytest.fixture
def app(db_settings: Settings) -> Iterator[Flask]:
    """The web app for testing, on a migrated, empty database (SQLite and PostgreSQL)."""
    app = make_app(db_settings)
    yield app
    app.extensions["mailroom.db"].engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client of ``app``, not logged in."""
    return app.test_client()


@pytest.fixture
def sessions(app: Flask) -> sessionmaker[Session]:
    """The app's own session factory."""
    factory: sessionmaker[Session] = app.extensions["mailroom.db"].sessions
    return factory


@pytest.fixture
def seeded(sessions: sessionmaker[Session]) -> Seeded:
    """Users, teams and six mails (:func:`tests.support.web.seed`)."""
    return seed(sessions)
