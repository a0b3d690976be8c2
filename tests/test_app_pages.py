"""Trends, Compare forces, Data quality and Definitions as their users meet them (AppTest),
and the pure builders behind them (present.page_charts, present.quality, present.definitions).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from present import definitions, page_charts, quality
from ui.tiles import escape_md

CATALOGUE = Path(__file__).resolve().parents[1] / "metrics" / "catalogue"
SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


def texts(at) -> str:
    parts = []
    for kind in ("markdown", "caption", "info", "warning", "error", "success", "header",
                 "subheader"):
        parts.extend(str(el.value) for el in getattr(at, kind))
    return "\n".join(parts).replace("\\", "")


def open_page(at, path: str):
    at.run()
    at.switch_page(path)
    at.run()
    assert not at.exception
    return at


# --------------------------------------------------------------------------- Trends


def test_trends_chart_starts_at_the_forces_first_month_with_data(app_test) -> None:
    at = open_page(app_test(force="Kent Police", kpi="charge_rate"), "pages/trends.py")
    assert at.selectbox(key="fd_span").value == 36  # the default span
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    spc = next(f for f in charts if "monthly" in f["layout"]["title"]["text"])
    xs = spc["data"][0]["x"]  # the line through every month drawn
    assert xs[0] == "2023-10-01"  # 36 months ending Sep 2026; the small export has data there
    assert xs[-1] == "2026-09-01" and len(xs) == 36
    assert spc["layout"]["xaxis"]["title"]["text"] == "Month"
    assert spc["layout"]["yaxis"]["title"]["text"] == "Per cent"
    # the chart covers the whole span asked for, so it does not say it starts later
    assert "October 2023 to September 2026 (36 months)." in texts(at)
    assert "starts where this force's data starts" not in texts(at)


def test_trends_longer_span_starts_where_the_data_starts(app_test, small_export) -> None:
    from metrics.load import load_dataset

    first = load_dataset(small_export).cases["recorded_date"].min().to_period("M")
    at = open_page(app_test(force="Kent Police", kpi="charge_rate_cohort"), "pages/trends.py")
    at.selectbox(key="fd_span").set_value(0).run()
    spc = next(json.loads(c.proto.spec) for c in at.get("plotly_chart")
               if "monthly" in json.loads(c.proto.spec)["layout"]["title"]["text"])
    xs = spc["data"][0]["x"]  # the line through every month drawn
    assert pd.Period(xs[0][:7], "M") == first  # the axis starts at the export's first case


def _keep_cases(export: Path, keep) -> None:
    """Rewrite ``export`` with only the cases ``keep(cases)`` (an Arrow mask) selects, and what
    hangs off them (updates, orders, devices, breaches; forces, survey and workforce of the
    forces left), so the export stays clean."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    cases = pq.read_table(export / "cases.parquet")
    cases = cases.filter(keep(cases))
    pq.write_table(cases, export / "cases.parquet")
    orders = None
    for name in ("victim_updates", "orders", "devices"):
        table = pq.read_table(export / f"{name}.parquet")
        table = table.filter(pc.is_in(table["case_id"], value_set=cases["case_id"]))
        orders = table["order_id"] if name == "orders" else orders
        pq.write_table(table, export / f"{name}.parquet")
    breaches = pq.read_table(export / "breaches.parquet")
    pq.write_table(breaches.filter(pc.is_in(breaches["order_id"], value_set=orders)),
                   export / "breaches.parquet")
    forces = pa.array(sorted(set(cases["force"].cast("string").to_pylist())))
    for name in ("forces", "survey_responses", "workforce"):
        table = pq.read_table(export / f"{name}.parquet")
        pq.write_table(table.filter(pc.is_in(table["force"].cast("string"), value_set=forces)),
                       export / f"{name}.parquet")


