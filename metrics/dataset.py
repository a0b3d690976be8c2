"""The loaded export: read-only tables plus the validation report that produced them.

Column dtypes after loading (the contract in `metrics/contract.py` declares them):
- date columns: ``datetime64[ns]``, naive, at midnight, meaning the UK local (Europe/London) date;
- timestamp columns (``devices.seized_at``, ``devices.returned_at``):
  ``datetime64[ns, Europe/London]``, subtracting two gives real elapsed time;
- categorical strings (force, offence_group, ...): pandas ``category``;
  id strings: pandas string dtype;
- nullable booleans: pandas ``boolean``; nullable integers: ``Int64``; numbers: ``float64``.
Columns outside the contract are never loaded (survey ``q_`` item columns are part of the contract).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

TABLE_NAMES: tuple[str, ...] = (
    "cases",
    "victim_updates",
    "orders",
    "breaches",
    "devices",
    "survey_responses",
    "forces",
    "workforce",
)


EXPORT_JSON = "export.json"


def export_as_at(folder: Path | str | None) -> date | None:
    """The as-at date stated in ``folder/export.json`` (``{"as_at": "YYYY-MM-DD"}``), or None
    when the file is missing, unreadable, or holds no valid date (never raises)."""
    if folder is None:
        return None
    import json

    try:
        text = (Path(folder) / EXPORT_JSON).read_text(encoding="utf-8")
        stated = json.loads(text).get("as_at")
        return date.fromisoformat(stated) if isinstance(stated, str) and len(stated) == 10 \
            else None
    except (OSError, ValueError, AttributeError, UnicodeDecodeError):
        return None


@dataclass(frozen=True)
class Problem:
    """One validation finding, in plain words, with a few example ids (never victim details)."""

    severity: str  # "error" (the export is refused) or "warning" (rows excluded, load goes on)
    file: str  # e.g. "cases.parquet"
    column: str | None
    rule: str  # short machine name, e.g. "duplicate_id", "unknown_category"
    rows: int  # how many rows are affected (0 for file-level problems)
    message: str  # one plain-English sentence
    examples: tuple[str, ...] = ()


@dataclass(frozen=True)
class ValidationReport:
    """Every problem found, and how many rows each table kept after exclusions."""

    problems: tuple[Problem, ...] = ()
    rows_read: dict[str, int] = field(default_factory=dict)
    rows_excluded: dict[str, int] = field(default_factory=dict)

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "error")

    @property
    def warnings(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "warning")

    @property
    def usable(self) -> bool:
        """True when no problem is an error, so the KPIs can be computed."""
        return not self.errors


@dataclass(frozen=True)
class Dataset:
    """A validated export. ``tables`` holds only files that were present and usable."""

    tables: dict[str, pd.DataFrame]
    report: ValidationReport
    source: Path | None = None

    def get(self, name: str) -> pd.DataFrame | None:
        """The table called ``name`` (e.g. "devices"), or None when the file is missing."""
        return self.tables.get(name)

    @property
    def cases(self) -> pd.DataFrame:
        return self.tables["cases"]

    @cached_property
    def forces(self) -> list[str]:
        """Force names present in cases, sorted (computed once per loaded export)."""
        force = self.cases["force"]
        if isinstance(force.dtype, pd.CategoricalDtype):
            codes = force.cat.codes.to_numpy()
            present = np.unique(codes[codes >= 0])
            return sorted(str(name) for name in force.cat.categories[present])
        return sorted(force.dropna().astype(str).unique().tolist())

    @cached_property
    def as_at(self) -> date | None:
        """The data's as-at (extraction) date: ``export.json``'s ``{"as_at": "YYYY-MM-DD"}``
        beside the Parquet files when present and valid, else the latest recorded or outcome
        date in cases (once per export); None when neither is known."""
        stated = export_as_at(self.source)
        if stated is not None:
            return stated
        cases = self.tables.get("cases")
        if cases is None or cases.empty:
            return None
        latest = max(cases["recorded_date"].max(), cases["outcome_date"].max())
        return None if pd.isna(latest) else latest.date()
