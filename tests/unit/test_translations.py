"""The Dutch catalogue is complete and its compiled form is the one committed."""

from __future__ import annotations

from pathlib import Path

from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

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
