"""Window arithmetic shared by the app's URL state and the board pack (pure, no Streamlit).

A window is a run of whole calendar months, held as a pair of monthly ``pd.Period``.
"""

from __future__ import annotations

from datetime import date

import pandas as pd


def latest_complete_month(as_at: date | pd.Timestamp | None) -> pd.Period | None:
    """The last whole month of data: the as-at month if as-at is its last day, else the one before.

    Returns None when there is no data.
    """
    if as_at is None or pd.isna(as_at):
        return None
    ts = pd.Timestamp(as_at)
    month = ts.to_period("M")
    return month if ts.day == ts.days_in_month else month - 1


def comparison_window(start: pd.Period, end: pd.Period, comparison: str
                      ) -> tuple[pd.Period, pd.Period]:
    """The comparison window: the same number of months just before (``previous``), or the same
    months a year earlier (``year_ago``)."""
    if comparison == "year_ago":
        return start - 12, end - 12
    length = (end - start).n + 1
    return start - length, end - length


def describe_window(start: pd.Period, end: pd.Period) -> str:
    """A window in plain words, e.g. ``Jul 2026 to Sep 2026`` or ``Sep 2026``."""
    first = start.strftime("%b %Y")
    return first if start == end else f"{first} to {end.strftime('%b %Y')}"


def coverage_note(first_month: pd.Period | None, start: pd.Period, end: pd.Period,
                  compare_start: pd.Period | None = None,
                  compare_end: pd.Period | None = None) -> str | None:
    """A warning when the window or its comparison window starts before the export's first
    month of data (``first_month``), so it holds only part of its months and a change against
    it compares unlike with unlike; None when both are covered (or nothing is known)."""
    if first_month is None:
        return None
    begins = f"This export's data starts in {first_month.strftime('%b %Y')}"
    if start < first_month:
        return (f"{begins}, so the window ({describe_window(start, end)}) holds only part of "
                "its months: its figures and every change are not like for like.")
    if compare_start is not None and compare_end is not None and compare_start < first_month:
        window = describe_window(compare_start, compare_end)
        return (f"{begins}, so the comparison window ({window}) holds only part of its "
                "months: read each change against it with care.")
    return None
