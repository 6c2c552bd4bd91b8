#!/usr/bin/env bash
# Install what landgis needs on a Debian machine; every step is skipped when already done.
#   bash scripts/bootstrap.sh          # the service: Python venv, JS assets, PostgreSQL + PostGIS
#   bash scripts/bootstrap.sh --test   # also what the tests use: GDAL tools, Chromium
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
WITH_TEST=0
[ "${1:-}" = "--test" ] && WITH_TEST=1

say() { printf '\033[1m[landgis]\033[0m %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else say "need root to run: $*"; exit 1
  fi
}

APT_UPDATED=0
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if ! as_root apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; then
    if [ $APT_UPDATED = 0 ]; then as_root apt-get update -q >/dev/null; APT_UPDATED=1; fi
    as_root apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# --- Python 3.11 with venv
PYTHON=""
for candidate in python3.11 python3; do
  if command -v "$candidate" >/dev/null 2>&1 \
     && "$candidate" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
    PYTHON=$(command -v "$candidate"); break
  fi
done
if [ -z "$PYTHON" ]; then
  apt_install python3 python3-venv python3-dev
  PYTHON=$(command -v python3.11 || command -v python3)
fi

# --- system packages: PostgreSQL 15 + PostGIS (also installed by `landgis db up` when missing),
# Node.js for the browser assets, and the test tools.
packages=(postgresql-15 postgresql-15-postgis-3)
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)
[ $WITH_TEST = 1 ] && packages+=(gdal-bin chromium fonts-wqy-microhei)
apt_install "${packages[@]}"

# --- the virtual environment, reinstalled only when pyproject.toml changes
stamp_of() { sha256sum "$@" | sha256sum | cut -c1-16; }
VENV="$ROOT/.venv"
want=$(stamp_of pyproject.toml)
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$VENV/.landgis-stamp" 2>/dev/null)" != "$want" ]; then
  say "creating the Python environment in .venv (Python: $PYTHON)"
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
  "$VENV/bin/python" -m pip install -q -e ".[dev]" 2>&1 | grep -v "^WARNING: Location" || true
  "$VENV/bin/python" -c "import landgis, geopandas, rasterio, fastapi" \
    || { say "the Python packages did not install"; exit 1; }
  echo "$want" > "$VENV/.landgis-stamp"
fi

# --- browser assets from the npm registry (lockfile pinned; install scripts never run)
want=$(stamp_of package.json package-lock.json)
if [ ! -d node_modules ] || [ "$(cat node_modules/.landgis-stamp 2>/dev/null)" != "$want" ]; then
  say "installing browser assets from the npm registry"
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null
  echo "$want" > node_modules/.landgis-stamp
fi
