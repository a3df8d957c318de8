"""The demo corpus: a synthetic mailbox of the invented Dutch insurer Polderzeker.

:func:`generate` writes, for a seed, byte-for-byte the same tree::

    OUT/
      Maildir/                 the Maildir root = the unsorted INBOX (new/, cur/, tmp/)
        new/                   inbox_count mails for the worker to route (unread)
        .Schade/cur/           archived mail that ended up with a team (Maildir++ folders,
        .Premie/cur/ ...         as mailbox.Maildir.add_folder makes them; flagged seen)
      truth.jsonl              one JSON line per mail, archive first, then inbox

Every team (``data/teams.toml`` for the demo) has one folder named after its
``imap_folder``. File names are ``<epoch>.demo<index>.polderzeker`` (``:2,S`` in ``cur/``)
and each file's mtime is the mail's date, so IMAP servers show sensible arrival times.

A truth line holds ``message_id``, ``team`` (what the mail is really about), ``language``
(nl/en), ``folder`` (where it was filed: the team's folder, ``INBOX``, or -- for about 2% of
the archive, like in real archives -- another team's folder, with feature ``misfiled``),
``kind`` (new, reply, forward, malformed), ``topics`` (primary team first; two when the mail
also mentions another team's business), ``path`` (relative to ``Maildir/``), ``intent`` and
``features`` (e.g. ``html``, ``charset:windows-1252``, ``quote:reply-outlook``,
``forward:rfc822``, ``attachment``, ``typos``, ``malformed:bad-date``), ``urgent`` and
``churn`` (the demo organisation's judgement of the mail: :mod:`data.mood`) and, for replies
and forwards of corpus mail, ``parent`` (the earlier Message-ID).

Repeat customers (:data:`REPEAT_SHARE`): some new mails come from a customer who wrote
shortly before (in the inbox: earlier in the inbox; in the archive: within the last two
weeks or so of archived mail, :data:`ARCHIVE_REPEAT_WINDOW`), from the same address. Most
are about the same case (same team, same policy, claim and customer numbers): a further
question, or a vague "any news?" that only the customer links to their case (feature
``repeat-customer``, ``follow-up:vague`` or ``follow-up:more``). Some
(:data:`NEW_MATTER_SHARE`) are about something else — the customer with a claim now asks
about their premium — under the same name and customer number (feature ``new-matter``): a
customer's case is evidence, not the answer. Truth field ``repeat_of``: the earlier mail's
Message-ID. They are not replies: no In-Reply-To, no quote, so only customer affinity (not
the thread) links them. The archive holds them too, so that the verified sample can show
how often a customer's earlier team is the right one (:mod:`classifier.certify`).

Message-IDs are ``<demo-NNNNNN@polderzeker.example>``; replies carry In-Reply-To/References
to an earlier corpus mail (directly, or through the insurer's answer, whose Message-ID
``<answer-NNNNNN@polderzeker.example>`` is not in the corpus). A reply usually keeps its
thread's team, but some use an old thread for new business (feature ``topic-switch``): their
``team`` is the new subject and the thread's team is their second topic.

What makes the corpus hard for a bag-of-words model, on purpose: vague mails ("zie
bijlage") that several teams receive, a second topic in an aside or as a recalled earlier
request (``background``), sentences in other teams' words, topic switches under long quoted
history, typos and lowercase. The knobs are :data:`data.compose.NOISE` and the shares below;
``benchmarks/tfidf_demo_baseline.py`` measures the effect (target accuracy 0.75-0.88).
"""

from __future__ import annotations

import json
import mailbox
import os
import random
import shutil
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from data import compose, mood, pii_truth
from data.compose import TEAM_SHARES, Composition
from data.mime_build import (
    CLIENTS,
    MALFORMATIONS,
    Correspondent,
    Draft,
    QuoteBlock,
    amsterdam_time,
    make_attachment,
    malform,
    quote_text,
    render,
)
from data.phrasebook import Phrasebook, expand
from data.phrasebook_en import PHRASEBOOK as PHRASEBOOK_EN
from data.phrasebook_nl import PHRASEBOOK as PHRASEBOOK_NL
from data.slots import BROKERS, NL_FIRST, STAFF, Person, make_person, make_slots

DOMAIN = "polderzeker.example"
MAILDIR_NAME = "Maildir"
TRUTH_NAME = "truth.jsonl"
INBOX = "INBOX"

