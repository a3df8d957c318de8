"""The verification sample and suspect labels in the labelling page and the store: random,
blind, complete (no skipping, "no team" is an answer), undoable; suspects served first and
kept out of training until a person settles them; the page says which order it serves."""

from __future__ import annotations

from collections import Counter

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from labeling.annotation import suspects, verify
from labeling.annotation.export import training_examples
from labeling.live import lifecycle
from labeling.store.tables import Annotation, AuditLog, Message, Team, Verification
from tests.support.web import Api, Seeded, add_message, logged_in, seed


@pytest.fixture
def many(sessions: sessionmaker[Session]) -> Seeded:
    """24 archive mails, each with a folder (weak) label."""
    seeded = seed(sessions, messages=24)
    with sessions() as session:
        slugs = sorted(seeded.teams)
        for i, message_id in enumerate(seeded.messages):
            team_id = seeded.teams[slugs[i % len(slugs)]]
            session.add(Annotation(message_id=message_id, team_id=team_id, source="archive-folder"))
        session.commit()
    return seeded


def test_each_person_walks_a_random_order_and_may_answer_only_the_mail_offered(
    app: Flask, many: Seeded
) -> None:
    api = Api(logged_in(app, "labeler"))
    first = api.next(order="verify")
    assert first["verifying"] and first["served_by"] == "verify"
    assert first["suggestion"] is None and first["suspect"] is None  # blind
    assert first["message"]["group_size"] == 0
    offered = first["message"]["id"]
    # Out of turn: another mail of the archive cannot be chosen for the sample.
    other = next(m for m in many.messages if m != offered)
    refused = api.post(
        "/api/label", expect=409, order="verify", message_id=other, team_id=many.teams["schade"]
    )
    assert "not the next mail of your verification sample" in refused["error"]
    # Skipping would bias the sample toward easy mail: refused with the reason.
    refused = api.post("/api/skip", expect=409, order="verify", message_id=offered)
    assert "no skipping" in refused["error"]
    answered = api.post(
        "/api/label", order="verify", message_id=offered, team_id=many.teams["premie"]
    )
    assert answered["notice"] == f"#{offered} verified: Premie"
    # 0 is the answer "belongs to no team".
    second = answered["message"]["id"]
    third = api.post("/api/label", order="verify", message_id=second, team_id=0)
    assert third["notice"] == f"#{second} verified: no team"
    with app.extensions["mailroom.db"].sessions() as session:
        rows = session.scalars(select(Verification).order_by(Verification.id)).all()
        assert [(v.message_id, v.team_id) for v in rows] == [
            (offered, many.teams["premie"]),
            (second, None),
        ]
        # Nothing of the verification is a label: the labelling counts are untouched.
        people = select(Annotation).where(Annotation.user_id.is_not(None))
        assert session.scalars(people).all() == []
        assert {a.action for a in session.scalars(select(AuditLog))} >= {"verify"}
    assert api.progress()["verified"] == 2


def test_undo_brings_the_answer_back_and_two_people_start_at_different_points(
    app: Flask, many: Seeded
) -> None:
    lisa, other = Api(logged_in(app, "labeler")), Api(logged_in(app, "labeler2"))
    mine = lisa.next(order="verify")["message"]["id"]
    theirs = other.next(order="verify")["message"]["id"]
    assert mine != theirs  # each walks the shuffle from their own point
    lisa.post("/api/label", order="verify", message_id=mine, team_id=many.teams["schade"])
    back = lisa.post("/api/undo", order="verify")
    assert back["returned"] and back["message"]["id"] == mine
    assert back["notice"] == f"Undone: your answer Schade for #{mine} is withdrawn"
    lisa.post("/api/label", order="verify", message_id=mine, team_id=many.teams["klachten"])
    with app.extensions["mailroom.db"].sessions() as session:
        current = session.scalars(
            select(Verification.team_id).where(Verification.superseded_at.is_(None))
        ).all()
    assert current == [many.teams["klachten"]]


def test_the_sample_covers_the_archive_evenly(
    sessions: sessionmaker[Session], many: Seeded
) -> None:
    """Answered to the end by two people, the sample is the whole archive, each mail once."""
    with sessions() as session:
        labeler, labeler2 = many.users["labeler"], many.users["labeler2"]
        answered: Counter[int] = Counter()
        for turn in range(len(many.messages)):
            user = (labeler, labeler2)[turn % 2]
            found = verify.next_to_verify(session, user)
            assert found is not None
            verify.record_verification(session, found, None, user)
            answered[found] += 1
        assert verify.next_to_verify(session, labeler) is None
        session.commit()
    assert sorted(answered) == sorted(many.messages) and set(answered.values()) == {1}


