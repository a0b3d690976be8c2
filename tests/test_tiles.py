"""The pure tile model (present.tiles) on hand-built kpi_verdicts rows."""

from __future__ import annotations

import re
from datetime import date

import numpy as np
import pandas as pd
import pytest

from metrics.registry import get_kpi, survey_kpi
from present.format import value_so_far
from present.tiles import (
    TONE_COLOURS,
    VERDICT_STYLES,
    build_tile,
    build_tiles,
    pillar_counts,
)

CHARGE = get_kpi("charge_rate")
WITHDRAWAL = get_kpi("victim_withdrawal_rate")
DAYS = get_kpi("days_to_charge")
REPEAT = get_kpi("repeat_suspect_share")  # no better direction
BELIEVED = survey_kpi("q_felt_believed")


def row(kpi_id: str = "charge_rate", **kw: object) -> dict[str, object]:
    """One kpi_verdicts row, ok and unchanged unless told otherwise."""
    base: dict[str, object] = dict(
        kpi_id=kpi_id, value=0.12, ci_low=0.10, ci_high=0.14, n=400, status="ok",
        provisional=False, final_on=None, compare_value=0.11, difference=0.01,
        diff_ci_low=-0.02, diff_ci_high=0.04, test="two_proportion_z", p_value=0.4,
        q_value=0.6, change_verdict="no_clear_change", spc_point_type="common_cause",
        spc_month="2026-09", spc_evidence="", verdict="no_clear_change")
    base.update(kw)
    return base


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.mark.parametrize("tone", sorted(TONE_COLOURS))
@pytest.mark.parametrize("background", ["#FFFFFF", "#F0F2F6"])
def test_every_tone_colour_reaches_wcag_aa_contrast_for_text(tone: str, background: str):
    assert contrast(TONE_COLOURS[tone], background) >= 4.5


def test_each_verdict_has_its_own_icon_and_word_so_colour_is_never_alone():
    shown = {k: v for k, v in VERDICT_STYLES.items() if k not in ("unknown", "suppressed")}
    assert len({s.icon for s in shown.values()}) == len(shown)
    assert len({s.word for s in VERDICT_STYLES.values()}) == len(VERDICT_STYLES)


@pytest.mark.parametrize(("verdict", "word", "tone"), [
    ("improving", "Improving", "good"),
    ("deteriorating", "Deteriorating", "bad"),
    ("no_clear_change", "No clear change", "neutral"),
    ("mixed", "Mixed signals", "mixed"),
])
def test_word_icon_and_colour_come_from_the_one_verdict(verdict, word, tone):
    change = {"improving": "better", "deteriorating": "worse"}.get(verdict, "no_clear_change")
    tile = build_tile(CHARGE, row(verdict=verdict, change_verdict=change))
    assert (tile.word, tile.icon, tile.colour) == (
        word, VERDICT_STYLES[verdict].icon, TONE_COLOURS[tone])
    assert tile.verdict_text == f"{VERDICT_STYLES[verdict].icon} {word}"


def test_change_is_a_number_with_its_interval_in_points():
    tile = build_tile(CHARGE, row(difference=0.012, diff_ci_low=-0.021, diff_ci_high=0.045))
    assert tile.change_text == "+1.2 pts, −2.1 to +4.5"
    assert tile.value_text == "12.0%" and tile.interval_text == "95% CI 10.0–14.0%"


def test_change_is_coloured_only_when_the_test_says_it_is_real():
    not_real = build_tile(CHARGE, row(change_verdict="no_clear_change", difference=0.03))
    assert not not_real.change_real and not_real.change_colour is None
    untested = build_tile(CHARGE, row(change_verdict="not_tested"))
    assert untested.change_colour is None
    real = build_tile(CHARGE, row(change_verdict="better", verdict="improving",
                                  difference=0.03, diff_ci_low=0.01, diff_ci_high=0.05))
    assert real.change_real and real.change_colour == TONE_COLOURS["good"]
    worse = build_tile(WITHDRAWAL, row("victim_withdrawal_rate", change_verdict="worse",
                                       verdict="deteriorating"))
    assert worse.change_colour == TONE_COLOURS["bad"]
    # a measure without a better direction: real, but neither good nor bad
    neutral = build_tile(REPEAT, row("repeat_suspect_share", change_verdict="higher"))
    assert neutral.change_colour == TONE_COLOURS["neutral"] and neutral.change_real


