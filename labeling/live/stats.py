"""The admin dashboard's numbers, and the aggregate figures ``/metrics`` exports.

Everything is a function over a :class:`Session` returning frozen dataclasses; nothing here
knows about Flask. Queries select narrow columns, bounded by the window (mail that arrived
in it), and the grouping by day or week happens in Python, so the same code runs on SQLite
and PostgreSQL.

Definitions, per period of arrival (``Message.imported_at``) of live mail:

- **volume per team**: the team the mail went to (its current routing decision; else its
  delivery; else the team a reviewer chose); mail waiting for a person counts as in review,
  mail not routed yet as not routed, quarantined mail as quarantined.
- **auto-route rate**: mails whose *first* decision forwarded them without a person (by a
  rule, the model, thread affinity or customer affinity), over mails with a decision.
- **precision of auto-routing**: 1 − (auto-routed mails later reported misrouted, per the
  ``misroute`` audit rows with ``auto`` set, unless the reviewer then overruled the report
  by choosing the same team) / (auto-routed mails). An estimate: a misroute nobody reports
  is invisible, and recent mail has had less time to be reported.
- **arrival → forward**: from arrival to the first forward accepted by the mail server
  (the earlier of the delivery's ``sent_at`` and the first ``forward`` audit row);
  percentiles interpolate linearly between ranks (as NumPy's default does).
- **hops**: forwards a mail took to reach the team that kept it: 1 when Mailroom routed it
  right, 2 after a misroute and a second forward. Counted from the ``forward`` audit rows
  (the delivery row is re-aimed after a misroute; the audit log keeps every forward), or
  1 + misroute reports for mail without them. Only mail that reached a team (forwarded or
  done) counts. The archive's before-figure comes from :func:`count_forwards`.
"""

from __future__ import annotations

import math
import re
import statistics
import zlib
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, get_args

from sqlalchemy import LargeBinary, Text, func, or_, select
from sqlalchemy.orm import Session

from labeling.annotation.agreement import AgreementReport, agreement_report
from labeling.annotation.queue import DEFAULT_DOUBLE_LABEL_SHARE, Progress, progress
from labeling.rules.flags import recorded_source
from labeling.store.tables import (
    ROUTE_STATES,
    AuditLog,
    Delivery,
    Message,
    ReviewItem,
    RoutingDecision,
    Rule,
    Team,
    utcnow,
)

Period = Literal["day", "week"]
PERIODS: tuple[Period, ...] = get_args(Period)
# A day over a month, or a week over a quarter, when the caller does not say.
DEFAULT_DAYS: dict[Period, int] = {"day": 30, "week": 84}
MAX_DAYS = 731

# The archive's before-figure reads this many of the most recent archive mails.
ARCHIVE_SAMPLE = 2000
# Only the start of each mail is read for it: the headers sit at the top of the raw bytes,
# and forward separators near the top of the body.
_RAW_PREFIX_BYTES = 8192
_HEADER_LIMIT_BYTES = 65536
_BODY_PREFIX_CHARS = 20000

# States in which a mail has reached a team (its hops are final).
_ARRIVED_STATES = ("forwarded", "done")
_ON_ITS_WAY_STATES = ("forwarding", "forwarded", "done")
# Kinds of mail that are filed without a forward (labeling.mail.hygiene: handling 'file').
FILED_KINDS = ("auto_reply", "bounce", "loop")
# Who may forward a mail without a person (worker/routing.py's decided_by).
AUTO_DECIDERS = ("model", "thread", "affinity", "rule")

# Review backlog ages, as (upper bound in seconds, label); the last bucket is open-ended.
AGE_BUCKETS: tuple[tuple[float, str], ...] = (
    (3600, "under 1 h"),
    (4 * 3600, "1–4 h"),
    (24 * 3600, "4–24 h"),
    (72 * 3600, "1–3 days"),
    (math.inf, "over 3 days"),
)


