"""``python -m metrics kpis``: output columns and formats, exit codes, and the sample data."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from metrics.__main__ import main
from metrics.kpis import COLUMNS
from metrics.registry import all_kpis
from tests.kpi_fixtures import case, cases_frame

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
SAMPLE_FORCES = {
    "Durham Constabulary", "Metropolitan Police Service", "South Wales Police",
    "West Midlands Police", "Gwent Police", "Kent Police", "Lancashire Constabulary",
    "Warwickshire Police", "Wiltshire Police",
}
SURVEY_ITEMS = ["q_treated_with_respect", "q_kept_informed", "q_felt_believed",
                "q_would_report_again", "q_closure_met_in_person"]


def run(args: list[str], capsys) -> tuple[int, str, str]:
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def tiny_export(tmp_path_factory) -> Path:
    """A two-force export with only cases.parquet: 12 charged + 8 withdrawn in Alpha."""
    folder = tmp_path_factory.mktemp("tiny")
    rows = [case(recorded="2024-01-05", outcome_code=1, outcome_date="2024-02-10")
            for _ in range(12)]
    rows += [case(recorded="2024-01-05", outcome_code=14, outcome_date="2024-02-10")
             for _ in range(8)]
    rows += [case(force="Beta", recorded="2024-02-05")]
    cases_frame(rows).to_parquet(folder / "cases.parquet", index=False)
    return folder


def test_csv_columns_values_and_empty_value_unless_ok(tiny_export, capsys):
    code, out, err = run(["kpis", str(tiny_export), "--from", "2024-01", "--to", "2024-03",
                          "--kpi", "charge_rate"], capsys)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == ",".join([*COLUMNS, "provisional"])
    table = pd.read_csv(io.StringIO(out), keep_default_na=False)
    rows = table.set_index("force")
    alpha = rows.loc["Alpha"]
    assert float(alpha["value"]) == 0.6
    assert float(alpha["numerator"]) == 12 and float(alpha["denominator"]) == 20
    assert (alpha["window_start"], alpha["window_end"]) == ("2024-01-01", "2024-03-31")
    assert 0 <= float(alpha["ci_low"]) < 0.6 < float(alpha["ci_high"]) <= 1
    beta = rows.loc["Beta"]
    assert beta["status"] == "no_data" and beta["value"] == "" and beta["ci_low"] == ""
    assert float(beta["denominator"]) == 0 and int(beta["n"]) == 0
    assert list(table["force"]) == ["Alpha", "Beta", "All forces"]


def test_json_format_with_nulls_and_iso_dates(tiny_export, capsys):
    code, out, _ = run(["kpis", str(tiny_export), "--from", "2024-02", "--to", "2024-02",
                        "--kpi", "charge_rate,days_to_charge", "--format", "json",
                        "--force", "Alpha"], capsys)
    assert code == 0
    records = json.loads(out)
    assert [r["kpi_id"] for r in records] == ["charge_rate", "days_to_charge"]
    assert list(records[0]) == [*COLUMNS, "provisional"]
    charge, days = records
    assert charge["window_start"] == "2024-02-01" and charge["window_end"] == "2024-02-29"
    assert charge["value"] == 0.6 and charge["n"] == 20
    assert days["value"] == 36.0 and days["numerator"] is None and days["n"] == 12


def test_by_month_adds_spc_column(tiny_export, capsys):
    code, out, _ = run(["kpis", str(tiny_export), "--from", "2024-01", "--to", "2024-03",
                        "--by", "month", "--kpi", "charge_rate", "--force", "Alpha"], capsys)
    assert code == 0
    table = pd.read_csv(io.StringIO(out), keep_default_na=False)
    assert list(table.columns) == [*COLUMNS, "spc", "provisional"]
    assert table["window_start"].tolist() == ["2024-01-01", "2024-02-01", "2024-03-01"]
    assert table["status"].tolist() == ["no_data", "ok", "no_data"]
    assert table["spc"].iloc[0] == "" and table["spc"].iloc[2] == ""
    # a single final point is common cause; a provisional (maturing) month has no point type
    assert table["spc"].iloc[1] == ("" if table["provisional"].iloc[1] else "common_cause")


@pytest.mark.parametrize(("args", "message"), [
    (["--force", "Nowhere Constabulary"], "unknown force"),
    (["--kpi", "charge_rate,bogus"], "unknown KPI id"),
    (["--from", "2024-13"], "bad month"),
    (["--from", "24-01"], "bad month"),
    (["--from", "2024-04", "--to", "2024-03"], "after"),
])
def test_bad_arguments_exit_2_with_one_line(tiny_export, capsys, args, message):
    base = {"--from": "2024-01", "--to": "2024-03"}
    argv = ["kpis", str(tiny_export)]
    for flag, value in base.items():
        if flag not in args:
            argv += [flag, value]
    code, out, err = run(argv + args, capsys)
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: ")
    assert message in err


def test_unreadable_folder_exits_2(tmp_path, capsys):
    code, _, err = run(["kpis", str(tmp_path / "missing"), "--from", "2024-01",
                        "--to", "2024-01"], capsys)
    assert code == 2 and "cannot read the data folder" in err and "does not exist" in err
    assert len(err.strip().splitlines()) == 1


def test_a_file_given_as_the_folder_says_so(tmp_path, capsys):
    (tmp_path / "cases.parquet").write_bytes(b"PAR1")
    code, _, err = run(["kpis", str(tmp_path / "cases.parquet"), "--from", "2024-01",
                        "--to", "2024-01"], capsys)
    assert code == 2 and "is not a folder" in err
    assert len(err.strip().splitlines()) == 1


def test_unusable_data_exits_1_listing_problems(tmp_path, capsys):
    (tmp_path / "cases.parquet").write_text("case_id,force\nC1,Alpha\n")  # a CSV in disguise
    code, out, err = run(["kpis", str(tmp_path), "--from", "2024-01", "--to", "2024-01"],
                         capsys)
    assert code == 1 and out == ""
    assert "not usable" in err and "cases.parquet" in err


def test_panel_audience_applies_disclosure_control(tiny_export, capsys):
    code, out, _ = run(["kpis", str(tiny_export), "--from", "2024-01", "--to", "2024-03",
                        "--kpi", "charge_rate", "--audience", "panel"], capsys)
    assert code == 0
    table = pd.read_csv(io.StringIO(out), keep_default_na=False).set_index("force")
    # NHS Digital rule: counts rounded to the nearest 5 for a panel (12 -> 10)
    assert table.loc["Alpha", "numerator"] == 10
    assert table.loc["Alpha", "denominator"] == 20


def test_subprocess_exit_code_and_stdout(tiny_export):
    ok = subprocess.run([sys.executable, "-m", "metrics", "kpis", str(tiny_export), "--from",
                         "2024-01", "--to", "2024-01", "--kpi", "charge_rate_cohort"],
                        cwd=ROOT, capture_output=True, text=True, check=False)
    assert ok.returncode == 0 and ok.stdout.startswith("kpi_id,force,")
    bad = subprocess.run([sys.executable, "-m", "metrics", "kpis", str(tiny_export), "--from",
                          "2024-01", "--to", "2023-01"], cwd=ROOT, capture_output=True,
                         text=True, check=False)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_sample_prints_every_kpi_for_every_force(capsys):
    code, out, err = run(["kpis", str(SAMPLE), "--from", "2024-01", "--to", "2024-12"],
                         capsys)
    assert code == 0, err
    table = pd.read_csv(io.StringIO(out))
    expected_ids = [k.id for k in all_kpis(SURVEY_ITEMS)]
    assert len(expected_ids) == 41  # 36 declared KPIs (2 from the record) + 5 survey items
    assert set(table["force"]) == SAMPLE_FORCES | {"All forces"}
    pairs = table.groupby("kpi_id")["force"].nunique()
    assert pairs.to_dict() == dict.fromkeys(expected_ids, 10)
    assert len(table) == 410
    everyone = table[table["force"] == "All forces"].set_index("kpi_id")
    record = [k.id for k in all_kpis() if k.source == "record"]  # no record given: no_data
    assert (everyone.drop(index=record)["status"] == "ok").all()
    assert (everyone.loc[record, "status"] == "no_data").all()
    # the sample's story: a charge rate of a few percent toward ten, about half withdrawing,
    # over a year to charge, repeat suspects on about one report in ten
    assert 0.02 < everyone.loc["charge_rate", "value"] < 0.15
    assert 0.3 < everyone.loc["victim_withdrawal_rate", "value"] < 0.7
    assert everyone.loc["days_to_charge", "value"] > 365
    # (look-back only since issue 11: about half the former two-sided share)
    assert 0.05 < everyone.loc["repeat_suspect_share", "value"] < 0.35
    proportions = table[table["kpi_id"].isin(
        [k.id for k in all_kpis(SURVEY_ITEMS) if k.unit == "proportion"])]
    assert proportions["value"].dropna().between(0, 1).all()


def test_sample_by_month_shows_special_cause_improvement_after_adoption(capsys):
    code, out, _ = run(["kpis", str(SAMPLE), "--from", "2020-01", "--to", "2025-12",
                        "--by", "month", "--kpi", "charge_rate_cohort"], capsys)
    assert code == 0
    table = pd.read_csv(io.StringIO(out))
    assert "spc" in table.columns
    improving = table[(table["spc"] == "special_cause_improvement")
                      & (table["force"] != "All forces")]
    assert improving["force"].nunique() >= 1
    assert table.loc[table["status"] != "ok", "spc"].isna().all()
