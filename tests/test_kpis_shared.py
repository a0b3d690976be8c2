"""The engine's shared intermediates (``metrics.kpis.sql.SHARED``): several declarations read
one table built once per call, and every answer is the one worked out by hand, whichever KPI,
months or parameters came before on the same loaded export."""

from __future__ import annotations

from pathlib import Path

from metrics import registry
from metrics.kpis import compute_kpis
from metrics.kpis import sql as S
from tests.kpi_fixtures import case, dataset


def counts(ds, kpi_id: str, start: str, end: str, force: str = "Alpha") -> tuple[float, float]:
    table = compute_kpis(ds, start, end, kpi_ids=[kpi_id])
    row = table[table["force"] == force].iloc[0]
    return row["numerator"], row["denominator"]


def caseload_rows() -> list[dict]:
    """At 31 March 2024: I1 holds 16, I2 15 (recorded that day), I3 1. At 31 January: I1 17
    (one more, closed on 31 March), I3 1; I2's cases are not recorded yet."""
    rows = [case(recorded="2023-01-01", investigator_id="I1") for _ in range(16)]
    rows += [case(recorded="2024-03-31", investigator_id="I2") for _ in range(15)]
    rows += [case(recorded="2023-01-01", investigator_id="I3"),
             case(recorded="2023-01-01", investigator_id="I1", outcome_code=1,
                  outcome_date="2024-03-31")]
    return rows


def test_investigator_counts_are_rebuilt_for_other_months_on_the_same_export():
    ds = dataset(caseload_rows())
    assert counts(ds, "caseload_per_investigator", "2024-01", "2024-03") == (32, 3)
    assert counts(ds, "caseload_per_investigator", "2024-01", "2024-01") == (18, 2)
    # the shared table was last built for January; March needs its own (1 of 3, not 1 of 2)
    assert counts(ds, "investigators_over_15", "2024-01", "2024-03") == (1, 3)
    monthly = compute_kpis(ds, "2024-01", "2024-03", by="month",
                           kpi_ids=["caseload_per_investigator", "investigators_over_15"])
    alpha = monthly[monthly["force"] == "Alpha"]
    got = {(k, str(m)[:7]): (num, den) for k, m, num, den in
           alpha[["kpi_id", "window_start", "numerator", "denominator"]].itertuples(
               index=False)}
    assert got[("caseload_per_investigator", "2024-01")] == (18, 2)
    assert got[("caseload_per_investigator", "2024-03")] == (32, 3)
    assert got[("investigators_over_15", "2024-01")] == (1, 2)
    assert got[("investigators_over_15", "2024-03")] == (1, 3)


def repeat_rows() -> list[dict]:
    return [
        case(recorded="2024-02-01", suspect_id="S1", suspect_arrested=True),
        case(force="Beta", recorded="2021-02-01", suspect_id="S1"),  # 1,095 days before
        case(recorded="2024-02-01", suspect_id="S2", suspect_arrested=True),
        case(recorded="2021-01-31", suspect_id="S2"),  # 1,096 days before
        case(recorded="2024-03-31", suspect_id="S3", suspect_arrested=False),
        case(recorded="2024-03-31", suspect_id="S3", suspect_arrested=True),  # same day
        *[case(recorded="2024-02-15", suspect_id=f"U{i}") for i in range(6)],
    ]


def test_both_repeat_suspect_kpis_read_one_flag_with_their_own_look_back(tmp_path: Path,
                                                                         monkeypatch):
    ds = dataset(repeat_rows())
    table = compute_kpis(ds, "2024-01", "2024-03",
                         kpi_ids=["repeat_suspect_share", "repeat_suspect_arrest_rate"])
    alpha = table[table["force"] == "Alpha"].set_index("kpi_id")
    # 10 cases with a suspect in the window; repeats S1, S3, S3; of those 2 arrested of 3
    assert tuple(alpha.loc["repeat_suspect_share", ["numerator", "denominator"]]) == (3, 10)
    assert tuple(alpha.loc["repeat_suspect_arrest_rate", ["numerator", "denominator"]]) == (
        2, 3)
    # a force's own look-back of 1,096 days also flags S2 (the shared gaps carry no threshold)
    (tmp_path / "lb.toml").write_text('id = "repeat_suspect_share"\n[params]\n'
                                      'look_back_days = 1096\n', encoding="utf-8")
    monkeypatch.setenv("FLIGHTDECK_KPIS", str(tmp_path / "lb.toml"))
    assert counts(ds, "repeat_suspect_share", "2024-01", "2024-03") == (4, 10)
    assert counts(ds, "repeat_suspect_arrest_rate", "2024-01", "2024-03") == (2, 3)



