"""Admin rules (admins only): list in order, add, edit, move, switch on and off, delete;
and try a rule on the archive before it is saved ("matches 212 mails; 96 % …")."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from labeling.errors import RuleError
from labeling.live.stats import rules_live
from labeling.rules import store as rule_store
from labeling.rules.matching import CONDITION_KEYS, Conditions, RuleSpec
from labeling.store.tables import Team, utcnow
from web.db import commit, db_session
from web.forms import PRIORITY_NAMES, ActiveForm, ConfirmForm, RuleForm, RuleMoveForm
from web.labeling_texts import refusal_text

bp = Blueprint("rules", __name__, url_prefix="/admin/rules")

# The rule health shown beside each rule looks back this far.
HEALTH_DAYS = 30

# How each action reads in the list.
ACTION_NAMES = {
    "route": _l("route"),
    "review": _l("to review"),
    "priority": _l("priority"),
    "no-auto": _l("never auto-route"),
}


# How each condition reads in the list (rules.toml and the CLI keep the English keys).
CONDITION_NAMES = {
    "sender": _l("sender"),
    "recipient": _l("recipient"),
    "subject": _l("subject"),
    "body": _l("body"),
    "text": _l("text"),
    "header": _l("header"),
    "attachment": _l("attachment"),
    "language": _l("language"),
    "flag": _l("flag"),
}


def describe_conditions(conditions: Conditions) -> str:
    """:meth:`Conditions.describe` with the condition names in the interface language."""
    parts = []
    for key, value in conditions.to_mapping().items():
        if key == "header":
            shown = ", ".join(f"{k}: {v}" for k, v in value.items())
        else:
            quoted = key in ("subject", "body", "text")
            shown = ", ".join(f'"{v}"' if quoted else v for v in value)
        parts.append(f"{CONDITION_NAMES.get(key, key)} {shown}")
    return "; ".join(parts)


def dry_summary(dry: rule_store.DryRun) -> str:
    """:meth:`DryRun.summary` in the interface language."""
    text = _(
        "matches %(matched)s of %(searched)s archive mails",
        matched=dry.matched,
        searched=dry.searched,
    )
    if dry.labelled:
        slug, count = next(iter(dry.by_label.items()))
        text += _(
            "; %(share)s %% of the %(labelled)s labelled ones are labelled %(team)s",
            share=round(100 * count / dry.labelled),
            labelled=dry.labelled,
            team=dry.team_names.get(slug, slug),
        )
    elif dry.matched:
        text += _("; none of them is labelled")
    return text


def _form(formdata: Any = None, rule: RuleSpec | None = None) -> RuleForm:
    form = RuleForm(formdata=formdata) if formdata is not None else RuleForm(formdata=None)
    teams = db_session().scalars(select(Team).where(Team.archived_at.is_(None)).order_by(Team.name))
    form.team.choices = [SelectChoice("", "–"), *(SelectChoice(t.slug, t.name) for t in teams)]
    if rule is not None and formdata is None:
        form.name.data, form.note.data = rule.name, rule.note
        form.action.data, form.team.data = rule.action, rule.team or ""
        form.priority.data, form.enabled.data = rule.priority or "", rule.enabled
        for key, value in rule.conditions.to_mapping().items():
            lines = [f"{k}: {v}" for k, v in value.items()] if key == "header" else value
            getattr(form, key).data = "\n".join(lines)
    return form


def _spec(form: RuleForm) -> RuleSpec:
    """The rule the form describes; raises :class:`RuleError` naming the bad field."""
    when: dict[str, Any] = {}
    for key in CONDITION_KEYS:
        lines = [line.strip() for line in (getattr(form, key).data or "").splitlines()]
        lines = [line for line in lines if line]
        if key == "header":
            headers = {}
            for line in lines:
                name, sep, phrase = line.partition(":")
                if not sep:
                    raise RuleError(_("header %(line)s: write Name: phrase", line=repr(line)))
                headers[name.strip()] = phrase.strip()
            when[key] = headers
        else:
            when[key] = lines
    action = form.action.data or ""
    return RuleSpec(
        name=form.name.data or "",
        note=(form.note.data or "").strip(),
        action=action,
        team=(form.team.data or None) if action == "route" else None,
        priority=(form.priority.data or None) if action == "priority" else None,
        enabled=bool(form.enabled.data),
        conditions=Conditions.from_mapping(when),
    )


def _render(form: RuleForm, *, rule_id: int | None = None, dry: Any = None) -> str:
    session = db_session()
    health = {r.rule_id: r for r in rules_live(session, utcnow() - timedelta(days=HEALTH_DAYS))}
    return render_template(
        "admin_rules.html",
        rules=rule_store.list_rules(session),
        health=health,
        health_days=HEALTH_DAYS,
        form=form,
        editing=rule_id,
        dry=dry,
        dry_text=dry_summary(dry) if dry is not None else "",
        action_names=ACTION_NAMES,
        describe_conditions=describe_conditions,
        priority_names=PRIORITY_NAMES,
        move_form=RuleMoveForm(formdata=None),
        active_form=ActiveForm(formdata=None),
        confirm_form=ConfirmForm(formdata=None),
    )


def _form_errors(form: RuleForm) -> None:
    for name, errors in form.errors.items():
        label = getattr(form, name).label.text if hasattr(form, name) else name
        for error in errors:
            flash(f"{label}: {error}", "error")


@bp.get("/")
def index() -> str:
    return _render(_form())


def _save(rule_id: int | None) -> ResponseReturnValue:
    """Try (the 'try' button) or try and save the rule of the posted form."""
    form = _form(request.form)
    if not form.validate_on_submit():
        _form_errors(form)
        return _render(form, rule_id=rule_id), 400
    session = db_session()
    try:
        spec = _spec(form)
        dry = rule_store.dry_run(session, spec)
        if "try" in request.form:
            return _render(form, rule_id=rule_id, dry=dry)
        if rule_id is None:
            row = rule_store.create_rule(session, spec, actor_id=current_user.id)
        else:
            row = rule_store.update_rule(session, rule_id, spec, actor_id=current_user.id)
        commit()
    except RuleError as exc:
        flash(refusal_text(exc), "error")
        return _render(form, rule_id=rule_id), 400
    flash(
        _("Rule '%(name)s' saved: it %(summary)s.", name=row.name, summary=dry_summary(dry)), "info"
    )
    return redirect(url_for("rules.index"))


@bp.post("/")
def create() -> ResponseReturnValue:
    return _save(None)


def _rule_or_404(rule_id: int) -> RuleSpec:
    try:
        return rule_store.get_rule(db_session(), rule_id)
    except RuleError:
        abort(404)


@bp.get("/<int:rule_id>")
def edit(rule_id: int) -> str:
    return _render(_form(rule=_rule_or_404(rule_id)), rule_id=rule_id)


@bp.post("/<int:rule_id>")
def update(rule_id: int) -> ResponseReturnValue:
    _rule_or_404(rule_id)
    return _save(rule_id)


@bp.post("/<int:rule_id>/move")
def move(rule_id: int) -> ResponseReturnValue:
    _rule_or_404(rule_id)
    form = RuleMoveForm()
    if form.validate_on_submit():
        step = -1 if form.direction.data == "up" else 1
        rule_store.move_rule(db_session(), rule_id, step, actor_id=current_user.id)
        commit()
    else:
        _form_errors_plain(form.errors)
    return redirect(url_for("rules.index"))


@bp.post("/<int:rule_id>/enabled")
def enable(rule_id: int) -> ResponseReturnValue:
    _rule_or_404(rule_id)
    form = ActiveForm()
    if form.validate_on_submit():
        on = form.active.data == "1"
        row = rule_store.set_enabled(db_session(), rule_id, on, actor_id=current_user.id)
        commit()
        notice = _("Rule '%(name)s' switched on.") if on else _("Rule '%(name)s' switched off.")
        flash(notice % {"name": row.name}, "info")
    else:
        _form_errors_plain(form.errors)
    return redirect(url_for("rules.index"))


@bp.post("/<int:rule_id>/delete")
def delete(rule_id: int) -> ResponseReturnValue:
    rule = _rule_or_404(rule_id)
    form = ConfirmForm()
    if form.validate_on_submit():
        rule_store.delete_rule(db_session(), rule_id, actor_id=current_user.id)
        commit()
        flash(
            _("Rule '%(name)s' deleted; the decisions it made keep its name.", name=rule.name),
            "info",
        )
    else:
        _form_errors_plain(form.errors)
    return redirect(url_for("rules.index"))


def _form_errors_plain(errors: Any) -> None:
    for name, messages in dict(errors).items():
        for message in messages:
            flash(f"{name}: {message}", "error")
