"""The web app through Flask's test client, on SQLite and PostgreSQL: access by role, CSRF,
login throttling, the labelling API, agreement and adjudication, team and user admin, and
the headers and markup that keep mail content from running in the browser."""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.test import TestResponse

from labeling.settings import Settings
from labeling.store import db as store_db
from labeling.store.tables import Annotation, AuditLog, Message, Team, User
from mailroom.cli import cli, register_commands
from tests.support.web import (
    PASSWORD,
    Api,
    Seeded,
    add_message,
    csrf_token,
    current_labels,
    logged_in,
    login,
    make_app,
    seed,
    serve,
)
from web import create_app
from web.security import ROLE_MATRIX, LoginThrottle

ROLES = ("admin", "labeler", "reviewer")
# /api/v1 endpoints that take an API token instead of a login (web/api_v1.py).
TOKEN_ENDPOINTS = {"api_v1.classify", "api_v1.create_ticket", "api_v1.ticket_status"}


# Every route × every role ---------------------------------------------------------------------


def route_table(seeded: Seeded) -> list[tuple[str, str, str, dict[str, Any] | None]]:
    """(endpoint, method, url, body) for every endpoint; logout last (it ends the session)."""
    team = seeded.teams["premie"]
    user = seeded.users["reviewer"]
    message = seeded.messages[0]
    label = {"message_id": message, "team_id": team}
    return [
        ("static", "GET", "/static/app.css", None),
        ("auth.login", "GET", "/login", None),
        ("labeling.home", "GET", "/", None),
        ("auth.change_password_page", "GET", "/account/password", None),
        ("labeling.label_page", "GET", "/label", None),
        ("labeling.agreement", "GET", "/agreement", None),
        ("labeling.disagreements", "GET", "/agreement/disagreements", None),
        (
            "labeling.adjudicate",
            "POST",
            "/agreement/adjudicate",
            {"message_id": message, "team_id": team},
        ),
        ("api.next_message", "GET", "/api/next", None),
        ("api.message_html", "GET", f"/api/messages/{message}/html", None),
        ("api.progress", "GET", "/api/progress", None),
        ("api.open_message", "GET", f"/api/messages/{message}/open", None),
        ("api.skipped", "GET", "/api/skipped", None),
        ("api.unskip", "POST", "/api/unskip", {"message_id": message}),
        ("api.label", "POST", "/api/label", label),
        ("api.skip", "POST", "/api/skip", {"message_id": seeded.messages[1]}),
        ("api.undo", "POST", "/api/undo", {}),
        ("api.label_group", "POST", "/api/label-group", label),
        ("review.queue", "GET", "/review", None),
        ("review.decide", "POST", "/review/decide", label),
        ("review.decide_group", "POST", "/review/decide-group", label),
        ("review.handled", "POST", "/review/handled", {"message_id": message}),
        ("review.no_team", "POST", "/review/no-team", {"message_id": message}),
        ("review.routed", "GET", "/review/routed", None),
        ("review.send_back", "POST", "/review/send-back", {"message_id": message}),
        ("review.mail", "GET", f"/review/mail/{message}", None),
        ("i18n.set_language", "POST", "/language", {"language": "en"}),
        ("review.pass_over", "POST", "/review/pass", {"message_id": message}),
        ("dashboard.index", "GET", "/dashboard", None),
        ("thresholds.index", "GET", "/thresholds", None),
        ("thresholds.set_target", "POST", "/thresholds", {"target": "0.97"}),
        ("dashboard.healthz", "GET", "/healthz", None),
        ("dashboard.metrics", "GET", "/metrics", None),
        ("admin.index", "GET", "/admin/", None),
        ("admin.users", "GET", "/admin/users", None),
        (
            "admin.create_user",
            "POST",
            "/admin/users",
            {"username": "new", "password": "x" * 12, "role": "labeler"},
        ),
        ("admin.change_role", "POST", f"/admin/users/{user}/role", {"role": "reviewer"}),
        ("admin.set_active", "POST", f"/admin/users/{user}/active", {"active": "1"}),
        (
            "admin.reset_password",
            "POST",
            f"/admin/users/{seeded.users['labeler2']}/password",
            {"password": "Nieuw wachtwoord voor Lotte"},
        ),
        ("admin.teams", "GET", "/admin/teams", None),
        (
            "admin.create_team",
            "POST",
            "/admin/teams",
            {"slug": "nieuw", "name": "Nieuw", "hotkey": ""},
        ),
        ("admin.edit_team", "GET", f"/admin/teams/{team}", None),
        ("admin.update_team", "POST", f"/admin/teams/{team}", {"name": "Premie", "hotkey": "2"}),
        ("admin.archive_team", "POST", f"/admin/teams/{seeded.teams['klachten']}/archive", {}),
        ("admin.unarchive_team", "POST", f"/admin/teams/{seeded.teams['klachten']}/unarchive", {}),
        (
            "admin.add_member",
            "POST",
            f"/admin/teams/{team}/members",
            {"name": "Marloes", "email": "marloes@example.com"},
        ),
        (
            "admin.set_member_active",
            "POST",
            f"/admin/teams/{team}/members/1/active",
            {"active": "0"},
        ),
        ("api_v1.classify", "POST", "/api/v1/classify", {"subject": "x"}),
        ("api_v1.create_ticket", "POST", "/api/v1/tickets", {"id": "1"}),
        ("api_v1.ticket_status", "GET", f"/api/v1/tickets/{message}", None),
        ("api_v1.openapi", "GET", "/api/v1/openapi.json", None),
        ("admin.api_tokens_page", "GET", "/admin/api-tokens", None),
        (
            "admin.create_api_token",
            "POST",
            "/admin/api-tokens",
            {"name": "zammad", "scopes": "classify"},
        ),
        ("admin.revoke_api_token", "POST", "/admin/api-tokens/1/revoke", {}),
        ("rules.index", "GET", "/admin/rules/", None),
        (
            "rules.create",
            "POST",
            "/admin/rules/",
            {"name": "Foto", "action": "review", "attachment": "jpg", "save": "1"},
        ),
        ("rules.edit", "GET", "/admin/rules/1", None),
        (
            "rules.update",
            "POST",
            "/admin/rules/1",
            {"name": "Foto", "action": "review", "attachment": "png", "try": "1"},
        ),
        ("rules.move", "POST", "/admin/rules/1/move", {"direction": "down"}),
        ("rules.enable", "POST", "/admin/rules/1/enabled", {"active": "0"}),
        ("rules.delete", "POST", "/admin/rules/1/delete", {}),
        ("auth.logout", "POST", "/logout", {}),
    ]


