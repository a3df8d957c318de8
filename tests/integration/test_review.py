"""Review and misroute flows through the web app's test client and the worker's own state
machine, on SQLite and PostgreSQL: the worker sends unsure mail to review, a reviewer
decides, the forward is queued (never sent by the request), the worker's forward task
delivers it to the team's Maildir; a team sends a mail back and the fix counts as a
correction, with the audit trail the dashboard reads."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from classifier.scoring import Prediction
from labeling.annotation.queue import ScoreRow, store_scores
from labeling.mail.values import RawMail
from labeling.settings import Settings
from labeling.store.tables import (
    Annotation,
    AuditLog,
    Delivery,
    Message,
    ReviewItem,
    Team,
    User,
    utcnow,
)
from mailroom.testbed.mail_factory import bounce_mail
from tests.support.web import FAST_HASH, csrf_token, logged_in, make_app
from web.review_views import ENQUEUE_EXTENSION
from worker.driver import Services, advance, maildir_outbox_files, stale_messages
from worker.watchers import configured_mailboxes, record, register_mailboxes

TEAMS = (("schade", "Schade", "1"), ("premie", "Premie", "2"), ("klachten", "Klachten", "3"))
LONG_TEXT = (
    "Goedemorgen, ik wil graag weten waarom mijn premie dit jaar zo sterk is gestegen terwijl "
    "ik geen schade heb gemeld en al jaren klant ben bij uw maatschappij. Kunt u mij uitleggen "
    "hoe de nieuwe premie is berekend en of er een korting mogelijk is voor trouwe klanten?"
)


@dataclass
class ScriptedPredictor:
    """The model's view of each mail, by subject; unknown subjects: unsure about premie."""

    views: dict[str, tuple[str, float]] = field(default_factory=dict)

    def active(self) -> bool:
        return True

    def warm_up(self) -> None:
        pass

    def predict(
        self,
        texts: Sequence[str],
        known_teams: Collection[str],
        case_teams: Sequence[str | None] | None = None,
        thread_teams: Sequence[str | None] | None = None,
    ) -> list[Prediction]:
        out = []
        for text in texts:
            team, confidence = self.views.get(text.split("\n", 1)[0], ("premie", 0.55))
            others = [slug for slug, _, _ in TEAMS if slug != team]
            rest = (1 - confidence) / 2
            out.append(
                Prediction(
                    team=team,
                    confidence=confidence,
                    top=((team, confidence), (others[0], rest), (others[1], rest)),
                    auto=confidence >= 0.9,
                    reason="confident" if confidence >= 0.9 else "below-threshold",
                    model_version="v0007",
                    margin=confidence - rest,
                    threshold=0.9,
                )
            )
        return out


class NoSmtp:
    def send(self, envelope_from: str, recipients: list[str], data: bytes) -> None:
        raise AssertionError("the embedded default forwards into Maildirs, not over SMTP")


@dataclass
class World:
    app: Flask
    settings: Settings
    sessions: sessionmaker[Session]
    services: Services
    predictor: ScriptedPredictor
    mailbox_id: int
    teams: dict[str, int]
    users: dict[str, int]
    enqueued: list[int]
    counter: int = 0

    def mail(self, subject: str, text: str = "Zie bijlage.") -> int:
        self.counter += 1
        msg = EmailMessage()
        msg["From"] = f"klant{self.counter}@example.nl"
        msg["To"] = "info@polder.example"
        msg["Subject"] = subject
        msg["Message-ID"] = f"<review{self.counter}@example.nl>"
        msg.set_content(text)
        raw = msg.as_bytes()
        name = f"{self.counter}.mail"
        inbox = self.settings.maildir_inbox
        (inbox / "new" / name).write_bytes(raw)
        result = record(self.sessions, self.mailbox_id, RawMail(raw, "", name)).result
        advance(self.services, result.message_id)
        return result.message_id

    def state(self, message_id: int) -> str | None:
        with self.sessions() as session:
            return session.scalar(select(Message.route_state).where(Message.id == message_id))

    def audit(self, action: str, message_id: int) -> list[dict[str, Any]]:
        with self.sessions() as session:
            rows = session.scalars(
                select(AuditLog.details)
                .where(AuditLog.action == action, AuditLog.message_id == message_id)
                .order_by(AuditLog.id)
            )
            return [dict(r) for r in rows]

    def outbox(self, team: str) -> list[Path]:
        return maildir_outbox_files(self.settings.maildir_outbox, team)


