"""The pseudonymiser against the demo generator's truth: at least 95 % of every kind of
personal detail is removed from what a labeller reads, and few other words are touched.

The demo corpus records where it put each detail (``pii`` in truth.jsonl); BSNs and dates
of birth, which the corpus hardly has, come from :mod:`data.pii_samples`. Figures for a
full-size corpus: ``benchmarks/bench_pseudonymise.py`` (docs/benchmarks.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from data import TEAMS_FILE
from data.corpus_reader import iter_corpus
from data.demo_corpus import generate
from data.pii_samples import pii_samples
from data.pii_truth import PiiReport
from labeling.errors import MailParseError
from labeling.mail.mime import normalise
from labeling.mail.pseudonymise import MailText, pseudonymise_mail, pseudonymiser_for
from labeling.store.teams import load_teams_file

RECALL_FLOOR = 0.95
MIN_ITEMS = 10  # a kind with fewer items in the sample says too little to test
MAX_FALSE_HITS_PER_1000_WORDS = 2.0


def _report_on_corpus(corpus: Path) -> PiiReport:
    pseudonymiser = pseudonymiser_for()
    report = PiiReport()
    for mail in iter_corpus(corpus):
        try:
            parsed = normalise(mail.raw)
        except MailParseError:
            continue
        sender = parsed.sender
        name, email = (sender.name, sender.email) if sender else ("", "")
        out, pseudonyms = pseudonymise_mail(
            MailText(parsed.subject, name, email, body_text=parsed.body_text),
            pseudonymiser,
            correspondents=[(a.name, a.email) for a in parsed.to + parsed.cc],
        )
        before = "\n".join((parsed.subject, f"{name} <{email}>", parsed.body_text))
        after = "\n".join((out.subject, f"{out.sender_name} <{out.sender_email}>", out.body_text))
        report.add(mail.truth.pii, before, after, [found.value for found in pseudonyms.found])
    return report


@pytest.mark.slow
def test_recall_per_kind_on_a_generated_corpus(tmp_path: Path) -> None:
    generate(tmp_path, load_teams_file(TEAMS_FILE), count=400, inbox_count=40, seed=3)
    report = _report_on_corpus(tmp_path)
    tested = {kind: score for kind, score in report.per_kind.items() if score.total >= MIN_ITEMS}
    assert {"name", "email", "phone", "iban", "address", "postcode", "plate", "policy"} <= set(
        tested
    )
    for kind, score in tested.items():
        assert score.recall >= RECALL_FLOOR, (kind, score.recall, score.missed[:10])
    assert report.false_hits_per_1000_words <= MAX_FALSE_HITS_PER_1000_WORDS, (
        report.false_examples[:20]
    )


def test_recall_of_bsns_and_dates_of_birth() -> None:
    pseudonymiser = pseudonymiser_for()
    report = PiiReport()
    for text, pii in pii_samples(150):
        out, pseudonyms = pseudonymise_mail(MailText(body_text=text), pseudonymiser)
        report.add(pii, text, out.body_text, [found.value for found in pseudonyms.found])
    assert report.per_kind["bsn"].total >= 50 and report.per_kind["birth_date"].total >= 50
    for kind, score in report.per_kind.items():
        if score.total >= MIN_ITEMS:
            assert score.recall >= RECALL_FLOOR, (kind, score.recall, score.missed[:10])
    assert report.false_hits_per_1000_words <= MAX_FALSE_HITS_PER_1000_WORDS
