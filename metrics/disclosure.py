"""Disclosure control for the panel audience: the one place the small-number rules live.

No Streamlit. Every panel output (tiles, charts, tables, CSV, board pack, ``python -m metrics
kpis --audience panel``) goes through :func:`apply_panel` (KPI tables),
:func:`apply_panel_breakdown` (KPI tables broken down by a group) or
:func:`suppress_breakdown` (counts by category, with totals).

The rule (NHS Digital, *Hospital Episode Statistics (HES) Analysis Guide*, small-number
suppression for figures below national level):

- a count of 0 stays 0;
- a count from 1 to 7 is suppressed: shown as ``*`` with the footnote :data:`FOOTNOTE`;
- every other count is rounded to the nearest 5. Ties (only possible for non-integer bases,
  e.g. 12.5 FTE) round half up, away from zero: 12.5 -> 15, 12.4 -> 10; for integers
  13 -> 15, 12 -> 10, 8 -> 10;
- rates, means and intervals are computed from the rounded counts;
- a median or other statistic based on 1 to 7 items is suppressed.

How each KPI unit is treated (``metrics.registry`` unit; survey items are proportions):

- ``proportion``: numerator and denominator follow the count rule; the value is
  rounded numerator / rounded denominator and the 95% interval is Wilson on the rounded counts.
  If either count is 1 to 7 the value and interval are suppressed (status ``suppressed``).
- ``count`` (orders granted, s63G applications, device backlog): the value is the rounded
  count, suppressed when 1 to 7; no interval is shown.
- ``days`` (medians): suppressed when based on 1 to 7 items (``n``); otherwise the median and
  its interval are shown as computed (they are durations, not counts) and ``n`` is rounded.
- ``cases`` (mean caseload per investigator): open cases and investigators are both counts;
  the mean is rounded cases / rounded investigators, suppressed when either is 1 to 7; no
  interval.
- Workforce sums that are not counts of people (sickness and available *days*, vacant,
  establishment, in-post and trainee *FTE*) are treated like counts: a sum above 0 and below
  7.5 can come from one or two people, so it is suppressed, and every other sum is rounded to
  the nearest 5 before the rate is formed. Headcounts and screenings are counts of people or
  events and follow the rule directly. A negative sum (over-establishment: a negative vacancy)
  is treated by its size. For workforce KPIs ``n`` counts team-month rows, not people: it is
  rounded/suppressed like any count but does not by itself hide the rate.
- ``n`` of every row follows the count rule. A value already gated (status ``insufficient``)
  keeps that status unless its ``n`` is 1 to 7 (then ``suppressed``).

Suppressed cells are NaN in :func:`apply_panel`'s output and ``*`` in
:func:`apply_panel_marked`'s, so a CSV or table shows the symbol exactly where a number was
hidden.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import pandas as pd

from metrics import registry

SYMBOL = "*"
FOOTNOTE = (
    "* Not shown: a count from 1 to 7, or a figure based on 1 to 7 people or events, is "
    "suppressed to protect the people behind it (other cells may be hidden too, so that a "
    "hidden count cannot be worked out from a total). Other counts are rounded to the nearest "
    "5, and rates are calculated from the rounded counts."
)
SMALL_MAX = 7
ROUND_BASE = 5
SUPPRESSED_STATUS = "suppressed"
TOTAL = "Total"

_COUNT_COLUMNS = ("numerator", "denominator", "n")
# Workforce KPIs: n counts team-month rows, so it does not by itself hide the rate.
_WORKFORCE_UNITS_N_INFORMATIONAL = {
    "sickness_rate", "vacancy_rate", "trainee_share", "specialist_trained_share",
    "screening_rate",
}


# --------------------------------------------------------------------------- scalars


def is_small(count: float) -> bool:
    """True for a count that must be suppressed: above 0 and below 7.5 in size (so 1 to 7 for
    integers). NaN is not small (there is nothing to hide)."""
    if count is None or (isinstance(count, float) and math.isnan(count)):
        return False
    size = abs(float(count))
    return 0 < size < SMALL_MAX + 0.5


def round5(count: float) -> float:
    """``count`` rounded to the nearest 5, ties half up (away from zero). 0 stays 0, NaN stays
    NaN. Does not suppress: use :func:`disclose_count` for the full rule."""
    if count is None or (isinstance(count, float) and math.isnan(count)):
        return math.nan
    value = float(count)
    sign = -1.0 if value < 0 else 1.0
    return sign * math.floor(abs(value) / ROUND_BASE + 0.5) * ROUND_BASE


def disclose_count(count: float) -> float:
    """The full rule for one count: 0 -> 0, 1..7 -> NaN (suppressed), else rounded to 5."""
    if is_small(count):
        return math.nan
    return round5(count)


def _round5_array(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    return np.sign(values) * np.floor(np.abs(values) / ROUND_BASE + 0.5) * ROUND_BASE


def _wilson(successes: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """95% Wilson score intervals, vectorised (the same formula as ``metrics.stats.wilson``)."""
    if successes.size == 0:
        return successes.copy(), successes.copy()
    z = 1.959963984540054  # norm.ppf(0.975)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return np.maximum(0.0, centre - half), np.minimum(1.0, centre + half)


def _small_array(values: np.ndarray) -> np.ndarray:
    size = np.abs(np.asarray(values, dtype=np.float64))
    return (size > 0) & (size < SMALL_MAX + 0.5)


# --------------------------------------------------------------------------- KPI tables


def _units(kpi_ids: Iterable[str]) -> dict[str, str]:
    """Unit per KPI id from the registry; survey ids (``survey_<item>``) are proportions."""
    units: dict[str, str] = {}
    for kid in set(kpi_ids):
        if kid in registry.STATIC_KPIS:
            units[kid] = registry.STATIC_KPIS[kid].unit
        elif isinstance(kid, str) and kid.startswith("survey_"):
            units[kid] = "proportion"
        else:
            raise KeyError(f"unknown KPI id {kid!r}: cannot apply disclosure control")
    return units


def _apply(kpi_table: pd.DataFrame, also_hide: pd.DataFrame | None = None,
           ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The panel table and a boolean mask (same index, columns value/numerator/denominator/n/
    ci_low/ci_high) of the cells hidden by the rule. ``also_hide`` (boolean, columns
    numerator/denominator/n) adds cells to hide, e.g. secondary suppressions in a breakdown:
    they are treated exactly like counts of 1 to 7."""
    table = kpi_table.copy()
    index = table.index
    hidden = pd.DataFrame(False, index=index,
                          columns=["value", "numerator", "denominator", "n", "ci_low",
                                   "ci_high"])
    if table.empty:
        if "n" in table.columns:
            table["n"] = table["n"].astype("Int64")
        return table, hidden

    units = table["kpi_id"].map(_units(table["kpi_id"])).to_numpy()
    status = table["status"].astype(object).to_numpy().copy()
    num = table["numerator"].to_numpy(dtype=np.float64)
    den = table["denominator"].to_numpy(dtype=np.float64)
    n = table["n"].to_numpy(dtype=np.float64)
    value = table["value"].to_numpy(dtype=np.float64).copy()
    low = table["ci_low"].to_numpy(dtype=np.float64).copy()
    high = table["ci_high"].to_numpy(dtype=np.float64).copy()

    small_num, small_den, small_n = _small_array(num), _small_array(den), _small_array(n)
    if also_hide is not None:
        extra = also_hide.reindex(index=index, fill_value=False)
        small_num = small_num | extra["numerator"].to_numpy(dtype=bool)
        small_den = small_den | extra["denominator"].to_numpy(dtype=bool)
        small_n = small_n | extra["n"].to_numpy(dtype=bool)
    r_num = np.where(small_num, np.nan, _round5_array(num))
    r_den = np.where(small_den, np.nan, _round5_array(den))
    r_n = np.where(small_n, np.nan, _round5_array(n))

    is_prop = units == "proportion"
    is_count = units == "count"
    is_days = units == "days"
    is_cases = units == "cases"
    n_informational = table["kpi_id"].isin(_WORKFORCE_UNITS_N_INFORMATIONAL).to_numpy()

    # Which rows have their value hidden by the rule.
    hide_value = np.zeros(len(table), dtype=bool)
    hide_value |= (is_prop | is_cases) & (small_num | small_den)
    hide_value |= (is_prop | is_cases) & small_n & ~n_informational
    hide_value |= is_count & (small_num | small_n | _small_array(value))
    hide_value |= is_days & small_n

    was_ok = status == "ok"
    new_value = np.full(len(table), np.nan)
    new_low = np.full(len(table), np.nan)
    new_high = np.full(len(table), np.nan)
    show = was_ok & ~hide_value
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = r_num / r_den
    den_ok = np.nan_to_num(r_den, nan=0.0) > 0
    hide_value |= show & (is_prop | is_cases) & ~den_ok  # cannot happen for counts >= 8
    shown_ratio = show & (is_prop | is_cases) & den_ok
    new_value[shown_ratio] = ratio[shown_ratio]
    with_ci = shown_ratio & is_prop & (r_num >= 0) & (r_num <= r_den)
    new_low[with_ci], new_high[with_ci] = _wilson(r_num[with_ci], r_den[with_ci])
    counts = show & is_count
    new_value[counts] = np.where(np.isnan(value[counts]), r_num[counts],
                                 _round5_array(value[counts]))
    days = show & is_days
    new_value[days], new_low[days], new_high[days] = value[days], low[days], high[days]

    # Status: ok rows whose value is hidden become suppressed; so does any row whose n is 1-7
    # (unless n only counts workforce rows).
    to_suppress = (was_ok & hide_value) | (small_n & ~n_informational & (status != "no_data"))
    status = np.where(to_suppress, SUPPRESSED_STATUS, status)
    new_value = np.where(status == "ok", new_value, np.nan)
    new_low = np.where(status == "ok", new_low, np.nan)
    new_high = np.where(status == "ok", new_high, np.nan)

    table["value"] = new_value
    table["ci_low"] = new_low
    table["ci_high"] = new_high
    table["numerator"] = r_num
    table["denominator"] = r_den
    table["n"] = pd.Series(r_n, index=index).round().astype("Int64")
    table["status"] = status
    if "spc" in table.columns:
        table["spc"] = table["spc"].where(status == "ok", None)

    hidden["numerator"] = small_num
    hidden["denominator"] = small_den
    hidden["n"] = small_n
    hidden["value"] = status == SUPPRESSED_STATUS
    hidden["ci_low"] = hidden["value"] & ~is_count & ~is_cases
    hidden["ci_high"] = hidden["ci_low"]
    return table, hidden