def test_weak_label_noise_is_measured_on_the_verified_sample(
    sessions: sessionmaker[Session], many: Seeded
) -> None:
    user = many.users["labeler"]
    with sessions() as session:
        weak = dict(
            session.execute(
                select(Annotation.message_id, Annotation.team_id).where(
                    Annotation.source == "archive-folder"
                )
            ).all()
        )
        # Verify ten mails: agree with the folder on eight, disagree on two.
        for turn in range(10):
            found = verify.next_to_verify(session, user)
            assert found is not None
            team = (
                weak[found]
                if turn < 8
                else many.teams["klachten"]
                if weak[found] != many.teams["klachten"]
                else many.teams["schade"]
            )
            verify.record_verification(session, found, team, user)
        session.commit()
        noise = verify.weak_label_noise(session)
    assert (noise.compared, noise.disagreements) == (10, 2)
    assert noise.rate == 0.2 and noise.low < 0.2 < noise.high
    assert sum(n for n, _ in noise.per_team.values()) == 10


def test_suspects_come_first_and_stay_out_of_training_until_a_person_labels_them(
    app: Flask, many: Seeded
) -> None:
    sessions: sessionmaker[Session] = app.extensions["mailroom.db"].sessions
    last, before = many.messages[-1], many.messages[-2]
    with sessions() as session:
        slug_of = {team.id: team.slug for team in session.scalars(select(Team))}
        weak = dict(
            session.execute(
                select(Annotation.message_id, Annotation.team_id).where(
                    Annotation.source == "archive-folder"
                )
            ).all()
        )
        suspects.replace_suspects(
            session,
            [
                suspects.Suspect(last, slug_of[weak[last]], "schade", 0.01),
                suspects.Suspect(before, slug_of[weak[before]], None, 0.05),
            ],
            source="test",
        )
        session.commit()
        assert suspects.unconfirmed_suspects(session) == {last, before}
        kept = {e.message_id for e in training_examples(session, include_weak=True)}
    assert last in kept  # the export itself still holds every label …
    api = Api(logged_in(app, "labeler"))
    shown = api.next(order="suspect")
    assert shown["served_by"] == "suspect" and shown["message"]["id"] == last  # most suspect
    assert shown["suspect"] == {
        "weak_team_slug": slug_of[weak[last]],
        "likely_team_slug": "schade",
        "quality": 0.01,
    }
    after = api.post("/api/label", order="suspect", message_id=last, team_id=many.teams["schade"])
    assert after["message"]["id"] == before
    with sessions() as session:
        assert suspects.unconfirmed_suspects(session) == {before}  # settled by a person
    done = api.post("/api/label", order="suspect", message_id=before, team_id=weak[before])
    # No suspect left: the order says so and serves oldest first.
    assert done["served_by"] == "oldest"


def test_the_page_says_which_order_it_really_serves(app: Flask, many: Seeded) -> None:
    api = Api(logged_in(app, "labeler"))
    assert api.next(order="uncertain")["served_by"] == "oldest"  # no model has scored mail
    assert api.next(order="random")["served_by"] == "random"
    mail = api.next(order="oldest")["message"]["id"]
    api.post("/api/label", order="oldest", message_id=mail, team_id=many.teams["schade"])
    assert api.post("/api/undo", order="oldest")["served_by"] == "undone"


def test_a_quarantined_mail_is_never_in_the_sample(sessions: sessionmaker[Session]) -> None:
    seeded = seed(sessions, messages=2)
    with sessions() as session:
        bad = add_message(session, 99, status="quarantined")
        session.commit()
        user = seeded.users["labeler"]
        offered = set()
        for _ in range(2):
            found = verify.next_to_verify(session, user)
            assert found is not None
            offered.add(found)
            verify.record_verification(session, found, None, user)
        assert bad.id not in offered and verify.next_to_verify(session, user) is None
        assert session.get(Message, bad.id) is not None


def _folder_labels(session: Session) -> dict[int, str]:
    """Each mail's archive-folder team, as the fixture filed it."""
    return dict(
        session.execute(
            select(Annotation.message_id, Team.slug)
            .join(Team, Team.id == Annotation.team_id)
            .where(Annotation.source == "archive-folder")
        ).all()
    )


