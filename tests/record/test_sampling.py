"""Scrutiny panel samples: stratified, proportional, reproducible; and the record's two KPIs."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from metrics.record import RecordError, draw_sample, nominate_case, record_kpis
from metrics.record.kpis import min_reviews
from metrics.record.sampling import NFA_CODES, allocate, nfa_population, stratified_sample

FORCE = "Kent Police"


def _cases(n_per: dict[tuple[str, int], int], *, force: str = FORCE,
           when: str = "2026-03-15") -> pd.DataFrame:
    """Synthetic cases: ``n_per[(offence_group, outcome_code)]`` cases each."""
    rows = []
    for (group, code), n in n_per.items():
        for i in range(n):
            rows.append({"case_id": f"{force[:2]}-{group[:3]}-{code}-{i:04d}", "force": force,
                         "offence_group": group, "outcome_code": code,
                         "outcome_date": pd.Timestamp(when)})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("sizes,n,expected", [
    ({"a": 50, "b": 30, "c": 20}, 10, {"a": 5, "b": 3, "c": 2}),
    ({"a": 1, "b": 1, "c": 1}, 2, {"a": 1, "b": 1, "c": 0}),     # ties: name order
    ({"a": 7, "b": 2, "c": 1}, 5, {"a": 4, "b": 1, "c": 0}),     # 3.5, 1.0, 0.5 -> 4, 1, 0
    ({"a": 3, "b": 2}, 10, {"a": 3, "b": 2}),                    # n >= N: everything
])
def test_proportional_allocation_by_largest_remainder(sizes, n, expected):
    assert allocate(sizes, n) == expected
    assert sum(allocate(sizes, n).values()) == min(n, sum(sizes.values()))


def test_sample_size_and_strata_proportions_hold_and_no_case_twice():
    cases = _cases({("rape", 14): 600, ("rape", 16): 300, ("sexual_assault", 15): 100})
    pop = nfa_population(cases, FORCE, "2025-10", "2026-09")
    sample = stratified_sample(pop, 50, seed=11)
    assert len(sample) == 50 and sample["case_id"].is_unique
    assert sample["stratum"].value_counts().to_dict() == {
        "rape|14": 30, "rape|16": 15, "sexual_assault|15": 5}


def test_same_seed_same_cases_whatever_the_row_order_and_other_seed_differs():
    cases = _cases({("rape", 14): 200, ("other_sexual_offence", 9): 80})
    pop = nfa_population(cases, FORCE, "2025-10", "2026-09")
    shuffled = nfa_population(cases.sample(frac=1, random_state=5), FORCE, "2025-10",
                              "2026-09")
    one = stratified_sample(pop, 20, seed=3)["case_id"].tolist()
    assert stratified_sample(shuffled, 20, seed=3)["case_id"].tolist() == one
    assert stratified_sample(pop, 20, seed=4)["case_id"].tolist() != one


def test_each_case_is_equally_likely_within_its_stratum():
    cases = _cases({("rape", 14): 40, ("rape", 16): 10})
    pop = nfa_population(cases, FORCE, "2025-10", "2026-09")
    hits = pd.Series(0, index=pop["case_id"])
    draws = 1500
    for seed in range(draws):
        hits[stratified_sample(pop, 10, seed)["case_id"]] += 1
    # inclusion probability n_h / N_h = 8/40 = 2/10 = 0.2 in both strata (sd 0.010 per case)
    assert np.allclose(hits / draws, 0.2, atol=0.05)
    assert abs((hits / draws).mean() - 0.2) < 1e-12


def test_population_is_nfa_outcomes_of_the_force_in_the_window_only():
    inside = _cases({("rape", 14): 3})
    charged = _cases({("rape", 1): 4})                      # charge: not NFA
    before = _cases({("rape", 14): 5}, when="2025-09-30")   # outcome before the window
    after = _cases({("rape", 21): 6}, when="2026-10-01")    # after
    other = _cases({("rape", 14): 7}, force="Gwent Police")
    last_day = _cases({("rape", 21): 1}, when="2026-09-30")
    last_day["case_id"] = "last-day"
    cases = pd.concat([inside, charged, before, after, other, last_day], ignore_index=True)
    pop = nfa_population(cases, FORCE, "2025-10", "2026-09")
    assert len(pop) == 4 and set(pop["outcome_code"]) <= set(NFA_CODES)
    assert "last-day" in set(pop["case_id"])


def test_draw_sample_stores_seed_and_cases_and_refuses_bad_requests(record):
    cases = _cases({("rape", 14): 30, ("rape", 16): 10})
    sample_id, sample = draw_sample(record, cases, FORCE, "2025-10", "2026-09", size=8,
                                    seed=99, author="lead")
    stored = record.samples(FORCE).iloc[0]
    assert int(stored["seed"]) == 99 and int(stored["population"]) == 40
    assert "seed 99" in stored["method"]
    assert sorted(record.sample_cases(sample_id)["case_id"]) == sorted(sample["case_id"])
    again = stratified_sample(nfa_population(cases, FORCE, "2025-10", "2026-09"), 8, 99)
    assert sorted(again["case_id"]) == sorted(sample["case_id"])
    with pytest.raises(RecordError):
        draw_sample(record, cases, "Nowhere Police", "2025-10", "2026-09", size=8, seed=1,
                    author="lead")
    with pytest.raises(RecordError):
        draw_sample(record, cases, FORCE, "2025-10", "2026-09", size=0, seed=1, author="x")
    with pytest.raises(RecordError, match="no NFA"):
        draw_sample(record, cases, FORCE, "2024-01", "2024-02", size=3, seed=1, author="x")


def test_draw_without_seed_stores_the_seed_it_used(record):
    cases = _cases({("rape", 14): 30})
    sample_id, sample = draw_sample(record, cases, FORCE, "2025-10", "2026-09", size=5,
                                    author="lead")
    seed = int(record.samples().iloc[0]["seed"])
    redo = stratified_sample(nfa_population(cases, FORCE, "2025-10", "2026-09"), 5, seed)
    assert sorted(redo["case_id"]) == sorted(sample["case_id"])


def test_isva_nominated_case_is_marked_and_must_be_in_the_export_and_force(record):
    cases = _cases({("rape", 14): 30})
    extra = _cases({("sexual_assault", 9): 1})
    extra["case_id"] = "NOMINATED-1"
    foreign = _cases({("rape", 14): 1}, force="Gwent Police")
    everything = pd.concat([cases, extra, foreign], ignore_index=True)
    sample_id, sample = draw_sample(record, everything, FORCE, "2025-10", "2026-09", size=3,
                                    seed=1, author="lead")
    nominate_case(record, sample_id, "NOMINATED-1", source=everything, nominated_by="ISVA A")
    nominate_case(record, sample_id, sample["case_id"][0], source=everything,
                  nominated_by="ISVA B")
    table = record.sample_cases(sample_id).set_index("case_id")
    assert bool(table.loc["NOMINATED-1", "isva_nominated"])
    assert not bool(table.loc["NOMINATED-1", "random"])
    assert bool(table.loc[sample["case_id"][0], "random"])
    assert bool(table.loc[sample["case_id"][0], "isva_nominated"])
    assert len(table) == 4
    with pytest.raises(RecordError, match="not in the export"):
        nominate_case(record, sample_id, "NO-SUCH", source=everything, nominated_by="ISVA")
    with pytest.raises(RecordError, match="another force"):
        nominate_case(record, sample_id, foreign["case_id"][0], source=everything,
                      nominated_by="ISVA")


def _review_all(record, sample_id, sound_first: int, *, learning: int = 0) -> None:
    cases = record.sample_cases(sample_id)
    for i, case_id in enumerate(cases["sample_case_id"]):
        action = ({"text": "Brief the team", "owner": "DI", "due_date": date(2026, 12, 1)}
                  if i < learning else None)
        record.add_review(int(case_id), decision_sound=i < sound_first,
                          themes=["early_advice"] if i % 2 else [], learning_point="lp",
                          reviewer="panel", learning_action=action)


def test_panel_nfa_decision_sound_is_the_share_of_reviewed_cases_with_wilson_interval(record):
    cases = _cases({("rape", 14): 60})
    sample_id, _ = draw_sample(record, cases, FORCE, "2025-10", "2026-09", size=20, seed=2,
                               author="lead")
    _review_all(record, sample_id, sound_first=15, learning=3)
    table = record_kpis(record, "2025-10", "2026-09").set_index(["kpi_id", "force"])
    sound = table.loc[("panel_nfa_decision_sound", FORCE)]
    assert sound["status"] == "ok" and sound["n"] == 20
    assert sound["value"] == pytest.approx(0.75)
    from metrics.stats import wilson
    assert (sound["ci_low"], sound["ci_high"]) == pytest.approx(wilson(15, 20))
    learning = table.loc[("open_learning_actions", FORCE)]
    assert learning["value"] == 3 and learning["status"] == "ok"
    assert table.loc[("panel_nfa_decision_sound", "All forces"), "n"] == 20
    assert list(record_kpis(record, "2025-10", "2026-09").columns[-1:]) == ["provisional"]


def test_a_later_review_of_the_same_case_supersedes_and_closing_actions_counts_down(record):
    cases = _cases({("rape", 14): 30})
    sample_id, _ = draw_sample(record, cases, FORCE, "2025-10", "2026-09", size=min_reviews(),
                               seed=2, author="lead")
    _review_all(record, sample_id, sound_first=min_reviews(), learning=2)
    first = int(record.sample_cases(sample_id)["sample_case_id"][0])
    record.add_review(first, decision_sound=False, reviewer="panel")   # second look: not sound
    row = record_kpis(record, "2025-10", "2026-09", [FORCE]).set_index("kpi_id")
    assert row.loc["panel_nfa_decision_sound", "n"] == min_reviews()
    assert row.loc["panel_nfa_decision_sound", "value"] == pytest.approx(
        (min_reviews() - 1) / min_reviews())
    action = record.actions(FORCE, kind="learning")[0]
    record.set_action_status(action.id, "done", version=action.version, author="di")
    row = record_kpis(record, "2025-10", "2026-09", [FORCE]).set_index("kpi_id")
    assert row.loc["open_learning_actions", "value"] == 1


def test_record_kpis_gate_and_no_data_and_other_windows(record):
    cases = _cases({("rape", 14): 30})
    gate = min_reviews()
    sample_id, _ = draw_sample(record, cases, FORCE, "2025-10", "2026-09", size=gate - 1,
                               seed=2, author="lead")
    _review_all(record, sample_id, sound_first=3)
    row = record_kpis(record, "2025-10", "2026-09", [FORCE]).set_index("kpi_id")
    assert row.loc["panel_nfa_decision_sound", "status"] == "insufficient"
    assert np.isnan(row.loc["panel_nfa_decision_sound", "value"])
    assert row.loc["panel_nfa_decision_sound", "n"] == min_reviews() - 1
    other = record_kpis(record, "2024-01", "2024-12", [FORCE]).set_index("kpi_id")
    assert set(other["status"]) == {"no_data"}
    assert record_kpis(record, "2025-10", "2026-09", ["Gwent Police"])["status"].eq(
        "no_data").all()


def test_learning_log_lists_reviews_with_themes_in_words(record):
    cases = _cases({("rape", 14): 30})
    sample_id, _ = draw_sample(record, cases, FORCE, "2025-10", "2026-09", size=2, seed=2,
                               author="lead")
    _review_all(record, sample_id, sound_first=1, learning=1)
    log = record.learning_log()
    assert len(log) == 2
    assert set(log["decision_sound"]) == {"yes", "no"}
    assert "Early advice" in set(log["themes"])
    assert log["learning_actions"].str.contains("Brief the team").any()
    with pytest.raises(RecordError):
        record.add_review(int(record.sample_cases(sample_id)["sample_case_id"][0]),
                          decision_sound=True, themes=["astrology"], reviewer="p")
