"""python -m metrics changes (issue 12): the contracted columns, the tests and the verdicts."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from metrics.__main__ import main
from metrics.verdicts import CHANGE_COLUMNS

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
COLUMNS = ["kpi_id", "force", "window_start", "window_end", "compare_start", "compare_end",
           "value", "compare_value", "difference", "diff_ci_low", "diff_ci_high", "test",
           "p_value", "q_value", "verdict"]


def run(argv, capsys):
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def sample_table():
    out = io.StringIO()
    from argparse import Namespace

    from metrics.commands.changes import run as run_changes

    args = Namespace(data_dir=str(SAMPLE), start="2026-07", end="2026-09", compare="previous",
                     force=None, kpi=None, audience="internal", scope="all", format="csv")
    assert run_changes(args, out, io.StringIO()) == 0
    return pd.read_csv(io.StringIO(out.getvalue()))


def test_columns_are_exactly_the_contract(sample_table):
    assert list(sample_table.columns) == COLUMNS == list(CHANGE_COLUMNS)
    assert sample_table[["kpi_id", "force"]].duplicated().sum() == 0
    assert "All forces" in set(sample_table["force"])
    assert set(sample_table["verdict"]) <= {"better", "worse", "higher", "lower",
                                            "no_clear_change", "not_comparable", "not_tested"}
    row = sample_table.iloc[0]
    assert (row["window_start"], row["window_end"]) == ("2026-07-01", "2026-09-30")
    assert (row["compare_start"], row["compare_end"]) == ("2026-04-01", "2026-06-30")


def test_each_kind_of_kpi_gets_its_test(sample_table):
    by = sample_table.drop_duplicates("kpi_id").set_index("kpi_id")["test"]
    assert by["charge_rate"] == "two_proportion_z"
    assert by["orders_granted"] == "poisson_exact"
    assert by["days_to_charge"] == "mood_median"
    assert by["sickness_rate"] == "none" and by["caseload_per_investigator"] == "none"
    assert by["investigators_over_15"] == "none"
    census = sample_table[sample_table["test"] == "none"]
    assert census["p_value"].isna().all()
    assert set(census["verdict"]) <= {"not_tested", "not_comparable"}


def test_p_values_agree_with_scipy(sample_table):
    from metrics.kpis import compute_kpis
    from metrics.load import load_dataset

    ds = load_dataset(SAMPLE)
    cur = compute_kpis(ds, "2026-07", "2026-09").set_index(["kpi_id", "force"])
    prev = compute_kpis(ds, "2026-04", "2026-06").set_index(["kpi_id", "force"])
    t = sample_table.set_index(["kpi_id", "force"])
    key = ("suspect_arrest_rate", "Kent Police")
    x1, n1 = cur.loc[key, ["numerator", "denominator"]]
    x0, n0 = prev.loc[key, ["numerator", "denominator"]]
    ref = sps.chi2_contingency([[x1, n1 - x1], [x0, n0 - x0]], correction=False).pvalue
    assert t.loc[key, "p_value"] == pytest.approx(ref, rel=1e-9)
    key = ("orders_granted", "Kent Police")
    k, k0 = int(cur.loc[key, "value"]), int(prev.loc[key, "value"])
    assert t.loc[key, "p_value"] == pytest.approx(sps.binomtest(k, k + k0, 0.5).pvalue)
    from metrics.kpis import kpi_items

    a = kpi_items(ds, "days_to_charge", "2026-07", "2026-09", forces=["Kent Police"])
    b = kpi_items(ds, "days_to_charge", "2026-04", "2026-06", forces=["Kent Police"])
    ref = sps.median_test(a["item"].to_numpy(float), b["item"].to_numpy(float)).pvalue
    assert t.loc[("days_to_charge", "Kent Police"), "p_value"] == pytest.approx(ref)


def test_q_values_are_bh_within_each_force_and_drive_the_verdict(sample_table):
    for _, block in sample_table.groupby("force"):
        tested = block["p_value"].notna()
        np.testing.assert_allclose(block.loc[tested, "q_value"],
                                   sps.false_discovery_control(block.loc[tested, "p_value"]))
    called = sample_table["verdict"].isin(["better", "worse", "higher", "lower"])
    assert (sample_table.loc[called, "q_value"] <= 0.05).all()
    quiet = (sample_table["verdict"] == "no_clear_change") & sample_table["q_value"].notna()
    assert ((sample_table.loc[quiet, "q_value"] > 0.05)
            | (sample_table.loc[quiet, "difference"] == 0)).all()
    # a small p alone is not enough: some rows have p < 0.05 but q > 0.05
    assert ((sample_table["p_value"] < 0.05) & (sample_table["q_value"] > 0.05)).any()
    # the direction follows the KPI: lower is better for withdrawals
    wd = sample_table[(sample_table["kpi_id"] == "victim_withdrawal_rate") & called]
    assert ((wd["difference"] < 0) == (wd["verdict"] == "better")).all()


def test_not_comparable_rows_have_no_p_or_q(sample_table):
    nc = sample_table[sample_table["verdict"] == "not_comparable"]
    assert len(nc) and nc["p_value"].isna().all() and nc["q_value"].isna().all()


def test_json_year_ago_one_force(capsys):
    code, out, err = run(["changes", str(SAMPLE), "--from", "2026-07", "--to", "2026-09",
                          "--compare", "year_ago", "--force", "Gwent Police", "--kpi",
                          "charge_rate,orders_granted", "--format", "json"], capsys)
    assert code == 0, err
    rows = json.loads(out)
    assert [r["kpi_id"] for r in rows] == ["charge_rate", "orders_granted"]
    assert {r["compare_start"] for r in rows} == {"2025-07-01"}
    assert list(rows[0]) == COLUMNS


@pytest.mark.parametrize(("args", "message"), [
    (["--force", "Nowhere Constabulary"], "unknown force"),
    (["--kpi", "no_such_kpi"], "unknown KPI"),
    (["--from", "2026-13"], "bad month"),
    (["--from", "2026-10", "--to", "2026-09"], "after"),
])
def test_bad_arguments_are_one_line_and_exit_2(args, message, capsys):
    base = {"--from": "2026-07", "--to": "2026-09"}
    extra = dict(zip(args[::2], args[1::2], strict=True))
    argv = ["changes", str(SAMPLE)]
    for k, v in {**base, **extra}.items():
        argv += [k, v]
    code, out, err = run(argv, capsys)
    assert code == 2 and out == ""
    assert err.startswith("error:") and message in err and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_unreadable_folder(tmp_path, capsys):
    code, _, err = run(["changes", str(tmp_path / "missing"), "--from", "2026-07", "--to",
                        "2026-09"], capsys)
    assert code == 2 and "cannot read the data folder" in err


def test_an_unexpected_failure_is_one_line_not_a_traceback(capsys, monkeypatch):
    import metrics.verdicts

    def broken(*_a, **_k):
        raise RuntimeError("engine exploded\nwith a second line")

    monkeypatch.setattr(metrics.verdicts, "compute_changes", broken)
    code, out, err = run(["changes", str(SAMPLE), "--from", "2026-07", "--to", "2026-09"],
                         capsys)
    assert code == 1 and out == ""
    assert err.strip() == "error: could not compute the changes table: engine exploded"
