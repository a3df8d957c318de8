"""The HTTP API for other systems, through a real HTTP client (urllib) against the app on a
real HTTP server: tokens (hashed, scoped, revocable), classify with rules and the model,
tickets stored as live mail and queued for routing, rate limits, OpenAPI, and 4xx with a
message for bad input."""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from labeling.live.lifecycle import Ticket, record_ticket
from labeling.rules import store as rule_store
from labeling.rules.matching import Conditions, RuleSpec
from labeling.settings import Settings
from labeling.store.api_tokens import create_token, revoke_token, token_hash
from labeling.store.tables import ApiToken, Message, User
from mailroom.testbed.browser import LiveServer
from mailroom.testbed.worker_stack import VOCAB, seed_teams
from tests.support.web import FAST_HASH, logged_in
from web.api_v1 import ROUTE_EXTENSION


@pytest.fixture
def server(db_settings: Settings, trained_models: Path) -> Iterator[LiveServer]:
    shutil.copytree(trained_models, db_settings.models_path)
    settings = db_settings.model_copy(update={"api_rate_limit": 5})
    with LiveServer(settings, config={"TESTING": True}) as live:
        seed_teams(live.sessions)
        live.app.extensions["queued"] = queued = []
        live.app.extensions[ROUTE_EXTENSION] = queued.append
        yield live


