"""Routing decisions: thread affinity, people's moves, thresholds, unknown teams, no model."""

from __future__ import annotations

from classifier.scoring import Prediction
from labeling.live.lifecycle import TeamInfo, ThreadInfo
from worker.routing import decide_route, routable_slugs

TEAMS = {
    "schade": TeamInfo(1, "schade", forward_address="schade@x"),
    "klachten": TeamInfo(2, "klachten", forward_address="klachten@x"),
    "oud": TeamInfo(3, "oud", archived=True, forward_address="oud@x"),
    "stil": TeamInfo(4, "stil"),  # no forward address
}


def _prediction(
    team: str, confidence: float = 0.95, auto: bool = True, reason: str = ""
) -> Prediction:
    return Prediction(
        team=team,
        confidence=confidence,
        top=((team, confidence), ("other", 1 - confidence)),
        auto=auto,
        reason=reason or ("confident" if auto else "below-threshold"),  # type: ignore[arg-type]
        model_version="v0001",
        margin=2 * confidence - 1,
    )


def test_confident_prediction_is_forwarded_by_the_model() -> None:
    d = decide_route(
        prediction=_prediction("schade"), thread=None, is_reply=False, teams=TEAMS, outgoing="smtp"
    )
    assert (d.mode, d.reason, d.decided_by, d.team) == (
        "auto",
        "confident",
        "model",
        TEAMS["schade"],
    )
    assert d.actor == "model:v0001" and d.confidence == 0.95


def test_below_threshold_goes_to_review_with_the_suggestion() -> None:
    d = decide_route(
        prediction=_prediction("schade", 0.55, auto=False),
        thread=None,
        is_reply=False,
        teams=TEAMS,
        outgoing="smtp",
    )
    assert (d.mode, d.reason) == ("review", "below-threshold")
    assert d.details["model_team"] == "schade"


def test_no_model_means_review() -> None:
    d = decide_route(prediction=None, thread=None, is_reply=False, teams=TEAMS, outgoing="smtp")
    assert (d.mode, d.reason, d.team, d.actor) == ("review", "no-model", None, "system")


def test_unknown_or_archived_or_unroutable_team_goes_to_review() -> None:
    for team in ("nieuw", "oud", "stil"):
        d = decide_route(
            prediction=_prediction(team), thread=None, is_reply=False, teams=TEAMS, outgoing="smtp"
        )
        assert (d.mode, d.reason) == ("review", "unknown-team"), team
    # The same team is routable by Maildir, which needs no address.
    d = decide_route(
        prediction=_prediction("stil"), thread=None, is_reply=False, teams=TEAMS, outgoing="maildir"
    )
    assert d.mode == "auto"
    assert routable_slugs(TEAMS, "smtp") == {"schade", "klachten"}


def test_a_reply_the_model_is_sure_belongs_elsewhere_goes_where_the_model_says() -> None:
    # Thread decisions are outside the certificate; a certified model decision is not.
    d = decide_route(
        prediction=_prediction("klachten", 0.99),
        thread=ThreadInfo(team_id=1),
        is_reply=True,
        teams=TEAMS,
        outgoing="smtp",
    )
    assert (d.mode, d.reason, d.decided_by, d.team) == (
        "auto",
        "confident",
        "model",
        TEAMS["klachten"],
    )
    assert d.details["topic_changed"] is True and d.details["thread_team"] == "schade"


def test_a_reply_that_agrees_is_not_flagged_and_an_unsure_model_does_not_matter() -> None:
    for prediction in (_prediction("schade"), _prediction("klachten", 0.4, auto=False), None):
        d = decide_route(
            prediction=prediction,
            thread=ThreadInfo(team_id=1),
            is_reply=True,
            teams=TEAMS,
            outgoing="smtp",
        )
        assert (d.mode, d.team) == ("auto", TEAMS["schade"])
        assert "topic_changed" not in d.details


def test_a_thread_moved_by_a_person_keeps_their_team_without_second_guessing() -> None:
    d = decide_route(
        prediction=_prediction("schade", 0.99),
        thread=ThreadInfo(team_id=2, moved_by_person=True),
        is_reply=True,
        teams=TEAMS,
        outgoing="smtp",
    )
    assert (d.mode, d.reason, d.team) == ("auto", "thread-moved-by-person", TEAMS["klachten"])
    assert "topic_changed" not in d.details and d.details["moved_by_person"] is True


def test_a_thread_whose_team_was_archived_goes_to_review() -> None:
    d = decide_route(
        prediction=_prediction("schade", 0.4, auto=False),
        thread=ThreadInfo(team_id=3),
        is_reply=True,
        teams=TEAMS,
        outgoing="smtp",
    )
    assert (d.mode, d.reason) == ("review", "thread-team-unavailable")


