"""A rule engine over parcels: leaf rules with parameters, composed with ``all``, ``any`` and ``not``.

A rule set is JSON/YAML::

    {"all": [
        {"any": [{"rule": "mu_tax_below", "scale": "above", "value": 6},
                 {"rule": "far_below", "value": 1.0}]},
        {"not": {"rule": "flag", "flag": "strategic_emerging"}}]}

Values may be written ``"$name"`` and filled from the request's ``params`` (a preset gives the
defaults). Each leaf compiles to a fixed SQL condition over the parcel facts ``f`` with its values
as bound parameters, and to a reason text shown with every parcel it matched. A malformed rule set
(unknown rule or parameter, a threshold of the wrong type) is refused naming the field.

Parcel facts (``landgis/sql/candidate_facts.sql``): the parcel's own columns, the figures of the
firms on it for the year summed (亩均税收 = their tax ÷ the parcel's area), its main user (the firm
using most of it: scale, industry, production start, registration), the flags of its firms and
the class of its main user in the year's latest evaluation run.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from landgis.errors import InvalidInput
from landgis.evaluation.policy import FLAGS
from landgis.validation import issues

Prefix = Annotated[str, Field(pattern=r"^[A-T]\d{0,4}$")]
Grade = Literal["A", "B", "C", "D"]
STATUSES = (
    "normal",
    "identified",
    "planned",
    "in_progress",
    "freed",
    "resupplied",
    "producing",
    "upgraded",
    "exempt",
)


@dataclass
class Compiler:
    """Collects bound parameters and the optional joins the rules need."""

    as_of: dt.date
    year: int
    params: dict[str, Any] = field(default_factory=dict)
    needs: set[str] = field(default_factory=set)

    def bind(self, value: Any) -> str:
        name = f"r{len(self.params)}"
        self.params[name] = value
        return f":{name}"


class Leaf(BaseModel):
    """A leaf rule; subclasses give ``rule``, ``title`` and their SQL."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    rule: str
    label: str | None = Field(default=None, max_length=60)

    title: ClassVar[str] = ""
    #: True when the rule can only hold on a parcel with firms on record (it reads their figures,
    #: scale, industry, dates or flags): a rule set that needs firms everywhere is evaluated on
    #: the parcels with firms only.
    needs_firms: ClassVar[bool] = False

    def condition(self, c: Compiler) -> str:
        raise NotImplementedError

    def reason(self, c: Compiler) -> str:
        """SQL text expression: why a parcel matched (values formatted in SQL)."""
        return c.bind(self.label or self.title)

    def name(self) -> str:
        return self.label or self.title


def _n(column: str, digits: int = 2) -> str:
    """A number column as text in a reason, '—' when missing."""
    return f"coalesce(round(CAST({column} AS numeric), {digits})::text, '—')"


def _scale_sql(scale: str) -> str:
    return {"above": "f.main_scale = 'above'", "below": "f.main_scale = 'below'", "any": "TRUE"}[scale]


SCALE_WORDS = {"above": "规上企业", "below": "规下企业", "any": "企业"}


class MuTaxBelow(Leaf):
    rule: Literal["mu_tax_below"]
    title: ClassVar[str] = "亩均税收低于阈值"
    needs_firms: ClassVar[bool] = True
    value: float
    scale: Literal["above", "below", "any"] = "any"

    def condition(self, c: Compiler) -> str:
        return f"(f.mu_tax < {c.bind(self.value)} AND {_scale_sql(self.scale)})"

    def reason(self, c: Compiler) -> str:
        words = SCALE_WORDS[self.scale]
        return (
            f"format('%s: {words}亩均税收 %s 万元/亩 < %s', CAST({c.bind(self.name())} AS text), {_n('f.mu_tax')},"
            f" CAST({c.bind(self.value)} AS text))"
        )


