"""The admin dashboard (``/dashboard``), the health check (``/healthz``) and Prometheus
metrics (``/metrics``).

The numbers come from :mod:`labeling.live.stats`; this module parses the query, draws the
charts (:mod:`web.charts`) and renders. ``/healthz`` and ``/metrics`` are public (a monitor
reads them without logging in), so they carry aggregate numbers only, never mail content
or addresses.

``app.extensions["mailroom.clock"]``, when set, is the clock (a callable returning an
aware UTC datetime) the dashboard and the metrics use for "now"; tests fix it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import format_date
from flask_babel import gettext as _
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from labeling.errors import ModelError
from labeling.live.stats import (
    DEFAULT_DAYS,
    MAX_DAYS,
    PERIODS,
    RECENT,
    Dashboard,
    ModelLive,
    Period,
    build_dashboard,
    make_window,
    store_metrics,
)
from labeling.settings import Settings
from labeling.store.tables import utcnow
from web import charts
from web.db import db_session

log = logging.getLogger(__name__)

bp = Blueprint("dashboard", __name__)

CLOCK = "mailroom.clock"
METRICS = "mailroom.metrics"
_metrics_lock = threading.Lock()

# Colours of the volume chart's rows that are not teams.
IN_REVIEW_COLOR = "#9aa3ad"
NOT_ROUTED_COLOR = "#c8cdd3"
FILED_COLOR = "#e4e7eb"
QUARANTINED_COLOR = "#b42318"


def _clock(app: Flask) -> Callable[[], datetime]:
    clock: Callable[[], datetime] = app.extensions.get(CLOCK, utcnow)
    return clock


def _settings() -> Settings:
    settings: Settings = current_app.extensions["mailroom.settings"]
    return settings


# The dashboard ---------------------------------------------------------------------------


def _period_arg() -> Period:
    raw = request.args.get("period", "week")
    periods: dict[str, Period] = {period: period for period in PERIODS}
    if raw not in periods:
        abort(
            400,
            description=_(
                "The period must be one of %(periods)s, not %(raw)s.",
                periods=", ".join(PERIODS),
                raw=repr(raw),
            ),
        )
    return periods[raw]


def _days_arg() -> int | None:
    raw = request.args.get("days", "").strip()
    if not raw:
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_DAYS:
        abort(400, description=_("Days must be a whole number from 1 to %(most)s.", most=MAX_DAYS))
    return int(raw)


@dataclass(frozen=True, slots=True)
class ModelRow:
    """A model version from the registry beside how it did on live mail.

    ``figures`` come from the holdout when the version has one (``source='holdout'``),
    else from the validation split; ``live`` is None when it decided no mail in the window.
    """

    version: str
    status: str
    active: bool
    created_at: str
    kind: str
    source: str
    figures: dict[str, Any]
    live: ModelLive | None


def model_rows(models_path: Path, live: Sequence[ModelLive]) -> tuple[list[ModelRow], str]:
    """Registry versions, newest first, each with its live figures; and an error message
    when the registry cannot be read (empty otherwise)."""
    from classifier.registry import Registry

    by_version = {row.version: row for row in live}
    registry = Registry(models_path)
    try:
        versions = registry.versions()
        active = registry.active_version()
    except (ModelError, ValueError, OSError) as exc:
        log.warning("dashboard: the model registry at %s cannot be read: %s", models_path, exc)
        return [], _(
            "The model registry at %(path)s cannot be read: %(error)s", path=models_path, error=exc
        )
    rows = []
    for info in reversed(versions):
        metrics = info.manifest.get("metrics", {})
        source = "holdout" if info.holdout else "validation"
        figures = info.holdout or dict(metrics.get("validation", {}))
        rows.append(
            ModelRow(
                version=info.version,
                status=info.status,
                active=info.version == active,
                created_at=info.created_at,
                kind=str(info.manifest.get("kind", "")),
                source=source,
                figures=figures,
                live=by_version.pop(info.version, None),
            )
        )
    # Versions that decided mail but are gone from disk still show their live figures.
    for version, row in sorted(by_version.items(), reverse=True):
        rows.append(ModelRow(version, "not on disk", False, "", "", "", {}, row))
    return rows, ""


def _time_series(values: Sequence[float | None]) -> tuple[list[float | None], str]:
    """Seconds rescaled to minutes or hours, whichever reads better, and the unit."""
    largest = max((v for v in values if v is not None), default=0.0)
    unit, divisor = ("h", 3600.0) if largest >= 3 * 3600 else ("min", 60.0)
    return [None if v is None else v / divisor for v in values], unit


def _charts(d: Dashboard) -> dict[str, str]:
    live = d.live
    # "4 Mar" in English, "4 mrt" in Dutch: the period's first day in the interface language.
    labels = [format_date(p.span.start, "d MMM") for p in live.periods]
    x_title = _("Week starting (UTC)") if d.window.period == "week" else _("Day (UTC)")
    team_series = [
        charts.Series(
            team.name, [p.by_team.get(team.slug, 0) for p in live.periods], charts.color(i)
        )
        for i, team in enumerate(live.teams)
    ]
    for name, attribute, fill in (
        (_("In review"), "in_review", IN_REVIEW_COLOR),
        (_("Not routed yet"), "not_routed", NOT_ROUTED_COLOR),
        (_("Machine mail (filed)"), "filed", FILED_COLOR),
        (_("Quarantined"), "quarantined", QUARANTINED_COLOR),
    ):
        if getattr(live.total, attribute):
            team_series.append(
                charts.Series(name, [getattr(p, attribute) for p in live.periods], fill)
            )
    latency, unit = _time_series(
        [v for p in live.periods for v in (p.forward.p50_s, p.forward.p95_s)]
    )

    def in_unit(value: float) -> str:
        return f"{value:.3g} {unit}"

    # Each bar is one population of mail, split by its share of 1, 2, 3 and 4+ hops.
    hop_groups = {
        _("Before Mailroom (archive)"): d.archive_hops,
        _("Mailroom (live)"): live.total.hops,
    }
    hop_shares = {
        name: {label: count / hops.n for label, count in hops.grouped()} if hops.n else {}
        for name, hops in hop_groups.items()
    }
    hop_series = [
        charts.Series(
            _("%(n)s hop", n=label) if label == "1" else _("%(n)s hops", n=label),
            [hop_shares[name].get(label) for name in hop_groups],
            charts.color(i),
        )
        for i, (label, _count) in enumerate(d.archive_hops.grouped())
    ]
    return {
        "teams": charts.stacked_bars(
            chart_id="chart-teams",
            title=_("Mail per team"),
            description=_(
                "Live mail per period, by the team it was forwarded to; mail still "
                "waiting for a person, not routed yet or quarantined stacked on top."
            ),
            labels=labels,
            series=team_series,
            x_title=x_title,
            y_title=_("Mails"),
        ),
        "languages": charts.stacked_bars(
            chart_id="chart-languages",
            title=_("Mail per language"),
            description=_("Live mail per period by detected language."),
            labels=labels,
            series=[
                charts.Series(
                    language,
                    [p.by_language.get(language, 0) for p in live.periods],
                    charts.color(i),
                )
                for i, language in enumerate(live.languages)
            ],
            x_title=x_title,
            y_title=_("Mails"),
        ),
        "rates": charts.line_chart(
            chart_id="chart-rates",
            title=_("Auto-routing"),
            description=_(
                "Per period: the share of live mail routed without a person, and the "
                "estimated precision of that routing (1 minus the share reported misrouted)."
            ),
            labels=labels,
            series=[
                charts.Series(
                    _("Auto-route rate"), [p.auto_rate for p in live.periods], charts.color(0)
                ),
                charts.Series(
                    _("Precision (estimate)"), [p.precision for p in live.periods], charts.color(2)
                ),
            ],
            x_title=x_title,
            y_title=_("Share"),
            y_max=1.0,
            value_format=charts.percent_format,
        ),
        "latency": charts.line_chart(
            chart_id="chart-latency",
            title=_("Arrival to forward"),
            description=_(
                "Per period: median and 95th percentile of the time from a mail's "
                "arrival to its forward to a team."
            ),
            labels=labels,
            series=[
                charts.Series(_("Median (p50)"), latency[0::2], charts.color(0)),
                charts.Series("p95", latency[1::2], charts.color(1)),
            ],
            x_title=x_title,
            y_title=_("Time (%(unit)s)", unit=unit),
            value_format=in_unit,
        ),
        "backlog": charts.bar_chart(
            chart_id="chart-backlog",
            title=_("Review backlog"),
            description=_(
                "Mail waiting for a person at the end of each period (now, for the current one)."
            ),
            labels=labels,
            values=list(d.backlog.at_period_end),
            name=_("Waiting for review"),
            x_title=x_title,
            y_title=_("Mails"),
            empty_message=_("No mail waited for review in this window."),
        ),
        "backlog_ages": charts.bar_chart(
            chart_id="chart-backlog-ages",
            title=_("Age of the review backlog now"),
            description=_("Mail waiting for a person now, by how long it has waited."),
            labels=[_(label) for label, _count in d.backlog.ages],
            values=[count for _label, count in d.backlog.ages],
            name=_("Waiting for review"),
            fill=charts.color(1),
            x_title=_("Waiting for"),
            y_title=_("Mails"),
            empty_message=_("Nothing waits for review."),
        ),
        "hops": charts.stacked_bars(
            chart_id="chart-hops",
            title=_("Hops per mail"),
            description=_(
                "Share of mail by the number of forwards it took to reach its team: "
                "the archive (before Mailroom, read from forward markers) beside live mail."
            ),
            labels=list(hop_groups),
            series=hop_series,
            x_title=_("Mail"),
            y_title=_("Share of mails"),
            y_max=1.0,
            value_format=charts.percent_format,
            empty_message=_("No forwarded or archived mail to count yet."),
        ),
    }


@bp.get("/dashboard")
def index() -> str:
    period = _period_arg()
    days = _days_arg()
    now = _clock(current_app)()
    window = make_window(period, days, now)
    settings = _settings()
    data = build_dashboard(db_session(), window, double_label_share=settings.double_label_share)
    models, models_error = model_rows(settings.models_path, data.live.models)
    return render_template(
        "dashboard.html",
        d=data,
        charts=_charts(data),
        models=models,
        models_error=models_error,
        periods=PERIODS,
        default_days=DEFAULT_DAYS,
        max_days=MAX_DAYS,
        duration=charts.duration_format,
        percent=charts.percent_format,
    )


# Health and metrics ------------------------------------------------------------------------


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    """200 with ``{"status": "ok", "database": "ok"}`` when the database answers, else 503."""
    try:
        db_session().execute(select(1))
    except SQLAlchemyError as exc:
        log.warning("health check: the database did not answer: %s", exc)
        return jsonify(status="error", database="unreachable"), 503
    return jsonify(status="ok", database="ok")


class StoreCollector:
    """Reads :func:`labeling.live.stats.store_metrics` at every scrape, in its own session.

    A database that does not answer gives ``mailroom_store_up 0`` and nothing else, so a
    monitor sees the outage instead of a failed scrape.
    """

    def __init__(self, sessions: sessionmaker[Session], clock: Callable[[], datetime]) -> None:
        self.sessions = sessions
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("mailroom_store_up", "1 when the mail store answered the scrape.")
        try:
            with self.sessions() as session:
                figures = store_metrics(session, self.clock())
        except SQLAlchemyError as exc:
            log.warning("metrics: the database did not answer: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up

        live = GaugeMetricFamily(
            "mailroom_live_messages", "Live mail by route state.", labels=["state"]
        )
        for state, number in figures.live_by_state.items():
            live.add_metric([state], number)
        yield live
        decisions = CounterMetricFamily(
            "mailroom_routing_decisions",
            "Routing decisions by the worker: auto (forwarded without a person) or review, "
            "decided by the model, by thread affinity or by an admin rule.",
            labels=["mode", "decided_by"],
        )
        for (mode, decided_by), number in figures.decisions.items():
            decisions.add_metric([mode, decided_by], number)
        yield decisions
        yield CounterMetricFamily(
            "mailroom_forwards",
            "Forwards the mail server accepted.",
            value=figures.forwards_sent,
        )
        yield CounterMetricFamily(
            "mailroom_misroute_reports",
            "Routed mails a team reported as misrouted.",
            value=figures.misroute_reports,
        )
        yield CounterMetricFamily(
            "mailroom_reviews_resolved",
            "Review items a person resolved.",
            value=figures.review_resolved,
        )
        yield GaugeMetricFamily(
            "mailroom_review_backlog", "Mail waiting for a person.", value=figures.review_open
        )
        yield GaugeMetricFamily(
            "mailroom_review_backlog_oldest_age_seconds",
            "How long the oldest mail waiting for a person has waited (0 when none waits).",
            value=figures.review_oldest_age_s or 0.0,
        )
        hours = int(RECENT.total_seconds() // 3600)
        yield GaugeMetricFamily(
            "mailroom_recent_forwards",
            f"Forwards sent in the last {hours} h (the arrival-to-forward figures' sample).",
            value=figures.recent_forward.n,
        )
        latency = GaugeMetricFamily(
            "mailroom_arrival_to_forward_seconds",
            f"Arrival to forward over the forwards sent in the last {hours} h, by quantile "
            "(absent when there were none).",
            labels=["quantile"],
        )
        for quantile, value in (
            ("0.5", figures.recent_forward.p50_s),
            ("0.95", figures.recent_forward.p95_s),
        ):
            if value is not None:
                latency.add_metric([quantile], value)
        yield latency


def metrics_registry(app: Flask) -> CollectorRegistry:
    """The app's own registry (never the process-global one, so two apps in one process,
    as in tests, do not clash), made on first use."""
    with _metrics_lock:
        registry: CollectorRegistry | None = app.extensions.get(METRICS)
        if registry is None:
            registry = CollectorRegistry(auto_describe=False)
            sessions: sessionmaker[Session] = app.extensions["mailroom.db"].sessions
            registry.register(StoreCollector(sessions, lambda: _clock(app)()))
            app.extensions[METRICS] = registry
        return registry


@bp.get("/metrics")
def metrics() -> Response:
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    return Response(generate_latest(metrics_registry(app)), content_type=CONTENT_TYPE_LATEST)
