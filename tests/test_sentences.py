"""The "what changed" sentences (present.sentences) on hand-built kpi_verdicts frames."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from metrics.registry import get_kpi, survey_kpi
from present.sentences import MAX_SENTENCES, format_q, what_changed
from tests.test_tiles import row

SURVEY = [survey_kpi(c) for c in ("q_felt_believed", "q_kept_informed")]
CHARGE = replace(get_kpi("charge_rate"),
                 balancing=("victim_withdrawal_rate", "survey_felt_believed"))
WITHDRAWAL = get_kpi("victim_withdrawal_rate")
DAYS = get_kpi("days_to_charge")
KPIS = [CHARGE, DAYS, get_kpi("early_advice_days"), get_kpi("suspect_arrest_rate"),
        WITHDRAWAL, get_kpi("needs_assessment_7d"), get_kpi("isva_wait_days"),
        get_kpi("sickness_rate"), get_kpi("vacancy_rate"), *SURVEY]


def frame(*rows: dict) -> pd.DataFrame:
    """A verdict frame: every KPI unchanged unless a row for it is given."""
    given = {r["kpi_id"]: r for r in rows}
    out = []
    for kpi in KPIS:
        if kpi.id in given:
            out.append(given[kpi.id])
        elif kpi.unit == "days":
            out.append(row(kpi.id, value=30.0, compare_value=31.0, difference=-1.0,
                           ci_low=28.0, ci_high=33.0))
        else:
            out.append(row(kpi.id))
    return pd.DataFrame(out)


def fell(kpi_id: str, value: float, before: float, **kw) -> dict:
    return row(kpi_id, value=value, compare_value=before, difference=value - before, **kw)


def test_a_real_fall_reads_as_a_plain_sentence_with_its_numbers_and_evidence():
    out = what_changed(frame(fell("victim_withdrawal_rate", 0.38, 0.44,
                                  spc_point_type="special_cause_improvement",
                                  spc_evidence="below the process limits for 3 months",
                                  verdict="improving", change_verdict="better", q_value=0.01)),
                       KPIS)
    assert out[0].text == ("Victim withdrawal rate fell to 38.0% from 44.0%, an improvement "
                           "(real: below the process limits for 3 months; change test "
                           "q = 0.010)")
    assert out[0].tone == "good" and out[0].kpi_id == "victim_withdrawal_rate"


def test_ranked_special_cause_first_then_smallest_q_mixing_kinds():
    out = what_changed(frame(
        fell("charge_rate", 0.15, 0.12, verdict="improving", change_verdict="better",
             q_value=0.03),
        fell("days_to_charge", 120.0, 140.0, verdict="improving", change_verdict="better",
             q_value=0.0004),
        fell("needs_assessment_7d", 0.70, 0.80, verdict="deteriorating",
             spc_point_type="special_cause_concern", spc_evidence="8 months below the mean",
             q_value=0.2),
    ), KPIS)
    assert [s.kpi_id for s in out[:3]] == ["needs_assessment_7d", "days_to_charge",
                                           "charge_rate"]
    assert [s.rank for s in out[:3]] == sorted(s.rank for s in out[:3])
    assert "q < 0.001" in out[1].text and out[0].tone == "bad"


def test_at_most_six_and_always_one_victim_voice_sentence():
    rows = [fell(k.id, 0.5, 0.4, verdict="improving", change_verdict="better",
                 q_value=0.001 * (i + 1)) for i, k in enumerate(KPIS) if k.unit != "days"
            and k.source != "survey_responses"]
    out = what_changed(frame(*rows), KPIS, window_words="this quarter")
    assert len(out) == MAX_SENTENCES
    voice = [s for s in out if s.kind == "victim_voice"]
    assert len(voice) == 1 and voice[0] is out[-1]
    assert voice[0].text == ("Victim survey: no clear change against the previous window in "
                             "any of its 2 items shown (400 replies this quarter)")


def test_victim_voice_gate_says_how_many_replies_and_where_results_appear():
    gated = [row(k.id, status="insufficient", n=14, value=None, verdict="insufficient")
             for k in SURVEY]
    out = what_changed(frame(*gated), KPIS, window_words="this quarter")
    assert out[-1].text == "14 of 30 survey replies this quarter; results appear at 30"
    assert out[-1].kind == "victim_voice" and out[-1].tone == "pending"


def test_a_real_survey_change_is_the_victim_voice_sentence():
    out = what_changed(frame(fell("survey_felt_believed", 0.55, 0.65, verdict="deteriorating",
                                  change_verdict="worse", q_value=0.02)), KPIS)
    assert len(out) == 1
    assert out[0].text.startswith("Survey: felt believed fell to 55.0% from 65.0%, a "
                                  "deterioration")


def test_nothing_changed_is_one_sentence_plus_the_victim_voice():
    out = what_changed(frame(), KPIS, compare_words="the same window a year earlier")
    assert [s.kind for s in out] == ["nothing", "victim_voice"]
    assert out[0].text == ("No clear change against the same window a year earlier: none of "
                           f"the {len(KPIS)} measures with a value moved beyond chance or "
                           "broke its process limits")


def test_a_balancing_measure_that_deteriorates_beside_an_improvement_is_said():
    out = what_changed(frame(
        fell("charge_rate", 0.15, 0.12, verdict="improving", change_verdict="better",
             q_value=0.01),
        fell("victim_withdrawal_rate", 0.48, 0.44, verdict="deteriorating",
             change_verdict="worse", q_value=0.04),
    ), KPIS)
    assert out[0].kind == "balancing"
    assert out[0].text == ("Charge rate rose to 15.0% from 12.0% (real: change test q = 0.010), "
                           "but victim withdrawal rate, read beside it, rose to 48.0% from "
                           "44.0%, a deterioration (real: change test q = 0.040)")
    assert set(out[0].kpi_ids) == {"charge_rate", "victim_withdrawal_rate"}
    # the pair is said once, not again on its own
    assert sum("Charge rate" in s.text for s in out) == 1


def test_no_balancing_sentence_when_the_balancing_measure_holds():
    out = what_changed(frame(fell("charge_rate", 0.15, 0.12, verdict="improving",
                                  change_verdict="better", q_value=0.01)), KPIS)
    assert [s.kind for s in out] == ["change", "victim_voice"]


def test_gated_maturing_and_suppressed_measures_make_no_sentence():
    out = what_changed(frame(
        fell("charge_rate", 0.15, 0.12, verdict="maturing", change_verdict="better",
             provisional=True, q_value=0.001),
        row("days_to_charge", status="insufficient", verdict="improving", value=None),
        row("suspect_arrest_rate", status="suppressed", verdict="improving", value=None),
    ), KPIS)
    assert out[0].kind == "nothing"


def test_mixed_signals_send_the_reader_to_the_trend():
    out = what_changed(frame(fell("charge_rate", 0.15, 0.12, verdict="mixed",
                                  change_verdict="better", q_value=0.01,
                                  spc_point_type="special_cause_concern",
                                  spc_evidence="2 of 3 months near the lower limit")), KPIS)
    assert out[0].text == ("Charge rate: mixed signals, rose to 15.0% from 12.0% (change test "
                           "q = 0.010; monthly chart: 2 of 3 months near the lower limit); "
                           "see its trend")
    assert out[0].tone == "mixed"


def test_format_q():
    assert format_q(0.0004) == "q < 0.001" and format_q(0.0123) == "q = 0.012"
    assert format_q(None) == ""


def test_pure_the_same_frame_gives_the_same_sentences_and_is_not_changed():
    f = frame(fell("charge_rate", 0.15, 0.12, verdict="improving", change_verdict="better",
                   q_value=0.01))
    copy = f.copy()
    assert what_changed(f, KPIS) == what_changed(f, KPIS)
    pd.testing.assert_frame_equal(f, copy)


def test_a_real_change_without_a_better_direction_has_its_own_icon_not_the_no_change_dot():
    repeat = fell("repeat_suspect_share", 0.20, 0.06, change_verdict="higher", q_value=0.0001)
    out = what_changed(pd.concat([frame(), pd.DataFrame([repeat])]),
                       [get_kpi("repeat_suspect_share"), *KPIS])
    assert out[0].text == ("Repeat suspect share rose to 20.0% from 6.0% "
                           "(real: change test q < 0.001)")
    assert (out[0].icon, out[0].word, out[0].tone) == ("▲", "Higher", "neutral")


def test_no_verb_claims_a_change_the_test_did_not_find():
    # SPC says improving, but the window-on-window change is not real: no "rose"/"fell"
    out = what_changed(frame(fell("needs_assessment_7d", 0.62, 0.60, verdict="improving",
                                  spc_point_type="special_cause_improvement",
                                  spc_evidence="above the process limits for 22 months",
                                  change_verdict="no_clear_change", q_value=0.4)), KPIS)
    assert out[0].text == ("Needs assessed within 7 days is 62.0% (60.0% in the comparison "
                           "window, a difference that could be chance), but its monthly chart "
                           "shows an improvement (real: above the process limits for 22 months)")


def test_a_census_difference_is_not_called_chance_and_an_uncomparable_one_says_so():
    """Seen on a national export's Dyfed-Powys child deck: "Vacancy rate is 3.8% (8.5% in the
    comparison window, a difference that could be chance)" for a census, whose change is not
    tested (``not_tested``): nobody tested that difference, so it is not called chance."""
    census = what_changed(frame(fell("vacancy_rate", 0.038, 0.085, verdict="improving",
                                     spc_point_type="special_cause_improvement",
                                     spc_evidence="12 months in a row below the average",
                                     change_verdict="not_tested", test="none")),
                          [get_kpi("vacancy_rate"), *KPIS])
    assert census[0].text == ("Vacancy rate is 3.8% (8.5% in the comparison window, a census "
                              "of the teams, so the difference is not tested), but its monthly "
                              "chart shows an improvement (real: 12 months in a row below the "
                              "average)")
    assert "chance" not in census[0].text
    apart = what_changed(frame(fell("needs_assessment_7d", 0.62, 0.60, verdict="improving",
                                    spc_point_type="special_cause_improvement",
                                    spc_evidence="above the process limits for 2 months",
                                    change_verdict="not_comparable")), KPIS)
    assert apart[0].text.startswith("Needs assessed within 7 days is 62.0% (60.0% in the "
                                    "comparison window, not comparable), but")


def test_six_improvements_never_hide_a_deterioration():
    """Seen on the sample's All-forces deck: six improving sentences filled the list and the
    two deteriorating measures (one above its process limits for 13 months) had none. The
    ranking and the six stay; a line under the list counts what was left out, worst news
    first, naming the deteriorating ones."""
    from present.sentences import not_listed

    good = [fell(k.id, 0.5, 0.4, verdict="improving", change_verdict="better",
                 spc_point_type="special_cause_improvement", spc_evidence="above",
                 q_value=0.001 * (i + 1))
            for i, k in enumerate(KPIS) if k.unit != "days" and k.source != "survey_responses"]
    bad = fell("isva_wait_days", 40.0, 30.0, verdict="deteriorating", change_verdict="worse",
               q_value=0.04)
    verdicts = frame(*good, bad)
    out = what_changed(verdicts, KPIS)
    assert len(out) == MAX_SENTENCES and "isva_wait_days" not in {s.kpi_id for s in out}
    line = not_listed(verdicts, KPIS, out)
    shown = {kid for s in out for kid in s.kpi_ids}
    left_good = sum(1 for r in good if r["kpi_id"] not in shown)
    assert left_good >= 1
    assert line == (f"Also changed: 1 deteriorating (ISVA wait) and {left_good} improving; "
                    "their rows are in the pillars below")
    # every change listed: nothing to add
    few = frame(bad)
    assert not_listed(few, KPIS, what_changed(few, KPIS)) == ""


def test_left_out_deteriorations_are_named_up_to_three():
    from present.sentences import not_listed

    bad = [fell(k.id, 0.3, 0.4, verdict="deteriorating", change_verdict="worse",
                q_value=0.01 * (i + 1))
           for i, k in enumerate(KPIS) if k.source != "survey_responses"]
    verdicts = frame(*bad)
    out = what_changed(verdicts, KPIS)
    line = not_listed(verdicts, KPIS, out, where="each verdict is in the summary below")
    listed = {kid for s in out for kid in s.kpi_ids}
    left = [k.name for k in KPIS if k.source != "survey_responses" and k.id not in listed]
    assert len(left) > 3
    assert line == (f"Also changed: {len(left)} deteriorating ({', '.join(left[:3])} and "
                    f"{len(left) - 3} more); each verdict is in the summary below")


def test_an_export_without_a_survey_says_victims_voice_is_missing():
    # not "no replies this quarter": there is no survey to have replies
    without = [k for k in KPIS if k not in SURVEY]
    out = what_changed(frame()[lambda f: ~f["kpi_id"].str.startswith("survey_")], without,
                       window_words="this quarter")
    voice = out[-1]
    assert voice.kind == "victim_voice" and voice.word == "No data"
    assert voice.text == ("No victim survey in this export, so there is no victims' voice to "
                          "read beside the figures")
    # with items but no replies in the window, it still says so
    empty = [row(k.id, status="no_data", n=0, value=None, verdict="no_data") for k in SURVEY]
    assert what_changed(frame(*empty), KPIS, window_words="this quarter")[-1].text == \
        "No victim survey replies this quarter"
