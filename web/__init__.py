"""The Flask app factory and its blueprints: login (auth), labelling and agreement
(labeling_views), admin, and the JSON API the labelling page talks to.

No app exists at import time: :func:`create_app` builds one from :class:`Settings` (read
from the environment when none is given), so ``flask --app web run`` and ``mailroom serve``
both go through it, and tests pass their own settings.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from flask import Flask, Response, current_app, g, jsonify, render_template, request
from flask_babel import gettext
from flask_login import current_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from labeling.errors import StoreError
from labeling.mail.hygiene import KIND_LABELS
from labeling.settings import Settings, load_settings
from labeling.store.db import store_error
from web import db, display, i18n, labeling_texts
from web.assets import cache_seconds, static_url
from web.i18n import N_
from web.security import (
    ROLE_MATRIX,
    LoginThrottle,
    allowed,
    check_access,
    secret_key,
    security_headers,
)

csrf = CSRFProtect()

# Requests larger than this are refused (413): the app only receives forms and small JSON.
MAX_REQUEST_BYTES = 1024 * 1024


class _MailroomFlask(Flask):
    def get_send_file_max_age(self, filename: str | None) -> int | None:
        # Static URLs carry a content hash (web.assets.static_url), so they may be cached.
        return cache_seconds()


log = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None, *, config: Mapping[str, Any] | None = None
) -> Flask:
    """Build the web app.

    ``config`` overrides Flask settings (``TESTING``, ``SESSION_COOKIE_SECURE`` …). The
    session cookie is ``Secure`` unless the app runs in debug or testing mode, or
    ``config`` says otherwise. Raises :class:`MigrationError` when the database schema is
    not current.
    """
    settings = settings if settings is not None else load_settings()
    app = _MailroomFlask(__name__, instance_path=str(settings.instance_path))
    app.config.update(
        SECRET_KEY=secret_key(settings),
        SESSION_COOKIE_NAME="mailroom_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # The cookie's own lifetime; web.auth ends sessions server side (idle, absolute
        # and revoked) whatever the cookie says.
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.session_max_hours),
        # The token lives as long as the session: a labeller who keeps the page open for
        # hours must not see their keypresses refused after the default hour.
        WTF_CSRF_TIME_LIMIT=None,
        MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
    )
    app.config.update(config or {})
    if "SESSION_COOKIE_SECURE" not in (config or {}):
        app.config["SESSION_COOKIE_SECURE"] = not (app.debug or app.testing)
    app.extensions["mailroom.settings"] = settings
    app.extensions["mailroom.login_throttle"] = LoginThrottle(
        per_user=settings.login_attempts_per_account,
        per_address=settings.login_attempts_per_client,
        window_s=settings.login_window_seconds,
    )
    if settings.trusted_proxies:
        # Behind a reverse proxy every request comes from the proxy's address: the client's
        # own address (for throttling and the audit log) is in X-Forwarded-For, believed
        # only for the hops configured (a client can write the header itself).
        hops = settings.trusted_proxies
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops
        )

    db.init_app(app, settings)

    from web import (
        admin,
        api,
        api_v1,
        auth,
        dashboard_views,
        labeling_views,
        review_views,
        rules_views,
        thresholds_views,
    )

    auth.login_manager.init_app(app)
    blueprints = (
        auth.bp,
        labeling_views.bp,
        review_views.bp,
        dashboard_views.bp,
        thresholds_views.bp,
        admin.bp,
        rules_views.bp,
        api.bp,
        api_v1.bp,
    )
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    i18n.init_app(app)

    # Order matters: the clock starts first, access is checked before CSRF (an anonymous
    # POST goes to the login page rather than to a CSRF error).
    app.before_request(_start_clock)
    app.before_request(auth.check_session_age)
    app.before_request(check_access)
    csrf.init_app(app)
    # /api/v1 takes a token in a header, which a browser never sends on its own: no CSRF.
    csrf.exempt(api_v1.bp)
    app.after_request(security_headers)
    app.after_request(_server_timing)

    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(StoreError, _store_error)
    app.register_error_handler(OperationalError, _database_error)

    app.add_template_filter(display.percent, "percent")
    app.add_template_filter(display.filesize, "filesize")
    app.add_template_filter(display.duration, "duration")
    app.add_template_filter(display.decimal, "decimal")
    app.add_template_global(display.percent_apart, "percent_apart")
    app.add_template_global(labeling_texts.explanation_text, "explanation_text")

    @app.context_processor
    def _template_helpers() -> dict[str, Any]:
        role = current_user.role if current_user.is_authenticated else None
        return {
            "static_url": static_url,
            "can": lambda endpoint: allowed(endpoint, role),
            "kind_labels": KIND_LABELS,
            "role_name": i18n.role_name,
            "route_word": i18n.route_word,
            "current_locale": i18n.current_locale,
            "language_names": i18n.LANGUAGE_NAMES,
        }

    _check_role_matrix(app)
    return app


def _check_role_matrix(app: Flask) -> None:
    # Default deny already refuses an unlisted endpoint; failing here says so at startup.
    missing = sorted({rule.endpoint for rule in app.url_map.iter_rules()} - set(ROLE_MATRIX))
    if missing:
        raise RuntimeError(f"endpoints missing from web.security.ROLE_MATRIX: {missing}")


def _start_clock() -> None:
    g.request_started = time.perf_counter()


def _server_timing(response: Response) -> Response:
    # In debug only: timings help a developer, and tell an attacker what a request cost
    # (which usernames exist, which ids hold mail).
    if not current_app.debug:
        return response
    started = g.get("request_started")
    if started is not None:
        elapsed_ms = (time.perf_counter() - started) * 1000
        response.headers["Server-Timing"] = f"app;dur={elapsed_ms:.1f}"
    return response


def _wants_json() -> bool:
    return request.blueprint == "api" or request.path.startswith("/api/")


# The HTTP errors people meet, in the interface language: (title, message when the code
# that raised it gave no description of its own).
_HTTP_TEXTS = {
    400: (N_("Bad request"), N_("The server could not read this request.")),
    401: (N_("Not logged in"), N_("Log in to open this page.")),
    403: (N_("No access"), N_("You may not open this page.")),
    404: (N_("Not found"), N_("This page or mail does not exist (any more).")),
    405: (N_("Not allowed"), N_("This page does not take this kind of request.")),
    409: (N_("Conflict"), N_("This could not be done now; reload the page.")),
    413: (N_("Too large"), N_("What was sent is larger than the server accepts.")),
    429: (N_("Too many requests"), N_("Wait a moment and try again.")),
    500: (N_("Server error"), N_("Something went wrong on the server; try again later.")),
}


def _http_error(exc: HTTPException) -> Response | tuple[Response | str, int]:
    code = exc.code or 500
    title, default = _HTTP_TEXTS.get(code, (exc.name, exc.name))
    if isinstance(exc, CSRFError):
        message = gettext(
            "The form expired or was not sent from this site. Reload the page and try again."
        )
    elif exc.description and exc.description != type(exc).description:
        message = exc.description  # said by our code, already in the person's language
    else:
        message = gettext(default)
    if _wants_json():
        return jsonify(error=message), code
    page = render_template("error.html", code=code, title=gettext(title), message=message)
    return page, code


# Seconds a client is asked to wait after the database was busy or unavailable.
RETRY_AFTER_S = 5


def _store_error(exc: StoreError) -> tuple[Response | str, int, dict[str, str]]:
    """503 with Retry-After: a lock that outlived the busy timeout (another writer: an
    import, the worker's burst) or a database that is down is a reason to come back, not
    a server error."""
    if exc.locked:
        log.warning(
            "%s %s: %s (503, retry after %d s)", request.method, request.path, exc, RETRY_AFTER_S
        )
    else:
        log.error("%s %s: %s", request.method, request.path, exc)
    headers = {"Retry-After": str(RETRY_AFTER_S)}
    if _wants_json():
        return jsonify(error=str(exc)), 503, headers
    # Only now the language: choosing it may read the person's row, which a rolled-back
    # session reloads from a database that may still be locked.
    if exc.locked:
        title = gettext("The database is busy")
        message = gettext("Another task is writing; try again in a few seconds.")
    else:
        title = gettext("Database error")
        message = gettext("The database did not answer; try again in a moment.")
    page = render_template("error.html", code=503, title=title, message=f"{message} ({exc})")
    return page, 503, headers


def _database_error(exc: OperationalError) -> tuple[Response | str, int, dict[str, str]]:
    """A database error a view did not translate (a query outside :func:`web.db.commit`)."""
    with contextlib.suppress(Exception):
        db.rollback_request()
    return _store_error(store_error(exc, "reading or saving"))
