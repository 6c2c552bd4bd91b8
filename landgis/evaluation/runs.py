"""Evaluation runs: gather one year's inputs, score them under a policy, store everything.

A run stores the policy it ran (document, version and sha256), the sha256 of every input (firms,
figures, land, flags), and per enterprise the indicator values and scores, the total, the rank
and the class, plus the parcel-level 亩均 (all firms on a parcel summed). A run is written in one
savepoint: a refused or failed run leaves nothing behind. Running the same policy on unchanged
inputs returns the stored run unless ``force`` is given.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, text

from landgis.aggregates import ensure_parcel_stats
from landgis.db.engine import scope_codes
from landgis.dbio import read_frame
from landgis.errors import InvalidInput, NotFound, PermissionDenied
from landgis.evaluation.policy import FIGURE_FIELDS, Policy, parse_policy
from landgis.evaluation.scoring import merge_lessees, score_population
from landgis.evaluation.store import store_parcels, store_results
from landgis.sqlfiles import sql

STATUS_LABELS = {"rated": "已定级", "exempt": "不定等级", "vetoed": "一票否决", "merged": "合并评价"}


@dataclass
class RunInfo:
    """A stored run (``reused`` when an identical earlier run was returned instead of a new one)."""

    id: int
    policy_id: str
    policy_name: str
    policy_version: str
    policy_sha256: str
    year: int
    region_code: str | None
    inputs_sha256: str
    enterprise_count: int
    summary: dict[str, Any]
    created_by: str | None
    created_at: dt.datetime
    elapsed_ms: int | None
    reused: bool = False

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat()
        return data


@dataclass
class Inputs:
    """One year's inputs: a row per firm (``scoring.INPUT_COLUMNS`` and more) and its land."""

    firms: pd.DataFrame
    occupancy: pd.DataFrame
    checksum: str = ""


# --------------------------------------------------------------------------- scope and region


def current_scope(conn: Connection) -> str:
    """The raw region scope of this transaction, as recorded with a run ('' = unset, '*' = every
    region: an unrestricted user's, and the command line's)."""
    return str(conn.execute(text("SELECT coalesce(current_setting('landgis.scope', true), '')")).scalar_one())


def resolve_region(conn: Connection, region_code: str | None) -> str | None:
    """Check that ``region_code`` exists and is in scope; default to the caller's single scope."""
    if region_code is None:
        codes = scope_codes(conn)
        if codes is None:
            return None
        if len(codes) != 1:
            raise InvalidInput("请指定行政区划 region_code (your scope covers several regions)")
        region_code = codes[0]
    row = conn.execute(
        text("SELECT code, landgis_in_scope(code) FROM region WHERE code = :c"), {"c": region_code}
    ).first()
    if row is None:
        raise NotFound(f"行政区划 {region_code} 不存在 (no such region)")
    if not row[1]:
        raise PermissionDenied(f"行政区划 {region_code} 不在您的权限范围内 (outside your region scope)")
    return region_code


# --------------------------------------------------------------------------- inputs


def _joined_by(keys: np.ndarray, values: list[str]) -> dict[int, str]:
    """Per key (``keys`` sorted), its values joined with commas, in order."""
    out: dict[int, str] = {}
    for key, group in itertools.groupby(zip(keys.tolist(), values, strict=True), key=lambda kv: kv[0]):
        out[int(key)] = ",".join(v for _, v in group)
    return out


def gather_inputs(conn: Connection, year: int, region_code: str | None) -> Inputs:
    """The firms in scope (and region) with their figures, flags and land for ``year``."""
    firms = read_frame(
        conn,
        sql("evaluation_inputs"),
        {"year": year, "region": region_code},
        dtype={"scale": str, "industry_code": str, "production_start_date": str, "flags": str},
        booleans=["has_figures"],
    )
    span = {"year_start": dt.date(year, 1, 1), "year_end": dt.date(year, 12, 31)}
    occupancy = read_frame(conn, sql("evaluation_occupancy"), span, dtype={"tenure": str, "zone_type": str})
    occupancy = occupancy[occupancy["enterprise_id"].isin(firms["enterprise_id"])].reset_index(drop=True)
    occupancy["mu"] = occupancy["mu"].astype(float)
    for column in FIGURE_FIELDS:
        firms[column] = pd.to_numeric(firms[column], errors="coerce").astype(float)
    land = occupancy.groupby("enterprise_id")["mu"].sum()
    own = occupancy[occupancy["tenure"] == "own"].groupby("enterprise_id")["mu"].sum()
    pairs = (
        occupancy[["enterprise_id", "zone_type"]].dropna().drop_duplicates().sort_values(["enterprise_id", "zone_type"])
    )
    zones = _joined_by(pairs["enterprise_id"].to_numpy(), pairs["zone_type"].tolist())
    ids = firms["enterprise_id"]
    firms["land_mu"] = ids.map(land).fillna(0.0).astype(float)
    firms["own_mu"] = ids.map(own).fillna(0.0).astype(float)
    firms["zone_types"] = [tuple(zones[i].split(",")) if i in zones else () for i in ids.tolist()]
    firms["flags"] = firms["flags"].map(lambda v: tuple(v.split(",")) if isinstance(v, str) and v else ())
    inputs = Inputs(firms=firms, occupancy=occupancy)
    inputs.checksum = inputs_checksum(inputs)
    return inputs