def test_trends_says_the_chart_starts_later_only_when_the_force_has_no_earlier_data(
        app_test, export_copy) -> None:
    import pyarrow.compute as pc

    # Kent's cases (and what hangs off them) begin in 2021; the other forces' in the export's
    # first year, so "All months" asks for months Kent has nothing to count in
    _keep_cases(export_copy, lambda c: pc.invert(pc.and_(
        pc.equal(c["force"].cast("string"), "Kent Police"),
        pc.less(c["recorded_date"], pd.Timestamp("2021-01-01").date()))))

    at = open_page(app_test(export_copy, force="Kent Police", kpi="charge_rate"),
                   "pages/trends.py")
    at.selectbox(key="fd_span").set_value(0).run()
    assert not at.exception and not at.warning
    assert "(all months asked for; the chart starts where this force's data starts)" in texts(at)


@pytest.fixture
def one_force_export(export_copy: Path) -> Path:
    """The small export cut to Kent Police alone, as a force's own export would be."""
    import pyarrow.compute as pc

    _keep_cases(export_copy, lambda c: pc.equal(c["force"].cast("string"), "Kent Police"))
    return export_copy


def test_a_one_force_export_opens_on_its_force_and_compare_forces_says_why_no_funnel(
        app_test, one_force_export) -> None:
    deck = open_page(app_test(one_force_export), "pages/flight_deck.py")
    assert not deck.exception
    assert deck.header[0].value == "Flight deck: Kent Police"  # not "All forces"
    assert deck.selectbox(key="fd_force").value == "Kent Police"
    compare = open_page(app_test(one_force_export), "pages/compare_forces.py")
    assert not compare.exception
    said = " ".join(i.value for i in compare.info).replace("\\", "")  # Markdown escapes
    assert "This export holds 1 force (Kent Police)" in said
    assert "A longer window" not in said  # a longer window cannot add forces


def test_a_comparison_window_before_the_data_is_said_on_the_deck_and_in_the_pack(
        app_test, export_copy, tmp_path, capsys) -> None:
    import pyarrow.compute as pc
    from pypdf import PdfReader

    from metrics.__main__ import main as cli

    # cases from May 2026 only: the default view's comparison window (Apr-Jun) is part-empty
    _keep_cases(export_copy, lambda c: pc.greater_equal(c["recorded_date"],
                                                        pd.Timestamp("2026-05-01").date()))
    said = ("This export's data starts in May 2026, so the comparison window (Apr 2026 to Jun "
            "2026) holds only part of its months")
    deck = open_page(app_test(export_copy), "pages/flight_deck.py")
    assert not deck.exception
    assert any(said in w.value.replace("\\", "") for w in deck.warning)
    pdf = tmp_path / "pack.pdf"
    assert cli(["boardpack", str(export_copy), "--force", "All forces", "--from", "2026-07",
                "--to", "2026-09", "--out", str(pdf), "--no-charts", "--quiet"]) == 0
    capsys.readouterr()
    page = " ".join(PdfReader(pdf).pages[1].extract_text().split())
    assert page.startswith("What changed") and said in page
    # the sample's windows are covered: no warning
    full = open_page(app_test(), "pages/flight_deck.py")
    assert not any("data starts in" in w.value for w in full.warning)


def test_victim_voice_says_why_there_is_no_before_and_after_as_trends_does(
        app_test, one_force_export) -> None:
    import pyarrow.compute as pc

    # Kent alone, from May 2026: no 12 months either side of its adoption, no other force
    _keep_cases(one_force_export, lambda c: pc.greater_equal(
        c["recorded_date"], pd.Timestamp("2026-05-01").date()))
    at = open_page(app_test(one_force_export), "pages/victim_voice.py")
    assert not at.exception
    page = texts(at)
    assert "The export does not hold 12 months on both sides of the adoption month" in page
    assert not any("difference in differences" in str(df.value.columns) for df in at.dataframe)
    assert "Choose All forces or a larger force" not in page  # there is no other force
    trends = texts(open_page(app_test(one_force_export), "pages/trends.py"))
    assert "The export does not hold 12 months on both sides of the adoption month" in trends


