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


def test_breakdown_kpis_read_only_the_cases() -> None:
    """A group's restricted export carries only ``cases``: every KPI offered for a breakdown
    must read no other contract table (``all_cases`` would see only the group: excluded)."""
    import re

    from metrics.contract import TABLES
    from metrics.registry import get_kpi

    others = [t.name for t in TABLES if t.name != "cases"] + ["all_cases", "suspect_case_gaps",
                                                              "investigator_month_end_cases"]
    for kpi_id in BREAKDOWN_KPIS:
        sql = get_kpi(kpi_id).sql
        named = [t for t in others if re.search(rf"\b{t}\b", sql)]
        assert not named, (kpi_id, named)


def test_repeat_suspect_arrests_are_not_broken_down(dataset) -> None:
    """A suspect's earlier case may lie in another group, so the arrest rate of repeat
    suspects within one group would miss repeats: refused, like the share."""
    assert "repeat_suspect_arrest_rate" not in BREAKDOWN_KPIS
    with pytest.raises(ValueError):
        compute_breakdown(dataset, "2025-01", "2025-12", "victim_sex", force="All forces",
                          kpi_ids=["repeat_suspect_arrest_rate"])


def test_a_group_keeps_the_exports_as_at_date(dataset) -> None:
    """Maturing windows in a breakdown are the export's: the group's restricted export keeps
    the whole export's as-at date (not the latest date recorded within the group)."""
    from metrics.kpis import compute_kpis

    end = dataset.as_at.strftime("%Y-%m")  # the as-at month: final for maturity 0 only
    ids = ["charge_rate", "charge_rate_cohort", "needs_assessment_7d"]
    whole = compute_kpis(dataset, end, end, forces=["All forces"], kpi_ids=ids)
    expected = dict(zip(whole["kpi_id"], whole["provisional"], strict=True))
    assert not expected["charge_rate"] and expected["charge_rate_cohort"]
    # teams are small: many record nothing on the export's last day
    table = compute_breakdown(dataset, end, end, "team", force="All forces", kpi_ids=ids)
    assert table["group"].nunique() > 5
    for row in table.itertuples():
        assert row.provisional == expected[row.kpi_id], row


def _restricted(dataset, dimension: str, group: str, force: str, ids: list[str]) -> pd.DataFrame:
    """The group's figures the slow, obvious way: the cases restricted to the group."""
    from dataclasses import replace

    cases = dataset.cases
    values = cases[dimension].astype(object).where(cases[dimension].notna(), "Not recorded")
    sub = replace(dataset, tables={"cases": cases[values == group]}, scan=None,
                  known_as_at=dataset.as_at)
    return compute_kpis(sub, "2024-01", "2025-12", forces=[force], kpi_ids=ids)


@pytest.mark.parametrize("force", ["All forces", "Kent Police"])
def test_one_call_for_every_group_equals_restricting_the_cases(dataset, force) -> None:
    """Every group at once (each group standing in for a force) gives, cell for cell, what the
    cases restricted to that group give."""
    ids = ["charge_rate", "days_to_charge", "needs_assessment_7d", "s63g_applications"]
    table = compute_breakdown(dataset, "2024-01", "2025-12", "victim_age_band", force=force,
                              kpi_ids=ids)
    assert table["group"].nunique() >= 5
    for group, rows in table.groupby("group", sort=False):
        expected = _restricted(dataset, "victim_age_band", group, force, ids)
        got = rows.drop(columns=["dimension", "group"]).reset_index(drop=True)
        pd.testing.assert_frame_equal(got, expected.reset_index(drop=True))


def test_a_group_named_all_forces_is_still_its_own_group(export_copy) -> None:
    """A team literally called "All forces" cannot stand in for a force (the pooled row has
    that name): the breakdown then restricts the cases group by group, with the same result."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = export_copy / "cases.parquet"
    cases = pq.read_table(path)
    teams = cases.column("team").to_pylist()
    teams[::3] = ["All forces"] * len(teams[::3])  # every third case, across all years
    cases = cases.set_column(cases.schema.get_field_index("team"), "team",
                             pa.array(teams, pa.string()))
    pq.write_table(cases, path)
    ds = load_dataset(export_copy)
    table = compute_breakdown(ds, "2024-01", "2025-12", "team", force="All forces",
                              kpi_ids=["charge_rate"])
    mine = table[table["group"] == "All forces"].drop(columns=["dimension", "group"])
    expected = _restricted(ds, "team", "All forces", "All forces", ["charge_rate"])
    pd.testing.assert_frame_equal(mine.reset_index(drop=True), expected.reset_index(drop=True))
