"""Property tests of the scoring: raising a firm's tax never lowers its score or its class, class
shares follow the percentile rule exactly, and the outcome does not depend on row order."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from landgis.evaluation.policy import FIGURE_FIELDS, Policy, load_policy, parse_policy
from landgis.evaluation.scoring import score_population

CLASSES = ("A", "B", "C", "D")
SHARES = {"A": 0.25, "B": 0.45, "C": 0.25, "D": 0.05}


def _policy(benchmark: Any, ties: str = "break", cap: float | None = 2.0) -> Policy:
    indicator: dict[str, Any] = {"indicator": "mu_tax", "weight": 60, "benchmark": benchmark}
    power: dict[str, Any] = {"indicator": "tax_per_power", "weight": 40, "benchmark": benchmark}
    if cap is not None:
        indicator["cap"] = power["cap"] = cap
    return parse_policy(
        {
            "id": "prop",
            "name": "property test",
            "version": "1",
            "segments": [{"id": "all", "name": "全部", "weights_total": 100, "indicators": [indicator, power]}],
            "classes": {"method": "percentile", "shares": SHARES, "ties": ties},
        }
    )


def _frame(firms: list[tuple[float, float, float]]) -> pd.DataFrame:
    rows = []
    for n, (tax, land, kwh) in enumerate(firms, start=1):
        row: dict[str, Any] = dict.fromkeys(FIGURE_FIELDS)
        row.update(
            enterprise_id=n,
            scale="below",
            industry_code="C3484",
            production_start_date=None,
            has_figures=True,
            tax_wan=tax,
            electricity_kwh=kwh,
            land_mu=land,
            own_mu=land,
            zone_types=(),
            flags=(),
        )
        rows.append(row)
    return pd.DataFrame(rows)


firm = st.one_of(
    st.tuples(
        st.floats(min_value=0, max_value=5000, allow_nan=False),  # 税收 万元
        st.floats(min_value=0.5, max_value=300, allow_nan=False),  # 亩
        st.floats(min_value=1e4, max_value=5e7, allow_nan=False),  # 千瓦时
    ),
    # firms far above the others hit the caps and tie on the score
    st.sampled_from([(5000.0, 1.0, 1e4), (4000.0, 1.0, 1e4), (10.0, 10.0, 1e6)]),
)
populations = st.lists(firm, min_size=2, max_size=40)
benchmarks = st.sampled_from(["segment_mean", "segment_weighted_mean", 11.5932])


def _outcome(policy: Policy, frame: pd.DataFrame) -> dict[int, tuple[float, str]]:
    results = score_population(policy, frame, 2022).results
    return {int(r.enterprise_id): (float(r.score), str(r["class"])) for _, r in results.iterrows()}


@settings(max_examples=60, deadline=None)
@given(
    firms=populations,
    which=st.integers(min_value=0, max_value=39),
    raise_by=st.floats(min_value=0.01, max_value=10_000, allow_nan=False),
    benchmark=benchmarks,
    ties=st.sampled_from(["break", "share"]),
    cap=st.sampled_from([None, 1.5, 2.0]),
)
def test_raising_tax_never_lowers_score_or_class(
    firms: list[tuple[float, float, float]], which: int, raise_by: float, benchmark: Any, ties: str, cap: float | None
) -> None:
    policy = _policy(benchmark, ties, cap)
    which %= len(firms)
    before = _outcome(policy, _frame(firms))
    raised = list(firms)
    tax, land, kwh = raised[which]
    raised[which] = (tax + raise_by, land, kwh)
    after = _outcome(policy, _frame(raised))
    firm_id = which + 1
    assert after[firm_id][0] >= before[firm_id][0] - 1e-9 * max(1.0, abs(before[firm_id][0]))
    assert CLASSES.index(after[firm_id][1]) <= CLASSES.index(before[firm_id][1])


@settings(max_examples=50, deadline=None)
@given(firms=populations, benchmark=benchmarks)
def test_class_shares_follow_the_percentile_rule(firms: list[tuple[float, float, float]], benchmark: Any) -> None:
    outcome = _outcome(_policy(benchmark), _frame(firms))
    n = len(outcome)
    counts = {c: sum(1 for _, k in outcome.values() if k == c) for c in CLASSES}
    # rank r (1 = best) is in the first class whose cumulative share reaches r / n
    cumulative, previous = 0.0, 0
    for c in CLASSES:
        cumulative += SHARES[c]
        bound = n if c == "D" else math.floor(n * cumulative + 1e-9)
        assert counts[c] == bound - previous, (c, n, counts)
        previous = bound
    # classes follow the order of scores: a better class never has a lower score
    for a in outcome.values():
        for b in outcome.values():
            if CLASSES.index(a[1]) < CLASSES.index(b[1]):
                assert a[0] >= b[0]


@settings(max_examples=25, deadline=None)
@given(
    firms=st.lists(st.sampled_from([(100.0, 10.0, 1e6), (50.0, 10.0, 1e6), (10.0, 5.0, 2e5)]), min_size=4, max_size=30),
    seed=st.randoms(use_true_random=False),
    ties=st.sampled_from(["break", "share"]),
)
def test_ties_are_deterministic(firms: list[tuple[float, float, float]], seed: Any, ties: str) -> None:
    """Many equal scores: the same classes whatever the row order; with ``share`` equal scores
    share one class."""
    policy = _policy("segment_mean", ties)
    frame = _frame(firms)
    shuffled = frame.sample(frac=1.0, random_state=seed.randint(0, 2**31))
    assert _outcome(policy, frame) == _outcome(policy, shuffled)
    if ties == "share":
        by_score: dict[float, set[str]] = {}
        for score, klass in _outcome(policy, frame).values():
            by_score.setdefault(score, set()).add(klass)
        assert all(len(classes) == 1 for classes in by_score.values())


def test_raising_tax_of_a_capped_firm_keeps_its_place() -> None:
    """Equal (capped) scores are ordered by 亩均税收: more tax never moves a firm down."""
    firms = [(1.0, 10.0, 1e6)] * 4 + [(5000.0, 1.0, 1e4)] * 4
    policy = _policy("segment_mean", "break", 1.5)
    before = _outcome(policy, _frame(firms))
    raised = list(firms)
    raised[4] = (6000.0, 1.0, 1e4)
    after = _outcome(policy, _frame(raised))
    assert after[5][0] == before[5][0]  # capped: the same score
    assert after[5][1] == "A"  # and the best place among the equals


def test_thresholds_policy_on_a_fixed_example() -> None:
    outcome = _outcome(load_policy("huangyan-2022"), _frame([(10.0, 5.0, 1e6), (60.0, 5.0, 1e6)]))
    # 10 万元: 10/5/11.5932*50 + 10/100/0.2352*50 = 8.6257 + 21.2585 = 29.8842 → D (< 50)
    # 60 万元: 60/5/11.5932*50 + 60/100/0.2352*50 = 51.7545 + 127.5510 = 179.3055 → A (>= 120)
    assert outcome[1][0] == pytest.approx(10 / 5 / 11.5932 * 50 + 10 / 100 / 0.2352 * 50)
    assert round(outcome[2][0], 4) == 179.3055
    assert (outcome[1][1], outcome[2][1]) == ("D", "A")