def apply_panel(kpi_table: pd.DataFrame) -> pd.DataFrame:
    """The KPI long table as a panel may see it (see the module docstring for the rules).

    Same columns as the input (``kpi_id, force, window_start, window_end, value, numerator,
    denominator, n, ci_low, ci_high, status[, spc]``); counts rounded to 5 or NaN where
    suppressed, ``n`` nullable ``Int64``, values and intervals recomputed from the rounded
    counts, status ``suppressed`` where the value is hidden (``spc`` emptied there).
    Raises ``KeyError`` for a KPI id the registry does not know.
    """
    return _apply(kpi_table)[0]


def apply_panel_marked(kpi_table: pd.DataFrame) -> pd.DataFrame:
    """Like :func:`apply_panel`, but every hidden cell holds ``*`` (object columns) instead
    of NaN, for tables and CSV files; add :data:`FOOTNOTE` below them."""
    table, hidden = _apply(kpi_table)
    marked = table.astype({col: object for col in hidden.columns})
    for col in hidden.columns:
        marked.loc[hidden[col].to_numpy(), col] = SYMBOL
    return marked


# --------------------------------------------------------------------------- breakdowns


def _line_groups(shape: tuple[int, int], has_row_total: bool, has_col_total: bool,
                 ) -> list[tuple[list[tuple[int, int]], tuple[int, int]]]:
    """Additive relations of a table with margins: (cells, total cell) for each row and column
    whose last entry is the margin."""
    rows, cols = shape
    lines: list[tuple[list[tuple[int, int]], tuple[int, int]]] = []
    inner_r = rows - 1 if has_row_total else rows
    inner_c = cols - 1 if has_col_total else cols
    if has_col_total:  # each row sums across to its last column
        for r in range(rows):
            lines.append(([(r, c) for c in range(inner_c)], (r, cols - 1)))
    if has_row_total:  # each column sums down to its last row
        for c in range(cols):
            lines.append(([(r, c) for r in range(inner_r)], (rows - 1, c)))
    return lines


