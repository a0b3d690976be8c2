"""The board pack PDF: built from the synthetic sample export, read back with pypdf.

Most packs here are built with ``charts=False`` (tables only) to keep the run short; the
chart tests build the sections they need with the vector charts and read their axis titles
and labels back from the PDF text (and the drawings' label boxes for overlaps).
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pandas as pd
import pytest
from pypdf import PdfReader

from metrics import verdicts
from metrics.__main__ import main as cli
from metrics.disclosure import apply_panel
from metrics.kpis import compute_kpis
from metrics.load import load_dataset
from metrics.registry import PILLARS, all_kpis, get_kpi
from present import sentences as sentences_mod
from present.format import format_interval, format_value, gate_text
from report import boardpack as bp

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample"
FORCE = "Durham Constabulary"  # a small force: its monthly counts include 1 to 7
START, END = "2025-10", "2026-09"
WHAT_CHANGED, DECK = 1, 2  # page indexes: cover, what changed, flight deck


@pytest.fixture(scope="module")
def sample():
    dataset = load_dataset(SAMPLE)
    assert dataset.report.usable, dataset.report.errors
    return dataset


def _pages(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def _deck(pdf: bytes) -> str:
    """The flight deck's text: its first page and any page it runs on to (up to pillar 1)."""
    pages = _pages(pdf)
    text = [pages[DECK]]
    for page in pages[DECK + 1:]:
        if "Pillar 1: Suspect-focused investigation KPI" in _flat(page):
            break
        text.append(page)
    return _flat(" ".join(text))


def _flat(text: str) -> str:
    """Page text with every run of whitespace as one space (cells wrap across lines)."""
    return " ".join(text.split())


@pytest.fixture(scope="module")
def internal_pack(sample) -> bytes:
    return bp.build_boardpack(sample, FORCE, START, END, charts=False)


@pytest.fixture(scope="module")
def panel_pack(sample) -> bytes:
    return bp.build_boardpack(sample, FORCE, START, END, audience="panel", charts=False)


def _survey_items(dataset) -> list[str]:
    return [c for c in dataset.get("survey_responses").columns if c.startswith("q_")]


def test_pack_pages_marking_and_numbering(internal_pack: bytes) -> None:
    pages = _pages(internal_pack)
    total = len(pages)
    # cover, flight deck, at least one page per pillar, victim voice, compare forces, appendix
    assert total >= 1 + 1 + 6 + 1 + 1 + 1
    for number, text in enumerate(pages, 1):
        assert text.count("OFFICIAL-SENSITIVE") >= 2, f"page {number} lacks the marking"
        assert f"Page {number} of {total}" in text
    reader = PdfReader(io.BytesIO(internal_pack))
    width, height = (float(v) for v in reader.pages[0].mediabox.upper_right)
    assert width > height  # landscape
    assert abs(width - 841.89) < 1 and abs(height - 595.28) < 1  # A4
    assert reader.metadata.subject == "OFFICIAL-SENSITIVE"


def test_cover_says_force_window_comparison_as_at_and_audience(sample, internal_pack) -> None:
    cover = _flat(_pages(internal_pack)[0])
    assert f"Board pack for {FORCE}" in cover
    assert "Window Oct 2025 to Sep 2026" in cover
    assert "Compared with Oct 2024 to Sep 2025 (previous window)" in cover
    assert f"Data as at {sample.as_at.strftime('%d %B %Y')}" in cover
    assert "Audience Internal" in cover
    assert "Charts were left out of this pack on request" in cover


def test_sections_in_order(internal_pack: bytes) -> None:
    text = _flat(" ".join(_pages(internal_pack)))
    headings = ["What changed: Durham Constabulary", "Flight deck: Durham Constabulary"]
    headings += [f"Pillar {i}: {name}" for i, name in PILLARS.items()]
    headings += ["Victim voice", "Compare forces", "Appendix: definitions and methods"]
    positions = [text.find(h, text.find("What changed: Durham")) for h in headings]
    assert all(p >= 0 for p in positions), dict(zip(headings, positions, strict=True))
    assert positions == sorted(positions)


def test_every_kpi_name_and_definition_is_printed(sample, internal_pack: bytes) -> None:
    pages = _pages(internal_pack)
    deck = _deck(internal_pack)
    first = max(i for i, p in enumerate(pages) if "Appendix: definitions and methods" in p)
    appendix = _flat(" ".join(pages[first:]))
    for kpi in all_kpis(_survey_items(sample)):
        assert kpi.name in deck, kpi.name
        assert kpi.id in appendix.replace(" ", "") or kpi.id in appendix, kpi.id
        assert _flat(kpi.definition)[:60] in appendix, kpi.id


