"""Default deny, per route and per object: every registered route × every role × every kind
of mail it can name, through the real app on SQLite.

The statuses are written to ``docs/access.md``: when the table there differs from what the
app answers, the test rewrites the file and fails (commit the new table). A route the app
registers but :data:`REQUESTS` does not describe fails the test too, so a new route is
classified before it ships.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.test import TestResponse

from labeling.annotation.queue import mark_served
from labeling.settings import Settings, load_settings
from labeling.store.db import upgrade
from labeling.store.tables import ReviewItem
from tests.support.web import Seeded, add_message, csrf_token, logged_in, make_app, seed
from web.security import ANONYMOUS, ROLE_MATRIX

ROOT = Path(__file__).resolve().parents[2]
ACCESS_DOC = ROOT / "docs" / "access.md"

ROLES = (ANONYMOUS, "labeler", "reviewer", "admin")
# The kinds of mail a route that names one is tried with.
SERVED, OTHER, LIVE = "archive, served to them", "archive, not served to them", "live"
KINDS = (SERVED, OTHER, LIVE)
NO_OBJECT = "—"


@dataclass(frozen=True)
class Target:
    """What a request may name: the seeded ids, and the mail made for this request."""

    seeded: Seeded
    message: int


# endpoint -> (method, names a mail?, url(target), body(target)); body None for a GET.
Url = Callable[[Target], str]
Body = Callable[[Target], dict[str, Any]] | None


def _fixed(url: str) -> Url:
    return lambda _t: url


def _mail(t: Target) -> dict[str, Any]:
    return {"message_id": t.message}


def _label(t: Target) -> dict[str, Any]:
    return {"message_id": t.message, "team_id": t.seeded.teams["premie"]}


REQUESTS: dict[str, tuple[str, bool, Url, Body]] = {
    "static": ("GET", False, _fixed("/static/app.css"), None),
    "auth.login": ("GET", False, _fixed("/login"), None),
    "auth.change_password_page": ("GET", False, _fixed("/account/password"), None),
    "labeling.home": ("GET", False, _fixed("/"), None),
    "labeling.label_page": ("GET", False, _fixed("/label"), None),
    "labeling.agreement": ("GET", False, _fixed("/agreement"), None),
    "labeling.disagreements": ("GET", False, _fixed("/agreement/disagreements"), None),
    "labeling.adjudicate": ("POST", True, _fixed("/agreement/adjudicate"), _label),
    "api.next_message": ("GET", False, _fixed("/api/next"), None),
    "api.progress": ("GET", False, _fixed("/api/progress"), None),
    "api.message_html": ("GET", True, lambda t: f"/api/messages/{t.message}/html", None),
    "api.label": ("POST", True, _fixed("/api/label"), _label),
    "api.skip": ("POST", True, _fixed("/api/skip"), _mail),
    "api.undo": ("POST", False, _fixed("/api/undo"), lambda _t: {}),
    "api.label_group": ("POST", True, _fixed("/api/label-group"), _label),
    "review.queue": ("GET", False, _fixed("/review"), None),
    "review.decide": ("POST", True, _fixed("/review/decide"), _label),
    "review.decide_group": ("POST", True, _fixed("/review/decide-group"), _label),
    "review.handled": ("POST", True, _fixed("/review/handled"), _mail),
    "review.no_team": ("POST", True, _fixed("/review/no-team"), _mail),
    "review.routed": ("GET", False, _fixed("/review/routed"), None),
    "review.send_back": ("POST", True, _fixed("/review/send-back"), _mail),
    "dashboard.index": ("GET", False, _fixed("/dashboard"), None),
    "dashboard.healthz": ("GET", False, _fixed("/healthz"), None),
    "dashboard.metrics": ("GET", False, _fixed("/metrics"), None),
    "thresholds.index": ("GET", False, _fixed("/thresholds"), None),
    "thresholds.set_target": ("POST", False, _fixed("/thresholds"), lambda _t: {"target": "0.97"}),
    "admin.index": ("GET", False, _fixed("/admin/"), None),
    "admin.users": ("GET", False, _fixed("/admin/users"), None),
    "admin.create_user": (
        "POST",
        False,
        _fixed("/admin/users"),
        lambda _t: {"username": "new", "password": "Lang genoeg wachtwoord 7", "role": "labeler"},
    ),
    "admin.change_role": (
        "POST",
        False,
        lambda t: f"/admin/users/{t.seeded.users['labeler2']}/role",
        lambda _t: {"role": "labeler"},
    ),
    "admin.set_active": (
        "POST",
        False,
        lambda t: f"/admin/users/{t.seeded.users['labeler2']}/active",
        lambda _t: {"active": "1"},
    ),
    "admin.reset_password": (
        "POST",
        False,
        lambda t: f"/admin/users/{t.seeded.users['labeler2']}/password",
        lambda _t: {"password": "Nieuw wachtwoord voor Lotte"},
    ),
    "admin.teams": ("GET", False, _fixed("/admin/teams"), None),
    "admin.create_team": (
        "POST",
        False,
        _fixed("/admin/teams"),
        lambda _t: {"slug": "nieuw", "name": "Nieuw", "hotkey": ""},
    ),
    "admin.edit_team": ("GET", False, lambda t: f"/admin/teams/{t.seeded.teams['premie']}", None),
    "admin.update_team": (
        "POST",
        False,
        lambda t: f"/admin/teams/{t.seeded.teams['premie']}",
        lambda _t: {"name": "Premie", "hotkey": "2"},
    ),
    "admin.archive_team": (
        "POST",
        False,
        lambda t: f"/admin/teams/{t.seeded.teams['klachten']}/archive",
        lambda _t: {},
    ),
    "admin.unarchive_team": (
        "POST",
        False,
        lambda t: f"/admin/teams/{t.seeded.teams['klachten']}/unarchive",
        lambda _t: {},
    ),
    "admin.add_member": (
        "POST",
        False,
        lambda t: f"/admin/teams/{t.seeded.teams['premie']}/members",
        lambda _t: {"name": "Marloes", "email": "marloes@example.com"},
    ),
    "admin.set_member_active": (
        "POST",
        False,
        lambda t: f"/admin/teams/{t.seeded.teams['premie']}/members/1/active",
        lambda _t: {"active": "0"},
    ),
    "api.open_message": ("GET", True, lambda t: f"/api/messages/{t.message}/open", None),
    "api.skipped": ("GET", False, _fixed("/api/skipped"), None),
    "api.unskip": ("POST", True, _fixed("/api/unskip"), _mail),
    "review.mail": ("GET", True, lambda t: f"/review/mail/{t.message}", None),
    "review.pass_over": ("POST", True, _fixed("/review/pass"), _mail),
    "i18n.set_language": ("POST", False, _fixed("/language"), lambda _t: {"language": "en"}),
    "rules.index": ("GET", False, _fixed("/admin/rules/"), None),
    "rules.create": (
        "POST",
        False,
        _fixed("/admin/rules/"),
        lambda _t: {"name": "Spoed", "action": "review", "text": "spoed", "enabled": "y"},
    ),
    "rules.edit": ("GET", False, _fixed("/admin/rules/1"), None),
    "rules.update": (
        "POST",
        False,
        _fixed("/admin/rules/1"),
        lambda _t: {"name": "Spoed", "action": "review", "text": "dringend", "enabled": "y"},
    ),
    "rules.move": ("POST", False, _fixed("/admin/rules/1/move"), lambda _t: {"direction": "up"}),
    "rules.enable": ("POST", False, _fixed("/admin/rules/1/enabled"), lambda _t: {}),
    "rules.delete": ("POST", False, _fixed("/admin/rules/1/delete"), lambda _t: {}),
    "admin.api_tokens_page": ("GET", False, _fixed("/admin/api-tokens"), None),
    "admin.create_api_token": (
        "POST",
        False,
        _fixed("/admin/api-tokens"),
        lambda _t: {"name": "zammad", "scopes": "classify"},
    ),
    "admin.revoke_api_token": ("POST", False, _fixed("/admin/api-tokens/1/revoke"), lambda _t: {}),
    # Other systems: no session, a scoped API token (docs/api.md); none is sent here.
    "api_v1.openapi": ("GET", False, _fixed("/api/v1/openapi.json"), None),
    "api_v1.classify": ("POST", False, _fixed("/api/v1/classify"), lambda _t: {"text": "x"}),
    "api_v1.create_ticket": ("POST", False, _fixed("/api/v1/tickets"), lambda _t: {"text": "x"}),
    "api_v1.ticket_status": ("GET", False, _fixed("/api/v1/tickets/1"), None),
    # Last: it ends the session.
    "auth.logout": ("POST", False, _fixed("/logout"), lambda _t: {}),
}


def _new_mail(sessions: sessionmaker[Session], n: int, kind: str, user_id: int | None) -> int:
    """A fresh mail of ``kind`` for one request, so no request sees another's leftovers."""
    with sessions() as session:
        message = add_message(session, 1000 + n, html="<p>Beste mensen</p>")
        if kind == LIVE:
            message.origin = "live"
            message.route_state = "review"
            message.route_state_at = datetime.now(UTC)
        session.flush()
        if kind == LIVE:
            session.add(ReviewItem(message_id=message.id, status="open", reason="test"))
        if kind == SERVED and user_id is not None:
            mark_served(session, user_id, message.id)
        session.commit()
        return message.id


