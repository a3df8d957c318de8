"""Where the demo generator put personal details: the ``pii`` list of a truth line.

The generator knows every personal value a mail can hold (its correspondents, the slot
values it filled in, and those of the mail it quotes). After a mail is composed, each value
is looked for in what the mail shows (subject, display names and addresses, the text body
with its signature and quoted history, a forwarded mail), after the same charset fitting
the renderer applies, and every occurrence is recorded as ``{"kind": …, "text": …}`` with
the exact string as it stands in the mail (typos and lower-casing included: a value the
noise changed beyond recognition is not recorded, as no reader could find it either).

Nothing here draws from the random generator, so recording the truth leaves the corpus's
bytes as they were.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from data.mime_build import Correspondent, Draft
from data.mime_build import _fit as fit_charset
from data.slots import Person

# Truth kinds; the pseudonymiser's placeholder label for each is in PLACEHOLDER_LABELS.
NAME, EMAIL, PHONE, IBAN, BSN = "name", "email", "phone", "iban", "bsn"
ADDRESS, POSTCODE, PLATE, BIRTH_DATE = "address", "postcode", "plate", "birth_date"
POLICY, CLAIM, QUOTE_NUMBER, INVOICE, CUSTOMER = (
    "policy", "claim", "quote_number", "invoice", "customer_number",
)
PLACEHOLDER_LABELS = {
    NAME: "NAAM", EMAIL: "EMAIL", PHONE: "TELEFOON", IBAN: "IBAN", BSN: "BSN",
    ADDRESS: "ADRES", POSTCODE: "POSTCODE", PLATE: "KENTEKEN", BIRTH_DATE: "GEBOORTEDATUM",
    POLICY: "POLIS", CLAIM: "SCHADE", QUOTE_NUMBER: "OFFERTE", INVOICE: "FACTUUR",
    CUSTOMER: "RELATIE",
}

# Slot → kind, for the slots that hold a personal detail.
SLOT_KINDS = {
    "naam": NAME, "voornaam": NAME, "achternaam": NAME, "naam2": NAME, "kind": NAME,
    "medewerker": NAME, "email_nieuw": EMAIL, "tel": PHONE, "tel_nieuw": PHONE,
    "iban": IBAN, "iban_nieuw": IBAN, "adres": ADDRESS, "adres_nieuw": ADDRESS,
    "postcode": POSTCODE, "postcode_nieuw": POSTCODE, "kenteken": PLATE, "polis": POLICY,
    "polis2": POLICY, "claim": CLAIM,
    "offerte": QUOTE_NUMBER, "factuur": INVOICE, "relatie": CUSTOMER,
}
# Shared mailboxes of the insurer and brokers: neither the address nor its display name
# ("Polderzeker Klantenservice") is a person's.
ROLE_LOCAL_PARTS = ("info", "service")

Candidate = tuple[str, str]  # (kind, value)


def person_candidates(person: Person) -> list[Candidate]:
    """A correspondent's name in the forms mail uses, and their address."""
    last = person.last[0].upper() + person.last[1:]
    forms = {person.name, person.first, person.last, last, f"{person.first[0]}. {person.last}"}
    return [(NAME, form) for form in forms] + [(EMAIL, person.address)]


def correspondent_candidates(who: Correspondent | None) -> list[Candidate]:
    """A display name (the part before " | " or " (", e.g. a broker's "Kees | Adviesbureau
    …") and the address, unless it is a shared mailbox."""
    if who is None or who.address.split("@")[0] in ROLE_LOCAL_PARTS:
        return []
    found: list[Candidate] = []
    name = re.split(r" \| | \(", who.name)[0].strip()
    if name:
        found.append((NAME, name))
    if who.address:
        found.append((EMAIL, who.address))
    return found


def slot_candidates(slots: Mapping[str, str]) -> list[Candidate]:
    return [(kind, slots[slot]) for slot, kind in SLOT_KINDS.items() if slots.get(slot)]


def draft_candidates(draft: Draft) -> list[Candidate]:
    """The correspondents a draft names (sender, recipient, cc, quote authors)."""
    found: list[Candidate] = []
    for who in (draft.sender, draft.to, draft.cc):
        found += correspondent_candidates(who)
    if draft.quote is not None:
        found += correspondent_candidates(draft.quote.author)
        found += correspondent_candidates(draft.quote.to)
    if draft.attached_message is not None:
        found += draft_candidates(draft.attached_message)
    return found


