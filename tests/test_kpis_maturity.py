"""Maturity (provisional windows), the as-at date from export.json, and kpi_items."""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
import pytest

from metrics.dataset import Dataset, ValidationReport
from metrics.kpis import ALL_FORCES, KpiInputError, compute_kpis, kpi_items
from metrics.registry import get_kpi
from tests.kpi_fixtures import case, cases_frame, dataset


def test_final_on_adds_maturity_days():
    kpi = get_kpi("needs_assessment_7d")
    assert kpi.maturity_days == 7
    assert kpi.final_on(date(2024, 3, 31)) == date(2024, 4, 7)
    assert kpi.final_on(pd.Timestamp("2024-03-31")) == date(2024, 4, 7)
    assert get_kpi("charge_rate").final_on(date(2024, 3, 31)) == date(2024, 3, 31)


@pytest.mark.parametrize(("as_at", "provisional"), [
    ("2024-04-06", True),   # final on 7 April: still maturing the day before
    ("2024-04-07", False),  # becomes final on the as-at date itself
    ("2024-04-08", False),
])
def test_window_becomes_final_on_the_as_at_date(as_at, provisional):
    rows = [case(recorded="2024-03-10", needs_assessment_date="2024-03-12")] * 1
    ds = dataset(rows, as_at=as_at)
    table = compute_kpis(ds, "2024-03", "2024-03", kpi_ids=["needs_assessment_7d",
                                                             "charge_rate"])
    flags = table.set_index(["kpi_id", "force"])["provisional"]
    assert bool(flags[("needs_assessment_7d", "Alpha")]) is provisional
    assert bool(flags[("needs_assessment_7d", ALL_FORCES)]) is provisional
    assert not flags[("charge_rate", "Alpha")]  # maturity 0, window ended before as-at


def test_maturity_zero_window_ending_after_as_at_is_provisional():
    ds = dataset([case(recorded="2024-03-10")], as_at="2024-03-20")
    table = compute_kpis(ds, "2024-03", "2024-03", kpi_ids=["charge_rate"])
    assert table["provisional"].all()


def test_as_at_from_export_json_else_latest_date(tmp_path):
    cf = cases_frame([case(recorded="2024-03-10", outcome_code=1, outcome_date="2024-05-02")])
    ds = Dataset(tables={"cases": cf}, report=ValidationReport(), source=tmp_path)
    assert ds.as_at == date(2024, 5, 2)
    (tmp_path / "export.json").write_text(json.dumps({"as_at": "2024-06-30"}))
    ds2 = Dataset(tables={"cases": cf}, report=ValidationReport(), source=tmp_path)
    assert ds2.as_at == date(2024, 6, 30)
    (tmp_path / "export.json").write_text("{not json")
    ds3 = Dataset(tables={"cases": cf}, report=ValidationReport(), source=tmp_path)
    assert ds3.as_at == date(2024, 5, 2)  # a broken file falls back, never raises


def test_kpi_items_are_the_median_items_of_the_window():
    rows = [
        case("Alpha", recorded="2024-01-01", outcome_code=1, outcome_date="2024-02-10"),  # 40
        case("Alpha", recorded="2024-01-05", outcome_code=1, outcome_date="2024-02-15"),  # 41
        case("Beta", recorded="2024-02-01", outcome_code=1, outcome_date="2024-02-03"),  # 2
        case("Beta", recorded="2024-02-01", outcome_code=9, outcome_date="2024-02-03"),  # NFA
        case("Beta", recorded="2024-01-01", outcome_code=1, outcome_date="2024-04-01"),  # out
    ]
    items = kpi_items(dataset(rows), "days_to_charge", "2024-02", "2024-03")
    assert list(items.columns) == ["force", "item"]
    got = sorted(zip(items["force"], items["item"], strict=True))
    assert got == sorted([("Alpha", 40.0), ("Alpha", 41.0), ("Beta", 2.0),
                          (ALL_FORCES, 40.0), (ALL_FORCES, 41.0), (ALL_FORCES, 2.0)])
    table = compute_kpis(dataset(rows), "2024-02", "2024-03", kpi_ids=["days_to_charge"])
    alpha = table[table["force"] == "Alpha"]
    assert alpha["n"].item() == 2
    only = kpi_items(dataset(rows), "days_to_charge", "2024-02", "2024-03", forces=["Beta"])
    assert only["item"].tolist() == [2.0]


def test_kpi_items_refuses_non_median_kpis():
    with pytest.raises(KpiInputError):
        kpi_items(dataset([case()]), "charge_rate", "2024-01", "2024-01")
    with pytest.raises(KpiInputError):
        kpi_items(dataset([case()]), "no_such_kpi", "2024-01", "2024-01")


def test_unknown_scope_is_an_input_error():
    with pytest.raises(KpiInputError):
        compute_kpis(dataset([case()]), "2024-01", "2024-01", scope="adults")