@pytest.mark.parametrize(("verdict", "change"), [("improving", "worse"),
                                                 ("deteriorating", "better")])
def test_a_tile_never_shows_a_real_change_against_its_verdict(verdict, change):
    # kpi_verdicts should have said "mixed"; the tile refuses to show two signals that disagree
    tile = build_tile(CHARGE, row(verdict=verdict, change_verdict=change))
    assert tile.word == "Mixed signals" and tile.colour == TONE_COLOURS["mixed"]
    assert tile.change_colour == TONE_COLOURS["bad" if change == "worse" else "good"]


def test_maturing_tile_says_when_it_is_final():
    tile = build_tile(CHARGE, row(verdict="maturing", provisional=True,
                                  final_on=date(2027, 3, 12)))
    assert tile.word == "Maturing — final on 12 Mar 2027" and tile.provisional
    assert tile.icon == VERDICT_STYLES["maturing"].icon
    # its value can still move: "0.0%" alone read as a structural zero on the projector
    assert tile.value_text == "12.0%" and tile.value_note == "so far"
    assert build_tile(CHARGE, row()).value_note == ""
    gated = build_tile(CHARGE, row(status="insufficient", n=7, provisional=True))
    assert gated.value_note == ""  # nothing shown, nothing to qualify


@pytest.mark.parametrize(("provisional", "expected"), [
    (True, "4.0% so far"), (np.True_, "4.0% so far"), (False, "4.0%"), (None, "4.0%"),
    (float("nan"), "4.0%"), (pd.NA, "4.0%")])
def test_value_so_far_marks_only_a_maturing_value(provisional, expected):
    assert value_so_far("4.0%", provisional) == expected


def test_gated_survey_tile_counts_replies_and_other_gates_count_n():
    survey = build_tile(BELIEVED, row("survey_felt_believed", status="insufficient", n=17,
                                      value=None, verdict="insufficient"))
    assert survey.word == "17 of 30 replies needed" and survey.value_text == "–"
    assert survey.change_text == "no comparison" and not survey.change_real
    other = build_tile(DAYS, row("days_to_charge", status="insufficient", n=3, value=None,
                                 verdict="insufficient"))
    assert other.word == "n = 3 of 5 needed"


def test_status_wins_over_a_stray_verdict_and_a_missing_row_is_no_data():
    gated = build_tile(CHARGE, row(status="insufficient", n=7, verdict="improving",
                                   change_verdict="better"))
    assert gated.word == "n = 7 of 10 needed" and gated.change_colour is None
    assert build_tile(CHARGE, None).word == "No data"
    assert build_tile(CHARGE, row(status="no_data", verdict="no_data")).value_text == "–"


def test_an_unknown_verdict_is_not_guessed():
    tile = build_tile(CHARGE, row(verdict=None))
    assert tile.word == "No verdict yet" and tile.value_text == "12.0%"


def test_days_change_in_days_and_comment_shows_its_assurance():
    class Comment:
        assurance = "partly_assured"

    tile = build_tile(DAYS, row("days_to_charge", value=151.0, ci_low=140.0, ci_high=160.0,
                                difference=-3.2, diff_ci_low=-6.0, diff_ci_high=1.0),
                      comment=Comment())
    assert tile.change_text == "−3 days, −6 to +1"
    assert tile.comment == "Comment: Partly assured"


def test_no_tile_word_contradicts_its_change_across_every_combination():
    verdicts = ["improving", "deteriorating", "no_clear_change", "mixed", "maturing", None]
    changes = ["better", "worse", "higher", "lower", "no_clear_change", "not_comparable",
               "not_tested", None]
    for v in verdicts:
        for c in changes:
            tile = build_tile(CHARGE, row(verdict=v, change_verdict=c))
            if tile.word == "Improving":
                assert tile.change_colour != TONE_COLOURS["bad"]
            if tile.word == "Deteriorating":
                assert tile.change_colour != TONE_COLOURS["good"]
            assert not re.search(r"\bworse\b", tile.change_text + tile.word)


