"""The admin dashboard, /healthz and /metrics through the test client, on SQLite and
PostgreSQL, over a known small case whose every number is worked out by hand below; and
the SVG charts' edge cases (no data, one point, hostile names).

The case (``NOW`` = Wednesday 13 March 2024 12:00 UTC; weeks W10 = 4–10 Mar, W11 = 11–17 Mar)::

    mail arrived       lang  first decision         then                              state
    m0   Feb 20 12:00  nl    review (v0001)         waiting since Feb 20 (outside)    review
    m1   Mar  5 09:00  nl    auto model v0001 schade  sent 09:02                      done
    m2   Mar  5 10:00  nl    auto model v0001 premie  sent 10:10; misroute Mar 6 11:00,
                                                    reviewer → klachten 11:30, sent 12:00  done
    m3   Mar  6 08:00  en    review (v0001, top premie) reviewer → premie 08:50, sent 09:00 done
    m4   Mar  7 08:00  nl    auto thread schade     sent 08:01                        done
    m5   Mar 11 09:00  en    auto model v0002 premie  sent 09:05                      done
    m6   Mar 12 09:00  nl    review (v0002)         waiting                           review
    m7   Mar 12 10:00  de    —                      quarantined, waiting              quarantined
    m8   Mar 13 11:00  nl    —                                                        new
    m9   Mar 11 10:00  nl    auto model v0002 schade  sent 10:30; misroute Mar 12 08:00,
                                                    overruled (schade) 08:30          done
    m10  Mar 12 13:00  nl    auto model v0002 klachten sent 13:01; misroute Mar 13 09:00,
                                                    waiting                           review
    m11  Mar 13 13:00  nl    — (after NOW: ignored by the window)                      new
    m12  Mar 11 15:00  en    auto model v0002 premie  sent 15:20                      done
    m13  Mar 13 10:00  nl    auto model v0002 klachten sent 10:40                     forwarded
"""

from __future__ import annotations

import hashlib
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from labeling.live.stats import (
    archive_hops,
    count_forwards,
    live_stats,
    make_window,
    percentile,
    review_backlog,
    store_metrics,
    subject_forwards,
)
from labeling.settings import Settings
from labeling.store.tables import (
    AuditLog,
    Delivery,
    Message,
    ReviewItem,
    RoutingDecision,
)
from tests.support.web import Seeded, logged_in, make_app, seed
from web import charts, dashboard_views
from web.dashboard_views import CLOCK, StoreCollector

NOW = datetime(2024, 3, 13, 12, 0, tzinfo=UTC)
SVG_NS = "{http://www.w3.org/2000/svg}"


def at(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2024, month, day, hour, minute, tzinfo=UTC)


# Seeding the case ---------------------------------------------------------------------------


@dataclass
class Case:
    seeded: Seeded
    mails: dict[str, int]  # "m0" … -> message id


def _message(
    session: Session,
    name: str,
    *,
    origin: str = "live",
    arrived: datetime | None = None,
    language: str = "nl",
    state: str | None = None,
    subject: str = "",
    body: str = "",
    headers: str = "",
    date: datetime | None = None,
    status: str = "ok",
) -> Message:
    raw = f"{headers}Subject: {subject or name}\r\n\r\n{body or name}\r\n".encode()
    message = Message(
        raw_compressed=b"",
        raw_size=0,
        content_hash=hashlib.sha256(raw + name.encode()).hexdigest(),
        subject=subject or f"Vraag {name}",
        body_text=body or f"Beste, ik heb een vraag ({name}).",
        new_text=body or f"Beste, ik heb een vraag ({name}).",
        language=language,
        origin=origin,
        route_state=state,
        date=date,
        status=status,
        quarantine_reason="broken MIME" if status != "ok" else None,
    )
    if arrived is not None:
        message.imported_at = arrived
    message.raw = raw
    session.add(message)
    session.flush()
    return message


