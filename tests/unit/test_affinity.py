"""Customer affinity, pure: which keys link a mail to its customer, what routing does with
the customer's case (the same step as thread affinity), and how it is explained."""

from __future__ import annotations

import json
import math
from datetime import timedelta

from classifier.scoring import Prediction
from labeling.live.affinity import CaseInfo, customer_keys, sender_key
from labeling.live.explain import explain
from labeling.live.lifecycle import TeamInfo, ThreadInfo
from labeling.mail.pseudonymise import pseudonymiser_for
from labeling.rules.matching import Conditions, RuleOutcome, RuleSpec
from worker.routing import decide_route

TEAMS = {
    "schade": TeamInfo(1, "schade", forward_address="schade@x"),
    "klachten": TeamInfo(2, "klachten", forward_address="klachten@x"),
    "oud": TeamInfo(3, "oud", archived=True, forward_address="oud@x"),
}
PATTERNS = tuple(pseudonymiser_for().org_patterns)


def _prediction(
    team: str,
    confidence: float = 0.95,
    auto: bool = True,
    *,
    top: tuple[tuple[str, float], ...] = (),
    follow_floor: float = 0.0,
    case_team: str | None = None,
    thread_team: str | None = None,
) -> Prediction:
    return Prediction(
        team=team,
        confidence=confidence,
        top=top or ((team, confidence),),
        auto=auto,
        reason="confident" if auto else "below-threshold",
        model_version="v0001",
        margin=confidence,
        follow_floor=follow_floor,
        case_team=case_team,
        thread_team=thread_team,
    )


def _case(team_id: int = 2, **kwargs: object) -> CaseInfo:
    values: dict[str, object] = {
        "message_id": 2311,
        "team_id": team_id,
        "age": timedelta(days=3, hours=2),
        "matched_by": "sender",
    }
    values.update(kwargs)
    return CaseInfo(**values)  # type: ignore[arg-type]


def _route(prediction: Prediction | None, case: CaseInfo | None, **kwargs: object):  # type: ignore[no-untyped-def]
    return decide_route(
        prediction=prediction,
        thread=kwargs.pop("thread", None),  # type: ignore[arg-type]
        is_reply=bool(kwargs.pop("is_reply", False)),
        teams=TEAMS,
        outgoing="smtp",
        case=case,
        **kwargs,  # type: ignore[arg-type]
    )


# Keys ----------------------------------------------------------------------------------------


def test_one_policy_written_three_ways_is_one_key_and_other_numbers_are_not() -> None:
    a = customer_keys("a@klant.nl", ["Mijn polis PZ-12345678"], PATTERNS)
    b = customer_keys("b@klant.nl", ["polisnummer 12.345.678 graag"], PATTERNS)
    c = customer_keys("c@klant.nl", ["polis PZ12345679"], PATTERNS)
    assert a.numbers and a.numbers == b.numbers
    assert not set(a.numbers) & set(c.numbers)
    assert a.sender == sender_key("A@Klant.nl") != b.sender


def test_claim_and_customer_numbers_are_keys_and_no_value_is_stored_in_clear() -> None:
    keys = customer_keys(
        "jan@klant.nl",
        ["Schade SCH-2024-00042", "mijn klantnummer is 4455667, groet"],
        PATTERNS,
    )
    same_claim = customer_keys("x@y.nl", ["claim S-2024-00042"], PATTERNS)
    assert len(keys.numbers) == 2 and set(same_claim.numbers) < set(keys.numbers)
    assert all(len(key) == 64 and "4455667" not in key for key in keys.all)


def test_mailrooms_own_address_is_no_customer() -> None:
    keys = customer_keys(
        "info@polder.example", ["geen nummers"], PATTERNS, own_addresses=["INFO@polder.example"]
    )
    assert not keys and keys.all == ()


# The decision ------------------------------------------------------------------------------


