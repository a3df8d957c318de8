"""The demo's routing summary against the generator's truth: each source's share and
precision, and how many repeat customers were routed right (and by affinity)."""

from __future__ import annotations

import json
from pathlib import Path

from mailroom.commands.demo import repeats_by_message_id, score_routing

TRUTH = {f"m{n}": "schade" for n in range(1, 9)} | {"m9": "premie"}
REPEATS = {"m3": "m1", "m4": "m2", "m5": "m1"}


def test_each_source_is_scored_and_repeat_customers_counted() -> None:
    changed = {"affinity_case": 1, "topic_changed": True, "affinity_team": "premie"}
    doubted = {"affinity_case": 1, "affinity_doubted": True, "affinity_team": "schade"}
    rows = [
        ("<m1>", "done", "model", "auto", "schade", {}),
        ("<m2>", "done", "rule", "auto", "premie", {}),  # wrong
        ("<m3>", "done", "affinity", "auto", "schade", {}),  # a repeat, right, by affinity
        ("<m4>", "done", "model", "auto", "premie", changed),  # a repeat, wrong
        ("<m5>", "review", "model", "review", None, doubted),  # a repeat, waiting
        ("<m6>", "done", "thread", "auto", "schade", {}),
        ("<m7>", "done", "user:3", "auto", "schade", {}),
        ("<m8>", "quarantined", None, None, None, {}),
        ("<m9>", "forwarding", "model", "auto", "premie", doubted),  # no repeat: not counted
    ]
    result = score_routing(rows, TRUTH, REPEATS)  # type: ignore[arg-type]
    assert (result.live, result.auto, result.auto_correct) == (9, 5, 3)
    assert (result.review, result.by_people, result.quarantined, result.unsettled) == (1, 1, 1, 1)
    sources = result.by_source
    assert (sources["model"].decided, sources["model"].precision) == (2, 0.5)
    assert (sources["rule"].decided, sources["rule"].precision) == (1, 0.0)
    assert (sources["affinity"].decided, sources["affinity"].precision) == (1, 1.0)
    assert sources["thread"].precision == 1.0
    # 'review': the mail waiting (no team) and the one a person decided (right).
    assert (sources["review"].decided, sources["review"].precision) == (2, 1.0)
    assert (result.repeats, result.repeats_right, result.repeats_wrong) == (3, 1, 1)
    assert result.repeats_by_affinity == 1
    assert (result.repeats_topic_changed, result.repeats_doubted) == (1, 1)
    # m5's case (schade) was right; m4's (premie) was not.
    assert result.repeats_case_right == 1
    text = result.describe()
    assert "affinity 1 (11%) precision 1.000" in text
    assert "repeat customers: 3 mails, routed right without a person 1 (33%; 1 by" in text


def test_repeats_are_read_from_the_truth_file(tmp_path: Path) -> None:
    lines = [
        {"message_id": "<a@x>", "team": "schade"},
        {"message_id": "<b@x>", "team": "schade", "repeat_of": "<a@x>"},
    ]
    (tmp_path / "truth.jsonl").write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    assert repeats_by_message_id(tmp_path) == {"b@x": "a@x"}
