"""Admin rules: conditions, the order of the walk, what routing does with them, the TOML
form, and that matching stays linear on hostile text."""

from __future__ import annotations

import pytest

from classifier.scoring import Prediction
from labeling.errors import RuleError
from labeling.live.lifecycle import TeamInfo, ThreadInfo
from labeling.rules.matching import (
    MAX_TEXT_CHARS,
    Conditions,
    MailFacts,
    RuleSpec,
    evaluate,
    facts_of,
    parse_headers,
)
from labeling.rules.store import parse_rules_toml
from worker.routing import decide_route

TEAMS = {
    "schade": TeamInfo(1, "schade", forward_address="schade@x"),
    "klachten": TeamInfo(2, "klachten", forward_address="klachten@x"),
    "retentie": TeamInfo(3, "retentie", forward_address="retentie@x"),
    "oud": TeamInfo(4, "oud", archived=True, forward_address="oud@x"),
}


def _facts(**values: object) -> MailFacts:
    base: dict[str, object] = {
        "subject": "Schadeformulier ingevuld",
        "new_text": "Hierbij het formulier voor de waterschade aan mijn keuken.",
        "quoted_text": "",
        "sender_email": "Jan@Klant.Example",
        "recipients": {"to": [{"name": "", "email": "claims@polder.example"}]},
        "attachments": [{"filename": "foto.JPG", "content_type": "image/jpeg", "size": 10}],
        "language": "nl",
    }
    base.update(values)
    return facts_of(**base)  # type: ignore[arg-type]


def _rule(name: str = "r", action: str = "route", team: str | None = "schade", **when: object):  # type: ignore[no-untyped-def]
    return RuleSpec(
        name=name,
        action=action,
        team=team if action == "route" else None,
        priority="high" if action == "priority" else None,
        conditions=Conditions.from_mapping(when),
    )


def _prediction(team: str, confidence: float = 0.97, auto: bool = True) -> Prediction:
    return Prediction(
        team=team,
        confidence=confidence,
        top=((team, confidence),),
        auto=auto,
        reason="confident" if auto else "below-threshold",
        model_version="v0001",
        margin=0.9,
    )


@pytest.mark.parametrize(
    ("when", "matches"),
    [
        ({"sender": ["klant.example"]}, True),
        ({"sender": ["@klant.example"]}, True),
        ({"sender": ["example"]}, True),  # a parent domain
        ({"sender": ["ant.example"]}, False),  # not a suffix of a label
        ({"sender": ["jan@klant.example"]}, True),
        ({"sender": ["piet@klant.example"]}, False),
        ({"recipient": ["claims@polder.example"]}, True),
        ({"recipient": ["info@polder.example"]}, False),
        ({"subject": ["schadeformulier"]}, True),
        ({"subject": ["schade"]}, False),  # whole words only
        ({"subject": ["schade*"]}, True),  # ... unless a prefix
        ({"body": ["waterschade aan"]}, True),
        ({"body": ["aan waterschade"]}, False),  # in order
        ({"text": ["formulier voor de"]}, True),
        ({"attachment": ["jpg"]}, True),
        ({"attachment": ["image/*"]}, True),
        ({"attachment": ["application/pdf"]}, False),
        ({"language": ["en"]}, False),
        ({"language": ["nl"], "sender": ["klant.example"]}, True),
        ({"language": ["nl"], "sender": ["other.example"]}, False),  # all must hold
        ({"subject": ["opzeggen", "schadeformulier"]}, True),  # one value is enough
    ],
)
def test_conditions(when: dict[str, object], matches: bool) -> None:
    assert Conditions.from_mapping(when).matches(_facts()) is matches


def test_header_conditions_read_the_raw_headers() -> None:
    raw = (
        b"From: a@b.example\r\nX-Form: =?utf-8?q?schade_formulier?=\r\n"
        b"Subject: x\r\n\r\nX-Form: not a header\r\n"
    )
    facts = _facts(raw=raw)
    assert Conditions.from_mapping({"header": {"X-Form": "schade formulier"}}).matches(facts)
    assert Conditions.from_mapping({"header": {"x-form": "*"}}).matches(facts)
    assert not Conditions.from_mapping({"header": {"X-Other": "*"}}).matches(facts)
    assert parse_headers(raw)["subject"] == ("x",)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "a", "action": "route", "when": {"sender": ["x.example"]}}, "needs a team"),
        ({"name": "a", "action": "route", "team": "schade", "when": {}}, "no condition"),
        ({"name": "a", "action": "shout", "when": {"sender": ["x"]}}, "action"),
        ({"name": "a", "action": "priority", "when": {"sender": ["x"]}}, "priority"),
        ({"name": "a", "action": "review", "when": {"colour": ["red"]}}, "unknown condition"),
        ({"name": "a", "action": "review", "when": {"subject": ["*"]}}, "no words"),
        ({"name": "", "action": "review", "when": {"sender": ["x"]}}, "name"),
        ({"name": "a", "action": "review", "when": {"sender": ["a b"]}}, "space"),
        ({"name": "a", "action": "review", "when": {"header": {"X Y": "z"}}}, "header name"),
    ],
)
def test_bad_rules_are_refused_with_the_reason(data: dict[str, object], message: str) -> None:
    with pytest.raises(RuleError, match=message):
        RuleSpec.from_mapping(data)


