"""The JSON endpoints behind the labelling page.

Each labelling action (label, skip, undo, group label) answers with the next mail to show,
so one keypress costs one round trip. POSTs need the X-CSRFToken header (Flask-WTF).

The order ``verify`` is the verification sample (:mod:`labeling.annotation.verify`): the
mail comes with no suggestion, a label is a verified answer (``team_id`` 0: no team), and
nothing can be skipped or labelled as a group.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, request
from flask_babel import gettext as _
from flask_login import current_user

from labeling.annotation import neardup, queue, suspects, verify
from labeling.errors import LabelingError
from labeling.mail.pseudonymise import Pseudonymiser
from labeling.settings import Settings
from labeling.store.tables import Message, Team
from web.assets import static_url
from web.db import commit, db_session
from web.labeling_texts import refusal_text
from web.mailhtml import frame_document
from web.payloads import (
    ProgressView,
    QueuePayload,
    SuggestionView,
    SuspectView,
    message_view,
    pseudonymised_html,
)
from web.security import message_for, sees_original

bp = Blueprint("api", __name__, url_prefix="/api")

# Ids and seeds fit a 32-bit signed integer (PostgreSQL's integer); larger ones are refused
# here rather than by the database.
MAX_INT = 2**31 - 1


class BadRequest(Exception):
    """A request the page should never send (missing or malformed field)."""


@bp.errorhandler(BadRequest)
def _bad_request(exc: BadRequest) -> tuple[Response, int]:
    return jsonify(error=str(exc)), 400


@bp.errorhandler(LabelingError)
def _refused(exc: LabelingError) -> tuple[Response, int]:
    # Refused before anything was written (archived team, quarantined mail …).
    return jsonify(error=refusal_text(exc)), 409


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest(_("expected a JSON object"))
    return body


def _int(source: dict[str, Any], name: str, *, default: int | None = None) -> int:
    value = source.get(name, default)
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_INT:
        raise BadRequest(
            _("%(name)s must be an integer from 0 to %(most)s", name=name, most=MAX_INT)
        )
    return value


def _flags(source: dict[str, Any]) -> queue.LabelFlags | None:
    """The optional second judgement sent with a label: ``urgent`` and ``churn`` (wants to
    leave), booleans; None when the request names neither (a team alone)."""
    if "urgent" not in source and "churn" not in source:
        return None
    values = {}
    for name in ("urgent", "churn"):
        value = source.get(name, False)
        if not isinstance(value, bool):
            raise BadRequest(f"{name} must be true or false")
        values[name] = value
    return queue.LabelFlags(**values)


def _flag_words(flags: queue.LabelFlags | None) -> str:
    """", urgent, wants to leave" for a notice (empty without flags)."""
    if flags is None:
        return ""
    words = ([_("urgent")] if flags.urgent else []) + ([_("wants to leave")] if flags.churn else [])
    return "".join(", " + word for word in words)


VERIFY = "verify"


def _verifying(source: dict[str, Any]) -> bool:
    return source.get("order") == VERIFY


def _queue_options(source: dict[str, Any]) -> tuple[queue.QueueOrder, int]:
    order = source.get("order") or "oldest"
    for known in queue.QUEUE_ORDERS:
        if order == known:
            return known, _int(source, "seed", default=0)
    raise BadRequest(
        _("order must be one of %(orders)s", orders=", ".join((*queue.QUEUE_ORDERS, VERIFY)))
    )


def _settings() -> Settings:
    settings: Settings = current_app.extensions["mailroom.settings"]
    return settings


def _user_id() -> int:
    user_id: int = current_user.id
    return user_id


def _pseudonymiser() -> Pseudonymiser | None:
    """None for a person who may see the identity; else the settings' pseudonymiser."""
    settings = _settings()
    return None if sees_original(current_user.role, settings) else settings.pseudonymiser()


def _progress() -> ProgressView:
    progress = queue.progress(db_session(), double_label_share=_settings().double_label_share)
    return ProgressView(
        total=progress.total,
        labelled=progress.labelled,
        per_team=dict(progress.per_team),
        double_target=progress.double_target,
        double_done=progress.double_done,
        verified=verify.verified_count(db_session()),
        weak_only=progress.weak_only,
    )


