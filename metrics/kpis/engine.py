"""The KPI engine: every KPI of ``metrics.registry``, per force and for all forces, per window
or per month, in one vectorised pass per KPI.

How it stays fast (issue 8): each event gets its month index once; events are counted into a
(force x month) panel with one ``bincount``; windows are sums of monthly panels; "All forces"
is the sum over forces; stock measures ("at window end") come from a cumulative sum of
+1/-1 events over months; medians (and their order-statistic CIs) come from one sort per KPI;
the repeat-suspect flag comes from one sort by (suspect, date) and neighbour gaps. Nothing
loops over rows or over force x month cells; the only Python loop is over KPIs.
Derived arrays that depend only on the export (month keys, id joins, flags) are cached per
loaded table (``dataset_cache``; tables are read-only by contract), so a second call on the
same Dataset skips them; ``prepare(dataset)`` fills that cache up front.

Decisions:
- Windows are whole calendar months, boundaries inclusive: ``window_start`` is the first day
  of the first month, ``window_end`` the last day of the last month.
- Forces: the union of force names found in cases and in the other tables' own ``force``
  columns (a device, order, breach, survey response or workforce row belongs to the force in
  its own ``force`` column; a breach's force is ``breaches.force``, not its order's). "All
  forces" pools every force in the export, whatever ``forces`` selects for output.
- A case "has an outcome" when ``outcome_code`` is not null; it is open at a day ``e`` when
  ``recorded_date <= e`` and (no outcome, or ``outcome_date > e``).
- Repeat suspects: another case with the same ``suspect_id``, any force, anywhere in the export
  (also outside the window), recorded at most 1,095 days before or after (same day counts).
- ``needs_assessment_7d``: assessment date minus recorded date <= 7 days (an assessment dated
  before recording counts as within 7 days); no assessment counts as not within.
- Median KPIs skip items whose start date is missing (e.g. advice received, never requested).
- Investigators are keyed by (force, investigator_id); only open cases with an investigator
  count; ``investigators_over_15`` is > 15 open cases (15 is not over).
- Devices: seizure month/date is the UK local date of ``seized_at``; "within 24 hours" is real
  elapsed time ``returned_at - seized_at <= 24 h`` (exactly 24 h counts), across clock changes.
- Workforce stock ratios use the rows of the window's last month; flow ratios sum the
  window's months; a team-month row with either figure missing is left out of both sums.
  ``vacancy_rate``'s numerator is establishment minus in post (negative when
  over-established: then no Wilson interval).
- n: a proportion's n is its denominator; a median's n is its number of items (also shown as
  the denominator, numerator empty); workforce n is the number of team-month rows used; a
  count's n is the count itself (min n 0, so a zero count is a value, status ok).
- Status: ``no_data`` when the source table or column is missing, or the denominator is 0
  (for medians: no items); else ``insufficient`` when n < the KPI's ``min_n``; else ``ok``.
  ``value``, ``ci_low`` and ``ci_high`` are NaN unless status is ``ok``; numerator,
  denominator and n are always filled where they exist.
- Proportions carry 95% Wilson intervals (``_arrays.wilson_arrays``, the vectorised form of
  ``metrics.stats.wilson``, also for workforce ratios of days/FTE); medians carry the
  order-statistic interval of ``metrics.stats.median_ci``; caseload (a mean) carries none.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from metrics import registry
from metrics.dataset import Dataset
from metrics.kpis import _arrays as A
from metrics.registry import KPI
from metrics.stats import binom_cdf, binom_ppf

ALL_FORCES = "All forces"
COLUMNS: tuple[str, ...] = (
    "kpi_id", "force", "window_start", "window_end", "value", "numerator", "denominator", "n",
    "ci_low", "ci_high", "status",
)
SCOPES = ("all", "adult_rape", "child")
STATUSES = ("ok", "insufficient", "no_data")

CASE_DATE_COLUMNS = ("recorded_date", "outcome_date", "early_advice_requested_date",
                     "early_advice_received_date", "needs_assessment_date",
                     "isva_referral_date", "isva_start_date", "s63g_applied_date")
NFA_CODES = (9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 21)
WITHDRAWAL_CODES = (14, 16)
PROTECTIVE_ORDER_TYPES = ("SRO", "SHPO", "interim_SHPO", "restraining_order",
                          "non_molestation_order")
REPEAT_WINDOW_DAYS = 1095
UPDATE_WINDOW_DAYS = 28
DEVICE_RETURN_HOURS = 24.0
NEEDS_ASSESSMENT_DAYS = 7
CASELOAD_LIMIT = 15
SURVEY_AGREE = (4, 5)


_CACHE: dict[int, tuple[weakref.ref, dict[str, Any]]] = {}


def dataset_cache(table: pd.DataFrame) -> dict[str, Any]:
    """A scratch dict tied to one loaded table's lifetime, for derived arrays that depend on
    the export only (string-id factorisations, repeat-suspect flags), so repeated KPI calls on
    the same loaded Dataset (every Streamlit rerun) do not hash a million ids again.

    Loaded tables are read-only by contract (``metrics.dataset``); the entry is dropped when
    the table is garbage-collected.
    """
    key = id(table)
    hit = _CACHE.get(key)
    if hit is not None and hit[0]() is table:
        return hit[1]
    store: dict[str, Any] = {}
    _CACHE[key] = (weakref.ref(table, lambda _r, key=key: _CACHE.pop(key, None)), store)
    return store


def cached(table: pd.DataFrame, key: Any, make: Callable[[], Any]) -> Any:
    """``make()``, computed once per loaded table and ``key`` (see :func:`dataset_cache`)."""
    store = dataset_cache(table)
    if key not in store:
        store[key] = make()
    return store[key]


def _date_keys(store: dict[str, Any], table: pd.DataFrame, column: str) -> None:
    """Cache both the month index and the day number of ``table[column]`` (one pass)."""
    store[("months", column)], store[("days", column)] = A.month_and_day(table[column])


def months_of(table: pd.DataFrame, column: str) -> np.ndarray:
    """Month index of each date in ``table[column]`` (cached per loaded table)."""
    store = dataset_cache(table)
    key = ("months", column)
    if key not in store:
        _date_keys(store, table, column)
    return store[key]


def days_of(table: pd.DataFrame, column: str) -> np.ndarray:
    """Day number (float, NaN if missing) of each date in ``table[column]`` (cached)."""
    store = dataset_cache(table)
    key = ("days", column)
    if key not in store:
        _date_keys(store, table, column)
    return store[key]


class KpiInputError(ValueError):
    """A bad argument to ``compute_kpis``: unknown KPI id or force, bad month or range."""


@dataclass
class Cells:
    """One KPI's results, each array of shape (forces + 1, windows); the last row is All forces.

    ``value`` None means value = numerator / denominator. ``missing`` True means the source
    table (or column) is absent: every cell is ``no_data``.
    """

    numerator: np.ndarray
    denominator: np.ndarray
    n: np.ndarray
    value: np.ndarray | None = None
    ci_low: np.ndarray | None = None
    ci_high: np.ndarray | None = None
    missing: bool = False


def to_period(month: str | pd.Period) -> pd.Period:
    """A "YYYY-MM" string (or Period/Timestamp) as a monthly ``pd.Period``; KpiInputError if bad."""
    if isinstance(month, pd.Period):
        return month.asfreq("M")
    text = str(month).strip()
    if len(text) != 7 or text[4] != "-" or not (text[:4] + text[5:]).isdigit():
        raise KpiInputError(f"bad month {month!r}: expected YYYY-MM")
    year, mon = int(text[:4]), int(text[5:])
    if not 1 <= mon <= 12 or year < 1900:
        raise KpiInputError(f"bad month {month!r}: expected YYYY-MM")
    return pd.Period(year=year, month=mon, freq="M")


def _month_number(p: pd.Period) -> int:
    return (p.year - 1970) * 12 + p.month - 1


class _Context:
    """Shared, lazily computed arrays for one ``compute_kpis`` call."""

    def __init__(self, dataset: Dataset, start: pd.Period, end: pd.Period, by: str) -> None:
        self.ds = dataset
        self.by = by
        self.m0 = _month_number(start)
        self.M = _month_number(end) - self.m0 + 1
        self.W = self.M if by == "month" else 1
        names: set[str] = set()
        for table_name in ("cases", "orders", "breaches", "devices", "survey_responses",
                           "workforce"):
            table = dataset.get(table_name)
            if table is not None and "force" in table.columns:
                names |= A.distinct_names(table["force"])
        self.forces = pd.Index(sorted(names), dtype=object)
        self.F = len(self.forces)

    # -- reshaping ---------------------------------------------------------------------------
    def flow(self, panel: np.ndarray) -> np.ndarray:
        """(F, M) monthly totals -> (F+1, W) window totals with the All forces row."""
        win = panel if self.by == "month" else panel.sum(axis=1, keepdims=True)
        return np.vstack([win, win.sum(axis=0, keepdims=True)])

    def at_end(self, panel: np.ndarray) -> np.ndarray:
        """(F, M) month-end stock -> (F+1, W): each window's last month, with All forces."""
        win = panel if self.by == "month" else panel[:, -1:]
        return np.vstack([win, win.sum(axis=0, keepdims=True)])

    def empty(self) -> np.ndarray:
        return np.full((self.F + 1, self.W), np.nan)

    def missing(self) -> Cells:
        e = self.empty()
        return Cells(e, e.copy(), np.zeros_like(e), missing=True)

    # -- table access --------------------------------------------------------------------------
    def table(self, name: str, *columns: str) -> pd.DataFrame | None:
        """The table, or None when it (or one of ``columns``) is missing."""
        t = self.ds.get(name)
        if t is None or any(c not in t.columns for c in columns):
            return None
        return t

    def force_codes(self, table: pd.DataFrame) -> np.ndarray:
        """Position of each row's force in ``self.forces`` (cached per table and force list)."""
        store = dataset_cache(table)
        key = ("force_codes", tuple(self.forces))
        if key not in store:
            store[key] = A.codes_for(table["force"], self.forces)
        return store[key]

    @cached_property
    def cases(self) -> pd.DataFrame:
        return self.ds.cases

    @cached_property
    def case_force(self) -> np.ndarray:
        return self.force_codes(self.cases)

    def case_month(self, column: str) -> np.ndarray:
        """Month index of a cases date column (cached per loaded table; do not modify)."""
        return months_of(self.cases, column)

    def case_days(self, column: str) -> np.ndarray:
        """Day numbers of a cases date column (cached per loaded table; do not modify)."""
        return days_of(self.cases, column)

    @cached_property
    def has_outcome(self) -> np.ndarray:
        return cached(self.cases, "has_outcome",
                      lambda: self.cases["outcome_code"].notna().to_numpy())

    @cached_property
    def outcome_code(self) -> np.ndarray:
        """Outcome codes as int64 (-1 where null), cached per loaded table."""
        return cached(self.cases, "outcome_code",
                      lambda: self.cases["outcome_code"].fillna(-1).to_numpy(dtype=np.int64))

    @cached_property
    def close_month(self) -> np.ndarray:
        """Month a case stopped being open (its outcome month); huge when still open."""
        def make() -> np.ndarray:
            m = self.case_month("outcome_date").copy()
            m[~self.has_outcome | (m == A.NO_MONTH)] = np.iinfo(np.int64).max // 2
            return m

        return cached(self.cases, "close_month", make)

    @cached_property
    def rec_month(self) -> np.ndarray:
        return self.case_month("recorded_date")

    @cached_property
    def open_stock(self) -> np.ndarray:
        """(F, M) cases open at each month end."""
        return A.stock_panel(self.case_force, self.rec_month, self.close_month, self.F, self.m0,
                             self.M, mask=self.rec_month != A.NO_MONTH)

    def cell_key(self, force: np.ndarray, month: np.ndarray) -> np.ndarray:
        """Per item, its (force, month) cell number ``force * M + month offset``, or -1 when it
        has no force or falls outside the range. Computed once per call for each (force,
        month) pair of arrays (those are cached per table, so their identity is stable)."""
        cache = self.__dict__.setdefault("_keys", {})
        ident = (id(force), id(month))
        hit = cache.get(ident)
        if hit is not None and hit[0] is force and hit[1] is month:
            return hit[2]
        rel = month - self.m0
        inside = (force >= 0) & (rel >= 0) & (rel < self.M)
        key = np.where(inside, force * self.M + rel, -1)
        cache[ident] = (force, month, key)
        return key

    def _bincount(self, key: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        """(F, M) counts of items with ``key >= 0`` (and ``mask``)."""
        keep = key >= 0 if mask is None else (key >= 0) & mask
        counts = np.bincount(key[keep], minlength=self.F * self.M)
        return counts.astype(np.float64).reshape(self.F, self.M)

    # -- generic KPI shapes ----------------------------------------------------------------------
    def proportion(self, force: np.ndarray, month: np.ndarray, success: np.ndarray,
                   eligible: np.ndarray | None = None) -> Cells:
        """Share of eligible events (dated by ``month``) that are successes, with Wilson CIs."""
        key = self.cell_key(force, month)
        den = self.flow(self._bincount(key, eligible))
        ok = success if eligible is None else success & eligible
        num = self.flow(self._bincount(key, ok))
        return Cells(num, den, den.copy())

    def count(self, force: np.ndarray, month: np.ndarray, mask: np.ndarray | None) -> Cells:
        num = self.flow(self._bincount(self.cell_key(force, month), mask))
        return Cells(num, self.empty(), num.copy(), value=num.copy())

    def median(self, force: np.ndarray, month: np.ndarray, table: pd.DataFrame, name: str,
               make_values: Callable[[], np.ndarray]) -> Cells:
        """Median of the values (days; NaN = not an item) that ``make_values`` gives for the
        rows of ``table``, over items dated by ``month``, per force and window. The values and
        their ascending order are computed once per loaded table (key ``name``)."""
        def items() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            values = make_values()
            keep = np.flatnonzero(~np.isnan(values) & (force >= 0) & (month != A.NO_MONTH))
            order = keep[_argsort_values(values[keep])]
            return values[order], force[order], month[order]

        # the items (non-missing values) in ascending order of value, with their force and
        # month: computed once per loaded table and force list
        sv, sf, sm = cached(table, ("median_items", name, tuple(self.forces)), items)
        rel = sm - self.m0
        inside = (rel >= 0) & (rel < self.M)
        win = np.where(inside, rel if self.by == "month" else 0, -1)
        per_key = np.where(inside, sf * self.W + win, -1)
        rank_ci = _median_rank_ci()
        med_f, n_f, lo_f, hi_f = A.group_medians(per_key, sv, self.F * self.W, rank_ci,
                                                 values_sorted=True)
        med_a, n_a, lo_a, hi_a = A.group_medians(win, sv, self.W, rank_ci, values_sorted=True)

        def stack(f: np.ndarray, a: np.ndarray) -> np.ndarray:
            return np.vstack([f.reshape(self.F, self.W), a.reshape(1, self.W)])

        n = stack(n_f, n_a)
        return Cells(self.empty(), n, n.copy(), value=stack(med_f, med_a),
                     ci_low=stack(lo_f, lo_a), ci_high=stack(hi_f, hi_a))


def _argsort_values(values: np.ndarray) -> np.ndarray:
    """Positions sorting ``values`` (no NaN) ascending. Whole numbers of days within the int16
    range use NumPy's radix sort (several times faster than a float sort)."""
    if values.size and values.min() >= -(2**15) and values.max() < 2**15 \
            and np.array_equal(values, np.floor(values)):
        return np.argsort(values.astype(np.int16), kind="stable")
    return np.argsort(values, kind="stable")


def median_ci_ranks(sizes: np.ndarray, confidence: float = 0.95) -> tuple[np.ndarray,
                                                                          np.ndarray]:
    """1-based ranks (low, high) of the order-statistic interval for a median, for each group
    size in ``sizes``: the rule of ``metrics.stats.median_ci`` (l is the largest rank with
    P(B <= l - 1) <= (1 - confidence)/2, B ~ Binomial(n, 1/2); high = n - l + 1), vectorised
    over sizes. NaN where n is too small to reach the confidence.
    """
    n = np.asarray(sizes, dtype=np.float64)
    tail = (1.0 - confidence) / 2.0
    c = binom_ppf(tail, n, 0.5)
    lm1 = np.where(binom_cdf(c, n, 0.5) <= tail, c, c - 1)
    low = lm1 + 1
    bad = (low < 1) | (n <= 0) | np.isnan(low)
    high = n - low + 1
    return np.where(bad, np.nan, low), np.where(bad, np.nan, high)


def _median_rank_ci() -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]] | None:
    """The rank rule for median CIs, once ``metrics.stats.median_ci`` exists (else None)."""
    from metrics import stats

    return median_ci_ranks if hasattr(stats, "median_ci") else None


