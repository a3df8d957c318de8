"""A rule condition on the mail kind of the hygiene filter (customer, bulk, auto-reply,
bounce, loop): read from TOML and forms, checked, and matched against the mail's kind."""

from __future__ import annotations

import pytest

from labeling.errors import RuleError
from labeling.rules.matching import Conditions, evaluate, facts_of
from labeling.rules.store import parse_rules_toml


def _facts(kind: str | None):  # type: ignore[no-untyped-def]
    return facts_of(
        subject="Nieuwsbrief januari",
        new_text="Lees het laatste nieuws.",
        quoted_text="",
        sender_email="nieuws@brief.example",
        recipients=None,
        attachments=None,
        language="nl",
        kind=kind,
    )


def test_kinds_are_read_as_the_hygiene_filter_names_them() -> None:
    conditions = Conditions.from_mapping({"kind": ["Bulk", "auto-reply", "auto_reply"]})
    assert conditions.kind == ("bulk", "auto_reply")
    assert conditions.to_mapping() == {"kind": ["bulk", "auto_reply"]}
    assert conditions.describe() == "kind bulk, auto_reply"
    with pytest.raises(RuleError, match="kind: 'spam' is not one of customer, auto_reply"):
        Conditions.from_mapping({"kind": ["spam"]})


def test_a_kind_condition_matches_only_that_kind_and_old_mail_is_customer_mail() -> None:
    bulk = Conditions.from_mapping({"kind": ["bulk"], "sender": ["brief.example"]})
    assert bulk.matches(_facts("bulk"))
    assert not bulk.matches(_facts("customer"))
    customer = Conditions.from_mapping({"kind": ["customer"]})
    assert customer.matches(_facts(None)) and not customer.matches(_facts("auto_reply"))


def test_toml_rules_take_a_kind_and_the_walk_uses_it() -> None:
    rules = parse_rules_toml(
        """
[[rule]]
name = "Nieuwsbrief"
action = "route"
team = "marketing"
[rule.when]
kind = ["bulk"]
sender = ["brief.example"]
"""
    )
    assert [(r.name, r.conditions.kind) for r in rules] == [("Nieuwsbrief", ("bulk",))]
    spec = rules[0]
    assert evaluate([spec], _facts("bulk")).decided == spec
    assert evaluate([spec], _facts("customer")).decided is None
