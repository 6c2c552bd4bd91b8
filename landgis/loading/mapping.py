"""Field mappings: which source column feeds which field of our model.

A mapping is a small YAML file (presets ship in ``landgis/loading/presets``); each target field
lists the source names it may come under, in order of preference. Names are compared after
NFKC folding and upper-casing, and an alias also matches its shapefile form cut to 10 bytes.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from landgis.errors import InvalidInput

Unit = Literal["m2", "mu", "ha", "wan", "yuan", "ratio", "percent"]

#: The parcel fields a mapping may fill (see ``parcels.FIELDS``).
PARCEL_TARGETS = frozenset(
    {
        "zddm",
        "feature_id",
        "bdcdyh",
        "right_holder",
        "location",
        "declared_area_m2",
        "land_use_code",
        "far",
        "building_coverage",
        "floor_area_m2",
        "far_agreed",
        "far_min",
        "far_max",
        "coverage_min",
        "coverage_max",
        "supply_method",
        "is_standard_land",
        "land_price_wan",
        "contract_no",
        "contract_date",
        "agreed_delivery_date",
        "actual_delivery_date",
        "agreed_start_date",
        "actual_start_date",
        "agreed_completion_date",
        "actual_completion_date",
        "agreed_production_date",
        "actual_production_date",
        "building_safety_grade",
        "region_code",
    }
)
#: What a parcel load may be keyed by: 宗地代码; the source's own feature id (图斑 BSM ...),
#: kept as the raw code; 电子监管号; 不动产单元号.
PARCEL_KEYS = ("zddm", "feature_id", "contract_no", "bdcdyh")
#: Unit words in a header, for the fields whose unit they can be: area fields and money fields.
HEADER_UNITS: dict[str, tuple[tuple[str, Unit], ...]] = {
    "area": (("公顷", "ha"), ("HA", "ha"), ("平方米", "m2"), ("M2", "m2"), ("㎡", "m2"), ("亩", "mu")),
    "money": (("万元", "wan"), ("(元)", "yuan"), ("元)", "yuan")),
}


class FieldSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: list[str]
    unit: Unit | None = None


class Mapping(BaseModel):
    """A validated field mapping."""

    model_config = ConfigDict(extra="forbid")

    name: str
    title: str = ""
    kind: Literal["parcels", "enterprises", "occupancy", "figures"]
    key: str = "zddm"
    land_use_system: Literal["GBT21010-2017", "GBT21010-2007", "GTKJ-2023", "GB50137-2011", "other"] | None = None
    #: field names that single a file out as this schema, for detection (DLBM for 国土调查 ...)
    detect: list[str] = Field(default_factory=list)
    fields: dict[str, FieldSpec] = Field(min_length=1)

    @field_validator("fields", mode="before")
    @classmethod
    def _lists_are_specs(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        return {k: {"source": v} if isinstance(v, list | str) else v for k, v in value.items()}

    @field_validator("fields")
    @classmethod
    def _sources_are_lists(cls, value: dict[str, FieldSpec]) -> dict[str, FieldSpec]:
        for target, spec in value.items():
            if not spec.source:
                raise ValueError(f"field {target!r} lists no source names")
        return value

    @model_validator(mode="after")
    def _parcel_fields_are_known(self) -> Mapping:
        if self.kind != "parcels":
            return self
        unknown = sorted(set(self.fields) - PARCEL_TARGETS)
        if unknown:
            raise ValueError(f"未知字段 {', '.join(unknown)} (known: {', '.join(sorted(PARCEL_TARGETS))})")
        if self.key not in PARCEL_KEYS:
            raise ValueError(f"key {self.key!r} 不可用 (one of {', '.join(PARCEL_KEYS)})")
        if self.key not in self.fields:
            raise ValueError(f"key {self.key!r} 没有对应的字段 (the key must be one of the fields)")
        if "zddm" in self.fields and "feature_id" in self.fields:
            raise ValueError("zddm 与 feature_id 不能同时映射 (both are stored as the raw code)")
        return self


def fold(name: str) -> str:
    """A column name as compared: NFKC, trimmed, upper-case, without spaces."""
    return unicodedata.normalize("NFKC", name).strip().upper().replace(" ", "")


def _truncated_forms(alias: str) -> set[str]:
    """The alias cut to the 10-byte DBF limit, as GDAL writes it in GBK or UTF-8."""
    forms = {alias}
    for encoding in ("gbk", "utf-8"):
        raw = alias.encode(encoding, errors="ignore")
        if len(raw) > 10:
            forms.add(raw[:10].decode(encoding, errors="ignore"))
    return forms


@dataclass(frozen=True)
class ResolvedMapping:
    """A mapping applied to one file's columns."""

    mapping: Mapping
    columns: dict[str, str]  # target -> source column
    units: dict[str, str | None]
    unmapped: list[str]  # source columns kept only in source_attrs
    reason: str = ""

    def source_for(self, target: str) -> str | None:
        return self.columns.get(target)