# -- the KPIs -----------------------------------------------------------------------------------
# Each takes the context and returns Cells. Registered by KPI id below.


def _charge_rate(c: _Context) -> Cells:
    m = c.case_month("outcome_date")
    return c.proportion(c.case_force, m, c.outcome_code == 1, c.has_outcome)


def _charge_rate_cohort(c: _Context) -> Cells:
    return c.proportion(c.case_force, c.rec_month, c.outcome_code == 1)


def _days_to_charge(c: _Context) -> Cells:
    def make() -> np.ndarray:
        days = c.case_days("outcome_date") - c.case_days("recorded_date")
        days[c.outcome_code != 1] = np.nan
        return days

    return c.median(c.case_force, c.case_month("outcome_date"), c.cases, "days_to_charge", make)


def _early_advice_days(c: _Context) -> Cells:
    return c.median(c.case_force, c.case_month("early_advice_received_date"), c.cases,
                    "early_advice_days", lambda: c.case_days("early_advice_received_date")
                    - c.case_days("early_advice_requested_date"))


def _suspect_arrest_rate(c: _Context) -> Cells:
    arrested = c.cases["suspect_arrested"]
    yes, known = cached(c.cases, "arrested", lambda: (
        arrested.fillna(False).to_numpy(dtype=bool), arrested.notna().to_numpy()))
    return c.proportion(c.case_force, c.rec_month, yes, known)