def recoverable_cells(values: np.ndarray, hidden: np.ndarray, has_row_total: bool,
                      has_col_total: bool) -> list[tuple[int, int]]:
    """Hidden cells whose exact value follows from the shown cells and the additive relations
    (linear algebra: a hidden cell is determined when its unit vector lies in the row space
    of the relations restricted to the hidden cells)."""
    lines = _line_groups(values.shape, has_row_total, has_col_total)
    unknown = [tuple(ix) for ix in np.argwhere(hidden)]
    if not unknown or not lines:
        return []
    pos = {cell: k for k, cell in enumerate(unknown)}
    matrix = []
    for cells, total in lines:
        row = np.zeros(len(unknown))
        for cell in cells:
            if cell in pos:
                row[pos[cell]] += 1.0
        if total in pos:
            row[pos[total]] -= 1.0
        if row.any():
            matrix.append(row)
    if not matrix:  # no relation touches a hidden cell
        return []
    a = np.array(matrix)
    rank = np.linalg.matrix_rank(a)
    found = []
    for cell, k in pos.items():
        unit = np.zeros(len(unknown))
        unit[k] = 1.0
        if np.linalg.matrix_rank(np.vstack([a, unit])) == rank:
            found.append(cell)
    return found


def _secondary(values: np.ndarray, hidden: np.ndarray, has_row_total: bool,
               has_col_total: bool) -> np.ndarray:
    """Add complementary suppressions until no hidden cell can be recovered exactly."""
    hidden = hidden.copy()
    lines = _line_groups(values.shape, has_row_total, has_col_total)

    def pick(members: list[tuple[int, int]]) -> tuple[int, int] | None:
        """The smallest shown non-zero cell among ``members`` (inner cells first)."""
        shown = [c for c in members if not hidden[c] and values[c] != 0]
        return min(shown, key=lambda c: (values[c], c)) if shown else None

    for _ in range(values.size + 1):
        changed = False
        # 1. No line (cells + its total) may hold exactly one hidden cell.
        for cells, total in lines:
            members = cells + [total]
            if sum(bool(hidden[c]) for c in members) == 1:
                choice = pick(cells) or pick([total])
                if choice is not None:
                    hidden[choice] = True
                    changed = True
        if changed:
            continue
        # 2. Exact recovery through combinations of lines (rare patterns): hide a further cell
        #    on a line of the first recoverable cell.
        exposed = recoverable_cells(values, hidden, has_row_total, has_col_total)
        if not exposed:
            return hidden
        target = exposed[0]
        candidates = [m for cells, total in lines if target in cells + [total]
                      for m in cells + [total]]
        choice = pick(candidates)
        if choice is None:  # nothing left to hide: hide every non-zero shown cell
            hidden |= values != 0
            return hidden
        hidden[choice] = True
    return hidden


