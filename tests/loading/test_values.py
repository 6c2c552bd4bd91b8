"""Value parsers: agreed FAR as written on transaction platforms, dates, land-use names, mojibake."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from landgis.loading import values
from landgis.loading.arrowtext import json_records, mojibake_mask, recode

FAR_FORMS = [
    ("1.2-2.0", (1.2, 2.0)),
    ("1.2~2.0", (1.2, 2.0)),
    ("1.2至2.0", (1.2, 2.0)),
    ("1.2－2.0", (1.2, 2.0)),  # full-width hyphen
    ("≥1.5", (1.5, None)),
    ("＞1.0", (1.0, None)),
    (">=1.5", (1.5, None)),
    ("不小于1.0", (1.0, None)),
    ("不低于1.2", (1.2, None)),
    ("大于或等于1.8", (1.8, None)),
    ("1.5以上", (1.5, None)),
    ("1.5及以上", (1.5, None)),
    ("≤2.0", (None, 2.0)),
    ("不大于2.0", (None, 2.0)),
    ("不超过2.5", (None, 2.5)),
    ("2.0以下", (None, 2.0)),
    ("大于或等于1.8并且小于或等于2.5", (1.8, 2.5)),
    ("大于1.0小于等于2.0", (1.0, 2.0)),
    ("不低于1.2,不高于3.0", (1.2, 3.0)),
    ("≥1.0且≤2.0", (1.0, 2.0)),
    ("1.0≤容积率≤2.0", (1.0, 2.0)),
    ("2.0≥容积率≥1.0", (1.0, 2.0)),
    ("1.0<FAR≤2.0", (1.0, 2.0)),
    ("容积率：≥1.2", (1.2, None)),
    ("下限1.0,上限2.0", (1.0, 2.0)),
    ("1.0≤容积率≤2.0(含)", (1.0, 2.0)),
    ("1.5", (1.5, 1.5)),
    (1.5, (1.5, 1.5)),
    ("", (None, None)),
    (None, (None, None)),
]


@pytest.mark.parametrize(("text", "bounds"), FAR_FORMS)
def test_far_text_forms(text: object, bounds: tuple[float | None, float | None]) -> None:
    assert values.parse_far_range(text) == bounds


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("看情况", "无法解析"),
        ("2.0-1.0", "下限大于上限"),
        ("≥50", "超出合理范围"),
        ("1.2-2.0亩", "无法解析"),
        ("≥", "无法解析"),
    ],
)
def test_far_text_that_is_refused(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        values.parse_far_range(text)


@given(st.floats(0, 10), st.floats(0, 10))
def test_any_written_range_round_trips(a: float, b: float) -> None:
    low, high = sorted((round(a, 2), round(b, 2)))
    assert values.parse_far_range(f"{low}-{high}") == (low, high)
    assert values.parse_far_range(f"大于或等于{low}并且小于或等于{high}") == (low, high)


@pytest.mark.parametrize(
    ("text", "date"),
    [
        ("2019-05-01", dt.date(2019, 5, 1)),
        ("2019/5/1", dt.date(2019, 5, 1)),
        ("2019年5月1日", dt.date(2019, 5, 1)),
        ("20190501", dt.date(2019, 5, 1)),
        ("2019-05-01 00:00:00", dt.date(2019, 5, 1)),
        (43586, dt.date(2019, 5, 1)),  # Excel serial
    ],
)
def test_date_forms(text: object, date: dt.date) -> None:
    assert values.parse_date(text) == date


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("0601", ("0601", None)),
        ("工业用地", ("0601", "GBT21010-2017")),
        ("二类工业用地", ("100102", "GTKJ-2023")),
        ("工业用地(标准厂房)", ("0601", "GBT21010-2017")),
        ("M2", ("M2", None)),
    ],
)
def test_land_use_codes_and_names(text: str, parsed: tuple[str, str | None]) -> None:
    assert values.parse_land_use(text) == parsed


def test_unknown_land_use_name_is_refused() -> None:
    with pytest.raises(ValueError, match="土地用途"):
        values.parse_land_use("待定")


def test_mojibake_is_told_from_chinese() -> None:
    good = [
        "示范县第1机械有限公司",
        "张三",
        "兴业路12号",
        "330699001001GB00001",
        "浙江省绍兴市",
        "Müller GmbH",
        "café",
        "",
    ]
    bad = [
        "示范县机械有限公".encode().decode("gb18030"),  # UTF-8 read as GBK
        "机械".encode().decode("latin-1"),  # UTF-8 read as Latin-1
        "示范县".encode("gbk").decode("utf-8", errors="replace"),  # GBK read as UTF-8
        "锟斤拷锟斤拷",
        "Новый завод".encode().decode("latin-1"),  # mostly Latin-1 letters, and no Chinese when read again
    ]
    mask = mojibake_mask(pa.array(good + bad))
    assert mask.tolist() == [False] * len(good) + [True] * len(bad)


#: GB2312 level 1 (一级汉字): the 3,755 characters of everyday text, rows 0xB0-0xD7.
LEVEL_ONE = [
    bytes([row, cell]).decode("gb2312")
    for row in range(0xB0, 0xD8)
    for cell in range(0xA1, 0xFF)
    if not (row == 0xD7 and cell > 0xF9)
]


@given(st.lists(st.text(alphabet=st.sampled_from(LEVEL_ONE), min_size=1, max_size=12)))
def test_everyday_chinese_text_is_never_taken_for_mojibake(texts: list[str]) -> None:
    """Their GBK lead bytes (0xB0-0xD7) never start a 3-byte UTF-8 character, so no reading of
    their bytes as UTF-8 gives Chinese, whatever the mix."""
    assert not mojibake_mask(pa.array(texts, pa.string())).any()


def test_rare_characters_whose_bytes_read_as_chinese_are_not_mojibake() -> None:
    """Rarer characters can: 鑰丏 in GBK is E8 80 81 44, which reads as UTF-8 老D. Real
    mis-decoding always makes text longer, and these do not get shorter when read again."""
    assert "鑰丏".encode("gb18030").decode("utf-8") == "老D"
    rare = ["鑰丏", "鑰丏有限公司", "鑫鑰丏"]
    assert not mojibake_mask(pa.array(rare, pa.string())).any()


def test_recode_decodes_a_batch_at_once() -> None:
    originals = ["示范县第1机械有限公司", "", "abc", "兴业路12号"]
    as_read = pa.array([t.encode("gbk").decode("latin-1") for t in originals])
    assert recode(as_read, "latin-1", "gbk").to_pylist() == originals


def test_json_records_escape_text_and_keep_numbers() -> None:
    import json

    table = pa.table(
        {
            "名称": ['引号"与\\反斜杠', None, "制表\t符"],
            "面积": [1.5, float("nan"), 1e20],
            "日期": pa.array([dt.date(2020, 1, 2), None, None]),
        }
    )
    records = [json.loads(r) for r in json_records(table).to_pylist()]
    assert records == [
        {"名称": '引号"与\\反斜杠', "面积": 1.5, "日期": "2020-01-02"},
        {"名称": None, "面积": None, "日期": None},
        {"名称": "制表\t符", "面积": 1e20, "日期": None},
    ]