def _kpis_cli_csv(capsys, *extra: str) -> pd.DataFrame:
    code = cli(["kpis", str(SAMPLE), "--from", START, "--to", END, "--force", FORCE,
                "--format", "csv", *extra])
    out = capsys.readouterr().out
    assert code == 0
    return pd.read_csv(io.StringIO(out))


def _expected_cell(kpi, row) -> str:
    """The flight deck's value (and interval) text for one CLI row, formatted as the pack does:
    a maturing window's value (``provisional`` true in the CLI) is followed by "so far"."""
    if row["status"] == "ok":
        text = format_value(row["value"], kpi.unit)
        if str(row["provisional"]).lower() == "true":
            text += " so far"
        interval = format_interval(row["ci_low"], row["ci_high"], kpi.unit)
        return f"{text} {interval.replace('95% CI ', '')}".strip()
    if row["status"] == "insufficient":
        if row["n"] >= kpi.min_n:  # a panel's rounded n: never "10 of 10 needed"
            return f"fewer than {kpi.min_n} of {kpi.min_n} needed"
        return gate_text(row["n"], kpi.min_n)
    if row["status"] == "suppressed":
        return "Suppressed*"
    return "No data"


def test_flight_deck_values_match_the_kpis_command(sample, internal_pack, capsys) -> None:
    table = _kpis_cli_csv(capsys)
    deck = _deck(internal_pack)
    items = _survey_items(sample)
    checked = 0
    for _, row in table.iterrows():
        kpi = get_kpi(row["kpi_id"], items)
        expected = f"{_flat(kpi.name)} {_expected_cell(kpi, row)}"
        assert expected in deck, expected
        checked += 1
    assert checked == len(all_kpis(items))
    assert (table["status"] == "ok").sum() >= 20  # the sample has values for most KPIs
    assert (table["status"] == "insufficient").any()  # and at least one gate to show
    assert (table["provisional"].astype(str).str.lower() == "true").any()  # and "so far"


def test_pillar_pages_print_n_from_the_engine(sample, internal_pack) -> None:
    table = compute_kpis(sample, START, END, forces=[FORCE]).set_index("kpi_id")
    text = _flat(" ".join(_pages(internal_pack)[DECK + 1:]))
    row = table.loc["charge_rate"]
    assert f"n = {row['n']:,.0f}" in text
    assert f"Charge rate quantitative {format_value(row['value'], 'proportion')}" in text


def test_panel_pack_has_no_count_from_1_to_7(sample, internal_pack, panel_pack) -> None:
    def counts(pdf: bytes) -> list[int]:
        text = _flat(" ".join(_pages(pdf)))
        found = [int(m.replace(",", "")) for m in re.findall(r"\bn = (\d[\d,]*)", text)]
        for kpi_id in ("orders_granted", "s63g_applications", "device_backlog"):
            name = re.escape(get_kpi(kpi_id).name)
            found += [int(m.replace(",", ""))
                      for m in re.findall(name + r" (?:quantitative )?(\d[\d,]*)\b", text)]
        return found

    # The internal pack of this small force does print small counts, so the check has teeth:
    internal_month = bp.build_boardpack(sample, FORCE, "2026-09", "2026-09", charts=False)
    assert any(1 <= c <= 7 for c in counts(internal_month))
    panel_month = bp.build_boardpack(sample, FORCE, "2026-09", "2026-09", audience="panel",
                                     charts=False)
    for pdf in (panel_month, panel_pack):
        found = counts(pdf)
        assert found, "no counts parsed"
        assert not [c for c in found if 1 <= c <= 7]
        assert all(c % 5 == 0 for c in found), sorted(set(found))
    panel_text = _flat(" ".join(_pages(panel_month)))
    assert "Scrutiny panel: disclosure-controlled" in panel_text
    assert "Compare forces" not in panel_text  # other forces' figures are not for a panel
    assert "Suppressed*" in panel_text
    # Monthly series that are mostly suppressed get no SPC chart (the rest would mislead).
    assert "no chart in the panel view" in panel_text