def _column_bytes(values: pd.Series) -> bytes:
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return np.ascontiguousarray(values.to_numpy(dtype=float, na_value=np.nan)).tobytes()
    texts = values.astype(object).where(values.notna(), "").astype(str).tolist()
    return "\x1f".join(texts).encode("utf-8")


def inputs_checksum(inputs: Inputs) -> str:
    """sha256 over every input of a run, in a fixed column and row order."""
    digest = hashlib.sha256()
    firm_columns = [
        "enterprise_id",
        "scale",
        "industry_code",
        "production_start_date",
        "has_figures",
        *FIGURE_FIELDS,
        "flags",
    ]
    for name, frame, columns in (
        ("firms", inputs.firms, firm_columns),
        ("occupancy", inputs.occupancy, ["enterprise_id", "parcel_id", "tenure", "mu", "zone_type"]),
    ):
        digest.update(f"{name}:{len(frame)}".encode())
        for column in columns:
            digest.update(column.encode())
            digest.update(_column_bytes(frame[column]))
    return digest.hexdigest()


# --------------------------------------------------------------------------- running


def _same_run(conn: Connection, policy: Policy, year: int, region: str | None, checksum: str) -> int | None:
    found = conn.execute(
        text(
            "SELECT id FROM evaluation_run WHERE policy_sha256 = :p AND year = :y"
            " AND region_code IS NOT DISTINCT FROM :r AND scope = :s AND inputs_sha256 = :c"
            " ORDER BY id DESC LIMIT 1"
        ),
        {"p": policy.sha256, "y": year, "r": region, "s": current_scope(conn), "c": checksum},
    ).scalar()
    return int(found) if found is not None else None