class MuValueAddedBelow(Leaf):
    rule: Literal["mu_value_added_below"]
    title: ClassVar[str] = "亩均增加值低于阈值"
    needs_firms: ClassVar[bool] = True
    value: float
    scale: Literal["above", "below", "any"] = "any"

    def condition(self, c: Compiler) -> str:
        return f"(f.mu_value_added < {c.bind(self.value)} AND {_scale_sql(self.scale)})"

    def reason(self, c: Compiler) -> str:
        words = SCALE_WORDS[self.scale]
        return (
            f"format('%s: {words}亩均增加值 %s 万元/亩 < %s', CAST({c.bind(self.name())} AS text),"
            f" {_n('f.mu_value_added')}, CAST({c.bind(self.value)} AS text))"
        )


class MuTaxAtLeast(Leaf):
    rule: Literal["mu_tax_at_least"]
    title: ClassVar[str] = "亩均税收不低于"
    needs_firms: ClassVar[bool] = True
    value: float

    def condition(self, c: Compiler) -> str:
        return f"(f.mu_tax >= {c.bind(self.value)})"

    def reason(self, c: Compiler) -> str:
        return (
            f"format('%s: 亩均税收 %s 万元/亩 ≥ %s', CAST({c.bind(self.name())} AS text), {_n('f.mu_tax')},"
            f" CAST({c.bind(self.value)} AS text))"
        )


class MuTaxBelowIndustryShare(Leaf):
    """亩均税收 below a share of the industry's (行业大类) area-weighted average of a year."""

    rule: Literal["mu_tax_below_industry_share"]
    title: ClassVar[str] = "亩均税收低于行业平均水平"
    needs_firms: ClassVar[bool] = True
    share: float = Field(gt=0, le=10)
    basis: Literal["previous_year", "same_year"] = "previous_year"

    def condition(self, c: Compiler) -> str:
        c.needs.add("industry_previous" if self.basis == "previous_year" else "industry_same")
        column = "f.industry_avg_prev" if self.basis == "previous_year" else "f.industry_avg"
        return f"(f.mu_tax < {c.bind(self.share)} * {column})"

    def reason(self, c: Compiler) -> str:
        column = "f.industry_avg_prev" if self.basis == "previous_year" else "f.industry_avg"
        which = "上年" if self.basis == "previous_year" else "当年"
        return (
            f"format('%s: 亩均税收 %s 万元/亩 < %s × {which}行业(%s)平均 %s', CAST({c.bind(self.name())} AS text),"
            f" {_n('f.mu_tax')}, CAST({c.bind(self.share)} AS text), left(f.main_industry, 3), {_n(column)})"
        )


class FarBelow(Leaf):
    rule: Literal["far_below"]
    title: ClassVar[str] = "容积率低于阈值"
    value: float = Field(ge=0)

    def condition(self, c: Compiler) -> str:
        return f"(f.far < {c.bind(self.value)})"

    def reason(self, c: Compiler) -> str:
        return (
            f"format('%s: 容积率 %s < %s', CAST({c.bind(self.name())} AS text), {_n('f.far')},"
            f" CAST({c.bind(self.value)} AS text))"
        )


class FarBelowControlShare(Leaf):
    """FAR below a share of the 标准地/约定 control value (the agreed lower bound)."""

    rule: Literal["far_below_control_share"]
    title: ClassVar[str] = "容积率低于控制值的一定比例"
    share: float = Field(gt=0, le=1)

    def condition(self, c: Compiler) -> str:
        return f"(f.far_min > 0 AND f.far < {c.bind(self.share)} * f.far_min)"

    def reason(self, c: Compiler) -> str:
        return (
            f"format('%s: 容积率 %s < %s × 控制值 %s', CAST({c.bind(self.name())} AS text), {_n('f.far')},"
            f" CAST({c.bind(self.share)} AS text), {_n('f.far_min')})"
        )


