"""Turn the public benchmark data beside the project into `text,label` CSVs for
`mailroom benchmark`. Nothing is copied into the repository: the CSVs go to --out
(default instance/datasets, which git ignores).

Splits (test splits are kept apart on purpose; see ../shared/datasets/README.md):
  banking77_train.csv / banking77_val.csv  a stratified 10 % of BANKING77's train carved out
  clinc150_train.csv                       CLINC150 train + oos_train (label 'oos': calibrates
                                           the out-of-scope detector, never trained on)
  clinc150_test.csv                        CLINC150 val + oos_val (label 'oos')
  hwu64_train.csv / hwu64_valid.csv        HWU64 train and valid
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from sklearn.model_selection import train_test_split

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = ROOT.parent / "shared" / "datasets"


def write(path: Path, rows: list[tuple[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    print(f"{path}: {len(rows)} rows, {len({r[1] for r in rows})} labels")


def banking77(source: Path, out: Path, seed: int) -> None:
    with (source / "banking77" / "train.csv").open(newline="", encoding="utf-8") as handle:
        rows = [(r["text"], r["category"]) for r in csv.DictReader(handle)]
    train, val = train_test_split(
        rows, test_size=0.1, random_state=seed, stratify=[r[1] for r in rows]
    )
    write(out / "banking77_train.csv", train)
    write(out / "banking77_val.csv", val)


def clinc150(source: Path, out: Path) -> None:
    data = json.loads((source / "clinc150" / "train_val.json").read_text(encoding="utf-8"))
    train = [(t, y) for t, y in data["train"]] + [(t, "oos") for t, _ in data["oos_train"]]
    write(out / "clinc150_train.csv", train)
    test = [(t, y) for t, y in data["val"]] + [(t, "oos") for t, _ in data["oos_val"]]
    write(out / "clinc150_test.csv", test)


def hwu64(source: Path, out: Path) -> None:
    for split in ("train", "valid"):
        folder = source / "hwu64" / split
        texts = (folder / "seq.in").read_text(encoding="utf-8").splitlines()
        labels = (folder / "label").read_text(encoding="utf-8").splitlines()
        write(out / f"hwu64_{split}.csv", list(zip(texts, labels, strict=True)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--out", type=Path, default=ROOT / "instance" / "datasets")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not args.source.is_dir():
        print(f"no public datasets at {args.source}: nothing to prepare", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    banking77(args.source, args.out, args.seed)
    clinc150(args.source, args.out)
    hwu64(args.source, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
