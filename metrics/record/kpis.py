"""The record's two qualitative measures, in the KPI table's shape (``compute_kpis`` columns).

- ``panel_nfa_decision_sound``: of the NFA cases with an outcome in the window that the
  scrutiny panel reviewed (latest review per case; random and ISVA-nominated cases alike), the
  share whose decision the panel found sound. A proportion (fraction) with its 95% Wilson
  interval; ``insufficient`` below :func:`min_reviews` reviewed cases (the catalogue's ``min_n``
  once the catalogue declares the KPI, else :data:`MIN_REVIEWS`), ``no_data`` when none.
  ISVA-nominated cases are chosen, not random, so the share describes the reviewed cases; it
  is not an estimate for every NFA decision (docs/record.md).
- ``open_learning_actions``: the number of learning actions raised from the panel's reviews of
  cases with an outcome in the window that are still open when the record is read (a count,
  no interval). ``no_data`` when no case of the window was reviewed.

Both read the record, not the export. The engine or the deck appends these rows to the KPI
table (same columns, ``provisional`` False).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from metrics.record.repository import Record, month
from metrics.record.sampling import NFA_CODES

ALL_FORCES = "All forces"
MIN_REVIEWS = 10
"""Fewest reviewed cases for ``panel_nfa_decision_sound`` to show a value."""
COLUMNS = ["kpi_id", "force", "window_start", "window_end", "value", "numerator",
           "denominator", "n", "ci_low", "ci_high", "status", "provisional"]


def min_reviews() -> int:
    """The gate of ``panel_nfa_decision_sound``: the catalogue's ``min_n`` when the catalogue
    declares the KPI, else :data:`MIN_REVIEWS`."""
    try:
        from metrics.registry import get_kpi

        return int(get_kpi("panel_nfa_decision_sound").min_n)
    except Exception:  # noqa: BLE001 - not declared (yet) or the catalogue cannot be read
        return MIN_REVIEWS


def _wilson(successes: float, n: float) -> tuple[float, float]:
    from metrics.stats import wilson

    return wilson(successes, n)


def record_kpis(record: Record, start: object, end: object,
                forces: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per (record KPI, force) for the window, in the ``compute_kpis`` columns.

    ``forces`` None: every force with a sample in the record plus ``All forces`` (which pools
    every force). ``window_start``/``window_end`` are Timestamps (first and last day).
    """
    first, last = month(start), month(end)
    w_start = pd.Period(first, "M").start_time
    w_end = pd.Period(last, "M").end_time.normalize()
    tables = record.export_tables()
    cases, samples = tables["sample_cases"], tables["samples"]
    reviews, actions = tables["reviews"], tables["actions"]
    merged = (reviews.merge(cases, left_on="sample_case_id", right_on="id",
                            suffixes=("", "_case"))
              .merge(samples[["id", "force"]], left_on="sample_id", right_on="id",
                     suffixes=("", "_sample")))
    if not merged.empty:
        when = pd.to_datetime(merged["outcome_date"], errors="coerce")
        code = pd.to_numeric(merged["outcome_code"], errors="coerce")
        merged = merged[code.isin(NFA_CODES) & (when >= w_start) & (when <= w_end)]
    names = list(forces) if forces is not None else [
        *sorted(samples["force"].astype(str).unique()), ALL_FORCES]
    open_learning = actions[(actions["kind"] == "learning") & (actions["status"] == "open")]
    gate = min_reviews()
    rows = []
    for force in names:
        scope = merged if force == ALL_FORCES else merged[merged["force"] == force]
        # the latest review of each case counts (a case may be in two samples)
        latest = scope.sort_values("id").drop_duplicates(["force", "case_id"], keep="last")
        n = int(len(latest))
        sound = int(latest["decision_sound"].astype(bool).sum()) if n else 0
        low, high = _wilson(sound, n) if n else (np.nan, np.nan)
        status = "ok" if n >= gate else "insufficient" if n else "no_data"
        rows.append({
            "kpi_id": "panel_nfa_decision_sound", "force": force,
            "value": sound / n if status == "ok" else np.nan,
            "numerator": float(sound), "denominator": float(n), "n": n,
            "ci_low": low if status == "ok" else np.nan,
            "ci_high": high if status == "ok" else np.nan, "status": status,
        })
        count = int(open_learning["review_id"].isin(scope["id"]).sum()) if n else 0
        rows.append({
            "kpi_id": "open_learning_actions", "force": force,
            "value": float(count) if n else np.nan, "numerator": float(count),
            "denominator": np.nan, "n": count, "ci_low": np.nan, "ci_high": np.nan,
            "status": "ok" if n else "no_data",
        })
    table = pd.DataFrame(rows)
    if table.empty:
        return pd.DataFrame(columns=COLUMNS)
    table["window_start"] = w_start
    table["window_end"] = w_end
    table["n"] = table["n"].astype("int64")
    table["provisional"] = False
    return table[COLUMNS].reset_index(drop=True)
