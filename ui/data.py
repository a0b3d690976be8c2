"""Cached loading of the export and cached KPI tables, for every page of the app.

- The loaded :class:`~metrics.dataset.Dataset` is shared read-only by every session
  (``st.cache_resource``), keyed on ``metrics.load.export_fingerprint`` (paths, sizes and
  modification times), so a new export is picked up without a restart and memory stays flat
  as sessions are added. At most two exports are held: the current one and the last good one.
- KPI tables are small aggregates, cached with ``st.cache_data`` keyed on the served export's
  fingerprint and the query (window, by, forces, KPI ids).
- When the export on disk becomes unreadable or invalid after a good load, the last good data
  keeps being served; :class:`Loaded` says what is wrong now and when the good data was
  loaded, and the app shows that as a banner.

No KPI formula lives here: tables come from ``metrics.kpis.compute_kpis``.
"""

from __future__ import annotations

import atexit
import gc
import logging
import os
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import streamlit as st

from metrics.dataset import Dataset, ValidationReport

_LOG = logging.getLogger(__name__)
REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = "data/sample"
ENV_DATA = "FLIGHTDECK_DATA"


def data_dir() -> Path:
    """The export folder: ``$FLIGHTDECK_DATA`` or ``data/sample``.

    A relative path is taken from the working directory, or from the repository root when it
    does not exist there (so ``streamlit run`` works from anywhere).
    """
    path = Path(os.environ.get(ENV_DATA) or DEFAULT_DATA).expanduser()
    if not path.is_absolute() and not path.exists() and (REPO_ROOT / path).exists():
        path = REPO_ROOT / path
    return path


@dataclass(frozen=True)
class Loaded:
    """What the app serves and what is on disk now.

    ``dataset`` is the data to show (None when there has never been a good load);
    ``report`` is the validation report of the export on disk now (None when it could not be
    read at all); ``problem`` is a one-line description of what is wrong now (None when the
    served data is the export on disk); ``loaded_at`` is when the served data was loaded.
    """

    path: Path
    dataset: Dataset | None
    fingerprint: tuple | None
    report: ValidationReport | None
    problem: str | None
    loaded_at: datetime | None

    @property
    def stale(self) -> bool:
        """True when the last good data is served because the export on disk is not usable."""
        return self.dataset is not None and self.problem is not None

    @property
    def usable(self) -> bool:
        return self.dataset is not None


@st.cache_resource(max_entries=2, show_spinner=False)
def _load(path: str, fingerprint: tuple) -> tuple[Dataset | None, datetime, str | None]:
    """Load one export (one cache entry per fingerprint). Never raises: errors become text."""
    from metrics.load import load_dataset

    loaded_at = datetime.now(UTC)
    try:
        return load_dataset(Path(path)), loaded_at, None
    except Exception as exc:  # noqa: BLE001 - a broken file must never show a traceback
        _LOG.exception("loading %s failed", path)
        return None, loaded_at, f"{type(exc).__name__}: {exc}"


