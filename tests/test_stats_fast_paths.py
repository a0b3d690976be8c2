"""The hot paths' replacements for scipy agree with scipy, and the KPI engine's path does not
import scipy at all (scipy.stats costs seconds, scipy.special 0.15 s, of every new process)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import binom, norm

from metrics.stats import binom_cdf, binom_ppf, normal_ppf

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("q", [0.001, 0.025, 0.05, 0.5, 0.95, 0.975, 0.999])
def test_normal_ppf_matches_scipy(q: float) -> None:
    assert normal_ppf(q) == pytest.approx(float(norm.ppf(q)), abs=1e-12)


# q = 0.5 at p = 1/2 is left out: P(B <= k) is exactly 0.5 for odd n, and scipy's own
# floating point lands on either side of that tie from one n to the next.
@pytest.mark.parametrize("p", [0.01, 0.092, 0.3, 0.5, 0.87])
@pytest.mark.parametrize("q", [0.001, 0.025, 0.05, 0.95, 0.975, 0.999])
def test_binom_ppf_matches_scipy_for_every_n_to_400(p: float, q: float) -> None:
    n = np.arange(0, 401, dtype=float)
    assert np.array_equal(binom_ppf(q, n, p), binom.ppf(q, n, p))


def test_binom_ppf_matches_scipy_for_large_n() -> None:
    n = np.array([1_000, 6_031, 50_000, 1_000_000], dtype=float)
    for p in (0.05, 0.5):
        for q in (0.001, 0.025, 0.975, 0.999):
            assert np.array_equal(binom_ppf(q, n, p), binom.ppf(q, n, p))


def test_binom_cdf_matches_scipy_including_negative_k() -> None:
    n = np.full(9, 20.0)
    k = np.arange(-2, 25, 3, dtype=float)
    assert np.allclose(binom_cdf(k, n, 0.3), binom.cdf(k, n, 0.3), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("n", [1, 20, 400, 6_031, 1_000_000])
@pytest.mark.parametrize("p", [0.001, 0.05, 0.3, 0.5, 0.87])
def test_binom_cdf_matches_scipy_over_the_whole_range(n: int, p: float) -> None:
    k = np.arange(-1, n + 2, max(1, n // 500), dtype=float)
    ours, theirs = binom_cdf(k, np.full_like(k, n), p), binom.cdf(k, n, p)
    seen = theirs > 1e-250  # below that scipy's own result underflows to 0
    assert np.allclose(ours[seen], theirs[seen], rtol=1e-10, atol=0)


def test_binom_cdf_edges() -> None:
    assert binom_cdf(0.0, 0.0, 0.5) == 1.0 and binom_cdf(-1.0, 5.0, 0.5) == 0.0
    assert binom_cdf(5.0, 5.0, 0.5) == 1.0 and binom_cdf(4.0, 5.0, 0.5) == 1 - 0.5 ** 5
    assert binom_cdf(2.0, 5.0, 0.0) == 1.0 and binom_cdf(2.0, 5.0, 1.0) == 0.0
    assert binom_cdf(0.0, float("nan"), 0.5) == 1.0  # a missing n counts as 0
    assert np.isnan(binom_ppf(0.025, float("nan"), 0.5))
    # exact small cases: P(B <= 2) for Binomial(10, 1/2) = 56/1024
    assert binom_cdf(2.0, 10.0, 0.5) == pytest.approx(56 / 1024, rel=1e-14)


def test_computing_every_kpi_does_not_import_scipy() -> None:
    script = (
        "import sys\n"
        "from metrics.load import load_dataset\n"
        "from metrics.kpis import compute_kpis\n"
        "ds = load_dataset('data/sample')\n"
        "t = compute_kpis(ds, '2024-10', '2026-09', by='month')\n"
        "assert (t['status'] == 'ok').any() and t['ci_low'].notna().any()\n"
        "print(any(m == 'scipy' or m.startswith('scipy.') for m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "False"


def test_two_proportion_p_values_match_scipy_chi_squared_without_correction() -> None:
    from scipy.stats import chi2_contingency

    from metrics.stats import two_proportion_z_vec

    x1, n1 = np.array([5.0, 40, 1, 300, 0]), np.array([10.0, 90, 50, 1000, 20])
    x0, n0 = np.array([2.0, 60, 9, 280, 3]), np.array([10.0, 95, 52, 990, 25])
    ours = two_proportion_z_vec(x1, n1, x0, n0)
    for i in range(len(x1)):
        table = [[x1[i], n1[i] - x1[i]], [x0[i], n0[i] - x0[i]]]
        assert ours[i] == pytest.approx(chi2_contingency(table, correction=False)[1], rel=1e-9)
    # no cases on a side: NaN; both sides all or nothing: 1
    assert np.isnan(two_proportion_z_vec(np.array([1.0]), np.array([0.0]), np.array([1.0]),
                                         np.array([2.0]))[0])
    assert two_proportion_z_vec(np.array([3.0]), np.array([3.0]), np.array([4.0]),
                                np.array([4.0]))[0] == 1.0