class _Builder:
    def __init__(self, session: Session, seeded: Seeded) -> None:
        self.session = session
        self.teams = seeded.teams
        self.reviewer = seeded.users["reviewer"]

    def decision(
        self,
        message: Message,
        when: datetime,
        *,
        mode: str,
        by: str = "model",
        team: str | None = None,
        version: str | None = None,
        top: str | None = None,
        current: bool = True,
    ) -> None:
        self.session.add(
            RoutingDecision(
                message_id=message.id,
                team_id=self.teams[team] if team and mode == "auto" else None,
                confidence=0.9 if by == "model" else None,
                model_version=version,
                top=[[top or team, 0.9]] if (top or team) else [],
                decided_by=by,
                mode=mode,
                reason={"model": "confident", "thread": "thread"}.get(by, "reviewed")
                if mode == "auto"
                else "below-threshold",
                is_current=current,
                created_at=when,
            )
        )

    def sent(self, message: Message, team: str, when: datetime, *, delivery: bool = True) -> None:
        """A forward the mail server accepted: the audit row, and the delivery row (which a
        second forward re-aims: pass delivery=False for the first of two)."""
        self.session.add(AuditLog(actor="system", action="forward", message_id=message.id, at=when))
        if delivery:
            self.session.add(
                Delivery(
                    message_id=message.id,
                    team_id=self.teams[team],
                    method="maildir",
                    state="sent",
                    outgoing_message_id=f"<{message.id}.{team}@mailroom>",
                    attempts=1,
                    created_at=when,
                    sent_at=when,
                )
            )

    def review_item(
        self,
        message: Message,
        created: datetime,
        *,
        resolved: datetime | None = None,
        team: str | None = None,
        reason: str = "below-threshold",
    ) -> None:
        self.session.add(
            ReviewItem(
                message_id=message.id,
                status="resolved" if resolved else "open",
                reason=reason,
                created_at=created,
                resolved_at=resolved,
                resolved_by=self.reviewer if resolved else None,
                team_id=self.teams[team] if team else None,
            )
        )

    def misroute(self, message: Message, when: datetime, from_team: str, version: str) -> None:
        self.session.add(
            AuditLog(
                actor=f"user:{self.reviewer}",
                action="misroute",
                message_id=message.id,
                at=when,
                details={"from_team": from_team, "model_version": version, "auto": True},
            )
        )

    def review_decision(
        self,
        message: Message,
        when: datetime,
        *,
        team: str,
        model_team: str | None,
        version: str | None,
        misroute_from: str | None = None,
    ) -> None:
        compared = misroute_from if misroute_from is not None else model_team
        self.session.add(
            AuditLog(
                actor=f"user:{self.reviewer}",
                action="review-decision",
                message_id=message.id,
                at=when,
                details={
                    "team": team,
                    "model_team": model_team,
                    "model_version": version,
                    "corrected": compared is not None and compared != team,
                    "misroute": misroute_from is not None,
                    "from_team": misroute_from,
                },
            )
        )