# Small values ------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-quantile (0 ≤ q ≤ 1) by linear interpolation between closest ranks; None
    for no values. [10, 20, 30, 40] gives 25.0 for q=0.5 and 38.5 for q=0.95."""
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"a quantile is between 0 and 1, not {q!r}")
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True, slots=True)
class Latency:
    """Seconds from arrival to the first forward: how many mails, median and 95th percentile."""

    n: int
    p50_s: float | None
    p95_s: float | None

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Latency:
        return cls(len(seconds), percentile(seconds, 0.5), percentile(seconds, 0.95))


@dataclass(frozen=True, slots=True)
class Hops:
    """Forwards per mail: ``distribution`` maps a number of hops to how many mails took it."""

    distribution: dict[int, int]

    @property
    def n(self) -> int:
        return sum(self.distribution.values())

    @property
    def mean(self) -> float | None:
        if not self.n:
            return None
        return sum(hops * count for hops, count in self.distribution.items()) / self.n

    def grouped(self, top: int = 4) -> tuple[tuple[str, int], ...]:
        """(label, mails) for 1 … ``top``-1 hops and "``top``+" for the rest."""
        rows = [(str(h), self.distribution.get(h, 0)) for h in range(1, top)]
        rows.append((f"{top}+", sum(c for h, c in self.distribution.items() if h >= top)))
        return tuple(rows)

    @classmethod
    def of(cls, counts: Iterable[int]) -> Hops:
        return cls(dict(sorted(Counter(counts).items())))


# The window --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Span:
    """One period: ``start`` inclusive, ``end`` exclusive (UTC). ``key`` is the ISO day
    (2024-03-04) or ISO week (2024-W10); ``label`` a short axis label (4 Mar)."""

    start: datetime
    end: datetime
    key: str
    label: str


@dataclass(frozen=True, slots=True)
class Window:
    """Whole days or ISO weeks (Monday to Sunday, UTC) up to and including ``now``'s.

    Data counts from the first span's start until ``now`` (anything later is ignored).
    """

    period: Period
    days: int
    now: datetime
    spans: tuple[Span, ...]

    @property
    def start(self) -> datetime:
        return self.spans[0].start

    def index(self, at: datetime) -> int | None:
        """The span ``at`` falls in, or None outside the window."""
        if at < self.start or at >= self.now:
            return None
        step = self.spans[0].end - self.spans[0].start  # UTC: every day and week is as long
        return min((at - self.start) // step, len(self.spans) - 1)


def make_window(period: Period, days: int | None = None, now: datetime | None = None) -> Window:
    """The spans of ``period`` that cover the last ``days`` days up to ``now``.

    ``days`` defaults to :data:`DEFAULT_DAYS`; a week window covers ``ceil(days / 7)``
    weeks. Raises ValueError for an unknown period or ``days`` outside 1 … MAX_DAYS.
    """
    if period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}, not {period!r}")
    days = DEFAULT_DAYS[period] if days is None else days
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days must be between 1 and {MAX_DAYS}, not {days}")
    now = now if now is not None else utcnow()
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        step, count, last = timedelta(days=1), days, midnight
    else:
        step, count = timedelta(weeks=1), math.ceil(days / 7)
        last = midnight - timedelta(days=midnight.weekday())
    spans = []
    for i in range(count - 1, -1, -1):
        start = last - step * i
        if period == "day":
            key = start.date().isoformat()
        else:
            year, week, _ = start.isocalendar()
            key = f"{year}-W{week:02d}"
        spans.append(Span(start, start + step, key, f"{start.day} {start:%b}"))
    return Window(period, days, now, tuple(spans))


# Live mail per period ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TeamRef:
    slug: str
    name: str


@dataclass(frozen=True, slots=True)
class PeriodStats:
    """The live mail that arrived in one span (or in the whole window, for the totals).

    ``by_team``: team slug → mails forwarded (or being forwarded) to it. ``decided``: mails
    with a routing decision; ``auto_routed`` of them forwarded without a person
    (``auto_by_thread`` of those by thread affinity); ``misrouted``: auto-routed mails later
    reported misrouted. ``reviewed``: mails a reviewer decided while the model had a
    suggestion; ``corrected``: of those, where the reviewer chose another team.
    """

    span: Span
    arrived: int
    by_team: dict[str, int]
    in_review: int
    not_routed: int
    quarantined: int
    by_language: dict[str, int]
    decided: int
    auto_routed: int
    auto_by_thread: int
    misrouted: int
    reviewed: int
    corrected: int
    forward: Latency
    hops: Hops
    # Machine mail filed without a forward (auto-replies, bounces, loops: see
    # labeling.mail.hygiene), and every mail by its kind ('customer' for mail stored
    # before kinds were kept).
    filed: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    # Who decided each mail first: 'rule', 'thread', 'affinity' (the customer's recent case),
    # 'model' (forwarded without a person)
    # or 'review' (a person decides); and of the forwarded ones, how many were misrouted.
    by_decider: dict[str, int] = field(default_factory=dict)
    misrouted_by_decider: dict[str, int] = field(default_factory=dict)
    # Urgent mail (the urgency head, a cue, or a rule's high priority) and its arrival →
    # forward; what made it urgent ('model', 'cue list', 'rule'); mail flagged churn, by source.
    urgent: int = 0
    urgent_forward: Latency = field(default_factory=lambda: Latency.of([]))
    urgent_by_source: dict[str, int] = field(default_factory=dict)
    churn_by_source: dict[str, int] = field(default_factory=dict)

    @property
    def churn(self) -> int:
        return sum(self.churn_by_source.values())

    @property
    def auto_rate(self) -> float | None:
        return self.auto_routed / self.decided if self.decided else None

    def decider_precision(self, decider: str) -> float | None:
        """Estimated precision of the mail ``decider`` forwarded (None: it forwarded none)."""
        forwarded = self.by_decider.get(decider, 0)
        if decider == "review" or not forwarded:
            return None
        return 1 - self.misrouted_by_decider.get(decider, 0) / forwarded

    @property
    def precision(self) -> float | None:
        """Estimated precision of auto-routing (see the module docstring); None without
        auto-routed mail."""
        return 1 - self.misrouted / self.auto_routed if self.auto_routed else None


@dataclass(frozen=True, slots=True)
class ModelLive:
    """How one model version did on live mail in the window (its first decisions)."""

    version: str
    decided: int
    auto_routed: int
    misrouted: int
    reviewed: int
    corrected: int

    @property
    def auto_rate(self) -> float | None:
        return self.auto_routed / self.decided if self.decided else None

    @property
    def precision(self) -> float | None:
        return 1 - self.misrouted / self.auto_routed if self.auto_routed else None


@dataclass(frozen=True, slots=True)
class LiveStats:
    """Live mail in a window: per span, totals, and what the charts need to order them.

    ``teams``: every team that received mail in the window, most mail first; ``languages``
    likewise. ``forward_by_path``: arrival → forward for mail routed automatically
    (``'auto'``) and for mail a person decided first (``'review'``).
    """

    window: Window
    periods: tuple[PeriodStats, ...]
    total: PeriodStats
    teams: tuple[TeamRef, ...]
    languages: tuple[str, ...]
    forward_by_path: dict[str, Latency]
    models: tuple[ModelLive, ...]


@dataclass
class _Mail:
    """One live mail as the statistics see it (internal)."""

    span: int
    language: str
    state: str | None
    arrived_at: datetime
    kind: str = "customer"
    decided: bool = False
    auto: bool = False
    by_thread: bool = False
    model_version: str | None = None
    by_model: bool = False
    team_id: int | None = None
    misroutes: int = 0
    reported_auto: bool = False  # a misroute of its automatic routing awaits a decision
    misrouted_auto: bool = False
    forwards: int = 0
    forwarded_at: datetime | None = None
    reviewed: bool = False
    corrected: bool = False
    review_version: str | None = None
    decider: str = ""
    urgent: bool = False  # the head, a cue or a rule made it urgent (priority high) when routed
    urgent_source: str = ""  # 'model', 'cue list' or 'rule'
    churn_source: str = ""  # '' when not flagged churn

    @property
    def volume_key(self) -> str:
        if self.state == "quarantined":
            return "quarantined"
        if self.state == "review":
            return "in_review"
        if self.state in _ON_ITS_WAY_STATES and self.team_id is not None:
            return "team"
        if self.state == "done" and self.kind in FILED_KINDS:
            return "filed"
        return "not_routed"

    @property
    def hops(self) -> int | None:
        if self.state not in _ARRIVED_STATES or self.volume_key == "filed":
            return None
        return self.forwards or 1 + self.misroutes

    @property
    def latency_s(self) -> float | None:
        if self.forwarded_at is None:
            return None
        return max(0.0, (self.forwarded_at - self.arrived_at).total_seconds())


def _details(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def live_stats(session: Session, window: Window) -> LiveStats:
    """Statistics over the live mail that arrived in ``window`` (see the module docstring)."""
    in_window = (
        Message.origin == "live",
        Message.imported_at >= window.start,
        Message.imported_at < window.now,
    )
    ids = select(Message.id).where(*in_window).scalar_subquery()
    mails: dict[int, _Mail] = {}
    for message_id, imported_at, language, state, kind in session.execute(
        select(
            Message.id, Message.imported_at, Message.language, Message.route_state, Message.kind
        ).where(*in_window)
    ):
        span = window.index(imported_at)
        if span is not None:
            mails[message_id] = _Mail(
                span, language or "und", state, imported_at, kind or "customer"
            )

    # Decisions oldest first: the first says how the mail was routed, the last where it is.
    decisions = session.execute(
        select(
            RoutingDecision.message_id,
            RoutingDecision.mode,
            RoutingDecision.decided_by,
            RoutingDecision.team_id,
            RoutingDecision.model_version,
            RoutingDecision.is_current,
            RoutingDecision.details,
        )
        .where(RoutingDecision.message_id.in_(ids))
        .order_by(RoutingDecision.message_id, RoutingDecision.created_at, RoutingDecision.id)
    )
    for message_id, mode, decided_by, team_id, model_version, is_current, details in decisions:
        mail = mails.get(message_id)
        if mail is None:
            continue
        if not mail.decided:
            mail.decided = True
            mail.auto = mode == "auto" and decided_by in AUTO_DECIDERS
            mail.decider = decided_by if mail.auto else "review"
            flagged = _details(details)
            mail.urgent = bool(flagged.get("urgent")) or flagged.get("priority") == "high"
            mail.urgent_source = recorded_source(flagged.get("urgent")) or (
                "rule" if mail.urgent else ""
            )
            mail.churn_source = recorded_source(flagged.get("churn")) or ""
            mail.by_thread = mail.auto and decided_by == "thread"
            mail.by_model = decided_by == "model"
            mail.model_version = model_version
        if is_current and team_id is not None:
            mail.team_id = team_id

    for message_id, team_id, sent_at in session.execute(
        select(Delivery.message_id, Delivery.team_id, Delivery.sent_at).where(
            Delivery.message_id.in_(ids)
        )
    ):
        mail = mails.get(message_id)
        if mail is None:
            continue
        if mail.team_id is None:
            mail.team_id = team_id
        if sent_at is not None:
            mail.forwarded_at = min(filter(None, (mail.forwarded_at, sent_at)))
    for audited_id, at, forwards in session.execute(
        select(AuditLog.message_id, func.min(AuditLog.at), func.count())
        .where(AuditLog.action == "forward", AuditLog.message_id.in_(ids))
        .group_by(AuditLog.message_id)
    ):
        mail = mails.get(audited_id) if audited_id is not None else None
        if mail is not None and at is not None:
            mail.forwarded_at = min(filter(None, (mail.forwarded_at, at)))
            mail.forwards = forwards
    for message_id, team_id in session.execute(
        select(ReviewItem.message_id, ReviewItem.team_id).where(
            ReviewItem.message_id.in_(ids), ReviewItem.team_id.is_not(None)
        )
    ):
        mail = mails.get(message_id)
        if mail is not None and mail.team_id is None:
            mail.team_id = team_id

    audit = session.execute(
        select(AuditLog.message_id, AuditLog.action, AuditLog.details)
        .where(
            AuditLog.action.in_(("misroute", "review-decision")),
            AuditLog.message_id.in_(ids),
        )
        .order_by(AuditLog.at, AuditLog.id)
    )
    for message_id, action, raw_details in audit:
        mail = mails.get(message_id) if message_id is not None else None
        if mail is None:
            continue
        details = _details(raw_details)
        if action == "misroute":
            mail.misroutes += 1
            mail.reported_auto = mail.reported_auto or bool(details.get("auto"))
        elif details.get("misroute"):
            # The reviewer settles the report: another team confirms it, the same overrules it.
            if mail.reported_auto and details.get("corrected", True):
                mail.misrouted_auto = True
            mail.reported_auto = False
        elif not mail.reviewed and details.get("model_team"):
            # The first time a person decided the mail with the model's suggestion in view.
            mail.reviewed = True
            mail.corrected = bool(details.get("corrected"))
            mail.review_version = details.get("model_version") or None

    teams = {
        team_id: TeamRef(slug, name)
        for team_id, slug, name in session.execute(select(Team.id, Team.slug, Team.name))
    }
    per_span: list[list[_Mail]] = [[] for _ in window.spans]
    for mail in mails.values():
        mail.misrouted_auto = mail.auto and (mail.misrouted_auto or mail.reported_auto)
        per_span[mail.span].append(mail)
    periods = tuple(
        _period_stats(span, group, teams)
        for span, group in zip(window.spans, per_span, strict=True)
    )
    everything = list(mails.values())
    whole = Span(window.start, window.now, "total", "total")
    total = _period_stats(whole, everything, teams)
    by_slug = {ref.slug: ref for ref in teams.values()}
    return LiveStats(
        window=window,
        periods=periods,
        total=total,
        teams=tuple(by_slug[slug] for slug in total.by_team),
        languages=tuple(total.by_language),
        forward_by_path={
            "auto": Latency.of(_latencies(m for m in everything if m.auto)),
            "review": Latency.of(_latencies(m for m in everything if m.decided and not m.auto)),
        },
        models=_models_live(everything),
    )


def _latencies(mails: Iterable[_Mail]) -> list[float]:
    return [m.latency_s for m in mails if m.latency_s is not None]


def _most_first(counter: Counter[str]) -> dict[str, int]:
    return dict(sorted(counter.items(), key=lambda item: (-item[1], item[0])))


def _period_stats(span: Span, mails: Sequence[_Mail], teams: Mapping[int, TeamRef]) -> PeriodStats:
    keys = Counter(m.volume_key for m in mails)
    by_team = Counter(
        teams[m.team_id].slug for m in mails if m.volume_key == "team" and m.team_id is not None
    )
    auto = [m for m in mails if m.auto]
    reviewed = [m for m in mails if m.reviewed]
    return PeriodStats(
        span=span,
        arrived=len(mails),
        by_team=_most_first(by_team),
        in_review=keys["in_review"],
        not_routed=keys["not_routed"],
        quarantined=keys["quarantined"],
        by_language=_most_first(Counter(m.language for m in mails)),
        decided=sum(1 for m in mails if m.decided),
        auto_routed=len(auto),
        auto_by_thread=sum(1 for m in auto if m.by_thread),
        misrouted=sum(1 for m in auto if m.misrouted_auto),
        reviewed=len(reviewed),
        corrected=sum(1 for m in reviewed if m.corrected),
        forward=Latency.of(_latencies(mails)),
        hops=Hops.of(h for m in mails if (h := m.hops) is not None),
        filed=keys["filed"],
        by_kind=_most_first(Counter(m.kind for m in mails)),
        by_decider=dict(Counter(m.decider for m in mails if m.decided)),
        urgent=sum(1 for m in mails if m.urgent),
        urgent_forward=Latency.of(_latencies(m for m in mails if m.urgent)),
        urgent_by_source=dict(Counter(m.urgent_source for m in mails if m.urgent)),
        churn_by_source=dict(Counter(m.churn_source for m in mails if m.churn_source)),
        misrouted_by_decider=dict(Counter(m.decider for m in auto if m.misrouted_auto)),
    )


def _models_live(mails: Sequence[_Mail]) -> tuple[ModelLive, ...]:
    decided: Counter[str] = Counter()
    auto: Counter[str] = Counter()
    misrouted: Counter[str] = Counter()
    reviewed: Counter[str] = Counter()
    corrected: Counter[str] = Counter()
    for mail in mails:
        if mail.by_model and mail.model_version:
            decided[mail.model_version] += 1
            if mail.auto:
                auto[mail.model_version] += 1
                misrouted[mail.model_version] += mail.misrouted_auto
        if mail.reviewed and mail.review_version:
            reviewed[mail.review_version] += 1
            corrected[mail.review_version] += mail.corrected
    versions = sorted(set(decided) | set(reviewed))
    return tuple(
        ModelLive(v, decided[v], auto[v], misrouted[v], reviewed[v], corrected[v]) for v in versions
    )


# Review backlog ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Backlog:
    """Mail waiting for a person, now and at the end of each span.

    ``open`` review items now, the age of the oldest and the median age (seconds), and
    how many are in each age bucket (:data:`AGE_BUCKETS`). Per span: open at its end (at
    ``now`` for the current one), opened in it, resolved in it. A mail sent back as
    misrouted reopens its item, which then counts from the send-back.
    """

    open: int
    oldest_age_s: float | None
    median_age_s: float | None
    ages: tuple[tuple[str, int], ...]
    at_period_end: tuple[int, ...]
    opened: tuple[int, ...]
    resolved: tuple[int, ...]


def review_backlog(session: Session, window: Window) -> Backlog:
    """The review backlog now and over ``window`` (see :class:`Backlog`)."""
    now = window.now
    rows = session.execute(
        select(ReviewItem.created_at, ReviewItem.resolved_at, ReviewItem.status).where(
            ReviewItem.created_at < now,
            or_(
                ReviewItem.status == "open",
                ReviewItem.resolved_at.is_(None),
                ReviewItem.resolved_at >= window.start,
            ),
        )
    ).all()

    ages = sorted(
        (now - created).total_seconds() for created, _resolved, status in rows if status == "open"
    )
    buckets = Counter(next(label for bound, label in AGE_BUCKETS if age < bound) for age in ages)
    # An item waits from its creation until it was resolved (an open one: still). Counting
    # openings and closings before each span's end gives the backlog then.
    waiting = [
        (created, None if status == "open" else resolved)
        for created, resolved, status in rows
        if status == "open" or resolved is not None
    ]
    openings = sorted(c for c, _r in waiting)
    closings = sorted(max(c, r) for c, r in waiting if r is not None)
    ends = [min(span.end, now) for span in window.spans]
    opened = [0] * len(window.spans)
    resolved_in = [0] * len(window.spans)
    for created, resolved, _status in rows:
        if (i := window.index(created)) is not None:
            opened[i] += 1
        if resolved is not None and (j := window.index(resolved)) is not None:
            resolved_in[j] += 1
    return Backlog(
        open=len(ages),
        oldest_age_s=ages[-1] if ages else None,
        median_age_s=statistics.median(ages) if ages else None,
        ages=tuple((label, buckets[label]) for _bound, label in AGE_BUCKETS),
        at_period_end=tuple(
            bisect_left(openings, end) - bisect_left(closings, end) for end in ends
        ),
        opened=tuple(opened),
        resolved=tuple(resolved_in),
    )


# The archive's forwarding chains -----------------------------------------------------------

# Subject prefixes, as mail clients in Dutch, English, German and French write them.
_FORWARD_PREFIXES = frozenset({"fwd", "fw", "doorst", "wg", "tr"})
_REPLY_PREFIXES = frozenset({"re", "antw", "aw", "sv", "vs", "ref"})
_SUBJECT_PREFIX = re.compile(
    r"\s*+(?:\[[^\]]{0,40}\]\s*+)?([a-z]{2,6})\s*+(?:\[\d+\]|\(\d+\))?\s*+:", re.IGNORECASE
)
# Separators only a forward writes. A run of dashes is tried from its first dash only and
# taken whole (possessive), so 19,000 dashes cost one pass, not one pass per dash.
_FORWARD_SEPARATORS = re.compile(
    r"(?<!-)-{2,}+\s*+(?:forwarded message|doorgestuurd bericht)\s*+-{2,}"
    r"|^[ \t>]*+begin (?:forwarded message|doorgestuurd bericht)\s*+:",
    re.IGNORECASE | re.MULTILINE,
)
# Separators Outlook and Thunderbird write for replies as well as forwards.
_ORIGINAL_SEPARATORS = re.compile(
    r"(?<!-)-{2,}+\s*+(?:original message|oorspronkelijk bericht)\s*+-{2,}", re.IGNORECASE
)
_RESENT_FROM = re.compile(rb"^resent-from[ \t]*:", re.IGNORECASE | re.MULTILINE)
_RESENT_DATE = re.compile(rb"^resent-date[ \t]*:", re.IGNORECASE | re.MULTILINE)


def subject_forwards(subject: str) -> int:
    """Forward markers among the subject's leading prefixes ("Fwd: RE: Doorst: …" → 2)."""
    count, position = 0, 0
    while match := _SUBJECT_PREFIX.match(subject, position):
        word = match.group(1).casefold()
        if word in _FORWARD_PREFIXES:
            count += 1
        elif word not in _REPLY_PREFIXES:
            break
        position = match.end()
    return count