def run_evaluation(
    conn: Connection,
    policy: Policy,
    year: int,
    *,
    region_code: str | None = None,
    actor: str | None = None,
    force: bool = False,
) -> RunInfo:
    """Evaluate every firm in scope (and in ``region_code``) for ``year`` and store the run.

    Raises ``InvalidInput`` when there is nothing to evaluate; nothing is stored then.
    """
    started = time.monotonic()
    if not 1990 <= year <= 2100:
        raise InvalidInput(f"year: 年度 {year} 无效 (year out of range)")
    region = resolve_region(conn, region_code)
    inputs = gather_inputs(conn, year, region)
    where = f"行政区划 {region}" if region else "当前范围"
    if inputs.firms.empty or not inputs.firms["has_figures"].any():
        raise InvalidInput(f"{where}没有 {year} 年度的企业指标数据, 无法评价 (no figures for {year})")
    if not force:
        same = _same_run(conn, policy, year, region, inputs.checksum)
        if same is not None:
            info = get_run(conn, same)
            info.reused = True
            return info
    frame = inputs.firms
    if policy.merge_lessees_into_owner:
        frame = merge_lessees(frame, inputs.occupancy)
    scored = score_population(policy, frame, year)
    if scored.results.empty:
        raise InvalidInput(f"{where}没有企业属于评价办法 {policy.id} 的任何分组 (no firm matches a segment)")
    with conn.begin_nested():
        run_id = int(
            conn.execute(
                text(
                    "INSERT INTO evaluation_run (policy_id, policy_name, policy_version, policy_sha256, policy, year,"
                    " region_code, scope, inputs_sha256, enterprise_count, summary, created_by)"
                    " VALUES (:pid, :pname, :pver, :psha, CAST(:pdoc AS jsonb), :year, :region, :scope, :isha,"
                    " :count, CAST(:summary AS jsonb), :actor) RETURNING id"
                ),
                {
                    "pid": policy.id,
                    "pname": policy.name,
                    "pver": policy.version,
                    "psha": policy.sha256,
                    "pdoc": json.dumps(policy.document(), ensure_ascii=False),
                    "year": year,
                    "region": region,
                    "scope": current_scope(conn),
                    "isha": inputs.checksum,
                    "count": len(scored.results),
                    "summary": json.dumps(scored.summary(), ensure_ascii=False),
                    "actor": actor,
                },
            ).scalar_one()
        )
        store_results(conn, run_id, policy, scored, frame, inputs.occupancy)
        ensure_parcel_stats(conn, year)
        store_parcels(conn, run_id, year, region, policy)
        parcels = conn.execute(
            text(
                "SELECT count(*), coalesce(sum(area_mu), 0), coalesce(sum(tax_wan), 0),"
                " coalesce(sum(value_added_wan), 0) FROM evaluation_parcel WHERE run_id = :r"
            ),
            {"r": run_id},
        ).one()
        summary = scored.summary()
        summary["parcels"] = {
            "count": int(parcels[0]),
            "area_mu": float(parcels[1]),
            "tax_wan": float(parcels[2]),
            "value_added_wan": float(parcels[3]),
            "mu_tax": float(parcels[2]) / float(parcels[1]) if parcels[1] else None,
            "mu_value_added": float(parcels[3]) / float(parcels[1]) if parcels[1] else None,
        }
        conn.execute(
            text("UPDATE evaluation_run SET summary = CAST(:s AS jsonb), elapsed_ms = :ms WHERE id = :id"),
            {
                "s": json.dumps(summary, ensure_ascii=False),
                "ms": int((time.monotonic() - started) * 1000),
                "id": run_id,
            },
        )
    return get_run(conn, run_id)


# --------------------------------------------------------------------------- reading runs

_RUN_COLUMNS = (
    "id, policy_id, policy_name, policy_version, policy_sha256, year, region_code, inputs_sha256,"
    " enterprise_count, summary, created_by, created_at, elapsed_ms"
)


def _run_info(row: Any) -> RunInfo:
    return RunInfo(
        id=int(row.id),
        policy_id=row.policy_id,
        policy_name=row.policy_name,
        policy_version=row.policy_version,
        policy_sha256=row.policy_sha256,
        year=int(row.year),
        region_code=row.region_code,
        inputs_sha256=row.inputs_sha256,
        enterprise_count=int(row.enterprise_count),
        summary=dict(row.summary),
        created_by=row.created_by,
        created_at=row.created_at,
        elapsed_ms=row.elapsed_ms,
    )


def get_run(conn: Connection, run_id: int) -> RunInfo:
    """A run visible in the caller's scope, or ``NotFound``."""
    row = conn.execute(
        text(f"SELECT {_RUN_COLUMNS} FROM evaluation_run WHERE id = :id AND landgis_in_scope(region_code)"),  # noqa: S608
        {"id": run_id},
    ).first()
    if row is None:
        raise NotFound(f"评价批次 {run_id} 不存在 (no such evaluation run)")
    return _run_info(row)


def run_policy(conn: Connection, run_id: int) -> Policy:
    """The policy a run was made with, as stored with it."""
    document = conn.execute(text("SELECT policy FROM evaluation_run WHERE id = :id"), {"id": run_id}).scalar()
    if document is None:
        raise NotFound(f"评价批次 {run_id} 不存在 (no such evaluation run)")
    return parse_policy(document, f"评价批次 {run_id} 的评价办法")


def list_runs(conn: Connection, year: int | None = None, limit: int = 100) -> list[RunInfo]:
    """Runs visible in the caller's scope, newest first."""
    rows = conn.execute(
        text(
            f"SELECT {_RUN_COLUMNS} FROM evaluation_run"  # noqa: S608
            " WHERE landgis_in_scope(region_code) AND (CAST(:y AS integer) IS NULL OR year = :y)"
            " ORDER BY id DESC LIMIT :n"
        ),
        {"y": year, "n": limit},
    ).all()
    return [_run_info(r) for r in rows]


def delete_run(conn: Connection, run_id: int) -> None:
    """Delete a run and its results (the latest earlier run of that year becomes current again)."""
    get_run(conn, run_id)
    conn.execute(text("DELETE FROM evaluation_run WHERE id = :id"), {"id": run_id})
