#!/usr/bin/env python
"""Deterministic demo county (示范县, 行政区划代码 330699) for landgis demos, tests and benchmarks.

Writes a synthetic but realistic county into one directory:

- ``ZD_330699.shp`` 宗地 (parcels) in EPSG:4528 (CGCS2000 3-degree Gauss-Krüger zone 40), the
  DBF in GBK with Chinese field names and no ``.cpg``, as ArcGIS-era county files are;
- ``regions.geojson`` 行政区划 (省, 市, 县, 乡镇) and ``zones.geojson`` 园区, both EPSG:4490;
- ``zone_targets.csv`` 园区目标 (治理面积, 腾出面积, 容积率提升, ...);
- ``企业数据.xlsx`` (or CSV files): 企业名录, 用地关系 and the yearly figures 2022-2024;
- ``manifest.json``: counts, CRS, encoding and the sha256 of every file.

Everything comes from one ``numpy.random.default_rng(seed)``: the same seed and size give the
same files, byte for byte (the DBF header date, the xlsx timestamps and the zip entry times are
fixed). Nothing is real: the county, its firms and their codes are invented; the 2022 figures are
centred on the published 黄岩区 2022 亩均 benchmarks so the evaluation has sensible numbers.

How the land is laid out: a street grid (main roads every 400-700 m, 20-40 m wide) cuts the
county into blocks; each block is cut into a jittered lattice of cells whose vertices are shared
by neighbouring cells, and 2x2 tiles of cells are merged into pairs, L-shapes and whole lots.
Every parcel ring runs through all the lattice vertices on its boundary, so neighbours touch
exactly, with no overlaps, gaps or T-junctions. Blocks are taken (the zones' blocks first) in order
of a perturbed distance from the centre until the requested number of parcels is reached, so the
extent grows with the square root of the count; some blocks are left empty (non-industrial land).
Townships are a power diagram over the blocks, zones are clusters of blocks.

Usage::

    python scripts/demo_county.py --out var/demo --parcels 5000
    python scripts/demo_county.py --out var/big --parcels 1000000 --figures-format csv
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import json
import math
import shutil
import sys
import time
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyogrio.raw
import shapely
from openpyxl import Workbook
from openpyxl.packaging.core import DocumentProperties
from openpyxl.writer.excel import ExcelWriter
from pyproj import Transformer

from landgis.codes import USCC_CHARSET, org_code_check_char, uscc_check_char
from landgis.geo import M2_PER_MU

# --------------------------------------------------------------------------- constants

COUNTY_CODE = "330699"
COUNTY_NAME = "示范县"
CITY = ("330600", "绍兴市")
PROVINCE = ("330000", "浙江省")
CENTRE_LON, CENTRE_LAT = 120.6, 30.0
SHP_EPSG = 4528  # CGCS2000 3-degree GK zone 40, eastings carry the zone prefix 40
GEOJSON_EPSG = 4490
ENCODING = "GBK"
YEARS = (2022, 2023, 2024)
#: The data's "today": actual dates after it are unknown, agreed dates before it are overdue.
REFERENCE_DATE = "2024-12-31"
#: Written wherever a file format wants a timestamp (DBF header, xlsx properties, zip entries).
FIXED_STAMP = dt.datetime(2025, 1, 1, 0, 0, 0)
MIN_PARCELS = 100
SHP_CHUNK = 200_000
XLSX_MAX_ROWS = 1_048_575  # one header row in a 1,048,576-row sheet
RESERVE_OWNER = "示范县土地储备中心"

SHP_NAME = f"ZD_{COUNTY_CODE}"
WORKBOOK_NAME = "企业数据.xlsx"
SHEET_FIRMS = "企业名录"
SHEET_LAND = "用地关系"

#: 黄岩区 2022 published benchmarks (means) the 2022 figures are centred on.
BENCH_ABOVE = {  # 规上
    "mu_tax": 24.097,  # 亩均税收, 万元/亩
    "mu_va": 136.16,  # 亩均增加值, 万元/亩
    "va_per_energy": 2.694,  # 单位能耗增加值, 万元/吨标煤
    "va_per_emission": 4929.81,  # 单位排放增加值, 万元/吨
    "va_per_worker": 18.14,  # 全员劳动生产率, 万元/人
    "rd_ratio": 0.0302,  # R&D经费支出 / 主营业务收入
}
BENCH_BELOW = {"mu_tax": 11.5932, "tax_per_power": 0.2352}  # 规下: 万元/亩, 万元/万千瓦时

# Structure of the county (shares are of parcels unless said otherwise).
SHARE_ABOVE = 0.30  # 规上 share of firms
SHARE_MULTI_PARCEL = 0.27  # share of owner firms holding 2-3 parcels (一企多地, mostly next-door expansion)
SHARE_TENANTED = 0.05  # parcels outside the 小微企业园 with tenants (一地多企)
SHARE_SMALL_PARK_TENANTED = 0.6  # parcels of the 小微企业园 with tenants (1-4 each)
SHARE_TENANT_OWNS_LAND = 0.3  # tenant slots taken by a firm that owns another parcel
SHARE_SKIPPED_BLOCKS = 0.12  # blocks left without industrial parcels

CAT_PRODUCING, CAT_BUILDING, CAT_IDLE_NOT_STARTED, CAT_IDLE_UNFINISHED, CAT_VACANT = range(5)
CATEGORY_NAMES = ("producing", "building", "idle_not_started", "idle_unfinished", "vacant")

# --------------------------------------------------------------------------- vocabularies
# fmt: off

TOWNSHIP_NAMES = (
    "东湖街道", "城南街道", "兴业镇", "临江镇", "青山镇", "凤鸣街道", "安和镇", "白塔镇", "双溪镇", "永丰乡",
)


@dataclass(frozen=True)
class ZoneSpec:
    code: str
    name: str
    kind: str
    angle_deg: float  # direction of the zone centre from the county centre
    radius: float  # distance of the zone centre, as a share of the county radius
    share: float  # share of the county's industrial blocks
    min_blocks: int


ZONES = (
    ZoneSpec("Z01", "示范经济开发区", "开发区", 200.0, 0.50, 0.14, 2),
    ZoneSpec("Z02", "高新技术产业园", "工业园区", 80.0, 0.50, 0.07, 1),
    ZoneSpec("Z03", "小微企业园(东区)", "小微企业园", 0.0, 0.55, 0.012, 1),
    ZoneSpec("Z04", "老工业区整治片区", "整治片区", 130.0, 0.18, 0.05, 1),
)
Z_NONE, Z_DEV, Z_HITECH, Z_SMALL, Z_RENEWAL = range(5)  # parcel zone index: 0 none, then ZONES order
ZONE_TARGET_SHARES = {  # (年度治理面积, 2023-2027 腾出面积, 容积率提升) by zone type
    "开发区": (0.05, 0.06, 0.3),
    "工业园区": (0.04, 0.05, 0.3),
    "小微企业园": (0.03, 0.04, 0.2),
    "整治片区": (0.15, 0.30, 0.5),
}

NS_ROAD_WORDS = (
    "兴业", "创业", "科技", "纺都", "工业", "鉴湖", "环城", "振兴", "富民", "新华",
    "凤凰", "青云", "长乐", "和平", "东方", "金桥", "明珠", "望江", "永安", "迎宾",
)
EW_ROAD_WORDS = (
    "越州", "禹陵", "镜湖", "齐贤", "湖塘", "笛扬", "柯华", "群贤", "世纪", "复兴",
    "胜利", "人民", "解放", "中兴", "平安", "开源", "滨海", "港城", "瓜渚", "百官",
)
CN_DIGITS = ("", "一", "二", "三", "四", "五", "六", "七", "八", "九", "十")

NAME_PREFIXES = ("示范县", "浙江", "绍兴")
NAME_PREFIX_P = (0.6, 0.25, 0.15)
NAME_CHAR1 = "恒永金华宏鑫盛兴振天嘉瑞宝源泰丰德东新正宇康利汇万中长广富荣"
NAME_CHAR2 = "达兴盛发源昌通利华泰丰宇力业信诚鑫茂安顺祥隆凯翔腾远辉博威科"
NAME_CHAR3 = "达美佳成林宏新明光阳伟强海峰源龙凤亿邦豪捷晨星骏立德和远锦程"
NAME_SUFFIXES = ("有限公司", "股份有限公司")
# fmt: on

#: GB/T 4754-2017 industries: code, the word used in firm names, and relative weights for firms
#: outside zones, in the 开发区, the 高新 park, tenants / 小微企业园, and the old 整治片区.
INDUSTRIES: tuple[tuple[str, str, tuple[int, int, int, int, int]], ...] = (
    ("C1711", "纺织", (6, 4, 0, 3, 10)),
    ("C1751", "织造", (6, 4, 0, 3, 10)),
    ("C1713", "印染", (4, 3, 0, 0, 10)),
    ("C1810", "服饰", (4, 2, 0, 8, 6)),
    ("C1952", "鞋业", (2, 1, 0, 5, 4)),
    ("C2110", "家具", (3, 2, 0, 4, 4)),
    ("C2231", "包装", (3, 2, 0, 6, 3)),
    ("C2319", "印务", (2, 1, 0, 5, 2)),
    ("C2614", "化工", (3, 4, 1, 0, 4)),
    ("C2710", "药业", (1, 3, 6, 0, 1)),
    ("C2822", "化纤", (4, 5, 0, 0, 6)),
    ("C2927", "塑业", (4, 3, 0, 7, 4)),
    ("C3021", "建材", (3, 2, 0, 1, 4)),
    ("C3130", "钢业", (2, 3, 0, 0, 3)),
    ("C3311", "钢结构", (4, 3, 0, 2, 4)),
    ("C3389", "五金", (5, 3, 0, 9, 5)),
    ("C3443", "阀门", (3, 3, 1, 4, 2)),
    ("C3451", "轴承", (3, 4, 2, 3, 2)),
    ("C3484", "机械", (7, 7, 3, 8, 5)),
    ("C3551", "纺机", (3, 3, 1, 2, 3)),
    ("C3670", "汽配", (4, 6, 4, 5, 2)),
    ("C3812", "电机", (3, 4, 4, 3, 2)),
    ("C3831", "电缆", (2, 3, 2, 1, 1)),
    ("C3856", "电器", (3, 4, 4, 6, 1)),
    ("C3874", "照明", (2, 2, 4, 4, 1)),
    ("C3976", "光电", (1, 2, 8, 2, 0)),
    ("C3982", "电子", (2, 4, 9, 6, 0)),
    ("C4090", "仪表", (1, 2, 6, 3, 0)),
    ("D4430", "热电", (1, 1, 0, 0, 0)),
    ("M7320", "科技", (0, 1, 5, 2, 0)),
)
MINING = ("B1019", "矿业")  # owners of 0602 采矿用地 parcels

FAR_VALUES = np.array([0.8, 1.0, 1.2, 1.5, 1.6, 1.8, 2.0, 2.5])
FAR_SPANS = np.array([0.6, 0.8, 1.0, 1.5])
#: How Zhejiang land platforms write an agreed FAR: {lo} lower bound, {hi} upper bound.
FAR_TEMPLATES = ("{lo}-{hi}", "≥{lo}", "大于或等于{lo}并且小于或等于{hi}", "不小于{lo}", "{lo}~{hi}")
FAR_TEMPLATE_P = (0.30, 0.25, 0.15, 0.15, 0.15)

SUPPLY_MODES = ("出让", "划拨", "租赁")
SUPPLY_LETTERS = ("B", "A", "C")  # 电子监管号 letter: synthetic convention (B 出让, A 划拨, C 租赁)
SAFETY_GRADES = ("A", "B", "C", "D")  # JGJ125 危险房屋鉴定

# --------------------------------------------------------------------------- parcel lattice

# Lattice-vertex offsets (di, dj) of each parcel ring, counter-clockwise, relative to the lower
# left vertex of a 2x2 tile of cells a=(0,0), b=(1,0), c=(0,1), d=(1,1). A ring passes through
# every lattice vertex on its boundary, so neighbours share vertices exactly.
_RINGS: dict[str, tuple[tuple[int, int], ...]] = {
    "a": ((0, 0), (1, 0), (1, 1), (0, 1)),
    "b": ((1, 0), (2, 0), (2, 1), (1, 1)),
    "c": ((0, 1), (1, 1), (1, 2), (0, 2)),
    "d": ((1, 1), (2, 1), (2, 2), (1, 2)),
    "ab": ((0, 0), (1, 0), (2, 0), (2, 1), (1, 1), (0, 1)),
    "cd": ((0, 1), (1, 1), (2, 1), (2, 2), (1, 2), (0, 2)),
    "ac": ((0, 0), (1, 0), (1, 1), (1, 2), (0, 2), (0, 1)),
    "bd": ((1, 0), (2, 0), (2, 1), (2, 2), (1, 2), (1, 1)),
    "abc": ((0, 0), (1, 0), (2, 0), (2, 1), (1, 1), (1, 2), (0, 2), (0, 1)),
    "abd": ((0, 0), (1, 0), (2, 0), (2, 1), (2, 2), (1, 2), (1, 1), (0, 1)),
    "acd": ((0, 0), (1, 0), (1, 1), (2, 1), (2, 2), (1, 2), (0, 2), (0, 1)),
    "bcd": ((1, 0), (2, 0), (2, 1), (2, 2), (1, 2), (0, 2), (0, 1), (1, 1)),
    "abcd": ((0, 0), (1, 0), (2, 0), (2, 1), (2, 2), (1, 2), (0, 2), (0, 1)),
}
#: How a 2x2 tile is cut into parcels.
_PATTERNS: tuple[tuple[str, ...], ...] = (
    ("a", "b", "c", "d"),
    ("ab", "cd"),
    ("ac", "bd"),
    ("ab", "c", "d"),
    ("ac", "b", "d"),
    ("cd", "a", "b"),
    ("bd", "a", "c"),
    ("abc", "d"),
    ("abd", "c"),
    ("acd", "b"),
    ("bcd", "a"),
    ("abcd",),
)
LATTICE_GENERAL, LATTICE_FINE, LATTICE_SMALL, LATTICE_LARGE = range(4)
#: Pattern probabilities for ordinary blocks, blocks of small plots, the 小微企业园, and blocks of
#: large cells (no whole 2x2 lots there, which would pass 150亩).
_PATTERN_P = np.array(
    [
        [0.34, 0.09, 0.09, 0.06, 0.06, 0.04, 0.04, 0.035, 0.035, 0.035, 0.035, 0.14],
        [0.40, 0.12, 0.12, 0.06, 0.06, 0.04, 0.04, 0.03, 0.03, 0.03, 0.03, 0.04],
        [0.70, 0.10, 0.10, 0.025, 0.025, 0.025, 0.025, 0.0, 0.0, 0.0, 0.0, 0.0],
        [0.34, 0.11, 0.11, 0.07, 0.07, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.0],
    ]
)
#: Largest lattice cell side (m) per lattice class (cells come out 0.8-1.0 of it); general blocks
#: whose cells are larger than LARGE_SIDE become LARGE.
_CELL_SIDE = ((120.0, 160.0), (80.0, 100.0), (62.0, 66.0), (120.0, 160.0))
LARGE_SIDE = 130.0
_CELL_SPREAD = (0.25, 0.15, 0.05, 0.18)  # variation of column widths / row heights
_JITTER = (0.12, 0.12, 0.05, 0.12)  # vertex jitter, share of the mean cell side

_RING_NAMES = tuple(_RINGS)
_RING_LEN = np.array([len(_RINGS[n]) for n in _RING_NAMES])
_RING_START = np.concatenate([[0], np.cumsum(_RING_LEN)[:-1]])
_RING_DI = np.array([v[0] for n in _RING_NAMES for v in _RINGS[n]])
_RING_DJ = np.array([v[1] for n in _RING_NAMES for v in _RINGS[n]])
_PATTERN_COUNT = np.array([len(p) for p in _PATTERNS])
_PATTERN_RING = np.full((len(_PATTERNS), 4), -1)
for _p, _names in enumerate(_PATTERNS):
    _PATTERN_RING[_p, : len(_names)] = [_RING_NAMES.index(n) for n in _names]


class _GridTooSmall(Exception):
    """The block grid ran out before enough parcels were placed; retried with a bigger grid."""


# --------------------------------------------------------------------------- small helpers


def _ragged_arange(lengths: np.ndarray) -> np.ndarray:
    """``0..n-1`` for every ``n`` in ``lengths``, concatenated."""
    lengths = np.asarray(lengths, dtype=np.int64)
    starts = np.cumsum(lengths) - lengths
    return np.arange(int(lengths.sum()), dtype=np.int64) - np.repeat(starts, lengths)


def _categorical(rng: np.random.Generator, groups: np.ndarray, table: np.ndarray) -> np.ndarray:
    """One category per element; row ``groups[i]`` of ``table`` holds its probabilities."""
    table = np.asarray(table, dtype=float)
    cdf = np.cumsum(table / table.sum(axis=1, keepdims=True), axis=1)
    u = rng.random(len(groups))
    out = np.zeros(len(groups), dtype=np.int64)
    for g in range(table.shape[0]):
        mask = groups == g
        out[mask] = np.minimum(np.searchsorted(cdf[g], u[mask], side="right"), table.shape[1] - 1)
    return out


def _day(text: str) -> float:
    """Days since 1970-01-01 of an ISO date (dates are float days, NaN for null, until written)."""
    return float(np.datetime64(text, "D").astype(np.int64))


REF_DAY = _day(REFERENCE_DATE)


def _year_start(year: np.ndarray) -> np.ndarray:
    return (
        (np.asarray(year, dtype=np.int64) - 1970)
        .astype("datetime64[Y]")
        .astype("datetime64[D]")
        .astype(np.int64)
        .astype(float)
    )


def _year_of(days: np.ndarray) -> np.ndarray:
    """Calendar year of float days (NaN stays NaN)."""
    out = np.full(len(days), np.nan)
    ok = ~np.isnan(days)
    out[ok] = days[ok].astype(np.int64).astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
    return out


def _add_years(days: np.ndarray, years: np.ndarray) -> np.ndarray:
    """The day before the same calendar date ``years`` later (a term of n years); NaN stays NaN."""
    out = np.full(len(days), np.nan)
    ok = ~np.isnan(days) & ~np.isnan(years)
    d = days[ok].astype(np.int64).astype("datetime64[D]")
    month = d.astype("datetime64[M]")
    later = (month + (years[ok].astype(np.int64) * 12)).astype("datetime64[D]") + (d - month.astype("datetime64[D]"))
    out[ok] = later.astype(np.int64).astype(float) - 1.0
    return out


def _between(rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """A whole day uniformly in ``[lo, hi]`` for every element."""
    return lo + np.floor(rng.random(len(lo)) * (hi - lo + 1.0))


def _dates64(days: np.ndarray) -> np.ndarray:
    """Float days (NaN null) to ``datetime64[D]`` (NaT null)."""
    out = np.full(len(days), np.datetime64("NaT"), dtype="datetime64[D]")
    ok = ~np.isnan(days)
    out[ok] = days[ok].astype(np.int64).astype("datetime64[D]")
    return out


def _gbk_width(values: Sequence[str] | np.ndarray) -> int:
    """Largest GBK byte length of the strings (a DBF field width counts bytes)."""
    unique = np.unique(np.asarray(values, dtype=str))
    return max([1, *(len(v.encode(ENCODING)) for v in unique.tolist())])


def _fmt_far(value: float) -> str:
    return f"{value:.1f}"


# --------------------------------------------------------------------------- progress


class _Progress:
    """A progress bar on stderr (rich on a terminal, plain lines otherwise), or nothing."""

    def __init__(self, enabled: bool, total: int) -> None:
        self.enabled = enabled
        self.total = total
        self.done = 0
        self.started = time.perf_counter()
        self._rich: Any = None
        self._task: Any = None
        if enabled and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._rich = Progress(
                TextColumn("[bold]示范县[/bold] {task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
            )
            self._rich.start()
            self._task = self._rich.add_task("", total=total)

    def note(self, label: str) -> None:
        """Say what is being done now without advancing."""
        if self._rich is not None:
            self._rich.update(self._task, description=label)

    def step(self, label: str) -> None:
        """One stage done."""
        self.done += 1
        if not self.enabled:
            return
        if self._rich is not None:
            self._rich.update(self._task, advance=1, description=label)
        else:
            elapsed = time.perf_counter() - self.started
            print(f"demo_county [{self.done}/{self.total}] {label} ({elapsed:.1f} s)", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._rich is not None:
            self._rich.stop()


# --------------------------------------------------------------------------- layout


@dataclass
class County:
    """The geometry of the county in a local frame (metres from the centre, before rotation)."""

    xs: np.ndarray  # north-south road centrelines (x), nb + 1
    ys: np.ndarray  # east-west road centrelines (y), nb + 1
    nb: int  # blocks per side of the grid; block b = bj * nb + bi
    origin: tuple[float, float]  # EPSG:4528 coordinates of the local (0, 0)
    angle: float  # rotation of the local frame, radians
    block_zone: np.ndarray  # zone index per grid block (0 none)
    county_blocks: np.ndarray  # grid blocks inside the county
    block_township: np.ndarray  # township index (1..T) per grid block, 0 outside the county
    townships: list[tuple[str, str]]  # (9-digit code, name)
    # parcels, in the order they are numbered
    parcel_block: np.ndarray
    ring_vertex: np.ndarray  # vertex ids of the closed rings, concatenated
    ring_offset: np.ndarray  # parcel p's ring is ring_vertex[ring_offset[p]:ring_offset[p + 1]]
    vx: np.ndarray  # lattice vertex coordinates, local frame
    vy: np.ndarray
    area_m2: np.ndarray
    centre_x: np.ndarray  # vertex mean, local frame
    centre_y: np.ndarray

    @property
    def parcels(self) -> int:
        return len(self.parcel_block)

    def to_projected(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Local coordinates to EPSG:4528 eastings/northings."""
        c, s = math.cos(self.angle), math.sin(self.angle)
        return self.origin[0] + c * x - s * y, self.origin[1] + s * x + c * y


