"""The review queue (mail the model was unsure of, oldest first) and misroute reports.

A decision is committed, then the forward is queued on the broker (the worker's
``forward_message`` task); the page never waits for a mail server. When the broker cannot
be reached the decision stands and the worker's periodic sweep queues the forward later.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask import session as browser_session
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import Session

from labeling.errors import LabelingError
from labeling.live import lifecycle, review
from labeling.mail.pseudonymise import Pseudonymiser
from labeling.settings import Settings
from labeling.store.tables import Message
from labeling.store.teams import active_teams_by_key
from web.assets import static_url
from web.db import commit, db_session
from web.forms import HandledForm, ReviewDecisionForm, SendBackForm
from web.labeling_texts import refusal_text
from web.mailhtml import frame_document
from web.payloads import message_view, pseudonymised_html
from web.security import sees_original
from worker import enqueue

log = logging.getLogger(__name__)

bp = Blueprint("review", __name__, url_prefix="/review")

ENQUEUE_EXTENSION = "mailroom.enqueue_forward"


def _enqueue_forward() -> Callable[[int], None]:
    """The function that queues a forward by task name (Celery's client side only; the
    worker's tasks and model are never imported here), built once per app; tests may put
    their own in ``app.extensions[ENQUEUE_EXTENSION]``."""
    found: Callable[[int], None] | None = current_app.extensions.get(ENQUEUE_EXTENSION)
    if found is None:
        celery = enqueue.client(_settings())

        def send(message_id: int) -> None:
            enqueue.forward(celery, message_id)

        found = current_app.extensions[ENQUEUE_EXTENSION] = send
    return found


def _settings() -> Settings:
    settings: Settings = current_app.extensions["mailroom.settings"]
    return settings


def _pseudonymiser() -> Pseudonymiser | None:
    settings = _settings()
    return None if sees_original(current_user.role, settings) else settings.pseudonymiser()


def _queue_forwards(message_ids: list[int]) -> bool:
    """Queue each forward; False (and logged) when the broker is unreachable."""
    enqueue = _enqueue_forward()
    try:
        for message_id in message_ids:
            enqueue(message_id)
    except Exception as exc:  # kombu's OperationalError and friends: the sweep will do it
        log.warning("could not queue forwards %s (the sweep will): %s", message_ids, exc)
        return False
    return True


# "Pass over it for now" keeps a mail out of this reviewer's way for this long (unless
# nothing else waits); kept in the reviewer's session, at most PASSED_KEPT items.
PASS_OVER = timedelta(minutes=30)
PASSED_KEPT = 100
PASSED_KEY = "review_passed"


def _passed(now: datetime) -> dict[int, float]:
    """Item id → until when (epoch seconds) this reviewer passed it over; expired dropped."""
    stored = browser_session.get(PASSED_KEY)
    if not isinstance(stored, dict):
        return {}
    cutoff = now.timestamp()
    return {
        int(k): float(v)
        for k, v in stored.items()
        if str(k).isdigit() and isinstance(v, int | float) and v > cutoff
    }


def _pass_over(item_id: int, now: datetime) -> datetime:
    passed = _passed(now)
    until = now + PASS_OVER
    passed[item_id] = until.timestamp()
    newest = sorted(passed.items(), key=lambda kv: kv[1])[-PASSED_KEPT:]
    browser_session[PASSED_KEY] = {str(k): v for k, v in newest}
    return until


def _page_number() -> int:
    value = request.args.get("page", "1")
    return int(value) if value.isascii() and value.isdigit() and 0 < len(value) < 6 else 1


@bp.get("")
def queue() -> str:
    session = db_session()
    now = datetime.now(UTC)
    passed = _passed(now)
    card = review.next_item(session, passed=passed.keys())
    pseudonymiser = _pseudonymiser()
    html_document = None
    if card is not None and card.message.html:
        message = card.message
        transform = None
        if pseudonymiser is not None:

            def transform(html: str) -> str:
                return pseudonymised_html(message, html, pseudonymiser)

        html_document = frame_document(
            message.html or "", static_url("mailframe.css"), transform=transform
        )
    return render_template(
        "review.html",
        card=card,
        mail=(
            message_view(card.message, 0, pseudonymiser=pseudonymiser)
            if card is not None
            else None
        ),
        html_document=html_document,
        teams=active_teams_by_key(db_session()),
        form=ReviewDecisionForm(),
        waiting=review.open_count(session),
        passed_count=len(passed),
        passed_until=(
            datetime.fromtimestamp(max(passed.values()), UTC) if passed else None
        ),
        pass_minutes=int(PASS_OVER.total_seconds() // 60),
    )


@bp.post("/pass")
def pass_over() -> ResponseReturnValue:
    """Pass over a mail for now: for :data:`PASS_OVER` this reviewer sees it only when
    nothing else waits."""
    form = HandledForm()
    if form.validate_on_submit():
        item = lifecycle.open_review_item(db_session(), form.message_id.data or 0)
        if item is not None and item.status == "open":
            until = _pass_over(item.id, datetime.now(UTC))
            flash(
                _(
                    "Mail #%(id)s passed over until %(until)s UTC: you see it again then, "
                    "or sooner when nothing else waits.",
                    id=item.message_id,
                    until=f"{until:%H:%M}",
                ),
                "info",
            )
    return redirect(url_for("review.queue"))


def _decided_notice(decided: list[review.Decided], queued: bool) -> str:
    first = decided[0]
    team = first.team_name or first.team_slug
    if len(decided) == 1:
        what = _("Mail #%(id)s sent to %(team)s;", id=first.message_id, team=team)
    else:
        what = _("%(n)s mails sent to %(team)s;", n=len(decided), team=team)
    if queued:
        tail = _("forward queued.")
    else:
        tail = _("the forward is queued by the worker's next sweep.")
    return f"{what} {tail}"


def _decide(group: bool) -> ResponseReturnValue:
    form = ReviewDecisionForm()
    if not form.validate_on_submit():
        flash(_("Choose a team for the mail."), "error")
        return redirect(url_for("review.queue"))
    message_id, team_id = form.message_id.data or 0, form.team_id.data or 0
    session = db_session()
    try:
        if group:
            decided = review.decide_group(
                session, message_id, team_id, current_user.id, outgoing=_settings().outgoing
            )
        else:
            decided = [
                review.decide(
                    session, message_id, team_id, current_user.id, outgoing=_settings().outgoing
                )
            ]
        commit()
    except LabelingError as exc:
        flash(refusal_text(exc), "error")
        return redirect(url_for("review.queue"))
    queued = _queue_forwards([d.message_id for d in decided])
    flash(_decided_notice(decided, queued), "info")
    return redirect(url_for("review.queue"))


@bp.post("/decide")
def decide() -> ResponseReturnValue:
    return _decide(group=False)


@bp.post("/decide-group")
def decide_group() -> ResponseReturnValue:
    return _decide(group=True)


def _close(
    close: Callable[[Session, int, int], object], notice: Callable[[int], str]
) -> ResponseReturnValue:
    """Close the posted mail without a forward (``close``), then back to the queue."""
    form = HandledForm()
    if form.validate_on_submit():
        message_id = form.message_id.data or 0
        try:
            close(db_session(), message_id, current_user.id)
            commit()
        except LabelingError as exc:
            flash(refusal_text(exc), "error")
        else:
            flash(notice(message_id), "info")
    return redirect(url_for("review.queue"))


@bp.post("/handled")
def handled() -> ResponseReturnValue:
    return _close(
        review.mark_handled, lambda mid: _("Mail #%(id)s marked as handled by hand.", id=mid)
    )


@bp.post("/no-team")
def no_team() -> ResponseReturnValue:
    return _close(
        review.close_no_team, lambda mid: _("Mail #%(id)s closed: it belongs to no team.", id=mid)
    )


ROUTED_PAGE_SIZE = 50


@bp.get("/routed")
def routed() -> str:
    value = request.args.get("message", "").strip().lstrip("#")
    message_id = int(value) if value.isascii() and value.isdigit() and len(value) < 10 else None
    session = db_session()
    total = review.routed_count(session, message_id=message_id)
    pages = max(1, -(-total // ROUTED_PAGE_SIZE))
    page = min(_page_number(), pages)
    rows = review.routed_mail(
        session,
        message_id=message_id,
        limit=ROUTED_PAGE_SIZE,
        offset=(page - 1) * ROUTED_PAGE_SIZE,
    )
    pseudonymiser = _pseudonymiser()
    if pseudonymiser is not None:
        rows = [_pseudonymised_row(row, pseudonymiser) for row in rows]
    return render_template(
        "routed.html",
        rows=rows,
        form=SendBackForm(),
        query=value,
        searched=message_id,
        page=page,
        pages=pages,
        total=total,
        first=(page - 1) * ROUTED_PAGE_SIZE + 1,
    )


@bp.get("/mail/<int:message_id>")
def mail(message_id: int) -> str:
    """One live mail as the team received it, to read before sending it back. Archive mail
    (the labellers') is not shown here: 404, as for a mail that does not exist."""
    session = db_session()
    message = session.get(Message, message_id)
    if message is None or message.route_state is None:
        abort(404, description=_("There is no live mail #%(id)s.", id=message_id))
    rows = review.routed_mail(session, message_id=message_id, limit=1)
    pseudonymiser = _pseudonymiser()
    if pseudonymiser is not None:
        rows = [_pseudonymised_row(row, pseudonymiser) for row in rows]
    html_document = None
    if message.html:
        transform = None
        if pseudonymiser is not None:

            def transform(html: str) -> str:
                return pseudonymised_html(message, html, pseudonymiser)

        html_document = frame_document(
            message.html, static_url("mailframe.css"), transform=transform
        )
    return render_template(
        "routed_mail.html",
        mail=message_view(message, 0, pseudonymiser=pseudonymiser),
        row=rows[0] if rows else None,
        state=message.route_state,
        html_document=html_document,
        form=SendBackForm(),
    )


def _pseudonymised_row(row: review.RoutedRow, pseudonymiser: Pseudonymiser) -> review.RoutedRow:
    pseudonyms = pseudonymiser.mail(row.subject, row.sender)
    return replace(row, subject=pseudonyms.text(row.subject), sender=pseudonyms.text(row.sender))


@bp.post("/send-back")
def send_back() -> ResponseReturnValue:
    form = SendBackForm()
    if not form.validate_on_submit():
        flash(_("That request could not be read; try again."), "error")
        return redirect(url_for("review.routed"))
    message_id = form.message_id.data or 0
    try:
        team = review.send_back(db_session(), message_id, current_user.id, form.note.data or "")
        commit()
    except LabelingError as exc:
        flash(refusal_text(exc), "error")
    else:
        flash(
            _(
                "Mail #%(id)s came back from team %(team)s; it waits in review.",
                id=message_id,
                team=team,
            ),
            "info",
        )
    return redirect(url_for("review.routed"))
