"""The Dutch catalogue is complete and its compiled form is the one committed."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from labeling.live.stats import AGE_BUCKETS
from labeling.mail.hygiene import KIND_LABELS
from labeling.store.tables import ROUTE_STATES, USER_ROLES
from web.i18n import OUTSIDE_TEXTS, ROLE_NAMES, ROUTE_WORDS

TRANSLATIONS = Path(__file__).resolve().parents[2] / "web" / "translations"


def test_every_text_of_the_interface_has_its_dutch_and_the_compiled_catalogue_is_current() -> None:
    with (TRANSLATIONS / "messages.pot").open("rb") as handle:
        template = read_po(handle)
    with (TRANSLATIONS / "nl" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        dutch = read_po(handle)
    with (TRANSLATIONS / "nl" / "LC_MESSAGES" / "messages.mo").open("rb") as handle:
        compiled = read_mo(handle)
    wanted = {message.id for message in template if message.id}
    translated = {message.id: message.string for message in dutch if message.id}
    assert wanted <= set(translated), sorted(wanted - set(translated))
    assert not [key for key in wanted if not translated[key]], "untranslated texts"
    assert {m.id: m.string for m in compiled if m.id} == translated, "run pybabel compile"


def test_the_names_labeling_gives_the_pages_are_in_the_catalogue() -> None:
    """Kinds of mail, backlog ages and model statuses are defined outside web (no Babel
    there); web/i18n.py names them for pybabel, and must name every one."""
    wanted = {*KIND_LABELS.values(), *(label for _, label in AGE_BUCKETS)}
    assert wanted <= set(OUTSIDE_TEXTS), sorted(wanted - set(OUTSIDE_TEXTS))
    registry = (Path(__file__).resolve().parents[2] / "classifier" / "registry.py").read_text()
    statuses = set(re.findall(r'set_status\([^,]+, "([a-z-]+)"', registry)) | {"candidate"}
    assert statuses <= set(OUTSIDE_TEXTS), sorted(statuses - set(OUTSIDE_TEXTS))
    assert set(USER_ROLES) == set(ROLE_NAMES)
    with (TRANSLATIONS / "messages.pot").open("rb") as handle:
        extracted = {message.id for message in read_po(handle)}
    assert set(OUTSIDE_TEXTS) <= extracted, "run pybabel extract (the command in babel.cfg)"


def test_the_route_words_pages_translate_are_the_ones_labeling_writes() -> None:
    review = (Path(__file__).resolve().parents[2] / "labeling" / "live" / "review.py").read_text()
    routed_by = review[review.index("def routed_by") :][:900]
    names = set(re.findall(r'"([a-z][a-z ]+)"', routed_by)) - {"user", "model", "thread"}
    assert names and names <= set(ROUTE_WORDS), sorted(names - set(ROUTE_WORDS))
    assert set(ROUTE_STATES) <= set(ROUTE_WORDS)