def factorize_codes(values: pd.Series) -> tuple[np.ndarray, int]:
    """(int64 code per row, -1 where missing; number of distinct codes) for an id column.

    Categoricals use their codes; Arrow-backed strings use Arrow's dictionary encoding (which
    releases the GIL, so it can overlap with other work); anything else ``pd.factorize``.
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy().astype(np.int64), len(values.cat.categories)
    if hasattr(values.array, "__arrow_array__") and isinstance(values.dtype, pd.StringDtype):
        import pyarrow as pa
        import pyarrow.compute as pc

        encoded = pc.dictionary_encode(pa.chunked_array(pa.array(values.array)))
        encoded = encoded.combine_chunks() if hasattr(encoded, "combine_chunks") else encoded
        codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)
        return codes.astype(np.int64), len(encoded.dictionary)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return codes.astype(np.int64), len(uniques)


def repeat_suspect_flags(suspect_id: pd.Series, recorded_date: pd.Series,
                         window_days: int = REPEAT_WINDOW_DAYS) -> np.ndarray:
    """Per case: True when its suspect_id is on at least one other case (any force) recorded
    within ``window_days`` days before or after it (inclusive). One sort by (suspect, date);
    a case qualifies when its previous or next neighbour has the same suspect and is close.
    """
    from metrics.load import id_keys

    codes = id_keys(suspect_id)  # regular ids (S0001234): integer keys, no string hashing
    if codes is None:
        codes, _ = factorize_codes(suspect_id)
    days = A.day_number(recorded_date)
    valid = (codes >= 0) & ~np.isnan(days)
    idx = np.flatnonzero(valid)
    order = None
    if len(idx):
        day = days[idx].astype(np.int64)
        lo = int(day.min())
        span = int(day.max()) - lo + 1
        if int(codes[idx].max()) < (2**62) // span:  # one int64 key (suspect, day): a
            # single unstable sort is exact here, as rows equal in both get the same flag
            order = np.argsort(codes[idx] * span + (day - lo))
    if order is None:
        order = np.lexsort((days[idx], codes[idx]))
    rows = idx[order]
    sc = codes[rows]
    sd = days[rows]
    close = (sc[1:] == sc[:-1]) & (sd[1:] - sd[:-1] <= window_days)
    flag_sorted = np.zeros(len(rows), dtype=bool)
    flag_sorted[1:] |= close
    flag_sorted[:-1] |= close
    flags = np.zeros(len(suspect_id), dtype=bool)
    flags[rows] = flag_sorted
    return flags


def _repeat_suspect_share(c: _Context) -> Cells:
    flags, named = repeat_flags(c.cases)
    return c.proportion(c.case_force, c.rec_month, flags, named)


def _orders_granted(c: _Context) -> Cells:
    t = c.table("orders", "force", "order_type", "granted_date")
    if t is None:
        return c.missing()
    types = t["order_type"].astype(object).isin(PROTECTIVE_ORDER_TYPES).to_numpy()
    return c.count(c.force_codes(t), months_of(t, "granted_date"), types)


def _breach_action_rate(c: _Context) -> Cells:
    t = c.table("breaches", "force", "breach_date", "action")
    if t is None:
        return c.missing()
    acted = t["action"].astype(object).isin(("arrest", "charge")).to_numpy()
    return c.proportion(c.force_codes(t), months_of(t, "breach_date"), acted)


def _s63g_applications(c: _Context) -> Cells:
    if "s63g_applied_date" not in c.cases.columns:
        return c.missing()
    return c.count(c.case_force, c.case_month("s63g_applied_date"), None)


def _victim_withdrawal_rate(c: _Context) -> Cells:
    withdrawn = cached(c.cases, "withdrawn", lambda: np.isin(c.outcome_code, WITHDRAWAL_CODES))
    return c.proportion(c.case_force, c.case_month("outcome_date"), withdrawn, c.has_outcome)


def _needs_assessment_7d(c: _Context) -> Cells:
    gap = c.case_days("needs_assessment_date") - c.case_days("recorded_date")
    with np.errstate(invalid="ignore"):
        within = gap <= NEEDS_ASSESSMENT_DAYS  # NaN (no assessment) compares False
    return c.proportion(c.case_force, c.rec_month, within)


def _lookup_rows(cases: pd.DataFrame, ids: pd.Series) -> np.ndarray:
    """Row position in ``cases`` of each case id in ``ids`` (-1 where absent).

    Arrow-backed string columns (what ``metrics.load`` gives) are matched with Arrow's
    ``index_in`` (about twice as fast as a pandas Index lookup, which converts to Python
    strings); other dtypes use a pandas Index, cached per loaded cases table.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    case_ids, wanted = cases["case_id"], ids
    if hasattr(case_ids.array, "__arrow_array__") and hasattr(wanted.array, "__arrow_array__"):
        value_set = cached(cases, "case_id_arrow",
                           lambda: pa.chunked_array(pa.array(case_ids.array)).combine_chunks())
        found = pc.index_in(pa.array(wanted.array), value_set=value_set)
        return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    index = cached(cases, "case_index", lambda: pd.Index(case_ids))
    return index.get_indexer(wanted).astype(np.int64)