def test_a_reply_knows_the_team_of_the_mail_it_answers_in_training_and_live(
    sessions: sessionmaker[Session], many: Seeded
) -> None:
    """What thread decisions are weighed and certified on, and what live routing weighs:
    the team of the mail a reply answers (In-Reply-To, else References, else the thread's
    latest earlier mail), so a thread that changed topic is answered by its new team."""
    from labeling.store.tables import Thread

    user = many.users["labeler"]
    m = many.messages
    with sessions() as session:
        a, b = Thread(root_key="<a@x>"), Thread(root_key="<b@x>")
        session.add_all([a, b])
        session.flush()
        # Thread a: m[0] first, m[1] answers it, m[2] answers m[1], m[3] names m[0] though
        # m[2] came later, m[6] names only a mail no one has (the insurer's own answer).
        # Thread b: m[4] first (a person relabelled it), m[5] answers it via References.
        for mid, thread, parent, references in (
            (m[0], a, None, []),
            (m[1], a, "m0@x", ["m0@x"]),
            (m[2], a, "m1@x", ["m0@x", "m1@x"]),
            (m[3], a, "m0@x", ["m0@x"]),
            (m[4], b, None, []),
            (m[5], b, "answer-4@x", ["m4@x", "answer-4@x"]),
            (m[6], a, "answer-9@x", []),
            (m[7], None, "gone@x", []),  # names a parent, but no thread holds it
        ):
            message = session.get(Message, mid)
            assert message is not None
            message.message_id = f"m{m.index(mid)}@x"
            message.thread_id = thread.id if thread is not None else None
            message.in_reply_to, message.references = parent, references
        session.add(
            Annotation(
                message_id=m[4], team_id=many.teams["klachten"], user_id=user, source="human"
            )
        )
        session.flush()
        folder = _folder_labels(session)
        priors = verify.thread_priors(session, [m[0], m[1], m[2], m[3], m[5], m[6], m[7]])
        # Live, a reply to a conversation from the archive follows the same team, and
        # routing sees it on the thread (no live mail of the thread was routed yet).
        live = add_message(session, 99, new_text="Hierbij stuur ik mijn mail nogmaals.")
        live.origin, live.route_state = "live", "new"
        live.thread_id, live.in_reply_to, live.references = a.id, "m1@x", ["m0@x", "m1@x"]
        session.flush()
        found = lifecycle.routing_input(session, live.id)
        assert found is not None and found.is_reply and found.thread is not None
        assert found.thread.team_id == many.teams[folder[m[1]]]
        assert not found.thread.moved_by_person
        # Naming no mail it holds, a reply answers the thread's latest other mail.
        latest = verify.answered_team(
            session, a.id, in_reply_to="answer-9@x", references=[], exclude=live.id
        )
        assert latest == folder[m[6]]
        # A thread a person moved goes where they moved it.
        a.team_id, a.moved_by_person = many.teams["klachten"], True
        session.flush()
        found = lifecycle.routing_input(session, live.id)
        assert found is not None and found.thread is not None
        assert (found.thread.team_id, found.thread.moved_by_person) == (
            many.teams["klachten"],
            True,
        )
    # The first mail answers nothing; m[6]'s parent is unknown: the latest earlier mail.
    assert priors == {
        m[1]: folder[m[0]],
        m[2]: folder[m[1]],
        m[3]: folder[m[0]],
        m[5]: "klachten",
        m[6]: folder[m[3]],
    }


def test_a_verified_mail_knows_its_customers_case_as_live_affinity_would_find_it(
    sessions: sessionmaker[Session], many: Seeded
) -> None:
    """What customer-affinity decisions are certified on: the team of the customer's
    latest earlier mail within the window (by number first, else by address, and an address
    whose mail went to several teams links to nothing)."""
    from datetime import UTC, datetime, timedelta

    from labeling.mail.pseudonymise import pseudonymiser_for

    user = many.users["labeler"]
    m = many.messages
    day = datetime(2024, 3, 1, tzinfo=UTC)
    # (mail, days after the first, sender, own text)
    plan = [
        (m[0], 0, "anna@klant.nl", "Mijn auto is beschadigd."),
        (m[1], 3, "anna@klant.nl", "Is er al nieuws?"),  # anna's case: m[0]
        (m[2], 4, "bob@klant.nl", "Vraag over mijn premie."),
        (m[3], 64, "bob@klant.nl", "Hoe staat het ervoor?"),  # two months on: no case
        (m[4], 10, "carl@klant.nl", "Over polis PZ-12345678."),
        (m[5], 12, "dora@makelaar.nl", "Namens mijn klant: polisnummer 12.345.678"),
        (m[6], 1, "eva@kantoor.nl", "Doorgestuurd."),
        (m[7], 2, "eva@kantoor.nl", "Nog een."),  # eva's case: m[6]
        (m[8], 3, "eva@kantoor.nl", "En nog een."),  # now eva's mail went to two teams
    ]
    with sessions() as session:
        for mid, days, sender, text in plan:
            message = session.get(Message, mid)
            assert message is not None
            message.date = day + timedelta(days=days)
            message.sender_email = sender
            message.subject = ""
            message.new_text = text
        # A person relabelled carl's mail: the case's team is the person's.
        session.add(
            Annotation(
                message_id=m[4], team_id=many.teams["klachten"], user_id=user, source="human"
            )
        )
        session.flush()
        folder = _folder_labels(session)
        assert folder[m[6]] != folder[m[7]]
        priors = verify.case_priors(
            session,
            [mid for mid, *_ in plan],
            days=30,
            patterns=tuple(pseudonymiser_for().org_patterns),
        )
        assert verify.case_priors(session, [m[1]], days=0, patterns=()) == {}
    assert priors == {m[1]: folder[m[0]], m[5]: "klachten", m[7]: folder[m[6]]}
