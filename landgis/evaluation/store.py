"""Writing a run's results: numbers go to a temporary table in PostgreSQL's binary COPY format
(packed by numpy, nothing formatted as text in Python), and the database builds the stored rows
(figures as jsonb, indicator arrays, parcel arrays) and the parcel-level 亩均 in set-based SQL.

Codes (segment, status, class, note) travel as small integers and are turned back into text with
the lists passed as bound parameters.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy import Connection, text

from landgis.dbio import copy_numeric
from landgis.evaluation.policy import FIGURE_FIELDS, Policy
from landgis.evaluation.scoring import (
    NOTE_CAPPED,
    NOTE_MISSING_MEAN,
    NOTE_MISSING_PENALTY,
    NOTE_MISSING_ZERO,
    NOTE_NO_BENCHMARK,
    Scored,
)

STAGE = "landgis_eval_stage"
STAGE_OCCUPANCY = "landgis_eval_occupancy"
STAGE_NOTES = "landgis_eval_notes"
STATUSES = ["rated", "exempt", "vetoed", "merged"]
NOTES = [NOTE_CAPPED, NOTE_MISSING_ZERO, NOTE_MISSING_MEAN, NOTE_MISSING_PENALTY, NOTE_NO_BENCHMARK]


def _codes(values: pd.Series, vocabulary: list[str]) -> np.ndarray:
    """1-based positions in ``vocabulary`` (0 for missing), as PostgreSQL array subscripts."""
    lookup = {v: i + 1 for i, v in enumerate(vocabulary)}
    return np.array([lookup.get(v, 0) if isinstance(v, str) else 0 for v in values.tolist()], dtype=np.int16)


def _null_int(values: pd.Series) -> np.ndarray:
    return values.astype("Float64").fillna(-1).to_numpy(dtype=np.int64)


def store_results(
    conn: Connection,
    run_id: int,
    policy: Policy,
    scored: Scored,
    firms: pd.DataFrame,
    occupancy: pd.DataFrame,
) -> None:
    """Insert the run's ``evaluation_result`` rows."""
    res = scored.results.reset_index(drop=True)
    ids = res["enterprise_id"].to_numpy(dtype=np.int64)
    by_id = firms.set_index("enterprise_id")
    width = max(len(s.indicators) for s in policy.segments)
    segments = [s.id for s in policy.segments]
    classes = sorted({c for s in policy.segments for c in policy.class_rule(s).classes})
    indicator_count = {s.id: len(s.indicators) for s in policy.segments}

    values = np.full((len(res), width), np.nan)
    scores = np.full((len(res), width), np.nan)
    notes = np.zeros((len(res), width), dtype=np.int16)
    lines = scored.lines
    if not lines.empty:
        row_of = pd.Series(np.arange(len(res)), index=ids)
        rows = row_of.reindex(lines["enterprise_id"].to_numpy()).to_numpy()
        cols = lines["position"].to_numpy(dtype=np.int64)
        values[rows, cols] = lines["value"].to_numpy(dtype=float)
        scores[rows, cols] = lines["score"].to_numpy(dtype=float)
        notes[rows, cols] = _codes(lines["note"], NOTES)

    figures = by_id.loc[ids, list(FIGURE_FIELDS)].to_numpy(dtype=float)
    columns: list[tuple[str, str, np.ndarray]] = [
        ("enterprise_id", "bigint", ids),
        ("segment", "smallint", _codes(res["segment"], segments)),
        ("status", "smallint", _codes(res["status"], STATUSES)),
        ("k", "smallint", res["segment"].map(indicator_count).fillna(0).to_numpy(dtype=np.int16)),
        ("land", "float8", by_id.loc[ids, "land_mu"].to_numpy(dtype=float)),
        *((f"f{i}", "float8", figures[:, i]) for i in range(len(FIGURE_FIELDS))),
        *((f"v{i}", "float8", values[:, i]) for i in range(width)),
        *((f"s{i}", "float8", scores[:, i]) for i in range(width)),
        *((f"n{i}", "smallint", notes[:, i]) for i in range(width)),
        ("base", "float8", res["base_score"].to_numpy(dtype=float)),
        ("adjustment", "float8", res["adjustment"].to_numpy(dtype=float)),
        ("score", "float8", res["score"].to_numpy(dtype=float)),
        ("rank", "integer", _null_int(res["rank"])),
        ("rank_of", "integer", _null_int(res["rank_of"])),
        ("class", "smallint", _codes(res["class"], classes)),
    ]
    declared = ", ".join(f"{name} {kind}" for name, kind, _ in columns)
    conn.execute(text(f"DROP TABLE IF EXISTS {STAGE}; CREATE TEMP TABLE {STAGE} ({declared}) ON COMMIT DROP"))
    copy_numeric(conn, STAGE, columns)
    occ = occupancy[["enterprise_id", "parcel_id", "mu"]]
    conn.execute(
        text(
            f"DROP TABLE IF EXISTS {STAGE_OCCUPANCY};"
            f" CREATE TEMP TABLE {STAGE_OCCUPANCY} (enterprise_id bigint, parcel_id bigint, mu float8) ON COMMIT DROP"
        )
    )
    copy_numeric(
        conn,
        STAGE_OCCUPANCY,
        [
            ("enterprise_id", "bigint", occ["enterprise_id"].to_numpy(dtype=np.int64)),
            ("parcel_id", "bigint", occ["parcel_id"].to_numpy(dtype=np.int64)),
            ("mu", "float8", occ["mu"].to_numpy(dtype=float)),
        ],
    )
    conn.execute(
        text(
            f"DROP TABLE IF EXISTS {STAGE_NOTES};"
            f" CREATE TEMP TABLE {STAGE_NOTES} (enterprise_id bigint, notes text[]) ON COMMIT DROP"
        )
    )
    noted = res[res["notes"].map(bool)]
    if not noted.empty:
        # each firm's notes joined by the unit separator, split again by the database
        conn.execute(
            text(
                f"INSERT INTO {STAGE_NOTES} SELECT u.e, string_to_array(u.n, chr(31))"
                " FROM unnest(CAST(:ids AS bigint[]), CAST(:notes AS text[])) AS u(e, n)"
            ),
            {"ids": [int(e) for e in noted["enterprise_id"]], "notes": ["\x1f".join(n) for n in noted["notes"]]},
        )

    def nan(column: str) -> str:
        return f"nullif(s.{column}, 'NaN')"

    figures_json = ", ".join(f"'{name}', {nan(f'f{i}')}" for i, name in enumerate(FIGURE_FIELDS))
    value_array = ", ".join(nan(f"v{i}") for i in range(width))
    score_array = ", ".join(nan(f"s{i}") for i in range(width))
    note_array = ", ".join(f"(CAST(:notes AS text[]))[s.n{i}]" for i in range(width))
    any_note = " OR ".join(f"s.n{i} > 0" for i in range(width))
    conn.execute(
        text(
            "INSERT INTO evaluation_result (run_id, enterprise_id, segment, status, land_area_mu, parcel_ids,"
            " parcel_mu, figures, indicator_values, indicator_scores, indicator_notes, base_score, adjustment,"
            " score, rank, rank_of, class, notes)"
            " SELECT :run, s.enterprise_id, (CAST(:segments AS text[]))[s.segment],"
            " (CAST(:statuses AS text[]))[s.status], s.land, o.parcel_ids, o.parcel_mu,"
            f" jsonb_strip_nulls(jsonb_build_object({figures_json})),"
            f" CASE WHEN s.k > 0 THEN (ARRAY[{value_array}])[1:s.k] END,"
            f" CASE WHEN s.k > 0 THEN (ARRAY[{score_array}])[1:s.k] END,"
            f" CASE WHEN {any_note} THEN (ARRAY[{note_array}])[1:s.k] END,"
            f" {nan('base')}, {nan('adjustment')}, {nan('score')}, nullif(s.rank, -1), nullif(s.rank_of, -1),"
            " (CAST(:classes AS text[]))[s.class], n.notes"
            f" FROM {STAGE} s"
            " LEFT JOIN (SELECT enterprise_id, array_agg(parcel_id ORDER BY parcel_id) AS parcel_ids,"
            f"  array_agg(mu ORDER BY parcel_id) AS parcel_mu FROM {STAGE_OCCUPANCY} GROUP BY enterprise_id) o"
            " ON o.enterprise_id = s.enterprise_id"
            f" LEFT JOIN {STAGE_NOTES} n ON n.enterprise_id = s.enterprise_id"
        ),
        {"run": run_id, "segments": segments, "statuses": STATUSES, "classes": classes, "notes": NOTES},
    )


