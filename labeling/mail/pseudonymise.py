"""Pseudonymising mail: personal details replaced by consistent placeholders, pure.

``Jan Jansen, NL91 ABNA 0417 1643 00, 06-12345678`` becomes ``[NAAM-1], [IBAN-1],
[TELEFOON-1]``; the same value gets the same placeholder everywhere in one mail (subject,
text, quote, signature, sender, HTML), and a surname or first name alone gets the number of
the full name it belongs to. Numbers start at 1 in every mail, so placeholders say nothing
across mails.

What is found, and how (each candidate is checked before it is replaced):

========================  ==================================================================
kind (placeholder)        found by
========================  ==================================================================
``EMAIL``                 the address shape; role addresses (info@, service@ …) are kept
``IBAN``                  country code + check digits, then the country's IBAN length and
                          BBAN structure (schwifty); a wrong checksum is still an account
``BSN``                   nine digits passing the 11-proef (python-stdnum), or any eight or
                          nine digits right after "BSN"/"burgerservicenummer"
``TELEFOON``              digit runs starting with 0, + or 00 that phonenumbers (region NL)
                          finds possible; dates are not numbers
``KENTEKEN``              the Dutch side codes 1-14 (``XX-999-X``, ``9-XXX-99`` …), or six
                          letters/digits after "kenteken"
``POSTCODE``              ``9999 XX`` accepted by python-stdnum
``ADRES``                 a street (deduce's list, or a street-like word such as
                          ``…straat``/``…laan``) followed by a house number
``GEBOORTEDATUM``         a date within 40 characters after "geboortedatum", "geboren",
                          "date of birth" …
``NAAM``                  where mail puts names: the sender's display name, greetings
                          ("Beste Jan,", "Geachte heer Jansen,", "Dear Mr Smith,"), the line
                          after a sign-off, titles (heer, mevrouw, Mr …), "mijn moeder, …",
                          "X <address>" in quote headers; anywhere, a first name from deduce's
                          list followed by a surname, and initials with a surname; then every
                          other occurrence of a name found so
organisation kinds        the linear-time patterns of ``MAILROOM_PSEUDONYMISE_PATTERNS``
                          (placeholder label → regular expression; a group named ``value``
                          narrows what is replaced); default: the demo insurer's policy,
                          claim, quote, invoice and customer numbers
========================  ==================================================================

Every regular expression here (and every configured one, see :func:`check_linear`) has only
bounded repeats, none nested in another: matching is linear in the text's length.
Values in the keep list (the organisation's own name, phone numbers, addresses) are left.
"""

from __future__ import annotations

import bisect
import importlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from html import escape as html_escape
from typing import Any

from labeling.mail.name_lists import NameLists, load_name_lists, word_set

NAME = "NAAM"
EMAIL = "EMAIL"
PHONE = "TELEFOON"
IBAN = "IBAN"
BSN = "BSN"
ADDRESS = "ADRES"
POSTCODE = "POSTCODE"
PLATE = "KENTEKEN"
BIRTH_DATE = "GEBOORTEDATUM"
BUILT_IN_KINDS = (NAME, EMAIL, PHONE, IBAN, BSN, ADDRESS, POSTCODE, PLATE, BIRTH_DATE)

# The demo insurer's (Polderzeker's) own numbers; an organisation sets its own.
DEFAULT_ORG_PATTERNS: dict[str, str] = {
    "POLIS": r"(?i)(?<![\w.,-])(?:PZ-?\d{8}|\d{2}\.\d{3}\.\d{3}|\d{8})(?![\w-]|[.,]\d)",
    "SCHADE": r"(?i)(?<![\w-])S(?:CH)?-\d{4}-\d{5}(?![\w-])",
    "OFFERTE": r"(?i)(?<![\w-])OFF-\d{6}(?![\w-])",
    "FACTUUR": r"(?i)(?<![\w-])F\d{4}-\d{7}(?![\w-])",
    "RELATIE": r"(?i:klantnummer|relatienummer|customer number|client number)"
    r"[ \t:]{0,3}(?:is[ \t:]{1,3})?(?P<value>\d{5,10})(?!\d)",
}
# The demo insurer's own name and numbers: not personal, left as they are.
DEFAULT_KEEP = ("Polderzeker", "088-000 1234")

# Overlapping finds: the earlier kind in this order wins.
_PRIORITY = (EMAIL, IBAN, PHONE, "org", BSN, PLATE, POSTCODE, BIRTH_DATE, ADDRESS, NAME)
_PLACEHOLDER = re.compile(r"\[[A-Z]{2,20}-\d{1,4}\]")
_LABEL = re.compile(r"[A-Z]{2,20}")

# Longest repeat a configured pattern may have; see check_linear.
MAX_REPEAT = 255


@dataclass(frozen=True, slots=True)
class Found:
    """A personal detail in one text: ``text[start:end] == value``, of ``kind`` (a label)."""

    start: int
    end: int
    kind: str
    value: str


# --- linear-time patterns ------------------------------------------------------------------

_parser: Any = importlib.import_module("re._parser")
_constants: Any = importlib.import_module("re._constants")
_REPEATS = {
    _constants.MAX_REPEAT,
    _constants.MIN_REPEAT,
    getattr(_constants, "POSSESSIVE_REPEAT", _constants.MAX_REPEAT),
}