def fitted(candidates: Iterable[Candidate], draft: Draft) -> list[Candidate]:
    """The candidates as written, and as the draft's charset makes them ("Y?lmaz")."""
    values = list(candidates)
    return values + [(kind, fit_charset(value, draft.charset)) for kind, value in values]


def shown_texts(draft: Draft) -> list[str]:
    """What a reader of the mail sees, charset-fitted as the renderer writes it."""
    texts = [draft.subject]
    for who in (draft.sender, draft.to, draft.cc):
        if who is not None:
            texts.append(f"{who.name} <{who.address}>")
    texts.append(fit_charset(draft.plain_text(), draft.charset))
    if draft.attached_message is not None:
        texts += shown_texts(draft.attached_message)
    return texts


def record(texts: Sequence[str], candidates: Iterable[Candidate]) -> list[dict[str, str]]:
    """Every occurrence of every candidate in ``texts``, as ``{"kind", "text"}`` items, once
    per distinct string; longer values first, so "Jan Jansen" is one name, not two."""
    unique = sorted(set(candidates), key=lambda c: (-len(c[1]), c))
    taken = [bytearray(len(text)) for text in texts]
    found: dict[tuple[str, str], None] = {}
    folded = "\n".join(texts).casefold()
    for kind, value in unique:
        value = value.strip()
        if len(value) < 2 or value.split()[-1].casefold() not in folded:
            continue  # most slots are not used by a given mail: skip them cheaply
        pattern = _pattern(value)
        for index, text in enumerate(texts):
            for match in pattern.finditer(text):
                start, end = match.span()
                if taken[index].find(1, start, end) >= 0:
                    continue
                taken[index][start:end] = b"\x01" * (end - start)
                found[(kind, match.group())] = None
    return [{"kind": kind, "text": text} for kind, text in found]


def _pattern(value: str) -> re.Pattern[str]:
    # Whitespace may be a line break where the client wrapped the text; case may differ
    # where the noise lower-cased it. Whole words only.
    words = [re.escape(word) for word in value.split()]
    body = r"\s{1,3}".join(words)
    return re.compile(rf"(?<![\w@.-]){body}(?![\w@-]|\.\w)", re.IGNORECASE)


# --- measuring a pseudonymiser against the truth -------------------------------------------


@dataclass
class KindScore:
    """Truth items of one kind that the mail still showed after parsing (``total``) and of
    those, how many the pseudonymiser removed (``removed``)."""

    removed: int = 0
    total: int = 0
    missed: list[str] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.removed / self.total if self.total else 1.0


@dataclass
class PiiReport:
    """Recall per truth kind, and replacements that hit no personal detail."""

    per_kind: dict[str, KindScore] = field(default_factory=dict)
    words: int = 0
    false_hits: int = 0
    not_shown: int = 0  # truth items the parsed mail does not show (charset, HTML-only …)
    false_examples: list[str] = field(default_factory=list)

    @property
    def false_hits_per_1000_words(self) -> float:
        return 1000 * self.false_hits / self.words if self.words else 0.0

    def add(
        self,
        pii: Sequence[Mapping[str, str]],
        original: str,
        pseudonymised: str,
        replaced: Iterable[str],
    ) -> None:
        """One mail: its truth items, the text a reader sees before and after, and the
        values the pseudonymiser replaced."""
        before, after = _flat(original), _flat(pseudonymised)
        self.words += len(before.split())
        truth = [_flat(item["text"]) for item in pii]
        for item, text in zip(pii, truth, strict=True):
            if not _contains(before, text):
                self.not_shown += 1
                continue
            score = self.per_kind.setdefault(item["kind"], KindScore())
            score.total += 1
            if _contains(after, text):
                score.missed.append(text)
            else:
                score.removed += 1
        folded = [t.casefold() for t in truth]
        for value in replaced:
            value = _flat(value).casefold()
            if not any(value in t or t in value for t in folded):
                self.false_hits += 1
                if len(self.false_examples) < 200:
                    self.false_examples.append(value)


def _flat(text: str) -> str:
    return " ".join(text.split())


def _contains(text: str, part: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(part)}(?!\w)", text) is not None
