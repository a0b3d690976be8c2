"""load_dataset and `python -m metrics validate`: one deliberately broken file per rule.

Each test builds a tiny export (tests/foundation_export.py), breaks one thing, and checks the
message (file, column, row count, example ids), the severity and the CLI exit code.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from metrics.__main__ import main
from metrics.load import export_fingerprint, load_dataset
from tests.foundation_export import replace_column, tables, write_export

D = date


def validate(folder: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Run the CLI; returns (exit code, stdout + stderr)."""
    code = main(["validate", str(folder)])
    out = capsys.readouterr()
    return code, out.out + out.err


def only(report, rule: str):
    """The single problem with this rule."""
    found = [p for p in report.problems if p.rule == rule]
    assert len(found) == 1, report.problems
    return found[0]


# --- a valid export ---------------------------------------------------------------------------


def test_valid_export_loads_with_contract_dtypes(tmp_path: Path) -> None:
    ds = load_dataset(write_export(tmp_path / "ok"))
    assert ds.report.problems == ()
    assert ds.report.usable
    assert set(ds.tables) == {"cases", "victim_updates", "orders", "breaches", "devices",
                              "survey_responses", "forces", "workforce"}
    c = ds.cases
    assert str(c["case_id"].dtype) == "string"
    assert isinstance(c["force"].dtype, pd.CategoricalDtype)
    assert c["recorded_date"].dtype == "datetime64[ns]"
    assert str(c["outcome_code"].dtype) == "Int64"
    assert str(c["suspect_arrested"].dtype) == "boolean"
    assert c["outcome_code"].tolist()[:2] == [1, 14] and pd.isna(c["outcome_code"][2])
    # allowed-value categories carry the whole allowed list, in contract order
    assert list(c["victim_sex"].cat.categories) == ["female", "male", "other"]
    d = ds.get("devices")
    assert str(d["seized_at"].dtype) == "datetime64[ns, Europe/London]"
    assert str(ds.get("workforce")["in_post_fte"].dtype) == "float64"
    assert str(ds.get("workforce")["headcount"].dtype) == "float64"
    s = ds.get("survey_responses")
    assert str(s["q_kept_informed"].dtype) == "Int64"
    assert str(s["q_closure_met_in_person"].dtype) == "boolean"
    assert ds.report.rows_read["cases"] == 4 and ds.report.rows_excluded["cases"] == 0
    assert ds.as_at == date(2025, 2, 1)


def test_valid_export_cli_exit_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = validate(write_export(tmp_path / "ok"), capsys)
    assert code == 0
    assert "No problems found." in out and "Usable: yes" in out


def test_extra_columns_are_never_loaded(tmp_path: Path) -> None:
    cases = tables()["cases"].append_column("victim_name", pa.array(["x", "y", "z", "w"]))
    cases = cases.append_column("notes", pa.array(["free text"] * 4))
    ds = load_dataset(write_export(tmp_path / "x", cases=cases))
    assert ds.report.usable
    assert "victim_name" not in ds.cases.columns and "notes" not in ds.cases.columns


def test_missing_optional_file_is_simply_absent(tmp_path: Path) -> None:
    ds = load_dataset(write_export(tmp_path / "x", devices=None, breaches=None))
    assert ds.report.problems == ()
    assert ds.get("devices") is None and ds.get("breaches") is None and "cases" in ds.tables


def test_missing_optional_column_is_a_warning_and_loaded_empty(tmp_path: Path) -> None:
    cases = tables()["cases"].drop_columns(["s63g_applied_date"])
    ds = load_dataset(write_export(tmp_path / "x", cases=cases))
    p = only(ds.report, "missing_optional_column")
    assert p.severity == "warning" and p.column == "s63g_applied_date"
    assert ds.cases["s63g_applied_date"].isna().all()
    assert ds.cases["s63g_applied_date"].dtype == "datetime64[ns]"


# --- folder and file level errors -----------------------------------------------------------


