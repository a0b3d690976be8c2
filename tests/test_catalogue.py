"""The KPI catalogue as declarations: the shipped files, a force's own (FLIGHTDECK_KPIS), the
messages for bad declarations, and ``python -m metrics catalogue check|list``."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from metrics import registry
from metrics.__main__ import main
from metrics.kpis import compute_kpis
from metrics.kpis.sql import sql_problem
from tests.kpi_fixtures import case, cases_frame, dataset

ROOT = Path(__file__).resolve().parents[1]

# A new KPI, as a force analyst would add it (the worked example of docs/catalogue.md).
NEW_KPI = """
id = "charge_within_90d"
name = "Charged within 90 days (cohort)"
pillar = 1
kind = "quantitative"
unit = "proportion"
better = "higher"
min_n = 2
maturity_days = "days"
definition = "Of the cases recorded in the window, the share charged within {days} days."
numerator = "Cases recorded in the window charged within {days} days"
denominator = "Cases recorded in the window"
sql = '''
SELECT force, date_trunc('month', recorded_date) AS month,
       count(*) FILTER (WHERE outcome_code = 1 AND outcome_date - recorded_date <= $days) AS num,
       count(*) AS den
FROM cases
GROUP BY ALL
'''

[params]
days = 90

[targets]
"Alpha" = 0.25
"""


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def run(args: list[str], capsys) -> tuple[int, str, str]:
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def export(tmp_path: Path) -> Path:
    """Alpha: 4 cases recorded in January 2024, charged after 90, 91, 30 days and never."""
    folder = tmp_path / "export"
    folder.mkdir()
    rows = [case(recorded="2024-01-01", outcome_code=1, outcome_date="2024-03-31"),  # 90 days
            case(recorded="2024-01-01", outcome_code=1, outcome_date="2024-04-01"),  # 91 days
            case(recorded="2024-01-10", outcome_code=1, outcome_date="2024-02-09"),  # 30 days
            case(recorded="2024-01-10")]
    cases_frame(rows).to_parquet(folder / "cases.parquet", index=False)
    return folder


def test_every_shipped_declaration_binds_on_an_empty_export():
    registry.shipped_problems_check()  # raises DeclarationError naming the file otherwise
    for kpi in [*registry.all_kpis(["q_felt_believed"])]:
        if kpi.source != registry.RECORD_SOURCE:  # the record's KPIs have no SQL
            assert sql_problem(kpi) is None, kpi.id
    assert registry.catalogue_problems() == []


def test_a_kpi_added_through_flightdeck_kpis_is_computed_and_printed(tmp_path, monkeypatch,
                                                                       export, capsys):
    write(tmp_path / "force_kpis", "charge_within_90d.toml", NEW_KPI)
    monkeypatch.setenv("FLIGHTDECK_KPIS", str(tmp_path / "force_kpis"))
    kpi = registry.get_kpi("charge_within_90d")
    assert kpi.definition.endswith("charged within 90 days.")
    assert kpi.maturity_days == 90 and kpi.target_for("Alpha") == 0.25
    assert [k.id for k in registry.all_kpis()][-1] == "charge_within_90d"
    code, out, err = run(["kpis", str(export), "--from", "2024-01", "--to", "2024-01",
                          "--kpi", "charge_within_90d", "--force", "Alpha"], capsys)
    assert code == 0, err
    table = pd.read_csv(io.StringIO(out))
    row = table.iloc[0]
    # 90 days counts, 91 does not: 2 of 4
    assert (row["kpi_id"], row["numerator"], row["denominator"]) == ("charge_within_90d", 2, 4)
    assert row["value"] == 0.5 and row["status"] == "ok"
    # the as-at date is the latest date (2024-04-01): 31 Jan + 90 days is later: provisional
    assert bool(row["provisional"]) is True
    code, out, _ = run(["catalogue", "list"], capsys)
    assert code == 0
    listed = pd.read_csv(io.StringIO(out)).set_index("kpi_id")
    assert listed.loc["charge_within_90d", "params"] == "days=90"
    assert listed.loc["charge_within_90d", "origin"] == "charge_within_90d.toml"


def test_a_force_file_overrides_parameters_and_targets(tmp_path, monkeypatch):
    path = write(tmp_path, "cohort.toml", 'id = "charge_rate_cohort"\n[params]\n'
                 'follow_up_days = 180\n[targets]\n"Alpha" = 0.2\n')
    monkeypatch.setenv("FLIGHTDECK_KPIS", str(path))
    kpi = registry.get_kpi("charge_rate_cohort")
    assert kpi.params == {"follow_up_days": 180}
    assert kpi.maturity_days == 180  # maturity follows the follow-up
    assert "within 180 days" in kpi.definition
    assert kpi.target_for("Alpha") == 0.2 and kpi.target_for("Beta") is None
    rows = [case(recorded="2024-01-01", outcome_code=1, outcome_date="2024-06-29"),  # 180
            case(recorded="2024-01-01", outcome_code=1, outcome_date="2024-06-30")]  # 181
    table = compute_kpis(dataset(rows), "2024-01", "2024-01", kpi_ids=["charge_rate_cohort"],
                         forces=["Alpha"])
    assert table["numerator"].item() == 1


@pytest.mark.parametrize(("text", "words"), [
    (NEW_KPI.replace('pillar = 1', 'pillar = 1\ncolour = "red"'), "unknown key 'colour'"),
    (NEW_KPI.replace("min_n = 2", 'min_n = "two"'), "min_n must be a whole number"),
    (NEW_KPI.replace('unit = "proportion"', 'unit = "percent"'), "unit must be one of"),
    (NEW_KPI.replace("FROM cases", "FROM casez"), "sql fails on an empty export"),
    (NEW_KPI.replace("AS num,", "AS numerator,"), "missing num"),
    (NEW_KPI.replace("$days", "$dayz"), "sql uses $dayz"),
    (NEW_KPI.replace('id = "charge_within_90d"', 'id = "charge_rate"'), "id clash"),
    (NEW_KPI.replace("[params]", "[params"), "not valid TOML"),
    (NEW_KPI.replace('name = "Charged within 90 days (cohort)"\n', ""), "missing required key"),
])
def test_a_broken_declaration_is_one_message_and_skipped(tmp_path, monkeypatch, export, capsys,
                                                         text, words):
    folder = tmp_path / "force_kpis"
    write(folder, "broken.toml", text)
    write(folder, "good.toml", NEW_KPI.replace("charge_within_90d", "charge_within_90d_b"))
    monkeypatch.setenv("FLIGHTDECK_KPIS", str(folder))
    problems = registry.catalogue_problems()
    assert len(problems) == 1
    assert problems[0].startswith("broken.toml") and words in problems[0], problems[0]
    ids = [k.id for k in registry.all_kpis()]
    assert "charge_within_90d_b" in ids and "charge_rate" in ids  # the rest goes on
    assert len(ids) == len(set(ids))
    code, out, err = run(["catalogue", "check"], capsys)
    assert code == 1 and "broken.toml" in err and "Traceback" not in err
    # the kpis command warns once on stderr and prints the rest
    code, out, err = run(["kpis", str(export), "--from", "2024-01", "--to", "2024-01",
                          "--kpi", "charge_rate"], capsys)
    assert code == 0 and err.startswith("warning: broken.toml")
    assert "charge_rate" in out


def test_catalogue_check_of_a_path_and_missing_path(tmp_path, capsys):
    good = write(tmp_path, "good.toml", NEW_KPI)
    code, out, err = run(["catalogue", "check", str(good)], capsys)
    assert code == 0, err
    assert "37 KPIs" in out and "0 problem(s)" in out
    code, _, err = run(["catalogue", "check", str(tmp_path / "nowhere")], capsys)
    assert code == 2 and "does not exist" in err


def test_flightdeck_kpis_pointing_nowhere_is_a_problem_not_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv("FLIGHTDECK_KPIS", str(tmp_path / "missing"))
    problems = registry.catalogue_problems()
    assert len(problems) == 1 and "is not a file or folder" in problems[0]
    assert len(registry.all_kpis()) == 36


def test_broken_declaration_in_a_subprocess_never_shows_a_traceback(tmp_path, export):
    write(tmp_path / "k", "bad.toml", "id = 3\n")
    env = {"FLIGHTDECK_KPIS": str(tmp_path / "k"), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-m", "metrics", "kpis", str(export), "--from",
                           "2024-01", "--to", "2024-01", "--kpi", "charge_rate"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "bad.toml" in proc.stderr


def test_a_force_kpi_failing_on_the_data_is_no_data_not_a_crash(tmp_path, monkeypatch):
    # binds on an empty export, fails on real rows (a force name is not a number)
    text = NEW_KPI.replace("count(*) AS den", "sum(CAST(force AS INTEGER)) AS den")
    write(tmp_path / "k", "fails.toml", text)
    monkeypatch.setenv("FLIGHTDECK_KPIS", str(tmp_path / "k"))
    assert registry.catalogue_problems() == []
    table = compute_kpis(dataset([case(), case()]), "2024-01", "2024-01",
                         kpi_ids=["charge_within_90d", "charge_rate_cohort"])
    mine = table[table["kpi_id"] == "charge_within_90d"]
    assert (mine["status"] == "no_data").all()
    shipped = table[(table["kpi_id"] == "charge_rate_cohort") & (table["force"] == "Alpha")]
    assert shipped["denominator"].item() == 2
