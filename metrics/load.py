"""Load an export folder into a `Dataset`, enforcing the contract in `metrics/contract.py`.

``load_dataset`` never raises for bad data: every finding becomes a `Problem` in the report.
Only contract columns are read (``pyarrow.parquet.read_table(columns=...)``), so extra columns
(names, free text) never reach memory. Checks run on Arrow arrays or numpy where that is
faster than pandas (id hashing in particular); ids shaped like ``C0000123`` (one prefix, fixed
width) are compared as integers.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from metrics.contract import (
    DATE_ORDERS,
    EXCLUDE,
    FOREIGN_KEYS,
    INCONSISTENT,
    KEEP,
    REQUIRES,
    SET_NULL,
    SURVEY_PREFIX,
    SURVEY_SCALE,
    TABLES,
    UK_TZ,
    Column,
    Inconsistent,
    Table,
)
from metrics.dataset import TABLE_NAMES, Dataset, Problem, ValidationReport

MAX_EXAMPLES = 5
_STRING_DTYPE = pd.StringDtype("pyarrow")
_KIND_WORDS = {"id": "an id (text or whole number)", "category": "text", "int": "a whole number",
               "float": "a number", "bool": "true/false", "date": "a date",
               "timestamp": "a timestamp"}


SURVEY_ITEM_NAME = re.compile(r"q_[a-z0-9_]{1,60}")


def export_fingerprint(path: str | Path) -> tuple:
    """The cache key of an export folder.

    Returns ``(folder, ((file name, size in bytes, mtime in ns), ...))`` for the contract's
    Parquet files that exist, in contract order; ``(folder, ())`` when the folder is missing.
    """
    folder = Path(path)
    entries = []
    for name in TABLE_NAMES:
        try:
            st = os.stat(folder / f"{name}.parquet")
        except OSError:
            continue
        entries.append((f"{name}.parquet", st.st_size, st.st_mtime_ns))
    return (str(folder.resolve()), tuple(entries))


@dataclass
class Findings:
    problems: list[Problem] = field(default_factory=list)
    rows_read: dict[str, int] = field(default_factory=dict)
    rows_excluded: dict[str, int] = field(default_factory=dict)
    keys: dict[tuple[str, str], tuple[str, int, np.ndarray] | None] = field(
        default_factory=dict)  # integer id keys, cached between foreign-key checks

    def add(self, severity: str, file: str, column: str | None, rule: str, rows: int,
            message: str, examples: tuple[str, ...] = ()) -> None:
        self.problems.append(Problem(severity, file, column, rule, rows, message, examples))

    def freeze(self) -> ValidationReport:
        return ValidationReport(tuple(self.problems), dict(self.rows_read),
                                dict(self.rows_excluded))


ENGINES = ("auto", "pandas")


def load_dataset(path: str | Path, *, engine: str = "auto") -> Dataset:
    """Read and validate the export in folder ``path``.

    Returns a `Dataset` whose ``tables`` hold only the files present and usable (rows broken
    by a warning rule already excluded) and whose ``report`` lists every problem. A missing
    optional file is simply absent. Never raises for bad data.

    ``engine="auto"`` first checks the export with DuckDB over its Parquet files
    (`metrics.scan.clean_dataset`): a clean export is then served from those files, each table
    becoming a pandas frame only when asked for, with the same report and frames. Any export
    with a row-level finding is read here, which words every finding. ``engine="pandas"``
    always reads here.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    if engine == "auto":
        from metrics.scan import clean_dataset

        clean = clean_dataset(path)
        if clean is not None:
            return clean
    return _load_pandas(Path(path))


def _load_pandas(folder: Path) -> Dataset:
    """``load_dataset`` by reading every contract column into pandas and checking it there."""
    rep = Findings()
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        rep.add("error", str(folder), None, "folder_missing", 0,
                f"The data folder {folder} {what}.")
        return Dataset({}, rep.freeze(), folder)
    tables: dict[str, pd.DataFrame] = {}
    # Files are read in background threads (Parquet decoding releases the GIL) while earlier
    # files are checked; findings are merged in contract order, so the report is stable.
    with ThreadPoolExecutor(max_workers=2) as pool:
        reads = {spec.name: pool.submit(_read_alone, folder / spec.file, spec)
                 for spec in TABLES if (folder / spec.file).exists()}
        for spec in TABLES:
            _check_one(spec, folder, reads.get(spec.name), tables, rep)
    cases = tables.get("cases")
    if cases is not None and len(cases) == 0:
        rep.add("error", "cases.parquet", None, "no_rows", 0,
                "cases.parquet has no usable rows, so there is nothing to show.")
        del tables["cases"]
    _inconsistent(tables, rep)
    _suspicious_text(tables, rep)
    check_export_json(folder, rep, latest=_latest_case_date(tables.get("cases")))
    return Dataset(tables, rep.freeze(), folder)


def _latest_case_date(cases: pd.DataFrame | None) -> date | None:
    """The latest recorded or outcome date of the loaded cases (None when there are none)."""
    if cases is None or cases.empty:
        return None
    dates = [cases[c].max() for c in ("recorded_date", "outcome_date") if c in cases]
    dates = [d for d in dates if not pd.isna(d)]
    return pd.Timestamp(max(dates)).date() if dates else None