def test_missing_folder_is_one_line_exit_2(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    code, out = validate(tmp_path / "nope", capsys)
    assert code == 2
    assert out.strip().count("\n") == 0 and "does not exist" in out
    ds = load_dataset(tmp_path / "nope")
    assert not ds.report.usable and ds.tables == {}
    assert only(ds.report, "folder_missing").severity == "error"


def test_missing_cases_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = write_export(tmp_path / "x", cases=None)
    code, out = validate(folder, capsys)
    assert code == 1
    assert "cases.parquet is missing" in out
    assert only(load_dataset(folder).report, "file_missing").file == "cases.parquet"


def test_empty_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = write_export(tmp_path / "x")
    (folder / "cases.parquet").write_bytes(b"")
    code, out = validate(folder, capsys)
    assert code == 1
    assert "cases.parquet is empty (0 bytes)" in out
    ds = load_dataset(folder)
    assert "cases" not in ds.tables and not ds.report.usable


def test_truncated_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = write_export(tmp_path / "x")
    data = (folder / "victim_updates.parquet").read_bytes()
    (folder / "victim_updates.parquet").write_bytes(data[: len(data) // 2])
    code, out = validate(folder, capsys)
    assert code == 1
    assert "victim_updates.parquet is truncated or damaged" in out
    ds = load_dataset(folder)
    assert "victim_updates" not in ds.tables  # a refused file is absent
    assert "cases" in ds.tables
    assert only(ds.report, "truncated").severity == "error"


def test_damaged_footer(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = write_export(tmp_path / "x")
    data = bytearray((folder / "orders.parquet").read_bytes())
    data[-40:-8] = b"\x07" * 32  # footer metadata garbled, magic bytes intact
    (folder / "orders.parquet").write_bytes(bytes(data))
    code, out = validate(folder, capsys)
    assert code == 1
    assert "orders.parquet could not be read" in out
    assert "Traceback" not in out


def test_csv_renamed_parquet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = write_export(tmp_path / "x")
    (folder / "cases.parquet").write_text("case_id,force\nC001,Durham Constabulary\n")
    code, out = validate(folder, capsys)
    assert code == 1
    assert "cases.parquet is not a Parquet file" in out and "CSV" in out


def test_missing_required_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = tables()["cases"].drop_columns(["recorded_date"])
    folder = write_export(tmp_path / "x", cases=cases)
    code, out = validate(folder, capsys)
    assert code == 1
    assert "cases.parquet lacks the required column recorded_date" in out
    p = only(load_dataset(folder).report, "missing_column")
    assert (p.file, p.column, p.severity) == ("cases.parquet", "recorded_date", "error")


def test_wrong_type(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = replace_column(tables()["cases"], "recorded_date",
                           ["2024-01-05", "2024-02-01", "2024-03-01", "2024-04-01"])
    folder = write_export(tmp_path / "x", cases=cases)
    code, out = validate(folder, capsys)
    assert code == 1
    assert "cases.parquet column recorded_date should hold a date but holds text" in out
    p = only(load_dataset(folder).report, "wrong_type")
    assert p.rows == 4 and p.severity == "error"


def test_fractional_number_in_int_column_is_wrong_type(tmp_path: Path) -> None:
    cases = replace_column(tables()["cases"], "outcome_code", [1.0, 14.5, None, 15.0])
    p = only(load_dataset(write_export(tmp_path / "x", cases=cases)).report, "wrong_type")
    assert p.column == "outcome_code" and p.rows == 1


def test_whole_floats_are_accepted_for_int_columns(tmp_path: Path) -> None:
    # pandas writes a nullable integer column as float64 with NaN
    cases = replace_column(tables()["cases"], "outcome_code", [1.0, 14.0, None, 15.0])
    ds = load_dataset(write_export(tmp_path / "x", cases=cases))
    assert ds.report.problems == ()
    assert ds.cases["outcome_code"].tolist()[:2] == [1, 14]


def test_duplicate_ids(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = replace_column(tables()["cases"], "case_id", ["C001", "C002", "C002", "C004"])
    folder = write_export(tmp_path / "x", cases=cases)
    code, out = validate(folder, capsys)
    assert code == 1
    p = only(load_dataset(folder).report, "duplicate_id")
    assert (p.file, p.column, p.rows, p.examples) == ("cases.parquet", "case_id", 2, ("C002",))
    assert "2 rows repeat an id" in out and "C002" in out


def test_duplicate_ids_in_optional_file(tmp_path: Path) -> None:
    devices = replace_column(tables()["devices"], "device_id", ["D001", "D001"])
    ds = load_dataset(write_export(tmp_path / "x", devices=devices))
    assert not ds.report.usable and "devices" not in ds.tables
    assert only(ds.report, "duplicate_id").examples == ("D001",)


def test_cases_with_no_rows_is_refused(tmp_path: Path) -> None:
    cases = tables()["cases"].slice(0, 0)
    ds = load_dataset(write_export(tmp_path / "x", cases=cases))
    assert not ds.report.usable
    assert only(ds.report, "no_rows").file == "cases.parquet"


# --- row level warnings -----------------------------------------------------------------------


def test_unknown_category_in_required_column_excludes_rows(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = replace_column(tables()["cases"], "offence_group",
                           ["rape", "Rape", "rape", "other_sexual_offence"])
    folder = write_export(tmp_path / "x", cases=cases)
    code, out = validate(folder, capsys)
    assert code == 0
    ds = load_dataset(folder)
    p = only(ds.report, "unknown_category")
    assert (p.severity, p.column, p.rows, p.examples) == ("warning", "offence_group", 1,
                                                         ("C002",))
    assert "1 row has a value outside the allowed list" in p.message and "excluded" in p.message
    assert ds.cases["case_id"].tolist() == ["C001", "C003", "C004"]
    assert ds.report.rows_excluded["cases"] == 1
    # its victim update and device referred to an excluded case: excluded in turn
    assert "C002" not in ds.get("devices")["case_id"].tolist()


def test_unknown_category_in_nullable_column_is_blanked(tmp_path: Path) -> None:
    cases = replace_column(tables()["cases"], "victim_sex", ["F", "female", None, "male"])
    ds = load_dataset(write_export(tmp_path / "x", cases=cases))
    p = only(ds.report, "unknown_category")
    assert p.rows == 1 and p.examples == ("C001",) and "victim_sex treated as not recorded" in (
        p.message)
    assert len(ds.cases) == 4 and pd.isna(ds.cases["victim_sex"][0])
    assert ds.report.rows_excluded["cases"] == 0


def test_unknown_outcome_code_excludes_rows(tmp_path: Path) -> None:
    cases = replace_column(tables()["cases"], "outcome_code", pa.array([1, 99, None, 15],
                                                                       pa.int32()))
    ds = load_dataset(write_export(tmp_path / "x", cases=cases))
    p = only(ds.report, "unknown_category")
    assert p.column == "outcome_code" and p.examples == ("C002",) and "1-22" in p.message
    assert len(ds.cases) == 3


def test_missing_required_value_excludes_rows(tmp_path: Path) -> None:
    cases = replace_column(tables()["cases"], "recorded_date",
                           pa.array([D(2024, 1, 5), None, D(2024, 3, 1), D(2024, 4, 1)]))
    ds = load_dataset(write_export(tmp_path / "x", cases=cases))
    p = only(ds.report, "missing_value")
    assert (p.column, p.rows, p.examples) == ("recorded_date", 1, ("C002",))
    assert len(ds.cases) == 3


def test_outcome_date_before_recorded_date(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    cases = replace_column(tables()["cases"], "outcome_date",
                           pa.array([D(2025, 2, 1), D(2024, 1, 31), None, D(2024, 9, 1)]))
    folder = write_export(tmp_path / "x", cases=cases)
    code, out = validate(folder, capsys)
    assert code == 0
    assert ("cases.parquet column outcome_date: 1 row has an outcome date before the recorded "
            "date; excluded (e.g. C002)") in out
    ds = load_dataset(folder)
    assert only(ds.report, "outcome_before_recorded").severity == "warning"
    assert "C002" not in ds.cases["case_id"].tolist()


def test_outcome_code_without_outcome_date(tmp_path: Path) -> None:
    cases = replace_column(tables()["cases"], "outcome_date",
                           pa.array([D(2025, 2, 1), None, None, D(2024, 9, 1)]))
    ds = load_dataset(write_export(tmp_path / "x", cases=cases))
    p = only(ds.report, "outcome_without_date")
    assert (p.column, p.rows, p.examples) == ("outcome_code", 1, ("C002",))
    assert ds.cases["case_id"].tolist() == ["C001", "C003", "C004"]


def test_early_advice_received_before_requested(tmp_path: Path) -> None:
    cases = replace_column(tables()["cases"], "early_advice_received_date",
                           pa.array([D(2024, 2, 20), None, None, None]))
    ds = load_dataset(write_export(tmp_path / "x", cases=cases))
    p = only(ds.report, "early_advice_order")
    assert p.severity == "warning" and p.examples == ("C001",)
    assert "early_advice_received_date treated as not recorded" in p.message
    assert len(ds.cases) == 4 and pd.isna(ds.cases["early_advice_received_date"][0])
    assert ds.cases["early_advice_requested_date"][0] == pd.Timestamp("2024-03-01")


def test_dangling_victim_update(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    updates = replace_column(tables()["victim_updates"], "case_id", ["C001", "C999", "C003"])
    folder = write_export(tmp_path / "x", victim_updates=updates)
    code, out = validate(folder, capsys)
    assert code == 0
    assert "victim_updates.parquet column case_id: 1 row has a case_id that is not in " \
           "cases.parquet" in out
    ds = load_dataset(folder)
    assert only(ds.report, "dangling_foreign_key").examples == ("C999",)
    assert ds.get("victim_updates")["case_id"].tolist() == ["C001", "C003"]
    assert ds.report.rows_excluded["victim_updates"] == 1


def test_a_case_with_several_bad_rows_is_named_once_among_the_examples(tmp_path: Path) -> None:
    updates = replace_column(tables()["victim_updates"], "case_id", ["C999", "C999", "C998"])
    ds = load_dataset(write_export(tmp_path / "x", victim_updates=updates))
    p = only(ds.report, "dangling_foreign_key")
    assert p.rows == 3 and p.examples == ("C999", "C998")
    assert "(e.g. C999, C998)" in p.message


def test_dangling_breach_order(tmp_path: Path) -> None:
    breaches = replace_column(tables()["breaches"], "order_id", ["O404"])
    ds = load_dataset(write_export(tmp_path / "x", breaches=breaches))
    p = only(ds.report, "dangling_foreign_key")
    assert (p.file, p.column, p.examples) == ("breaches.parquet", "order_id", ("O404",))
    assert "1 row has an order_id that is not in orders.parquet" in p.message
    assert len(ds.get("breaches")) == 0


def test_dangling_keys_compared_as_strings_when_ids_are_irregular(tmp_path: Path) -> None:
    # ids of mixed widths take the string path rather than the integer fast path
    t = tables()
    cases = replace_column(t["cases"], "case_id", ["A1", "case-2", "C003", "C4"])
    updates = replace_column(t["victim_updates"], "case_id", ["A1", "C3", "case-2"])
    ds = load_dataset(write_export(tmp_path / "x", cases=cases, victim_updates=updates,
                                   orders=None, breaches=None, devices=None))
    p = only(ds.report, "dangling_foreign_key")
    assert p.examples == ("C3",)
    assert ds.get("victim_updates")["case_id"].tolist() == ["A1", "case-2"]


def test_integer_ids_are_loaded_as_strings(tmp_path: Path) -> None:
    t = tables()
    cases = replace_column(t["cases"], "case_id", pa.array([1, 2, 3, 4], pa.int64()))
    updates = replace_column(t["victim_updates"], "case_id", pa.array([1, 5, 3], pa.int64()))
    ds = load_dataset(write_export(tmp_path / "x", cases=cases, victim_updates=updates,
                                   orders=None, breaches=None, devices=None))
    assert ds.cases["case_id"].tolist() == ["1", "2", "3", "4"]
    assert only(ds.report, "dangling_foreign_key").examples == ("5",)


def test_survey_item_outside_scale(tmp_path: Path) -> None:
    survey = replace_column(tables()["survey_responses"], "q_felt_believed",
                            pa.array([7, 4], pa.int64()))
    ds = load_dataset(write_export(tmp_path / "x", survey_responses=survey))
    p = only(ds.report, "survey_out_of_range")
    assert (p.column, p.rows, p.examples) == ("q_felt_believed", 1, ("R001",))
    s = ds.get("survey_responses")
    assert pd.isna(s["q_felt_believed"][0]) and s["q_felt_believed"][1] == 4
    assert len(s) == 2


def test_survey_text_column_is_not_loaded(tmp_path: Path) -> None:
    survey = tables()["survey_responses"].append_column("q_comments",
                                                        pa.array(["free text", None]))
    ds = load_dataset(write_export(tmp_path / "x", survey_responses=survey))
    assert only(ds.report, "survey_item_type").severity == "warning"
    assert "q_comments" not in ds.get("survey_responses").columns


def test_negative_workforce_number_and_mid_month(tmp_path: Path) -> None:
    wf = replace_column(tables()["workforce"], "sickness_days", pa.array([-3], pa.int64()))
    ds = load_dataset(write_export(tmp_path / "x", workforce=wf))
    assert only(ds.report, "below_minimum").examples == ("DUR-T01",)
    assert pd.isna(ds.get("workforce")["sickness_days"][0])
    wf = replace_column(tables()["workforce"], "month", pa.array([D(2024, 1, 15)]))
    ds = load_dataset(write_export(tmp_path / "y", workforce=wf))
    assert only(ds.report, "not_first_of_month").rows == 1
    assert len(ds.get("workforce")) == 0


def test_messages_quote_ids_never_victim_details(tmp_path: Path) -> None:
    cases = replace_column(tables()["cases"], "outcome_date",
                           pa.array([D(2023, 2, 1), D(2023, 5, 1), None, D(2023, 9, 1)]))
    ds = load_dataset(write_export(tmp_path / "x", cases=cases))
    p = only(ds.report, "outcome_before_recorded")
    assert p.examples == ("C001", "C002", "C004") and p.rows == 3
    for detail in ("18-24", "female", "White", "S001", "I001", "2023-02-01"):
        assert detail not in p.message


def test_at_most_five_examples(tmp_path: Path) -> None:
    n = 12
    updates = pa.table({"case_id": [f"X{i:03d}" for i in range(n)],
                        "contact_date": pa.array([D(2024, 5, 1)] * n),
                        "channel": ["phone"] * n})
    ds = load_dataset(write_export(tmp_path / "x", victim_updates=updates))
    p = only(ds.report, "dangling_foreign_key")
    assert p.rows == 12 and p.examples == ("X000", "X001", "X002", "X003", "X004")


# --- time: dates from timestamps, clock changes -----------------------------------------------


def _device_table(seized: pa.Array, returned: pa.Array) -> pa.Table:
    t = tables()["devices"]
    t = replace_column(t, "seized_at", seized)
    t = replace_column(t, "examination_completed_date", pa.array([None, None], pa.date32()))
    return replace_column(t, "returned_at", returned)


def test_clock_change_durations_naive_uk_local(tmp_path: Path) -> None:
    naive = pa.timestamp("us")
    devices = _device_table(
        pa.array([datetime(2024, 3, 30, 12), datetime(2024, 10, 26, 12)], naive),
        pa.array([datetime(2024, 3, 31, 12), datetime(2024, 10, 27, 12)], naive))
    ds = load_dataset(write_export(tmp_path / "x", devices=devices))
    assert ds.report.problems == ()
    d = ds.get("devices")
    hours = ((d["returned_at"] - d["seized_at"]).dt.total_seconds() / 3600).tolist()
    assert hours == [23.0, 25.0]  # spring forward loses an hour, autumn back gains one
    assert d["seized_at"][0] == pd.Timestamp("2024-03-30 12:00", tz="Europe/London")


def test_clock_change_durations_tz_aware(tmp_path: Path) -> None:
    utc = pa.timestamp("us", tz="UTC")
    # 2024-03-30 12:00 GMT = 12:00Z; 2024-03-31 12:00 BST = 11:00Z
    devices = _device_table(pa.array([datetime(2024, 3, 30, 12), datetime(2024, 6, 1, 23)], utc),
                            pa.array([datetime(2024, 3, 31, 11), datetime(2024, 6, 2, 23)], utc))
    ds = load_dataset(write_export(tmp_path / "x", devices=devices))
    d = ds.get("devices")
    assert ((d["returned_at"] - d["seized_at"]).dt.total_seconds() / 3600).tolist() == [23, 24]
    # 23:00Z on 1 June is 00:00 BST on 2 June in UK local time
    assert d["seized_at"][1] == pd.Timestamp("2024-06-02 00:00", tz="Europe/London")


def test_exam_date_compared_with_local_seizure_date(tmp_path: Path) -> None:
    # seized 23:30Z on 1 June = 00:30 BST on 2 June; an exam dated 2 June is not before it
    utc = pa.timestamp("us", tz="UTC")
    devices = _device_table(pa.array([datetime(2024, 6, 1, 23, 30), datetime(2024, 6, 1, 10)],
                                     utc), pa.array([None, None], utc))
    devices = replace_column(devices, "examination_completed_date",
                             pa.array([D(2024, 6, 2), D(2024, 5, 31)]))
    ds = load_dataset(write_export(tmp_path / "x", devices=devices))
    p = only(ds.report, "examined_before_seized")
    assert p.examples == ("D002",)


def test_ambiguous_and_skipped_local_times(tmp_path: Path) -> None:
    naive = pa.timestamp("us")
    # 01:30 on 27 Oct 2024 happened twice; 01:30 on 31 Mar 2024 never happened
    devices = _device_table(
        pa.array([datetime(2024, 10, 27, 1, 30), datetime(2024, 3, 31, 1, 30)], naive),
        pa.array([datetime(2024, 10, 27, 3, 0), datetime(2024, 3, 31, 3, 0)], naive))
    ds = load_dataset(write_export(tmp_path / "x", devices=devices))
    p = only(ds.report, "clock_change_hour")
    assert (p.severity, p.column, p.rows) == ("warning", "seized_at", 2)
    d = ds.get("devices")
    assert d["seized_at"][0].tz_convert("UTC") == pd.Timestamp("2024-10-27 00:30", tz="UTC")
    assert d["seized_at"][1].tz_convert("UTC") == pd.Timestamp("2024-03-31 01:00", tz="UTC")
    # 03:00 GMT is 03:00Z; from 00:30Z that is 2.5 real hours
    assert (d["returned_at"][0] - d["seized_at"][0]) == pd.Timedelta(hours=2, minutes=30)


def test_timestamp_in_date_column_gives_uk_local_date(tmp_path: Path) -> None:
    utc = pa.timestamp("us", tz="UTC")
    recorded = pa.array([datetime(2024, 6, 30, 23, 30, tzinfo=UTC),
                         datetime(2024, 1, 31, 23, 30, tzinfo=UTC),
                         datetime(2024, 3, 1, 9, 0, tzinfo=UTC),
                         datetime(2024, 4, 1, 0, 0, tzinfo=UTC)], utc)
    cases = replace_column(tables()["cases"], "recorded_date", recorded)
    cases = replace_column(cases, "outcome_date",
                           pa.array([D(2025, 2, 1), D(2024, 5, 1), None, D(2024, 9, 1)]))
    ds = load_dataset(write_export(tmp_path / "x", cases=cases))
    got = ds.cases["recorded_date"].tolist()
    # BST: 23:30Z on 30 June is 00:30 on 1 July; GMT: 23:30Z on 31 Jan stays 31 Jan
    assert got == [pd.Timestamp("2024-07-01"), pd.Timestamp("2024-01-31"),
                   pd.Timestamp("2024-03-01"), pd.Timestamp("2024-04-01")]
    assert ds.cases["recorded_date"].dtype == "datetime64[ns]"


def test_naive_timestamp_in_date_column_is_its_own_date(tmp_path: Path) -> None:
    naive = pa.timestamp("ms")
    updates = replace_column(tables()["victim_updates"], "contact_date",
                             pa.array([datetime(2024, 6, 30, 23, 30), datetime(2024, 3, 1, 0, 0),
                                       datetime(2024, 3, 5, 12, 0)], naive))
    ds = load_dataset(write_export(tmp_path / "x", victim_updates=updates))
    assert ds.get("victim_updates")["contact_date"].tolist() == [
        pd.Timestamp("2024-06-30"), pd.Timestamp("2024-03-01"), pd.Timestamp("2024-03-05")]


# --- fingerprint ------------------------------------------------------------------------------


def test_export_fingerprint(tmp_path: Path) -> None:
    folder = write_export(tmp_path / "x", devices=None)
    fp = export_fingerprint(folder)
    names = [e[0] for e in fp[1]]
    assert names == ["cases.parquet", "victim_updates.parquet", "orders.parquet",
                     "breaches.parquet", "survey_responses.parquet", "forces.parquet",
                     "workforce.parquet"]
    assert fp[1][0][1] == (folder / "cases.parquet").stat().st_size
    assert export_fingerprint(folder) == fp  # stable when nothing changed
    pq.write_table(tables()["devices"], folder / "devices.parquet")
    assert export_fingerprint(folder) != fp
    assert export_fingerprint(tmp_path / "missing")[1] == ()


def test_far_dates_are_blanked_not_a_traceback(tmp_path: Path) -> None:
    cases = replace_column(tables()["cases"], "needs_assessment_date",
                           pa.array([D(1, 1, 1), D(2024, 2, 20), D(9999, 12, 31), None]))
    ds = load_dataset(write_export(tmp_path / "x", cases=cases))
    p = only(ds.report, "date_out_of_range")
    assert (p.severity, p.rows) == ("warning", 2)
    assert ds.cases["needs_assessment_date"].isna().tolist() == [True, False, True, True]


def test_far_timestamps_are_blanked(tmp_path: Path) -> None:
    devices = replace_column(tables()["devices"], "returned_at",
                             pa.array([datetime(2024, 1, 7, 9), datetime(3000, 1, 1)],
                                      pa.timestamp("us")))
    ds = load_dataset(write_export(tmp_path / "x", devices=devices))
    assert only(ds.report, "date_out_of_range").rows == 1
    assert ds.get("devices")["returned_at"].isna().tolist() == [False, True]


def test_absent_category_column_keeps_allowed_categories(tmp_path: Path) -> None:
    cases = tables()["cases"].drop_columns(["victim_sex"])
    ds = load_dataset(write_export(tmp_path / "x", cases=cases))
    assert list(ds.cases["victim_sex"].cat.categories) == ["female", "male", "other"]
    assert ds.cases["victim_sex"].isna().all()


def test_without_arrow_time_zone_database_pandas_gives_the_same(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On a machine without a system tz database Arrow's tz functions fail; pandas (with the
    tzdata package) takes over with the same rules."""
    naive = pa.timestamp("us")
    devices = _device_table(
        pa.array([datetime(2024, 10, 27, 1, 30), datetime(2024, 3, 31, 1, 30)], naive),
        pa.array([datetime(2024, 10, 27, 3, 0), datetime(2024, 3, 31, 12)], naive))
    updates = replace_column(tables()["victim_updates"], "contact_date",
                             pa.array([datetime(2024, 6, 30, 23, 30, tzinfo=UTC)] * 3,
                                      pa.timestamp("us", tz="UTC")))
    folder = write_export(tmp_path / "x", devices=devices, victim_updates=updates)
    with_arrow = load_dataset(folder)

    def no_tzdb(*args: object, **kwargs: object) -> None:
        raise pa.ArrowInvalid("Cannot locate timezone 'Europe/London'")

    monkeypatch.setattr("pyarrow.compute.assume_timezone", no_tzdb)
    monkeypatch.setattr("pyarrow.compute.local_timestamp", no_tzdb)
    with_pandas = load_dataset(folder)
    for name in ("devices", "victim_updates"):
        pd.testing.assert_frame_equal(with_arrow.get(name), with_pandas.get(name))
    assert with_arrow.report == with_pandas.report
    assert only(with_pandas.report, "clock_change_hour").rows == 2
    assert with_pandas.get("victim_updates")["contact_date"][0] == pd.Timestamp("2024-07-01")
    seized = with_pandas.get("devices")["seized_at"].dt.tz_convert("UTC").tolist()
    assert seized == [pd.Timestamp("2024-10-27 00:30", tz="UTC"),
                      pd.Timestamp("2024-03-31 01:00", tz="UTC")]


def test_optional_file_with_no_rows_is_fine(tmp_path: Path) -> None:
    ds = load_dataset(write_export(tmp_path / "x", breaches=tables()["breaches"].slice(0, 0)))
    assert ds.report.problems == ()
    assert len(ds.get("breaches")) == 0
    assert list(ds.get("breaches").columns) == ["breach_id", "order_id", "force", "breach_date",
                                                "action"]


def test_columns_in_contract_order_whatever_the_file_order(tmp_path: Path) -> None:
    cases = tables()["cases"]
    shuffled = cases.select(list(reversed(cases.column_names)))
    ds = load_dataset(write_export(tmp_path / "x", cases=shuffled))
    assert list(ds.cases.columns) == cases.column_names