def update_case_rows(cases: pd.DataFrame, updates: pd.DataFrame,
                     select: np.ndarray | None = None) -> np.ndarray:
    """Row position in ``cases`` of each victim update's case (-1 if none); with ``select``
    (positions), only of those updates.

    When most updates are needed, the whole mapping is computed once and cached per
    (cases, victim_updates) pair; a small selection (one window's last 28 days) is looked
    up directly.
    """
    joins: dict[int, tuple[weakref.ref, np.ndarray]] = dataset_cache(updates).setdefault(
        "case_rows", {})
    hit = joins.get(id(cases))
    if hit is not None and hit[0]() is cases:
        return hit[1] if select is None else hit[1][select]
    if select is not None and len(select) < len(updates) // 4:
        return _lookup_rows(cases, updates["case_id"].iloc[select])
    rows = _lookup_rows(cases, updates["case_id"])
    for key in [k for k, (ref, _) in joins.items() if ref() is None]:
        del joins[key]  # joins with case tables that no longer exist
    joins[id(cases)] = (weakref.ref(cases), rows)
    return rows if select is None else rows[select]


def _seed_update_rows(dataset: Dataset) -> None:
    """Put the victim-update -> case row positions that ``load_dataset`` found during its
    foreign-key check into the join cache (when they are for these very tables), so the ids
    are not matched a second time."""
    updates = dataset.get("victim_updates")
    if updates is None or "cases" not in dataset.tables:
        return
    cases = dataset.cases
    joins: dict[int, tuple[weakref.ref, np.ndarray]] = dataset_cache(updates).setdefault(
        "case_rows", {})
    hit = joins.get(id(cases))
    if hit is not None and hit[0]() is cases:
        return
    from metrics.load import foreign_key_rows

    rows = foreign_key_rows(dataset, "victim_updates", "case_id", "cases", "case_id")
    if rows is not None:
        joins[id(cases)] = (weakref.ref(cases), rows)


def prepare(dataset: Dataset) -> None:
    """Compute and cache, once, the derived arrays that depend only on the export (id joins,
    repeat-suspect flags, month keys, UK local seizure dates), so the first ``compute_kpis``
    call after loading is as fast as later ones. Call it where the loaded Dataset is cached.
    Returns nothing; safe to call more than once.
    """
    updates = dataset.get("victim_updates")
    if updates is not None and "case_id" in updates.columns:
        _seed_update_rows(dataset)
        update_case_rows(dataset.cases, updates)
    last = dataset.as_at
    month = pd.Period(last, freq="M") if last is not None else pd.Period("2000-01", freq="M")
    compute_kpis(dataset, month, month)