def test_repeat_suspect_gaps_count_every_case_but_keep_the_rows_of_the_scope():
    ds = dataset([
        # A1's suspect had a child case 100 days before: a repeat in the adult-rape scope too
        case(recorded="2024-02-10", suspect_id="S1", suspect_arrested=True),
        case(recorded="2023-11-02", suspect_id="S1", victim_age_band="16-17"),
        # a child case of S2 after an adult case: a repeat only in the child scope's rows
        case(recorded="2024-02-20", suspect_id="S2", victim_age_band="0-15",
             suspect_arrested=False),
        case(recorded="2024-01-05", suspect_id="S2", offence_group="other_sexual"),
        case(recorded="2024-03-01", suspect_id="S3", suspect_arrested=True),
    ])

    def alpha(scope: str, kpi_id: str) -> tuple[float, float]:
        table = compute_kpis(ds, "2024-01", "2024-03", kpi_ids=[kpi_id], scope=scope)
        row = table[table["force"] == "Alpha"].iloc[0]
        return row["numerator"], row["denominator"]

    # all: 4 cases in the window with a suspect (S1, S2 twice, S3); repeats S1 and S2's child
    assert alpha("all", "repeat_suspect_share") == (2, 4)
    # adult rape: S1 (its earlier case is a child's) and S3; only S1 is a repeat
    assert alpha("adult_rape", "repeat_suspect_share") == (1, 2)
    assert alpha("adult_rape", "repeat_suspect_arrest_rate") == (1, 1)
    # child: S2's child case, a repeat through the other_sexual case out of the scope
    assert alpha("child", "repeat_suspect_share") == (1, 1)
    assert alpha("child", "repeat_suspect_arrest_rate") == (0, 1)

FORCE_KPI = """
id = "investigators_over_16"
name = "Investigators over 16 cases"
pillar = 4
kind = "quantitative"
unit = "proportion"
better = "lower"
min_n = 1
definition = "Of the investigators holding open cases at the window's end, the share over 16."
numerator = "Investigators with more than 16 open cases"
denominator = "Investigators with open cases"
stock = true
sql = '''
SELECT force, month, count(*) FILTER (WHERE cases_held > 16) AS num, count(*) AS den
FROM investigator_month_end_cases GROUP BY ALL
'''
"""


def test_a_force_declaration_can_read_a_shared_intermediate(tmp_path: Path, monkeypatch):
    (tmp_path / "over16.toml").write_text(FORCE_KPI, encoding="utf-8")
    monkeypatch.setenv("FLIGHTDECK_KPIS", str(tmp_path / "over16.toml"))
    assert registry.catalogue_problems() == []
    kpi = registry.get_kpi("investigators_over_16")
    assert S.shared_names(kpi.sql) == ["investigator_month_end_cases"]
    assert S.sql_problem(kpi) is None  # binds on an empty export (the shared views)
    ds = dataset(caseload_rows())
    assert counts(ds, "investigators_over_16", "2024-01", "2024-01") == (1, 2)  # I1: 17
    assert counts(ds, "investigators_over_16", "2024-01", "2024-03") == (0, 3)  # I1: 16


def test_shared_names_are_whole_words_only():
    assert S.shared_names("SELECT * FROM suspect_case_gaps g") == ["suspect_case_gaps"]
    assert S.shared_names("SELECT * FROM my_suspect_case_gaps_2") == []
    assert S.shared_names("FROM investigator_month_end_cases JOIN Suspect_Case_Gaps") == [
        "suspect_case_gaps", "investigator_month_end_cases"]


# -- every month once: a KPI's rows for the whole export, sliced by each call ------------------

