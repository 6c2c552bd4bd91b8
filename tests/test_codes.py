"""宗地代码, 不动产单元号, 统一社会信用代码 and 行政区划代码 validation."""

from __future__ import annotations

import pytest

from landgis.codes import (
    check_bdcdyh,
    check_region_code,
    check_uscc,
    check_zddm,
    org_code_check_char,
    region_level,
    uscc_check_char,
)
from tests.helpers import make_uscc

# Published USCCs of two large companies: their check characters are independent ground truth.
REAL_USCCS = ["91330100799655058B", "9144030071526726XG"]


@pytest.mark.parametrize("raw", ["330699001001GB00001", "330106012003JC01234", "110101001001ZA00077"])
def test_valid_zddm(raw: str) -> None:
    result = check_zddm(raw)
    assert result.valid and result.value == raw and result.raw == raw


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        (" 330699001001gb00001 ", "330699001001GB00001"),  # spaces and lower case
        ("３３０６９９００１００１ＧＢ０００１", None),  # full-width, but 18 characters
        ("３３０６９９００１００１ＧＢ００００１", "330699001001GB00001"),  # full-width, 19 characters
        ("330699-001001-GB00001", "330699001001GB00001"),
    ],
)
def test_zddm_normalisation(raw: str, normalised: str | None) -> None:
    result = check_zddm(raw)
    assert result.value == normalised
    assert result.valid is (normalised is not None)
    assert result.raw == raw  # the raw value is always kept


@pytest.mark.parametrize(
    ("raw", "reason_part"),
    [
        ("", "为空"),
        (None, "为空"),
        ("330699001001GB0001", "19位"),
        ("330699001001GI00001", "格式"),  # I is not a 特征码 second letter
        ("330699001001AB00001", "格式"),  # A is not a 所有权 letter
        ("990699001001GB00001", "行政区划"),  # no province 99
        ("临2023-15号", "19位"),
        ("330699001001GB00001,330699001001GB00002", "多个"),
    ],
)
def test_invalid_zddm_says_why(raw: str | None, reason_part: str) -> None:
    result = check_zddm(raw)
    assert not result.valid and result.value is None
    assert reason_part in (result.reason or "")


def test_bdcdyh() -> None:
    assert check_bdcdyh("330699001001GB00001F00010001").valid
    assert not check_bdcdyh("330699001001GB00001X00010001").valid  # X is not a 定着物 code
    assert not check_bdcdyh("330699001001GB00001F0001").valid


@pytest.mark.parametrize("code", REAL_USCCS)
def test_real_usccs_validate(code: str) -> None:
    assert check_uscc(code).valid
    assert uscc_check_char(code[:17]) == code[17]
    assert org_code_check_char(code[8:16]) == code[16]


@pytest.mark.parametrize("code", REAL_USCCS)
def test_every_wrong_check_character_is_refused(code: str) -> None:
    for replacement in "0123456789ABCDEFGHJKLMNPQRTUWXY":
        if replacement != code[17]:
            result = check_uscc(code[:17] + replacement)
            assert not result.valid and "校验位" in (result.reason or "")


def test_single_character_changes_are_detected() -> None:
    code = REAL_USCCS[0]
    for position in range(17):
        for replacement in "0123456789ABCDEFGHJKLMNPQRTUWXY":
            if replacement == code[position]:
                continue
            mutated = code[:position] + replacement + code[position + 1 :]
            if mutated[2:8].isdigit():
                assert not check_uscc(mutated).valid, mutated


@pytest.mark.parametrize(
    ("raw", "reason_part"),
    [
        ("", "为空"),
        ("91330100799655058", "18位"),
        ("91330100799655O58B", "非法字符"),
        ("91AB0100799655058B", "行政区划"),
    ],
)
def test_invalid_uscc_says_why(raw: str, reason_part: str) -> None:
    result = check_uscc(raw)
    assert not result.valid and reason_part in (result.reason or "")


def test_uscc_normalises_case_and_spaces() -> None:
    assert check_uscc(" 91330100799655058b ").value == "91330100799655058B"


def test_test_helper_makes_valid_usccs() -> None:
    codes = {make_uscc(n) for n in range(200)}
    assert len(codes) == 200 and all(check_uscc(c).valid for c in codes)


@pytest.mark.parametrize(
    ("code", "level"), [("330000", 1), ("330600", 2), ("330699", 3), ("330699001", 4), ("330699001002", 5)]
)
def test_region_codes(code: str, level: int) -> None:
    assert check_region_code(code).valid
    assert region_level(code) == level


@pytest.mark.parametrize("code", ["33069", "3306991", "990000", "abc123"])
def test_bad_region_codes(code: str) -> None:
    assert not check_region_code(code).valid
