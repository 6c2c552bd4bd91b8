"""The renewal workflow: states, renewal modes and the transitions allowed between states.

The workflow is configuration: ``workflow.yaml`` in this package is the default (正常 → 认定低效 →
列入计划 → 整治中 → 已腾出 → 已再供应 → 已投产, with 提容增效完成 and 豁免 as side exits); a county
may point ``LANDGIS_WORKFLOW_FILE`` at its own. A file is validated as a whole when it is read, and
every error names the file and the field.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from landgis.errors import Conflict, InvalidInput

DEFAULT_FILE = "workflow.yaml"
CODE = re.compile(r"^[a-z][a-z_]{0,31}$")
COUNTS = ("governed", "freed")
#: The status codes other parts of landgis rely on; a county's workflow must keep them.
SHARED_STATES = (
    "normal",
    "identified",
    "planned",
    "in_progress",
    "freed",
    "resupplied",
    "producing",
    "upgraded",
    "exempt",
)


class _TransitionSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: str = Field(alias="from")
    to: str
    label: str = Field(min_length=1)
    mode: Literal["none", "optional", "required"] = "none"
    modes: list[str] | None = None
    area: Literal["whole", "partial"] = "whole"
    counts: list[Literal["governed", "freed"]] = Field(default_factory=list)
    documents: Literal["optional", "required"] = "optional"
    records_far: bool = False


class _WorkflowSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    initial: str
    modes: dict[str, str]
    states: dict[str, str]
    transitions: list[_TransitionSpec] = Field(min_length=1)


@dataclass(frozen=True)
class Transition:
    """One allowed step ``source`` → ``target`` and what it requires."""

    source: str
    target: str
    label: str
    mode: str  # none, optional, required
    modes: tuple[str, ...]
    area: str  # whole, partial
    counts_governed: bool
    counts_freed: bool
    documents_required: bool
    records_far: bool

    def as_dict(self, workflow: Workflow) -> dict[str, Any]:
        return {
            "from": self.source,
            "from_label": workflow.state_label(self.source),
            "to": self.target,
            "to_label": workflow.state_label(self.target),
            "label": self.label,
            "mode": self.mode,
            "modes": [{"code": m, "label": workflow.mode_label(m)} for m in self.modes],
            "area": self.area,
            "counts": [c for c, on in (("governed", self.counts_governed), ("freed", self.counts_freed)) if on],
            "documents_required": self.documents_required,
            "records_far": self.records_far,
        }


@dataclass(frozen=True)
class Workflow:
    """A validated workflow; ``source`` names the file it came from."""

    source: str
    initial: str
    states: dict[str, str]
    modes: dict[str, str]
    transitions: tuple[Transition, ...]

    def state_label(self, code: str) -> str:
        return self.states.get(code, code)

    def mode_label(self, code: str | None) -> str | None:
        return None if code is None else self.modes.get(code, code)

    def allowed_from(self, state: str) -> list[Transition]:
        """The transitions a parcel in ``state`` may take, in configuration order."""
        return [t for t in self.transitions if t.source == state]

    def find(self, source: str, target: str) -> Transition:
        """The transition ``source`` → ``target``, or ``Conflict`` saying what is allowed instead."""
        if source not in self.states:
            raise Conflict(
                f"地块当前状态 '{source}' 不在工作流配置中 (current status is not a state of the workflow {self.source})"
            )
        if target not in self.states:
            known = ", ".join(f"{c} {label}" for c, label in self.states.items())
            raise InvalidInput(f"未知状态 '{target}' (unknown state); 可用状态: {known}")
        for transition in self.transitions:
            if transition.source == source and transition.target == target:
                return transition
        allowed = self.allowed_from(source)
        options = "、".join(f"{self.state_label(t.target)} ({t.target})" for t in allowed) or "无 (none)"
        raise Conflict(
            f"不允许从「{self.state_label(source)}」直接转为「{self.state_label(target)}」"
            f" (transition {source} → {target} is not allowed); 可转为: {options}",
            details={"from": source, "to": target, "allowed": [t.target for t in allowed]},
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "initial": self.initial,
            "states": [{"code": c, "label": label} for c, label in self.states.items()],
            "modes": [{"code": c, "label": label} for c, label in self.modes.items()],
            "transitions": [t.as_dict(self) for t in self.transitions],
        }


def _where(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out.replace("from_", "from")


def parse_workflow(data: object, source: str) -> Workflow:
    """Validate a workflow read from YAML (``data``); errors name ``source`` and the field."""
    if not isinstance(data, dict):
        raise InvalidInput(f"{source}: 工作流配置应为映射 (a mapping with initial, modes, states, transitions)")
    try:
        spec = _WorkflowSpec.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InvalidInput(
            f"{source}: {_where(tuple(first['loc']))}: {first['msg']}",
            details={"errors": [{"field": _where(tuple(e["loc"])), "message": e["msg"]} for e in exc.errors()]},
        ) from None

    def fail(where: str, message: str) -> InvalidInput:
        return InvalidInput(f"{source}: {where}: {message}")

    for kind, table in (("states", spec.states), ("modes", spec.modes)):
        for code, label in table.items():
            if not CODE.match(code):
                raise fail(f"{kind}.{code}", "代码只能由小写字母和下划线组成 (codes are lower-case a-z and _)")
            if not str(label).strip():
                raise fail(f"{kind}.{code}", "缺少中文名称 (label missing)")
    missing = [s for s in SHARED_STATES if s not in spec.states]
    if missing:
        raise fail("states", f"缺少共用状态 {', '.join(missing)} (shared status codes must be kept)")
    if spec.initial not in spec.states:
        raise fail("initial", f"未知状态 '{spec.initial}' (unknown state)")

    transitions: list[Transition] = []
    seen: set[tuple[str, str]] = set()
    for index, t in enumerate(spec.transitions):
        where = f"transitions[{index}]"
        for field, code in (("from", t.from_), ("to", t.to)):
            if code not in spec.states:
                raise fail(f"{where}.{field}", f"未知状态 '{code}' (unknown state)")
        if (t.from_, t.to) in seen:
            raise fail(where, f"重复的转换 {t.from_} → {t.to} (duplicate transition)")
        seen.add((t.from_, t.to))
        if t.modes is not None:
            if t.mode == "none":
                raise fail(f"{where}.modes", "mode 为 none 时不能列出 modes (modes given but mode is none)")
            unknown = [m for m in t.modes if m not in spec.modes]
            if unknown:
                raise fail(f"{where}.modes", f"未知改造方式 {', '.join(unknown)} (unknown renewal mode)")
            if not t.modes:
                raise fail(f"{where}.modes", "至少列出一种方式 (list at least one mode)")
        modes = tuple(t.modes) if t.modes is not None else (tuple(spec.modes) if t.mode != "none" else ())
        transitions.append(
            Transition(
                source=t.from_,
                target=t.to,
                label=t.label,
                mode=t.mode,
                modes=modes,
                area=t.area,
                counts_governed="governed" in t.counts,
                counts_freed="freed" in t.counts,
                documents_required=t.documents == "required",
                records_far=t.records_far,
            )
        )

    # Every state must be reachable from the initial one, or parcels could never get there.
    reached = {spec.initial}
    queue = deque([spec.initial])
    while queue:
        state = queue.popleft()
        for edge in transitions:
            if edge.source == state and edge.target not in reached:
                reached.add(edge.target)
                queue.append(edge.target)
    unreachable = [s for s in spec.states if s not in reached]
    if unreachable:
        raise fail("transitions", f"状态无法从 {spec.initial} 到达: {', '.join(unreachable)} (unreachable states)")
    return Workflow(source, spec.initial, dict(spec.states), dict(spec.modes), tuple(transitions))


def read_workflow(path: Path | None = None) -> Workflow:
    """Read and validate a workflow file (``None``: the packaged default)."""
    if path is None:
        text = resources.files("landgis.lifecycle").joinpath(DEFAULT_FILE).read_text(encoding="utf-8")
        source = DEFAULT_FILE
    else:
        if not path.is_file():
            raise InvalidInput(f"工作流配置文件不存在 (workflow file not found): {path}")
        text = path.read_text(encoding="utf-8")
        source = path.name
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" 第{mark.line + 1}行" if mark is not None else ""
        raise InvalidInput(f"{source}{where}: YAML 格式错误 (invalid YAML)") from None
    return parse_workflow(data, source)


@lru_cache(maxsize=8)
def workflow_for(path: Path | None) -> Workflow:
    """The workflow of a settings' ``workflow_file``, read once per process."""
    return read_workflow(path)
