"""Fair comparisons (issue 12): gated funnels, overdispersion only when phi > 1, and the
difference in differences around adoption (hand-built, and a placebo split on the sample)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from metrics.load import load_dataset
from metrics.stats import funnel_flags, funnel_overdispersion
from metrics.verdicts import FUNNEL_COLUMNS, before_after, funnel_points, funnel_table
from tests.kpi_fixtures import case, dataset, frame

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


def _outcomes(force: str, month: str, charged: int, total: int) -> list[dict]:
    return [case(force=force, recorded="2021-01-10", outcome_code=1 if i < charged else 14,
                 outcome_date=f"{month}-15") for i in range(total)]


def _forces(rows: list[tuple[str, str | None]]):
    return frame([{"force": f, "soteria_adoption_date": d, "cohort": "national"}
                  for f, d in rows], dates=("soteria_adoption_date",),
                 categories=("force", "cohort"))


def test_funnel_takes_only_forces_whose_value_passes_its_gate():
    rows = []
    for force, charged in (("A", 8), ("B", 10), ("C", 12), ("D", 9), ("E", 11)):
        rows += _outcomes(force, "2024-03", charged, 40)
    rows += _outcomes("Tiny", "2024-03", 3, 3)  # 100% from 3 outcomes: below the gate of 10
    ds = dataset(rows, as_at="2025-06-30")
    table = funnel_table(ds, "charge_rate", "2024-01", "2024-06")
    assert tuple(table.columns) == FUNNEL_COLUMNS
    assert set(table["force"]) == {"A", "B", "C", "D", "E"}
    assert table["target"].iloc[0] == pytest.approx(50 / 200)  # Tiny's cases not pooled in
    with pytest.raises(ValueError, match="not a proportion"):
        funnel_table(ds, "days_to_charge", "2024-01", "2024-06")


def test_no_widening_when_the_dispersion_ratio_is_at_most_one():
    # nine forces, binomial draws at 30%: phi = 0.93 < 1, yet k*phi > k - 1 gives tau2 > 0
    n = np.array([100, 150, 200, 250, 300, 350, 400, 450, 500], dtype=float)
    x = np.array([28, 43, 46, 71, 96, 88, 133, 127, 145], dtype=float)
    od = funnel_overdispersion(x, n)
    assert od["phi"] < 1 and od["tau2"] > 0  # the trap: the old "auto" rule widened here
    assert funnel_flags(x, n).attrs["overdispersion_used"] is True
    table = funnel_points([f"F{i}" for i in range(9)], x, n)
    assert not table["adjusted"].any() and (table["tau2"] == 0).all()
    plain = funnel_flags(x, n, overdispersion=False)
    np.testing.assert_allclose(table["lower_95"], plain["inner_lower"])
    np.testing.assert_allclose(table["upper_998"], plain["outer_upper"])


def test_widening_when_forces_really_vary():
    n = np.full(9, 400.0)
    x = np.array([40, 60, 80, 100, 120, 140, 160, 180, 200], dtype=float)
    table = funnel_points([f"F{i}" for i in range(9)], x, n)
    assert table["phi"].iloc[0] > 1 and table["adjusted"].all() and table["tau2"].iloc[0] > 0
    plain = funnel_flags(x, n, overdispersion=False)
    assert (table["upper_998"].to_numpy() > plain["outer_upper"].to_numpy()).all()
    assert set(table["position"]) <= {"within", "between_95_998", "outside"}


@pytest.fixture(scope="module")
def adopted():
    """Alpha adopts in Jan 2023: charge rate 20/100 in 2022, 40/100 in 2023. Beta never
    adopts: 100/500 -> 125/500. Gamma adopts in Jun 2023, inside Alpha's after period, so it
    is not a comparison force (its 0% -> 100% would swamp the estimate)."""
    rows = (_outcomes("Alpha", "2022-06", 20, 100) + _outcomes("Alpha", "2023-06", 40, 100)
            + _outcomes("Beta", "2022-06", 100, 500) + _outcomes("Beta", "2023-06", 125, 500)
            + _outcomes("Gamma", "2022-06", 0, 50) + _outcomes("Gamma", "2023-06", 50, 50))
    forces = _forces([("Alpha", "2023-01-01"), ("Beta", None), ("Gamma", "2023-06-01")])
    return dataset(rows, as_at="2025-06-30", forces=forces)


def test_difference_in_differences_on_the_hand_built_four_cells(adopted):
    t = before_after(adopted, "Alpha", kpi_ids=["charge_rate"]).set_index("kpi_id")
    row = t.loc["charge_rate"]
    assert row["comparison_forces"] == "Beta"
    assert str(row["split_month"].date()) == "2023-01-01"
    assert row["value_before"] == pytest.approx(0.2) and row["value_after"] == pytest.approx(0.4)
    assert row["comparison_change"] == pytest.approx(0.05)
    assert row["estimate"] == pytest.approx(0.15)
    se = math.sqrt(0.2 * 0.8 / 100 + 0.4 * 0.6 / 100 + 0.2 * 0.8 / 500 + 0.25 * 0.75 / 500)
    assert row["ci_low"] == pytest.approx(0.15 - 1.959963984540054 * se)
    assert row["method"] == "difference_in_differences"
    assert row["q_value"] == pytest.approx(row["p_value"])  # one KPI compared
    assert row["verdict"] == "likely_real"  # p = 0.023


def test_without_comparison_forces_the_change_is_labelled_uncontrolled(adopted):
    # without Beta the only other force, Gamma, adopted before Alpha's after period ended
    ds = dataset(list(adopted.tables["cases"][adopted.tables["cases"]["force"] != "Beta"]
                      .to_dict("records")), as_at="2025-06-30",
                 forces=_forces([("Alpha", "2023-01-01"), ("Gamma", "2022-01-01")]))
    row = before_after(ds, "Alpha", kpi_ids=["charge_rate"]).iloc[0]
    assert row["comparison_forces"] == ""
    assert row["method"] == "uncontrolled" and row["verdict"] == "no_comparison_group"
    assert row["estimate"] == pytest.approx(0.2)  # the plain change, shown as such
    assert math.isnan(row["q_value"])


def test_a_force_without_an_adoption_date_needs_a_split_month(adopted):
    with pytest.raises(ValueError, match="no Soteria adoption date"):
        before_after(adopted, "Beta")


def test_placebo_split_on_the_sample_is_not_likely_real_across_the_board():
    ds = load_dataset(SAMPLE)
    verdicts = []
    for force in ("Durham Constabulary", "Kent Police", "Metropolitan Police Service"):
        t = before_after(ds, force, at="2020-07")  # no force adopted before July 2021
        assert (t.loc[t["verdict"] != "insufficient", "method"]
                == "difference_in_differences").all()
        verdicts += t.loc[t["verdict"] != "insufficient", "verdict"].tolist()
    assert len(verdicts) >= 40
    assert verdicts.count("likely_real") <= 0.05 * len(verdicts)