def test_trends_shows_before_after_for_every_proportion_kpi(app_test) -> None:
    at = open_page(app_test(force="Kent Police"), "pages/trends.py")
    tables = [df.value for df in at.dataframe]
    before_after = next(t for t in tables if "before" in t.columns and "after" in t.columns)
    from metrics.registry import all_kpis

    proportions = [k for k in all_kpis() if k.is_proportion]
    # every proportion of cases, outcomes or answers (censuses have no before/after test)
    assert len(before_after) >= len([k for k in proportions if k.interval != "none"]) - 1
    assert "difference in differences" in texts(at)


def test_trend_chart_with_too_few_months_is_a_sentence() -> None:
    spc = pd.DataFrame({"month": pd.period_range("2026-01", periods=3, freq="M"),
                        "value": [0.1, float("nan"), 0.2], "status": ["ok", "suppressed", "ok"],
                        "n": [20, 5, 20]})
    assert pd.notna(spc["value"]).sum() < page_charts.MIN_TREND_POINTS


def test_trend_chart_draws_maturing_months_hollow_and_named() -> None:
    months = pd.period_range("2025-01", periods=12, freq="M")
    spc = pd.DataFrame({"month": months, "value": [0.2 + 0.01 * i for i in range(12)],
                        "centre": 0.25, "upper": 0.4, "lower": 0.1,
                        "point_type": ["common_cause"] * 10 + [None, None],
                        "provisional": [False] * 10 + [True, True]})
    fig = page_charts.trend_chart(spc, unit="proportion", title="x")
    maturing = [t for t in fig.data if t.name == page_charts.MATURING_LABEL]
    assert len(maturing) == 1 and maturing[0].marker.symbol == "circle-open"
    assert list(maturing[0].x) == ["2025-11-01", "2025-12-01"]
    low, high = fig.layout.yaxis.range
    assert 0 <= low < 0.1 and 0.4 <= high <= 1.0  # spans the data and limits, not 0-400%


def test_data_start_skips_leading_months_without_anything_to_count() -> None:
    monthly = pd.DataFrame({"window_start": pd.date_range("2024-01-01", periods=4, freq="MS"),
                            "status": ["no_data", "insufficient", "ok", "ok"],
                            "n": [0, 3, 40, 50], "denominator": [0, 3, 40, 50]})
    assert page_charts.data_start(monthly) == pd.Timestamp("2024-02-01")
    assert page_charts.data_start(monthly.assign(status="no_data")) is None


def test_data_start_of_a_count_kpi_reads_its_count() -> None:
    # a count (device backlog, s63G applications) has a numerator and no denominator
    monthly = pd.DataFrame({"window_start": pd.date_range("2024-01-01", periods=3, freq="MS"),
                            "status": ["ok", "ok", "ok"], "numerator": [0.0, 570.0, 543.0],
                            "denominator": [float("nan")] * 3})
    assert page_charts.data_start(monthly) == pd.Timestamp("2024-02-01")


@pytest.mark.parametrize("kpi_id", ["device_backlog", "s63g_applications", "orders_granted"])
def test_trends_draws_the_chart_of_a_count_kpi_the_deck_shows(app_test, kpi_id) -> None:
    """The deck's row for a count opens its trend: the chart is there, not "nothing to
    count" (the count has no denominator)."""
    at = open_page(app_test(data=SAMPLE, kpi=kpi_id), "pages/trends.py")
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert any("monthly" in f["layout"]["title"]["text"] for f in charts), texts(at)
    assert "has anything to count" not in texts(at)


# --------------------------------------------------------------------------- Compare forces