@pytest.fixture
def world(db_settings: Settings) -> Iterator[World]:
    settings = db_settings.model_copy(update={"public_url": "https://mailroom.example/"})
    assert settings.outgoing == "maildir"
    app = make_app(settings)
    enqueued: list[int] = []
    app.extensions[ENQUEUE_EXTENSION] = enqueued.append
    sessions: sessionmaker[Session] = app.extensions["mailroom.db"].sessions
    with sessions() as session:
        teams = {
            slug: Team(slug=slug, name=name, hotkey=key, forward_address=f"{slug}@polder.example")
            for slug, name, key in TEAMS
        }
        users = {
            name: User(username=name, password_hash=FAST_HASH, role=role)
            for name, role in (("rob", "reviewer"), ("ria", "reviewer"), ("lisa", "labeler"))
        }
        session.add_all([*teams.values(), *users.values()])
        session.commit()
        team_ids = {slug: t.id for slug, t in teams.items()}
        user_ids = {name: u.id for name, u in users.items()}
    for sub in ("new", "cur", "tmp"):
        (settings.maildir_inbox / sub).mkdir(parents=True, exist_ok=True)
    mailbox_id = next(iter(register_mailboxes(sessions, configured_mailboxes(settings))))
    predictor = ScriptedPredictor()
    services = Services(
        settings=settings,
        sessions=sessions,
        predictor=predictor,
        smtp=NoSmtp(),  # type: ignore[arg-type]
        sleep=lambda _: None,
    )
    yield World(
        app, settings, sessions, services, predictor, mailbox_id, team_ids, user_ids, enqueued
    )
    app.extensions["mailroom.db"].engine.dispose()


def post(client: FlaskClient, path: str, **data: Any) -> str:
    token = csrf_token(client, "/review")
    response = client.post(path, data={**data, "csrf_token": token}, follow_redirects=True)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def test_unsure_mail_waits_oldest_first_with_the_top_three_and_a_decision_forwards_it(
    world: World,
) -> None:
    first = world.mail("Vraag over mijn polis")
    second = world.mail("Nog een vraag")
    assert world.state(first) == world.state(second) == "review"
    rob = logged_in(world.app, "rob")
    page = rob.get("/review").get_data(as_text=True)
    assert "Vraag over mijn polis" in page and "Nog een vraag" not in page  # oldest first
    assert "2 waiting" in page
    # The model's three teams with their confidence; Enter is its first choice.
    assert page.index("Premie") < page.index("Schade") < page.index("Klachten")
    assert "55 %" in page and "22 %" in page and "model v0007" in page
    # The threshold the mail missed, in the same rounding as the confidence.
    assert "Premie at 55 % is below that team's threshold of 90 %" in page
    assert f'value="{world.teams["premie"]}" data-hotkey="2" data-suggested="1"' in page

    page = post(rob, "/review/decide", message_id=first, team_id=world.teams["klachten"])
    assert f"Mail #{first} sent to Klachten; forward queued." in page
    assert "Nog een vraag" in page  # the next one is shown at once
    assert world.enqueued == [first]  # queued, not sent: the request did no SMTP
    # The decision set the mail on its way at once (one record, in the request's
    # transaction): the forward task only sends.
    assert world.outbox("klachten") == [] and world.state(first) == "forwarding"

    with world.sessions() as session:
        item = session.scalar(select(ReviewItem).where(ReviewItem.message_id == first))
        assert item is not None
        assert (item.status, item.team_id, item.resolved_by) == (
            "resolved",
            world.teams["klachten"],
            world.users["rob"],
        )
        label = session.scalar(select(Annotation).where(Annotation.message_id == first))
        assert label is not None
        assert (label.source, label.user_id, label.team_id) == (
            "review",
            world.users["rob"],
            world.teams["klachten"],
        )
    [audit] = world.audit("review-decision", first)
    assert audit == {
        "team": "klachten",
        "model_team": "premie",
        "model_version": "v0007",
        "corrected": True,
        "misroute": False,
        "from_team": None,
    }
    # What the worker's forward task does with the queued id.
    assert advance(world.services, first).state == "done"
    assert len(world.outbox("klachten")) == 1


