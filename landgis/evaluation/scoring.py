"""Scoring a population of enterprises under a policy: a pure function of a table, no database.

Per segment, each indicator's value is ``numerator / denominator * scale`` (missing when either
figure is missing or the denominator is not positive); its score is ``value / benchmark * weight``
(``benchmark / value * weight`` when lower is better), capped at ``cap * weight`` when the policy
says so; a missing value scores zero, a penalty, or the segment's mean score for that indicator.
The total is the sum of the indicator scores plus the 加分/减分 items. Classes come from score
thresholds or percentile shares of the rank within the segment; 一票否决 firms get their veto
class and 不定等级 firms no class.

Equal scores are ordered by 亩均税收 (higher first), then by enterprise id, so a percentile class
never depends on row order; with ``ties: share`` firms with equal scores share the better class.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from landgis.evaluation.policy import FIGURE_FIELDS, ClassRule, IndicatorSpec, Policy, Segment

#: Columns the input table must have (one row per enterprise); see ``landgis.evaluation.runs``.
INPUT_COLUMNS = (
    "enterprise_id",
    "scale",
    "industry_code",
    "production_start_date",
    "has_figures",
    *FIGURE_FIELDS,
    "land_mu",
    "own_mu",
    "zone_types",
    "flags",
)

#: How an indicator score came about (stored per line and shown in the explanation).
NOTE_CAPPED = "capped"
NOTE_MISSING_ZERO = "missing_zero"
NOTE_MISSING_MEAN = "missing_segment_mean"
NOTE_MISSING_PENALTY = "missing_penalty"
NOTE_NO_BENCHMARK = "no_benchmark"


@dataclass
class Scored:
    """The outcome of scoring a population.

    ``results``: one row per enterprise given a segment (enterprise_id, segment, status,
    base_score, adjustment, score, rank, rank_of, class, notes); ``lines``: one row per
    enterprise and indicator (enterprise_id, position, indicator, value, benchmark, score, note);
    ``benchmarks`` and ``mean_scores``: per segment and indicator, what was used; ``skipped``:
    firms left out and why.
    """

    results: pd.DataFrame
    lines: pd.DataFrame
    benchmarks: dict[str, dict[str, float | None]]
    mean_scores: dict[str, dict[str, float | None]]
    skipped: dict[str, int] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """Counts per segment, status and class, with the benchmarks and mean scores used."""
        segments: dict[str, Any] = {}
        for seg, rows in self.results.groupby("segment", sort=False):
            classes = rows["class"].dropna().value_counts().to_dict()
            segments[str(seg)] = {
                "count": len(rows),
                "status": {str(k): int(v) for k, v in rows["status"].value_counts().items()},
                "classes": {str(k): int(v) for k, v in classes.items()},
                "benchmarks": self.benchmarks.get(str(seg), {}),
                "mean_scores": self.mean_scores.get(str(seg), {}),
            }
        return {"segments": segments, "skipped": self.skipped}


def _finite(value: float) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def segment_mask(segment: Segment, frame: pd.DataFrame) -> pd.Series:
    """Which rows satisfy every condition of ``segment.when``."""
    when = segment.when
    mask = pd.Series(True, index=frame.index)
    if when.scale != "any":
        mask &= frame["scale"] == when.scale
    if when.min_land_mu is not None:
        mask &= frame["land_mu"] >= when.min_land_mu
    if when.max_land_mu is not None:
        mask &= frame["land_mu"] < when.max_land_mu
    if when.own_land is True:
        mask &= frame["own_mu"] > 0
    elif when.own_land is False:
        mask &= ~(frame["own_mu"] > 0)
    if when.zone_types:
        wanted = set(when.zone_types)
        mask &= frame["zone_types"].map(lambda types: bool(wanted & set(types or ())))
    if when.industry_prefixes:
        mask &= frame["industry_code"].fillna("").str.startswith(tuple(when.industry_prefixes))
    return mask


def _labelled(hit: pd.Series, label: str) -> pd.Series:
    """``label`` where ``hit``, None elsewhere."""
    out = pd.Series([None] * len(hit), index=hit.index, dtype=object)
    out[hit] = label
    return out


def _has_flag(frame: pd.DataFrame, flag: str) -> pd.Series:
    return frame["flags"].map(lambda flags: flag in (flags or ()))


def _exemptions(policy: Policy, frame: pd.DataFrame, year: int) -> pd.Series:
    """The label of the first exemption each row meets (None when none)."""
    labels = pd.Series([None] * len(frame), index=frame.index, dtype=object)
    year_end = pd.Timestamp(year=year, month=12, day=31)
    started = pd.to_datetime(frame["production_start_date"], errors="coerce")
    for rule in policy.exemptions:
        hit = pd.Series(False, index=frame.index)
        if rule.flag is not None:
            hit |= _has_flag(frame, rule.flag)
        if rule.industry_prefixes:
            hit |= frame["industry_code"].fillna("").str.startswith(tuple(rule.industry_prefixes))
        if rule.producing_years_below is not None:
            years = (year_end - started).dt.days / 365.25
            hit |= years.notna() & (years < rule.producing_years_below)
        labels = labels.where(labels.notna() | ~hit, rule.label)
    return labels


def indicator_values(spec: IndicatorSpec, frame: pd.DataFrame) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(value, numerator, denominator) of one indicator; value is NaN where it cannot be computed."""
    d = spec.definition
    num = pd.to_numeric(frame[d.numerator], errors="coerce").astype(float)
    den = pd.to_numeric(frame[d.denominator], errors="coerce").astype(float)
    valid = num.notna() & den.notna() & (den > 0)
    value = (num / den.where(valid)) * d.scale
    return value.where(valid), num, den