def check_linear(pattern: str) -> re.Pattern[str]:
    """Compile ``pattern`` if matching it takes time linear in the text, else ValueError.

    Accepted: every repeat bounded (at most :data:`MAX_REPEAT`), no repeat inside another,
    no back-references. Such a pattern can only backtrack a bounded number of steps from
    each position, whatever the text.
    """
    try:
        compiled = re.compile(pattern)
        tree = _parser.parse(pattern)
    except re.error as exc:
        raise ValueError(f"{pattern!r} is not a regular expression: {exc}") from None
    _walk(tree, pattern, inside_repeat=False)
    return compiled


def check_label(label: str) -> str:
    """``label`` if it can name placeholders of a configured kind, else ValueError."""
    if not _LABEL.fullmatch(label) or label in BUILT_IN_KINDS:
        raise ValueError(
            f"placeholder label {label!r}: use 2-20 capital letters, not a built-in kind "
            f"({', '.join(BUILT_IN_KINDS)})"
        )
    return label


def _walk(items: Iterable[Any], pattern: str, *, inside_repeat: bool) -> None:
    for op, arg in items:
        if op in _REPEATS:
            low, high, sub = arg
            if inside_repeat:
                raise ValueError(f"{pattern!r}: a repeat inside a repeat may backtrack badly")
            if high == _constants.MAXREPEAT or high > MAX_REPEAT:
                raise ValueError(
                    f"{pattern!r}: unbounded repeat; write {{0,{MAX_REPEAT}}} or less "
                    "instead of * or +"
                )
            # x? and x{n} do not multiply the ways a match can be tried.
            _walk(sub, pattern, inside_repeat=high > 1 and low != high)
        elif op in (_constants.GROUPREF, _constants.GROUPREF_EXISTS):
            raise ValueError(f"{pattern!r}: back-references are not allowed")
        elif op == _constants.SUBPATTERN:
            _walk(arg[-1], pattern, inside_repeat=inside_repeat)
        elif op == _constants.BRANCH:
            for branch in arg[1]:
                _walk(branch, pattern, inside_repeat=inside_repeat)
        elif op in (_constants.ASSERT, _constants.ASSERT_NOT):
            _walk(arg[1], pattern, inside_repeat=inside_repeat)
        elif op == _constants.ATOMIC_GROUP:
            _walk(arg, pattern, inside_repeat=inside_repeat)


def _rx(pattern: str, flags: int = 0) -> re.Pattern[str]:
    check_linear(pattern)
    return re.compile(pattern, flags)


# --- the patterns --------------------------------------------------------------------------