def store_parcels(conn: Connection, run_id: int, year: int, region: str | None, policy: Policy) -> None:
    """Insert the run's ``evaluation_parcel`` rows from the year's parcel statistics (fresh: the
    caller ensured them), with the class its main user got in this run (read from the stage table
    of ``store_results``)."""
    classes = sorted({c for s in policy.segments for c in policy.class_rule(s).classes})
    conn.execute(
        text(
            "INSERT INTO evaluation_parcel (run_id, parcel_id, region_code, area_mu, enterprise_count, tax_wan,"
            " value_added_wan, mu_tax, mu_value_added, main_enterprise_id, class)"
            " SELECT :run, s.parcel_id, s.region_code, s.area_mu, s.enterprise_count, s.tax_wan, s.value_added_wan,"
            " s.tax_wan / nullif(s.area_mu, 0), s.value_added_wan / nullif(s.area_mu, 0), s.main_enterprise_id,"
            " (CAST(:classes AS text[]))[st.class]"
            " FROM parcel_year_stat s"
            f" LEFT JOIN {STAGE} st ON st.enterprise_id = s.main_enterprise_id"
            " WHERE s.year = :year AND (landgis_setting('landgis.scope') IS NULL OR landgis_in_scope(s.region_code))"
            " AND (CAST(:region AS text) IS NULL OR starts_with(s.region_code, :region))"
        ),
        {"run": run_id, "year": year, "region": region, "classes": classes},
    )
