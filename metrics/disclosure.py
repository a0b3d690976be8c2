"""Disclosure control for the panel audience: the one place the small-number rules live.

No Streamlit. Every panel output (tiles, charts, tables, CSV, board pack, ``python -m metrics
kpis --audience panel`` and ``breakdown --audience panel``) goes through :func:`apply_panel`
(KPI tables: by window, by month, several forces with All forces), :func:`apply_panel_breakdown`
(KPI tables broken down by a group) or :func:`suppress_breakdown` (counts by category, with
totals). The rules are written out for users in ``docs/disclosure.md``.

The rule (NHS Digital, *Hospital Episode Statistics (HES) Analysis Guide*, small-number
suppression for figures below national level):

- a count of 0 stays 0;
- a count from 1 to 7 is suppressed: shown as ``*`` with the footnote :data:`FOOTNOTE`;
- every other count is rounded to the nearest 5. Ties (only possible for non-integer bases,
  e.g. 12.5 FTE) round half up, away from zero: 12.5 -> 15, 12.4 -> 10; for integers
  13 -> 15, 12 -> 10, 8 -> 10;
- rates, means and intervals are computed from the rounded counts;
- a median is shown rounded to whole days (a median ending in .5 gives away an even ``n``),
  with its interval rounded the same way; a median whose ``n`` is hidden is hidden;
- a median's ``n`` is a count like any other.

Secondary suppression (differencing). A panel can add and subtract what it sees: groups of a
breakdown add up to the force's figure, months add up to their window, forces add up to All
forces. Within each such relation (:func:`protect`) further cells are hidden, smallest first,
until no hidden cell can be worked out:

- exactly, from the shown cells taken as exact (linear algebra over every relation at once);
- by bounds, by someone who reads ``*`` as "1 to 7" and a rounded ``r`` as "``r-2`` to
  ``r+2``" (e.g. seven hidden months under a hidden window total: each month would have to
  be 1). When only zeros are left to hide, a zero is hidden (so ``*`` may also stand for 0
  or for a count above 7 hidden for this reason, as the footnote says);
- by bounds again, by someone who reads ``*`` as any count from 0 (what it can stand for):
  a hidden 0 under a shown total of 0 can only be 0. Read as "1 to 7" such figures
  contradict themselves, which protects nothing, so this reading is checked whenever a
  hidden cell is 0 or above 7. A zero that frozen totals pin to 0 whatever else is hidden
  (a month under a published window of 0) is never hidden, and a zero hidden as a last
  resort is never one that a shown total of 0 pins.

A total that is published by another output (the window of a month table, the force's figure
of a breakdown) is never hidden here, only assumed shown whenever the count rule shows it, so
every output stays consistent with the others.

How each KPI unit is treated (``metrics.registry`` unit; survey items are proportions):

- ``proportion``: numerator and denominator follow the count rule; the value is
  rounded numerator / rounded denominator and the 95% interval is Wilson on the rounded counts.
  If either count is hidden the value and interval are suppressed (status ``suppressed``).
- ``count`` (orders granted, s63G applications, device backlog): the value is the rounded
  count, suppressed when hidden; no interval is shown.
- ``days`` (medians): suppressed when ``n`` is hidden; otherwise the median and its interval
  are shown rounded to whole days and ``n`` (and the denominator, which is ``n``) is rounded.
- ``cases`` (mean caseload per investigator): open cases and investigators are both counts;
  the mean is rounded cases / rounded investigators, suppressed when either is hidden; no
  interval.
- Workforce sums that are not counts of people (sickness and available *days*, vacant,
  establishment, in-post and trainee *FTE*) are treated like counts: a sum above 0 and below
  7.5 can come from one or two people, so it is suppressed, and every other sum is rounded to
  the nearest 5 before the rate is formed. Headcounts and screenings are counts of people or
  events and follow the rule directly. A negative sum (over-establishment: a negative vacancy)
  is treated by its size. For workforce KPIs ``n`` counts team-month rows, not people: it is
  never shown to a panel (``*``) and does not hide the rate.
- ``n`` of every row follows the count rule. A value already gated (status ``insufficient``)
  keeps that status unless its ``n`` is hidden (then ``suppressed``).

Suppressed cells are NaN in :func:`apply_panel`'s output and ``*`` in
:func:`apply_panel_marked`'s, so a CSV or table shows the symbol exactly where a number was
hidden.

What is not covered: two different windows of the same force (e.g. October to September and
October to August) differ by a month; a share link fixes one window, and the CLI user is an
analyst who must not publish overlapping windows to a panel (``docs/disclosure.md``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence

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
ALL_FORCES = "All forces"

_COUNT_COLUMNS = ("numerator", "denominator", "n")
# Workforce KPIs: n counts team-month rows, so it does not by itself hide the rate.
_WORKFORCE_UNITS_N_INFORMATIONAL = {
    "sickness_rate", "vacancy_rate", "trainee_share", "specialist_trained_share",
    "screening_rate",
}
_TOLERANCE = 1e-6
_MAX_TRIALS = 8  # candidate cells tried per step (smallest first)
_BROAD_MAX = 1e12  # "any count": the upper bound of a hidden cell read broadly (finite sums)

# A relation: (cells, total) as flat indices: the cells add up to the total.
Relation = tuple[list[int], int]


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


def round_days(days: float) -> float:
    """A duration in days as a panel sees it: whole days, halves rounded up (41.5 -> 42);
    NaN stays NaN."""
    if days is None or (isinstance(days, float) and math.isnan(days)):
        return math.nan
    return float(_round_days_array(np.array([days], dtype=np.float64))[0])


def _round_days_array(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    return np.sign(values) * np.floor(np.abs(values) + 0.5)


def _round5_array(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    return np.sign(values) * np.floor(np.abs(values) / ROUND_BASE + 0.5) * ROUND_BASE


def _wilson(successes: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """95% Wilson score intervals of the disclosed counts: ``metrics.stats.wilson_vec``."""
    from metrics.stats import wilson_vec

    return wilson_vec(successes, n)


def _small_array(values: np.ndarray) -> np.ndarray:
    size = np.abs(np.asarray(values, dtype=np.float64))
    return (size > 0) & (size < SMALL_MAX + 0.5)


# --------------------------------------------------------------------------- secondary suppression


def incidence(relations: Sequence[Relation], size: int) -> np.ndarray:
    """The relations as a matrix (one row per relation: +1 for its cells, -1 for its total)
    over ``size`` flat cells."""
    matrix = np.zeros((len(relations), size))
    for r, (cells, total) in enumerate(relations):
        np.add.at(matrix[r], np.asarray(cells, dtype=np.intp), 1.0)
        matrix[r, total] -= 1.0
    return matrix


def recoverable_flat(values: np.ndarray, hidden: np.ndarray, relations: Sequence[Relation],
                     matrix: np.ndarray | None = None) -> list[int]:
    """Hidden cells (flat indices) whose exact value follows from the shown cells taken as
    exact and the relations: a hidden cell is determined when its unit vector lies in the row
    space of the relations restricted to the hidden cells. ``matrix``: :func:`incidence` of
    the relations, when already built."""
    unknown = np.flatnonzero(hidden)
    if unknown.size == 0 or not relations:
        return []
    full = incidence(relations, np.asarray(values).size) if matrix is None else matrix
    a = full[:, unknown]
    a = a[np.abs(a).sum(axis=1) > 0]
    if a.shape[0] == 0:
        return []
    # An orthonormal basis of the row space from the (small) Gram matrix of the relations;
    # a cell is determined when its unit vector lies in that space (projection of length 1).
    # (Integer products and einsum: exact, and no multi-threaded BLAS for these small
    # matrices, which on a shared machine costs more than the arithmetic.)
    ints = a.astype(np.int64)
    w, u = np.linalg.eigh((ints @ ints.T).astype(np.float64))
    keep = w > 1e-10 * max(1.0, float(w.max()))
    basis = np.einsum("rs,rk->sk", u[:, keep] / np.sqrt(w[keep]), a)
    determined = (basis ** 2).sum(axis=0) > 1 - 1e-6
    return [int(c) for c in unknown[determined]]


def bounds(values: np.ndarray, hidden: np.ndarray, relations: Sequence[Relation],
           literal: bool = True) -> tuple[np.ndarray, np.ndarray] | None:
    """What someone reading the published cells can bound each cell to: a shown 0 is 0, a
    shown rounded ``r`` is ``max(8, r - 2)`` to ``r + 2``, and ``*`` is 1 to 7 when read
    ``literal`` (as the footnote says), else any count from 0 (a secondary cell can be any
    count, a zero included); then the relations are propagated to a fixpoint. Returns (low,
    high) per flat cell, or None when the published cells contradict the reading (read
    literally, when a secondary cell is 0 or above 7; the broad reading always holds)."""
    shown = _round5_array(np.abs(values))
    hid_low, hid_high = (1.0, float(SMALL_MAX)) if literal else (0.0, _BROAD_MAX)
    low = np.where(hidden, hid_low,
                   np.where(shown == 0, 0.0, np.maximum(SMALL_MAX + 1, shown - 2)))
    high = np.where(hidden, hid_high, np.where(shown == 0, 0.0, shown + 2))
    lines = [(np.asarray(cells, dtype=np.intp), total) for cells, total in relations]
    for _ in range(60):
        changed = False
        for cells, total in lines:
            lo_c, hi_c = low[cells], high[cells]
            lo_sum, hi_sum = lo_c.sum(), hi_c.sum()
            if lo_sum > low[total]:
                low[total], changed = lo_sum, True
            if hi_sum < high[total]:
                high[total], changed = hi_sum, True
            new_lo = np.maximum(lo_c, low[total] - (hi_sum - hi_c))
            new_hi = np.minimum(hi_c, high[total] - (lo_sum - lo_c))
            if (new_lo > lo_c).any() or (new_hi < hi_c).any():
                low[cells], high[cells], changed = new_lo, new_hi, True
        if (low > high).any():
            return None
        if not changed:
            break
    return low, high


def exposed_cells(values: np.ndarray, hidden: np.ndarray, relations: Sequence[Relation],
                  matrix: np.ndarray | None = None) -> list[int]:
    """Flat cells a panel could work out: hidden cells recoverable exactly (linear algebra) or
    pinned to their true value by :func:`bounds`, and shown non-zero cells pinned so.
    ``matrix``: :func:`incidence` of the relations, when already built."""
    found = recoverable_flat(values, hidden, relations, matrix)
    if found:
        return found
    sizes = np.abs(values)
    pinned = np.zeros(values.size, dtype=bool)
    # Read literally (``*`` is 1 to 7) and broadly (``*`` is any count, 0 included): a hidden
    # 0 or a hidden count above 7 makes the literal reading contradict itself, and the broad
    # one can still pin a cell (a hidden 0 under a total of 0 must be 0). The broad reading
    # is needed only then: otherwise it bounds no cell more tightly than the literal one.
    readings = [True]
    if (hidden & ((sizes == 0) | (sizes > SMALL_MAX + 0.5))).any():
        readings.append(False)
    for literal in readings:
        b = bounds(values, hidden, relations, literal)
        if b is None:
            continue
        low, high = b
        # Only a pin to the true value discloses anything (a wrong pin misleads).
        pinned |= (low == high) & (low == sizes) & (hidden | (sizes > 0))
    touched = np.zeros(values.size, dtype=bool)
    for cells, total in relations:
        touched[cells] = True
        touched[total] = True
    return [int(i) for i in np.flatnonzero(pinned & touched)]


def forced_zeros(values: np.ndarray, published: np.ndarray, relations: Sequence[Relation]
                 ) -> np.ndarray:
    """Zero cells that the ``published`` cells alone pin to 0, whatever else is hidden (e.g.
    the months under a published window total of 0): hiding one hides nothing, and leaves a
    ``*`` that can only be 0. Boolean mask over the flat cells."""
    zero = np.abs(values) == 0
    if not zero.any():
        return zero
    b = bounds(values, ~np.asarray(published, dtype=bool), relations, literal=False)
    return zero & ~published & (b[1] == 0) if b is not None else np.zeros_like(zero)


def protect(values: np.ndarray, relations: Sequence[Relation], *,
            hidden: np.ndarray | None = None, frozen: np.ndarray | None = None) -> np.ndarray:
    """Primary and secondary suppression of a flat vector of counts under additive relations.

    ``values``: the true counts (flat, any sign: sizes are used). ``relations``: (cells,
    total) pairs of flat indices. ``hidden``: cells to hide besides counts of 1 to 7.
    ``frozen``: cells published by another output, which this call may not hide (they are
    hidden only when the count rule itself hides them). Returns the boolean mask of hidden
    cells: after it, :func:`exposed_cells` finds nothing (unless only frozen cells are left).

    First every line with exactly one hidden cell gets its smallest further non-zero cell
    hidden; then the exact and bounds checks (``*`` read as 1 to 7 and as any count from 0)
    run over all relations, and each exposed cell gets the further cell (of those tried,
    smallest first) that leaves the fewest exposed. Zeros are hidden only when no non-zero
    cell is left to hide, and never a zero that the frozen totals (:func:`forced_zeros`) or,
    as a line's last resort, a shown total of 0 pins to 0.
    """
    values = np.abs(np.nan_to_num(np.asarray(values, dtype=np.float64).ravel(), nan=0.0))
    mask = _small_array(values)
    if hidden is not None:
        mask |= np.asarray(hidden, dtype=bool).ravel()
    fixed = (np.zeros(values.size, dtype=bool) if frozen is None
             else np.asarray(frozen, dtype=bool).ravel())
    fixed_shown = fixed & ~mask
    if not relations:
        return mask
    lines = [np.asarray(list(cells) + [total], dtype=np.intp) for cells, total in relations]
    matrix = incidence(relations, values.size)
    members: dict[int, set[int]] = {}
    for line in lines:
        for c in line.tolist():
            members.setdefault(c, set()).update(line.tolist())

    # Zeros that the frozen totals pin to 0 whatever is hidden are never hidden: a * there
    # could only be 0, and nothing else could be hidden to change that.
    pinned_zero = forced_zeros(values, fixed_shown, relations)

    def free_cells(candidates: Iterable[int], allow_zero: bool) -> list[int]:
        return sorted((c for c in candidates if not mask[c] and not fixed_shown[c]
                       and not pinned_zero[c] and (allow_zero or values[c] > 0)),
                      key=lambda c: (values[c], c))

    def _pins_zero(c: int) -> bool:
        trial = mask.copy()
        trial[c] = True
        b = bounds(values, trial, relations, literal=False)
        return b is not None and b[1][c] == 0

    def single_hidden_lines(allow_zero: bool) -> bool:
        """Hide the smallest free cell of every line holding exactly one hidden cell; True
        when anything was hidden."""
        any_change = False
        changed = True
        while changed:
            changed = False
            for line in lines:
                if int(mask[line].sum()) != 1:
                    continue
                free = free_cells(line.tolist(), allow_zero)
                if allow_zero:  # not a zero that a shown total of 0 pins (a * that is 0)
                    free = [c for c in free if values[c] > 0 or not _pins_zero(c)][:1]
                if free:
                    mask[free[0]] = True
                    changed = any_change = True
        return any_change

    def choose(exposed: list[int], allow_zero: bool) -> int | None:
        """The cell whose hiding leaves the fewest exposed cells (ties: the smallest)."""
        free = free_cells({c for t in exposed for c in members.get(t, ())}, allow_zero)
        best, best_left = None, math.inf
        for c in free[:_MAX_TRIALS]:
            trial = mask.copy()
            trial[c] = True
            left = len(exposed_cells(values, trial, relations, matrix))
            if left < best_left:
                best, best_left = c, left
            if left == 0:
                break
        return best

    for allow_zero in (False, True):
        for _ in range(values.size + 1):
            single_hidden_lines(allow_zero)
            exposed = exposed_cells(values, mask, relations, matrix)
            if not exposed:
                return mask
            pinned_shown = [t for t in exposed if not mask[t] and not fixed_shown[t]]
            choice = pinned_shown[0] if pinned_shown else choose(exposed, allow_zero)
            if choice is None:
                break
            mask[choice] = True
    return mask


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


def _linked_columns(block: pd.DataFrame) -> dict[str, str]:
    """Count columns that repeat another in every row of ``block`` (``n`` is the denominator
    of a rate or a median, the numerator of a count): they must be hidden together."""
    links: dict[str, str] = {}
    n = block["n"].to_numpy(dtype=np.float64)
    for col in ("denominator", "numerator"):
        other = block[col].to_numpy(dtype=np.float64)
        both = ~np.isnan(n) | ~np.isnan(other)
        if both.any() and np.allclose(np.nan_to_num(n), np.nan_to_num(other)):
            links["n"] = col
            break
    return links


def _counts_to_protect(block: pd.DataFrame, links: dict[str, str]
                       ) -> Iterator[tuple[str, np.ndarray]]:
    """Yield (column, counts) for each count column of ``block`` that secondary suppression
    works on: not a copy of another column (``links``, from :func:`_linked_columns`) and not
    missing throughout. The counts are float64, NaN where missing."""
    for col in _COUNT_COLUMNS:
        if col in links:
            continue
        raw = block[col].to_numpy(dtype=np.float64)
        if not np.isnan(raw).all():
            yield col, raw


def _protect_grid(block: pd.DataFrame, row_key: str, col_key: str | None,
                  row_total: str | None, windows: Sequence[Sequence[object]],
                  hide: pd.DataFrame) -> None:
    """Secondary suppression of one KPI's rows laid out as a grid (rows by ``row_key``, columns
    by ``col_key``), writing into ``hide`` (columns numerator/denominator/n).

    ``row_total``: the row label that is the sum of the other rows (All forces), used only
    where the sum holds exactly. ``windows``: groups of column labels whose sum another output
    publishes (the windows of a month table): each adds a frozen total column per row.
    """
    keys = [k for k in (row_key, col_key) if k]
    if len(block) < 2 or block.duplicated(keys).any():
        return  # one cell, or rows that are not a grid: the count rule alone applies
    rows = list(dict.fromkeys(block[row_key]))
    cols = list(dict.fromkeys(block[col_key])) if col_key else [None]
    if row_total is not None and row_total in rows:
        rows = [r for r in rows if r != row_total] + [row_total]
    c_pos = {c: j for j, c in enumerate(cols)}
    spans = [[c_pos[c] for c in w if c in c_pos] for w in windows]
    spans = [w for w in spans if len(w) >= 2]
    n_rows, n_cols = len(rows), len(cols) + len(spans)
    r_pos = {r: i for i, r in enumerate(rows)}
    where = {}
    for idx, rec in zip(block.index, block[keys].itertuples(index=False, name=None),
                        strict=True):
        where[idx] = r_pos[rec[0]] * n_cols + (c_pos[rec[-1]] if col_key else 0)
    links = _linked_columns(block)
    for col, raw in _counts_to_protect(block, links):
        grid = np.zeros(n_rows * n_cols)
        present = np.zeros(n_rows * n_cols, dtype=bool)
        for idx, v in zip(block.index, raw, strict=True):
            grid[where[idx]] = 0.0 if np.isnan(v) else abs(v)
            present[where[idx]] = True
        frozen = np.zeros(n_rows * n_cols, dtype=bool)
        relations: list[Relation] = []
        for k, span in enumerate(spans):  # months against each published window
            for i in range(n_rows):
                cells = [i * n_cols + j for j in span if present[i * n_cols + j]]
                total = i * n_cols + len(cols) + k
                grid[total] = grid[cells].sum()
                present[total] = frozen[total] = True
                if cells:
                    relations.append((cells, total))
        if row_total is not None and row_total in r_pos and n_rows > 2:
            last = n_rows - 1
            for j in range(n_cols):  # forces against All forces, where they add up
                cells = [i * n_cols + j for i in range(last) if present[i * n_cols + j]]
                total = last * n_cols + j
                if present[total] and cells and abs(
                        grid[cells].sum() - grid[total]) < _TOLERANCE * max(1.0, grid[total]):
                    relations.append((cells, total))
        if not relations:
            continue
        mask = protect(grid, relations, frozen=frozen)
        hide.loc[block.index, col] = [bool(mask[where[idx]]) for idx in block.index]
    for col, source in links.items():
        hide.loc[block.index, col] = hide.loc[block.index, source].to_numpy()


def _is_month(start: pd.Series, end: pd.Series) -> pd.Series:
    s, e = pd.to_datetime(start), pd.to_datetime(end)
    return (s.dt.to_period("M") == e.dt.to_period("M")) & (s.dt.day == 1)


def _secondary_hide(table: pd.DataFrame, windows: Sequence[tuple] | None) -> pd.DataFrame:
    """The secondary suppressions of a KPI table (by window or by month, one or more forces
    with or without All forces): boolean frame, columns numerator/denominator/n."""
    hide = pd.DataFrame(False, index=table.index, columns=list(_COUNT_COLUMNS))
    if table.empty or not {"force", "window_start", "window_end"} <= set(table.columns):
        return hide
    months = _is_month(table["window_start"], table["window_end"])
    period = pd.to_datetime(table["window_start"]).dt.to_period("M")
    span = table["window_start"].astype(str) + "/" + table["window_end"].astype(str)
    for _, block in table.groupby("kpi_id", sort=False):
        monthly = bool(months.loc[block.index].all()) and span.loc[block.index].nunique() >= 2
        if not monthly:
            # By window: forces against All forces, each window on its own.
            for _, win in block.groupby(span.loc[block.index], sort=False):
                _protect_grid(win, "force", None, ALL_FORCES, [], hide)
            continue
        b_period = period.loc[block.index]
        labels = sorted(set(b_period))
        groups = [[str(p) for p in labels if first <= p <= last]
                  for first, last in _month_windows(b_period, windows)]
        sub = block.assign(_month=b_period.astype(str))
        _protect_grid(sub, "force", "_month", ALL_FORCES, groups, hide)
    return hide


def _month_windows(periods: pd.Series, windows: Sequence[tuple] | None
                   ) -> list[tuple[pd.Period, pd.Period]]:
    """The windows months are protected against: those given, else the table's whole span."""
    if windows:
        return [(pd.Period(a, freq="M"), pd.Period(b, freq="M")) for a, b in windows]
    return [(periods.min(), periods.max())]