def test_the_first_deciding_rule_wins_and_modifiers_before_it_apply() -> None:
    rules = [
        _rule("urgent", "priority", subject=["schadeformulier"]),
        _rule("disabled", "route", "klachten", sender=["klant.example"]),
        _rule("form", "route", "schade", subject=["schadeformulier"]),
        _rule("later", "route", "klachten", subject=["schadeformulier"]),
    ]
    rules = [
        RuleSpec(**{**_asdict(rule), "position": n, "enabled": rule.name != "disabled"})
        for n, rule in enumerate(rules)
    ]
    outcome = evaluate(rules, _facts())
    assert outcome.decided is not None and outcome.decided.name == "form"
    assert outcome.priority is not None and outcome.priority.priority == "high"
    assert outcome.matched == ("urgent", "form")


def _asdict(rule: RuleSpec) -> dict[str, object]:
    return {name: getattr(rule, name) for name in RuleSpec.__slots__}


def test_a_route_rule_decides_over_the_model_and_the_thread() -> None:
    outcome = evaluate([_rule("form", "route", "klachten", sender=["klant.example"])], _facts())
    d = decide_route(
        prediction=_prediction("schade"),
        thread=ThreadInfo(team_id=1),
        is_reply=True,
        teams=TEAMS,
        outgoing="smtp",
        rules=outcome,
    )
    assert (d.mode, d.reason, d.decided_by, d.team) == ("auto", "rule", "rule", TEAMS["klachten"])
    assert d.details["rule"] == "form" and d.details["model_team"] == "schade"


def test_a_rule_to_an_archived_team_sends_the_mail_to_review() -> None:
    outcome = evaluate([_rule("old", "route", "oud", sender=["klant.example"])], _facts())
    d = decide_route(
        prediction=None, thread=None, is_reply=False, teams=TEAMS, outgoing="smtp", rules=outcome
    )
    assert (d.mode, d.reason, d.decided_by) == ("review", "rule-team-unavailable", "rule")


def test_review_and_no_auto_rules_make_a_person_decide() -> None:
    review = evaluate([_rule("check", "review", sender=["klant.example"])], _facts())
    d = decide_route(
        prediction=_prediction("schade"),
        thread=None,
        is_reply=False,
        teams=TEAMS,
        outgoing="smtp",
        rules=review,
    )
    assert (d.mode, d.reason, d.decided_by) == ("review", "rule-review", "rule")

    hold = evaluate([_rule("hold", "no-auto", language=["nl"])], _facts())
    d = decide_route(
        prediction=_prediction("schade"),
        thread=None,
        is_reply=False,
        teams=TEAMS,
        outgoing="smtp",
        rules=hold,
    )
    assert (d.mode, d.reason, d.decided_by, d.team) == (
        "review",
        "rule-no-auto",
        "rule",
        TEAMS["schade"],
    )
    assert d.details["suggested_by"] == "model" and d.details["no_auto_rule"] == "hold"


def test_no_matching_rule_leaves_the_model_deciding_and_priority_is_recorded() -> None:
    outcome = evaluate(
        [
            _rule("other", "route", "klachten", sender=["elders.example"]),
            _rule("high", "priority", attachment=["jpg"]),
        ],
        _facts(),
    )
    d = decide_route(
        prediction=_prediction("schade"),
        thread=None,
        is_reply=False,
        teams=TEAMS,
        outgoing="smtp",
        rules=outcome,
    )
    assert (d.mode, d.decided_by, d.team) == ("auto", "model", TEAMS["schade"])
    assert d.details["priority"] == "high" and d.details["rules_matched"] == ["high"]


def test_toml_rules_read_in_order_and_name_the_bad_one() -> None:
    specs = parse_rules_toml(
        """
[[rule]]
name = "Schadeformulier"
note = "Het webformulier"
action = "route"
team = "schade"
[rule.when]
sender = ["formulier@polder.example"]
subject = ["schadeformulier*"]

[[rule]]
name = "Advocaat"
action = "review"
enabled = false
[rule.when]
text = ["advocaat", "ombudsman"]
"""
    )
    assert [s.name for s in specs] == ["Schadeformulier", "Advocaat"]
    assert specs[0].conditions.to_mapping() == {
        "sender": ["formulier@polder.example"],
        "subject": ["schadeformulier*"],
    }
    assert specs[1].enabled is False
    with pytest.raises(RuleError, match=r"rule 2: .*needs a team"):
        parse_rules_toml(
            '[[rule]]\nname="a"\naction="review"\nwhen={sender=["x"]}\n'
            '[[rule]]\nname="b"\naction="route"\nwhen={sender=["x"]}\n'
        )
    with pytest.raises(RuleError, match="not valid TOML"):
        parse_rules_toml("[[rule]\n")


