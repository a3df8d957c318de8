"""Admin rules as values, and which of them a mail meets: pure, no sessions, no sockets.

A rule has conditions and one action. **Every condition it names must hold; within one
condition, one of its values is enough.** Conditions (the TOML keys of ``[rule.when]``):

``sender``
    Addresses (``jan@klant.nl``: that address) or domains (``klant.nl`` or ``@klant.nl``:
    that domain and its subdomains).
``recipient``
    The mailbox the mail was sent to (To or Cc), written like ``sender``.
``subject``, ``body``, ``text``
    Phrases looked for in the subject, the body (new text and quoted text), or either.
    A phrase matches whole words, case-insensitively, in order ("klacht indienen"); a word
    ending in ``*`` matches every word that starts with it ("schadeformulier*",
    "opzeg*"). No regular expressions: a word split (``\\w+``) of at most
    :data:`MAX_TEXT_CHARS` characters and a lookup per phrase keep it linear in the mail.
``header``
    ``{name = "phrase"}``: the header holds the phrase (``"*"``: the header is present).
``attachment``
    File extensions (``pdf``) or content types (``application/pdf``, ``image/*``).
``language``
    Language codes as the parser detected them (``nl``, ``en``).
``flag``
    ``urgent`` or ``churn``: the mail is flagged so (:mod:`labeling.rules.flags`): by the
    active model version's learned head where it has one, else by a cue of
    :mod:`labeling.rules.cues` (a small Dutch/English word list that stands in until
    people's labels train something better).
``kind``
    The mail kind of :mod:`labeling.mail.hygiene` (``customer``, ``auto_reply``, ``bounce``,
    ``loop``, ``bulk``; ``auto-reply`` is read as ``auto_reply``). Auto-replies, bounces and
    loops are filed before any rule runs (promise 8): for them the condition serves the dry
    run. Bulk mail and a sender over the rate limit go to a person, unless a rule that names
    their kind decides.

Actions: ``route`` (to ``team``: decided, the model is not asked to overrule), ``review``
(a person decides), ``priority`` (``high``/``normal``/``low``: recorded and carried on the
forward; the walk goes on) and ``no-auto`` (whatever decides, a person confirms it; the
walk goes on). Rules are tried in their order; the first matching ``route`` or ``review``
rule decides and ends the walk (:func:`evaluate`).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from email.header import decode_header, make_header
from email.parser import BytesHeaderParser
from email.policy import compat32
from functools import cached_property
from typing import Any

from labeling.errors import RuleError
from labeling.mail.hygiene import KINDS
from labeling.rules.cues import cue_flags
from labeling.rules.phrases import MAX_TEXT_CHARS, Phrase, WordIndex, parse_phrase
from labeling.store.tables import RULE_ACTIONS, RULE_PRIORITIES

MAX_HEADER_BYTES = 64 * 1024
MAX_VALUES = 100  # per condition
MAX_VALUE_CHARS = 200
CONDITION_KEYS = (
    "sender",
    "recipient",
    "subject",
    "body",
    "text",
    "header",
    "attachment",
    "language",
    "flag",
    "kind",
)
FLAGS = ("urgent", "churn")
DECIDING_ACTIONS = ("route", "review")


def parse_headers(raw: bytes) -> dict[str, tuple[str, ...]]:
    """Header name (lower case) → decoded values, read from the start of a raw mail only."""
    block = raw[:MAX_HEADER_BYTES]
    for separator in (b"\r\n\r\n", b"\n\n"):
        end = block.find(separator)
        if end >= 0:
            block = block[: end + len(separator)]
            break
    parsed = BytesHeaderParser(policy=compat32).parsebytes(block)
    headers: dict[str, list[str]] = {}
    for name, value in parsed.items():
        text = str(value)
        # An undecodable encoded word is looked in as written.
        with contextlib.suppress(ValueError, LookupError, UnicodeError):
            text = str(make_header(decode_header(text)))
        headers.setdefault(name.lower(), []).append(text[:MAX_TEXT_CHARS])
    return {name: tuple(values) for name, values in headers.items()}


# A mail as rules see it ----------------------------------------------------------------------


@dataclass
class MailFacts:
    """What rules look at in one mail. ``headers`` is None when not read (no rule needs
    them); word indices are built on first use."""

    sender: str = ""
    recipients: tuple[str, ...] = ()
    subject: str = ""
    body: str = ""
    attachments: tuple[tuple[str, str], ...] = ()  # (file name, content type)
    language: str = "und"
    headers: Mapping[str, tuple[str, ...]] | None = None
    new_text: str = ""  # the mail's own text (the cue list reads it, not the quote)
    kind: str = "customer"  # labeling.mail.hygiene's kind
    # The flags routing worked out (learned heads, else cues); None: the cue list's.
    given_flags: tuple[str, ...] | None = None

    @cached_property
    def flags(self) -> tuple[str, ...]:
        """The flags that are set ('urgent', 'churn'): the given ones, else the cue list's,
        read on first use."""
        if self.given_flags is not None:
            return self.given_flags
        return cue_flags(self.subject, self.new_text).names

    @cached_property
    def subject_words(self) -> WordIndex:
        return WordIndex(self.subject)

    @cached_property
    def body_words(self) -> WordIndex:
        return WordIndex(self.body)


def facts_of(
    *,
    subject: str,
    new_text: str,
    quoted_text: str,
    sender_email: str,
    recipients: Mapping[str, Any] | None,
    attachments: Sequence[Any] | None,
    language: str,
    raw: bytes | None = None,
    kind: str | None = None,
) -> MailFacts:
    """Build :class:`MailFacts` from a stored mail's fields (``raw``: read its headers;
    ``kind``: the hygiene filter's, None for mail stored before kinds were kept)."""
    addresses: list[str] = []
    for field_name in ("to", "cc"):
        for entry in (recipients or {}).get(field_name) or ():
            if isinstance(entry, Mapping) and entry.get("email"):
                addresses.append(str(entry["email"]).lower())
    files: list[tuple[str, str]] = []
    for entry in attachments or ():
        if isinstance(entry, Mapping):
            files.append(
                (str(entry.get("filename") or "").lower(), str(entry.get("content_type") or ""))
            )
    body = new_text[:MAX_TEXT_CHARS]
    if len(body) < MAX_TEXT_CHARS and quoted_text:
        body = body + "\n" + quoted_text[: MAX_TEXT_CHARS - len(body)]
    return MailFacts(
        sender=(sender_email or "").lower(),
        recipients=tuple(addresses),
        subject=subject,
        body=body,
        attachments=tuple(files),
        language=(language or "und").lower(),
        headers=parse_headers(raw) if raw is not None else None,
        new_text=new_text[:MAX_TEXT_CHARS],
        kind=kind or "customer",
    )