def _apply(kpi_table: pd.DataFrame, also_hide: pd.DataFrame | None = None,
           ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The panel table and a boolean mask (same index, columns value/numerator/denominator/n/
    ci_low/ci_high) of the cells hidden by the rule. ``also_hide`` (boolean, columns
    numerator/denominator/n) adds cells to hide, e.g. secondary suppressions: they are
    treated exactly like counts of 1 to 7."""
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

    is_prop = units == "proportion"
    is_count = units == "count"
    is_days = units == "days"
    is_cases = units == "cases"
    n_informational = table["kpi_id"].isin(_WORKFORCE_UNITS_N_INFORMATIONAL).to_numpy()

    small_num, small_den, small_n = _small_array(num), _small_array(den), _small_array(n)
    if also_hide is not None:
        extra = also_hide.reindex(index=index, fill_value=False)
        small_num = small_num | extra["numerator"].to_numpy(dtype=bool)
        small_den = small_den | extra["denominator"].to_numpy(dtype=bool)
        small_n = small_n | extra["n"].to_numpy(dtype=bool)
    # A median's denominator is its n: hidden together.
    small_den = np.where(is_days, small_den | small_n, small_den)
    small_n = np.where(is_days, small_den, small_n)
    r_num = np.where(small_num, np.nan, _round5_array(num))
    r_den = np.where(small_den, np.nan, _round5_array(den))
    # A workforce n counts team-month rows, not people: a panel does not need it, and months
    # of one row each would add up to their window's n exactly. Never shown to a panel.
    r_n = np.where(small_n | n_informational, np.nan, _round5_array(n))

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
    new_value[days] = _round_days_array(value[days])
    new_low[days] = _round_days_array(low[days])
    new_high[days] = _round_days_array(high[days])

    # Status: ok rows whose value is hidden become suppressed; so does any row whose n is
    # hidden (unless n only counts workforce rows).
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
    hidden["n"] = small_n | n_informational
    hidden["value"] = status == SUPPRESSED_STATUS
    hidden["ci_low"] = hidden["value"] & ~is_count & ~is_cases
    hidden["ci_high"] = hidden["ci_low"]
    return table, hidden


def _hide_for(kpi_table: pd.DataFrame, windows: Sequence[tuple] | None,
              context: pd.DataFrame | None) -> pd.DataFrame:
    """Secondary suppressions of ``kpi_table``; with ``context`` (the same KPIs for every
    force), worked out on the context and carried over by KPI, force and window, so a table
    of some forces hides exactly what the table of every force hides."""
    if context is None or kpi_table.empty:
        return _secondary_hide(kpi_table, windows)
    keys = ["kpi_id", "force", "window_start", "window_end"]
    ctx = context.drop_duplicates(keys).reset_index(drop=True)
    hide_ctx = _secondary_hide(ctx, windows)
    hide_ctx.index = pd.MultiIndex.from_frame(ctx[keys].astype(str))
    wanted = pd.MultiIndex.from_frame(kpi_table[keys].astype(str))
    carried = hide_ctx.reindex(wanted, fill_value=False)
    carried.index = kpi_table.index
    return carried.astype(bool) | _secondary_hide(kpi_table, windows)


def apply_panel(kpi_table: pd.DataFrame, *, windows: Sequence[tuple] | None = None,
                context: pd.DataFrame | None = None) -> pd.DataFrame:
    """The KPI long table as a panel may see it (see the module docstring for the rules).

    Same columns as the input (``kpi_id, force, window_start, window_end, value, numerator,
    denominator, n, ci_low, ci_high, status[, spc][, provisional]``); counts rounded to 5 or
    NaN where suppressed, ``n`` nullable ``Int64``, values and intervals recomputed from the
    rounded counts (medians in whole days), status ``suppressed`` where the value is hidden
    (``spc`` emptied there).

    Secondary suppression: for a table by window, forces against All forces (where the
    forces add up to it); for a table by month, the months against their window and forces
    against All forces month by month. ``windows``: the (first, last) months, as
    ``YYYY-MM`` or ``pd.Period``, of the windows whose totals the panel also sees (a share
    link's window); default the table's whole span. ``context``: the same table for every
    force (and All forces), when ``kpi_table`` holds only some of them: the suppressions are
    worked out on it, so a table of one force agrees with the table of all. Raises
    ``KeyError`` for a KPI id the registry does not know.
    """
    return _apply(kpi_table, _hide_for(kpi_table, windows, context))[0]


def apply_panel_marked(kpi_table: pd.DataFrame, *, windows: Sequence[tuple] | None = None,
                       context: pd.DataFrame | None = None) -> pd.DataFrame:
    """Like :func:`apply_panel`, but every hidden cell holds ``*`` (object columns) instead
    of NaN, for tables and CSV files; add :data:`FOOTNOTE` below them."""
    table, hidden = _apply(kpi_table, _hide_for(kpi_table, windows, context))
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


def _flat_relations(shape: tuple[int, int], has_row_total: bool, has_col_total: bool,
                    ) -> list[Relation]:
    cols = shape[1]
    return [([r * cols + c for r, c in cells], total[0] * cols + total[1])
            for cells, total in _line_groups(shape, has_row_total, has_col_total)]


def recoverable_cells(values: np.ndarray, hidden: np.ndarray, has_row_total: bool,
                      has_col_total: bool) -> list[tuple[int, int]]:
    """Hidden cells of a 2-D table with margins whose exact value follows from the shown cells
    and the additive relations (see :func:`recoverable_flat`)."""
    relations = _flat_relations(values.shape, has_row_total, has_col_total)
    cols = values.shape[1]
    return [(i // cols, i % cols) for i in recoverable_flat(
        values.ravel(), np.asarray(hidden).ravel(), relations)]


def _secondary(values: np.ndarray, hidden: np.ndarray, has_row_total: bool,
               has_col_total: bool) -> np.ndarray:
    """Complementary suppressions of a 2-D table with margins (:func:`protect`)."""
    relations = _flat_relations(values.shape, has_row_total, has_col_total)
    mask = protect(values.ravel(), relations, hidden=np.asarray(hidden).ravel())
    return mask.reshape(values.shape)


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
    (:func:`protect`) then hides the smallest further cells until no hidden cell can be worked
    out from a total and its siblings. Shown counts are rounded to the nearest 5 (margins are
    rounded from their true values, so rounded cells need not add up to the rounded total).

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
    numerators, denominators and ``n`` add up to the overall KPI that other outputs publish.
    Before the row rules, each of those counts gets primary and secondary suppression across
    the groups against that total (published elsewhere, so never hidden here), so a hidden
    group count cannot be worked out from the overall figure and the other groups. Then every
    row follows :func:`apply_panel` (rates from rounded counts, medians in whole days and
    hidden with their n...). Returns the same columns; hidden rows have status ``suppressed``.
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
        # The groups add up to the force's figure: a frozen total below them.
        _protect_breakdown_column(block, hide)
    return _apply(table, hide)[0]


def _protect_breakdown_column(block: pd.DataFrame, hide: pd.DataFrame) -> None:
    """Groups of one KPI x force x window against their (published, frozen) total."""
    links = _linked_columns(block)
    for col, raw in _counts_to_protect(block, links):
        sizes = np.abs(np.nan_to_num(raw, nan=0.0))
        values = np.append(sizes, sizes.sum())
        frozen = np.zeros(values.size, dtype=bool)
        frozen[-1] = True
        mask = protect(values, [(list(range(sizes.size)), sizes.size)], frozen=frozen)
        hide.loc[block.index, col] = hide.loc[block.index, col].to_numpy() | mask[:-1]
    for col, source in links.items():
        both = hide.loc[block.index, [col, source]].any(axis=1).to_numpy()
        hide.loc[block.index, col] = both
        hide.loc[block.index, source] = both
