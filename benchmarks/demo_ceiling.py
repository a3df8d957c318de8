"""How far a demo instance's active model can go, against the generator's truth (issue 10).

    MAILROOM_INSTANCE_PATH=/tmp/demo/instance .venv/bin/python benchmarks/demo_ceiling.py

Run it after ``mailroom demo --no-serve`` on that instance. It scores, with the active
version, the verified sample (what thresholds are certified on) and the demo inbox (what
the worker routed), reading each mail as routing reads it (``model_text``, pseudonymised),
each with its customer case weighed where the version weighs cases (the verified mail's
as training found it, the inbox mail's as routing found it), and prints for both: the
model's accuracy, the share of mail the best possible threshold
would route at precision 0.97 and 0.98 (an oracle that knows the truth: the ceiling of
this model's ranking, not something a product can certify), and for the inbox the same by
kind of mail (repeat customers' follow-ups, whose team only the customer's history tells).
Then, for the targets 0.98/0.97/0.95, the threshold certified on the verified sample and
what it routes of the inbox at what realised precision. Last, the suspect folder labels
the training run stored, against the generator's ``misfiled`` feature.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import select

from classifier.arguments import PipelineArguments
from classifier.certify import certify
from classifier.recipe import coverage_at
from labeling.annotation.export import WEAK_SOURCE, training_examples
from labeling.annotation.verify import routing_priors, verified_mail
from labeling.settings import load_settings
from labeling.store.db import open_database, session_scope
from labeling.store.tables import Message, SuspectLabel
from mailroom.commands.demo import active_router, inbox_earlier_teams, inbox_texts, truth_rows


def _line(name: str, confidence: NDArray[np.float64], correct: NDArray[np.bool_]) -> str:
    return (
        f"{name}: {len(correct)} mails, accuracy {correct.mean():.3f}, best possible share "
        f"routed at precision 0.97 {coverage_at(confidence, correct, 0.97):.2f}, at 0.98 "
        f"{coverage_at(confidence, correct, 0.98):.2f}"
    )


def main() -> None:
    settings = load_settings()
    truth = truth_rows(settings.instance_path / "demo-corpus")
    router = active_router(settings)
    labels = list(router.labels)
    with open_database(settings) as sessions, session_scope(sessions) as session:
        pseudonymiser = settings.pseudonymiser()
        verified = verified_mail(session, pseudonymiser=pseudonymiser)
        inbox = inbox_texts(session, settings)
        inbox_truth = [truth[message_id] for message_id, _ in inbox]
        ids = dict(session.execute(select(Message.id, Message.message_id)).all())
        suspects = set(session.scalars(select(SuspectLabel.message_id)))
        examples = training_examples(session, include_weak=True, pseudonymiser=pseudonymiser)
        # Each mail's customer case, as the version weighs it (where it does): the verified
        # mail's as training found it, the inbox mail's as routing found it.
        verified_threads, verified_cases = routing_priors(
            session,
            [v.message_id for v in verified],
            days=settings.affinity_days,
            patterns=tuple(pseudonymiser.org_patterns),
            own_addresses=tuple(settings.own_addresses()),
        )
        inbox_cases, inbox_threads = inbox_earlier_teams(session)
    index = {label: i for i, label in enumerate(labels)}

    def scored(
        texts: Sequence[str],
        gold: Sequence[str | None],
        cases: Sequence[str | None],
        threads: Sequence[str | None],
    ):
        probabilities = router.scores(texts).probabilities
        for odds, earlier in ((router.c.case_odds, cases), (router.c.thread_odds, threads)):
            if odds is not None:
                columns = [index.get(team or "", -1) for team in earlier]
                probabilities = odds.weigh(probabilities, texts, columns)
        predicted = [labels[i] for i in probabilities.argmax(axis=1)]
        correct = np.array([p == g for p, g in zip(predicted, gold, strict=True)])
        return probabilities.max(axis=1), correct

    v_conf, v_ok = scored(
        [v.text for v in verified],
        [v.team for v in verified],
        [verified_cases.get(v.message_id) for v in verified],
        [verified_threads.get(v.message_id) for v in verified],
    )
    i_conf, i_ok = scored(
        [text for _, text in inbox],
        [row["team"] for row in inbox_truth],
        [inbox_cases.get(message_id) for message_id, _ in inbox],
        [inbox_threads.get(message_id) for message_id, _ in inbox],
    )
    print(
        f"version {router.version}; customer cases "
        + ("weighed" if router.c.case_odds is not None else "not weighed")
        + f" ({len(verified_cases)} verified and {len(inbox_cases)} inbox mails with a case);"
        + " threads "
        + ("weighed" if router.c.thread_odds is not None else "not weighed")
        + f" ({len(verified_threads)} verified and {len(inbox_threads)} inbox replies with one)"
    )
    print(_line("verified sample", v_conf, v_ok))
    print(_line("inbox", i_conf, i_ok))
    repeat = np.array(["repeat-customer" in row["features"] for row in inbox_truth])
    vague = np.array(["follow-up:vague" in row["features"] for row in inbox_truth])
    print(_line("  inbox, not from a repeat customer", i_conf[~repeat], i_ok[~repeat]))
    print(
        f"  inbox, repeat customers: {repeat.sum()} mails, accuracy {i_ok[repeat].mean():.3f};"
        f" of them vague follow-ups {vague.sum()}, accuracy {i_ok[vague].mean():.3f}"
    )
    unknown = np.zeros(len(v_ok), dtype=bool)
    for target in (0.98, 0.97, 0.95):
        certificate = certify(v_conf, v_ok, unknown, target, PipelineArguments().delta)
        routed = i_conf >= certificate.threshold
        precision = f"{i_ok[routed].mean():.3f}" if routed.any() else "n/a"
        print(
            f"target {target}: certified on the verified sample "
            + (
                f"at {certificate.threshold:.3f} ({certificate.coverage:.0%} of it)"
                if certificate.certified
                else "nothing"
            )
            + f"; the inbox: {routed.mean():.0%} routed at precision {precision}"
        )
    # The weak labels the suspect search judged: folder labels no person overruled, outside
    # the verified sample's groups.
    verified_groups = {v.group for v in verified}
    weak = [
        e
        for e in examples
        if e.sources[0] == WEAK_SOURCE and (e.group or e.message_id) not in verified_groups
    ]
    misfiled = {
        e.message_id
        for e in weak
        if "misfiled" in truth[str(ids[e.message_id]).strip("<>")]["features"]
    }
    found = suspects & misfiled
    print(
        f"suspects stored: {len(suspects)}, misfiled among them {len(found)} (precision "
        f"{len(found) / max(1, len(suspects)):.2f}); misfiled weak labels {len(misfiled)} "
        f"(recall {len(found) / max(1, len(misfiled)):.2f})"
    )


if __name__ == "__main__":
    main()