class _LastGood:
    """The last usable export per folder, shared across sessions (one per server)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_path: dict[str, tuple[tuple, Dataset, datetime]] = {}


@st.cache_resource(show_spinner=False)
def _last_good() -> _LastGood:
    return _LastGood()


def summarise_problem(report: ValidationReport | None, error: str | None = None) -> str:
    """One line naming what makes an export unusable."""
    if error:
        return error
    if report is None:
        return "the export could not be read"
    errors = report.errors
    if not errors:
        return "the export has no usable cases"
    first = errors[0]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{first.file}: {first.message}{more}"


_FREEZE_LOCK = threading.Lock()
_FROZEN: dict[str, object] = {"modules": 0, "datasets": set()}


def _freeze_long_lived(dataset: Dataset | None) -> None:
    """Take what lives as long as the server out of the garbage collector's scans.

    Streamlit runs ``gc.collect()`` after every script run (``runner.postScriptGC``); with
    pandas, scipy and an export in memory that full collection costs about 100 ms of CPU per
    run, so per new session too. Once new modules have been imported or a new export loaded,
    garbage is collected once and what is left is frozen (``gc.freeze``): later collections
    scan only what runs create. Frozen objects are still freed by reference counting.
    """
    key = id(dataset) if dataset is not None else None
    datasets: set = _FROZEN["datasets"]  # type: ignore[assignment]
    if len(sys.modules) == _FROZEN["modules"] and (key is None or key in datasets):
        return
    with _FREEZE_LOCK:
        if key is not None:
            datasets.add(key)
        _FROZEN["modules"] = len(sys.modules)
        freeze_long_lived()


_UNFREEZE_AT_EXIT: list[bool] = []


def freeze_long_lived() -> None:
    """Collect garbage once and freeze what is left out of later collections (``gc.freeze``),
    and, the first time, unfreeze it at exit: objects still frozen when the interpreter ends
    are never finalised, so DuckDB's bindings would report them as leaked on every shutdown.
    Returns nothing."""
    if not _UNFREEZE_AT_EXIT:
        _UNFREEZE_AT_EXIT.append(True)
        atexit.register(gc.unfreeze)
    gc.collect()
    gc.freeze()


def load(path: Path | None = None) -> Loaded:
    """The export to serve, from cache when its fingerprint has not changed."""
    from metrics.load import export_fingerprint

    path = path or data_dir()
    key = str(path)
    error: str | None = None
    fingerprint: tuple | None = None
    try:
        fingerprint = tuple(export_fingerprint(path))
    except Exception as exc:  # noqa: BLE001
        error = f"the export folder {path} could not be read ({type(exc).__name__}: {exc})"
    dataset: Dataset | None = None
    report: ValidationReport | None = None
    loaded_at: datetime | None = None
    if fingerprint is not None:
        dataset, loaded_at, error = _load(key, fingerprint)
        _freeze_long_lived(dataset)
        report = dataset.report if dataset is not None else None
    holder = _last_good()
    if dataset is not None and report is not None and report.usable and _has_cases(dataset):
        with holder.lock:
            holder.by_path[key] = (fingerprint, dataset, loaded_at)  # type: ignore[assignment]
        return Loaded(path, dataset, fingerprint, report, None, loaded_at)
    problem = summarise_problem(report, error)
    with holder.lock:
        good = holder.by_path.get(key)
    if good is not None:
        good_fp, good_ds, good_at = good
        return Loaded(path, good_ds, good_fp, report, problem, good_at)
    return Loaded(path, None, fingerprint, report, problem, None)


def _has_cases(dataset: Dataset) -> bool:
    return dataset.has_rows("cases")


@st.cache_data(max_entries=512, show_spinner=False)
def _kpis(
    fingerprint: tuple, _dataset: Dataset, start: str, end: str, by: str,
    forces: tuple[str, ...] | None, kpi_ids: tuple[str, ...] | None, scope: str = "all",
    record_key: tuple = (), _record: object = None,
) -> pd.DataFrame:
    from metrics.kpis import compute_kpis

    return compute_kpis(_dataset, start, end, by=by,
                        forces=list(forces) if forces is not None else None,
                        kpi_ids=list(kpi_ids) if kpi_ids is not None else None, scope=scope,
                        record=_record)


def kpi_table(
    loaded: Loaded, start: pd.Period | str, end: pd.Period | str, *, by: str = "window",
    forces: Iterable[str] | None = None, kpi_ids: Iterable[str] | None = None,
    scope: str = "all",
) -> pd.DataFrame:
    """``compute_kpis`` for the served export, cached per (fingerprint, window, by, forces, ids,
    scope). ``scope`` is ``all|adult_rape|child``."""
    if loaded.dataset is None:
        raise RuntimeError("no usable export loaded")
    record, key = record_for(kpi_ids)
    return _kpis(
        loaded.fingerprint or (), loaded.dataset, str(start), str(end), by,
        tuple(forces) if forces is not None else None,
        tuple(kpi_ids) if kpi_ids is not None else None, scope, key, record,
    )


@st.cache_data(max_entries=256, show_spinner=False)
def _breakdown(
    fingerprint: tuple, _dataset: Dataset, start: str, end: str, dimension: str, force: str,
    kpi_ids: tuple[str, ...] | None, scope: str = "all",
) -> pd.DataFrame:
    from metrics.breakdowns import compute_breakdown

    return compute_breakdown(_dataset, start, end, dimension, force=force,
                             kpi_ids=list(kpi_ids) if kpi_ids is not None else None,
                             scope=scope)


def breakdown_table(
    loaded: Loaded, start: pd.Period | str, end: pd.Period | str, dimension: str, force: str,
    kpi_ids: Iterable[str] | None = None, scope: str = "all",
) -> pd.DataFrame:
    """KPIs by a case-level group (``metrics.breakdowns.compute_breakdown``), cached per
    (fingerprint, window, dimension, force, ids, scope)."""
    if loaded.dataset is None:
        raise RuntimeError("no usable export loaded")
    return _breakdown(loaded.fingerprint or (), loaded.dataset, str(start), str(end), dimension,
                      force, tuple(kpi_ids) if kpi_ids is not None else None, scope)


def survey_items(dataset: Dataset) -> list[str]:
    """The survey item columns (``q_…``) of this export."""
    from metrics.registry import survey_columns

    return survey_columns(dataset.columns("survey_responses"))


def adoption_month(dataset: Dataset, force: str) -> pd.Period | None:
    """The month the force adopted Soteria (``forces.parquet``), or None (All forces, unknown)."""
    from metrics.kpis.spc import adoption_months

    return adoption_months(dataset).get(force)


def month_range(dataset: Dataset) -> tuple[pd.Period, pd.Period] | None:
    """The export's first month of cases and its last whole month (from the as-at date)."""
    from metrics.windows import latest_complete_month

    if not dataset.has_rows("cases"):
        return None
    first = dataset.first_recorded
    last = latest_complete_month(dataset.as_at)
    if first is None or last is None:
        return None
    return pd.Period(first, freq="M"), last


