"""Admin rules through the worker stack on real servers (Dovecot, SMTP, Redis, PostgreSQL,
worker processes): a rule routes a mail the model would send elsewhere, a 'no-auto' rule
holds a confident mail for a person, a priority rule marks the forward, and the rest is
left to the model. Each decision records who made it."""

from __future__ import annotations

import email
from collections.abc import Callable

import pytest
from sqlalchemy import select

from labeling.rules import store as rule_store
from labeling.rules.matching import Conditions, RuleSpec
from labeling.store.tables import Message, ReviewItem, RoutingDecision
from mailroom.testbed.dovecot_server import DovecotServer
from mailroom.testbed.worker_stack import ADDRESS, Stack, team_mail


def _with_headers(raw: bytes, **headers: str) -> bytes:
    message = email.message_from_bytes(raw)
    for name, value in headers.items():
        del message[name]
        message[name] = value
    return message.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


@pytest.mark.slow
def test_rules_decide_before_the_model_and_say_so(
    dovecot: DovecotServer, make_stack: Callable[..., Stack]
) -> None:
    stack = make_stack(dovecot)
    with stack.sessions() as session:
        for spec in (
            RuleSpec(
                name="Spoed",
                action="priority",
                priority="high",
                conditions=Conditions.from_mapping({"subject": ["spoed"]}),
            ),
            RuleSpec(
                name="Formulier",
                action="route",
                team="klachten",
                conditions=Conditions.from_mapping({"sender": ["formulier.example"]}),
            ),
            RuleSpec(
                name="Advocaat",
                action="no-auto",
                conditions=Conditions.from_mapping({"text": ["advocaat*"]}),
            ),
        ):
            rule_store.create_rule(session, spec)
        session.commit()
    stack.start_worker("w1")

    # Words of schade, from the form's domain, urgent: the rule sends it to klachten.
    form_id, raw = team_mail("schade", 1)
    stack.append(
        _with_headers(raw, From="Formulier <noreply@web.formulier.example>", Subject="Spoed")
    )
    # Words of opzeggingen, nothing a rule looks at: the model decides.
    model_id, raw = team_mail("opzeggingen", 2)
    stack.append(raw)
    # Words of schade, but it names a lawyer: a person confirms.
    held_id, raw = team_mail("schade", 3)
    stack.append(_with_headers(raw, Subject="Mijn advocaat over de schade"))
    stack.wait_until(lambda: stack.settled(3), 90, "3 mails routed")
    stack.smtp.wait_for(2, timeout=20)

    by_original = {a.original_id: a for a in stack.smtp.accepted}
    assert set(by_original) == {form_id, model_id}
    assert by_original[form_id].rcpts == (ADDRESS["klachten"],)
    assert by_original[model_id].rcpts == (ADDRESS["opzeggingen"],)
    forward = email.message_from_bytes(by_original[form_id].data)
    assert forward["Importance"] == "high" and forward["X-Priority"] == "1 (Highest)"
    assert forward["X-Mailroom-Decided-By"] == "rule"
    cover = forward.get_payload()[0].get_payload(decode=True).decode()  # type: ignore[index,union-attr]
    assert "Why: rule 'Formulier' matched." in cover
    assert "Why: priority high (rule 'Spoed')." in cover
    assert email.message_from_bytes(by_original[model_id].data)["Importance"] is None

    with stack.sessions() as session:

        def decision(message_id: str) -> RoutingDecision:
            row = session.scalar(
                select(RoutingDecision)
                .join(Message, Message.id == RoutingDecision.message_id)
                .where(Message.message_id == message_id.strip("<>"))
            )
            assert row is not None
            return row

        rules = {r.name: r.id for r in rule_store.list_rules(session)}
        routed = decision(form_id)
        assert (routed.decided_by, routed.reason, routed.rule_id) == (
            "rule",
            "rule",
            rules["Formulier"],
        )
        assert routed.details["model_team"] == "schade"  # what the model would have done
        assert routed.details["rules_matched"] == ["Spoed", "Formulier"]
        assert decision(model_id).decided_by == "model"
        assert decision(model_id).rule_id is None
        held = decision(held_id)
        assert (held.mode, held.reason, held.rule_id) == (
            "review",
            "rule-no-auto",
            rules["Advocaat"],
        )
        item = session.scalar(select(ReviewItem).where(ReviewItem.message_id == held.message_id))
        assert item is not None and item.reason == "rule-no-auto"