def seed_case(sessions: sessionmaker[Session]) -> Case:
    seeded = seed(sessions)  # users, three teams, six archive mails without forward markers
    ids: dict[str, int] = {}
    with sessions() as session:
        b = _Builder(session, seeded)
        reviewed_by = f"user:{b.reviewer}"

        def live(name: str, arrived: datetime, state: str, language: str = "nl") -> Message:
            message = _message(session, name, arrived=arrived, state=state, language=language)
            ids[name] = message.id
            return message

        m0 = live("m0", at(20, 12, month=2), "review")
        b.decision(m0, at(20, 12, month=2), mode="review", version="v0001", top="schade")
        b.review_item(m0, at(20, 12, month=2))

        m1 = live("m1", at(5, 9), "done")
        b.decision(m1, at(5, 9), mode="auto", team="schade", version="v0001")
        b.sent(m1, "schade", at(5, 9, 2))

        m2 = live("m2", at(5, 10), "done")
        b.decision(m2, at(5, 10), mode="auto", team="premie", version="v0001", current=False)
        b.sent(m2, "premie", at(5, 10, 10), delivery=False)
        b.misroute(m2, at(6, 11), "premie", "v0001")
        b.review_item(m2, at(6, 11), resolved=at(6, 11, 30), team="klachten", reason="misrouted")
        b.review_decision(
            m2,
            at(6, 11, 30),
            team="klachten",
            model_team="premie",
            version="v0001",
            misroute_from="premie",
        )
        b.decision(m2, at(6, 11, 30), mode="auto", by=reviewed_by, team="klachten")
        b.sent(m2, "klachten", at(6, 12))

        m3 = live("m3", at(6, 8), "done", "en")
        b.decision(m3, at(6, 8), mode="review", version="v0001", top="premie", current=False)
        b.review_item(m3, at(6, 8), resolved=at(6, 8, 50), team="premie")
        b.review_decision(m3, at(6, 8, 50), team="premie", model_team="premie", version="v0001")
        b.decision(m3, at(6, 8, 50), mode="auto", by=reviewed_by, team="premie")
        b.sent(m3, "premie", at(6, 9))

        m4 = live("m4", at(7, 8), "done")
        b.decision(m4, at(7, 8), mode="auto", by="thread", team="schade")
        b.sent(m4, "schade", at(7, 8, 1))

        m5 = live("m5", at(11, 9), "done", "en")
        b.decision(m5, at(11, 9), mode="auto", team="premie", version="v0002")
        b.sent(m5, "premie", at(11, 9, 5))

        m6 = live("m6", at(12, 9), "review")
        b.decision(m6, at(12, 9), mode="review", version="v0002", top="premie")
        b.review_item(m6, at(12, 9))

        m7 = live("m7", at(12, 10), "quarantined", "de")
        b.review_item(m7, at(12, 10), reason="quarantined: broken MIME")

        live("m8", at(13, 11), "new")

        m9 = live("m9", at(11, 10), "done")
        b.decision(m9, at(11, 10), mode="auto", team="schade", version="v0002")
        b.sent(m9, "schade", at(11, 10, 30))
        b.misroute(m9, at(12, 8), "schade", "v0002")
        b.review_item(m9, at(12, 8), resolved=at(12, 8, 30), team="schade", reason="misrouted")
        b.review_decision(
            m9, at(12, 8, 30), team="schade", model_team="schade", version="v0002",
            misroute_from="schade",
        )  # fmt: skip

        m10 = live("m10", at(12, 13), "review")
        b.decision(m10, at(12, 13), mode="auto", team="klachten", version="v0002")
        b.sent(m10, "klachten", at(12, 13, 1))
        b.misroute(m10, at(13, 9), "klachten", "v0002")
        b.review_item(m10, at(13, 9), reason="misrouted")

        live("m11", at(13, 13), "new")

        m12 = live("m12", at(11, 15), "done", "en")
        b.decision(m12, at(11, 15), mode="auto", team="premie", version="v0002")
        b.sent(m12, "premie", at(11, 15, 20))

        m13 = live("m13", at(13, 10), "forwarded")
        b.decision(m13, at(13, 10), mode="auto", team="klachten", version="v0002")
        b.sent(m13, "klachten", at(13, 10, 40))
        session.commit()
    return Case(seeded, ids)


def seed_archive_with_forwards(sessions: sessionmaker[Session]) -> None:
    """Four archive mails newer than seed()'s six, each with forward markers."""
    with sessions() as session:
        _message(
            session,
            "a1",
            origin="archive",
            date=at(1, 9, month=1),
            subject="Fwd: Doorst: schade aan mijn auto",
            body="Zie hieronder.\n\n---------- Forwarded message ---------\nVan: klant\n",
        )
        _message(
            session,
            "a2",
            origin="archive",
            date=at(2, 9, month=1),
            subject="RE: vraag over premie",
            body="Dank!\n\n-----Original Message-----\nFrom: klant\n",
            headers="Resent-From: balie@example.nl\r\nResent-Date: Tue, 2 Jan 2024 09:00 +0100\r\n",
        )
        _message(
            session,
            "a3",
            origin="archive",
            date=at(3, 9, month=1),
            subject="WG: Beschwerde",
            body="Begin forwarded message:\n\n> x\n\nBegin forwarded message:\n> y\n",
        )
        _message(
            session,
            "a4",
            origin="archive",
            date=at(4, 9, month=1),
            subject="FW: FW: premie",
            body="\n".join(["-----Oorspronkelijk bericht-----\nVan: iemand"] * 3),
        )
        # Neither of these counts: an unreadable mail, and one without a date.
        _message(session, "a5", origin="archive", date=at(5, 9, month=1), status="quarantined")
        _message(session, "a6", origin="archive", subject="Fwd: zonder datum")
        session.commit()


# Fixtures -----------------------------------------------------------------------------------


@pytest.fixture
def app(app: Flask) -> Flask:
    """The shared app (tests/conftest.py) with its clock stopped at ``NOW``."""
    app.extensions[CLOCK] = lambda: NOW
    return app


@pytest.fixture
def case(sessions: sessionmaker[Session]) -> Case:
    return seed_case(sessions)


# The numbers --------------------------------------------------------------------------------


