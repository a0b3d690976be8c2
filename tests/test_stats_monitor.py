"""metrics.stats monitoring SPC (issue 12): Laney p′, fixed baselines, excluded months."""

from __future__ import annotations

import math

import numpy as np
import pytest

from metrics.stats import SPC_MIN_POINTS, spc_monitor, xmr

IMP, CON, CC = "special_cause_improvement", "special_cause_concern", "common_cause"

# qicharts2's nhs_accidents (Mohammed et al., BMJ Qual Saf 2013;22:362-368): patients seen
# within 4 hours (r) of all A&E attendances (n), 20 weeks; the package's P′ chart example.
NHS_R = [266501, 264225, 276532, 281461, 269071, 261215, 270409, 279778, 270483, 270320,
         267923, 271478, 255353, 256820, 261835, 259144, 255910, 260863, 264465, 260989]
NHS_N = [280443, 276823, 291681, 296155, 282343, 275888, 283867, 295251, 284468, 282529,
         279618, 283932, 266629, 268091, 276803, 271578, 266005, 273520, 278574, 273772]


def _qicharts2_pp(r: list[int], n: list[int]) -> tuple[float, list[float], list[float]]:
    """qicharts2's qic.pp (R/helper.functions.R), written out point by point: centre
    sum(r)/sum(n); z_i = (p_i - cl)/sqrt(cl(1-cl)/n_i); sigma_z = mean |z_i - z_(i-1)| / 1.128
    (no moving-range screening, the package default); limits cl +- 3 sigma_i sigma_z."""
    cl = sum(r) / sum(n)
    sd = [math.sqrt(cl * (1 - cl) / ni) for ni in n]
    z = [(ri / ni - cl) / s for ri, ni, s in zip(r, n, sd, strict=True)]
    sigma_z = sum(abs(z[i] - z[i - 1]) for i in range(1, len(z))) / (len(z) - 1) / 1.128
    return cl, [min(1.0, cl + 3 * s * sigma_z) for s in sd], [max(0.0, cl - 3 * s * sigma_z)
                                                             for s in sd]


def _pp(r, n, **kw):
    r, n = np.asarray(r, float), np.asarray(n, float)
    return spc_monitor((r / n)[None, :], numerators=r[None, :], denominators=n[None, :],
                       method="laney", **kw)


def test_laney_p_prime_matches_qicharts2_on_its_published_example():
    cl, upper, lower = _qicharts2_pp(NHS_R, NHS_N)
    res = _pp(NHS_R, NHS_N, baseline=None)
    assert res["centre"][0] == pytest.approx([cl] * 20, rel=1e-12)
    assert res["upper"][0] == pytest.approx(upper, rel=1e-12)
    assert res["lower"][0] == pytest.approx(lower, rel=1e-12)
    # the example's point: a P chart flags almost every week, the P' chart none
    assert cl == pytest.approx(0.9529, abs=1e-4)
    assert list(res["point_type"][0]) == [CC] * 20
    p = np.asarray(NHS_R) / np.asarray(NHS_N)
    p_chart_half = 3 * np.sqrt(cl * (1 - cl) / np.asarray(NHS_N))
    assert np.mean(np.abs(p - cl) > p_chart_half) > 0.5


def test_laney_limits_vary_with_each_months_denominator():
    r = [10, 30, 12, 28, 11, 29, 10, 31] * 2
    n = [50, 150, 60, 140, 55, 145, 50, 150] * 2
    res = _pp(r, n)
    width = res["upper"][0] - res["lower"][0]
    order = np.argsort(n)
    assert np.all(np.diff(width[order]) <= 1e-15)  # bigger month, narrower limits


def test_limits_fixed_after_24_points_then_a_shift_is_caught():
    rng = np.random.default_rng(7)
    y = np.concatenate([10 + rng.normal(0, 1, 24), 14 + rng.normal(0, 1, 12)])
    res = spc_monitor(y[None, :], improvement="increase")
    ref = xmr(y[:24])  # limits from the first 24 points only
    assert res["centre"][0] == pytest.approx([ref.attrs["segments"][0]["centre"]] * 36)
    assert res["upper"][0][30] == pytest.approx(ref["upper"].iloc[0])
    assert set(res["point_type"][0][24:]) == {IMP}
    # with limits from all 36 points the shift inflates the limits and the centre
    every = spc_monitor(y[None, :], baseline=None)
    assert every["centre"][0][0] > res["centre"][0][0]