class FarRequirementBelow(Leaf):
    rule: Literal["far_requirement_below"]
    title: ClassVar[str] = "标准地容积率要求低于"
    value: float = Field(gt=0)

    def condition(self, c: Compiler) -> str:
        return f"(f.far_min < {c.bind(self.value)})"

    def reason(self, c: Compiler) -> str:
        return (
            f"format('%s: 容积率控制值 %s < %s', CAST({c.bind(self.name())} AS text), {_n('f.far_min')},"
            f" CAST({c.bind(self.value)} AS text))"
        )


class ClassIn(Leaf):
    rule: Literal["class_in"]
    title: ClassVar[str] = "亩均评价类别"
    needs_firms: ClassVar[bool] = True
    classes: list[Annotated[str, Field(min_length=1, max_length=8)]] = Field(min_length=1)

    def condition(self, c: Compiler) -> str:
        c.needs.add("class")
        return f"(f.class = ANY({c.bind(list(self.classes))}))"

    def reason(self, c: Compiler) -> str:
        return f"format('%s: 主要用地企业{c.year}年评价为 %s 类', CAST({c.bind(self.name())} AS text), f.class)"


#: No sign of construction: no start, completion or production date and nothing built. Old
#: records often lack the actual dates of land that is plainly built on, hence the FAR test.
NOT_STARTED = (
    "(f.actual_start_date IS NULL AND f.actual_completion_date IS NULL AND f.actual_production_date IS NULL"
    " AND coalesce(f.far, 0) = 0)"
)


class Idle(Leaf):
    """闲置土地 (国土资源部令第53号): not started ``years`` after the agreed start date (stage 1:
    1 year, 闲置费 20 % of the land price; stage 2: 2 years, 无偿收回); or started, built to less
    than a third of the agreed FAR (standing in for 开发面积 < 1/3) and ``years`` past the agreed
    completion date without completion (standing in for 中止开发满一年)."""

    rule: Literal["idle"]
    title: ClassVar[str] = "闲置土地"
    stage: Literal[1, 2] = 1

    def condition(self, c: Compiler) -> str:
        cutoff = c.bind(_years_before(c.as_of, self.stage))
        not_started = f"(f.agreed_start_date <= {cutoff} AND {NOT_STARTED})"
        halted = (
            f"(f.actual_start_date IS NOT NULL AND f.actual_completion_date IS NULL AND f.far_min > 0"
            f" AND coalesce(f.far, 0) < f.far_min / 3.0 AND f.agreed_completion_date <= {cutoff})"
        )
        return f"({not_started} OR {halted})"

    def reason(self, c: Compiler) -> str:
        stage = "满1年, 按土地价款20%%征收闲置费" if self.stage == 1 else "满2年, 可无偿收回"
        return (
            f"format('%s: %s', CAST({c.bind(self.name())} AS text), CASE WHEN {NOT_STARTED}"
            f" THEN format('约定 %s 开工, 至 %s 未动工 ({stage})', f.agreed_start_date, CAST({c.bind(c.as_of)} AS date))"
            f" ELSE format('已开工未竣工, 容积率 %s 不足约定 %s 的1/3, 约定竣工 %s 已过 ({stage})',"
            f" {_n('f.far')}, {_n('f.far_min')}, f.agreed_completion_date) END)"
        )


WUWEI = {
    "approved_not_supplied": "批而未供",
    "supplied_not_used": "供而未用",
    "used_not_exhausted": "用而未尽",
    "built_not_producing": "建而未投",
    "producing_not_attained": "投而未达",
}


