"""The meeting record's two KPIs joined into the engine's table and the verdicts (issue 16).

A record on SQLite holds a reproducible sample of Durham's NFA cases from data/sample, 12 of
them reviewed (9 sound, 2 learning actions raised). ``compute_kpis(..., record=...)`` and
``kpi_verdicts(..., record=...)`` must show those figures; without a record the two KPIs are
``no_data`` and nothing breaks.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from metrics import registry
from metrics.kpis import compute_kpis
from metrics.load import load_dataset
from metrics.record import draw_sample, open_record
from metrics.stats import wilson
from metrics.verdicts import kpi_verdicts

ROOT = Path(__file__).resolve().parents[1]
FORCE = "Durham Constabulary"
START, END = "2025-10", "2026-09"
REVIEWED, SOUND, LEARNING = 12, 9, 2
IDS = ["panel_nfa_decision_sound", "open_learning_actions"]


@pytest.fixture(scope="module")
def sample():
    return load_dataset(ROOT / "data" / "sample")


@pytest.fixture(scope="module")
def reviewed(sample, tmp_path_factory):
    """(record, the reviewed cases with their outcome month and finding)."""
    folder = tmp_path_factory.mktemp("record")
    record = open_record(f"sqlite:///{folder / 'r.db'}", audit_path=folder / "audit.jsonl")
    sample_id, _ = draw_sample(record, sample, FORCE, START, END, size=20, seed=7,
                               author="lead")
    cases = record.sample_cases(sample_id).head(REVIEWED)
    sound = []
    for i, case_id in enumerate(cases["sample_case_id"]):
        action = ({"text": "Brief the team", "owner": "DI", "due_date": date(2027, 1, 1)}
                  if i < LEARNING else None)
        record.add_review(int(case_id), decision_sound=i < SOUND, reviewer="panel",
                          learning_point="lp", learning_action=action)
        sound.append(i < SOUND)
    cases = cases.assign(sound=sound,
                         month=pd.to_datetime(cases["outcome_date"]).dt.to_period("M"))
    yield record, cases
    record.close()


def test_the_catalogue_declares_both_record_kpis():
    sound = registry.get_kpi("panel_nfa_decision_sound")
    assert (sound.pillar, sound.kind, sound.unit, sound.better, sound.min_n, sound.interval,
            sound.source) == (4, "qualitative", "proportion", "higher", 10, "wilson", "record")
    count = registry.get_kpi("open_learning_actions")
    assert (count.pillar, count.kind, count.unit, count.better, count.source) == (
        4, "qualitative", "count", "lower", "record")
    assert not sound.sql and not count.sql
    assert registry.catalogue_problems() == []


def test_a_record_kpi_declared_with_sql_or_another_kpi_without_sql_is_refused(tmp_path):
    base = (ROOT / "metrics" / "catalogue" / "36_open_learning_actions.toml").read_text()
    new = base.replace('"open_learning_actions"', '"my_record_kpi"')
    (tmp_path / "a.toml").write_text(new.replace("[targets]", "sql = 'SELECT 1'\n[targets]"))
    (tmp_path / "b.toml").write_text(new.replace('"my_record_kpi"', '"my_case_kpi"')
                                     .replace('source = "record"', 'source = "cases"'))
    problems = registry.load_catalogue(tmp_path).problems
    assert any(p.startswith("a.toml") and "takes no sql" in p for p in problems), problems
    assert any(p.startswith("b.toml") and "missing required key(s) sql" in p
               for p in problems), problems


def test_without_a_record_the_record_kpis_are_no_data(sample):
    table = compute_kpis(sample, START, END, forces=[FORCE, "All forces"], kpi_ids=IDS)
    assert len(table) == 4
    assert set(table["status"]) == {"no_data"} and table["value"].isna().all()
    assert not table["provisional"].any()


def test_with_a_record_the_window_shows_the_panel_findings(sample, reviewed):
    record, _ = reviewed
    table = compute_kpis(sample, START, END, kpi_ids=IDS + ["charge_rate"], record=record)
    without = compute_kpis(sample, START, END, kpi_ids=IDS + ["charge_rate"])
    rows = table.set_index(["kpi_id", "force"])
    sound = rows.loc[("panel_nfa_decision_sound", FORCE)]
    assert sound["status"] == "ok" and sound["n"] == REVIEWED
    assert sound["value"] == pytest.approx(SOUND / REVIEWED)
    assert (sound["ci_low"], sound["ci_high"]) == pytest.approx(wilson(SOUND, REVIEWED))
    assert rows.loc[("open_learning_actions", FORCE), "value"] == LEARNING
    assert rows.loc[("panel_nfa_decision_sound", "All forces"), "n"] == REVIEWED
    # a force the panel has not reviewed stays no_data; the export's KPIs are untouched
    assert rows.loc[("panel_nfa_decision_sound", "Kent Police"), "status"] == "no_data"
    export = table["kpi_id"] == "charge_rate"
    pd.testing.assert_frame_equal(table[export].reset_index(drop=True),
                                  without[without["kpi_id"] == "charge_rate"]
                                  .reset_index(drop=True))
    assert list(table.columns) == list(without.columns)


def test_by_month_each_reviewed_case_counts_in_its_outcome_month(sample, reviewed):
    record, cases = reviewed
    table = compute_kpis(sample, START, END, by="month", forces=[FORCE],
                         kpi_ids=["panel_nfa_decision_sound"], record=record)
    assert len(table) == 12 and "spc" in table.columns
    got = table.assign(month=pd.to_datetime(table["window_start"]).dt.to_period("M"))
    want = cases.groupby("month")["sound"].agg(["size", "sum"])
    for row in got.itertuples():
        n = int(want["size"].get(row.month, 0))
        assert row.n == n
        assert row.numerator == (float(want["sum"].get(row.month, 0)) if n else 0.0)
        assert row.status == ("no_data" if n == 0 else "insufficient" if n < 10 else "ok")
    assert int(table["n"].sum()) == REVIEWED
    # the same, cell for cell, as record_kpis on the record itself month by month
    both = compute_kpis(sample, START, END, by="month", forces=[FORCE, "All forces"],
                        kpi_ids=IDS, record=record)
    from metrics.record import record_kpis

    for month in pd.period_range(START, END, freq="M"):
        direct = record_kpis(record, str(month), str(month), [FORCE, "All forces"])
        got = both[both["window_start"] == month.start_time].set_index(["kpi_id", "force"])
        for row in direct.itertuples():
            mine = got.loc[(row.kpi_id, row.force)]
            assert mine["status"] == row.status and mine["n"] == row.n, (month, row.kpi_id)
            for col in ("value", "numerator", "denominator", "ci_low", "ci_high"):
                a, b = mine[col], getattr(row, col)
                assert (pd.isna(a) and pd.isna(b)) or a == pytest.approx(b), (month, col)


def test_kpi_verdicts_pass_the_record_through_and_attach_the_monthly_table(sample, reviewed):
    record, _ = reviewed
    with_record = kpi_verdicts(sample, START, END, force=FORCE, record=record)
    row = with_record.set_index("kpi_id").loc["panel_nfa_decision_sound"]
    assert row["status"] == "ok" and row["value"] == pytest.approx(SOUND / REVIEWED)
    assert row["n"] == REVIEWED
    # the comparison window holds no reviews: nothing to compare, so never a change
    assert row["change_verdict"] == "not_comparable"
    plain = kpi_verdicts(sample, START, END, force=FORCE).set_index("kpi_id")
    assert plain.loc["panel_nfa_decision_sound", "verdict"] == "no_data"
    assert plain.loc["open_learning_actions", "verdict"] == "no_data"
    monthly = with_record.attrs["monthly"]
    assert isinstance(monthly, pd.DataFrame)
    months = pd.to_datetime(monthly["window_start"]).dt.to_period("M")
    assert months.min() == pd.Period("2023-10", "M") and months.max() == pd.Period(END, "M")
    assert set(monthly["force"]) == {FORCE}
    assert set(monthly["kpi_id"]) == set(with_record["kpi_id"])
    direct = compute_kpis(sample, "2023-10", END, by="month", forces=[FORCE],
                          kpi_ids=["charge_rate"])
    mine = monthly[monthly["kpi_id"] == "charge_rate"].reset_index(drop=True)
    np.testing.assert_allclose(mine["value"].to_numpy(float), direct["value"].to_numpy(float))


def test_a_record_that_cannot_be_read_leaves_no_data_and_no_crash(sample):
    class Down:
        def export_tables(self):
            raise OSError("database is down")

    table = compute_kpis(sample, START, END, forces=[FORCE], kpi_ids=IDS, record=Down())
    assert set(table["status"]) == {"no_data"}
    verdicts = kpi_verdicts(sample, START, END, force=FORCE, kpi_ids=IDS, record=Down())
    assert set(verdicts["verdict"]) == {"no_data"}