def _score_indicator(
    spec: IndicatorSpec, frame: pd.DataFrame, population: pd.Series
) -> tuple[pd.Series, pd.Series, pd.Series, float | None, float | None]:
    """(value, score, note, benchmark, mean score) of one indicator over one segment's rows."""
    value, num, den = indicator_values(spec, frame)
    valid = value.notna()
    basis = population & valid
    if isinstance(spec.benchmark, str):
        if spec.benchmark == "segment_mean":
            bench = float(value[basis].mean()) if basis.any() else math.nan
        else:  # segment_weighted_mean: Σ numerator / Σ denominator, e.g. area-weighted 亩均
            total = float(den[basis].sum())
            bench = float(num[basis].sum()) / total * spec.definition.scale if total > 0 else math.nan
    else:
        bench = float(spec.benchmark)
    note = pd.Series([None] * len(frame), index=frame.index, dtype=object)
    if not (math.isfinite(bench) and bench > 0):
        valid = pd.Series(False, index=frame.index)
        note[:] = NOTE_NO_BENCHMARK
        bench_used: float | None = None
    else:
        bench_used = bench
    weight = spec.weight
    if bench_used is None:
        raw = pd.Series(math.nan, index=frame.index)
    elif spec.direction == "higher":
        raw = value / bench_used * weight
    else:
        with np.errstate(divide="ignore"):
            raw = bench_used / value * weight
        raw = raw.where(~(valid & (value <= 0)), math.inf)
    if spec.cap is not None:
        limit = spec.cap * weight
        capped = valid & (raw > limit)
        raw = raw.where(~capped, limit)
        note = note.where(~capped, NOTE_CAPPED)
    raw = raw.where(valid)
    scored = population & valid
    mean_score = float(raw[scored].mean()) if scored.any() else math.nan
    missing = ~valid
    if spec.missing == "zero":
        fill, label = 0.0, NOTE_MISSING_ZERO
    elif spec.missing == "penalty":
        fill, label = -float(spec.penalty or 0.0), NOTE_MISSING_PENALTY
    else:
        fill, label = (mean_score if math.isfinite(mean_score) else 0.0), NOTE_MISSING_MEAN
    score = raw.where(~missing, fill)
    note = note.where(~missing | (note == NOTE_NO_BENCHMARK), label)
    return value, score, note, bench_used, _finite(mean_score)