def _payload(
    message: Message | None,
    *,
    notice: str = "",
    returned: bool = False,
    with_progress: bool,
    served_by: str = "",
) -> Response:
    session = db_session()
    suggestion_view = None
    suspect_view = None
    view = None
    verifying = served_by == VERIFY
    if message is not None:
        # What is shown may be read (its HTML frame) and labelled by this person.
        queue.mark_served(session, _user_id(), message.id)
        commit()
        # Blind in the verification sample: no suggestion, no group.
        group = () if verifying else neardup.group_members(session, message.id)
        view = message_view(
            message,
            len(group),
            pseudonymiser=_pseudonymiser(),
            group_ids=tuple(member.id for member in group),
        )
        suggestion = None if verifying else queue.suggestion(session, message.id, _user_id())
        if suggestion is not None:
            suggestion_view = SuggestionView(
                team_id=suggestion.team_id,
                team_slug=suggestion.team_slug,
                source=suggestion.source,
                confidence=suggestion.confidence,
            )
        suspect = None if verifying else suspects.suspect_of(session, message.id)
        if suspect is not None:
            suspect_view = SuspectView(
                weak_team_slug=suspect.weak_team,
                likely_team_slug=suspect.likely_team,
                quality=suspect.quality,
            )
    payload = QueuePayload(
        message=view,
        suggestion=suggestion_view,
        progress=_progress() if with_progress else None,
        notice=notice,
        returned=returned,
        served_by=served_by,
        verifying=verifying,
        suspect=suspect_view,
    )
    return jsonify(payload.to_json())


def _next(
    source: dict[str, Any],
    *,
    notice: str = "",
    returned: int | None = None,
    with_progress: bool = False,
) -> Response:
    session = db_session()
    if _verifying(source):
        found = verify.next_to_verify(session, _user_id())
        message = session.get(Message, found) if found is not None else None
        served_by = VERIFY
    else:
        order, seed = _queue_options(source)
        pick = queue.next_pick(
            session,
            _user_id(),
            order=order,
            seed=seed,
            double_label_share=_settings().double_label_share,
        )
        message = session.get(Message, pick.message_id) if pick is not None else None
        served_by = pick.why if pick is not None else order
    is_returned = message is not None and message.id == returned
    return _payload(
        message,
        notice=notice,
        returned=is_returned,
        with_progress=with_progress,
        served_by=served_by,
    )


def _team_name(team_id: int) -> str:
    team = db_session().get(Team, team_id)
    return team.name if team is not None else f"team {team_id}"


@bp.get("/next")
def next_message() -> Response:
    return _next(request.args.to_dict(), with_progress=True)


@bp.get("/progress")
def progress() -> Response:
    # Apart from the actions: counting every label costs more than picking the next mail,
    # and the labeller should see the next mail first.
    return jsonify(progress=asdict(_progress()))


@bp.post("/label")
def label() -> Response:
    body = _body()
    message_id, team_id = _int(body, "message_id"), _int(body, "team_id")
    if _verifying(body):
        # Team 0 is the answer "this mail belongs to no team we have".
        verify.record_verification(db_session(), message_id, team_id or None, _user_id())
        commit()
        answer = _team_name(team_id) if team_id else _("no team")
        return _next(body, notice=_("#%(id)s verified: %(answer)s", id=message_id, answer=answer))
    flags = _flags(body)
    message_for(db_session(), message_id, labelling=True)
    queue.record_label(db_session(), message_id, team_id, _user_id(), flags=flags)
    commit()
    notice = _("#%(id)s labelled %(team)s", id=message_id, team=_team_name(team_id))
    return _next(body, notice=notice + _flag_words(flags))


