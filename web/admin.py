"""Admin pages: users (create, role, deactivate) and teams (edit, hotkeys, archive)."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from labeling.errors import LabelingError
from labeling.settings import Settings
from labeling.store import api_tokens, people
from labeling.store import teams as team_store
from labeling.store.tables import USER_ROLES, Team, User
from web.db import commit, db_session
from web.forms import (
    ActiveForm,
    ApiTokenForm,
    ConfirmForm,
    PasswordResetForm,
    RoleForm,
    TeamCreateForm,
    TeamForm,
    UserCreateForm,
)
from web.i18n import role_name
from web.labeling_texts import refusal_text

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _form_errors(
    form: TeamForm | UserCreateForm | RoleForm | ActiveForm | ApiTokenForm | PasswordResetForm,
) -> None:
    for name, errors in form.errors.items():
        label = getattr(form, name).label.text if hasattr(form, name) else name
        for error in errors:
            flash(f"{label}: {error}", "error")


@bp.get("/")
def index() -> ResponseReturnValue:
    return redirect(url_for("admin.users"))


# Users -----------------------------------------------------------------------------------


def _render_users(create_form: UserCreateForm) -> str:
    users = db_session().scalars(select(User).order_by(User.active.desc(), User.username)).all()
    return render_template(
        "admin_users.html",
        users=users,
        create_form=create_form,
        roles=USER_ROLES,
    )


@bp.get("/users")
def users() -> str:
    return _render_users(UserCreateForm(formdata=None))


@bp.post("/users")
def create_user() -> ResponseReturnValue:
    form = UserCreateForm()
    if not form.validate_on_submit():
        _form_errors(form)
        return _render_users(form), 400
    try:
        user = people.create_user(
            db_session(),
            form.username.data or "",
            form.password.data or "",
            form.role.data or "",
            actor_id=current_user.id,
        )
        commit()
    except LabelingError as exc:
        flash(refusal_text(exc), "error")
        return _render_users(form), 400
    flash(
        _("User %(user)s (%(role)s) created.", user=user.username, role=role_name(user.role)),
        "info",
    )
    return redirect(url_for("admin.users"))


@bp.post("/users/<int:user_id>/role")
def change_role(user_id: int) -> ResponseReturnValue:
    form = RoleForm()
    if form.validate_on_submit():
        try:
            user = people.set_role(
                db_session(), user_id, form.role.data or "", actor_id=current_user.id
            )
            commit()
            flash(
                _("%(user)s is now %(role)s.", user=user.username, role=role_name(user.role)),
                "info",
            )
        except LabelingError as exc:
            flash(refusal_text(exc), "error")
    else:
        _form_errors(form)
    return redirect(url_for("admin.users"))


@bp.post("/users/<int:user_id>/active")
def set_active(user_id: int) -> ResponseReturnValue:
    form = ActiveForm()
    if form.validate_on_submit():
        active = form.active.data == "1"
        try:
            user = people.set_active(db_session(), user_id, active, actor_id=current_user.id)
            commit()
            notice = _("%(user)s reactivated.") if active else _("%(user)s deactivated.")
            flash(notice % {"user": user.username}, "info")
        except LabelingError as exc:
            flash(refusal_text(exc), "error")
    else:
        _form_errors(form)
    return redirect(url_for("admin.users"))


@bp.post("/users/<int:user_id>/password")
def reset_password(user_id: int) -> ResponseReturnValue:
    form = PasswordResetForm()
    if form.validate_on_submit():
        try:
            user = people.reset_password(
                db_session(), user_id, form.password.data or "", actor_id=current_user.id
            )
            commit()
            flash(
                _(
                    "New password set for %(user)s; their sessions have ended. "
                    "Tell them to change it after logging in.",
                    user=user.username,
                ),
                "info",
            )
        except LabelingError as exc:
            flash(refusal_text(exc), "error")
    else:
        _form_errors(form)
    return redirect(url_for("admin.users"))


# Teams -----------------------------------------------------------------------------------


def _reserved() -> frozenset[str]:
    """Mailroom's own addresses: no team may have one (mail there would loop)."""
    settings: Settings = current_app.extensions["mailroom.settings"]
    return settings.own_addresses()


def _definition(form: TeamForm, slug: str = "") -> team_store.TeamDefinition:
    return team_store.TeamDefinition(
        slug=slug,
        name=form.name.data or "",
        description=form.description.data or "",
        forward_address=form.forward_address.data or "",
        imap_folder=form.imap_folder.data or "",
        hotkey=form.hotkey.data or None,
    )