def outcome_rows() -> list[dict]:
    """Alpha: charges on 1 Jan, 31 Mar and 1 Apr 2024 and a withdrawal on 15 Feb."""
    return [case(recorded="2023-06-01", outcome_code=1, outcome_date="2024-01-01"),
            case(recorded="2023-06-01", outcome_code=1, outcome_date="2024-03-31"),
            case(recorded="2023-06-01", outcome_code=1, outcome_date="2024-04-01"),
            case(recorded="2023-06-01", outcome_code=14, outcome_date="2024-02-15")]


def test_windows_and_months_read_one_history_with_the_same_answers():
    ds = dataset(outcome_rows())
    monthly = compute_kpis(ds, "2024-01", "2024-04", by="month", kpi_ids=["charge_rate"])
    alpha = monthly[monthly["force"] == "Alpha"]
    assert alpha["numerator"].tolist() == [1, 0, 1, 1]
    assert alpha["denominator"].tolist() == [1, 1, 1, 1]
    assert counts(ds, "charge_rate", "2024-01", "2024-03") == (2, 3)
    assert counts(ds, "charge_rate", "2024-02", "2024-04") == (2, 3)
    assert counts(ds, "charge_rate", "2023-01", "2023-12") == (0, 0)  # months with no rows
    # a median's n after a by-month call of the same KPI: 2 charges in Jan-Mar, 1 in Apr
    compute_kpis(ds, "2024-01", "2024-04", by="month", kpi_ids=["days_to_charge"])
    assert counts(ds, "days_to_charge", "2024-01", "2024-03")[1] == 2
    assert counts(ds, "days_to_charge", "2024-03", "2024-04")[1] == 2
    assert counts(ds, "days_to_charge", "2024-04", "2024-04")[1] == 1


MIDDAY_KPI = """
id = "midday_outcomes"
name = "Outcomes (month as a midday timestamp)"
pillar = 1
kind = "quantitative"
unit = "count"
better = "neutral"
min_n = 0
definition = "Outcomes dated in the window."
numerator = "Outcomes"
denominator = "None"
sql = '''
SELECT force, outcome_date::TIMESTAMP + INTERVAL 12 HOUR AS month, count(*) AS num
FROM cases WHERE outcome_code IS NOT NULL GROUP BY ALL
'''
"""


def test_a_month_value_that_is_not_a_whole_date_keeps_the_range_filter(tmp_path: Path,
                                                                      monkeypatch):
    # 31 March 12:00 is after the window's last day (31 March, midnight): not counted, as
    # the call's own range filter says; a month number alone would count it
    (tmp_path / "midday.toml").write_text(MIDDAY_KPI, encoding="utf-8")
    monkeypatch.setenv("FLIGHTDECK_KPIS", str(tmp_path / "midday.toml"))
    ds = dataset(outcome_rows())
    assert counts(ds, "midday_outcomes", "2024-01", "2024-04")[0] == 4  # 30 Apr: all in
    assert counts(ds, "midday_outcomes", "2024-01", "2024-03")[0] == 2  # 31 Mar 12:00 out


def test_kpi_items_of_some_forces_keep_the_order_of_every_force():
    from metrics.kpis import kpi_items

    rows = outcome_rows() + [
        case(force="Beta", recorded="2023-12-01", outcome_code=1, outcome_date="2024-02-01"),
        case(force="Beta", recorded="2024-01-20", outcome_code=1, outcome_date="2024-02-01")]
    ds = dataset(rows)
    every = kpi_items(ds, "days_to_charge", "2024-01", "2024-03")
    # each force's items by value (forces in name order), then All forces by value
    assert every["force"].tolist() == ["Alpha", "Alpha", "Beta", "Beta", *["All forces"] * 4]
    assert every["item"].tolist() == [214, 304, 12, 62, 12, 62, 214, 304]
    beta = kpi_items(ds, "days_to_charge", "2024-01", "2024-03", forces=["Beta", "All forces"])
    assert beta.equals(every[every["force"] != "Alpha"].reset_index(drop=True))
    assert kpi_items(ds, "days_to_charge", "2024-01", "2024-03", forces="Alpha")[
        "item"].tolist() == [214, 304]
