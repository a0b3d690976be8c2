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

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any

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
    """A validated export. ``tables`` holds only files that were present and usable.

    ``scan`` is set when the export was clean and is read straight from its Parquet files
    (`metrics.scan`): ``tables`` is then that scan's lazy mapping (a frame is made on first
    access), and the KPI engine reads the files themselves. A Dataset made with other tables
    (``dataclasses.replace(ds, tables=...)``) is served from those tables; ``known_as_at``,
    when set, is its as-at date (a part of an export, e.g. one breakdown group, keeps the
    export's).
    """

    tables: Mapping[str, pd.DataFrame]
    report: ValidationReport
    source: Path | None = None
    scan: Any = None  # metrics.scan.ParquetScan
    known_as_at: date | None = None  # a part of an export keeps the whole export's as-at date

    def get(self, name: str) -> pd.DataFrame | None:
        """The table called ``name`` (e.g. "devices"), or None when the file is missing."""
        return self.tables.get(name)

    @property
    def cases(self) -> pd.DataFrame:
        return self.tables["cases"]

    @property
    def parquet(self) -> Any:
        """The `metrics.scan.ParquetScan` this Dataset's tables come from, or None when they
        are frames in memory (the pandas loader, or tables replaced)."""
        scan = self.scan
        return scan if scan is not None and self.tables is scan.tables else None

    def row_count(self, name: str) -> int | None:
        """Rows of table ``name`` after the loader's exclusions (None when it is missing); no
        frame made when the export is served from its Parquet files."""
        if name not in self.tables:
            return None
        if self.parquet is not None:
            return self.report.rows_read.get(name, 0) - self.report.rows_excluded.get(name, 0)
        return len(self.tables[name])

    def has_rows(self, name: str) -> bool:
        """Whether table ``name`` is present with at least one usable row (no frame made)."""
        return bool(self.row_count(name))

    def columns(self, name: str) -> list[str]:
        """The loaded column names of table ``name`` (empty when it is missing; no frame
        made)."""
        if name not in self.tables:
            return []
        if self.parquet is not None:
            from metrics.contract import TABLE_BY_NAME

            present = self.parquet.columns[name]
            spec = TABLE_BY_NAME[name]
            return [c.name for c in spec.columns] + [c for c in present
                                                     if c not in {x.name for x in spec.columns}]
        return [str(c) for c in self.tables[name].columns]

    @cached_property
    def first_recorded(self) -> date | None:
        """The earliest recorded date in cases (once per export); None without cases."""
        if self.parquet is not None:
            return self.parquet.first_recorded
        cases = self.tables.get("cases")
        if cases is None or cases.empty:
            return None
        first = cases["recorded_date"].min()
        return None if pd.isna(first) else first.date()

    @cached_property
    def forces(self) -> list[str]:
        """Force names present in cases, sorted (computed once per loaded export)."""
        if self.parquet is not None:
            return list(self.parquet.forces_in_cases)
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
        if self.known_as_at is not None:
            return self.known_as_at
        stated = export_as_at(self.source)
        if stated is not None:
            return stated
        if self.parquet is not None:
            return self.parquet.latest
        cases = self.tables.get("cases")
        if cases is None or cases.empty:
            return None
        latest = max(cases["recorded_date"].max(), cases["outcome_date"].max())
        return None if pd.isna(latest) else latest.date()