def test_baseline_counts_points_not_months_and_skips_gaps():
    y = np.array([5.0, np.nan, 6, 5, 6, 5, 6, 5, 6, 5, 6, 5, 6, 5, 6])
    res = spc_monitor(y[None, :], baseline=4)
    # the first 4 non-missing points (5, 6, 5, 6) set the limits: mean 5.5
    assert res["centre"][0][0] == pytest.approx(5.5)
    assert res["segment_points"][0][0] == 4


def test_no_moving_range_bridges_a_missing_month_as_in_xmr():
    """Found by an independent check: the monitoring chart took a moving range between the
    months either side of a gated or empty month, as if they were adjacent, where
    docs/methods.md and ``xmr`` (and qicharts2 with NA) leave it out."""
    y = np.array([10.0, 12, 11, np.nan, 30, 31, 30, 31, 29, 30, 31, 30, 29, 30])
    res = spc_monitor(y[None, :], baseline=None, screen_outliers=False)
    ref = xmr(y, screen_outliers=False)
    assert res["upper"][0] == pytest.approx(ref["upper"].to_numpy(), nan_ok=True)
    assert res["lower"][0] == pytest.approx(ref["lower"].to_numpy(), nan_ok=True)
    # by hand: the moving ranges 2, 1 | 1, 1, 1, 2, 1, 1, 1, 1, 1 (none across the gap)
    amr = (2 + 1 + 1 + 1 + 1 + 2 + 1 + 1 + 1 + 1 + 1) / 11
    assert res["upper"][0][0] - res["centre"][0][0] == pytest.approx(2.66 * amr)


def test_a_laney_moving_range_never_bridges_a_gated_month():
    r = np.array([10.0, 30, 12, np.nan, 11, 29, 10, 31, 12, 28, 11, 30, 10, 29])
    n = np.array([50.0, 150, 60, 0, 55, 145, 50, 150, 60, 140, 55, 150, 50, 145])
    keep = n > 0
    res = spc_monitor(np.where(keep, r / np.where(keep, n, 1), np.nan)[None, :],
                      numerators=np.where(keep, r, 0)[None, :], denominators=n[None, :],
                      method="laney", baseline=None)
    cl = r[keep].sum() / n[keep].sum()
    z = (r / np.where(keep, n, 1) - cl) / np.sqrt(cl * (1 - cl) / np.where(keep, n, 1))
    mr = np.abs(np.diff(z))
    sigma_z = np.nanmean(mr[~np.isnan(mr)]) / 1.128  # the ranges beside month 4 are NaN
    upper = cl + 3 * np.sqrt(cl * (1 - cl) / n[0]) * sigma_z
    assert res["upper"][0][0] == pytest.approx(upper, rel=1e-12)


def test_provisional_months_are_out_of_limits_and_rules():
    base = [10.0, 11.0] * 8  # 16 points, mean 10.5
    y = np.array(base + [30.0, 30.0])
    exclude = np.zeros(18, dtype=bool)
    exclude[-2:] = True  # the two latest months are still maturing
    res = spc_monitor(y[None, :], exclude=exclude[None, :])
    assert res["centre"][0][0] == pytest.approx(10.5)
    assert res["point_type"][0][-1] is None and res["point_type"][0][-2] is None
    assert res["point_type"][0][-3] == CC  # the latest final month carries the verdict
    # without the exclusion the same values would be flagged
    flagged = spc_monitor(y[None, :])
    assert flagged["point_type"][0][-1] == IMP


def test_short_segments_have_provisional_limits_and_rebase_resets_the_baseline():
    y = np.array([10.0, 11.0] * 10 + [20.0, 21.0] * 5)  # adoption at column 20
    res = spc_monitor(y[None, :], rebase=[20])
    assert not res["limits_provisional"][0][0]  # 20 points >= 13
    assert res["limits_provisional"][0][25]  # 10 points after the rebase < 13
    assert res["segment_points"][0][25] == 10 < SPC_MIN_POINTS
    assert res["centre"][0][25] == pytest.approx(20.5)
    assert set(res["point_type"][0]) == {CC}


def test_laney_concern_for_a_falling_proportion():
    r = [50, 52, 49, 51, 50, 48, 52, 50, 51, 49, 50, 52, 49, 51, 50, 20]
    n = [100] * 16
    res = _pp(r, n, improvement="increase")
    assert res["point_type"][0][-1] == CON
