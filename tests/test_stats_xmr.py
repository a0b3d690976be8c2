"""XmR (Making Data Count) SPC: published NHSRplotthedots examples and hand-worked series.

Published series come from the NHS-R community's NHSRplotthedots package
(https://github.com/nhs-r-community/NHSRplotthedots):

* ``tests/testthat/_snaps/integration_tests.md`` holds R-serialised snapshots of ``ptd_spc()``
  on ``NHSRdatasets::ae_attendances`` summed over all organisations by month (April 2016 to
  March 2019), made by ``tests/testthat/test-integration_tests.R``. We decoded the base64/XDR
  snapshots: the values (``y``), ``mean``, ``lpl``, ``upl`` and ``point_type`` below are copied
  from them at full double precision.
* ``tests/testthat/test-ptd_spc_standard.R`` / ``_snaps/ptd_spc_standard.md`` and
  ``test-ptd_spc.R`` / ``_snaps/ptd_spc.md``: ``set.seed(123); rnorm(20)`` gives mean 0.142,
  limits -3.01 and 3.29 (printed to 3 significant figures) and 20 common-cause points, and split
  into two facets of 10 the limits printed in the summary snapshot; the same test file checks
  that 2 points near the limits on opposite sides of the mean are not special cause.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from metrics.stats import POINT_TYPES, xmr, xmr_batch, xmr_point_types_batch

CC = "common_cause"
IMP = "special_cause_improvement"
CON = "special_cause_concern"
HIGH = "special_cause_neutral_high"
LOW = "special_cause_neutral_low"

# --- published: A&E 4-hour performance, all England, Apr 2016 - Mar 2019 --------------------
# ptd_spc(ae_all(), performance, period, fix_after_n_points = 12)
AE_PERFORMANCE = [
    0.9003512724457525, 0.9027555860390081, 0.9055994429248081, 0.9028524786030435,
    0.909763097023593, 0.9064786853944554, 0.8905308979446662, 0.8837903610883545,
    0.8617594559611471, 0.851413411900772, 0.8753090395991286, 0.9000949482943537,
    0.9051525263083392, 0.8970035160821932, 0.9072518525056468, 0.9034785895858326,
    0.9029928875860346, 0.8966609396555797, 0.8994186788850258, 0.8876655246839736,
    0.8498503458662225, 0.8529918213516818, 0.8504476893558943, 0.8462121637147311,
    0.8857248828216929, 0.9039011151983545, 0.9076297242234981, 0.8931949047110505,
    0.8972702710007838, 0.8894368286304747, 0.8900933497219513, 0.8760446687116353,
    0.8644632183941728, 0.843525141560121, 0.8422525009629417, 0.8660427671795345,
]
AE_PERFORMANCE_MEAN = 0.8908915564349236
AE_PERFORMANCE_LPL = 0.8614049789074258
AE_PERFORMANCE_UPL = 0.9203781339624213
AE_PERFORMANCE_TYPES = (
    [CC] * 9 + [CON] + [CC] + [IMP] * 8 + [CC] + [CON] * 4 + [CC] * 5 + [CON] * 7
)

# ptd_spc(ae_all(), attendances, period) and with rebase = as.Date("2017-04-01")
AE_ATTENDANCES = [
    1867781, 2070340, 1958802, 2079034, 1932901, 1952464, 2001816, 1907871, 1944567,
    1895272, 1735619, 2015834, 1949762, 2066789, 1994056, 2073944, 1924663, 1925961,
    2044137, 1976971, 2003954, 2000086, 1820012, 2049785, 1984369, 2164458, 2093942,
    2179896, 1997854, 2005695, 2079492, 2037847, 2047518, 2113413, 1954947, 2167550,
]
AE_ATT_MEAN, AE_ATT_LPL, AE_ATT_UPL = 2000538.9444444445, 1731844.3644444444, 2269233.5244444446
AE_ATT_REBASE = [  # (mean, lpl, upl) for Apr 2016 - Mar 2017, then Apr 2017 - Mar 2019
    (1946858.4166666667, 1639947.374848485, 2253769.4584848485),
    (2027379.2083333333, 1772921.0639855072, 2281837.3526811595),
]

# set.seed(123); rnorm(20) (R's values, printed to 8 decimals)
RNORM_123 = [
    -0.56047565, -0.23017749, 1.55870831, 0.07050839, 0.12928774, 1.71506499, 0.46091621,
    -1.26506123, -0.68685285, -0.44566197, 1.22408180, 0.35981383, 0.40077145, 0.11068272,
    -0.55584113, 1.78691314, 0.49785048, -1.96661716, 0.70135590, -0.47279141,
]

MONTHS = pd.period_range("2016-04", periods=36, freq="M")


def test_published_ae_performance_fixed_after_12_points() -> None:
    s = pd.Series(AE_PERFORMANCE, index=MONTHS)
    df = xmr(s, improvement="increase", baseline=12)
    assert list(df.columns) == ["value", "centre", "upper", "lower", "point_type"]
    assert df.index.equals(MONTHS)
    np.testing.assert_allclose(df["centre"], AE_PERFORMANCE_MEAN, rtol=1e-12)
    np.testing.assert_allclose(df["lower"], AE_PERFORMANCE_LPL, rtol=1e-12)
    np.testing.assert_allclose(df["upper"], AE_PERFORMANCE_UPL, rtol=1e-12)
    assert list(df["point_type"]) == AE_PERFORMANCE_TYPES
    assert df.attrs["variation"] == CON
    assert df.attrs["provisional"] is False


def test_published_ae_attendances_and_rebase() -> None:
    s = pd.Series(AE_ATTENDANCES, index=pd.date_range("2016-04-01", periods=36, freq="MS"),
                  dtype=float)
    df = xmr(s)
    np.testing.assert_allclose(df["centre"], AE_ATT_MEAN, rtol=1e-12)
    np.testing.assert_allclose(df["lower"], AE_ATT_LPL, rtol=1e-12)
    np.testing.assert_allclose(df["upper"], AE_ATT_UPL, rtol=1e-12)
    assert set(df["point_type"]) == {CC}

    rb = xmr(s, rebase="2017-04-01")
    for (mean, lpl, upl), rows in zip(AE_ATT_REBASE, (slice(0, 12), slice(12, 36)), strict=True):
        np.testing.assert_allclose(rb["centre"].iloc[rows], mean, rtol=1e-12)
        np.testing.assert_allclose(rb["lower"].iloc[rows], lpl, rtol=1e-12)
        np.testing.assert_allclose(rb["upper"].iloc[rows], upl, rtol=1e-12)
    assert set(rb["point_type"]) == {CC}
    assert [seg["start"] for seg in rb.attrs["segments"]] == [0, 12]
    # the same rebase given as a position, and on a monthly PeriodIndex as a Period
    pos = xmr(s, rebase=12)
    np.testing.assert_array_equal(pos["upper"], rb["upper"])
    per = xmr(pd.Series(AE_ATTENDANCES, index=MONTHS, dtype=float),
              rebase=pd.Period("2017-04", "M"))
    np.testing.assert_array_equal(per["upper"].to_numpy(), rb["upper"].to_numpy())


def test_published_rnorm_seed_123() -> None:
    df = xmr(RNORM_123)
    assert round(df["centre"].iat[0], 3) == 0.142
    assert round(df["lower"].iat[0], 2) == -3.01
    assert round(df["upper"].iat[0], 2) == 3.29
    assert set(df["point_type"]) == {CC}
    assert df.attrs["variation"] == CC


def test_published_rnorm_seed_123_two_facets_as_rebase() -> None:
    # _snaps/ptd_spc.md (test-ptd_spc.R, facet = rep(c(0, 1), each = 10)): facet 0 has mean
    # 0.0746, limits -2.60 and 2.75; facet 1 mean 0.209, limits -3.28 and 3.70. Our
    # rebase at row 10 splits the series the same way (each facet is its own limit group).
    df = xmr(RNORM_123, rebase=10)
    first, second = df.attrs["segments"]
    assert (round(first["centre"], 4), round(first["lower"], 2), round(first["upper"], 2)) == (
        0.0746, -2.60, 2.75)
    assert (round(second["centre"], 3), round(second["lower"], 2), round(second["upper"], 2)) == (
        0.209, -3.28, 3.70)
    assert set(df["point_type"]) == {CC}
    assert df.attrs["provisional"] is True  # 10 points: NHSRplotthedots warns 'n < 12'


def test_published_two_near_limits_on_opposite_sides_are_common_cause() -> None:
    # test-ptd_spc_standard.R: rep(c(1, -1), 8) with points 15, 16 set to 5.5 and -5.5
    data = [1.0, -1.0] * 8
    data[14], data[15] = 5.5, -5.5
    df = xmr(data)
    # by hand: mean 0; MRs 2 x13, 6.5, 11 -> mean 2.9; 11 >= 3.267 x 2.9 screened out
    # -> mean MR 32.5 / 14; limits ±2.66 x 2.3214 = ±6.175
    assert df["upper"].iat[0] == pytest.approx(2.66 * 32.5 / 14)
    assert list(df["point_type"].iloc[-2:]) == [CC, CC]


# --- hand-worked series ------------------------------------------------------------------
# Baseline: 10, 12 alternating, 12 points -> mean 11, every moving range 2, limits 11 ± 5.32
# = [5.68, 16.32]; "close to limits" beyond 11 ± 3.5467 (two-thirds of the way).
BASE = [10.0, 12.0] * 6  # ends above the mean: signals below it start fresh
BASE_UP = [12.0, 10.0] * 6  # ends below the mean: signals above it start fresh


def types(values: list[float], **kw) -> list[str | None]:
    return list(xmr(values, baseline=12, **kw)["point_type"])


def test_limits_hand_worked() -> None:
    df = xmr(BASE + [30.0], baseline=12)
    assert df["centre"].iat[-1] == pytest.approx(11.0)
    assert df["upper"].iat[-1] == pytest.approx(16.32)
    assert df["lower"].iat[-1] == pytest.approx(5.68)
    np.testing.assert_allclose(df["upper"] - df["centre"], df["centre"] - df["lower"])


def test_outside_limits_by_direction() -> None:
    assert types(BASE + [30.0]) == [CC] * 12 + [IMP]
    assert types(BASE + [30.0], improvement="decrease") == [CC] * 12 + [CON]
    assert types(BASE + [5.0], improvement="increase") == [CC] * 12 + [CON]
    assert types(BASE + [30.0], improvement="neutral") == [CC] * 12 + [HIGH]
    assert types(BASE + [5.0], improvement="neutral") == [CC] * 12 + [LOW]
    # exactly on a limit is not outside (strict inequality)
    assert types(BASE + [16.32 - 1e-12]) == [CC] * 13


def test_run_of_seven_one_side() -> None:
    assert types(BASE_UP + [11.5] * 7) == [CC] * 12 + [IMP] * 7
    assert types(BASE + [10.5] * 7) == [CC] * 12 + [CON] * 7
    assert types(BASE_UP + [11.5] * 6) == [CC] * 18
    # the last baseline point joins a run on its side: 12 then six 11.5s is a run of 7
    assert types(BASE + [11.5] * 6) == [CC] * 11 + [IMP] * 7
    # a point exactly on the mean breaks the run
    assert types(BASE_UP + [11.5] * 6 + [11.0] + [11.5] * 6) == [CC] * 25
    assert types(BASE + [10.5] * 7, improvement="neutral") == [CC] * 12 + [LOW] * 7


def test_trend_of_seven_all_flagged_by_trend_direction() -> None:
    rising = [10.0, 10.5, 11.0, 11.5, 12.0, 12.5, 13.0]  # crosses the mean: not a run
    assert types(BASE + rising) == [CC] * 12 + [IMP] * 7
    assert types(BASE + rising, improvement="decrease") == [CC] * 12 + [CON] * 7
    assert types(BASE + rising[::-1], improvement="decrease") == [CC] * 12 + [IMP] * 7
    # six rises only: no trend; an equal step breaks the trend
    assert types(BASE + rising[:6]) == [CC] * 18
    assert types(BASE + [10.0, 10.5, 11.0, 11.0, 11.5, 12.0, 12.5, 13.0]) == [CC] * 20


def test_trend_direction_and_precedence_over_a_peak() -> None:
    # 0..7 then 6..1 (NHSRplotthedots issue 200's series). Mean 3.5, every MR 1, limits
    # 3.5 ± 2.66 = [0.84, 6.16]. 0 is below the lower limit, 7 above the upper; the rising
    # trend covers 0..7, the falling one 7..1; the peak takes the direction of the step out.
    df = xmr(list(range(8)) + list(range(6, 0, -1)))
    assert df["lower"].iat[0] == pytest.approx(0.84)
    assert list(df["point_type"]) == [CON] + [IMP] * 6 + [IMP] + [CON] * 6


def test_two_of_three_near_a_limit() -> None:
    # 15 and 15 beyond 14.5467 with 12 between, all above the mean: the two 15s flag
    assert types(BASE + [15.0, 12.0, 15.0]) == [CC] * 12 + [IMP, CC, IMP]
    assert types(BASE + [7.0, 7.0, 10.5]) == [CC] * 12 + [CON, CON, CC]
    # two near points alone at the end of the series: no complete window of 3 on one side
    assert types(BASE + [7.0, 7.0]) == [CC] * 14
    # all three must be on the same side of the mean
    assert types(BASE + [15.0, 9.0, 15.0]) == [CC] * 15
    # a point outside the limits is not "near" a limit: 15, 17 gives one near point only
    assert types(BASE + [12.0, 15.0, 17.0]) == [CC] * 12 + [CC, CC, IMP]
    # 2 of 3 in a neutral measure
    assert types(BASE + [15.0, 15.0], improvement="neutral") == [CC] * 12 + [HIGH, HIGH]


def test_rebase_recomputes_limits() -> None:
    values = BASE + [20.0, 22.0] * 6
    plain = xmr(values)
    # by hand: mean 16; MRs 2 x22 and 8 -> 52/23; 8 >= 3.267 x 52/23 screened -> mean MR 2
    assert plain["centre"].iat[0] == pytest.approx(16.0)
    assert plain["upper"].iat[0] == pytest.approx(21.32)
    assert list(plain["point_type"]) == [CON] * 12 + [IMP] * 12
    rb = xmr(values, rebase=[12])
    assert list(rb["centre"]) == pytest.approx([11.0] * 12 + [21.0] * 12)
    assert list(rb["upper"]) == pytest.approx([16.32] * 12 + [26.32] * 12)
    assert set(rb["point_type"]) == {CC}
    # rebase outside the series is ignored
    assert list(xmr(values, rebase=[0, 99])["upper"]) == list(plain["upper"])


def test_screening_on_and_off() -> None:
    values = [10.0, 12.0, 10.0, 12.0, 10.0, 12.0, 10.0, 40.0, 10.0, 12.0, 10.0, 12.0]
    # mean 160/12; MRs 2 x9 and 30 x2 -> 78/11; 30 >= 3.267 x 78/11 = 23.17 screened -> 2
    on = xmr(values)
    assert on["centre"].iat[0] == pytest.approx(160 / 12)
    assert on["upper"].iat[0] == pytest.approx(160 / 12 + 2.66 * 2)
    off = xmr(values, screen_outliers=False)
    assert off["upper"].iat[0] == pytest.approx(160 / 12 + 2.66 * 78 / 11)
    assert on["point_type"].iat[7] == IMP
    assert off["point_type"].iat[7] == IMP  # 40 > 13.33 + 18.86 = 32.20 as well
    assert on.attrs["segments"][0]["mean_moving_range"] == pytest.approx(2.0)


def test_degenerate_zero_moving_range() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning (division by zero) either
        flat = xmr([5.0] * 15)
        flat_off = xmr([5.0] * 15, screen_outliers=False)
        jump = xmr([5.0] * 12 + [6.0], baseline=12)
        run = xmr([5.0] * 12 + [6.0] * 7, baseline=12)
    for df in (flat, flat_off):
        assert list(df["upper"]) == [5.0] * 15 and list(df["lower"]) == [5.0] * 15
        assert set(df["point_type"]) == {CC}
        assert df.attrs["segments"][0]["degenerate"] is True
    assert jump["point_type"].iat[-1] == CC  # no limit-based signal
    # screening can leave only zero moving ranges: 1, 0, 0, 0, 0 has MRs 1, 0, 0, 0 (mean 0.25);
    # 1 >= 3.267 x 0.25 is screened out, leaving a mean moving range of 0
    screened = xmr([1.0, 0.0, 0.0, 0.0, 0.0])
    assert screened.attrs["segments"][0]["degenerate"] is True
    assert list(screened["upper"]) == [0.2] * 5 and set(screened["point_type"]) == {CC}
    unscreened = xmr([1.0, 0.0, 0.0, 0.0, 0.0], screen_outliers=False)
    assert unscreened["upper"].iat[0] == pytest.approx(0.2 + 2.66 * 0.25)
    assert list(run["point_type"]) == [CC] * 12 + [IMP] * 7  # the run rule still applies


def test_missing_values_are_skipped_but_kept() -> None:
    s = pd.Series([10.0, 12.0, np.nan, 10.0, 12.0], index=pd.period_range("2024-01", periods=5,
                                                                           freq="M"))
    df = xmr(s)
    assert len(df) == 5 and df.index.equals(s.index)
    assert np.isnan(df["value"].iat[2]) and df["point_type"].iat[2] is None
    # mean 11; MRs 2, (gap), (gap), 2 -> 2; limits 11 ± 5.32
    assert df["upper"].iat[2] == pytest.approx(16.32)
    # the run rule runs over the remaining points in order: 7 above the mean with a gap
    vals = BASE_UP + [11.5] * 3 + [np.nan] + [11.5] * 4
    assert types(vals) == [CC] * 12 + [IMP] * 3 + [None] + [IMP] * 4
    # a trailing missing month: the verdict is the last observed point's type
    assert xmr(BASE + [30.0, np.nan], baseline=12).attrs["variation"] == IMP
    assert xmr([np.nan, np.nan]).attrs["variation"] is None


def test_provisional_flag_and_optional_warning() -> None:
    short = [10.0, 12.0] * 5
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        df = xmr(short)  # no warning by default
    assert df.attrs["provisional"] is True
    with pytest.warns(UserWarning, match="provisional"):
        xmr(short, warn=True)
    assert xmr(BASE).attrs["provisional"] is False
    # a 6-point baseline is provisional even in a long series
    assert xmr(BASE * 3, baseline=6).attrs["provisional"] is True


def test_assurance_against_target() -> None:
    # limits [5.68, 16.32]
    def assurance(target: float, improvement: str) -> str | None:
        return xmr(BASE, improvement=improvement, target=target).attrs["assurance"]

    assert assurance(5.0, "increase") == "consistent_pass"
    assert assurance(17.0, "increase") == "consistent_fail"
    assert assurance(11.0, "increase") == "inconsistent"
    assert assurance(5.0, "decrease") == "consistent_fail"
    assert assurance(17.0, "decrease") == "consistent_pass"
    assert assurance(11.0, "neutral") is None
    assert xmr(BASE).attrs["assurance"] is None


def test_round_trips_index_and_accepts_plain_sequences() -> None:
    idx = pd.date_range("2023-01-01", periods=12, freq="MS")
    df = xmr(pd.Series(BASE, index=idx, name="charge_rate"))
    assert df.index.equals(idx)
    assert xmr(np.array(BASE)).index.equals(pd.RangeIndex(12))
    # rebase labels on a DatetimeIndex: a Period means its first day; a date the first row on
    # or after it; dates outside the series are ignored
    s = pd.Series(BASE * 2, index=pd.date_range("2023-01-01", periods=24, freq="MS"))
    for label, start in [(pd.Period("2024-03", "M"), 14), ("2024-03-01", 14),
                         (pd.Timestamp("2024-03-15"), 15), ("2030-01-01", None)]:
        starts = [seg["start"] for seg in xmr(s, rebase=label).attrs["segments"]]
        assert starts == ([0] if start is None else [0, start])
    # on a PeriodIndex a date maps to the month containing it
    p = pd.Series(BASE * 2, index=pd.period_range("2023-01", periods=24, freq="M"))
    assert [seg["start"] for seg in xmr(p, rebase="2024-03-15").attrs["segments"]] == [0, 14]
    assert xmr([]).empty
    with pytest.raises(ValueError):
        xmr(BASE, improvement="up")


def test_batch_matches_single_series() -> None:
    rng = np.random.default_rng(7)
    arr = rng.normal(0.5, 0.05, size=(20, 36))
    arr[3, 10] = np.nan
    arr[4, 20:] += 0.2  # a shift
    rebase = [None] * 20
    rebase[4] = 20
    batch = xmr_point_types_batch(arr, improvement="increase", rebase=rebase)
    for i in range(20):
        single = xmr(arr[i], improvement="increase", rebase=rebase[i])
        assert list(batch[i]) == list(single["point_type"])
    plain = xmr_point_types_batch(arr)
    assert plain.shape == (20, 36)
    assert list(plain[4]) == list(xmr(arr[4])["point_type"])
    full = xmr_batch(arr, improvement="decrease", rebase=rebase, target=0.5, baseline=10)
    for i in range(20):
        single = xmr(arr[i], improvement="decrease", rebase=rebase[i], target=0.5, baseline=10)
        np.testing.assert_array_equal(full["upper"][i], single["upper"].to_numpy())
        np.testing.assert_array_equal(full["centre"][i], single["centre"].to_numpy())
        assert full["variation"][i] == single.attrs["variation"]
        assert full["assurance"][i] == single.attrs["assurance"]
        assert full["provisional"][i] == single.attrs["provisional"] is True  # 10-point baseline


# --- a literal translation of NHSRplotthedots' R rules, as an independent reference ---------
# R/ptd_spc_standard.R and R/ptd_calculate_point_type.R (ptd_seven_point_one_side_mean,
# ptd_part_of_seven_trend, ptd_seven_point_trend, ptd_two_in_three, ptd_part_of_two_in_three,
# ptd_special_cause_type, ptd_point_type), loops and all, for series without gaps or rebases.


def _sign(x: float) -> int:
    return (x > 0) - (x < 0)


def reference_point_types(y: list[float], improvement: int, screen: bool,
                          fix_after: int | None) -> list[str] | None:
    """The R rules' point types, or None when the mean moving range is 0 (our divergence)."""
    n = len(y)
    fix_y = [v for i, v in enumerate(y) if fix_after is None or i < fix_after]
    mean = sum(fix_y) / len(fix_y)
    mr = [abs(fix_y[i] - fix_y[i - 1]) for i in range(1, len(fix_y))]
    amr = sum(mr) / len(mr)
    if screen:
        mr = [m for m in mr if m < 3.267 * amr]
        amr = sum(mr) / len(mr) if mr else 0.0
    if amr == 0:
        return None
    lpl, upl = mean - 2.66 * amr, mean + 2.66 * amr
    nlpl, nupl = mean - 2 * (2.66 / 3) * amr, mean + 2 * (2.66 / 3) * amr
    outside = [v > upl or v < lpl for v in y]
    rtm = [_sign(v - mean) for v in y]
    close = [not o and (v < nlpl or v > nupl) for v, o in zip(y, outside, strict=True)]

    def seven_one_side(v: list[int]) -> list[int]:
        vp = [0] * 6 + v
        return [int(all(vp[i] == vp[i - k] for k in range(1, 7)) and vp[i] != 0)
                for i in range(6, n + 6)]

    def part_of_seven(v: list[int]) -> list[int]:
        vp = v + [0] * 6
        return [int(any(abs(vp[i + k]) == 1 for k in range(7))) for i in range(n)]

    def seven_trend(v: list[float]) -> list[int]:
        if n < 7:
            return [0] * n
        out = [0] * 6
        for i in range(6, n):
            d = [_sign(v[i - k] - v[i - k - 1]) for k in range(6)]
            out.append(1 if all(x == 1 for x in d) else -1 if all(x == -1 for x in d) else 0)
        return out

    def two_in_three(v: list[int], r: list[int]) -> list[int]:
        vp, rp = [0, 0] + v + [0, 0], [0, 0] + r + [0, 0]
        return [int(any(sum(vp[i + a:i + a + 3]) >= 2 and abs(sum(rp[i + a:i + a + 3])) == 3
                        for a in range(3))) for i in range(n)]

    trend = part_of_seven(seven_trend(y))
    two = [int(t == 1 and c) for t, c in zip(two_in_three([int(c) for c in close], rtm), close,
                                            strict=True)]
    side = part_of_seven(seven_one_side(rtm))
    sdy = [_sign(y[i + 1] - y[i]) for i in range(n - 1)]
    nxt = trend[1:] + [0]
    sdy = [(sdy + sdy[-1:])[i] if (nxt[i] and trend[i]) else ([0] + sdy)[i] for i in range(n)]
    types = []
    for i in range(n):
        if outside[i]:
            v = 1 if rtm[i] == 1 else -1
        elif trend[i]:
            v = 1 if sdy[i] == 1 else -1
        elif two[i] or side[i]:
            v = 1 if rtm[i] > 0 else -1
        else:
            v = 0
        if improvement == 0:
            types.append({1: HIGH, -1: LOW, 0: CC}[v])
        else:
            types.append({1: IMP, -1: CON, 0: CC}[v * improvement])
    return types