def test_compare_forces_highlights_the_chosen_force(app_test) -> None:
    at = open_page(app_test(force="Kent Police", window="last_12_months"),
                   "pages/compare_forces.py")
    fig = json.loads(at.get("plotly_chart")[0].proto.spec)
    chosen = [t for t in fig["data"] if t.get("name") == "Kent Police (chosen)"]
    assert len(chosen) == 1 and chosen[0]["marker"]["size"] > 12
    labels = [a["text"] for a in fig["layout"].get("annotations", [])]
    assert "<b>Kent Police</b>" in labels
    ticks = fig["layout"]["xaxis"]["ticktext"]
    assert all(t.replace(",", "").isdigit() for t in ticks)
    table = at.dataframe[0].value
    table = getattr(table, "data", table)
    assert {"numerator", "denominator", "value", "lower 99.8%", "upper 99.8%"} <= set(table)
    assert pd.api.types.is_numeric_dtype(table["value"]) and table["value"].max() > 1  # percent


def test_funnel_labels_never_overlap() -> None:
    points = pd.DataFrame({"force": [f"Force number {i}" for i in range(12)],
                           "n": [100 + 3 * i for i in range(12)],
                           "value": [0.1 + 0.002 * i for i in range(12)]})
    labels = page_charts.place_labels(points, list(points["force"]),
                                      x_range=(math.log10(50), math.log10(400)),
                                      y_range=(0.0, 0.3))
    assert 0 < len(labels) < 12  # crowded: some are left to the hover
    boxes = [lab.box for lab in labels]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3])


@pytest.mark.parametrize(("low", "high", "expected"), [
    (40, 9000, ["50", "100", "200", "500", "1,000", "2,000", "5,000"]),
    (3, 300_000, ["10", "100", "1,000", "10,000", "100,000"]),
])
def test_log_ticks_are_tidy(low, high, expected) -> None:
    assert page_charts.log_ticks(low, high)[1] == expected


# --------------------------------------------------------------------------- Data quality


def test_data_quality_freshness_reads_the_as_at_date_from_export_json(app_test, export_copy):
    (export_copy / "export.json").write_text('{"as_at": "2026-09-30"}', encoding="utf-8")
    at = open_page(app_test(data=export_copy), "pages/data_quality.py")
    page = texts(at)
    assert "as at **30 September 2026**" in page and "stated in export.json" in page


def test_completeness_scale_is_neutral_and_sequential() -> None:
    full, half, empty = (quality.sequential_colour(v) for v in (1.0, 0.5, 0.0))
    for css in (full, half, empty):
        rgb = [int(c) for c in css.split("rgb(")[1].split(")")[0].split(",")]
        assert rgb[2] >= rgb[0]  # blue, never red
    darkness = [sum(int(c) for c in css.split("rgb(")[1].split(")")[0].split(","))
                for css in (empty, half, full)]
    assert darkness == sorted(darkness, reverse=True)  # more complete, darker
    assert "color: #ffffff" in full  # readable text on the darkest cell
    assert quality.sequential_colour(float("nan")) == ""


def test_empty_audit_cells_are_blank() -> None:
    frame = pd.DataFrame({"user": ["a", None], "force": [None, "Kent"],
                          "time": [pd.Timestamp("2026-01-01"), pd.NaT]})
    shown = quality.blank_missing(frame)
    assert shown.loc[1, "user"] == "" and shown.loc[0, "force"] == ""
    assert shown.loc[1, "time"] == "" and "None" not in shown.to_string()


# --------------------------------------------------------------------------- Definitions


def test_definitions_show_every_definition_in_full_with_its_parameters(app_test) -> None:
    from metrics.registry import all_kpis

    at = open_page(app_test(), "pages/definitions.py")
    page = texts(at)
    assert not at.dataframe or all("definition" not in df.value.columns for df in at.dataframe)
    for kpi in all_kpis():
        assert " ".join(kpi.definition.split()) in page, kpi.id
        for name, value in (kpi.params or {}).items():
            assert f"{name.replace('_', ' ')} = {value}" in page, (kpi.id, name)
    assert "maturity: 365 days" in page or "maturity:" in page
    assert "no interval: a census of the teams, not a sample" in page


