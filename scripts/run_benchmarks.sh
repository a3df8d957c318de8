#!/usr/bin/env bash
# Runs the classifier benchmarks of issue 4 one after another and keeps each JSON result in
# instance/bench/. Usage: bash scripts/run_benchmarks.sh [MODEL ...]   (default: minilm e5-small)
# Needs ../shared/datasets (prepared into CSVs first) and a built .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
models=("$@"); [ ${#models[@]} -gt 0 ] || models=(minilm e5-small)
data=instance/datasets
out=instance/bench
mkdir -p "$out"
[ -f "$data/banking77_train.csv" ] || .venv/bin/python scripts/prepare_datasets.py
[ -f "$data/demo_train.csv" ] || .venv/bin/python scripts/demo_corpus_csv.py
run() {  # name model args...
    local name=$1 model=$2; shift 2
    echo "==> $name ($model) $(date -u +%H:%M:%S) load: $(cut -d' ' -f1-3 /proc/loadavg)"
    .venv/bin/mailroom benchmark --model "$model" --time-budget 1200 --out "$out/$name-$model.json" "$@" \
        > "$out/$name-$model.log" 2>&1 || echo "    failed: see $out/$name-$model.log"
    grep -E '"(accuracy|macro_f1|train_seconds|coverage_at_threshold|oos_recall)"' "$out/$name-$model.json" | head -6 || true
}
for model in "${models[@]}"; do
    run demo "$model" --train "$data/demo_train.csv" --test "$data/demo_test.csv"
    run banking77 "$model" --train "$data/banking77_train.csv" --test "$data/banking77_val.csv" --max-length 64
    run banking77-10shot "$model" --train "$data/banking77_train.csv" --test "$data/banking77_val.csv" --max-length 64 --per-class 10
    run clinc150 "$model" --train "$data/clinc150_train.csv" --test "$data/clinc150_test.csv" --oos-label oos --max-length 64
done
