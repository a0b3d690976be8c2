"""metrics.stats change tests (issue 12) pinned to scipy and to Newcombe's published table."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from metrics.stats import (
    benjamini_hochberg,
    difference_in_differences,
    mood_median_p,
    newcombe_vec,
    poisson_exact_p,
    two_proportion_z_vec,
)

# Newcombe (1998), Statistics in Medicine 17:873-890, Table II, method 10 (hybrid score)
NEWCOMBE = [
    ((56, 70, 48, 80), (0.0524, 0.3339)),
    ((9, 10, 3, 10), (0.1705, 0.8090)),
    ((5, 56, 0, 29), (-0.0381, 0.1926)),
    ((0, 10, 0, 20), (-0.1611, 0.2775)),
    ((0, 10, 0, 10), (-0.2775, 0.2775)),
    ((10, 10, 0, 20), (0.6791, 1.0000)),
    ((10, 10, 0, 10), (0.6075, 1.0000)),
]


def test_newcombe_hybrid_score_matches_the_published_table():
    counts = np.array([c for c, _ in NEWCOMBE], dtype=float)
    d, low, high = newcombe_vec(counts[:, 0], counts[:, 1], counts[:, 2], counts[:, 3])
    for i, (_, (lo, hi)) in enumerate(NEWCOMBE):
        assert round(float(low[i]), 4) == pytest.approx(lo, abs=1e-12)
        assert round(float(high[i]), 4) == pytest.approx(hi, abs=1e-12)
    assert d[0] == pytest.approx(56 / 70 - 48 / 80)


def test_two_proportion_z_is_pearson_without_continuity_correction():
    rng = np.random.default_rng(11)
    n1, n0 = rng.integers(5, 400, 300), rng.integers(5, 400, 300)
    x1, x0 = rng.binomial(n1, 0.3), rng.binomial(n0, 0.35)
    p = two_proportion_z_vec(x1, n1, x0, n0)
    for i in range(300):
        table = [[x1[i], n1[i] - x1[i]], [x0[i], n0[i] - x0[i]]]
        if min(sum(col) for col in zip(*table, strict=True)) == 0:
            assert p[i] == 1.0
            continue
        ref = sps.chi2_contingency(table, correction=False).pvalue
        assert p[i] == pytest.approx(ref, rel=1e-9, abs=1e-300)
    assert math.isnan(two_proportion_z_vec(np.array([1]), np.array([0]), np.array([1]),
                                           np.array([5]))[0])


@pytest.mark.parametrize(("k", "k0"), [(0, 0), (0, 7), (14, 4), (28, 14), (50, 50), (3, 2),
                                       (120, 90), (1, 30)])
def test_poisson_exact_is_the_conditional_binomial_test(k, k0):
    expected = 1.0 if k + k0 == 0 else sps.binomtest(k, k + k0, 0.5).pvalue
    assert poisson_exact_p(k, k0) == pytest.approx(expected, rel=1e-10)


def test_mood_median_matches_scipy_median_test():
    rng = np.random.default_rng(5)
    for _ in range(300):
        a = rng.integers(0, 60, rng.integers(1, 40)).astype(float)
        b = (rng.integers(0, 60, rng.integers(1, 40)) + rng.integers(0, 10)).astype(float)
        try:
            ref = sps.median_test(a, b).pvalue
        except ValueError:  # every value on one side of the grand median
            ref = 1.0
        assert mood_median_p(a, b) == pytest.approx(ref, rel=1e-10, abs=1e-300)
    assert math.isnan(mood_median_p([], [1.0, 2.0]))


def test_benjamini_hochberg_matches_scipy():
    rng = np.random.default_rng(2)
    p = rng.uniform(0, 0.2, 40) ** 2
    np.testing.assert_allclose(benjamini_hochberg(p)[0], sps.false_discovery_control(p))


def test_difference_in_differences_on_a_hand_built_four_cell_example():
    # force: 20/100 before, 40/100 after (+0.20); comparison: 100/500 -> 125/500 (+0.05)
    d = difference_in_differences(20, 100, 40, 100, 100, 500, 125, 500)
    assert d["did"] == pytest.approx(0.15)
    var = 0.2 * 0.8 / 100 + 0.4 * 0.6 / 100 + 0.2 * 0.8 / 500 + 0.25 * 0.75 / 500
    assert d["se"] == pytest.approx(math.sqrt(var))  # 0.06606...
    assert d["low"] == pytest.approx(0.15 - 1.959963984540054 * math.sqrt(var))
    assert d["high"] == pytest.approx(0.15 + 1.959963984540054 * math.sqrt(var))
    assert d["p_value"] == pytest.approx(2 * sps.norm.sf(0.15 / math.sqrt(var)))
    assert 0.02 < d["p_value"] < 0.03  # z = 2.27
    # the same change in both groups is no effect at all
    same = difference_in_differences(20, 100, 40, 100, 100, 500, 200, 500)
    assert same["did"] == pytest.approx(0.0) and same["p_value"] == pytest.approx(1.0)
    assert math.isnan(difference_in_differences(1, 0, 1, 2, 1, 2, 1, 2)["did"])
