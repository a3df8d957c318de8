"""The store's refusals reach a person in their language: every template in
web/labeling_texts.py is a message ``labeling`` really raises, and reads back in Dutch."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask_babel import Babel

from labeling.live.explain import explain
from labeling.store.passwords import password_problem
from web.i18n import TRANSLATIONS, route_word
from web.labeling_texts import TEMPLATES, explanation_text, refusal_text

ROOT = Path(__file__).resolve().parents[2]
HOLE = "\x00"


def _source_messages() -> set[str]:
    """Every string literal in labeling/, each f-string part a HOLE."""
    found: set[str] = set()
    for path in sorted((ROOT / "labeling").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.JoinedStr):
                found.add(
                    "".join(
                        part.value if isinstance(part, ast.Constant) else HOLE
                        for part in node.values
                    )
                )
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.add(node.value)
    return found


def test_every_template_is_a_message_labeling_raises() -> None:
    raised = _source_messages()
    as_source = {template: re.sub(r"%\(\w+\)s", HOLE, template) for template in TEMPLATES}
    missing = [template for template, shape in as_source.items() if shape not in raised]
    assert missing == []


@pytest.fixture
def dutch() -> Iterator[None]:
    app = Flask(__name__)
    Babel(
        app,
        locale_selector=lambda: "nl",
        default_translation_directories=str(TRANSLATIONS),
    )
    with app.test_request_context():
        yield


def test_refusals_read_in_dutch_with_their_names_kept(dutch: None) -> None:
    assert refusal_text("there is already a team 'schade'") == "er is al een team 'schade'"
    assert refusal_text("mail 17 was already decided") == "over mail 17 is al beslist"
    assert refusal_text(
        "hotkey 3 now belongs to Premie; give Schade another hotkey (or none) first"
    ) == "sneltoets 3 hoort nu bij Premie; geef Schade eerst een andere sneltoets (of geen)"
    problem = password_problem("short", "lisa")
    assert problem is not None
    assert refusal_text(problem).startswith("een wachtwoord heeft minstens")
    # A message no template knows is shown as written; so is an overlong one.
    assert refusal_text("something new went wrong") == "something new went wrong"
    long = "there is no message " + "9" * 700
    assert refusal_text(long) == long


def test_every_template_has_its_dutch(dutch: None) -> None:
    for template in TEMPLATES:
        values = {name: "X" for name in re.findall(r"%\((\w+)\)s", template)}
        message = template % values
        assert refusal_text(message) != message, template


def _every_explanation() -> set[str]:
    """Every kind of line explain() writes, from decisions that reach each branch."""
    lines: set[str] = set()
    cases = [
        ("rule", "rule", {"rule": "Spoed"}),
        ("model", "rule-no-auto", {"no_auto_rule": "Handmatig"}),
        ("model", "rule-team-unavailable", {"rule_team": "schade"}),
        ("thread", "thread", {}),
        ("thread", "thread", {"moved_by_person": True, "topic_changed": True, "model_team": "x"}),
        ("user:3", "review", {}),
        ("model", "model", {"urgent": ["spoed*"], "churn": ["opzeg*"], "priority": "high"}),
        ("model", "model", {"priority": "low", "priority_rule": "Laag"}),
        ("affinity", "affinity", {"affinity_case": 2311, "affinity_age_days": 0}),
        ("affinity", "affinity", {"affinity_case": 2311, "affinity_age_days": 1}),
        ("affinity", "affinity", {"affinity_case": 2311, "affinity_age_days": 3}),
        ("affinity", "x", {"affinity_case": 2, "handler": "M", "moved_by_person": True}),
        ("affinity", "x", {"affinity_case": 2, "handler": "M", "affinity_age_days": 1}),
        ("affinity", "x", {"affinity_case": 2, "handler": "M", "affinity_age_days": 5}),
        ("model", "model", {"affinity_case": 2, "topic_changed": True, "model_team": "x"}),
        ("model", "model", {"affinity_case": 2, "affinity_doubted": True, "affinity_team": "x"}),
        (
            "model",
            "model",
            {
                "urgent": {"source": "model", "score": 0.91, "threshold": 0.6},
                "churn": {"source": "model", "score": 0.88, "threshold": 0.5},
            },
        ),
    ]
    for decided_by, reason, details in cases:
        lines.update(explain(decided_by, reason, 0.8, details))
    return lines


def test_every_explanation_line_has_its_template_and_its_dutch(dutch: None) -> None:
    lines = _every_explanation()
    assert len(lines) >= 11
    # "model: schade 0.80" reads the same in Dutch (below).
    untranslated = [
        line
        for line in lines
        if explanation_text(line) == line and not line.startswith("model: ")
    ]
    assert untranslated == []
    assert explanation_text("rule 'Spoed' matched") == "regel 'Spoed' paste"
    assert explanation_text("priority low (rule 'Laag')") == "prioriteit laag (regel 'Laag')"
    assert explanation_text("urgent (cue list: 'spoed*')") == "urgent (signaallijst: 'spoed*')"
    assert explanation_text("urgent: 0.91 (model)") == "urgent: 0.91 (volgens het model)"
    assert explanation_text("model: schade 0.80") == "model: schade 0.80"  # reads the same


def test_route_words_are_translated_and_usernames_are_not(dutch: None) -> None:
    assert route_word("done") == "afgerond" and route_word("the model") == "het model"
    assert route_word("its thread") == "het gesprek"
    assert route_word("admin") == "admin"  # a username, though 'admin' is a word we translate
    assert route_word(None) == ""