def call(
    server: LiveServer,
    method: str,
    path: str,
    body: Any = None,
    *,
    token: str | None = None,
    raw: bytes | None = None,
    content_type: str = "application/json",
) -> tuple[int, dict[str, Any], dict[str, str]]:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(server.url + path, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", content_type)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as error:
        payload = error.read()
        return error.code, json.loads(payload) if payload else {}, dict(error.headers)


def _token(server: LiveServer, name: str, *scopes: str) -> str:
    with server.sessions() as session:
        made = create_token(session, name, scopes or ("classify", "tickets"))
        session.commit()
        return made.token


def test_classify_answers_with_the_team_the_reasons_and_the_model(server: LiveServer) -> None:
    token = _token(server, "zammad", "classify")
    words = " ".join(VOCAB["schade"].split()[:6])
    status, body, _ = call(
        server, "POST", "/api/v1/classify", {"subject": "schade", "text": words}, token=token
    )
    assert status == 200, body
    assert (body["team"], body["mode"], body["decided_by"]) == ("schade", "auto", "model")
    assert body["confidence"] > 0.9 and body["model_version"]
    assert body["reasons"] and body["reasons"][0].startswith("model: schade")

    with server.sessions() as session:
        rule_store.create_rule(
            session,
            RuleSpec(
                name="Boos",
                action="route",
                team="klachten",
                conditions=Conditions.from_mapping({"sender": ["boos.example"]}),
            ),
        )
        session.commit()
    status, body, _ = call(
        server,
        "POST",
        "/api/v1/classify",
        {"subject": "schade", "text": words, "sender": "a@boos.example"},
        token=token,
    )
    assert (body["team"], body["decided_by"], body["reasons"][0]) == (
        "klachten",
        "rule",
        "rule 'Boos' matched",
    )
    # Nothing was stored by classifying.
    with server.sessions() as session:
        assert session.scalar(select(Message.id)) is None


@pytest.mark.parametrize(
    ("body", "raw", "status", "message"),
    [
        ({"text": ""}, None, 400, "give a subject or a text"),
        ({"subject": 5}, None, 400, "subject must be a string"),
        ({"subject": "x" * 2000}, None, 413, "longer than 998"),
        ({"subject": "x", "sender": "two@a.example, three@b.example"}, None, 400, "one e-mail"),
        (None, b"[1, 2]", 400, "JSON object"),
        (None, b"{not json", 400, "JSON object"),
    ],
)
def test_bad_input_gets_a_4xx_with_a_message(
    server: LiveServer, body: Any, raw: bytes | None, status: int, message: str
) -> None:
    token = _token(server, "form", "classify")
    got, answer, _ = call(server, "POST", "/api/v1/classify", body, raw=raw, token=token)
    assert got == status and message in answer["error"], answer


def test_tokens_are_hashed_scoped_revocable_and_rate_limited(server: LiveServer) -> None:
    token = _token(server, "zendesk", "classify")
    with server.sessions() as session:
        row = session.scalar(select(ApiToken).where(ApiToken.name == "zendesk"))
        assert row is not None and row.token_hash == token_hash(token)
        assert token not in json.dumps([row.name, row.token_hash, row.scopes])
    body = {"subject": "vraag"}
    assert call(server, "POST", "/api/v1/classify", body)[0] == 401
    assert call(server, "POST", "/api/v1/classify", body, token="mr_wrong")[0] == 401
    status, answer, _ = call(server, "POST", "/api/v1/tickets", {"id": "1"}, token=token)
    assert status == 401 and "'tickets' scope" in answer["error"]
    # Five a minute in this test's settings; the sixth waits.
    statuses = [call(server, "POST", "/api/v1/classify", body, token=token)[0] for _ in range(5)]
    assert statuses == [200] * 5
    status, answer, headers = call(server, "POST", "/api/v1/classify", body, token=token)
    assert status == 429 and int(headers["Retry-After"]) >= 1
    with server.sessions() as session:
        revoke_token(session, row.id)
        session.commit()
    assert call(server, "POST", "/api/v1/classify", body, token=token)[0] == 401


def test_a_ticket_becomes_live_mail_queued_for_routing_and_only_its_integration_sees_it(
    server: LiveServer,
) -> None:
    token = _token(server, "zammad", "tickets")
    other = _token(server, "zendesk", "tickets")
    ticket = {
        "id": "4711",
        "subject": "Waterschade\r\nBcc: evil@attacker.example",
        "text": "Er is lekkage in de keuken.",
        "sender": "jan@klant.example",
        "sender_name": "Jan, de Klant",
    }
    status, body, _ = call(server, "POST", "/api/v1/tickets", ticket, token=token)
    assert status == 202 and body["status"] == "queued", body
    ticket_id = body["ticket"]
    assert server.app.extensions["queued"] == [ticket_id]
    # The same ticket again is recognised, not stored or routed twice.
    status, body, _ = call(server, "POST", "/api/v1/tickets", ticket, token=token)
    assert (status, body["status"], body["ticket"]) == (200, "duplicate", ticket_id)
    assert server.app.extensions["queued"] == [ticket_id]

    with server.sessions() as session:
        message = session.get(Message, ticket_id)
        assert message is not None
        assert (message.origin, message.route_state, message.source_folder) == (
            "live",
            "new",
            "api/zammad",
        )
        assert message.sender_email == "jan@klant.example"
        assert "Bcc" not in [k for k, _ in _headers(message.raw)]
        assert message.subject == "Waterschade Bcc: evil@attacker.example"

    status, body, _ = call(server, "GET", f"/api/v1/tickets/{ticket_id}", token=token)
    assert (status, body["state"], body["team"]) == (200, "new", None)
    status, body, _ = call(server, "GET", f"/api/v1/tickets/{ticket_id}", token=other)
    assert status == 404 and "no ticket" in body["error"]
    status, body, _ = call(server, "POST", "/api/v1/tickets", {"subject": "x"}, token=token)
    assert status == 400 and body["error"] == "id is required"


def _headers(raw: bytes) -> list[tuple[str, str]]:
    import email

    return list(email.message_from_bytes(raw).items())


def test_openapi_is_served_and_the_admin_makes_and_revokes_tokens(server: LiveServer) -> None:
    status, spec, _ = call(server, "GET", "/api/v1/openapi.json")
    assert status == 200 and spec["openapi"].startswith("3.")
    assert {"/classify", "/tickets", "/tickets/{ticket}"} <= set(spec["paths"])

    with server.sessions() as session:
        session.add(User(username="admin", password_hash=FAST_HASH, role="admin"))
        session.add(User(username="reviewer", password_hash=FAST_HASH, role="reviewer"))
        session.commit()
    admin = logged_in(server.app, "admin")
    page = admin.get("/admin/api-tokens").get_data(as_text=True)
    token_field = page.index('name="csrf_token"')
    csrf = page[token_field:].split('value="', 1)[1].split('"', 1)[0]
    made = admin.post(
        "/admin/api-tokens", data={"csrf_token": csrf, "name": "webform", "scopes": ["classify"]}
    )
    assert made.status_code == 200
    text = made.get_data(as_text=True)
    new_token = text.split('id="new-token"', 1)[1].split("<code>", 1)[1].split("</code>", 1)[0]
    assert new_token.startswith("mr_")
    assert call(server, "POST", "/api/v1/classify", {"subject": "x"}, token=new_token)[0] == 200
    assert new_token not in admin.get("/admin/api-tokens").get_data(as_text=True)
    with server.sessions() as session:
        token_id = session.scalar(select(ApiToken.id).where(ApiToken.name == "webform"))
    admin.post(f"/admin/api-tokens/{token_id}/revoke", data={"csrf_token": csrf})
    assert call(server, "POST", "/api/v1/classify", {"subject": "x"}, token=new_token)[0] == 401
    assert logged_in(server.app, "reviewer").get("/admin/api-tokens").status_code == 403


def test_record_ticket_is_a_duplicate_by_content(server: LiveServer) -> None:
    with server.sessions() as session:
        first = record_ticket(session, Ticket("zammad", "1", "s", "t", "a@b.example"))
        again = record_ticket(session, Ticket("zammad", "1", "s", "t", "a@b.example"))
        other = record_ticket(session, Ticket("zendesk", "1", "s", "t", "a@b.example"))
        session.commit()
    assert first.queue and not again.queue and other.queue
    assert first.message_id == again.message_id != other.message_id


def test_classify_reports_the_flags_and_where_they_came_from(server: LiveServer) -> None:
    """The test model has no flag heads (too few flagged labels): the cue list stands in
    and the answer says so; a churn rule routes on it as the worker would."""
    token = _token(server, "zendesk", "classify")
    words = " ".join(VOCAB["schade"].split()[:6])
    status, body, _ = call(
        server,
        "POST",
        "/api/v1/classify",
        {"subject": "SPOED", "text": words + " Ik ga overstappen."},
        token=token,
    )
    assert status == 200, body
    assert body["flags"] == {
        "urgent": {"source": "cue list", "cues": ["spoed*"]},
        "churn": {"source": "cue list", "cues": ["overstappen"]},
    }
    assert body["priority"] == "high"
    assert "urgent (cue list: 'spoed*')" in body["reasons"]
    with server.sessions() as session:
        rule_store.create_rule(
            session,
            RuleSpec(
                name="Behoud",
                action="route",
                team="klachten",
                conditions=Conditions.from_mapping({"flag": ["churn"]}),
            ),
        )
        session.commit()
    _, body, _ = call(
        server, "POST", "/api/v1/classify", {"subject": "x", "text": "Ik ga overstappen."},
        token=token,
    )
    assert (body["team"], body["decided_by"]) == ("klachten", "rule")
    _, calm, _ = call(
        server, "POST", "/api/v1/classify", {"subject": "schade", "text": words}, token=token
    )
    assert calm["flags"] == {"urgent": None, "churn": None} and calm["team"] == "schade"