def header_block(raw_start: bytes) -> bytes:
    """The header section of (the start of) a raw mail: up to the first empty line."""
    for separator in (b"\r\n\r\n", b"\n\n"):
        end = raw_start.find(separator)
        if end >= 0:
            return raw_start[: end + 1]
    return raw_start


def count_forwards(subject: str, body: str, headers: bytes = b"") -> int:
    """How many times a mail was forwarded before it was archived, as far as it shows.

    Resent-* blocks (a redirect adds one, with no other trace) plus the forwards visible in
    the subject's prefixes or the body's forwarded-message separators, whichever shows
    more (a forward usually leaves both). "Original Message" separators count only when the
    subject says the mail was forwarded: Outlook writes them for replies too.
    """
    resent = max(len(_RESENT_FROM.findall(headers)), len(_RESENT_DATE.findall(headers)))
    in_subject = subject_forwards(subject)
    separators = len(_FORWARD_SEPARATORS.findall(body))
    originals = len(_ORIGINAL_SEPARATORS.findall(body)) if in_subject else 0
    return resent + max(in_subject, separators, originals)


def _raw_headers(compressed_start: bytes | None) -> bytes:
    if not compressed_start:
        return b""
    try:
        start = zlib.decompressobj().decompress(compressed_start, _HEADER_LIMIT_BYTES)
    except zlib.error:
        return b""  # an unreadable prefix shows no Resent-* headers; subject and body still count
    return header_block(start)


