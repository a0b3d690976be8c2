"""``python -m metrics record ...``: the meeting record from the command line."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from metrics.__main__ import main
from metrics.record import open_record
from metrics.record.export import read_export_csv

REPO = Path(__file__).resolve().parents[2]
FORCE = "Kent Police"


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_migrate_add_comment_and_action_then_list_them(db_url, audit_file, capsys):
    assert _run(capsys, "record", "migrate", "--db", db_url)[1].strip().endswith("revision 0001")
    code, out, _ = _run(capsys, "record", "add-comment", "--db", db_url, "--force", FORCE,
                        "--from", "2025-10", "--to", "2026-09", "--kpi", "charge_rate",
                        "--owner", "Head of crime", "--assurance", "not_assured",
                        "--text", "Fewer charges in rape cases.", "--author", "chair")
    assert code == 0 and "Not assured" in out
    code, out, _ = _run(capsys, "record", "add-action", "--db", db_url, "--force", FORCE,
                        "--pillar", "1", "--text", "Review NFA decisions", "--owner", "DCI",
                        "--due", "2026-01-31")
    assert code == 0
    record = open_record(db_url)
    assert record.latest_comments(FORCE, "2025-10", "2026-09")["charge_rate"].author == "chair"
    assert record.actions(FORCE)[0].pillar == 1
    record.close()
    code, out, _ = _run(capsys, "record", "list", "comments", "--db", db_url, "--force", FORCE)
    listed = pd.read_csv(io.StringIO(out))
    assert listed["text"].tolist() == ["Fewer charges in rape cases."]
    code, out, _ = _run(capsys, "record", "list", "actions", "--db", db_url, "--status", "open")
    assert pd.read_csv(io.StringIO(out))["owner"].tolist() == ["DCI"]


@pytest.mark.parametrize("argv,words", [
    (["--from", "2025-13", "--to", "2026-09", "--assurance", "assured", "--text", "t"],
     "not a month"),
    (["--from", "2025-10", "--to", "2026-09", "--assurance", "assured", "--text", "x" * 2001],
     "2,000"),
])
def test_refused_comment_is_one_error_line_and_exit_2(db_url, audit_file, capsys, argv, words):
    code, out, err = _run(capsys, "record", "add-comment", "--db", db_url, "--force", FORCE,
                          "--kpi", "charge_rate", "--owner", "o", *argv)
    assert code == 2 and err.startswith("error:") and words in err
    assert len(err.strip().splitlines()) == 1


def test_set_status_with_a_stale_version_is_refused(db_url, audit_file, capsys):
    _run(capsys, "record", "add-action", "--db", db_url, "--force", FORCE, "--kpi", "x",
         "--text", "t", "--owner", "o", "--due", "2026-01-31")
    assert _run(capsys, "record", "set-status", "--db", db_url, "1", "done", "--version",
                "1")[0] == 0
    code, _, err = _run(capsys, "record", "set-status", "--db", db_url, "1", "dropped",
                        "--version", "1")
    assert code == 2 and "someone else" in err


def test_sample_is_reproducible_with_its_seed_and_marks_nominations(
        db_url, audit_file, capsys, small_export):
    cases = pd.read_parquet(small_export / "cases.parquet")
    force = sorted(cases["force"].astype(str).unique())[0]
    args = ["record", "sample", str(small_export), "--db", db_url, "--force", force,
            "--from", "2023-01", "--to", "2026-12", "--size", "12", "--seed", "42"]
    code, first, err = _run(capsys, *args)
    assert code == 0 and "seed 42" in err
    code, second, _ = _run(capsys, *args)
    one, two = pd.read_csv(io.StringIO(first)), pd.read_csv(io.StringIO(second))
    assert len(one) == 12 and one["case_id"].tolist() == two["case_id"].tolist()
    assert set(one["outcome_code"]) <= {9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 21}
    outside = cases.loc[cases["force"].astype(str) == force, "case_id"]
    nominee = str(outside[~outside.isin(one["case_id"])].iloc[0])
    code, out, _ = _run(capsys, *args[:-2], "--seed", "42", "--nominate", nominee,
                        "--nominated-by", "ISVA member")
    table = pd.read_csv(io.StringIO(out)).set_index("case_id")
    assert code == 0 and bool(table.loc[nominee, "isva_nominated"])
    assert not bool(table.loc[nominee, "random"])
    other = cases.loc[cases["force"].astype(str) != force, "case_id"].iloc[0]
    code, _, err = _run(capsys, *args, "--nominate", str(other))
    assert code == 2 and "another force" in err


def test_export_writes_every_table_as_csv_with_formulas_neutralised(db_url, audit_file,
                                                                   capsys, tmp_path):
    _run(capsys, "record", "add-comment", "--db", db_url, "--force", FORCE, "--from",
         "2025-10", "--to", "2026-09", "--kpi", "charge_rate", "--owner", "o",
         "--assurance", "assured", "--text", "=HYPERLINK(\"http://evil\")")
    out_dir = tmp_path / "export"
    code, out, _ = _run(capsys, "record", "export", "--db", db_url, "--out", str(out_dir))
    assert code == 0
    names = {p.stem for p in out_dir.glob("*.csv")}
    assert names == {"comments", "actions", "samples", "sample_cases", "reviews",
                     "learning_log"}
    assert (out_dir / "comments.csv").read_text().splitlines()[0] == "OFFICIAL-SENSITIVE"
    comments = read_export_csv(out_dir / "comments.csv")
    assert comments.loc[0, "text"].startswith("'=")
    assert '"export"' in audit_file.read_text()


def test_unreachable_database_exits_1_with_one_line_and_no_password_or_traceback(tmp_path):
    url = "postgresql+psycopg://fd:hunter2-secret@/x?host=/nonexistent-dir&port=1"
    proc = subprocess.run([sys.executable, "-m", "metrics", "record", "list", "--db", url],
                          capture_output=True, text=True, cwd=REPO, timeout=120,
                          env={"PATH": "/usr/bin:/bin",
                               "FLIGHTDECK_AUDIT_LOG": str(tmp_path / "a.jsonl")})
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and "hunter2-secret" not in proc.stderr
    assert proc.stderr.startswith("error:") and len(proc.stderr.strip().splitlines()) == 1