@st.cache_resource(show_spinner=False)
def _meeting_record(url: str) -> object:
    """The Record at ``url`` ("" = ``FLIGHTDECK_DB``'s default), opened and migrated once per
    server; raises ``RecordUnavailable`` (not cached, so a later run tries again)."""
    from metrics.record import open_record

    return open_record(url or None)


#: How long (seconds) a failure to open the record is remembered before trying again, so a
#: database that is down costs one connection attempt per interval, not one per call.
RECORD_RETRY_SECONDS = 30.0
_RECORD_FAILURES: dict[str, tuple[float, Exception]] = {}


def open_meeting_record() -> object:
    """The shared meeting record of ``$FLIGHTDECK_DB`` (one engine and connection pool per
    server and URL, for the flight deck, Trends, the record page and the board pack button).
    Raises ``metrics.record.RecordUnavailable`` (one line, no password) when it cannot be
    opened (remembered for :data:`RECORD_RETRY_SECONDS`)."""
    import time

    from metrics.record import RecordUnavailable

    url = os.environ.get("FLIGHTDECK_DB", "")
    failed = _RECORD_FAILURES.get(url)
    if failed is not None and time.monotonic() - failed[0] < RECORD_RETRY_SECONDS:
        raise failed[1]
    try:
        record = _meeting_record(url)
    except RecordUnavailable as exc:
        _RECORD_FAILURES[url] = (time.monotonic(), exc)
        raise
    _RECORD_FAILURES.pop(url, None)
    return record


def record_stamp(record: object | None) -> tuple:
    """A cheap fingerprint of what the record KPIs read (reviews, actions and their versions,
    sampled cases), for cache keys: cached figures are recomputed after a review or an action
    changes; () without a record."""
    if record is None:
        return ()
    try:
        from sqlalchemy import text

        with record.engine.connect() as conn:  # type: ignore[attr-defined]
            row = conn.execute(text(
                "SELECT (SELECT count(*) FROM reviews), (SELECT max(id) FROM reviews), "
                "(SELECT count(*) FROM actions), (SELECT sum(version) FROM actions), "
                "(SELECT count(*) FROM sample_cases)")).one()
        return tuple(int(v or 0) for v in row)
    except Exception:  # noqa: BLE001 - unreadable now: never reuse a stale entry
        from present.tiles import UNREADABLE

        return (UNREADABLE, datetime.now().isoformat(), id(record))


def record_for(kpi_ids: Iterable[str] | None) -> tuple[object | None, tuple]:
    """(the shared meeting record, :func:`record_stamp`) when ``kpi_ids`` (None: all) include
    a KPI computed from the record (``source = "record"``), else ``(None, ())``."""
    from metrics.registry import RECORD_SOURCE, STATIC_KPIS

    wanted = {k for k, v in STATIC_KPIS.items() if v.source == RECORD_SOURCE}
    if kpi_ids is not None:
        wanted &= set(kpi_ids)
    if not wanted:
        return None, ()
    record = meeting_record()
    return record, record_stamp(record)