def updated_at_month_end(cases: pd.DataFrame, updates: pd.DataFrame,
                         close_month: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The (case row, month index) pairs, each once, where the case is open at the end of that
    month and has a victim update in the 28 days ending there. Every month has at least 28
    days, so an update can only count for the end of its own month. Export-level: cached per
    (cases, victim_updates) pair; a KPI call only counts the pairs in its range."""
    store = dataset_cache(updates).setdefault("updated_at_month_end", {})
    hit = store.get(id(cases))
    if hit is not None and hit[0]() is cases:
        return hit[1]
    day, missing = A._days_int(updates["contact_date"])  # whole days; flags from a day table
    case_row = update_case_rows(cases, updates)
    if missing.all():
        sel = np.zeros(0, dtype=np.int64)
        month = np.zeros(0, dtype=np.int64)
    else:
        lo_day = int(day[~missing].min()) if missing.any() else int(day.min())
        hi_day = int(day[~missing].max()) if missing.any() else int(day.max())
        all_days = np.arange(lo_day, hi_day + 1)
        month_of_day = all_days.astype("datetime64[D]").astype("datetime64[M]").astype(
            np.int64)
        month_end = (month_of_day + 1).astype("datetime64[M]").astype("datetime64[D]").astype(
            np.int64) - 1
        counted = all_days >= month_end - (UPDATE_WINDOW_DAYS - 1)  # the 28 days ending there
        rel = day - lo_day
        rel[missing] = 0
        keep = counted.take(rel) & (case_row >= 0)
        if missing.any():
            keep &= ~missing
        sel = np.flatnonzero(keep)
        month = month_of_day.take(rel[sel])
    row = case_row[sel]
    rec = months_of(cases, "recorded_date")
    open_then = (rec[row] <= month) & (close_month[row] > month)
    row, month = row[open_then], month[open_then]
    lo = int(month.min()) if len(month) else 0
    span = (int(month.max()) - lo + 1) if len(month) else 1
    pair = np.sort(row.astype(np.int64) * span + (month - lo))  # sort + neighbour diff is
    if len(pair):                                              # far faster than hashing
        pair = pair[np.concatenate(([True], pair[1:] != pair[:-1]))]
    result = (pair // span, pair % span + lo)
    store[id(cases)] = (weakref.ref(cases), result)
    return result


def _victim_updated_28d(c: _Context) -> Cells:
    t = c.table("victim_updates", "case_id", "contact_date")
    if t is None:
        return c.missing()
    row, month = updated_at_month_end(c.cases, t, c.close_month)
    num = c.at_end(A.panel(c.case_force[row], month, c.F, c.m0, c.M))
    den = c.at_end(c.open_stock)
    return Cells(num, den, den.copy())


def _nfa_explained_in_person(c: _Context) -> Cells:
    nfa = cached(c.cases, "nfa", lambda: np.isin(c.outcome_code, NFA_CODES))
    explained = cached(c.cases, "nfa_explained", lambda: c.cases["nfa_explained_in_person"]
                       .fillna(False).to_numpy(dtype=bool))
    return c.proportion(c.case_force, c.case_month("outcome_date"), explained, nfa)


def _isva_wait_days(c: _Context) -> Cells:
    return c.median(c.case_force, c.case_month("isva_start_date"), c.cases, "isva_wait_days",
                    lambda: c.case_days("isva_start_date") - c.case_days("isva_referral_date"))


def _workforce(c: _Context, num_col: str, den_col: str, stock: bool,
               complement: bool = False) -> Cells:
    t = c.table("workforce", "force", "month", num_col, den_col)
    if t is None:
        return c.missing()
    f = c.force_codes(t)
    m = months_of(t, "month")
    # a team-month row counts only when both of its figures are recorded
    both = (t[num_col].notna() & t[den_col].notna()).to_numpy()
    num_v = t[num_col].fillna(0).to_numpy(dtype=np.float64)
    den_v = t[den_col].fillna(0).to_numpy(dtype=np.float64)
    if complement:  # e.g. vacancy = establishment - in post
        num_v = den_v - num_v
    reshape = c.at_end if stock else c.flow
    num = reshape(A.panel(f, m, c.F, c.m0, c.M, weights=num_v, mask=both))
    den = reshape(A.panel(f, m, c.F, c.m0, c.M, weights=den_v, mask=both))
    rows = reshape(A.panel(f, m, c.F, c.m0, c.M, mask=both))
    # FTE sums carry binary floating-point noise (10.0 - 8.8 = 1.1999999999999993)
    return Cells(np.round(num, 6), np.round(den, 6), rows)


def investigator_codes(cases: pd.DataFrame) -> tuple[np.ndarray, int]:
    """``factorize_codes`` of ``cases.investigator_id``, cached per loaded table."""
    return cached(cases, "investigator_codes", lambda: factorize_codes(cases["investigator_id"]))


def repeat_flags(cases: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(repeat-suspect flag, has a suspect) per case, cached per loaded table."""
    sid = cases["suspect_id"]
    return cached(cases, "repeat_flags", lambda: (
        repeat_suspect_flags(sid, cases["recorded_date"]), sid.notna().to_numpy()))


def _prefetch(dataset: Dataset, kpi_ids: set[str]) -> None:
    """Compute the export-level id work the requested KPIs need and the cache lacks (string
    hashing: the victim-update join, suspect and investigator codes) on two threads at once.
    Arrow's hashing releases the GIL, so on a first call this roughly halves the wall time."""
    cases = dataset.cases
    store = dataset_cache(cases)
    jobs: list[Callable[[], Any]] = []
    updates = dataset.get("victim_updates")
    if "victim_updated_28d" in kpi_ids:
        _seed_update_rows(dataset)
    if ("victim_updated_28d" in kpi_ids and updates is not None and "case_id" in updates.columns
            and "case_id" in cases.columns):
        joins = dataset_cache(updates).get("case_rows", {})
        hit = joins.get(id(cases))
        if hit is None or hit[0]() is not cases:
            jobs.append(lambda: update_case_rows(cases, updates))
    if "repeat_suspect_share" in kpi_ids and "suspect_id" in cases.columns \
            and "repeat_flags" not in store:
        jobs.append(lambda: repeat_flags(cases))
    if kpi_ids & {"caseload_per_investigator", "investigators_over_15"} \
            and "investigator_id" in cases.columns and "investigator_codes" not in store:
        jobs.append(lambda: investigator_codes(cases))
    dated = [(cases, col) for col in CASE_DATE_COLUMNS if col in cases.columns]
    missing = [(t, col) for t, col in dated if ("months", col) not in dataset_cache(t)]
    if missing:
        def date_keys() -> None:
            for t, col in missing:
                months_of(t, col)
                days_of(t, col)

        jobs.append(date_keys)
    if len(jobs) < 2:
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=2) as pool:
        for future in [pool.submit(job) for job in jobs]:
            future.result()