def archive_hops(session: Session, sample: int = ARCHIVE_SAMPLE) -> Hops:
    """Hops (1 + forwards, :func:`count_forwards`) over the ``sample`` most recent parsed
    archive mails: how mail reached its team before Mailroom. Reads only the start of
    each mail's raw bytes and body."""
    rows = session.execute(
        select(
            Message.subject,
            func.substr(Message.body_text, 1, _BODY_PREFIX_CHARS, type_=Text),
            func.substr(Message.raw_compressed, 1, _RAW_PREFIX_BYTES, type_=LargeBinary),
        )
        .where(Message.origin == "archive", Message.status == "ok", Message.date.is_not(None))
        .order_by(Message.date.desc(), Message.id.desc())
        .limit(sample)
    )
    return Hops.of(
        1 + count_forwards(subject or "", body or "", _raw_headers(raw))
        for subject, body, raw in rows
    )


# The page ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Dashboard:
    """Everything the dashboard page shows but the model registry (which lives on disk)."""

    window: Window
    live: LiveStats
    backlog: Backlog
    archive_hops: Hops
    progress: Progress
    agreement: AgreementReport
    live_mail_ever: bool
    rules: tuple[RuleLive, ...] = ()


def build_dashboard(
    session: Session,
    window: Window,
    *,
    double_label_share: float = DEFAULT_DOUBLE_LABEL_SHARE,
    archive_sample: int = ARCHIVE_SAMPLE,
) -> Dashboard:
    """The dashboard's numbers over ``window``. Pass ``Settings.double_label_share``."""
    return Dashboard(
        window=window,
        live=live_stats(session, window),
        backlog=review_backlog(session, window),
        archive_hops=archive_hops(session, archive_sample),
        progress=progress(session, double_label_share=double_label_share),
        agreement=agreement_report(session),
        live_mail_ever=session.scalar(select(Message.id).where(Message.origin == "live").limit(1))
        is not None,
        rules=rules_live(session, window.start),
    )