def test_confirming_the_models_choice_is_not_a_correction(world: World) -> None:
    mid = world.mail("Premievraag")
    rob = logged_in(world.app, "rob")
    post(rob, "/review/decide", message_id=mid, team_id=world.teams["premie"])
    assert world.audit("review-decision", mid)[0]["corrected"] is False


def test_a_misrouted_mail_is_sent_back_and_the_fix_counts_as_a_correction(world: World) -> None:
    world.predictor.views["Autoruit gebarsten"] = ("schade", 0.97)
    mid = world.mail("Autoruit gebarsten")
    assert world.state(mid) == "done" and len(world.outbox("schade")) == 1
    # The forward tells the team where to send it back.
    link = f"Send it back to review: https://mailroom.example/review/routed?message={mid}"
    assert link.encode() in world.outbox("schade")[0].read_bytes()

    ria = logged_in(world.app, "ria")
    routed = ria.get("/review/routed").get_data(as_text=True)
    assert "Autoruit gebarsten" in routed and "Send back" in routed
    page = post(ria, "/review/send-back", message_id=mid, note="Dit is een klacht over ons")
    assert f"Mail #{mid} came back from team Schade" in page
    assert world.state(mid) == "review"
    [misroute] = world.audit("misroute", mid)
    assert misroute == {
        "from_team": "schade",
        "model_version": "v0007",
        "auto": True,
        "note": "Dit is een klacht over ons",
    }
    review_page = ria.get("/review").get_data(as_text=True)
    assert "Sent back as misrouted by team <strong>Schade</strong>" in review_page
    assert "Dit is een klacht over ons" in review_page

    post(ria, "/review/decide", message_id=mid, team_id=world.teams["klachten"])
    assert world.enqueued == [mid]
    assert advance(world.services, mid).state == "done"
    assert len(world.outbox("klachten")) == 1 and len(world.outbox("schade")) == 1
    [decision] = world.audit("review-decision", mid)
    assert decision["misroute"] is True and decision["corrected"] is True
    assert decision["from_team"] == "schade" and decision["model_team"] == "schade"
    with world.sessions() as session:
        delivery = session.scalar(select(Delivery).where(Delivery.message_id == mid))
        assert delivery is not None
        assert (delivery.team_id, delivery.state) == (world.teams["klachten"], "sent")
        forwards = session.scalars(
            select(AuditLog.details).where(AuditLog.action == "forward", AuditLog.message_id == mid)
        ).all()
    assert [f["team"] for f in forwards] == ["schade", "klachten"]  # both forwards on record


def test_a_send_back_the_reviewer_overrules_is_closed_without_a_second_forward(
    world: World,
) -> None:
    world.predictor.views["Ruit"] = ("schade", 0.97)
    mid = world.mail("Ruit")
    rob = logged_in(world.app, "rob")
    post(rob, "/review/send-back", message_id=mid)
    post(rob, "/review/decide", message_id=mid, team_id=world.teams["schade"])
    assert world.state(mid) == "done"
    assert advance(world.services, mid).state == "done"
    assert len(world.outbox("schade")) == 1
    assert world.audit("review-decision", mid)[0]["corrected"] is False


def test_only_routed_mail_can_be_sent_back(world: World) -> None:
    waiting = world.mail("Onzeker")
    rob = logged_in(world.app, "rob")
    page = post(rob, "/review/send-back", message_id=waiting)
    assert "has not been routed to a team" in page
    assert world.state(waiting) == "review" and world.audit("misroute", waiting) == []


def test_near_duplicates_are_confirmed_together(world: World) -> None:
    alike = [world.mail(f"Premie omhoog {n}", LONG_TEXT + f" Polisnummer {n}.") for n in range(3)]
    other = world.mail("Iets heel anders", "Mijn fiets is gestolen bij het station.")
    rob = logged_in(world.app, "rob")
    page = rob.get("/review").get_data(as_text=True)
    assert "This mail and <strong>2</strong> more waiting look alike" in page
    page = post(rob, "/review/decide-group", message_id=alike[0], team_id=world.teams["premie"])
    assert "3 mails sent to Premie; forward queued." in page
    assert sorted(world.enqueued) == sorted(alike)
    assert world.state(other) == "review"
    with world.sessions() as session:
        open_ids = session.scalars(
            select(ReviewItem.message_id).where(ReviewItem.status == "open")
        ).all()
    assert open_ids == [other]


