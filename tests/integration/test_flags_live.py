"""Learned and cue-list flags where people look at live mail: the review page and the
dashboard say which judged each mail (issue 14 item 3)."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from labeling.live.stats import live_stats, make_window
from labeling.rules.cues import cue_flags
from labeling.rules.flags import LearnedFlag, MailFlags
from labeling.store.tables import Message, ReviewItem, RoutingDecision, utcnow
from tests.support.web import Seeded, logged_in


def test_review_and_dashboard_say_whether_the_model_or_the_cue_list_flagged_a_mail(
    app: Flask, sessions: sessionmaker[Session], seeded: Seeded
) -> None:
    now = utcnow()
    flags = [
        MailFlags(learned={"urgent": LearnedFlag(0.913, 0.6, "v0002")}),  # the head
        MailFlags(cues=cue_flags("SPOED", "ik ga overstappen")),  # no heads: cue list
        MailFlags(
            cues=cue_flags("", "Opzeggen"),
            learned={"churn": LearnedFlag(0.88, 0.5, "v0002")},
        ),
        MailFlags(),
    ]
    with sessions() as session:
        for n, (message_id, mail_flags) in enumerate(zip(seeded.messages, flags, strict=False)):
            message = session.get(Message, message_id)
            assert message is not None
            message.origin, message.route_state = "live", "review"
            message.imported_at = now - timedelta(minutes=10) + timedelta(seconds=n)
            details = mail_flags.details()
            if mail_flags.urgent:
                details["priority"] = "high"
            session.add(
                RoutingDecision(
                    message_id=message_id, decided_by="model", mode="review",
                    reason="below-threshold", details=details, created_at=now,
                )
            )  # fmt: skip
            session.add(
                ReviewItem(
                    message_id=message_id, status="open", reason="below-threshold",
                    created_at=now, urgent=mail_flags.urgent,
                )
            )  # fmt: skip
        session.commit()
        total = live_stats(session, make_window("day", 2, now + timedelta(minutes=1))).total
    assert (total.urgent, total.decided) == (2, 4)
    assert total.urgent_by_source == {"model": 1, "cue list": 1}
    assert total.churn_by_source == {"cue list": 1, "model": 1} and total.churn == 2

    reviewer = logged_in(app, "reviewer")
    first = reviewer.get("/review").get_data(as_text=True)  # urgent first: the head's
    assert "urgent: 0.91 (model)" in first
    dashboard = logged_in(app, "admin").get("/dashboard").get_data(as_text=True)
    assert "1 by the cue list, 1 by the model" in dashboard
    assert "Wants to leave: 2" in dashboard
