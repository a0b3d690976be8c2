"""python -m metrics funnel (issue 12): contracted columns, gate, phi rule, errors."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd

from metrics.__main__ import main

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
COLUMNS = ["force", "numerator", "denominator", "value", "target", "lower_95", "upper_95",
           "lower_998", "upper_998", "phi", "tau2", "adjusted", "position"]


def run(argv, capsys):
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_survey_funnel_leaves_out_gated_forces(capsys):
    from metrics.kpis import compute_kpis
    from metrics.load import load_dataset

    kpi = "survey_treated_with_respect"
    code, out, err = run(["funnel", str(SAMPLE), "--kpi", kpi, "--from", "2026-07", "--to",
                          "2026-09"], capsys)
    assert code == 0, err
    table = pd.read_csv(io.StringIO(out))
    assert list(table.columns) == COLUMNS
    kpis = compute_kpis(load_dataset(SAMPLE), "2026-07", "2026-09", kpi_ids=[kpi])
    ok = set(kpis.loc[(kpis["status"] == "ok") & (kpis["force"] != "All forces"), "force"])
    assert set(table["force"]) == ok
    assert (table["denominator"] >= 30).all()  # the 30-response gate holds here too
    assert set(table["position"]) <= {"within", "between_95_998", "outside"}
    assert set(table["adjusted"]) <= {True, False}
    if not table.empty:
        assert table["adjusted"].all() == bool(table["phi"].iloc[0] > 1)


def test_charge_rate_json(capsys):
    code, out, err = run(["funnel", str(SAMPLE), "--kpi", "charge_rate", "--from", "2025-10",
                          "--to", "2026-09", "--format", "json"], capsys)
    assert code == 0, err
    rows = json.loads(out)
    assert len(rows) == 9 and list(rows[0]) == COLUMNS
    assert all(r["lower_998"] <= r["lower_95"] <= r["target"] <= r["upper_95"]
               <= r["upper_998"] for r in rows)
    assert rows == sorted(rows, key=lambda r: r["denominator"])


def test_not_a_proportion_and_unknown_kpi_are_one_line_errors(capsys):
    for kpi, words in (("days_to_charge", "not a proportion"), ("sickness_rate",
                                                                "not a proportion"),
                       ("nope", "unknown KPI")):
        code, out, err = run(["funnel", str(SAMPLE), "--kpi", kpi, "--from", "2026-07",
                              "--to", "2026-09"], capsys)
        assert code == 2 and out == "" and words in err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_too_few_forces_are_written_with_a_note(capsys, tmp_path):
    """Rows are still written (the contract), with a note on stderr that a funnel compares
    at least three forces; the app and the pack say the same in words."""
    from metrics.generate import generate
    from metrics.verdicts import FUNNEL_MIN_FORCES
    from present.funnel import too_few_forces_text

    generate(tmp_path, cases=1500, seed=4)
    keep: list[str] = []
    for name in ("cases", "orders", "breaches", "devices", "survey_responses", "workforce",
                 "forces"):  # keep two forces
        path = tmp_path / f"{name}.parquet"
        table = pd.read_parquet(path)
        if "force" in table:
            if name == "cases":  # the two largest, so both have a value
                keep = list(table["force"].astype(str).value_counts().index[:2])
            table = table[table["force"].astype(str).isin(keep)]
        table.to_parquet(path, index=False)
    cases = pd.read_parquet(tmp_path / "cases.parquet")
    updates = pd.read_parquet(tmp_path / "victim_updates.parquet")
    updates[updates["case_id"].isin(cases["case_id"])].to_parquet(
        tmp_path / "victim_updates.parquet", index=False)
    code = main(["funnel", str(tmp_path), "--kpi", "charge_rate", "--from", "2024-01",
                 "--to", "2024-12"])
    out, err = capsys.readouterr()
    assert code == 0
    assert len(pd.read_csv(io.StringIO(out))) == 2
    assert "a funnel plot compares at least 3" in err
    assert FUNNEL_MIN_FORCES == 3
    assert too_few_forces_text(["A", "B"]).startswith("This export holds 2 forces (A, B)")
    assert too_few_forces_text(["A"]).startswith("This export holds 1 force (A)")
    assert too_few_forces_text(["A", "B", "C"]) is None
