"""The synthetic generator and the committed sample: deterministic, valid, and telling the
story the issue asks for (rates, adoption, improvement, missing values, clock changes)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from metrics.__main__ import main
from metrics.dataset import TABLE_NAMES, Dataset
from metrics.generate import ALL_FORCES, INSPECTED, generate
from metrics.load import load_dataset

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


@pytest.fixture(scope="module")
def sample() -> Dataset:
    return load_dataset(SAMPLE)


# --- the generator ------------------------------------------------------------------------------


def test_same_seed_same_bytes_other_seed_other_rows(tmp_path: Path) -> None:
    generate(tmp_path / "a", cases=3000, seed=5)
    generate(tmp_path / "b", cases=3000, seed=5)
    generate(tmp_path / "c", cases=3000, seed=6)
    for name in TABLE_NAMES:
        a = (tmp_path / "a" / f"{name}.parquet").read_bytes()
        assert a == (tmp_path / "b" / f"{name}.parquet").read_bytes(), name
    a = pq.read_table(tmp_path / "a" / "cases.parquet")
    c = pq.read_table(tmp_path / "c" / "cases.parquet")
    assert not a.equals(c)


def test_20000_cases_validate_without_any_problem(tmp_path: Path) -> None:
    rows = generate(tmp_path / "g", cases=20_000, seed=11)
    ds = load_dataset(tmp_path / "g")
    assert ds.report.problems == ()
    assert ds.report.usable
    assert len(ds.cases) == 20_000 == rows["cases"]
    assert {k: len(v) for k, v in ds.tables.items()} == rows


def test_all_forces(tmp_path: Path) -> None:
    generate(tmp_path / "n", cases=20_000, seed=2, forces="all")
    ds = load_dataset(tmp_path / "n")
    assert ds.report.problems == ()
    forces = ds.get("forces")
    assert len(forces) == 43 == len({f.name for f in ALL_FORCES})
    assert forces["soteria_adoption_date"].isna().sum() == 3
    # the Met is the largest force, City of London the smallest
    counts = ds.cases["force"].value_counts()
    assert counts.index[0] == "Metropolitan Police Service"
    assert counts.idxmin() == "City of London Police"
    assert len(ds.forces) == 43


def test_cli_generate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", "--out", str(tmp_path / "x"), "--cases", "500", "--seed",
                 "3"]) == 0
    out = capsys.readouterr().out
    assert "cases.parquet" in out and "500 rows" in out
    assert sorted(p.name for p in (tmp_path / "x").iterdir()) == sorted(
        f"{n}.parquet" for n in TABLE_NAMES)
    assert main(["generate", "--out", str(tmp_path / "y"), "--cases", "0"]) == 2
    assert main(["generate", "--out", str(tmp_path / "y"), "--seed", "-1"]) == 2
    assert not (tmp_path / "y").exists()


# --- the committed sample -----------------------------------------------------------------------


def test_sample_is_the_generator_output(tmp_path: Path) -> None:
    generate(tmp_path / "s", cases=100_000, seed=1)
    for name in TABLE_NAMES:
        fresh = pq.read_table(tmp_path / "s" / f"{name}.parquet")
        assert fresh.equals(pq.read_table(SAMPLE / f"{name}.parquet")), name


def test_sample_validates_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(SAMPLE)]) == 0
    assert "No problems found." in capsys.readouterr().out


def test_sample_size_and_files() -> None:
    files = sorted(SAMPLE.glob("*.parquet"))
    assert [f.stem for f in files] == sorted(TABLE_NAMES)
    assert sum(f.stat().st_size for f in files) < 20 * 2**20


def test_sample_forces_and_adoption(sample: Dataset) -> None:
    assert sample.forces == sorted(INSPECTED)
    f = sample.get("forces").set_index("force")
    assert f.loc["Durham Constabulary", "cohort"] == "pathfinder"
    assert f.loc["Durham Constabulary", "soteria_adoption_date"] == pd.Timestamp("2021-07-01")
    assert f.loc["Kent Police", "cohort"] == "expansion"
    assert f.loc["Kent Police", "soteria_adoption_date"].year == 2022
    assert sample.as_at == pd.Timestamp("2026-09-30").date()
    assert sample.cases["recorded_date"].min() < pd.Timestamp("2020-05-01")


def test_sample_pseudonymous_ids(sample: Dataset) -> None:
    c = sample.cases
    assert c["case_id"].str.fullmatch(r"C\d{7}").all()
    assert c["suspect_id"].dropna().str.fullmatch(r"S\d{7}").all()
    assert c["investigator_id"].dropna().str.fullmatch(r"I\d{5}").all()
    assert all(re.fullmatch(r"[A-Z]{3}-T\d{2}", t) for t in c["team"].cat.categories)


def test_sample_rates(sample: Dataset) -> None:
    c = sample.cases
    closed = c[c["outcome_code"].notna()]
    code = closed["outcome_code"].astype(int)
    year = closed["outcome_date"].dt.year
    charge_2020 = (code[year == 2020] == 1).mean()
    charge_2026 = (code[year == 2026] == 1).mean()
    assert 0.03 < charge_2020 < 0.06
    assert 0.08 < charge_2026 < 0.13
    withdrawn = code.isin([14, 16]).mean()
    assert 0.42 < withdrawn < 0.55
    charged = closed[code == 1]
    assert (charged["outcome_date"] - charged["recorded_date"]).dt.days.median() > 365
    assert 0.17 < c["suspect_id"].isna().mean() < 0.23
    # recent cases are more often open
    recent = c["recorded_date"] >= pd.Timestamp("2026-01-01")
    assert c.loc[recent, "outcome_code"].isna().mean() > 0.5 > c.loc[
        ~recent, "outcome_code"].isna().mean()
    for col in ("victim_age_band", "victim_sex", "victim_ethnicity"):
        assert 0.005 < c[col].isna().mean() < 0.12


def test_sample_repeat_suspects_about_one_in_four(sample: Dataset) -> None:
    s = sample.cases.loc[sample.cases["suspect_id"].notna(),
                         ["case_id", "suspect_id", "recorded_date"]]
    pairs = s.merge(s, on="suspect_id")
    pairs = pairs[(pairs["case_id_x"] != pairs["case_id_y"])
                  & ((pairs["recorded_date_x"] - pairs["recorded_date_y"]).dt.days.abs()
                     <= 1095)]
    share = pairs["case_id_x"].nunique() / len(s)
    assert 0.22 < share < 0.29


def test_sample_charge_rate_special_cause_after_adoption(sample: Dataset) -> None:
    """XmR rule: 7+ consecutive months above the pre-adoption mean, in the Met."""
    c = sample.cases
    met = c[(c["force"] == "Metropolitan Police Service") & c["outcome_code"].notna()]
    month = met["outcome_date"].dt.to_period("M")
    rate = (met["outcome_code"] == 1).groupby(month).mean()
    rate = rate[(rate.index >= pd.Period("2020-04", "M"))]
    adoption = pd.Period("2022-04", "M")
    baseline = rate[rate.index < adoption].mean()
    above = (rate[rate.index >= adoption] > baseline).to_numpy()
    longest = run = 0
    for flag in above:
        run = run + 1 if flag else 0
        longest = max(longest, run)
    assert longest >= 7
    assert 0.03 < baseline < 0.07


def test_sample_small_force_under_30_survey_responses(sample: Dataset) -> None:
    s = sample.get("survey_responses")
    per_q = s.groupby([s["force"].astype(str), s["response_date"].dt.to_period("Q")]).size()
    typical = per_q.groupby(level=0).median()
    assert typical.min() < 30 <= typical.max()
    assert s["q_kept_informed"].isna().any() and s["q_kept_informed"].dropna().between(1, 5).all()


def test_sample_victim_updates_more_after_adoption(sample: Dataset) -> None:
    c = sample.cases
    u = sample.get("victim_updates")
    per_case = u.groupby("case_id").size().reindex(c["case_id"], fill_value=0).to_numpy()
    closed = c["outcome_code"].notna().to_numpy()
    days = (c["outcome_date"] - c["recorded_date"]).dt.days.to_numpy()
    rate = per_case[closed] / (days[closed] + 1) * 365  # updates per year of investigation
    south_wales = (c["force"] == "South Wales Police").to_numpy()[closed]
    rec = c["recorded_date"].to_numpy()[closed]
    before = rate[south_wales & (rec < np.datetime64("2021-07-01"))]
    after = rate[south_wales & (rec >= np.datetime64("2024-01-01"))]
    assert np.median(after) > np.median(before)


def test_sample_devices_24h_and_clock_changes(sample: Dataset) -> None:
    d = sample.get("devices")
    hours = (d["returned_at"] - d["seized_at"]).dt.total_seconds() / 3600
    assert (hours == 24).sum() > 10
    seized_local = d["seized_at"].dt.tz_localize(None)
    returned_local = d["returned_at"].dt.tz_localize(None)
    wall = (returned_local - seized_local).dt.total_seconds() / 3600
    across = (wall == 24) & (hours != 24)
    assert sorted(hours[across].tolist()) == [23.0, 23.0, 25.0, 25.0]


def test_sample_early_advice_within_two_days_grows_with_adoption_most_in_wales(
        sample: Dataset) -> None:
    """early_advice_2d was 0.0% in every force and month of the sample (the generator never
    gave advice within 48 hours): a structural zero on the first screen. Now the 48-hour
    track grows after adoption, most in the four Welsh forces, and is absent before it."""
    from metrics.generate import WELSH_FORCES

    c = sample.cases
    got = c["early_advice_received_date"].notna() & c["early_advice_requested_date"].notna()
    c = c.loc[got]
    fast = (c["early_advice_received_date"] - c["early_advice_requested_date"]).dt.days <= 2
    recent = c["early_advice_received_date"] >= pd.Timestamp("2026-01-01")
    early = c["early_advice_received_date"] < pd.Timestamp("2020-01-01")
    welsh = c["force"].astype(str).isin(WELSH_FORCES)
    assert fast[early].mean() < 0.005
    assert 0.25 < fast[recent & welsh].mean() < 0.6
    assert 0.03 < fast[recent & ~welsh].mean() < 0.2
    assert (c["early_advice_received_date"] >= c["early_advice_requested_date"]).all()