def check_export_json(folder: Path, rep: Findings, latest: date | None = None,
                      today: date | None = None) -> None:
    """Warn when ``export.json`` exists but states no valid as-at date (it is then ignored
    and the as-at date is the latest recorded or outcome date, see ``Dataset.as_at``); when
    the date it states is before ``latest`` (the latest recorded or outcome date of the cases
    loaded), or after ``today`` (default: the machine's date). A stated date is still used:
    the warnings say what it does to the figures."""
    from metrics.contract import EXPORT_JSON
    from metrics.dataset import export_as_at

    if not (folder / EXPORT_JSON).is_file():
        return
    stated = export_as_at(folder)
    if stated is None:
        rep.add("warning", EXPORT_JSON, "as_at", "bad_export_json", 0,
                f"{EXPORT_JSON} does not hold a valid as-at date ({{\"as_at\": "
                "\"YYYY-MM-DD\"}); the latest recorded or outcome date in cases is used.")
        return
    if latest is not None and stated < latest:
        rep.add("warning", EXPORT_JSON, "as_at", "as_at_before_data", 0,
                f"{EXPORT_JSON} states the data as at {stated:%d %b %Y}, but cases hold dates "
                f"up to {latest:%d %b %Y}: the stated date is used, so windows ending after it "
                "are read as maturing and their last months may be incomplete.")
    if stated > (today or date.today()):
        rep.add("warning", EXPORT_JSON, "as_at", "as_at_in_future", 0,
                f"{EXPORT_JSON} states the data as at {stated:%d %b %Y}, a date still to come: "
                "the latest whole month shown is then one with no data yet.")


# A name that a spreadsheet would run as a formula, that hides or reorders text (control and
# bidirectional-override characters), or that is too long to be a real name or id.
SUSPICIOUS_TEXT = (r"^[=+\-@\t\r]|[\x00-\x1f\x7f-\x9f\x{200e}\x{200f}\x{202a}-\x{202e}"
                   r"\x{2066}-\x{2069}]")
SUSPICIOUS_LENGTH = 200


def _suspicious_text(tables: dict[str, pd.DataFrame], rep: Findings) -> None:
    """Warn (rows kept) about force, team and id values that begin with a formula character,
    hold control or right-to-left override characters, or exceed 200 characters. They are
    shown escaped and neutralised in every download; the warning names no value."""
    for spec in TABLES:
        frame = tables.get(spec.name)
        if frame is None:
            continue
        for c in spec.columns:
            if c.name not in frame.columns or not (c.kind == "id" or c.name in ("force", "team")):
                continue
            column = frame[c.name]
            if isinstance(column.dtype, pd.CategoricalDtype):
                names = pa.array(column.cat.categories.astype(str), type=pa.string())
                flagged = column.cat.categories[suspicious(names).to_numpy(zero_copy_only=False)]
                rows = int(column.isin(flagged).sum()) if len(flagged) else 0
            else:
                values = pa.array(column.astype("string"), type=pa.string())
                rows = int(pc.sum(suspicious(values)).as_py() or 0)
            if rows:
                add_suspicious_text(rep, spec, c.name, rows)


