"""Routing accuracy on mails forwarded as an attachment (message/rfc822), TF-IDF baseline.

    PYTHONPATH=$PWD python benchmarks/bench_forwarded.py [--corpus PATH] [--folds 5]

Reads the demo corpus at ``--corpus`` (generating the default one, 2400 archived + 300 inbox
mails, seed 7, into a temporary folder when no path is given), turns every mail the parser
reads into the text the router reads (``labeling.mail.model_text.model_text`` over
``labeling.mail.mime.normalise``), and scores the TF-IDF baseline of
benchmarks/tfidf_demo_baseline.py (word 1-2-grams + char_wb 2-5-grams, logistic regression)
with stratified k-fold cross-validated predictions against the generator's truth, so that
every mail, the forwards among them, gets a held-out prediction. Prints the accuracy over all
mails and over the mails whose truth lists the feature ``forward:rfc822``, and how many of
those texts hold any of the forwarded original's words beyond the subject.

Run it with PYTHONPATH on another checkout (e.g. the start of a branch) to compare parsers:
the corpus, the features and the folds are the same.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline

from data import TEAMS_FILE
from data.demo_corpus import generate
from labeling.errors import MailParseError
from labeling.mail.mime import normalise
from labeling.mail.model_text import model_text
from labeling.store.teams import load_teams_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tfidf_demo_baseline import features

FEATURE = "forward:rfc822"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, help="an existing demo corpus (else generated)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    corpus = args.corpus
    if corpus is None or not (corpus / "truth.jsonl").exists():
        corpus = corpus or Path(tempfile.mkdtemp()) / "corpus"
        generate(corpus, load_teams_file(TEAMS_FILE))

    texts, teams, forwarded = [], [], []
    refused = 0
    started = time.monotonic()
    for line in (corpus / "truth.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        try:
            mail = normalise((corpus / "Maildir" / record["path"]).read_bytes())
        except MailParseError:
            refused += 1
            continue
        texts.append(model_text(mail.subject, mail.new_text, mail.quoted_text))
        teams.append(record["team"])
        forwarded.append(FEATURE in record.get("features", []))
    parse_seconds = time.monotonic() - started

    model = make_pipeline(features(), LogisticRegression(C=10.0, max_iter=2000))
    folds = StratifiedKFold(n_splits=args.folds, shuffle=True, random_state=args.seed)
    predicted = cross_val_predict(model, texts, teams, cv=folds)
    right = [p == t for p, t in zip(predicted, teams, strict=True)]
    chosen = [i for i, is_forward in enumerate(forwarded) if is_forward]
    print(f"corpus {corpus}: {len(texts)} mails read ({refused} refused), {parse_seconds:.1f} s")
    print(f"accuracy, all mails ({args.folds}-fold CV): {sum(right) / len(right):.3f}")
    forward_right = sum(right[i] for i in chosen)
    print(
        f"accuracy, {FEATURE} mails: {forward_right}/{len(chosen)} = "
        f"{forward_right / max(len(chosen), 1):.3f}"
    )
    longer = sum(len(texts[i].split()) > 40 for i in chosen)
    print(f"{FEATURE} mails whose text has more than 40 words: {longer}/{len(chosen)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