def test_build_tiles_groups_by_pillar_and_kind_in_registry_order():
    frame = pd.DataFrame([row("charge_rate", verdict="improving", change_verdict="better"),
                          row("survey_felt_believed")])
    tiles = build_tiles([CHARGE, DAYS, BELIEVED], frame)
    assert [t.kpi_id for t in tiles[1]["quantitative"]] == ["charge_rate", "days_to_charge"]
    assert [t.kpi_id for t in tiles[3]["qualitative"]] == ["survey_felt_believed"]
    assert tiles[1]["quantitative"][1].word == "No data"  # no row: no data
    assert set(tiles) == {1, 2, 3, 4, 5, 6}
    assert pillar_counts(tiles[1]["quantitative"]) == {"improving": 1, "no_data": 1}


def test_a_real_change_without_a_better_direction_is_never_called_no_clear_change():
    # kpi_verdicts says no_clear_change (nothing better or worse), but the change is real
    tile = build_tile(REPEAT, row("repeat_suspect_share", value=0.198, compare_value=0.064,
                                  difference=0.134, change_verdict="higher",
                                  verdict="no_clear_change"))
    assert (tile.word, tile.icon) == ("Higher", "▲")
    spc_only = build_tile(REPEAT, row("repeat_suspect_share", verdict="no_clear_change",
                                      spc_point_type="special_cause_neutral_low"))
    assert spc_only.word == "Lower"
    assert build_tile(REPEAT, row("repeat_suspect_share")).word == "No clear change"


def test_the_tile_and_sentence_models_do_not_import_streamlit():
    import subprocess
    import sys

    code = ("import sys, present.tiles, present.sentences, present.format; "
            "print('streamlit' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=__file__.rsplit("/tests/", 1)[0])
    assert out.stdout.strip() == "False"


def test_a_panel_count_rounded_up_to_the_gate_never_reads_as_enough():
    # 28 replies shown to a panel as 30 (rounded to 5) are still below the 30 needed
    from present.format import gate_text
    from present.sentences import what_changed
    from present.tiles import gate_word

    survey = survey_kpi("q_kept_informed")
    assert gate_word(survey, 30.0) == "fewer than 30 of 30 replies needed"
    assert gate_word(survey, 25.0) == "25 of 30 replies needed"
    other = get_kpi("bail_breach_arrest_rate")
    assert gate_word(other, 10.0) == gate_text(10, other.min_n) == (
        f"fewer than {other.min_n} of {other.min_n} needed")
    verdicts = pd.DataFrame([{**{c: None for c in ("value", "ci_low", "ci_high", "compare_value",
                                                   "difference", "p_value", "q_value")},
                              "kpi_id": survey.id, "n": 30.0, "status": "insufficient",
                              "provisional": False, "change_verdict": "no_comparison",
                              "spc_point_type": None, "verdict": "insufficient"}])
    texts = [s.text for s in what_changed(verdicts, [survey],
                                          window_words="this quarter",
                                          compare_words="the previous window")]
    assert "Fewer than 30 survey replies this quarter; results appear at 30" in texts


def test_a_verdict_from_the_chart_says_so_beside_a_change_that_is_not_real():
    """'ISVA wait 12 days · change 0 days · Improving' read as a contradiction: the verdict
    came from the chart. The tile now names the chart's evidence; a verdict from the change
    test alone, a common-cause chart and a gated tile name none."""
    from ui.deck import _row_html

    chart = build_tile(CHARGE, row(verdict="improving", difference=0.0,
                                   spc_point_type="special_cause_improvement",
                                   spc_evidence="7 months in a row above the average"))
    assert chart.verdict == "improving" and not chart.change_real
    assert chart.chart_text == "chart: 7 months in a row above the average"
    assert "chart: 7 months in a row above the average" in _row_html(chart, None)
    by_test = build_tile(CHARGE, row(verdict="improving", change_verdict="better",
                                     spc_evidence="within the process limits, no unusual "
                                                  "pattern"))
    assert by_test.chart_text == "" and "chart:" not in _row_html(by_test, None)
    quiet = build_tile(CHARGE, row(spc_evidence="within the process limits, no unusual "
                                                "pattern"))
    assert quiet.chart_text == ""
    gated = build_tile(CHARGE, row(status="insufficient", verdict="improving",
                                   spc_point_type="special_cause_improvement",
                                   spc_evidence="above the process limits for 1 month"))
    assert gated.chart_text == ""