def suspicious(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Per text value: whether it matches ``SUSPICIOUS_TEXT`` or is longer than
    ``SUSPICIOUS_LENGTH`` characters (False for missing)."""
    return pc.fill_null(pc.or_(pc.match_substring_regex(values, SUSPICIOUS_TEXT),
                               pc.greater(pc.utf8_length(values), SUSPICIOUS_LENGTH)), False)


def add_suspicious_text(rep: Findings, spec: Table, column: str, rows: int) -> None:
    """Record the ``suspicious_text`` warning for ``rows`` rows of ``spec.column``."""
    rep.add("warning", spec.file, column, "suspicious_text", rows,
            f"{spec.file} has {rows} row{'s' if rows > 1 else ''} whose {column} "
            "begins with a formula character (= + - @), holds control or "
            "text-direction characters, or is longer than 200 characters; the rows "
            "are kept, the text is shown escaped and neutralised in downloads.")


def _inconsistent(tables: dict[str, pd.DataFrame], rep: Findings) -> None:
    """Warn about the rows each ``contract.INCONSISTENT`` rule finds (rows are kept)."""
    specs = {spec.name: spec for spec in TABLES}
    for rule in INCONSISTENT:
        child, parent = tables.get(rule.table), tables.get(rule.ref_table)
        if child is None or parent is None or rule.column not in child \
                or rule.via not in child or rule.ref_column not in parent:
            continue
        flagged = parent.loc[parent[rule.ref_column].astype(object) == rule.ref_value,
                             rule.ref_key].astype(object)
        mask = ((child[rule.column].astype(object) == rule.value).to_numpy(dtype=bool)
                & child[rule.via].astype(object).isin(set(flagged)).to_numpy(dtype=bool))
        count = int(mask.sum())
        if not count:
            continue
        add_inconsistent(rep, rule, count, _examples(child, specs[rule.table], mask))


def add_inconsistent(rep: Findings, rule: Inconsistent, count: int, ex: tuple[str, ...]
                     ) -> None:
    """Record an ``INCONSISTENT`` rule's warning: ``count`` rows kept, ``ex`` example ids."""
    file = f"{rule.table}.parquet"
    plural = "row has" if count == 1 else "rows have"
    rep.add("warning", file, rule.column, rule.rule, count,
            f"{file} column {rule.column}: {count:,} {plural} {rule.wording}; rows "
            f"kept ({KEEP}) (e.g. {', '.join(ex)}).", ex)


def _read_alone(file: Path, spec: Table) -> tuple[pa.Table | None, list[Problem]]:
    """``_read`` with its own findings list (safe to run in a worker thread)."""
    sub = Findings()
    return _read(file, spec, sub), sub.problems


def _check_one(spec: Table, folder: Path, read: Future | None,
               tables: dict[str, pd.DataFrame], rep: Findings) -> None:
    """Check one file's read result and, when usable, add its frame to ``tables``."""
    if read is None:
        if spec.required:
            rep.add("error", spec.file, None, "file_missing", 0,
                    f"{spec.file} is missing from {folder}; it is the one required file.")
        return
    try:
        arrow, found = read.result()
    except Exception as exc:  # noqa: BLE001 - _read reports its own failures; a last resort
        arrow, found = None, [Problem("error", spec.file, None, "unreadable", 0,
                                      f"{spec.file} could not be read ({_short(exc)}).")]
    rep.problems.extend(found)
    if arrow is None:
        return
    try:
        frame = convert_table(spec, arrow, rep)
        if frame is None:
            return
        frame = _foreign_keys(spec, frame, tables, rep)
    except Exception as exc:  # noqa: BLE001 - a last resort: bad data never raises
        rep.add("error", spec.file, None, "unreadable", 0,
                f"{spec.file} could not be checked ({_short(exc)}); the file cannot be used.")
        return
    tables[spec.name] = frame


# ---------------------------------------------------------------------------------------------
# reading


def _read(file: Path, spec: Table, rep: Findings) -> pa.Table | None:
    """The contract columns of ``file`` as an Arrow table, or None after an error."""
    found = readable_columns(file, spec, rep)
    if found is None:
        return None
    try:
        table = pq.read_table(file, columns=found[0])
    except Exception as exc:  # noqa: BLE001
        rep.add("error", spec.file, None, "unreadable", 0,
                f"{spec.file} could not be read (truncated or damaged): {_short(exc)}.")
        return None
    return table


def readable_columns(file: Path, spec: Table, rep: Findings
                     ) -> tuple[list[str], pa.Schema] | None:
    """The file-level checks of ``file`` (it opens, is Parquet, has the required columns;
    warnings for missing optional columns and unusable ``q_`` items go to ``rep``): returns
    the columns to read (contract columns present, then usable survey items) and the file's
    Arrow schema, or None after an error."""
    name = spec.file
    try:
        size = file.stat().st_size
        with open(file, "rb") as fh:
            head = fh.read(4)
            fh.seek(max(0, size - 4))
            tail = fh.read(4)
            fh.seek(0)
            sniff = fh.read(512)
    except OSError as exc:
        rep.add("error", name, None, "unreadable", 0,
                f"{name} could not be opened ({exc.strerror or 'read error'}).")
        return None
    if size == 0:
        rep.add("error", name, None, "empty_file", 0, f"{name} is empty (0 bytes).")
        return None
    if head != b"PAR1":
        looks_text = b"\x00" not in sniff and (b"," in sniff or b"\n" in sniff)
        hint = (" It looks like CSV or text: was a CSV file renamed .parquet?" if looks_text
                else "")
        rep.add("error", name, None, "not_parquet", 0, f"{name} is not a Parquet file.{hint}")
        return None
    if tail != b"PAR1" or size < 12:
        rep.add("error", name, None, "truncated", 0,
                f"{name} is truncated or damaged (it does not end like a Parquet file).")
        return None
    try:
        schema = pq.read_schema(file)
    except Exception as exc:  # noqa: BLE001 - any reader failure is a damaged file
        rep.add("error", name, None, "unreadable", 0,
                f"{name} could not be read as Parquet: {_short(exc)}.")
        return None
    present = set(schema.names)
    missing = [c.name for c in spec.columns if c.required and c.name not in present]
    if missing:
        rep.add("error", name, ", ".join(missing), "missing_column", 0,
                f"{name} lacks the required column{'s' if len(missing) > 1 else ''} "
                f"{', '.join(missing)}.")
        return None
    for c in spec.columns:
        if not c.required and c.name not in present:
            rep.add("warning", name, c.name, "missing_optional_column", 0,
                    f"{name} has no {c.name} column; it is treated as not recorded.")
    cols = [c.name for c in spec.columns if c.name in present]
    if spec.survey_items:
        for n in schema.names:
            if n.startswith(SURVEY_PREFIX) and n not in cols:
                t = schema.field(n).type
                if not SURVEY_ITEM_NAME.fullmatch(n):
                    # The name becomes a KPI id (survey_<item>) and a label on screen.
                    rep.add("warning", name, None, "survey_item_name", 0,
                            f"{name} has a survey column whose name is not lower-case letters, "
                            "digits and underscores after q_ (at most 60); it is not a survey "
                            "item and was not loaded.")
                elif _is_int(t) or pa.types.is_floating(t) or pa.types.is_boolean(t) or (
                        pa.types.is_null(t)):
                    cols.append(n)
                else:
                    rep.add("warning", name, n, "survey_item_type", 0,
                            f"{name} column {n} holds {_type_words(t)} rather than 1-5 or "
                            "true/false; it "
                            "is not a survey item and was not loaded.")
    return cols, schema


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:160]


# ---------------------------------------------------------------------------------------------
# type conversion


def _is_int(t: pa.DataType) -> bool:
    return pa.types.is_integer(t)


