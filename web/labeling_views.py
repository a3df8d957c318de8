"""The labelling page (a shell the page's script fills from :mod:`web.api`), the agreement
report and the adjudication of disagreements."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from labeling.annotation import queue
from labeling.annotation.agreement import adjudicate as adjudicate_message
from labeling.annotation.agreement import agreement_report, folder_labels
from labeling.annotation.agreement import disagreements as open_disagreements
from labeling.errors import LabelingError
from labeling.settings import Settings
from labeling.store.tables import Message, Team
from labeling.store.teams import active_teams_by_key
from web.db import commit, db_session
from web.forms import AdjudicateForm
from web.labeling_texts import refusal_text
from web.payloads import message_view
from web.security import sees_original

bp = Blueprint("labeling", __name__)


@bp.get("/")
def home() -> ResponseReturnValue:
    if current_user.role == "reviewer":
        return redirect(url_for("review.queue"))
    return redirect(url_for("labeling.label_page"))


@bp.get("/label")
def label_page() -> str:
    # Once a model has scored the mail, the most uncertain mail teaches it most.
    default_order = "uncertain" if queue.has_scores(db_session()) else "oldest"
    return render_template(
        "label.html", teams=active_teams_by_key(db_session()), default_order=default_order
    )


@bp.get("/agreement")
def agreement() -> str:
    session = db_session()
    report = agreement_report(session)
    teams_by_slug = {team.slug: team for team in session.scalars(select(Team))}
    return render_template("agreement.html", report=report, teams_by_slug=teams_by_slug)


@bp.get("/agreement/disagreements")
def disagreements() -> str:
    session = db_session()
    items = open_disagreements(session)
    teams = {team.id: team for team in session.scalars(select(Team))}
    # The mails themselves, in one query, so the adjudicator reads what was labelled.
    ids = [item.message_id for item in items]
    settings: Settings = current_app.extensions["mailroom.settings"]
    pseudonymiser = (
        None if sees_original(current_user.role, settings) else settings.pseudonymiser()
    )
    mails = {
        m.id: message_view(m, 0, pseudonymiser=pseudonymiser)
        for m in session.scalars(select(Message).where(Message.id.in_(ids)))
    }
    return render_template(
        "disagreements.html",
        items=items,
        teams=teams,
        mails=mails,
        folders=folder_labels(session, ids),
        active_teams=active_teams_by_key(db_session()),
    )


@bp.post("/agreement/adjudicate")
def adjudicate() -> ResponseReturnValue:
    form = AdjudicateForm()
    if not form.validate_on_submit():
        flash(_("Choose a team for the mail."), "error")
        return redirect(url_for("labeling.disagreements"))
    message_id = form.message_id.data or 0
    team_id = form.team_id.data or 0
    try:
        adjudicate_message(db_session(), message_id, team_id, current_user.id)
        commit()
    except LabelingError as exc:
        flash(refusal_text(exc), "error")
    else:
        flash(_("Mail #%(id)s settled.", id=message_id), "info")
    return redirect(url_for("labeling.disagreements"))
