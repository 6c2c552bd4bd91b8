"""Policies as files: the shipped ones load; a malformed one is refused naming the field."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from landgis.errors import InvalidInput, NotFound
from landgis.evaluation.policy import load_policy, parse_policy, read_policy_text, shipped_policy_ids


def test_shipped_policies_load() -> None:
    assert {"huangyan-2022", "percentile-a25-b45-c25-d5"} <= set(shipped_policy_ids())
    huangyan = load_policy("huangyan-2022")
    above = huangyan.segment("above")
    # The published 2022 benchmarks and weights, as in the domain brief.
    assert [(i.indicator, i.benchmark, i.weight) for i in above.indicators] == [
        ("mu_tax", 24.097, 30),
        ("mu_value_added", 136.16, 20),
        ("va_per_energy", 2.694, 20),
        ("va_per_emission", 4929.81, 10),
        ("va_per_worker", 18.14, 10),
        ("rd_ratio", 0.0302, 10),
    ]
    below = huangyan.segment("below")
    assert [(i.indicator, i.benchmark, i.weight) for i in below.indicators] == [
        ("mu_tax", 11.5932, 50),
        ("tax_per_power", 0.2352, 50),
    ]
    percentile = load_policy("percentile-a25-b45-c25-d5")
    assert percentile.classes.shares == {"A": 0.25, "B": 0.45, "C": 0.25, "D": 0.05}


def test_sha256_is_stable_and_changes_with_content() -> None:
    one, two = load_policy("huangyan-2022"), load_policy("huangyan-2022")
    assert one.sha256 == two.sha256
    changed = copy.deepcopy(one.document())
    changed["segments"][0]["indicators"][0]["benchmark"] = 26.01
    assert parse_policy(changed).sha256 != one.sha256


def _base() -> dict[str, Any]:
    return copy.deepcopy(load_policy("percentile-a25-b45-c25-d5").document())


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (
            lambda d: d["segments"][0]["indicators"][0].update(indicator="mu_taxes"),
            "segments[0].indicators[0]",
            "未知指标",
        ),
        (
            lambda d: d["segments"][1]["indicators"][0].update(numerator="taxes", denominator="land_mu"),
            "segments[1].indicators[0].numerator",
            "未知字段",
        ),
        (
            lambda d: d["segments"][0]["indicators"][2].update(weight="20"),
            "segments[0].indicators[2].weight",
            "应为数字",
        ),
        (lambda d: d["segments"][0]["indicators"][2].update(weight=25), "segments[0].weights_total", "权重合计 105"),
        (
            lambda d: d["segments"][0]["indicators"][0].update(benchmark="24,097"),
            "segments[0].indicators[0].benchmark",
            "应为数字",
        ),
        (
            lambda d: d["segments"][0]["indicators"][0].update(benchmark=-1),
            "segments[0].indicators[0].benchmark",
            "正数",
        ),
        (
            lambda d: d["segments"][0]["indicators"][0].update(colour="red"),
            "segments[0].indicators[0].colour",
            "未知字段",
        ),
        (lambda d: d["classes"]["shares"].update(A=0.3), "classes.shares", "合计 1.05"),
        (lambda d: d["vetoes"][0].update(flag="arson"), "vetoes[0].flag", "未知标记"),
        (lambda d: d["vetoes"][1].update({"class": "E"}), "vetoes[1].class", "类别 'E'"),
        (lambda d: d.pop("segments"), "segments", "缺少必填项"),
        (lambda d: d["segments"][0]["when"].update(scale="big"), "segments[0].when.scale", "取值无效"),
        (lambda d: d["segments"][2].update(id="below_3mu_plus"), "segments", "分组编号重复"),
    ],
)
def test_malformed_policy_is_refused_naming_the_field(change: Any, field: str, words: str) -> None:
    document = _base()
    change(document)
    with pytest.raises(InvalidInput) as caught:
        parse_policy(document, "x.yaml")
    message = caught.value.message
    assert message.startswith(f"x.yaml: {field}: "), message
    assert words in message


def test_lower_is_better_needs_a_cap() -> None:
    document = _base()
    spec = document["segments"][0]["indicators"][2]
    spec.update(indicator="energy_per_va", direction="lower")
    spec.pop("cap")
    with pytest.raises(InvalidInput, match=r"segments\[0\]\.indicators\[2\]\.cap"):
        parse_policy(document, "x.yaml")


def test_yaml_errors_name_the_line(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"bad\.yaml 第3行"):
        read_policy_text("id: x\nname: y\nsegments: [a: 1: 2]\n", "bad.yaml")
    missing = tmp_path / "nope.yaml"
    with pytest.raises(NotFound):
        load_policy(missing)