def _is_str(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


def decoded(arr: pa.ChunkedArray) -> pa.ChunkedArray:
    """Dictionary arrays decoded to their value type; others unchanged."""
    if pa.types.is_dictionary(arr.type):
        return arr.cast(arr.type.value_type)
    return arr


def _accepts(kind: str, t: pa.DataType) -> bool:
    """Whether an Arrow type can be read as this contract kind (null type: always)."""
    if pa.types.is_null(t):
        return True
    if pa.types.is_dictionary(t):
        return kind in ("id", "category") and _is_str(t.value_type)
    return {
        "id": _is_str(t) or _is_int(t),
        "category": _is_str(t),
        "int": _is_int(t) or pa.types.is_floating(t),
        "float": _is_int(t) or pa.types.is_floating(t) or pa.types.is_decimal(t),
        "bool": pa.types.is_boolean(t),
        "date": pa.types.is_date(t) or pa.types.is_timestamp(t),
        "timestamp": pa.types.is_timestamp(t) or pa.types.is_date(t),
    }[kind]


def _empty_series(kind: str, n: int) -> pd.Series:
    """An all-missing column of ``kind``'s loaded dtype, ``n`` rows long."""
    if kind == "id":
        return pd.Series(pa.nulls(n, pa.large_string()).to_pandas(
            types_mapper={pa.large_string(): _STRING_DTYPE}.get))
    if kind == "category":
        return pd.Series(pd.Categorical.from_codes(np.full(n, -1, dtype=np.int8), categories=[]))
    if kind == "int":
        return pd.Series(pd.arrays.IntegerArray(np.zeros(n, dtype=np.int64),
                                                np.ones(n, dtype=bool)))
    if kind == "float":
        return pd.Series(np.full(n, np.nan))
    if kind == "bool":
        return pd.Series(pd.arrays.BooleanArray(np.zeros(n, dtype=bool), np.ones(n, dtype=bool)))
    nat = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    if kind == "date":
        return pd.Series(nat)
    return pd.Series(pd.DatetimeIndex(nat).tz_localize(UK_TZ))


def _local_naive(arr: pa.ChunkedArray) -> pa.ChunkedArray:
    """Timestamps as naive UK local wall-clock time (tz-aware ones converted first)."""
    t = arr.type
    if t.tz is None:
        return arr
    return pc.local_timestamp(arr.cast(pa.timestamp(t.unit, tz=UK_TZ)))


_EARLIEST, _LATEST = "1900-01-01", "2199-12-31"  # plausible dates; also inside datetime64[ns]


def _clip_far_dates(arr: pa.ChunkedArray) -> tuple[pa.ChunkedArray, int]:
    """``arr`` (date or timestamp) with values outside 1900-2199 set null, and their count."""
    if pa.types.is_timestamp(arr.type):
        per_s = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}[arr.type.unit]
        as_int, int_type = pa.int64(), pa.int64()
        lo = int(np.datetime64(_EARLIEST, "s").astype(np.int64)) * per_s
        hi = (int(np.datetime64(_LATEST, "s").astype(np.int64)) + 2 * 86_400) * per_s
    else:
        if pa.types.is_date64(arr.type):
            arr = arr.cast(pa.date32())
        as_int, int_type = pa.int32(), pa.int32()
        lo = int(np.datetime64(_EARLIEST, "D").astype(np.int64))
        hi = int(np.datetime64(_LATEST, "D").astype(np.int64))
    mm = pc.min_max(arr)  # on the column itself: no full-length cast in the usual case
    lo_v, hi_v = mm["min"], mm["max"]
    if not lo_v.is_valid or (lo_v.cast(as_int).as_py() >= lo and hi_v.cast(as_int).as_py() <= hi):
        return arr, 0
    raw = arr.cast(int_type)
    far = pc.or_(pc.less(raw, lo), pc.greater(raw, hi))
    count = int(pc.sum(far).as_py() or 0)
    return pc.if_else(far, pa.scalar(None, arr.type), arr), count


def _to_dates(arr: pa.ChunkedArray) -> pd.Series:
    """A date or timestamp column as naive datetime64[ns] at midnight of the UK local date."""
    if pa.types.is_timestamp(arr.type):
        try:
            arr = pc.floor_temporal(_local_naive(arr), unit="day")
        except pa.ArrowException:  # no time-zone database for Arrow: pandas has its own
            s = pd.Series(arr.cast(pa.timestamp("ns", tz=arr.type.tz)).to_pandas())
            if arr.type.tz is not None:
                s = s.dt.tz_convert(UK_TZ).dt.tz_localize(None)
            return s.dt.normalize()
    elif pa.types.is_date64(arr.type):
        arr = arr.cast(pa.date32())
    if pa.types.is_date32(arr.type):
        return pd.Series(_date32_ns(arr))
    return pd.Series(arr.cast(pa.timestamp("ns")).to_pandas())


_DAY_NS = np.int64(86_400 * 10**9)
_NAT = np.iinfo(np.int64).min


def _date32_ns(arr: pa.ChunkedArray) -> np.ndarray:
    """A date32 column as datetime64[ns] (NaT where null), written straight into one numpy
    array from the Arrow buffers (no intermediate timestamp array, no second copy for nulls)."""
    out = np.empty(len(arr), dtype="datetime64[ns]")
    view = out.view(np.int64)
    pos = 0
    for chunk in arr.chunks:
        n = len(chunk)
        if n == 0:
            continue
        part = view[pos:pos + n]
        if chunk.null_count == n:
            part[:] = _NAT
        else:
            days = np.frombuffer(chunk.buffers()[1], dtype=np.int32)[chunk.offset:chunk.offset + n]
            np.multiply(days, _DAY_NS, out=part)
            if chunk.null_count:
                part[chunk.is_null().to_numpy(zero_copy_only=False)] = _NAT
        pos += n
    return out


