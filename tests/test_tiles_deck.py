"""The deck's layout helpers (ui.deck): links to Trends, escaping, column packing."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import parse_qs, urlparse

import pandas as pd

from metrics.registry import get_kpi, survey_kpi
from present.sentences import what_changed
from present.tiles import UNREADABLE, build_tiles
from tests.test_tiles import row
from ui.deck import DeckView, deck_html, pack_columns, record_state, trend_href
from ui.state import ViewState


def test_a_row_links_to_trends_with_the_same_force_window_compare_and_scope():
    view = ViewState(force="Durham Constabulary", window="custom", start="2025-10",
                     end="2026-09", compare="year_ago", scope="adult_rape")
    href = trend_href(view, "charge_rate", 1)
    assert urlparse(href).path == "trends"
    assert {k: v[-1] for k, v in parse_qs(urlparse(href).query).items()} == {
        "force": "Durham Constabulary", "window": "custom", "from": "2025-10", "to": "2026-09",
        "compare": "year_ago", "pillar": "1", "kpi": "charge_rate", "scope": "adult_rape"}
    # a panel link keeps its token, or the trend would refuse it
    assert "share=tok.en" in trend_href(view, "charge_rate", 1, share="tok.en")


def test_text_from_the_data_is_escaped_in_the_deck_html():
    # a force's own catalogue file or a survey column could carry markup in a name
    evil = replace(survey_kpi("q_felt_believed"), name='<img src=x onerror="alert(1)">',
                   definition="<script>alert(2)</script>")
    kpis = [get_kpi("charge_rate"), evil]
    frame = pd.DataFrame([row("charge_rate"), row(evil.id, verdict="improving",
                                                  change_verdict="better", q_value=0.01)])
    deck = DeckView(build_tiles(kpis, frame), what_changed(frame, kpis))
    block = deck_html(deck, lambda k: f"trends?kpi={k}")
    assert "<img" not in block and "&lt;img" in block and "<script" not in block
    assert 'onerror="' not in block


def test_pillars_pack_so_the_lowest_heading_is_highest_then_the_tallest_is_shortest():
    heights = {1: 10.0, 2: 9.0, 3: 20.0, 4: 15.0, 5: 3.0, 6: 6.0}
    packed = pack_columns(heights, 3)
    assert sorted(p for c in packed for p in c) == [1, 2, 3, 4, 5, 6]
    lowest_heading = max(sum(heights[p] for p in c[:-1]) for c in packed)
    # the highest any split puts its lowest heading is 10 ([1, 4], [2, 3], [5, 6]: tallest
    # 29); within 4 lines of that, [1, 5, 6], [2, 4], [3] has the shortest tallest column
    assert lowest_heading == 13.0
    assert packed == [[1, 5, 6], [2, 4], [3]]
    for column in packed:
        assert column == sorted(column)
    assert [c[0] for c in packed] == sorted(c[0] for c in packed)
    assert pack_columns({1: 5.0}, 3) == [[1]]


def test_mixed_signals_link_to_the_trend_and_colours_come_with_icon_and_word():
    kpis = [get_kpi("charge_rate"), get_kpi("days_to_charge")]
    frame = pd.DataFrame([row("charge_rate", verdict="mixed", change_verdict="better"),
                          row("days_to_charge", verdict="improving", change_verdict="better",
                              value=100.0, compare_value=120.0, difference=-20.0)])
    deck = DeckView(build_tiles(kpis, frame), what_changed(frame, kpis))
    block = deck_html(deck, lambda k: f"trends?kpi={k}")
    charge = block.split('data-kpi="charge_rate"')[1].split("</li>")[0]
    verdict = charge.split('class="fd-verdict"')[1]
    assert '<a href="trends?kpi=charge_rate" target="_self">' in verdict
    assert "Mixed signals" in verdict and "◆" in verdict
    days = block.split('data-kpi="days_to_charge"')[1].split("</li>")[0]
    assert "✔</span> Improving" in days and "(real change)" in days


def test_without_trends_access_rows_are_not_links():
    kpis = [get_kpi("charge_rate")]
    frame = pd.DataFrame([row("charge_rate", verdict="mixed", change_verdict="better")])
    block = deck_html(DeckView(build_tiles(kpis, frame), what_changed(frame, kpis)),
                      lambda k: None)
    assert "href=" not in block and '<a class="fd-name" title=' in block


def test_the_deck_says_what_changed_beyond_its_six_sentences():
    from present.sentences import Sentence
    from ui.deck import DeckView, deck_html

    sentence = Sentence("Charge rate rose", "change", "good", "✔", "Improving", ("charge_rate",))
    html_with = deck_html(DeckView({}, [sentence], {}, "Also changed: 1 deteriorating "
                                   "(ISVA wait <b>)"), lambda _k: None)
    assert '<p class="fd-more">Also changed: 1 deteriorating (ISVA wait &lt;b&gt;).</p>' \
        in html_with
    assert "fd-more" not in deck_html(DeckView({}, [sentence]), lambda _k: None).split(
        "</style>")[1]


def test_a_maturing_value_says_so_far_beside_the_number():
    kpis = [get_kpi("charge_rate_cohort"), get_kpi("charge_rate")]
    frame = pd.DataFrame([row("charge_rate_cohort", value=0.0, ci_low=0.0, ci_high=0.001,
                              provisional=True, final_on=pd.Timestamp("2027-09-30").date(),
                              verdict="maturing"),
                          row("charge_rate")])
    block = deck_html(DeckView(build_tiles(kpis, frame), what_changed(frame, kpis)),
                      lambda k: None)
    cohort = block.split('data-kpi="charge_rate_cohort"')[1].split("</li>")[0]
    assert ('<span class="fd-value">0.0% <span class="fd-note">so far</span></span>'
            in cohort)
    assert "Maturing — final on 30 Sep 2027" in cohort
    final = block.split('data-kpi="charge_rate"')[1].split("</li>")[0]
    assert "so far" not in final


def test_a_no_data_row_whose_table_is_missing_says_so():
    kpis = [get_kpi("charge_rate"), get_kpi("device_backlog"), get_kpi("open_learning_actions")]
    frame = pd.DataFrame([row("charge_rate"), row("device_backlog", status="no_data"),
                          row("open_learning_actions", status="no_data")])
    tiles = build_tiles(kpis, frame, tables={"cases", "forces"})
    by_id = {t.kpi_id: t for pillar in tiles.values() for kind in pillar.values() for t in kind}
    assert by_id["device_backlog"].absent_text == "this export has no devices.parquet"
    assert by_id["charge_rate"].absent_text == ""  # its table is there
    assert by_id["open_learning_actions"].absent_text == ""  # the record's: not known here
    block = deck_html(DeckView(tiles, what_changed(frame, kpis)), lambda k: None)
    assert "this export has no devices.parquet" in block
    def record_words(connected: bool | str) -> str:
        tiles = build_tiles(kpis, frame, tables={"cases"}, record=connected)
        return next(t.absent_text for p in tiles.values() for kind in p.values() for t in kind
                    if t.kpi_id == "open_learning_actions")

    assert record_words(False) == "no meeting record is connected"
    assert record_words(True) == "no case review in the meeting record for this window"
    assert record_words(UNREADABLE) == "the meeting record could not be read"
    # without the export's tables nothing is guessed
    assert all(t.absent_text == "" for p in build_tiles(kpis, frame).values()
               for kind in p.values() for t in kind)


def test_the_records_state_comes_from_its_stamp():
    record = object()
    assert record_state(None, ()) is False
    assert record_state(record, (3, 7, 2, 5, 40)) is True
    assert record_state(record, ("unreadable", "2026-12-03T10:00", 1)) == UNREADABLE