# Rules ---------------------------------------------------------------------------------------


def _address_matches(address: str, entry: str) -> bool:
    if "@" in entry and not entry.startswith("@"):
        return address == entry
    domain = entry.lstrip("@")
    at = address.rpartition("@")[2]
    return at == domain or at.endswith("." + domain)


def _attachment_matches(file: tuple[str, str], entry: str) -> bool:
    name, content_type = file
    if "/" in entry:
        if entry.endswith("/*"):
            return content_type.lower().startswith(entry[:-1])
        return content_type.lower() == entry
    return name.endswith("." + entry.lstrip("."))


@dataclass(frozen=True, slots=True)
class Conditions:
    """A rule's conditions (see the module docstring); empty ones are not tried."""

    sender: tuple[str, ...] = ()
    recipient: tuple[str, ...] = ()
    subject: tuple[str, ...] = ()
    body: tuple[str, ...] = ()
    text: tuple[str, ...] = ()
    header: tuple[tuple[str, str], ...] = ()
    attachment: tuple[str, ...] = ()
    language: tuple[str, ...] = ()
    flag: tuple[str, ...] = ()
    kind: tuple[str, ...] = ()

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Conditions:
        """Read and check conditions from TOML, JSON or a form; raises :class:`RuleError`."""
        unknown = sorted(set(data) - set(CONDITION_KEYS))
        if unknown:
            raise RuleError(
                f"unknown condition {', '.join(unknown)}; use {', '.join(CONDITION_KEYS)}"
            )
        values: dict[str, Any] = {}
        for key in CONDITION_KEYS:
            raw = data.get(key)
            if raw in (None, "", [], {}):
                continue
            if key == "header":
                if not isinstance(raw, Mapping):
                    raise RuleError("header: give a table of header name = phrase")
                pairs = tuple(
                    (_value("header", str(name)).lower(), _value("header", str(phrase)))
                    for name, phrase in raw.items()
                )
                for name, phrase in pairs:
                    if phrase != "*":
                        parse_phrase(phrase)
                    if not re.fullmatch(r"[!-9;-~]{1,76}", name):
                        raise RuleError(f"header: {name!r} is not a header name")
                values[key] = pairs[:MAX_VALUES]
                continue
            items = [raw] if isinstance(raw, str) else raw
            if not isinstance(items, Sequence) or not all(isinstance(i, str) for i in items):
                raise RuleError(f"{key}: give a list of strings")
            cleaned = tuple(dict.fromkeys(_value(key, item) for item in items if item.strip()))
            if len(cleaned) > MAX_VALUES:
                raise RuleError(f"{key}: at most {MAX_VALUES} values")
            if key in ("subject", "body", "text"):
                for phrase in cleaned:
                    parse_phrase(phrase)
            elif key == "flag":
                cleaned = tuple(item.lower() for item in cleaned)
                wrong = [item for item in cleaned if item not in FLAGS]
                if wrong:
                    raise RuleError(f"flag: {wrong[0]!r} is not one of {', '.join(FLAGS)}")
            elif key == "kind":
                cleaned = tuple(dict.fromkeys(item.lower().replace("-", "_") for item in cleaned))
                wrong = [item for item in cleaned if item not in KINDS]
                if wrong:
                    raise RuleError(f"kind: {wrong[0]!r} is not one of {', '.join(KINDS)}")
            elif key in ("sender", "recipient", "attachment", "language"):
                cleaned = tuple(item.lower() for item in cleaned)
                for item in cleaned:
                    if any(c.isspace() for c in item):
                        raise RuleError(f"{key}: {item!r} holds a space")
            if cleaned:
                values[key] = cleaned
        return cls(**values)

    def to_mapping(self) -> dict[str, Any]:
        """The conditions as stored (JSON) and written in TOML: empty ones left out."""
        out: dict[str, Any] = {}
        for key in CONDITION_KEYS:
            value = getattr(self, key)
            if not value:
                continue
            out[key] = dict(value) if key == "header" else list(value)
        return out

    def __bool__(self) -> bool:
        return any(getattr(self, key) for key in CONDITION_KEYS)

    @property
    def needs_headers(self) -> bool:
        return bool(self.header)

    @property
    def needs_text(self) -> bool:
        """Whether matching reads the subject or the body (else only addresses & co.)."""
        return bool(self.subject or self.body or self.text or self.flag)

    def describe(self) -> str:
        """One line for lists and cover notes: ``sender klant.nl; subject "schade*"``."""
        parts = []
        for key, value in self.to_mapping().items():
            if key == "header":
                shown = ", ".join(f"{k}: {v}" for k, v in value.items())
            else:
                shown = ", ".join(
                    f'"{v}"' if key in ("subject", "body", "text") else v for v in value
                )
            parts.append(f"{key} {shown}")
        return "; ".join(parts)

    def matches(self, facts: MailFacts) -> bool:
        """True when every condition given holds for ``facts``."""
        if not self:
            return False  # a rule with no condition matches nothing, not everything
        if self.sender and not any(_address_matches(facts.sender, e) for e in self.sender):
            return False
        if self.recipient and not any(
            _address_matches(a, e) for a in facts.recipients for e in self.recipient
        ):
            return False
        if self.language and facts.language not in self.language:
            return False
        if self.kind and facts.kind not in self.kind:
            return False
        if self.flag and not any(flag in facts.flags for flag in self.flag):
            return False
        if self.attachment and not any(
            _attachment_matches(f, e) for f in facts.attachments for e in self.attachment
        ):
            return False
        if self.subject and not any(facts.subject_words.has(p) for p in _phrases(self.subject)):
            return False
        if self.body and not any(facts.body_words.has(p) for p in _phrases(self.body)):
            return False
        if self.text and not any(
            facts.subject_words.has(p) or facts.body_words.has(p) for p in _phrases(self.text)
        ):
            return False
        return not self.header or any(
            _header_matches(facts, name, phrase) for name, phrase in self.header
        )


