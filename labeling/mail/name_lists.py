"""Word lists the pseudonymiser looks names, streets and places up in.

The Dutch lists (first names, surnames, name interfixes, streets, places, common words) are
read from the data files of the ``deduce`` package (LGPL-3.0-or-later; see pyproject.toml),
installed without its dependencies: only its text files are read, the package itself is
never imported, and nothing is downloaded. English mail needs a few words of its own, kept
here (written for this project): English words that are also first names, so a capitalised
"Will" or "Grace" at the start of a sentence is not taken for a name without context.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from labeling.errors import ConfigError


def word_set(words: str) -> frozenset[str]:
    """The whitespace-separated words of ``words``."""
    return frozenset(words.split())


DEDUCE_HINT = "install it with: .venv/bin/python -m pip install --no-deps 'deduce==3.0.6'"

# English words (casefolded) that are also in the first-name list, or that a mail often
# capitalises, which alone are never taken for a name.
ENGLISH_COMMON = word_set(
    """
    a about after all also am an and any april are as at august autumn be best bill but by
    can case chase claim clay cliff dawn dear do dot eve faith for frank from further
    glad grace guy happy have he her here hi his hope how i if in is it iris its ivy jack
    joy june just kind king lane long major mark max may me miles mine more my no not of
    on or our page park pat penny per please price rich rose ruby say see sent she so
    sterling still summer sunny thank thanks that the their then there they this to today
    tomorrow unity very victor wade was we will winter with without yes yesterday you your
    """
)

# Dutch words a mail capitalises that the name lists also hold (casefolded), on top of
# deduce's own common-word and stop-word lists.
DUTCH_COMMON = word_set(
    """
    alvast bedankt beste betreft dag dank datum fijne geachte graag groet groeten groetjes
    hallo hartelijke hoi hierbij klant klantenservice lieve mvg namens nog onderwerp polis
    schade tel telefoon vriendelijke zie
    """
)


@dataclass(frozen=True)
class NameLists:
    """Casefolded word lists; ``interfixes`` hold multi-word entries ("van der")."""

    first_names: frozenset[str]
    surnames: frozenset[str]
    interfixes: frozenset[str]
    common_words: frozenset[str]
    streets: frozenset[str]
    places: frozenset[str]

    def is_common(self, word: str) -> bool:
        return word.casefold() in self.common_words


def _deduce_lookup() -> Path:
    spec = importlib.util.find_spec("deduce")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        path = Path(location) / "data" / "lookup" / "src"
        if path.is_dir():
            return path
    raise ConfigError(f"the pseudonymiser needs deduce's name lists; {DEDUCE_HINT}")


def _read(path: Path) -> set[str]:
    if not path.is_file():
        return set()
    return {
        line.strip().casefold()
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    }


def _items(folder: Path) -> set[str]:
    return _read(folder / "items.txt") - _read(folder / "exceptions.txt")


@lru_cache(maxsize=1)
def load_name_lists() -> NameLists:
    """The lists, read once per process (about 0.3 s; 190k entries, mostly streets).

    Raises :class:`ConfigError` when deduce's data files are not installed."""
    root = _deduce_lookup()
    names = root / "names"
    places = set()
    for kind in ("lst_residence", "lst_municipality", "lst_province", "lst_region"):
        places |= _items(root / "locations" / "lst_placename" / kind)
    common = (
        _read(root / "whitelist" / "lst_common_word" / "items.txt")
        | _read(root / "whitelist" / "lst_stop_word" / "items.txt")
        | ENGLISH_COMMON
        | DUTCH_COMMON
    )
    return NameLists(
        first_names=frozenset(_items(names / "lst_first_name")),
        surnames=frozenset(_items(names / "lst_surname") | _items(names / "lst_interfix_surname")),
        interfixes=frozenset(_read(names / "lst_interfix" / "items.txt")),
        common_words=frozenset(common),
        streets=frozenset(_items(root / "locations" / "lst_street")),
        places=frozenset(places),
    )
