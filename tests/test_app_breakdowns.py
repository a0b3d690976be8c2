"""Breakdowns by case fields (metrics.breakdowns) and their panel disclosure control."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from metrics.breakdowns import BREAKDOWN_KPIS, DIMENSIONS, compute_breakdown, disclose_breakdown
from metrics.kpis import compute_kpis
from metrics.load import load_dataset
from metrics.registry import STATIC_KPIS


@pytest.fixture(scope="module")
def dataset(small_export):
    return load_dataset(small_export)


def test_group_numerators_and_denominators_add_up_to_the_force_total(dataset) -> None:
    table = compute_breakdown(dataset, "2020-01", "2025-12", "victim_sex",
                              force="Kent Police", kpi_ids=["charge_rate_cohort"])
    total = compute_kpis(dataset, "2020-01", "2025-12", forces=["Kent Police"],
                         kpi_ids=["charge_rate_cohort"]).iloc[0]
    assert table["denominator"].sum() == total["denominator"]
    assert table["numerator"].sum() == total["numerator"]
    assert "Not recorded" in set(table["group"])  # missing sex is a group of its own


def test_groups_are_ordered_by_cases_recorded_in_the_window(dataset) -> None:
    table = compute_breakdown(dataset, "2025-01", "2025-12", "offence_group",
                              force="All forces", kpi_ids=["charge_rate_cohort"])
    assert list(table["denominator"]) == sorted(table["denominator"], reverse=True)


@pytest.mark.parametrize("kpi_id", ["repeat_suspect_share", "orders_granted",
                                    "caseload_per_investigator", "survey_felt_believed"])
def test_kpis_whose_meaning_a_group_would_change_are_refused(dataset, kpi_id) -> None:
    assert kpi_id not in BREAKDOWN_KPIS
    with pytest.raises(ValueError):
        compute_breakdown(dataset, "2025-01", "2025-12", "team", force="All forces",
                          kpi_ids=[kpi_id])


def test_unknown_dimension_is_refused(dataset) -> None:
    with pytest.raises(ValueError):
        compute_breakdown(dataset, "2025-01", "2025-12", "victim_postcode", force="All forces")


@pytest.mark.parametrize("dimension", list(DIMENSIONS))
def test_panel_breakdown_has_no_count_from_1_to_7_and_only_rounded_counts(dataset, dimension):
    ids = ["charge_rate", "charge_rate_cohort", "s63g_applications", "days_to_charge"]
    raw = compute_breakdown(dataset, "2026-07", "2026-09", dimension, force="Gwent Police",
                            kpi_ids=ids)
    shown = disclose_breakdown(raw, STATIC_KPIS)
    for col in ("numerator", "denominator", "n"):
        values = shown[col].dropna().to_numpy()
        assert not ((values >= 1) & (values <= 7)).any(), col
        assert all(v % 5 == 0 for v in values), col
    hidden = shown["status"] == "suppressed"
    assert shown.loc[hidden, "value"].isna().all()
    rates = shown[(shown["kpi_id"] == "charge_rate") & (shown["status"] == "ok")]
    for row in rates.itertuples():  # rates come from the rounded counts
        assert math.isclose(row.value, row.numerator / row.denominator)


def test_panel_breakdown_hides_a_group_that_the_total_would_give_away() -> None:
    kpi = STATIC_KPIS["charge_rate_cohort"]
    table = pd.DataFrame({
        "kpi_id": kpi.id, "force": "X", "window_start": pd.Timestamp("2025-01-01"),
        "window_end": pd.Timestamp("2025-03-31"), "value": [0.5, 0.5, 0.5],
        "numerator": [20.0, 3.0, 40.0], "denominator": [40.0, 6.0, 80.0], "n": [40.0, 6.0, 80.0],
        "ci_low": 0.4, "ci_high": 0.6, "status": "ok", "dimension": "victim_sex",
        "group": ["F", "M", "Not recorded"],
    })
    shown = disclose_breakdown(table, {kpi.id: kpi}).set_index("group")
    assert shown.loc["M", "status"] == "suppressed"
    assert (shown["status"] == "suppressed").sum() >= 2  # secondary suppression
