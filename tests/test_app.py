"""The Streamlit app through AppTest: every page, filters, URL state, broken exports.

Runs ``app.py`` (navigation, access, shared frame) on a small synthetic export.
"""

from __future__ import annotations

import csv
import html
import io
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from metrics.kpis import compute_kpis
from metrics.load import load_dataset
from metrics.registry import PILLARS, all_kpis
from metrics.windows import latest_complete_month
from present.format import format_value
from present.tiles import gate_word
from ui.shell import PAGE_SPECS

REPO = Path(__file__).resolve().parents[1]
PAGES = [spec.id for spec in PAGE_SPECS]  # every page the app declares


def _open(at, page: str):
    at.run()
    if page != "flight_deck":
        at.switch_page(f"pages/{page}.py").run()
    return at


_ROW = re.compile(
    r'<li class="fd-row" data-kpi="(?P<kpi>[^"]*)" data-kind="(?P<kind>[^"]*)" '
    r'data-verdict="(?P<verdict>[^"]*)">.*?<a class="fd-name"[^>]*>(?P<name>.*?)</a>'
    r'<span class="fd-value">(?P<value>.*?)</span>'
    r'<span class="fd-verdict"[^>]*>(?P<word>.*?)</span><span class="fd-detail">', re.S)


def _deck(at) -> str:
    """The flight deck's HTML block (ui.deck.deck_html), as sent to the browser."""
    blocks = [e.proto.body for e in at.get("html") if "fd-deck" in e.proto.body]
    assert len(blocks) == 1, "the flight deck draws one deck block"
    return blocks[0]


def _rows(at) -> dict[str, dict[str, str]]:
    """kpi_id -> {name, kind, verdict, value, word} of every row the deck shows."""
    out = {}
    for m in _ROW.finditer(_deck(at)):
        word = html.unescape(re.sub(r"<[^>]+>", "", m["word"])).strip()
        out[m["kpi"]] = {"name": html.unescape(m["name"]), "kind": m["kind"],
                         "verdict": m["verdict"],
                         "value": html.unescape(re.sub(r"<[^>]+>", "", m["value"])),
                         "word": word}
    return out


def _tiles(at) -> dict[str, str]:
    """Row name -> the value it shows ("–" when held back; "so far" after a maturing one)."""
    return {r["name"]: r["value"] for r in _rows(at).values()}


def _expected_tiles(export: Path, force: str, start: str, end: str) -> dict[str, str]:
    dataset = load_dataset(export)
    table = compute_kpis(dataset, start, end, forces=[force])
    survey = [c for c in dataset.get("survey_responses").columns if c.startswith("q_")]
    kpis = {k.id: k for k in all_kpis(survey)}
    out = {}
    for row in table.itertuples():
        kpi = kpis[row.kpi_id]
        value = format_value(row.value, kpi.unit) + (" so far" if row.provisional else "")
        out[kpi.name] = value if row.status == "ok" else "–"
    return out


@pytest.mark.parametrize("page", PAGES)
def test_every_page_runs_without_an_exception(app_test, page: str) -> None:
    at = _open(app_test(), page)
    assert not at.exception, [e.message for e in at.exception]
    # app.py turns an unexpected error into a plain message; that must not happen either
    assert not any("could not be drawn" in e.value for e in at.error)
    assert at.header[0].value  # the page drew its heading


def test_flight_deck_shows_all_six_pillars_and_the_as_at_date(app_test) -> None:
    at = _open(app_test(), "flight_deck")
    block = _deck(at)
    for number, name in PILLARS.items():
        assert f'<h3 id="fd-p{number}">{number} · {html.escape(name)}</h3>' in block
    assert '<h3 id="fd-changed-h">What changed</h3>' in block
    assert any("data as at **30 September 2026**" in c.value for c in at.caption)


def test_flight_deck_tiles_match_the_engine_for_the_default_view(app_test, small_export):
    at = _open(app_test(), "flight_deck")
    last = latest_complete_month(load_dataset(small_export).as_at)
    expected = _expected_tiles(small_export, "All forces", str(last - 2), str(last))
    assert _tiles(at) == expected


def test_changing_force_and_window_changes_the_numbers_to_the_engines(app_test, small_export):
    at = _open(app_test(), "flight_deck")
    before = _tiles(at)
    at.selectbox(key="fd_force").select("Durham Constabulary")
    at.selectbox(key="fd_window").select("last_month")
    at.run()
    assert not at.exception
    assert at.header[0].value == "Flight deck: Durham Constabulary"
    last = str(latest_complete_month(load_dataset(small_export).as_at))
    after = _tiles(at)
    assert after == _expected_tiles(small_export, "Durham Constabulary", last, last)
    assert after != before


