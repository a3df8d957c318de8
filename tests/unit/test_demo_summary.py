"""The demo's closing line counts each inbox mail by who settled it, also on a second run,
when people have decided some of the mail the model left them."""

from __future__ import annotations

from mailroom.commands.demo import RoutingResult, classify_inbox

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