def _send(
    client: FlaskClient, method: str, url: str, body: dict[str, Any] | None, token: str
) -> TestResponse:
    if method == "GET":
        return client.get(url)
    if url.startswith("/api/"):
        return client.post(url, json=body or {}, headers={"X-CSRFToken": token})
    return client.post(url, data={**(body or {}), "csrf_token": token})


def _statuses_for(role: str, tmp_path: Path) -> tuple[set[str], dict[tuple[str, str], int]]:
    """The app's routes, and every request of :data:`REQUESTS` as ``role`` on a store of
    its own."""
    folder = tmp_path / role
    folder.mkdir()
    settings: Settings = load_settings(
        {}, instance_path=folder, database_url=f"sqlite:///{folder / 'db.sqlite3'}"
    )
    upgrade(settings)
    app: Flask = make_app(settings)
    app.extensions["mailroom.enqueue_forward"] = lambda _message_id: None
    try:
        registered = {rule.endpoint for rule in app.url_map.iter_rules()}
        if registered != set(REQUESTS):
            return registered, {}
        sessions = app.extensions["mailroom.db"].sessions
        seeded = seed(sessions)
        if role == ANONYMOUS:
            client, user_id = app.test_client(), None
        else:
            client, user_id = logged_in(app, role), seeded.users[role]
        token = csrf_token(client)
        found: dict[tuple[str, str], int] = {}
        n = 0
        for endpoint, (method, names_mail, url, body) in REQUESTS.items():
            for kind in KINDS if names_mail else (NO_OBJECT,):
                n += 1
                target = Target(seeded, _new_mail(sessions, n, kind, user_id))
                response = _send(client, method, url(target), body(target) if body else None, token)
                found[endpoint, kind] = response.status_code
                response.close()
        return registered, found
    finally:
        app.extensions["mailroom.db"].engine.dispose()


