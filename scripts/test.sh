#!/usr/bin/env bash
# The test command: lint, types, then every test, those marked server, postgres and browser
# against real servers. Extra arguments go to pytest, e.g. scripts/test.sh -k mime, or
# scripts/test.sh -m "not server and not postgres and not browser" for the ones without.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh
echo "==> ruff"
.venv/bin/ruff check .
echo "==> mypy"
.venv/bin/mypy
echo "==> pytest"
# pytest exits 5 when it collected no test; set -e makes that a failure too.
.venv/bin/python -m pytest "$@"