def test_a_gate_never_reads_as_met_after_rounding() -> None:
    kpi = get_kpi("bail_breach_arrest_rate")
    assert bp.kpi_value_text(kpi, {"status": "insufficient", "n": 10}) == \
        f"fewer than {kpi.min_n} of {kpi.min_n} needed"
    assert bp.kpi_value_text(kpi, {"status": "insufficient", "n": 5}) == \
        gate_text(5, kpi.min_n)


def test_panel_pack_numbers_come_from_apply_panel(sample, panel_pack) -> None:
    raw = compute_kpis(sample, START, END, forces=[FORCE]).set_index("kpi_id")
    table = apply_panel(raw.reset_index()).set_index("kpi_id")
    deck = _deck(panel_pack)
    items = _survey_items(sample)
    marked = 0
    for kpi_id, row in table.iterrows():
        kpi = get_kpi(kpi_id, items)
        cell = _expected_cell(kpi, row)
        moved = row["status"] == "ok" and raw.loc[kpi_id, "status"] == "ok" and \
            format_value(raw.loc[kpi_id, "value"], kpi.unit) != format_value(row["value"],
                                                                             kpi.unit)
        if moved:  # rounding moved the value: it carries the mark
            value = format_value(row["value"], kpi.unit)
            value += " so far" if row["provisional"] else ""
            cell = cell.replace(value, f"{value} †", 1)
            marked += 1
        assert f"{_flat(kpi.name)} {cell}" in deck, kpi_id
    assert marked >= 1  # the small force's panel figures do move
    assert "† Changed by disclosure control: counts rounded to the nearest 5" in deck
    assert "†" not in " ".join(_pages(bp.build_boardpack(sample, FORCE, START, END,
                                                         charts=False, pages=["flight_deck"])))


def test_pack_uses_the_given_disclose_function_and_pages(sample) -> None:
    seen: list[int] = []

    def only_force(table: pd.DataFrame) -> pd.DataFrame:
        seen.append(len(table))
        return apply_panel(table[table["force"] == FORCE])

    pdf = bp.build_boardpack(sample, FORCE, START, END, audience="panel", charts=False,
                             disclose=only_force, pages=["victim_voice"])
    text = _flat(" ".join(_pages(pdf)))
    assert len(seen) >= 4  # window, monthly history, before and after adoption (+ comparison)
    assert "Victim voice What victims told" in text
    for absent in ("Flight deck: Durham", "Pillar 1: Suspect-focused investigation KPI",
                   "Compare forces Funnel"):
        assert absent not in text
    trends = _flat(" ".join(_pages(bp.build_boardpack(
        sample, FORCE, START, END, charts=False, pages=["trends"]))))
    assert "Pillar 6: Digital forensics KPI" in trends and "Flight deck: Durham" not in trends


def test_comparison_year_ago_and_all_forces(sample) -> None:
    pdf = bp.build_boardpack(sample, bp.ALL_FORCES, "2026-07", "2026-09",
                             comparison="year_ago", charts=False)
    cover = _flat(_pages(pdf)[0])
    assert "Compared with Jul 2025 to Sep 2025 (same window a year earlier)" in cover
    assert "Board pack for All forces" in cover


def test_progress_is_reported_in_order(sample) -> None:
    calls: list[tuple[float, str]] = []
    bp.build_boardpack(sample, FORCE, "2026-09", "2026-09", charts=False,
                       progress=lambda f, m: calls.append((f, m)))
    fractions = [f for f, _ in calls]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(calls) >= 3


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"force": "Atlantis Police"}, "unknown force"),
    ({"start": "2025-13"}, "YYYY-MM"),
    ({"start": "2026-10", "end": "2026-09"}, "after it ends"),
    ({"audience": "public"}, "audience"),
    ({"comparison": "last_year"}, "comparison"),
])
def test_bad_arguments_raise_boardpack_error(sample, kwargs, message) -> None:
    args = {"force": FORCE, "start": START, "end": END} | kwargs
    extra = {k: args.pop(k) for k in ("audience", "comparison") if k in args}
    with pytest.raises(bp.BoardpackError, match=message):
        bp.build_boardpack(sample, args["force"], args["start"], args["end"], charts=False,
                           **extra)


