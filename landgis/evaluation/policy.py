"""Evaluation policies (亩均效益综合评价办法) as validated YAML files.

A policy is one jurisdiction's method for one year: the population's segments (规上; 规下 >= N亩;
规下 < N亩; tenants without land of their own; 小微企业园 firms), per segment the indicators with
their formula, unit, weight, benchmark, direction, cap and missing-data rule, the 加分/减分 items
and 一票否决 flags, the 不定等级 exemptions and the class rule (score thresholds or percentile
shares). Shipped policies live in ``landgis/evaluation/policies/*.yaml``; a county's own file is
validated the same way. A malformed policy is refused with an error naming the field.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from landgis.errors import InvalidInput, NotFound
from landgis.validation import refusal

# --------------------------------------------------------------------------- vocabularies

#: Yearly figures and land a formula may use: field → (name, unit).
FIELDS: dict[str, tuple[str, str]] = {
    "tax_wan": ("评价税收", "万元"),
    "value_added_wan": ("工业增加值", "万元"),
    "revenue_wan": ("主营业务收入", "万元"),
    "output_wan": ("工业总产值", "万元"),
    "energy_tce": ("综合能耗(等价值)", "吨标煤"),
    "emissions_t": ("主要污染物排放量", "吨"),
    "rd_wan": ("R&D经费支出", "万元"),
    "employees": ("年平均职工人数", "人"),
    "electricity_kwh": ("用电量", "千瓦时"),
    "land_mu": ("用地面积", "亩"),
}
FIGURE_FIELDS = tuple(f for f in FIELDS if f != "land_mu")


@dataclass(frozen=True)
class IndicatorDef:
    """A formula ``numerator / denominator * scale`` with its name and unit."""

    code: str
    name: str
    numerator: str
    denominator: str
    scale: float
    unit: str


#: The indicators every policy can name by code (domain brief §3).
CATALOG: dict[str, IndicatorDef] = {
    d.code: d
    for d in (
        IndicatorDef("mu_tax", "亩均税收", "tax_wan", "land_mu", 1.0, "万元/亩"),
        IndicatorDef("mu_value_added", "亩均增加值", "value_added_wan", "land_mu", 1.0, "万元/亩"),
        IndicatorDef("mu_output", "亩均产值", "output_wan", "land_mu", 1.0, "万元/亩"),
        IndicatorDef("va_per_energy", "单位能耗增加值", "value_added_wan", "energy_tce", 1.0, "万元/吨标煤"),
        IndicatorDef("va_per_emission", "单位排放增加值", "value_added_wan", "emissions_t", 1.0, "万元/吨"),
        IndicatorDef("va_per_worker", "全员劳动生产率", "value_added_wan", "employees", 1.0, "万元/人"),
        IndicatorDef("rd_ratio", "R&D经费支出占主营业务收入之比", "rd_wan", "revenue_wan", 1.0, "比值"),
        # 用电量 is stored in 千瓦时; the published benchmarks are per 万千瓦时.
        IndicatorDef("tax_per_power", "单位电耗税收", "tax_wan", "electricity_kwh", 10000.0, "万元/万千瓦时"),
        IndicatorDef("energy_per_va", "单位增加值能耗", "energy_tce", "value_added_wan", 1.0, "吨标煤/万元"),
    )
}

#: Facts about a firm that policies use (table ``enterprise_flag``): flag → label.
FLAGS: dict[str, str] = {
    "safety_incident": "发生安全生产事故",
    "major_safety_incident": "发生较大及以上安全生产事故",
    "env_incident": "发生环境污染事件",
    "major_env_incident": "发生重大环境污染事件",
    "tax_violation": "存在重大税收违法行为",
    "credit_blacklist": "列入严重失信名单",
    "high_tech": "高新技术企业",
    "strategic_emerging": "战略性新兴产业企业",
    "specialised_sme": "专精特新企业",
    "listed": "上市企业",
    "utility": "公用事业企业",
    "construction_period": "处于建设期",
    "startup": "新办企业",
    "relocating": "整体搬迁中",
}

ZONE_TYPES = ("development_zone", "industrial_park", "small_micro_park", "renewal_area")
BENCHMARK_RULES = ("segment_mean", "segment_weighted_mean")
Code = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
ClassName = Annotated[str, Field(min_length=1, max_length=8)]
FlagName = Annotated[str, Field(min_length=1, max_length=32)]


class _Strict(BaseModel):
    """Unknown fields are refused and numbers must be numbers (no "24.097" strings)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True)