def test_two_reviewers_deciding_the_same_mail_forward_it_once(world: World) -> None:
    mid = world.mail("Dubbel")
    rob, ria = logged_in(world.app, "rob"), logged_in(world.app, "ria")
    token_rob, token_ria = csrf_token(rob, "/review"), csrf_token(ria, "/review")
    team = world.teams["schade"]
    first = rob.post(
        "/review/decide", data={"message_id": mid, "team_id": team, "csrf_token": token_rob}
    )
    second = ria.post(
        "/review/decide",
        data={"message_id": mid, "team_id": world.teams["premie"], "csrf_token": token_ria},
        follow_redirects=True,
    )
    assert first.status_code == 302
    assert f"mail {mid} was already decided" in second.get_data(as_text=True)
    assert world.enqueued == [mid]
    with world.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Annotation)) == 1


def test_with_the_broker_down_the_decision_stands_and_the_sweep_forwards_it(
    world: World,
) -> None:
    mid = world.mail("Broker weg")

    def broker_down(message_id: int) -> None:
        raise ConnectionRefusedError("broker unreachable")

    world.app.extensions[ENQUEUE_EXTENSION] = broker_down
    rob = logged_in(world.app, "rob")
    page = post(rob, "/review/decide", message_id=mid, team_id=world.teams["premie"])
    assert "the forward is queued by the worker&#39;s next sweep" in page
    assert world.state(mid) == "forwarding"  # the decision stands
    # Never queued: the sweep takes it once it has waited a sweep interval.
    assert mid not in stale_messages(world.services)
    later = utcnow() + timedelta(seconds=world.settings.sweep_interval + 1)
    world.services.clock = lambda: later
    assert mid in stale_messages(world.services)
    assert advance(world.services, mid).state == "done"
    assert len(world.outbox("premie")) == 1


def test_an_archived_team_cannot_be_chosen(world: World) -> None:
    mid = world.mail("Archief")
    with world.sessions() as session:
        team = session.get(Team, world.teams["klachten"])
        assert team is not None
        team.archived_at = team.created_at
        session.commit()
    rob = logged_in(world.app, "rob")
    page = post(rob, "/review/decide", message_id=mid, team_id=world.teams["klachten"])
    assert "team klachten is archived" in page
    assert world.enqueued == [] and world.state(mid) == "review"


def test_labellers_cannot_review_and_reviewers_land_on_the_review_queue(world: World) -> None:
    lisa = logged_in(world.app, "lisa")
    assert lisa.get("/review").status_code == 403
    rob = logged_in(world.app, "rob")
    assert rob.get("/").headers["Location"].endswith("/review")


def test_labelling_turns_uncertainty_first_once_a_model_has_scored_mail(world: World) -> None:
    with world.sessions() as session:
        session.add(User(username="anna", password_hash=FAST_HASH, role="admin"))
        session.commit()
    anna = logged_in(world.app, "anna")
    assert 'data-default="oldest"' in anna.get("/label").get_data(as_text=True)
    mid = world.mail("Te scoren")
    with world.sessions() as session:
        store_scores(session, "v0007", [ScoreRow(mid, "premie", 0.5, 0.1)])
        session.commit()
    assert 'data-default="uncertain"' in anna.get("/label").get_data(as_text=True)


def test_a_mail_the_worker_gave_up_on_is_forwarded_once_a_person_decides(world: World) -> None:
    from worker.driver import quarantine

    mid = world.mail("Server weg")
    assert quarantine(world.services, mid, "SMTP kept failing (still failing after 8 retries)")
    assert world.state(mid) == "quarantined"
    rob = logged_in(world.app, "rob")
    assert "Could not be processed: quarantined: SMTP kept failing" in rob.get("/review").get_data(
        as_text=True
    )
    post(rob, "/review/decide", message_id=mid, team_id=world.teams["schade"])
    assert world.state(mid) == "forwarding"
    assert advance(world.services, mid).state == "done"
    assert len(world.outbox("schade")) == 1


