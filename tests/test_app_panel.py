"""A scrutiny panel session in the app (AppTest): the link's scope drives the whole frame."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from metrics import sharelink

SECRET = "app-test-panel-secret-0123456789"


@pytest.fixture
def panel_app(app_test, monkeypatch):
    def make(page_ids=("flight_deck", "trends", "victim_voice", "definitions"), *,
             force="Gwent Police", start="2026-07", end="2026-09", data=None, **query):
        monkeypatch.setenv("FLIGHTDECK_SECRET", SECRET)
        token, _ = sharelink.create(SECRET, force=force, start=start, end=end,
                                    pages=list(page_ids), created_by="test")
        params = {"share": token, "force": force, "window": "custom", "from": start,
                  "to": end, **query}
        return app_test(data=data, **params)
    return make


def texts(at) -> str:
    """Every text element of the page (markdown, captions, alerts, headers), joined."""
    parts = []
    for kind in ("markdown", "caption", "info", "warning", "error", "success", "header",
                 "subheader"):
        parts.extend(str(el.value) for el in getattr(at, kind))
    return "\n".join(parts)


def unescape(text: str) -> str:
    return text.replace("\\", "")


def test_panel_view_is_locked_to_the_links_scope(panel_app) -> None:
    at = panel_app()
    at.run()
    assert not at.exception
    assert at.header[0].value == "Flight deck: Gwent Police"
    force, window = at.selectbox(key="fd_force"), at.selectbox(key="fd_window")
    assert force.value == "Gwent Police" and force.disabled
    assert window.value == "custom" and window.disabled
    assert (at.query_params["from"], at.query_params["to"]) == ("2026-07", "2026-09")
    assert "share" in at.query_params  # the link stays in the address bar


def test_panel_navigation_offers_only_the_pages_the_link_opens(panel_app) -> None:
    at = panel_app(page_ids=("flight_deck", "definitions"))
    at.run()
    links = [el.proto.label for el in at.get("page_link")]
    assert links == ["Flight deck", "Definitions and methods"]


def test_panel_victim_voice_marks_rounded_figures_with_a_footnote(panel_app):
    # 36 months of the small export's largest force: every item passes the 30-answer gate
    at = panel_app(force="Metropolitan Police Service", start="2023-10")
    at.run()
    at.switch_page("pages/victim_voice.py")
    at.run()
    assert not at.exception
    table = at.dataframe[0].value
    marked = table["agree"].astype(str).str.endswith("†")
    assert marked.any()  # answers rounded to the nearest 5: some shares move
    for cell in table.loc[marked, "agree"]:
        float(cell.removesuffix(" †").removesuffix("%"))  # a share with the mark after it
    page = unescape(texts(at))
    assert ("† Changed by disclosure control: counts rounded to the nearest 5; rates worked "
            "out from the rounded counts.") in page
    counts = pd.to_numeric(table["answers"], errors="coerce").dropna()
    assert ((counts == 0) | ((counts > 7) & (counts % 5 == 0))).all()


def test_internal_victim_voice_has_no_rounding_mark(app_test):
    at = app_test(force="Metropolitan Police Service", window="custom", **{"from": "2023-10",
                  "to": "2026-09"})
    at.run()
    at.switch_page("pages/victim_voice.py")
    at.run()
    table = at.dataframe[0].value
    assert not table.astype(str).apply(lambda c: c.str.contains("†")).any().any()
    assert "Changed by disclosure control" not in unescape(texts(at))


def test_panel_trends_draws_a_sentence_not_an_empty_chart(panel_app):
    at = panel_app()
    at.run()
    at.switch_page("pages/trends.py")
    at.run()
    assert not at.exception
    charts = at.get("plotly_chart")
    page = unescape(texts(at))
    for chart in charts:  # any chart drawn has at least six months with a value
        figure = json.loads(chart.proto.spec)
        ys = [y for trace in figure["data"] if trace.get("mode") == "markers"
              for y in trace.get("y", []) if y is not None]
        assert len(ys) >= 6
    if not any("monthly" in json.loads(c.proto.spec)["layout"].get("title", {}).get("text", "")
               for c in charts):
        assert "Too little to chart" in page or "has anything to count" in page
    assert "Choose All forces" not in page


def test_panel_before_after_outside_the_link_is_said_in_plain_words(panel_app):
    at = panel_app()
    at.run()
    at.switch_page("pages/trends.py")
    at.run()
    page = unescape(texts(at))
    assert "outside this link's window" in page
    assert "n = 0 of" not in page
    at.switch_page("pages/victim_voice.py")
    at.run()
    page = unescape(texts(at))
    assert "outside this link's window" in page
    assert "Choose All forces" not in page and "n = 0 of" not in page


def _scope(force="Gwent Police", start="2026-07", end="2026-09"):
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    return sharelink.Scope(force=force, start=start, end=end, pages=("trends",),
                           expires=now + timedelta(days=1), link_id="t", created_by="t",
                           created=now)


def test_panel_link_covers_its_comparison_windows_and_36_months_of_history(small_export):
    from metrics.kpis import compute_kpis
    from metrics.load import load_dataset
    from ui.access import Access
    from ui.shell import PageContext
    from ui.state import ViewState

    met = "Metropolitan Police Service"
    access = Access(audience="panel", user="t", page_id="trends", mode="link",
                    scope=_scope(force=met))
    ctx = PageContext("trends", access, None, ViewState(), None)  # type: ignore[arg-type]
    assert (str(ctx.coverage[0]), str(ctx.coverage[1])) == ("2023-10", "2026-09")
    dataset = load_dataset(small_export)
    monthly = compute_kpis(dataset, "2023-08", "2026-09", by="month",
                           kpi_ids=["charge_rate_cohort"], forces=[met, "Kent Police"])
    shown = ctx.disclose(monthly)
    mine = shown["force"] == met
    inside = pd.to_datetime(shown["window_start"]) >= pd.Timestamp("2023-10-01")
    counted = monthly["denominator"].fillna(0) > 7
    # before the coverage nothing is shown; inside it every counted month is disclosed
    assert (shown.loc[mine & ~inside, "status"] == "no_data").all()
    assert shown.loc[mine & ~inside, "denominator"].isna().all()
    disclosed = shown.loc[mine & inside & counted, "denominator"]
    assert len(disclosed) > 12 and (disclosed % 5 == 0).all()
    # another force is never shown, even inside the months
    assert (shown.loc[~mine, "status"] == "no_data").all()
    # the previous window and the year-ago window are both covered, and disclosed
    for start, end in (("2026-04", "2026-06"), ("2025-07", "2025-09")):
        assert ctx.covers(pd.Period(start, "M"), pd.Period(end, "M"))
        window = ctx.disclose(compute_kpis(dataset, start, end, kpi_ids=["charge_rate_cohort"],
                                           forces=[met]))
        assert window["status"].iloc[0] != "no_data" and window["denominator"].iloc[0] % 5 == 0
    assert not ctx.covers(pd.Period("2023-09", "M"), pd.Period("2023-12", "M"))


def test_panel_coverage_reaches_a_long_windows_previous_window():
    from ui.access import Access
    from ui.shell import PageContext
    from ui.state import ViewState

    scope = _scope(start="2024-10", end="2026-09")  # 24 months: previous window from 2022-10
    access = Access(audience="panel", user="t", page_id="trends", mode="link", scope=scope)
    ctx = PageContext("trends", access, None, ViewState(), None)  # type: ignore[arg-type]
    assert str(ctx.coverage[0]) == "2022-10"


def test_panel_trends_commentary_is_only_the_links_window(panel_app, tmp_path, monkeypatch):
    from metrics.record import open_record

    url = f"sqlite:///{tmp_path / 'record.db'}"
    monkeypatch.setenv("FLIGHTDECK_DB", url)
    monkeypatch.setenv("FLIGHTDECK_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    record = open_record(url)
    for start, end, text in (("2026-07", "2026-09", "Shared window note."),
                             ("2026-04", "2026-06", "Earlier internal note.")):
        record.add_comment("Gwent Police", start, end, "charge_rate", owner="DCI",
                           text=text, assurance="assured", author="lead@example.police.uk")
    record.close()
    at = panel_app(kpi="charge_rate")
    at.run()
    at.switch_page("pages/trends.py")
    at.run()
    page = unescape(texts(at))
    assert "Shared window note." in page
    assert "Earlier internal note." not in page
    assert "lead@example.police.uk" not in page.replace("\u200b", "")  # a panel: no names


def test_panel_refused_page_is_plain_words(panel_app):
    at = panel_app()
    at.run()
    at.switch_page("pages/compare_forces.py")
    at.run()
    assert not at.exception
    page = unescape(texts(at))
    assert "This link does not open this page" in page
    assert "Compare forces" not in [h.value for h in at.header]  # no data page drawn


def test_panel_refused_page_links_to_where_the_panel_can_go(panel_app):
    at = panel_app(page_ids=("flight_deck", "trends"))
    at.run()
    at.switch_page("pages/compare_forces.py")
    at.run()
    page = unescape(texts(at))
    assert "Reason code" not in page and "page_not_in_scope" not in page
    links = [el.proto.label for el in at.get("page_link")]
    assert "Flight deck" in links and "Trends" in links
    assert "Compare forces" not in links


def test_panel_before_after_inside_the_link_names_no_other_force(panel_app, small_export):
    from metrics.kpis.spc import adoption_months
    from metrics.load import load_dataset

    adoption = adoption_months(load_dataset(small_export))
    adopted = adoption["Durham Constabulary"]
    assert any(month > adopted + 11 for month in adoption.values())  # a comparison group
    end = adopted + 11  # the 12 months after adoption end with the link's window
    at = panel_app(force="Durham Constabulary", start=str(end - 2), end=str(end))
    at.run()
    at.switch_page("pages/trends.py")
    at.run()
    assert not at.exception
    page = unescape(texts(at))
    assert "outside this link's window" not in page.split("Before and after Soteria")[1] \
        .split("Breakdowns")[0]
    table = next(df.value for df in at.dataframe
                 if "difference in differences (95% interval)" in df.value.columns)
    assert "other forces' change" not in table.columns
    for force in adoption:  # the comparison forces are not named to a panel
        assert force == "Durham Constabulary" or force not in page
    assert "(pooled)" in page


def test_panel_never_sees_the_catalogue_banner(panel_app, tmp_path, monkeypatch):
    bad = tmp_path / "broken.toml"
    bad.write_text('id = "broken_kpi"\nname = 3\n', encoding="utf-8")
    monkeypatch.setenv("FLIGHTDECK_KPIS", str(bad))
    at = panel_app()
    at.run()
    at.switch_page("pages/trends.py")
    at.run()
    assert not at.exception
    assert not any("FLIGHTDECK_KPIS" in str(w.value) for w in at.warning)
    assert "broken" not in unescape(texts(at))


def test_panel_breakdown_marks_exactly_the_values_rounding_changed(panel_app, small_export):
    from metrics.breakdowns import compute_breakdown, disclose_breakdown
    from metrics.load import load_dataset
    from metrics.registry import get_kpi
    from present.format import format_value

    met = "Metropolitan Police Service"
    kpi = get_kpi("charge_rate_cohort")
    raw = compute_breakdown(load_dataset(small_export), "2023-10", "2026-09", "offence_group",
                            force=met, kpi_ids=[kpi.id])
    shown = disclose_breakdown(raw, {kpi.id: kpi}).set_index("group")
    raw = raw.set_index("group")
    expected = {g for g in shown.index if shown.loc[g, "status"] == "ok"
                and format_value(shown.loc[g, "value"], kpi.unit)
                != format_value(raw.loc[g, "value"], kpi.unit)}
    at = panel_app(force=met, start="2023-10", kpi=kpi.id, pillar="1")
    at.run()
    at.switch_page("pages/trends.py")
    at.run()
    assert not at.exception
    table = next(df.value for df in at.dataframe if "group" in df.value.columns)
    marked = {g.lower() for g, v in zip(table["group"], table["value"], strict=True)
              if str(v).endswith("†")}
    assert marked == {g.replace("_", " ").lower() for g in expected}
    footnote = "Changed by disclosure control" in unescape(texts(at))
    assert footnote == bool(expected)