def test_a_customer_with_a_recent_case_goes_to_its_team_and_handler() -> None:
    case = _case(member_id=7, member_name="Marloes")
    d = _route(_prediction("klachten", 0.6, auto=False), case)
    assert (d.mode, d.decided_by, d.reason, d.team) == (
        "auto",
        "affinity",
        "affinity",
        TEAMS["klachten"],
    )
    assert d.details["affinity_case"] == 2311 and d.details["affinity_age_days"] == 3
    assert d.details["handler_id"] == 7 and d.actor == "affinity"
    # A sure model that agrees changes nothing: the case decides (and names its handler).
    assert _route(_prediction("klachten", 0.99), case).decided_by == "affinity"


def test_a_sure_model_overrules_the_case_when_the_topic_changed() -> None:
    d = _route(_prediction("schade", 0.99), _case())
    assert (d.mode, d.decided_by, d.team) == ("auto", "model", TEAMS["schade"])
    assert d.details["topic_changed"] is True and d.details["affinity_team"] == "klachten"
    assert d.details["affinity_case"] == 2311
    # An unsure model does not: the case's team stands.
    unsure = _route(_prediction("schade", 0.7, auto=False), _case())
    assert (unsure.decided_by, unsure.team) == ("affinity", TEAMS["klachten"])


def test_a_team_a_person_chose_for_the_case_holds_against_a_sure_model() -> None:
    d = _route(_prediction("schade", 0.99), _case(moved_by_person=True))
    assert (d.decided_by, d.reason, d.team) == (
        "affinity",
        "affinity-moved-by-person",
        TEAMS["klachten"],
    )
    assert "topic_changed" not in d.details


def test_below_the_certified_follow_floor_the_model_decides_unless_a_person_chose() -> None:
    # The same floor as a thread's (certified on verified replies): the model gives the
    # case's team 0.10, less than the 0.25 a follow-up was certified at.
    unsure = _prediction(
        "schade", 0.6, auto=False, top=(("schade", 0.6), ("klachten", 0.1)), follow_floor=0.25
    )
    d = _route(unsure, _case())
    assert (d.mode, d.decided_by) == ("review", "model")
    assert d.details["affinity_doubted"] is True and d.details["affinity_team"] == "klachten"
    assert (d.details["affinity_probability"], d.details["affinity_case"]) == (0.1, 2311)
    assert explain(d.decided_by, d.reason, d.confidence, d.details)[0] == (
        "case #2311 went to klachten, but the model gives that team only 0.10"
    )
    # At the floor the case decides; a person's choice holds below it.
    at_floor = _prediction(
        "schade", 0.6, auto=False, top=(("schade", 0.6), ("klachten", 0.3)), follow_floor=0.25
    )
    assert _route(at_floor, _case()).decided_by == "affinity"
    assert _route(unsure, _case(moved_by_person=True)).decided_by == "affinity"


def test_a_model_that_weighed_the_case_decides_with_its_certified_threshold() -> None:
    # The version weighs cases (the prediction already holds the case's odds): sure of the
    # case's team means affinity, with the case and its handler recorded.
    case = _case(member_id=7, member_name="Marloes")
    d = _route(_prediction("klachten", 0.97, case_team="klachten"), case)
    assert (d.mode, d.decided_by, d.reason, d.team) == (
        "auto",
        "affinity",
        "affinity",
        TEAMS["klachten"],
    )
    assert d.details["case_weighed"] is True and d.details["handler_id"] == 7
    assert d.details["model_confidence"] == 0.97 and d.model_version == "v0001"
    assert explain(d.decided_by, d.reason, d.confidence, d.details)[0] == (
        "same handler as case #2311 (3 days ago)"
    )
    # Not sure even with the case: a person decides — never the case alone, whatever the
    # follow floor (the certificate was taken on the weighed confidence).
    unsure = _route(
        _prediction("klachten", 0.8, auto=False, case_team="klachten", follow_floor=0.0), case
    )
    assert (unsure.mode, unsure.decided_by, unsure.team) == ("review", "model", TEAMS["klachten"])
    assert unsure.details["case_weighed"] is True and unsure.details["affinity_case"] == 2311
    assert explain(unsure.decided_by, unsure.reason, unsure.confidence, unsure.details)[0] == (
        "case #2311 went to klachten; the model weighed it and is still not sure"
    )
    # Sure of another team despite the case: the topic changed, the model routes.
    changed = _route(_prediction("schade", 0.99, case_team="klachten"), _case())
    assert (changed.decided_by, changed.team) == ("model", TEAMS["schade"])
    assert changed.details["topic_changed"] is True
    assert changed.details["affinity_team"] == "klachten"
    # A team a person chose for the case still holds.
    moved = _route(_prediction("schade", 0.99, case_team="klachten"), _case(moved_by_person=True))
    assert (moved.decided_by, moved.team) == ("affinity", TEAMS["klachten"])


