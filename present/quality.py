"""Data-quality views: completeness of key case fields by force and by month, freshness from
the as-at date and the files, and a neutral sequential colour scale for shares (no alarm red
at 100%)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from metrics.dataset import EXPORT_JSON, Dataset, export_as_at

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
        rows.append({
            "file": file.name,
            "rows loaded": dataset.row_count(name) if name in dataset.tables else None,
            "last modified (UTC)": modified.strftime("%Y-%m-%d %H:%M"),
            "age (days)": round((now - modified).total_seconds() / 86400, 1),
        })
    return pd.DataFrame(rows)


def as_at_freshness(dataset: Dataset, today: date | None = None) -> dict[str, object]:
    """How fresh the data is by its as-at date: ``as_at`` (date or None), ``source`` (words:
    where the date comes from, ``export.json`` or the latest recorded or outcome date) and
    ``age_days`` (whole days from the as-at date to ``today``, default today in UTC; None when
    there is no as-at date)."""
    today = today or datetime.now(UTC).date()
    as_at = dataset.as_at
    stated = export_as_at(dataset.source) if getattr(dataset, "source", None) else None
    source = (f"stated in {EXPORT_JSON}" if stated is not None and stated == as_at else
              "the latest recorded or outcome date in cases (no export.json)")
    age = None if as_at is None else (today - as_at).days
    return {"as_at": as_at, "source": source, "age_days": age}


#: A neutral sequential scale for shares (light grey-blue to dark blue): 0 -> lightest, 1 ->
#: darkest. No red and no traffic lights: a complete field is not an alarm.
SEQUENTIAL = ((0.0, (247, 251, 255)), (0.5, (158, 202, 225)), (1.0, (33, 102, 172)))


def sequential_colour(share: object) -> str:
    """CSS for one share (0-1) on :data:`SEQUENTIAL`: a background colour and a text colour
    that keeps at least 4.5:1 contrast; "" for a missing value."""
    try:
        v = float(share)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return ""
    if v != v:  # NaN
        return ""
    v = min(1.0, max(0.0, v))
    for (x0, c0), (x1, c1) in zip(SEQUENTIAL, SEQUENTIAL[1:], strict=False):
        if v <= x1:
            t = (v - x0) / (x1 - x0)
            rgb = tuple(round(a + (b - a) * t) for a, b in zip(c0, c1, strict=True))
            break
    text = "#ffffff" if _luminance(rgb) < 0.18 else "#1a1a1a"
    return f"background-color: rgb{rgb}; color: {text}"


def _luminance(rgb: tuple[int, ...]) -> float:
    def channel(c: int) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def blank_missing(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every missing cell (None, NaN, NaT) as an empty string, for display."""
    out = frame.astype(object)
    return out.where(out.notna(), "")


#: Validation problems listed in full on the Data quality page; the rest are in its table.
PROBLEMS_LISTED = 12


def problem_list(problems: Sequence[Any], limit: int = PROBLEMS_LISTED) -> str:
    """Markdown bullets, one per validation problem (``metrics.load.Problem``, in the report's
    order): its severity in bold, then its message in full, escaped (the message names the
    file and the column and quotes example ids); after ``limit`` of them, how many more the
    table holds. Empty text for no problems."""
    from present.escape import md

    lines = [f"- **{'Error' if p.severity == 'error' else 'Warning'}:** {md(p.message)}"
             for p in problems[:limit]]
    if len(problems) > limit:
        lines.append(f"- … and {len(problems) - limit} more in the table below.")
    return "\n".join(lines)
