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


# Longest words first; 大于 inside 不大于 is an upper bound, hence the look-behinds.
_LOWER_WORDS = r"(?:大于或等于|大于等于|不小于|不低于|不少于|(?<!不)大于|(?<!不)高于|(?<!不)超过|≥|>|≮|下限|最低|最小)"
_UPPER_WORDS = r"(?:小于或等于|小于等于|不大于|不高于|不超过|不多于|(?<!不)小于|(?<!不)低于|≤|<|≯|上限|最高|最大)"
_FAR_WORDS = ("约定容积率", "容积率", "FAR", "RJL", "规划指标", "要求", "不含", "含", "为", "：", ":")


def parse_far_range(value: Any) -> tuple[float | None, float | None]:
    """Agreed FAR bounds (lower, upper) from the text Zhejiang platforms publish; None is unbounded.

    ``1.2-2.0``, ``1.2~2.0`` and ``1.2至2.0`` give (1.2, 2.0); ``≥1.5``, ``不小于1.5``,
    ``大于或等于1.5`` and ``1.5以上`` give (1.5, None); ``≤2.0`` and ``2.0以下`` give (None, 2.0);
    ``大于或等于1.8并且小于或等于2.5``, ``1.0≤容积率≤2.0``, ``≥1.0且≤2.0`` and ``下限1.0上限2.0``
    give both bounds; a bare ``1.5`` gives (1.5, 1.5). Strict and non-strict signs are not told
    apart: contracts state the bound, and the sign only says whether it is included.
    """
    if is_blank(value):
        return None, None
    if isinstance(value, bool):
        raise ValueError(f"无法解析容积率 {value!r}")
    if isinstance(value, int | float):
        number = float(value)
        return _far_bounds(number, number, value)
    text = unicodedata.normalize("NFKC", str(value)).strip().upper()
    text = text.replace("≧", "≥").replace("≦", "≤").replace(">=", "≥").replace("<=", "≤").replace("=<", "≤")
    text = text.replace("=>", "≥")
    for word in _FAR_WORDS:
        text = text.replace(word, "")
    text = re.sub(r"[\s()（）]", "", text)
    num = _NUMBER
    if re.fullmatch(num, text):
        return _far_bounds(float(text), float(text), value)
    ranged = re.fullmatch(rf"({num})(?:-|~|至|到|—|–|－|～)({num})", text)
    if ranged:
        return _far_bounds(float(ranged.group(1)), float(ranged.group(2)), value)
    # a ≤ x ≤ b and b ≥ x ≥ a, once the word 容积率 is gone: "1.0≤≤2.0", "2.0≥≥1.0"
    between = re.fullmatch(rf"({num})[≤<]+({num})", text)
    if between:
        return _far_bounds(float(between.group(1)), float(between.group(2)), value)
    between = re.fullmatch(rf"({num})[≥>]+({num})", text)
    if between:
        return _far_bounds(float(between.group(2)), float(between.group(1)), value)
    lower: float | None = None
    upper: float | None = None
    for match in re.finditer(rf"{_LOWER_WORDS}({num})|({num})(?:及|或)?以上|({num})[≤<](?![\d.])", text):
        lower = float(next(g for g in match.groups() if g is not None))
    for match in re.finditer(rf"{_UPPER_WORDS}({num})|({num})(?:及|或)?以下|({num})[≥>](?![\d.])", text):
        upper = float(next(g for g in match.groups() if g is not None))
    if lower is None and upper is None:
        raise ValueError(f"无法解析容积率 {str(value)[:40]!r} (expected e.g. 1.2-2.0, ≥1.5)")
    leftover = re.sub(
        rf"{_LOWER_WORDS}|{_UPPER_WORDS}|{num}|以上|以下|及|或|并且|且|而且|同时|和|[,，;；、/]", "", text
    )
    if leftover:
        raise ValueError(f"无法解析容积率 {str(value)[:40]!r}: 无法理解 {leftover[:10]!r}")
    return _far_bounds(lower, upper, value)


def _far_bounds(lower: float | None, upper: float | None, value: Any) -> tuple[float | None, float | None]:
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


#: Land-use names as transaction records write them → (code, code system).
LAND_USE_LABELS: dict[str, tuple[str, str]] = {
    "一类工业用地": ("100101", "GTKJ-2023"),
    "二类工业用地": ("100102", "GTKJ-2023"),
    "三类工业用地": ("100103", "GTKJ-2023"),
    "物流仓储用地": ("1101", "GTKJ-2023"),
    "工业用地": ("0601", "GBT21010-2017"),
    "采矿用地": ("0602", "GBT21010-2017"),
    "盐田": ("0603", "GBT21010-2017"),
    "仓储用地": ("0604", "GBT21010-2017"),
    "工矿仓储用地": ("06", "GBT21010-2017"),
    "商服用地": ("05", "GBT21010-2017"),
    "住宅用地": ("07", "GBT21010-2017"),
    "公共管理与公共服务用地": ("08", "GBT21010-2017"),
    "交通运输用地": ("10", "GBT21010-2017"),
}
_LAND_USE_CODE = re.compile(r"(?:\d{2}|\d{4}|\d{6}|[A-Z]\d{0,2}[A-Z]?)")


def parse_land_use(value: Any) -> tuple[str, str | None] | None:
    """A land-use code and, when the value was a name, the code system it was mapped into.

    ``0601``, ``100101`` and ``M2`` are kept as codes (their system is the mapping's);
    ``工业用地`` gives (``0601``, ``GBT21010-2017``), ``二类工业用地`` (``100102``, ``GTKJ-2023``).
    """
    text = clean_text(value)
    if text is None:
        return None
    if isinstance(value, float) and value.is_integer():
        text = f"{int(value):04d}"
    folded = unicodedata.normalize("NFKC", text).strip().upper()
    if _LAND_USE_CODE.fullmatch(folded):
        return folded, None
    for label, (code, system) in LAND_USE_LABELS.items():
        if label in folded:
            return code, system
    raise ValueError(f"无法识别的土地用途 {text[:20]!r} (a code such as 0601, or a name such as 工业用地)")
