"""Write the classifier table of docs/benchmarks.md from the JSON results of
scripts/run_benchmarks.sh (instance/bench/ROW-MODEL.json).

Usage: python scripts/benchmarks_table.py RESULTS_DIR DOC

The table goes between the markers ``<!-- classifier-table:start -->`` and
``<!-- classifier-table:end -->`` (added at the end of DOC when absent); the rest of DOC is
kept as it is, and so are the table's rows this run has no result for.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

START = "<!-- classifier-table:start -->"
END = "<!-- classifier-table:end -->"
ROWS = ("banking77", "banking77-10shot", "clinc150", "hwu64", "demo")
DATA = {
    "banking77": "BANKING77, 10 % of train carved as test",
    "banking77-10shot": "BANKING77, 10 per label",
    "clinc150": "CLINC150 val + oos_val",
    "hwu64": "HWU64 valid",
    "demo": "demo archive, 20 % (truth labels)",
}
COMMAND = {
    "banking77": "--max-length 64",
    "banking77-10shot": "--max-length 64 --per-class 10",
    "clinc150": "--oos-label oos --max-unknown-share 0.25 --max-length 64",
    "hwu64": "--max-length 64",
    "demo": "",
}


def pct(value: object) -> str:
    return "–" if value is None else f"{100 * float(value):.1f}"  # type: ignore[arg-type]


def num(value: object, digits: int = 3) -> str:
    return "–" if value is None else f"{float(value):.{digits}f}"  # type: ignore[arg-type]


def row_of(name: str, result: dict[str, object]) -> str:
    base = result["baseline"]
    assert isinstance(base, dict)
    machine = result.get("machine", {})
    assert isinstance(machine, dict)
    load = machine.get("load_average")
    shares = result.get("precision_by_unknown_share") or {}
    base_shares = base.get("precision_by_unknown_share") or {}
    assert isinstance(shares, dict) and isinstance(base_shares, dict)
    at25 = shares.get("0.25")
    base25 = base_shares.get("0.25")

    def pair(key: str, fmt: object = None) -> str:
        show = pct if fmt is None else num
        return f"{show(result.get(key))} ({show(base.get(key))})"

    return (
        f"| {DATA.get(name, name)} | {result['model']} | {pair('accuracy')} "
        f"| {pair('macro_f1')} | {pair('precision_at_threshold', num)} "
        f"| {pair('coverage_at_threshold')} | {pair('oos_recall')} | {num(at25)} ({num(base25)})"
        f" | {result['train_seconds']} | {result['n_train']}"
        f" | {'–' if not load else num(load[0], 1)} |"  # type: ignore[index]
    )


def _key(line: str) -> tuple[str, str]:
    cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
    return cells[0], cells[1]


def kept_rows(text: str) -> dict[tuple[str, str], str]:
    """The rows of the table already in the document, by (data, model): a run of some rows
    replaces those and keeps the others (a fresh checkout has only the new results)."""
    if START not in text or END not in text:
        return {}
    body = text.split(START, 1)[1].split(END, 1)[0]
    rows = [line for line in body.splitlines() if line.startswith("| ")]
    return {_key(line): line for line in rows[1:]}  # the first is the header


def table(results: Path, kept: dict[tuple[str, str], str] | None = None) -> str:
    lines = [
        START,
        "",
        "Command: `bash scripts/run_benchmarks.sh` (rows: `mailroom benchmark --train … --test "
        "… --time-budget 1200` plus the options below). Machine: the project's 2-core CPU "
        "machine; load = 1-minute load average when the row ended. Figures in brackets: "
        "the TF-IDF baseline trained and scored in the same run. Precision and coverage at "
        'the target 0.98 (delta 0.1); "at 25 % unknown": the realised precision if mail '
        "for no intent were a quarter of all mail.",
        "",
        "| data | model | accuracy % | macro-F1 % | precision at 0.98 | coverage at 0.98 % "
        "| OOS recall % | precision at 25 % unknown | train s | n train | load |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    rows = dict(kept or {})
    found = sorted(results.glob("*.json"))
    for path in found:
        row, _, model = path.stem.rpartition("-")
        if row.endswith("-e5"):  # "e5-small" holds a dash
            row, model = row[: -len("-e5")], "e5-" + model
        if row in ROWS:
            line = row_of(row, json.loads(path.read_text(encoding="utf-8")))
            rows[_key(line)] = line
    order = {DATA[name]: i for i, name in enumerate(ROWS)}
    for key in sorted(rows, key=lambda k: (order.get(k[0], len(order)), k[1] != "e5-small")):
        lines.append(rows[key])
    lines += ["", "Options per row: " + "; ".join(f"{k}: `{v}`" for k, v in COMMAND.items() if v)]
    lines += ["", END]
    return "\n".join(lines)


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    results, doc = Path(sys.argv[1]), Path(sys.argv[2])
    text = doc.read_text(encoding="utf-8")
    new = table(results, kept_rows(text))
    if START in text and END in text:
        before, rest = text.split(START, 1)
        _, after = rest.split(END, 1)
        text = before + new + after
    else:
        text = text.rstrip("\n") + "\n\n## Classifier on public data (issue 10)\n\n" + new + "\n"
    doc.write_text(text, encoding="utf-8")
    print(f"{doc}: table of {new.count(chr(10) + '| ') - 1} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
