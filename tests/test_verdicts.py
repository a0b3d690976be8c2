"""metrics.verdicts.kpi_verdicts and combine: one verdict per KPI for a view (issue 12)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from metrics.disclosure import apply_panel
from metrics.kpis import compute_kpis
from metrics.load import load_dataset
from metrics.registry import get_kpi
from metrics.verdicts import VERDICT_COLUMNS, VERDICTS, combine, kpi_verdicts
from tests.kpi_fixtures import case, dataset

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
IMP, CON = "special_cause_improvement", "special_cause_concern"


@pytest.mark.parametrize(("status", "provisional", "spc", "change", "expected"), [
    ("no_data", False, None, "not_comparable", "no_data"),
    ("insufficient", False, IMP, "better", "insufficient"),
    ("suppressed", False, None, "not_comparable", "insufficient"),
    ("ok", True, IMP, "better", "maturing"),
    ("ok", False, IMP, "worse", "mixed"),
    ("ok", False, CON, "better", "mixed"),
    ("ok", False, IMP, "no_clear_change", "improving"),
    ("ok", False, "common_cause", "better", "improving"),
    ("ok", False, None, "better", "improving"),
    ("ok", False, IMP, "better", "improving"),
    ("ok", False, CON, "not_tested", "deteriorating"),
    ("ok", False, "common_cause", "worse", "deteriorating"),
    ("ok", False, "common_cause", "no_clear_change", "no_clear_change"),
    ("ok", False, "common_cause", "not_comparable", "no_clear_change"),
    ("ok", False, None, "not_tested", "no_clear_change"),
    # neutral KPIs: a direction but no improvement; opposite directions are mixed
    ("ok", False, "special_cause_neutral_high", "no_clear_change", "no_clear_change"),
    ("ok", False, "special_cause_neutral_high", "lower", "mixed"),
    ("ok", False, "common_cause", "higher", "no_clear_change"),
])
def test_combination_rule(status, provisional, spc, change, expected):
    assert combine(status, provisional, spc, change) == expected


def _charges(force: str, month: str, charged: int, total: int) -> list[dict]:
    return [case(force=force, recorded="2023-01-10", outcome_code=1 if i < charged else 14,
                 outcome_date=f"{month}-15") for i in range(total)]


@pytest.fixture(scope="module")
def built():
    """Alpha: charge rate 10/60 a quarter before, 30/60 in the window (2024-07..09)."""
    rows = []
    for m in ("2024-04", "2024-05", "2024-06"):
        rows += _charges("Alpha", m, 3 + (m == "2024-04"), 20)
    for m in ("2024-07", "2024-08", "2024-09"):
        rows += _charges("Alpha", m, 10, 20)
    return dataset(rows, as_at="2025-12-31")


def test_one_row_per_kpi_with_the_contracted_columns(built):
    v = kpi_verdicts(built, "2024-07", "2024-09", force="Alpha")
    assert tuple(v.columns) == VERDICT_COLUMNS
    assert v["kpi_id"].is_unique
    assert set(v["verdict"]) <= set(VERDICTS)


def test_a_real_rise_is_tested_and_improving(built):
    v = kpi_verdicts(built, "2024-07", "2024-09", force="Alpha").set_index("kpi_id")
    row = v.loc["charge_rate"]
    assert row["value"] == pytest.approx(0.5) and row["compare_value"] == pytest.approx(10 / 60)
    assert row["test"] == "two_proportion_z"
    chi2 = sps.chi2_contingency([[30, 30], [10, 50]], correction=False)
    assert row["p_value"] == pytest.approx(chi2.pvalue, rel=1e-9)
    assert row["change_verdict"] == "better"
    assert row["verdict"] == "improving"
    # a KPI with no data in the export says so
    assert v.loc["victim_device_24h", "verdict"] == "no_data"


def test_a_maturing_window_says_when_it_is_final():
    # the cohort charge rate matures over 365 days: with as-at a month after the window it
    # is provisional, whatever its signals
    rows = [case(force="Alpha", recorded="2024-08-10", outcome_code=1 if i < 4 else None,
                 outcome_date="2024-09-20" if i < 4 else None) for i in range(20)]
    young = dataset(rows, as_at="2024-10-31")
    kpi = get_kpi("charge_rate_cohort")
    v = kpi_verdicts(young, "2024-07", "2024-09", force="Alpha").set_index("kpi_id")
    row = v.loc["charge_rate_cohort"]
    assert bool(row["provisional"]) is True
    assert row["verdict"] == "maturing"
    assert row["final_on"] == date(2024, 9, 30) + timedelta(days=kpi.maturity_days)
    assert row["change_verdict"] == "not_comparable" and np.isnan(row["p_value"])


@pytest.fixture(scope="module")
def sample():
    return load_dataset(SAMPLE)


def test_panel_verdicts_work_from_the_disclosed_figures(sample):
    force = "Gwent Police"
    v = kpi_verdicts(sample, "2026-07", "2026-09", force=force, audience="panel")
    shown = apply_panel(compute_kpis(sample, "2026-07", "2026-09", forces=[force]))
    shown = shown.set_index("kpi_id").loc[v["kpi_id"]]
    assert v["status"].tolist() == shown["status"].astype(str).tolist()
    np.testing.assert_allclose(v["value"].to_numpy(float), shown["value"].to_numpy(float))
    hidden = v[v["status"] == "suppressed"]
    assert len(hidden) and (hidden["verdict"] == "insufficient").all()
    assert hidden["p_value"].isna().all()
    assert (hidden["change_verdict"] == "not_comparable").all()


def test_sample_default_view_q_values_are_bh_per_force(sample):
    v = kpi_verdicts(sample, "2026-07", "2026-09", force="All forces")
    tested = v["p_value"].notna()
    np.testing.assert_allclose(v.loc[tested, "q_value"],
                               sps.false_discovery_control(v.loc[tested, "p_value"]))
    # better/worse only where q <= 0.05
    labelled = v["change_verdict"].isin(["better", "worse", "higher", "lower"])
    assert (v.loc[labelled, "q_value"] <= 0.05).all()
    # a verdict other than no_clear_change always has evidence behind it
    moving = v["verdict"].isin(["improving", "deteriorating", "mixed"])
    assert (v.loc[moving, "spc_point_type"].isin([IMP, CON]) | labelled[moving]).all()


def _monthly_charges(force: str, months: pd.PeriodIndex, rates: list[float],
                     total: int = 40) -> list[dict]:
    rows = []
    for month, rate in zip(months, rates, strict=True):
        rows += _charges(force, str(month), round(rate * total), total)
    return rows


def test_spc_chart_rebases_at_adoption_and_leaves_maturing_months_out():
    from metrics.verdicts import spc_chart
    from tests.kpi_fixtures import frame

    months = pd.period_range("2022-01", "2024-12", freq="M")  # 36 months
    rates = [0.2, 0.25] * 10 + [0.5, 0.55] * 8  # a step up at adoption (month 21)
    forces = frame([{"force": "Alpha", "soteria_adoption_date": "2023-09-01",
                     "cohort": "national"}], dates=("soteria_adoption_date",),
                   categories=("force", "cohort"))
    # as-at 20 Dec 2024: December is not over, so its charge rate is still provisional
    ds = dataset(_monthly_charges("Alpha", months, rates), as_at="2024-12-20", forces=forces)
    chart = spc_chart(ds, "charge_rate", "Alpha", "2024-12")
    assert len(chart) == 36 and chart.attrs["method"] == "laney"
    assert bool(chart["provisional"].iloc[-1]) and chart["point_type"].iloc[-1] is None
    assert chart.attrs["verdict_month"] == pd.Timestamp("2024-11-01")
    assert chart["segment_start"].iloc[-1] == pd.Timestamp("2023-09-01")
    # each segment alternates around its own centre: no special cause once rebased
    assert set(chart["point_type"].dropna()) == {"common_cause"}
    assert chart["centre"].iloc[0] == pytest.approx(0.225)
    # p-bar after adoption pools the 15 final months (8 at 20/40, 7 at 22/40): the maturing
    # December (22/40) is left out of it
    assert chart["centre"].iloc[30] == pytest.approx((8 * 20 + 7 * 22) / (15 * 40))
    assert bool(chart["limits_provisional"].iloc[30]) is False  # 15 final points >= 13
    # kpis --by month carries the same chart, empty for the maturing month
    table = compute_kpis(ds, "2022-01", "2024-12", by="month", forces=["Alpha"],
                         kpi_ids=["charge_rate"])
    assert table["spc"].iloc[-1] is None
    assert table["spc"].iloc[:-1].tolist() == chart["point_type"].iloc[:-1].tolist()


def test_spc_chart_without_rebase_flags_the_step_and_the_verdict_follows():
    from metrics.verdicts import spc_chart

    months = pd.period_range("2022-01", "2024-12", freq="M")
    rates = [0.2, 0.25] * 12 + [0.5] * 12  # limits fixed on the first 24 months
    ds = dataset(_monthly_charges("Alpha", months, rates), as_at="2025-06-30")
    chart = spc_chart(ds, "charge_rate", "Alpha", "2024-12")
    assert set(chart["point_type"].iloc[24:]) == {IMP}
    assert chart["centre"].iloc[-1] == pytest.approx(0.225)
    v = kpi_verdicts(ds, "2024-10", "2024-12", force="Alpha").set_index("kpi_id")
    assert v.loc["charge_rate", "spc_point_type"] == IMP
    assert v.loc["charge_rate", "spc_evidence"] == "above the process limits for 12 months"
    # the last two quarters are both at 50%: no tested change, yet SPC says improving
    assert v.loc["charge_rate", "change_verdict"] == "no_clear_change"
    assert v.loc["charge_rate", "verdict"] == "improving"


@pytest.mark.parametrize(("values", "words"), [
    ([10, 11] * 8 + [30, 31], "above the process limits for 2 months"),
    ([11, 10] * 8 + [10.6, 10.9, 11.2, 11.5, 11.8, 12.1, 12.4], "rising for 8 months in a row"),
    ([11, 10] * 8 + [10.6, 10.7, 10.6, 10.8, 10.6, 10.7, 10.6, 10.8], "8 months in a row above "
                                                                       "the average"),
    ([10, 11] * 8 + [12.8, 10.6, 12.8], "2 of the last 3 months close to the upper process "
                                        "limit"),
    ([10, 11] * 8, "within the process limits, no unusual pattern"),
])
def test_spc_evidence_names_the_rule_in_plain_words(values, words):
    from metrics.stats import spc_monitor
    from metrics.verdicts import _evidence

    y = np.asarray(values, dtype=float)
    res = spc_monitor(y[None, :], improvement="increase", baseline=16)  # limits: 10.5 +- 2.66
    types = list(res["point_type"][0])
    assert _evidence(types, y, res["upper"][0], res["lower"][0], res["centre"][0], False,
                     16) == words


def test_a_chart_whose_latest_final_month_is_before_the_window_does_not_drive_the_verdict():
    months = pd.period_range("2023-01", "2024-06", freq="M")
    rows = _monthly_charges("Alpha", months, [0.2, 0.25] * 7 + [0.8] * 4)  # a late jump
    for m in ("2024-10", "2024-11", "2024-12"):  # 4 outcomes a month: each month gated
        rows += _charges("Alpha", m, 1, 4)
    ds = dataset(rows, as_at="2025-06-30")
    row = kpi_verdicts(ds, "2024-10", "2024-12", force="Alpha").set_index("kpi_id").loc[
        "charge_rate"]
    assert row["status"] == "ok" and row["n"] == 12  # the window passes its gate
    assert row["spc_point_type"] == IMP and row["spc_month"] == pd.Timestamp("2024-06-01")
    assert row["spc_evidence"].endswith("(latest final month Jun 2024, before the window)")
    assert row["change_verdict"] == "not_comparable"  # nothing in Jul-Sep 2024
    assert row["verdict"] == "no_clear_change"


def test_spc_points_do_not_depend_on_row_order(sample):
    from metrics.verdicts import adoption_months, spc_points

    ids = ["charge_rate", "days_to_charge", "orders_granted"]
    table = compute_kpis(sample, "2023-10", "2026-09", by="month", kpi_ids=ids)
    kpis = {k: get_kpi(k) for k in ids}
    ordered = spc_points(table, kpis, adoption_months(sample))
    assert ordered["point_type"].fillna("").tolist() == table["spc"].fillna("").tolist()
    shuffled = table.sample(frac=1.0, random_state=4)
    again = spc_points(shuffled, kpis, adoption_months(sample)).loc[table.index]
    assert again["point_type"].fillna("").tolist() == ordered["point_type"].fillna("").tolist()
    np.testing.assert_allclose(again["upper"], ordered["upper"])