def _table(statuses: dict[str, dict[tuple[str, str], int]]) -> str:
    lines = [
        "# Who reaches what",
        "",
        "Generated by `tests/integration/test_access.py` (do not edit by hand): every route",
        "the web app registers, requested as each role, and for a route that names a mail,",
        "once for each kind of mail. A labeller reaches only archive mail the labelling",
        "queue served to them; live mail is for reviewers and admins, and is never labelled",
        "(review decides it). 302 on a form POST is the redirect back to the page, with a",
        "message when the action was refused; 302 for `anonymous` is the way to the login",
        "page, 401 the same for the JSON API.",
        "",
        "| route | method | mail named | " + " | ".join(ROLES) + " |",
        "|---|---|---|" + "---|" * len(ROLES),
    ]
    for endpoint, (method, names_mail, _url, _body) in REQUESTS.items():
        for kind in KINDS if names_mail else (NO_OBJECT,):
            cells = " | ".join(str(statuses[role][endpoint, kind]) for role in ROLES)
            lines.append(f"| `{endpoint}` | {method} | {kind} | {cells} |")
    return "\n".join(lines) + "\n"


# A labeller's requests about archive mail the queue refuses with the reason (409): a mail
# opened by its number that is in no group, not flagged and not skipped by them comes in
# the queue's own order; taking back a skip needs a skip.
REFUSED_WITH_A_REASON = {
    ("api.open_message", SERVED),
    ("api.open_message", OTHER),
    ("api.unskip", SERVED),
}


@pytest.mark.slow
def test_every_route_role_and_mail_kind(tmp_path: Path) -> None:
    statuses = {}
    for role in ROLES:
        registered, statuses[role] = _statuses_for(role, tmp_path)
        assert registered - set(REQUESTS) == set(), "classify these routes in REQUESTS"
        assert set(REQUESTS) - registered == set(), "these routes are gone"

    for role in ROLES:
        for (endpoint, kind), status in statuses[role].items():
            where = f"{role} {endpoint} ({kind}): {status}"
            assert status < 500, where
            if role not in ROLE_MATRIX[endpoint]:
                expected = (302, 401) if role == ANONYMOUS else (403,)
                assert status in expected, where
            elif endpoint.startswith("api_v1."):
                # No session reaches the API for other systems: a token does, or nothing.
                assert status == (200 if endpoint == "api_v1.openapi" else 401), where
            elif role == "labeler" and (endpoint, kind) in REFUSED_WITH_A_REASON:
                assert status == 409, where
            elif role == "labeler" and kind in (OTHER, LIVE) and endpoint.startswith("api."):
                assert status == 404, where  # not theirs: as if it did not exist
            elif role == "labeler" and kind == SERVED and endpoint.startswith("api."):
                assert status == 200, where
    # Live mail is labelled by no one through the labelling API.
    for role in ("admin",):
        for endpoint in ("api.label", "api.skip", "api.label_group"):
            assert statuses[role][endpoint, LIVE] == 404, endpoint

    table = _table(statuses)
    current = ACCESS_DOC.read_text(encoding="utf-8") if ACCESS_DOC.exists() else ""
    if current != table:
        ACCESS_DOC.write_text(table, encoding="utf-8")
        pytest.fail("docs/access.md was stale; it has been rewritten: review and commit it")