class Wuwei(Leaf):
    """The "五未" categories from what the parcel records hold (working definitions; confirm locally).

    批而未供: no supply contract, no supply method, no firm. 供而未用: supplied, agreed start date
    passed, not started. 用而未尽: completed but FAR or building coverage below the agreed lower
    bound. 建而未投: completed, agreed production date passed, not producing. 投而未达: 标准地 in
    production below its FAR commitment or below ``mu_tax_commitment`` (万元/亩) when given.
    """

    rule: Literal["wuwei"]
    title: ClassVar[str] = "五未土地"
    category: Literal[
        "approved_not_supplied",
        "supplied_not_used",
        "used_not_exhausted",
        "built_not_producing",
        "producing_not_attained",
    ]
    mu_tax_commitment: float | None = Field(default=None, gt=0)

    def condition(self, c: Compiler) -> str:
        as_of = c.bind(c.as_of)
        if self.category == "approved_not_supplied":
            return "(f.contract_date IS NULL AND f.supply_method IS NULL AND f.firms = 0)"
        if self.category == "supplied_not_used":
            return (
                f"((f.contract_date IS NOT NULL OR f.supply_method IS NOT NULL) AND {NOT_STARTED}"
                f" AND f.agreed_start_date < {as_of})"
            )
        if self.category == "used_not_exhausted":
            return (
                "(f.actual_completion_date IS NOT NULL AND ((f.far_min > 0 AND f.far < f.far_min)"
                " OR (f.coverage_min > 0 AND f.building_coverage < f.coverage_min)))"
            )
        if self.category == "built_not_producing":
            return (
                f"(f.actual_completion_date IS NOT NULL AND f.actual_production_date IS NULL"
                f" AND f.agreed_production_date < {as_of})"
            )
        commitment = f" OR coalesce(f.mu_tax, 0) < {c.bind(self.mu_tax_commitment)}" if self.mu_tax_commitment else ""
        return (
            "(f.is_standard_land AND f.actual_production_date IS NOT NULL"
            f" AND ((f.far_min > 0 AND f.far < f.far_min){commitment}))"
        )

    def reason(self, c: Compiler) -> str:
        word = WUWEI[self.category]
        detail = {
            "approved_not_supplied": "'未签订供地合同'",
            "supplied_not_used": "format('约定 %s 开工, 未动工', f.agreed_start_date)",
            "used_not_exhausted": (
                f"format('容积率 %s (约定 ≥ %s), 建筑密度 %s (约定 ≥ %s)', {_n('f.far')}, {_n('f.far_min')},"
                f" {_n('f.building_coverage')}, {_n('f.coverage_min')})"
            ),
            "built_not_producing": "format('%s 竣工, 约定 %s 投产, 未投产', f.actual_completion_date, f.agreed_production_date)",
            "producing_not_attained": (
                f"format('标准地 容积率 %s (承诺 ≥ %s), 亩均税收 %s 万元/亩', {_n('f.far')}, {_n('f.far_min')},"
                f" {_n('f.mu_tax')})"
            ),
        }[self.category]
        return f"format('%s: {word}, %s', CAST({c.bind(self.name())} AS text), {detail})"


class IndustryIn(Leaf):
    """The main user's industry (GB/T 4754) starts with one of the prefixes (banned/obsolete lists)."""

    rule: Literal["industry_in"]
    title: ClassVar[str] = "限制或淘汰类行业"
    needs_firms: ClassVar[bool] = True
    prefixes: list[Prefix]

    def condition(self, c: Compiler) -> str:
        if not self.prefixes:
            return "FALSE"
        return f"(f.main_industry LIKE ANY({c.bind([p + '%' for p in self.prefixes])}))"

    def reason(self, c: Compiler) -> str:
        return f"format('%s: 行业代码 %s', CAST({c.bind(self.name())} AS text), f.main_industry)"


class DangerousBuilding(Leaf):
    rule: Literal["dangerous_building"]
    title: ClassVar[str] = "危险房屋"
    grades: list[Grade] = Field(default=["C", "D"], min_length=1)

    def condition(self, c: Compiler) -> str:
        return f"(f.building_safety_grade = ANY({c.bind(list(self.grades))}))"

    def reason(self, c: Compiler) -> str:
        return (
            f"format('%s: 房屋安全等级 %s 级 (JGJ 125)', CAST({c.bind(self.name())} AS text), f.building_safety_grade)"
        )