def _to_timestamps(arr: pa.ChunkedArray) -> tuple[pd.Series, int]:
    """A timestamp (or date) column as datetime64[ns, Europe/London].

    Naive values are UK local time: a repeated local time (October) is read as its first
    occurrence (BST), a skipped one (March) as the instant the clocks went forward.
    Returns the series and how many naive values fell in a clock-change hour.
    """
    if pa.types.is_date(arr.type):
        arr = arr.cast(pa.date32()).cast(pa.timestamp("s"))
    if arr.type.tz is not None:
        return pd.Series(arr.cast(pa.timestamp("ns", tz=UK_TZ)).to_pandas()), 0
    try:
        early = pc.assume_timezone(arr, timezone=UK_TZ, ambiguous="earliest",
                                   nonexistent="earliest")
        late = pc.assume_timezone(arr, timezone=UK_TZ, ambiguous="latest",
                                  nonexistent="latest")
        odd = int(pc.sum(pc.not_equal(early, late)).as_py() or 0)
        if odd:
            early = pc.assume_timezone(arr, timezone=UK_TZ, ambiguous="earliest",
                                       nonexistent="latest")
        return pd.Series(early.cast(pa.timestamp("ns", tz=UK_TZ)).to_pandas()), odd
    except pa.ArrowException:  # no time-zone database for Arrow: pandas has its own
        return _naive_uk_pandas(arr)


def _naive_uk_pandas(arr: pa.ChunkedArray) -> tuple[pd.Series, int]:
    """``_to_timestamps`` for naive values, done by pandas (same rules, slower)."""
    local = pd.DatetimeIndex(arr.cast(pa.timestamp("ns")).to_pandas())
    n = len(local)
    first = local.tz_localize(UK_TZ, ambiguous=np.ones(n, dtype=bool),
                              nonexistent="shift_forward")
    second = local.tz_localize(UK_TZ, ambiguous=np.zeros(n, dtype=bool), nonexistent="NaT")
    odd = int(((first != second) & local.notna()).sum())
    return pd.Series(first), odd


def _convert(col: Column, arr: pa.ChunkedArray, name: str, rep: Findings
             ) -> pd.Series | None:
    """One Arrow column as a pandas Series of its contract dtype, or None (wrong type)."""
    t = arr.type
    n = len(arr)
    if not _accepts(col.kind, t):
        rep.add("error", name, col.name, "wrong_type", n,
                f"{name} column {col.name} should hold {_KIND_WORDS[col.kind]} but holds "
                f"{_type_words(t)}; the file cannot be used.")
        return None
    if pa.types.is_null(t):
        return _empty_series(col.kind, n)
    kind = col.kind
    if kind == "id":
        plain = decoded(arr)
        if _is_int(plain.type):
            plain = plain.cast(pa.string())
        if not pa.types.is_string(plain.type):
            plain = plain.cast(pa.string())
        return pd.Series(plain.to_pandas(types_mapper={pa.string(): _STRING_DTYPE}.get))
    if kind == "category":
        if pa.types.is_dictionary(t):
            if not pa.types.is_string(t.value_type):
                arr = arr.cast(pa.dictionary(t.index_type, pa.string()))
            enc = arr
        else:
            enc = arr.cast(pa.string()).dictionary_encode()
        return pd.Series(enc.to_pandas())
    if kind == "int":
        if pa.types.is_floating(t):
            valid = pc.drop_null(arr)
            frac = pc.not_equal(pc.floor(valid), valid)
            if pc.any(frac).as_py():
                bad = int(pc.sum(frac).as_py())
                rep.add("error", name, col.name, "wrong_type", bad,
                        f"{name} column {col.name} should hold whole numbers but {bad:,} rows "
                        "hold fractions; the file cannot be used.")
                return None
        return pd.Series(arr.cast(pa.int64()).to_pandas(
            types_mapper={pa.int64(): pd.Int64Dtype()}.get))
    if kind == "float":
        return pd.Series(arr.cast(pa.float64()).to_numpy())
    if kind == "bool":
        return pd.Series(arr.to_pandas(types_mapper={pa.bool_(): pd.BooleanDtype()}.get))
    arr, far = _clip_far_dates(arr)
    if far:
        rep.add("warning", name, col.name, "date_out_of_range", far,
                f"{name} column {col.name}: {far:,} rows hold a date before "
                f"{_EARLIEST} or after {_LATEST}; treated as not recorded.")
    if kind == "date":
        return _to_dates(arr)
    series, odd = _to_timestamps(arr)
    if odd:
        rep.add("warning", name, col.name, "clock_change_hour", odd,
                f"{name} column {col.name}: {odd:,} local times fall in a clock-change hour; "
                "a repeated time is read as its first (BST) occurrence and a skipped time as "
                "02:00 BST. No rows were excluded.")
    return series


def _type_words(t: pa.DataType) -> str:
    if _is_str(t) or (pa.types.is_dictionary(t) and _is_str(t.value_type)):
        return "text"
    if _is_int(t):
        return "whole numbers"
    if pa.types.is_floating(t):
        return "numbers with decimals"
    if pa.types.is_boolean(t):
        return "true/false"
    if pa.types.is_date(t):
        return "dates"
    if pa.types.is_timestamp(t):
        return "timestamps"
    return str(t)


# ---------------------------------------------------------------------------------------------
# per-table rules


