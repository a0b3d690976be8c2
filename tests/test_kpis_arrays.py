"""The engine's vectorised building blocks against scalar references and brute force."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binomtest

from metrics.kpis import ALL_FORCES, compute_kpis
from metrics.kpis import _arrays as A
from metrics.kpis.engine import median_ci_ranks
from metrics.kpis.spc import rebase_positions
from metrics.stats import median_ci, wilson
from tests.kpi_fixtures import case, dataset, frame


@pytest.mark.parametrize(("k", "n"), [(0, 1), (1, 1), (0, 10), (3, 10), (10, 10), (7, 29),
                                      (15, 30), (693, 11586)])
def test_wilson_arrays_match_scalar_and_scipy(k, n):
    low, high = A.wilson_arrays(np.array([k]), np.array([n]))
    ref = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert low[0] == pytest.approx(ref.low, abs=1e-12)
    assert high[0] == pytest.approx(ref.high, abs=1e-12)
    assert (low[0], high[0]) == pytest.approx(wilson(k, n))


def test_wilson_arrays_undefined_cells():
    low, high = A.wilson_arrays(np.array([0.0, 5.0, -1.0]), np.array([0.0, 4.0, 4.0]))
    assert np.isnan(low).all() and np.isnan(high).all()


@given(st.lists(st.tuples(st.integers(0, 2), st.integers(-5, 40)), max_size=40))
@settings(max_examples=60, deadline=None)
def test_group_medians_match_numpy(items):
    keys = np.array([k for k, _ in items], dtype=np.int64)
    values = np.array([v for _, v in items], dtype=np.float64)
    med, count, low, high = A.group_medians(keys, values, 3, median_ci_ranks)
    order = np.argsort(values, kind="stable")
    presorted = A.group_medians(keys[order], values[order], 3, median_ci_ranks,
                                values_sorted=True)
    for got, want in zip(presorted, (med, count, low, high), strict=True):
        np.testing.assert_array_equal(got, want)
    for g in range(3):
        vals = values[keys == g]
        assert count[g] == len(vals)
        if len(vals) == 0:
            assert math.isnan(med[g])
            continue
        assert med[g] == np.median(vals)
        ref = median_ci(vals)
        assert (low[g], high[g]) == pytest.approx(ref, nan_ok=True)


@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c", None]), st.integers(0, 2000)),
                max_size=25))
@settings(max_examples=40, deadline=None)
def test_repeat_suspect_share_matches_brute_force(items):
    """The SQL's look-back flag (lag/lead over each suspect's cases) against the definition:
    another case of the same suspect recorded on the same day or up to 1,095 days before."""
    from tests.kpi_fixtures import case, dataset

    start = pd.Timestamp("2020-01-01")
    days = [start + pd.Timedelta(days=d) for _, d in items]
    rows = [case(recorded=str(day.date()), suspect_id=s)
            for (s, _), day in zip(items, days, strict=True)] or [case(recorded="2020-01-01")]
    table = compute_kpis(dataset(rows), "2020-01", "2025-06", by="month",
                         kpi_ids=["repeat_suspect_share"], forces=[ALL_FORCES])
    want = pd.Series(0.0, index=pd.period_range("2020-01", "2025-06", freq="M"))
    for i, (s, d) in enumerate(items):
        if s is not None and any(j != i and t == s and 0 <= d - e <= 1095
                                 for j, (t, e) in enumerate(items)):
            want[days[i].to_period("M")] += 1
    assert table["numerator"].tolist() == want.tolist()


def test_rebase_positions():
    first = pd.Period("2021-01", "M")
    adoption = {"A": pd.Period("2021-07", "M"), "B": pd.Period("2020-01", "M"),
                "C": pd.Period("2021-01", "M"), "D": pd.Period("2030-01", "M")}
    assert rebase_positions(["A", "B", "C", "D", "E"], first, 12, adoption) == [
        6, None, None, None, None]


def test_spc_rebased_at_adoption_and_empty_for_gated_months():
    # Alpha: 12 months alternating 10%/15%, then 12 alternating 50%/55% (adoption in month
    # 13); 20 outcomes a month
    rows = []
    for m in range(24):
        month = pd.Period("2022-01", "M") + m
        charged = (2 if m < 12 else 10) + m % 2
        for i in range(20):
            rows.append(case(recorded="2021-01-01", outcome_code=1 if i < charged else 14,
                             outcome_date=f"{month}-15"))
    rows.append(case(force="Beta", recorded="2021-01-01", outcome_code=1,
                     outcome_date="2022-01-10"))
    forces = frame([{"force": "Alpha", "soteria_adoption_date": "2023-01-01",
                     "cohort": "pathfinder"}],
                   dates=("soteria_adoption_date",), categories=("force", "cohort"))
    ds = dataset(rows, forces=forces)
    table = compute_kpis(ds, "2022-01", "2023-12", by="month", kpi_ids=["charge_rate"])
    final = ~table["provisional"]  # maturing months get no point type (issue 12)
    alpha = table[(table["force"] == "Alpha") & final]
    # rebased: each segment only alternates, so every point is common cause in its limits
    assert set(alpha["spc"]) == {"common_cause"}
    everyone = table[(table["force"] == "All forces") & final]
    # without a rebase the step up shows as special cause improvement after it
    assert (everyone["spc"].iloc[12:] == "special_cause_improvement").all()
    assert table.loc[~final, "spc"].isna().all()
    beta = table[table["force"] == "Beta"]
    assert beta["spc"].isna().all()  # gated (n = 1) or no data: no point type
    assert set(beta["status"]) == {"insufficient", "no_data"}


@pytest.mark.parametrize(("k", "n"), [(0, 43), (43, 43), (0, 1), (1, 1), (0, 3832), (5, 5)])
def test_wilson_bounds_at_no_and_all_successes_are_exactly_0_and_1(k, n):
    # the formula gives 0 (and 1) exactly, as scipy returns; in floating point it came out
    # 6.9e-18 for 0 of 43, which the CSV then printed as a lower bound of 6.938893903907228e-18
    from metrics.stats import wilson_vec

    ref = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    vec_low, vec_high = wilson_vec(np.array([k, 0]), np.array([n, 0]))
    arr_low, arr_high = A.wilson_arrays(np.array([k]), np.array([n]))
    for low, high in [wilson(k, n), (vec_low[0], vec_high[0]), (arr_low[0], arr_high[0])]:
        if k == 0:
            assert low == 0.0 == ref.low and high == pytest.approx(ref.high, abs=1e-12)
        if k == n:
            assert high == 1.0 == ref.high and low == pytest.approx(ref.low, abs=1e-12)
    assert np.isnan(vec_low[1]) and np.isnan(vec_high[1])
