"""Parsing the values real county files hold: numbers with units, FAR ranges as text, dates in
half a dozen forms, 是/否, and the Chinese labels of our coded fields.

Each parser returns the parsed value or raises ``ValueError`` with a message fit for the load
report (it names what was expected; the caller adds file, row and field).
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from typing import Any

_NUMBER = r"[-+]?\d+(?:\.\d+)?"
_EXCEL_EPOCH = dt.date(1899, 12, 30)


def is_blank(value: Any) -> bool:
    """None, NaN, NaT, or text that is empty after trimming."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    if isinstance(value, str):
        return not value.strip() or value.strip() in ("-", "--", "/", "无", "NULL", "null", "None")
    try:
        import pandas as pd

        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def clean_text(value: Any) -> str | None:
    """Trimmed text (full-width spaces too), or None when blank."""
    if is_blank(value):
        return None
    text = str(value).replace("\u3000", " ").strip()
    return text or None


def parse_number(value: Any, *, max_abs: float = 1e13) -> float | None:
    """A finite number from a number or text such as ``1,234.5`` or full-width ``１２``."""
    if is_blank(value):
        return None
    if isinstance(value, bool):
        raise ValueError(f"应为数值, 实为 {value!r}")
    if isinstance(value, int | float):
        number = float(value)
    else:
        text = unicodedata.normalize("NFKC", str(value)).strip().replace(",", "").replace(" ", "")
        if not re.fullmatch(_NUMBER + r"(?:[eE][-+]?\d+)?", text):
            raise ValueError(f"应为数值, 实为文本 {str(value)[:40]!r}")
        number = float(text)
    if not math.isfinite(number) or abs(number) > max_abs:
        raise ValueError(f"数值超出合理范围 ({number!r})")
    return number


def parse_far_range(value: Any) -> tuple[float | None, float | None]:
    """Agreed FAR bounds from the text Zhejiang platforms publish.

    ``1.2-2.0`` and ``1.2~2.0`` give (1.2, 2.0); ``≥1.5``, ``不小于1.5`` and ``大于或等于1.5`` give
    (1.5, None); ``≤2.0`` gives (None, 2.0); ``大于或等于1.8并且小于或等于2.5`` gives (1.8, 2.5);
    a bare ``1.5`` gives (1.5, 1.5).
    """
    if is_blank(value):
        return None, None
    if isinstance(value, int | float):
        number = float(value)
        return number, number
    text = unicodedata.normalize("NFKC", str(value)).strip()
    text = text.replace("容积率", "").replace(" ", "").replace("＜", "<").replace("＞", ">")
    lower: float | None = None
    upper: float | None = None
    ranged = re.fullmatch(rf"({_NUMBER})(?:-|~|至|到|—|–)({_NUMBER})", text)
    if ranged:
        lower, upper = float(ranged.group(1)), float(ranged.group(2))
    elif re.fullmatch(_NUMBER, text):
        lower = upper = float(text)
    else:
        lower_words = r"(?:≥|>=|>|大于或等于|大于等于|不小于|不低于|大于|高于|≮)"
        upper_words = r"(?:≤|<=|<|小于或等于|小于等于|不大于|不高于|不超过|小于|低于|≯)"
        low = re.search(rf"{lower_words}({_NUMBER})", text)
        high = re.search(rf"{upper_words}({_NUMBER})", text)
        if not low and not high:
            raise ValueError(f"无法解析容积率 {str(value)[:40]!r} (expected e.g. 1.2-2.0, ≥1.5)")
        lower = float(low.group(1)) if low else None
        upper = float(high.group(1)) if high else None
    if lower is not None and upper is not None and lower > upper:
        raise ValueError(f"容积率下限大于上限 {str(value)[:40]!r}")
    for bound in (lower, upper):
        if bound is not None and not 0 <= bound <= 30:
            raise ValueError(f"容积率超出合理范围 {str(value)[:40]!r}")
    return lower, upper