def _caseload(c: _Context) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(open cases with an investigator, investigators holding them, those over 15), each
    (F+1, W), at each window end. Investigators are keyed by (force, investigator_id)."""
    cache = c.__dict__.setdefault("_caseload", None)
    if cache is not None:
        return cache
    def pairs() -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        codes, n_ids = investigator_codes(c.cases)
        has = (codes >= 0) & (c.case_force >= 0) & (c.rec_month != A.NO_MONTH)
        # pair key (force, investigator) -> dense id
        pair = c.case_force[has].astype(np.int64) * (n_ids + 1) + codes[has]
        pair_id, pair_vals = pd.factorize(pair)
        pair_force = (np.asarray(pair_vals) // (n_ids + 1)).astype(np.int64)
        return has, pair_id.astype(np.int64), pair_force, len(pair_vals)

    has, pair_id, pair_force, n_pairs = cached(
        c.cases, ("investigator_pairs", tuple(c.forces)), pairs)
    # open cases per (force, investigator) at each month end
    held = A.stock_panel(pair_id, c.rec_month[has], c.close_month[has], n_pairs, c.m0, c.M)
    if c.by == "window":
        held = held[:, -1:]
    holding = held > 0
    over = held > CASELOAD_LIMIT
    width = held.shape[1]

    def by_force(x: np.ndarray) -> np.ndarray:
        out = np.zeros((c.F, width))
        np.add.at(out, pair_force, x)
        return np.vstack([out, out.sum(axis=0, keepdims=True)])

    result = (by_force(held), by_force(holding.astype(np.float64)),
              by_force(over.astype(np.float64)))
    c.__dict__["_caseload"] = result
    return result


def _caseload_per_investigator(c: _Context) -> Cells:
    cases_held, investigators, _ = _caseload(c)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = cases_held / investigators
    return Cells(cases_held.copy(), investigators.copy(), investigators.copy(), value=value,
                 ci_low=c.empty(), ci_high=c.empty())


def _investigators_over_15(c: _Context) -> Cells:
    _, investigators, over = _caseload(c)
    return Cells(over.copy(), investigators.copy(), investigators.copy())


def _victim_demographics_complete(c: _Context) -> Cells:
    cs = c.cases
    complete = cached(cs, "demographics_complete", lambda: (
        cs["victim_sex"].notna() & cs["victim_age_band"].notna()
        & cs["victim_ethnicity"].notna()
        & (cs["victim_ethnicity"].astype(object) != "not_stated")).to_numpy(dtype=bool))
    return c.proportion(c.case_force, c.rec_month, complete)


@dataclass
class _Devices:
    force: np.ndarray
    owner: np.ndarray
    seized_day: np.ndarray  # UK local date as day number
    seized_month: np.ndarray


def _devices(c: _Context) -> tuple[pd.DataFrame, _Devices] | None:
    """The devices table and its derived arrays (UK local seizure dates cached per table)."""
    t = c.table("devices", "force", "owner", "seized_at")
    if t is None:
        return None
    store = dataset_cache(t)
    if "seized_local" not in store:
        local = A.local_date(t["seized_at"])
        store["seized_local"] = (A.day_number(local), A.month_index(local),
                                 t["owner"].astype(object).to_numpy())
    seized_day, seized_month, owner = store["seized_local"]
    return t, _Devices(c.force_codes(t), owner, seized_day, seized_month)


def _victim_device_24h(c: _Context) -> Cells:
    got = _devices(c)
    if got is None or "returned_at" not in got[0].columns:
        return c.missing()
    t, d = got
    hours = cached(t, "hours_to_return",
                   lambda: A.elapsed_hours(t["returned_at"], t["seized_at"]))
    with np.errstate(invalid="ignore"):
        quick = hours <= DEVICE_RETURN_HOURS
    return c.proportion(d.force, d.seized_month, quick, d.owner == "victim")


def _suspect_device_days(c: _Context) -> Cells:
    got = _devices(c)
    if got is None or "examination_completed_date" not in got[0].columns:
        return c.missing()
    t, d = got
    def make() -> np.ndarray:
        days = days_of(t, "examination_completed_date") - d.seized_day
        days[d.owner != "suspect"] = np.nan
        return days

    return c.median(d.force, months_of(t, "examination_completed_date"), t,
                    "suspect_device_days", make)


def _device_backlog(c: _Context) -> Cells:
    got = _devices(c)
    if got is None or "examination_completed_date" not in got[0].columns:
        return c.missing()
    t, d = got
    stop = months_of(t, "examination_completed_date")
    stop[stop == A.NO_MONTH] = np.iinfo(np.int64).max // 2
    mask = (d.owner == "suspect") & (d.seized_month != A.NO_MONTH)
    num = c.at_end(A.stock_panel(d.force, d.seized_month, stop, c.F, c.m0, c.M, mask=mask))
    return Cells(num, c.empty(), num.copy(), value=num.copy())


def _survey(column: str) -> Callable[[_Context], Cells]:
    def compute(c: _Context) -> Cells:
        t = c.table("survey_responses", "force", "response_date", column)
        if t is None:
            return c.missing()
        answers = t[column]
        answered = answers.notna().to_numpy()
        if pd.api.types.is_bool_dtype(answers.dtype):
            agree = answers.fillna(False).to_numpy(dtype=bool)
        else:
            agree = answers.isin(SURVEY_AGREE).fillna(False).to_numpy(dtype=bool)
        return c.proportion(c.force_codes(t), months_of(t, "response_date"), agree, answered)

    return compute


_COMPUTE: dict[str, Callable[[_Context], Cells]] = {
    "charge_rate": _charge_rate,
    "charge_rate_cohort": _charge_rate_cohort,
    "days_to_charge": _days_to_charge,
    "early_advice_days": _early_advice_days,
    "suspect_arrest_rate": _suspect_arrest_rate,
    "repeat_suspect_share": _repeat_suspect_share,
    "orders_granted": _orders_granted,
    "breach_action_rate": _breach_action_rate,
    "s63g_applications": _s63g_applications,
    "victim_withdrawal_rate": _victim_withdrawal_rate,
    "needs_assessment_7d": _needs_assessment_7d,
    "victim_updated_28d": _victim_updated_28d,
    "nfa_explained_in_person": _nfa_explained_in_person,
    "isva_wait_days": _isva_wait_days,
    "sickness_rate": lambda c: _workforce(c, "sickness_days", "available_days", stock=False),
    "vacancy_rate": lambda c: _workforce(c, "in_post_fte", "establishment_fte", stock=True,
                                         complement=True),
    "trainee_share": lambda c: _workforce(c, "trainee_fte", "in_post_fte", stock=True),
    "specialist_trained_share": lambda c: _workforce(c, "specialist_trained_headcount",
                                                     "headcount", stock=True),
    "screening_rate": lambda c: _workforce(c, "screening_done", "screening_due", stock=False),
    "caseload_per_investigator": _caseload_per_investigator,
    "investigators_over_15": _investigators_over_15,
    "victim_demographics_complete": _victim_demographics_complete,
    "victim_device_24h": _victim_device_24h,
    "suspect_device_days": _suspect_device_days,
    "device_backlog": _device_backlog,
}

# Case columns each cases-based KPI reads: a missing column gives no_data, not an error.
_CASE_COLUMNS: dict[str, tuple[str, ...]] = {
    "charge_rate": ("outcome_code", "outcome_date"),
    "charge_rate_cohort": ("outcome_code",),
    "days_to_charge": ("outcome_code", "outcome_date"),
    "early_advice_days": ("early_advice_requested_date", "early_advice_received_date"),
    "suspect_arrest_rate": ("suspect_arrested",),
    "repeat_suspect_share": ("suspect_id",),
    "s63g_applications": ("s63g_applied_date",),
    "victim_withdrawal_rate": ("outcome_code", "outcome_date"),
    "needs_assessment_7d": ("needs_assessment_date",),
    "victim_updated_28d": ("case_id", "outcome_code", "outcome_date"),
    "nfa_explained_in_person": ("outcome_code", "outcome_date", "nfa_explained_in_person"),
    "isva_wait_days": ("isva_referral_date", "isva_start_date"),
    "caseload_per_investigator": ("investigator_id", "outcome_code", "outcome_date"),
    "investigators_over_15": ("investigator_id", "outcome_code", "outcome_date"),
    "victim_demographics_complete": ("victim_sex", "victim_age_band", "victim_ethnicity"),
}


def survey_items(dataset: Dataset) -> list[str]:
    """The ``q_`` item columns of the survey table, in order (empty when it is missing)."""
    t = dataset.get("survey_responses")
    return [] if t is None else registry.survey_columns(t.columns)


def kpis_for(dataset: Dataset, kpi_ids: Iterable[str] | None = None) -> list[KPI]:
    """The KPIs to compute, in registry order; KpiInputError naming any unknown id."""
    catalogue = registry.all_kpis(survey_items(dataset))
    if kpi_ids is None:
        return catalogue
    ids = [kpi_ids] if isinstance(kpi_ids, str) else kpi_ids
    wanted = [k.strip() for k in ids if k and k.strip()]
    known = {k.id for k in catalogue}
    unknown = [k for k in wanted if k not in known]
    if unknown:
        raise KpiInputError(f"unknown KPI id(s): {', '.join(unknown)}")
    keep = set(wanted)
    return [k for k in catalogue if k.id in keep]


def _status(kpi: KPI, cells: Cells) -> np.ndarray:
    """Status strings per cell: no_data, insufficient or ok."""
    shape = cells.n.shape
    if cells.missing:
        return np.full(shape, "no_data", dtype=object)
    if kpi.unit == "count":
        empty = np.zeros(shape, dtype=bool)
    else:
        empty = ~(cells.denominator > 0)
    status = np.where(empty, "no_data", np.where(cells.n < kpi.min_n, "insufficient", "ok"))
    return status.astype(object)


def compute_kpis(dataset: Dataset, start: str | pd.Period, end: str | pd.Period, *,
                 by: str = "window", forces: Iterable[str] | None = None,
                 kpi_ids: Iterable[str] | None = None, scope: str = "all") -> pd.DataFrame:
    """Every KPI (or those in ``kpi_ids``) for each force and for "All forces".

    ``start``/``end``: first and last whole calendar months ("YYYY-MM" or ``pd.Period``).
    ``by="window"``: one window from the first day of ``start`` to the last day of ``end``;
    ``by="month"``: one row per month, plus an ``spc`` column (SPC point type or None).
    ``forces``: force names to return (``"All forces"`` may be listed; one name may be given
    as a plain string); None returns every force and All forces. All forces always pools the
    whole export. ``kpi_ids``: KPI ids to compute (registry order is kept); None for all.

    Returns a long DataFrame, one row per KPI x force (x month), columns ``COLUMNS``:
    ``window_start``/``window_end`` are ``datetime64[ns]`` dates; ``value`` is a fraction in
    [0, 1] for proportions, days (float) for medians, a number for counts and cases per
    investigator; ``numerator``/``denominator``/``n`` are filled wherever they exist;
    ``value``, ``ci_low``, ``ci_high`` are NaN unless ``status == "ok"``.
    Raises ``KpiInputError`` for unknown KPI ids or forces, bad months, ``start > end`` or a
    bad ``by``.
    """
    if by not in ("window", "month"):
        raise KpiInputError(f"by must be 'window' or 'month', not {by!r}")
    if scope not in SCOPES:
        raise KpiInputError(f"scope must be one of {', '.join(SCOPES)}, not {scope!r}")
    if scope != "all":
        raise KpiInputError(f"scope {scope!r} is not available yet")
    p0, p1 = to_period(start), to_period(end)
    if p0 > p1:
        raise KpiInputError(f"--from {p0} is after --to {p1}")
    kpis = kpis_for(dataset, kpi_ids)
    _prefetch(dataset, {k.id for k in kpis})
    ctx = _Context(dataset, p0, p1, by)
    names = list(ctx.forces) + [ALL_FORCES]
    if forces is None:
        rows = np.arange(len(names))
    else:
        wanted = list(dict.fromkeys([forces] if isinstance(forces, str) else forces))
        pos = {name: i for i, name in enumerate(names)}
        unknown = [f for f in wanted if f not in pos]
        if unknown:
            raise KpiInputError(f"unknown force(s): {', '.join(unknown)}")
        rows = np.array([pos[f] for f in wanted], dtype=np.int64)

    months = pd.period_range(p0, p1, freq="M")
    if by == "month":
        starts = months.start_time.normalize().to_numpy()
        ends = months.end_time.normalize().to_numpy()
    else:
        starts = np.array([p0.start_time.normalize()], dtype="datetime64[ns]")
        ends = np.array([p1.end_time.normalize()], dtype="datetime64[ns]")

    parts: dict[str, list[np.ndarray]] = {c: [] for c in COLUMNS}
    case_cols = set(ctx.cases.columns)
    for kpi in kpis:
        needed = _CASE_COLUMNS.get(kpi.id, ())
        if any(col not in case_cols for col in needed):
            cells = ctx.missing()
        elif kpi.id in _COMPUTE:
            cells = _COMPUTE[kpi.id](ctx)
        else:
            cells = _survey(kpi.id.replace("survey_", registry.SURVEY_PREFIX, 1))(ctx)
        _collect(parts, kpi, cells, names, rows, starts, ends)

    table = pd.DataFrame({
        "kpi_id": np.concatenate(parts["kpi_id"]) if kpis else np.array([], dtype=object),
        "force": np.concatenate(parts["force"]) if kpis else np.array([], dtype=object),
        "window_start": (np.concatenate(parts["window_start"]) if kpis
                         else np.array([], dtype="datetime64[ns]")),
        "window_end": (np.concatenate(parts["window_end"]) if kpis
                       else np.array([], dtype="datetime64[ns]")),
        **{col: (np.concatenate(parts[col]) if kpis else np.array([], dtype=np.float64))
           for col in ("value", "numerator", "denominator")},
        "n": (np.concatenate(parts["n"]) if kpis else np.array([], dtype=np.int64)),
        **{col: (np.concatenate(parts[col]) if kpis else np.array([], dtype=np.float64))
           for col in ("ci_low", "ci_high")},
        "status": np.concatenate(parts["status"]) if kpis else np.array([], dtype=object),
    })
    table["n"] = table["n"].astype(np.int64)
    if by == "month":
        from metrics.kpis.spc import add_spc

        table = add_spc(table, dataset, kpis)
    table["provisional"] = provisional_flags(table, kpis, dataset.as_at)
    return table


def provisional_flags(table: pd.DataFrame, kpis: Iterable[KPI], as_at) -> np.ndarray:
    """Per row of a KPI table, True when its window is still maturing:
    ``window_end + maturity_days > as_at`` (False when the as-at date is unknown)."""
    if as_at is None or table.empty:
        return np.zeros(len(table), dtype=bool)
    maturity = {k.id: int(k.maturity_days) for k in kpis}
    days = table["kpi_id"].map(maturity).fillna(0).to_numpy(dtype="int64")
    ends = pd.to_datetime(table["window_end"]).to_numpy(dtype="datetime64[D]")
    final = ends + days.astype("timedelta64[D]")
    return final > np.datetime64(pd.Timestamp(as_at).date(), "D")


def _collect(parts: dict[str, list[np.ndarray]], kpi: KPI, cells: Cells, names: list[str],
             rows: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> None:
    """Flatten one KPI's cells (selected force rows x windows) into the column lists."""
    status = _status(kpi, cells)
    if cells.value is None:
        with np.errstate(divide="ignore", invalid="ignore"):
            value = cells.numerator / cells.denominator
        low, high = A.wilson_arrays(cells.numerator, cells.denominator)
    else:
        value = cells.value
        if kpi.is_proportion and cells.ci_low is None:
            low, high = A.wilson_arrays(cells.numerator, cells.denominator)
        else:
            low = cells.ci_low if cells.ci_low is not None else np.full(value.shape, np.nan)
            high = cells.ci_high if cells.ci_high is not None else np.full(value.shape, np.nan)
    ok = status == "ok"
    n_windows = status.shape[1]
    sel = (slice(None),) if rows is None else (rows,)

    def take(x: np.ndarray, gate: bool = False) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if gate:
            x = np.where(ok, x, np.nan)
        return x[sel].ravel()

    parts["kpi_id"].append(np.full(len(rows) * n_windows, kpi.id, dtype=object))
    parts["force"].append(np.repeat(np.asarray(names, dtype=object)[rows], n_windows))
    parts["window_start"].append(np.tile(starts, len(rows)))
    parts["window_end"].append(np.tile(ends, len(rows)))
    parts["value"].append(take(value, gate=True))
    parts["numerator"].append(take(cells.numerator))
    parts["denominator"].append(take(cells.denominator))
    parts["n"].append(np.nan_to_num(take(cells.n), nan=0.0).round().astype(np.int64))
    parts["ci_low"].append(take(low, gate=True))
    parts["ci_high"].append(take(high, gate=True))
    parts["status"].append(status[sel].ravel())


