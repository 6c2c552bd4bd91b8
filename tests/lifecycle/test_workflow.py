"""The workflow configuration: the packaged default, and files that must be refused with the field named."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from landgis.errors import Conflict, InvalidInput
from landgis.lifecycle.workflow import SHARED_STATES, parse_workflow, read_workflow

DEFAULT_EDGES = {
    ("normal", "identified"),
    ("identified", "planned"),
    ("identified", "exempt"),
    ("identified", "normal"),
    ("planned", "in_progress"),
    ("planned", "identified"),
    ("in_progress", "planned"),
    ("in_progress", "freed"),
    ("freed", "freed"),
    ("in_progress", "upgraded"),
    ("freed", "resupplied"),
    ("resupplied", "producing"),
    ("producing", "normal"),
    ("upgraded", "normal"),
    ("exempt", "identified"),
    ("exempt", "normal"),
}


def _default() -> dict[str, Any]:
    return dict(yaml.safe_load((Path(__file__).parents[2] / "landgis/lifecycle/workflow.yaml").read_text("utf-8")))


def test_default_workflow_has_the_shared_states_and_the_documented_edges() -> None:
    wf = read_workflow()
    assert wf.initial == "normal"
    assert set(wf.states) == set(SHARED_STATES)
    assert wf.state_label("upgraded") == "提容增效完成"
    assert {(t.source, t.target) for t in wf.transitions} == DEFAULT_EDGES
    assert [wf.modes[m] for m in wf.modes] == [
        "收储",
        "协议收回",
        "兼并重组",
        "提容增效",
        "改造提升",
        "关停淘汰",
        "司法拍卖",
    ]
    counted = {(t.source, t.target): (t.counts_governed, t.counts_freed) for t in wf.transitions}
    assert counted[("in_progress", "freed")] == (True, True)
    assert counted[("freed", "freed")] == (True, True)
    assert counted[("in_progress", "upgraded")] == (True, False)
    assert sum(g or f for g, f in counted.values()) == 3


def test_refusal_names_the_allowed_steps() -> None:
    wf = read_workflow()
    with pytest.raises(Conflict) as caught:
        wf.find("normal", "freed")
    assert "正常" in caught.value.message and "已腾出" in caught.value.message
    assert "认定低效 (identified)" in caught.value.message
    assert caught.value.details["allowed"] == ["identified"]


def test_unknown_target_state_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="未知状态 'done'"):
        read_workflow().find("normal", "done")


def _broken(change: Any) -> dict[str, Any]:
    data = _default()
    change(data)
    return data


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["transitions"][0].update(to="fred"), r"county.yaml: transitions\[0\].to: 未知状态 'fred'"),
        (lambda d: d["transitions"][4].update(modes=["teleport"]), r"transitions\[4\].modes: 未知改造方式 teleport"),
        (
            lambda d: d["transitions"].append(dict(d["transitions"][0])),
            r"transitions\[16\]: 重复的转换 normal → identified",
        ),
        (lambda d: d["states"].pop("exempt"), r"states: 缺少共用状态 exempt"),
        (lambda d: d.update(initial="start"), r"initial: 未知状态 'start'"),
        (lambda d: d["transitions"][0].update(lable="x"), r"transitions\[0\].lable: Extra inputs"),
        (
            lambda d: d["transitions"][1].update(area="some"),
            r"transitions\[1\].area: Input should be 'whole' or 'partial'",
        ),
        (lambda d: d["transitions"][0].update(modes=["merger"]), r"transitions\[0\].modes: mode 为 none"),
        (lambda d: d["states"].update(Bad="坏"), r"states.Bad: 代码只能由小写字母"),
        (lambda d: d["states"].update(archived="归档"), r"无法从 normal 到达: archived"),
        (lambda d: d["transitions"][5].update(counts=["planted"]), r"transitions\[5\].counts\[0\]"),
    ],
)
def test_a_broken_workflow_is_refused_naming_file_and_field(change: Any, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_workflow(_broken(change), "county.yaml")


def test_a_county_file_is_read_and_bad_yaml_names_the_line(tmp_path: Path) -> None:
    data = _default()
    data["transitions"].append({"from": "normal", "to": "exempt", "label": "直接豁免"})
    good = tmp_path / "wf.yaml"
    good.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert read_workflow(good).find("normal", "exempt").label == "直接豁免"

    bad = tmp_path / "bad.yaml"
    bad.write_text("initial: normal\nstates: [a\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"bad.yaml 第\d+行: YAML 格式错误"):
        read_workflow(bad)
    with pytest.raises(InvalidInput, match="不存在"):
        read_workflow(tmp_path / "missing.yaml")