def _examples(frame: pd.DataFrame, spec: Table, mask: np.ndarray, column: str | None = None
              ) -> tuple[str, ...]:
    """Up to five different example ids of the rows in ``mask``, in row order: the table's
    key (or ``column``, an id column, which may repeat: a case with several bad updates is
    named once); row numbers when there is no key."""
    key = column or spec.key
    if not key or key not in frame:
        return tuple(f"row {i + 1}" for i in np.flatnonzero(mask)[:MAX_EXAMPLES])
    idx = np.flatnonzero(mask)[:MAX_EXAMPLES * 20]  # enough rows to find five different ids
    vals = frame[key].iloc[idx]
    named = (str(v) if not pd.isna(v) else f"row {i + 1}" for v, i in zip(vals, idx, strict=True))
    return tuple(dict.fromkeys(named))[:MAX_EXAMPLES]


def _flag(rep: Findings, frame: pd.DataFrame, spec: Table, column: str, rule: str,
          mask: np.ndarray, what: str, action: str, target: str | None = None,
          example_column: str | None = None) -> bool:
    """Record a warning for the rows in ``mask``; returns whether any row was flagged."""
    count = int(mask.sum())
    if not count:
        return False
    ex = _examples(frame, spec, mask, example_column)
    if action == EXCLUDE:
        done = "excluded"
    else:
        done = f"{target or column} treated as not recorded"
    plural = "row has" if count == 1 else "rows have"
    rep.add("warning", spec.file, column, rule, count,
            f"{spec.file} column {column}: {count:,} {plural} {what}; {done} "
            f"(e.g. {', '.join(ex)}).", ex)
    return True


def convert_table(spec: Table, arrow: pa.Table, rep: Findings) -> pd.DataFrame | None:
    """The checked, normalised frame for one file (rows excluded), or None after an error."""
    name = spec.file
    n = arrow.num_rows
    rep.rows_read[spec.name] = n
    cols: dict[str, pd.Series] = {}
    failed = False
    for c in spec.columns:
        if c.name not in arrow.column_names:
            cols[c.name] = _empty_series(c.kind, n)
            if c.kind == "category" and c.allowed is not None:
                cols[c.name] = cols[c.name].cat.set_categories(list(c.allowed))
            continue
        s = _convert(c, arrow.column(c.name), name, rep)
        if s is None:
            failed = True
            continue
        cols[c.name] = s
    items = [x for x in arrow.column_names if x.startswith(SURVEY_PREFIX)] if (
        spec.survey_items) else []
    for item in items:
        arr = arrow.column(item)
        if pa.types.is_boolean(arr.type):
            cols[item] = pd.Series(arr.to_pandas(
                types_mapper={pa.bool_(): pd.BooleanDtype()}.get))
        elif pa.types.is_null(arr.type):
            cols[item] = _empty_series("int", n)
        else:
            f = arr.cast(pa.float64()).to_numpy(zero_copy_only=False)
            bad = ~np.isnan(f) & ((f < SURVEY_SCALE[0]) | (f > SURVEY_SCALE[1])
                                  | (np.floor(f) != f))
            missing = bad | np.isnan(f)
            ints = pa.array(np.where(missing, 0, f).astype(np.int64), mask=missing)
            cols[item] = pd.Series(ints.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get))
            if bad.any():
                # examples come from the response ids, available once the frame exists
                cols[f"__bad__{item}"] = pd.Series(bad)
    if failed:
        return None
    # uniqueness is structural: a duplicate id refuses the file
    for c in spec.columns:
        if c.unique and c.name in arrow.column_names:
            shaped = (_int_keys(cols[c.name])
                      if not isinstance(cols[c.name].dtype, pd.CategoricalDtype) else None)
            rep.keys[(spec.name, c.name)] = shaped  # reused by foreign keys if no row drops
            dup = _duplicates(cols[c.name], shaped)
            if dup is not None:
                count, ex = dup
                rep.add("error", name, c.name, "duplicate_id", count,
                        f"{name} column {c.name}: {count:,} rows repeat an id that must be "
                        f"unique (e.g. {', '.join(ex)}); the file cannot be used.", ex)
                failed = True
    if failed:
        return None
    bad_items = {k: cols.pop(k) for k in [k for k in cols if k.startswith("__bad__")]}
    frame = pd.DataFrame(cols, copy=False)
    drop = np.zeros(n, dtype=bool)
    for k, mask in bad_items.items():
        item = k[len("__bad__"):]
        _flag(rep, frame, spec, item, "survey_out_of_range", mask.to_numpy(),
              f"an answer outside {SURVEY_SCALE[0]}-{SURVEY_SCALE[1]}", SET_NULL)
    for c in spec.columns:
        if c.name not in arrow.column_names:
            continue
        s = frame[c.name]
        if not c.nullable:
            miss = s.isna().to_numpy()
            if _flag(rep, frame, spec, c.name, "missing_value", miss,
                     f"no {c.name}, which is required", EXCLUDE):
                drop |= miss
        bad = _invalid(c, s)
        if bad is not None and bad.any():
            what = (f"a value outside the allowed list ({_allowed_words(c)})"
                    if c.allowed is not None else
                    f"a value below {c.minimum:g}" if c.minimum is not None else
                    "a date that is not the first of a month")
            rule = ("unknown_category" if c.allowed is not None else
                    "below_minimum" if c.minimum is not None else "not_first_of_month")
            action = EXCLUDE if c.first_of_month else c.invalid_action
            _flag(rep, frame, spec, c.name, rule, bad, what, action)
            if action == EXCLUDE:
                drop |= bad
            else:
                frame[c.name] = _blank(s, bad)
        if c.allowed is not None and c.kind == "category":
            frame[c.name] = frame[c.name].cat.set_categories(list(c.allowed))
    for r in REQUIRES:
        if r.table != spec.name:
            continue
        mask = (frame[r.column].notna() & frame[r.needs].isna()).to_numpy()
        if _flag(rep, frame, spec, r.column, r.rule, mask, r.wording, r.action, r.target):
            if r.action == EXCLUDE:
                drop |= mask
            else:
                frame[r.target] = _blank(frame[r.target], mask)
    for d in DATE_ORDERS:
        if d.table != spec.name:
            continue
        early, late = frame[d.earlier], frame[d.later]
        if spec.column(d.earlier).kind != spec.column(d.later).kind:
            early, late = _as_local_date(early), _as_local_date(late)
        mask = (late < early).to_numpy()
        if _flag(rep, frame, spec, d.later, d.rule, mask, d.wording, d.action, d.target):
            if d.action == EXCLUDE:
                drop |= mask
            else:
                frame[d.target] = _blank(frame[d.target], mask)
    if drop.any():
        frame = frame.loc[~drop].reset_index(drop=True)
        for key in [k for k in rep.keys if k[0] == spec.name]:
            del rep.keys[key]  # computed before the exclusions
    rep.rows_excluded[spec.name] = int(drop.sum())
    return frame


