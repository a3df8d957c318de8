"""Logins: throttled per account and per client so that no one's guesses block anyone
else (also behind a reverse proxy), passwords that are hard to guess, a password change
and an admin reset that end sessions, every login attempt in the audit log."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.test import TestResponse

from labeling.errors import LabelingError
from labeling.settings import Settings
from labeling.store.passwords import password_problem
from labeling.store.people import create_user
from labeling.store.tables import AuditLog
from tests.support.web import PASSWORD, Seeded, csrf_token, logged_in, make_app, seed


def _login_from(
    client: FlaskClient, address: str, username: str, password: str = PASSWORD
) -> TestResponse:
    headers = {"X-Forwarded-For": address}
    page = client.get("/login", headers=headers).get_data(as_text=True)
    token = page.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token},
        headers=headers,
    )


@pytest.fixture
def proxied(db_settings: Settings) -> Flask:
    app = make_app(db_settings.model_copy(update={"trusted_proxies": 1}))
    seed(app.extensions["mailroom.db"].sessions)
    yield app  # type: ignore[misc]
    app.extensions["mailroom.db"].engine.dispose()


def test_guesses_from_one_client_never_block_the_right_password_from_another(
    proxied: Flask,
) -> None:
    attacker = proxied.test_client()
    # Spraying every account, then hammering the admin, from one client behind the proxy.
    for n in range(30):
        username = ("admin", "labeler", "reviewer", f"nobody{n}")[n % 4]
        status = _login_from(attacker, "203.0.113.66", username, "Raden raden 1").status_code
        assert status in (200, 429)
    refused = _login_from(attacker, "203.0.113.66", "admin")  # even the right password
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    # The real admin, through the same proxy from their own address, gets in at once.
    assert _login_from(proxied.test_client(), "198.51.100.7", "admin").status_code == 302
    assert _login_from(proxied.test_client(), "198.51.100.8", "labeler").status_code == 302


def test_per_account_limit_is_per_client(proxied: Flask) -> None:
    attacker = proxied.test_client()
    for _ in range(5):
        assert _login_from(attacker, "203.0.113.9", "reviewer", "Fout fout fout").status_code == 200
    assert _login_from(attacker, "203.0.113.9", "reviewer").status_code == 429
    assert _login_from(attacker, "203.0.113.9", "labeler").status_code == 302  # other account
    assert _login_from(proxied.test_client(), "198.51.100.9", "reviewer").status_code == 302


def test_without_trusted_proxies_a_forged_header_does_not_escape_throttling(
    app: Flask, seeded: Seeded
) -> None:
    client = app.test_client()
    for n in range(5):
        forged = f"192.0.2.{n}"
        assert _login_from(client, forged, "labeler", "Fout fout fout").status_code == 200
    assert _login_from(client, "192.0.2.200", "labeler").status_code == 429


def test_login_attempts_are_audited_without_passwords(app: Flask, seeded: Seeded) -> None:
    client = app.test_client()
    _login_from(client, "x", "labeler", "Verkeerd wachtwoord 1")
    _login_from(client, "x", "labeler")
    sessions: sessionmaker[Session] = app.extensions["mailroom.db"].sessions
    with sessions() as session:
        rows = session.scalars(
            select(AuditLog).where(AuditLog.action.like("login.%")).order_by(AuditLog.id)
        ).all()
    assert [(row.action, row.actor) for row in rows] == [
        ("login.failed", "anonymous"),
        ("login.ok", f"user:{seeded.users['labeler']}"),
    ]
    assert rows[0].details == {"username": "labeler", "client": "127.0.0.1"}
    assert "Verkeerd" not in str([row.details for row in rows])


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("a" * 10, "different characters"),
        ("kort", "at least 10"),
        ("Welkom2024!", "first an attacker tries"),
        ("Password1234", "first an attacker tries"),
        ("1234567890", "first an attacker tries"),
        ("qwertyuiop", "first an attacker tries"),
        ("sanne-de-vries-99", "username"),
        ("paars olifant regent 4", None),
    ],
)
def test_password_policy(password: str, problem: str | None) -> None:
    found = password_problem(password, "sanne-de-vries")
    assert (found is None) if problem is None else (found is not None and problem in found)


def test_weak_passwords_are_refused_when_a_user_is_made(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session, pytest.raises(LabelingError, match="different characters"):
        create_user(session, "sanne", "a" * 10, "labeler")


def test_change_password_ends_other_sessions_and_keeps_this_one(app: Flask, seeded: Seeded) -> None:
    me = logged_in(app, "labeler")
    elsewhere = logged_in(app, "labeler")
    token = csrf_token(me, "/account/password")
    new = "Nieuw en lang wachtwoord"
    refused = me.post(
        "/account/password",
        data={"current": "niet het oude!", "new": new, "confirm": new, "csrf_token": token},
    )
    assert refused.status_code == 400 and "not right" in refused.get_data(as_text=True)
    weak = me.post(
        "/account/password",
        data={
            "current": PASSWORD,
            "new": "welkom12345",
            "confirm": "welkom12345",
            "csrf_token": token,
        },
    )
    assert weak.status_code == 400
    done = me.post(
        "/account/password",
        data={"current": PASSWORD, "new": new, "confirm": new, "csrf_token": token},
    )
    assert done.status_code == 302
    assert me.get("/api/progress").status_code == 200  # this session goes on
    assert elsewhere.get("/api/progress").status_code == 401  # the other one ended
    assert _login_from(app.test_client(), "a", "labeler").status_code == 200  # old: refused
    assert _login_from(app.test_client(), "a", "labeler", new).status_code == 302


def test_admin_reset_ends_the_users_sessions(app: Flask, seeded: Seeded) -> None:
    victim = logged_in(app, "labeler2")
    admin = logged_in(app, "admin")
    token = csrf_token(admin, "/admin/users")
    user = seeded.users["labeler2"]
    weak = admin.post(
        f"/admin/users/{user}/password", data={"password": "x" * 12, "csrf_token": token}
    )
    assert weak.status_code == 302 and victim.get("/api/progress").status_code == 200
    admin.post(
        f"/admin/users/{user}/password",
        data={"password": "Tijdelijk wachtwoord 42", "csrf_token": token},
    )
    assert victim.get("/api/progress").status_code == 401
    assert (
        _login_from(app.test_client(), "b", "labeler2", "Tijdelijk wachtwoord 42").status_code
        == 302
    )
    with app.extensions["mailroom.db"].sessions() as session:
        actions = session.scalars(select(AuditLog.action).where(AuditLog.action.like("user.%")))
        assert "user.password-reset" in list(actions)
