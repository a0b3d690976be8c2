"""CSV and Excel downloads (same values and status flags as the table shown), the panel
disclosure check, and the Streamlit buttons (AppTest) including the board pack button."""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

from metrics.disclosure import apply_panel, apply_panel_marked
from metrics.kpis import compute_kpis
from metrics.load import load_dataset
from present import export
from present.export import ExportAbout
from ui import downloads as dl


@pytest.fixture(scope="module")
def dataset(small_export: Path):
    return load_dataset(small_export)


@pytest.fixture(scope="module")
def kpi_table(dataset) -> pd.DataFrame:
    return compute_kpis(dataset, "2026-01", "2026-03")


def _same(back: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Equal values, whatever the missing marker (NaN, None, NA) and the number dtype."""
    def norm(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.astype(object)
        return frame.where(frame.notna(), None)

    pd.testing.assert_frame_equal(norm(back), norm(expected), check_dtype=False)


def _read_excel(data: bytes) -> pd.DataFrame:
    return pd.read_excel(io.BytesIO(data), sheet_name=0)


#: Workforce KPIs count full-time equivalents (1.7 officers): the only fractional counts.
FTE_KPIS = ("vacancy_rate", "trainee_share")
ABOUT = dict(title="KPIs", force="Durham Constabulary", start="2026-01", end="2026-03",
             scope="adult_rape", as_at=date(2026, 4, 15))


def _about(**kw) -> ExportAbout:
    return ExportAbout(**{**ABOUT, **kw})


def test_csv_round_trip_equals_the_table(kpi_table: pd.DataFrame) -> None:
    data = dl.to_csv_bytes(kpi_table, _about())
    back = dl.read_csv_download(data)
    expected = dl.export_frame(kpi_table)
    _same(back, expected)
    assert list(back["status"]) == list(kpi_table["status"])  # the status flags survive
    assert back["window_start"].iloc[0] == "2026-01-01"
    assert data.decode("utf-8-sig").splitlines()[0] == "# OFFICIAL-SENSITIVE"


def test_csv_header_lines_name_force_window_scope_audience_and_as_at(kpi_table) -> None:
    header = export.csv_header(dl.to_csv_bytes(kpi_table, _about()))
    assert header["Marking"] == "OFFICIAL-SENSITIVE"
    assert header["Force"] == "Durham Constabulary"
    assert header["Window"] == "2026-01 to 2026-03"
    assert header["Scope"] == "adult_rape"
    assert header["Audience"] == "Internal"
    assert header["Data as at"] == "2026-04-15"
    assert "fractions" in header["Units"]
    panel = export.csv_header(dl.to_csv_bytes(apply_panel(kpi_table), _about(audience="panel")))
    assert panel["Audience"].startswith("Scrutiny panel") and "rounded" in panel["Note"]


def test_file_names_say_force_window_scope_audience_and_as_at() -> None:
    name = export.export_filename("charge rate/by team", _about(audience="panel"), "csv")
    assert name == ("charge_rate_by_team_durham-constabulary_2026-01_2026-03_adult_rape_"
                    "panel_asat-2026-04-15.csv")
    hostile = export.export_filename("x", _about(force='../=cmd|"a b"\\evil'), "xlsx")
    assert "/" not in hostile and "\\" not in hostile and '"' not in hostile
    assert hostile.endswith(".xlsx") and hostile.startswith("x_cmd-a-b-evil_")


def test_csv_numbers_are_numbers_and_empty_cells_are_empty(kpi_table) -> None:
    text = dl.to_csv_bytes(kpi_table, _about()).decode("utf-8-sig")
    assert "None" not in text and "nan" not in text.lower().replace("financ", "")
    back = dl.read_csv_download(text.encode())
    for col in ("value", "ci_low", "ci_high"):
        assert pd.api.types.is_float_dtype(back[col]), col
    rows = [line.split(",") for line in text.splitlines() if not line.startswith("#")]
    head = rows[0]
    for row in rows[1:]:
        cells = dict(zip(head, row, strict=False))
        for col in ("numerator", "denominator", "n"):
            assert cells[col] == "" or cells[col].isdigit() or (
                cells["kpi_id"] in FTE_KPIS and float(cells[col]) % 1), (col, cells[col])
    units = dict(zip(back["kpi_id"], back["unit"], strict=True))
    assert units["charge_rate"] == "proportion" and units["days_to_charge"] == "days"
    rate = back[back["kpi_id"].eq("charge_rate") & back["status"].eq("ok")]["value"]
    assert ((rate >= 0) & (rate <= 1)).all()  # a fraction, not a percent


def test_excel_round_trip_equals_the_table(kpi_table: pd.DataFrame) -> None:
    data = dl.to_excel_bytes(kpi_table, _about(), name="kpis")
    back = _read_excel(data)
    _same(back, dl.export_frame(kpi_table))
    wb = load_workbook(io.BytesIO(data))
    sheet = wb.worksheets[0]
    assert sheet.title == "kpis"
    assert sheet.oddHeader.center.text == "OFFICIAL-SENSITIVE"
    assert sheet.oddFooter.center.text == "OFFICIAL-SENSITIVE"
    about = {row[0]: row[1] for row in wb["About"].iter_rows(values_only=True)}
    assert about["Marking"] == "OFFICIAL-SENSITIVE" and about["Audience"] == "Internal"
    assert (about["Force"], about["Window"], about["Scope"], about["Data as at"]) == (
        "Durham Constabulary", "2026-01 to 2026-03", "adult_rape", "2026-04-15")


def test_excel_proportions_are_fractions_with_a_percent_format(kpi_table) -> None:
    wb = load_workbook(io.BytesIO(dl.to_excel_bytes(kpi_table, _about(), name="kpis")))
    ws = wb.worksheets[0]
    head = [c.value for c in ws[1]]
    col = {name: i for i, name in enumerate(head)}
    seen = {"proportion": 0, "days": 0, "count": 0}
    for row in ws.iter_rows(min_row=2):
        unit, status = row[col["unit"]].value, row[col["status"]].value
        value, low, n = row[col["value"]], row[col["ci_low"]], row[col["n"]]
        if n.value is not None:
            assert isinstance(n.value, int) and n.number_format == "#,##0"
        num = row[col["numerator"]]
        if isinstance(num.value, float):  # full-time equivalents, one decimal shown
            assert row[0].value in FTE_KPIS and num.number_format == "#,##0.0"
        if status != "ok":
            assert value.value is None  # an empty cell, never "None"
            continue
        assert isinstance(value.value, int | float)
        if unit == "proportion":
            assert 0 <= value.value <= 1 and value.number_format == "0.0%"
            if low.value is not None:  # KPIs declared without an interval leave it empty
                assert isinstance(low.value, int | float) and low.number_format == "0.0%"
                seen["count"] += 1
            seen["proportion"] += 1
        elif unit == "days":
            assert value.number_format == "0.0"
            seen["days"] += 1
    assert seen["proportion"] and seen["days"] and seen["count"]
    assert not any(c.value == "None" for r in ws.iter_rows() for c in r)


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
    assert str(expected["n"].dtype) == "Int64"  # counts are integers, the gap stays empty
    for back in (dl.read_csv_download(dl.to_csv_bytes(shown)),
                 _read_excel(dl.to_excel_bytes(shown, name="deck"))):
        _same(back, expected)
        assert back.loc[1, "Value"] == "n = 17 of 30 needed"
        assert back.loc[0, "Verdict"] == "▲ Improvement"


def test_text_none_and_object_numbers_are_cleaned() -> None:
    table = pd.DataFrame({"group": ["a", "b", None], "n": ["10", None, "None"],
                          "value": [0.5, None, float("nan")]})
    frame = dl.export_frame(table)
    assert frame["n"].tolist()[0] == 10 and pd.isna(frame["n"].iloc[1])
    assert pd.isna(frame["n"].iloc[2])
    text = dl.to_csv_bytes(table).decode("utf-8-sig")
    assert "None" not in text
    assert text.splitlines()[-1] == ",,"


def test_panel_marked_table_keeps_its_symbols(kpi_table: pd.DataFrame) -> None:
    marked = apply_panel_marked(kpi_table)
    assert (marked["numerator"] == "*").any()  # the small export has suppressed cells
    data = dl.to_csv_bytes(marked, audience="panel")
    lines = data.decode("utf-8-sig").splitlines()
    assert lines[0] == "# OFFICIAL-SENSITIVE"
    assert export.csv_header(data)["Note"].startswith("Scrutiny panel")
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


def test_funnel_download_holds_numerators_denominators_and_limits(kpi_table) -> None:
    from metrics.verdicts import funnel_points

    rows = kpi_table[(kpi_table["kpi_id"] == "charge_rate") & (kpi_table["status"] == "ok")
                     & (kpi_table["force"] != "All forces")]
    placed = funnel_points(rows["force"].tolist(), rows["numerator"].to_numpy(float),
                           rows["denominator"].to_numpy(float))
    table = export.funnel_download(placed, "charge_rate")
    assert sorted(table["force"]) == sorted(rows["force"]) == list(table["force"])
    assert list(table.columns) == ["kpi_id", "force", "numerator", "denominator", "value",
                                   "target", "lower_998", "lower_95", "upper_95", "upper_998",
                                   "position"]
    assert (table["kpi_id"] == "charge_rate").all()
    # the target is the pooled rate of the forces on the plot, as the plot draws it
    assert table["target"].iloc[0] == pytest.approx(rows["numerator"].sum()
                                                    / rows["denominator"].sum())
    words = {"outside": "outside_998", "between_95_998": "between_95_998",
             "within": "inside_95"}
    for _, r in table.iterrows():
        src = rows[rows["force"] == r["force"]].iloc[0]
        on_plot = placed[placed["force"] == r["force"]].iloc[0]
        assert (r["numerator"], r["denominator"]) == (src["numerator"], src["denominator"])
        assert r["value"] == pytest.approx(src["numerator"] / src["denominator"])
        assert r["lower_998"] <= r["lower_95"] <= r["target"] <= r["upper_95"] <= r["upper_998"]
        assert r["position"] == words[on_plot["position"]]
        assert (r["lower_95"], r["upper_998"]) == (on_plot["lower_95"], on_plot["upper_998"])
    assert export.funnel_download(placed.iloc[:0], "charge_rate").empty
    back = _read_excel(dl.to_excel_bytes(table, _about(kpi="charge_rate: Charge rate"),
                                         name="charge_rate_funnel"))
    assert pd.api.types.is_integer_dtype(back["numerator"])
    assert pd.api.types.is_float_dtype(back["upper_998"])


def test_breakdown_download_names_the_kpi() -> None:
    table = pd.DataFrame({"group": ["Team A", "Team B"], "value": [0.2, 0.3],
                          "n": [40, 50]})
    about = dl.about_for(None, "Charge rate by team", kpi="charge_rate")
    assert about.kpi == "charge_rate: Charge rate"
    wb = load_workbook(io.BytesIO(dl.to_excel_bytes(table, about, name="charge_rate_by_team")))
    info = {row[0]: row[1] for row in wb["About"].iter_rows(values_only=True)}
    assert info["KPI"] == "charge_rate: Charge rate"
    assert export.csv_header(dl.to_csv_bytes(table, about))["KPI"] == "charge_rate: Charge rate"


def test_about_for_reads_the_page_context(dataset) -> None:
    class View:
        force, scope = "Durham Constabulary", "child"

    class Loaded:
        pass

    class Page:
        view, loaded = View(), Loaded()
        start, end = pd.Period("2026-01", "M"), pd.Period("2026-03", "M")

    Page.loaded.dataset = dataset
    about = dl.about_for(Page(), "Trends", audience="panel")
    assert (about.force, about.window, about.scope, about.audience, about.as_at) == (
        "Durham Constabulary", "2026-01 to 2026-03", "child", "panel", dataset.as_at)


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
    assert all("as-at date" in b.help or "About sheet" in b.help for b in at.download_button)
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
    assert seen["scope"] == "all"
    dl._build(object(), "Gwent Police", "2026-07", "2026-09", "internal", "previous",
              None, lambda f, m: None, False, "child")
    assert seen["scope"] == "child"


def _context_app() -> None:
    from types import SimpleNamespace

    import pandas as pd
    import streamlit as st

    from ui import shell
    from ui.downloads import _current_page, about_for

    st.session_state[shell._CTX] = SimpleNamespace(
        view=SimpleNamespace(force="Gwent Police", scope="child"), loaded=None,
        start=pd.Period("2026-01", "M"), end=pd.Period("2026-03", "M"))
    about = about_for(_current_page(), "t")
    st.write(f"about: {about.force} | {about.window} | {about.scope}")


def test_downloads_name_the_page_the_shell_set_up_without_being_told() -> None:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_context_app, default_timeout=60).run()
    assert not at.exception
    assert at.markdown[-1].value == "about: Gwent Police | 2026-01 to 2026-03 | child"