def _known_flag(flag: str) -> str:
    if flag not in FLAGS:
        raise ValueError(f"未知标记 '{flag}' (unknown flag; known: {', '.join(FLAGS)})")
    return flag


# --------------------------------------------------------------------------- the policy model


class IndicatorSpec(_Strict):
    """One indicator of a segment: by catalog code, or a custom formula over ``FIELDS``."""

    indicator: Code
    name: str | None = None
    numerator: str | None = None
    denominator: str | None = None
    scale: float = Field(default=1.0, gt=0)
    unit: str | None = None
    weight: float = Field(ge=0)
    benchmark: float | Literal["segment_mean", "segment_weighted_mean"]
    direction: Literal["higher", "lower"] = "higher"
    cap: float | None = Field(default=None, gt=0, description="maximum score as a multiple of the weight")
    missing: Literal["zero", "segment_mean_score", "penalty"] = "zero"
    penalty: float | None = Field(default=None, ge=0, description="points deducted when missing = penalty")

    @field_validator("numerator", "denominator")
    @classmethod
    def _field(cls, value: str | None) -> str | None:
        if value is not None and value not in FIELDS:
            raise ValueError(f"未知字段 '{value}' (unknown field; known: {', '.join(FIELDS)})")
        return value

    @field_validator("benchmark")
    @classmethod
    def _benchmark(cls, value: float | str) -> float | str:
        if isinstance(value, float | int) and not (math.isfinite(value) and value > 0):
            raise ValueError("基准值应为正数 (a numeric benchmark must be positive)")
        return value

    @model_validator(mode="after")
    def _formula(self) -> IndicatorSpec:
        custom = self.numerator is not None or self.denominator is not None
        if self.indicator not in CATALOG and not custom:
            raise ValueError(
                f"未知指标 '{self.indicator}' (unknown indicator; known: {', '.join(CATALOG)};"
                " or give numerator and denominator)"
            )
        if custom and (self.numerator is None or self.denominator is None):
            raise ValueError("numerator: 自定义指标需同时给出 numerator 和 denominator (a custom formula needs both)")
        if self.direction == "lower" and self.cap is None:
            raise ValueError(
                "cap: 越低越好的指标须设 cap (a lower-is-better indicator needs a cap: its score diverges at 0)"
            )
        if self.missing == "penalty" and self.penalty is None:
            raise ValueError("penalty: missing 为 penalty 时须给出扣分分值 (points to deduct)")
        return self

    @property
    def definition(self) -> IndicatorDef:
        """The formula, name and unit: the catalog's, overridden by what the policy gives."""
        base = CATALOG.get(self.indicator)
        return IndicatorDef(
            code=self.indicator,
            name=self.name or (base.name if base else self.indicator),
            numerator=self.numerator or (base.numerator if base else ""),
            denominator=self.denominator or (base.denominator if base else ""),
            scale=self.scale if self.numerator else (base.scale if base else self.scale),
            unit=self.unit or (base.unit if base else ""),
        )


class SegmentWhen(_Strict):
    """Which firms belong to a segment; every given condition must hold."""

    scale: Literal["above", "below", "any"] = "any"
    min_land_mu: float | None = Field(default=None, ge=0, description="用地面积 >= (亩)")
    max_land_mu: float | None = Field(default=None, gt=0, description="用地面积 < (亩)")
    own_land: bool | None = Field(default=None, description="true: holds land of its own; false: tenant only")
    zone_types: list[Literal["development_zone", "industrial_park", "small_micro_park", "renewal_area"]] | None = None
    industry_prefixes: list[Annotated[str, Field(pattern=r"^[A-T]\d{0,4}$")]] | None = None


