"""Candidate presets: named rule sets with default parameters (``presets/*.yaml``).

Shipped: 湖州 "三低", 长兴, 金华 低效工业用地认定 (draft), 闲置土地 (53号令, two stages) and the
"五未" categories. Every threshold is a parameter a request may override.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from landgis.candidates.rules import Node, parse_rules
from landgis.errors import InvalidInput, NotFound


@dataclass(frozen=True)
class Preset:
    id: str
    name: str
    description: str
    params: dict[str, dict[str, Any]]
    rules: dict[str, Any]

    def defaults(self) -> dict[str, Any]:
        return {name: spec.get("default") for name, spec in self.params.items()}

    def resolve(self, overrides: dict[str, Any] | None) -> tuple[Node, dict[str, Any]]:
        """The rule tree with the defaults overridden by ``overrides`` (checked by name and type)."""
        values = self.defaults()
        for name, value in (overrides or {}).items():
            if name not in self.params:
                known = ", ".join(self.params) or "无"
                raise InvalidInput(f"params.{name}: 预设 {self.id} 没有参数 {name} (known: {known})")
            values[name] = _checked(name, value, self.params[name].get("default"))
        return parse_rules(self.rules, values), values

    def document(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "params": self.params,
            "rules": self.rules,
        }


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _checked(name: str, value: Any, default: Any) -> Any:
    if _is_number(default) and not _is_number(value):
        raise InvalidInput(f"params.{name}: 应为数字 (must be a number, got {value!r})")
    if isinstance(default, list) and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        raise InvalidInput(f"params.{name}: 应为文本列表 (must be a list of strings)")
    return value


@cache
def presets() -> dict[str, Preset]:
    """The shipped presets by id, each validated with its defaults."""
    found: dict[str, Preset] = {}
    folder = resources.files("landgis.candidates") / "presets"
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if not entry.name.endswith(".yaml"):
            continue
        data = yaml.safe_load(entry.read_text(encoding="utf-8"))
        preset = Preset(
            id=data["id"],
            name=data["name"],
            description=data.get("description", ""),
            params=data.get("params") or {},
            rules=data["rules"],
        )
        preset.resolve(None)  # a shipped preset must validate with its defaults
        found[preset.id] = preset
    return found


def get_preset(preset_id: str) -> Preset:
    try:
        return presets()[preset_id]
    except KeyError:
        raise NotFound(f"preset: 没有预设 '{preset_id}' (known: {', '.join(presets())})") from None
