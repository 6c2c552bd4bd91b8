#!/usr/bin/env bash
# The whole test suite, from nothing: install what is missing, lint and type-check, then pytest
# against a real PostGIS (the tests start the local cluster themselves). Extra arguments go to pytest.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$ROOT/scripts/bootstrap.sh" --test
cd "$ROOT"
.venv/bin/ruff check landgis api scripts tests benchmarks
.venv/bin/ruff format --check landgis api scripts tests benchmarks
.venv/bin/mypy
exec .venv/bin/python -m pytest "$@"