def test_window_spans_weeks_and_days() -> None:
    weeks = make_window("week", 14, NOW)
    assert [s.key for s in weeks.spans] == ["2024-W10", "2024-W11"]
    assert weeks.start == at(4, 0) and weeks.spans[-1].end == at(18, 0)
    assert [s.label for s in weeks.spans] == ["4 Mar", "11 Mar"]
    assert len(make_window("week", None, NOW).spans) == 12
    days = make_window("day", 3, NOW)
    assert [s.key for s in days.spans] == ["2024-03-11", "2024-03-12", "2024-03-13"]
    assert len(make_window("day", None, NOW).spans) == 30
    assert days.index(at(13, 11, 59)) == 2
    assert days.index(at(13, 12)) is None  # now itself is past the window's data
    assert days.index(at(10, 23, 59)) is None
    for bad in (("month", 7), ("day", 0), ("week", 10_000)):
        with pytest.raises(ValueError):
            make_window(bad[0], bad[1], NOW)  # type: ignore[arg-type]


def test_percentile_interpolates_between_ranks() -> None:
    assert percentile([], 0.5) is None
    assert percentile([7.0], 0.95) == 7.0
    assert percentile([10, 20, 30, 40], 0.5) == 25.0
    assert percentile([40, 10, 30, 20], 0.95) == pytest.approx(38.5)