def test_every_endpoint_is_in_the_role_matrix_and_tested(app: Flask, seeded: Seeded) -> None:
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert endpoints == set(ROLE_MATRIX)
    assert {row[0] for row in route_table(seeded)} == endpoints


def _request(
    client: FlaskClient, method: str, url: str, body: dict[str, Any] | None, token: str | None
) -> TestResponse:
    if method == "GET":
        return client.get(url)
    if url.startswith("/api/"):
        headers = {"X-CSRFToken": token} if token else {}
        return client.post(url, json=body or {}, headers=headers)
    return client.post(url, data={**(body or {}), "csrf_token": token or ""})


@pytest.mark.parametrize("role", [None, *ROLES], ids=["anonymous", *ROLES])
def test_every_route_for_every_role(client: FlaskClient, seeded: Seeded, role: str | None) -> None:
    token = None
    if role is not None:
        login(client, role)
        token = csrf_token(client, "/")
    wrong = []
    for endpoint, method, url, body in route_table(seeded):
        roles = ROLE_MATRIX[endpoint]
        response = _request(client, method, url, body, token)
        response.close()  # static files are streamed from an open file
        location = response.headers.get("Location", "")
        if endpoint in TOKEN_ENDPOINTS:
            # No login: an API token, which no role's session carries.
            ok = response.status_code == 401 and "Bearer" in response.get_data(as_text=True)
        elif (role or "anonymous") in roles:
            ok = response.status_code not in (401, 403) and "/login" not in location
            if endpoint == "auth.login":
                ok = response.status_code in (200, 302)
            if endpoint == "auth.logout":  # it sends you to the login page: check it logged out
                ok = response.status_code == 302 and client.get("/").status_code == 302
        elif role is None:
            # Pages send a visitor to the login page; the JSON API answers 401.
            expected = 401 if url.startswith("/api/") else 302
            ok = response.status_code == expected and (expected == 401 or "/login" in location)
        else:
            ok = response.status_code == 403
        if not ok:
            wrong.append(f"{method} {url} ({endpoint}): {response.status_code} {location}")
    assert wrong == [], f"role {role}: " + "; ".join(wrong)


def test_unknown_endpoints_are_refused_by_default(app: Flask, seeded: Seeded) -> None:
    @app.get("/not-in-the-matrix")
    def _sneaky() -> str:
        return "should never be served"

    client = logged_in(app, "admin")
    assert client.get("/not-in-the-matrix").status_code == 403


# Login, sessions, CSRF ----------------------------------------------------------------------


def test_login_with_the_default_hash_and_logout(
    app: Flask, sessions: sessionmaker[Session]
) -> None:
    from labeling.store.people import create_user

    with sessions() as session:
        create_user(session, "sanne", "een lang wachtwoord", "labeler")
        session.commit()
    client = app.test_client()
    assert login(client, "sanne", "wrong password").status_code == 200
    response = login(client, "sanne", "een lang wachtwoord")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert client.get("/label").status_code == 200
    token = csrf_token(client, "/label")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/label").status_code == 302


def test_deactivated_user_is_logged_out_and_cannot_log_in(app: Flask, seeded: Seeded) -> None:
    labeler = logged_in(app, "labeler")
    admin = logged_in(app, "admin")
    token = csrf_token(admin, "/admin/users")
    response = admin.post(
        f"/admin/users/{seeded.users['labeler']}/active", data={"active": "0", "csrf_token": token}
    )
    assert response.status_code == 302
    assert labeler.get("/label").status_code == 302  # the old session no longer counts
    assert login(app.test_client(), "labeler").status_code == 200  # form again, no redirect