def test_an_unreadable_mail_is_marked_handled_by_hand_not_forwarded(world: World) -> None:
    (world.settings.maildir_inbox / "new" / "bad").write_bytes(b"")
    result = record(world.sessions, world.mailbox_id, RawMail(b"", "", "bad")).result
    mid = result.message_id
    assert advance(world.services, mid).state == "quarantined"
    rob = logged_in(world.app, "rob")
    page = rob.get("/review").get_data(as_text=True)
    assert "Unreadable mail" in page and "Handled by hand" in page
    assert 'id="decide-form"' not in page
    page = post(rob, "/review/decide", message_id=mid, team_id=world.teams["schade"])
    assert "forward it by hand, then mark it handled" in page
    page = post(rob, "/review/handled", message_id=mid)
    assert f"Mail #{mid} marked as handled by hand." in page
    assert "Nothing waits for review" in page
    assert world.enqueued == [] and world.state(mid) == "quarantined"
    [handled] = world.audit("review-handled", mid)
    with world.sessions() as session:
        reason = session.scalar(select(Message.quarantine_reason).where(Message.id == mid))
        assert reason and handled == {"reason": reason}
        assert session.scalar(select(func.count()).select_from(Annotation)) == 0


def test_mail_for_no_team_is_closed_unforwarded_and_teaches_the_detector(world: World) -> None:
    from labeling.live.review import no_team_mail

    mid = world.mail("Uitnodiging golftoernooi")
    rob = logged_in(world.app, "rob")
    page = rob.get("/review").get_data(as_text=True)
    assert 'id="no-team"' in page and "<kbd>0</kbd> No team" in page
    page = post(rob, "/review/no-team", message_id=mid)
    assert f"Mail #{mid} closed: it belongs to no team." in page
    assert world.enqueued == [] and world.state(mid) == "done"
    assert world.outbox("schade") == []
    [closed] = world.audit("review-no-team", mid)
    assert closed == {"note": ""}
    with world.sessions() as session:
        item = session.scalar(select(ReviewItem).where(ReviewItem.message_id == mid))
        assert item is not None and (item.status, item.closed_as) == ("resolved", "no-team")
        # The next training reads it as an example of mail for no team.
        assert [message_id for message_id, _ in no_team_mail(session)] == [mid]
        assert session.scalar(select(func.count()).select_from(Annotation)) == 0
    # Twice is refused, not recorded twice.
    assert "was already decided" in post(rob, "/review/no-team", message_id=mid)


def _deliver(world: World, raw: bytes, name: str) -> int:
    (world.settings.maildir_inbox / "new" / name).write_bytes(raw)
    result = record(world.sessions, world.mailbox_id, RawMail(raw, "", name)).result
    advance(world.services, result.message_id)
    return result.message_id


def test_machine_mail_shows_its_kind_and_a_bounce_brings_its_mail_back(world: World) -> None:
    world.predictor.views["Ruitschade"] = ("schade", 0.97)
    routed = world.mail("Ruitschade", LONG_TEXT)
    assert world.state(routed) == "done"
    [forward] = world.outbox("schade")
    bounce = bounce_mail(
        message_id="dsn-9@mx.polder.example",
        returned=forward.read_bytes(),
        recipient="schade@polder.example",
    )
    bounce_id = _deliver(world, bounce, "bounce.mail")
    assert world.state(bounce_id) == "done" and world.state(routed) == "review"
    bulk = (
        b"From: nieuwsbrief@leverancier.example\r\nTo: info@polder.example\r\n"
        b"Subject: Nieuwsbrief maart\r\nMessage-ID: <news-1@leverancier.example>\r\n"
        b"Precedence: bulk\r\nList-Unsubscribe: <mailto:uit@leverancier.example>\r\n\r\n"
        b"Ons aanbod deze maand.\r\n"
    )
    bulk_id = _deliver(world, bulk, "bulk.mail")
    assert world.state(bulk_id) == "review"

    rob = logged_in(world.app, "rob")
    page = rob.get("/review").get_data(as_text=True)
    assert "Its forward came back undelivered (bounced by schade@polder.example: 5.1.1" in page
    assert 'data-kind="customer"' in page
    # A person sends the bounced mail elsewhere; the next card is the bulk mail.
    page = post(rob, "/review/decide", message_id=routed, team_id=world.teams["klachten"])
    assert 'data-kind="bulk">Bulk or list mail<' in page
    assert "never forwarded without a person" in page
    assert advance(world.services, routed).state == "done"
    assert len(world.outbox("klachten")) == 1 and len(world.outbox("schade")) == 1

    with world.sessions() as session:
        session.add(User(username="ada", password_hash=FAST_HASH, role="admin"))
        session.commit()
    admin_page = logged_in(world.app, "ada").get("/dashboard").get_data(as_text=True)
    kinds = admin_page[admin_page.index('id="kind-table"') :]
    kinds = kinds[kinds.index("<tfoot>") : kinds.index("</tfoot>")]
    assert '<td class="num" data-kind="bounce">1</td>' in kinds
    assert '<td class="num" data-kind="bulk">1</td>' in kinds
    assert '<td class="num" data-kind="customer">1</td>' in kinds


