"""The meeting record on the flight deck (AppTest, issue 16): the record KPIs from the shared
record connection, and a panel link seeing its window's commentary and assurance without names.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from metrics import sharelink
from metrics.record import draw_sample, open_record
from present.format import format_value
from tests.test_app import _deck, _rows

SECRET = "record-deck-test-secret-0123456789"
FORCE, START, END = "Gwent Police", "2025-10", "2026-09"
QUERY = {"force": FORCE, "window": "custom", "from": START, "to": END}


@pytest.fixture
def record_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'record.db'}"
    monkeypatch.setenv("FLIGHTDECK_DB", url)
    monkeypatch.setenv("FLIGHTDECK_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    return url


def _review(url: str, export: Path, *, reviewed: int, sound: int, seed: int = 4) -> None:
    record = open_record(url)
    cases = pd.read_parquet(export / "cases.parquet")
    sample_id, _ = draw_sample(record, cases, FORCE, START, END, size=reviewed, seed=seed,
                               author="lead")
    for i, case_id in enumerate(record.sample_cases(sample_id)["sample_case_id"]):
        action = ({"text": "Brief", "owner": "DI", "due_date": date(2027, 1, 1)}
                  if i == 0 else None)
        record.add_review(int(case_id), decision_sound=i < sound, reviewer="panel",
                          learning_action=action)
    record.close()


def test_the_deck_shows_the_panels_nfa_finding_from_the_record(app_test, record_url,
                                                               small_export):
    _review(record_url, small_export, reviewed=12, sound=9)
    at = app_test(**QUERY)
    at.run()
    assert not at.exception, at.exception
    rows = _rows(at)
    assert rows["panel_nfa_decision_sound"]["value"] == format_value(0.75, "proportion")
    assert rows["panel_nfa_decision_sound"]["kind"] == "qualitative"
    assert rows["open_learning_actions"]["value"] == format_value(1.0, "count")


def test_without_reviews_the_record_kpis_say_no_data(app_test, record_url):
    at = app_test(**QUERY)
    at.run()
    assert not at.exception, at.exception
    rows = _rows(at)
    assert rows["panel_nfa_decision_sound"]["verdict"] == "no_data"
    assert rows["panel_nfa_decision_sound"]["value"] == "–"
    assert rows["open_learning_actions"]["verdict"] == "no_data"


def test_an_unreachable_record_leaves_the_deck_drawn_with_no_data(app_test, monkeypatch,
                                                                   tmp_path):
    monkeypatch.setenv("FLIGHTDECK_DB",
                       "postgresql+psycopg://fd:pw-secret@/x?host=/nonexistent-dir&port=1")
    at = app_test(**QUERY)
    at.run()
    assert not at.exception, at.exception
    assert _rows(at)["panel_nfa_decision_sound"]["verdict"] == "no_data"
    assert "pw-secret" not in _deck(at)


def test_a_panel_link_sees_its_windows_assurance_without_names(app_test, record_url,
                                                               monkeypatch):
    record = open_record(record_url)
    record.add_comment(FORCE, START, END, "charge_rate", owner="Head of crime",
                       text="Charging improved after the joint CPS review.",
                       assurance="partly_assured", author="chair.person@example.police.uk")
    record.add_comment(FORCE, "2024-10", "2025-09", "victim_withdrawal_rate", owner="DCI",
                       text="Another window.", assurance="not_assured", author="x")
    record.close()
    monkeypatch.setenv("FLIGHTDECK_SECRET", SECRET)
    token, _ = sharelink.create(SECRET, force=FORCE, start=START, end=END,
                                pages=["flight_deck"], created_by="test")
    at = app_test(share=token, **QUERY)
    at.run()
    assert not at.exception, at.exception
    block = _deck(at)
    row = block[block.index('data-kpi="charge_rate"'):]
    row = row[:row.index("</li>")]
    assert "Comment: Partly assured" in row
    other = block[block.index('data-kpi="victim_withdrawal_rate"'):]
    assert "Comment:" not in other[:other.index("</li>")]  # another window's is not shown
    assert "chair.person" not in block and "example.police.uk" not in block
    assert "record?" not in block  # no link to the internal actions
    # the link holds no Trends: rows are not links, and the page does not say they are
    assert "trends?" not in block and "a.fd-name:not([href])" in block
    captions = " ".join(c.value for c in at.caption)
    assert "95% intervals" in captions and "a row opens its trend" not in captions


def test_the_apps_board_pack_prints_the_shared_records_commentary(app_test, record_url):
    import io

    from pypdf import PdfReader

    record = open_record(record_url)
    record.add_comment(FORCE, START, END, "charge_rate", owner="Head of crime",
                       text="Commentary the app's pack must carry.", assurance="assured",
                       author="someone")
    record.add_action(FORCE, text="An overdue action for the pack", owner="DCI",
                      due_date=date(2026, 1, 1), author="chair", kpi_id="charge_rate")
    record.close()
    at = app_test(**QUERY)
    at.run()
    [b for b in at.button if b.label == "Build board pack (PDF)"][0].click()
    at.run()
    assert not at.exception, at.exception
    from ui.downloads import _SESSION_KEY

    _, pdf = at.session_state[f"{_SESSION_KEY}_boardpack"]
    text = " ".join(" ".join(p.extract_text().split())
                    for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "Commentary the app's pack must carry." in text
    assert "An overdue action for the pack" in text and "Overdue" in text


def test_trends_of_a_record_kpi_shows_the_records_months(app_test, record_url, small_export):
    """The deck's row links to Trends: there the same record feeds the monthly chart, and a
    new review is seen at once (the cached figures are keyed on the record's state)."""
    from ui import data as ui_data

    _review(record_url, small_export, reviewed=12, sound=9)
    record = open_record(record_url)
    try:
        months = compute_kpis_by_month(small_export, record)
    finally:
        record.close()
    at = app_test(pillar="4", kpi="panel_nfa_decision_sound", **QUERY)
    at.run()
    at.switch_page("pages/trends.py")
    at.run()
    assert not at.exception, at.exception
    shown = ui_data.kpi_table(ui_data.load(), "2025-10", "2026-09", by="month",
                              forces=[FORCE], kpi_ids=["panel_nfa_decision_sound"])
    assert list(shown["n"]) == list(months["n"])
    assert int(shown["n"].sum()) == 12
    before = ui_data.record_stamp(ui_data.meeting_record())
    _review(record_url, small_export, reviewed=40, sound=40, seed=99)  # more cases reviewed
    assert ui_data.record_stamp(ui_data.meeting_record()) != before
    again = ui_data.kpi_table(ui_data.load(), "2025-10", "2026-09", by="month",
                              forces=[FORCE], kpi_ids=["panel_nfa_decision_sound"])
    assert int(again["n"].sum()) > 12


def compute_kpis_by_month(export: Path, record) -> pd.DataFrame:
    from metrics.kpis import compute_kpis
    from metrics.load import load_dataset

    return compute_kpis(load_dataset(export), "2025-10", "2026-09", by="month",
                        forces=[FORCE], kpi_ids=["panel_nfa_decision_sound"], record=record)


def test_a_record_that_is_down_is_tried_once_per_interval(monkeypatch):
    import metrics.record as mr
    from metrics.record import RecordUnavailable
    from ui import data as ui_data

    tries = []

    def down(url=None, **kw):
        tries.append(url)
        raise RecordUnavailable("the meeting record at postgresql://x cannot be opened: down")

    monkeypatch.setattr(mr, "open_record", down)
    monkeypatch.setenv("FLIGHTDECK_DB", "postgresql+psycopg://fd@/down-for-this-test")
    monkeypatch.setattr(ui_data, "_RECORD_FAILURES", {})
    for _ in range(3):
        assert ui_data.meeting_record() is None
    assert len(tries) == 1  # remembered: no new connection attempt on every call
    monkeypatch.setattr(ui_data, "RECORD_RETRY_SECONDS", 0.0)
    with pytest.raises(RecordUnavailable):
        ui_data.open_meeting_record()
    assert len(tries) == 2