_EMAIL = _rx(r"(?<![\w.%+'-])[\w.%+'-]{1,64}@[A-Za-z0-9][A-Za-z0-9.-]{0,252}")
_ROLE_MAILBOXES = word_set(
    """info service klantenservice support helpdesk contact noreply no-reply postmaster
    mailer-daemon admin administratie sales privacy webmaster schade claims offerte
    facturen"""
)
_IBAN = _rx(r"(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}[ ]?[A-Za-z0-9]{4}[A-Za-z0-9 \t\n]{6,34}")
_BSN = _rx(r"(?<![\d.,])(?:\d{9}|\d{3}[. ]\d{3}[. ]\d{3}|\d{4}\.\d{2}\.\d{3})(?!\d|[.,]\d)")
_BSN_CONTEXT = _rx(
    r"(?i:\bbsn|burgerservicenummer|sofinummer)[ \t:.]{0,4}(?:is[ \t:]{1,3})?"
    r"(?P<value>\d[\d. ]{6,10}\d)(?!\d)"
)
_PHONE = _rx(r"(?<![\w+])(?:\+|00)?\(?\d[\d ()./-]{5,18}\d(?!\d)")
_DATE_SHAPE = _rx(r"\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}")
_PLATE = _rx(
    r"(?<![\w-])(?:"
    r"[A-Z]{2}-\d{2}-\d{2}|\d{2}-\d{2}-[A-Z]{2}|\d{2}-[A-Z]{2}-\d{2}|[A-Z]{2}-\d{2}-[A-Z]{2}|"
    r"[A-Z]{2}-[A-Z]{2}-\d{2}|\d{2}-[A-Z]{2}-[A-Z]{2}|\d{2}-[A-Z]{3}-\d|\d-[A-Z]{3}-\d{2}|"
    r"[A-Z]{2}-\d{3}-[A-Z]|[A-Z]-\d{3}-[A-Z]{2}|[A-Z]{3}-\d{2}-[A-Z]|[A-Z]-\d{2}-[A-Z]{3}|"
    r"\d-[A-Z]{2}-\d{3}|\d{3}-[A-Z]{2}-\d"
    r")(?![\w-])",
    re.IGNORECASE,
)
_PLATE_CONTEXT = _rx(
    r"(?i:kenteken|licen[cs]e plate|registration)[ \t:]{0,3}(?P<value>[A-Z0-9]{6})(?![\w-])",
    re.IGNORECASE,
)
_POSTCODE = _rx(r"(?<![\w-])[1-9]\d{3} ?[A-Za-z]{2}(?![\w-])")
_BIRTH_CONTEXT = _rx(
    r"(?i:(?:geboortedatum|geboren|date of birth|birth date|birthday|born)\b|geb\.)"
)
_MONTHS = (
    "januari|februari|maart|april|mei|juni|juli|augustus|september|oktober|november|"
    "december|january|february|march|may|june|july|august|october|"
    "jan|feb|mrt|mar|apr|jun|jul|aug|sep|sept|okt|oct|nov|dec"
)
_DATE = _rx(
    rf"(?<!\d)(?:\d{{1,2}}[-/.]\d{{1,2}}[-/.]\d{{2,4}}|\d{{1,2}} (?:{_MONTHS})\.?(?: \d{{4}})?"
    rf"|(?:{_MONTHS}) \d{{1,2}},? \d{{4}})(?!\d)",
    re.IGNORECASE,
)
_BIRTH_WINDOW = 40
_HOUSE_NUMBER = _rx(r"(?<![\w.,/-])\d{1,5}(?:[ -]?[A-Za-z](?![\w])|-\d{1,4})?(?![\w-]|[.,]\d)")
_STREET_SUFFIXES = (
    "straat", "weg", "laan", "plein", "kade", "gracht", "singel", "pad", "hof", "dijk",
    "dreef", "park", "steeg", "markt", "baan", "wal", "diep", "veld", "zicht", "plantsoen",
    "boulevard", "erf", "dam", "burcht", "haven", "street", "road", "lane", "avenue",
)
# A word: letters, with inner apostrophes or hyphens (O'Connor, Tjon-A-Fong).
_WORD = _rx(r"[^\W\d_](?:[^\W\d_]|['’-](?=[^\W\d_])){0,60}")
_GREETING = _rx(
    r"(?im)^[ \t>]{0,8}(?:beste|geachte|hallo|hoi|hi|hey|dag|lieve|dear|hello|"
    r"goedemorgen|goedemiddag|goedenavond|good morning|good afternoon)\b[ \t]{0,4}"
)
_SIGN_OFF = _rx(
    r"(?im)^[ \t>]{0,8}(?:met vriendelijke groet(?:en)?|vriendelijke groet(?:en)?|"
    r"met hartelijke groet(?:en)?|hartelijke groet(?:en)?|met groet|groet(?:en|jes)?|"
    r"mvg|m\.v\.g\.?|gr|grt|grtz|hoogachtend|alvast bedankt|bedankt|dank je wel|dank u wel|"
    r"kind regards|best regards|warm regards|regards|best wishes|many thanks|thanks|"
    r"thank you|cheers|yours sincerely|yours faithfully|sincerely)\b[ \t,.!]{0,4}"
)
# Case matters: "MS" after a postcode is not "Ms".
_TITLE = _rx(
    r"\b(?:[Hh]eer/[Mm]evrouw|[Hh]eer|[Mm]evrouw|[Mm]evr\.?|[Mm]w\.|[Dd]hr\.?|[Mm]eneer|"
    r"Mr\.?|Mrs\.?|Ms\.?|Miss|Dr\.|[Dd]rs\.|[Ii]r\.)(?![\w/])[ \t]{1,3}"
)
_RELATION = _rx(
    r"(?i)\b(?:(?:mijn|onze|my|our)[ \t]{1,3}(?:zoon|dochter|vader|moeder|man|vrouw|"
    r"echtgenoot|echtgenote|partner|schoonmoeder|schoonvader|broer|zus|opa|oma|buurman|"
    r"buurvrouw|son|daughter|father|mother|husband|wife|brother|sister|neighbour)|"
    r"mijn naam is|my name is|ik heet|heet|ten name van|namens|in the name of|"
    r"onze relatie|onze klant|onze cliënt|our client|familie van|family of|"
    r"benadeelde)[ \t]{0,3},?[ \t]{0,3}"
)
# Words that follow a greeting or title but are not a name.
_NOT_NAMES = word_set(
    """allemaal iedereen allen mensen heren dames lezer team collega collega's klantenservice
    heer mevrouw meneer sir madam all everyone there whom concerned colleagues service
    afdeling gr grt groet groeten groetjes mvg hoogachtend bedankt dank thanks regards
    verzonden sent"""
)


def _sentence_start(text: str, start: int) -> bool:
    position = start - 1
    while position >= 0 and text[position] in " \t\"'(“‘":
        position -= 1
    return position < 0 or text[position] in ".!?:\n>"


# --- the pseudonymiser ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Candidates:
    """What the rules found in one text: (priority, find) pairs, and the names among them."""

    candidates: tuple[tuple[int, Found], ...]
    names: tuple[str, ...]


@dataclass(frozen=True)
class _Token:
    start: int
    end: int
    word: str

    @property
    def capitalised(self) -> bool:
        return self.word[:1].isupper()


class _Tokens(list[_Token]):
    """The words of one text, in order, with a quick lookup by position."""

    def __init__(self, text: str) -> None:
        super().__init__(_Token(m.start(), m.end(), m.group()) for m in _WORD.finditer(text))
        self.starts = [token.start for token in self]

    def first_from(self, position: int) -> int | None:
        """The index of the first word that starts at or after ``position``."""
        index = bisect.bisect_left(self.starts, position)
        return index if index < len(self) else None