def test_the_case_a_verified_mail_would_have_had_is_found_as_live_routing_finds_it() -> None:
    from datetime import UTC, datetime

    from labeling.annotation.verify import _Keyed, latest_cases
    from labeling.live.affinity import CustomerKeys

    day = datetime(2024, 3, 1, tzinfo=UTC)

    def mail(mid: int, days: float, sender: str = "", *numbers: str) -> _Keyed:
        return _Keyed(mid, day + timedelta(days=days), CustomerKeys(sender, numbers))

    mails = [
        mail(1, 0, "s:anna", "n:polis1"),
        mail(2, 5, "s:anna"),
        mail(3, 6, "s:anna", "n:polis1"),  # anna again, about policy 1: a number match
        mail(4, 7, "s:bob"),
        mail(5, 50, "s:bob"),  # bob's earlier mail is 43 days old: outside the window
        mail(6, 8, "s:anna"),  # anna by address only: her latest, with all her mail to agree
        mail(7, 9, "s:carl", "n:polis1"),  # another sender naming policy 1
    ]
    found = latest_cases(mails, {1, 2, 3, 5, 6, 7}, timedelta(days=30))
    assert 1 not in found and 5 not in found  # nothing earlier within the window
    assert found[2] == (1, ())
    assert found[3] == (1, ())  # the number wins over the later mail from the address
    assert found[6] == (3, (1, 2))
    assert found[7] == (3, ())  # the latest mail naming the policy


def test_a_floor_that_certifies_nothing_is_recorded_as_json_postgresql_takes() -> None:
    # NEVER (too few verified replies): nothing is followed alone, thread or case, and the
    # details must still be strict JSON (PostgreSQL's json refuses Infinity).
    never = _prediction("klachten", 0.6, auto=False, follow_floor=math.inf)
    for d in (
        _route(never, _case()),
        _route(never, None, thread=ThreadInfo(team_id=2), is_reply=True),
    ):
        assert (d.mode, d.decided_by, d.details["follow_floor"]) == ("review", "model", None)
        json.dumps(dict(d.details), allow_nan=False)