def meeting_record() -> object | None:
    """:func:`open_meeting_record`, or None when the record's database is unavailable (the
    reason is logged)."""
    from metrics.record import RecordUnavailable

    try:
        return open_meeting_record()
    except RecordUnavailable as exc:
        _LOG.warning("%s", exc)
        return None


# --------------------------------------------------------------------------- verdicts (issue 12)


@st.cache_data(max_entries=256, show_spinner=False)
def _spc_chart(fingerprint: tuple, _dataset: Dataset, kpi_id: str, force: str, end: str,
               months: int, scope: str, audience: str, record_key: tuple = (),
               _record: object = None) -> pd.DataFrame:
    from metrics import verdicts

    extra = {} if _record is None else {"record": _record}
    return verdicts.spc_chart(_dataset, kpi_id, force, end, months=months,
                              scope=scope, audience=audience, **extra)


def spc_chart(loaded: Loaded, kpi_id: str, force: str, end: pd.Period, *, months: int,
              scope: str = "all", audience: str = "internal") -> pd.DataFrame:
    """``metrics.verdicts.spc_chart`` (one row per month of the ``months`` ending at ``end``;
    values in the KPI's units), cached per export and arguments."""
    assert loaded.dataset is not None
    record, key = record_for([kpi_id])
    return _spc_chart(loaded.fingerprint or (), loaded.dataset, kpi_id, force, str(end),
                      int(months), scope, audience, key, record)


@st.cache_data(max_entries=256, show_spinner=False)
def _changes(fingerprint: tuple, _dataset: Dataset, start: str, end: str, compare: str,
             force: str, scope: str, audience: str, kpi_ids: tuple[str, ...] | None,
             record_key: tuple = (), _record: object = None) -> pd.DataFrame:
    from metrics import verdicts

    extra = {} if _record is None else {"record": _record}
    return verdicts.compute_changes(
        _dataset, start, end, compare=compare, forces=[force], scope=scope, audience=audience,
        kpi_ids=list(kpi_ids) if kpi_ids is not None else None, **extra)


def changes(loaded: Loaded, start: pd.Period, end: pd.Period, *, compare: str, force: str,
            scope: str = "all", audience: str = "internal",
            kpi_ids: Iterable[str] | None = None) -> pd.DataFrame:
    """``metrics.verdicts.compute_changes`` for one force (tested changes against the
    comparison window, BH-adjusted), cached."""
    assert loaded.dataset is not None
    record, key = record_for(kpi_ids)
    return _changes(loaded.fingerprint or (), loaded.dataset, str(start), str(end), compare,
                    force, scope, audience, tuple(kpi_ids) if kpi_ids is not None else None,
                    key, record)


@st.cache_data(max_entries=256, show_spinner=False)
def _funnel(fingerprint: tuple, _dataset: Dataset, kpi_id: str, start: str, end: str,
            scope: str, audience: str) -> pd.DataFrame:
    from metrics import verdicts

    return verdicts.funnel_table(_dataset, kpi_id, start, end, scope=scope, audience=audience)


def funnel_table(loaded: Loaded, kpi_id: str, start: pd.Period, end: pd.Period, *,
                 scope: str = "all", audience: str = "internal") -> pd.DataFrame:
    """``metrics.verdicts.funnel_table`` (forces with status ok, limits, φ), cached."""
    assert loaded.dataset is not None
    return _funnel(loaded.fingerprint or (), loaded.dataset, kpi_id, str(start), str(end),
                   scope, audience)


@st.cache_data(max_entries=128, show_spinner=False)
def _before_after(fingerprint: tuple, _dataset: Dataset, force: str, scope: str,
                  audience: str, kpi_ids: tuple[str, ...] | None) -> pd.DataFrame:
    from metrics import verdicts

    return verdicts.before_after(
        _dataset, force, scope=scope, audience=audience,
        kpi_ids=list(kpi_ids) if kpi_ids is not None else None)


def before_after(loaded: Loaded, force: str, *, scope: str = "all", audience: str = "internal",
                 kpi_ids: Iterable[str] | None = None) -> pd.DataFrame:
    """``metrics.verdicts.before_after`` around the force's adoption month (difference in
    differences for every proportion KPI), cached."""
    assert loaded.dataset is not None
    return _before_after(loaded.fingerprint or (), loaded.dataset, force, scope, audience,
                         tuple(kpi_ids) if kpi_ids is not None else None)