class Pseudonymiser:
    """Finds personal details and replaces them; built once, used for many mails.

    ``org_patterns``: placeholder label → linear-time pattern (see :func:`check_linear`).
    ``keep``: values never replaced (the organisation's own name, numbers, addresses).
    ``lists``: the word lists (default: :func:`load_name_lists`).
    """

    def __init__(
        self,
        *,
        org_patterns: Mapping[str, str] | None = None,
        keep: Iterable[str] = DEFAULT_KEEP,
        lists: NameLists | None = None,
    ) -> None:
        patterns = DEFAULT_ORG_PATTERNS if org_patterns is None else org_patterns
        self.org_patterns: list[tuple[str, re.Pattern[str]]] = []
        for label, pattern in patterns.items():
            check_label(label)
            self.org_patterns.append((label, check_linear(pattern)))
        self.lists = lists if lists is not None else load_name_lists()
        self.keep = frozenset(_key(value) for value in keep if value.strip())
        self.keep_words = frozenset(
            word.casefold() for value in keep for word in _WORD.findall(value)
        )

    # One mail -------------------------------------------------------------------------

    def mail(self, *texts: str, names: Iterable[str] = ()) -> MailPseudonyms:
        """What to replace in one mail whose texts are ``texts`` (subject, body …) and whose
        headers name ``names`` (sender and recipients' display names)."""
        known = {name for name in (_clean_name(n) for n in names) if name}
        bases = {text: self.candidates(text) for text in texts if text}
        for base in bases.values():
            known.update(base.names)
        resolved = {text: self._resolved(text, base, known) for text, base in bases.items()}
        values = [(found.kind, found.value) for finds in resolved.values() for found in finds]
        values += [(NAME, name) for name in sorted(known)]
        return MailPseudonyms(self, values, known, resolved)

    def find(self, text: str, *, known_names: Iterable[str] = ()) -> list[Found]:
        """Every personal detail in ``text``, left to right, not overlapping; every
        occurrence of ``known_names`` (and of the names found in ``text``) included."""
        return self._resolved(text, self.candidates(text), known_names)

    def _resolved(
        self, text: str, base: _Candidates, known_names: Iterable[str]
    ) -> list[Found]:
        candidates = list(base.candidates)
        known = {_clean_name(name) for name in known_names} | set(base.names)
        rank = _PRIORITY.index(NAME)
        for start, end in _occurrences(text, known, self.lists):
            value = text[start:end]
            if value.casefold() not in self.keep_words:
                candidates.append((rank, Found(start, end, NAME, value)))
        return _resolve(candidates)

    def candidates(self, text: str) -> _Candidates:
        """What the rules find in ``text`` alone, overlapping (see :meth:`find`)."""
        candidates: list[tuple[int, Found]] = []
        if not text:
            return _Candidates((), ())

        def add(kind: str, start: int, end: int, rank: str | None = None) -> None:
            value = text[start:end]
            if value.casefold() in self.keep_words:
                return
            if kind != NAME and self.keep and _key(value) in self.keep:
                return
            candidates.append((_PRIORITY.index(rank or kind), Found(start, end, kind, value)))

        for match in _PLACEHOLDER.finditer(text):
            candidates.append((-1, Found(match.start(), match.end(), "", match.group())))
        self._emails(text, add)
        self._ibans(text, add)
        for label, pattern in self.org_patterns:
            for match in pattern.finditer(text):
                group = "value" if "value" in pattern.groupindex else 0
                if match.start(group) < match.end(group):
                    add(label, match.start(group), match.end(group), "org")
        self._bsns(text, add)
        self._phones(text, add)
        for pattern in (_PLATE, _PLATE_CONTEXT):
            for match in pattern.finditer(text):
                group = "value" if "value" in pattern.groupindex else 0
                if any(ch.isdigit() for ch in match.group(group)):
                    add(PLATE, match.start(group), match.end(group))
        tokens = _Tokens(text)
        self._postcodes(text, tokens, add)
        self._birth_dates(text, add)
        self._addresses(text, tokens, add)
        names = self._names(text, tokens)
        for start, end in names:
            add(NAME, start, end)
        return _Candidates(tuple(candidates), tuple(dict.fromkeys(text[s:e] for s, e in names)))

    # Kinds ----------------------------------------------------------------------------

    def _emails(self, text: str, add: Callable[..., None]) -> None:
        for match in _EMAIL.finditer(text):
            value = match.group().rstrip(".-")
            domain = value.partition("@")[2]
            if "." not in domain or not domain.rsplit(".", 1)[1].isalpha():
                continue
            if _is_role_address(value):
                continue
            add(EMAIL, match.start(), match.start() + len(value))

    def _ibans(self, text: str, add: Callable[..., None]) -> None:
        from schwifty.exceptions import SchwiftyException
        from schwifty.registry import get_iban_spec

        position = 0
        while (match := _IBAN.search(text, position)) is not None:
            # A candidate may run into the next one ("NL00 … 89 en NL91…"): search on from
            # the end of what was accepted, or just after the start of what was not.
            position = match.start() + 1
            value = match.group()
            try:
                spec = get_iban_spec(value[:2].upper())
            except (SchwiftyException, KeyError):
                continue
            alnum = 0
            end = 0
            for index, char in enumerate(value):
                alnum += char.isalnum()
                if alnum == spec.iban_length:
                    end = index + 1
                    break
            if not end or (end < len(value) and value[end].isalnum()):
                continue
            compact = "".join(value[:end].split()).upper()
            if spec.regex.match(compact[4:]) and compact[2:4].isdigit():
                add(IBAN, match.start(), match.start() + end)
                position = match.start() + end

    def _bsns(self, text: str, add: Callable[..., None]) -> None:
        from stdnum.nl import bsn

        for match in _BSN.finditer(text):
            if bsn.is_valid(_NON_DIGITS.sub("", match.group())):
                add(BSN, match.start(), match.end())
        for match in _BSN_CONTEXT.finditer(text):
            value = match.group("value").rstrip(". ")
            if 8 <= sum(ch.isdigit() for ch in value) <= 9:
                add(BSN, match.start("value"), match.start("value") + len(value))

    def _phones(self, text: str, add: Callable[..., None]) -> None:
        position = 0
        while (match := _PHONE.search(text, position)) is not None:
            value = match.group()
            position = match.end()
            # Try the whole run, then shorter ones ending at a digit group.
            ends = [i + 1 for i, ch in enumerate(value) if ch.isdigit()]
            ends = [e for e in ends if e == len(value) or not value[e].isdigit()]
            for end in reversed(ends):
                candidate = value[:end].rstrip(" ().-/")
                if _is_phone(candidate):
                    add(PHONE, match.start(), match.start() + len(candidate))
                    position = match.start() + len(candidate)
                    break

    def _postcodes(self, text: str, tokens: _Tokens, add: Callable[..., None]) -> None:
        from stdnum.nl import postcode

        for match in _POSTCODE.finditer(text):
            value = match.group()
            if not postcode.is_valid(value):
                continue
            if not value[-2:].isupper():
                # Lower-case letters are a postcode only before a place ("1234 ab utrecht").
                after = text[match.end() : match.end() + 40].split()
                if not after or after[0].strip(",.").casefold() not in self.lists.places:
                    continue
            add(POSTCODE, match.start(), match.end())

    def _birth_dates(self, text: str, add: Callable[..., None]) -> None:
        for match in _BIRTH_CONTEXT.finditer(text):
            window_end = min(len(text), match.end() + _BIRTH_WINDOW)
            date = _DATE.search(text, match.end(), window_end)
            if date is not None:
                add(BIRTH_DATE, date.start(), date.end())

    def _addresses(self, text: str, tokens: _Tokens, add: Callable[..., None]) -> None:
        if not tokens:
            return
        for match in _HOUSE_NUMBER.finditer(text):
            index = bisect.bisect_left(tokens.starts, match.start()) - 1
            if index < 0 or text[tokens[index].end : match.start()] not in (" ", "\u00a0"):
                continue
            street_start = self._street_before(text, tokens, index)
            if street_start is not None:
                add(ADDRESS, street_start, match.end())

    def _street_before(self, text: str, tokens: _Tokens, last: int) -> int | None:
        """Where the street name ending with ``tokens[last]`` starts, or None."""
        best: int | None = None
        for size in range(1, 5):
            first = last - size + 1
            if first < 0:
                break
            if any(
                text[tokens[i].end : tokens[i + 1].start] not in (" ", ". ", "-")
                for i in range(first, last)
            ):
                break
            phrase = " ".join(tokens[i].word for i in range(first, last + 1))
            if phrase.casefold() in self.lists.streets and (
                size > 1 or (len(phrase) > 3 and not self.lists.is_common(phrase))
            ):
                best = tokens[first].start
        if best is None:
            word = tokens[last].word
            if len(word) > 5 and word.casefold().endswith(_STREET_SUFFIXES):
                best = tokens[last].start
        return best

    # Names ----------------------------------------------------------------------------

    def _names(self, text: str, tokens: _Tokens) -> list[tuple[int, int]]:
        """(start, end) of names found by where mail puts them and by the name lists."""
        by_start = {token.start: i for i, token in enumerate(tokens)}
        spans: list[tuple[int, int]] = []

        def token_at(position: int) -> int | None:
            while position < len(text) and text[position] in " \t":
                position += 1
            return by_start.get(position)

        def run_at(position: int, *, lower_ok: bool, strict: bool = False) -> None:
            index = token_at(position)
            if index is not None:
                span = self._name_run(text, tokens, index, lower_ok=lower_ok, strict=strict)
                if span is not None:
                    spans.append(span)

        for match in _GREETING.finditer(text):
            title = _TITLE.match(text, match.end())
            run_at(title.end() if title else match.end(), lower_ok=True)
        for match in _TITLE.finditer(text):
            run_at(match.end(), lower_ok=False)
        for match in _RELATION.finditer(text):
            run_at(match.end(), lower_ok=False, strict=True)
        for match in _SIGN_OFF.finditer(text):
            line_end = text.find("\n", match.end())
            line_end = len(text) if line_end < 0 else line_end
            if text[match.end() : line_end].strip():
                name = self._line_name(text, tokens, match.end(), line_end)
                if name is not None:
                    spans.append(name)
                continue
            following = _next_line(text, line_end)
            if following is not None:
                start, end = following
                name = self._line_name(text, tokens, start, end)
                if name is not None:
                    spans.append(name)
        for index in range(len(tokens)):
            span = self._listed_name(text, tokens, index)
            if span is not None:
                spans.append(span)
        for at in (m.start() for m in re.finditer("<", text)):
            span = self._display_name_before(text, tokens, at)
            if span is not None:
                spans.append(span)
        return spans

    def _is_name_word(self, token: _Token, *, lower_ok: bool) -> bool:
        folded = token.word.casefold()
        if folded in self.keep_words or folded in _NOT_NAMES:
            return False
        if len(token.word) <= 3 and token.word.isupper():
            return False  # EUR, AVG, WA: abbreviations, not names
        if token.capitalised:
            return True
        return lower_ok and (folded in self.lists.first_names or folded in self.lists.surnames)

    def _name_run(
        self,
        text: str,
        tokens: _Tokens,
        index: int,
        *,
        lower_ok: bool,
        strict: bool = False,
    ) -> tuple[int, int] | None:
        """The name that starts at ``tokens[index]``: initials, interfixes and name words on
        one line, at most five words. ``strict``: the first word must not be common."""
        lists = self.lists
        start = end = -1
        words = 0
        i = index
        while i < len(tokens) and i - index < 6:
            token = tokens[i]
            if i > index:
                gap = text[tokens[i - 1].end : token.start]
                if gap not in (" ", ". ", ".", "\u00a0"):
                    break
                if gap.startswith(".") and not _is_initial(tokens[i - 1], text):
                    break
            interfix = self._interfix_length(tokens, i, text)
            if interfix and i + interfix < len(tokens) and tokens[i + interfix].capitalised:
                i += interfix
                continue
            if _is_initial(token, text):
                start = token.start if start < 0 else start
                end = token.end + 1
                i += 1
                continue
            if not self._is_name_word(token, lower_ok=lower_ok):
                break
            if (
                strict
                and words == 0
                and lists.is_common(token.word)
                and token.word.casefold() not in lists.first_names
            ):
                break
            if start < 0:
                start = tokens[index].start
            end = token.end
            words += 1
            i += 1
        if words == 0:
            return None
        return start, end

    def _interfix_length(self, tokens: _Tokens, index: int, text: str) -> int:
        for size in (3, 2, 1):
            if index + size > len(tokens):
                continue
            words = tokens[index : index + size]
            if any(
                text[words[k].end : words[k + 1].start] != " " for k in range(size - 1)
            ):
                continue
            if " ".join(w.word for w in words).casefold() in self.lists.interfixes:
                return size
        return 0

    def _line_name(
        self, text: str, tokens: _Tokens, start: int, end: int
    ) -> tuple[int, int] | None:
        """A line after a sign-off that is only a name (before any "|", "(" or ",")."""
        line = text[start:end]
        cut = min((line.find(c) for c in "|(," if c in line), default=len(line))
        body_end = start + len(line[:cut].rstrip())
        first = tokens.first_from(start)
        if first is None or tokens[first].start >= body_end:
            return None
        span = self._name_run(text, tokens, first, lower_ok=True)
        if span is None or span[1] < body_end - 1 or span[0] != tokens[first].start:
            return None
        if text[start : span[0]].strip(" \t>"):
            return None
        return span

    def _listed_name(
        self, text: str, tokens: _Tokens, index: int
    ) -> tuple[int, int] | None:
        """A listed first name followed by a surname, or initials followed by a surname."""
        lists = self.lists
        token = tokens[index]
        if not token.capitalised:
            return None
        folded = token.word.casefold()
        if _is_initial(token, text):
            following = index + 1
            while following < len(tokens) and _is_initial(tokens[following], text):
                following += 1
            following += self._interfix_length(tokens, following, text)
            if following < len(tokens) and following > index:
                surname = tokens[following]
                gap = text[tokens[following - 1].end : surname.start]
                if (
                    gap.strip(". ") == ""
                    and len(gap) <= 2
                    and surname.capitalised
                    and (
                        not lists.is_common(surname.word)
                        or surname.word.casefold() in lists.surnames
                    )
                    and surname.word.casefold() not in self.keep_words
                ):
                    return token.start, surname.end
            return None
        if folded not in lists.first_names or folded in self.keep_words:
            return None
        if folded in lists.interfixes:
            return None  # "De Polder": an interfix, not a first name
        # A first name that is also a word ("Frank", "Iris") needs a listed surname after it.
        common_first = lists.is_common(token.word)
        following = index + 1
        if following >= len(tokens) or text[token.end : tokens[following].start] != " ":
            return None
        following += self._interfix_length(tokens, following, text)
        if following >= len(tokens):
            return None
        surname = tokens[following]
        if not surname.capitalised or surname.word.casefold() in self.keep_words:
            return None
        listed = surname.word.casefold() in lists.surnames and not lists.is_common(surname.word)
        if listed or (
            not common_first
            and not lists.is_common(surname.word)
            and surname.word.casefold() not in lists.places
        ):
            return token.start, surname.end
        return None

    def _display_name_before(
        self, text: str, tokens: _Tokens, at: int
    ) -> tuple[int, int] | None:
        """``Jan Jansen <jan@…>``: the name words right before an address in brackets."""
        address = _EMAIL.match(text, at + 1)
        if not address or _is_role_address(address.group()):
            return None
        line_start = text.rfind("\n", 0, at) + 1
        before = text[line_start:at].rstrip(" \"'")
        # "Van: Jan Jansen", "On …, Jan Jansen", "schreef Jan Jansen", "Marloes | Polderzeker"
        cut = max(before.rfind(":"), before.rfind(","), before.rfind(" schreef "))
        if " schreef " in before[cut:cut + 9]:
            cut += len(" schreef ")
        else:
            cut += 1
        segment_start = line_start + cut
        segment = text[segment_start : line_start + len(before)]
        bar = segment.find("|")
        if bar >= 0:
            segment = segment[:bar]
        segment_end = segment_start + len(segment.rstrip())
        segment_start += len(segment) - len(segment.lstrip(" \"'"))
        first = tokens.first_from(segment_start)
        if first is None or tokens[first].start >= segment_end:
            return None
        span = self._name_run(text, tokens, first, lower_ok=False)
        if span is None or span[1] < segment_end - 1:
            return None
        return span


