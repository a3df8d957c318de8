#!/usr/bin/env bash
# The classifier benchmarks on the public data beside the project, one after another, then
# the table in docs/benchmarks.md. Each row trains from scratch (validation carved from the
# training split) and is scored on a split no one tuned on; the TF-IDF baseline is trained
# and scored in the same run.
#
#   bash scripts/run_benchmarks.sh            e5-small rows (about 20 min of training each)
#   bash scripts/run_benchmarks.sh --quick    TF-IDF only (seconds): checks the chain
#   MODELS="e5-small minilm" ROWS="clinc150 banking77-10shot" bash scripts/run_benchmarks.sh
#
# Run it on a quiet machine, nothing else heavy beside it: the load average is kept with
# every row. Needs ../shared/datasets (prepared into instance/datasets first) and .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
[ "${1:-}" = "--quick" ] && quick=1
read -r -a models <<< "${MODELS:-e5-small}"
read -r -a rows <<< "${ROWS:-banking77 banking77-10shot clinc150 hwu64 demo}"
budget=${TIME_BUDGET:-1200}
data=instance/datasets
out=instance/bench
mkdir -p "$out"
[ -f "$data/banking77_train.csv" ] || .venv/bin/python scripts/prepare_datasets.py --out "$data"
[ -f "$data/demo_train.csv" ] || .venv/bin/python scripts/demo_corpus_csv.py
if [ $quick = 1 ]; then
    models=(tfidf)
    export MAILROOM_MIN_LABELS_FOR_TRANSFORMER=100000000  # the TF-IDF model serves alone
fi
run() {  # row model args...
    local row=$1 model=$2; shift 2
    echo "==> $row ($model) $(date -u +%H:%M:%S) load: $(cut -d' ' -f1-3 /proc/loadavg)"
    local model_args=(--model "$model")
    [ "$model" = tfidf ] && model_args=()
    .venv/bin/mailroom benchmark "${model_args[@]}" --time-budget "$budget" \
        --out "$out/$row-$model.json" "$@" > "$out/$row-$model.log" 2>&1 \
        || echo "    failed: see $out/$row-$model.log"
}
for model in "${models[@]}"; do
    for row in "${rows[@]}"; do
        case $row in
            banking77) run "$row" "$model" --train "$data/banking77_train.csv" \
                --test "$data/banking77_val.csv" --max-length 64 ;;
            banking77-10shot) run "$row" "$model" --train "$data/banking77_train.csv" \
                --test "$data/banking77_val.csv" --max-length 64 --per-class 10 ;;
            clinc150) run "$row" "$model" --train "$data/clinc150_train.csv" \
                --test "$data/clinc150_test.csv" --oos-label oos --max-unknown-share 0.25 \
                --max-length 64 ;;
            hwu64) run "$row" "$model" --train "$data/hwu64_train.csv" \
                --test "$data/hwu64_valid.csv" --max-length 64 ;;
            demo) run "$row" "$model" --train "$data/demo_train.csv" --test "$data/demo_test.csv" ;;
            *) echo "unknown row $row" >&2; exit 2 ;;
        esac
    done
done
.venv/bin/python scripts/benchmarks_table.py "$out" docs/benchmarks.md
