"""Invariants of the KPI table on random small exports (hypothesis): All forces is the pool
of the forces; monthly rows add up to the window for flow KPIs; a stock KPI's window value is
its last month's; the open-case stock agrees with a row-by-row count."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from metrics.kpis import ALL_FORCES, compute_kpis
from tests.kpi_fixtures import case, dataset, victim_updates

DAY0 = pd.Timestamp("2023-10-01")
FLOW = ["charge_rate", "charge_rate_cohort", "suspect_arrest_rate", "repeat_suspect_share",
        "s63g_applications", "victim_withdrawal_rate", "needs_assessment_7d",
        "nfa_explained_in_person", "victim_demographics_complete"]
STOCK = ["victim_updated_28d", "caseload_per_investigator", "investigators_over_15"]

case_strategy = st.fixed_dictionaries({
    "force": st.sampled_from(["Alpha", "Beta", "Gamma"]),
    "recorded": st.integers(0, 240),
    "closed_after": st.one_of(st.none(), st.integers(0, 200)),
    "code": st.sampled_from([1, 9, 14, 15, 16, 21]),
    "suspect": st.one_of(st.none(), st.sampled_from(["S1", "S2", "S3"])),
    "arrested": st.one_of(st.none(), st.booleans()),
    "investigator": st.one_of(st.none(), st.sampled_from(["I1", "I2"])),
    "assessed_after": st.one_of(st.none(), st.integers(0, 12)),
    "explained": st.one_of(st.none(), st.booleans()),
    "s63g": st.one_of(st.none(), st.integers(0, 240)),
    "updates": st.lists(st.integers(0, 260), max_size=3),
})


def day(n: int) -> str:
    return str((DAY0 + pd.Timedelta(days=n)).date())


def build(specs: list[dict]):
    rows, contacts = [], []
    for i, s in enumerate(specs):
        closed = s["closed_after"]
        rows.append(case(
            case_id=f"P{i}", force=s["force"], recorded=day(s["recorded"]),
            outcome_code=None if closed is None else s["code"],
            outcome_date=None if closed is None else day(s["recorded"] + closed),
            suspect_id=s["suspect"], suspect_arrested=s["arrested"],
            investigator_id=s["investigator"],
            needs_assessment_date=(None if s["assessed_after"] is None
                                   else day(s["recorded"] + s["assessed_after"])),
            nfa_explained_in_person=s["explained"],
            s63g_applied_date=None if s["s63g"] is None else day(s["s63g"])))
        contacts += [(f"P{i}", day(u)) for u in s["updates"]]
    return dataset(rows, victim_updates=victim_updates(contacts))


@given(st.lists(case_strategy, min_size=1, max_size=40))
@settings(max_examples=25, deadline=None)
def test_pooling_and_month_additivity(specs):
    ds = build(specs)
    window = compute_kpis(ds, "2023-11", "2024-03").set_index(["kpi_id", "force"])
    monthly = compute_kpis(ds, "2023-11", "2024-03", by="month")
    cols = ["numerator", "denominator", "n"]
    for kpi_id in FLOW + STOCK:
        block = window.loc[kpi_id]
        forces = block.drop(index=ALL_FORCES)
        for col in cols:
            if col == "denominator" and kpi_id == "s63g_applications":
                continue
            assert block.loc[ALL_FORCES, col] == forces[col].sum(), (kpi_id, col)
    summed = (monthly[monthly["kpi_id"].isin(FLOW)]
              .groupby(["kpi_id", "force"])[cols].sum(min_count=1))
    for (kpi_id, force), row in summed.iterrows():
        for col in cols:
            want = window.loc[(kpi_id, force), col]
            assert (np.isnan(want) and np.isnan(row[col])) or row[col] == want
    last = monthly[monthly["window_start"] == pd.Timestamp("2024-03-01")]
    last = last.set_index(["kpi_id", "force"])
    for kpi_id in STOCK:
        for col in [*cols, "value", "status"]:
            got, want = last.loc[kpi_id][col], window.loc[kpi_id][col]
            assert got.equals(want), (kpi_id, col)


@given(st.lists(case_strategy, min_size=1, max_size=40))
@settings(max_examples=25, deadline=None)
def test_open_cases_at_each_month_end_match_a_row_by_row_count(specs):
    ds = build(specs)
    monthly = compute_kpis(ds, "2023-10", "2024-06", by="month",
                           kpi_ids=["victim_updated_28d"])
    cases = ds.cases
    upd = ds.get("victim_updates")
    for _, row in monthly.iterrows():
        end = row["window_end"]
        chosen = cases if row["force"] == ALL_FORCES else cases[cases["force"] == row["force"]]
        is_open = (chosen["recorded_date"] <= end) & (
            chosen["outcome_code"].isna() | (chosen["outcome_date"] > end))
        recent = upd[(upd["contact_date"] <= end)
                     & (upd["contact_date"] >= end - pd.Timedelta(days=27))]
        updated = chosen["case_id"].isin(set(recent["case_id"])) & is_open
        assert row["denominator"] == is_open.sum()
        assert row["numerator"] == updated.sum()
