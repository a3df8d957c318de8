"""The HTTP API for other systems (``/api/v1``; docs/api.md): classify a text, hand in a
ticket, ask what became of it, and the OpenAPI description.

Callers authenticate with a per-integration token (``Authorization: Bearer mr_…``, made and
revoked on the admin page, stored hashed: :mod:`labeling.store.api_tokens`), not a login:
no session, no CSRF token (the blueprint is exempt; a token in a header is not sent by a
browser on its own). Each token has scopes and a rate limit (``MAILROOM_API_RATE_LIMIT``
requests a minute, per web process). Bad input gets a 4xx with ``{"error": "…"}``.

A ticket enters the same life as a mail (:func:`labeling.live.lifecycle.record_ticket`):
stored as live mail (``source_folder`` ``api/<token name>``), routed by the worker through
rules, thread and model, forwarded or reviewed, labelled and audited.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from labeling.live import lifecycle
from labeling.live.explain import explain
from labeling.rules.matching import evaluate, facts_of
from labeling.rules.store import routing_rules
from labeling.settings import Settings
from labeling.store.api_tokens import check_token
from labeling.store.tables import ApiToken, Message, RoutingDecision, Team
from web.db import commit, db_session

bp = Blueprint("api_v1", __name__, url_prefix="/api/v1")

ROUTE_EXTENSION = "mailroom.enqueue_route"
MODEL_EXTENSION = "mailroom.api_model"
LIMITER_EXTENSION = "mailroom.api_limiter"
MAX_SUBJECT_CHARS = 998
MAX_FIELD_CHARS = 320


class ApiInputError(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@bp.errorhandler(ApiInputError)
def _input_error(exc: ApiInputError) -> tuple[Response, int]:
    return jsonify(error=str(exc)), exc.status


def _settings() -> Settings:
    settings: Settings = current_app.extensions["mailroom.settings"]
    return settings


class RateLimiter:
    """At most ``limit`` calls per token in any 60 s (a sliding window, in memory)."""

    def __init__(self, limit: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.clock = limit, clock
        self.calls: dict[int, deque[float]] = {}
        self.lock = threading.Lock()

    def wait_s(self, token_id: int) -> float:
        """0 when the call may go ahead (and it is counted), else seconds to wait."""
        now = self.clock()
        with self.lock:
            calls = self.calls.setdefault(token_id, deque())
            while calls and calls[0] <= now - 60:
                calls.popleft()
            if len(calls) >= self.limit:
                return 60 - (now - calls[0])
            calls.append(now)
            return 0.0


def _authorise(scope: str) -> ApiToken:
    header = request.headers.get("Authorization", "")
    kind, _, presented = header.partition(" ")
    if kind.lower() != "bearer" or not presented.strip():
        raise ApiInputError("send an API token: Authorization: Bearer mr_…", 401)
    token = check_token(db_session(), presented.strip(), scope)
    if token is None:
        raise ApiInputError(f"the token is unknown, revoked, or has no {scope!r} scope", 401)
    limiter: RateLimiter | None = current_app.extensions.get(LIMITER_EXTENSION)
    if limiter is None:
        limiter = current_app.extensions[LIMITER_EXTENSION] = RateLimiter(
            _settings().api_rate_limit
        )
    wait = limiter.wait_s(token.id)
    if wait > 0:
        raise _TooMany(wait)
    return token


class _TooMany(ApiInputError):
    def __init__(self, wait: float) -> None:
        super().__init__("rate limit reached; retry after the Retry-After seconds", 429)
        self.wait = wait


@bp.errorhandler(_TooMany)
def _too_many(exc: _TooMany) -> tuple[Response, int, dict[str, str]]:
    return jsonify(error=str(exc)), 429, {"Retry-After": str(max(1, round(exc.wait)))}


def _body() -> Mapping[str, Any]:
    if not request.is_json:
        raise ApiInputError("send JSON (Content-Type: application/json)", 415)
    body = request.get_json(silent=True)
    if not isinstance(body, Mapping):
        raise ApiInputError("the body must be a JSON object")
    return body


def _text(body: Mapping[str, Any], key: str, limit: int, *, required: bool = False) -> str:
    value = body.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ApiInputError(f"{key} must be a string")
    if required and not value.strip():
        raise ApiInputError(f"{key} is required")
    if len(value) > limit:
        raise ApiInputError(f"{key} is longer than {limit} characters", 413)
    return value


def _sender(body: Mapping[str, Any], *, required: bool) -> str:
    sender = _text(body, "sender", MAX_FIELD_CHARS, required=required).strip()
    if sender and ("@" not in sender or any(c.isspace() or c in "<>,;" for c in sender)):
        raise ApiInputError("sender must be one e-mail address")
    return sender


def _mail_fields(body: Mapping[str, Any], *, sender_required: bool) -> dict[str, str]:
    fields = {
        "subject": _text(body, "subject", MAX_SUBJECT_CHARS),
        "text": _text(body, "text", _settings().api_max_text_chars),
        "sender": _sender(body, required=sender_required),
        "language": _text(body, "language", 8).strip().lower(),
    }
    if not (fields["subject"].strip() or fields["text"].strip()):
        raise ApiInputError("give a subject or a text")
    metadata = body.get("metadata", {})
    if metadata is not None and not isinstance(metadata, Mapping):
        raise ApiInputError("metadata must be an object")
    return fields


def _model() -> Any:
    """The active model for classify: the worker's model cache, built on first use (torch
    is imported only when a version is loaded)."""
    found = current_app.extensions.get(MODEL_EXTENSION)
    if found is None:
        from worker.model_cache import ModelCache

        settings = _settings()
        found = ModelCache(settings.models_path, settings.cache_path)
        current_app.extensions[MODEL_EXTENSION] = found
    return found


@bp.post("/classify")
def classify() -> ResponseReturnValue:
    """Where a text would go, decided as live mail is (rules, then the model); nothing is
    stored."""
    from labeling.errors import ModelError
    from labeling.mail.model_text import model_text
    from labeling.rules.cues import cue_flags
    from labeling.rules.flags import LearnedFlag, MailFlags
    from worker.routing import decide_route, routable_slugs

    _authorise("classify")
    fields = _mail_fields(_body(), sender_required=False)
    settings = _settings()
    session = db_session()
    teams = lifecycle.teams_for_routing(session)
    rules = routing_rules(session)
    model = _model()
    learned: dict[str, LearnedFlag] = {}
    text = ""
    if model.active():
        text = model_text(
            fields["subject"], fields["text"], "", pseudonymiser=settings.pseudonymiser()
        )
        try:
            learned = model.flags([text])[0]
        except ModelError as exc:
            raise ApiInputError(f"the model cannot be used now: {exc}", 503) from exc
    # Learned where the active version has a head, the cue list otherwise (as the worker).
    flags = MailFlags(cues=cue_flags(fields["subject"], fields["text"]), learned=learned)
    outcome = None
    if rules:
        facts = facts_of(
            subject=fields["subject"],
            new_text=fields["text"],
            quoted_text="",
            sender_email=fields["sender"],
            recipients=None,
            attachments=None,
            language=fields["language"] or "und",
        )
        facts.given_flags = flags.names
        outcome = evaluate(rules, facts)
    prediction = None
    if model.active():
        try:
            prediction = model.predict([text], routable_slugs(teams, settings.outgoing))[0]
        except ModelError as exc:
            raise ApiInputError(f"the model cannot be used now: {exc}", 503) from exc
    decision = decide_route(
        prediction=prediction,
        thread=None,
        is_reply=False,
        teams=teams,
        outgoing=settings.outgoing,
        rules=outcome,
        flags=flags,
    )
    commit()  # the token's last use
    return jsonify(
        team=decision.team.slug if decision.team is not None else None,
        confidence=decision.confidence,
        mode=decision.mode,
        decided_by=decision.decided_by,
        reason=decision.reason,
        reasons=list(
            explain(decision.decided_by, decision.reason, decision.confidence, decision.details)
        ),
        priority=decision.details.get("priority"),
        flags={flag: decision.details.get(flag) for flag in ("urgent", "churn")},
        model_version=decision.model_version,
        top=[[team, round(p, 4)] for team, p in decision.top],
    )


def _enqueue_route() -> Callable[[int], None]:
    found: Callable[[int], None] | None = current_app.extensions.get(ROUTE_EXTENSION)
    if found is None:
        from worker import enqueue

        found = current_app.extensions[ROUTE_EXTENSION] = enqueue.route_quietly(
            enqueue.client(_settings())
        )
    return found


@bp.post("/tickets")
def create_ticket() -> ResponseReturnValue:
    """Hand in a ticket: it is stored as live mail and routed by the worker (202)."""
    token = _authorise("tickets")
    body = _body()
    external_id = _text(body, "id", 200, required=True).strip()
    fields = _mail_fields(body, sender_required=True)
    ticket = lifecycle.Ticket(
        integration=token.name,
        external_id=external_id,
        subject=fields["subject"],
        text=fields["text"],
        sender=fields["sender"],
        sender_name=_text(body, "sender_name", 200),
    )
    arrival = lifecycle.record_ticket(db_session(), ticket)
    commit()
    if arrival.queue:
        _enqueue_route()(arrival.message_id)
    status = 202 if arrival.queue else 200
    return jsonify(
        ticket=arrival.message_id,
        status="queued" if arrival.queue else "duplicate",
        url=f"/api/v1/tickets/{arrival.message_id}",
    ), status


@bp.get("/tickets/<int:ticket_id>")
def ticket_status(ticket_id: int) -> ResponseReturnValue:
    """Where a ticket this integration handed in is now: state, team, who decided, why."""
    token = _authorise("tickets")
    session = db_session()
    message = session.get(Message, ticket_id)
    if message is None or message.source_folder != f"api/{token.name}"[:255]:
        # Another integration's ticket, or a mail: as good as not there.
        raise ApiInputError(f"no ticket {ticket_id} of this integration", 404)
    decision = session.scalar(
        select(RoutingDecision).where(
            RoutingDecision.message_id == ticket_id, RoutingDecision.is_current
        )
    )
    team = session.get(Team, decision.team_id) if decision and decision.team_id else None
    commit()
    return jsonify(
        ticket=ticket_id,
        state=message.route_state,
        team=team.slug if team is not None else None,
        mode=decision.mode if decision else None,
        decided_by=decision.decided_by if decision else None,
        reasons=list(
            explain(decision.decided_by, decision.reason, decision.confidence, decision.details)
        )
        if decision
        else [],
    )


@bp.get("/openapi.json")
def openapi() -> ResponseReturnValue:
    """The OpenAPI 3.1 description of this API (no token needed)."""
    return jsonify(OPENAPI)


_ERROR = {"$ref": "#/components/schemas/Error"}
_MAIL_PROPERTIES = {
    "subject": {"type": "string", "maxLength": MAX_SUBJECT_CHARS},
    "text": {"type": "string", "description": "The body; at most MAILROOM_API_MAX_TEXT_CHARS"},
    "sender": {"type": "string", "format": "email"},
    "language": {"type": "string", "maxLength": 8, "examples": ["nl", "en"]},
    "metadata": {"type": "object", "description": "Kept by the caller; not used yet"},
}


def _errors(*codes: int) -> dict[str, Any]:
    texts = {
        400: "bad input",
        401: "no, unknown, revoked or out-of-scope token",
        404: "not a ticket of this integration",
        413: "a field is too long",
        415: "not JSON",
        429: "rate limit (see Retry-After)",
        503: "the model cannot be used now",
    }
    return {
        str(code): {
            "description": texts[code],
            "content": {"application/json": {"schema": _ERROR}},
        }
        for code in codes
    }


OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Mailroom API",
        "version": "1",
        "description": "Classify texts and hand in tickets; they are routed like mail.",
    },
    "servers": [{"url": "/api/v1"}],
    "security": [{"token": []}],
    "components": {
        "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": {"type": "object", "properties": {"error": {"type": "string"}}},
            "Classify": {"type": "object", "properties": _MAIL_PROPERTIES},
            "Ticket": {
                "type": "object",
                "required": ["id", "sender"],
                "properties": {
                    "id": {"type": "string", "maxLength": 200},
                    "sender_name": {"type": "string", "maxLength": 200},
                    **_MAIL_PROPERTIES,
                },
            },
            "Decision": {
                "type": "object",
                "properties": {
                    "team": {"type": ["string", "null"]},
                    "confidence": {"type": ["number", "null"]},
                    "mode": {"enum": ["auto", "review"]},
                    "decided_by": {"type": "string"},
                    "reason": {"type": "string"},
                    "reasons": {"type": "array", "items": {"type": "string"}},
                    "priority": {"type": ["string", "null"]},
                    "flags": {
                        "type": "object",
                        "description": "urgent / churn: null when not set, else where the "
                        "flag came from: {source: 'model', score, threshold, model_version} "
                        "or {source: 'cue list', cues}",
                    },
                    "model_version": {"type": ["string", "null"]},
                    "top": {"type": "array"},
                },
            },
        },
    },
    "paths": {
        "/classify": {
            "post": {
                "summary": "Where this text would go (scope classify); nothing is stored",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Classify"}}
                    },
                },
                "responses": {
                    "200": {
                        "description": "the decision",
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/Decision"}
                            }
                        },
                    },
                    **_errors(400, 401, 413, 415, 429, 503),
                },
            }
        },
        "/tickets": {
            "post": {
                "summary": "Hand in a ticket (scope tickets); it is routed like a mail",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Ticket"}}
                    },
                },
                "responses": {
                    "202": {"description": "stored and queued for routing"},
                    "200": {"description": "this ticket was handed in before"},
                    **_errors(400, 401, 413, 415, 429),
                },
            }
        },
        "/tickets/{ticket}": {
            "get": {
                "summary": "Where a ticket is now: state, team, who decided and why",
                "parameters": [
                    {
                        "name": "ticket",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer"},
                    }
                ],
                "responses": {"200": {"description": "its state"}, **_errors(401, 404, 429)},
            }
        },
        "/openapi.json": {"get": {"security": [], "responses": {"200": {"description": "this"}}}},
    },
}