def test_only_the_bounded_start_of_a_long_mail_is_read() -> None:
    conditions = Conditions.from_mapping({"text": ["a* a* a* b"]})
    near = "a " * 100 + "b"
    far = "a " * (MAX_TEXT_CHARS // 2) + "b"  # "b" lies past the bound
    assert conditions.matches(_facts(subject="", new_text=near))
    assert not conditions.matches(_facts(subject="", new_text=far))


def test_cues_flag_urgent_and_churn_mail_and_urgent_means_high_priority() -> None:
    from labeling.live.explain import explain
    from labeling.rules.cues import cue_flags

    cues = cue_flags("SPOED: opzegging", "Ik stap over naar een andere verzekeraar.")
    assert cues.urgent == ("spoed*",)
    assert cues.churn == ("opzegging*", "stap over", "andere verzekeraar")
    assert cue_flags("Please cancel", "asap").names == ("urgent", "churn")
    d = decide_route(
        prediction=_prediction("schade"),
        thread=None,
        is_reply=False,
        teams=TEAMS,
        outgoing="smtp",
        cues=cues,
    )
    assert d.details["priority"] == "high" and d.details["urgent"]["source"] == "cue list"
    lines = explain(d.decided_by, d.reason, d.confidence, d.details)
    assert "urgent (cue list: 'spoed*')" in lines
    assert any(line.startswith("wants to leave (cue list: 'opzegging*'") for line in lines)
    # A rule can send churn to a retention team.
    retention = _rule("Behoud", "route", "retentie", flag=["churn"])
    outcome = evaluate([retention], _facts(new_text="Ik wil opzeggen."))
    assert outcome.decided is not None and outcome.decided.name == "Behoud"
    assert evaluate([retention], _facts()).decided is None


def test_learned_flags_decide_over_the_cue_list_and_rules_match_on_them() -> None:
    """A model version's heads judge the flags they have; the cue list the rest. Routing
    records which, an urgent mail gets priority high, and a rule on churn sees the
    learned flag, not the words."""
    from dataclasses import replace

    from labeling.live.explain import explain
    from labeling.rules.cues import cue_flags
    from labeling.rules.flags import LearnedFlag, MailFlags

    # No cue word, but the churn head is sure: the retention rule routes it.
    text = "Na twintig jaar ben ik er klaar mee, ik ga ergens anders heen."
    cues = cue_flags("Mijn polis", text)
    assert cues.names == ()
    flags = MailFlags(cues=cues, learned={"churn": LearnedFlag(0.93, 0.7, "v0004")})
    assert flags.names == ("churn",)
    retention = _rule("Behoud", "route", "retentie", flag=["churn"])
    facts = replace(_facts(subject="Mijn polis", new_text=text), given_flags=flags.names)
    outcome = evaluate([retention], facts)
    assert outcome.decided is not None and outcome.decided.name == "Behoud"
    d = decide_route(
        prediction=_prediction("schade"),
        thread=None,
        is_reply=False,
        teams=TEAMS,
        outgoing="smtp",
        rules=outcome,
        flags=flags,
    )
    assert (d.decided_by, d.team.slug if d.team else None) == ("rule", "retentie")
    assert d.details["churn"] == {
        "source": "model",
        "score": 0.93,
        "threshold": 0.7,
        "model_version": "v0004",
    }
    assert "priority" not in d.details  # churn alone is not urgency
    lines = explain(d.decided_by, d.reason, d.confidence, d.details)
    assert "wants to leave: 0.93 (model)" in lines

    # A cue word the urgency head scores low is not urgent: no high priority, no rule match.
    spoed = MailFlags(
        cues=cue_flags("SPOED", "geen spoed hoor"),
        learned={"urgent": LearnedFlag(0.1, 0.6, "v0004")},
    )
    assert spoed.cues.urgent and spoed.names == ()
    urgent_rule = _rule("Dringend", "review", None, flag=["urgent"])
    calm_facts = replace(_facts(subject="SPOED"), given_flags=spoed.names)
    assert evaluate([urgent_rule], calm_facts).decided is None
    d = decide_route(
        prediction=_prediction("schade"),
        thread=None,
        is_reply=False,
        teams=TEAMS,
        outgoing="smtp",
        flags=spoed,
    )
    assert "urgent" not in d.details and "priority" not in d.details

    # The head says urgent: priority high (a forward's Importance), cue list for churn.
    both = MailFlags(
        cues=cue_flags("", "ik wil opzeggen"),
        learned={"urgent": LearnedFlag(0.88, 0.6, "v0004")},
    )
    d = decide_route(
        prediction=_prediction("schade"),
        thread=None,
        is_reply=False,
        teams=TEAMS,
        outgoing="smtp",
        flags=both,
    )
    assert d.mode == "auto" and d.details["priority"] == "high"
    lines = explain(d.decided_by, d.reason, d.confidence, d.details)
    assert "urgent: 0.88 (model)" in lines
    assert "wants to leave (cue list: 'opzeggen')" in lines
