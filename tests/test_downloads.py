"""CSV and Excel downloads (same values and status flags as the table shown), the panel
disclosure check, and the Streamlit buttons (AppTest) including the board pack button."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

from metrics.disclosure import apply_panel, apply_panel_marked
from metrics.kpis import compute_kpis
from metrics.load import load_dataset
from ui import downloads as dl


@pytest.fixture(scope="module")
def dataset(small_export: Path):
    return load_dataset(small_export)


@pytest.fixture(scope="module")
def kpi_table(dataset) -> pd.DataFrame:
    return compute_kpis(dataset, "2026-01", "2026-03")


def _read_excel(data: bytes) -> pd.DataFrame:
    return pd.read_excel(io.BytesIO(data), sheet_name=0)


def test_csv_round_trip_equals_the_table(kpi_table: pd.DataFrame) -> None:
    data = dl.to_csv_bytes(kpi_table)
    back = dl.read_csv_download(data)
    expected = dl.export_frame(kpi_table)
    pd.testing.assert_frame_equal(back, expected, check_dtype=False)
    assert list(back["status"]) == list(kpi_table["status"])  # the status flags survive
    assert back["window_start"].iloc[0] == "2026-01-01"
    assert data.decode("utf-8-sig").splitlines()[0] == "OFFICIAL-SENSITIVE"


def test_excel_round_trip_equals_the_table(kpi_table: pd.DataFrame) -> None:
    data = dl.to_excel_bytes(kpi_table, name="kpis")
    back = _read_excel(data)
    pd.testing.assert_frame_equal(back, dl.export_frame(kpi_table), check_dtype=False)
    wb = load_workbook(io.BytesIO(data))
    sheet = wb.worksheets[0]
    assert sheet.title == "kpis"
    assert sheet.oddHeader.center.text == "OFFICIAL-SENSITIVE"
    assert sheet.oddFooter.center.text == "OFFICIAL-SENSITIVE"
    about = {row[0]: row[1] for row in wb["About"].iter_rows(values_only=True)}
    assert about["Marking"] == "OFFICIAL-SENSITIVE" and about["Audience"] == "Internal"


def test_display_table_with_text_flags_round_trips() -> None:
    shown = pd.DataFrame({
        "KPI": ["Charge rate", "Survey: felt believed", "Device backlog"],
        "Value": ["12.5%", "n = 17 of 30 needed", "No data"],
        "n": [400, 17, None],
        "Month": pd.PeriodIndex(["2026-01", "2026-02", "2026-03"], freq="M"),
        "Verdict": pd.Categorical(["▲ Improvement", "– No SPC verdict", "● Common cause"]),
    })
    expected = dl.export_frame(shown)
    assert list(expected["Month"]) == ["2026-01", "2026-02", "2026-03"]
    for back in (dl.read_csv_download(dl.to_csv_bytes(shown)),
                 _read_excel(dl.to_excel_bytes(shown, name="deck"))):
        pd.testing.assert_frame_equal(back, expected, check_dtype=False)
        assert back.loc[1, "Value"] == "n = 17 of 30 needed"
        assert back.loc[0, "Verdict"] == "▲ Improvement"


def test_panel_marked_table_keeps_its_symbols(kpi_table: pd.DataFrame) -> None:
    marked = apply_panel_marked(kpi_table)
    assert (marked["numerator"] == "*").any()  # the small export has suppressed cells
    data = dl.to_csv_bytes(marked, audience="panel")
    lines = data.decode("utf-8-sig").splitlines()
    assert lines[0].startswith('"OFFICIAL-SENSITIVE - Scrutiny panel')
    back = dl.read_csv_download(data)
    stars = marked["numerator"].eq("*").to_numpy()
    assert back["numerator"].astype(str).eq("*").to_numpy().tolist() == stars.tolist()
    shown = pd.to_numeric(back["numerator"][~stars]).reset_index(drop=True)
    expected = pd.to_numeric(marked["numerator"][~stars]).reset_index(drop=True)
    pd.testing.assert_series_equal(shown, expected, check_dtype=False, check_names=False)
    xlsx = _read_excel(dl.to_excel_bytes(marked, audience="panel"))
    assert (xlsx["numerator"] == "*").sum() == (marked["numerator"] == "*").sum()


def test_panel_refuses_a_table_that_skipped_disclosure_control(kpi_table) -> None:
    small = kpi_table[(kpi_table["n"] >= 1) & (kpi_table["n"] <= 7)]
    assert not small.empty  # the raw table does hold small counts
    for write in (dl.to_csv_bytes, dl.to_excel_bytes):
        with pytest.raises(dl.DisclosureError, match="disclosure control"):
            write(kpi_table, audience="panel")
        write(kpi_table, audience="internal")  # internal users get the raw table
    unrounded = pd.DataFrame({"group": ["a", "b"], "count": [12, 40]})
    with pytest.raises(dl.DisclosureError):
        dl.to_csv_bytes(unrounded, audience="panel")
    safe = apply_panel(kpi_table)
    back = dl.read_csv_download(dl.to_csv_bytes(safe, audience="panel"))
    counts = pd.concat([back[c] for c in ("numerator", "denominator", "n")]).dropna()
    assert not counts.between(1, 7).any()
    assert (counts % 5 == 0).all()


# ----------------------------------------------------------------------------- Streamlit


def _buttons_app() -> None:
    import pandas as pd
    import streamlit as st

    from ui.downloads import download_buttons

    table = pd.DataFrame({"kpi_id": ["charge_rate"], "n": [st.session_state.get("n", 40)],
                          "status": ["ok"]})
    download_buttons(table, "charge rate/by team", audience=st.session_state.get("aud"))


@pytest.fixture
def audit_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "audit.jsonl"
    monkeypatch.setenv("FLIGHTDECK_AUDIT_LOG", str(path))
    return path


def test_download_buttons_render_and_log_exports(audit_log: Path) -> None:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_buttons_app, default_timeout=60).run()
    assert not at.exception
    labels = [b.label for b in at.download_button]
    assert labels == ["Download CSV", "Download Excel"]
    at.download_button[0].click().run()
    event = json.loads(audit_log.read_text().splitlines()[-1])
    assert event["action"] == "export" and event["reason"] == "csv:charge_rate_by_team"
    # No data values in the audit trail (the table's n is 40; the time may contain "40").
    assert not any("40" in str(v) for k, v in event.items() if k != "time")


def test_download_buttons_refuse_an_unsafe_panel_table(audit_log: Path) -> None:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_buttons_app, default_timeout=60)
    at.session_state["aud"] = "panel"
    at.session_state["n"] = 3
    at.run()
    assert not at.exception
    assert len(at.download_button) == 0
    assert "cannot be downloaded" in at.error[0].value
    at.session_state["n"] = 0  # a zero count is safe: it stays 0
    at.run()
    assert len(at.download_button) == 2


def _pack_app() -> None:
    import os

    import streamlit as st

    from metrics.load import load_dataset
    from ui.downloads import boardpack_button

    dataset = load_dataset(os.environ["PACK_DATA"])
    force = dataset.forces[0]
    pdf = boardpack_button(dataset, force, "2026-01", "2026-03", "internal", charts=False)
    st.write(f"pdf bytes: {0 if pdf is None else len(pdf)}")


def test_boardpack_button_builds_then_offers_the_pdf(small_export, audit_log, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("PACK_DATA", str(small_export))
    at = AppTest.from_function(_pack_app, default_timeout=180).run()
    assert not at.exception
    assert [b.label for b in at.button] == ["Build board pack (PDF)"]
    assert len(at.download_button) == 0
    at.button[0].click().run()
    assert not at.exception
    assert [b.label for b in at.download_button] == ["Download board pack"]
    written = int(at.markdown[-1].value.split(": ")[1])
    assert written > 10_000
    at.download_button[0].click().run()  # kept across reruns, and the click is audited
    assert [b.label for b in at.download_button] == ["Download board pack"]
    event = json.loads(audit_log.read_text().splitlines()[-1])
    assert (event["action"], event["reason"], event["window"]) == (
        "export", "board_pack_pdf", "2026-01..2026-03")


def test_panel_board_pack_goes_through_the_sessions_disclose_and_pages(monkeypatch) -> None:
    import report.boardpack as bp

    seen: dict = {}

    def fake_build(dataset, force, start, end, **kwargs):
        seen.update(kwargs, force=force)
        return b"%PDF-"

    class PanelAccess:
        audience, user, page_id = "panel", "link:abc", "flight_deck"
        allowed_pages = ("flight_deck", "victim_voice")

        def disclose(self, table):
            return table

    access = PanelAccess()
    monkeypatch.setattr(bp, "build_boardpack", fake_build)
    pdf = dl._build(object(), "Gwent Police", "2026-07", "2026-09", "panel", "previous",
                    access, lambda f, m: None, False)
    assert pdf == b"%PDF-"
    assert seen["audience"] == "panel" and seen["disclose"] == access.disclose
    assert seen["pages"] == ("flight_deck", "victim_voice")
    dl._build(object(), "Gwent Police", "2026-07", "2026-09", "internal", "previous",
              None, lambda f, m: None, False)
    assert seen["disclose"] is None and seen["pages"] is None