def _extra_kpi(folder: Path, kpi_id: str = "charge_rate_extra") -> Path:
    text = (CATALOGUE / "01_charge_rate.toml").read_text(encoding="utf-8")
    text = text.replace('id = "charge_rate"', f'id = "{kpi_id}"').replace(
        'name = "Charge rate"', 'name = "Extra charge rate (force-declared)"')
    path = folder / f"{kpi_id}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_kpi_added_through_flightdeck_kpis_appears_on_definitions(app_test, tmp_path,
                                                                    monkeypatch) -> None:
    monkeypatch.setenv("FLIGHTDECK_KPIS", str(_extra_kpi(tmp_path)))
    at = open_page(app_test(), "pages/definitions.py")
    page = texts(at)
    assert "Extra charge rate (force-declared)" in page and "charge_rate_extra" in page
    assert "this force's catalogue" in page


def test_a_kpi_added_through_flightdeck_kpis_appears_on_the_flight_deck(app_test, tmp_path,
                                                                       monkeypatch) -> None:
    monkeypatch.setenv("FLIGHTDECK_KPIS", str(_extra_kpi(tmp_path)))
    at = app_test(force="Kent Police")
    at.run()
    assert not at.exception
    deck = " ".join(str(h.proto.body) for h in at.get("html"))
    assert 'data-kpi="charge_rate_extra"' in deck  # a row of its pillar, with its verdict
    assert "Extra charge rate (force-declared)" in deck


def test_a_broken_declaration_shows_a_banner_not_a_traceback(app_test, tmp_path,
                                                            monkeypatch) -> None:
    bad = tmp_path / "broken.toml"
    bad.write_text('id = "broken_kpi"\nname = 3\nunknown_key = true\n', encoding="utf-8")
    monkeypatch.setenv("FLIGHTDECK_KPIS", str(bad))
    for path in ("pages/definitions.py", "pages/trends.py", "pages/data_quality.py"):
        at = open_page(app_test(), path)
        warnings = " ".join(str(w.value) for w in at.warning).replace("\\", "")
        assert "FLIGHTDECK_KPIS" in warnings and "broken" in warnings, path
        assert "Traceback" not in texts(at)
    at = app_test()
    at.run()  # the flight deck: the banner is drawn by the shell on every page
    assert any("FLIGHTDECK_KPIS" in str(w.value) for w in at.warning)


def test_definition_cells_cannot_break_the_table() -> None:
    from metrics.registry import all_kpis

    kpi = all_kpis()[0]
    evil = type(kpi)(**{**{f: getattr(kpi, f) for f in kpi.__dataclass_fields__},
                        "definition": "a | b\nnew row | <script>x</script>"})
    table = definitions.pillar_table([evil], {})
    body = table.splitlines()[2]
    assert len(table.splitlines()) == 3  # one header, one rule, one row
    assert "\\|" in body and "<script>" not in body


# --------------------------------------------------------------------------- scope


def test_scope_in_the_url_is_honoured_or_refused_in_plain_words(app_test) -> None:
    at = open_page(app_test(force="Kent Police", scope="adult_rape"), "pages/trends.py")
    page = texts(at)
    boxes = [b for b in at.selectbox if b.label == "Cases"]
    assert [b.value for b in boxes] == ["adult_rape"]  # the window line says so, the URL keeps it
    assert "adult rape only" in page
    assert at.query_params["scope"] in ("adult_rape", ["adult_rape"])


# --------------------------------------------------------------------------- commentary