def _is_role_address(address: str) -> bool:
    """info@, service@ …: a shared mailbox, not a person's address."""
    return address.split("@")[0].casefold() in _ROLE_MAILBOXES


def _is_initial(token: _Token, text: str) -> bool:
    """"J." in "J. Jansen" (not the "Z." that ends a number plate "RH-343-Z.")."""
    return (
        len(token.word) == 1
        and token.word.isupper()
        and text[token.end : token.end + 1] == "."
        and (token.start == 0 or text[token.start - 1] in " \t\n>(\"'.")
    )


def _next_line(text: str, position: int) -> tuple[int, int] | None:
    """(start, end) of the first non-empty line after ``position`` (two blank lines at most)."""
    for _ in range(3):
        if position >= len(text):
            return None
        start = position + 1
        end = text.find("\n", start)
        end = len(text) if end < 0 else end
        if text[start:end].strip(" \t>\r"):
            return start, end
        position = end
    return None


_NON_DIGITS = re.compile(r"\D")
_NON_WORD = re.compile(r"[\W_]")
_NOT_KEY = re.compile(r"[^\w@.]")


def _is_phone(value: str) -> bool:
    import phonenumbers

    digits = _NON_DIGITS.sub("", value)
    if _DATE_SHAPE.search(value):
        return False
    if value.startswith(("+", "00")):
        try:
            number = phonenumbers.parse("+" + digits[2:] if value.startswith("00") else value)
        except phonenumbers.NumberParseException:
            return False
        return bool(phonenumbers.is_possible_number(number)) and len(digits) >= 9
    if not value.lstrip("(").startswith("0"):
        return False
    if digits.startswith(("0800", "0900", "0906", "0909")):
        return len(digits) in (8, 11)
    if len(digits) != 10:
        return False
    try:
        number = phonenumbers.parse(value, "NL")
    except phonenumbers.NumberParseException:
        return False
    return bool(phonenumbers.is_possible_number(number))


