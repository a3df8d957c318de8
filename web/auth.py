"""Login and logout (Flask-Login), with failed logins throttled per username + address.

A session ends (server side, whatever the cookie says) when:

- the user's ``session_version`` moved on since login: logout (every session of the user),
  a password change or reset, deactivation;
- it was idle longer than ``MAILROOM_SESSION_IDLE_MINUTES``;
- it is older than ``MAILROOM_SESSION_MAX_HOURS`` since login.

The cookie carries the version and both times, signed with the app's secret key.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import LoginManager, current_user, login_user, logout_user

from labeling.errors import LabelingError
from labeling.settings import Settings
from labeling.store.people import authenticate, change_password, end_sessions, record_login
from labeling.store.tables import User
from web.db import commit, db_session
from web.forms import LoginForm, PasswordChangeForm
from web.labeling_texts import refusal_text
from web.security import login_throttle

bp = Blueprint("auth", __name__)

login_manager = LoginManager()
# Flask-Login's own redirect is not used: web.security.check_access decides who goes to
# the login page, so there is one place for access rules.
login_manager.session_protection = "strong"


@dataclass(frozen=True)
class CurrentUser:
    """The logged-in person, as Flask-Login sees them (a value, not a database row)."""

    id: int
    username: str
    role: str
    is_active: bool = True
    is_authenticated: bool = True
    is_anonymous: bool = False
    locale: str | None = None  # the interface language they chose (web.i18n)

    def get_id(self) -> str:
        return str(self.id)


@login_manager.user_loader
def _load_user(user_id: str) -> CurrentUser | None:
    # Read on every request, so a deactivated user or a changed role counts at once.
    if not user_id.isdigit():
        return None
    user = db_session().get(User, int(user_id))
    if user is None or not user.active:
        return None
    if session.get(SESSION_VERSION) != user.session_version:
        return None  # revoked: logged out elsewhere, password changed, deactivated
    return CurrentUser(id=user.id, username=user.username, role=user.role, locale=user.locale)


SESSION_VERSION = "sv"
LOGIN_AT = "login_at"
SEEN_AT = "seen_at"


def _settings() -> Settings:
    settings: Settings = current_app.extensions["mailroom.settings"]
    return settings


def check_session_age() -> None:
    """``before_request``: end a session that was idle too long or is too old; else note
    that it was used now. The user loader checks the session version."""
    if "_user_id" not in session:
        return
    settings = _settings()
    now = time.time()
    login_at = session.get(LOGIN_AT)
    seen_at = session.get(SEEN_AT)
    if (
        not isinstance(login_at, (int, float))
        or not isinstance(seen_at, (int, float))
        or now - login_at > settings.session_max_hours * 3600
        or now - seen_at > settings.session_idle_minutes * 60
    ):
        session.clear()
        return
    if now - seen_at >= 30:  # a new cookie at most twice a minute, not on every keypress
        session[SEEN_AT] = now


def _safe_next(target: str | None) -> str | None:
    """``target`` if it is a path on this site (no open redirect), else None."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target:
        return None
    return target


def _client_address() -> str:
    return request.remote_addr or "unknown"


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(url_for("labeling.home"))
    form = LoginForm()
    if request.method == "POST" and form.validate_on_submit():
        username = (form.username.data or "").strip()
        throttle = login_throttle(current_app)
        client = _client_address()
        wait = throttle.retry_after(username, client)
        if wait:
            record_login(db_session(), username, None, "throttled", client)
            commit()
            flash(_("Too many failed logins. Try again in %(n)s seconds.", n=wait), "error")
            page = render_template("login.html", form=form)
            return page, 429, {"Retry-After": str(wait)}
        user = authenticate(db_session(), username, form.password.data or "")
        if user is None:
            throttle.failed(username, client)
            record_login(db_session(), username, None, "failed", client)
            commit()
            flash(_("Unknown username or wrong password."), "error")
            return render_template("login.html", form=form), 200, {}
        throttle.succeeded(username, client)
        record_login(db_session(), username, user.id, "ok", client)
        commit()
        # A fresh session at login: nothing set before it (a planted session) carries over.
        _start_session(user)
        target = _safe_next(request.args.get("next")) or url_for("labeling.home")
        return redirect(target)
    return render_template("login.html", form=form)


def _start_session(user: User) -> None:
    # A fresh session: nothing set before it (a planted session) carries over.
    session.clear()
    session.permanent = True
    now = time.time()
    session[SESSION_VERSION] = user.session_version
    session[LOGIN_AT] = now
    session[SEEN_AT] = now
    login_user(CurrentUser(id=user.id, username=user.username, role=user.role))


@bp.route("/account/password", methods=["GET", "POST"])
def change_password_page() -> ResponseReturnValue:
    form = PasswordChangeForm()
    if request.method == "POST" and form.validate_on_submit():
        if form.new.data != form.confirm.data:
            flash(_("The two new passwords differ."), "error")
            return render_template("account_password.html", form=form), 400
        try:
            user = change_password(
                db_session(), current_user.id, form.current.data or "", form.new.data or ""
            )
            commit()
        except LabelingError as exc:
            flash(refusal_text(exc), "error")
            return render_template("account_password.html", form=form), 400
        # Every other session of theirs has ended; this one goes on with the new version.
        _start_session(user)
        flash(_("Password changed. Your other sessions have ended."), "info")
        return redirect(url_for("labeling.home"))
    return render_template("account_password.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout() -> ResponseReturnValue:
    # Every session of this user ends, so a copy of the cookie is worthless from now on.
    end_sessions(db_session(), current_user.id)
    commit()
    logout_user()
    session.clear()
    flash(_("Logged out."), "info")
    return redirect(url_for("auth.login"))
