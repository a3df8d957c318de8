"""How well the pseudonymiser removes personal details from what a labeller reads.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_pseudonymise.py [--corpus PATH]
        [--count 2400 --inbox 300 --seed 7] [--samples 500]

Generates the demo corpus (or reads one), parses every mail as Mailroom does, pseudonymises
subject, sender and body as the labelling page shows them, and checks each personal detail
the generator recorded (truth.jsonl ``pii``) against the result: recall per kind (a detail
counts as removed when its exact string no longer occurs), and false hits (replaced strings
that overlap no recorded detail) per 1,000 words. BSNs and dates of birth, which the corpus
hardly holds, are measured on ``--samples`` texts of :mod:`data.pii_samples`. Prints the
time per mail too (say the load average with it).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from data import TEAMS_FILE
from data.corpus_reader import iter_corpus
from data.demo_corpus import TRUTH_NAME, generate
from data.pii_samples import pii_samples
from data.pii_truth import PiiReport
from labeling.errors import MailParseError
from labeling.mail.mime import normalise
from labeling.mail.pseudonymise import (
    MailText,
    Pseudonymiser,
    pseudonymise_mail,
    pseudonymiser_for,
)
from labeling.store.teams import load_teams_file


def corpus_report(corpus: Path, pseudonymiser: Pseudonymiser | None = None) -> PiiReport:
    """The pseudonymiser measured on every parsed mail of ``corpus`` (see module doc)."""
    pseudonymiser = pseudonymiser or pseudonymiser_for()
    report = PiiReport()
    for mail in iter_corpus(corpus):
        try:
            parsed = normalise(mail.raw)
        except MailParseError:
            continue  # quarantined: no one labels it
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


def samples_report(count: int, pseudonymiser: Pseudonymiser | None = None) -> PiiReport:
    """The pseudonymiser measured on ``count`` texts of :mod:`data.pii_samples`."""
    pseudonymiser = pseudonymiser or pseudonymiser_for()
    report = PiiReport()
    for text, pii in pii_samples(count):
        out, pseudonyms = pseudonymise_mail(MailText(body_text=text), pseudonymiser)
        report.add(pii, text, out.body_text, [found.value for found in pseudonyms.found])
    return report


def _print(title: str, report: PiiReport) -> None:
    print(f"{title}: {report.words} words; details the parsed mail does not show: "
          f"{report.not_shown}")
    print(f"  {'kind':<16} {'removed':>8} {'of':>6} {'recall':>7}   missed, e.g.")
    for kind, score in sorted(report.per_kind.items()):
        examples = ", ".join(score.missed[:4])
        print(f"  {kind:<16} {score.removed:>8} {score.total:>6} {score.recall:>7.3f}   {examples}")
    print(
        f"  false hits: {report.false_hits} ({report.false_hits_per_1000_words:.2f} per 1,000 "
        f"words), e.g. {', '.join(report.false_examples[:8])}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--corpus", type=Path, help="an existing demo corpus (else generated)")
    parser.add_argument("--count", type=int, default=2400)
    parser.add_argument("--inbox", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--samples", type=int, default=500)
    args = parser.parse_args(argv)
    pseudonymiser = pseudonymiser_for()
    with tempfile.TemporaryDirectory(prefix="pii-corpus-") as scratch:
        corpus = args.corpus or Path(scratch)
        if not (corpus / TRUTH_NAME).exists():
            generate(corpus, load_teams_file(TEAMS_FILE), count=args.count,
                     inbox_count=args.inbox, seed=args.seed)
        mails = sum(1 for _ in iter_corpus(corpus))
        started = time.perf_counter()
        report = corpus_report(corpus, pseudonymiser)
        seconds = time.perf_counter() - started
        _print(f"demo corpus {corpus} ({mails} mails, seed {args.seed})", report)
        print(f"  {1000 * seconds / mails:.1f} ms per mail (parse + pseudonymise), load "
              f"average {os.getloadavg()[0]:.1f}")
    _print(f"{args.samples} BSN / date-of-birth samples", samples_report(args.samples))
    return 0


if __name__ == "__main__":
    sys.exit(main())
