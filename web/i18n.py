"""The interface language: Dutch first, English for who prefers it (Flask-Babel).

:func:`select_locale` decides per request: the language a person chose (``users.locale``,
set with the switch in the top bar), else the best match of what their browser asks for,
else Dutch. Templates mark text with ``_()``; the catalogues live in ``web/translations``
(the extract command is the first line of ``babel.cfg``; then ``update`` and ``compile``;
the compiled ``.mo`` files are committed). Mail and team guidelines are shown
as written: a team's guideline is in the team's own language.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Flask, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import Babel, get_locale, gettext, lazy_gettext
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional

from labeling.store.people import LOCALES, set_locale
from web.db import commit, db_session

DEFAULT_LOCALE = "nl"
TRANSLATIONS = Path(__file__).resolve().parent / "translations"
LANGUAGE_NAMES = {"nl": "Nederlands", "en": "English"}

babel = Babel()


class LanguageForm(FlaskForm):
    """The language switch in the top bar ('' = as the browser asks)."""

    language = SelectField(
        lazy_gettext("Language"),
        choices=[
            SelectChoice("", lazy_gettext("browser")),
            SelectChoice("nl", "Nederlands"),
            SelectChoice("en", "English"),
        ],
        validators=[Optional()],
    )


def N_(text: str) -> str:  # the name pybabel looks for
    """Marks a text for ``pybabel extract`` only; where it is shown, ``_(text)`` translates it."""
    return text


# Texts defined outside web (labeling knows no Babel) that pages show translated with
# ``_(text)``; named here so that pybabel extracts them (tests/unit/test_translations.py
# checks the lists stay in step with labeling's).
OUTSIDE_TEXTS = (
    # labeling.mail.hygiene.KIND_LABELS
    N_("Customer mail"),
    N_("Auto-reply"),
    N_("Bounce"),
    N_("Loop"),
    N_("Bulk or list mail"),
    # labeling.live.stats.AGE_BUCKETS
    N_("under 1 h"),
    N_("1–4 h"),
    N_("4–24 h"),
    N_("1–3 days"),
    N_("over 3 days"),
    # classifier.registry: a model version's status
    N_("candidate"),
    N_("active"),
    N_("retired"),
    N_("rolled-back"),
    N_("rejected"),
    N_("not on disk"),
)

# Words about a live mail's route that pages show as labeling writes them: its route state
# (labeling.store.tables.ROUTE_STATES) and who routed it (labeling.live.review.routed_by).
# Translated only when a value is one of these (a username is shown as it is).
ROUTE_WORDS = (
    N_("new"),
    N_("review"),
    N_("forwarding"),
    N_("forwarded"),
    N_("done"),
    N_("quarantined"),
    N_("the model"),
    N_("its thread"),
    N_("the customer's case"),
    N_("a person"),
    N_("a person no longer here"),
)

# How each role reads (the stored name of a labeller is 'labeler').
ROLE_NAMES = {
    "admin": lazy_gettext("admin"),
    "labeler": lazy_gettext("labeller"),
    "reviewer": lazy_gettext("reviewer"),
}


def role_name(role: str | None) -> str:
    """A role as a person reads it in their language; an unknown one as stored."""
    return str(ROLE_NAMES.get(role or "", role or ""))


def route_word(text: str | None) -> str:
    """A route state or who routed a mail, in the interface language; anything else (a
    username) as it is."""
    if text in ROUTE_WORDS:
        return str(gettext(text))
    return text or ""



bp = Blueprint("i18n", __name__)


def select_locale() -> str:
    chosen = getattr(current_user, "locale", None) if current_user else None
    if chosen in LOCALES:
        return str(chosen)
    return request.accept_languages.best_match(LOCALES) or DEFAULT_LOCALE


def current_locale() -> str:
    return str(get_locale() or DEFAULT_LOCALE)


@bp.post("/language")
def set_language() -> ResponseReturnValue:
    """A person picks their language ('' = as the browser asks); back to the page."""
    form = LanguageForm()
    if form.validate_on_submit():
        set_locale(db_session(), current_user.id, form.language.data or None)
        commit()
    target = request.form.get("next", "")
    safe = target.startswith("/") and not target.startswith("//") and "\\" not in target
    return redirect(target if safe else url_for("labeling.home"))


def init_app(app: Flask) -> None:
    babel.init_app(
        app,
        locale_selector=select_locale,
        default_locale=DEFAULT_LOCALE,
        default_translation_directories=str(TRANSLATIONS),
    )
    app.register_blueprint(bp)