def _clean_name(name: str) -> str:
    name = name.split("|")[0].split("(")[0]
    return " ".join(name.replace('"', " ").split()).strip(" ,'")


def _name_variants(name: str, lists: NameLists) -> set[str]:
    """The forms a name takes in one mail: whole, first name, surname (with its interfix)."""
    words = name.split()
    variants = {name} if len(name) >= 2 else set()
    if len(words) >= 2:
        first, rest = words[0], words[1:]
        if len(first) >= 3 and not first.endswith("."):
            variants.add(first)
        surname = " ".join(w for w in rest if not (len(w) == 2 and w.endswith(".")))
        if surname:
            variants.add(surname)
            variants.add(surname[:1].upper() + surname[1:])
            parts = surname.split()
            if len(parts) > 1 and " ".join(parts[:-1]).casefold() in lists.interfixes:
                variants.add(parts[-1])
    return {v for v in variants if len(v) >= 3 and v.casefold() not in lists.common_words}


def _occurrences(text: str, names: Iterable[str], lists: NameLists) -> list[tuple[int, int]]:
    """Every occurrence of the given names' forms in ``text``, as whole words."""
    variants: set[str] = set()
    for name in names:
        if name:
            variants |= _name_variants(name, lists)
    if not variants:
        return []
    spans = []
    folded_text = text.casefold()
    for variant in sorted(variants, key=len, reverse=True)[:200]:
        needle = variant.casefold()
        if len(needle) != len(variant):
            continue  # casefolding changed the length; offsets would not line up
        start = folded_text.find(needle)
        while start >= 0:
            end = start + len(needle)
            whole_word = (start == 0 or not text[start - 1].isalnum()) and (
                end == len(text) or not text[end].isalnum()
            )
            same_case = text[start:end] == variant
            if whole_word and (same_case or not text[start:end][:1].isupper()):
                spans.append((start, end))
            start = folded_text.find(needle, end)
    return spans


