"""The demo's closing line counts each inbox mail by who settled it, also on a second run,
when people have decided some of the mail the model left them; and who decided each mail
(rule, customer affinity, thread, model, review) with its precision, and the repeat
customers."""

from __future__ import annotations

import json
from pathlib import Path

from mailroom.commands.demo import (
    RoutingResult,
    classify_inbox,
    repeats_by_message_id,
    score_sources,
)

TRUTH = {"a@x": "schade", "b@x": "premie", "c@x": "schade", "d@x": "klachten", "e@x": "premie"}


def test_a_second_run_counts_what_people_decided_apart_from_what_routed_itself() -> None:
    rows = [
        ("<a@x>", "done", "model", "auto", "schade"),  # right
        ("<b@x>", "done", "thread", "auto", "schade"),  # wrong
        ("<c@x>", "done", "rule", "auto", "schade"),  # an admin rule, without a person
        # rob decided these in review after the first run: a person, whatever state now
        ("<d@x>", "done", "user:3", "review", "klachten"),
        ("<e@x>", "forwarded", "user:3", "review", "premie"),
        ("<f@x>", "review", "model", "review", None),
        ("<g@x>", "done", None, None, None),  # an auto-reply, filed
        ("<h@x>", "quarantined", None, None, None),
        ("<i@x>", "new", None, None, None),
    ]
    result = classify_inbox(rows, TRUTH)
    assert result == RoutingResult(
        live=9,
        auto=3,
        auto_correct=2,
        review=1,
        by_people=1,
        quarantined=1,
        unsettled=2,
        filed=1,
    )
    assert result.precision == 2 / 3
    line = result.describe()
    assert line.startswith("9 inbox mails: auto-routed 3 (33%) at precision 0.667")
    assert "decided by people 1 (11%)" in line and "filed as machine mail 1" in line
    assert "2 not settled yet" in line


def test_a_first_run_without_people_or_machine_mail_reads_as_before() -> None:
    rows = [("<a@x>", "done", "model", "auto", "schade"), ("<b@x>", "review", None, None, None)]
    line = classify_inbox(rows, TRUTH).describe()
    assert line == (
        "2 inbox mails: auto-routed 1 (50%) at precision 1.000 against the generator's truth; "
        "waiting in review 1 (50%); quarantined 0"
    )


# Who decided, and the repeat customers (issue 14 item 2) -------------------------------------

SOURCE_TRUTH = {f"m{n}": "schade" for n in range(1, 9)} | {"m9": "premie"}
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
        ("<m9>", "forwarding", "model", "auto", "premie", doubted),  # no repeat, not settled
    ]
    scores = score_sources(rows, SOURCE_TRUTH, REPEATS)
    sources = scores.by_source
    assert (sources["model"].decided, sources["model"].precision) == (2, 0.5)
    assert (sources["rule"].decided, sources["rule"].precision) == (1, 0.0)
    assert (sources["affinity"].decided, sources["affinity"].precision) == (1, 1.0)
    assert sources["thread"].precision == 1.0
    # 'review': the mail waiting (no team) and the one a person decided (right).
    assert (sources["review"].decided, sources["review"].precision) == (2, 1.0)
    assert (scores.repeats, scores.repeats_right, scores.repeats_wrong) == (3, 1, 1)
    assert scores.repeats_by_affinity == 1
    assert (scores.repeats_topic_changed, scores.repeats_doubted) == (1, 1)
    assert scores.repeats_case_right == 1  # m5's case (schade) was right, m4's was not
    line_sources, line_repeats = scores.describe()
    assert "affinity 1 (11%) precision 1.000" in line_sources
    assert line_repeats.startswith(
        "repeat customers: 3 mails, routed right without a person 1 (33%; 1 by customer"
    )
    # Affinity routes without a person: the closing line counts it as auto-routed.
    assert classify_inbox([row[:5] for row in rows], SOURCE_TRUTH).auto == 5


def test_repeats_are_read_from_the_truth_file(tmp_path: Path) -> None:
    lines = [
        {"message_id": "<a@x>", "team": "schade"},
        {"message_id": "<b@x>", "team": "schade", "repeat_of": "<a@x>"},
    ]
    (tmp_path / "truth.jsonl").write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    assert repeats_by_message_id(tmp_path) == {"b@x": "a@x"}