def _allowed_words(c: Column) -> str:
    vals = c.allowed or ()
    if len(vals) > 8 and all(isinstance(v, int) for v in vals):
        return f"{vals[0]}-{vals[-1]}"
    return ", ".join(str(v) for v in vals)


def _invalid(c: Column, s: pd.Series) -> np.ndarray | None:
    """Rows whose (non-null) value breaks ``allowed``, ``minimum`` or ``first_of_month``."""
    if c.allowed is not None:
        if c.kind == "category":
            cats = s.cat.categories
            bad_codes = np.flatnonzero(~cats.isin(list(c.allowed)))
            if not len(bad_codes):
                return None
            return np.isin(s.cat.codes.to_numpy(), bad_codes)
        return (s.notna() & ~s.isin(list(c.allowed))).to_numpy(dtype=bool, na_value=False)
    if c.minimum is not None:
        return (s < c.minimum).to_numpy(dtype=bool, na_value=False)
    if c.first_of_month:
        return (s.notna() & (s.dt.day != 1)).to_numpy()
    return None


def _blank(s: pd.Series, mask: np.ndarray) -> pd.Series:
    """``s`` with the values in ``mask`` set missing (dtype kept)."""
    out = s.copy()
    out[mask] = None if not pd.api.types.is_datetime64_any_dtype(s) else pd.NaT
    return out


def _as_local_date(s: pd.Series) -> pd.Series:
    """Timestamps (Europe/London) reduced to their naive local date; dates unchanged."""
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        return s.dt.tz_localize(None).dt.normalize()
    return s


# ---------------------------------------------------------------------------------------------
# ids: duplicates and foreign keys


def _int_keys(s: pd.Series) -> tuple[str, int, np.ndarray] | None:
    """Integer keys for a null-free id column shaped ``<PREFIX><digits>`` (one prefix, one
    width), read straight from the Arrow buffers.

    Returns ``(prefix, width, keys)``: within one shape, equal strings map to equal integers
    and different strings to different integers, so membership and duplicate tests on the keys
    are exact (two columns are comparable only when prefix and width agree). Returns None when
    the shape does not hold or the column has nulls (the caller then compares strings).
    """
    arr = _arrow(s)
    if arr is None or arr.null_count:
        return None
    return arrow_int_keys(arr)


