#!/usr/bin/env bash
# The whole test suite, from nothing: install what is missing, lint and type-check, then pytest
# against a real PostGIS (the tests start the local cluster themselves). Extra arguments go to pytest.
# Tests run in LANDGIS_TEST_WORKERS parallel processes (default 2, one per core; 0 runs them in
# this process), each with databases of its own; a test file stays on one worker.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$ROOT/scripts/bootstrap.sh" --test
cd "$ROOT"
.venv/bin/ruff check landgis api scripts tests benchmarks
.venv/bin/ruff format --check landgis api scripts tests benchmarks
.venv/bin/mypy
workers=${LANDGIS_TEST_WORKERS:-2}
if [ "$workers" = 0 ]; then
  exec .venv/bin/python -m pytest "$@"
fi
exec .venv/bin/python -m pytest -n "$workers" --dist loadfile "$@"
