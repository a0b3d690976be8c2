"""Funnel plots: exact binomial limits (Spiegelhalter 2005), overdispersion, unit flags."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.stats import binom, norm

from metrics.stats import (
    FUNNEL_BETWEEN,
    FUNNEL_INSIDE,
    FUNNEL_OUTSIDE,
    funnel_flags,
    funnel_limits,
    funnel_overdispersion,
)


def spiegelhalter_limit(theta: float, n: int, p: float) -> float:
    """Spiegelhalter (2005) appendix, written out independently of ``binom.ppf``:
    r_p = smallest r with P(R <= r) >= p, a = (F(r_p) - p) / (F(r_p) - F(r_p - 1)),
    limit = (r_p - a) / n."""
    r = 0
    while binom.cdf(r, n, theta) < p:
        r += 1
    f_r, f_below = binom.cdf(r, n, theta), binom.cdf(r - 1, n, theta)
    return (r - (f_r - p) / (f_r - f_below)) / n


def test_exact_limits_hand_worked_target_030_n_100() -> None:
    # Target 0.3, n = 100. Lower 95% limit (p = 0.025), by hand from binomial tables:
    # F(20) = 0.016463, F(21) = 0.028831 -> r_p = 21; a = (0.028831 - 0.025) / 0.012368 = 0.3098
    # -> (21 - 0.3098) / 100 = 0.2069.
    assert binom.cdf(20, 100, 0.3) == pytest.approx(0.016463, abs=1e-6)
    assert binom.cdf(21, 100, 0.3) == pytest.approx(0.028831, abs=1e-6)
    f = funnel_limits(0.3, 100)
    assert list(f.columns) == ["n", "level", "lower", "upper"]
    assert list(f["level"]) == [0.95, 0.998]
    assert f["lower"].iat[0] == pytest.approx(0.2069, abs=5e-5)
    # the other three limits against the independent formula
    assert f["lower"].iat[0] == pytest.approx(spiegelhalter_limit(0.3, 100, 0.025), rel=1e-12)
    assert f["upper"].iat[0] == pytest.approx(spiegelhalter_limit(0.3, 100, 0.975), rel=1e-12)
    assert f["lower"].iat[1] == pytest.approx(spiegelhalter_limit(0.3, 100, 0.001), rel=1e-12)
    assert f["upper"].iat[1] == pytest.approx(spiegelhalter_limit(0.3, 100, 0.999), rel=1e-12)
    assert f["upper"].iat[0] == pytest.approx(0.3869, abs=5e-5)
    assert f["lower"].iat[1] == pytest.approx(0.1603, abs=5e-5)
    assert f["upper"].iat[1] == pytest.approx(0.4416, abs=5e-5)


def test_exact_limits_small_n_by_hand() -> None:
    # Target 0.3, n = 20, lower 99.8% (p = 0.001): F(0) = 0.7^20 = 0.000798 < 0.001;
    # F(1) = 0.000798 + 20 x 0.3 x 0.7^19 = 0.007637 -> r_p = 1;
    # a = (0.007637 - 0.001) / 0.006839 = 0.9705 -> (1 - 0.9705) / 20 = 0.00148.
    f = funnel_limits(0.3, 20, levels=(0.998,))
    assert f["lower"].iat[0] == pytest.approx(0.00148, abs=1e-5)


def test_vector_n_rows_and_normal_method() -> None:
    f = funnel_limits(0.3, [50, 200, 0], levels=(0.95, 0.998))
    assert list(f["n"]) == [50, 50, 200, 200, 0, 0]
    assert f.iloc[4:][["lower", "upper"]].isna().all().all()
    # fractional n (e.g. rounded panel counts) is rounded for the exact binomial
    np.testing.assert_array_equal(funnel_limits(0.3, 99.6)["upper"],
                                  funnel_limits(0.3, 100)["upper"])
    nf = funnel_limits(0.3, 100, levels=(0.95,), method="normal")
    half = norm.ppf(0.975) * math.sqrt(0.3 * 0.7 / 100)
    assert nf["lower"].iat[0] == pytest.approx(0.3 - half)
    assert nf["upper"].iat[0] == pytest.approx(0.3 + half)
    with pytest.raises(ValueError):
        funnel_limits(1.2, 10)
    with pytest.raises(ValueError):
        funnel_limits(0.3, 10, method="poisson")


def test_overdispersed_limits_formula() -> None:
    # FunnelPlotR (PR): sin^2(asin(sqrt(t)) ± z sqrt(1/(4n) + tau2))
    t, n, tau2 = 0.3, 400, 0.002
    f = funnel_limits(t, n, levels=(0.998,), tau2=tau2)
    half = norm.ppf(0.999) * math.sqrt(1 / (4 * n) + tau2)
    assert f["lower"].iat[0] == pytest.approx(math.sin(math.asin(math.sqrt(t)) - half) ** 2)
    assert f["upper"].iat[0] == pytest.approx(math.sin(math.asin(math.sqrt(t)) + half) ** 2)
    plain = funnel_limits(t, n, levels=(0.998,), method="normal")
    assert f["upper"].iat[0] > plain["upper"].iat[0] and f["lower"].iat[0] < plain["lower"].iat[0]


def test_overdispersion_by_hand() -> None:
    # Ten units of n = 100 around a target of 0.25; arcsine z = (asin(sqrt p) - asin(0.5)) * 20
    y = np.array([10, 15, 20, 25, 25, 25, 30, 35, 40, 45])
    n = np.full(10, 100)
    od = funnel_overdispersion(y, n, target=0.25)
    z = (np.arcsin(np.sqrt(y / 100)) - math.asin(0.5)) * 20
    np.testing.assert_allclose(od["z"], z)
    lo, hi = np.quantile(z, [0.1, 0.9])  # R's type 7 quantiles
    zw = np.clip(z, lo, hi)
    np.testing.assert_allclose(od["z_winsorised"], zw)
    phi = float(np.mean(zw**2))
    assert od["phi"] == pytest.approx(phi)
    w = np.full(10, 400.0)
    assert od["tau2"] == pytest.approx((10 * phi - 9) / (w.sum() - (w**2).sum() / w.sum()))
    assert od["overdispersed"] is True and od["k"] == 10
    # units exactly on target: phi 0, no overdispersion
    calm = funnel_overdispersion([25] * 10, [100] * 10, target=0.25)
    assert calm["phi"] == 0 and calm["tau2"] == 0 and calm["overdispersed"] is False
    # pooled target by default; n = 0 left out
    pooled = funnel_overdispersion([10, 30, 5], [100, 100, 0])
    assert pooled["target"] == pytest.approx(0.2) and pooled["k"] == 2
    assert math.isnan(pooled["z"][2])


def test_flags_positions() -> None:
    # target 0.3, every unit n = 100: 95% limits [0.2069, 0.3869], 99.8% [0.1603, 0.4416]
    y = pd.Series([30, 39, 45, 15, 20, 21, 0], index=list("ABCDEFG"))
    n = pd.Series([100, 100, 100, 100, 100, 100, 0], index=list("ABCDEFG"))
    f = funnel_flags(y, n, target=0.3, overdispersion=False)
    assert list(f.index) == list("ABCDEFG")
    assert list(f["position"]) == [FUNNEL_INSIDE, FUNNEL_BETWEEN, FUNNEL_OUTSIDE, FUNNEL_OUTSIDE,
                                   FUNNEL_BETWEEN, FUNNEL_INSIDE, None]
    assert list(f["side"]) == [None, "high", "high", "low", "low", None, None]
    assert f["proportion"].iat[1] == pytest.approx(0.39)
    assert f["outer_upper"].iat[0] == pytest.approx(0.4416, abs=5e-5)
    assert f.attrs["tau2"] == 0 and f.attrs["target"] == 0.3


def test_flags_auto_overdispersion_widens_limits() -> None:
    rng = np.random.default_rng(5)
    n = rng.integers(200, 800, 44)
    y = rng.binomial(n, rng.beta(20, 40, 44))  # forces really differ: overdispersed
    plain = funnel_flags(y, n, overdispersion=False)
    auto = funnel_flags(y, n)
    assert auto.attrs["overdispersion_used"] is True and auto.attrs["tau2"] > 0
    assert (auto["outer_upper"] >= plain["outer_upper"]).all()
    assert (auto["position"] == FUNNEL_OUTSIDE).sum() <= (plain["position"] == FUNNEL_OUTSIDE).sum()


# --- properties -----------------------------------------------------------------------------


@given(
    t=st.floats(0.02, 0.98),
    n=st.integers(1, 5000),
    factor=st.integers(2, 6),
    method=st.sampled_from(["normal", "od"]),
)
@settings(max_examples=200, deadline=None)
def test_smooth_limits_widen_as_n_shrinks_and_contain_target(t: float, n: int, factor: int,
                                                            method: str) -> None:
    kw = {"tau2": 0.001} if method == "od" else {"method": "normal"}
    f = funnel_limits(t, [n, n * factor], **kw)
    small, big = f.iloc[[0, 1]], f.iloc[[2, 3]]
    assert (small["lower"].to_numpy() <= big["lower"].to_numpy() + 1e-15).all()
    assert (small["upper"].to_numpy() >= big["upper"].to_numpy() - 1e-15).all()
    assert (f["lower"] <= t + 1e-12).all() and (f["upper"] >= t - 1e-12).all()
    assert (f["lower"] >= 0).all() and (f["upper"] <= 1).all()
    # the outer (99.8%) band contains the inner (95%) one
    assert (f["lower"].iloc[1::2].to_numpy() <= f["lower"].iloc[0::2].to_numpy()).all()


@given(t=st.floats(0.01, 0.99), n=st.integers(1, 3000), factor=st.integers(2, 6))
@settings(max_examples=200, deadline=None)
def test_exact_limits_widen_as_n_shrinks_and_contain_target(t: float, n: int,
                                                           factor: int) -> None:
    # Exact limits step with the integer counts, so the property holds once the expected count
    # is not tiny (n·min(t, 1 − t) >= 5); below that the interpolation can wobble.
    assume(n * min(t, 1 - t) >= 5)
    f = funnel_limits(t, [n, n * factor])
    small, big = f.iloc[[0, 1]], f.iloc[[2, 3]]
    assert (small["lower"].to_numpy() <= big["lower"].to_numpy() + 1e-12).all()
    assert (small["upper"].to_numpy() >= big["upper"].to_numpy() - 1e-12).all()
    assert (f["lower"] <= t).all() and (f["upper"] >= t).all()
    assert (f["lower"] >= 0).all() and (f["upper"] <= 1).all()


@given(
    y=st.lists(st.integers(0, 200), min_size=3, max_size=44),
    extra=st.lists(st.integers(0, 300), min_size=44, max_size=44),
)
@settings(max_examples=100, deadline=None)
def test_flags_consistent_with_limits(y: list[int], extra: list[int]) -> None:
    n = [a + b + 1 for a, b in zip(y, extra, strict=False)]
    f = funnel_flags(y, n)
    od = funnel_overdispersion(y, n)
    assert od["tau2"] >= 0 and od["phi"] >= 0
    out = f["position"] == FUNNEL_OUTSIDE
    beyond = (f["proportion"] < f["outer_lower"]) | (f["proportion"] > f["outer_upper"])
    assert (out == beyond).all()
    inside = f["position"] == FUNNEL_INSIDE
    within = (f["proportion"] >= f["inner_lower"]) & (f["proportion"] <= f["inner_upper"])
    assert (inside == within).all()


def test_phi_rule_widens_only_when_the_forces_vary_more_than_chance() -> None:
    """tau2 > 0 with phi <= 1 (phi above (k-1)/k): "auto" widens, the flight deck's "phi"
    rule does not; the page, the download, the pack and the CLI all use "phi"."""
    from metrics.stats import funnel_overdispersion

    y = np.array([46.0, 97, 130, 144, 175])
    n = np.array([200.0, 300, 400, 500, 600])
    od = funnel_overdispersion(y, n)
    assert od["tau2"] > 0 and od["phi"] <= 1
    auto, phi = funnel_flags(y, n), funnel_flags(y, n, overdispersion="phi")
    plain = funnel_flags(y, n, overdispersion=False)
    assert auto.attrs["overdispersion_used"] and not phi.attrs["overdispersion_used"]
    assert phi.attrs["tau2"] == 0.0
    pd.testing.assert_frame_equal(phi, plain, check_like=True)
    assert (auto["outer_upper"] > plain["outer_upper"]).all()
    # with more spread than chance (phi > 1) the rule widens as "auto" does
    wide_y = np.array([30.0, 120, 100, 190, 150])
    assert funnel_overdispersion(wide_y, n)["phi"] > 1
    pd.testing.assert_frame_equal(funnel_flags(wide_y, n, overdispersion="phi"),
                                  funnel_flags(wide_y, n), check_like=True)
