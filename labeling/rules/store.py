"""Admin rules in the store: every write to the ``rules`` table, TOML import, and the dry
run that tries a rule on the archive before it is saved.

The admin page and ``mailroom rules`` call these functions; routing reads
:func:`routing_rules`. Every write is audited (``rule.create``, ``rule.update``,
``rule.move``, ``rule.enable``, ``rule.delete``, ``rule.import``) with the actor
(``user:<id>`` or ``cli``); the caller commits.
"""

from __future__ import annotations

import time
import tomllib
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, func, literal, or_, select
from sqlalchemy.orm import Session

from labeling.annotation.export import LABEL_SOURCES, Vote, resolve_label
from labeling.errors import RuleError
from labeling.rules.matching import Conditions, MailFacts, RuleSpec, facts_of
from labeling.store import audit
from labeling.store.tables import Annotation, Message, Rule, Team, utcnow

DRY_RUN_BATCH = 500
DRY_RUN_SAMPLE = 20  # message ids shown with a dry run


def spec_of(row: Rule, team_slug: str | None) -> RuleSpec:
    return RuleSpec(
        id=row.id,
        position=row.position,
        name=row.name,
        note=row.note,
        enabled=row.enabled,
        action=row.action,
        team=team_slug,
        priority=row.priority,
        conditions=Conditions.from_mapping(row.conditions or {}),
    )


def list_rules(session: Session, *, enabled_only: bool = False) -> list[RuleSpec]:
    """Every rule (or the enabled ones) in their order."""
    query = (
        select(Rule, Team.slug)
        .outerjoin(Team, Team.id == Rule.team_id)
        .order_by(Rule.position, Rule.id)
    )
    if enabled_only:
        query = query.where(Rule.enabled)
    return [spec_of(row, slug) for row, slug in session.execute(query)]


def routing_rules(session: Session) -> tuple[RuleSpec, ...]:
    """The enabled rules in their order, as routing tries them."""
    return tuple(list_rules(session, enabled_only=True))


def get_rule(session: Session, rule_id: int) -> RuleSpec:
    row = session.get(Rule, rule_id)
    if row is None:
        raise RuleError(f"no rule with id {rule_id}")
    return spec_of(row, row.team.slug if row.team is not None else None)


def _team_id(session: Session, spec: RuleSpec) -> int | None:
    if spec.team is None:
        return None
    team = session.scalar(select(Team).where(Team.slug == spec.team))
    if team is None:
        raise RuleError(f"rule {spec.name!r}: no team {spec.team!r}")
    if team.archived_at is not None:
        raise RuleError(f"rule {spec.name!r}: team {spec.team!r} is archived")
    return team.id


def _actor(actor_id: int | None) -> str:
    return f"user:{actor_id}" if actor_id is not None else "cli"


def _check_name(session: Session, name: str, rule_id: int | None) -> None:
    taken = session.scalar(select(Rule.id).where(Rule.name == name.strip()))
    if taken is not None and taken != rule_id:
        raise RuleError(f"a rule named {name.strip()!r} exists already")


