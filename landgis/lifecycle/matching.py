"""Matching freed land to projects: a project's request returns ranked parcels and blocks of
freed, vacant or idle land, each rank with its reasons.

Eligibility: the candidate's available area lies in the requested range (亩); its land use is
industrial (0601, 1001xx, M*) or unknown; its planned FAR ceiling, when set, allows the FAR the
project needs. Candidates are single parcels, contiguous blocks of touching parcels (grown
greedily from each parcel towards the middle of the range), and, when the project does not need
one contiguous block, groups of nearby parcels.

Score (0-100), every part reported as a reason:
- area fit, 30: 30 x (1 - |area - middle of range| / half the range);
- preferred zones, 25: 25 x the share of the area inside the preferred zones;
- availability, 20: 20 x area-weighted 1.0 freed (已腾出), 0.75 vacant (储备/空地), 0.25 idle
  (闲置, must be disposed of first);
- consolidation, 10: 10 / number of parcels, halved for a non-contiguous group;
- industry, 15: 15 x the share of enterprises within 500 m in the project's GB/T 4754 大类;
- investment intensity: -10 when the project invests less per 亩 than the median committed by the
  标准地 agreements of the candidate's zone.
Ties are broken by area fit, then by land code.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from importlib import resources
from typing import Any

import shapely
from sqlalchemy import Connection, text

from landgis.errors import InvalidInput

AVAILABILITY_WEIGHT = {"freed": 1.0, "vacant": 0.75, "idle": 0.25}
AVAILABILITY_LABEL = {"freed": "已腾出", "vacant": "储备/空地", "idle": "闲置土地 (需先处置)"}
WEIGHTS = {"area": 30.0, "zone": 25.0, "availability": 20.0, "consolidation": 10.0, "industry": 15.0}
INTENSITY_PENALTY = 10.0
INDUSTRIAL_PREFIXES = ("0601", "1001", "M")
MAX_BLOCK_PARCELS = 12


@dataclass
class ProjectRequest:
    """What a project needs. Areas in 亩, intensity in 万元/亩."""

    area_min_mu: float
    area_max_mu: float
    industry_code: str | None = None
    far_min: float | None = None
    investment_intensity: float | None = None
    preferred_zone_ids: list[int] = field(default_factory=list)
    contiguous: bool = True
    region: str | None = None
    limit: int = 20
    touch_m: float = 1.0
    nearby_m: float = 200.0
    neighbour_radius_m: float = 500.0

    def validate(self) -> None:
        if not 0 < self.area_min_mu <= self.area_max_mu:
            raise InvalidInput(
                f"面积范围无效 (0 < area_min_mu <= area_max_mu), 实为 {self.area_min_mu}-{self.area_max_mu} 亩"
            )
        if self.area_max_mu > 100_000:
            raise InvalidInput("面积上限过大 (area_max_mu)")
        if self.far_min is not None and not 0 <= self.far_min <= 20:
            raise InvalidInput("容积率要求应在 0-20 之间 (far_min)")
        if self.investment_intensity is not None and self.investment_intensity < 0:
            raise InvalidInput("投资强度不能为负 (investment_intensity)")
        if self.industry_code is not None and not (
            len(self.industry_code) >= 3 and self.industry_code[0].isalpha() and self.industry_code[1:3].isdigit()
        ):
            raise InvalidInput(f"行业代码应为 GB/T 4754 门类字母加数字, 如 C3311 (industry_code): {self.industry_code}")
        if not 1 <= self.limit <= 200:
            raise InvalidInput("limit 应在 1-200 之间")
        if not 0 <= self.touch_m <= 50 or not 0 < self.nearby_m <= 2000:
            raise InvalidInput("touch_m 应在 0-50 米, nearby_m 应在 0-2000 米之间")


def _sql(name: str) -> str:
    return resources.files("landgis.lifecycle").joinpath("sql", name).read_text(encoding="utf-8")


def _industrial(code: str | None) -> bool:
    return code is None or code.upper().startswith(INDUSTRIAL_PREFIXES)


def _adjacent(parcels: list[dict[str, Any]], distance: float) -> dict[int, set[int]]:
    """Which parcels lie within ``distance`` metres of each other (GK coordinates)."""
    geoms = {p["id"]: shapely.from_wkt(p["wkt"]) for p in parcels}
    ids = list(geoms)
    tree = shapely.STRtree([geoms[i] for i in ids])
    out: dict[int, set[int]] = defaultdict(set)
    for i in ids:
        for j in tree.query(geoms[i], predicate="dwithin", distance=distance):
            other = ids[int(j)]
            if other != i:
                out[i].add(other)
    return out


def _grow(
    seed: int, members: dict[int, dict[str, Any]], adjacency: dict[int, set[int]], req: ProjectRequest
) -> frozenset[int] | None:
    """A connected set grown from ``seed`` towards the middle of the range, if one fits it."""
    middle = (req.area_min_mu + req.area_max_mu) / 2
    chosen = {seed}
    total = members[seed]["available_mu"]
    while total < req.area_min_mu and len(chosen) < MAX_BLOCK_PARCELS:
        frontier = {n for c in chosen for n in adjacency.get(c, set()) if n in members and n not in chosen}
        options = [n for n in frontier if total + members[n]["available_mu"] <= req.area_max_mu]
        if not options:
            return None
        best = min(options, key=lambda n: (abs(total + members[n]["available_mu"] - middle), members[n]["land_code"]))
        chosen.add(best)
        total += members[best]["available_mu"]
    return frozenset(chosen) if req.area_min_mu <= total <= req.area_max_mu and len(chosen) > 1 else None


def match(conn: Connection, req: ProjectRequest, *, as_of: dt.date | None = None) -> dict[str, Any]:
    """Ranked candidates for ``req`` among the land in the caller's scope, with reasons."""
    req.validate()
    as_of = as_of or dt.date.today()
    rows = [
        dict(r)
        for r in conn.execute(
            text(_sql("matching_available.sql")),
            {"as_of": as_of, "region": req.region, "touch_m": req.touch_m, "nearby_m": req.nearby_m},
        ).mappings()
    ]
    excluded: dict[str, int] = defaultdict(int)
    usable = {}
    for r in rows:
        if not _industrial(r["land_use_code"]):
            excluded["用途非工业 (land use is not industrial)"] += 1
        elif req.far_min is not None and r["far_max"] is not None and r["far_max"] < req.far_min:
            excluded[f"规划容积率上限低于 {req.far_min:g} (FAR ceiling too low)"] += 1
        else:
            usable[r["id"]] = r

    groups: dict[frozenset[int], bool] = {}  # parcel set -> contiguous
    for pid, r in usable.items():
        if req.area_min_mu <= r["available_mu"] <= req.area_max_mu:
            groups[frozenset([pid])] = True
    for key, contiguous, distance in (("block", True, req.touch_m), ("neighbourhood", False, req.nearby_m)):
        if not contiguous and req.contiguous:
            continue
        clusters: dict[int, dict[int, dict[str, Any]]] = defaultdict(dict)
        for pid, r in usable.items():
            clusters[r[key]][pid] = r
        for members in clusters.values():
            if len(members) < 2:
                continue
            adjacency = _adjacent(list(members.values()), distance)
            for seed in sorted(members):
                grown = _grow(seed, members, adjacency, req)
                if grown is not None and grown not in groups:
                    groups[grown] = contiguous or _connected(grown, adjacency_touch(usable, grown, req.touch_m))
    too_small_or_big = sum(1 for r in usable.values() if not req.area_min_mu <= r["available_mu"] <= req.area_max_mu)
    if too_small_or_big:
        excluded["单宗面积不在需求范围内 (area out of range; may still be part of a block)"] = too_small_or_big

    candidate_ids = sorted({pid for g in groups for pid in g})
    affinity = _industry_affinity(conn, candidate_ids, req, as_of)
    intensity = {
        r["zone_id"]: float(r["median_intensity"])
        for r in conn.execute(text(_sql("matching_zone_intensity.sql"))).mappings()
    }
    ranked = [_score(sorted(g), contiguous, usable, req, affinity, intensity) for g, contiguous in groups.items()]
    ranked.sort(key=lambda c: (-c["score"], -c["parts"]["area"], c["land_codes"][0]))
    for rank, candidate in enumerate(ranked, start=1):
        candidate["rank"] = rank
    return {
        "as_of": as_of,
        "request": asdict(req),
        "available_parcels": len(rows),
        "excluded": dict(excluded),
        "candidates": ranked[: req.limit],
        "total_candidates": len(ranked),
    }


