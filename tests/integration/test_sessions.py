"""Sessions that end: revoked server side by logout, password change and deactivation;
idle and absolute timeouts; Server-Timing only in debug; HSTS on https; the secret key."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from flask import Flask
from flask.testing import FlaskClient

import web.auth
from labeling.errors import ConfigError
from labeling.settings import Settings, load_settings
from tests.support.web import Seeded, csrf_token, logged_in, make_app, seed
from web.security import SECRET_KEY_FILE, secret_key

COOKIE = "mailroom_session"


def _copy_of(client: FlaskClient, app: Flask) -> FlaskClient:
    """A second browser holding the same session cookie (a stolen or saved cookie)."""
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None
    thief = app.test_client()
    thief.set_cookie(COOKIE, cookie.value)
    return thief


def _in(client: FlaskClient) -> bool:
    return client.get("/api/progress").status_code == 200


def test_a_saved_cookie_is_worthless_after_logout(app: Flask, seeded: Seeded) -> None:
    client = logged_in(app, "labeler")
    other_browser = logged_in(app, "labeler")
    thief = _copy_of(client, app)
    assert _in(thief)
    token = csrf_token(client, "/label")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert not _in(client) and not _in(thief)
    assert thief.get("/api/progress").status_code == 401
    # Logout ends every session of that person, the other browser's too.
    assert not _in(other_browser)
    assert _in(logged_in(app, "labeler"))  # a new login works


def test_deactivation_ends_the_session_at_once(app: Flask, seeded: Seeded) -> None:
    victim = logged_in(app, "labeler2")
    assert _in(victim)
    admin = logged_in(app, "admin")
    token = csrf_token(admin, "/admin/users")
    user = seeded.users["labeler2"]
    admin.post(f"/admin/users/{user}/active", data={"active": "0", "csrf_token": token})
    assert not _in(victim)
    admin.post(f"/admin/users/{user}/active", data={"active": "1", "csrf_token": token})
    assert not _in(victim)  # reactivating does not bring an old session back


class _Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def time(self) -> float:
        return self.now


def test_idle_and_absolute_timeouts(db_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = db_settings.model_copy(
        update={"session_idle_minutes": 30.0, "session_max_hours": 2.0}
    )
    clock = _Clock()
    monkeypatch.setattr(web.auth, "time", SimpleNamespace(time=clock.time))
    app = make_app(settings)
    try:
        seed(app.extensions["mailroom.db"].sessions)
        client = logged_in(app, "labeler")
        clock.now += 29 * 60
        assert _in(client)  # used within the idle time: goes on, and counts as used now
        clock.now += 29 * 60
        assert _in(client)
        clock.now += 31 * 60
        assert not _in(client)  # idle too long

        client = logged_in(app, "labeler")
        for _ in range(4):  # busy all the time, but past the absolute limit
            clock.now += 25 * 60
            assert _in(client)
        clock.now += 25 * 60
        assert not _in(client)
    finally:
        app.extensions["mailroom.db"].engine.dispose()


def test_server_timing_only_in_debug_and_hsts_only_on_https(db_settings: Settings) -> None:
    plain = make_app(db_settings)
    debug = make_app(db_settings, DEBUG=True)
    https = make_app(db_settings.model_copy(update={"public_url": "https://mailroom.example"}))
    try:
        response = plain.test_client().get("/login")
        assert "Server-Timing" not in response.headers
        assert "Strict-Transport-Security" not in response.headers
        assert "Server-Timing" in debug.test_client().get("/login").headers
        hsts = https.test_client().get("/login").headers.get("Strict-Transport-Security")
        assert hsts is not None and "max-age=" in hsts
    finally:
        for each in (plain, debug, https):
            each.extensions["mailroom.db"].engine.dispose()


def test_an_empty_secret_key_file_is_replaced(instance_path: Path) -> None:
    settings = load_settings({}, instance_path=instance_path)
    key_file = instance_path / SECRET_KEY_FILE
    key_file.write_text("")
    key = secret_key(settings)
    assert len(key) == 64 and key_file.read_text() == key
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert secret_key(settings) == key  # kept from then on
    key_file.write_bytes(b"\xff\xfe")
    with pytest.raises(ConfigError, match="not a Mailroom secret key"):
        secret_key(settings)