def resolve(mapping: Mapping, source_columns: list[str]) -> ResolvedMapping:
    """Match the mapping's aliases against a file's columns; a unit in a header (面积(公顷),
    土地价款(元)) overrides the mapping's unit for that field."""
    by_fold = {fold(c): c for c in source_columns}
    columns: dict[str, str] = {}
    for target, spec in mapping.fields.items():
        for alias in spec.source:
            hit = next((by_fold[fold(f)] for f in _truncated_forms(alias) if fold(f) in by_fold), None)
            if hit is None:
                # an alias without its unit also matches the header with one: 面积 ~ 面积(公顷)
                hit = next((c for c in source_columns if _bare(c) == fold(alias) and _bare(c) != fold(c)), None)
            if hit is not None and hit not in columns.values():
                columns[target] = hit
                break
    units: dict[str, str | None] = {t: s.unit for t, s in mapping.fields.items()}
    for target, header in columns.items():
        family = "area" if target.endswith("_m2") else "money" if target.endswith("_wan") else None
        if family:
            unit = next((u for word, u in HEADER_UNITS[family] if fold(word) in fold(header)), None)
            if unit:
                units[target] = unit
    used = set(columns.values())
    return ResolvedMapping(
        mapping=mapping,
        columns=columns,
        units=units,
        unmapped=[c for c in source_columns if c not in used],
    )


def _bare(header: str) -> str:
    """A header without a unit in brackets: 面积(公顷) → 面积."""
    return re.sub(r"[(\[（【].*?[)\]）】]", "", fold(header))


def presets(kind: str | None = None) -> dict[str, Mapping]:
    """The shipped mappings, by name."""
    found: dict[str, Mapping] = {}
    for entry in resources.files("landgis.loading").joinpath("presets").iterdir():
        if entry.name.endswith(".yaml"):
            mapping = _parse(entry.read_text(encoding="utf-8"), f"preset {entry.name}")
            if kind is None or mapping.kind == kind:
                found[mapping.name] = mapping
    return found


def load_mapping(name_or_path: str, kind: str) -> Mapping:
    """A preset by name, or a mapping file by path."""
    available = presets(kind)
    if name_or_path in available:
        return available[name_or_path]
    path = Path(name_or_path)
    if not path.is_file():
        names = ", ".join(sorted(available)) or "(none)"
        raise InvalidInput(f"映射 {name_or_path!r} 不存在: 既不是预设 ({names}) 也不是文件")
    mapping = _parse(path.read_text(encoding="utf-8"), path.name)
    if mapping.kind != kind:
        raise InvalidInput(f"{path.name}: 映射类型为 {mapping.kind}, 此处需要 {kind}")
    return mapping


def best_preset(kind: str, source_columns: list[str]) -> ResolvedMapping:
    """The preset whose distinctive fields the file holds (``detect``), then the one mapping the
    most columns; only presets whose key the file holds are candidates."""
    folded = {fold(c) for c in source_columns}
    scored: list[tuple[int, int, ResolvedMapping]] = []
    for mapping in presets(kind).values():
        resolved = resolve(mapping, source_columns)
        if mapping.key not in resolved.columns:
            continue
        found = sum(1 for name in mapping.detect if fold(name) in folded)
        scored.append((found, len(resolved.columns), resolved))
    if not scored:
        raise InvalidInput(
            "没有与文件字段匹配的预设映射 (no preset maps this file's key field); "
            f"fields: {', '.join(source_columns[:15])}; 请用 --mapping 指定映射文件"
        )
    hits, count, best = max(scored, key=lambda s: (s[0], s[1]))
    best = ResolvedMapping(
        mapping=best.mapping,
        columns=best.columns,
        units=best.units,
        unmapped=best.unmapped,
        reason=f"自动识别为 {best.mapping.title or best.mapping.name}: 识别字段 {hits} 个, 映射字段 {count} 个",
    )
    return best


def _parse(text: str, label: str) -> Mapping:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{label}: YAML 语法错误 ({exc})") from exc
    try:
        return Mapping.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidInput(f"{label}: 字段 {where}: {first['msg']}") from exc
