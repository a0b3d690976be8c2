"""The KPI engine: every KPI of the catalogue (``metrics.registry``), per force and for all
forces, per window or per month, computed by DuckDB from each KPI's declared SQL.

How: the validated tables are registered with DuckDB as views named after the contract tables
(``metrics.kpis.sql``; rows a validation warning excluded are not in them, and only the
columns a query names are read). Each KPI's SQL returns, by its shape (``KPI.shape``):
- ``flow``: per force and month, ``num`` [, ``den``] [, ``n``]; a window sums its months;
- ``stock``: per force and month end (``month_ends``), ``num`` [, ``den``] [, ``n``]; a window
  takes its last month;
- ``items``: one row per item, ``force, month, item`` (days); a window takes the median.
The engine filters the rows to the requested months, aggregates them to a small
(force x month) table in the same query, pools "All forces" as the sum of the forces' rows
(medians: over every item), and then applies the minimum n, the intervals
(``metrics.stats`` rules, vectorised: Wilson for ``interval = "wilson"``, the median's
order-statistic interval for ``median_order``, none for ``none``), the status and the
provisional flag.

Decisions:
- Windows are whole calendar months, boundaries inclusive: ``window_start`` is the first day
  of the first month, ``window_end`` the last day of the last month.
- Forces: the union of force names found in cases and in the other tables' own ``force``
  columns (a device, order, breach, survey response or workforce row belongs to the force in
  its own ``force`` column; a breach's force is ``breaches.force``, not its order's). "All
  forces" pools every force in the export, whatever ``forces`` selects for output.
- Scope (``all|adult_rape|child``) filters the case-linked tables through their case
  (``metrics.kpis.sql``); KPIs declared ``scoped = false`` (survey, workforce) are force-wide.
- n: a proportion's n is its denominator unless its SQL returns ``n`` (workforce: team-month
  rows); a median's n is its number of items (also shown as the denominator, numerator
  empty); a count's n is the count itself (min n 0, so a zero count is a value, status ok).
- Status: ``no_data`` when the source table is missing (or the KPI's SQL fails on this export),
  or the denominator is 0 (for medians: no items); else ``insufficient`` when n < the KPI's
  ``min_n``; else ``ok``. ``value``, ``ci_low`` and ``ci_high`` are NaN unless status is
  ``ok``; numerator, denominator and n are always filled where they exist.
- Numerators and denominators are rounded to 6 decimals (FTE sums carry binary noise).
- ``provisional``: ``window_end + maturity_days > as_at`` (``Dataset.as_at``).
- Queries run ``QUERY_WORKERS`` at a time, each in a DuckDB session of its own on the
  export's connection (``metrics.kpis.sql.cursor``); one that reads a shared intermediate
  builds and reads it under the connection's lock.
"""

from __future__ import annotations

import atexit
import re
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from metrics import registry
from metrics.dataset import Dataset
from metrics.kpis import _arrays as A
from metrics.kpis import sql as S
from metrics.registry import KPI
from metrics.stats import binom_cdf, binom_ppf

ALL_FORCES = "All forces"
COLUMNS: tuple[str, ...] = (
    "kpi_id", "force", "window_start", "window_end", "value", "numerator", "denominator", "n",
    "ci_low", "ci_high", "status",
)
SCOPES = S.SCOPES
STATUSES = ("ok", "insufficient", "no_data")
# KPI queries run side by side (``_Run.cells_of``); the connections' DuckDB threads (2)
QUERY_WORKERS = 2
FORCE_TABLES = ("cases", "orders", "breaches", "devices", "survey_responses", "workforce")


class KpiInputError(ValueError):
    """A bad argument to ``compute_kpis``: unknown KPI id, force or scope, bad month or range."""