def arrow_int_keys(arr: pa.ChunkedArray) -> tuple[str, int, np.ndarray] | None:
    """``_int_keys`` of a null-free Arrow string array."""
    if len(arr) == 0:
        return ("", 0, np.zeros(0, dtype=np.int64))
    first = arr.chunk(next(i for i in range(arr.num_chunks) if len(arr.chunk(i))))[0].as_py()
    digits_at = len(first) - len(first.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    width = len(first.encode())
    n_digits = width - digits_at
    if not 1 <= n_digits <= 18 or width != len(first):
        return None
    prefix = first[:digits_at].encode()
    out = []
    for chunk in arr.chunks:
        n = len(chunk)
        if n == 0:
            continue
        bufs = chunk.buffers()
        off_type = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
        offsets = np.frombuffer(bufs[1], dtype=off_type)[chunk.offset:chunk.offset + n + 1]
        if offsets[-1] - offsets[0] != n * width or (np.diff(offsets) != width).any():
            return None
        block = np.frombuffer(bufs[2], dtype=np.uint8)[offsets[0]:offsets[-1]].reshape(n, width)
        for j, byte in enumerate(prefix):
            if (block[:, j] != byte).any():
                return None
        key = np.zeros(n, dtype=np.int32 if n_digits <= 9 else np.int64)
        for j in range(digits_at, width):  # one byte column at a time: cheap strided passes
            digit = block[:, j] - np.uint8(48)  # bytes below '0' wrap round to > 9
            if (digit > 9).any():
                return None
            key *= 10
            key += digit
        out.append(key)
    return first[:digits_at], width, np.concatenate(out)


def _arrow(s: pd.Series) -> pa.ChunkedArray | None:
    """The Arrow string array behind a pandas string series (None for other dtypes)."""
    arr = getattr(s.array, "_pa_array", None)
    if arr is None or not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return None
    return arr


_MAX_DENSE = 200_000_000  # largest integer key looked up through a dense presence table


def presence_table(keys: np.ndarray) -> np.ndarray | None:
    """A boolean table indexed by key (True where present), or None if the keys are too big."""
    if len(keys) == 0:
        return np.zeros(1, dtype=bool)
    hi = int(keys.max())
    if hi > _MAX_DENSE or int(keys.min()) < 0:
        return None
    table = np.zeros(hi + 1, dtype=bool)
    table[keys] = True
    return table


def _duplicates(s: pd.Series, shaped: tuple[str, int, np.ndarray] | None
                ) -> tuple[int, tuple[str, ...]] | None:
    """(rows sharing an id with another row, example ids) or None when all ids are unique.
    ``shaped`` is ``_int_keys(s)`` (None for irregular ids or categoricals)."""
    if shaped is not None:
        keys = shaped[2]
        table = presence_table(keys)
        if table is not None:
            if int(np.count_nonzero(table)) == len(keys):
                return None
        elif len(np.unique(keys)) == len(keys):
            return None
    elif s.dropna().is_unique:
        return None
    dup = s.duplicated(keep=False) & s.notna()
    ex = tuple(str(v) for v in pd.unique(s[dup])[:MAX_EXAMPLES])
    return int(dup.sum()), ex


def _missing_from(child: pd.Series, parent: pd.Series,
                  parent_keys: Callable[[], tuple[str, int, np.ndarray] | None]) -> np.ndarray:
    """Boolean mask: rows of ``child`` whose id is not among ``parent``'s ids (nulls: False).
    ``parent_keys`` returns the parent's integer keys (cached between foreign keys)."""
    c_shaped = _int_keys(child)
    p_shaped = parent_keys() if c_shaped is not None else None
    if c_shaped is not None and p_shaped is not None and (
            len(c_shaped[2]) == 0 or len(p_shaped[2]) == 0 or c_shaped[:2] == p_shaped[:2]):
        ck, pk = c_shaped[2], p_shaped[2]
        table = presence_table(pk)
        if table is not None:
            inside = (ck >= 0) & (ck < len(table))
            missing = ~inside
            missing[inside] = ~table[ck[inside]]
            return missing
        pk = np.unique(pk)
        pos = np.searchsorted(pk, ck).clip(0, max(len(pk) - 1, 0))
        return ~(pk[pos] == ck) if len(pk) else np.ones(len(ck), dtype=bool)
    c = pa.chunked_array([pa.array(child.astype(object).to_numpy(), type=pa.string())]
                         ) if _arrow(child) is None else _arrow(child)
    p = pa.chunked_array([pa.array(parent.astype(object).to_numpy(), type=pa.string())]
                         ) if _arrow(parent) is None else _arrow(parent)
    found = pc.fill_null(pc.is_in(c, value_set=pc.drop_null(p).combine_chunks()), False).to_numpy(
        zero_copy_only=False)
    return ~found & child.notna().to_numpy()


def _foreign_keys(spec: Table, frame: pd.DataFrame, loaded: dict[str, pd.DataFrame],
                  rep: Findings) -> pd.DataFrame:
    """``frame`` without the rows whose foreign keys dangle (each rule reported)."""
    drop = np.zeros(len(frame), dtype=bool)
    for fk in FOREIGN_KEYS:
        if fk.table != spec.name or fk.ref_table not in loaded:
            continue
        parent = loaded[fk.ref_table][fk.ref_column]
        cache_key = (fk.ref_table, fk.ref_column)

        def parent_keys(parent: pd.Series = parent, cache_key: tuple[str, str] = cache_key
                        ) -> tuple[str, int, np.ndarray] | None:
            if cache_key not in rep.keys:
                rep.keys[cache_key] = _int_keys(parent)
            return rep.keys[cache_key]

        mask = _missing_from(frame[fk.column], parent, parent_keys)
        ref_file = f"{fk.ref_table}.parquet"
        if _flag(rep, frame, spec, fk.column, "dangling_foreign_key", mask,
                 f"{'an' if fk.column[0] in 'aeiou' else 'a'} {fk.column} that is not in "
                 f"{ref_file} (or was excluded there)", fk.action,
                 example_column=fk.column):  # quote the missing ids themselves
            drop |= mask
    if drop.any():
        frame = frame.loc[~drop].reset_index(drop=True)
        rep.rows_excluded[spec.name] = rep.rows_excluded.get(spec.name, 0) + int(drop.sum())
        for key in [k for k in rep.keys if k[0] == spec.name]:
            del rep.keys[key]  # computed before these exclusions (breaches check orders' ids)
    return frame


def describe(report: ValidationReport, source: Path | str | None = None,
             out: Callable[[str], object] = print) -> None:
    """Print ``report`` in plain words (used by ``python -m metrics validate``)."""
    if source is not None:
        out(f"Data folder: {source}")
    for name in TABLE_NAMES:
        if name in report.rows_read:
            read = report.rows_read[name]
            excl = report.rows_excluded.get(name, 0)
            out(f"  {name + '.parquet':<26} {read:>12,} rows read, {excl:>9,} excluded")
    if not report.problems:
        out("No problems found.")
    else:
        out(f"{len(report.errors)} error(s), {len(report.warnings)} warning(s):")
        for p in report.problems:
            out(f"  {p.severity.upper():<7} {p.message}")
    out("Usable: yes" if report.usable else "Usable: NO - the export is refused.")