def create_rule(
    session: Session, spec: RuleSpec, *, actor_id: int | None = None, position: int | None = None
) -> Rule:
    """Add a rule, last unless ``position`` (1-based) puts it before others."""
    _check_name(session, spec.name, None)
    team_id = _team_id(session, spec)
    last = session.scalar(select(func.max(Rule.position))) or 0
    if position is None or position > last:
        where = last + 1
    else:
        where = max(1, position)
        for row in session.scalars(select(Rule).where(Rule.position >= where)):
            row.position += 1
    now = utcnow()
    row = Rule(
        name=spec.name.strip(),
        note=spec.note,
        position=where,
        enabled=spec.enabled,
        conditions=spec.conditions.to_mapping(),
        action=spec.action,
        team_id=team_id,
        priority=spec.priority,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    audit.record(session, _actor(actor_id), "rule.create", rule_id=row.id, name=row.name)
    return row


def update_rule(
    session: Session, rule_id: int, spec: RuleSpec, *, actor_id: int | None = None
) -> Rule:
    """Replace a rule's name, note, conditions, action and state; its place stays."""
    row = session.get(Rule, rule_id)
    if row is None:
        raise RuleError(f"no rule with id {rule_id}")
    _check_name(session, spec.name, rule_id)
    row.team_id = _team_id(session, spec)
    row.name, row.note, row.enabled = spec.name.strip(), spec.note, spec.enabled
    row.conditions = spec.conditions.to_mapping()
    row.action, row.priority, row.updated_at = spec.action, spec.priority, utcnow()
    session.flush()
    audit.record(session, _actor(actor_id), "rule.update", rule_id=row.id, name=row.name)
    return row


def move_rule(
    session: Session, rule_id: int, direction: int, *, actor_id: int | None = None
) -> Rule:
    """Swap a rule with the one before (``direction`` -1) or after it (+1)."""
    rows = list(session.scalars(select(Rule).order_by(Rule.position, Rule.id)))
    index = next((n for n, r in enumerate(rows) if r.id == rule_id), None)
    if index is None:
        raise RuleError(f"no rule with id {rule_id}")
    other = index + (1 if direction > 0 else -1)
    if 0 <= other < len(rows):
        rows[index], rows[other] = rows[other], rows[index]
    for n, row in enumerate(rows, start=1):
        row.position = n
    session.flush()
    moved = rows[other] if 0 <= other < len(rows) else rows[index]
    audit.record(session, _actor(actor_id), "rule.move", rule_id=rule_id, position=moved.position)
    return moved


def set_enabled(
    session: Session, rule_id: int, enabled: bool, *, actor_id: int | None = None
) -> Rule:
    row = session.get(Rule, rule_id)
    if row is None:
        raise RuleError(f"no rule with id {rule_id}")
    row.enabled, row.updated_at = enabled, utcnow()
    session.flush()
    audit.record(session, _actor(actor_id), "rule.enable", rule_id=row.id, enabled=enabled)
    return row


def delete_rule(session: Session, rule_id: int, *, actor_id: int | None = None) -> None:
    """Delete a rule; the decisions it made keep its id and name."""
    row = session.get(Rule, rule_id)
    if row is None:
        raise RuleError(f"no rule with id {rule_id}")
    name = row.name
    session.delete(row)
    session.flush()
    for n, other in enumerate(
        session.scalars(select(Rule).order_by(Rule.position, Rule.id)), start=1
    ):
        other.position = n
    audit.record(session, _actor(actor_id), "rule.delete", rule_id=rule_id, name=name)


# TOML -----------------------------------------------------------------------------------------


def parse_rules_toml(text: str) -> list[RuleSpec]:
    """Rules from a TOML file of ``[[rule]]`` tables (see docs/rules.md); raises
    :class:`RuleError` naming the rule and field that is wrong."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RuleError(f"not valid TOML: {exc}") from exc
    unknown = sorted(set(data) - {"rule"})
    if unknown:
        raise RuleError(f"unknown table {', '.join(unknown)}; write each rule as [[rule]]")
    tables = data.get("rule") or []
    if not isinstance(tables, list):
        raise RuleError("write each rule as [[rule]]")
    specs = []
    for n, table in enumerate(tables, start=1):
        try:
            specs.append(RuleSpec.from_mapping(table))
        except RuleError as exc:
            raise RuleError(f"rule {n}: {exc}") from exc
    names = Counter(spec.name.strip() for spec in specs)
    doubled = sorted(name for name, count in names.items() if count > 1)
    if doubled:
        raise RuleError(f"two rules named {doubled[0]!r}")
    return specs


@dataclass(frozen=True, slots=True)
class ImportSummary:
    created: int
    updated: int
    deleted: int


def import_rules(
    session: Session,
    specs: Sequence[RuleSpec],
    *,
    replace_all: bool = False,
    actor_id: int | None = None,
) -> ImportSummary:
    """Upsert rules by name, in the file's order after the rules it does not name
    (``replace_all``: the file becomes the whole rule list, others are deleted)."""
    existing = {row.name: row for row in session.scalars(select(Rule))}
    names = {spec.name.strip() for spec in specs}
    deleted = 0
    if replace_all:
        for name, row in existing.items():
            if name not in names:
                session.delete(row)
                deleted += 1
        session.flush()
    created = updated = 0
    for spec in specs:
        found = existing.get(spec.name.strip())
        if found is not None:
            update_rule(session, found.id, spec, actor_id=actor_id)
            updated += 1
        else:
            create_rule(session, spec, actor_id=actor_id)
            created += 1
    if replace_all:
        order = {spec.name.strip(): n for n, spec in enumerate(specs)}
        rows = sorted(session.scalars(select(Rule)), key=lambda r: order.get(r.name, 0))
        for n, row in enumerate(rows, start=1):
            row.position = n
        session.flush()
    audit.record(
        session, _actor(actor_id), "rule.import", created=created, updated=updated, deleted=deleted
    )
    return ImportSummary(created, updated, deleted)


# The dry run ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DryRun:
    """A rule tried on the archive: how many mails it matches, and the labels of those."""

    searched: int
    matched: int
    labelled: int
    by_label: dict[str, int]  # team slug → matched mails labelled so, most first
    sample: tuple[int, ...]  # some matched message ids
    seconds: float
    team_names: dict[str, str]

    def summary(self) -> str:
        """``matches 212 mails; 96 % are labelled Schade`` (of the labelled ones)."""
        text = f"matches {self.matched} of {self.searched} archive mails"
        if self.labelled:
            slug, count = next(iter(self.by_label.items()))
            share = round(100 * count / self.labelled)
            text += (
                f"; {share} % of the {self.labelled} labelled ones are labelled "
                f"{self.team_names.get(slug, slug)}"
            )
        elif self.matched:
            text += "; none of them is labelled"
        return text


def _batches(values: Sequence[int], size: int) -> Iterable[Sequence[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def dry_run(session: Session, spec: RuleSpec | Conditions, *, limit: int | None = None) -> DryRun:
    """Try conditions on the parsed archive mail (newest first, at most ``limit``) without
    saving anything. Labels: a mail's resolved label, archive folders included."""
    conditions = spec.conditions if isinstance(spec, RuleSpec) else spec
    started = time.perf_counter()
    # Only what the conditions read is loaded; sender and language narrow the rows in SQL
    # (a superset: the same matching as routing decides).
    empty = literal("")
    texts = conditions.needs_text
    columns: list[Any] = [
        Message.id,
        Message.subject if texts else empty,
        Message.new_text if texts else empty,
        Message.quoted_text if conditions.body or conditions.text else empty,
        Message.sender_email,
        Message.recipients if conditions.recipient else literal(None, JSON),
        Message.attachments if conditions.attachment else literal(None, JSON),
        Message.language,
        Message.kind,
    ]
    if conditions.needs_headers:
        columns.append(Message.raw_compressed)
    archive = (Message.origin == "archive", Message.status == "ok")
    # (With a limit, "the newest N" means of the whole archive: no narrowing then.)
    narrowing = _narrowing(conditions) if limit is None else []
    query = (
        select(*columns)
        .where(*archive, *narrowing)
        .order_by(Message.id.desc())
        .execution_options(yield_per=DRY_RUN_BATCH)
    )
    if limit is not None:
        query = query.limit(limit)
    read = 0
    matched: list[int] = []
    for row in session.execute(query):
        read += 1
        if conditions.matches(_facts_of_row(row, conditions.needs_headers)):
            matched.append(row[0])
    # The mails SQL left out were searched too.
    searched = int(session.scalar(select(func.count()).where(*archive)) or 0) if narrowing else read
    labels: Counter[str] = Counter()
    for chunk in _batches(matched, DRY_RUN_BATCH):
        votes: dict[int, list[Vote]] = {}
        for message_id, source, slug, annotation_id in session.execute(
            select(Annotation.message_id, Annotation.source, Team.slug, Annotation.id)
            .join(Team, Team.id == Annotation.team_id)
            .where(
                Annotation.message_id.in_(chunk),
                Annotation.superseded_at.is_(None),
                Annotation.source.in_(LABEL_SOURCES),
            )
        ):
            votes.setdefault(message_id, []).append(Vote(source, slug, annotation_id))
        for message_votes in votes.values():
            resolution = resolve_label(message_votes, include_weak=True)
            if resolution is not None:
                labels[resolution.label] += 1
    names = {slug: name for slug, name in session.execute(select(Team.slug, Team.name))}
    return DryRun(
        searched=searched,
        matched=len(matched),
        labelled=sum(labels.values()),
        by_label=dict(sorted(labels.items(), key=lambda item: (-item[1], item[0]))),
        sample=tuple(matched[:DRY_RUN_SAMPLE]),
        seconds=time.perf_counter() - started,
        team_names=names,
    )


def _like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _narrowing(conditions: Conditions) -> list[Any]:
    where: list[Any] = []
    if conditions.language:
        where.append(func.lower(Message.language).in_(conditions.language))
    if conditions.kind:
        kinds = Message.kind.in_(conditions.kind)
        # Mail stored before kinds were kept is customer mail (facts_of reads it so).
        where.append(or_(kinds, Message.kind.is_(None)) if "customer" in conditions.kind else kinds)
    if conditions.sender:
        sender = func.lower(Message.sender_email)
        clauses = []
        for entry in conditions.sender:
            if "@" in entry and not entry.startswith("@"):
                clauses.append(sender == entry)
            else:
                domain = _like(entry.lstrip("@"))
                clauses.append(sender.like(f"%@{domain}", escape="\\"))
                clauses.append(sender.like(f"%.{domain}", escape="\\"))
        where.append(or_(*clauses))
    return where


def _facts_of_row(row: Any, with_headers: bool) -> MailFacts:
    raw = None
    if with_headers:
        # The headers are at the start: decompress only as much as they need.
        raw = zlib.decompressobj().decompress(row[9], 64 * 1024)
    return facts_of(
        subject=row[1] or "",
        new_text=row[2] or "",
        quoted_text=row[3] or "",
        sender_email=row[4] or "",
        recipients=row[5],
        attachments=row[6],
        language=row[7] or "und",
        raw=raw,
        kind=row[8],
    )
