"""Renewal status of a parcel (更新状态): the codes, their labels and the allowed steps.

Codes are shared with the other parts of landgis; the database stores the English code and the
UI shows the Chinese label.
"""

from __future__ import annotations

from typing import Final

STATUS_LABELS: Final = {
    "normal": "正常",
    "identified": "认定低效",
    "planned": "列入计划",
    "in_progress": "整治中",
    "freed": "已腾出",
    "resupplied": "已再供应",
    "producing": "已投产",
    "upgraded": "提容增效完成",
    "exempt": "豁免",
}
STATUSES: Final = tuple(STATUS_LABELS)

#: From each status, the statuses a parcel may move to (腾笼换鸟: identified → planned → work →
#: land freed → re-supplied → in production; or renewed in place: 提容增效). Going back one step
#: corrects a mistake; every step is recorded with its reason.
TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    "normal": frozenset({"identified", "exempt"}),
    "identified": frozenset({"planned", "exempt", "normal"}),
    "planned": frozenset({"in_progress", "identified"}),
    "in_progress": frozenset({"freed", "upgraded", "planned"}),
    "freed": frozenset({"resupplied", "in_progress"}),
    "resupplied": frozenset({"producing", "freed"}),
    "producing": frozenset({"normal", "resupplied"}),
    "upgraded": frozenset({"normal", "in_progress"}),
    "exempt": frozenset({"normal", "identified"}),
}


def label(status: str) -> str:
    return STATUS_LABELS.get(status, status)


def allowed_next(status: str) -> frozenset[str]:
    return TRANSITIONS.get(status, frozenset(STATUSES))