class ScaleIs(Leaf):
    rule: Literal["scale_is"]
    title: ClassVar[str] = "企业规模"
    needs_firms: ClassVar[bool] = True
    scale: Literal["above", "below"]
    who: Literal["main", "any"] = "main"

    def condition(self, c: Compiler) -> str:
        if self.who == "any" and self.scale == "above":
            return "f.has_above"
        return f"(f.main_scale = {c.bind(self.scale)})"

    def reason(self, c: Compiler) -> str:
        return c.bind(self.label or SCALE_WORDS[self.scale])


class AreaAtLeast(Leaf):
    rule: Literal["area_at_least"]
    title: ClassVar[str] = "用地面积不少于"
    mu: float = Field(ge=0)

    def condition(self, c: Compiler) -> str:
        return f"(f.area_mu >= {c.bind(self.mu)})"

    def reason(self, c: Compiler) -> str:
        return (
            f"format('%s: 用地 %s 亩 ≥ %s', CAST({c.bind(self.name())} AS text), {_n('f.area_mu')},"
            f" CAST({c.bind(self.mu)} AS text))"
        )


class AreaBelow(Leaf):
    rule: Literal["area_below"]
    title: ClassVar[str] = "用地面积小于"
    mu: float = Field(gt=0)

    def condition(self, c: Compiler) -> str:
        return f"(f.area_mu < {c.bind(self.mu)})"

    def reason(self, c: Compiler) -> str:
        return (
            f"format('%s: 用地 %s 亩 < %s', CAST({c.bind(self.name())} AS text), {_n('f.area_mu')},"
            f" CAST({c.bind(self.mu)} AS text))"
        )


class Vacant(Leaf):
    rule: Literal["vacant"]
    title: ClassVar[str] = "无企业用地记录"

    def condition(self, c: Compiler) -> str:
        return "(f.firms = 0)"


class ProducingLessThan(Leaf):
    rule: Literal["producing_less_than"]
    title: ClassVar[str] = "投产不满规定年限"
    years: float = Field(gt=0, le=50)

    def condition(self, c: Compiler) -> str:
        return f"(coalesce(f.main_production_start, f.actual_production_date) > {c.bind(_years_before(c.as_of, self.years))})"

    def reason(self, c: Compiler) -> str:
        return (
            f"format('%s: %s 投产', CAST({c.bind(self.name())} AS text),"
            " coalesce(f.main_production_start, f.actual_production_date))"
        )


class RegisteredAtLeast(Leaf):
    rule: Literal["registered_at_least"]
    title: ClassVar[str] = "注册满规定年限"
    needs_firms: ClassVar[bool] = True
    years: float = Field(ge=0, le=100)

    def condition(self, c: Compiler) -> str:
        return f"(f.main_registration <= {c.bind(_years_before(c.as_of, self.years))})"

    def reason(self, c: Compiler) -> str:
        return f"format('%s: %s 成立', CAST({c.bind(self.name())} AS text), f.main_registration)"


class Flag(Leaf):
    rule: Literal["flag"]
    title: ClassVar[str] = "企业标记"
    needs_firms: ClassVar[bool] = True
    flag: str

    def condition(self, c: Compiler) -> str:
        if self.flag not in FLAGS:
            raise InvalidInput(f"flag: 未知标记 '{self.flag}' (known: {', '.join(FLAGS)})")
        return f"({c.bind(self.flag)} = ANY(f.flags))"

    def reason(self, c: Compiler) -> str:
        return f"format('%s: {FLAGS.get(self.flag, self.flag)}', CAST({c.bind(self.name())} AS text))"