_PHRASE_CACHE: dict[str, Phrase] = {}


def _phrases(values: Sequence[str]) -> list[Phrase]:
    out = []
    for value in values:
        phrase = _PHRASE_CACHE.get(value)
        if phrase is None:
            phrase = parse_phrase(value)
            if len(_PHRASE_CACHE) < 10_000:
                _PHRASE_CACHE[value] = phrase
        out.append(phrase)
    return out


def _header_matches(facts: MailFacts, name: str, phrase: str) -> bool:
    values = (facts.headers or {}).get(name, ())
    if phrase == "*":
        return bool(values)
    parsed = _phrases((phrase,))[0]
    return any(WordIndex(value).has(parsed) for value in values)


def _value(key: str, value: str) -> str:
    value = value.strip()
    if len(value) > MAX_VALUE_CHARS:
        raise RuleError(f"{key}: {value[:40]!r}… is longer than {MAX_VALUE_CHARS} characters")
    if any(c in value for c in "\r\n\x00"):
        raise RuleError(f"{key}: {value[:40]!r} holds a line break")
    return value


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """One rule as routing, the dry run and the forms see it (``team``: a slug)."""

    name: str
    conditions: Conditions
    action: str
    team: str | None = None
    priority: str | None = None
    enabled: bool = True
    note: str = ""
    id: int | None = None
    position: int = 0

    def __post_init__(self) -> None:
        name = self.name.strip()
        if not name or len(name) > 200 or any(c in name for c in "\r\n\x00"):
            raise RuleError("name: give one line of at most 200 characters")
        if self.action not in RULE_ACTIONS:
            raise RuleError(f"action {self.action!r}: use one of {', '.join(RULE_ACTIONS)}")
        if self.action == "route" and not self.team:
            raise RuleError(f"rule {name!r}: 'route' needs a team")
        if self.action != "route" and self.team:
            raise RuleError(f"rule {name!r}: only 'route' takes a team")
        if self.action == "priority" and self.priority not in RULE_PRIORITIES:
            raise RuleError(
                f"rule {name!r}: 'priority' needs priority = {' or '.join(RULE_PRIORITIES)}"
            )
        if self.action != "priority" and self.priority:
            raise RuleError(f"rule {name!r}: only 'priority' takes a priority")
        if not self.conditions:
            raise RuleError(f"rule {name!r} has no condition: it would match every mail")
        if len(self.note) > 5000:
            raise RuleError(f"rule {name!r}: the note is longer than 5000 characters")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> RuleSpec:
        """A ``[[rule]]`` table of a TOML file: name, note, enabled, action, team,
        priority and ``when`` (the conditions)."""
        known = {"name", "note", "enabled", "action", "team", "priority", "when"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise RuleError(f"unknown key {', '.join(unknown)} in a rule; use {sorted(known)}")
        when = data.get("when") or {}
        if not isinstance(when, Mapping):
            raise RuleError("when: give a table of conditions")
        enabled = data.get("enabled", True)
        if not isinstance(enabled, bool):
            raise RuleError("enabled: true or false")
        return cls(
            name=str(data.get("name") or ""),
            note=str(data.get("note") or ""),
            enabled=enabled,
            action=str(data.get("action") or ""),
            team=str(data["team"]) if data.get("team") else None,
            priority=str(data["priority"]) if data.get("priority") else None,
            conditions=Conditions.from_mapping(when),
        )

    def explain(self) -> str:
        """What a person reads: ``rule 'Schadeformulier' matched``."""
        return f"rule '{self.name}' matched"


@dataclass(frozen=True, slots=True)
class RuleOutcome:
    """What the rules say about one mail (:func:`evaluate`)."""

    decided: RuleSpec | None = None  # the first matching 'route' or 'review' rule
    priority: RuleSpec | None = None  # the first matching 'priority' rule
    no_auto: RuleSpec | None = None  # the first matching 'no-auto' rule
    matched: tuple[str, ...] = field(default=())  # names of every rule that matched

    def details(self) -> dict[str, Any]:
        """What a routing decision records about the rules (empty when none matched)."""
        out: dict[str, Any] = {}
        if self.matched:
            out["rules_matched"] = list(self.matched)
        if self.decided is not None:
            out["rule"] = self.decided.name
        if self.priority is not None:
            out["priority"] = self.priority.priority
            out["priority_rule"] = self.priority.name
        if self.no_auto is not None:
            out["no_auto_rule"] = self.no_auto.name
        return out


def evaluate(rules: Iterable[RuleSpec], facts: MailFacts) -> RuleOutcome:
    """Walk the enabled rules in order (see the module docstring)."""
    decided = priority = no_auto = None
    matched: list[str] = []
    for rule in sorted(rules, key=lambda r: r.position):
        if not rule.enabled:
            continue
        if rule.action == "priority" and priority is not None:
            continue
        if rule.action == "no-auto" and no_auto is not None:
            continue
        if not rule.conditions.matches(facts):
            continue
        matched.append(rule.name)
        if rule.action == "priority":
            priority = rule
        elif rule.action == "no-auto":
            no_auto = rule
        else:
            decided = rule
            break
    return RuleOutcome(decided=decided, priority=priority, no_auto=no_auto, matched=tuple(matched))
