#!/usr/bin/env bash
# The demo, from nothing: install what is missing, start the local PostGIS cluster (unless
# LANDGIS_DATABASE_URL is set), migrate, load the demo county and serve http://127.0.0.1:8000.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$ROOT/scripts/bootstrap.sh"
LANDGIS="$ROOT/.venv/bin/landgis"
"$LANDGIS" db up
"$LANDGIS" demo load "$@"
"$LANDGIS" maps demo-raster   # the offline basemap (a synthetic terrain COG of the county)
exec "$LANDGIS" serve --host "${LANDGIS_HOST:-127.0.0.1}" --port "${LANDGIS_PORT:-8000}"