def test_special_cause_sentence_for_a_run_since_adoption() -> None:
    kpi = get_kpi("charge_rate")
    months = pd.period_range("2024-01", periods=20, freq="M")
    values = [0.10, 0.11, 0.09, 0.10, 0.12, 0.08, 0.10, 0.11, 0.09, 0.10, 0.11, 0.09,
              0.16, 0.17, 0.16, 0.18, 0.17, 0.16, 0.17, 0.18]
    frame = pd.DataFrame({"month": list(months), "value": values, "centre": 0.10,
                          "upper": 0.20, "lower": 0.0,
                          "point_type": ["common_cause"] * 12
                          + ["special_cause_improvement"] * 8})
    sentences = bp.special_cause_sentences(kpi, frame, adoption=pd.Period("2025-01", "M"))
    assert sentences == ["Charge rate: 8 months above the mean since adoption: improvement"]
    outside = frame.assign(point_type=["common_cause"] * 19 + ["special_cause_concern"],
                           value=values[:19] + [0.25])
    assert bp.special_cause_sentences(get_kpi("victim_withdrawal_rate"), outside) == [
        "Victim withdrawal rate: 1 month above the upper process limit (Aug 2025): concern"]
    # 2 of 3 in the outer third (above 0.10 + 2/3 * 0.10): "close to the upper process limit"
    near = frame.assign(point_type=["common_cause"] * 17 + ["special_cause_improvement"] * 2
                        + ["common_cause"], value=values[:17] + [0.18, 0.19, 0.11])
    assert bp.special_cause_sentences(kpi, near) == [
        "Charge rate: 2 months close to the upper process limit (Jun 2025 to Jul 2025): "
        "improvement"]
    # A lone flagged month that no simple rule explains is described plainly.
    lone = frame.assign(point_type=["common_cause"] * 19 + ["special_cause_concern"],
                        value=values[:19] + [0.12])
    assert bp.special_cause_sentences(kpi, lone) == [
        "Charge rate: 1 month of special cause variation (Aug 2025): concern"]


def test_spc_charts_agree_with_the_verdicts(sample) -> None:
    """The chart on each pillar page shows, at the verdict's month, the point type the
    verdict (and so the flight deck tile) was worked out from."""
    data = bp.collect_pack_data(sample, FORCE, START, END)
    frame = verdicts.kpi_verdicts(sample, START, END, force=FORCE).set_index("kpi_id")
    compared = 0
    for kpi_id, row in frame.iterrows():
        point = row["spc_point_type"]
        if not isinstance(point, str):
            continue
        chart = data.spc[kpi_id]
        month = pd.Timestamp(row["spc_month"]).to_period("M")
        at = chart[chart["month"] == month]
        assert list(at["point_type"]) == [point], kpi_id
        assert chart["month"].iloc[-1] == pd.Period(END, "M")
        assert len(chart) == bp.SPC_HISTORY_MONTHS
        compared += 1
    assert compared >= 10


def _verdict_counts(frame: pd.DataFrame) -> dict[str, int]:
    return {word: int((frame.apply(bp.verdict_word, axis=1) == word).sum())
            for word in set(frame.apply(bp.verdict_word, axis=1))}


@pytest.mark.parametrize("audience", ["internal", "panel"])
def test_every_verdict_printed_comes_from_kpi_verdicts(sample, audience, internal_pack,
                                                       panel_pack) -> None:
    """Screen and paper agree: the flight deck page prints, for each KPI, the verdict of
    ``kpi_verdicts`` for the pack's audience (the panel's from the disclosed figures)."""
    frame = verdicts.kpi_verdicts(sample, START, END, force=FORCE, audience=audience)
    pdf = internal_pack if audience == "internal" else panel_pack
    deck = _deck(pdf)
    for word, count in _verdict_counts(frame).items():
        assert deck.count(_flat(word)) == count, (word, count, deck.count(_flat(word)))
    data = bp.collect_pack_data(sample, FORCE, START, END, audience=audience)
    for kpi_id, row in frame.set_index("kpi_id").iterrows():
        assert data.last_verdict(kpi_id) == bp.verdict_word(row.to_dict()), kpi_id


def test_first_content_page_holds_the_what_changed_sentences(sample, internal_pack) -> None:
    frame = verdicts.kpi_verdicts(sample, START, END, force=FORCE)
    data = bp.collect_pack_data(sample, FORCE, START, END)
    expected = sentences_mod.what_changed(frame, data.kpis,
                                          window_words=f"in {data.window_label}",
                                          compare_words=data.comparison_label)
    page = _flat(_pages(internal_pack)[WHAT_CHANGED])
    assert page.startswith(f"What changed: {FORCE}, Oct 2025 to Sep 2026")
    assert expected
    for sentence in expected:
        assert _flat(f"{sentence.word}: {sentence.text}") in page, sentence.text
    assert "1. What changed" in _flat(_pages(internal_pack)[0])
    # the measures that changed beyond the sentences are counted under them, worst first
    left = sentences_mod.not_listed(frame, data.kpis, expected,
                                    where="each verdict is in the summary below")
    if left:
        assert _flat(left + ".") in page
    else:
        assert "Also changed:" not in page