def _lattice_size(
    rng: np.random.Generator, width: np.ndarray, height: np.ndarray, cls: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Even numbers of lattice columns and rows for blocks of the given interior size (m), and the
    resulting mean cell side."""
    sides = np.stack([rng.uniform(lo, hi, len(cls)) for lo, hi in _CELL_SIDE])
    side = sides[cls, np.arange(len(cls))]
    nx = 2 * np.maximum(1, np.ceil(width / (2.0 * side))).astype(np.int64)
    ny = 2 * np.maximum(1, np.ceil(height / (2.0 * side))).astype(np.int64)
    return nx, ny, np.sqrt(width / nx * height / ny)


def _draw_tiles(
    rng: np.random.Generator, nx: np.ndarray, ny: np.ndarray, cls: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The 2x2 tiles of the blocks (block index, pattern), grouped by block in row-major order."""
    ntiles = (nx // 2) * (ny // 2)
    tile_block = np.repeat(np.arange(len(nx)), ntiles)
    pattern = _categorical(rng, cls[tile_block], _PATTERN_P)
    return tile_block, pattern


def _select(order: np.ndarray, skip: np.ndarray, counts: np.ndarray, parcels: int) -> np.ndarray:
    """Blocks taken in ``order`` (skipping ``skip``) until they hold ``parcels`` parcels."""
    candidates = order[~skip[order]]
    total = np.cumsum(counts[candidates])
    last = int(np.searchsorted(total, parcels))
    if last >= len(candidates):
        raise _GridTooSmall
    return candidates[: last + 1]


def _assign_zones(
    cx: np.ndarray, cy: np.ndarray, order: np.ndarray, pos: np.ndarray, selected: np.ndarray
) -> np.ndarray:
    """Zone index per grid block: clusters of blocks around fixed points of the county."""
    zone = np.zeros(len(cx), dtype=np.int64)
    radius = float(np.median(np.hypot(cx[selected], cy[selected]))) * math.sqrt(2.0)
    within = order[: pos[selected[-1]] + 1]
    n_industrial = len(selected)
    for index in (Z_RENEWAL, Z_SMALL, Z_HITECH, Z_DEV):  # small and central zones first
        spec = ZONES[index - 1]
        angle = math.radians(spec.angle_deg)
        zx, zy = spec.radius * radius * math.cos(angle), spec.radius * radius * math.sin(angle)
        take = max(spec.min_blocks, round(spec.share * n_industrial))
        pool = order[zone[order] == 0]  # free blocks by distance; beyond the footprint if need be
        free = pool[: max(take, int((zone[within] == 0).sum()))]
        nearest = free[np.argsort(np.hypot(cx[free] - zx, cy[free] - zy), kind="stable")[:take]]
        zone[nearest] = index
    return zone


def _build_county(rng: np.random.Generator, parcels: int) -> County:
    for attempt in range(8):
        side = math.ceil(math.sqrt(parcels / 7.0) * 1.3 * 1.25**attempt) + 6
        try:
            return _try_county(rng, parcels, side)
        except _GridTooSmall:
            continue
    raise RuntimeError("could not lay out the county")  # pragma: no cover


def _try_county(rng: np.random.Generator, parcels: int, nb: int) -> County:
    # Road grid: centrelines every 400-700 m, roads 20-40 m wide.
    xs = np.concatenate([[0.0], np.cumsum(rng.uniform(400.0, 700.0, nb))])
    ys = np.concatenate([[0.0], np.cumsum(rng.uniform(400.0, 700.0, nb))])
    xs -= xs[-1] / 2.0
    ys -= ys[-1] / 2.0
    wx, wy = rng.uniform(20.0, 40.0, nb + 1), rng.uniform(20.0, 40.0, nb + 1)
    n = nb * nb
    bi, bj = np.arange(n) % nb, np.arange(n) // nb
    bx0, bx1 = xs[bi] + wx[bi] / 2.0, xs[bi + 1] - wx[bi + 1] / 2.0
    by0, by1 = ys[bj] + wy[bj] / 2.0, ys[bj + 1] - wy[bj + 1] / 2.0
    cx, cy = (xs[bi] + xs[bi + 1]) / 2.0, (ys[bj] + ys[bj + 1]) / 2.0

    # Blocks are taken by a perturbed distance from the centre: a blob, not a square.
    theta = np.arctan2(cy, cx)
    phase = rng.uniform(0.0, 2.0 * math.pi, 2)
    wobble = 1.0 + 0.12 * np.sin(3.0 * theta + phase[0]) + 0.07 * np.sin(5.0 * theta + phase[1])
    distance = np.hypot(cx, cy) * wobble * (1.0 + 0.05 * rng.standard_normal(n))
    order = np.argsort(distance, kind="stable")
    pos = np.empty(n, dtype=np.int64)
    pos[order] = np.arange(n)
    skip = rng.random(n) < SHARE_SKIPPED_BLOCKS

    cls = np.where(rng.random(n) < 0.15, LATTICE_FINE, LATTICE_GENERAL)
    nx, ny, side = _lattice_size(rng, bx1 - bx0, by1 - by0, cls)
    cls[(cls == LATTICE_GENERAL) & (side > LARGE_SIDE)] = LATTICE_LARGE
    tile_block, tile_pattern = _draw_tiles(rng, nx, ny, cls)
    counts = np.bincount(tile_block, weights=_PATTERN_COUNT[tile_pattern], minlength=n).astype(np.int64)
    first = _select(order, skip, counts, parcels)

    zone = _assign_zones(cx, cy, order, pos, first)
    skip[zone > 0] = False
    # Zone blocks first, so every block of a zone is taken even if the county shrinks a little: one
    # block of each zone, then the others, the dense 小微企业园 last, so a tiny county still gets a
    # piece of every zone.
    zoned = order[zone[order] > 0]
    first_of_zone = np.zeros(len(zoned), dtype=bool)
    first_of_zone[np.unique(zone[zoned], return_index=True)[1]] = True
    priority = np.array([0, 1, 2, 3, 0])[zone[zoned]]  # 整治片区, 开发区, 高新, 小微 (by zone index)
    key = priority + np.where(first_of_zone, 0, 10)
    order = np.concatenate([zoned[np.argsort(key, kind="stable")], order[zone[order] == 0]])
    pos[order] = np.arange(n)
    small = np.flatnonzero(zone == Z_SMALL)
    if len(small):
        cls[small] = LATTICE_SMALL
        nx[small], ny[small], _ = _lattice_size(rng, (bx1 - bx0)[small], (by1 - by0)[small], cls[small])
        keep = zone[tile_block] != Z_SMALL
        new_block, new_pattern = _draw_tiles(rng, nx[small], ny[small], cls[small])
        tile_block = np.concatenate([tile_block[keep], small[new_block]])
        tile_pattern = np.concatenate([tile_pattern[keep], new_pattern])
        regroup = np.argsort(tile_block, kind="stable")
        tile_block, tile_pattern = tile_block[regroup], tile_pattern[regroup]
        counts = np.bincount(tile_block, weights=_PATTERN_COUNT[tile_pattern], minlength=n).astype(np.int64)
    selected = _select(order, skip, counts, parcels)

    # The county: every block up to the last one taken (empty ones too), plus a ring of margin.
    inside = np.zeros(n, dtype=bool)
    inside[order[: pos[selected[-1]] + 1]] = True
    grid = inside.reshape(nb, nb)
    if grid[0].any() or grid[-1].any() or grid[:, 0].any() or grid[:, -1].any():
        raise _GridTooSmall
    grown = grid.copy()
    for dj in (-1, 0, 1):
        for di in (-1, 0, 1):
            grown |= np.roll(np.roll(grid, dj, axis=0), di, axis=1)
    county_blocks = np.flatnonzero(grown.ravel())
    block_township, townships = _townships(rng, parcels, cx, cy, county_blocks, selected)

    # Lattice vertices of the blocks taken, then the parcel rings.
    ntile = np.bincount(tile_block, minlength=n)
    tile_start = np.cumsum(ntile) - ntile
    sel_tiles = np.repeat(tile_start[selected], ntile[selected]) + _ragged_arange(ntile[selected])
    sel_tile_block = np.repeat(np.arange(len(selected)), ntile[selected])  # index into selected
    local = _ragged_arange(ntile[selected])
    tx = nx[selected][sel_tile_block] // 2
    ti, tj = local % tx, local // tx
    pattern = tile_pattern[sel_tiles]
    per_tile = _PATTERN_COUNT[pattern]
    parcel_tile = np.repeat(np.arange(len(sel_tiles)), per_tile)[:parcels]
    slot = _ragged_arange(per_tile)[:parcels]
    ring = _PATTERN_RING[pattern[parcel_tile], slot]
    parcel_sblock = sel_tile_block[parcel_tile]
    used = int(parcel_sblock[-1]) + 1
    selected = selected[:used]

    spread, jitter = np.array(_CELL_SPREAD)[cls[selected]], np.array(_JITTER)[cls[selected]]
    vx, vy, vbase = _lattice_vertices(rng, selected, spread, jitter, nx, ny, bx0, bx1, by0, by1)
    ring_vertex, ring_offset = _parcel_rings(
        ring, 2 * ti[parcel_tile], 2 * tj[parcel_tile], vbase[parcel_sblock], nx[selected][parcel_sblock] + 1
    )
    area, centre_x, centre_y = _ring_measures(vx, vy, ring_vertex, ring_offset)

    to4528 = Transformer.from_crs(GEOJSON_EPSG, SHP_EPSG, always_xy=True)
    e0, n0 = to4528.transform(CENTRE_LON, CENTRE_LAT)
    return County(
        xs=xs,
        ys=ys,
        nb=nb,
        origin=(round(e0, 2), round(n0, 2)),
        angle=math.radians(rng.uniform(-12.0, 12.0)),
        block_zone=zone,
        county_blocks=county_blocks,
        block_township=block_township,
        townships=townships,
        parcel_block=selected[parcel_sblock],
        ring_vertex=ring_vertex,
        ring_offset=ring_offset,
        vx=vx,
        vy=vy,
        area_m2=area,
        centre_x=centre_x,
        centre_y=centre_y,
    )


def _parcel_rings(
    ring: np.ndarray, col0: np.ndarray, row0: np.ndarray, vbase: np.ndarray, stride: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Closed rings as lattice-vertex ids: per parcel its ring template, the tile's first lattice
    column and row, the block's first vertex id and its vertices per lattice row."""
    length = _RING_LEN[ring] + 1
    owner = np.repeat(np.arange(len(ring)), length)
    k = _ragged_arange(length)
    k[k == (length - 1)[owner]] = 0  # back to the first vertex
    template = _RING_START[ring][owner] + k
    del k
    ring_vertex = vbase[owner] + (row0[owner] + _RING_DJ[template]) * stride[owner] + col0[owner] + _RING_DI[template]
    return ring_vertex, np.concatenate([[0], np.cumsum(length)])


def _ring_measures(
    vx: np.ndarray, vy: np.ndarray, ring_vertex: np.ndarray, ring_offset: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Planar area (shoelace) and vertex-mean centre of every closed ring, in the local frame."""
    x, y = vx[ring_vertex], vy[ring_vertex]
    cross = np.zeros(len(x))
    cross[:-1] = x[:-1] * y[1:] - x[1:] * y[:-1]
    cross[ring_offset[1:-1] - 1] = 0.0  # no segment from one parcel's ring to the next
    area = np.abs(np.add.reduceat(cross, ring_offset[:-1])) / 2.0
    last = ring_offset[1:] - 1
    open_len = np.diff(ring_offset) - 1
    centre_x = (np.add.reduceat(x, ring_offset[:-1]) - x[last]) / open_len
    centre_y = (np.add.reduceat(y, ring_offset[:-1]) - y[last]) / open_len
    return area, centre_x, centre_y


def _breaks(rng: np.random.Generator, cells: np.ndarray, spread: np.ndarray) -> np.ndarray:
    """Cumulative cell boundaries 0..1 of groups of ``cells`` cells of varying size, concatenated."""
    width = 1.0 + rng.uniform(-1.0, 1.0, int(cells.sum())) * np.repeat(spread, cells)
    group = np.repeat(np.arange(len(cells)), cells)
    cum = np.cumsum(width)
    start = np.cumsum(cells) - cells
    before = cum[start] - width[start]
    total = cum[start + cells - 1] - before
    inner = (cum - before[group]) / total[group]
    out = np.empty(int(cells.sum()) + len(cells))
    first = start + np.arange(len(cells))
    mask = np.ones(len(out), dtype=bool)
    mask[first] = False
    out[mask] = inner
    out[first] = 0.0
    out[first + cells] = 1.0  # exact block edges
    return out


def _lattice_vertices(
    rng: np.random.Generator,
    blocks: np.ndarray,
    spread: np.ndarray,
    jitter: np.ndarray,
    nx: np.ndarray,
    ny: np.ndarray,
    bx0: np.ndarray,
    bx1: np.ndarray,
    by0: np.ndarray,
    by1: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Jittered lattice vertices of ``blocks`` (local frame) and each block's first vertex id.

    ``spread`` is the variation of column widths and row heights per block, ``jitter`` how far a
    vertex may move (share of the mean cell side). Vertices on a block edge move along the edge
    only, so blocks keep straight frontages.
    """
    bnx, bny = nx[blocks], ny[blocks]
    colb, rowb = _breaks(rng, bnx, spread), _breaks(rng, bny, spread)
    col_start = np.cumsum(bnx + 1) - (bnx + 1)
    row_start = np.cumsum(bny + 1) - (bny + 1)
    nvert = (bnx + 1) * (bny + 1)
    vbase = np.cumsum(nvert) - nvert
    vb = np.repeat(np.arange(len(blocks)), nvert)
    local = _ragged_arange(nvert)
    k, row = local % (bnx[vb] + 1), local // (bnx[vb] + 1)
    jx = rng.uniform(-1.0, 1.0, len(vb)) * jitter[vb] / bnx[vb]
    jy = rng.uniform(-1.0, 1.0, len(vb)) * jitter[vb] / bny[vb]
    jx[(k == 0) | (k == bnx[vb])] = 0.0
    jy[(row == 0) | (row == bny[vb])] = 0.0
    b = blocks[vb]
    vx = bx0[b] + (bx1[b] - bx0[b]) * (colb[col_start[vb] + k] + jx)
    vy = by0[b] + (by1[b] - by0[b]) * (rowb[row_start[vb] + row] + jy)
    return vx, vy, vbase


def _townships(
    rng: np.random.Generator,
    parcels: int,
    cx: np.ndarray,
    cy: np.ndarray,
    county_blocks: np.ndarray,
    selected: np.ndarray,
) -> tuple[np.ndarray, list[tuple[str, str]]]:
    """乡镇 as a power diagram of blocks: a central 街道 and a ring of towns around it."""
    count = int(np.clip(round(6 + 2 * math.log10(parcels / 1000.0)), 6, 10))
    radius = float(np.median(np.hypot(cx[county_blocks], cy[county_blocks]))) * math.sqrt(2.0)
    phase = rng.uniform(0.0, 2.0 * math.pi)
    angles = phase + 2.0 * math.pi * np.arange(count - 1) / (count - 1) + rng.uniform(-0.2, 0.2, count - 1)
    radii = 0.62 * radius * rng.uniform(0.85, 1.15, count - 1)
    ideal_x = np.concatenate([[0.0], radii * np.cos(angles)])
    ideal_y = np.concatenate([[0.0], radii * np.sin(angles)])
    seeds = np.empty(count, dtype=np.int64)
    for t in range(count):  # seed each township on a block with parcels, so none is empty if it can be
        free = selected[~np.isin(selected, seeds[:t])]
        if not len(free):  # a tiny county: fewer blocks with parcels than townships
            free = county_blocks[~np.isin(county_blocks, seeds[:t])]
        seeds[t] = free[np.argmin(np.hypot(cx[free] - ideal_x[t], cy[free] - ideal_y[t]))]
    weight = rng.uniform(-0.08, 0.08, count) * radius**2
    d2 = (cx[county_blocks, None] - cx[seeds][None, :]) ** 2 + (cy[county_blocks, None] - cy[seeds][None, :]) ** 2
    township = np.zeros(len(cx), dtype=np.int64)
    township[county_blocks] = np.argmin(d2 - weight[None, :], axis=1) + 1
    township[seeds] = np.arange(1, count + 1)
    names = [(f"{COUNTY_CODE}{t + 1:03d}", TOWNSHIP_NAMES[t]) for t in range(count)]
    return township, names


# --------------------------------------------------------------------------- parcels


@dataclass
class Parcels:
    """Attributes of the parcels (宗地), one array element per parcel."""

    zone: np.ndarray
    township: np.ndarray  # 1..T
    mu: np.ndarray  # true planar area, 亩
    category: np.ndarray
    zddm: np.ndarray  # 宗地代码, U19
    declared_m2: np.ndarray  # 宗地面积
    land_use: np.ndarray  # 用途 index into LAND_USES
    far: np.ndarray  # 容积率
    density: np.ndarray  # 建筑密度
    floor_area: np.ndarray  # 建筑面积
    far_text: np.ndarray  # 约定容积 (U)
    supply: np.ndarray  # 供地方式 index, -1 for none
    standard: np.ndarray  # 标准地 (bool)
    price: np.ndarray  # 土地价款, 万元 (NaN none)
    monitor: np.ndarray  # 监管号 (U16, "" none)
    has_unit: np.ndarray  # gets a 不动产单元号
    safety: np.ndarray  # 房屋安全 index, -1 none
    dates: dict[str, np.ndarray]  # float days, NaN null
    road_name: np.ndarray  # index into County road names
    house_no: np.ndarray
    road_names: list[str]


LAND_USES = ("0601", "0602", "1001")
DATE_FIELDS = (
    "签订日期",
    "约定交地",
    "实际交地",
    "约定开工",
    "实际开工",
    "约定竣工",
    "实际竣工",
    "约定投产",
    "实际投产",
)


def _parcel_attributes(rng: np.random.Generator, county: County) -> Parcels:
    n = county.parcels
    zone = county.block_zone[county.parcel_block]
    township = county.block_township[county.parcel_block]
    mu = county.area_m2 / M2_PER_MU
    category = _categorical(
        rng,
        zone,
        np.array(
            [
                [0.885, 0.022, 0.038, 0.030, 0.025],  # outside zones
                [0.885, 0.022, 0.038, 0.030, 0.025],  # 开发区
                [0.880, 0.040, 0.040, 0.030, 0.010],  # 高新技术产业园: newer land
                [0.970, 0.030, 0.000, 0.000, 0.000],  # 小微企业园
                [0.900, 0.000, 0.000, 0.020, 0.080],  # 整治片区: some land already taken back
            ]
        ),
    )
    supplied = category != CAT_VACANT

    # Contract dates and the 交地 → 开工 → 竣工 → 投产 chain.
    year_range = np.array([[1996, 2020], [2003, 2020], [2012, 2021], [2014, 2019], [1992, 2006]])
    lo, hi = _year_start(year_range[zone, 0]), _year_start(year_range[zone, 1] + 1) - 1.0
    for cat, first, last in (
        (CAT_BUILDING, "2022-06-01", "2024-06-30"),
        (CAT_IDLE_NOT_STARTED, "2019-01-01", "2023-06-30"),
        (CAT_IDLE_UNFINISHED, "2019-01-01", "2021-06-30"),
    ):
        lo[category == cat], hi[category == cat] = _day(first), _day(last)
    sign = _between(rng, lo, hi)
    delays = {
        name: rng.integers(a, b + 1, n).astype(float)
        for name, a, b in (
            ("deliver", 30, 180),
            ("late_deliver", -20, 90),
            ("start", 90, 365),
            ("late_start", -60, 150),
            ("build", 540, 1095),
            ("take", 365, 1000),
            ("produce", 60, 365),
            ("ramp", 30, 240),
            ("margin", 0, 365),
            ("overdue", 60, 500),
            ("ahead", 15, 300),
        )
    }
    agreed_deliver = sign + delays["deliver"]
    actual_deliver = agreed_deliver + delays["late_deliver"]
    agreed_start = agreed_deliver + delays["start"]
    actual_start = np.maximum(agreed_start + delays["late_start"], actual_deliver + 15.0)
    agreed_done = agreed_start + delays["build"]
    actual_done = actual_start + delays["take"]
    agreed_prod = agreed_done + delays["produce"]
    actual_prod = actual_done + delays["ramp"]
    # Producing land went into production before the reference date: move the whole chain back.
    shift = np.where(category == CAT_PRODUCING, np.maximum(0.0, actual_prod - (REF_DAY - delays["margin"])), 0.0)
    chain = (sign, agreed_deliver, actual_deliver, agreed_start, actual_start, agreed_done, actual_done)
    chain += (agreed_prod, actual_prod)  # in DATE_FIELDS order; the arrays are changed in place below
    for values in chain:
        values -= shift

    building = category == CAT_BUILDING
    started = building & (actual_start <= REF_DAY)
    waiting = building & ~started
    agreed_start[waiting] = np.maximum(agreed_start, REF_DAY + delays["ahead"])[waiting]
    agreed_done[building] = np.maximum(agreed_done, np.maximum(agreed_start + 540.0, REF_DAY + delays["ahead"]))[
        building
    ]
    actual_deliver[building & (actual_deliver > REF_DAY)] = np.nan
    actual_start[waiting] = np.nan
    actual_done[building] = np.nan
    actual_prod[building] = np.nan

    idle_ns = category == CAT_IDLE_NOT_STARTED  # 供而未用: agreed start passed, not started
    agreed_start[idle_ns] = np.maximum(np.minimum(agreed_start, REF_DAY - delays["overdue"]), agreed_deliver + 30.0)[
        idle_ns
    ]
    agreed_done[idle_ns] = (agreed_start + delays["build"])[idle_ns]
    actual_start[idle_ns] = actual_done[idle_ns] = actual_prod[idle_ns] = np.nan

    idle_uf = category == CAT_IDLE_UNFINISHED  # started, not finished after the agreed completion
    agreed_done[idle_uf] = np.maximum(np.minimum(agreed_done, REF_DAY - delays["overdue"]), agreed_start + 365.0)[
        idle_uf
    ]
    actual_done[idle_uf] = actual_prod[idle_uf] = np.nan
    agreed_prod[:] = agreed_done + delays["produce"]

    # Old contracts in the system lack most dates.
    old = supplied & (sign < _day("2008-01-01"))
    no_terms = old & (rng.random(n) < 0.6)
    for values, p in ((actual_deliver, 0.5), (actual_start, 0.3), (actual_done, 0.3), (actual_prod, 0.4)):
        values[old & (rng.random(n) < p)] = np.nan
    for values in (agreed_deliver, agreed_start, agreed_done, agreed_prod):
        values[no_terms] = np.nan
    for values in chain:
        values[~supplied] = np.nan
    dates = dict(zip(DATE_FIELDS, chain, strict=True))

    # 供地方式 and 标准地 by era.
    era = np.where(sign < _day("2005-01-01"), 0, np.where(sign < _day("2018-01-01"), 1, 2))
    supply = _categorical(rng, era, np.array([[0.72, 0.22, 0.06], [0.90, 0.05, 0.05], [0.96, 0.0, 0.04]]))
    supply[~supplied] = -1
    standard = (era == 2) & (supply == 0) & (rng.random(n) < 0.92)

    # Agreed FAR (约定容积率) as published text, and the FAR actually built.
    far_group = np.where(zone == Z_SMALL, 3, era)
    lo_index = _categorical(
        rng,
        far_group,
        np.array(
            [
                [0.3, 0.5, 0.2, 0, 0, 0, 0, 0],
                [0, 0.3, 0.45, 0.25, 0, 0, 0, 0],
                [0, 0, 0.2, 0.35, 0.15, 0.2, 0.1, 0],
                [0, 0, 0, 0, 0, 0, 0.6, 0.4],
            ]
        ),
    )
    span_index = rng.integers(0, len(FAR_SPANS), n)
    template = _categorical(rng, np.zeros(n, dtype=np.int64), np.array([FAR_TEMPLATE_P]))
    has_terms = supplied & ((sign >= _day("2003-01-01")) | (rng.random(n) < 0.4))
    far_lookup = np.array(
        [
            t.format(lo=_fmt_far(lo_v), hi=_fmt_far(lo_v + span))
            for t in FAR_TEMPLATES
            for lo_v in FAR_VALUES
            for span in FAR_SPANS
        ]
    )
    far_text = far_lookup[(template * len(FAR_VALUES) + lo_index) * len(FAR_SPANS) + span_index]
    far_text[~has_terms] = ""
    agreed_far = np.where(has_terms, FAR_VALUES[lo_index], 1.0)

    built_far = agreed_far * np.exp(rng.normal(0.12, 0.25, n))
    underbuilt = rng.random(n) < 0.15  # 用而未尽
    partial = agreed_far * rng.uniform(0.45, 0.9, n)
    old_far = rng.uniform(0.3, 0.95, n)
    small_far = agreed_far * np.exp(rng.normal(0.1, 0.15, n))
    part_built = agreed_far * rng.uniform(0.05, 0.45, n)
    far = np.select(
        [
            (category == CAT_PRODUCING) & (zone == Z_SMALL),
            (category == CAT_PRODUCING) & (zone == Z_RENEWAL),
            (category == CAT_PRODUCING) & underbuilt,
            category == CAT_PRODUCING,
            started | idle_uf,
        ],
        [small_far, old_far, partial, built_far, part_built],
        default=0.0,
    )
    far = np.minimum(far, 4.5)
    coverage = rng.uniform(0.35, 0.62, n)
    density = np.where(far > 0, np.minimum(coverage, far * rng.uniform(0.85, 1.0, n)), 0.0)
    floor_area = np.round(far * county.area_m2, 2)

    # 房屋安全 (JGJ125) by the age of the buildings.
    built_year = np.where(np.isnan(actual_done), _year_of(sign) + 2, _year_of(actual_done))
    age = 2024 - built_year
    age_group = np.where(age >= 25, 0, np.where(age >= 15, 1, 2))
    safety = _categorical(
        rng, age_group, np.array([[0.30, 0.52, 0.13, 0.05], [0.45, 0.49, 0.045, 0.015], [0.72, 0.27, 0.008, 0.002]])
    )
    safety[far <= 0] = -1

    u_use, u_new = rng.random(n), rng.random(n)
    land_use = np.zeros(n, dtype=np.int64)
    land_use[supplied & (zone == Z_NONE) & (u_use < 0.01)] = 1
    land_use[supplied & (land_use == 0) & (sign >= _day("2021-01-01")) & (u_new < 0.3)] = 2

    declared = county.area_m2 * (1.0 + rng.uniform(-0.005, 0.005, n))
    outliers = rng.choice(n, size=max(1, round(0.002 * n)), replace=False)
    declared[outliers] *= rng.choice(np.array([1.3, 0.75, 1.2, 0.8]), size=len(outliers))
    declared = np.round(declared, 2)

    price = np.where(supplied, np.round(mu * rng.uniform(20.0, 60.0, n), 2), np.nan)
    has_unit = supplied & (rng.random(n) < 0.72)

    return Parcels(
        zone=zone,
        township=township,
        mu=mu,
        category=category,
        zddm=_zddm(county, township),
        declared_m2=declared,
        land_use=land_use,
        far=np.round(far, 2),
        density=np.round(density, 3),
        floor_area=floor_area,
        far_text=far_text,
        supply=supply,
        standard=standard,
        price=price,
        monitor=_monitor_numbers(sign, supply),
        has_unit=has_unit,
        safety=safety,
        dates=dates,
        **_addresses(county),
    )


def _zddm(county: County, township: np.ndarray) -> np.ndarray:
    """宗地代码: 330699 + 地籍区 (township) + 地籍子区 (block, or a run of blocks) + GB + sequence."""
    blocks = county.parcel_block
    # Blocks of a township in the order they were taken; more than 999 blocks share 子区 in runs.
    first_parcel = np.unique(blocks, return_index=True)[1]
    block_order = blocks[np.sort(first_parcel)]
    block_twn = county.block_township[block_order]
    order = np.argsort(block_twn, kind="stable")
    twn_sorted = block_twn[order]
    starts = np.searchsorted(twn_sorted, twn_sorted, side="left")
    ordinal = np.arange(len(order)) - starts
    per_twn = np.bincount(twn_sorted)
    run = np.maximum(1, np.ceil(per_twn / 999.0)).astype(np.int64)
    sub_of_block = np.zeros(county.nb * county.nb, dtype=np.int64)
    sub_of_block[block_order[order]] = ordinal // run[twn_sorted] + 1
    sub = sub_of_block[blocks]
    key = township * 1000 + sub
    korder = np.argsort(key, kind="stable")
    ksorted = key[korder]
    seq = np.empty(len(key), dtype=np.int64)
    seq[korder] = np.arange(len(key)) - np.searchsorted(ksorted, ksorted, side="left") + 1
    if seq.max() > 99999:  # pragma: no cover - a 子区 holds at most a few thousand parcels
        raise RuntimeError("宗地顺序号 overflow")
    codes = [
        f"{COUNTY_CODE}{t:03d}{s:03d}GB{q:05d}"
        for t, s, q in zip(township.tolist(), sub.tolist(), seq.tolist(), strict=True)
    ]
    return np.array(codes, dtype="<U19")


def _monitor_numbers(sign: np.ndarray, supply: np.ndarray) -> np.ndarray:
    """电子监管号 (from 2009): 330699 + year + letter + sequence within the year, by contract date."""
    n = len(sign)
    out = np.full(n, "", dtype="<U16")
    ok = np.flatnonzero((supply >= 0) & ~np.isnan(sign) & (sign >= _day("2009-01-01")))
    if not len(ok):
        return out
    year = _year_of(sign[ok]).astype(np.int64)
    order = np.lexsort((ok, sign[ok]))
    ys = year[order]
    yorder = np.argsort(ys, kind="stable")
    ysorted = ys[yorder]
    seq_sorted = np.arange(len(ysorted)) - np.searchsorted(ysorted, ysorted, side="left") + 1
    seq = np.empty(len(ok), dtype=np.int64)
    seq[order[yorder]] = seq_sorted
    letters = np.array(SUPPLY_LETTERS)[supply[ok]]
    out[ok] = [
        f"{COUNTY_CODE}{y}{c}{s:05d}" for y, c, s in zip(year.tolist(), letters.tolist(), seq.tolist(), strict=True)
    ]
    return out


def _road_name(words: Sequence[str], index: int) -> str:
    """兴业路, 兴业一路, 兴业二路 ... as the grid outgrows the word list."""
    q = index // len(words)
    ordinal = CN_DIGITS[q] if q < len(CN_DIGITS) else str(q)
    return f"{words[index % len(words)]}{ordinal}路"


def _addresses(county: County) -> dict[str, Any]:
    """The frontage road of each parcel (nearest block side) and a house number along it."""
    nb = county.nb
    b = county.parcel_block
    bi, bj = b % nb, b // nb
    px, py = county.centre_x, county.centre_y
    xs, ys = county.xs, county.ys
    dist = np.stack([px - xs[bi], xs[bi + 1] - px, py - ys[bj], ys[bj + 1] - py])
    side = np.argmin(dist, axis=0)
    ns_road = np.where(side == 0, bi, bi + 1)
    ew_road = np.where(side == 2, bj, bj + 1)
    road = np.where(side < 2, ns_road, (nb + 1) + ew_road)
    # Numbers run from where the county's land along the road begins; odd numbers on the east /
    # north side of a road, even on the other.
    along = np.where(side < 2, py, px)
    start = np.full(2 * (nb + 1), np.inf)
    np.minimum.at(start, road, along)
    house = 2 * np.floor((along - start[road]) / 30.0).astype(np.int64) + np.where((side == 0) | (side == 2), 1, 2)
    # Number the roads from the first one the county uses, so the central roads get short names.
    ns_first = int(ns_road[side < 2].min(initial=nb))
    ew_first = int(ew_road[side >= 2].min(initial=nb))
    names = [_road_name(NS_ROAD_WORDS, max(0, i - ns_first)) for i in range(nb + 1)]
    names += [_road_name(EW_ROAD_WORDS, max(0, i - ew_first)) for i in range(nb + 1)]
    return {"road_name": road, "house_no": house, "road_names": names}


# --------------------------------------------------------------------------- enterprises


@dataclass
class Enterprises:
    """Firms (企业名录) and their land (用地关系)."""

    uscc: np.ndarray
    name: np.ndarray
    above: np.ndarray  # 规上
    industry: np.ndarray  # index into INDUSTRIES, len(INDUSTRIES) for MINING
    founded: np.ndarray  # float days
    producing_since: np.ndarray  # float days, NaN none
    township: np.ndarray  # 1..T
    area_mu: np.ndarray  # total 使用面积, 亩
    active: np.ndarray  # produces somewhere (has real figures)
    parcel_owner: np.ndarray  # firm index per parcel, -1 for state land
    # 用地关系 rows
    occ_firm: np.ndarray
    occ_parcel: np.ndarray
    occ_hundredths: np.ndarray  # 使用面积 in 0.01 亩
    occ_leased: np.ndarray
    occ_start: np.ndarray
    occ_end: np.ndarray
    counts: dict[str, int] = field(default_factory=dict)


def _enterprises(rng: np.random.Generator, county: County, parcels: Parcels) -> Enterprises:
    n = county.parcels
    cat, zone = parcels.category, parcels.zone
    sign = parcels.dates["签订日期"]
    producing = cat == CAT_PRODUCING

    # Owners: consecutive parcels of one firm (一企多地 is mostly next-door expansion).
    owned = np.flatnonzero(cat != CAT_VACANT)
    q = SHARE_MULTI_PARCEL
    sizes = rng.choice(np.array([1, 2, 3]), size=len(owned), p=[1.0 - q, q * 0.65, q * 0.35])
    cum = np.cumsum(sizes)
    groups = int(np.searchsorted(cum, len(owned))) + 1
    sizes = sizes[:groups]
    sizes[-1] -= int(cum[groups - 1]) - len(owned)
    owner_of_owned = np.repeat(np.arange(groups), sizes)
    parcel_owner = np.full(n, -1, dtype=np.int64)
    parcel_owner[owned] = owner_of_owned

    # Tenants (一地多企): a few parcels everywhere, most parcels of the 小微企业园.
    parcel_h = np.floor(parcels.mu * 100.0).astype(np.int64)
    eligible = producing & (zone != Z_SMALL) & (parcels.mu >= 6.0)
    p_general = min(0.9, SHARE_TENANTED * n / max(1, int(eligible.sum())))
    u_general, u_small = rng.random(n), rng.random(n)
    tenanted = (eligible & (u_general < p_general)) | (
        producing & (zone == Z_SMALL) & (u_small < SHARE_SMALL_PARK_TENANTED)
    )
    in_small = zone == Z_SMALL
    n_tenants = np.where(
        in_small,
        rng.choice(np.array([1, 2, 3, 4]), size=n, p=[0.3, 0.35, 0.2, 0.15]),
        rng.choice(np.array([1, 2, 3, 4]), size=n, p=[0.4, 0.3, 0.18, 0.12]),
    )
    n_tenants[~tenanted] = 0
    share = np.where(in_small, rng.uniform(0.55, 0.9, n), rng.uniform(0.25, 0.65, n))
    slot_parcel = np.repeat(np.arange(n), n_tenants)
    weight = rng.gamma(2.0, size=len(slot_parcel))
    slot_start = np.cumsum(n_tenants) - n_tenants
    weight_sum = np.add.reduceat(weight, slot_start[tenanted]) if len(weight) else np.zeros(0)
    weight_sum_of = np.zeros(n)
    weight_sum_of[tenanted] = weight_sum
    slot_h = np.maximum(
        1, np.floor(parcel_h[slot_parcel] * share[slot_parcel] * weight / weight_sum_of[slot_parcel])
    ).astype(np.int64)
    owner_h = parcel_h - np.bincount(slot_parcel, weights=slot_h, minlength=n).astype(np.int64)

    # Some tenant slots are taken by firms that own land elsewhere; the rest are new, landless firms.
    existing = rng.random(len(slot_parcel)) < SHARE_TENANT_OWNS_LAND
    candidate = rng.integers(0, groups, len(slot_parcel))
    existing &= candidate != parcel_owner[slot_parcel]
    key = slot_parcel * groups + candidate
    first = np.zeros(len(key), dtype=bool)
    first[np.unique(np.where(existing, key, -1 - np.arange(len(key))), return_index=True)[1]] = True
    existing &= first
    new_tenants = int((~existing).sum())
    slot_firm = np.where(existing, candidate, 0)
    slot_firm[~existing] = groups + np.arange(new_tenants)
    firms = groups + new_tenants

    # Owners' facts: registered some years before their first contract.
    group_start = np.cumsum(sizes) - sizes
    owner_producing = np.maximum.reduceat(producing[owned].astype(np.int64), group_start).astype(bool)
    sign_min = np.fmin.reduceat(sign[owned], group_start)
    owner_founded = sign_min - np.where(
        owner_producing, rng.integers(30, 8 * 365, groups), rng.integers(30, 3 * 365, groups)
    )
    owner_founded = np.maximum(owner_founded, _day("1985-01-01"))

    # Lease dates: after the parcel produced (and the tenant was registered), before the reference date.
    base = np.where(np.isnan(parcels.dates["实际投产"]), sign + 3 * 365.0, parcels.dates["实际投产"])
    base = np.maximum(base, _day("2012-01-01"))[slot_parcel]
    base[existing] = np.maximum(base, owner_founded[candidate] + 30.0)[existing]
    last_start = np.full(len(base), REF_DAY - 30)
    lease_start = np.where(base < last_start, _between(rng, np.minimum(base, last_start), last_start), last_start)
    lease_end = _add_years(lease_start, _running_term(lease_start, rng.choice(np.array([3.0, 5.0, 10.0]), len(base))))
    # Land-use rights: 划拨 without term, 标准地 often 20 years (弹性年期), 租赁 10-20, else 50 years.
    is_std = parcels.standard[owned]
    own_start = sign[owned]
    own_term = np.select(
        [parcels.supply[owned] == 1, is_std & (rng.random(len(owned)) < 0.6), parcels.supply[owned] == 2],
        [np.nan, 20.0, _running_term(own_start, rng.choice(np.array([10.0, 20.0]), size=len(owned)))],
        default=50.0,
    )
    own_end = _add_years(own_start, own_term)

    # 用地关系: per parcel, the owner then its tenants.
    occ_parcel = np.concatenate([owned, slot_parcel])
    occ_kind = np.concatenate([np.zeros(len(owned), np.int64), 1 + _ragged_arange(n_tenants[tenanted])])
    occ_order = np.lexsort((occ_kind, occ_parcel))
    occ_firm = np.concatenate([owner_of_owned, slot_firm])[occ_order]
    occ_parcel = occ_parcel[occ_order]
    occ_h = np.concatenate([owner_h[owned], slot_h])[occ_order]
    occ_leased = (occ_kind > 0)[occ_order]
    occ_start = np.concatenate([own_start, lease_start])[occ_order]
    occ_end = np.concatenate([own_end, lease_end])[occ_order]
    area_mu = np.bincount(occ_firm, weights=occ_h, minlength=firms) / 100.0

    # Firm facts from their land.
    first_parcel = np.concatenate([owned[group_start], slot_parcel[~existing]])
    prod_days = np.where(producing[owned], parcels.dates["实际投产"][owned], np.inf)
    prod_min = np.minimum.reduceat(prod_days, group_start)
    prod_min = np.where(np.isinf(prod_min), np.nan, prod_min)
    has_lease = np.zeros(firms, dtype=bool)
    has_lease[slot_firm] = True
    active = np.concatenate([owner_producing, np.ones(new_tenants, dtype=bool)]) | has_lease

    new_lease_start = lease_start[~existing]
    tenant_founded = np.maximum(new_lease_start - rng.integers(0, 5 * 365, new_tenants), _day("1990-01-01"))
    founded = np.concatenate([owner_founded, np.minimum(tenant_founded, new_lease_start)])
    owner_prod_since = np.where(
        owner_producing & np.isnan(prod_min), sign_min + rng.integers(540, 1100, groups), prod_min
    )
    tenant_prod_since = new_lease_start + rng.integers(15, 200, new_tenants)
    tenant_prod_since[tenant_prod_since > REF_DAY] = np.nan
    producing_since = np.concatenate([owner_prod_since, tenant_prod_since])
    township = parcels.township[first_parcel]

    # 行业: by the zone of the firm's first parcel; tenants like the 小微企业园.
    weights = np.array([w for _, _, w in INDUSTRIES], dtype=float).T  # zone class x industry
    klass = np.concatenate([zone[owned[group_start]], np.full(new_tenants, Z_SMALL)])
    industry = _categorical(rng, klass, weights)
    mines = np.zeros(firms, dtype=bool)
    mines[parcel_owner[parcels.land_use == 1]] = True
    industry[mines] = len(INDUSTRIES)

    above = _scale(rng, area_mu, active, founded, np.arange(firms) >= groups)
    name = _firm_names(rng, industry)
    uscc = _usccs(rng, founded)
    counts = {
        "owner_firms": groups,
        "landless_tenants": new_tenants,
        "multi_parcel_firms": int((sizes >= 2).sum()),
        "tenanted_parcels": int(tenanted.sum()),
        "tenant_rows": len(slot_parcel),
        "tenant_rows_by_landowners": int(existing.sum()),
    }
    return Enterprises(
        uscc=uscc,
        name=name,
        above=above,
        industry=industry,
        founded=founded,
        producing_since=producing_since,
        township=township,
        area_mu=area_mu,
        active=active,
        parcel_owner=parcel_owner,
        occ_firm=occ_firm,
        occ_parcel=occ_parcel,
        occ_hundredths=occ_h,
        occ_leased=occ_leased,
        occ_start=occ_start,
        occ_end=occ_end,
        counts=counts,
    )


def _running_term(start: np.ndarray, term: np.ndarray) -> np.ndarray:
    """Years of a lease or right renewed in whole terms until it runs past the reference date."""
    needed = np.ceil((REF_DAY + 1.0 - start) / 365.0)
    return np.maximum(term, np.ceil(needed / term) * term)


def _scale(
    rng: np.random.Generator, area: np.ndarray, active: np.ndarray, founded: np.ndarray, landless: np.ndarray
) -> np.ndarray:
    """规上 flags: likelier on large land; tenants rarely; new and idle firms never."""
    eligible = active & (founded < _day("2023-01-01"))
    owners = eligible & ~landless
    tenants = eligible & landless
    tenant_p = 0.06
    target = SHARE_ABOVE * len(area) - tenant_p * tenants.sum()
    log_area = np.log(np.maximum(area[owners], 0.5) / 20.0)
    lo, hi = -10.0, 10.0
    for _ in range(60):  # bisection: expected 规上 count among owners = target
        mid = (lo + hi) / 2.0
        if (1.0 / (1.0 + np.exp(-(mid + 1.2 * log_area)))).sum() < target:
            lo = mid
        else:
            hi = mid
    p = np.zeros(len(area))
    p[owners] = 1.0 / (1.0 + np.exp(-(lo + 1.2 * log_area)))
    p[tenants] = tenant_p
    return rng.random(len(area)) < p


def _firm_names(rng: np.random.Generator, industry: np.ndarray) -> np.ndarray:
    """Unique names like 示范县恒达机械有限公司: prefix + 字号 + industry word (+ 科技/制造) + form.

    Duplicates are drawn again, from a wider name space (three-character 字号, uniform choices).
    """
    n = len(industry)
    words = [w for _, w, _ in INDUSTRIES] + [MINING[1]]
    c3 = ["", *NAME_CHAR3]
    middles = ("", "科技", "制造")
    names: list[str] = [""] * n
    used: set[str] = set()
    todo = np.arange(n)
    wide = False
    for _ in range(50):
        k = len(todo)
        prefix = rng.choice(len(NAME_PREFIXES), size=k, p=None if wide else NAME_PREFIX_P)
        first, second = rng.integers(0, len(NAME_CHAR1), k), rng.integers(0, len(NAME_CHAR2), k)
        third = np.where(wide | (rng.random(k) < 0.15), 1 + rng.integers(0, len(NAME_CHAR3), k), 0)
        middle = rng.choice(len(middles), size=k, p=None if wide else (0.8, 0.12, 0.08))
        suffix = (rng.random(k) < (0.5 if wide else 0.12)).astype(np.int64)
        retry = []
        for i, p, a, b, c, w, m, x in zip(
            todo.tolist(),
            prefix.tolist(),
            first.tolist(),
            second.tolist(),
            third.tolist(),
            industry[todo].tolist(),
            middle.tolist(),
            suffix.tolist(),
            strict=True,
        ):
            word = words[w]
            name = f"{NAME_PREFIXES[p]}{NAME_CHAR1[a]}{NAME_CHAR2[b]}{c3[c]}{word}"
            name += f"{'' if word == '科技' else middles[m]}{NAME_SUFFIXES[x]}"
            if name in used:
                retry.append(i)
            else:
                used.add(name)
                names[i] = name
        if not retry:
            return np.array(names)
        todo = np.array(retry)
        wide = True
    raise RuntimeError("could not make unique firm names")  # pragma: no cover


def _usccs(rng: np.random.Generator, founded: np.ndarray) -> np.ndarray:
    """统一社会信用代码 91 + 330699 + 组织机构代码 (GB 11714, check char) + GB 32100 check char.

    Firms registered before 2016 carry an 8-digit organisation code, later ones an ``MA`` code.
    """
    n = len(founded)
    charset = np.array([ord(c) for c in USCC_CHARSET], dtype=np.uint32)
    new = founded >= _day("2016-01-01")
    body = np.empty(n, dtype="<U8")
    todo = np.arange(n)
    for _ in range(50):
        k = len(todo)
        chars = np.empty((k, 8), dtype=np.uint32)
        chars[:, 0] = ord("1") + rng.integers(0, 7, k)  # old codes: leading 1-7
        chars[:, 1:] = ord("0") + rng.integers(0, 10, (k, 7))
        ma = charset[rng.integers(0, len(charset), (k, 6))]
        is_new = new[todo]
        chars[is_new, 0], chars[is_new, 1] = ord("M"), ord("A")
        chars[is_new, 2:] = ma[is_new]
        body[todo] = chars.view("<U8").ravel()
        _, first = np.unique(body, return_index=True)
        dup = np.ones(n, dtype=bool)
        dup[first] = False
        todo = np.flatnonzero(dup)
        if not len(todo):
            break
    else:  # pragma: no cover
        raise RuntimeError("could not make unique USCCs")
    prefix = "91" + COUNTY_CODE
    out = []
    for org8 in body.tolist():
        first17 = prefix + org8 + org_code_check_char(org8)
        out.append(first17 + uscc_check_char(first17))
    return np.array(out, dtype="<U18")


# --------------------------------------------------------------------------- yearly figures

FIGURE_HEADER = (
    "统一社会信用代码",
    "企业名称",
    "税收(万元)",
    "工业增加值(万元)",
    "主营业务收入(万元)",
    "工业总产值(万元)",
    "综合能耗(吨标煤)",
    "排放量(吨)",
    "R&D经费支出(万元)",
    "年平均职工人数",
    "用电量(千瓦时)",
)
_FIGURE_KEYS = ("tax", "va", "revenue", "output", "energy", "emission", "rd", "workers", "power")
_FIGURE_DECIMALS = (2, 2, 2, 2, 2, 4, 2, 0, 0)
TCE_PER_KWH = 0.0001229  # 电力折标准煤 (当量值), 吨标煤/千瓦时


def _figures(rng: np.random.Generator, ents: Enterprises) -> dict[int, dict[str, np.ndarray]]:
    """Yearly figures per firm (NaN = blank), 2022 centred on the 黄岩 2022 benchmarks."""
    n = len(ents.uscc)
    area = ents.area_mu
    latent = rng.standard_normal(n)  # firm efficiency shared by all indicators

    def mean_one(sigma: float, rho: float) -> np.ndarray:
        eps = rho * latent + math.sqrt(1.0 - rho * rho) * rng.standard_normal(n)
        return np.exp(sigma * eps - sigma * sigma / 2.0)

    above, active = ents.above, ents.active
    base = {key: np.full(n, np.nan) for key in _FIGURE_KEYS}
    # 规上: every indicator a lognormal ratio with the benchmark as its mean.
    va = BENCH_ABOVE["mu_va"] * mean_one(0.6, 0.8) * area
    energy = va / (BENCH_ABOVE["va_per_energy"] * mean_one(0.7, 0.5))
    emission = va / (BENCH_ABOVE["va_per_emission"] * mean_one(0.9, 0.4))
    workers = va / (BENCH_ABOVE["va_per_worker"] * mean_one(0.45, 0.6))
    revenue = va / rng.uniform(0.18, 0.32, n)
    rd = revenue * BENCH_ABOVE["rd_ratio"] * mean_one(0.8, 0.6)
    tax_above = BENCH_ABOVE["mu_tax"] * mean_one(0.75, 0.85) * area
    output = revenue * rng.uniform(0.96, 1.10, n)
    power_above = energy * rng.uniform(0.45, 0.85, n) / TCE_PER_KWH
    no_emission = rng.random(n) < 0.05
    # 规下: tax, power (单位电耗税收), revenue and workers only.
    tax_below = BENCH_BELOW["mu_tax"] * mean_one(0.9, 0.85) * area
    power_below = tax_below / (BENCH_BELOW["tax_per_power"] * mean_one(0.6, 0.5)) * 1e4
    revenue_below = tax_below / rng.uniform(0.04, 0.10, n)
    workers_below = revenue_below / rng.uniform(40.0, 90.0, n)
    # Idle or still-building owners: nothing, or next to nothing.
    tax_tiny = rng.uniform(0.0, 1.5, n)
    tiny_rows = rng.random(n) < 0.5

    m = above
    for key, values in (
        ("tax", tax_above),
        ("va", va),
        ("revenue", revenue),
        ("output", output),
        ("energy", energy),
        ("emission", np.where(no_emission, np.nan, emission)),
        ("rd", rd),
        ("workers", workers),
        ("power", power_above),
    ):
        base[key][m] = values[m]
    m = ~above & active
    for key, values in (
        ("tax", tax_below),
        ("revenue", revenue_below),
        ("workers", workers_below),
        ("power", power_below),
    ):
        base[key][m] = values[m]
    m = ~active
    base["tax"][m] = tax_tiny[m]
    base["revenue"][m] = (tax_tiny / rng.uniform(0.05, 0.15, n))[m]
    base["workers"][m] = rng.integers(1, 6, n)[m]
    base["power"][m] = (tax_tiny / BENCH_BELOW["tax_per_power"] * 1e4 * rng.uniform(0.3, 1.0, n))[m]
    has_rows = active | tiny_rows
    first_year = np.maximum(YEARS[0], _year_of(ents.founded))

    growth = rng.normal(0.05, 0.07, n)
    level = np.ones(n)
    out: dict[int, dict[str, np.ndarray]] = {}
    for i, year in enumerate(YEARS):
        if i:
            level = level * np.maximum(0.5, 1.0 + growth + rng.normal(0.0, 0.03, n))
        rows = np.flatnonzero(has_rows & (first_year <= year))
        year_figures: dict[str, np.ndarray] = {"firm": rows}
        for key, decimals in zip(_FIGURE_KEYS, _FIGURE_DECIMALS, strict=True):
            lvl = np.sqrt(level) if key == "workers" else level
            values = np.round(base[key][rows] * lvl[rows] * np.exp(rng.normal(0.0, 0.03, len(rows))), decimals)
            if key != "tax":  # a firm may pay no tax, but ratios need positive denominators
                values = np.maximum(values, 10.0**-decimals)
            year_figures[key] = values
        year_figures["blank_uscc"] = rng.random(len(rows)) < 0.01
        out[year] = year_figures
    return out


# --------------------------------------------------------------------------- writers


def _remove_outputs(out: Path) -> None:
    """Delete earlier outputs of this script (only the names it writes)."""
    names = [f"{SHP_NAME}{s}" for s in (".shp", ".shx", ".dbf", ".prj", ".cpg")]
    names += ["regions.geojson", "zones.geojson", "zone_targets.csv", WORKBOOK_NAME, "manifest.json"]
    names += [f"{s}.csv" for s in (SHEET_FIRMS, SHEET_LAND, *(f"{y}年度" for y in YEARS))]
    for name in names:
        (out / name).unlink(missing_ok=True)


def _write_parcels(out: Path, county: County, parcels: Parcels, ents: Enterprises, prog: _Progress) -> None:
    """ZD_330699.shp in EPSG:4528, GBK DBF without .cpg, written in chunks of SHP_CHUNK."""
    path = out / f"{SHP_NAME}.shp"
    n = county.parcels
    owner_names = np.append(ents.name, RESERVE_OWNER)
    owner = np.where(ents.parcel_owner >= 0, ents.parcel_owner, len(ents.name))
    twn_names = [""] + [name for _, name in county.townships]
    road_names = parcels.road_names
    address_width = (
        len((COUNTY_NAME + "号").encode(ENCODING))
        + max(len(t.encode(ENCODING)) for t in twn_names)
        + max(len(r.encode(ENCODING)) for r in road_names)
        + len(str(int(parcels.house_no.max())))
    )
    widths = {
        "宗地代码": 19,
        "不动产单": 28,
        "权利人": _gbk_width(owner_names),
        "坐落": address_width,
        "约定容积": _gbk_width(parcels.far_text),
        "用途": 4,
        "供地方式": 4,
        "标准地": 2,
        "监管号": 16,
        "房屋安全": 1,
    }
    supply_names = np.array([*SUPPLY_MODES, ""])
    safety_names = np.array([*SAFETY_GRADES, ""])
    land_uses = np.array(LAND_USES)
    vx, vy = county.to_projected(county.vx, county.vy)
    chunks = range(0, n, SHP_CHUNK)
    for index, lo in enumerate(chunks):
        hi = min(n, lo + SHP_CHUNK)
        prog.note(f"写出宗地 {lo:,}-{hi:,}")
        off = county.ring_offset[lo : hi + 1]
        vid = county.ring_vertex[off[0] : off[-1]]
        coords = np.column_stack([vx[vid], vy[vid]])
        geoms = shapely.from_ragged_array(shapely.GeometryType.POLYGON, coords, (off - off[0], np.arange(hi - lo + 1)))
        if not shapely.is_valid(geoms).all():  # pragma: no cover - guarded by construction
            raise RuntimeError("invalid parcel geometry")
        zddm = parcels.zddm[lo:hi]
        far = parcels.far[lo:hi]
        unit = np.where(parcels.has_unit[lo:hi], np.char.add(zddm, np.where(far > 0, "F00010001", "W00000000")), "")
        twn = parcels.township[lo:hi].tolist()
        road = parcels.road_name[lo:hi].tolist()
        house = parcels.house_no[lo:hi].tolist()
        address = [f"{COUNTY_NAME}{twn_names[t]}{road_names[r]}{h}号" for t, r, h in zip(twn, road, house, strict=True)]
        text = {
            "宗地代码": zddm,
            "不动产单": unit,
            "权利人": owner_names[owner[lo:hi]],
            "坐落": address,
            "用途": land_uses[parcels.land_use[lo:hi]],
            "约定容积": parcels.far_text[lo:hi],
            "供地方式": supply_names[parcels.supply[lo:hi]],
            "标准地": np.where(parcels.standard[lo:hi], "是", "否"),
            "监管号": parcels.monitor[lo:hi],
            "房屋安全": safety_names[parcels.safety[lo:hi]],
        }
        columns: dict[str, np.ndarray] = {}
        for name in ("宗地代码", "不动产单", "权利人", "坐落"):
            columns[name] = np.asarray(text[name], dtype=f"<U{widths[name]}")
        columns["宗地面积"] = parcels.declared_m2[lo:hi]
        columns["用途"] = np.asarray(text["用途"], dtype="<U4")
        columns["容积率"] = far
        columns["建筑密度"] = parcels.density[lo:hi]
        columns["建筑面积"] = parcels.floor_area[lo:hi]
        for name in ("约定容积", "供地方式", "标准地"):
            columns[name] = np.asarray(text[name], dtype=f"<U{widths[name]}")
        columns["土地价款"] = parcels.price[lo:hi]
        columns["监管号"] = np.asarray(text["监管号"], dtype="<U16")
        for name in DATE_FIELDS:
            columns[name] = _dates64(parcels.dates[name][lo:hi])
        columns["房屋安全"] = np.asarray(text["房屋安全"], dtype="<U1")
        pyogrio.raw.write(
            path,
            shapely.to_wkb(geoms),
            list(columns.values()),
            list(columns),
            driver="ESRI Shapefile",
            geometry_type="Polygon",
            crs=f"EPSG:{SHP_EPSG}",
            encoding=ENCODING,
            layer_options={"DBF_DATE_LAST_UPDATE": FIXED_STAMP.date().isoformat()},
            append=index > 0,
        )
    # ArcGIS-era county files: GBK without a .cpg, and a fixed header date (GDAL writes today's
    # date when appending).
    path.with_suffix(".cpg").unlink(missing_ok=True)
    with path.with_suffix(".dbf").open("r+b") as dbf:
        dbf.seek(1)
        dbf.write(bytes([FIXED_STAMP.year - 1900, FIXED_STAMP.month, FIXED_STAMP.day]))


def _union_cells(county: County, blocks: np.ndarray) -> shapely.Geometry:
    """Union of the grid cells (to road centrelines) of ``blocks``, local frame."""
    nb = county.nb
    bi, bj = blocks % nb, blocks // nb
    cells = shapely.box(county.xs[bi], county.ys[bj], county.xs[bi + 1], county.ys[bj + 1])
    return shapely.coverage_union_all(cells)


def _geojson_geometry(county: County, geom: shapely.Geometry) -> dict[str, Any]:
    """A local-frame geometry as a GeoJSON MultiPolygon in EPSG:4490 (7 decimals, about 1 cm)."""
    to4490 = Transformer.from_crs(SHP_EPSG, GEOJSON_EPSG, always_xy=True)

    def project(xy: np.ndarray) -> np.ndarray:
        e, n = county.to_projected(xy[:, 0], xy[:, 1])
        lon, lat = to4490.transform(e, n)
        return np.round(np.column_stack([lon, lat]), 7)

    parts = shapely.get_parts(shapely.transform(geom, project))
    polygons = []
    for part in parts:
        rings = [part.exterior, *part.interiors]
        polygons.append([[list(c) for c in ring.coords] for ring in rings])
    return {"type": "MultiPolygon", "coordinates": polygons}


def _feature_collection(name: str, features: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "FeatureCollection",
        "name": name,
        "crs": {"type": "name", "properties": {"name": f"urn:ogc:def:crs:EPSG::{GEOJSON_EPSG}"}},
        "features": features,
    }


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")


def _write_regions(out: Path, county: County) -> None:
    """regions.geojson: 省 and 市 without geometry, the county and its 乡镇 as MultiPolygons."""
    features: list[dict[str, Any]] = []

    def feature(code: str, name: str, level: int, parent: str | None, geometry: dict[str, Any] | None) -> None:
        props = {"代码": code, "名称": name, "级别": level, "上级代码": parent}
        features.append({"type": "Feature", "properties": props, "geometry": geometry})

    feature(PROVINCE[0], PROVINCE[1], 1, None, None)
    feature(CITY[0], CITY[1], 2, PROVINCE[0], None)
    feature(COUNTY_CODE, COUNTY_NAME, 3, CITY[0], _geojson_geometry(county, _union_cells(county, county.county_blocks)))
    for index, (code, name) in enumerate(county.townships, start=1):
        blocks = county.county_blocks[county.block_township[county.county_blocks] == index]
        feature(code, name, 4, COUNTY_CODE, _geojson_geometry(county, _union_cells(county, blocks)))
    _write_json(out / "regions.geojson", _feature_collection("regions", features))


def _write_zones(out: Path, county: County) -> None:
    """zones.geojson: the 园区, each the union of its blocks that hold parcels."""
    features = []
    used = np.unique(county.parcel_block)
    for index, spec in enumerate(ZONES, start=1):
        blocks = used[county.block_zone[used] == index]
        props = {"编码": spec.code, "名称": spec.name, "类型": spec.kind, "所属区划": COUNTY_CODE}
        features.append(
            {
                "type": "Feature",
                "properties": props,
                "geometry": _geojson_geometry(county, _union_cells(county, blocks)),
            }
        )
    _write_json(out / "zones.geojson", _feature_collection("zones", features))


def _write_zone_targets(out: Path, parcels: Parcels) -> list[list[str]]:
    """zone_targets.csv: yearly 治理面积, a 2023-2027 腾出面积 and improvement targets per zone."""
    rows: list[list[str]] = []
    for index, spec in enumerate(ZONES, start=1):
        area = float(parcels.mu[parcels.zone == index].sum())
        renew, vacate, far_up = ZONE_TARGET_SHARES[spec.kind]
        rows += [
            [
                spec.code,
                "治理面积",
                "2024",
                "2024",
                str(max(1, round(area * renew))),
                "亩",
                "2024年度低效工业用地治理面积",
            ],
            [
                spec.code,
                "治理面积",
                "2025",
                "2025",
                str(max(1, round(area * renew * 1.1))),
                "亩",
                "2025年度低效工业用地治理面积",
            ],
            [
                spec.code,
                "腾出面积",
                "2023",
                "2027",
                str(max(1, round(area * vacate))),
                "亩",
                "2023-2027年累计腾出低效工业用地",
            ],
            [spec.code, "容积率提升", "2023", "2027", f"{far_up:.1f}", "", "园区平均容积率提升"],
            [spec.code, "亩均税收增长", "2024", "2024", "10", "%", "规上工业亩均税收增长"],
            [spec.code, "亩均增加值增长", "2024", "2024", "8", "%", "规上工业亩均增加值增长"],
        ]
    with (out / "zone_targets.csv").open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["园区编码", "指标", "起始年度", "截止年度", "目标值", "单位", "说明"])
        writer.writerows(rows)
    return rows


@dataclass
class Sheet:
    """One table of the enterprise workbook: header and typed columns."""

    name: str
    header: tuple[str, ...]
    columns: list[tuple[str, np.ndarray]]  # (kind, values): kind str | float | int | date

    @property
    def rows(self) -> int:
        return len(self.columns[0][1])

    def chunks(self, size: int = 100_000) -> Iterator[list[tuple[str, np.ndarray]]]:
        """The columns in slices of ``size`` rows (an empty sheet gives one empty slice)."""
        for lo in range(0, max(self.rows, 1), size):
            yield [(kind, values[lo : lo + size]) for kind, values in self.columns]


def _sheets(
    county: County, parcels: Parcels, ents: Enterprises, figures: dict[int, dict[str, np.ndarray]]
) -> Iterator[Sheet]:
    """The sheets one at a time, so only one is in memory."""
    codes = np.array([c for c, _, _ in INDUSTRIES] + [MINING[0]])
    twn_codes = np.array([""] + [c for c, _ in county.townships])
    yield Sheet(
        SHEET_FIRMS,
        ("统一社会信用代码", "企业名称", "规模", "行业代码", "成立日期", "投产日期", "所在乡镇"),
        [
            ("str", ents.uscc),
            ("str", ents.name),
            ("str", np.where(ents.above, "规上", "规下")),
            ("str", codes[ents.industry]),
            ("date", ents.founded),
            ("date", ents.producing_since),
            ("str", twn_codes[ents.township]),
        ],
    )
    yield Sheet(
        SHEET_LAND,
        ("统一社会信用代码", "企业名称", "宗地代码", "使用面积(亩)", "权属", "起始日期", "终止日期"),
        [
            ("str", ents.uscc[ents.occ_firm]),
            ("str", ents.name[ents.occ_firm]),
            ("str", parcels.zddm[ents.occ_parcel]),
            ("float", ents.occ_hundredths / 100.0),
            ("str", np.where(ents.occ_leased, "租赁", "自有")),
            ("date", ents.occ_start),
            ("date", ents.occ_end),
        ],
    )
    for year, fig in figures.items():
        firm = fig["firm"]
        uscc = np.where(fig["blank_uscc"], "", ents.uscc[firm])
        columns = [("str", uscc), ("str", ents.name[firm])]
        for key in _FIGURE_KEYS:
            columns.append(("int" if key in ("workers", "power") else "float", fig[key]))
        yield Sheet(f"{year}年度", FIGURE_HEADER, columns)


def _xlsx_column(kind: str, values: np.ndarray) -> list[Any]:
    if kind == "str":
        return [v or None for v in values.tolist()]
    if kind == "date":
        return _dates64(values).astype(object).tolist()
    if kind == "int":
        return [None if v != v else int(v) for v in values.tolist()]
    return [None if v != v else v for v in values.tolist()]


def _csv_column(kind: str, values: np.ndarray) -> Any:
    if kind == "date":
        text = np.datetime_as_string(_dates64(values), unit="D")
        return np.where(text == "NaT", "", text)
    if kind == "int":
        return pd.array([None if v != v else int(v) for v in values.tolist()], dtype="Int64")
    return values


class _FixedTimeZip(zipfile.ZipFile):
    """A zip whose entries all carry FIXED_STAMP, so the same workbook gives the same bytes."""

    def _info(self, name: str) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=FIXED_STAMP.timetuple()[:6])
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        return info

    def writestr(self, zinfo_or_arcname: Any, data: Any, compress_type: Any = None, compresslevel: Any = None) -> None:
        if not isinstance(zinfo_or_arcname, zipfile.ZipInfo):
            zinfo_or_arcname = self._info(str(zinfo_or_arcname))
        super().writestr(zinfo_or_arcname, data, compress_type, compresslevel)

    def write(self, filename: Any, arcname: Any = None, compress_type: Any = None, compresslevel: Any = None) -> None:
        info = self._info(str(arcname if arcname is not None else filename))
        with open(filename, "rb") as src, self.open(info, "w", force_zip64=True) as dst:
            shutil.copyfileobj(src, dst, 1 << 20)


def _write_xlsx(path: Path, sheets: Iterator[Sheet], prog: _Progress) -> None:
    workbook = Workbook(write_only=True)
    workbook.properties = DocumentProperties(
        creator="landgis scripts/demo_county.py",
        title=f"{COUNTY_NAME}企业数据 (synthetic demo data)",
        created=FIXED_STAMP,
        modified=FIXED_STAMP,
        lastModifiedBy="landgis",
    )
    for sheet in sheets:
        prog.note(f"写出 {sheet.name} ({sheet.rows:,} 行)")
        ws = workbook.create_sheet(sheet.name)
        ws.append(list(sheet.header))
        for chunk in sheet.chunks():
            columns = [_xlsx_column(kind, values) for kind, values in chunk]
            for row in zip(*columns, strict=True):
                ws.append(row)
    # openpyxl's save_workbook stamps the current time; the writer is given fixed times instead.
    archive = _FixedTimeZip(path, "w", zipfile.ZIP_DEFLATED, allowZip64=True)
    ExcelWriter(workbook, archive).save()


def _write_csvs(out: Path, sheets: Iterator[Sheet], prog: _Progress) -> list[str]:
    names = []
    for sheet in sheets:
        prog.note(f"写出 {sheet.name}.csv ({sheet.rows:,} 行)")
        with (out / f"{sheet.name}.csv").open("w", encoding="utf-8-sig", newline="") as handle:
            for index, chunk in enumerate(sheet.chunks()):
                frame = pd.DataFrame(
                    {h: _csv_column(kind, values) for h, (kind, values) in zip(sheet.header, chunk, strict=True)}
                )
                frame.to_csv(handle, header=index == 0, index=False, lineterminator="\n")
        names.append(f"{sheet.name}.csv")
    return names


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --------------------------------------------------------------------------- entry points


def generate(
    out_dir: Path,
    parcels: int = 5000,
    seed: int = 20221231,
    figures_format: str = "xlsx",
    progress: bool = False,
) -> dict[str, Any]:
    """Write the demo county into ``out_dir`` and return its manifest.

    Parameters
    ----------
    out_dir
        Directory to write into (created if missing); earlier outputs of this script there are
        replaced, other files are left alone.
    parcels
        Number of parcels (宗地), at least 100. The extent grows with its square root.
    seed
        Seed of the one ``numpy.random.default_rng`` everything is drawn from; the same seed and
        size give byte-identical files.
    figures_format
        ``"xlsx"`` for one workbook ``企业数据.xlsx``, ``"csv"`` for one UTF-8 (BOM) CSV per sheet.
        A workbook whose sheets would pass Excel's 1,048,576-row limit is written as CSV instead,
        and the manifest says so.
    progress
        Show progress on stderr.

    Returns
    -------
    dict
        The manifest, also written to ``out_dir/manifest.json``: seed, counts, years, CRS
        (EPSG:4528 for the parcels, EPSG:4490 for the GeoJSON), DBF encoding, the files and
        their sha256.
    """
    if parcels < MIN_PARCELS:
        raise ValueError(f"parcels must be at least {MIN_PARCELS}")
    if figures_format not in ("xlsx", "csv"):
        raise ValueError("figures_format must be 'xlsx' or 'csv'")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _remove_outputs(out)
    prog = _Progress(progress, total=9)
    rng = np.random.default_rng(seed)
    notes: list[str] = []
    try:
        county = _build_county(rng, parcels)
        prog.step(f"街区与宗地几何 ({parcels:,} 宗)")
        attrs = _parcel_attributes(rng, county)
        prog.step("宗地属性")
        ents = _enterprises(rng, county, attrs)
        prog.step(f"企业与用地关系 ({len(ents.uscc):,} 家)")
        figures = _figures(rng, ents)
        prog.step("企业年度数据")
        _write_parcels(out, county, attrs, ents, prog)
        prog.step("宗地 shapefile")
        _write_regions(out, county)
        _write_zones(out, county)
        prog.step("行政区划与园区")
        _write_zone_targets(out, attrs)
        prog.step("园区目标")
        largest = max(len(ents.uscc), len(ents.occ_firm), *(len(f["firm"]) for f in figures.values()))
        written_format = figures_format
        if figures_format == "xlsx" and largest > XLSX_MAX_ROWS:
            written_format = "csv"
            notes.append(f"a sheet would have {largest:,} rows, more than Excel allows: written as CSV")
        if written_format == "xlsx":
            _write_xlsx(out / WORKBOOK_NAME, _sheets(county, attrs, ents, figures), prog)
        else:
            _write_csvs(out, _sheets(county, attrs, ents, figures), prog)
        prog.step("企业数据")

        files = sorted(p.name for p in out.iterdir() if p.is_file() and p.name in _output_names())
        manifest: dict[str, Any] = {
            "generator": "landgis scripts/demo_county.py",
            "format_version": 1,
            "seed": seed,
            "county": {"code": COUNTY_CODE, "name": COUNTY_NAME, "parent": CITY[0]},
            "parcels": county.parcels,
            "enterprises": len(ents.uscc),
            "years": list(YEARS),
            "reference_date": REFERENCE_DATE,
            "crs": f"EPSG:{SHP_EPSG}",
            "geojson_crs": f"EPSG:{GEOJSON_EPSG}",
            "encoding": ENCODING,
            "figures_format": written_format,
            "townships": [{"代码": c, "名称": n} for c, n in county.townships],
            "zones": [{"编码": z.code, "名称": z.name, "类型": z.kind} for z in ZONES],
            "counts": _counts(attrs, ents, figures),
            "files": files,
            "sha256": {name: _sha256(out / name) for name in files},
            "notes": notes,
        }
        _write_json_pretty(out / "manifest.json", manifest)
        prog.step("manifest")
        return manifest
    finally:
        prog.close()


def _output_names() -> set[str]:
    names = {f"{SHP_NAME}{s}" for s in (".shp", ".shx", ".dbf", ".prj")}
    names |= {"regions.geojson", "zones.geojson", "zone_targets.csv", WORKBOOK_NAME}
    names |= {f"{s}.csv" for s in (SHEET_FIRMS, SHEET_LAND, *(f"{y}年度" for y in YEARS))}
    return names


def _counts(parcels: Parcels, ents: Enterprises, figures: dict[int, dict[str, np.ndarray]]) -> dict[str, Any]:
    by_cat = np.bincount(parcels.category, minlength=len(CATEGORY_NAMES))
    return {
        "parcels_by_category": {name: int(c) for name, c in zip(CATEGORY_NAMES, by_cat, strict=True)},
        "parcels_by_zone": {spec.code: int((parcels.zone == i).sum()) for i, spec in enumerate(ZONES, start=1)},
        "parcel_area_mu": round(float(parcels.mu.sum()), 2),
        "enterprises_above_scale": int(ents.above.sum()),
        "land_use_rows": len(ents.occ_firm),
        "figure_rows": {str(year): len(f["firm"]) for year, f in figures.items()},
        **ents.counts,
    }


def _write_json_pretty(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python scripts/demo_county.py --out DIR [--parcels N] [--seed S] ...``."""
    parser = argparse.ArgumentParser(description="Write the deterministic demo county 示范县 (330699).")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--parcels", type=int, default=5000, help="number of parcels (default 5000)")
    parser.add_argument("--seed", type=int, default=20221231, help="random seed (default 20221231)")
    parser.add_argument("--figures-format", choices=("xlsx", "csv"), default="xlsx", help="enterprise data format")
    parser.add_argument("--no-progress", action="store_true", help="do not show progress on stderr")
    args = parser.parse_args(argv)
    if args.parcels < MIN_PARCELS:
        parser.error(f"--parcels must be at least {MIN_PARCELS}")
    started = time.perf_counter()
    manifest = generate(
        args.out,
        parcels=args.parcels,
        seed=args.seed,
        figures_format=args.figures_format,
        progress=not args.no_progress,
    )
    print(
        f"{COUNTY_NAME}: {manifest['parcels']:,} 宗地, {manifest['enterprises']:,} 企业 -> {args.out} "
        f"({time.perf_counter() - started:.1f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
