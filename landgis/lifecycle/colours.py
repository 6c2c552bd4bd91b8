"""一码管地 colours: configurable red/yellow rules, evaluated set-based in the database.

The rules live in ``colour_rule`` (seeded from ``colour_rules.yaml``); every kind of rule is a
fixed, whitelisted SQL check (``landgis_refresh_parcel_colour`` in revision 0006) and only its
parameters, colour and label are configuration. Colours are stored in ``parcel_colour`` and read
through ``v_parcel_colour``; triggers keep them current when parcels, events, progress reports or
标准地 records change. Because date windows move every day, ``refresh()`` should also run daily
(``landgis lifecycle colours refresh`` from cron), and after every evaluation run.
"""

from __future__ import annotations

import datetime as dt
import json
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import Connection, text

from landgis.errors import InvalidInput, NotFound

DEFAULT_FILE = "colour_rules.yaml"
COLOURS = ("green", "yellow", "red")
COLOUR_LABELS = {"green": "绿码", "yellow": "黄码", "red": "红码"}
MILESTONES = ("delivery", "start", "completion", "production")
Milestone = Literal["delivery", "start", "completion", "production"]
Outcome = Literal["failed", "incomplete"]


def _all_milestones() -> list[Milestone]:
    return ["delivery", "start", "completion", "production"]


def _failed_only() -> list[Outcome]:
    return ["failed"]


StateList = list[Annotated[str, Field(pattern=r"^[a-z][a-z_]{0,31}$")]]


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    except_states: StateList = Field(default_factory=list)


class IdleParams(_Params):
    stage: Literal["idle", "recapture"] = "idle"


class ClassParams(_Params):
    classes: list[Literal["A", "B", "C", "D"]] = Field(min_length=1)


class StatusParams(_Params):
    states: StateList = Field(min_length=1)
    min_days: int = Field(default=0, ge=0, le=36500)


class DeadlineParams(_Params):
    days: int = Field(default=90, ge=0, le=3650)
    milestones: list[Milestone] = Field(default_factory=_all_milestones, min_length=1)
    include_overdue: bool = True
    #: overdue longer than this is no longer a deadline (idle land and 五未 take over)
    max_overdue_days: int = Field(default=365, ge=0, le=36500)


class ReviewDueParams(_Params):
    days: int = Field(default=90, ge=0, le=3650)
    include_overdue: bool = True


class ReviewFailedParams(_Params):
    outcomes: list[Outcome] = Field(default_factory=_failed_only, min_length=1)


PARAMS_FOR: dict[str, type[_Params]] = {
    "idle_land": IdleParams,
    "eval_class": ClassParams,
    "renewal_status": StatusParams,
    "contract_deadline": DeadlineParams,
    "review_due": ReviewDueParams,
    "review_failed": ReviewFailedParams,
}


class ColourRule(BaseModel):
    """One rule as configured; ``params`` is validated against the rule's kind."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")
    kind: Literal["idle_land", "eval_class", "renewal_status", "contract_deadline", "review_due", "review_failed"]
    colour: Literal["red", "yellow"]
    label: str = Field(min_length=1, max_length=60)
    enabled: bool = True
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("label")
    @classmethod
    def _strip(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("label is empty")
        return value.strip()


def _where(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def parse_rules(data: object, source: str) -> list[ColourRule]:
    """Validate a rules document (``{"rules": [...]}``); errors name ``source`` and the field."""
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list) or not data["rules"]:
        raise InvalidInput(f"{source}: 应有非空的 rules 列表 (a non-empty 'rules' list is expected)")
    rules: list[ColourRule] = []
    codes: set[str] = set()
    for index, raw in enumerate(data["rules"]):
        where = f"rules[{index}]"
        try:
            rule = ColourRule.model_validate(raw)
            params = PARAMS_FOR[rule.kind].model_validate(rule.params)
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = tuple(first["loc"])
            prefix = where if loc and loc[0] in ColourRule.model_fields else f"{where}.params"
            raise InvalidInput(f"{source}: {prefix}{'.' if loc else ''}{_where(loc)}: {first['msg']}") from None
        if rule.code in codes:
            raise InvalidInput(f"{source}: {where}.code: 规则代码重复 '{rule.code}' (duplicate rule code)")
        codes.add(rule.code)
        rules.append(rule.model_copy(update={"params": params.model_dump()}))
    return rules


def read_rules(path: Path | None = None) -> list[ColourRule]:
    """Read and validate a rules file (``None``: the packaged default)."""
    if path is None:
        content = resources.files("landgis.lifecycle").joinpath(DEFAULT_FILE).read_text(encoding="utf-8")
        source = DEFAULT_FILE
    else:
        if not path.is_file():
            raise InvalidInput(f"颜色规则文件不存在 (rules file not found): {path}")
        content, source = path.read_text(encoding="utf-8"), path.name
    try:
        data = yaml.safe_load(content)
    except yaml.YAMLError:
        raise InvalidInput(f"{source}: YAML 格式错误 (invalid YAML)") from None
    return parse_rules(data, source)


def list_rules(conn: Connection) -> list[dict[str, Any]]:
    """The rules in force, in the order their reasons are listed."""
    rows = conn.execute(
        text(
            "SELECT code, kind, colour, enabled, label, params, sort_order, updated_at FROM colour_rule"
            " ORDER BY sort_order, code"
        )
    ).mappings()
    return [dict(r) for r in rows]


def apply_rules(conn: Connection, rules: list[ColourRule], *, as_of: dt.date | None = None) -> int:
    """Replace the rules with ``rules`` (validated) and recompute every parcel's colour.

    Returns the number of colours that changed.
    """
    conn.execute(text("DELETE FROM colour_rule"))
    conn.execute(
        text(
            "INSERT INTO colour_rule (code, kind, colour, enabled, label, params, sort_order)"
            " VALUES (:code, :kind, :colour, :enabled, :label, CAST(:params AS jsonb), :sort_order)"
        ),
        [
            {**r.model_dump(exclude={"params"}), "params": json.dumps(r.params), "sort_order": (i + 1) * 10}
            for i, r in enumerate(rules)
        ],
    )
    changed = conn.execute(
        text("SELECT landgis_refresh_parcel_colour(ARRAY(SELECT id FROM parcel), :as_of)"),
        {"as_of": as_of or dt.date.today()},
    ).scalar_one()
    return int(changed)


def refresh(conn: Connection, *, as_of: dt.date | None = None, parcel_ids: list[int] | None = None) -> int:
    """Recompute colours as of ``as_of`` (default today) for ``parcel_ids`` or every parcel in the
    caller's scope; returns the number that changed."""
    changed = conn.execute(
        text("SELECT landgis_refresh_parcel_colour(CAST(:ids AS bigint[]), :as_of)"),
        {"ids": parcel_ids, "as_of": as_of or dt.date.today()},
    ).scalar_one()
    return int(changed)


