"""The interface language: Dutch first, English for who prefers it (Flask-Babel).

:func:`select_locale` decides per request: the language a person chose (``users.locale``,
set with the switch in the top bar), else the best match of what their browser asks for,
else Dutch. Templates mark text with ``_()``; the catalogues live in ``web/translations``
(``pybabel extract -F babel.cfg -o web/translations/messages.pot .``, then ``update`` and
``compile``; the compiled ``.mo`` files are committed). Mail and team guidelines are shown
as written: a team's guideline is in the team's own language.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Flask, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import Babel, get_locale
from flask_login import current_user

from labeling.store.people import LOCALES, set_locale
from web.db import commit, db_session

DEFAULT_LOCALE = "nl"
TRANSLATIONS = Path(__file__).resolve().parent / "translations"
LANGUAGE_NAMES = {"nl": "Nederlands", "en": "English"}

babel = Babel()
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
    from web.forms import LanguageForm

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
