"""Field mappings: which source column feeds which field of our model.

A mapping is a small YAML file (presets ship in ``landgis/loading/presets``); each target field
lists the source names it may come under, in order of preference. Names are compared after
NFKC folding and upper-casing, and an alias also matches its shapefile form cut to 10 bytes.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from landgis.errors import InvalidInput

Unit = Literal["m2", "mu", "ha", "wan", "yuan", "ratio", "percent"]


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
    land_use_system: str | None = None
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

    def source_for(self, target: str) -> str | None:
        return self.columns.get(target)


def resolve(mapping: Mapping, source_columns: list[str]) -> ResolvedMapping:
    """Match the mapping's aliases against a file's columns."""
    by_fold = {fold(c): c for c in source_columns}
    columns: dict[str, str] = {}
    for target, spec in mapping.fields.items():
        for alias in spec.source:
            hit = next((by_fold[fold(f)] for f in _truncated_forms(alias) if fold(f) in by_fold), None)
            if hit is not None and hit not in columns.values():
                columns[target] = hit
                break
    used = set(columns.values())
    return ResolvedMapping(
        mapping=mapping,
        columns=columns,
        units={t: s.unit for t, s in mapping.fields.items()},
        unmapped=[c for c in source_columns if c not in used],
    )


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
    """The preset that maps the most of the file's columns (at least its key)."""
    candidates = [resolve(m, source_columns) for m in presets(kind).values()]
    candidates = [c for c in candidates if c.mapping.key in c.columns]
    if not candidates:
        raise InvalidInput(
            "没有与文件字段匹配的预设映射 (no preset maps this file's key field); "
            f"fields: {', '.join(source_columns[:15])}; 请用 --mapping 指定映射文件"
        )
    return max(candidates, key=lambda c: len(c.columns))


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