def test_login_redirects_only_within_the_site(app: Flask, seeded: Seeded) -> None:
    client = app.test_client()
    assert client.get("/agreement").headers["Location"].startswith("/login?next=/agreement")
    token = csrf_token(client)
    for target, expected in (
        ("/agreement", "/agreement"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
    ):
        client = app.test_client()
        token = csrf_token(client)
        response = client.post(
            "/login",
            query_string={"next": target},
            data={"username": "reviewer", "password": PASSWORD, "csrf_token": token},
        )
        assert response.headers["Location"] == expected, target


def test_post_without_csrf_token_is_rejected(app: Flask, seeded: Seeded) -> None:
    client = logged_in(app, "admin")
    message, team = seeded.messages[0], seeded.teams["schade"]
    response = client.post("/api/label", json={"message_id": message, "team_id": team})
    assert response.status_code == 400
    assert "reload" in response.get_json()["error"].lower()
    response = client.post(
        "/api/label",
        json={"message_id": message, "team_id": team},
        headers={"X-CSRFToken": "forged"},
    )
    assert response.status_code == 400
    response = client.post(
        "/admin/users", data={"username": "x", "password": "y" * 12, "role": "admin"}
    )
    assert response.status_code == 400
    assert client.post("/logout").status_code == 400
    anonymous = app.test_client()
    response = anonymous.post("/login", data={"username": "admin", "password": PASSWORD})
    assert response.status_code == 400
    assert current_labels(app.extensions["mailroom.db"].sessions) == []
    with app.extensions["mailroom.db"].sessions() as session:
        assert session.scalar(select(func.count(User.id)).where(User.username == "x")) == 0


def test_login_throttling(app: Flask, seeded: Seeded) -> None:
    now = [1000.0]
    app.extensions["mailroom.login_throttle"] = LoginThrottle(clock=lambda: now[0])
    client = app.test_client()
    for _ in range(5):
        assert login(client, "labeler", "wrong password").status_code == 200
    refused = login(client, "labeler")  # the right password, too late
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 300
    assert "Too many failed logins" in refused.get_data(as_text=True)
    # Another user from the same address is not locked out by someone else's typos.
    assert login(app.test_client(), "reviewer").status_code == 302
    now[0] += 301
    assert login(client, "labeler").status_code == 302


def test_session_cookie_flags(db_settings: Settings, seeded_db: None) -> None:
    for config, secure in (({"TESTING": False}, True), ({}, False)):
        app = create_app(db_settings, config=config) if config else make_app(db_settings)
        client = app.test_client()
        response = login(client, "admin")
        cookie = next(
            header
            for header in response.headers.getlist("Set-Cookie")
            if header.startswith("mailroom_session=")
        )
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
        assert ("Secure" in cookie) is secure
        app.extensions["mailroom.db"].engine.dispose()


@pytest.fixture
def seeded_db(db_settings: Settings) -> Iterator[None]:
    app = make_app(db_settings)
    seed(app.extensions["mailroom.db"].sessions)
    app.extensions["mailroom.db"].engine.dispose()
    yield


# Headers --------------------------------------------------------------------------------------

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


def test_every_page_carries_the_security_headers(app: Flask, seeded: Seeded) -> None:
    admin = logged_in(app, "admin")
    anonymous = app.test_client()
    pages = [
        (anonymous, "/login"),
        (anonymous, "/label"),
        (anonymous, "/static/label.js"),
        (admin, "/"),
        (admin, "/label"),
        (admin, "/agreement"),
        (admin, "/agreement/disagreements"),
        (admin, "/admin/users"),
        (admin, "/admin/teams"),
        (admin, f"/admin/teams/{seeded.teams['schade']}"),
        (admin, "/api/next"),
        (admin, "/no-such-page"),
    ]
    for client, path in pages:
        response = client.get(path)
        response.close()
        assert response.headers["Content-Security-Policy"] == CSP, path
        assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
        assert response.headers["X-Content-Type-Options"] == "nosniff", path
        assert response.headers["Referrer-Policy"] == "same-origin", path
        if response.mimetype == "text/html":
            page = response.get_data(as_text=True)
            # No inline script or style, and nothing loaded from elsewhere.
            assert not re.search(r"<script(?![^>]*\bsrc=)", page), path
            assert not re.search(r"\sstyle=|<style|\son[a-z]+=", page), path
            assert not re.search(r'(src|href)="(https?:)?//', page), path


# The labelling API ------------------------------------------------------------------------------


def test_label_page_lists_the_active_teams_with_hotkeys_and_guidelines(
    app: Flask, seeded: Seeded
) -> None:
    page = logged_in(app, "labeler").get("/label").get_data(as_text=True)
    assert page.count('class="team"') == 3
    assert 'data-hotkey="1"' in page and "Alles over schade" in page
    assert '<script src="/static/label.js?v=' in page


def test_label_then_next_undo_and_skip(app: Flask, seeded: Seeded) -> None:
    sessions = app.extensions["mailroom.db"].sessions
    api = Api(logged_in(app, "labeler"))
    first = api.next()
    m = first["message"]
    assert m["id"] == seeded.messages[0]
    # A labeller reads the mail pseudonymised (tests/integration/test_privacy_web.py).
    assert m["subject"] == "Vraag 1 over mijn polis" and m["sender"] == "[NAAM-1] <[EMAIL-1]>"
    assert m["quoted_text"].startswith("> Eerdere") and m["signature"].startswith("Met vriend")
    assert first["progress"] == {
        "total": 6,
        "labelled": 0,
        "per_team": {},
        "double_target": first["progress"]["double_target"],
        "double_done": 0,
        "verified": 0,
        "weak_only": first["progress"]["weak_only"],
    }

    after = api.post("/api/label", message_id=m["id"], team_id=seeded.teams["premie"])
    assert after["message"]["id"] == seeded.messages[1]
    assert after["progress"] is None  # counted apart, so the next mail comes first
    assert api.progress()["labelled"] == 1
    assert api.progress()["per_team"] == {"premie": 1}
    assert after["notice"] == f"#{m['id']} labelled Premie"  # the team's name, not its id

    api.post("/api/label", message_id=seeded.messages[1], team_id=seeded.teams["schade"])
    undone = api.post("/api/undo")
    assert undone["message"]["id"] == seeded.messages[1] and undone["returned"] is True
    # The notice says what was undone.
    assert undone["notice"] == f"Undone: your label Schade for #{seeded.messages[1]} is withdrawn"
    assert [a.message_id for a in current_labels(sessions, source="human")] == [seeded.messages[0]]

    skipped = api.post("/api/skip", message_id=seeded.messages[1])
    assert skipped["message"]["id"] == seeded.messages[2]
    assert api.next()["message"]["id"] == seeded.messages[2]  # the skipped mail stays away

    # Refusals come back as JSON with the reason.
    refused = api.post("/api/label", 400, message_id="one", team_id=1)
    assert "message_id" in refused["error"]
    with sessions() as session:
        quarantined = add_message(session, 99, status="quarantined")
        session.commit()
        quarantined_id = quarantined.id
    # The queue never serves quarantined mail, so a labeller cannot name it; an admin may,
    # and hears why it cannot be labelled.
    api.post("/api/label", 404, message_id=quarantined_id, team_id=seeded.teams["schade"])
    admin = Api(logged_in(app, "admin"))
    refused = admin.post(
        "/api/label", 409, message_id=quarantined_id, team_id=seeded.teams["schade"]
    )
    assert "quarantined" in refused["error"]


def test_queue_orders_and_bad_order(app: Flask, seeded: Seeded) -> None:
    api = Api(logged_in(app, "labeler"))
    first = {api.next(order="random", seed=seed)["message"]["id"] for seed in range(8)}
    assert len(first) > 1  # different shuffles start in different places
    assert api.next(order="uncertain")["message"]["id"] == seeded.messages[0]  # no model yet
    assert api.client.get("/api/next?order=newest").status_code == 400


def test_suggestion_from_archive_folder(app: Flask, seeded: Seeded) -> None:
    sessions = app.extensions["mailroom.db"].sessions
    with sessions() as session:
        session.add(
            Annotation(
                message_id=seeded.messages[0],
                team_id=seeded.teams["klachten"],
                source="archive-folder",
            )
        )
        session.commit()
    data = Api(logged_in(app, "labeler")).next()
    assert data["suggestion"] == {
        "team_id": seeded.teams["klachten"],
        "team_slug": "klachten",
        "source": "archive-folder",
        "confidence": None,
    }


def test_group_label(app: Flask, seeded: Seeded) -> None:
    sessions = app.extensions["mailroom.db"].sessions
    group = seeded.messages[:3]
    with sessions() as session:
        for message_id in group:
            session.get_one(Message, message_id).dup_group_id = group[0]
        session.commit()
    api = Api(logged_in(app, "labeler"))
    shown = api.next()["message"]
    assert shown["group_size"] == 3
    # The other members are named, so each can be opened before labelling them all.
    assert shown["group_ids"] == group[1:]
    after = api.post("/api/label-group", message_id=group[0], team_id=seeded.teams["schade"])
    assert after["message"]["id"] == seeded.messages[3]
    assert after["message"]["group_size"] == 0
    assert after["notice"].startswith("3 mails")
    labels = current_labels(sessions, source="human")
    assert [(a.message_id, a.team_id) for a in labels] == [
        (m, seeded.teams["schade"]) for m in group
    ]


def test_double_labelling(db_settings: Settings) -> None:
    settings = db_settings.model_copy(update={"double_label_share": 1.0})
    app = make_app(settings)
    try:
        seeded = seed(app.extensions["mailroom.db"].sessions, messages=3)
        sessions = app.extensions["mailroom.db"].sessions
        with sessions() as session:
            session.add(
                Annotation(
                    message_id=seeded.messages[0],
                    team_id=seeded.teams["premie"],
                    source="archive-folder",
                )
            )
            session.commit()
        first, second = Api(logged_in(app, "labeler")), Api(logged_in(app, "labeler2"))
        shown = first.next()
        assert shown["message"]["id"] == seeded.messages[0]
        assert shown["progress"]["double_target"] == 3
        first.post("/api/label", message_id=seeded.messages[0], team_id=seeded.teams["klachten"])

        # The second labeller gets the same mail, and no hint of the first one's choice.
        other = second.next()
        assert other["message"]["id"] == seeded.messages[0]
        assert other["suggestion"]["source"] == "archive-folder"
        assert other["suggestion"]["team_slug"] == "premie"
        second.post("/api/label", message_id=seeded.messages[0], team_id=seeded.teams["schade"])
        assert second.progress()["double_done"] == 1
        labels = current_labels(sessions, message_id=seeded.messages[0], source="human")
        assert {a.user_id for a in labels} == {seeded.users["labeler"], seeded.users["labeler2"]}
    finally:
        app.extensions["mailroom.db"].engine.dispose()


# Agreement and adjudication ------------------------------------------------------------------


def _two_labellers_on_four_mails(app: Flask, seeded: Seeded) -> None:
    """Both label mails 1-4: agreeing on 1-3 (schade, schade, premie), apart on 4."""
    schade, premie = seeded.teams["schade"], seeded.teams["premie"]
    first, second = Api(logged_in(app, "labeler")), Api(logged_in(app, "labeler2"))
    m = seeded.messages
    sessions = app.extensions["mailroom.db"].sessions
    for user in ("labeler", "labeler2"):
        serve(sessions, seeded.users[user], *m[:4])
    for message_id, a, b in (
        (m[0], schade, schade),
        (m[1], schade, schade),
        (m[2], premie, premie),
        (m[3], schade, premie),
    ):
        first.post("/api/label", message_id=message_id, team_id=a)
        second.post("/api/label", message_id=message_id, team_id=b)


def _cell(page: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}">([^<]*)<', page)
    assert match, element_id
    return match.group(1).strip()


def test_agreement_page_numbers_on_a_known_case(app: Flask, seeded: Seeded) -> None:
    _two_labellers_on_four_mails(app, seeded)
    page = logged_in(app, "reviewer").get("/agreement").get_data(as_text=True)
    # first labels s s p s, second s s p p: observed 3/4, by chance 1/2 -> kappa 0.5.
    # Krippendorff (nominal): 1 - (n-1) * disagreeing pairs / sum n_c n_k = 1 - 7*2/30.
    assert _cell(page, "a-messages") == "4"
    assert _cell(page, "a-kappa") == "0.500"
    assert _cell(page, "a-alpha") == "0.533"
    assert _cell(page, "a-observed") == "75 %"
    assert _cell(page, "a-disagreements") == "1 (1)"
    pair = re.search(r'data-pair="labeler\+labeler2">(.*?)</tr>', page, re.S)
    assert pair is not None
    assert re.findall(r'class="num">([^<]*)<', pair.group(1)) == ["4", "3", "0.500"]
    schade = re.search(r'data-team="schade">(.*?)</tr>', page, re.S)
    assert schade is not None and "Schade" in schade.group(1)


def test_adjudication_settles_a_disagreement(app: Flask, seeded: Seeded) -> None:
    _two_labellers_on_four_mails(app, seeded)
    sessions = app.extensions["mailroom.db"].sessions
    reviewer = logged_in(app, "reviewer")
    page = reviewer.get("/agreement/disagreements").get_data(as_text=True)
    disputed = seeded.messages[3]
    assert f'data-message-id="{disputed}"' in page and page.count('class="disagreement') == 1
    assert "labeler: Schade" in page and "labeler2: Premie" in page
    # The archive folder's label shows beside the labellers' (this seeded mail has none).
    assert "archive folder: none" in page
    with sessions() as session:
        session.add(
            Annotation(
                message_id=disputed, team_id=seeded.teams["klachten"], source="archive-folder"
            )
        )
        session.commit()
    page = reviewer.get("/agreement/disagreements").get_data(as_text=True)
    assert "archive folder: Klachten" in page
    token = csrf_token(reviewer, "/agreement/disagreements")
    response = reviewer.post(
        "/agreement/adjudicate",
        data={"message_id": disputed, "team_id": seeded.teams["premie"], "csrf_token": token},
    )
    assert response.status_code == 302
    after = reviewer.get("/agreement/disagreements").get_data(as_text=True)
    assert "No open disagreements" in after and f"Mail #{disputed} settled" in after
    decision = current_labels(sessions, message_id=disputed, source="adjudication")
    assert [a.team_id for a in decision] == [seeded.teams["premie"]]
    assert len(current_labels(sessions, message_id=disputed, source="human")) == 2  # kept
    assert _cell(reviewer.get("/agreement").get_data(as_text=True), "a-disagreements") == "1 (0)"


# HTML mail -------------------------------------------------------------------------------------

EVIL_HTML = (
    "<html><head><title>t</title><style>body{background:url(https://tracker.example/bg)}</style>"
    "<script>document.title='pwned'</script></head><body>"
    "<p onclick=\"parent.document.title='pwned'\">Geachte heer, zie de <b>bijlage</b>.</p>"
    "<img src=x onerror=\"window.top.name='pwned'\"><img src='https://tracker.example/p.gif'>"
    "<a href='javascript:alert(1)'>klik</a><iframe src='https://evil.example'></iframe>"
    "<form action='https://evil.example'><input name=q></form></body></html>"
)


def test_html_mail_is_sanitised_and_only_shown_in_the_sandboxed_frame(
    app: Flask, seeded: Seeded
) -> None:
    sessions = app.extensions["mailroom.db"].sessions
    with sessions() as session:
        message = add_message(session, 50, subject="<b>HTML</b> mail", html=EVIL_HTML)
        session.commit()
        message_id = message.id
    client = logged_in(app, "labeler")
    serve(sessions, seeded.users["labeler"], message_id, *seeded.messages)
    page = client.get("/label").get_data(as_text=True)
    # The frame is sandboxed with nothing allowed back; no mail content is in the page.
    frame = re.search(r"<iframe[^>]*>", page)
    assert frame is not None
    assert re.search(r"\ssandbox(\s|>)", frame.group(0))
    assert "allow-" not in frame.group(0)
    assert "bijlage" not in page

    document = client.get(f"/api/messages/{message_id}/html").get_json()["document"]
    assert "Geachte heer, zie de <b>bijlage</b>." in document
    for bad in (
        "<script",
        "onerror",
        "onclick",
        "pwned",
        "javascript:",
        "tracker.example",
        "<iframe",
        "<form",
        "<style",
        "evil.example",
    ):
        assert bad not in document.lower(), bad
    assert '<link rel="stylesheet" href="/static/mailframe.css?v=' in document

    # In the JSON, the subject is plain text for textContent (the page never parses it).
    api = Api(client)
    for mid in seeded.messages:
        api.post("/api/skip", message_id=mid)
    data = api.next()
    assert data["message"]["subject"] == "<b>HTML</b> mail" and data["message"]["has_html"]
    assert "html" not in data["message"]
    assert client.get(f"/api/messages/{seeded.messages[0]}/html").status_code == 404


def test_label_script_never_writes_html(app: Flask) -> None:
    with app.test_client().get("/static/label.js") as response:
        script = response.get_data(as_text=True)
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script, sink


# Teams and users -------------------------------------------------------------------------------


def test_archiving_a_team_keeps_its_labels(app: Flask, seeded: Seeded) -> None:
    sessions = app.extensions["mailroom.db"].sessions
    api = Api(logged_in(app, "labeler"))
    klachten = seeded.teams["klachten"]
    serve(sessions, seeded.users["labeler"], *seeded.messages[:2])
    api.post("/api/label", message_id=seeded.messages[0], team_id=klachten)

    admin = logged_in(app, "admin")
    token = csrf_token(admin, "/admin/teams")
    assert (
        admin.post(f"/admin/teams/{klachten}/archive", data={"csrf_token": token}).status_code
        == 302
    )
    assert [a.team_id for a in current_labels(sessions)] == [klachten]
    teams_page = admin.get("/admin/teams").get_data(as_text=True)
    assert "archived" in teams_page
    # The counts say what they are: the one label a person gave, none from folders.
    assert "Labels by a person" in teams_page and "From folders" in teams_page
    row = teams_page[teams_page.index(">Klachten<") :].split("</tr>")[0]
    assert '<td class="num">1</td>\n    <td class="num">0</td>' in row
    # Gone from the labelling page, refused by the API, still counted.
    assert 'data-slug="klachten"' not in api.client.get("/label").get_data(as_text=True)
    refused = api.post("/api/label", 409, message_id=seeded.messages[1], team_id=klachten)
    assert "archived" in refused["error"]

    # Its hotkey is free for another team meanwhile; unarchiving then asks for a new key.
    created = admin.post(
        "/admin/teams",
        data={"slug": "offertes", "name": "Offertes", "hotkey": "3", "csrf_token": token},
    )
    assert created.status_code == 302
    admin.post(f"/admin/teams/{klachten}/unarchive", data={"csrf_token": token})
    assert "hotkey 3 now belongs to Offertes" in admin.get("/admin/teams").get_data(as_text=True)
    with sessions() as session:
        assert session.get_one(Team, klachten).archived_at is not None
    admin.post(
        f"/admin/teams/{klachten}",
        data={
            "name": "Klachten",
            "hotkey": "4",
            "description": "Ontevreden klanten",
            "csrf_token": token,
        },
    )
    admin.post(f"/admin/teams/{klachten}/unarchive", data={"csrf_token": token})
    with sessions() as session:
        team = session.get_one(Team, klachten)
        assert team.archived_at is None and team.hotkey == "4"
        assert team.description == "Ontevreden klanten"
        actions = list(
            session.scalars(select(AuditLog.action).where(AuditLog.action.like("team.%")))
        )
    assert actions.count("team.archive") == 1 and actions.count("team.unarchive") == 1


def test_hotkeys_are_unique_among_active_teams(app: Flask, seeded: Seeded) -> None:
    admin = logged_in(app, "admin")
    token = csrf_token(admin, "/admin/teams")
    response = admin.post(
        "/admin/teams",
        data={"slug": "offertes", "name": "Offertes", "hotkey": "1", "csrf_token": token},
    )
    assert response.status_code == 400
    assert "hotkey 1 is taken by Schade" in response.get_data(as_text=True)
    response = admin.post(
        f"/admin/teams/{seeded.teams['premie']}",
        data={"name": "Premie", "hotkey": "1", "csrf_token": token},
    )
    assert response.status_code == 400
    response = admin.post(
        f"/admin/teams/{seeded.teams['premie']}",
        data={"name": "Premie", "hotkey": "0", "csrf_token": token},
    )
    assert response.status_code == 400  # not a choice: 1–9 or none
    with app.extensions["mailroom.db"].sessions() as session:
        keys = {slug: key for slug, key in session.execute(select(Team.slug, Team.hotkey))}
    assert keys == {"schade": "1", "premie": "2", "klachten": "3"}


def test_admin_manages_users(app: Flask, seeded: Seeded) -> None:
    admin = logged_in(app, "admin")
    token = csrf_token(admin, "/admin/users")
    created = admin.post(
        "/admin/users",
        data={
            "username": "pieter",
            "password": "lang genoeg wachtwoord",
            "role": "reviewer",
            "csrf_token": token,
        },
    )
    assert created.status_code == 302
    short = admin.post(
        "/admin/users",
        data={"username": "kort", "password": "kort", "role": "labeler", "csrf_token": token},
    )
    assert short.status_code == 400 and "at least 10" in short.get_data(as_text=True)
    twice = admin.post(
        "/admin/users",
        data={
            "username": "Pieter",
            "password": "lang genoeg wachtwoord",
            "role": "labeler",
            "csrf_token": token,
        },
    )
    assert twice.status_code == 400 and "already a user" in twice.get_data(as_text=True)

    pieter = app.test_client()
    assert login(pieter, "pieter", "lang genoeg wachtwoord").status_code == 302
    assert pieter.get("/label").status_code == 403
    admin.post(
        f"/admin/users/{_user_id(app, 'pieter')}/role",
        data={"role": "labeler", "csrf_token": token},
    )
    assert pieter.get("/label").status_code == 200  # the new role counts at once

    # The last active admin cannot demote or deactivate themselves.
    me = seeded.users["admin"]
    admin.post(f"/admin/users/{me}/role", data={"role": "labeler", "csrf_token": token})
    admin.post(f"/admin/users/{me}/active", data={"active": "0", "csrf_token": token})
    assert "last active admin" in admin.get("/admin/users").get_data(as_text=True)
    assert admin.get("/admin/users").status_code == 200


def _user_id(app: Flask, username: str) -> int:
    with app.extensions["mailroom.db"].sessions() as session:
        return session.scalars(select(User.id).where(User.username == username)).one()


def test_create_user_command(db_settings: Settings) -> None:
    register_commands()
    runner = CliRunner()
    result = runner.invoke(
        cli,
        ["create-user", "beheer", "--role", "admin", "--password-stdin"],
        input="een goed wachtwoord\n",
        obj=db_settings,
    )
    assert result.exit_code == 0, result.output
    assert "user beheer (admin) created" in result.output
    again = runner.invoke(
        cli,
        ["create-user", "beheer", "--role", "admin", "--password-stdin"],
        input="x" * 12 + "\n",
        obj=db_settings,
    )
    assert again.exit_code == 1 and "already a user" in again.output
    prompted = runner.invoke(
        cli,
        ["create-user", "lotte", "--role", "labeler"],
        input="geheim geheim\ngeheim geheim\n",
        obj=db_settings,
    )
    assert prompted.exit_code == 0, prompted.output
    # The UI and docs spell the role "labeller": the command takes that spelling too.
    british = runner.invoke(
        cli,
        ["create-user", "lisa", "--role", "labeller", "--password-stdin"],
        input="een goed wachtwoord\n",
        obj=db_settings,
    )
    assert british.exit_code == 0, british.output
    assert "user lisa (labeler) created" in british.output
    app = make_app(db_settings)
    try:
        assert login(app.test_client(), "beheer", "een goed wachtwoord").status_code == 302
        assert login(app.test_client(), "lotte", "geheim geheim").status_code == 302
    finally:
        app.extensions["mailroom.db"].engine.dispose()


def test_serve_command_builds_the_app_for_waitress(
    db_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import waitress

    served: dict[str, Any] = {}

    def fake_serve(app: Flask, **options: Any) -> None:
        served.update(options, app=app)
        app.extensions["mailroom.db"].engine.dispose()

    monkeypatch.setattr(waitress, "serve", fake_serve)
    register_commands()
    result = CliRunner().invoke(
        cli, ["serve", "--port", "8123", "--insecure-cookies"], obj=db_settings
    )
    assert result.exit_code == 0, result.output
    assert "http://127.0.0.1:8123/" in result.output
    assert served["host"] == "127.0.0.1" and served["port"] == 8123
    assert served["app"].config["SESSION_COOKIE_SECURE"] is False


def test_a_team_address_may_not_be_mailroom_s_own(app: Flask, seeded: Seeded) -> None:
    # Mail forwarded to the watched inbox or to Mailroom's own sender comes back and loops.
    settings: Settings = app.extensions["mailroom.settings"]
    app.extensions["mailroom.settings"] = settings.model_copy(
        update={"smtp_from": "mailroom@polder.example", "inbox_addresses": ["info@polder.example"]}
    )
    admin = logged_in(app, "admin")
    token = csrf_token(admin, "/admin/teams")
    klachten = seeded.teams["klachten"]
    for address in ("Info@Polder.example", "mailroom@polder.example"):
        refused = admin.post(
            f"/admin/teams/{klachten}",
            data={"name": "Klachten", "forward_address": address, "csrf_token": token},
        )
        assert refused.status_code == 400
        assert "Mailroom&#39;s own address" in refused.get_data(as_text=True)
        created = admin.post(
            "/admin/teams",
            data={"slug": "lus", "name": "Lus", "forward_address": address, "csrf_token": token},
        )
        assert created.status_code == 400
    sessions = app.extensions["mailroom.db"].sessions
    with sessions() as session:
        assert session.get_one(Team, klachten).forward_address != "info@polder.example"
        assert session.scalar(select(Team).where(Team.slug == "lus")) is None


def test_a_database_lock_that_persists_is_503_with_retry_after(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # An import or the worker's first burst holds SQLite's write lock past the busy timeout
    # (30 s; shortened here): the label is refused with 503 and Retry-After, never a 500.
    monkeypatch.setattr(store_db, "SQLITE_BUSY_TIMEOUT_S", 0.2)
    store_db.upgrade(settings)
    app = make_app(settings)
    try:
        seeded = seed(app.extensions["mailroom.db"].sessions)
        serve(app.extensions["mailroom.db"].sessions, seeded.users["labeler"], seeded.messages[0])
        api = Api(logged_in(app, "labeler"))
        path = settings.sqlalchemy_url.removeprefix("sqlite:///")
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            with caplog.at_level(logging.WARNING, logger="web"):
                response = api.client.post(
                    "/api/label",
                    json={"message_id": seeded.messages[0], "team_id": seeded.teams["schade"]},
                    headers={"X-CSRFToken": api.token},
                )
        finally:
            holder.rollback()
            holder.close()
        assert response.status_code == 503, response.get_data(as_text=True)
        assert response.headers["Retry-After"] == "5"
        assert "database is busy" in response.get_json()["error"]
        assert [r.levelname for r in caplog.records if "503" in r.getMessage()] == ["WARNING"]
        # Once the lock is gone the same label goes through.
        api.post("/api/label", message_id=seeded.messages[0], team_id=seeded.teams["schade"])
    finally:
        app.extensions["mailroom.db"].engine.dispose()


def test_a_labeller_opens_a_mail_by_number_where_the_queue_allows_and_takes_back_skips(
    app: Flask, seeded: Seeded
) -> None:
    sessions = app.extensions["mailroom.db"].sessions
    api = Api(logged_in(app, "labeler"))
    plain, grouped, skipped = seeded.messages[4], seeded.messages[3], seeded.messages[1]

    # Mail with no reason to be chosen comes in the queue's own order.
    response = api.client.get(f"/api/messages/{plain}/open")
    assert response.status_code == 409 and "queue's own order" in response.get_json()["error"]

    # A near-duplicate opens by its number.
    with sessions() as session:
        for message_id in (grouped, seeded.messages[5]):
            session.get_one(Message, message_id).dup_group_id = grouped
        session.commit()
    opened = api.client.get(f"/api/messages/{grouped}/open").get_json()
    assert opened["message"]["id"] == grouped and opened["served_by"] == "opened"
    assert opened["message"]["group_size"] == 2
    assert opened["message"]["group_ids"] == [seeded.messages[5]]

    # Skipped mail is listed, opens, and can go back in the queue (a labeller skips what
    # the queue served them).
    serve(sessions, seeded.users["labeler"], skipped)
    api.post("/api/skip", message_id=skipped)
    listed = api.client.get("/api/skipped").get_json()["skipped"]
    assert [row["id"] for row in listed] == [skipped]
    assert listed[0]["subject"] == "Vraag 2 over mijn polis"
    assert api.client.get(f"/api/messages/{skipped}/open").get_json()["message"]["id"] == skipped
    unskipped = api.post("/api/unskip", message_id=skipped)
    assert unskipped["notice"] == f"#{skipped} is back in your queue"
    assert api.client.get("/api/skipped").get_json()["skipped"] == []
    assert "had not skipped" in api.post("/api/unskip", 409, message_id=skipped)["error"]
    # Another labeller's skip is theirs alone.
    other = Api(logged_in(app, "labeler2"))
    assert other.client.get("/api/skipped").get_json()["skipped"] == []

    # Live mail is for reviewers: a labeller cannot open it by number.
    with sessions() as session:
        session.get_one(Message, plain).origin = "live"
        session.commit()
    response = api.client.get(f"/api/messages/{plain}/open")
    assert response.status_code == 404  # as if it did not exist, like every labelling route
