"""Data-quality views: completeness of key case fields by force and by month, freshness."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from metrics.dataset import Dataset

KEY_FIELDS: dict[str, str] = {
    "victim_sex": "Victim sex",
    "victim_age_band": "Victim age band",
    "victim_ethnicity": "Victim ethnicity",
    "suspect_id": "Suspect id",
    "investigator_id": "Investigator",
    "team": "Team",
    "offence_group": "Offence group",
}
NOT_STATED = {"not_stated"}


def _complete(cases: pd.DataFrame) -> pd.DataFrame:
    """1/0 per case and key field: present (and, for ethnicity, not 'not stated')."""
    out = {}
    for col, label in KEY_FIELDS.items():
        if col not in cases.columns:
            continue
        present = cases[col].notna()
        if col == "victim_ethnicity":
            present &= ~cases[col].astype(object).isin(NOT_STATED)
        out[label] = present.astype(float)
    return pd.DataFrame(out, index=cases.index)


def completeness(dataset: Dataset, start: pd.Period, end: pd.Period, *,
                 by: str, force: str | None = None) -> pd.DataFrame:
    """Share of cases recorded in the window with each key field complete.

    ``by="force"``: one row per force (and All forces); ``by="month"``: one row per month for
    ``force`` (None or "All forces" for every force). Values are fractions; ``cases`` counts.
    """
    cases = dataset.cases
    recorded = cases["recorded_date"]
    mask = (recorded >= start.start_time) & (recorded <= end.end_time)
    if by == "month" and force and force != "All forces":
        mask &= cases["force"].astype(object) == force
    sub = cases[mask]
    flags = _complete(sub)
    if by == "force":
        key = sub["force"].astype(str)
        table = flags.groupby(key).mean()
        table.loc["All forces"] = flags.mean()
        counts = key.value_counts()
        counts.loc["All forces"] = len(sub)
        table.insert(0, "cases", counts.reindex(table.index).fillna(0).astype(int))
        table.index.name = "force"
    else:
        key = sub["recorded_date"].dt.to_period("M").astype(str)
        table = flags.groupby(key).mean()
        table.insert(0, "cases", key.value_counts().reindex(table.index).astype(int))
        table.index.name = "month"
    return table.reset_index()


def freshness(dataset: Dataset, path: Path) -> pd.DataFrame:
    """Per Parquet file: rows, last modified (UTC) and age in days."""
    rows = []
    now = datetime.now(UTC)
    for file in sorted(Path(path).glob("*.parquet")):
        name = file.stem
        modified = datetime.fromtimestamp(file.stat().st_mtime, UTC)
        table = dataset.get(name)
        rows.append({
            "file": file.name,
            "rows loaded": None if table is None else len(table),
            "last modified (UTC)": modified.strftime("%Y-%m-%d %H:%M"),
            "age (days)": round((now - modified).total_seconds() / 86400, 1),
        })
    return pd.DataFrame(rows)