def _classes(rule: ClassRule, rows: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """(rank, class) of the ranked rows of one segment (1 = best)."""
    n = len(rows)
    if n == 0:
        return pd.Series(dtype="Int64"), pd.Series(dtype=object)
    score = rows["score"].to_numpy(dtype=float)
    tie = rows["tie_key"].to_numpy(dtype=float)
    ids = rows["enterprise_id"].to_numpy()
    order = np.lexsort((ids, -tie, -score))
    position = np.empty(n, dtype=np.int64)
    position[order] = np.arange(1, n + 1)
    if rule.ties == "share":
        # competition ranking on the score alone: equal scores take the best position among them
        sorted_scores = score[order]
        first = np.searchsorted(-sorted_scores, -sorted_scores, side="left") + 1
        shared = np.empty(n, dtype=np.int64)
        shared[order] = first
        position = shared
    names = rule.classes
    if rule.method == "percentile":
        shares = np.array([rule.shares[c] for c in names] if rule.shares else [], dtype=float)
        cumulative = np.cumsum(shares)
        cumulative[-1] = 1.0
        index = np.searchsorted(cumulative, position / n - 1e-9, side="left")
        klass = np.array(names, dtype=object)[np.minimum(index, len(names) - 1)]
    else:
        bounds = rule.thresholds or {}
        klass = np.full(n, names[-1], dtype=object)
        for name in reversed(names[:-1]):
            bound = bounds[name]
            assert bound is not None
            klass = np.where(score >= bound, name, klass)
    return pd.Series(position, index=rows.index), pd.Series(klass, index=rows.index, dtype=object)


def merge_lessees(frame: pd.DataFrame, occupancy: pd.DataFrame) -> pd.DataFrame:
    """出租方与承租方合并评价: add each pure lessee's figures to its landlords' and mark it merged.

    A lessee (land of its own: none) is merged when every parcel it leases has an owner in the
    population (the ``own`` occupant using most of it); its figures are split over those parcels
    by leased area. ``occupancy`` has enterprise_id, parcel_id, tenure and mu (亩) per row.
    Returns a copy of ``frame`` with summed figures and a ``merged_into`` column.
    """
    out = frame.copy()
    out["merged_into"] = pd.Series(pd.NA, index=out.index, dtype="Int64")
    if occupancy.empty:
        return out
    ids = set(out["enterprise_id"])
    occ = occupancy[occupancy["enterprise_id"].isin(ids)]
    owners = (
        occ[occ["tenure"] == "own"]
        .sort_values(["parcel_id", "mu", "enterprise_id"], ascending=[True, False, True])
        .drop_duplicates("parcel_id")
        .set_index("parcel_id")["enterprise_id"]
    )
    by_id = out.set_index("enterprise_id")
    lessee_ids = by_id.index[~(by_id["own_mu"] > 0) & (by_id["land_mu"] > 0)]
    leases = occ[occ["enterprise_id"].isin(lessee_ids)].copy()
    leases["owner"] = leases["parcel_id"].map(owners)
    ownerless = set(leases.loc[leases["owner"].isna(), "enterprise_id"])
    leases = leases[~leases["enterprise_id"].isin(ownerless) & (leases["owner"] != leases["enterprise_id"])]
    if leases.empty:
        return out
    total_mu = leases.groupby("enterprise_id")["mu"].transform("sum")
    leases["share"] = np.where(
        total_mu > 0, leases["mu"] / total_mu, 1.0 / leases.groupby("enterprise_id")["mu"].transform("size")
    )
    figures = by_id.loc[leases["enterprise_id"], list(FIGURE_FIELDS)].to_numpy(dtype=float)
    part = pd.DataFrame(figures * leases["share"].to_numpy()[:, None], columns=list(FIGURE_FIELDS))
    part["owner"] = leases["owner"].astype("int64").to_numpy()
    has_value = pd.DataFrame(~np.isnan(figures), columns=list(FIGURE_FIELDS))
    has_value["owner"] = part["owner"]
    added = part.groupby("owner").sum(min_count=1)
    present = has_value.groupby("owner").any()
    for column in FIGURE_FIELDS:
        owner_rows = out["enterprise_id"].isin(added.index)
        extra = out.loc[owner_rows, "enterprise_id"].map(added[column])
        seen = out.loc[owner_rows, "enterprise_id"].map(present[column]).astype(bool)
        base = out.loc[owner_rows, column].astype(float)
        out.loc[owner_rows, column] = np.where(seen, base.fillna(0.0) + extra.fillna(0.0), base)
    # a lessee on several landlords' parcels is reported as merged into the one it leases most from
    ordered = leases.sort_values(["enterprise_id", "mu", "parcel_id"], ascending=[True, False, True])
    merged = ordered.groupby("enterprise_id")["owner"].first().astype("int64")
    rows = out["enterprise_id"].isin(merged.index)
    out.loc[rows, "merged_into"] = out.loc[rows, "enterprise_id"].map(merged).astype("Int64")
    return out


def score_population(policy: Policy, frame: pd.DataFrame, year: int) -> Scored:
    """Score and class every row of ``frame`` (columns ``INPUT_COLUMNS``) under ``policy``."""
    frame = frame.reset_index(drop=True)
    if "merged_into" not in frame:
        frame = frame.assign(merged_into=pd.Series(pd.NA, index=frame.index, dtype="Int64"))
    skipped: dict[str, int] = {}
    usable = pd.Series(True, index=frame.index)
    if policy.require_figures:
        no_figures = ~frame["has_figures"].astype(bool)
        skipped["no_figures"] = int(no_figures.sum())
        usable &= ~no_figures
    segment = pd.Series([None] * len(frame), index=frame.index, dtype=object)
    for seg in policy.segments:
        segment = segment.where(segment.notna() | ~(usable & segment_mask(seg, frame)), seg.id)
    skipped["no_segment"] = int((usable & segment.isna()).sum())
    keep = segment.notna()
    frame, segment = frame[keep].copy(), segment[keep]
    frame["segment"] = segment

    merged = frame["merged_into"].notna()
    exempt_label = _exemptions(policy, frame, year)
    veto_class = pd.Series([None] * len(frame), index=frame.index, dtype=object)
    veto_labels: list[pd.Series] = []
    for veto in policy.vetoes:
        hit = _has_flag(frame, veto.flag) & ~merged
        for index in hit[hit].index:
            # several vetoes: the worst class among them
            order = policy.class_rule(policy.segment(str(frame.at[index, "segment"]))).classes
            current = veto_class[index]
            if current is None or order.index(veto.class_) > order.index(current):
                veto_class[index] = veto.class_
        veto_labels.append(_labelled(hit, veto.label or veto.flag))
    status = pd.Series("rated", index=frame.index, dtype=object)
    status = status.where(exempt_label.isna(), "exempt")
    status = status.where(veto_class.isna(), "vetoed")
    status = status.where(~merged, "merged")
    frame["status"] = status

    line_frames: list[pd.DataFrame] = []
    benchmarks: dict[str, dict[str, float | None]] = {}
    mean_scores: dict[str, dict[str, float | None]] = {}
    base = pd.Series(0.0, index=frame.index)
    for seg in policy.segments:
        rows = frame["segment"] == seg.id
        if not rows.any():
            continue
        part = frame[rows & ~merged]
        population = part["status"].isin(("rated", "vetoed"))
        benchmarks[seg.id], mean_scores[seg.id] = {}, {}
        for position, spec in enumerate(seg.indicators):
            value, score, note, bench, mean_score = _score_indicator(spec, part, population)
            benchmarks[seg.id][spec.indicator] = bench
            mean_scores[seg.id][spec.indicator] = mean_score
            base.loc[part.index] += score
            line_frames.append(
                pd.DataFrame(
                    {
                        "enterprise_id": part["enterprise_id"].to_numpy(),
                        "position": position,
                        "indicator": spec.indicator,
                        "value": value.to_numpy(dtype=float),
                        "benchmark": bench if bench is not None else math.nan,
                        "score": score.to_numpy(dtype=float),
                        "note": note.to_numpy(dtype=object),
                    }
                )
            )
    adjustment = pd.Series(0.0, index=frame.index)
    adjust_labels: list[pd.Series] = []
    for item in policy.adjustments:
        hit = _has_flag(frame, item.flag) & ~merged
        adjustment = adjustment + np.where(hit, item.points, 0.0)
        sign = "+" if item.points > 0 else ""
        label = f"{item.label or item.flag} ({sign}{item.points:g}分)"
        adjust_labels.append(_labelled(hit, label))
    frame["base_score"] = base.where(~merged)
    frame["adjustment"] = adjustment.where(~merged)
    frame["score"] = (base + adjustment).where(~merged)
    land = frame["land_mu"].astype(float)
    tax = pd.to_numeric(frame["tax_wan"], errors="coerce").astype(float)
    frame["tie_key"] = (tax / land.where(land > 0)).fillna(-math.inf)

    frame["rank"] = pd.Series(pd.NA, index=frame.index, dtype="Int64")
    frame["rank_of"] = pd.Series(pd.NA, index=frame.index, dtype="Int64")
    frame["class"] = veto_class
    for seg in policy.segments:
        ranked = frame[(frame["segment"] == seg.id) & (frame["status"] == "rated")]
        rank, klass = _classes(policy.class_rule(seg), ranked)
        frame.loc[ranked.index, "rank"] = rank.astype("Int64")
        frame.loc[ranked.index, "rank_of"] = len(ranked)
        frame.loc[ranked.index, "class"] = klass

    notes = pd.Series([list[str]() for _ in range(len(frame))], index=frame.index, dtype=object)
    for labels in [exempt_label.where(frame["status"] == "exempt"), *veto_labels, *adjust_labels]:
        for index in labels.dropna().index:
            notes[index].append(str(labels[index]))
    owners = frame["merged_into"]
    for index in frame.index[merged]:
        notes[index].append(f"承租企业, 并入出租方 (企业编号 {owners[index]}) 合并评价")
    frame["notes"] = notes
    lines = pd.concat(line_frames, ignore_index=True) if line_frames else pd.DataFrame()
    columns = ["enterprise_id", "segment", "status", "base_score", "adjustment", "score", "rank", "rank_of", "class"]
    results = frame[[*columns, "notes", "merged_into"]].reset_index(drop=True)
    return Scored(results=results, lines=lines, benchmarks=benchmarks, mean_scores=mean_scores, skipped=skipped)