def _resolve(candidates: list[tuple[int, Found]]) -> list[Found]:
    """Non-overlapping finds: by priority, then the longer, then the earlier."""
    chosen: list[Found] = []
    taken = bytearray(max((found.end for _, found in candidates), default=0))
    for _, found in sorted(candidates, key=lambda c: (c[0], -(c[1].end - c[1].start), c[1].start)):
        if taken.find(1, found.start, found.end) >= 0:
            continue
        taken[found.start : found.end] = b"\x01" * (found.end - found.start)
        if found.kind:  # "" marks a placeholder already there
            chosen.append(found)
    return sorted(chosen, key=lambda f: f.start)


def _key(value: str) -> str:
    """A value as compared for sameness: digits of a phone number, else casefolded words."""
    stripped = value.strip()
    digits = _NON_DIGITS.sub("", stripped)
    if len(digits) >= 6 and len(digits) >= len(_NON_WORD.sub("", stripped)) - 1:
        if stripped.startswith("+31") or stripped.startswith("0031"):
            digits = "0" + digits[2:] if stripped.startswith("+") else "0" + digits[4:]
        return digits
    return " ".join(_NOT_KEY.sub(" ", stripped.casefold()).split())


class MailPseudonyms:
    """The placeholders of one mail; :meth:`text` and :meth:`html` apply them.

    Placeholders are numbered per kind by first appearance; a part of a name (a first name,
    a surname) gets the number of the one full name it belongs to."""

    def __init__(
        self,
        pseudonymiser: Pseudonymiser,
        values: Sequence[tuple[str, str]],
        names: set[str],
        resolved: dict[str, list[Found]],
    ) -> None:
        self._pseudonymiser = pseudonymiser
        self._names = names
        self._resolved = resolved
        self._numbers: dict[tuple[str, str], str] = {}
        self._counts: dict[str, int] = {}
        # A name's part (first name, surname) belongs to the one full name it is part of.
        self._owner: dict[str, str] = {}
        self.found: list[Found] = []
        lists = pseudonymiser.lists
        by_key = {_key(value): value for kind, value in values if kind == NAME}
        variants = {
            key: {_key(v) for v in _name_variants(value, lists)} for key, value in by_key.items()
        }
        # Longest first, so that "Vries" → "de Vries" → "Jan de Vries" ends at the root.
        for key in sorted(by_key, key=len, reverse=True):
            roots = {
                self._owner.get(other, other)
                for other in by_key
                if len(other) > len(key) and key in variants[other]
            }
            if len(roots) == 1:
                self._owner[key] = roots.pop()
        for kind, value in values:
            self.placeholder(kind, value)

    def placeholder(self, kind: str, value: str) -> str:
        """The placeholder of ``value``, numbered on when it is new to this mail."""
        key = _key(value)
        if kind == NAME:
            key = self._owner.get(key, key)
        found = self._numbers.get((kind, key))
        if found is None:
            self._counts[kind] = self._counts.get(kind, 0) + 1
            found = self._numbers[(kind, key)] = f"[{kind}-{self._counts[kind]}]"
        return found

    def text(self, text: str) -> str:
        """``text`` with every personal detail replaced by its placeholder."""
        finds = self._resolved.get(text)
        if finds is None:
            finds = self._pseudonymiser.find(text, known_names=self._names)
        self.found.extend(finds)
        pieces = []
        last = 0
        for found in finds:
            pieces.append(text[last : found.start])
            pieces.append(self.placeholder(found.kind, found.value))
            last = found.end
        pieces.append(text[last:])
        return "".join(pieces)

    def html(self, html: str) -> str:
        """Sanitised HTML with the text of its elements (and alt/title) pseudonymised.

        Give it HTML that is already sanitised: the markup is re-serialised, not cleaned."""
        import lxml.etree
        import lxml.html

        if not html.strip():
            return html
        try:
            root = lxml.html.fragment_fromstring(html, create_parent="div")
        except (lxml.etree.ParserError, ValueError):
            # Markup lxml cannot read back: show it as pseudonymised text instead.
            return html_escape(self.text(html), quote=False)
        for element in root.iter():
            if isinstance(element.tag, str):
                if element.text:
                    element.text = self.text(element.text)
                for attribute in ("alt", "title"):
                    if element.get(attribute):
                        element.set(attribute, self.text(element.get(attribute) or ""))
            if element is not root and element.tail:
                element.tail = self.text(element.tail)
        return html_escape(root.text or "", quote=False) + "".join(
            lxml.html.tostring(child, encoding="unicode") for child in root
        )


