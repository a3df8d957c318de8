"""The pseudonymiser against the demo generator's truth: at least 95 % of every kind of
personal detail is removed from what a labeller reads, and few other words are touched.

The demo corpus records where it put each detail (``pii`` in truth.jsonl); BSNs and dates
of birth, which the corpus hardly has, come from :mod:`data.pii_samples`. Figures for a
full-size corpus: ``benchmarks/bench_pseudonymise.py`` (docs/benchmarks.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.bench_pseudonymise import corpus_report, samples_report
from data import TEAMS_FILE
from data.demo_corpus import generate
from data.pii_truth import PiiReport
from labeling.store.teams import load_teams_file

RECALL_FLOOR = 0.95
MIN_ITEMS = 10  # a kind with fewer items in the sample says too little to test
MAX_FALSE_HITS_PER_1000_WORDS = 2.0


def _check(report: PiiReport) -> dict[str, float]:
    tested = {k: s.recall for k, s in report.per_kind.items() if s.total >= MIN_ITEMS}
    for kind, score in report.per_kind.items():
        if score.total >= MIN_ITEMS:
            assert score.recall >= RECALL_FLOOR, (kind, score.recall, score.missed[:10])
    assert report.false_hits_per_1000_words <= MAX_FALSE_HITS_PER_1000_WORDS, (
        report.false_examples[:20]
    )
    return tested


@pytest.mark.slow
def test_recall_per_kind_on_a_generated_corpus(tmp_path: Path) -> None:
    generate(tmp_path, load_teams_file(TEAMS_FILE), count=400, inbox_count=40, seed=3)
    tested = _check(corpus_report(tmp_path))
    kinds = {"name", "email", "phone", "iban", "address", "postcode", "plate", "policy"}
    assert kinds <= set(tested)


def test_recall_of_bsns_and_dates_of_birth() -> None:
    tested = _check(samples_report(150))
    assert {"bsn", "birth_date", "name"} <= set(tested)