def test_a_first_mail_of_an_unrouted_thread_is_classified() -> None:
    d = decide_route(
        prediction=_prediction("klachten"),
        thread=ThreadInfo(team_id=None),
        is_reply=True,
        teams=TEAMS,
        outgoing="smtp",
    )
    assert (d.decided_by, d.team) == ("model", TEAMS["klachten"])
    # Not a reply (only its own Message-ID): affinity does not apply.
    d = decide_route(
        prediction=_prediction("klachten"),
        thread=ThreadInfo(team_id=1),
        is_reply=False,
        teams=TEAMS,
        outgoing="smtp",
    )
    assert d.team == TEAMS["klachten"]


def test_a_reply_follows_its_thread_only_where_the_model_gives_its_team_the_follow_floor() -> None:
    from dataclasses import replace

    unsure = replace(
        _prediction("klachten", 0.6, auto=False),
        top=(("klachten", 0.6), ("schade", 0.3), ("other", 0.1)),
        follow_floor=0.25,
    )
    # The model gives the thread's team (schade) 0.30 ≥ 0.25: the thread decides.
    d = decide_route(
        prediction=unsure, thread=ThreadInfo(team_id=1), is_reply=True, teams=TEAMS, outgoing="smtp"
    )
    assert (d.mode, d.decided_by, d.team) == ("auto", "thread", TEAMS["schade"])
    # Below the floor the thread is doubted: the unsure model means a person decides.
    doubted = replace(unsure, follow_floor=0.35)
    thread = ThreadInfo(team_id=1)
    d = decide_route(prediction=doubted, thread=thread, is_reply=True, teams=TEAMS, outgoing="smtp")
    assert (d.mode, d.decided_by, d.reason) == ("review", "model", "below-threshold")
    assert d.details["thread_doubted"] is True and d.details["thread_team"] == "schade"
    assert d.details["thread_probability"] == 0.3
    # A team outside the model's top three counts as 0; a floor of NEVER follows nothing.
    never = replace(unsure, top=(("klachten", 0.6), ("other", 0.4)), follow_floor=float("inf"))
    d = decide_route(
        prediction=never, thread=ThreadInfo(team_id=1), is_reply=True, teams=TEAMS, outgoing="smtp"
    )
    assert d.mode == "review" and d.details["thread_probability"] == 0.0
    # A sure model still routes a doubted reply itself; a person's choice is never doubted.
    sure = replace(_prediction("klachten", 0.99), follow_floor=0.5)
    d = decide_route(
        prediction=sure, thread=ThreadInfo(team_id=1), is_reply=True, teams=TEAMS, outgoing="smtp"
    )
    assert (d.mode, d.decided_by, d.team) == ("auto", "model", TEAMS["klachten"])
    d = decide_route(
        prediction=doubted,
        thread=ThreadInfo(team_id=1, moved_by_person=True),
        is_reply=True,
        teams=TEAMS,
        outgoing="smtp",
    )
    assert (d.mode, d.team) == ("auto", TEAMS["schade"])


def test_the_follow_floor_is_said_in_words() -> None:
    from mailroom.commands.models import describe_follow_floor

    assert "at least 0.412 (certified on 80 verified replies)" in describe_follow_floor(
        {"policy": {"follow_floor": 0.4123}}, 80, "verified"
    )
    never = describe_follow_floor({"policy": {"follow_floor": None}}, 9, "verified")
    assert "9 verified replies cannot certify" in never
    assert "not certified" in describe_follow_floor({"policy": {}}, 0, "validation")


def test_how_customer_cases_weigh_is_said_in_words() -> None:
    from mailroom.commands.models import describe_cases

    facts = {"validation": 41, "train": 230, "verified": 50, "verified_case_right": 40}
    weighed = describe_cases({"case_odds": [3.0, 1.5], "cases_weighed": {**facts, "head": True}})
    assert "a head learnt from 230 training mails with a case" in weighed
    assert "fitted on 41 validation mails" in weighed
    assert "on 50 verified mails with a case (80% of them about their case's team)" in weighed
    assert "one odds ratio for all" in describe_cases(
        {"case_odds": [3.0, 0.0], "cases_weighed": facts}
    )
    assert "not weighed (12 validation mails" in describe_cases(
        {"case_odds": None, "cases_weighed": {"validation": 12}}
    )
    assert "not weighed (0 validation" in describe_cases({})  # a version saved before


def test_how_threads_weigh_is_said_in_words() -> None:
    from mailroom.commands.models import describe_threads

    facts = {"validation": 52, "train": 300, "verified": 70, "verified_case_right": 63}
    weighed = describe_threads(
        {"thread_odds": [4.0, 1.0], "threads_weighed": {**facts, "head": True}}, 70, "verified"
    )
    assert "a head learnt from 300 training replies" in weighed
    assert "fitted on 52 validation replies" in weighed
    assert "on 70 verified replies (90% of them about their thread's team)" in weighed
    # A version that does not weigh threads says how it follows them.
    floor = describe_threads({"policy": {"follow_floor": 0.412}}, 80, "verified")
    assert "at least 0.412 (certified on 80 verified replies)" in floor