class _ItemsContext(_Context):
    """A context whose ``median`` records the items instead of summarising them."""

    items: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def median(self, force: np.ndarray, month: np.ndarray, table: pd.DataFrame, name: str,
               make_values: Callable[[], np.ndarray]) -> Cells:
        self.items = (force, month, make_values())
        return self.missing()


def kpi_items(dataset: Dataset, kpi_id: str, start: str | pd.Period, end: str | pd.Period, *,
              forces: Iterable[str] | None = None, scope: str = "all") -> pd.DataFrame:
    """The items behind a median KPI for the window ``start``..``end`` (whole months), for
    Mood's median test: a DataFrame with columns ``force`` and ``item`` (the item's value, in
    the KPI's unit, e.g. days), one row per item, each force's items and then the same items
    again under "All forces" (which pools the whole export). ``forces`` limits the rows to
    those names ("All forces" may be listed). KpiInputError for an unknown id, a KPI that is
    not a median, or bad months; an empty frame when the source is missing."""
    if scope not in SCOPES:
        raise KpiInputError(f"scope must be one of {', '.join(SCOPES)}, not {scope!r}")
    if scope != "all":
        raise KpiInputError(f"scope {scope!r} is not available yet")
    kpi = kpis_for(dataset, [kpi_id])[0]
    if kpi.unit != "days":
        raise KpiInputError(f"{kpi_id} is not a median KPI")
    p0, p1 = to_period(start), to_period(end)
    if p0 > p1:
        raise KpiInputError(f"--from {p0} is after --to {p1}")
    ctx = _ItemsContext(dataset, p0, p1, "window")
    needed = _CASE_COLUMNS.get(kpi.id, ())
    if not any(col not in ctx.cases.columns for col in needed):
        _COMPUTE[kpi.id](ctx)
    empty = pd.DataFrame({"force": pd.Series([], dtype=object),
                          "item": pd.Series([], dtype=np.float64)})
    if ctx.items is None:
        return empty
    force, month, values = ctx.items
    rel = month - ctx.m0
    keep = (force >= 0) & ~np.isnan(values) & (rel >= 0) & (rel < ctx.M) & (month != A.NO_MONTH)
    names = np.asarray(ctx.forces, dtype=object)
    per = pd.DataFrame({"force": names[force[keep]], "item": values[keep].astype(np.float64)})
    pooled = per.assign(force=ALL_FORCES)
    out = pd.concat([per.sort_values("force", kind="stable"), pooled], ignore_index=True)
    if forces is not None:
        wanted = [forces] if isinstance(forces, str) else list(forces)
        known = set(names) | {ALL_FORCES}
        unknown = [f for f in wanted if f not in known]
        if unknown:
            raise KpiInputError(f"unknown force(s): {', '.join(unknown)}")
        out = out[out["force"].isin(wanted)].reset_index(drop=True)
    return out
