"""HTML pages of the life-cycle module (QR sheets, progress reports), from Jinja2 templates in
``templates/``. Autoescaping is on; only markup we generate ourselves (QR and chart SVG) is
marked safe."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape


def _number(value: object, digits: int = 2) -> str:
    if value is None:
        return "—"
    if isinstance(value, int | float):
        return f"{value:,.{digits}f}"
    return str(value)


def _percent(value: object, digits: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, int | float):
        return f"{value * 100:.{digits}f}%"
    return str(value)


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("landgis.lifecycle", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = _number
    env.filters["pct"] = _percent
    return env


def render(name: str, **context: Any) -> str:
    """Render template ``name`` with ``context``."""
    return environment().get_template(name).render(**context)