def test_routed_mail_names_who_routed_it_pages_and_opens_each_mail(world: World) -> None:
    world.predictor.views["Autoruit gebarsten"] = ("schade", 0.97)
    mids = [world.mail("Autoruit gebarsten", f"Ruit {n} is kapot.") for n in range(3)]
    rob = logged_in(world.app, "rob")
    page = rob.get("/review/routed").get_data(as_text=True)
    assert page.count("the model") == 3 and "97 %" in page and "0.97" not in page
    assert "Mails 1–3 of 3" in page

    # Paging, with a notice, instead of a silent cut.
    from web import review_views

    old, review_views.ROUTED_PAGE_SIZE = review_views.ROUTED_PAGE_SIZE, 2
    try:
        first = rob.get("/review/routed").get_data(as_text=True)
        assert "Mails 1–2 of 3" in first and "page 1 of 2" in first and "older →" in first
        second = rob.get("/review/routed?page=2").get_data(as_text=True)
        assert "Mails 3–3 of 3" in second and f"#{mids[0]}<" in second
    finally:
        review_views.ROUTED_PAGE_SIZE = old

    # The mail opens before it is sent back.
    mail = rob.get(f"/review/mail/{mids[1]}").get_data(as_text=True)
    assert "Ruit 1 is kapot." in mail and "Send back to review" in mail and "Schade" in mail
    # Archive mail and unknown mail are not shown here; labellers do not reach it at all.
    with world.sessions() as session:
        archive = Message(
            raw_compressed=b"", raw_size=0, content_hash="a" * 64, subject="archief",
            sender_name="", new_text="", body_text="",
        )
        session.add(archive)
        session.commit()
        archive_id = archive.id
    assert rob.get(f"/review/mail/{archive_id}").status_code == 404
    assert rob.get("/review/mail/99999").status_code == 404
    refused = logged_in(world.app, "lisa").get(f"/review/mail/{mids[1]}")
    assert refused.status_code == 403
    # The refusal says which role the page needs.
    assert "needs the role admin or reviewer; you are signed in as labeller" in refused.get_data(
        as_text=True
    )

    # A person's decision is named by the person.
    world.predictor.views["Twijfel"] = ("premie", 0.5)
    unsure = world.mail("Twijfel")
    post(rob, "/review/decide", message_id=unsure, team_id=world.teams["premie"])
    routed = rob.get(f"/review/routed?message={unsure}").get_data(as_text=True)
    assert "<td>rob" in routed and "user:" not in routed


def test_passing_over_a_mail_keeps_it_away_for_that_reviewer_only(world: World) -> None:
    first, second = world.mail("Eerste vraag"), world.mail("Tweede vraag")
    rob, ria = logged_in(world.app, "rob"), logged_in(world.app, "ria")
    page = post(rob, "/review/pass", message_id=first)
    assert f"Mail #{first} passed over until" in page
    assert "Tweede vraag" in page and "you passed over 1 for now" in page
    # Still passed over after deciding the next mail (not just for one mail).
    third = world.mail("Derde vraag")
    page = post(rob, "/review/decide", message_id=second, team_id=world.teams["premie"])
    assert "Derde vraag" in page and "Eerste vraag" not in page
    # Another reviewer still gets it first.
    assert "Eerste vraag" in ria.get("/review").get_data(as_text=True)
    # Once nothing else waits, it comes back, saying so.
    page = post(rob, "/review/no-team", message_id=third)
    assert "Eerste vraag" in page and "it is shown again because nothing else waits" in page
