"""Write the demo corpus as `text,label` CSVs for `mailroom benchmark`.

The text is what the router reads (labeling.mail.model_text.model_text: subject and new text, plus
the forwarded or quoted part for forwards and short replies); the label is the generator's
truth (not the archive folder, which is sometimes wrong on purpose). A seeded, stratified
80/20 split of the archived mail; malformed mails the parser refuses are left out (they go
to quarantine, not to a model).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
from pathlib import Path

from sklearn.model_selection import train_test_split

from data import TEAMS_FILE
from data.demo_corpus import generate
from labeling.errors import MailParseError
from labeling.mail.mime import normalise
from labeling.mail.model_text import model_text
from labeling.store.teams import load_teams_file

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, help="an existing demo corpus (else generated)")
    parser.add_argument("--out", type=Path, default=ROOT / "instance" / "datasets")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    corpus = args.corpus
    if corpus is None:
        corpus = Path(tempfile.mkdtemp()) / "corpus"
        generate(corpus, load_teams_file(TEAMS_FILE))
    rows: list[tuple[str, str]] = []
    refused = 0
    for line in (corpus / "truth.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record["folder"] in ("", "INBOX"):
            continue  # the unsorted inbox is the worker's, not the benchmark's
        try:
            mail = normalise((corpus / "Maildir" / record["path"]).read_bytes())
        except MailParseError:
            refused += 1
            continue
        names = (mail.sender.name,) if mail.sender else ()
        text = model_text(mail.subject, mail.new_text, mail.quoted_text, names=names)
        rows.append((text, record["team"]))
    train, test = train_test_split(
        rows, test_size=0.2, random_state=args.seed, stratify=[r[1] for r in rows]
    )
    args.out.mkdir(parents=True, exist_ok=True)
    for name, part in (("demo_train.csv", train), ("demo_test.csv", test)):
        with (args.out / name).open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["text", "label"])
            writer.writerows(part)
        print(f"{args.out / name}: {len(part)} rows")
    print(f"{refused} malformed mails refused by the parser")
    return 0


if __name__ == "__main__":
    sys.exit(main())