def test_trends_shows_the_kpis_commentary_history(app_test, tmp_path, monkeypatch) -> None:
    from metrics.record import open_record

    url = f"sqlite:///{tmp_path / 'record.db'}"
    monkeypatch.setenv("FLIGHTDECK_DB", url)
    monkeypatch.setenv("FLIGHTDECK_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    record = open_record(url)
    record.add_comment("Kent Police", "2026-04", "2026-06", "charge_rate", owner="DCI RASSO",
                       text="Charging advice backlog cleared in May.", assurance="assured",
                       author="lead@example.police.uk")
    record.add_comment("Kent Police", "2026-07", "2026-09", "charge_rate", owner="DCI RASSO",
                       text="Two reviews outstanding; *not* yet assured.",
                       assurance="partly_assured", author="lead@example.police.uk")
    record.add_comment("Kent Police", "2026-07", "2026-09", "victim_withdrawal_rate",
                       owner="ISVA lead", text="Other KPI.", assurance="assured",
                       author="lead@example.police.uk")
    record.close()
    at = open_page(app_test(force="Kent Police", kpi="charge_rate"), "pages/trends.py")
    history = [str(m.value) for m in at.markdown if "owner DCI RASSO" in str(m.value)]
    assert len(history) == 2  # both windows, newest first, not the other KPI
    assert history[0].startswith("**Partly assured**") and "2026\\-07 to 2026\\-09" in history[0]
    assert "\\*not\\*" in history[0]  # the comment's text is escaped, never formatted
    assert "lead@example.police.uk" in history[0].replace("\\", "").replace("\u200b", "")  # author
    assert "Charging advice backlog cleared in May" in history[1].replace("\\", "")


# --------------------------------------------------------------------------- victim voice


@pytest.mark.parametrize("force", ["Kent Police", "Metropolitan Police Service"])
def test_victim_voice_trend_is_drawn_only_with_three_quarters(app_test, force) -> None:
    from ui.survey import MIN_TREND_QUARTERS

    at = open_page(app_test(force=force, window="last_12_months"), "pages/victim_voice.py")
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    page = texts(at)
    if charts:
        quarters = {x for t in charts[0]["data"]
                    for x, y in zip(t["x"], t["y"], strict=True) if y is not None}
        assert len(quarters) >= MIN_TREND_QUARTERS
    else:
        assert "no quarterly chart" in page


def test_force_wide_measures_say_so_under_a_scope(app_test) -> None:
    at = open_page(app_test(force="Kent Police", scope="child", kpi="sickness_rate", pillar="4"),
                   "pages/trends.py")
    page = texts(at)
    assert [b.value for b in at.selectbox if b.label == "Cases"] == ["child"]
    assert "child victims only" in page
    assert "force-wide" in page and "same for every scope" in page
    at = open_page(app_test(force="Kent Police", scope="child", kpi="charge_rate"),
                   "pages/trends.py")
    assert "force-wide" not in texts(at)  # a case-linked KPI follows the scope


@pytest.mark.parametrize("path", ["pages/flight_deck.py", "pages/victim_voice.py"])
def test_the_comparison_reads_as_part_of_the_caption_sentence(app_test, path) -> None:
    at = open_page(app_test(force="Kent Police"), path)
    captions = " ".join(str(c.value) for c in at.caption).replace("\\", "")
    assert "changes against the previous window (" in captions
    assert "changes against the Previous window" not in captions


def test_victim_voice_shows_the_flight_deck_verdict_beside_the_tested_change(app_test) -> None:
    """The sample's All-forces deck says 'Survey: felt believed … Improving' (its chart) while
    Victim voice's table said only 'no clear change' (the change test): the table now carries
    the deck's own verdict for each item, word for word as the deck's row says it, and the
    chart's reason in full under the table (a cell cut it off at 1280 pixels)."""
    from metrics.load import load_dataset
    from metrics.registry import all_kpis
    from present.tiles import build_tile
    from ui.data import month_range
    from ui.deck import deck_verdicts
    from ui.state import ViewState, window_bounds

    at = open_page(app_test(data=SAMPLE), "pages/victim_voice.py")
    table = at.dataframe[0].value
    shown = dict(zip(table["item"], table["flight deck verdict"], strict=True))

    dataset = load_dataset(SAMPLE)
    view = ViewState()
    start, end = window_bounds(view, month_range(dataset)[1])
    frame = deck_verdicts(dataset, start, end, view.force, view.compare, view.scope)
    rows = {r["kpi_id"]: r for _, r in frame.iterrows()}  # one row per KPI in this frame
    survey = [k for k in all_kpis([c for c in dataset.columns("survey_responses")
                                   if c.startswith("q_")]) if k.source == "survey_responses"]
    assert survey and len(shown) == len(survey)
    # the reason, when the chart gives it, is said in full under the table (a cell cuts it off)
    text = " ".join(m.value for m in at.markdown).replace("\\", "")
    spoke = 0
    for kpi in survey:
        tile = build_tile(kpi, rows.get(kpi.id))
        item = kpi.name.removeprefix("Survey: ").capitalize()
        assert shown[item] == tile.verdict_text
        if tile.chart_text:
            spoke += 1
            assert f"**{item}**: {tile.verdict_text} ({tile.chart_text})" in text
    assert spoke, "the sample's felt-believed chart speaks: the test needs a reason to read"


def test_data_quality_says_each_problem_in_full_above_its_table(app_test, export_copy) -> None:
    """A table cell cut the problem's text off at 1280 pixels; each is now a sentence."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    cases = pq.read_table(export_copy / "cases.parquet")
    first = pc.equal(pa.array(range(len(cases))), 0)  # one case with no force: excluded
    cases = cases.set_column(cases.schema.get_field_index("force"), "force",
                             pc.if_else(first, pa.scalar(None, cases["force"].type),
                                        cases["force"]))
    pq.write_table(cases, export_copy / "cases.parquet")

    at = open_page(app_test(export_copy), "pages/data_quality.py")
    from metrics.load import load_dataset

    problems = load_dataset(export_copy).report.problems
    assert problems and all(p.severity == "warning" for p in problems)
    shown = texts(at)
    for p in problems:
        assert f"Warning: {p.message}" in shown.replace("**", "")
    assert at.expander[0].label == ("The problem as a table" if len(problems) == 1
                                    else f"The {len(problems)} problems as a table")
    assert list(at.dataframe[0].value["problem"]) == [p.message for p in problems]


def test_problem_list_names_how_many_more_the_table_holds() -> None:
    from types import SimpleNamespace

    problems = [SimpleNamespace(severity="error" if i == 0 else "warning",
                                message=f"cases.parquet column c{i}: *bad*") for i in range(14)]
    text = quality.problem_list(problems, limit=12)
    lines = text.splitlines()
    from present.escape import md

    assert len(lines) == 13 and lines[0] == "- **Error:** " + md(problems[0].message)
    assert "\\*bad\\*" in lines[0]  # escaped: the text is not read as Markdown
    assert lines[1].startswith("- **Warning:**")
    assert lines[-1] == "- … and 2 more in the table below."
    assert quality.problem_list([]) == ""


def test_data_quality_counts_are_numbers_shown_with_thousands_separators(app_test) -> None:
    at = open_page(app_test(), "pages/data_quality.py")
    counts = next(df for df in at.dataframe if "rows read" in df.value.columns)
    assert counts.value["rows read"].dtype.kind in "iu" or str(counts.value["rows read"].dtype) \
        == "Int64"  # numbers, not text
    config = json.loads(counts.proto.columns)
    assert config["rows read"]["type_config"]["format"] == "localized"  # 100,000 not 100000
    assert config["rows excluded"]["type_config"]["format"] == "localized"


def test_the_export_folder_is_escaped_text_not_a_code_span(app_test, export_copy) -> None:
    # inside `...` Markdown shows backslashes as they are: "/tmp/w/edge\_short" on screen
    folder = export_copy.parent / "force_export.2026-09"
    export_copy.rename(folder)
    at = open_page(app_test(data=folder), "pages/data_quality.py")
    caption = next(c.value for c in at.caption if c.value.startswith("Export folder"))
    assert "`" not in caption
    assert caption.startswith(f"Export folder {escape_md(str(folder))} ·")