@dataclass(frozen=True, slots=True)
class MailText:
    """The parts of a mail a person reads."""

    subject: str = ""
    sender_name: str = ""
    sender_email: str = ""
    new_text: str = ""
    quoted_text: str = ""
    signature: str = ""
    body_text: str = ""


def pseudonymise_mail(
    mail: MailText,
    pseudonymiser: Pseudonymiser,
    *,
    correspondents: Iterable[tuple[str, str]] = (),
) -> tuple[MailText, MailPseudonyms]:
    """``mail`` with its personal details replaced, and the placeholders (for its HTML).

    ``correspondents``: (display name, address) of its other senders and recipients, whose
    names are looked for in the text too (those of shared mailboxes are not names)."""
    sender = f"{mail.sender_name} <{mail.sender_email}>" if mail.sender_email else ""
    texts = (sender, mail.subject, mail.new_text, mail.quoted_text, mail.signature, mail.body_text)
    people = [(mail.sender_name, mail.sender_email), *correspondents]
    names = [name for name, address in people if name and not _is_role_address(address)]
    pseudonyms = pseudonymiser.mail(*texts, names=names)
    sender_name = mail.sender_name
    if sender_name:
        sender_name = pseudonyms.placeholder(NAME, _clean_name(sender_name) or sender_name)
    sender_email = mail.sender_email
    if sender_email and pseudonyms.text(sender_email) != sender_email:
        sender_email = pseudonyms.placeholder(EMAIL, sender_email)
    changed = replace(
        mail,
        subject=pseudonyms.text(mail.subject),
        sender_name=sender_name,
        sender_email=sender_email,
        new_text=pseudonyms.text(mail.new_text),
        quoted_text=pseudonyms.text(mail.quoted_text),
        signature=pseudonyms.text(mail.signature),
        body_text=pseudonyms.text(mail.body_text),
    )
    return changed, pseudonyms


@lru_cache(maxsize=8)
def _cached(patterns: tuple[tuple[str, str], ...], keep: tuple[str, ...]) -> Pseudonymiser:
    return Pseudonymiser(org_patterns=dict(patterns), keep=keep)


def pseudonymiser_for(
    org_patterns: Mapping[str, str] | None = None, keep: Sequence[str] = DEFAULT_KEEP
) -> Pseudonymiser:
    """A pseudonymiser for these settings, built once per process (the lists take ~0.3 s)."""
    patterns = DEFAULT_ORG_PATTERNS if org_patterns is None else org_patterns
    return _cached(tuple(sorted(patterns.items())), tuple(keep))