def suppress_breakdown(
    table: pd.DataFrame | pd.Series,
    *,
    totals: bool = True,
    total_label: str = TOTAL,
    marked: bool = False,
) -> pd.DataFrame:
    """Counts by category (rows, and optionally columns) with disclosure control.

    ``table``: non-negative counts, categories as the index (a Series is one column). A row or
    column labelled ``total_label`` is taken as the margin; with ``totals=True`` missing
    margins are added (a row total, and a column total when there are two or more columns).
    NaN counts are taken as 0.

    Primary suppression hides every count (margins included) from 1 to 7; secondary suppression
    then hides the smallest further non-zero cells until no hidden cell can be worked out from
    a total and its siblings (checked exactly with linear algebra, so also through combinations
    of rows and columns). Shown counts are rounded to the nearest 5 (margins are rounded from
    their true values, so rounded cells need not add up to the rounded total).

    Returns floats with NaN for hidden cells, or (``marked=True``) objects with ``*``.
    """
    frame = table.to_frame() if isinstance(table, pd.Series) else table.copy()
    frame = frame.astype(np.float64).fillna(0.0)
    if (frame.to_numpy() < 0).any():
        raise ValueError("breakdown counts must not be negative")
    has_row_total = total_label in frame.index
    has_col_total = total_label in frame.columns
    if totals and not has_col_total and frame.shape[1] > 1:
        frame[total_label] = frame.sum(axis=1)
        has_col_total = True
    if totals and not has_row_total:
        frame.loc[total_label] = frame.sum(axis=0)
        has_row_total = True
    # Margins last, so the line relations are positional.
    rows = [r for r in frame.index if r != total_label] + ([total_label] if has_row_total else [])
    cols = [c for c in frame.columns if c != total_label] + (
        [total_label] if has_col_total else [])
    frame = frame.loc[rows, cols]
    values = frame.to_numpy(dtype=np.float64)
    hidden = _secondary(values, _small_array(values), has_row_total, has_col_total)
    rounded = np.where(hidden, np.nan, _round5_array(values))
    out = pd.DataFrame(rounded, index=frame.index, columns=frame.columns)
    if marked:
        out = out.astype(object)
        out[hidden] = SYMBOL
    return out


