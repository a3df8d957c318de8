"""TF-IDF baseline on the demo corpus: how far a bag of words gets in routing it.

    .venv/bin/python benchmarks/tfidf_demo_baseline.py [--corpus PATH] [--split-seed 0]
        [--pseudonymise]

Reads the corpus at ``--corpus`` (generating the default corpus, 2400 archived + 300 inbox
mails, seed 7, into a temporary folder when no path is given or the path holds no corpus),
takes subject + body text extracted with the stdlib ``email`` package (quoted history and
signatures included), and makes one seeded, stratified 80/20 split of all mails by their true
team. Features: word 1-2-grams plus character 2-5-grams (within word boundaries), TF-IDF with
sublinear term frequency. Prints held-out accuracy and macro-F1 for logistic regression and a
linear SVM, per-language accuracy, and the most confused team pairs.

``--pseudonymise`` reads every text as a model does since models are trained on
pseudonymised text (labeling.mail.pseudonymise: names, addresses and numbers as
placeholders), and reports how many of the corpus's personal details (truth.jsonl ``pii``)
end up as terms in the fitted word vocabulary, with and without: what a model file would
hold.

The demo corpus is built so that this lands well below perfect (target roughly 0.75-0.88),
leaving room for a better model to show.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from sklearn.base import ClassifierMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import FeatureUnion, make_pipeline
from sklearn.svm import LinearSVC

from data import TEAMS_FILE
from data.corpus_reader import iter_corpus, subject_and_body
from data.demo_corpus import TRUTH_NAME, generate
from labeling.store.teams import load_teams_file


def load_texts(
    corpus: Path, *, pseudonymise: bool = False
) -> tuple[list[str], list[str], list[str], list[str]]:
    """Texts (subject + body), true teams, languages and personal details (the truth's
    ``pii`` strings) of every mail in ``corpus``."""
    texts, teams, languages, pii = [], [], [], []
    pseudonymiser = None
    if pseudonymise:
        from labeling.mail.pseudonymise import pseudonymiser_for

        pseudonymiser = pseudonymiser_for()
    for mail in iter_corpus(corpus):
        subject, body = subject_and_body(mail.raw)
        text = f"{subject}\n{body}"
        if pseudonymiser is not None:
            text = pseudonymiser.mail(text).text(text)
        texts.append(text)
        teams.append(mail.truth.team)
        languages.append(mail.truth.language)
        pii.extend(item["text"] for item in mail.truth.pii)
    return texts, teams, languages, pii


def pii_in_vocabulary(texts: list[str], pii: list[str]) -> tuple[int, int]:
    """(personal details whose words are a term of the word vocabulary fitted on ``texts``,
    personal details of one or two words): what a bag-of-words model file would hold."""
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2).fit(texts)
    analyse = vectorizer.build_analyzer()
    vocabulary = vectorizer.vocabulary_
    terms = {" ".join(analyse(item)[:2]) for item in set(pii)}
    short = {t for t in terms if t and len(t.split()) <= 2}
    return sum(t in vocabulary for t in short), len(short)


def features() -> FeatureUnion:
    """Word 1-2-gram plus char_wb 2-5-gram TF-IDF, sublinear tf, terms in >= 2 mails."""
    return FeatureUnion(
        [
            ("word", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2)),
            (
                "char",
                TfidfVectorizer(
                    analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2
                ),
            ),
        ]
    )


def evaluate(
    texts: list[str], teams: list[str], languages: list[str], split_seed: int
) -> dict[str, dict[str, float]]:
    """Fit each model on 80 % and score it on the stratified 20 %; prints details."""
    indices = list(range(len(texts)))
    train_idx, test_idx = train_test_split(
        indices, test_size=0.2, stratify=teams, random_state=split_seed
    )
    x_train = [texts[i] for i in train_idx]
    y_train = [teams[i] for i in train_idx]
    x_test = [texts[i] for i in test_idx]
    y_test = [teams[i] for i in test_idx]
    models: dict[str, ClassifierMixin] = {
        "logreg": LogisticRegression(C=10.0, max_iter=2000),
        "linearsvc": LinearSVC(C=0.5),
    }
    results: dict[str, dict[str, float]] = {}
    for name, model in models.items():
        started = time.perf_counter()
        pipeline = make_pipeline(features(), model)
        pipeline.fit(x_train, y_train)
        predicted = list(pipeline.predict(x_test))
        accuracy = accuracy_score(y_test, predicted)
        macro_f1 = f1_score(y_test, predicted, average="macro")
        results[name] = {"accuracy": accuracy, "macro_f1": macro_f1}
        print(
            f"{name:>10}: accuracy {accuracy:.3f}  macro-F1 {macro_f1:.3f}  "
            f"({len(x_train)} train / {len(x_test)} test, {time.perf_counter() - started:.1f} s)"
        )
        for language in ("nl", "en"):
            pairs = [
                (t, p) for i, t, p in zip(test_idx, y_test, predicted, strict=True)
                if languages[i] == language
            ]
            if pairs:
                hits = sum(t == p for t, p in pairs)
                print(f"{'':>12}{language}: accuracy {hits / len(pairs):.3f} on {len(pairs)} mails")
        confused = Counter((t, p) for t, p in zip(y_test, predicted, strict=True) if t != p)
        top = ", ".join(f"{t}->{p} {n}" for (t, p), n in confused.most_common(5))
        print(f"{'':>12}most confused: {top}")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--corpus", type=Path, help="corpus folder (with truth.jsonl)")
    parser.add_argument("--split-seed", type=int, default=0, help="seed of the 80/20 split")
    parser.add_argument(
        "--pseudonymise", action="store_true", help="read the texts pseudonymised, as models do"
    )
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="demo-corpus-") as scratch:
        corpus = args.corpus
        if corpus is None or not (corpus / TRUTH_NAME).exists():
            target = corpus if corpus is not None else Path(scratch)
            started = time.perf_counter()
            summary = generate(target, load_teams_file(TEAMS_FILE))
            seconds = time.perf_counter() - started
            print(f"generated {summary.total} mails in {target} ({seconds:.1f} s)")
            corpus = target
        started = time.perf_counter()
        texts, teams, languages, pii = load_texts(corpus, pseudonymise=args.pseudonymise)
        how = "pseudonymised" if args.pseudonymise else "as written"
        print(
            f"corpus {corpus}: {len(texts)} mails ({how}, read in "
            f"{time.perf_counter() - started:.1f} s), {len(set(teams))} teams"
        )
        evaluate(texts, teams, languages, args.split_seed)
        held, total = pii_in_vocabulary(texts, pii)
        print(f"personal details that are terms of the word vocabulary: {held} of {total}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
