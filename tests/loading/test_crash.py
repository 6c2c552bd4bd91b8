"""A load killed at any moment leaves the whole previous state or the whole new one.

``landgis load parcels`` runs as a subprocess and is sent SIGKILL after a random delay spread
over the whole run (start-up, reading, checking, staging, merging, committing); after each kill
the database must hold exactly the state before the load or exactly the state after it, with
no load batch left "running". The file updates every parcel of the previous state and adds new
ones, so a half-done load would show.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from tests.loading.conftest import empty_parcels, parcel_row, write_shapefile

COLUMNS, ROWS = 50, 40  # 2,000 parcels of 100 m x 100 m, inside the county
ADDED = 300
KILLS = 8


def _grid(holder: str, extra: int = 0) -> list[dict[str, object]]:
    rows = []
    for n in range(1, COLUMNS * ROWS + extra + 1):
        x, y = (n - 1) % COLUMNS, (n - 1) // COLUMNS
        rows.append(parcel_row(n, -3_000 + 100 * x, -3_000 + 100 * y, 权利人=f"{holder}{n}号"))
    return rows


def _state(engine: Engine) -> tuple[int, frozenset[str], int]:
    """What tells the states apart: parcel count, the holders' prefixes, and running batches."""
    with engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM parcel")).scalar_one()
        holders = conn.execute(
            text("SELECT DISTINCT regexp_replace(right_holder, '[0-9]+号$', '') FROM parcel")
        ).scalars()
        running = conn.execute(text("SELECT count(*) FROM load_batch WHERE status = 'running'")).scalar_one()
        return int(count), frozenset(holders), int(running)


def _start(engine: Engine, path: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, LANDGIS_DATABASE_URL=engine.url.render_as_string(hide_password=False))
    # A killed load cannot remove its scratch directory: keep those beside the test's files,
    # in pytest's temporary directory, not in /tmp.
    env["TMPDIR"] = str(path.parent)
    landgis = str(Path(sys.executable).parent / "landgis")
    command = [landgis, "load", "parcels", str(path), "--json"]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _settle(engine: Engine) -> None:
    """Wait until the server has ended the killed client's session (rolling back what it had not
    committed). The loader asks the server to check for a vanished client every second
    (``client_connection_check_interval``), so this takes about that long."""
    deadline = time.monotonic() + 60
    with engine.connect() as conn:
        while time.monotonic() < deadline:
            others = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND pid <> pg_backend_pid() AND backend_type = 'client backend' AND state <> 'idle'"
                )
            ).scalar_one()
            conn.rollback()  # pg_stat_activity is a snapshot per transaction
            if others == 0:
                return
            time.sleep(0.1)
    raise AssertionError("the killed load's session was still open after 60 s")


@pytest.mark.slow
def test_a_killed_load_leaves_the_old_state_or_the_new(scratch_county: Engine, tmp_path: Path) -> None:
    empty_parcels(scratch_county)
    before = write_shapefile(tmp_path / "before", _grid("示范县旧业主"))
    after = write_shapefile(tmp_path / "after", _grid("示范县新业主", extra=ADDED))
    old_state = (COLUMNS * ROWS, frozenset({"示范县旧业主"}), 0)
    new_state = (COLUMNS * ROWS + ADDED, frozenset({"示范县新业主"}), 0)

    started = time.monotonic()
    assert _start(scratch_county, before).wait() == 0
    duration = time.monotonic() - started  # about what a full load of `after` takes
    assert _state(scratch_county) == old_state

    rng = random.Random(20221231)
    outcomes = []
    for kill in range(KILLS):
        # spread the kills over the whole run, from start-up to the commit and a little beyond
        delay = duration * (kill + rng.random()) / KILLS * 1.3
        process = _start(scratch_county, after)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        code = process.wait()
        _settle(scratch_county)
        state = _state(scratch_county)
        assert state in (old_state, new_state), f"kill after {delay:.2f} s (exit {code}) left {state}"
        outcomes.append(state == new_state)
        if state == new_state:  # the load finished first: back to the old state
            empty_parcels(scratch_county)
            assert _start(scratch_county, before).wait() == 0
    assert not all(outcomes)  # most kills fell before the commit
