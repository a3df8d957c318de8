"""Who may do what, and the protections every response carries.

- :data:`ROLE_MATRIX` is the one place that says which roles reach which endpoint.
  :func:`check_access` runs before every request and refuses any endpoint that is not
  listed (default deny), so a new route is closed until someone decides who may use it.
- :func:`security_headers` adds the Content-Security-Policy and friends to every response.
- :func:`message_for` is the check per object: which mail a person may read or label.
- :class:`LoginThrottle` counts failed logins per username + client address.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from flask import Flask, Response, abort, current_app, jsonify, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from flask_login import current_user
from sqlalchemy.orm import Session

from labeling.annotation.queue import was_served
from labeling.errors import ConfigError
from labeling.files import make_private_dir
from labeling.settings import Settings
from labeling.store.tables import Message
from web.i18n import role_name

ADMIN = "admin"
LABELER = "labeler"
REVIEWER = "reviewer"
ALL_ROLES = frozenset({ADMIN, LABELER, REVIEWER})

# The pseudo-role of a visitor who is not logged in; only PUBLIC endpoints include it.
ANONYMOUS = "anonymous"
PUBLIC = frozenset({ANONYMOUS, *ALL_ROLES})
_LABELLING = frozenset({ADMIN, LABELER})
_REVIEWING = frozenset({ADMIN, REVIEWER})
_ADMINS = frozenset({ADMIN})

# Endpoint → roles allowed. Every endpoint of the app must be listed (a test checks it);
# an endpoint missing here is refused for everyone.
ROLE_MATRIX: dict[str, frozenset[str]] = {
    "static": PUBLIC,
    "auth.login": PUBLIC,
    "auth.logout": ALL_ROLES,
    "auth.change_password_page": ALL_ROLES,
    "i18n.set_language": ALL_ROLES,
    "labeling.home": ALL_ROLES,
    "labeling.label_page": _LABELLING,
    "labeling.agreement": _REVIEWING,
    "labeling.disagreements": _REVIEWING,
    "labeling.adjudicate": _REVIEWING,
    "api.next_message": _LABELLING,
    "api.label": _LABELLING,
    "api.skip": _LABELLING,
    "api.undo": _LABELLING,
    "api.label_group": _LABELLING,
    "api.message_html": _LABELLING,
    "api.progress": _LABELLING,
    "api.open_message": _LABELLING,
    "api.skipped": _LABELLING,
    "api.unskip": _LABELLING,
    "admin.index": _ADMINS,
    "admin.users": _ADMINS,
    "admin.create_user": _ADMINS,
    "admin.change_role": _ADMINS,
    "admin.set_active": _ADMINS,
    "admin.reset_password": _ADMINS,
    "admin.teams": _ADMINS,
    "admin.create_team": _ADMINS,
    "admin.edit_team": _ADMINS,
    "admin.update_team": _ADMINS,
    "admin.archive_team": _ADMINS,
    "admin.unarchive_team": _ADMINS,
    # Admin rules tried before the model (web/rules_views.py).
    "rules.index": _ADMINS,
    "rules.create": _ADMINS,
    "rules.edit": _ADMINS,
    "rules.update": _ADMINS,
    "rules.move": _ADMINS,
    "rules.enable": _ADMINS,
    "rules.delete": _ADMINS,
    # Review of low-confidence mail and misroute reports (web/review_views.py).
    "review.queue": _REVIEWING,
    "review.decide": _REVIEWING,
    "review.decide_group": _REVIEWING,
    "review.handled": _REVIEWING,
    "review.no_team": _REVIEWING,
    "review.routed": _REVIEWING,
    "review.mail": _REVIEWING,
    "review.pass_over": _REVIEWING,
    "review.send_back": _REVIEWING,
    # Admin dashboard; health and Prometheus metrics (web/dashboard_views.py). The last two
    # carry aggregate numbers only, never mail content, so a monitor may read them.
    "dashboard.index": _ADMINS,
    # The target precision and what it costs (web/thresholds_views.py).
    "thresholds.index": _ADMINS,
    "thresholds.set_target": _ADMINS,
    # The HTTP API for other systems (web/api_v1.py): no login, a scoped API token checked
    # by each view (the OpenAPI description needs none).
    "api_v1.classify": PUBLIC,
    "api_v1.create_ticket": PUBLIC,
    "api_v1.ticket_status": PUBLIC,
    "api_v1.openapi": PUBLIC,
    # API tokens (web/admin.py).
    "admin.api_tokens_page": _ADMINS,
    "admin.create_api_token": _ADMINS,
    "admin.revoke_api_token": _ADMINS,
    "dashboard.healthz": PUBLIC,
    "dashboard.metrics": PUBLIC,
}


def sees_original(role: str | None, settings: Settings) -> bool:
    """Whether a person with ``role`` reads mail as it is, or pseudonymised: labellers
    never see the identity, reviewers only when MAILROOM_PSEUDONYMISE_REVIEWERS is off,
    admins always (they answer access and erasure requests)."""
    if role == ADMIN:
        return True
    if role == REVIEWER:
        return not settings.pseudonymise_reviewers
    return False


def message_for(session: Session, message_id: int, *, labelling: bool) -> Message:
    """The mail ``message_id`` when the current user may read it (``labelling`` False) or
    label it; else 404, so a refusal does not tell whether the mail exists.

    Default deny per object, on top of :data:`ROLE_MATRIX` per route:

    - live mail is for reviewers and admins to read, and is never labelled (review
      decides it);
    - archive mail: admins any; a labeller only mail the queue served to them
      (``served_mail``), so sequential ids do not open the archive; reviewers none here
      (they see archive mail through the disagreements page).
    """
    message = session.get(Message, message_id)
    if message is None:
        abort(404)
    role = current_user.role
    if message.origin != "archive":
        if labelling or role not in (ADMIN, REVIEWER):
            abort(404)
        return message
    if role == ADMIN:
        return message
    if role == LABELER and was_served(session, current_user.id, message_id):
        return message
    abort(404)


def allowed(endpoint: str, role: str | None) -> bool:
    """Whether a user with ``role`` (None: not logged in) may use ``endpoint``."""
    return (role or ANONYMOUS) in ROLE_MATRIX.get(endpoint, frozenset())


def _wants_json() -> bool:
    return request.blueprint == "api"


def check_access() -> ResponseReturnValue | None:
    """``before_request``: enforce :data:`ROLE_MATRIX` (default deny)."""
    endpoint = request.endpoint
    if endpoint is None:
        return None  # no route matched: let the 404/405 through
    roles = ROLE_MATRIX.get(endpoint)
    if roles is None:
        abort(403)
    if ANONYMOUS in roles:
        return None
    if not current_user.is_authenticated:
        if _wants_json():
            response = jsonify(error="not logged in")
            response.status_code = 401
            return response
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    if current_user.role not in roles:
        abort(403, description=refusal(roles, current_user.role))
    return None


def refusal(roles: frozenset[str], role: str | None) -> str:
    """Why a page is refused: which role it needs, and which one the person has (in the
    interface language)."""
    names = [role_name(r) for r in (ADMIN, REVIEWER, LABELER) if r in roles]
    if not names:
        return gettext("This page is not open to anyone.")
    needed = gettext(" or ").join(names)
    you = role_name(role) if role else gettext("not signed in")
    return gettext(
        "This page needs the role %(needed)s; you are signed in as %(you)s. "
        "Ask an admin if your work needs it.",
        needed=needed,
        you=you,
    )


CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


def security_headers(response: Response) -> ResponseReturnValue:
    """``after_request``: CSP and related headers on every response, static files included."""
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"  # for browsers without frame-ancestors
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    if request.endpoint != "static":
        # Pages and JSON carry customers' mail: keep them out of shared caches and history.
        response.headers["Cache-Control"] = "no-store"
    settings: Settings = current_app.extensions["mailroom.settings"]
    if settings.public_url.startswith("https://"):
        # Served over TLS (behind a proxy that terminates it): browsers never try http.
        response.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    return response


# Login throttling ---------------------------------------------------------------------


class LoginThrottle:
    """Failed logins per (username, client address) and per address, in a sliding window.

    Kept in memory, per process: ``mailroom serve`` runs one process (waitress, threads),
    so every request sees the same counts; a restart forgets them, which only gives an
    attacker a fresh window of a few guesses. ``clock`` is a seam for tests.
    """

    def __init__(
        self,
        *,
        per_user: int = 5,
        per_address: int = 30,
        window_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_user = per_user
        # Many usernames from one address is password spraying; a looser cap stops that too.
        self.per_address = per_address
        self.window_s = window_s
        self.clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and now - times[0] >= self.window_s:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def retry_after(self, username: str, address: str) -> int:
        """Seconds until this username may try again from this address; 0 when it may now."""
        now = self.clock()
        with self._lock:
            waits = []
            for key, limit in self._keys(username, address):
                times = self._recent(key, now)
                if len(times) >= limit:
                    waits.append(times[0] + self.window_s - now)
        return max(1, round(max(waits))) if waits else 0

    def failed(self, username: str, address: str) -> None:
        now = self.clock()
        with self._lock:
            for key, _limit in self._keys(username, address):
                self._recent(key, now)
                self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, username: str, address: str) -> None:
        with self._lock:
            self._failures.pop(("user", f"{username.casefold()}\0{address}"), None)

    def _keys(self, username: str, address: str) -> list[tuple[tuple[str, str], int]]:
        return [
            (("user", f"{username.casefold()}\0{address}"), self.per_user),
            (("address", address), self.per_address),
        ]


def login_throttle(app: Flask) -> LoginThrottle:
    throttle: LoginThrottle = app.extensions["mailroom.login_throttle"]
    return throttle


# Secret key ---------------------------------------------------------------------------

SECRET_KEY_FILE = "secret_key"


def secret_key(settings: Settings) -> str:
    """``settings.secret_key``, or a random key kept in the instance folder (made once).

    Kept on disk so sessions survive a restart; readable by the owner only.
    """
    if settings.secret_key:
        return settings.secret_key
    path: Path = settings.instance_path / SECRET_KEY_FILE
    try:
        key = path.read_text(encoding="ascii").strip()
        if key:
            return key
        # An empty file (a disk that filled up, a truncated copy) would sign every cookie
        # with "": replace it with a fresh key (sessions signed before were lost anyway).
        return _write_key(path, replace_empty=True)
    except FileNotFoundError:
        pass
    except UnicodeDecodeError:
        raise ConfigError(
            f"{path} is not a Mailroom secret key (not ASCII); delete it to have a new one "
            "made, or set MAILROOM_SECRET_KEY"
        ) from None
    return _write_key(path, replace_empty=False)


def _write_key(path: Path, *, replace_empty: bool) -> str:
    make_private_dir(path.parent)
    key = secrets.token_hex(32)
    if replace_empty:
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(key)
        os.replace(temporary, path)
        return path.read_text(encoding="ascii").strip()
    # O_EXCL: two processes starting at once must not each write a different key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key)
    return key