def colour_of(conn: Connection, parcel_id: int) -> dict[str, Any]:
    """One parcel's colour with its reasons (in the caller's scope)."""
    row = (
        conn.execute(
            text("SELECT parcel_id, land_code, colour, reasons, as_of FROM v_parcel_colour WHERE parcel_id = :id"),
            {"id": parcel_id},
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"地块 {parcel_id} 不存在或不在您的管辖范围内 (parcel not found)")
    return {**row, "colour_label": COLOUR_LABELS[row["colour"]]}


def list_colours(
    conn: Connection,
    *,
    zone_id: int | None = None,
    region: str | None = None,
    colour: str | None = None,
    limit: int = 1000,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Colours of the parcels in a zone or region (in scope), red first, by land code."""
    if colour is not None and colour not in COLOURS:
        raise InvalidInput(f"颜色应为 green、yellow 或 red (colour), 实为 '{colour}'")
    rows = conn.execute(
        text(
            "SELECT c.parcel_id, c.land_code, c.colour, c.reasons, c.as_of, p.zone_id, p.region_code, p.area_mu"
            " FROM v_parcel_colour c JOIN parcel p ON p.id = c.parcel_id"
            " WHERE landgis_in_scope(p.region_code)"
            " AND (CAST(:zone_id AS integer) IS NULL OR p.zone_id = CAST(:zone_id AS integer))"
            " AND (CAST(:region AS text) IS NULL OR starts_with(p.region_code, CAST(:region AS text)))"
            " AND (CAST(:colour AS text) IS NULL OR c.colour = CAST(:colour AS text))"
            " ORDER BY array_position(ARRAY['red','yellow','green']::text[], c.colour::text), c.land_code"
            " LIMIT :limit OFFSET :offset"
        ),
        {"zone_id": zone_id, "region": region, "colour": colour, "limit": limit, "offset": offset},
    ).mappings()
    return [dict(r) for r in rows]


def summary(conn: Connection, *, zone_id: int | None = None, region: str | None = None) -> dict[str, Any]:
    """Parcels and 亩 per colour, and how often each rule matched, in a zone or region."""
    params = {"zone_id": zone_id, "region": region}
    per_colour = conn.execute(
        text(
            "SELECT c.colour, count(*) AS parcels, coalesce(sum(p.area_mu), 0) AS area_mu, min(c.as_of) AS as_of"
            " FROM v_parcel_colour c JOIN parcel p ON p.id = c.parcel_id"
            " WHERE landgis_in_scope(p.region_code)"
            " AND (CAST(:zone_id AS integer) IS NULL OR p.zone_id = CAST(:zone_id AS integer))"
            " AND (CAST(:region AS text) IS NULL OR starts_with(p.region_code, CAST(:region AS text)))"
            " GROUP BY c.colour"
        ),
        params,
    ).mappings()
    colours: dict[str, dict[str, Any]] = {
        c: {"colour": c, "label": COLOUR_LABELS[c], "parcels": 0, "area_mu": 0.0} for c in COLOURS
    }
    as_of = None
    for row in per_colour:
        colours[row["colour"]].update(parcels=row["parcels"], area_mu=float(row["area_mu"]))
        as_of = row["as_of"] if as_of is None else min(as_of, row["as_of"])
    per_rule = conn.execute(
        text(
            "SELECT r ->> 'rule' AS rule, r ->> 'label' AS label, r ->> 'colour' AS colour, count(*) AS parcels"
            " FROM v_parcel_colour c JOIN parcel p ON p.id = c.parcel_id"
            " CROSS JOIN LATERAL jsonb_array_elements(c.reasons) AS r"
            " WHERE landgis_in_scope(p.region_code)"
            " AND (CAST(:zone_id AS integer) IS NULL OR p.zone_id = CAST(:zone_id AS integer))"
            " AND (CAST(:region AS text) IS NULL OR starts_with(p.region_code, CAST(:region AS text)))"
            " AND r ->> 'rule' <> 'none' GROUP BY 1, 2, 3 ORDER BY 4 DESC, 1"
        ),
        params,
    ).mappings()
    return {"as_of": as_of, "colours": list(colours.values()), "rules": [dict(r) for r in per_rule]}