def apply_panel_breakdown(kpi_table: pd.DataFrame, *, group_col: str = "group") -> pd.DataFrame:
    """:func:`apply_panel` for a KPI table broken down by a group (offence group, age band...).

    ``kpi_table``: the KPI long table plus ``group_col`` (and optionally ``dimension``, when
    several breakdowns share one table); within each KPI x dimension x force x window the
    groups are taken to partition the whole (include a "Not recorded" group), so their
    numerators, denominators and ``n`` add up to the overall KPI that other pages show.
    Before the row rules, each of those three counts gets primary and secondary suppression
    across the groups against their total (as :func:`suppress_breakdown`), so a hidden group
    count cannot be worked out from the overall figure and the other groups. Then every row
    follows :func:`apply_panel` (rates from rounded counts, medians of 1-7 items hidden, ...).
    Returns the same columns; hidden rows have status ``suppressed``.
    """
    if kpi_table.empty:
        return apply_panel(kpi_table)
    if group_col not in kpi_table.columns:
        raise KeyError(f"no {group_col!r} column in the breakdown table")
    table = kpi_table.reset_index(drop=True)
    hide = pd.DataFrame(False, index=table.index, columns=list(_COUNT_COLUMNS))
    keys = [c for c in ("kpi_id", "dimension", "force", "window_start", "window_end")
            if c in table.columns]
    for _, block in table.groupby(keys, sort=False, dropna=False):
        for col in _COUNT_COLUMNS:
            values = block[col].to_numpy(dtype=np.float64)
            if np.isnan(values).all():
                continue
            sizes = np.abs(np.nan_to_num(values, nan=0.0))
            column = np.append(sizes, sizes.sum()).reshape(-1, 1)
            hidden = _secondary(column, _small_array(column), True, False)
            hide.loc[block.index, col] = hidden[:-1, 0]
    return _apply(table, hide)[0]
