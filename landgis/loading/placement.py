"""Where a parcel lies: its region (行政区划), whether the caller may write there, and its zone.

The region of a row is the first code the database knows among the row's own region code
(and its 12-, 9- and 6-digit prefixes: 国土调查 writes 19-digit 坐落单位代码), the county of its
宗地代码 and the load's ``--region``; it is then refined to the finest region below it whose
boundary holds the parcel's interior point. A parcel outside the boundary of its region, or in a
region outside the caller's scope (``landgis_in_scope``), is refused. The zone is the smallest
zone holding the interior point, as ``parcels.assign_zones`` computes it in the database.

Boundaries are fetched once per base region and tested here against an index of the batch's
points, so the database connection stays free for the merge.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import shapely

#: fetch(base_code) -> [(code, level, boundary WKB or None, in scope)] for the base and every region below it
Fetch = Callable[[str], list[tuple[str, int, bytes | None, bool]]]


@dataclass
class RegionTree:
    """The regions under one base code, with prepared boundaries."""

    codes: list[str]
    levels: np.ndarray
    in_scope: np.ndarray
    boundaries: np.ndarray  # shapely geometries or None

    def __post_init__(self) -> None:
        self.with_boundary = np.flatnonzero(~shapely.is_missing(self.boundaries))


@dataclass
class Placement:
    """Region and zone lookups for a load (see the module doc)."""

    known: dict[str, bool]  # every region code the database holds -> in the caller's scope
    fetch: Fetch
    zones: list[tuple[int, float, bytes]]  # (id, area_m2, boundary WKB)
    default_region: str | None = None
    _trees: dict[str, RegionTree] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._zone_ids = np.array([z[0] for z in self.zones], dtype=np.int64)
        self._zone_geoms = shapely.from_wkb([z[2] for z in self.zones]) if self.zones else np.zeros(0, object)
        if len(self._zone_geoms):
            shapely.prepare(self._zone_geoms)

    def base_codes(self, region_values: Iterable[str | None], zddm_values: Iterable[str | None]) -> list[str | None]:
        """For each row the first known of: its region code (or a prefix), its 宗地代码's county, the default."""
        out: list[str | None] = []
        cache: dict[tuple[str | None, str | None], str | None] = {}
        for region, zddm in zip(region_values, zddm_values, strict=True):
            key = (region, zddm[:6] if zddm else None)
            if key not in cache:
                cache[key] = self._base(region, key[1])
            out.append(cache[key])
        return out

    def _base(self, region: str | None, county: str | None) -> str | None:
        candidates: list[str] = []
        if region:
            digits = "".join(c for c in region if c.isdigit())
            candidates += [digits[:k] for k in (len(digits), 12, 9, 6) if len(digits) >= k]
        if county:
            candidates.append(county)
        if self.default_region:
            candidates.append(self.default_region)
        return next((c for c in candidates if c in self.known), None)

    def tree(self, base: str) -> RegionTree:
        if base not in self._trees:
            rows = self.fetch(base)
            self._trees[base] = RegionTree(
                codes=[r[0] for r in rows],
                levels=np.array([r[1] for r in rows], dtype=np.int64),
                in_scope=np.array([r[3] for r in rows], dtype=bool),
                boundaries=np.array([shapely.from_wkb(r[2]) if r[2] else None for r in rows], dtype=object),
            )
        return self._trees[base]

    def locate(self, bases: list[str | None], points: np.ndarray) -> tuple[list[str | None], np.ndarray, np.ndarray]:
        """The finest region of each row, whether the point lies outside its base region, and
        whether that region is in the caller's scope. Rows without a base or point get None."""
        n = len(bases)
        regions: list[str | None] = list(bases)
        outside = np.zeros(n, dtype=bool)
        in_scope = np.array([self.known.get(b, False) if b else False for b in bases], dtype=bool)
        base_array = np.array(bases, dtype=object)
        has_point = ~shapely.is_missing(points)
        for base in sorted({b for b in bases if b}):
            rows = np.flatnonzero((base_array == base) & has_point)
            tree = self.tree(base)
            if len(rows) == 0 or len(tree.with_boundary) == 0:
                continue
            # regions drive the query: each boundary is prepared once and tested against the
            # points in its bounding box only
            region_hit, point_hit = shapely.STRtree(points[rows]).query(
                tree.boundaries[tree.with_boundary], predicate="intersects"
            )
            region_hit = tree.with_boundary[region_hit]
            base_index = tree.codes.index(base)
            if tree.boundaries[base_index] is not None:
                held = np.zeros(len(rows), dtype=bool)
                held[point_hit[region_hit == base_index]] = True
                outside[rows[~held]] = True
            if len(point_hit) == 0:
                continue
            order = np.lexsort((tree.levels[region_hit], point_hit))  # by point, finest last
            last = np.r_[point_hit[order][1:] != point_hit[order][:-1], True]
            for local, index in zip(point_hit[order][last], region_hit[order][last], strict=True):
                regions[rows[local]] = tree.codes[index]
                in_scope[rows[local]] = bool(tree.in_scope[index])
        return regions, outside, in_scope

    def zone_ids(self, points: np.ndarray) -> np.ndarray:
        """The id of the smallest zone holding each point (-1 for none)."""
        out = np.full(len(points), -1, dtype=np.int64)
        present = np.flatnonzero(~shapely.is_missing(points))
        if len(present) == 0 or len(self._zone_geoms) == 0:
            return out
        zone_hit, point_hit = shapely.STRtree(points[present]).query(self._zone_geoms, predicate="intersects")
        if len(point_hit) == 0:
            return out
        areas = np.array([z[1] for z in self.zones])
        order = np.lexsort((-areas[zone_hit], point_hit))  # by point, smallest zone last
        last = np.r_[point_hit[order][1:] != point_hit[order][:-1], True]
        out[present[point_hit[order][last]]] = self._zone_ids[zone_hit[order][last]]
        return out