class RenewalStatusIn(Leaf):
    rule: Literal["renewal_status_in"]
    title: ClassVar[str] = "更新状态"
    statuses: list[
        Literal[
            "normal",
            "identified",
            "planned",
            "in_progress",
            "freed",
            "resupplied",
            "producing",
            "upgraded",
            "exempt",
        ]
    ] = Field(min_length=1)

    def condition(self, c: Compiler) -> str:
        return f"(f.renewal_status = ANY({c.bind(list(self.statuses))}))"

    def reason(self, c: Compiler) -> str:
        return f"format('%s: %s', CAST({c.bind(self.name())} AS text), f.renewal_status)"


class ZoneTypeIn(Leaf):
    rule: Literal["zone_type_in"]
    title: ClassVar[str] = "所在园区类型"
    types: list[Literal["development_zone", "industrial_park", "small_micro_park", "renewal_area"]] = Field(
        min_length=1
    )

    def condition(self, c: Compiler) -> str:
        return f"(f.zone_type = ANY({c.bind(list(self.types))}))"


class IndustrialLand(Leaf):
    rule: Literal["industrial_land"]
    title: ClassVar[str] = "工业用地"

    def condition(self, c: Compiler) -> str:
        return "landgis_is_industrial(f.land_use_code)"


LEAVES: dict[str, type[Leaf]] = {
    cls.model_fields["rule"].annotation.__args__[0]: cls  # type: ignore[union-attr]
    for cls in (
        MuTaxBelow,
        MuValueAddedBelow,
        MuTaxAtLeast,
        MuTaxBelowIndustryShare,
        FarBelow,
        FarBelowControlShare,
        FarRequirementBelow,
        ClassIn,
        Idle,
        Wuwei,
        IndustryIn,
        DangerousBuilding,
        ScaleIs,
        AreaAtLeast,
        AreaBelow,
        Vacant,
        ProducingLessThan,
        RegisteredAtLeast,
        Flag,
        RenewalStatusIn,
        ZoneTypeIn,
        IndustrialLand,
    )
}


def _years_before(day: dt.date, years: float) -> dt.date:
    whole = int(years)
    try:
        shifted = day.replace(year=day.year - whole)
    except ValueError:  # 29 February
        shifted = day.replace(year=day.year - whole, day=28)
    return shifted - dt.timedelta(days=round((years - whole) * 365.25))


# --------------------------------------------------------------------------- the tree


@dataclass(frozen=True)
class Node:
    """``op`` is all, any, not or leaf; ``children`` for the first three, ``leaf`` for a leaf."""

    op: Literal["all", "any", "not", "leaf"]
    children: tuple[Node, ...] = ()
    leaf: Leaf | None = None

    def requires_firms(self) -> bool:
        """Whether no parcel without firms on record can match."""
        if self.leaf is not None:
            return self.leaf.needs_firms
        if self.op == "not":
            return False
        if self.op == "all":
            return any(child.requires_firms() for child in self.children)
        return all(child.requires_firms() for child in self.children)

    def document(self) -> dict[str, Any]:
        if self.leaf is not None:
            return self.leaf.model_dump(exclude_none=True)
        if self.op == "not":
            return {"not": self.children[0].document()}
        return {self.op: [c.document() for c in self.children]}


def _substitute(value: Any, params: dict[str, Any], path: str, used: set[str]) -> Any:
    if isinstance(value, str) and value.startswith("$"):
        name = value[1:]
        if name not in params:
            raise InvalidInput(f"{path}: 参数 ${name} 未给出 (parameter not given in params)")
        used.add(name)
        return params[name]
    if isinstance(value, list):
        return [_substitute(v, params, f"{path}[{i}]", used) for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: _substitute(v, params, f"{path}.{k}", used) for k, v in value.items()}
    return value


def parse_rules(data: Any, params: dict[str, Any] | None = None, path: str = "rules") -> Node:
    """Validate a rule tree (``$name`` values filled from ``params``); refuse it naming the field."""
    used: set[str] = set()
    filled = _substitute(data, params or {}, path, used)
    return _parse(filled, path)