def test_live_numbers_per_week(case: Case, sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        stats = live_stats(session, make_window("week", 14, NOW))
    w10, w11 = stats.periods

    assert w10.arrived == 4
    assert w10.by_team == {"schade": 2, "klachten": 1, "premie": 1}
    assert (w10.in_review, w10.not_routed, w10.quarantined) == (0, 0, 0)
    assert w10.by_language == {"nl": 3, "en": 1}
    assert (w10.decided, w10.auto_routed, w10.auto_by_thread) == (4, 3, 1)
    assert w10.auto_rate == 0.75
    assert w10.misrouted == 1 and w10.precision == pytest.approx(2 / 3)
    assert (w10.reviewed, w10.corrected) == (1, 0)
    assert (w10.forward.n, w10.forward.p50_s) == (4, 360.0)
    assert w10.forward.p95_s == pytest.approx(3150.0)
    assert w10.hops.distribution == {1: 3, 2: 1} and w10.hops.mean == 1.25

    assert w11.arrived == 8
    assert w11.by_team == {"premie": 2, "klachten": 1, "schade": 1}
    assert (w11.in_review, w11.not_routed, w11.quarantined) == (2, 1, 1)
    assert w11.by_language == {"nl": 5, "en": 2, "de": 1}
    assert (w11.decided, w11.auto_routed, w11.auto_by_thread) == (6, 5, 0)
    assert w11.auto_rate == pytest.approx(5 / 6)
    # m10's report waits for a reviewer and counts; m9's was overruled and does not.
    assert w11.misrouted == 1 and w11.precision == pytest.approx(0.8)
    assert (w11.reviewed, w11.corrected) == (0, 0)
    assert (w11.forward.n, w11.forward.p50_s) == (5, 1200.0)
    assert w11.forward.p95_s == pytest.approx(2280.0)
    assert w11.hops.distribution == {1: 4}

    total = stats.total
    assert total.arrived == 12
    assert list(total.by_team) == ["premie", "schade", "klachten"]  # most mail first
    assert total.by_team == {"premie": 3, "schade": 3, "klachten": 2}
    assert [t.slug for t in stats.teams] == ["premie", "schade", "klachten"]
    assert stats.languages == ("nl", "en", "de")
    assert total.auto_rate == 0.8 and total.precision == 0.75
    assert (total.forward.n, total.forward.p50_s) == (9, 600.0)
    assert total.forward.p95_s == pytest.approx(3120.0)
    assert total.hops.distribution == {1: 7, 2: 1} and total.hops.mean == 1.125
    auto, review = stats.forward_by_path["auto"], stats.forward_by_path["review"]
    assert (auto.n, auto.p50_s) == (8, 450.0) and auto.p95_s == pytest.approx(2190.0)
    assert (review.n, review.p50_s, review.p95_s) == (1, 3600.0, 3600.0)

    models = {m.version: m for m in stats.models}
    assert set(models) == {"v0001", "v0002"}
    v1, v2 = models["v0001"], models["v0002"]
    assert (v1.decided, v1.auto_routed, v1.misrouted, v1.reviewed, v1.corrected) == (3, 2, 1, 1, 0)
    assert (v2.decided, v2.auto_routed, v2.misrouted, v2.reviewed) == (6, 5, 1, 0)
    assert v2.precision == pytest.approx(0.8)


def test_live_numbers_per_day(case: Case, sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        stats = live_stats(session, make_window("day", 3, NOW))
    assert [p.arrived for p in stats.periods] == [3, 3, 2]  # 11, 12 and 13 March
    assert stats.periods[1].by_team == {}
    assert (stats.periods[1].in_review, stats.periods[1].quarantined) == (2, 1)
    assert stats.periods[2].by_team == {"klachten": 1}
    assert stats.periods[2].not_routed == 1


def test_review_backlog_now_and_per_week(case: Case, sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        backlog = review_backlog(session, make_window("week", 14, NOW))
    assert backlog.open == 4
    assert backlog.oldest_age_s == 22 * 86400  # m0, waiting since 20 February
    assert backlog.median_age_s == 95400  # between m7 (26 h) and m6 (27 h)
    assert dict(backlog.ages) == {
        "under 1 h": 0,
        "1–4 h": 1,
        "4–24 h": 0,
        "1–3 days": 2,
        "over 3 days": 1,
    }
    assert backlog.at_period_end == (1, 4)
    assert backlog.opened == (2, 4)
    assert backlog.resolved == (2, 1)


def test_hops_before_mailroom_from_the_archive(case: Case, sessions: sessionmaker[Session]) -> None:
    seed_archive_with_forwards(sessions)
    with sessions() as session:
        recent = archive_hops(session, sample=4)
        everything = archive_hops(session)
    assert recent.distribution == {2: 1, 3: 2, 4: 1}
    assert everything.distribution == {1: 6, 2: 1, 3: 2, 4: 1}
    assert everything.mean == 1.8
    assert everything.grouped() == (("1", 6), ("2", 1), ("3", 2), ("4+", 1))


def test_counting_forwards() -> None:
    assert subject_forwards("Fwd: RE: Doorst: vraag") == 2
    assert subject_forwards("[EXT] FW: Re: WG: TR: x") == 3
    assert subject_forwards("Re: forward of fwd: x") == 0  # only leading prefixes count
    assert subject_forwards("Factuur: 2024") == 0
    assert count_forwards("Vraag", "") == 0
    # Outlook's reply separator alone is a reply, not a forward.
    assert count_forwards("RE: vraag", "-----Original Message-----") == 0
    assert count_forwards("FW: vraag", "-----Original Message-----\n" * 2) == 2
    headers = b"Resent-From: a@x\nResent-Date: d\nResent-From: b@x\nResent-Date: e\n"
    assert count_forwards("Fwd: x", "---------- Forwarded message ---------", headers) == 3


def test_store_metrics(case: Case, sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        figures = store_metrics(session, NOW)
    assert figures.live_by_state == {
        "new": 2,
        "review": 3,
        "forwarding": 0,
        "forwarded": 1,
        "done": 7,
        "quarantined": 1,
    }
    assert figures.decisions == {
        ("auto", "model"): 7,
        ("auto", "thread"): 1,
        ("review", "model"): 3,
        ("review", "thread"): 0,
        ("auto", "rule"): 0,
        ("review", "rule"): 0,
    }
    assert (figures.forwards_sent, figures.misroute_reports) == (9, 3)
    assert (figures.review_open, figures.review_resolved) == (4, 3)
    assert figures.review_oldest_age_s == 22 * 86400
    # Forwards sent in the 24 hours before NOW: m10 (60 s) and m13 (2400 s).
    assert figures.recent_forward.n == 2
    assert figures.recent_forward.p50_s == 1230.0
    assert figures.recent_forward.p95_s == pytest.approx(2283.0)


# The pages ----------------------------------------------------------------------------------


def _svgs(page: str) -> list[ET.Element]:
    found = re.findall(r"<svg\b.*?</svg>", page, flags=re.DOTALL)
    return [ET.fromstring(svg) for svg in found]


def _text_of(page: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)<', page, flags=re.DOTALL)
    assert match, f"no element #{element_id}"
    return match.group(1).strip()


def _write_models(settings: Settings) -> None:
    root = settings.models_path
    for version, status, holdout in (
        ("v0001", "retired", {"accuracy": 0.812, "macro_f1": 0.79, "coverage": 0.5}),
        ("v0002", "active", {"accuracy": 0.905, "macro_f1": 0.88, "auto_precision": 0.97}),
    ):
        (root / version).mkdir(parents=True)
        manifest = {
            "version": version,
            "created_at": f"2024-03-0{version[-1]}T10:00:00+00:00",
            "kind": "tfidf",
            "status": status,
            "metrics": {"holdout": holdout},
        }
        (root / version / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    (root / "active.json").write_text(
        json.dumps({"version": "v0002", "history": ["v0001", "v0002"]}), encoding="utf-8"
    )


def test_dashboard_page_shows_the_case(app: Flask, case: Case, db_settings: Settings) -> None:
    _write_models(db_settings)
    client = logged_in(app, "admin")
    response = client.get("/dashboard?period=week&days=14")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert _text_of(page, "c-arrived") == "12"
    assert _text_of(page, "c-auto-rate") == "80 %"
    assert _text_of(page, "c-precision") == "75 %"
    assert _text_of(page, "c-backlog") == "4"
    assert _text_of(page, "c-latency") == "10 min"
    assert "estimate" in page and "invisible" in page
    for slug, count in (("premie", 3), ("schade", 3), ("klachten", 2)):
        assert f'data-team="{slug}">{count}<' in page
    assert 'data-period="2024-W10"' in page and 'data-period="2024-W11"' in page
    # Model versions from the registry, newest first, with holdout and live figures.
    assert page.index('data-version="v0002"') < page.index('data-version="v0001"')
    assert "0.905" in page and "0.812" in page
    assert "no-model" not in page and "no-live-mail" not in page

    svgs = _svgs(page)
    assert {svg.get("id") for svg in svgs} == {
        "chart-teams",
        "chart-languages",
        "chart-rates",
        "chart-latency",
        "chart-backlog",
        "chart-backlog-ages",
        "chart-hops",
    }
    for svg in svgs:
        assert svg.find(f"{SVG_NS}title") is not None
        assert svg.find(f"{SVG_NS}desc") is not None
    teams_chart = next(svg for svg in svgs if svg.get("id") == "chart-teams")
    tooltips = [t.text for t in teams_chart.iter(f"{SVG_NS}title")]
    assert "11 Mar · Premie: 2" in tooltips and "4 Mar · Schade: 2" in tooltips
    assert "11 Mar · In review: 2" in tooltips
    # In Dutch the charts speak Dutch too: months, series and titles.
    dutch = client.get(
        "/dashboard?period=week&days=14", headers={"Accept-Language": "nl"}
    ).get_data(as_text=True)
    assert "11 mrt · Premie: 2" in dutch and "11 mrt · In beoordeling: 2" in dutch
    assert "Mail per team" in dutch and "Beoordelingsachterstand" in dutch
    # The CSP forbids inline styles and scripts: the page has neither.
    assert "style=" not in page and "<style" not in page and "<script" not in page


def test_dashboard_per_day_and_empty_states(
    app: Flask, sessions: sessionmaker[Session], db_settings: Settings
) -> None:
    seed(sessions)
    client = logged_in(app, "admin")
    page = client.get("/dashboard").get_data(as_text=True)
    assert "No live mail yet" in page and 'id="no-live-mail"' in page
    assert 'id="no-model"' in page
    for svg in _svgs(page):  # the charts that remain still parse
        assert svg.get("id") in {"chart-backlog", "chart-backlog-ages", "chart-hops"}
    response = client.get("/dashboard?period=day&days=7")
    assert response.status_code == 200
    assert "per day" in response.get_data(as_text=True)


def test_dashboard_refuses_bad_arguments(app: Flask, case: Case) -> None:
    client = logged_in(app, "admin")
    for query in ("period=month", "days=0", "days=abc", "days=-3", "days=100000"):
        response = client.get(f"/dashboard?{query}")
        assert response.status_code == 400, query
        assert "must be" in response.get_data(as_text=True)


def test_a_corrupt_registry_is_reported_not_a_crash(
    app: Flask, case: Case, db_settings: Settings
) -> None:
    db_settings.models_path.mkdir(parents=True)
    (db_settings.models_path / "active.json").write_text("{not json", encoding="utf-8")
    page = logged_in(app, "admin").get("/dashboard").get_data(as_text=True)
    assert "cannot be read" in page


def test_dashboard_is_for_admins_only(app: Flask, case: Case) -> None:
    assert logged_in(app, "admin").get("/dashboard").status_code == 200
    for role in ("labeler", "reviewer"):
        assert logged_in(app, role).get("/dashboard").status_code == 403
    anonymous = app.test_client().get("/dashboard?period=day")
    assert anonymous.status_code == 302
    assert "/login" in anonymous.headers["Location"]


def test_healthz(client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}

    class Down:
        def execute(self, *args: Any) -> None:
            raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))

    monkeypatch.setattr(dashboard_views, "db_session", Down)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "error", "database": "unreachable"}


def _metrics(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics_for_prometheus(app: Flask, case: Case, db_settings: Settings) -> None:
    response = app.test_client().get("/metrics")  # public: a monitor does not log in
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    text = response.get_data(as_text=True)
    samples = _metrics(text)
    assert samples[("mailroom_store_up", ())] == 1
    assert samples[("mailroom_live_messages", (("state", "done"),))] == 7
    assert samples[("mailroom_live_messages", (("state", "review"),))] == 3
    assert samples[("mailroom_live_messages", (("state", "forwarding"),))] == 0
    decisions = "mailroom_routing_decisions_total"
    assert samples[(decisions, (("decided_by", "model"), ("mode", "auto")))] == 7
    assert samples[(decisions, (("decided_by", "thread"), ("mode", "auto")))] == 1
    assert samples[(decisions, (("decided_by", "model"), ("mode", "review")))] == 3
    assert samples[("mailroom_forwards_total", ())] == 9
    assert samples[("mailroom_misroute_reports_total", ())] == 3
    assert samples[("mailroom_reviews_resolved_total", ())] == 3
    assert samples[("mailroom_review_backlog", ())] == 4
    assert samples[("mailroom_review_backlog_oldest_age_seconds", ())] == 22 * 86400
    assert samples[("mailroom_recent_forwards", ())] == 2
    latency = "mailroom_arrival_to_forward_seconds"
    assert samples[(latency, (("quantile", "0.5"),))] == 1230.0
    assert samples[(latency, (("quantile", "0.95"),))] == pytest.approx(2283.0)
    # Aggregates only: no subject, sender or team address leaks into the scrape.
    assert "Vraag" not in text and "@" not in text
    # Each app keeps its own registry: a second one in the same process does not clash.
    assert app.test_client().get("/metrics").status_code == 200
    second = make_app(db_settings)
    try:
        assert (
            _metrics(second.test_client().get("/metrics").get_data(as_text=True))[
                ("mailroom_review_backlog", ())
            ]
            == 4
        )
    finally:
        second.extensions["mailroom.db"].engine.dispose()


def test_metrics_say_when_the_store_is_down() -> None:
    def broken() -> Session:
        raise OperationalError("connect", {}, ConnectionRefusedError("connection refused"))

    collector = StoreCollector(broken, lambda: NOW)  # type: ignore[arg-type]
    families = list(collector.collect())
    assert [(f.name, [s.value for s in f.samples]) for f in families] == [
        ("mailroom_store_up", [0])
    ]


# The charts ---------------------------------------------------------------------------------


def _parse(svg: str) -> ET.Element:
    assert "style=" not in svg and "<script" not in svg
    return ET.fromstring(svg)


def test_charts_without_data_say_so() -> None:
    for svg in (
        charts.stacked_bars(
            chart_id="c1", title="T", description="D", labels=[], series=[],
            x_title="x", y_title="y",
        ),
        charts.bar_chart(
            chart_id="c2", title="T", description="D", labels=["a", "b"], values=[0, 0],
            name="n", x_title="x", y_title="y", empty_message="Nothing waits.",
        ),
        charts.line_chart(
            chart_id="c3", title="T", description="D", labels=["a"],
            series=[charts.Series("s", [None], "#000")], x_title="x", y_title="y",
        ),
    ):  # fmt: skip
        root = _parse(svg)
        texts = [t.text for t in root.iter(f"{SVG_NS}text")]
        assert "No data in this window." in texts or "Nothing waits." in texts
        marks = [*root.iter(f"{SVG_NS}circle"), *root.iter(f"{SVG_NS}path")]
        marks += [r for r in root.iter(f"{SVG_NS}rect") if r.find(f"{SVG_NS}title") is not None]
        assert marks == []


def test_line_chart_with_one_point_draws_a_marker() -> None:
    root = _parse(
        charts.line_chart(
            chart_id="one",
            title="Rate",
            description="One week",
            labels=["4 Mar"],
            series=[charts.Series("Auto-route rate", [0.75], charts.color(0))],
            x_title="Week",
            y_title="Share",
            y_max=1.0,
            value_format=charts.percent_format,
        )
    )
    assert root.find(f"{SVG_NS}path") is None  # one point: no line to draw
    circles = list(root.iter(f"{SVG_NS}circle"))
    assert len(circles) == 1
    assert circles[0].findtext(f"{SVG_NS}title") == "4 Mar · Auto-route rate: 75 %"
    assert "100 %" in [t.text for t in root.iter(f"{SVG_NS}text")]


def test_chart_text_is_escaped() -> None:
    hostile = '<b>&"</b><script>alert(1)</script>'
    svg = charts.stacked_bars(
        chart_id="esc",
        title=f"Mail {hostile}",
        description=hostile,
        labels=[hostile, "ok"],
        series=[
            charts.Series(hostile, [3, 1], charts.color(0)),
            charts.Series("Other", [None, 2], '"/><script>'),
        ],
        x_title=hostile,
        y_title=hostile,
    )
    root = _parse(svg)
    assert "<b>" not in svg and "&lt;b&gt;&amp;&#34;" in svg
    assert root.findtext(f"{SVG_NS}title") == f"Mail {hostile}"
    assert root.findtext(f"{SVG_NS}desc") == hostile
    legend = [t.text for t in root.iter(f"{SVG_NS}text")]
    assert hostile in legend
    tooltips = [t.text for t in root.iter(f"{SVG_NS}title")]
    assert f"{hostile} · {hostile}: 3" in tooltips
    with pytest.raises(ValueError):
        charts.bar_chart(
            chart_id='x" onload="1', title="", description="", labels=[], values=[],
            name="", x_title="", y_title="",
        )  # fmt: skip
    with pytest.raises(ValueError):
        charts.line_chart(
            chart_id="bad", title="", description="", labels=["a", "b"],
            series=[charts.Series("s", [1.0], "#000")], x_title="", y_title="",
        )  # fmt: skip


def test_stacked_bars_scale_and_thin_labels() -> None:
    labels = [f"{day} Mar" for day in range(1, 31)]
    root = _parse(
        charts.stacked_bars(
            chart_id="many",
            title="Mail",
            description="30 days",
            labels=labels,
            series=[charts.Series("A", [7] * 30, "#000"), charts.Series("B", [6] * 30, "#111")],
            x_title="Day",
            y_title="Mails",
        )
    )
    texts = [t.text for t in root.iter(f"{SVG_NS}text")]
    assert "15" in texts  # 13 per day rounds up to an axis of 0, 5, 10, 15
    shown = [t for t in texts if t in labels]
    assert "1 Mar" in shown and len(shown) < len(labels)
    assert len(list(root.iter(f"{SVG_NS}rect"))) == 1 + 2 + 60  # background, legend, bars


def test_duration_format() -> None:
    assert charts.duration_format(45) == "45 s"
    assert charts.duration_format(600) == "10 min"
    assert charts.duration_format(80) == "1 min 20 s"  # not "1 min" for 80 s
    assert charts.duration_format(5400) == "1 h 30 min"
    assert charts.duration_format(22 * 86400) == "22 days"


def test_a_gap_breaks_the_line() -> None:
    svg = charts.line_chart(
        chart_id="lat",
        title="Arrival to forward",
        description="p50 and p95",
        labels=["a", "b", "c", "d"],
        series=[
            charts.Series("p50", [1.0, None, 3.0, 4.0], "#000"),
            charts.Series("p95", [2.0, 5.0, 6.0, 8.0], "#111"),
        ],
        x_title="Week",
        y_title="min",
    )
    root = _parse(svg)
    paths = [p.get("d") or "" for p in root.iter(f"{SVG_NS}path")]
    # The gap lifts the pen: p50 is a lone point and a segment; p95 is one line.
    assert len(paths) == 2
    assert paths[0].count("M") == 2 and paths[0].count("L") == 1
    assert paths[1].count("M") == 1 and paths[1].count("L") == 3
    assert len(list(root.iter(f"{SVG_NS}circle"))) == 7
