"""Intervals and tests: Wilson, median CI, Newcombe difference, p-values, BH, before/after."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binom, binomtest, chi2_contingency, false_discovery_control, fisher_exact

from metrics.stats import (
    before_after,
    benjamini_hochberg,
    hodges_lehmann,
    median_change,
    median_ci,
    newcomb_diff,
    proportion_change,
    two_proportion_p,
    wilson,
)

# --- Wilson -----------------------------------------------------------------------------------


@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_wilson_matches_scipy_for_many_k_n(confidence: float) -> None:
    pairs = [(k, n) for n in range(1, 41) for k in range(n + 1)]
    pairs += [(k, n) for n in (97, 250, 1000, 12345) for k in (0, 1, 2, n // 3, n // 2, n - 1, n)]
    for k, n in pairs:
        ci = binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
        low, high = wilson(k, n, confidence)
        assert low == pytest.approx(ci.low, abs=1e-12)
        assert high == pytest.approx(ci.high, abs=1e-12)


def test_wilson_hand_value_and_zero_n() -> None:
    # 8/10: centre (0.8 + 1.9208/10) / 1.38415 = 0.7167; half 1.96 sqrt(0.016 + 0.00960)/1.38415
    low, high = wilson(8, 10)
    assert (round(low, 4), round(high, 4)) == (0.4902, 0.9433)
    assert all(math.isnan(v) for v in wilson(0, 0))


@given(n=st.integers(1, 100_000), frac=st.floats(0, 1), conf=st.floats(0.5, 0.999))
@settings(max_examples=300, deadline=None)
def test_wilson_within_unit_interval_and_contains_estimate(n: int, frac: float,
                                                           conf: float) -> None:
    k = round(frac * n)
    low, high = wilson(k, n, conf)
    assert 0.0 <= low <= k / n + 1e-12 and k / n - 1e-12 <= high <= 1.0


# --- median CI ----------------------------------------------------------------------------


def test_median_ci_order_statistics() -> None:
    # n = 10: P(B <= 1) = 11/1024 = 0.0107 <= 0.025 < P(B <= 2) = 56/1024 -> ranks 2 and 9
    assert median_ci(range(1, 11)) == (2.0, 9.0)
    # n = 100: the classic ranks 40 and 61
    assert median_ci(np.arange(1, 101)) == (40.0, 61.0)
    # n = 6: P(B <= 0) = 1/64 = 0.0156 -> ranks 1 and 6; n = 5: 1/32 > 0.025 -> not reachable
    assert median_ci([6, 1, 5, 2, 4, 3]) == (1.0, 6.0)
    assert all(math.isnan(v) for v in median_ci([1, 2, 3, 4, 5]))
    assert all(math.isnan(v) for v in median_ci([]))
    # missing values are ignored; the ends are observed values (days)
    assert median_ci([np.nan, 3, 1, 2, 9, 4, 7, 8, 6, 5, 10]) == (2.0, 9.0)


# distinct values: the rank found for the lower end is its own, not a tie's lower one
@given(st.lists(st.floats(-1e6, 1e6), min_size=6, max_size=300, unique=True),
       st.floats(0.5, 0.99))
@settings(max_examples=200, deadline=None)
def test_median_ci_contains_median_and_has_coverage(values: list[float], conf: float) -> None:
    low, high = median_ci(values, conf)
    n = len(values)
    if math.isnan(low):
        assert 2 * binom.cdf(0, n, 0.5) > 1 - conf  # even the extremes fall short
        return
    assert low <= float(np.median(values)) <= high
    x = np.sort(values)
    rank = int(np.searchsorted(x, low, side="left")) + 1  # 1-based rank of the lower end
    assert 1 - 2 * binom.cdf(rank - 1, n, 0.5) >= conf - 1e-12
    # and it is the narrowest such interval: one rank further in falls short of conf
    assert 1 - 2 * binom.cdf(rank, n, 0.5) < conf + 1e-12
    # both ends are data values, the upper one at the mirror rank n - l + 1
    assert low in values and high in values
    assert int(np.searchsorted(x, high, side="left")) + 1 == n - rank + 1


# --- Newcombe difference ----------------------------------------------------------------------

# Newcombe RG (1998), "Interval estimation for the difference between independent proportions:
# comparison of eleven methods", Stat Med 17:873-890, Table II, method 10 (score, no continuity
# correction). Note the brief's "56/70 vs 48/80 -> 0.1833" is not the paper's value: 56/70 −
# 48/80 = 0.8 − 0.6 = 0.2000, and the published interval is 0.0524 to 0.3339.
NEWCOMBE_TABLE_II_METHOD_10 = [
    ((56, 70, 48, 80), 0.2000, 0.0524, 0.3339),
    ((9, 10, 3, 10), 0.6000, 0.1705, 0.8090),
    ((5, 56, 0, 29), 0.0893, -0.0381, 0.1926),
    ((0, 10, 0, 20), 0.0, -0.1611, 0.2775),
    ((0, 10, 0, 10), 0.0, -0.2775, 0.2775),
    ((10, 10, 0, 20), 1.0, 0.6791, 1.0000),
    ((10, 10, 0, 10), 1.0, 0.6075, 1.0000),
]


@pytest.mark.parametrize(("counts", "diff", "low", "high"), NEWCOMBE_TABLE_II_METHOD_10)
def test_newcombe_published_examples(counts: tuple[int, int, int, int], diff: float,
                                     low: float, high: float) -> None:
    d, lo, hi = newcomb_diff(*counts)
    assert (round(d, 4), round(lo, 4), round(hi, 4)) == (diff, low, high)


def test_newcombe_direction_and_zero_n() -> None:
    d, lo, hi = newcomb_diff(48, 80, 56, 70)  # reversed groups: mirror image
    assert (round(d, 4), round(lo, 4), round(hi, 4)) == (-0.2, -0.3339, -0.0524)
    assert all(math.isnan(v) for v in newcomb_diff(1, 0, 1, 10))


@given(n1=st.integers(1, 2000), n2=st.integers(1, 2000), f1=st.floats(0, 1), f2=st.floats(0, 1))
@settings(max_examples=300, deadline=None)
def test_newcombe_contains_estimate(n1: int, n2: int, f1: float, f2: float) -> None:
    x1, x2 = round(f1 * n1), round(f2 * n2)
    d, lo, hi = newcomb_diff(x1, n1, x2, n2)
    assert -1 <= lo <= d + 1e-12 and d - 1e-12 <= hi <= 1


# --- p-values and false discovery rate ----------------------------------------------------


def test_two_proportion_p_uses_z_or_fisher() -> None:
    p, test = two_proportion_p(56, 70, 48, 80)
    expected = chi2_contingency([[56, 14], [48, 32]], correction=False).pvalue
    assert test == "z" and p == pytest.approx(expected, rel=1e-10)
    p, test = two_proportion_p(9, 10, 3, 10)  # expected cells 6, 4: Fisher
    assert test == "fisher"
    assert p == pytest.approx(fisher_exact([[9, 1], [3, 7]]).pvalue)
    assert two_proportion_p(5, 10, 0, 0) == (pytest.approx(float("nan"), nan_ok=True), "none")


def test_benjamini_hochberg_hand_worked() -> None:
    # sorted 0.01, 0.03, 0.04, 0.2 (m = 4): 0.04, 0.06, 0.0533, 0.2 -> running min from the top
    adjusted, reject = benjamini_hochberg([0.01, 0.04, 0.03, 0.2, np.nan])
    np.testing.assert_allclose(adjusted[:4], [0.04, 0.04 * 4 / 3, 0.04 * 4 / 3, 0.2])
    assert math.isnan(adjusted[4])
    assert list(reject) == [True, False, False, False, False]
    adjusted, reject = benjamini_hochberg([0.01, 0.04, 0.03, 0.2], alpha=0.06)
    assert list(reject) == [True, True, True, False]


@given(st.lists(st.floats(0, 1), min_size=1, max_size=200), st.floats(0.001, 0.2))
@settings(max_examples=200, deadline=None)
def test_benjamini_hochberg_matches_scipy(p: list[float], alpha: float) -> None:
    adjusted, reject = benjamini_hochberg(p, alpha)
    np.testing.assert_allclose(adjusted, false_discovery_control(p, method="bh"), rtol=1e-12,
                               atol=1e-15)
    assert (reject == (adjusted <= alpha)).all()
    assert (adjusted >= np.asarray(p) - 1e-15).all()


# --- before / after -------------------------------------------------------------------------


def test_hodges_lehmann_by_hand() -> None:
    # pairwise differences of (4, 5, 6) − (1, 2, 3): 3 4 5 2 3 4 1 2 3 -> median 3; with 3 and 3
    # values k = floor(4.5 − 1.96 sqrt(9·7/12)) = 0: too few for a 95% interval
    shift, low, high = hodges_lehmann([1, 2, 3], [4, 5, 6])
    assert shift == 3 and math.isnan(low) and math.isnan(high)
    # m = n = 10: k = floor(50 − 1.96 sqrt(100·21/12)) = floor(24.07) = 24 -> 24th smallest and
    # 24th largest of the 100 differences
    before = np.arange(10.0)
    after = before + 5
    shift, low, high = hodges_lehmann(before, after)
    diffs = np.sort((after[None, :] - before[:, None]).ravel())
    assert shift == 5.0
    assert (low, high) == (diffs[23], diffs[100 - 24])
    assert low <= shift <= high


@given(st.lists(st.floats(-1e4, 1e4), min_size=1, max_size=60),
       st.lists(st.floats(-1e4, 1e4), min_size=1, max_size=60))
@settings(max_examples=150, deadline=None)
def test_hodges_lehmann_interval_contains_shift(before: list[float], after: list[float]) -> None:
    shift, low, high = hodges_lehmann(before, after)
    if not math.isnan(low):
        assert low <= shift <= high
    # shifting every after value by a constant shifts the estimate by that constant
    moved, _, _ = hodges_lehmann(before, [a + 100.0 for a in after])
    assert moved == pytest.approx(shift + 100.0, abs=1e-6)


def test_median_change_and_proportion_change() -> None:
    res = median_change([10, 12, 15, 20, 22, 30], [5, 6, 8, 9, 12, 14])
    assert res["before"] == 17.5 and res["after"] == 8.5 and res["status"] == "ok"
    assert res["low"] <= res["diff"] <= res["high"] < 0
    assert res["test"] == "mann_whitney" and 0 < res["p_value"] < 0.05

    pc = proportion_change(3, 10, 7, 10)
    d, lo, hi = newcomb_diff(7, 10, 3, 10)
    assert (pc["diff"], pc["low"], pc["high"]) == (d, lo, hi)
    assert pc["diff"] == pytest.approx(0.4)
    assert pc["p_value"] == two_proportion_p(7, 10, 3, 10)[0]


def test_survey_gate_29_versus_30() -> None:
    gated = proportion_change(20, 29, 25, 30, min_n=30)
    assert gated["status"] == "insufficient" and math.isnan(gated["diff"])
    assert gated["n_before"] == 29 and gated["n_after"] == 30
    assert proportion_change(20, 30, 25, 30, min_n=30)["status"] == "ok"
    assert proportion_change(float("nan"), float("nan"), 25, 30)["status"] == "insufficient"


def test_before_after_records_split_at_date() -> None:
    dates = pd.to_datetime(["2023-10-15", "2023-11-01", "2023-12-31", "2024-01-01", "2024-02-10",
                            "2024-03-01", "2022-01-01", "2024-09-01"])
    charged = [0, 1, 0, 1, 1, 1, 1, 0]
    # all records: before = Oct, Nov, Dec 2023 + Jan 2022 (2 of 4); after = Jan 1 2024 on (3 of 4)
    res = before_after(dates, charged, "2024-01-01")
    assert (res["x_before"], res["n_before"], res["x_after"], res["n_after"]) == (2, 4, 3, 4)
    assert res["diff"] == pytest.approx(0.25)
    # three months either side drops Jan 2022 and Sep 2024
    res3 = before_after(dates, charged, "2024-01-01", months=3)
    assert (res3["x_before"], res3["n_before"], res3["x_after"], res3["n_after"]) == (1, 3, 3, 3)
    days = [30, 40, 50, 20, 10, 15, 60, 5]
    med = before_after(dates, days, "2024-01-01", kind="median")
    assert med["before"] == 45 and med["after"] == 12.5
    with pytest.raises(ValueError):
        before_after(dates, days, "2024-01-01", kind="mean")