def _parse(data: Any, path: str) -> Node:
    if not isinstance(data, dict) or not data:
        raise InvalidInput(f"{path}: 应为规则 ({{rule: ...}}) 或 all/any/not 组合 (a rule or all/any/not)")
    ops = [k for k in ("all", "any", "not") if k in data]
    if ops:
        if len(data) != 1:
            extra = sorted(set(data) - {ops[0]})
            raise InvalidInput(f"{path}: all/any/not 不能与其他键 {extra} 并列 (one operator per node)")
        op = ops[0]
        body = data[op]
        if op == "not":
            return Node("not", (_parse(body, f"{path}.not"),))
        if not isinstance(body, list) or not body:
            raise InvalidInput(f"{path}.{op}: 应为非空列表 (a non-empty list of rules)")
        return Node(op, tuple(_parse(child, f"{path}.{op}[{i}]") for i, child in enumerate(body)))  # type: ignore[arg-type]
    name = data.get("rule")
    if name is None:
        raise InvalidInput(f"{path}: 缺少 rule 或 all/any/not (unknown node, keys: {', '.join(map(str, data))})")
    cls = LEAVES.get(str(name))
    if cls is None:
        raise InvalidInput(f"{path}.rule: 未知规则 '{name}' (unknown rule; known: {', '.join(LEAVES)})")
    try:
        leaf = cls.model_validate(data)
    except ValidationError as exc:
        found = issues(exc)
        first = found[0]
        raise InvalidInput(
            f"{path}.{first['field']}: {first['message']}",
            details={"errors": [{**e, "field": f"{path}.{e['field']}"} for e in found]},
        ) from exc
    if isinstance(leaf, Flag) and leaf.flag not in FLAGS:
        raise InvalidInput(f"{path}.flag: 未知标记 '{leaf.flag}' (unknown flag; known: {', '.join(FLAGS)})")
    return Node("leaf", leaf=leaf)


@dataclass
class Compiled:
    """SQL pieces of a rule tree: the match condition, one column per positive leaf with its
    condition (``m0``, ``m1`` …) and the reasons array, with their bound parameters."""

    where: str
    reasons: str
    params: dict[str, Any]
    needs: set[str]


def compile_rules(node: Node, *, year: int, as_of: dt.date) -> Compiled:
    """Compile a validated tree to SQL over the facts relation ``f``.

    A parcel's reasons are the leaves that hold and count towards its match: not negated, and
    every enclosing all/any holds too (a leaf of an ``any`` branch that failed is no reason).
    """
    c = Compiler(as_of=as_of, year=year)
    expressions: dict[int, str] = {}

    def walk(n: Node) -> str:
        if n.leaf is not None:
            expression = f"coalesce({n.leaf.condition(c)}, FALSE)"
        elif n.op == "not":
            expression = f"(NOT {walk(n.children[0])})"
        else:
            joiner = " AND " if n.op == "all" else " OR "
            expression = "(" + joiner.join(walk(child) for child in n.children) + ")"
        expressions[id(n)] = expression
        return expression

    where = walk(node)
    parts: list[str] = []

    def reasons(n: Node, positive: bool, context: tuple[str, ...]) -> None:
        if n.leaf is not None:
            if positive:
                condition = " AND ".join((*context, expressions[id(n)]))
                parts.append(f"CASE WHEN {condition} THEN {n.leaf.reason(c)} END")
            return
        inner = (*context, expressions[id(n)]) if n is not node else context
        for child in n.children:
            reasons(child, positive != (n.op == "not"), inner)

    reasons(node, True, ())
    array = "array_remove(ARRAY[" + ", ".join(parts) + "]::text[], NULL)" if parts else "ARRAY[]::text[]"
    return Compiled(where=where, reasons=array, params=c.params, needs=c.needs)