# Share of each team in the archive and the inbox (sums to 1).
ENGLISH_SHARE = 0.2
REPLY_SHARE = 0.2
FORWARD_SHARE = 0.1
MALFORMED_SHARE = 0.01
MISFILED_SHARE = 0.02
# Of the new mails, the share that comes from a customer with an ongoing case (about 10-15 %
# of all mail), of those the share about something else than the case, and of the rest the
# share that is a vague follow-up.
REPEAT_SHARE = 0.2
NEW_MATTER_SHARE = 0.2
VAGUE_FOLLOW_UP_SHARE = 0.5
# An archived repeat customer's case is one of the last this many new archived mails (the
# archive has about three mails a day: about two weeks, within MAILROOM_AFFINITY_DAYS).
ARCHIVE_REPEAT_WINDOW = 40
ARCHIVE_START = datetime(2023, 1, 2, tzinfo=UTC)
ARCHIVE_END = datetime(2024, 12, 20, tzinfo=UTC)
INBOX_START = datetime(2025, 1, 6, tzinfo=UTC)
INBOX_END = datetime(2025, 1, 25, tzinfo=UTC)

_PHRASEBOOKS: dict[str, Phrasebook] = {"nl": PHRASEBOOK_NL, "en": PHRASEBOOK_EN}
_SHARED_ADDRESSES = (
    Correspondent("Polderzeker Klantenservice", f"info@{DOMAIN}"),
    Correspondent("Polderzeker", f"info@{DOMAIN}"),
    Correspondent("", f"info@{DOMAIN}"),
    Correspondent("Klantenservice Polderzeker", f"service@{DOMAIN}"),
)


@dataclass(frozen=True)
class CorpusSummary:
    """What :func:`generate` wrote. Counts per team/language/kind cover archive and inbox;
    ``per_folder`` counts files per Maildir folder (``INBOX`` is the root)."""

    out_dir: Path
    maildir: Path
    truth_path: Path
    seed: int
    archive_count: int
    inbox_count: int
    per_team: dict[str, int]
    per_language: dict[str, int]
    per_folder: dict[str, int]
    per_kind: dict[str, int]
    misfiled: int
    two_topics: int

    @property
    def total(self) -> int:
        return self.archive_count + self.inbox_count

    def format(self) -> str:
        """A human-readable multi-line summary (what ``mailroom demo-corpus`` prints)."""
        lines = [
            f"Demo corpus (seed {self.seed}): {self.total} mails "
            f"({self.archive_count} archived, {self.inbox_count} in the inbox)",
            f"  Maildir: {self.maildir}",
            f"  truth:   {self.truth_path}",
        ]
        for title, counts in (
            ("team", self.per_team),
            ("language", self.per_language),
            ("folder", self.per_folder),
            ("kind", self.per_kind),
        ):
            lines.append(f"per {title}:")
            width = max(len(key) for key in counts)
            lines.extend(f"  {key:<{width}}  {value:>5}" for key, value in counts.items())
        lines.append(
            f"misfiled in the archive: {self.misfiled}; mentioning two topics: {self.two_topics}"
        )
        return "\n".join(lines)


@dataclass
class _Planned:
    index: int
    date: datetime  # local (Amsterdam) time
    kind: str
    team: str
    language: str
    parent: int | None = None
    malformation: str | None = None
    repeat_of: int | None = None  # a repeat customer's earlier mail (their case)
    new_matter: bool = False  # the repeat customer writes about something else


@dataclass
class _Record:
    """One truth line; ``folder`` and ``path`` are filled in when the file is written."""

    message_id: str
    team: str
    language: str
    kind: str
    topics: list[str]
    intent: str
    features: list[str]
    parent: str | None = None
    folder: str = ""
    path: str = ""
    pii: list[dict[str, str]] = field(default_factory=list)
    repeat_of: str | None = None
    # Urgency and churn truth (data.mood).
    urgent: bool = False
    churn: bool = False

    def to_json(self) -> str:
        data = {
            "message_id": self.message_id,
            "team": self.team,
            "language": self.language,
            "folder": self.folder,
            "kind": self.kind,
            "topics": self.topics,
            "path": self.path,
            "intent": self.intent,
            "features": self.features,
            "pii": self.pii,
            "urgent": self.urgent,
            "churn": self.churn,
        }
        if self.parent is not None:
            data["parent"] = self.parent
        if self.repeat_of is not None:
            data["repeat_of"] = self.repeat_of
        return json.dumps(data, ensure_ascii=False, sort_keys=True)