# /metrics ----------------------------------------------------------------------------------

RECENT = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class StoreMetrics:
    """Aggregate figures for Prometheus; counts only, never mail content or addresses.

    ``live_by_state``: live mail per route state (every state present, zero or not).
    ``decisions``: (mode, decided_by) → routing decisions the worker made ('model',
    'thread', 'affinity' or 'rule'; each live mail gets one). ``forwards_sent``: deliveries
    the mail server accepted. ``misroute_reports``: misroute audit rows. ``review_open``,
    the age of the oldest open item, and ``review_resolved``. ``recent_forward``: arrival →
    forward over forwards sent in the last :data:`RECENT`.
    """

    live_by_state: dict[str, int]
    decisions: dict[tuple[str, str], int]
    forwards_sent: int
    misroute_reports: int
    review_open: int
    review_oldest_age_s: float | None
    review_resolved: int
    recent_forward: Latency


@dataclass(frozen=True)
class UnknownShare:
    """Live mail people closed as belonging to no team, out of all live mail that is
    settled (routed, or decided by a person): a floor of the live share of unknown mail
    (unknown mail the model routed unnoticed is not in it)."""

    no_team: int
    settled: int

    @property
    def share(self) -> float | None:
        return self.no_team / self.settled if self.settled else None


def unknown_share(session: Session) -> UnknownShare:
    settled = session.scalar(
        select(func.count())
        .select_from(Message)
        .where(
            Message.origin == "live",
            Message.route_state.in_(("forwarding", "forwarded", "done")),
        )
    )
    no_team = session.scalar(
        select(func.count()).select_from(ReviewItem).where(ReviewItem.closed_as == "no-team")
    )
    return UnknownShare(int(no_team or 0), int(settled or 0))


