"""Cross-table rules that keep the rows (contract.INCONSISTENT): a bail breach "charged"."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa

from metrics.kpis import compute_kpis
from metrics.load import load_dataset
from tests.foundation_export import tables, write_export

D = date


def breaches(actions: list[tuple[str, str]]) -> pa.Table:
    """(order id, action) rows in February 2024, Durham."""
    return pa.table({
        "breach_id": [f"B{i:03d}" for i in range(len(actions))],
        "order_id": [o for o, _ in actions],
        "force": ["Durham Constabulary"] * len(actions),
        "breach_date": pa.array([D(2024, 2, 10)] * len(actions)),
        "action": [a for _, a in actions],
    })


def test_a_charged_bail_breach_is_a_warning_and_the_row_is_kept(tmp_path: Path) -> None:
    # O001 is pre-charge bail, O002 an SHPO (charging its breach is right)
    rows = [("O001", "charge"), ("O001", "charge"), ("O001", "arrest"), ("O002", "charge")]
    ds = load_dataset(write_export(tmp_path / "x", breaches=breaches(rows)))
    found = [p for p in ds.report.problems if p.rule == "bail_breach_charged"]
    assert len(found) == 1
    p = found[0]
    assert (p.severity, p.file, p.column, p.rows) == ("warning", "breaches.parquet", "action", 2)
    assert p.examples == ("B000", "B001")
    assert "rows kept" in p.message and "pre-charge bail" in p.message
    assert ds.report.usable
    assert len(ds.tables["breaches"]) == 4  # kept
    assert ds.report.rows_excluded.get("breaches", 0) == 0
    table = compute_kpis(ds, "2024-02", "2024-02", forces=["Durham Constabulary"],
                         kpi_ids=["bail_breach_arrest_rate", "order_breach_action_rate"])
    got = table.set_index("kpi_id")[["numerator", "denominator"]].to_dict("index")
    assert got["bail_breach_arrest_rate"] == {"numerator": 1, "denominator": 3}
    # the SHPO breach (the breach's own force column says Durham) is an order breach
    assert got["order_breach_action_rate"] == {"numerator": 1, "denominator": 1}


def test_no_warning_without_a_charged_bail_breach(tmp_path: Path) -> None:
    ds = load_dataset(write_export(tmp_path / "y"))
    assert not [p for p in ds.report.problems if p.rule == "bail_breach_charged"]
    assert tables()["breaches"].num_rows == len(ds.tables["breaches"])


def test_export_json_states_the_as_at_date(tmp_path: Path) -> None:
    folder = write_export(tmp_path / "z")
    latest = load_dataset(folder).as_at  # the latest recorded or outcome date
    assert latest == D(2025, 2, 1)
    (folder / "export.json").write_text('{"as_at": "2025-03-31"}')
    ds = load_dataset(folder)
    assert ds.as_at == D(2025, 3, 31)
    assert not [p for p in ds.report.problems if p.rule == "bad_export_json"]
    (folder / "export.json").write_text('{"as_at": "31/03/2025"}')
    ds = load_dataset(folder)
    assert ds.as_at == latest
    bad = [p for p in ds.report.problems if p.rule == "bad_export_json"]
    assert len(bad) == 1 and bad[0].severity == "warning" and ds.report.usable
    assert "export.json does not hold a valid as-at date" in bad[0].message


def test_an_as_at_date_before_the_data_or_still_to_come_is_warned_about(tmp_path: Path) -> None:
    folder = write_export(tmp_path / "w")  # cases run to 1 Feb 2025
    (folder / "export.json").write_text('{"as_at": "2025-01-15"}')
    ds = load_dataset(folder)
    assert ds.as_at == D(2025, 1, 15)  # still the date used
    before = [p for p in ds.report.problems if p.rule == "as_at_before_data"]
    assert len(before) == 1 and before[0].severity == "warning" and ds.report.usable
    assert before[0].message == (
        "export.json states the data as at 15 Jan 2025, but cases hold dates up to 01 Feb "
        "2025: the stated date is used, so windows ending after it are read as maturing and "
        "their last months may be incomplete.")
    (folder / "export.json").write_text('{"as_at": "2025-02-01"}')  # the latest date itself
    assert not [p for p in load_dataset(folder).report.problems
                if p.rule.startswith("as_at_")]
    (folder / "export.json").write_text('{"as_at": "2999-01-01"}')
    future = [p for p in load_dataset(folder).report.problems if p.rule == "as_at_in_future"]
    assert len(future) == 1 and "a date still to come" in future[0].message


def test_the_future_check_reads_the_day_it_is_given(tmp_path: Path) -> None:
    from metrics.load import Findings, check_export_json

    (tmp_path / "export.json").write_text('{"as_at": "2026-12-02"}')
    on_the_day, day_before = Findings(), Findings()
    check_export_json(tmp_path, on_the_day, today=D(2026, 12, 2))
    check_export_json(tmp_path, day_before, today=D(2026, 12, 1))
    assert not on_the_day.problems
    assert [p.rule for p in day_before.problems] == ["as_at_in_future"]