@dataclass
class _Written:
    """What later mails need to know about an earlier one (to reply to or forward it)."""

    index: int
    team: str
    language: str
    sender: Correspondent
    person: Person
    to: Correspondent
    subject: str
    text: str
    date: datetime
    message_id: str
    references: list[str] = field(default_factory=list)
    quote_depth: int = 0
    slots: dict[str, str] = field(default_factory=dict)
    # Personal values this mail holds, for the truth of mails that quote it.
    pii_candidates: list[pii_truth.Candidate] = field(default_factory=list)


class TeamFolder(Protocol):
    """What the generator needs of a team (``labeling.store.teams.TeamDefinition`` is one)."""

    @property
    def slug(self) -> str: ...
    @property
    def imap_folder(self) -> str: ...


def generate(
    out_dir: Path,
    teams: Sequence[TeamFolder],
    *,
    count: int = 2400,
    seed: int = 7,
    inbox_count: int = 300,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> CorpusSummary:
    """Write the demo corpus for ``seed`` under ``out_dir`` (layout in the module docstring).

    ``count`` archived mails are spread over the team folders and ``inbox_count`` unsorted
    mails land in the inbox. The same arguments always produce identical bytes. Raises
    ``FileExistsError`` when ``out_dir`` already holds a corpus, unless ``overwrite`` is true
    (then only ``Maildir/`` and ``truth.jsonl`` are replaced), and ``ValueError`` for
    negative counts. ``progress(done, total)``, when given, is called after every mail.
    """
    if count < 0 or inbox_count < 0:
        raise ValueError("count and inbox_count must not be negative")
    missing = [slug for slug in TEAM_SHARES if slug not in {team.slug for team in teams}]
    if missing:
        raise ValueError(f"the teams lack the demo teams {missing}")
    out_dir = Path(out_dir)
    maildir_path = out_dir / MAILDIR_NAME
    truth_path = out_dir / TRUTH_NAME
    if maildir_path.exists() or truth_path.exists():
        if not overwrite:
            raise FileExistsError(f"{out_dir} already holds a demo corpus")
        shutil.rmtree(maildir_path, ignore_errors=True)
        truth_path.unlink(missing_ok=True)
    out_dir.mkdir(parents=True, exist_ok=True)

    plan = _plan(count, inbox_count, seed)
    _plan_repeats(plan, count, seed)
    root = mailbox.Maildir(maildir_path, create=True)
    folder_paths = {INBOX: maildir_path}
    for team in teams:
        root.add_folder(team.imap_folder)
        folder_paths[team.imap_folder] = maildir_path / f".{team.imap_folder}"
        marker = folder_paths[team.imap_folder] / "maildirfolder"  # a file, so fix its time too
        os.utime(marker, (int(ARCHIVE_START.timestamp()),) * 2)
    by_slug = {team.slug: team for team in teams}

    written: dict[int, _Written] = {}
    truth_lines: list[str] = []
    folder_counts: Counter[str] = Counter()
    team_counts: Counter[str] = Counter()
    misfiled = two_topics = 0
    for planned in plan:
        rng = random.Random(f"demo-corpus/{seed}/{planned.index}")
        raw, record, info = _write_one(planned, rng, written, seed=seed)
        if info is not None:
            written[planned.index] = info
        archived = planned.index < count
        team_counts[record.team] += 1
        folder = INBOX
        if archived:
            folder = by_slug[record.team].imap_folder
            if rng.random() < MISFILED_SHARE:
                folder = rng.choice([t.imap_folder for t in teams if t.slug != record.team])
                record.features.append("misfiled")
                misfiled += 1
        two_topics += len(record.topics) > 1
        epoch = int(planned.date.timestamp())
        name = f"{epoch}.demo{planned.index:06d}.polderzeker"
        relative = f"cur/{name}:2,S" if archived else f"new/{name}"
        target = folder_paths[folder] / relative
        target.write_bytes(raw)
        os.utime(target, (epoch, epoch))
        folder_counts[folder] += 1
        record.folder = folder
        record.path = (f".{folder}/" if folder != INBOX else "") + relative
        truth_lines.append(record.to_json())
        if progress is not None:
            progress(planned.index + 1, len(plan))
    truth_path.write_text("\n".join(truth_lines) + ("\n" if truth_lines else ""), encoding="utf-8")
    os.utime(truth_path, (int(INBOX_END.timestamp()),) * 2)

    def ordered(counter: Counter[str], keys: list[str]) -> dict[str, int]:
        return {key: counter[key] for key in keys if counter[key]} | {
            key: value for key, value in sorted(counter.items()) if key not in keys
        }

    return CorpusSummary(
        out_dir=out_dir,
        maildir=maildir_path,
        truth_path=truth_path,
        seed=seed,
        archive_count=count,
        inbox_count=inbox_count,
        per_team=ordered(team_counts, [t.slug for t in teams]),
        per_language=ordered(Counter(p.language for p in plan), ["nl", "en"]),
        per_folder=ordered(folder_counts, [INBOX] + [t.imap_folder for t in teams]),
        per_kind=ordered(Counter(p.kind for p in plan), ["new", "reply", "forward", "malformed"]),
        misfiled=misfiled,
        two_topics=two_topics,
    )


# --- planning ------------------------------------------------------------------------------


def _plan(count: int, inbox_count: int, seed: int) -> list[_Planned]:
    rng = random.Random(f"demo-corpus/{seed}/plan")
    dates = _dates(rng, count, ARCHIVE_START, ARCHIVE_END) + _dates(
        rng, inbox_count, INBOX_START, INBOX_END
    )
    total = count + inbox_count
    n_malformed = round(total * MALFORMED_SHARE)
    malformed = set(rng.sample(range(total), n_malformed)) if n_malformed else set()
    teams = list(TEAM_SHARES)
    weights = [TEAM_SHARES[slug] for slug in teams]
    plan: list[_Planned] = []
    malformed_seen = 0
    for index, date in enumerate(dates):
        language = "en" if rng.random() < ENGLISH_SHARE else "nl"
        team = rng.choices(teams, weights)[0]
        if index in malformed:
            kind = MALFORMATIONS[malformed_seen % len(MALFORMATIONS)]
            malformed_seen += 1
            plan.append(_Planned(index, date, "malformed", team, language, malformation=kind))
            continue
        roll = rng.random()
        candidates = [p for p in plan[-400:] if p.kind != "malformed" and p.date < date]
        if roll < REPLY_SHARE + FORWARD_SHARE and candidates and (
            roll < REPLY_SHARE or rng.random() < 0.35
        ):
            parent = rng.choice(candidates)
            kind = "reply" if roll < REPLY_SHARE else "forward"
            plan.append(_Planned(index, date, kind, parent.team, parent.language, parent.index))
        elif roll < REPLY_SHARE + FORWARD_SHARE:
            plan.append(_Planned(index, date, "forward", team, language))
        else:
            plan.append(_Planned(index, date, "new", team, language))
    return plan


def _plan_repeats(plan: list[_Planned], count: int, seed: int) -> None:
    """Make some new mails follow up an earlier mail's case (module docstring): in the inbox
    an earlier inbox mail's, in the archive a recent archived one's. Random streams of their
    own, so the rest of the plan stays as it was."""
    matters = random.Random(f"demo-corpus/{seed}/new-matter")
    for part, rng, window in (
        (plan[count:], random.Random(f"demo-corpus/{seed}/repeats"), 150),
        (plan[:count], random.Random(f"demo-corpus/{seed}/repeats-archive"), ARCHIVE_REPEAT_WINDOW),
    ):
        earlier: list[_Planned] = []
        for planned in part:
            if planned.kind != "new":
                continue
            if earlier and rng.random() < REPEAT_SHARE:
                case = rng.choice(earlier[-window:])
                planned.repeat_of = case.index
                planned.language = case.language
                if matters.random() < NEW_MATTER_SHARE and planned.team != case.team:
                    planned.new_matter = True
                else:
                    planned.team = case.team
            earlier.append(planned)


def _dates(rng: random.Random, n: int, start: datetime, end: datetime) -> list[datetime]:
    span_days = (end - start).days
    stamps = []
    for _ in range(n):
        day = start + timedelta(days=rng.randrange(span_days))
        hour = rng.choices(range(24), weights=_HOUR_WEIGHTS)[0]
        offset = timedelta(hours=hour, minutes=rng.randrange(60), seconds=rng.randrange(60))
        stamps.append(day + offset)
    return [amsterdam_time(stamp) for stamp in sorted(stamps)]


_THREAD_SLOTS = (
    "polis", "polis2", "claim", "offerte", "factuur", "relatie", "kenteken", "auto", "iban",
    "adres", "postcode", "plaats", "adres_nieuw", "postcode_nieuw", "plaats_nieuw",
    "iban_nieuw", "bedrag", "premie_bedrag", "premie_oud", "premie_nieuw", "naam", "voornaam",
    "achternaam", "aanhef",
)
# What a customer's new matter shares with their case: who they are, not what it was about.
_CUSTOMER_SLOTS = (
    "relatie", "adres", "postcode", "plaats", "iban", "naam", "voornaam", "achternaam", "aanhef",
)
# Relative frequency of mail per hour of the day (UTC), 00h to 23h.
_HOUR_WEIGHTS = (
    1, 1, 1, 1, 1, 2, 4, 8, 12, 14, 14, 13, 11, 12, 13, 12, 11, 10, 9, 11, 12, 10, 6, 3,
)


# --- one mail ------------------------------------------------------------------------------


def _write_one(
    planned: _Planned,
    rng: random.Random,
    written: dict[int, _Written],
    *,
    seed: int = 7,
) -> tuple[bytes, _Record, _Written | None]:
    """Compose and render one planned mail; returns its bytes, its truth record and what
    later mails need to reply to or forward it (None for a malformed mail)."""
    pb = _PHRASEBOOKS[planned.language]
    message_id = f"<demo-{planned.index:06d}@{DOMAIN}>"
    parent = written.get(planned.parent) if planned.parent is not None else None
    case = written.get(planned.repeat_of) if planned.repeat_of is not None else None
    if parent is not None:
        planned.team = parent.team  # the thread's team, after any topic switch in it
        person = parent.person
    elif case is not None:
        if not planned.new_matter:
            planned.team = case.team  # a repeat customer's ongoing case
        person = case.person
    else:
        person = make_person(rng, planned.language, planned.index)
    slots = make_slots(rng, planned.language, person, planned.date)
    for earlier in (parent, case):
        if earlier is not None:
            # A thread (or a case) keeps talking about the same policy, claim, car, address;
            # a customer's new matter only shares who they are.
            kept = _CUSTOMER_SLOTS if planned.new_matter else _THREAD_SLOTS
            slots.update({k: earlier.slots[k] for k in kept if k in earlier.slots})
    client = rng.choices(CLIENTS, weights=(30, 22, 25, 10, 13))[0]
    draft = Draft(
        index=planned.index,
        language=planned.language,
        client=client,
        sender=Correspondent(person.name if rng.random() < 0.9 else "", person.address),
        to=rng.choice(_SHARED_ADDRESSES),
        date=planned.date,
        message_id=message_id,
        subject="",
        paragraphs=[],
        signature=[],
    )
    features: list[str] = []
    parent_id: str | None = None

    if planned.kind == "reply" and parent is not None:
        comp, quote_depth = _reply(pb, planned, parent, rng, slots, person, draft)
        parent_id = parent.message_id
    elif planned.kind == "forward":
        comp, quote_depth = _forward(pb, planned, parent, rng, slots, person, draft)
        if parent is not None:
            parent_id = parent.message_id
    elif case is not None:
        draft.sender = case.sender  # the same customer, from the same address
        if planned.new_matter:
            comp = compose.compose_new(pb, planned.team, rng, slots, person)
            comp.features.extend(["repeat-customer", "new-matter"])
        else:
            comp = _follow_up(pb, planned.team, rng, slots, person)
        draft.subject = comp.subject
        quote_depth = 0
    else:
        comp = compose.compose_new(pb, planned.team, rng, slots, person)
        draft.subject = comp.subject
        quote_depth = 0

    team = comp.topics[0]  # a reply may have switched to another team's business
    # Angry, hurried and leaving customers (data.mood): its own RNG, so nothing else moves.
    with_mood, draft.subject, feeling = mood.mood_of(
        seed,
        planned.index,
        language=planned.language,
        team=team,
        intent=comp.intent,
        kind=planned.kind,
        paragraphs=comp.paragraphs,
        subject=draft.subject,
    )
    features.extend(feeling.features)
    paragraphs, noise_features = compose.apply_noise(with_mood, rng)
    if client == "outlook":
        paragraphs = compose.smart_quotes(paragraphs)
    draft.paragraphs = paragraphs
    draft.signature = comp.signature
    features.extend(comp.features + noise_features)

    if (comp.wants_attachment and rng.random() < 0.85) or rng.random() < 0.04:
        for _ in range(rng.choice((1, 1, 1, 2))):
            draft.attachments.append(make_attachment(_attachment_name(pb, team, rng), rng))
    _presentation(draft, rng, planned)
    if planned.kind == "malformed":
        _prepare_for_malformation(draft, planned.malformation or "")
    if rng.random() < 0.04:
        draft.cc = Correspondent(rng.choice(NL_FIRST), f"partner.{planned.index}@example.nl")

    raw = render(draft)
    candidates = [
        *pii_truth.person_candidates(person),
        *pii_truth.slot_candidates(slots),
        *pii_truth.draft_candidates(draft),
        *(parent.pii_candidates if parent is not None else ()),
    ]
    if comp.intent == "geboortedatum":  # the one template that writes a date of birth
        candidates.append((pii_truth.BIRTH_DATE, slots["datum2"]))
    pii = pii_truth.record(pii_truth.shown_texts(draft), pii_truth.fitted(candidates, draft))
    if planned.kind == "malformed":
        raw = malform(raw, planned.malformation or "", rng)
        features.append(f"malformed:{planned.malformation}")
    features.extend(_presentation_features(draft))

    record = _Record(
        message_id=message_id,
        team=team,
        language=planned.language,
        kind=planned.kind,
        topics=comp.topics,
        intent=comp.intent,
        features=features,
        parent=parent_id,
        pii=pii,
        repeat_of=case.message_id if case is not None else None,
        urgent=feeling.urgent,
        churn=feeling.churn,
    )
    info = None
    if planned.kind != "malformed":
        info = _Written(
            index=planned.index,
            team=team,
            language=planned.language,
            sender=draft.sender,
            person=person,
            to=draft.to,
            subject=draft.subject,
            text=draft.plain_text(),
            date=planned.date,
            message_id=message_id,
            references=list(draft.references),
            quote_depth=quote_depth,
            slots=slots,
            pii_candidates=sorted(set(candidates)),
        )
    return raw, record, info


def _reply(
    pb: Phrasebook,
    planned: _Planned,
    parent: _Written,
    rng: random.Random,
    slots: dict[str, str],
    person: Person,
    draft: Draft,
) -> tuple[Composition, int]:
    to_answer = rng.random() < 0.65
    comp = compose.compose_reply(pb, planned.team, rng, slots, person, to_answer=to_answer)
    prefix = rng.choice(pb.reply_prefixes)
    base = parent.subject
    draft.subject = prefix + base if rng.random() < 0.2 or not _has_prefix(base) else base
    draft.sender = parent.sender
    parent_text = parent.text if parent.quote_depth < 2 else _cut_quote(parent.text)
    quote_style = "reply-outlook" if draft.client == "outlook" else "reply-gt"
    if draft.client == "webmail" and rng.random() < 0.5:
        quote_style = "reply-outlook"
    quote_language = planned.language if rng.random() < 0.85 else "en"
    if to_answer:
        staff = Correspondent(f"{slots['medewerker']} | Polderzeker", f"service@{DOMAIN}")
        answered = parent.date + (planned.date - parent.date) * rng.uniform(0.2, 0.8)
        answer_id = f"<answer-{parent.index:06d}@{DOMAIN}>"
        answer_quote = QuoteBlock(
            style="reply-outlook",
            language=planned.language,
            client="outlook",
            author=parent.sender,
            to=parent.to,
            sent=parent.date,
            subject=parent.subject,
            text=parent_text,
        )
        answer_text = (
            compose.insurer_answer(pb, planned.team, rng, slots) + "\n\n" + quote_text(answer_quote)
        )
        draft.quote = QuoteBlock(
            style=quote_style,
            language=quote_language,
            client=draft.client,
            author=staff,
            to=parent.sender,
            sent=answered,
            subject="RE: " + parent.subject,
            text=answer_text,
        )
        draft.in_reply_to = answer_id
        draft.references = [*parent.references[-4:], parent.message_id, answer_id]
    else:
        draft.quote = QuoteBlock(
            style=quote_style,
            language=quote_language,
            client=draft.client,
            author=parent.sender,
            to=parent.to,
            sent=parent.date,
            subject=parent.subject,
            text=parent_text,
        )
        draft.in_reply_to = parent.message_id
        draft.references = [*parent.references[-4:], parent.message_id]
    comp.features.append(f"quote:{quote_style}")
    return comp, parent.quote_depth + 1


def _forward(
    pb: Phrasebook,
    planned: _Planned,
    parent: _Written | None,
    rng: random.Random,
    slots: dict[str, str],
    person: Person,
    draft: Draft,
) -> tuple[Composition, int]:
    """A broker, a colleague or the customer forwards a mail; a customer forwarding their
    own earlier mail forwards a corpus mail (``parent``)."""
    if parent is not None:
        who = "self"
        slots["datum"] = f"{parent.date.day} {pb.months[parent.date.month - 1]}"
        original_subject, original_text = parent.subject, parent.text
        original_sender, original_to, original_date = parent.sender, parent.to, parent.date
        topics, intent = [planned.team], "forward-own"
        draft.sender = parent.sender
        draft.references = [*parent.references[-4:], parent.message_id]
        original_depth = parent.quote_depth
    else:
        who = "broker" if rng.random() < 0.6 else "colleague"
        inner = compose.compose_new(pb, planned.team, rng, slots, person)
        inner_paragraphs, _ = compose.apply_noise(inner.paragraphs, rng)
        original_sender = Correspondent(person.name, person.address)
        if who == "broker":
            broker_name, broker_domain = rng.choice(BROKERS)
            staff_first = rng.choice(NL_FIRST)
            draft.sender = Correspondent(
                f"{staff_first} | {broker_name}",
                f"{staff_first.lower()[:1]}.advies@{broker_domain}",
            )
            original_to = Correspondent(broker_name, f"info@{broker_domain}")
        else:
            colleague = rng.choice(STAFF)
            draft.sender = Correspondent(
                f"{colleague} (Polderzeker)", f"{colleague.lower()}@{DOMAIN}"
            )
            original_to = Correspondent("Polderzeker", f"service@{DOMAIN}")
        original_date = planned.date - timedelta(hours=rng.randrange(1, 96))
        original_subject = inner.subject
        original_draft = Draft(
            index=planned.index,
            language=planned.language,
            client=rng.choice(CLIENTS),
            sender=original_sender,
            to=original_to,
            date=original_date,
            message_id=f"<orig-{planned.index:06d}@{person.address.split('@')[1]}>",
            subject=original_subject,
            paragraphs=inner_paragraphs,
            signature=inner.signature,
            received=False,
            tag="i",
        )
        original_text = original_draft.plain_text()
        topics, intent = inner.topics, inner.intent
        original_depth = 0
        if inner.wants_attachment and rng.random() < 0.7:
            original_draft.attachments.append(
                make_attachment(_attachment_name(pb, planned.team, rng), rng)
            )
        if rng.random() < 0.35:
            draft.attached_message = original_draft
    note = compose.forward_note(pb, who, rng, slots)
    if rng.random() < 0.7 and who != "self":
        note.append(rng.choice(pb.signoffs) + "\n" + draft.sender.name.split(" |")[0])
    draft.subject = rng.choice(pb.forward_prefixes) + original_subject
    if draft.attached_message is not None:
        note.append(expand(rng.choice(pb.attachment_notes), slots, rng))
        comp = Composition(
            subject=draft.subject, paragraphs=note, signature=[], topics=topics, intent=intent,
            features=["forward:rfc822", f"forward-by:{who}"],
        )
        return comp, 0
    draft.quote = QuoteBlock(
        style="forward",
        language=planned.language,
        client=draft.client,
        author=original_sender,
        to=original_to,
        sent=original_date,
        subject=original_subject,
        text=original_text,
    )
    comp = Composition(
        subject=draft.subject, paragraphs=note, signature=[], topics=topics, intent=intent,
        features=["forward:inline", f"forward-by:{who}"],
    )
    return comp, original_depth + 1


# A repeat customer's vague follow-up: only the sender (and the number, when named) says
# which case it is about. {ref} is the case's reference, as the customer writes it.
_FOLLOW_UPS = {
    "nl": (
        ("Nog geen reactie", "Ik heb u een tijdje geleden gemaild{ref} maar nog niets gehoord. "
         "Kunt u laten weten hoe het ervoor staat?"),
        ("Vraag", "Is er al nieuws over mijn eerdere mail{ref}? Ik wacht nog steeds."),
        ("Aanvulling", "Een aanvulling op wat ik eerder stuurde{ref}: zie de bijlage."),
        ("Re: mijn mail", "Hoe lang gaat dit nog duren{ref}? Graag een reactie."),
    ),
    "en": (
        ("No reply yet", "I emailed you a while ago{ref} and have not heard back. "
         "Could you let me know where things stand?"),
        ("Question", "Is there any news on my earlier email{ref}? I am still waiting."),
        ("Addition", "An addition to what I sent earlier{ref}: please see the attachment."),
    ),
}
_FOLLOW_UP_REFS = {"nl": " (polisnummer {polis})", "en": " (policy number {polis})"}
_FOLLOW_UP_CLAIM = {"nl": " (schadenummer {claim})", "en": " (claim number {claim})"}


def _follow_up(
    pb: Phrasebook, team: str, rng: random.Random, slots: dict[str, str], person: Person
) -> Composition:
    """A repeat customer's new mail about their ongoing case: a further question about the
    same team's business, or a vague follow-up that names the case's number or not."""
    if rng.random() >= VAGUE_FOLLOW_UP_SHARE:
        comp = compose.compose_new(pb, team, rng, slots, person)
        comp.features.extend(["repeat-customer", "follow-up:more"])
        return comp
    subject, body = rng.choice(_FOLLOW_UPS[pb.language])
    roll = rng.random()
    ref = ""
    if roll < 0.35:
        ref = _FOLLOW_UP_REFS[pb.language].format(**slots)
    elif roll < 0.5 and team == "schade":
        ref = _FOLLOW_UP_CLAIM[pb.language].format(**slots)
    greeting = expand(rng.choice(pb.greetings_informal), slots, rng)
    return Composition(
        subject=subject,
        paragraphs=[greeting, body.format(ref=ref)],
        signature=[rng.choice(pb.signoffs), person.first],
        topics=[team],
        intent="follow-up",
        features=["repeat-customer", "follow-up:vague"] + (["follow-up:ref"] if ref else []),
        wants_attachment="bijlage" in body or "attachment" in body,
    )


def _presentation(draft: Draft, rng: random.Random, planned: _Planned) -> None:
    """Body format, charset and transfer encoding, as the draft's mail client would pick."""
    client = draft.client
    if client == "outlook":
        draft.body_format = "alternative" if rng.random() < 0.9 else "plain"
        draft.charset = rng.choice(("windows-1252", "windows-1252", "iso-8859-1", "utf-8"))
        draft.cte = "quoted-printable" if rng.random() < 0.85 else "base64"
    elif client == "iphone":
        draft.body_format = "alternative" if rng.random() < 0.4 else "plain"
        draft.charset = "utf-8"
        draft.cte = rng.choice(("quoted-printable", "8bit", "quoted-printable"))
    elif client == "gmail":
        draft.body_format = "alternative"
        draft.charset = "utf-8"
        draft.cte = rng.choice(("quoted-printable", "base64"))
    elif client == "thunderbird":
        draft.body_format = "plain" if rng.random() < 0.8 else "alternative"
        draft.charset = rng.choice(("utf-8", "iso-8859-1", "iso-8859-1"))
        draft.cte = rng.choice(("8bit", "quoted-printable"))
        draft.wrap = True
    else:
        draft.body_format = rng.choice(("html", "alternative", "plain"))
        draft.charset = rng.choice(("utf-8", "iso-8859-1", "windows-1252"))
        draft.cte = rng.choice(("base64", "quoted-printable", "8bit"))
    draft.encode_subject = rng.random() < 0.05
    if draft.attached_message is not None:
        draft.attached_message.charset = draft.charset
        draft.attached_message.cte = draft.cte


def _prepare_for_malformation(draft: Draft, kind: str) -> None:
    if kind == "missing-boundary":
        draft.body_format = "alternative"
    elif kind == "truncated-base64":
        draft.body_format = "plain"
        draft.cte = "base64"
    elif kind == "unknown-charset":
        draft.body_format = "plain"
        draft.charset = "windows-1252"
        draft.cte = "8bit"
        draft.attachments.clear()
        draft.attached_message = None


def _presentation_features(draft: Draft) -> list[str]:
    features = [f"charset:{draft.charset}", f"cte:{draft.cte}", f"client:{draft.client}"]
    if draft.body_format != "plain":
        features.append("html" if draft.body_format == "html" else "alternative")
    if draft.attachments:
        features.append("attachment")
    if draft.encode_subject or not (draft.subject.isascii() and draft.sender.name.isascii()):
        features.append("rfc2047")
    if draft.signature and any("iPhone" in line or "Verzonden" in line for line in draft.signature):
        features.append("device-signature")
    return features


def _attachment_name(pb: Phrasebook, team: str, rng: random.Random) -> str:
    if rng.random() < 0.5:
        return rng.choice(pb.attachment_names[team])
    generic = (
        f"scan_{rng.randrange(1000, 9999)}.pdf",
        f"IMG_{rng.randrange(1000, 9999)}.png",
        "Document.pdf",
        f"document{rng.randrange(1, 9)}.docx",
        "bijlage.pdf" if pb.language == "nl" else "attachment.pdf",
        "scan – kopie.pdf",
    )
    return rng.choice(generic)


def _has_prefix(subject: str) -> bool:
    return subject.lower().startswith(("re:", "antw:", "reactie:", "aw:"))


def _cut_quote(text: str) -> str:
    """Drop an already twice-quoted history, as clients that trim long threads do."""
    for marker in ("\nOp ", "\nOn ", "\n-----", "\n____", "\n> "):
        position = text.find(marker)
        if position > 0:
            return text[:position].rstrip() + "\n"
    return text