def store_metrics(session: Session, now: datetime | None = None) -> StoreMetrics:
    """The figures ``/metrics`` exports, read now (a handful of aggregate queries)."""
    at = now if now is not None else utcnow()
    by_state = dict.fromkeys(ROUTE_STATES, 0)
    for state, number in session.execute(
        select(Message.route_state, func.count())
        .where(Message.origin == "live", Message.route_state.is_not(None))
        .group_by(Message.route_state)
    ):
        by_state[state or ""] = number
    deciders = AUTO_DECIDERS
    decisions = {(mode, by): 0 for mode in ("auto", "review") for by in deciders}
    for mode, decided_by, number in session.execute(
        select(RoutingDecision.mode, RoutingDecision.decided_by, func.count())
        .where(RoutingDecision.decided_by.in_(deciders))
        .group_by(RoutingDecision.mode, RoutingDecision.decided_by)
    ):
        decisions[(mode, decided_by)] = number

    def count(statement: Any) -> int:
        return int(session.scalar(statement) or 0)

    oldest = session.scalar(
        select(func.min(ReviewItem.created_at)).where(ReviewItem.status == "open")
    )
    recent = session.execute(
        select(Delivery.sent_at, Message.imported_at)
        .join(Message, Message.id == Delivery.message_id)
        .where(Delivery.state == "sent", Delivery.sent_at >= at - RECENT, Delivery.sent_at <= at)
    )
    return StoreMetrics(
        live_by_state=by_state,
        decisions=decisions,
        forwards_sent=count(
            select(func.count()).select_from(Delivery).where(Delivery.state == "sent")
        ),
        misroute_reports=count(
            select(func.count()).select_from(AuditLog).where(AuditLog.action == "misroute")
        ),
        review_open=count(
            select(func.count()).select_from(ReviewItem).where(ReviewItem.status == "open")
        ),
        review_oldest_age_s=None if oldest is None else max(0.0, (at - oldest).total_seconds()),
        review_resolved=count(
            select(func.count()).select_from(ReviewItem).where(ReviewItem.status == "resolved")
        ),
        recent_forward=Latency.of(
            [max(0.0, (sent - arrived).total_seconds()) for sent, arrived in recent if sent]
        ),
    )