def _render_teams(create_form: TeamCreateForm) -> str:
    return render_template(
        "admin_teams.html",
        rows=team_store.team_overview(db_session()),
        create_form=create_form,
        confirm_form=ConfirmForm(formdata=None),
    )


@bp.get("/teams")
def teams() -> str:
    return _render_teams(TeamCreateForm(formdata=None))


@bp.post("/teams")
def create_team() -> ResponseReturnValue:
    form = TeamCreateForm()
    if not form.validate_on_submit():
        _form_errors(form)
        return _render_teams(form), 400
    try:
        team = team_store.create_team(
            db_session(),
            _definition(form, form.slug.data or ""),
            actor_id=current_user.id,
            reserved=_reserved(),
        )
        commit()
    except LabelingError as exc:
        flash(refusal_text(exc), "error")
        return _render_teams(form), 400
    flash(_("Team %(team)s created.", team=team.name), "info")
    return redirect(url_for("admin.teams"))


def _team_or_404(team_id: int) -> Team:
    team = db_session().get(Team, team_id)
    if team is None:
        abort(404)
    return team


@bp.get("/teams/<int:team_id>")
def edit_team(team_id: int) -> str:
    team = _team_or_404(team_id)
    form = TeamForm(formdata=None, obj=team)
    form.hotkey.data = team.hotkey or ""
    return render_template("admin_team_edit.html", team=team, form=form)


@bp.post("/teams/<int:team_id>")
def update_team(team_id: int) -> ResponseReturnValue:
    team = _team_or_404(team_id)
    form = TeamForm()
    if form.validate_on_submit():
        try:
            team_store.update_team(
                db_session(),
                team_id,
                _definition(form),
                actor_id=current_user.id,
                reserved=_reserved(),
            )
            commit()
        except LabelingError as exc:
            flash(refusal_text(exc), "error")
        else:
            flash(_("Team %(team)s saved.", team=team.name), "info")
            return redirect(url_for("admin.teams"))
    else:
        _form_errors(form)
    return render_template("admin_team_edit.html", team=team, form=form), 400


@bp.post("/teams/<int:team_id>/archive")
def archive_team(team_id: int) -> ResponseReturnValue:
    try:
        team = team_store.archive_team(db_session(), team_id, actor_id=current_user.id)
        commit()
        flash(_("Team %(team)s archived; its labels are kept.", team=team.name), "info")
    except LabelingError as exc:
        flash(refusal_text(exc), "error")
    return redirect(url_for("admin.teams"))


@bp.post("/teams/<int:team_id>/unarchive")
def unarchive_team(team_id: int) -> ResponseReturnValue:
    try:
        team = team_store.unarchive_team(db_session(), team_id, actor_id=current_user.id)
        commit()
        flash(_("Team %(team)s is active again.", team=team.name), "info")
    except LabelingError as exc:
        flash(refusal_text(exc), "error")
    return redirect(url_for("admin.teams"))


# API tokens --------------------------------------------------------------------------------


def _render_tokens(form: ApiTokenForm, new_token: str = "") -> str:
    return render_template(
        "admin_api_tokens.html",
        tokens=api_tokens.list_tokens(db_session()),
        form=form,
        new_token=new_token,
        confirm_form=ConfirmForm(formdata=None),
    )


@bp.get("/api-tokens")
def api_tokens_page() -> str:
    return _render_tokens(ApiTokenForm(formdata=None))


@bp.post("/api-tokens")
def create_api_token() -> ResponseReturnValue:
    form = ApiTokenForm()
    if not form.validate_on_submit():
        _form_errors(form)
        return _render_tokens(form), 400
    try:
        made = api_tokens.create_token(
            db_session(),
            form.name.data or "",
            form.scopes.data or [],
            callback_url=form.callback_url.data or "",
            actor_id=current_user.id,
        )
        commit()
    except LabelingError as exc:
        flash(refusal_text(exc), "error")
        return _render_tokens(form), 400
    # Shown once: only its hash is kept. The page is not cached (security headers).
    flash(_("Token %(name)s made; copy it now, it is not shown again.", name=made.name), "info")
    return _render_tokens(ApiTokenForm(formdata=None), new_token=made.token)


@bp.post("/api-tokens/<int:token_id>/revoke")
def revoke_api_token(token_id: int) -> ResponseReturnValue:
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            row = api_tokens.revoke_token(db_session(), token_id, actor_id=current_user.id)
            commit()
            flash(_("Token %(name)s revoked.", name=row.name), "info")
        except LabelingError as exc:
            flash(refusal_text(exc), "error")
    return redirect(url_for("admin.api_tokens_page"))