def _chart_pack(sample, force: str, pages: list[str]) -> tuple[bytes, object]:
    from report.data import _funnels
    from report.layout import render_pack

    data = bp.collect_pack_data(sample, force, START, END)
    sections = bp.sections_for(pages)
    out: list = []
    pdf = render_pack(data, sections, funnels=_funnels(data) if "compare_forces" in sections
                      else None, builder_out=out)
    return pdf, out[0]


def test_pillar_charts_have_axis_titles_dates_and_units_in_the_pdf(sample) -> None:
    pdf, builder = _chart_pack(sample, FORCE, ["trends"])
    text = _flat(" ".join(_pages(pdf)))
    spc = {k: d for k, d in builder.drawings.items() if k.startswith("spc:")}
    assert len(spc) >= 20
    for key, drawing in spc.items():
        kpi = get_kpi(key.removeprefix("spc:"))
        assert drawing.axis_titles == ("Month", {"proportion": "Per cent", "days": "Days",
                                                  "count": "Number", "cases": "Cases"}[
                                                      kpi.unit]), key
    assert text.count("Month") >= len(spc)  # the x axis title of every chart is real text
    assert "Per cent" in text and "Days" in text
    months = re.findall(r"\b(?:Jan|Apr|Jul|Oct) 20\d\d\b", text)
    assert len(months) >= 2 * len(spc)  # dates on every time axis
    assert re.search(r"\b\d{1,3}%", text)  # per cent tick labels
    assert "Charts were left out" not in text


def test_funnel_labels_never_overlap_and_the_chosen_force_stands_out(sample) -> None:
    pdf, builder = _chart_pack(sample, FORCE, ["compare_forces"])
    funnels = [d for k, d in builder.drawings.items() if k.startswith("funnel:")]
    assert len(funnels) == len(bp.FUNNEL_KPIS)
    text = _flat(" ".join(_pages(pdf)))
    for drawing in funnels:
        boxes = drawing.label_boxes
        assert boxes and boxes[0][0] == FORCE  # the chosen force is labelled first
        for i, a in enumerate(boxes):
            assert 0 <= a[1] and a[3] <= drawing.width and 0 <= a[2] and a[4] <= drawing.height
            for b in boxes[i + 1:]:
                assert a[3] <= b[1] or b[3] <= a[1] or a[4] <= b[2] or b[4] <= a[2], (a, b)
        x_title, y_title = drawing.axis_titles
        assert "log scale" in x_title and y_title == "Rate (per cent)"
        assert _flat(x_title) in text and y_title in text
    assert "Charge rate, Oct 2025 to Sep 2026" in text


def test_label_placement_gives_way_instead_of_overlapping() -> None:
    from report.charts import place_labels

    anchors = [(f"Force {i}", 50.0, 50.0 + i * 0.5, 2.0, i == 0) for i in range(12)]
    placed, unplaced = place_labels(anchors, (0, 0, 120, 100), [], 7)
    assert placed[0][0] == "Force 0" and unplaced  # crowded: some labels give way
    boxes = [p[3] for p in placed]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]


def test_tidy_ticks() -> None:
    from report.charts import log_ticks, nice_ticks, tick_text

    assert log_ticks(40, 9000) == [50, 100, 200, 500, 1000, 2000, 5000]
    assert nice_ticks(0, 0.37) == [0, 0.1, 0.2, 0.3, 0.4]
    assert tick_text(0.25, "proportion", 0.05) == "25%"
    assert tick_text(1200, "count", 200) == "1,200"


@pytest.mark.parametrize("audience", ["internal", "panel"])
def test_no_page_ends_up_with_a_single_orphan_line(sample, audience) -> None:
    footer = f"{FORCE}: Oct 2025 to Sep 2026" + (" (scrutiny panel)" if audience == "panel"
                                                  else "")
    pdf = bp.build_boardpack(sample, FORCE, START, END, audience=audience)  # with charts
    for number, text in enumerate(_pages(pdf), 1):
        lines = [ln.strip() for ln in text.splitlines()
                 if ln.strip() and ln.strip() not in ("OFFICIAL-SENSITIVE", footer)
                 and not re.fullmatch(r"Page \d+ of \d+", ln.strip())]
        assert len(lines) >= 3, (number, lines)


