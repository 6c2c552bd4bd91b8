"""Validation of the codes land and enterprise data are keyed by.

- 宗地代码 (ZDDM, GB/T 13923 / 不动产单元设定与代码编制规则): 19 characters,
  6-digit 行政区划 + 3 地籍区 + 3 地籍子区 + 2-letter 特征码 + 5-digit 宗地顺序号.
- 不动产单元号 (BDCDYH): 28 characters, the ZDDM + 定着物特征码 (W/F/L/Q) + 8 digits.
- 统一社会信用代码 (USCC, GB 32100-2015): 18 characters, the last a check character.
- 行政区划代码: 6 digits (county and above), 9 (乡镇/街道) or 12 (村/社区).

Real files hold full-width characters, stray spaces, free-text lot numbers and several codes in
one cell: every parser here normalises what it safely can, keeps the raw value, and says why a
value is rejected.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

ZDDM_PATTERN = re.compile(r"^\d{12}[GJZ][ABCDEFGHSXWYLN]\d{5}$")
BDCDYH_PATTERN = re.compile(r"^\d{12}[GJZ][ABCDEFGHSXWYLN]\d{5}[WFLQ]\d{8}$")
REGION_PATTERN = re.compile(r"^\d{6}(\d{3}(\d{3})?)?$")
_SEVERAL = re.compile(r"[,，;；、/\s]+")

# GB 32100-2015: the 31 characters a USCC may hold (no I, O, S, V, Z) and the weights 3^(i-1) mod 31.
USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_USCC_PATTERN = re.compile(rf"^[{USCC_CHARSET}]{{18}}$")
# GB 11714-1997: the 9-character 组织机构代码 embedded at positions 9-17.
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)

#: 2-digit province codes of mainland China, Hong Kong, Macao and Taiwan (GB/T 2260).
PROVINCES = frozenset(
    {
        11,
        12,
        13,
        14,
        15,
        21,
        22,
        23,
        31,
        32,
        33,
        34,
        35,
        36,
        37,
        41,
        42,
        43,
        44,
        45,
        46,
        50,
        51,
        52,
        53,
        54,
        61,
        62,
        63,
        64,
        65,
        71,
        81,
        82,
    }
)


@dataclass(frozen=True, slots=True)
class CodeCheck:
    """The outcome of checking one raw code.

    ``value`` is the normalised code when ``valid``; ``raw`` is always what the file held.
    """

    raw: str | None
    value: str | None
    valid: bool
    reason: str | None = None


def normalize_text(raw: object) -> str:
    """Full-width to half-width (NFKC), trimmed, upper-case; ``None`` becomes ``""``."""
    if raw is None or (isinstance(raw, float) and raw != raw):  # None or NaN
        return ""
    return unicodedata.normalize("NFKC", str(raw)).strip().upper()


def _several(text: str) -> bool:
    return len([p for p in _SEVERAL.split(text) if p]) > 1


def check_zddm(raw: object) -> CodeCheck:
    """Check a 宗地代码; spaces and hyphens inside are tolerated, several codes in a cell are not."""
    text = normalize_text(raw)
    raw_text = str(raw) if text else None
    if not text:
        return CodeCheck(raw_text, None, False, "宗地代码为空 (empty)")
    if _several(text) and not ZDDM_PATTERN.match(re.sub(r"[\s-]", "", text)):
        return CodeCheck(raw_text, None, False, "一个单元格含多个宗地代码 (several codes in one cell)")
    compact = re.sub(r"[\s-]", "", text)
    if len(compact) != 19:
        return CodeCheck(raw_text, None, False, f"宗地代码应为19位, 实为{len(compact)}位 (length {len(compact)})")
    if not ZDDM_PATTERN.match(compact):
        return CodeCheck(raw_text, None, False, "宗地代码格式不符 (pattern \\d{12}[GJZ][A-Z]\\d{5})")
    if int(compact[:2]) not in PROVINCES:
        return CodeCheck(raw_text, None, False, f"宗地代码的行政区划代码无效 ({compact[:6]})")
    return CodeCheck(raw_text, compact, True)


def check_bdcdyh(raw: object) -> CodeCheck:
    """Check a 28-character 不动产单元号 (ZDDM + 定着物特征码 + 8 digits)."""
    raw_text = None if raw is None else str(raw)
    compact = re.sub(r"[\s-]", "", normalize_text(raw))
    if not compact:
        return CodeCheck(raw_text, None, False, "不动产单元号为空 (empty)")
    if len(compact) != 28:
        return CodeCheck(raw_text, None, False, f"不动产单元号应为28位, 实为{len(compact)}位")
    if not BDCDYH_PATTERN.match(compact):
        return CodeCheck(raw_text, None, False, "不动产单元号格式不符")
    zddm = check_zddm(compact[:19])
    if not zddm.valid:
        return CodeCheck(raw_text, None, False, f"不动产单元号的宗地代码部分无效: {zddm.reason}")
    return CodeCheck(raw_text, compact, True)


def uscc_check_char(first17: str) -> str:
    """The 18th (check) character of a USCC whose first 17 characters are given."""
    if len(first17) != 17 or any(c not in USCC_CHARSET for c in first17):
        raise ValueError("a USCC body is 17 characters from the GB 32100 character set")
    total = sum(USCC_CHARSET.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return USCC_CHARSET[(31 - total % 31) % 31]


def org_code_check_char(first8: str) -> str:
    """The 9th (check) character of a GB 11714 组织机构代码 whose first 8 characters are given."""

    def value(c: str) -> int:
        return int(c) if c.isdigit() else ord(c) - 55

    total = sum(value(c) * w for c, w in zip(first8, _ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def check_uscc(raw: object) -> CodeCheck:
    """Check a 统一社会信用代码 (GB 32100-2015), including its check character."""
    raw_text = None if raw is None else str(raw)
    text = re.sub(r"\s", "", normalize_text(raw))
    if not text:
        return CodeCheck(raw_text, None, False, "统一社会信用代码为空 (empty)")
    if len(text) != 18:
        return CodeCheck(raw_text, None, False, f"统一社会信用代码应为18位, 实为{len(text)}位")
    if not _USCC_PATTERN.match(text):
        bad = sorted({c for c in text if c not in USCC_CHARSET})
        return CodeCheck(raw_text, None, False, f"统一社会信用代码含非法字符 {''.join(bad)}")
    if not text[2:8].isdigit():
        return CodeCheck(raw_text, None, False, "统一社会信用代码第3-8位应为行政区划代码")
    expected = uscc_check_char(text[:17])
    if text[17] != expected:
        return CodeCheck(raw_text, None, False, f"统一社会信用代码校验位错误 (应为 {expected})")
    return CodeCheck(raw_text, text, True)


def check_region_code(raw: object) -> CodeCheck:
    """Check a 6-, 9- or 12-digit 行政区划代码."""
    raw_text = None if raw is None else str(raw)
    text = normalize_text(raw)
    if not REGION_PATTERN.match(text):
        return CodeCheck(raw_text, None, False, "行政区划代码应为6、9或12位数字")
    if int(text[:2]) not in PROVINCES:
        return CodeCheck(raw_text, None, False, f"行政区划代码的省级代码无效 ({text[:2]})")
    return CodeCheck(raw_text, text, True)


def region_level(code: str) -> int:
    """Level of a 行政区划代码: 1 省, 2 市, 3 县, 4 乡镇, 5 村."""
    if len(code) == 12:
        return 5
    if len(code) == 9:
        return 4
    if code[2:] == "0000":
        return 1
    if code[4:] == "00":
        return 2
    return 3