# Rules -------------------------------------------------------------------------------------

# A rule is flagged when people corrected at least this many of the mails it forwarded,
# and at least this share of them.
RULE_FLAG_MIN_CORRECTED = 3
RULE_FLAG_SHARE = 0.2


@dataclass(frozen=True, slots=True)
class RuleLive:
    """How one admin rule did on live mail since a moment: the mails it decided, those it
    forwarded, and of those the ones a person later sent to another team."""

    rule_id: int
    name: str
    decided: int
    forwarded: int
    corrected: int

    @property
    def flagged(self) -> bool:
        """People keep correcting this rule's matches."""
        return (
            self.corrected >= RULE_FLAG_MIN_CORRECTED
            and self.corrected >= RULE_FLAG_SHARE * self.forwarded
        )

    @property
    def precision(self) -> float | None:
        return 1 - self.corrected / self.forwarded if self.forwarded else None


def rules_live(session: Session, since: datetime) -> tuple[RuleLive, ...]:
    """Per rule that decided live mail since ``since``: decided, forwarded, corrected
    (a person's later decision named another team), most corrected first."""
    first: dict[int, tuple[int, str, int | None]] = {}  # message → (rule, mode, team)
    names: dict[int, str] = {}
    for message_id, rule_id, mode, team_id, details in session.execute(
        select(
            RoutingDecision.message_id,
            RoutingDecision.rule_id,
            RoutingDecision.mode,
            RoutingDecision.team_id,
            RoutingDecision.details,
        )
        .where(
            RoutingDecision.decided_by == "rule",
            RoutingDecision.rule_id.is_not(None),
            RoutingDecision.created_at >= since,
        )
        .order_by(RoutingDecision.id)
    ):
        if message_id not in first:
            first[message_id] = (rule_id, mode, team_id)
            names.setdefault(rule_id, str(_details(details).get("rule") or f"rule {rule_id}"))
    if not first:
        return ()
    for rule_id, name in session.execute(select(Rule.id, Rule.name).where(Rule.id.in_(names))):
        names[rule_id] = name
    corrected: set[int] = set()
    forwarded_ids = [m for m, (_, mode, team) in first.items() if mode == "auto" and team]
    for start in range(0, len(forwarded_ids), 500):
        chunk = forwarded_ids[start : start + 500]
        for message_id, team_id in session.execute(
            select(RoutingDecision.message_id, RoutingDecision.team_id).where(
                RoutingDecision.message_id.in_(chunk),
                RoutingDecision.decided_by.like("user:%"),
            )
        ):
            if team_id != first[message_id][2]:
                corrected.add(message_id)
    decided: Counter[int] = Counter()
    forwarded: Counter[int] = Counter()
    fixed: Counter[int] = Counter()
    for message_id, (rule_id, mode, team_id) in first.items():
        decided[rule_id] += 1
        if mode == "auto" and team_id:
            forwarded[rule_id] += 1
            fixed[rule_id] += message_id in corrected
    rows = [
        RuleLive(rule_id, names[rule_id], decided[rule_id], forwarded[rule_id], fixed[rule_id])
        for rule_id in decided
    ]
    return tuple(sorted(rows, key=lambda r: (-r.corrected, -r.decided, r.name)))
