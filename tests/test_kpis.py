"""Each KPI on a small hand-built export whose answer was worked out by hand.

Unless a test says otherwise the window is 2024-01 .. 2024-03 (1 January to 31 March 2024)
and the force is "Alpha".
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from metrics.kpis import ALL_FORCES, COLUMNS, KpiInputError, compute_kpis
from metrics.stats import median_ci, wilson
from tests.kpi_fixtures import (
    case,
    dataset,
    devices,
    frame,
    survey,
    victim_updates,
    workforce,
)

START, END = "2024-01", "2024-03"


def kpi_row(ds, kpi_id: str, force: str = "Alpha", start: str = START,
            end: str = END) -> dict:
    table = compute_kpis(ds, start, end, kpi_ids=[kpi_id])
    hit = table[table["force"] == force]
    assert len(hit) == 1, hit
    return hit.iloc[0].to_dict()


def assert_wilson(row: dict) -> None:
    low, high = wilson(row["numerator"], row["denominator"])
    assert row["ci_low"] == pytest.approx(low)
    assert row["ci_high"] == pytest.approx(high)


def filler(n: int, **kw) -> list[dict]:
    """n cases recorded mid-window with the given fields."""
    return [case(recorded="2024-02-10", **kw) for _ in range(n)]


# -- Pillar 1 ----------------------------------------------------------------------------------

def charge_cases() -> list[dict]:
    return [
        case(recorded="2023-06-01", outcome_code=1, outcome_date="2024-01-01"),  # first day: in
        case(recorded="2023-06-01", outcome_code=1, outcome_date="2024-03-31"),  # last day: in
        case(recorded="2023-06-01", outcome_code=1, outcome_date="2023-12-31"),  # before: out
        case(recorded="2023-06-01", outcome_code=1, outcome_date="2024-04-01"),  # after: out
        *[case(recorded="2023-06-01", outcome_code=14, outcome_date="2024-02-10")
          for _ in range(8)],
        case(recorded="2024-02-01"),  # no outcome: not in the denominator
    ]


def test_charge_rate_counts_outcomes_dated_in_the_window_inclusive():
    row = kpi_row(dataset(charge_cases()), "charge_rate")
    assert (row["numerator"], row["denominator"], row["n"]) == (2, 10, 10)
    assert row["status"] == "ok"
    assert row["value"] == pytest.approx(0.2)
    assert row["window_start"] == pd.Timestamp("2024-01-01")
    assert row["window_end"] == pd.Timestamp("2024-03-31")
    assert_wilson(row)


def test_charge_rate_below_min_n_is_insufficient_with_counts_kept():
    rows = charge_cases()[:-2]  # 2 charges + 7 withdrawals in window = 9 outcomes
    row = kpi_row(dataset(rows), "charge_rate")
    assert (row["numerator"], row["denominator"], row["n"]) == (2, 9, 9)
    assert row["status"] == "insufficient"
    assert math.isnan(row["value"]) and math.isnan(row["ci_low"]) and math.isnan(row["ci_high"])


def test_charge_rate_cohort_counts_charges_within_365_days_of_recording():
    # issue 11: "charged within 12 months": outcome 1 no more than 365 days after recording
    rows = [
        case(recorded="2024-01-01", outcome_code=1, outcome_date="2024-09-01"),  # 244 days
        case(recorded="2024-01-01", outcome_code=1, outcome_date="2024-12-31"),  # 365: in
        case(recorded="2024-01-01", outcome_code=1, outcome_date="2025-01-01"),  # 366: out
        case(recorded="2024-03-31", outcome_code=1, outcome_date="2024-03-31"),  # same day
        case(recorded="2023-12-31", outcome_code=1, outcome_date="2024-01-05"),  # out
        case(recorded="2024-04-01", outcome_code=1, outcome_date="2024-04-05"),  # out
        *filler(8, outcome_code=16, outcome_date="2024-02-20"),
        case(recorded="2024-02-02"),
    ]
    row = kpi_row(dataset(rows, as_at="2025-06-30"), "charge_rate_cohort")
    assert (row["numerator"], row["denominator"]) == (3, 13)
    assert row["value"] == pytest.approx(3 / 13)
    assert_wilson(row)
    assert not row["provisional"]  # 31 March 2024 + 365 days = 31 March 2025 <= as-at
    young = kpi_row(dataset(rows, as_at="2025-03-30"), "charge_rate_cohort")
    assert young["provisional"] and young["value"] == pytest.approx(3 / 13)  # still shown


def test_days_to_charge_is_the_median_of_charged_cases_in_window():
    # charges dated in window after 10, 20, 30, 40, 50, 60 days; one outside; one outcome 14
    days = [10, 20, 30, 40, 50, 60]
    rows = [case(recorded=str((pd.Timestamp("2024-02-15") - pd.Timedelta(days=d)).date()),
                 outcome_code=1, outcome_date="2024-02-15") for d in days]
    rows += [case(recorded="2023-01-01", outcome_code=1, outcome_date="2024-04-01"),
             case(recorded="2023-01-01", outcome_code=14, outcome_date="2024-02-15")]
    row = kpi_row(dataset(rows), "days_to_charge")
    assert row["n"] == 6 and row["denominator"] == 6
    assert math.isnan(row["numerator"])
    assert row["value"] == 35.0  # (30 + 40) / 2
    low, high = median_ci(days)
    assert (row["ci_low"], row["ci_high"]) == (low, high) == (10.0, 60.0)


def test_days_to_charge_min_n_five():
    rows = [case(recorded="2024-01-01", outcome_code=1, outcome_date=f"2024-02-0{d}")
            for d in range(1, 5)]
    row = kpi_row(dataset(rows), "days_to_charge")
    assert row["n"] == 4 and row["status"] == "insufficient" and math.isnan(row["value"])


def test_early_advice_days_by_received_date_skipping_missing_request():
    rows = [case(early_advice_requested_date="2024-01-01", early_advice_received_date=r)
            for r in ("2024-01-03", "2024-01-05", "2024-01-06", "2024-01-11", "2024-01-21")]
    rows += [case(early_advice_requested_date=None, early_advice_received_date="2024-01-10"),
             case(early_advice_requested_date="2023-12-01",
                  early_advice_received_date="2023-12-31"),
             case(early_advice_requested_date="2024-03-01", early_advice_received_date=None)]
    row = kpi_row(dataset(rows), "early_advice_days")
    assert row["n"] == 5
    assert row["value"] == 5.0  # 2, 4, 5, 10, 20


def test_suspect_arrest_rate_ignores_nulls():
    rows = (filler(4, suspect_arrested=True) + filler(7, suspect_arrested=False)
            + filler(5, suspect_arrested=None)
            + [case(recorded="2024-04-01", suspect_arrested=True)])
    row = kpi_row(dataset(rows), "suspect_arrest_rate")
    assert (row["numerator"], row["denominator"]) == (4, 11)
    assert row["value"] == pytest.approx(4 / 11)


# -- Pillar 2 ----------------------------------------------------------------------------------

def test_repeat_suspect_share_looks_back_only_1095_days_inclusive():
    # issue 11: another case of the same suspect (any force) recorded on the same day or in
    # the 1,095 days before; no look-ahead
    rows = [
        case(recorded="2024-02-01", suspect_id="S1"),
        case(force="Beta", recorded="2021-02-01", suspect_id="S1"),  # 1,095 days before: yes
        case(recorded="2024-02-01", suspect_id="S2"),
        case(recorded="2021-01-31", suspect_id="S2"),  # 1,096 days before: not
        case(recorded="2024-03-31", suspect_id="S3"),
        case(recorded="2024-03-31", suspect_id="S3"),  # same day, other case: both repeat
        case(recorded="2024-01-10", suspect_id="S4"),
        case(recorded="2024-06-10", suspect_id="S4"),  # a later case: no look-ahead, S4 not
        case(recorded="2024-01-10", suspect_id=None),  # no suspect: not counted
        *[case(recorded="2024-02-15", suspect_id=f"U{i}") for i in range(5)],
    ]
    row = kpi_row(dataset(rows), "repeat_suspect_share")
    # in window with a suspect: S1, S2, S3, S3, S4, U0-U4 = 10; repeats S1, S3, S3 = 3
    assert (row["numerator"], row["denominator"]) == (3, 10)
    assert row["status"] == "ok"
    beta = kpi_row(dataset(rows), "repeat_suspect_share", force="Beta", start="2021-02",
                   end="2021-02")
    assert (beta["numerator"], beta["denominator"]) == (0, 1)  # its later case does not count
    later = kpi_row(dataset(rows), "repeat_suspect_share", start="2024-06", end="2024-06")
    assert (later["numerator"], later["denominator"]) == (1, 1)  # S4's second case looks back


def test_repeat_suspect_arrest_rate_counts_repeat_cases_with_arrest_recorded():
    rows = [
        *[case(recorded="2023-06-01", suspect_id=f"R{i}") for i in range(12)],
        *[case(recorded="2024-02-01", suspect_id=f"R{i}", suspect_arrested=i < 7)
          for i in range(11)],  # 11 repeat cases, 7 arrested
        case(recorded="2024-02-01", suspect_id="R11", suspect_arrested=None),  # not recorded
        case(recorded="2024-02-01", suspect_id="ALONE", suspect_arrested=True),  # not repeat
    ]
    row = kpi_row(dataset(rows), "repeat_suspect_arrest_rate")
    assert (row["numerator"], row["denominator"], row["status"]) == (7, 11, "ok")
    assert row["value"] == pytest.approx(7 / 11)


def test_orders_granted_counts_protective_types_by_granted_date():
    rows = [
        {"order_type": "SRO", "granted_date": "2024-01-01"},
        {"order_type": "SHPO", "granted_date": "2024-03-31"},
        {"order_type": "interim_SHPO", "granted_date": "2024-02-01"},
        {"order_type": "restraining_order", "granted_date": "2024-02-01"},
        {"order_type": "non_molestation_order", "granted_date": "2024-02-01"},
        {"order_type": "pre_charge_bail", "granted_date": "2024-02-01"},  # not protective
        {"order_type": "SRO", "granted_date": None},  # applied, not granted
        {"order_type": "SRO", "granted_date": "2024-04-01"},  # after
    ]
    orders = frame([{"order_id": f"O{i}", "case_id": "C", "force": "Alpha",
                     "applied_date": "2023-12-01", **r} for i, r in enumerate(rows)],
                   dates=("applied_date", "granted_date"), categories=("force", "order_type"))
    ds = dataset([case(), case(force="Beta")], orders=orders)
    row = kpi_row(ds, "orders_granted")
    assert row["value"] == 5 and row["numerator"] == 5 and row["status"] == "ok"
    assert math.isnan(row["denominator"])
    beta = kpi_row(ds, "orders_granted", force="Beta")  # zero is a value, not no data
    assert beta["value"] == 0 and beta["status"] == "ok"
    missing = kpi_row(dataset([case()]), "orders_granted")
    assert missing["status"] == "no_data" and math.isnan(missing["value"])


def breaches_ds(rows: list[tuple[str, str, str, str]]) -> object:
    """(breach force, order type, breach date, action) rows, one order per breach."""
    orders = frame([{"order_id": f"O{i}", "case_id": "C", "force": "Alpha", "order_type": t,
                     "applied_date": "2023-12-01", "granted_date": None}
                    for i, (_, t, _, _) in enumerate(rows)],
                   dates=("applied_date", "granted_date"), categories=("force", "order_type"))
    breaches = frame([{"breach_id": f"B{i}", "order_id": f"O{i}", "force": f,
                       "breach_date": d, "action": a}
                      for i, (f, _, d, a) in enumerate(rows)],
                     dates=("breach_date",), categories=("force", "action"))
    return dataset([case()], orders=orders, breaches=breaches)


def test_order_breach_action_rate_excludes_bail_and_uses_the_breach_force_column():
    actions = ["arrest"] * 3 + ["charge"] * 2 + ["warning"] * 4 + ["no_action"]
    rows = [("Alpha", "SHPO", "2024-03-31", a) for a in actions]
    rows += [("Beta", "SRO", "2024-02-01", "arrest"),  # the breach's own force
             ("Alpha", "SRO", "2024-04-01", "arrest"),  # after the window
             ("Alpha", "pre_charge_bail", "2024-02-01", "arrest")]  # bail: the other KPI
    ds = breaches_ds(rows)
    row = kpi_row(ds, "order_breach_action_rate")
    assert (row["numerator"], row["denominator"], row["value"]) == (5, 10, 0.5)
    beta = kpi_row(ds, "order_breach_action_rate", force="Beta")
    assert (beta["numerator"], beta["denominator"], beta["status"]) == (1, 1, "insufficient")


def test_bail_breach_arrest_rate_counts_arrest_only():
    # a bail breach "charged" is a validation warning (rows kept): it is not an arrest
    actions = ["arrest"] * 6 + ["charge"] + ["warning"] * 2 + ["no_action"]
    rows = [("Alpha", "pre_charge_bail", "2024-02-10", a) for a in actions]
    rows.append(("Alpha", "SHPO", "2024-02-10", "arrest"))  # an order breach: not counted
    row = kpi_row(breaches_ds(rows), "bail_breach_arrest_rate")
    assert (row["numerator"], row["denominator"], row["status"]) == (6, 10, "ok")


def test_s63g_applications_by_date():
    rows = [case(s63g_applied_date=d) for d in ("2024-01-01", "2024-03-31", "2023-12-31", None)]
    assert kpi_row(dataset(rows), "s63g_applications")["value"] == 2


# -- Pillar 3 ----------------------------------------------------------------------------------

def test_victim_withdrawal_rate_codes_14_and_16():
    rows = [case(outcome_code=c, outcome_date="2024-02-01")
            for c in (14, 16, 16, 15, 1, 9, 18, 21, 10, 11)]
    rows.append(case(outcome_code=14, outcome_date="2024-04-01"))
    row = kpi_row(dataset(rows), "victim_withdrawal_rate")
    assert (row["numerator"], row["denominator"]) == (3, 10)


def test_needs_assessment_within_seven_days_inclusive():
    rows = [
        case(recorded="2024-01-01", needs_assessment_date="2024-01-08"),  # 7 days: yes
        case(recorded="2024-01-01", needs_assessment_date="2024-01-09"),  # 8 days: no
        case(recorded="2024-03-31", needs_assessment_date="2024-03-31"),  # same day: yes
        case(recorded="2024-03-31", needs_assessment_date="2024-04-07"),  # 7 days, later: yes
        case(recorded="2024-02-01", needs_assessment_date=None),  # none: no
        *filler(5),
        case(recorded="2023-12-31", needs_assessment_date="2024-01-01"),  # not in window
    ]
    row = kpi_row(dataset(rows), "needs_assessment_7d")
    assert (row["numerator"], row["denominator"]) == (3, 10)


def test_victim_updated_28d_open_cases_at_window_end():
    rows = [
        case(case_id="A", recorded="2024-01-10"),  # open, update on 4 March (end - 27): yes
        case(case_id="B", recorded="2024-01-10"),  # open, update on 3 March only: no
        case(case_id="C", recorded="2024-03-31"),  # recorded on the last day, update that day
        case(case_id="D", recorded="2023-05-01", outcome_code=1, outcome_date="2024-04-01"),
        case(case_id="E", recorded="2023-05-01", outcome_code=1, outcome_date="2024-03-31"),
        case(case_id="F", recorded="2024-04-01"),  # recorded after the end: not open
        case(case_id="G", recorded="2022-01-01"),  # open, updated on 1 April: no
        *[case(case_id=f"H{i}", recorded="2024-02-01") for i in range(5)],  # open, no update
    ]
    updates = victim_updates([("A", "2024-03-04"), ("A", "2024-03-20"), ("B", "2024-03-03"),
                              ("C", "2024-03-31"), ("D", "2024-03-10"), ("E", "2024-03-10"),
                              ("F", "2024-04-01"), ("G", "2024-04-01")])
    row = kpi_row(dataset(rows, victim_updates=updates), "victim_updated_28d")
    # open at 31 March: A B C D G H0-H4 = 10; updated in [4 March, 31 March]: A C D = 3
    assert (row["numerator"], row["denominator"], row["n"]) == (3, 10, 10)
    assert row["status"] == "ok"
    missing = kpi_row(dataset(rows), "victim_updated_28d")
    assert missing["status"] == "no_data"


def test_victim_updated_28d_by_month_uses_each_month_end():
    rows = [case(case_id="A", recorded="2024-01-01"), case(case_id="B", recorded="2024-01-01")]
    updates = victim_updates([("A", "2024-01-31"), ("A", "2024-02-01"), ("B", "2024-02-02"),
                              ("B", "2024-02-10")])
    ds = dataset(rows, victim_updates=updates)
    table = compute_kpis(ds, "2024-01", "2024-03", by="month", kpi_ids=["victim_updated_28d"])
    alpha = table[table["force"] == "Alpha"]
    # Jan end: A (31 Jan); Feb end (window 2-29 Feb): A (1 Feb is outside), B; Mar: none
    assert alpha["numerator"].tolist() == [1, 1, 0]
    assert alpha["denominator"].tolist() == [2, 2, 2]


def test_nfa_explained_in_person_codes_9_to_18_and_21():
    rows = [case(outcome_code=c, outcome_date="2024-02-01", nfa_explained_in_person=e)
            for c, e in ((9, True), (18, True), (21, True), (14, False), (15, None),
                         (10, False), (11, False), (12, False), (13, False), (16, False))]
    rows += [case(outcome_code=c, outcome_date="2024-02-01", nfa_explained_in_person=True)
             for c in (1, 19, 20, 22)]
    row = kpi_row(dataset(rows), "nfa_explained_in_person")
    assert (row["numerator"], row["denominator"]) == (3, 10)


def test_isva_wait_days_by_start_date():
    rows = [case(isva_referral_date="2024-01-01", isva_start_date=s)
            for s in ("2024-01-02", "2024-01-04", "2024-01-08", "2024-01-15", "2024-01-31")]
    rows += [case(isva_referral_date="2024-03-20", isva_start_date="2024-04-01"),
             case(isva_referral_date=None, isva_start_date="2024-02-01")]
    row = kpi_row(dataset(rows), "isva_wait_days")
    assert (row["n"], row["value"]) == (5, 7.0)  # 1, 3, 7, 14, 30


def test_survey_items_29_versus_30_answers():
    items = {"q_kept_informed": "Int64", "q_closure_met_in_person": "boolean"}
    scale = [5] * 10 + [4] * 5 + [3] * 5 + [2] * 5 + [1] * 4  # 29 answers, 15 agree
    rows = [{"force": "Alpha", "response_date": "2024-03-31", "q_kept_informed": v,
             "q_closure_met_in_person": i % 2 == 0} for i, v in enumerate(scale)]
    rows.append({"force": "Alpha", "response_date": "2024-02-01", "q_kept_informed": None,
                 "q_closure_met_in_person": True})  # null scale answer, 30th boolean answer
    rows.append({"force": "Alpha", "response_date": "2024-04-01", "q_kept_informed": 5,
                 "q_closure_met_in_person": True})  # outside the window
    ds = dataset([case()], survey_responses=survey(rows, items))
    scale_row = kpi_row(ds, "survey_kept_informed")
    assert (scale_row["numerator"], scale_row["n"], scale_row["status"]) == (15, 29,
                                                                             "insufficient")
    bool_row = kpi_row(ds, "survey_closure_met_in_person")
    # true at even positions 0..28 (15) plus the null-scale response's true: 16 of 30
    assert (bool_row["numerator"], bool_row["n"], bool_row["status"]) == (16, 30, "ok")
    assert bool_row["value"] == pytest.approx(16 / 30)
    assert_wilson(bool_row)


# -- Pillar 4 ----------------------------------------------------------------------------------

def workforce_ds():
    rows = [
        {"force": "Alpha", "team": "T1", "month": "2024-01-01", "sickness_days": 10,
         "available_days": 200, "screening_due": 4, "screening_done": 3,
         "establishment_fte": 10.0, "in_post_fte": 10.0},
        {"force": "Alpha", "team": "T1", "month": "2024-03-01", "sickness_days": 5,
         "available_days": 100, "screening_due": 6, "screening_done": 6,
         "establishment_fte": 10.0, "in_post_fte": 8.0, "trainee_fte": 2.0, "headcount": 9,
         "specialist_trained_headcount": 3},
        {"force": "Alpha", "team": "T2", "month": "2024-03-01", "sickness_days": 0,
         "available_days": 100, "establishment_fte": 10.0, "in_post_fte": 9.0,
         "trainee_fte": 1.0, "headcount": 9, "specialist_trained_headcount": 6},
        {"force": "Alpha", "team": "T1", "month": "2024-04-01", "sickness_days": 99,
         "available_days": 100},
    ]
    return dataset([case()], workforce=workforce(rows))


@pytest.mark.parametrize(("kpi_id", "num", "den", "n"), [
    ("sickness_rate", 15, 400, 3),  # Jan + Mar rows
    ("screening_rate", 9, 10, 3),
    ("vacancy_rate", 3, 20, 2),  # March only: 20 - 17 = 3 of 20
    ("trainee_share", 3, 17, 2),
    ("specialist_trained_share", 9, 18, 2),
])
def test_workforce_ratios(kpi_id, num, den, n):
    row = kpi_row(workforce_ds(), kpi_id)
    assert row["numerator"] == pytest.approx(num)
    assert row["denominator"] == pytest.approx(den)
    assert row["n"] == n and row["status"] == "ok"
    assert row["value"] == pytest.approx(num / den)
    # censuses of the teams, not samples: no interval (issue 11)
    assert np.isnan(row["ci_low"]) and np.isnan(row["ci_high"])


def test_workforce_missing_file_is_no_data():
    row = kpi_row(dataset([case()]), "sickness_rate")
    assert row["status"] == "no_data" and row["n"] == 0


def caseload_rows(first_holds: int) -> list[dict]:
    """I1 holds ``first_holds`` open cases at 31 March; I2 holds 15; I3 holds 1."""
    rows = [case(recorded="2023-01-01", investigator_id="I1") for _ in range(first_holds)]
    rows += [case(recorded="2024-03-31", investigator_id="I2") for _ in range(15)]
    rows += [case(recorded="2023-01-01", investigator_id="I3")]
    rows += [
        case(recorded="2023-01-01", investigator_id="I1", outcome_code=1,
             outcome_date="2024-03-31"),  # closed on the last day: not held
        case(recorded="2024-04-01", investigator_id="I1"),  # recorded after: not held
        case(recorded="2023-01-01", investigator_id=None),  # no investigator: not counted
        case(recorded="2023-01-01", investigator_id="I4", outcome_code=15,
             outcome_date="2024-01-10"),  # closed: I4 holds nothing at the end
    ]
    return rows


def test_caseload_exactly_15_is_not_over_15_but_16_is():
    ds16 = dataset(caseload_rows(16))
    load = kpi_row(ds16, "caseload_per_investigator")
    assert (load["numerator"], load["denominator"], load["n"]) == (32, 3, 3)
    assert load["value"] == pytest.approx(32 / 3)
    over = kpi_row(ds16, "investigators_over_15")
    assert (over["numerator"], over["denominator"]) == (1, 3)
    assert over["value"] == pytest.approx(1 / 3)
    ds15 = dataset(caseload_rows(15))
    assert kpi_row(ds15, "investigators_over_15")["numerator"] == 0


def test_caseload_investigators_are_per_force():
    rows = [case(investigator_id="I1"), case(force="Beta", investigator_id="I1"),
            case(force="Beta", investigator_id="I2")]
    table = compute_kpis(dataset(rows), START, END, kpi_ids=["caseload_per_investigator"])
    got = table.set_index("force")[["numerator", "denominator"]].to_dict("index")
    assert got["Alpha"] == {"numerator": 1, "denominator": 1}
    assert got["Beta"] == {"numerator": 2, "denominator": 2}
    assert got[ALL_FORCES] == {"numerator": 3, "denominator": 3}


# -- Pillar 5 ----------------------------------------------------------------------------------

def test_victim_demographics_complete():
    rows = [case(), case(), case(victim_ethnicity="not_stated"), case(victim_sex=None),
            case(victim_age_band=None), case(victim_ethnicity=None), case(victim_sex="male"),
            case(victim_ethnicity="Black"), case(victim_age_band="0-15"), case(),
            case(recorded="2024-04-01")]
    row = kpi_row(dataset(rows), "victim_demographics_complete")
    assert (row["numerator"], row["denominator"]) == (6, 10)


# -- Pillar 6 ----------------------------------------------------------------------------------

def device_rows() -> list[dict]:
    v = {"force": "Alpha", "owner": "victim"}
    return [
        # spring forward (31 March 2024): 12:00 GMT to 13:00 BST is exactly 24 hours
        {**v, "seized_at": "2024-03-30 12:00", "returned_at": "2024-03-31 13:00"},
        # 12:00 GMT to 12:01 BST is 23h01m
        {**v, "seized_at": "2024-03-30 12:00", "returned_at": "2024-03-31 12:01"},
        # 12:00 GMT to 13:01 BST is 24h01m: too late
        {**v, "seized_at": "2024-03-30 12:00", "returned_at": "2024-03-31 13:01"},
        {**v, "seized_at": "2024-01-01 00:00", "returned_at": None},  # not returned
        *[{**v, "seized_at": "2024-02-01 09:00", "returned_at": "2024-02-01 10:00"}] * 6,
        # 00:30 BST on 1 April is still 31 March in UTC: its UK date is April, outside
        {**v, "seized_at": pd.Timestamp("2024-03-31 23:30", tz="UTC"),
         "returned_at": pd.Timestamp("2024-04-01 00:00", tz="UTC")},
    ]


def test_victim_device_24h_exact_elapsed_hours_across_clock_change():
    row = kpi_row(dataset([case()], devices=devices(device_rows())), "victim_device_24h")
    assert (row["numerator"], row["denominator"]) == (8, 10)


def test_victim_device_24h_autumn_clock_change():
    v = {"force": "Alpha", "owner": "victim"}
    rows = [  # 27 October 2024: BST ends, the wall clock repeats 01:00-02:00
        {**v, "seized_at": "2024-10-26 13:00", "returned_at": "2024-10-27 12:00"},  # 24h
        {**v, "seized_at": "2024-10-26 13:00", "returned_at": "2024-10-27 12:01"},  # 24h01
        *[{**v, "seized_at": "2024-10-01 09:00", "returned_at": "2024-10-01 10:00"}] * 8,
    ]
    row = kpi_row(dataset([case()], devices=devices(rows)), "victim_device_24h",
                  start="2024-10", end="2024-10")
    assert (row["numerator"], row["denominator"]) == (9, 10)


def test_suspect_device_days_uses_uk_local_seizure_date():
    s = {"force": "Alpha", "owner": "suspect"}
    rows = [
        # 23:30 UTC on 31 March = 00:30 BST on 1 April: 10 days to 11 April, not 11
        {**s, "seized_at": pd.Timestamp("2024-03-31 23:30", tz="UTC"),
         "examination_completed_date": "2024-04-11"},
        {**s, "seized_at": "2024-03-01 10:00", "examination_completed_date": "2024-04-21"},
        {**s, "seized_at": "2024-04-01 10:00", "examination_completed_date": "2024-04-05"},
        {**s, "seized_at": "2024-04-01 10:00", "examination_completed_date": "2024-04-30"},
        {**s, "seized_at": "2024-01-01 10:00", "examination_completed_date": "2024-04-01"},
        {**s, "seized_at": "2024-01-01 10:00", "examination_completed_date": "2024-05-01"},
        {"force": "Alpha", "owner": "victim", "seized_at": "2024-04-01 10:00",
         "examination_completed_date": "2024-04-02"},
    ]
    row = kpi_row(dataset([case()], devices=devices(rows)), "suspect_device_days",
                  start="2024-04", end="2024-04")
    # 10, 51, 4, 29, 91 -> median 29
    assert (row["n"], row["value"]) == (5, 29.0)


def test_device_backlog_at_window_end():
    s = {"force": "Alpha", "owner": "suspect"}
    rows = [
        {**s, "seized_at": "2024-03-31 23:00"},  # seized on the last day, open: yes
        {**s, "seized_at": "2024-01-10 10:00", "examination_completed_date": "2024-04-01"},
        {**s, "seized_at": "2024-01-10 10:00", "examination_completed_date": "2024-03-31"},
        {**s, "seized_at": "2024-04-01 10:00"},  # seized after the end: no
        {**s, "seized_at": "2022-01-10 10:00"},  # long outstanding: yes
        {"force": "Alpha", "owner": "victim", "seized_at": "2024-01-10 10:00"},
    ]
    row = kpi_row(dataset([case()], devices=devices(rows)), "device_backlog")
    assert (row["value"], row["n"], row["status"]) == (3, 3, "ok")


# -- All forces, windows, months, statuses -----------------------------------------------------

def mixed_dataset():
    rows = []
    for force, charges, others in (("Alpha", 3, 9), ("Beta", 5, 20), ("Gamma", 0, 4)):
        for i in range(charges):
            rows.append(case(force=force, recorded=f"2024-0{1 + i % 3}-0{1 + i}",
                             outcome_code=1, outcome_date=f"2024-0{1 + i % 3}-2{i}"))
        for i in range(others):
            rows.append(case(force=force, recorded=f"2024-0{1 + i % 3}-1{i % 10}",
                             outcome_code=16, outcome_date=f"2024-0{1 + i % 3}-1{i % 10}",
                             suspect_id=f"S{i % 4}", suspect_arrested=i % 2 == 0))
    return dataset(rows)


def test_all_forces_pools_numerators_denominators_and_medians():
    ds = mixed_dataset()
    table = compute_kpis(ds, START, END)
    rate = table[table["kpi_id"] == "charge_rate"].set_index("force")
    assert rate.loc[ALL_FORCES, "numerator"] == 8
    assert rate.loc[ALL_FORCES, "denominator"] == 41
    for col in ("numerator", "denominator", "n"):
        per_force = rate.drop(index=ALL_FORCES)[col].sum()
        assert rate.loc[ALL_FORCES, col] == per_force
    days = table[table["kpi_id"] == "days_to_charge"].set_index("force")
    cases = ds.cases
    charged = cases[(cases["outcome_code"] == 1)]
    pooled = (charged["outcome_date"] - charged["recorded_date"]).dt.days.median()
    assert days.loc[ALL_FORCES, "value"] == pooled
    assert days.loc["Gamma", "status"] == "no_data"


def test_by_month_rows_sum_to_the_window_for_additive_kpis():
    ds = mixed_dataset()
    window = compute_kpis(ds, START, END)
    monthly = compute_kpis(ds, START, END, by="month")
    additive = ["charge_rate", "charge_rate_cohort", "suspect_arrest_rate",
                "victim_withdrawal_rate", "repeat_suspect_share", "needs_assessment_7d",
                "victim_demographics_complete", "nfa_explained_in_person", "s63g_applications"]
    summed = (monthly[monthly["kpi_id"].isin(additive)]
              .groupby(["kpi_id", "force"])[["numerator", "denominator", "n"]].sum(min_count=1))
    whole = window[window["kpi_id"].isin(additive)].set_index(["kpi_id", "force"])
    pd.testing.assert_frame_equal(summed.sort_index(),
                                  whole[["numerator", "denominator", "n"]].sort_index(),
                                  check_dtype=False)
    assert len(monthly) == 3 * len(window)
    assert set(monthly["window_start"].dt.strftime("%Y-%m-%d")) == {
        "2024-01-01", "2024-02-01", "2024-03-01"}
    feb = monthly[monthly["window_start"] == "2024-02-01"]
    assert set(feb["window_end"]) == {pd.Timestamp("2024-02-29")}


def test_stock_kpi_window_equals_its_last_month():
    rows = caseload_rows(16)
    window = compute_kpis(dataset(rows), START, END, kpi_ids=["caseload_per_investigator"])
    monthly = compute_kpis(dataset(rows), START, END, by="month",
                           kpi_ids=["caseload_per_investigator"])
    march = monthly[monthly["window_start"] == "2024-03-01"].reset_index(drop=True)
    for col in ("numerator", "denominator", "n", "value", "status"):
        assert march[col].tolist() == window[col].tolist()
    jan = monthly[(monthly["window_start"] == "2024-01-01") & (monthly["force"] == "Alpha")]
    # at 31 January: I1 16 + I3 1 + the case closed 31 March + I4's case (closed 10 Jan: no)
    assert (jan["numerator"].item(), jan["denominator"].item()) == (18, 2)


def test_output_columns_types_and_order():
    table = compute_kpis(mixed_dataset(), START, END)
    assert tuple(table.columns) == (*COLUMNS, "provisional")
    assert table["provisional"].dtype == bool
    assert table["n"].dtype == np.int64
    assert str(table["window_start"].dtype) == "datetime64[ns]"
    assert table["force"].iloc[-1] == ALL_FORCES
    assert set(table["status"]) <= {"ok", "insufficient", "no_data"}
    ok = table["status"] == "ok"
    assert table.loc[~ok, "value"].isna().all()
    assert table.loc[~ok, "ci_low"].isna().all()
    # every catalogue KPI for every force: 36 static KPIs (2 from the meeting record, no_data
    # without one), no survey file
    assert table.groupby("force").size().to_dict() == {
        "Alpha": 36, "Beta": 36, "Gamma": 36, ALL_FORCES: 36}


def test_zero_denominator_is_no_data_and_missing_tables_are_no_data():
    table = compute_kpis(dataset([case()]), START, END)
    by_id = table[table["force"] == "Alpha"].set_index("kpi_id")
    assert by_id.loc["charge_rate", "status"] == "no_data"  # no outcomes
    assert by_id.loc["charge_rate", "denominator"] == 0
    for kpi_id in ("orders_granted", "order_breach_action_rate", "victim_device_24h",
                   "device_backlog", "sickness_rate", "victim_updated_28d"):
        assert by_id.loc[kpi_id, "status"] == "no_data", kpi_id
    assert by_id.loc["charge_rate_cohort", "status"] == "insufficient"  # n = 1


def test_forces_filter_and_kpi_filter():
    ds = mixed_dataset()
    table = compute_kpis(ds, START, END, forces=["Beta", ALL_FORCES],
                         kpi_ids=["charge_rate", "days_to_charge"])
    assert table["force"].tolist() == ["Beta", ALL_FORCES, "Beta", ALL_FORCES]
    assert table["kpi_id"].tolist() == ["charge_rate"] * 2 + ["days_to_charge"] * 2
    # All forces still pools every force
    assert table["denominator"].iloc[1] == 41


@pytest.mark.parametrize("kwargs", [
    {"forces": ["Nowhere"]},
    {"kpi_ids": ["charge_rate", "no_such_kpi"]},
    {"start": "2024-13"},
    {"start": "2024-1"},
    {"start": "2024-04", "end": "2024-03"},
    {"by": "week"},
])
def test_bad_arguments_raise_kpi_input_error(kwargs):
    args = {"start": START, "end": END, **kwargs}
    with pytest.raises(KpiInputError):
        compute_kpis(mixed_dataset(), args.pop("start"), args.pop("end"), **args)


def test_periods_are_accepted():
    a = compute_kpis(mixed_dataset(), pd.Period("2024-01", "M"), pd.Period("2024-03", "M"))
    b = compute_kpis(mixed_dataset(), START, END)
    pd.testing.assert_frame_equal(a, b)


def test_victim_updated_28d_same_with_arrow_backed_ids_and_after_prepare():
    from metrics.kpis import prepare

    rows = [case(case_id=f"K{i}", recorded="2024-01-01") for i in range(12)]
    contacts = [(f"K{i}", "2024-03-15") for i in range(0, 12, 2)] + [("K1", "2024-02-02"),
                                                                       ("missing", "2024-03-20")]
    plain = dataset(rows, victim_updates=victim_updates(contacts))
    arrow_cases = plain.cases.astype({"case_id": "string[pyarrow]"})
    arrow_updates = victim_updates(contacts).astype({"case_id": "string[pyarrow]"})
    arrow = dataset(arrow_cases, victim_updates=arrow_updates)
    prepare(arrow)
    for ds in (plain, arrow):
        for by in ("window", "month"):
            table = compute_kpis(ds, START, END, by=by, kpi_ids=["victim_updated_28d"])
            alpha = table[table["force"] == "Alpha"]
            assert alpha["numerator"].iloc[-1] == 6 and alpha["denominator"].iloc[-1] == 12
    monthly = compute_kpis(arrow, START, END, by="month", kpi_ids=["victim_updated_28d"])
    assert monthly[monthly["force"] == "Alpha"]["numerator"].tolist() == [0, 1, 6]


def test_workforce_row_with_a_missing_figure_is_left_out():
    rows = [
        {"force": "Alpha", "month": "2024-03-01", "establishment_fte": 10.0,
         "in_post_fte": 9.0},
        {"force": "Alpha", "team": "T2", "month": "2024-03-01", "establishment_fte": 5.0,
         "in_post_fte": None},
    ]
    row = kpi_row(dataset([case()], workforce=workforce(rows)), "vacancy_rate")
    assert (row["numerator"], row["denominator"], row["n"]) == (1, 10, 1)
