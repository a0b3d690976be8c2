"""The KPIs issue 11 added, and scope, on hand-built exports with hand-worked answers.
The window is 2024-01 .. 2024-03 unless a test says otherwise; the force is "Alpha"."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from metrics.kpis import ALL_FORCES, KpiInputError, compute_kpis, kpi_items
from metrics.stats import median_ci, wilson
from tests.kpi_fixtures import case, dataset, devices, frame, survey

START, END = "2024-01", "2024-03"


def row_of(ds, kpi_id: str, force: str = "Alpha", start: str = START, end: str = END,
           scope: str = "all") -> dict:
    table = compute_kpis(ds, start, end, kpi_ids=[kpi_id], scope=scope)
    hit = table[table["force"] == force]
    assert len(hit) == 1, hit
    return hit.iloc[0].to_dict()


def test_early_advice_2d_exactly_two_days_counts():
    rows = [
        case(early_advice_requested_date="2024-02-01", early_advice_received_date="2024-02-03"),
        case(early_advice_requested_date="2024-02-01", early_advice_received_date="2024-02-04"),
        case(early_advice_requested_date="2024-02-01", early_advice_received_date="2024-02-01"),
        # received before the window / after it: not counted
        case(early_advice_requested_date="2023-12-20", early_advice_received_date="2023-12-31"),
        case(early_advice_requested_date="2024-03-30", early_advice_received_date="2024-04-01"),
        *[case(early_advice_requested_date="2024-03-01",
               early_advice_received_date="2024-03-10") for _ in range(8)],
    ]
    r = row_of(dataset(rows), "early_advice_2d")
    assert (r["numerator"], r["denominator"], r["status"]) == (2, 11, "ok")
    assert r["ci_low"] == pytest.approx(wilson(2, 11)[0])


def test_investigation_days_median_over_every_outcome_in_window():
    rows = [
        case(recorded="2023-01-01", outcome_code=1, outcome_date="2024-01-01"),  # 365
        case(recorded="2023-12-01", outcome_code=14, outcome_date="2024-01-10"),  # 40
        case(recorded="2024-01-01", outcome_code=9, outcome_date="2024-03-31"),  # 90
        case(recorded="2023-11-01", outcome_code=16, outcome_date="2024-02-15"),  # 106
        case(recorded="2024-02-01", outcome_code=21, outcome_date="2024-02-01"),  # 0
        case(recorded="2023-01-01", outcome_code=1, outcome_date="2024-04-01"),  # after
        case(recorded="2024-01-05"),  # no outcome
    ]
    r = row_of(dataset(rows), "investigation_days")
    assert (r["n"], r["value"], r["status"]) == (5, 90.0, "ok")
    assert (r["ci_low"], r["ci_high"]) == pytest.approx(median_ci([365, 40, 90, 106, 0]),
                                                        nan_ok=True)
    items = kpi_items(dataset(rows), "investigation_days", START, END, forces=["Alpha"])
    assert sorted(items["item"]) == [0, 40, 90, 106, 365]


def orders_ds(rows: list[dict]) -> object:
    orders = frame([{"order_id": f"O{i}", "case_id": "C", "force": "Alpha", **r}
                    for i, r in enumerate(rows)],
                   dates=("applied_date", "granted_date"), categories=("force", "order_type"))
    return dataset([case()], orders=orders, as_at="2024-12-31")


def test_order_grant_rate_of_applications_in_window():
    rows = [
        *[{"order_type": "SHPO", "applied_date": "2024-02-01", "granted_date": "2024-05-01"}
          for _ in range(7)],  # granted after the window: still counted (granted so far)
        *[{"order_type": "SRO", "applied_date": "2024-03-31", "granted_date": None}
          for _ in range(3)],
        {"order_type": "pre_charge_bail", "applied_date": "2024-02-01",
         "granted_date": "2024-02-01"},  # bail: not an application for a protective order
        {"order_type": "SHPO", "applied_date": "2023-12-31", "granted_date": "2024-01-02"},
    ]
    r = row_of(orders_ds(rows), "order_grant_rate")
    assert (r["numerator"], r["denominator"], r["status"]) == (7, 10, "ok")
    assert not r["provisional"]  # 31 March + 90 days = 29 June <= 31 December
    young = compute_kpis(orders_ds(rows), START, END, kpi_ids=["order_grant_rate"])
    assert not young["provisional"].any()


def test_s63g_rate_of_nfa_outcomes_with_the_suspect_arrested():
    rows = [
        *[case(outcome_code=15, outcome_date="2024-02-01", suspect_arrested=True,
               s63g_applied_date="2024-02-20") for _ in range(4)],
        *[case(outcome_code=9, outcome_date="2024-03-01", suspect_arrested=True)
          for _ in range(6)],
        case(outcome_code=15, outcome_date="2024-02-01", suspect_arrested=False,
             s63g_applied_date="2024-02-20"),  # voluntary interview: not in the denominator
        case(outcome_code=1, outcome_date="2024-02-01", suspect_arrested=True,
             s63g_applied_date="2024-02-20"),  # charged: not an NFA
        case(outcome_code=15, outcome_date="2024-04-01", suspect_arrested=True),  # after
    ]
    r = row_of(dataset(rows, as_at="2024-06-28"), "s63g_rate")
    assert (r["numerator"], r["denominator"], r["status"]) == (4, 10, "ok")
    assert r["provisional"]  # 31 March + 90 days = 29 June: still maturing on 28 June
    assert not row_of(dataset(rows, as_at="2024-06-29"), "s63g_rate")["provisional"]


def test_isva_referral_28d_exactly_28_days_counts():
    rows = [
        case(recorded="2024-01-01", isva_referral_date="2024-01-29"),  # 28 days: in
        case(recorded="2024-01-01", isva_referral_date="2024-01-30"),  # 29 days: out
        case(recorded="2024-01-10", isva_referral_date="2024-01-05"),  # before recording: in
        *[case(recorded="2024-02-10") for _ in range(7)],  # never referred
        case(recorded="2024-04-01", isva_referral_date="2024-04-02"),  # recorded after
    ]
    r = row_of(dataset(rows, as_at="2024-04-27"), "isva_referral_28d")
    assert (r["numerator"], r["denominator"], r["status"]) == (2, 10, "ok")
    assert r["provisional"]  # final on 28 April: the as-at date is the day before


def test_isva_referral_28d_becomes_final_on_the_as_at_date():
    rows = [case(recorded="2024-03-01", isva_referral_date="2024-03-02")]
    assert row_of(dataset(rows, as_at="2024-04-27"), "isva_referral_28d")["provisional"]
    assert not row_of(dataset(rows, as_at="2024-04-28"), "isva_referral_28d")["provisional"]


def test_isva_waiting_over_28d_at_window_end():
    end = "2024-03-31"
    rows = [
        case(isva_referral_date="2024-03-03"),  # 28 days before 31 March: waiting, not over
        case(isva_referral_date="2024-03-02"),  # 29 days: waiting over 28
        case(isva_referral_date="2023-10-01", isva_start_date="2024-04-01"),  # seen after: over
        case(isva_referral_date="2024-01-01", isva_start_date=end),  # seen by then: not waiting
        case(isva_referral_date="2024-04-01"),  # referred after window end: not counted
        *[case(isva_referral_date="2024-03-20") for _ in range(7)],  # waiting 11 days
    ]
    r = row_of(dataset(rows), "isva_waiting_over_28d")
    assert (r["numerator"], r["denominator"], r["status"]) == (2, 10, "ok")
    monthly = compute_kpis(dataset(rows), START, END, by="month",
                           kpi_ids=["isva_waiting_over_28d"], forces=["Alpha"])
    # 31 Jan and 29 Feb: the October and 1 January referrals wait (both over 28 days);
    # 31 March: as above
    assert monthly["denominator"].tolist() == [2, 2, 10]
    assert monthly["numerator"].tolist() == [2, 2, 2]


def test_suspect_device_30d_exactly_30_days_from_the_uk_local_seizure_date():
    s = {"force": "Alpha", "owner": "suspect"}
    rows = [
        {**s, "seized_at": "2024-02-01 10:00", "examination_completed_date": "2024-03-02"},  # 30
        {**s, "seized_at": "2024-02-01 10:00", "examination_completed_date": "2024-03-03"},  # 31
        # 23:30 UTC on 31 March = 00:30 BST on 1 April: seized in April, not in the window
        {**s, "seized_at": pd.Timestamp("2024-03-31 23:30", tz="UTC"),
         "examination_completed_date": "2024-04-02"},
        # 23:30 UTC on 31 December 2023 = 23:30 GMT: seized in December, not in the window
        {**s, "seized_at": pd.Timestamp("2023-12-31 23:30", tz="UTC"),
         "examination_completed_date": "2024-01-02"},
        *[{**s, "seized_at": "2024-03-01 09:00"} for _ in range(8)],  # not examined yet
        {"force": "Alpha", "owner": "victim", "seized_at": "2024-02-01 10:00",
         "examination_completed_date": "2024-02-02"},  # a victim's device
    ]
    ds = dataset([case()], devices=devices(rows), as_at="2024-04-30")
    r = row_of(ds, "suspect_device_30d")
    assert (r["numerator"], r["denominator"], r["status"]) == (1, 10, "ok")
    assert not r["provisional"]  # 31 March + 30 days = 30 April: final on the as-at date
    april = row_of(ds, "suspect_device_30d", start="2024-04", end="2024-04")
    assert (april["numerator"], april["denominator"]) == (1, 1) and april["provisional"]


def scoped_rows() -> list[dict]:
    return [
        # adult rape (offence rape, victim 18+): 2 charged of 10
        *[case(case_id=f"A{i}", offence_group="rape", victim_age_band="25-34",
               outcome_code=1 if i < 2 else 14, outcome_date="2024-02-01") for i in range(10)],
        # child victims (0-15, 16-17): 3 charged of 10 (one of them a rape)
        *[case(case_id=f"K{i}", offence_group="rape" if i == 0 else "sexual_assault",
               victim_age_band="0-15" if i < 5 else "16-17",
               outcome_code=1 if i < 3 else 16, outcome_date="2024-02-01") for i in range(10)],
        # an adult sexual assault and a rape with the age band unknown: "all" only
        case(case_id="S1", offence_group="sexual_assault", victim_age_band="45-54",
             outcome_code=1, outcome_date="2024-02-01"),
        case(case_id="U1", offence_group="rape", victim_age_band=None, outcome_code=1,
             outcome_date="2024-02-01"),
    ]


def scoped_ds() -> object:
    rows = scoped_rows()
    dev = devices([{"force": "Alpha", "owner": "victim", "seized_at": "2024-02-01 10:00",
                    "returned_at": "2024-02-01 12:00"} for _ in range(12)])
    dev["case_id"] = pd.Series(["A0"] * 4 + ["K0"] * 8, dtype="string")
    answers = survey([{"force": "Alpha", "response_date": "2024-02-01", "q_felt_believed": 5}
                      for _ in range(30)], {"q_felt_believed": "Int64"})
    return dataset(rows, devices=dev, survey_responses=answers)


@pytest.mark.parametrize(("scope", "num", "den"), [
    ("all", 7, 22), ("adult_rape", 2, 10), ("child", 3, 10)])
def test_scope_filters_case_kpis(scope, num, den):
    r = row_of(scoped_ds(), "charge_rate", scope=scope)
    assert (r["numerator"], r["denominator"]) == (num, den)
    pooled = row_of(scoped_ds(), "charge_rate", force=ALL_FORCES, scope=scope)
    assert (pooled["numerator"], pooled["denominator"]) == (num, den)


@pytest.mark.parametrize(("scope", "den"), [("all", 12), ("adult_rape", 4), ("child", 8)])
def test_devices_follow_their_case_and_survey_is_force_wide(scope, den):
    r = row_of(scoped_ds(), "victim_device_24h", scope=scope)
    assert r["denominator"] == den and r["numerator"] == den
    s = row_of(scoped_ds(), "survey_felt_believed", scope=scope)
    assert (s["numerator"], s["denominator"]) == (30, 30)  # survey answers have no case


def test_bad_scope_is_an_input_error():
    with pytest.raises(KpiInputError, match="scope"):
        compute_kpis(scoped_ds(), START, END, scope="adults")
    with pytest.raises(KpiInputError, match="scope"):
        kpi_items(scoped_ds(), "days_to_charge", START, END, scope="teen")


def test_kpis_cli_scope_flag(tmp_path, capsys):
    from metrics.__main__ import main
    from tests.kpi_fixtures import cases_frame

    cases_frame(scoped_rows()).to_parquet(tmp_path / "cases.parquet", index=False)
    code = main(["kpis", str(tmp_path), "--from", START, "--to", END, "--kpi", "charge_rate",
                 "--scope", "child", "--force", "Alpha"])
    out, err = capsys.readouterr()
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].endswith(",status,provisional")
    assert lines[1].split(",")[5:7] == ["3.0", "10.0"]
    assert lines[1].endswith(",ok,true")  # the window ends after the as-at date (1 Feb)


def test_census_ratios_carry_no_interval_but_proportions_do():
    r = row_of(scoped_ds(), "charge_rate")
    assert not np.isnan(r["ci_low"])


def test_orders_and_breaches_follow_their_case_under_scope():
    cases = [case(case_id="A1", offence_group="rape", victim_age_band="35-44"),
             case(case_id="K1", offence_group="rape", victim_age_band="16-17")]
    orders = frame([{"order_id": f"O{i}", "case_id": cid, "force": "Alpha",
                     "order_type": "SHPO", "applied_date": "2024-01-10",
                     "granted_date": "2024-02-01"}
                    for i, cid in enumerate(["A1"] * 3 + ["K1"] * 2)],
                   dates=("applied_date", "granted_date"), categories=("force", "order_type"),
                   strings=("order_id", "case_id"))
    breaches = frame([{"breach_id": f"B{i}", "order_id": oid, "force": "Alpha",
                       "breach_date": "2024-02-10", "action": "arrest"}
                      for i, oid in enumerate(["O0", "O1", "O3"])],
                     dates=("breach_date",), categories=("force", "action"),
                     strings=("breach_id", "order_id"))
    ds = dataset(cases, orders=orders, breaches=breaches)
    got = {scope: (row_of(ds, "orders_granted", scope=scope)["value"],
                   row_of(ds, "order_breach_action_rate", scope=scope)["denominator"])
           for scope in ("all", "adult_rape", "child")}
    assert got == {"all": (5, 3), "adult_rape": (3, 2), "child": (2, 1)}
