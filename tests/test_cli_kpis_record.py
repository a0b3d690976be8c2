"""``python -m metrics kpis --db URL``: the KPIs kept in the meeting record (issue 16) come from
the record given (or ``FLIGHTDECK_DB``), through the same ``compute_kpis(..., record=)`` path
as the app and the board pack; without a record they are ``no_data``; a record that cannot be
opened is one warning line and the run goes on."""

from __future__ import annotations

import contextlib
import io
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from metrics.__main__ import main as cli
from metrics.kpis import compute_kpis
from metrics.load import load_dataset
from metrics.record import draw_sample, open_record

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
FORCE, START, END = "Durham Constabulary", "2025-10", "2026-09"
RECORD_KPIS = "panel_nfa_decision_sound,open_learning_actions"


@pytest.fixture(scope="module")
def record_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite record with 12 reviewed sample cases (9 sound) and two learning actions."""
    folder = tmp_path_factory.mktemp("kpisrecord")
    url = f"sqlite:///{folder / 'record.db'}"
    record = open_record(url, audit_path=folder / "audit.jsonl")
    sample_id, _ = draw_sample(record, load_dataset(SAMPLE), FORCE, START, END, size=12, seed=3,
                               author="lead")
    for i, case_id in enumerate(record.sample_cases(sample_id)["sample_case_id"]):
        review = record.add_review(int(case_id), decision_sound=i < 9, reviewer="panel",
                                   learning_point=f"learning point {i}" if i < 2 else None)
        if i < 2:
            record.add_action(FORCE, text=f"act on learning {i}", owner="DI",
                              due_date=date(2099, 1, 1), author="lead", kind="learning", pillar=4,
                              review_id=getattr(review, "id", review))
    record.close()
    return url


def _kpis(*extra: str) -> tuple[int, pd.DataFrame, str]:
    """Run ``kpis`` for the record KPIs of one force; (exit code, the CSV, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli(["kpis", str(SAMPLE), "--from", START, "--to", END, "--force", FORCE,
                    "--kpi", RECORD_KPIS, *extra])
    frame = pd.read_csv(io.StringIO(out.getvalue())) if out.getvalue() else pd.DataFrame()
    return code, frame, err.getvalue()


def test_db_gives_the_record_kpis_as_compute_kpis_does(record_url: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLIGHTDECK_DB", raising=False)
    code, frame, err = _kpis("--db", record_url)
    assert code == 0, err
    record = open_record(record_url)
    try:
        expected = compute_kpis(load_dataset(SAMPLE), START, END, forces=[FORCE],
                                kpi_ids=RECORD_KPIS.split(","), record=record)
    finally:
        record.close()
    got = frame.set_index("kpi_id")
    for row in expected.itertuples():
        assert got.loc[row.kpi_id, "status"] == row.status
        assert got.loc[row.kpi_id, "numerator"] == pytest.approx(row.numerator)
        assert got.loc[row.kpi_id, "denominator"] == pytest.approx(row.denominator, nan_ok=True)
    decision = got.loc["panel_nfa_decision_sound"]
    assert decision["numerator"] > 0 and decision["status"] != "no_data"


def test_flightdeck_db_is_the_default(record_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLIGHTDECK_DB", record_url)
    code, frame, _ = _kpis()
    assert code == 0
    assert (frame["status"] != "no_data").any()


def test_without_a_record_the_record_kpis_are_no_data(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLIGHTDECK_DB", raising=False)
    code, frame, err = _kpis()
    assert code == 0 and err == ""
    assert set(frame["status"]) == {"no_data"}


def test_a_record_that_cannot_be_opened_is_one_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLIGHTDECK_DB", raising=False)
    bad = "postgresql+psycopg://nobody:secret@127.0.0.1:1/none"  # nothing listens on port 1
    code, frame, err = _kpis("--db", bad)
    assert code == 0
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("warning:")
    assert "no_data" in lines[0] and "Traceback" not in err and "secret" not in err
    assert set(frame["status"]) == {"no_data"}
