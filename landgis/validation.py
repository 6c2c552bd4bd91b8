"""Turning pydantic validation errors into one ``InvalidInput`` that names the field.

Policies and rule sets are checked with pydantic models; a user reads the first problem as
``segments[0].indicators[2].weight: 应为数字 (Input should be a valid number)``, and every problem
is listed in ``details["errors"]``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from landgis.errors import InvalidInput

#: pydantic error types → the Chinese words put before pydantic's own English message.
_WORDS = {
    "missing": "缺少必填项",
    "extra_forbidden": "未知字段",
    "float_type": "应为数字",
    "float_parsing": "应为数字",
    "int_type": "应为整数",
    "int_parsing": "应为整数",
    "int_from_float": "应为整数",
    "bool_type": "应为 true/false",
    "string_type": "应为文本",
    "list_type": "应为列表",
    "dict_type": "应为映射 (键: 值)",
    "model_type": "应为映射 (键: 值)",
    "literal_error": "取值无效",
    "enum": "取值无效",
    "greater_than": "数值过小",
    "greater_than_equal": "数值过小",
    "less_than": "数值过大",
    "less_than_equal": "数值过大",
    "too_short": "不能为空",
    "too_long": "过长",
    "string_pattern_mismatch": "格式不对",
    "value_error": "无效",
}

#: A model-level check names the field it is about at the start of its message: ``weights_total: ...``.
_FIELD_PREFIX = re.compile(r"^([a-z_]+(?:\[\d+\])?(?:\.[a-z_]+(?:\[\d+\])?)*): (.+)$", re.DOTALL)

#: Parts of a pydantic location that name a type tried in a union, not a field.
_TYPE_TAGS = {"float", "int", "str", "bool", "list", "dict", "none", "function-after", "function-before"}


def field_path(loc: Sequence[Any]) -> str:
    """``('segments', 0, 'indicators', 2, 'weight')`` → ``segments[0].indicators[2].weight``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            continue
        text = str(part)
        if text in _TYPE_TAGS or "[" in text:
            continue
        out += f".{text}" if out else text
    return out or "(根)"


def issues(exc: ValidationError) -> list[dict[str, Any]]:
    """Each problem as {field, message, input}."""
    found = []
    for error in exc.errors(include_url=False):
        english = str(error.get("msg", "")).removeprefix("Value error, ")
        kind = str(error.get("type", ""))
        word = _WORDS.get(kind)
        message = english if kind == "value_error" or word is None else f"{word} ({english})"
        path = field_path(error.get("loc", ()))
        named = _FIELD_PREFIX.match(english) if kind == "value_error" else None
        if named:
            path = named.group(1) if path == "(根)" else f"{path}.{named.group(1)}"
            message = named.group(2)
        entry: dict[str, Any] = {"field": path, "message": message}
        value = error.get("input")
        if isinstance(value, str | int | float | bool) and kind != "missing":
            entry["input"] = value
        found.append(entry)
    return found


def refusal(exc: ValidationError, what: str) -> InvalidInput:
    """An ``InvalidInput`` for ``what`` (e.g. ``评价办法 huangyan-2022.yaml``) naming the first field."""
    found = issues(exc)
    first = found[0] if found else {"field": "(根)", "message": "无效"}
    more = f" (另有 {len(found) - 1} 处问题)" if len(found) > 1 else ""
    return InvalidInput(f"{what}: {first['field']}: {first['message']}{more}", details={"errors": found})