def test_a_model_that_weighed_the_thread_decides_with_its_certified_threshold() -> None:
    thread = ThreadInfo(team_id=2)

    def reply(prediction: Prediction, info: ThreadInfo = thread):  # type: ignore[no-untyped-def]
        return _route(prediction, _case(team_id=1), thread=info, is_reply=True)

    # Sure of the thread's team with the thread weighed: the thread routes it.
    d = reply(_prediction("klachten", 0.97, thread_team="klachten"))
    assert (d.mode, d.decided_by, d.reason, d.team) == (
        "auto",
        "thread",
        "thread",
        TEAMS["klachten"],
    )
    assert d.details["thread_weighed"] is True and d.model_version == "v0001"
    # Not sure even with the thread: a person decides, whatever the follow floor (the
    # certificate was taken on the weighed confidence), and never the customer's case.
    unsure = reply(_prediction("klachten", 0.8, auto=False, thread_team="klachten"))
    assert (unsure.mode, unsure.decided_by, unsure.team) == ("review", "model", TEAMS["klachten"])
    assert unsure.details["thread_weighed"] is True
    assert unsure.details["thread_team"] == "klachten"
    assert "affinity_case" not in unsure.details
    assert explain(unsure.decided_by, unsure.reason, unsure.confidence, unsure.details)[0] == (
        "its thread went to klachten; the model weighed it and is still not sure"
    )
    # Sure of another team despite the thread: the topic changed, the model routes.
    changed = reply(_prediction("schade", 0.99, thread_team="klachten"))
    assert (changed.decided_by, changed.team) == ("model", TEAMS["schade"])
    assert changed.details["topic_changed"] is True and changed.details["thread_team"] == "klachten"
    assert explain(changed.decided_by, changed.reason, changed.confidence, changed.details)[0] == (
        "the model thinks the topic changed (to schade)"
    )
    # A thread a person moved still holds; a version that did not weigh the thread keeps
    # the follow floor.
    moved = reply(
        _prediction("schade", 0.99, thread_team="klachten"),
        ThreadInfo(team_id=2, moved_by_person=True),
    )
    assert (moved.decided_by, moved.team) == ("thread", TEAMS["klachten"])
    old = reply(_prediction("klachten", 0.8, auto=False, follow_floor=math.inf))
    assert old.details["thread_doubted"] is True and old.mode == "review"


def test_the_thread_comes_before_the_customer_and_rules_before_both() -> None:
    thread = ThreadInfo(team_id=1)
    d = _route(_prediction("schade", 0.6, auto=False), _case(), thread=thread, is_reply=True)
    assert (d.decided_by, d.team) == ("thread", TEAMS["schade"])
    # A reply whose thread the sure model leaves goes where the model says, not to the case.
    d = _route(_prediction("schade", 0.99), _case(), thread=ThreadInfo(team_id=2), is_reply=True)
    assert (d.decided_by, d.details.get("thread_team")) == ("model", "klachten")
    rule = RuleSpec(
        name="Schadeformulier",
        conditions=Conditions(sender=("x.nl",)),
        action="route",
        team="schade",
        id=5,
    )
    d = _route(None, _case(), rules=RuleOutcome(decided=rule, matched=(rule.name,)))
    assert (d.decided_by, d.team, d.rule_id) == ("rule", TEAMS["schade"], 5)


def test_a_case_whose_team_was_archived_is_left_to_the_model() -> None:
    d = _route(_prediction("schade", 0.99), _case(team_id=3))
    assert (d.decided_by, d.team) == ("model", TEAMS["schade"])
    assert "affinity_case" not in d.details
    assert _route(None, _case(team_id=3)).reason == "no-model"


def test_without_a_case_routing_is_as_before() -> None:
    d = _route(_prediction("schade", 0.99), None)
    assert (d.decided_by, d.reason) == ("model", "confident")
    assert not any(key.startswith("affinity") for key in d.details)


# Explained where a person looks -------------------------------------------------------------


def test_the_case_is_explained_with_its_number_and_age() -> None:
    d = _route(_prediction("klachten", 0.6, auto=False), _case(member_id=7, member_name="M"))
    lines = explain(d.decided_by, d.reason, d.confidence, d.details)
    assert lines[0] == "same handler as case #2311 (3 days ago)"
    d = _route(None, _case(age=timedelta(hours=5)))
    assert explain(d.decided_by, d.reason, d.confidence, d.details)[0] == (
        "same team as case #2311 (today)"
    )
    changed = _route(_prediction("schade", 0.99), _case())
    assert explain(changed.decided_by, changed.reason, changed.confidence, changed.details)[0] == (
        "the model thinks the topic changed since case #2311 (to schade)"
    )