@dataclass
class Cells:
    """One KPI's results, each array of shape (forces + 1, windows); the last row is All forces.

    ``value`` None means value = numerator / denominator. ``missing`` True means the source
    table is absent (or the SQL failed): every cell is ``no_data``.
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


def export_forces(dataset: Dataset) -> list[str]:
    """Every force name in the export: cases and the other tables' own ``force`` columns,
    sorted."""
    scan = dataset.parquet
    if scan is not None:  # read from the files: the force column of each, distinct
        from metrics.scan import distinct_forces

        return distinct_forces(scan, FORCE_TABLES)
    names: set[str] = set()
    for table_name in FORCE_TABLES:
        table = dataset.get(table_name)
        if table is not None and "force" in table.columns:
            names |= A.distinct_names(table["force"])
    return sorted(names)


_MONTH_ENDS = (
    "WITH month_ends AS (SELECT m::DATE AS month, "
    "(m + INTERVAL 1 MONTH - INTERVAL 1 DAY)::DATE AS month_end "
    "FROM generate_series($flightdeck_first_end::DATE, $flightdeck_end::DATE, "
    "INTERVAL 1 MONTH) AS t(m)) ")
# a KPI's rows for every month of the export (``_Run.history``): the wrappers without the
# month filter, and whether every ``month`` value is a whole date (DATE, or TIMESTAMP at midnight)
_WHOLE_DATE = ("bool_and(typeof(month) IN ('DATE', 'TIMESTAMP') "
               "AND month::TIMESTAMP = month::DATE::TIMESTAMP) AS flightdeck_exact")
_AGGREGATED_HISTORY = (
    "SELECT force::VARCHAR AS force, "
    "(year(month) - 1970) * 12 + month(month) - 1 AS flightdeck_mi, "
    "sum(COLUMNS('^(num|den|n)$'))::DOUBLE, " + _WHOLE_DATE +
    " FROM ({sql}) AS q WHERE month IS NOT NULL AND force IS NOT NULL GROUP BY ALL")
# items: one row each, the force as its code in the export's forces (``FORCE_CODES``), so
# no text crosses over; sorted (by item) in numpy after the months are cut
_ITEMS_SELECT = (
    "SELECT c.code AS flightdeck_f, "
    "(year(month) - 1970) * 12 + month(month) - 1 AS flightdeck_mi, item::DOUBLE AS item")
_ITEMS_FROM = (
    " FROM ({sql}) AS q JOIN " + S.FORCE_CODES + " AS c ON c.force = q.force::VARCHAR"
    " WHERE month IS NOT NULL AND item IS NOT NULL AND NOT isnan(item::DOUBLE)")
_ITEMS_HISTORY = (
    _ITEMS_SELECT + ", typeof(month) IN ('DATE', 'TIMESTAMP') "
    "AND month::TIMESTAMP = month::DATE::TIMESTAMP AS flightdeck_exact" + _ITEMS_FROM)
_NOT_RANGE_FREE = object()  # cached: this KPI's rows must be queried per call
_RANGE_WORDS = re.compile(r"\bmonth_ends\b|\$flightdeck_", re.IGNORECASE)


def _range_free(kpi: KPI) -> bool:
    """True when the KPI's SQL cannot see the months asked for: it names neither
    ``month_ends``, a ``$flightdeck_`` parameter nor a shared intermediate built for the
    call's months, so each month's rows are the same whatever range is asked."""
    if _RANGE_WORDS.search(kpi.sql):
        return False
    return not any(S.SHARED[name][1] for name in S.shared_names(kpi.sql))


_CONNECTIONS: dict[tuple[int, str], tuple[weakref.ref, Any, threading.Lock]] = {}
# per connection (id of the DuckDB connection): the shared intermediates built on it and for
# which months (``metrics.kpis.sql.materialise_shared``); used under the connection's lock
_SHARED_STATE: dict[int, dict[str, Any]] = {}
_CONNECTIONS_LOCK = threading.Lock()
# per loaded export: (KPI declaration, months, by, scope) -> Cells, so a rerun of the app (a
# force change filters rows of the same all-forces result) costs nothing. Bounded.
_RESULTS: dict[int, tuple[weakref.ref, OrderedDict]] = {}
RESULTS_PER_EXPORT = 512


@atexit.register
def close_connections() -> None:
    """Close every cached DuckDB connection (at exit, so none is left to the interpreter's
    teardown). Returns nothing; later calls open new ones."""
    with _CONNECTIONS_LOCK:
        for _, con, _lock in list(_CONNECTIONS.values()):
            try:
                con.close()
            except Exception:  # noqa: BLE001 - closing at exit must never raise
                pass
        _CONNECTIONS.clear()
        _RESULTS.clear()
        _SHARED_STATE.clear()


def _export_forces_once(dataset: Dataset) -> list[str]:
    """``export_forces(dataset)``, worked out once per loaded export (tables are read-only)."""
    store = _results(dataset)
    with _CONNECTIONS_LOCK:
        hit = store.get(("forces",))
    if hit is None:
        hit = export_forces(dataset)
        with _CONNECTIONS_LOCK:
            store[("forces",)] = hit
    return list(hit)


def _results(dataset: Dataset) -> OrderedDict:
    """The result cache of one loaded export (tables are read-only by contract)."""
    key = id(dataset)
    with _CONNECTIONS_LOCK:
        hit = _RESULTS.get(key)
        if hit is not None and hit[0]() is dataset:
            return hit[1]
        store: OrderedDict = OrderedDict()
        _RESULTS[key] = (weakref.ref(dataset, lambda _r, key=key: _RESULTS.pop(key, None)),
                         store)
        return store


def _connection(dataset: Dataset, scope: str) -> tuple[Any, threading.Lock]:
    """The DuckDB connection holding ``dataset``'s views for ``scope``, made once per loaded
    export (tables are read-only by contract) and dropped with it; use it under its lock."""
    key = (id(dataset), scope)
    forces = _export_forces_once(dataset)  # takes the lock itself
    with _CONNECTIONS_LOCK:
        hit = _CONNECTIONS.get(key)
        if hit is not None and hit[0]() is dataset:
            return hit[1], hit[2]
        con = S.connect()
        S.register_views(con, dataset, scope)
        S.register_force_codes(con, forces)

        def drop(_ref: weakref.ref, key: tuple[int, str] = key) -> None:
            gone = _CONNECTIONS.pop(key, None)
            if gone is not None:
                _SHARED_STATE.pop(id(gone[1]), None)
                gone[1].close()

        lock = threading.Lock()
        _SHARED_STATE[id(con)] = {}
        _CONNECTIONS[key] = (weakref.ref(dataset, drop), con, lock)
        return con, lock


class _Run:
    """One ``compute_kpis`` call: the forces, the months, and the queries on the export's
    DuckDB views."""

    def __init__(self, dataset: Dataset, start: pd.Period, end: pd.Period, by: str,
                 scope: str) -> None:
        self.ds = dataset
        self.by = by
        self.scope = scope
        self.m0 = _month_number(start)
        self.M = _month_number(end) - self.m0 + 1
        self.W = self.M if by == "month" else 1
        self.first_day = start.start_time.date()
        self.last_day = end.end_time.date()
        # month_ends: every month end by month, only the window's last one for a window
        self.first_end = self.first_day if by == "month" else end.start_time.date()
        self.forces = pd.Index(_export_forces_once(dataset), dtype=object)
        self.F = len(self.forces)

    def empty(self) -> np.ndarray:
        return np.full((self.F + 1, self.W), np.nan)

    def missing(self) -> Cells:
        e = self.empty()
        return Cells(e, e.copy(), np.zeros_like(e), missing=True)

    def params(self) -> dict[str, Any]:
        return {"flightdeck_start": self.first_day, "flightdeck_end": self.last_day,
                "flightdeck_first_end": self.first_end}

    def query(self, kpi: KPI, wrapper: str) -> tuple[dict[str, np.ndarray], list[str]]:
        """Run ``wrapper`` (``{sql}`` standing for the KPI's query, ``month_ends`` defined) on
        the KPI's scope, in a session of its own (so queries of other KPIs can run beside it);
        returns the result as numpy arrays and its column names."""
        con, lock = _connection(self.ds, self.scope if kpi.scoped else "all")
        sql = kpi.sql.strip().rstrip(";")
        text = _MONTH_ENDS + wrapper.replace("{sql}", sql)
        params = S.sql_params(kpi, self.params(), text)
        shared = S.shared_names(sql)
        cur = S.cursor(con, self.ds)
        try:
            if not shared:
                return self._fetch(cur, text, params)
            # a shared table is built once per connection (and months) under the lock; one
            # built for months is also read under it, so no other call rebuilds it for other
            # months meanwhile; one without months is never rebuilt, so it is read beside
            with lock:
                S.materialise_shared(cur, shared, _MONTH_ENDS, self.params(),
                                     _SHARED_STATE.setdefault(id(con), {}))
                if any(S.SHARED[name][1] for name in shared):
                    return self._fetch(cur, text, params)
            return self._fetch(cur, text, params)
        finally:
            cur.close()

    @staticmethod
    def _fetch(cur: Any, text: str, params: dict[str, Any]
               ) -> tuple[dict[str, np.ndarray], list[str]]:
        result = cur.execute(text, params)
        names = [d[0] for d in result.description]
        return result.fetchnumpy(), names

    def history(self, kpi: KPI, wrapper: str) -> tuple[dict[str, np.ndarray], list[str]] | None:
        """The KPI's rows for every month of the export (``wrapper`` without the month
        filter), computed once per loaded export and scope (for a window at once; for months
        when a second range is asked of the KPI), then sliced by each call. None otherwise,
        and when the KPI's per-month rows could depend on the months asked for
        (``_range_free``) or its ``month`` values are not whole dates: the call then queries
        its own months.
        The same rows as a query of the call's months: a month's rows never depend on the
        range, and the range filter on a whole date equals the filter on its month number."""
        if not _range_free(kpi):
            return None
        key = ("history", wrapper, kpi.id, kpi.sql, tuple(sorted(kpi.params.items())),
               kpi.source, self.scope if kpi.scoped else "all")
        store = _results(self.ds)
        with _CONNECTIONS_LOCK:
            if key in store:
                store.move_to_end(key)
                hit = store[key]
                return None if hit is _NOT_RANGE_FREE else hit
            # a window is a slice of many an app asks for (previous window, year ago, the
            # months behind it): the history at once. The first monthly series asked of a KPI
            # is queried alone (a single call, e.g. the CLI, gains nothing from every month).
            first = self.by == "month" and ("asked",) + key not in store
            store[("asked",) + key] = True
        if first:
            return None
        got, names = self.query(kpi, wrapper)
        exact = got.pop("flightdeck_exact")
        names = [n for n in names if n != "flightdeck_exact"]
        whole = not np.ma.isMaskedArray(exact) or not np.ma.getmaskarray(exact).any()
        result = None
        if whole and bool(np.all(np.asarray(exact))):
            # force codes, not one Python string per row, are kept (the history lives long)
            if "force" in got:
                got["flightdeck_f"] = self.force_codes(got.pop("force"))
            got["flightdeck_f"] = np.asarray(got["flightdeck_f"]).astype(np.int16)
            if "item" in got:  # by item once, so every slice of it is sorted
                order = np.argsort(np.asarray(got["item"], dtype=np.float64), kind="stable")
                got = {name: np.asarray(values)[order] for name, values in got.items()}
            result = (got, names)
        with _CONNECTIONS_LOCK:
            store[key] = _NOT_RANGE_FREE if result is None else result
            while len(store) > RESULTS_PER_EXPORT:
                store.popitem(last=False)
        return result

    def codes_of(self, got: dict[str, np.ndarray]) -> np.ndarray:
        """The force code (row in ``self.forces``, -1 for none) of each row of a result."""
        if "flightdeck_f" in got:
            return got["flightdeck_f"].astype(np.int64)
        return self.force_codes(got["force"])

    def force_codes(self, names: np.ndarray) -> np.ndarray:
        return self.forces.get_indexer(pd.Index(names, dtype=object)).astype(np.int64)

    # -- shapes ---------------------------------------------------------------------------------
    def aggregated(self, kpi: KPI) -> Cells:
        """Flow and stock KPIs: (force x month) sums from SQL, reshaped to windows."""
        wrapper = (
            "SELECT force::VARCHAR AS force, "
            "(year(month) - 1970) * 12 + month(month) - 1 AS flightdeck_mi, "
            "sum(COLUMNS('^(num|den|n)$'))::DOUBLE"
            " FROM ({sql}) AS q WHERE month >= $flightdeck_start AND month <= $flightdeck_end"
            " AND force IS NOT NULL GROUP BY ALL")
        got, names = self.history(kpi, _AGGREGATED_HISTORY) or self.query(kpi, wrapper)
        f = self.codes_of(got)
        rel = np.asarray(got["flightdeck_mi"], dtype=np.int64) - self.m0
        keep = (f >= 0) & (rel >= 0) & (rel < self.M)

        def panel(col: str) -> np.ndarray | None:
            if col not in names:
                return None
            values = got[col]
            if np.ma.isMaskedArray(values):
                values = values.filled(0.0)
            values = np.asarray(values, dtype=np.float64)
            out = np.zeros((self.F, self.M))
            np.add.at(out, (f[keep], rel[keep]), values[keep])
            return out

        num, den, n = panel("num"), panel("den"), panel("n")
        if num is None:
            num = np.zeros((self.F, self.M))
        reshape = self.at_end if kpi.shape == "stock" else self.flow
        num_w = np.round(reshape(num), 6)
        den_w = self.empty() if den is None else np.round(reshape(den), 6)
        if n is not None:
            n_w = reshape(n)
        elif kpi.unit == "count":
            n_w = num_w.copy()
        else:
            n_w = den_w.copy()
        return Cells(num_w, den_w, n_w)

    def flow(self, panel: np.ndarray) -> np.ndarray:
        """(F, M) monthly totals -> (F+1, W) window totals with the All forces row."""
        win = panel if self.by == "month" else panel.sum(axis=1, keepdims=True)
        return np.vstack([win, win.sum(axis=0, keepdims=True)])

    def at_end(self, panel: np.ndarray) -> np.ndarray:
        """(F, M) month-end stock -> (F+1, W): each window's last month, with All forces."""
        win = panel if self.by == "month" else panel[:, -1:]
        return np.vstack([win, win.sum(axis=0, keepdims=True)])

    def items(self, kpi: KPI) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(force code, month offset, item) of the KPI's items in the range, by item value
        (equal items in no set order: they are the same number)."""
        wrapper = (_ITEMS_SELECT + _ITEMS_FROM +
                   " AND month >= $flightdeck_start AND month <= $flightdeck_end")
        got, _ = self.history(kpi, _ITEMS_HISTORY) or self.query(kpi, wrapper)
        f = self.codes_of(got)
        rel = np.asarray(got["flightdeck_mi"], dtype=np.int64) - self.m0
        keep = (f >= 0) & (rel >= 0) & (rel < self.M)
        f, rel = f[keep], rel[keep]
        values = np.asarray(got["item"], dtype=np.float64)[keep]
        if len(values) > 1 and not bool(np.all(values[1:] >= values[:-1])):
            order = np.argsort(values, kind="stable")
            f, rel, values = f[order], rel[order], values[order]
        return f, rel, values

    def median(self, kpi: KPI) -> Cells:
        f, rel, values = self.items(kpi)
        win = rel if self.by == "month" else np.zeros_like(rel)
        rank_ci = median_ci_ranks if kpi.interval == "median_order" else None
        med_f, n_f, lo_f, hi_f = A.group_medians(f * self.W + win, values, self.F * self.W,
                                                 rank_ci, values_sorted=True)
        med_a, n_a, lo_a, hi_a = A.group_medians(win, values, self.W, rank_ci,
                                                 values_sorted=True)

        def stack(x: np.ndarray, a: np.ndarray) -> np.ndarray:
            return np.vstack([x.reshape(self.F, self.W), a.reshape(1, self.W)])

        n = stack(n_f, n_a)
        return Cells(self.empty(), n, n.copy(), value=stack(med_f, med_a),
                     ci_low=stack(lo_f, lo_a), ci_high=stack(hi_f, hi_a))

    def cells_of(self, kpis: list[KPI]) -> list[Cells]:
        """:meth:`cells` of each KPI, in order, computed ``QUERY_WORKERS`` at a time (DuckDB
        reads a Parquet row group on one thread, so one query at a time leaves cores idle)."""
        if len(kpis) < 2 or QUERY_WORKERS < 2:
            return [self.cells(kpi) for kpi in kpis]
        with ThreadPoolExecutor(QUERY_WORKERS, thread_name_prefix="flightdeck-kpi") as pool:
            return list(pool.map(self.cells, kpis))

    def cells(self, kpi: KPI) -> Cells:
        """The KPI's cells; missing (no_data) when its source table is absent or it fails.
        Computed once per export, declaration, months, ``by`` and scope (then cached)."""
        declaration = (kpi.id, kpi.sql, tuple(sorted(kpi.params.items())), kpi.unit,
                       kpi.stock, kpi.interval, kpi.source)
        scope = self.scope if kpi.scoped else "all"
        key = (*declaration, self.m0, self.M, self.by, scope)
        store = _results(self.ds)
        with _CONNECTIONS_LOCK:
            hit = store.get(key)
            if hit is not None:
                store.move_to_end(key)
                return hit
            if kpi.shape == "stock" and self.by == "window":
                hit = self._month_end_of(store, declaration, scope)
        cells = hit if hit is not None else self._compute(kpi)
        with _CONNECTIONS_LOCK:
            store[key] = cells
            while len(store) > RESULTS_PER_EXPORT:
                store.popitem(last=False)
        return cells

    def _month_end_of(self, store: OrderedDict, declaration: tuple, scope: str
                      ) -> Cells | None:
        """A stock KPI's window is its last month end, one month of a by-month result: that
        month's cells, when a by-month result of the same declaration and scope holding it is
        cached (the chart of the months behind a window is often asked first); else None."""
        end = self.m0 + self.M - 1
        for key, cells in reversed(store.items()):
            if (len(key) == len(declaration) + 4 and key[:len(declaration)] == declaration
                    and key[-2:] == ("month", scope) and key[-4] <= end < key[-4] + key[-3]):
                if cells.missing:
                    return self.missing()
                at = slice(end - key[-4], end - key[-4] + 1)
                return Cells(cells.numerator[:, at], cells.denominator[:, at], cells.n[:, at])
        return None

    def _compute(self, kpi: KPI) -> Cells:
        if kpi.source not in self.ds.tables:
            return self.missing()
        try:
            return self.median(kpi) if kpi.shape == "items" else self.aggregated(kpi)
        except Exception:  # noqa: BLE001 - a force's own SQL failing on this export
            if not kpi.origin.startswith(str(registry.CATALOGUE_DIR)):
                return self.missing()
            raise


def survey_items(dataset: Dataset) -> list[str]:
    """The ``q_`` item columns of the survey table, in order (empty when it is missing)."""
    return registry.survey_columns(dataset.columns("survey_responses"))


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


def _check_args(by: str, start: str | pd.Period, end: str | pd.Period,
                scope: str) -> tuple[pd.Period, pd.Period]:
    if by not in ("window", "month"):
        raise KpiInputError(f"by must be 'window' or 'month', not {by!r}")
    if scope not in SCOPES:
        raise KpiInputError(f"scope must be one of {', '.join(SCOPES)}, not {scope!r}")
    p0, p1 = to_period(start), to_period(end)
    if p0 > p1:
        raise KpiInputError(f"--from {p0} is after --to {p1}")
    return p0, p1


def _force_rows(names: list[str], forces: Iterable[str] | str | None) -> np.ndarray:
    if forces is None:
        return np.arange(len(names))
    wanted = list(dict.fromkeys([forces] if isinstance(forces, str) else forces))
    pos = {name: i for i, name in enumerate(names)}
    unknown = [f for f in wanted if f not in pos]
    if unknown:
        raise KpiInputError(f"unknown force(s): {', '.join(unknown)}")
    return np.array([pos[f] for f in wanted], dtype=np.int64)


def compute_kpis(dataset: Dataset, start: str | pd.Period, end: str | pd.Period, *,
                 by: str = "window", forces: Iterable[str] | None = None,
                 kpi_ids: Iterable[str] | None = None, scope: str = "all",
                 record: Any = None) -> pd.DataFrame:
    """Every KPI (or those in ``kpi_ids``) for each force and for "All forces".

    ``start``/``end``: first and last whole calendar months ("YYYY-MM" or ``pd.Period``).
    ``by="window"``: one window from the first day of ``start`` to the last day of ``end``;
    ``by="month"``: one row per month, plus an ``spc`` column (SPC point type or None).
    ``forces``: force names to return (``"All forces"`` may be listed; one name may be given
    as a plain string); None returns every force and All forces. All forces always pools the
    whole export. ``kpi_ids``: KPI ids to compute (registry order is kept); None for all.
    ``scope``: ``all`` (default), ``adult_rape`` or ``child`` (case-linked KPIs only).
    ``record``: a ``metrics.record.Record``; the KPIs with ``source = "record"`` come from it
    (``metrics.kpis.record_rows.join_record``), and are ``no_data`` without one.

    Returns a long DataFrame, one row per KPI x force (x month), columns ``COLUMNS``
    (+ ``spc`` by month) and last ``provisional`` (bool): ``window_start``/``window_end`` are
    ``datetime64[ns]`` dates; ``value`` is a fraction in [0, 1] for proportions, days (float)
    for medians, a number for counts and cases per investigator; ``numerator``/
    ``denominator``/``n`` are filled wherever they exist; ``value``, ``ci_low``, ``ci_high``
    are NaN unless ``status == "ok"``.
    Raises ``KpiInputError`` for unknown KPI ids, forces or scope, bad months, ``start > end``
    or a bad ``by``.
    """
    p0, p1 = _check_args(by, start, end, scope)
    kpis = kpis_for(dataset, kpi_ids)
    run = _Run(dataset, p0, p1, by, scope)
    names = list(run.forces) + [ALL_FORCES]
    rows = _force_rows(names, forces)

    months = pd.period_range(p0, p1, freq="M")
    if by == "month":
        starts = months.start_time.normalize().to_numpy()
        ends = months.end_time.normalize().to_numpy()
    else:
        starts = np.array([p0.start_time.normalize()], dtype="datetime64[ns]")
        ends = np.array([p1.end_time.normalize()], dtype="datetime64[ns]")

    parts: dict[str, list[np.ndarray]] = {c: [] for c in COLUMNS}
    for kpi, cells in zip(kpis, run.cells_of(kpis), strict=True):
        _collect(parts, kpi, cells, names, rows, starts, ends)

    def joined(col: str, dtype: Any) -> np.ndarray:
        return np.concatenate(parts[col]) if kpis else np.array([], dtype=dtype)

    table = pd.DataFrame({
        "kpi_id": joined("kpi_id", object),
        "force": joined("force", object),
        "window_start": joined("window_start", "datetime64[ns]"),
        "window_end": joined("window_end", "datetime64[ns]"),
        **{col: joined(col, np.float64) for col in ("value", "numerator", "denominator")},
        "n": joined("n", np.int64),
        **{col: joined(col, np.float64) for col in ("ci_low", "ci_high")},
        "status": joined("status", object),
    })
    table["n"] = table["n"].astype(np.int64)
    if record is not None:
        from metrics.kpis.record_rows import join_record

        table = join_record(table, record, p0, p1, by, kpis)
    if by == "month":
        from metrics.kpis.spc import add_spc

        table = add_spc(table, dataset, kpis)
    table["provisional"] = provisional_flags(table, kpis, dataset.as_at)
    return table


def provisional_flags(table: pd.DataFrame, kpis: Iterable[KPI], as_at: date | None
                      ) -> np.ndarray:
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
        if kpi.unit == "count":
            value = cells.numerator.copy()
    else:
        value = cells.value
    if kpi.interval == "wilson" and cells.ci_low is None:
        low, high = A.wilson_arrays(cells.numerator, cells.denominator)
    elif cells.ci_low is not None and kpi.interval != "none":
        low, high = cells.ci_low, cells.ci_high
    else:
        low = high = np.full(value.shape, np.nan)
    ok = status == "ok"
    n_windows = status.shape[1]

    def take(x: np.ndarray, gate: bool = False) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if gate:
            x = np.where(ok, x, np.nan)
        return x[rows].ravel()

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
    parts["status"].append(status[rows].ravel())


def kpi_items(dataset: Dataset, kpi_id: str, start: str | pd.Period, end: str | pd.Period, *,
              forces: Iterable[str] | None = None, scope: str = "all") -> pd.DataFrame:
    """The items behind a median KPI for the window ``start``..``end`` (whole months), for
    Mood's median test: a DataFrame with columns ``force`` and ``item`` (the item's value, in
    the KPI's unit, e.g. days), one row per item, each force's items (forces in name order)
    and then the same items again under "All forces" (which pools the whole export).
    ``forces`` limits the rows to those names ("All forces" may be listed). KpiInputError for
    an unknown id or force, a KPI that is not a median, or bad months; an empty frame when
    the source table is missing."""
    p0, p1 = _check_args("window", start, end, scope)
    kpi = kpis_for(dataset, [kpi_id])[0]
    if kpi.shape != "items":
        raise KpiInputError(f"{kpi_id} is not a median KPI")
    run = _Run(dataset, p0, p1, "window", scope)
    names = np.asarray(run.forces, dtype=object)
    if forces is not None:
        _force_rows([*names, ALL_FORCES], forces)  # KpiInputError for an unknown force
    empty = pd.DataFrame({"force": pd.Series([], dtype=object),
                          "item": pd.Series([], dtype=np.float64)})
    if kpi.source not in dataset.tables:
        return empty
    f, _, values = run.items(kpi)
    wanted = None if forces is None else set([forces] if isinstance(forces, str) else forces)
    if wanted is not None:  # only the forces asked for (and All forces when asked)
        codes = np.flatnonzero(np.isin(names, list(wanted - {ALL_FORCES})))
        mine = np.isin(f, codes)
        f_own, v_own = f[mine], values[mine]
    else:
        f_own, v_own = f, values
    order = np.argsort(f_own, kind="stable")  # force codes follow the sorted names
    pooled = values if wanted is None or ALL_FORCES in wanted else values[:0]
    return pd.DataFrame({
        "force": np.concatenate([names[f_own[order]],
                                 np.full(len(pooled), ALL_FORCES, dtype=object)]),
        "item": np.concatenate([v_own[order], pooled]).astype(np.float64),
    })


def prepare(dataset: Dataset) -> None:
    """Warm up for ``dataset`` (imports DuckDB and runs every KPI once on its last month), so
    the first request after loading is not the slow one. Returns nothing; safe to repeat."""
    last = dataset.as_at
    month = pd.Period(last, freq="M") if last is not None else pd.Period("2000-01", freq="M")
    compute_kpis(dataset, month, month)


__all__: list[str] = [
    "ALL_FORCES", "COLUMNS", "SCOPES", "Cells", "KpiInputError", "compute_kpis",
    "export_forces", "kpi_items", "kpis_for", "median_ci_ranks", "prepare",
    "provisional_flags", "survey_items", "to_period",
]
