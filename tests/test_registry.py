"""The KPI registry matches issue 3's catalogue: ids, pillars, units, directions, kinds."""

from __future__ import annotations

import pytest

from metrics.registry import (
    PILLARS,
    STATIC_KPIS,
    SURVEY_MIN_N,
    all_kpis,
    get_kpi,
    survey_columns,
    survey_kpi,
)

# id: (pillar, unit, better) exactly as issues 3 and 11 state them, in catalogue order
CATALOGUE = {
    "charge_rate": (1, "proportion", "higher"),
    "charge_rate_cohort": (1, "proportion", "higher"),
    "days_to_charge": (1, "days", "lower"),
    "investigation_days": (1, "days", "lower"),
    "early_advice_days": (1, "days", "lower"),
    "early_advice_2d": (1, "proportion", "higher"),
    "suspect_arrest_rate": (1, "proportion", "higher"),
    "repeat_suspect_share": (2, "proportion", "neutral"),
    "repeat_suspect_arrest_rate": (2, "proportion", "higher"),
    "orders_granted": (2, "count", "higher"),
    "order_grant_rate": (2, "proportion", "higher"),
    "order_breach_action_rate": (2, "proportion", "higher"),
    "bail_breach_arrest_rate": (2, "proportion", "higher"),
    "s63g_applications": (2, "count", "higher"),
    "s63g_rate": (2, "proportion", "higher"),
    "victim_withdrawal_rate": (3, "proportion", "lower"),
    "needs_assessment_7d": (3, "proportion", "higher"),
    "victim_updated_28d": (3, "proportion", "higher"),
    "nfa_explained_in_person": (3, "proportion", "higher"),
    "isva_wait_days": (3, "days", "lower"),
    "isva_referral_28d": (3, "proportion", "higher"),
    "isva_waiting_over_28d": (3, "proportion", "lower"),
    "sickness_rate": (4, "proportion", "lower"),
    "vacancy_rate": (4, "proportion", "lower"),
    "trainee_share": (4, "proportion", "lower"),
    "specialist_trained_share": (4, "proportion", "higher"),
    "screening_rate": (4, "proportion", "higher"),
    "caseload_per_investigator": (4, "cases", "lower"),
    "investigators_over_15": (4, "proportion", "lower"),
    "victim_demographics_complete": (5, "proportion", "higher"),
    "victim_device_24h": (6, "proportion", "higher"),
    "suspect_device_days": (6, "days", "lower"),
    "suspect_device_30d": (6, "proportion", "higher"),
    "device_backlog": (6, "count", "lower"),
    # issue 16: from the meeting record (source = "record", no SQL)
    "panel_nfa_decision_sound": (4, "proportion", "higher"),
    "open_learning_actions": (4, "count", "lower"),
}
RECORD = {"panel_nfa_decision_sound", "open_learning_actions"}
QUALITATIVE = {"needs_assessment_7d", "victim_updated_28d", "nfa_explained_in_person",
               "sickness_rate", "screening_rate", "isva_referral_28d", "isva_waiting_over_28d",
               *RECORD}
STOCK = {"victim_updated_28d", "vacancy_rate", "trainee_share", "specialist_trained_share",
         "caseload_per_investigator", "investigators_over_15", "device_backlog",
         "isva_waiting_over_28d"}
# issue 11: how long after a window ends its value can still move
MATURITY = {"charge_rate_cohort": 365, "needs_assessment_7d": 7, "order_grant_rate": 90,
            "s63g_rate": 90, "isva_referral_28d": 28, "suspect_device_30d": 30}
CENSUS = {"sickness_rate", "vacancy_rate", "trainee_share", "specialist_trained_share",
          "screening_rate"}


def test_static_catalogue_ids_in_order():
    assert list(STATIC_KPIS) == list(CATALOGUE)


@pytest.mark.parametrize("kpi_id", list(CATALOGUE))
def test_each_declaration(kpi_id):
    kpi = STATIC_KPIS[kpi_id]
    assert (kpi.pillar, kpi.unit, kpi.better) == CATALOGUE[kpi_id]
    assert kpi.kind == ("qualitative" if kpi_id in QUALITATIVE else "quantitative")
    assert kpi.stock == (kpi_id in STOCK)
    assert kpi.pillar in PILLARS and kpi.name and kpi.definition and kpi.numerator
    assert kpi.min_n >= 0
    assert kpi.improvement == {"higher": "increase", "lower": "decrease",
                               "neutral": "neutral"}[kpi.better]
    assert kpi.maturity_days == MATURITY.get(kpi_id, 0)
    want = ("none" if kpi_id in CENSUS or kpi.unit in ("count", "cases")
            else "median_order" if kpi.unit == "days" else "wilson")
    assert kpi.interval == want
    assert kpi.scoped == (kpi.source not in ("workforce", "record"))
    assert bool(kpi.sql.strip()) == (kpi_id not in RECORD) and kpi.origin.endswith(".toml")
    assert (kpi.source == "record") == (kpi_id in RECORD)


def test_balancing_measures():
    assert STATIC_KPIS["charge_rate"].balancing == ("victim_withdrawal_rate",
                                                    "survey_felt_believed")
    assert STATIC_KPIS["days_to_charge"].balancing == ("victim_updated_28d",)
    assert STATIC_KPIS["caseload_per_investigator"].balancing == ("sickness_rate",)


def test_parameters_and_final_on():
    cohort = STATIC_KPIS["charge_rate_cohort"]
    assert cohort.params == {"follow_up_days": 365}
    assert "365 days" in cohort.definition and "{" not in cohort.definition
    assert STATIC_KPIS["repeat_suspect_share"].params == {"look_back_days": 1095}
    assert "1,095 days" in STATIC_KPIS["repeat_suspect_share"].definition


def test_min_n_choices():
    assert STATIC_KPIS["charge_rate"].min_n == 10
    assert STATIC_KPIS["days_to_charge"].min_n == 5
    assert STATIC_KPIS["caseload_per_investigator"].min_n == 3
    assert STATIC_KPIS["orders_granted"].min_n == 0  # a count of zero is a value


def test_survey_kpis():
    kpi = survey_kpi("q_kept_informed")
    assert kpi.id == "survey_kept_informed"
    assert (kpi.pillar, kpi.unit, kpi.better, kpi.kind) == (3, "proportion", "higher",
                                                             "qualitative")
    assert kpi.min_n == SURVEY_MIN_N == 30
    assert kpi.source == "survey_responses"
    with pytest.raises(ValueError):
        survey_kpi("kept_informed")
    assert survey_columns(["response_id", "q_a", "force", "q_b"]) == ["q_a", "q_b"]
    ids = [k.id for k in all_kpis(["q_a", "q_b"])]
    assert ids == [*CATALOGUE, "survey_a", "survey_b"]
    assert get_kpi("survey_b", ["q_a", "q_b"]).id == "survey_b"
    with pytest.raises(KeyError):
        get_kpi("survey_c", ["q_a"])
