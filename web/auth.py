"""Login and logout (Flask-Login), with failed logins throttled per username + address."""

from __future__ import annotations

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
from flask_login import LoginManager, current_user, login_user, logout_user

from labeling.store.people import authenticate
from labeling.store.tables import User
from web.db import db_session
from web.forms import LoginForm
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
    return CurrentUser(id=user.id, username=user.username, role=user.role, locale=user.locale)


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
        wait = throttle.retry_after(username, _client_address())
        if wait:
            flash(f"Too many failed logins. Try again in {wait} seconds.", "error")
            page = render_template("login.html", form=form)
            return page, 429, {"Retry-After": str(wait)}
        user = authenticate(db_session(), username, form.password.data or "")
        if user is None:
            throttle.failed(username, _client_address())
            flash("Unknown username or wrong password.", "error")
            return render_template("login.html", form=form), 200, {}
        throttle.succeeded(username, _client_address())
        # A fresh session at login: nothing set before it (a planted session) carries over.
        session.clear()
        session.permanent = True
        login_user(CurrentUser(id=user.id, username=user.username, role=user.role))
        target = _safe_next(request.args.get("next")) or url_for("labeling.home")
        return redirect(target)
    return render_template("login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout() -> ResponseReturnValue:
    logout_user()
    session.clear()
    flash("Logged out.", "info")
    return redirect(url_for("auth.login"))