def test_benchmark_function_reports_time_size_and_pages(tmp_path) -> None:
    result = bp.benchmark(SAMPLE, months=1, charts=False, out=str(tmp_path / "b.pdf"))
    assert result["bytes"] == (tmp_path / "b.pdf").stat().st_size
    assert result["pages"] >= 11 and result["seconds"] > 0
    assert result["start"] == result["end"] and result["force"] == bp.ALL_FORCES


def test_victim_voice_before_after_adoption_uses_engine_counts(sample) -> None:
    from metrics.stats import proportion_change

    force, adoption = "Kent Police", pd.Period("2022-04", "M")  # adoption in the sample
    pdf = bp.build_boardpack(sample, force, START, END, charts=False, pages=["victim_voice"])
    items = _survey_items(sample)
    ids = [f"survey_{c.removeprefix('q_')}" for c in items]
    before = compute_kpis(sample, adoption - 24, adoption - 1, forces=[force], kpi_ids=ids)
    after = compute_kpis(sample, adoption, adoption + 23, forces=[force], kpi_ids=ids)
    text = _flat(" ".join(_pages(pdf)))
    start = text.index("Before and after adoption (Apr 2022): Apr 2020 to Mar 2022 against "
                       "Apr 2022 to Mar 2024")
    section = text[start:text.index("Page", start)]
    b, a = before.set_index("kpi_id"), after.set_index("kpi_id")
    compared = 0
    for kpi_id in ids:
        kpi = get_kpi(kpi_id, items)
        label = kpi.name.removeprefix("Survey: ").capitalize()
        rb, ra = b.loc[kpi_id], a.loc[kpi_id]
        assert f"{label} {_expected_cell(kpi, rb).split(' ')[0]}" in section
        result = proportion_change(rb["numerator"], rb["denominator"], ra["numerator"],
                                   ra["denominator"], min_n=kpi.min_n)
        if result["status"] == "ok":
            assert f"{result['diff'] * 100:+.1f} pts".replace("-", "−") in section
            compared += 1
    assert compared >= 3


def test_spc_history_is_reused_when_kpi_verdicts_hands_it_over(sample, monkeypatch) -> None:
    """With ``kpi_verdicts(...).attrs["monthly"]`` (its 36 months) the pack makes no by-month
    engine call of its own, and draws the same charts."""
    from report import data as rd

    before = bp.collect_pack_data(sample, FORCE, START, END)
    original = verdicts.kpi_verdicts

    def handing_over(dataset, start, end, **kw):
        frame = original(dataset, start, end, **kw)
        frame.attrs["monthly"] = compute_kpis(dataset, pd.Period(end, "M") - 35, end,
                                              by="month", forces=[kw["force"]])
        return frame

    calls: list[str] = []
    compute = rd._compute

    def counting(*args, **kw):
        calls.append(kw.get("by", "window"))
        return compute(*args, **kw)

    monkeypatch.setattr(verdicts, "kpi_verdicts", handing_over)
    monkeypatch.setattr(rd, "_compute", counting)
    after = bp.collect_pack_data(sample, FORCE, START, END)
    assert "month" not in calls
    for kpi_id, frame in before.spc.items():
        pd.testing.assert_frame_equal(frame.reset_index(drop=True),
                                      after.spc[kpi_id].reset_index(drop=True))


def _text_boxes(drawing) -> list[tuple[str, float, float, float, float]]:
    """Every text of a chart drawing as (text, x0, y0, x1, y1) in the drawing's points."""
    from reportlab.graphics.shapes import Group, String
    from reportlab.pdfbase.pdfmetrics import stringWidth

    out = []

    def walk(node, transform) -> None:
        for item in getattr(node, "contents", []):
            if isinstance(item, Group):
                walk(item, item.transform)
            elif isinstance(item, String):
                w = stringWidth(item.text, item.fontName, item.fontSize)
                shift = {"start": 0, "middle": w / 2, "end": w}[item.textAnchor]
                x0, x1 = item.x - shift, item.x - shift + w
                y0, y1 = item.y - item.fontSize * 0.25, item.y + item.fontSize * 0.8
                if transform[:4] == (0, 1, -1, 0):  # rotated 90°: along the y axis
                    tx, ty = transform[4], transform[5]
                    x0, x1, y0, y1 = tx - y1, tx - y0, ty + x0, ty + x1
                out.append((item.text, x0, y0, x1, y1))

    walk(drawing, (1, 0, 0, 1, 0, 0))
    return out