def adjacency_touch(usable: dict[int, dict[str, Any]], group: frozenset[int], touch_m: float) -> dict[int, set[int]]:
    return _adjacent([usable[i] for i in group], touch_m)


def _connected(group: frozenset[int], adjacency: dict[int, set[int]]) -> bool:
    start = next(iter(group))
    seen, stack = {start}, [start]
    while stack:
        for n in adjacency.get(stack.pop(), set()):
            if n in group and n not in seen:
                seen.add(n)
                stack.append(n)
    return seen == set(group)


def _industry_affinity(
    conn: Connection, ids: list[int], req: ProjectRequest, as_of: dt.date
) -> dict[int, tuple[int, int]]:
    if not req.industry_code or not ids:
        return {}
    rows = conn.execute(
        text(_sql("matching_neighbours.sql")),
        {"ids": ids, "radius_m": req.neighbour_radius_m, "division": req.industry_code[:3].upper(), "as_of": as_of},
    ).mappings()
    return {r["parcel_id"]: (int(r["same"]), int(r["firms"])) for r in rows}


def _score(
    ids: list[int],
    contiguous: bool,
    usable: dict[int, dict[str, Any]],
    req: ProjectRequest,
    affinity: dict[int, tuple[int, int]],
    intensity: dict[int, float],
) -> dict[str, Any]:
    parcels = [usable[i] for i in ids]
    area = sum(p["available_mu"] for p in parcels)
    middle = (req.area_min_mu + req.area_max_mu) / 2
    half = (req.area_max_mu - req.area_min_mu) / 2
    fit = 1.0 if half == 0 else max(0.0, 1.0 - abs(area - middle) / half)
    parts: dict[str, float] = {}
    reasons: list[str] = []

    parts["area"] = WEIGHTS["area"] * fit
    reasons.append(
        f"面积 {area:.2f} 亩, 需求 {req.area_min_mu:g}-{req.area_max_mu:g} 亩, 距中值 {middle:g} 亩 {abs(area - middle):.2f} 亩"
        f" (+{parts['area']:.1f})"
    )
    if req.preferred_zone_ids:
        inside = sum(p["available_mu"] for p in parcels if p["zone_id"] in req.preferred_zone_ids)
        parts["zone"] = WEIGHTS["zone"] * inside / area
        reasons.append(
            f"位于意向园区的面积占 {inside / area:.0%} (+{parts['zone']:.1f})" if inside else "不在意向园区 (+0.0)"
        )
    else:
        parts["zone"] = 0.0
        reasons.append("未指定意向园区 (+0.0)")

    weight = sum(AVAILABILITY_WEIGHT[p["availability"]] * p["available_mu"] for p in parcels) / area
    parts["availability"] = WEIGHTS["availability"] * weight
    kinds = "、".join(sorted({AVAILABILITY_LABEL[p["availability"]] for p in parcels}))
    reasons.append(f"供地条件: {kinds} (+{parts['availability']:.1f})")

    parts["consolidation"] = WEIGHTS["consolidation"] / len(parcels) * (1.0 if contiguous else 0.5)
    shape = (
        "单宗地"
        if len(parcels) == 1
        else (f"{len(parcels)}宗连片地块" if contiguous else f"{len(parcels)}宗相邻但不连片的地块")
    )
    reasons.append(f"{shape} (+{parts['consolidation']:.1f})")

    if req.industry_code:
        same = sum(affinity.get(i, (0, 0))[0] for i in ids)
        firms = sum(affinity.get(i, (0, 0))[1] for i in ids)
        share = same / firms if firms else 0.0
        parts["industry"] = WEIGHTS["industry"] * share
        division = req.industry_code[:3].upper()
        reasons.append(
            f"周边{req.neighbour_radius_m:g}米内 {firms} 家企业中 {same} 家属 {division} 大类 (+{parts['industry']:.1f})"
            if firms
            else "周边无在产企业 (+0.0)"
        )
    else:
        parts["industry"] = 0.0

    parts["intensity"] = 0.0
    if req.investment_intensity is not None:
        zones = {p["zone_id"] for p in parcels if p["zone_id"] in intensity}
        if zones:
            expected = max(intensity[z] for z in zones)
            if req.investment_intensity < expected:
                parts["intensity"] = -INTENSITY_PENALTY
                reasons.append(
                    f"投资强度 {req.investment_intensity:g} 万元/亩低于园区标准地承诺中位数 {expected:g} (-{INTENSITY_PENALTY:g})"
                )
            else:
                reasons.append(f"投资强度 {req.investment_intensity:g} 万元/亩不低于园区标准地承诺中位数 {expected:g}")
    if req.far_min is not None:
        ceilings = [p["far_max"] for p in parcels if p["far_max"] is not None]
        reasons.append(
            f"规划容积率上限 {min(ceilings):g}, 满足项目要求 {req.far_min:g}"
            if ceilings
            else "规划容积率上限未设定, 需核实规划条件"
        )
    score = round(sum(parts.values()), 1)
    return {
        "score": score,
        "parts": {k: round(v, 2) for k, v in parts.items()},
        "parcel_ids": ids,
        "land_codes": [p["land_code"] for p in parcels],
        "zone_ids": sorted({p["zone_id"] for p in parcels if p["zone_id"] is not None}),
        "area_mu": round(area, 4),
        "contiguous": contiguous,
        "parcels": [
            {
                "parcel_id": p["id"],
                "land_code": p["land_code"],
                "zone_id": p["zone_id"],
                "location": p["location"],
                "availability": p["availability"],
                "availability_label": AVAILABILITY_LABEL[p["availability"]],
                "available_mu": round(p["available_mu"], 4),
                "far_max": p["far_max"],
            }
            for p in parcels
        ],
        "reasons": reasons,
    }