@given(
    y=st.lists(st.integers(0, 6), min_size=2, max_size=40),
    improvement=st.sampled_from(["increase", "decrease", "neutral"]),
    screen=st.booleans(),
    fix_after=st.one_of(st.none(), st.integers(2, 30)),
)
@settings(max_examples=400, deadline=None)
def test_matches_literal_translation_of_nhsrplotthedots(
    y: list[int], improvement: str, screen: bool, fix_after: int | None
) -> None:
    fix_y = y if fix_after is None else y[:fix_after]
    assume(len(set(fix_y)) > 1)
    sign = {"increase": 1, "decrease": -1, "neutral": 0}[improvement]
    expected = reference_point_types([float(v) for v in y], sign, screen, fix_after)
    assume(expected is not None)  # mean moving range 0 is our documented divergence
    got = xmr([float(v) for v in y], improvement=improvement, screen_outliers=screen,
              baseline=fix_after)
    assert list(got["point_type"]) == expected


@given(
    y=st.lists(st.one_of(st.floats(-1e6, 1e6), st.just(float("nan"))), max_size=40),
    rebase=st.lists(st.integers(0, 45), max_size=3),
    baseline=st.one_of(st.none(), st.integers(1, 20)),
)
@settings(max_examples=200, deadline=None)
def test_limits_symmetric_and_rows_kept(y: list[float], rebase: list[int],
                                        baseline: int | None) -> None:
    df = xmr(y, rebase=rebase, baseline=baseline)
    assert len(df) == len(y)
    ok = df["upper"].notna()
    np.testing.assert_allclose((df["upper"] - df["centre"])[ok], (df["centre"] - df["lower"])[ok],
                               rtol=1e-9, atol=1e-6)
    assert (df["upper"][ok] >= df["lower"][ok]).all()
    missing = df["value"].isna()
    assert df["point_type"][missing].isna().all()
    assert set(df["point_type"][~missing]) <= set(POINT_TYPES)