@pytest.mark.parametrize("force", [FORCE, bp.ALL_FORCES])
def test_no_chart_text_is_cut_off(sample, force) -> None:
    """Every title, tick label, axis title, legend entry and label of every chart in the
    pack lies inside its drawing (nothing clipped at the edge of the chart)."""
    _, builder = _chart_pack(sample, force, ["trends", "victim_voice", "compare_forces"])
    kinds = {d.kind for d in builder.drawings.values()}
    assert {"spc", "funnel"} <= kinds and (force != bp.ALL_FORCES or "survey" in kinds)
    for key, drawing in builder.drawings.items():
        for text, x0, y0, x1, y1 in _text_boxes(drawing):
            assert x0 >= -0.5 and x1 <= drawing.width + 0.5, (key, text, x0, x1)
            assert y0 >= -1.0 and y1 <= drawing.height + 1.0, (key, text, y0, y1)


def test_a_long_chart_title_wraps_instead_of_running_off() -> None:
    from report.charts import spc_drawing

    months = pd.period_range("2024-01", periods=24, freq="M")
    frame = pd.DataFrame({"month": list(months), "value": [0.2 + 0.01 * (i % 5)
                                                            for i in range(24)],
                          "centre": 0.22, "upper": 0.3, "lower": 0.14,
                          "point_type": "common_cause"})
    title = "Victims told of the outcome in person by the officer in the case within 5 days"
    drawing = spc_drawing(frame, unit="proportion", title=title, width_pt=180, height_pt=110)
    texts = _text_boxes(drawing)
    assert " ".join(t for t, *_ in texts[:2]) == title  # on two lines, every word kept
    for text, x0, _y0, x1, _y1 in texts:
        assert x0 >= -0.5 and x1 <= 180.5, text


def test_a_scoped_pack_says_its_scope_on_the_cover(sample) -> None:
    pdf = bp.build_boardpack(sample, FORCE, "2026-07", "2026-09", charts=False,
                             scope="child", pages=["flight_deck"])
    assert "Cases child cases only" in _flat(_pages(pdf)[0])
    assert "Cases " not in _flat(_pages(bp.build_boardpack(
        sample, FORCE, "2026-07", "2026-09", charts=False, pages=["flight_deck"]))[0])


def test_the_cover_is_one_page_with_every_optional_line_and_names_the_decks_verdicts(
        sample) -> None:
    """A scoped panel pack without charts has every optional cover line (the scope, the
    panel's audience, the charts note); the cover once ran on to a second page holding only
    its last paragraph, and that paragraph named the old SPC words (Improvement, Concern)."""
    pdf = bp.build_boardpack(sample, FORCE, "2026-07", "2026-09", charts=False, scope="child",
                             audience="panel", pages=["flight_deck"])
    pages = [_flat(p) for p in _pages(pdf)]
    assert "Cases child cases only" in pages[0] and "Scrutiny panel" in pages[0]
    assert "Charts were left out" in pages[0]
    assert ("never a colour alone: ✔ Improving, ✖ Deteriorating, ● No clear change, "
            "◆ Mixed signals, ◷ Maturing, ○ Too few to show." in pages[0])
    assert pages[WHAT_CHANGED].startswith(f"What changed: {FORCE}")
    assert "Concern" not in pages[0]


def test_what_changed_page_counts_the_changes_beyond_its_sentences(sample) -> None:
    """All forces on the sample changes in more measures than six sentences hold, three of
    them for the worse: the page says so under the sentences and names those three."""
    frame = verdicts.kpi_verdicts(sample, START, END, force="All forces")
    data = bp.collect_pack_data(sample, "All forces", START, END)
    left = sentences_mod.not_listed(frame, data.kpis, data.sentences,
                                    where="each verdict is in the summary below")
    assert left.startswith("Also changed: ") and "deteriorating (" in left
    pdf = bp.build_boardpack(sample, "All forces", START, END, charts=False,
                             pages=["what_changed"])
    page = _flat(_pages(pdf)[WHAT_CHANGED])
    assert _flat(left + ".") in page
