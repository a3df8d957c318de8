#!/usr/bin/env bash
# The demo on the embedded default: sets up .venv, then `mailroom demo` (corpus, import, weak
# labels, model, web app). Extra arguments go to `mailroom demo`, e.g. --no-serve.
# Data lands in ./instance (MAILROOM_INSTANCE_PATH overrides); a second run reuses it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh
exec .venv/bin/mailroom demo "$@"
