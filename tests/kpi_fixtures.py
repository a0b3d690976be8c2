"""Hand-built, synthetic Datasets for the KPI engine tests, with the loader's dtypes
(see metrics/dataset.py): dates datetime64[ns] naive; seized_at/returned_at tz-aware
Europe/London; force and other categories ``category``; ids pandas ``string``; nullable
booleans ``boolean``; outcome_code ``Int64``; numbers float64.

``case(...)`` fills every cases column with a neutral default so a test states only what
it is about.
"""

from __future__ import annotations

import itertools
from datetime import date
from typing import Any

import pandas as pd

from metrics.dataset import Dataset, ValidationReport

CASE_DATE_COLUMNS = (
    "recorded_date", "outcome_date", "early_advice_requested_date", "early_advice_received_date",
    "needs_assessment_date", "isva_referral_date", "isva_start_date", "s63g_applied_date",
)
CASE_COLUMNS = (
    "case_id", "force", "offence_group", "ho_offence_code", "recorded_date", "victim_age_band",
    "victim_sex", "victim_ethnicity", "suspect_id", "suspect_arrested", "outcome_code",
    "outcome_date", "investigator_id", "team", "early_advice_requested_date",
    "early_advice_received_date", "needs_assessment_date", "isva_referral_date",
    "isva_start_date", "nfa_explained_in_person", "s63g_applied_date",
)
_ids = itertools.count(1)


def case(force: str = "Alpha", recorded: str = "2024-01-15", **kw: Any) -> dict[str, Any]:
    """One cases row as a dict. Keyword names are the contract's column names."""
    row: dict[str, Any] = {c: None for c in CASE_COLUMNS}
    row.update(case_id=f"C{next(_ids):06d}", force=force, offence_group="rape",
               recorded_date=recorded, victim_age_band="25-34", victim_sex="female",
               victim_ethnicity="White")
    row.update(kw)
    return row


def _dates(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s).astype("datetime64[ns]")


def _uk(s: pd.Series) -> pd.Series:
    """Each value as a Europe/London timestamp: naive values are UK wall-clock time,
    tz-aware ones are converted."""
    def one(v):
        if v is None or (isinstance(v, float) and pd.isna(v)):
            return pd.NaT
        ts = pd.Timestamp(v)
        if ts.tzinfo is None:
            return ts.tz_localize("Europe/London", ambiguous="raise", nonexistent="raise")
        return ts.tz_convert("Europe/London")

    return pd.Series([one(v) for v in s], index=s.index, dtype="datetime64[ns, Europe/London]")


def cases_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=list(CASE_COLUMNS))
    for c in CASE_DATE_COLUMNS:
        df[c] = _dates(df[c])
    for c in ("case_id", "suspect_id", "investigator_id", "ho_offence_code"):
        df[c] = df[c].astype("string")
    for c in ("force", "offence_group", "victim_age_band", "victim_sex", "victim_ethnicity",
              "team"):
        df[c] = df[c].astype("category")
    df["suspect_arrested"] = df["suspect_arrested"].astype("boolean")
    df["nfa_explained_in_person"] = df["nfa_explained_in_person"].astype("boolean")
    df["outcome_code"] = df["outcome_code"].astype("Int64")
    return df


def frame(rows: list[dict[str, Any]], *, dates: tuple[str, ...] = (),
          timestamps: tuple[str, ...] = (), categories: tuple[str, ...] = ("force",),
          strings: tuple[str, ...] = (), columns: list[str] | None = None) -> pd.DataFrame:
    """A small table with the given column dtypes."""
    df = pd.DataFrame(rows, columns=columns)
    for c in dates:
        df[c] = _dates(df[c])
    for c in timestamps:
        df[c] = _uk(df[c])
    for c in categories:
        df[c] = df[c].astype("category")
    for c in strings:
        df[c] = df[c].astype("string")
    return df


def victim_updates(rows: list[tuple[str, str]]) -> pd.DataFrame:
    """(case_id, contact_date) pairs."""
    return frame([{"case_id": c, "contact_date": d, "channel": "phone"} for c, d in rows],
                 dates=("contact_date",), categories=("channel",), strings=("case_id",),
                 columns=["case_id", "contact_date", "channel"])


def devices(rows: list[dict[str, Any]]) -> pd.DataFrame:
    cols = ["device_id", "case_id", "force", "owner", "seized_at", "returned_at",
            "examination_completed_date"]
    full = [{"device_id": f"D{i}", "case_id": "C0", **r} for i, r in enumerate(rows)]
    for r in full:
        r.setdefault("returned_at", None)
        r.setdefault("examination_completed_date", None)
    return frame(full, dates=("examination_completed_date",),
                 timestamps=("seized_at", "returned_at"), categories=("force", "owner"),
                 strings=("device_id", "case_id"), columns=cols)


def survey(rows: list[dict[str, Any]], items: dict[str, str]) -> pd.DataFrame:
    """Survey responses; ``items`` maps each q_ column to "Int64" or "boolean"."""
    cols = ["response_id", "force", "response_date", *items]
    full = [{"response_id": f"R{i}", **r} for i, r in enumerate(rows)]
    df = frame(full, dates=("response_date",), strings=("response_id",), columns=cols)
    for c, dtype in items.items():
        df[c] = df[c].astype(dtype)
    return df


WORKFORCE_NUMBERS = ("establishment_fte", "in_post_fte", "trainee_fte", "headcount",
                     "specialist_trained_headcount", "sickness_days", "available_days",
                     "screening_due", "screening_done")


def workforce(rows: list[dict[str, Any]]) -> pd.DataFrame:
    cols = ["force", "team", "month", *WORKFORCE_NUMBERS]
    full = []
    for r in rows:
        base = {c: 0.0 for c in WORKFORCE_NUMBERS}
        base["team"] = "T1"
        base.update(r)
        full.append(base)
    df = frame(full, dates=("month",), categories=("force", "team"), columns=cols)
    for c in WORKFORCE_NUMBERS:  # the loader's dtypes: FTE float64, counts Int64
        df[c] = df[c].astype("float64" if c.endswith("_fte") else "Int64")
    return df


def dataset(cases: list[dict[str, Any]] | pd.DataFrame, as_at: str | None = None,
            **tables: pd.DataFrame) -> Dataset:
    """A Dataset of the given cases rows plus optional tables (victim_updates=..., ...);
    ``as_at`` ("YYYY-MM-DD") states the export's as-at date as export.json would."""
    cf = cases if isinstance(cases, pd.DataFrame) else cases_frame(cases)
    ds = Dataset(tables={"cases": cf, **tables}, report=ValidationReport())
    if as_at is not None:
        ds.__dict__["as_at"] = date.fromisoformat(as_at)  # as export.json would state it
    return ds