class ClassRule(_Strict):
    """Score thresholds or percentile shares, classes listed best first."""

    method: Literal["percentile", "thresholds"]
    shares: dict[ClassName, float] | None = None
    thresholds: dict[ClassName, float | None] | None = None
    ties: Literal["break", "share"] = "break"
    labels: dict[ClassName, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> ClassRule:
        if self.method == "percentile":
            if not self.shares:
                raise ValueError("shares: method: percentile 须给出 shares (e.g. {A: 0.25, B: 0.45, C: 0.25, D: 0.05})")
            if any(not (0 < s <= 1) for s in self.shares.values()):
                raise ValueError("shares: 每项应在 0 与 1 之间 (each share must be in (0, 1])")
            total = sum(self.shares.values())
            if abs(total - 1.0) > 1e-9:
                raise ValueError(f"shares: 合计 {total:g}, 应为 1 (the shares must add up to 1)")
        else:
            if not self.thresholds:
                raise ValueError(
                    "thresholds: method: thresholds 须给出 thresholds (e.g. {A: 110, B: 80, C: 50, D: null})"
                )
            values = list(self.thresholds.values())
            if values[-1] is not None:
                raise ValueError("thresholds: 最后一类应为 null (the last class takes every remaining score)")
            bounds = [v for v in values[:-1] if v is not None]
            if len(bounds) != len(values) - 1:
                raise ValueError("thresholds: 只有最后一类可为 null (only the last class may be null)")
            if any(a <= b for a, b in itertools.pairwise(bounds)):
                raise ValueError("thresholds: 应从高到低排列 (thresholds must decrease from the best class)")
        unknown = set(self.labels) - set(self.classes)
        if unknown:
            raise ValueError(f"labels: 含未定义的类别 {sorted(unknown)} (labels name unknown classes)")
        return self

    @property
    def classes(self) -> list[str]:
        """Class names, best first."""
        return list((self.shares if self.method == "percentile" else self.thresholds) or {})


class Segment(_Strict):
    """A part of the population scored and classed on its own."""

    id: Code
    name: str = Field(min_length=1)
    when: SegmentWhen = SegmentWhen()
    weights_total: float | None = Field(default=None, gt=0, description="the weights must add up to this")
    indicators: list[IndicatorSpec] = Field(min_length=1)
    classes: ClassRule | None = None

    @model_validator(mode="after")
    def _weights(self) -> Segment:
        codes = [i.indicator for i in self.indicators]
        if len(set(codes)) != len(codes):
            raise ValueError(f"indicators: 指标重复 (an indicator appears twice): {codes}")
        if self.weights_total is not None:
            total = sum(i.weight for i in self.indicators)
            if abs(total - self.weights_total) > 1e-9:
                raise ValueError(
                    f"weights_total: 权重合计 {total:g}, 应为 {self.weights_total:g} (the weights must add up to it)"
                )
        return self


class Adjustment(_Strict):
    """加分/减分: points added to the score of firms with a flag."""

    flag: FlagName
    points: float
    label: str | None = None

    _flag = field_validator("flag")(_known_flag)

    @field_validator("points")
    @classmethod
    def _nonzero(cls, value: float) -> float:
        if value == 0 or not math.isfinite(value):
            raise ValueError("加减分不能为 0 (points must be non-zero)")
        return value


class Veto(_Strict):
    """一票否决: firms with the flag are put in the given class whatever their score."""

    flag: FlagName
    class_: ClassName = Field(alias="class")
    label: str | None = None

    _flag = field_validator("flag")(_known_flag)


class Exemption(_Strict):
    """不定等级: firms scored for information but not classed (any given condition suffices)."""

    label: str = Field(min_length=1)
    flag: FlagName | None = None
    industry_prefixes: list[Annotated[str, Field(pattern=r"^[A-T]\d{0,4}$")]] | None = None
    producing_years_below: float | None = Field(default=None, gt=0, description="投产不满 N 年")

    @field_validator("flag")
    @classmethod
    def _flag(cls, value: str | None) -> str | None:
        return None if value is None else _known_flag(value)

    @model_validator(mode="after")
    def _some(self) -> Exemption:
        if self.flag is None and not self.industry_prefixes and self.producing_years_below is None:
            raise ValueError("豁免须给出 flag、industry_prefixes 或 producing_years_below 之一")
        return self


class Policy(_Strict):
    """One jurisdiction's evaluation method for one year."""

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
    name: str = Field(min_length=1)
    version: Annotated[str, Field(min_length=1, max_length=32)]
    jurisdiction: str | None = None
    benchmark_year: int | None = Field(default=None, ge=1990, le=2100)
    source: str | None = None
    description: str | None = None
    require_figures: bool = True
    merge_lessees_into_owner: bool = False
    segments: list[Segment] = Field(min_length=1)
    classes: ClassRule
    adjustments: list[Adjustment] = Field(default_factory=list)
    vetoes: list[Veto] = Field(default_factory=list)
    exemptions: list[Exemption] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> Policy:
        ids = [s.id for s in self.segments]
        if len(set(ids)) != len(ids):
            raise ValueError(f"segments: 分组编号重复 (segment ids must be unique): {ids}")
        for n, veto in enumerate(self.vetoes):
            for segment in self.segments:
                if veto.class_ not in self.class_rule(segment).classes:
                    raise ValueError(
                        f"vetoes[{n}].class: 类别 '{veto.class_}' 不在分组 {segment.id} 的类别中 (unknown class)"
                    )
        return self

    def class_rule(self, segment: Segment) -> ClassRule:
        return segment.classes or self.classes

    def segment(self, segment_id: str) -> Segment:
        for segment in self.segments:
            if segment.id == segment_id:
                return segment
        raise NotFound(f"评价办法 {self.id} 没有分组 {segment_id}")

    def document(self) -> dict[str, Any]:
        """The policy as plain JSON-able data (what is stored with a run)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    @property
    def sha256(self) -> str:
        canonical = json.dumps(self.document(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- loading


def parse_policy(data: Any, what: str = "评价办法") -> Policy:
    """Validate ``data`` (parsed YAML or JSON); refuse it naming the first wrong field."""
    if not isinstance(data, dict):
        raise InvalidInput(f"{what}: 应为一个映射 (a policy is a mapping of fields)")
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        raise refusal(exc, what) from exc


def read_policy_text(text: str, name: str) -> Policy:
    """Parse and validate a policy from YAML (or JSON) text; ``name`` is used in messages."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" 第{mark.line + 1}行" if mark is not None else ""
        raise InvalidInput(f"{name}{where}: YAML 格式错误 ({getattr(exc, 'problem', None) or exc})") from exc
    return parse_policy(data, f"评价办法 {name}")


def shipped_policy_ids() -> list[str]:
    """The ids of the policies shipped with landgis (file names without .yaml)."""
    folder = resources.files("landgis.evaluation") / "policies"
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_policy(ref: str | Path) -> Policy:
    """A shipped policy by id (``huangyan-2022``) or a YAML file by path."""
    text_ref = str(ref)
    if text_ref in shipped_policy_ids():
        resource = resources.files("landgis.evaluation") / "policies" / f"{text_ref}.yaml"
        return read_policy_text(resource.read_text(encoding="utf-8"), f"{text_ref}.yaml")
    path = Path(text_ref)
    if path.suffix.lower() in (".yaml", ".yml", ".json") and path.is_file():
        return read_policy_text(path.read_text(encoding="utf-8"), path.name)
    raise NotFound(f"找不到评价办法 '{text_ref}' (not a shipped policy: {', '.join(shipped_policy_ids())}; nor a file)")