def parse_date(value: Any) -> dt.date | None:
    """A date from a date, datetime, Excel serial number, or text (2019-05-01, 2019/5/1, 2019年5月1日, 20190501)."""
    if is_blank(value):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if hasattr(value, "to_pydatetime"):
        return value.to_pydatetime().date()  # type: ignore[no-any-return]
    if isinstance(value, int | float) and not isinstance(value, bool):
        if 20_000 <= value <= 80_000:
            return _EXCEL_EPOCH + dt.timedelta(days=int(value))
        if 19_000_101 <= value <= 21_001_231:
            value = str(int(value))
        else:
            raise ValueError(f"应为日期, 实为数值 {value!r}")
    text = unicodedata.normalize("NFKC", str(value)).strip()
    text = re.sub(r"[T ]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?$", "", text)
    match = re.fullmatch(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?", text) or re.fullmatch(
        r"(\d{4})(\d{2})(\d{2})", text
    )
    if not match:
        raise ValueError(f"无法解析日期 {str(value)[:40]!r} (expected e.g. 2019-05-01)")
    try:
        return dt.date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError as exc:
        raise ValueError(f"日期无效 {text!r}") from exc


_TRUE = {"是", "Y", "YES", "TRUE", "1", "T", "√", "有"}
_FALSE = {"否", "N", "NO", "FALSE", "0", "F", "×", "无", "不是"}


def parse_bool(value: Any) -> bool | None:
    """是/否, Y/N, 1/0, true/false."""
    if is_blank(value) and value not in ("无",):
        return None
    if isinstance(value, bool):
        return value
    text = unicodedata.normalize("NFKC", str(value)).strip().upper()
    if text.endswith(".0"):
        text = text[:-2]
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"应为是/否, 实为 {str(value)[:20]!r}")


def _label_parser(name: str, table: dict[str, str], default: str | None = None) -> Any:
    def parse(value: Any) -> str | None:
        text = clean_text(value)
        if text is None:
            return None
        folded = unicodedata.normalize("NFKC", text).strip()
        for label, code in table.items():
            if folded == label or folded.lower() == code:
                return code
        for label, code in table.items():
            if label in folded:
                return code
        if default is not None:
            return default
        raise ValueError(f"无法识别的{name} {text[:20]!r} (known: {', '.join(table)})")

    return parse


parse_supply_method = _label_parser(
    "供地方式",
    {"出让": "transfer", "划拨": "allocation", "租赁": "lease", "作价出资": "capital", "作价入股": "capital"},
    default="other",
)
parse_scale = _label_parser("规模", {"规上": "above", "规模以上": "above", "规下": "below", "规模以下": "below"})
parse_tenure = _label_parser(
    "权属", {"自有": "own", "自用": "own", "自建": "own", "租赁": "lease", "租用": "lease", "承租": "lease"}
)
parse_zone_type = _label_parser(
    "园区类型",
    {
        "开发区": "development_zone",
        "高新区": "development_zone",
        "工业园区": "industrial_park",
        "产业园": "industrial_park",
        "小微企业园": "small_micro_park",
        "小微园": "small_micro_park",
        "整治片区": "renewal_area",
        "更新片区": "renewal_area",
    },
)


def parse_safety_grade(value: Any) -> str | None:
    """房屋安全等级 A-D (JGJ 125), also written A级 or 一般."""
    text = clean_text(value)
    if text is None:
        return None
    grade = unicodedata.normalize("NFKC", text).upper().replace("级", "").strip()
    if grade in ("A", "B", "C", "D"):
        return grade
    raise ValueError(f"房屋安全等级应为A/B/C/D, 实为 {text[:10]!r}")


def parse_ratio(value: Any) -> float | None:
    """A ratio 0..1 from ``0.45``, ``45`` (read as percent) or ``45%``."""
    if is_blank(value):
        return None
    text = str(value).strip()
    percent = text.endswith("%")
    number = parse_number(text.rstrip("%") if percent else value)
    if number is None:
        return None
    if percent or number > 1:
        number /= 100.0
    if not 0 <= number <= 1:
        raise ValueError(f"比例应在0-1或0%-100%之间, 实为 {text[:20]!r}")
    return number