@bp.post("/skip")
def skip() -> Response:
    body = _body()
    message_id = _int(body, "message_id")
    if _verifying(body):
        raise LabelingError(
            _(
                "the verification sample has no skipping (a skipped hard mail would make the "
                "sample look easier than the mail the router meets): answer 0 when the mail "
                "belongs to no team"
            )
        )
    message_for(db_session(), message_id, labelling=True)
    queue.skip(db_session(), message_id, _user_id())
    commit()
    return _next(body, notice=_("#%(id)s skipped", id=message_id))


@bp.post("/undo")
def undo() -> Response:
    body = _body()
    if _verifying(body):
        withdrawn = verify.undo_verification(db_session(), _user_id())
        commit()
        if withdrawn is None:
            return _next(body, notice=_("nothing to undo"))
        answer = _team_name(withdrawn.team_id) if withdrawn.team_id else _("no team")
        return _next(
            body,
            notice=_(
                "Undone: your answer %(answer)s for #%(id)s is withdrawn",
                answer=answer,
                id=withdrawn.message_id,
            ),
            returned=withdrawn.message_id,
        )
    undone = queue.undo_last(db_session(), _user_id())
    commit()
    if undone is None:
        return _next(body, notice=_("nothing to undo"))
    # The queue offers the undone mail first, whatever the order.
    return _next(
        body,
        notice=_(
            "Undone: your label %(team)s for #%(id)s is withdrawn",
            team=_team_name(undone.team_id),
            id=undone.message_id,
        ),
        returned=undone.message_id,
    )


@bp.get("/messages/<int:message_id>/open")
def open_message(message_id: int) -> Response:
    """A mail asked for by its number (a near-duplicate, a flagged or a skipped mail);
    refused (409, with the reason) where the queue would not let the labeller choose it."""
    found = db_session().get(Message, message_id)
    if found is None or found.origin != "archive":
        abort(404)  # live mail is for reviewers: as if it did not exist
    message = queue.open_by_id(db_session(), message_id, _user_id())
    return _payload(
        message, notice=_("#%(id)s opened", id=message_id), with_progress=False, served_by="opened"
    )


@bp.get("/skipped")
def skipped() -> Response:
    """The mails this labeller skipped, the latest first."""
    pseudonymiser = _pseudonymiser()
    rows = []
    for row in queue.skipped(db_session(), _user_id()):
        subject = row.subject
        if pseudonymiser is not None:
            pseudonyms = pseudonymiser.mail(row.subject, names=(row.sender,))
            subject = pseudonyms.text(row.subject)
        rows.append(
            {"id": row.message_id, "subject": subject, "skipped_at": row.skipped_at.isoformat()}
        )
    return jsonify(skipped=rows)


@bp.post("/unskip")
def unskip() -> Response:
    body = _body()
    message_id = _int(body, "message_id")
    message_for(db_session(), message_id, labelling=True)
    if not queue.unskip(db_session(), message_id, _user_id()):
        raise LabelingError(_("you had not skipped #%(id)s", id=message_id))
    commit()
    return jsonify(notice=_("#%(id)s is back in your queue", id=message_id))


@bp.post("/label-group")
def label_group() -> Response:
    body = _body()
    if _verifying(body):
        raise LabelingError(_("each mail of the verification sample is answered on its own"))
    message_id, team_id = _int(body, "message_id"), _int(body, "team_id")
    flags = _flags(body)
    message_for(db_session(), message_id, labelling=True)
    count = queue.label_group(db_session(), message_id, team_id, _user_id(), flags=flags)
    commit()
    return _next(
        body, notice=_(
            "%(n)s mails of #%(id)s's group labelled %(team)s",
            n=count,
            id=message_id,
            team=_team_name(team_id),
        ) + _flag_words(flags),
    )


@bp.get("/messages/<int:message_id>/html")
def message_html(message_id: int) -> Response:
    message = message_for(db_session(), message_id, labelling=False)
    if not message.html:
        abort(404)
    stylesheet = static_url("mailframe.css")
    pseudonymiser = _pseudonymiser()
    transform = None
    if pseudonymiser is not None:

        def transform(html: str) -> str:
            return pseudonymised_html(message, html, pseudonymiser)

    return jsonify(document=frame_document(message.html, stylesheet, transform=transform))
