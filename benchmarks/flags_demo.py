"""Urgency and churn on the demo corpus: the learned heads against the cue list, without
running the whole demo (issue 14 item 3).

    .venv/bin/python benchmarks/flags_demo.py [--labelled 1500] [--verified 400]

Generates the default corpus (2400 archived + 300 inbox mails, seed 7) in a temporary
folder, reads every mail as the store and the model do (``normalise``, ``model_text``,
pseudonymised), and plays the demo's flag labeller: the first ``--labelled`` archive mails
in corpus order that are not among ``--verified`` randomly drawn ones (the verification
sample, never trained on), less the frozen holdout. The heads are trained as a training
run trains them (:func:`classifier.flag_training.train_flag_heads`, default arguments:
precision 0.8, 5 cross-fitting folds, at least 30 flagged mails) and scored on the inbox
against the generator's truth, next to the cue list on the same mail.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from classifier.flag_training import FlagExample, train_flag_heads
from classifier.flags import positive_scores
from data import TEAMS_FILE
from data.corpus_reader import iter_corpus
from data.demo_corpus import generate
from labeling.annotation.export import is_holdout
from labeling.mail.mime import normalise
from labeling.mail.model_text import model_text
from labeling.mail.pseudonymise import Pseudonymiser
from labeling.rules.cues import cue_flags
from labeling.store.teams import load_teams_file


def _score(predicted: list[bool], truth: list[bool]) -> str:
    tp = sum(p and t for p, t in zip(predicted, truth, strict=True))
    flagged, actual = sum(predicted), sum(truth)
    recall = f"{tp / actual:.2f}" if actual else "n/a"
    precision = f"{tp / flagged:.2f}" if flagged else "n/a"
    return f"recall {recall} ({tp}/{actual}), precision {precision} ({tp}/{flagged})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--labelled", type=int, default=1500)
    parser.add_argument("--verified", type=int, default=400)
    options = parser.parse_args()
    pseudonymiser = Pseudonymiser()
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        generate(out, load_teams_file(TEAMS_FILE))
        archive, inbox = [], []
        for index, mail in enumerate(iter_corpus(out)):
            parsed = normalise(mail.raw)
            text = model_text(
                parsed.subject, parsed.new_text, parsed.quoted_text, pseudonymiser=pseudonymiser
            )
            item = (index, text, mail.truth, cue_flags(parsed.subject, parsed.new_text))
            (inbox if mail.truth.folder == "INBOX" else archive).append(item)
    verified = set(random.Random(0).sample(range(len(archive)), options.verified))
    labelled = [a for i, a in enumerate(archive) if i not in verified][: options.labelled]
    training = [a for a in labelled if not is_holdout(a[0] + 1)]
    started = time.perf_counter()
    heads = train_flag_heads(
        [
            FlagExample(text, index, {"urgent": truth.urgent, "churn": truth.churn})
            for index, text, truth, _ in training
        ]
    )
    print(
        f"{len(labelled)} mails labelled with flags, {len(training)} trained on; heads in "
        f"{time.perf_counter() - started:.0f} s"
    )
    for flag, outcome in heads.items():
        truth = [bool(getattr(item[2], flag)) for item in inbox]
        print(f"{flag}: {outcome.source} — {outcome.reason}")
        if outcome.head is not None and outcome.threshold is not None:
            scores = positive_scores(outcome.head, [item[1] for item in inbox])
            learned = [bool(s >= outcome.threshold) for s in scores]
            print(f"  inbox, model:    {_score(learned, truth)}")
        cues = [bool(getattr(item[3], flag)) for item in inbox]
        print(f"  inbox, cue list: {_score(cues, truth)}")


if __name__ == "__main__":
    main()