def test_tile_values_agree_with_the_cli(app_test, small_export) -> None:
    at = _open(app_test(force="Kent Police", window="custom", **{"from": "2025-01",
                                                                 "to": "2025-12"}),
               "flight_deck")
    result = subprocess.run(
        [sys.executable, "-m", "metrics", "kpis", str(small_export), "--from", "2025-01",
         "--to", "2025-12", "--force", "Kent Police", "--kpi",
         "charge_rate,days_to_charge,orders_granted", "--format", "csv"],
        capture_output=True, text=True, cwd=REPO, check=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    rows = {r["kpi_id"]: r for r in csv.DictReader(io.StringIO(result.stdout))}
    tiles = _tiles(at)
    assert tiles["Charge rate"] == format_value(float(rows["charge_rate"]["value"]), "proportion")
    assert tiles["Days to charge"] == format_value(float(rows["days_to_charge"]["value"]), "days")
    assert tiles["Protective orders granted"] == format_value(
        float(rows["orders_granted"]["value"]), "count")


def test_a_gated_tile_says_how_far_it_is_from_its_gate(app_test, small_export) -> None:
    at = _open(app_test(force="Gwent Police", window="last_month"), "flight_deck")
    dataset = load_dataset(small_export)
    last = str(latest_complete_month(dataset.as_at))
    table = compute_kpis(dataset, last, last, forces=["Gwent Police"])
    gated = table[table["status"] == "insufficient"]
    assert not gated.empty, "the small export should gate something for one month"
    survey = [c for c in dataset.get("survey_responses").columns if c.startswith("q_")]
    kpis = {k.id: k for k in all_kpis(survey)}
    rows = _rows(at)
    for row in gated.itertuples():
        shown = rows[row.kpi_id]
        assert shown["word"].endswith(gate_word(kpis[row.kpi_id], row.n))
        assert shown["value"] == "–" and shown["verdict"] == "insufficient"


def test_query_params_restore_the_whole_view(app_test) -> None:
    params = {"force": "South Wales Police", "window": "custom", "from": "2024-04",
              "to": "2024-09", "compare": "year_ago", "pillar": "6", "kpi": "device_backlog"}
    at = _open(app_test(**params), "trends")
    assert not at.exception
    assert at.header[0].value == "Trends: South Wales Police"
    assert at.selectbox(key="fd_force").value == "South Wales Police"
    assert at.selectbox(key="fd_window").value == "custom"
    assert (at.selectbox(key="fd_from").value, at.selectbox(key="fd_to").value) == (
        "2024-04", "2024-09")
    assert at.selectbox(key="fd_compare").value == "year_ago"
    assert at.selectbox(key="fd_pillar").value == 6
    assert at.selectbox(key="fd_kpi").value == "device_backlog"
    assert not at.warning  # nothing was ignored
    assert {k: at.query_params[k] for k in params} == params


def test_bad_and_stale_query_params_fall_back_with_a_visible_note(app_test) -> None:
    at = _open(app_test(force="Atlantis Police", window="custom", **{"from": "2031-01",
                                                                   "to": "2031-03"}),
               "flight_deck")
    assert not at.exception
    notes = " ".join(w.value.replace("\\", "") for w in at.warning)
    assert "Atlantis Police" in notes and "must lie between" in notes
    assert at.header[0].value == "Flight deck: All forces"
    assert at.query_params["window"] == "last_quarter"
    assert "from" not in at.query_params


def test_a_broken_export_shows_the_validation_report_not_a_traceback(app_test, export_copy):
    (export_copy / "cases.parquet").write_bytes(b"PAR1 this is not a parquet file")
    at = app_test(export_copy)
    at.run()
    assert not at.exception
    assert any("cannot be used" in e.value for e in at.error)
    assert at.title[0].value == "The export cannot be shown"
    report = at.dataframe[0].value
    assert "cases.parquet" in set(report["file"])


def test_a_missing_export_folder_shows_a_report(app_test, tmp_path) -> None:
    at = app_test(tmp_path / "nowhere")
    at.run()
    assert not at.exception
    assert at.error and at.title[0].value == "The export cannot be shown"


def test_an_export_without_devices_says_so_on_each_digital_forensics_row(
    app_test, export_copy, monkeypatch, tmp_path
) -> None:
    (export_copy / "devices.parquet").unlink()
    monkeypatch.setenv("FLIGHTDECK_DB", f"sqlite:///{tmp_path / 'record.db'}")  # no reviews
    at = app_test(export_copy)
    at.run()
    assert not at.exception
    rows = _rows(at)
    deck = _deck(at)
    for kpi_id in ("victim_device_24h", "suspect_device_days", "device_backlog"):
        assert rows[kpi_id]["word"].endswith("No data")
        row = deck.split(f'data-kpi="{kpi_id}"')[1].split("</li>")[0]
        assert "this export has no devices.parquet" in row
    assert "has no" not in deck.split('data-kpi="charge_rate"')[1].split("</li>")[0]
    reviews = deck.split('data-kpi="open_learning_actions"')[1].split("</li>")[0]
    assert "no case review in the meeting record for this window" in reviews
    # the record then fails to be read: its rows say so, not that nothing was reviewed
    with sqlite3.connect(tmp_path / "record.db") as db:
        db.execute("DROP TABLE actions")
    at.run()
    assert not at.exception
    reviews = _deck(at).split('data-kpi="open_learning_actions"')[1].split("</li>")[0]
    assert "the meeting record could not be read" in reviews
    assert "no case review" not in reviews


def test_last_good_data_is_served_when_the_export_breaks_after_a_good_load(
    app_test, export_copy
) -> None:
    at = app_test(export_copy)
    at.run()
    good = _tiles(at)
    assert good and not at.warning
    cases = export_copy / "cases.parquet"
    cases.write_bytes(cases.read_bytes()[: len(cases.read_bytes()) // 2])  # half-written
    at.run()
    assert not at.exception
    banner = " ".join(w.value.replace("\\", "") for w in at.warning)
    # the banner says last good data is shown; what broke is on the Data quality page
    assert "last good data, loaded at" in banner and "Data quality" in banner
    assert _tiles(at) == good


def test_definitions_page_lists_every_registry_kpi(app_test, small_export) -> None:
    at = _open(app_test(), "definitions")
    text = " ".join(m.value for m in at.markdown).replace("\\", "")
    survey = [c for c in load_dataset(small_export).get("survey_responses").columns
              if c.startswith("q_")]
    for kpi in all_kpis(survey):
        assert kpi.name.replace("\\", "") in text, kpi.id


def test_compare_forces_flags_only_outside_the_998_limits(app_test) -> None:
    at = _open(app_test(kpi="charge_rate", window="last_12_months"), "compare_forces")
    table: pd.DataFrame = at.dataframe[0].value
    assert set(table["position"]) <= {"within limits", "worth a look",
                                      "flagged (outside 99.8%)"}
    assert len(table) == 9


def test_an_unexpected_page_error_shows_a_plain_message_not_a_trace(app_test, monkeypatch):
    from ui import deck

    def broken(*args, **kwargs):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(deck, "build_deck", broken)
    at = app_test()
    at.run()
    assert not at.exception
    assert any("could not be drawn" in e.value for e in at.error)
    assert not any("boom" in e.value for e in at.error)


def test_a_new_export_is_picked_up_without_a_restart(app_test, export_copy, tmp_path) -> None:
    import shutil

    from metrics.generate import generate

    at = app_test(export_copy)
    at.run()
    before = _tiles(at)
    other = tmp_path / "other"
    generate(other, cases=6000, seed=11)
    for file in other.glob("*.parquet"):  # a new export lands in the same folder
        shutil.copyfile(file, export_copy / file.name)
    at.run()
    assert not at.exception and not at.warning
    last = latest_complete_month(load_dataset(export_copy).as_at)
    after = _tiles(at)
    assert after == _expected_tiles(export_copy, "All forces", str(last - 2), str(last))
    assert after != before


def test_the_deck_shows_a_comment_with_its_assurance_and_the_views_actions(
        app_test, small_export, tmp_path, monkeypatch) -> None:
    from datetime import date

    from metrics.record import open_record

    url = f"sqlite:///{tmp_path / 'record.db'}"
    monkeypatch.setenv("FLIGHTDECK_DB", url)
    monkeypatch.setenv("FLIGHTDECK_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    record = open_record(url)
    last = latest_complete_month(load_dataset(small_export).as_at)
    record.add_comment("All forces", last - 2, last, "charge_rate", owner="Head of crime",
                       text="Reviewed in the meeting", assurance="partly_assured",
                       author="lead@example.police.uk")
    for due in (date(2020, 1, 31), date(2099, 1, 31)):
        record.add_action("All forces", text="Review the NFA decisions", owner="DCI",
                          due_date=due, author="lead@example.police.uk", kpi_id="charge_rate")
    at = _open(app_test(), "flight_deck")
    assert not at.exception
    block = _deck(at)
    row = block.split('data-kpi="charge_rate"')[1].split("</li>")[0]
    assert "Comment: Partly assured" in row
    assert "Comment:" not in block.split('data-kpi="days_to_charge"')[1].split("</li>")[0]
    assert "2 open actions, 1 overdue" in block
