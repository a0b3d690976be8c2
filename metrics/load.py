"""Load an export folder into a `Dataset`, enforcing the contract in `metrics/contract.py`.

``load_dataset`` never raises for bad data: every finding becomes a `Problem` in the report.
Only contract columns are read (``pyarrow.parquet.read_table(columns=...)``), so extra columns
(names, free text) never reach memory. Checks run on Arrow arrays or numpy where that is
faster than pandas (id hashing in particular); ids shaped like ``C0000123`` (one prefix, fixed
width) are compared as integers.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
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
    REQUIRES,
    SET_NULL,
    SURVEY_PREFIX,
    SURVEY_SCALE,
    TABLES,
    UK_TZ,
    Column,
    Table,
)
from metrics.dataset import TABLE_NAMES, Dataset, Problem, ValidationReport

MAX_EXAMPLES = 5
_STRING_DTYPE = pd.StringDtype("pyarrow")
_KIND_WORDS = {"id": "an id (text or whole number)", "category": "text", "int": "a whole number",
               "float": "a number", "bool": "true/false", "date": "a date",
               "timestamp": "a timestamp"}


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
class _Report:
    problems: list[Problem] = field(default_factory=list)
    rows_read: dict[str, int] = field(default_factory=dict)
    rows_excluded: dict[str, int] = field(default_factory=dict)

    def add(self, severity: str, file: str, column: str | None, rule: str, rows: int,
            message: str, examples: tuple[str, ...] = ()) -> None:
        self.problems.append(Problem(severity, file, column, rule, rows, message, examples))

    def freeze(self) -> ValidationReport:
        return ValidationReport(tuple(self.problems), dict(self.rows_read),
                                dict(self.rows_excluded))


def load_dataset(path: str | Path) -> Dataset:
    """Read and validate the export in folder ``path``.

    Returns a `Dataset` whose ``tables`` hold only the files present and usable (rows broken
    by a warning rule already excluded) and whose ``report`` lists every problem. A missing
    optional file is simply absent. Never raises for bad data.
    """
    folder = Path(path)
    rep = _Report()
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        rep.add("error", str(folder), None, "folder_missing", 0,
                f"The data folder {folder} {what}.")
        return Dataset({}, rep.freeze(), folder)
    tables: dict[str, pd.DataFrame] = {}
    for spec in TABLES:
        file = folder / spec.file
        if not file.exists():
            if spec.required:
                rep.add("error", spec.file, None, "file_missing", 0,
                        f"{spec.file} is missing from {folder}; it is the one required file.")
            continue
        arrow = _read(file, spec, rep)
        if arrow is None:
            continue
        frame = _load_table(spec, arrow, rep)
        if frame is None:
            continue
        frame = _foreign_keys(spec, frame, tables, rep)
        tables[spec.name] = frame
    cases = tables.get("cases")
    if cases is not None and len(cases) == 0:
        rep.add("error", "cases.parquet", None, "no_rows", 0,
                "cases.parquet has no usable rows, so there is nothing to show.")
        del tables["cases"]
    return Dataset(tables, rep.freeze(), folder)


# ---------------------------------------------------------------------------------------------
# reading


def _read(file: Path, spec: Table, rep: _Report) -> pa.Table | None:
    """The contract columns of ``file`` as an Arrow table, or None after an error."""
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
                if _is_int(t) or pa.types.is_floating(t) or pa.types.is_boolean(t) or (
                        pa.types.is_null(t)):
                    cols.append(n)
                else:
                    rep.add("warning", name, n, "survey_item_type", 0,
                            f"{name} column {n} holds {t} rather than 1-5 or true/false; it "
                            "is not a survey item and was not loaded.")
    try:
        table = pq.read_table(file, columns=cols)
    except Exception as exc:  # noqa: BLE001
        rep.add("error", name, None, "unreadable", 0,
                f"{name} could not be read (truncated or damaged): {_short(exc)}.")
        return None
    return table


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:160]


# ---------------------------------------------------------------------------------------------
# type conversion


def _is_int(t: pa.DataType) -> bool:
    return pa.types.is_integer(t)


def _is_str(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


def _plain(arr: pa.ChunkedArray) -> pa.ChunkedArray:
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
    """An all-missing column of ``kind``'s loaded dtype."""
    if kind == "id":
        return pd.Series(pd.array([None] * n, dtype=_STRING_DTYPE))
    if kind == "category":
        return pd.Series(pd.Categorical([None] * n))
    if kind == "int":
        return pd.Series(pd.array([None] * n, dtype="Int64"))
    if kind == "float":
        return pd.Series(np.full(n, np.nan))
    if kind == "bool":
        return pd.Series(pd.array([None] * n, dtype="boolean"))
    if kind == "date":
        return pd.Series(np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]"))
    return pd.Series(pd.DatetimeIndex(np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]"),
                                      tz=UK_TZ))


def _local_naive(arr: pa.ChunkedArray) -> pa.ChunkedArray:
    """Timestamps as naive UK local wall-clock time (tz-aware ones converted first)."""
    t = arr.type
    if t.tz is None:
        return arr
    return pc.local_timestamp(arr.cast(pa.timestamp(t.unit, tz=UK_TZ)))


def _ns(arr: pa.ChunkedArray, scale: int) -> np.ndarray:
    """int64 Arrow values times ``scale`` as datetime64[ns] numpy, NaT where null."""
    vals = pc.fill_null(arr, 0).to_numpy(zero_copy_only=False).astype(np.int64) * scale
    out = vals.view("datetime64[ns]")
    if arr.null_count:
        out[pc.is_null(arr).to_numpy(zero_copy_only=False)] = np.datetime64("NaT")
    return out


def _to_dates(arr: pa.ChunkedArray) -> pd.Series:
    """A date or timestamp column as naive datetime64[ns] at midnight of the UK local date."""
    if pa.types.is_timestamp(arr.type):
        local = pc.floor_temporal(_local_naive(arr), unit="day")
        return pd.Series(_ns(local.cast(pa.timestamp("s")).cast(pa.int64()), 1_000_000_000))
    days = arr.cast(pa.date32()).cast(pa.int32()).cast(pa.int64())
    return pd.Series(_ns(days, 86_400_000_000_000))


def _to_timestamps(arr: pa.ChunkedArray) -> tuple[pd.Series, int]:
    """A timestamp (or date) column as datetime64[ns, Europe/London].

    Naive values are UK local time: a repeated local time (October) is read as its first
    occurrence (BST), a skipped one (March) as the instant the clocks went forward.
    Returns the series and how many naive values fell in a clock-change hour.
    """
    if pa.types.is_date(arr.type):
        arr = arr.cast(pa.date32()).cast(pa.timestamp("s"))
    unit = arr.type.unit
    odd = 0
    if arr.type.tz is None:
        early = pc.assume_timezone(arr, timezone=UK_TZ, ambiguous="earliest",
                                   nonexistent="latest")
        late = pc.assume_timezone(arr, timezone=UK_TZ, ambiguous="latest",
                                  nonexistent="latest")
        odd = int(pc.sum(pc.not_equal(early, late)).as_py() or 0)
        arr = early
    scale = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}[unit]
    ns = _ns(arr.cast(pa.timestamp(unit, tz="UTC")).cast(pa.int64()), scale)
    idx = pd.DatetimeIndex(ns).tz_localize("UTC").tz_convert(UK_TZ)
    return pd.Series(idx), odd


def _convert(col: Column, arr: pa.ChunkedArray, name: str, rep: _Report
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
        plain = _plain(arr)
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


def _examples(frame: pd.DataFrame, spec: Table, mask: np.ndarray) -> tuple[str, ...]:
    """Up to five example keys (ids only) of the rows in ``mask``; row numbers if no key."""
    idx = np.flatnonzero(mask)[:MAX_EXAMPLES]
    if spec.key and spec.key in frame:
        vals = frame[spec.key].iloc[idx]
        return tuple(str(v) if not pd.isna(v) else f"row {i + 1}"
                     for v, i in zip(vals, idx, strict=True))
    return tuple(f"row {i + 1}" for i in idx)


def _flag(rep: _Report, frame: pd.DataFrame, spec: Table, column: str, rule: str,
          mask: np.ndarray, what: str, action: str, target: str | None = None) -> bool:
    """Record a warning for the rows in ``mask``; returns whether any row was flagged."""
    count = int(mask.sum())
    if not count:
        return False
    ex = _examples(frame, spec, mask)
    if action == EXCLUDE:
        done = "excluded"
    else:
        done = f"{target or column} treated as not recorded"
    plural = "row has" if count == 1 else "rows have"
    rep.add("warning", spec.file, column, rule, count,
            f"{spec.file} column {column}: {count:,} {plural} {what}; {done} "
            f"(e.g. {', '.join(ex)}).", ex)
    return True


def _load_table(spec: Table, arrow: pa.Table, rep: _Report) -> pd.DataFrame | None:
    """The checked, normalised frame for one file (rows excluded), or None after an error."""
    name = spec.file
    n = arrow.num_rows
    rep.rows_read[spec.name] = n
    cols: dict[str, pd.Series] = {}
    failed = False
    for c in spec.columns:
        if c.name not in arrow.column_names:
            cols[c.name] = _empty_series(c.kind, n)
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
            f[bad] = np.nan
            cols[item] = pd.Series(pd.array(f, dtype="Float64").astype("Int64"))
            if bad.any():
                # examples come from the response ids, available once the frame exists
                cols[f"__bad__{item}"] = pd.Series(bad)
    if failed:
        return None
    # uniqueness is structural: a duplicate id refuses the file
    for c in spec.columns:
        if c.unique and c.name in arrow.column_names:
            dup = _duplicates(cols[c.name])
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


def _int_keys(*series: pd.Series) -> list[np.ndarray] | None:
    """Integer keys for id columns shaped ``<PREFIX><digits>`` with one prefix and width.

    Equal strings map to equal integers and different strings to different integers, so
    membership and duplicate tests on the keys are exact. Returns None when the shape does not
    hold (then the caller compares strings). Nulls must already be absent.
    """
    arrays = [_arrow(s) for s in series]
    first = next((a for a in arrays if len(a)), None)
    if first is None:
        return [np.zeros(0, dtype=np.int64) for _ in arrays]
    sample = first[0].as_py()
    digits_at = len(sample) - len(sample.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    prefix, width = sample[:digits_at], len(sample)
    if width - digits_at < 1 or width - digits_at > 18:
        return None
    out = []
    for a in arrays:
        if not len(a):
            out.append(np.zeros(0, dtype=np.int64))
            continue
        lengths = pc.binary_length(a)
        if pc.min(lengths).as_py() != width or pc.max(lengths).as_py() != width:
            return None
        if prefix and not pc.all(pc.starts_with(a, prefix)).as_py():
            return None
        tail = pc.utf8_slice_codeunits(a, digits_at)
        if not pc.all(pc.ascii_is_decimal(tail)).as_py():
            return None
        out.append(tail.cast(pa.int64()).to_numpy(zero_copy_only=False))
    return out


def _arrow(s: pd.Series) -> pa.ChunkedArray:
    """The Arrow array behind a string/categorical series, nulls dropped."""
    arr = getattr(s.array, "_pa_array", None)
    if arr is None:
        arr = pa.chunked_array([pa.array(s.astype(object).to_numpy(), type=pa.string())])
    if pa.types.is_dictionary(arr.type):
        arr = arr.cast(arr.type.value_type)
    if pa.types.is_large_string(arr.type):
        arr = arr.cast(pa.string())
    return pc.drop_null(arr)


def _duplicates(s: pd.Series) -> tuple[int, tuple[str, ...]] | None:
    """(rows sharing an id with another row, example ids) or None when all ids are unique."""
    keys = _int_keys(s) if not isinstance(s.dtype, pd.CategoricalDtype) else None
    if keys is not None:
        k = np.sort(keys[0])
        if not (k[1:] == k[:-1]).any():
            return None
    elif s.dropna().is_unique:
        return None
    dup = s.duplicated(keep=False) & s.notna()
    ex = tuple(str(v) for v in pd.unique(s[dup])[:MAX_EXAMPLES])
    return int(dup.sum()), ex


def _missing_from(child: pd.Series, parent: pd.Series) -> np.ndarray:
    """Boolean mask: rows of ``child`` whose (non-null) id is not among ``parent``'s ids."""
    notna = child.notna().to_numpy()
    keys = _int_keys(child[notna], parent[parent.notna()])
    if keys is not None:
        ck, pk = keys
        pk = np.unique(pk)
        pos = np.searchsorted(pk, ck).clip(0, max(len(pk) - 1, 0))
        found = (pk[pos] == ck) if len(pk) else np.zeros(len(ck), dtype=bool)
    else:
        found = pc.is_in(_arrow(child[notna]), value_set=_arrow(parent).combine_chunks()
                         ).to_numpy(zero_copy_only=False)
    out = np.zeros(len(child), dtype=bool)
    out[np.flatnonzero(notna)[~found]] = True
    return out


def _foreign_keys(spec: Table, frame: pd.DataFrame, loaded: dict[str, pd.DataFrame],
                  rep: _Report) -> pd.DataFrame:
    """``frame`` without the rows whose foreign keys dangle (each rule reported)."""
    drop = np.zeros(len(frame), dtype=bool)
    for fk in FOREIGN_KEYS:
        if fk.table != spec.name or fk.ref_table not in loaded:
            continue
        mask = _missing_from(frame[fk.column], loaded[fk.ref_table][fk.ref_column])
        ref_file = f"{fk.ref_table}.parquet"
        if _flag(rep, frame, spec, fk.column, "dangling_foreign_key", mask,
                 f"a {fk.column} that is not in {ref_file} (or was excluded there)", fk.action):
            drop |= mask
    if drop.any():
        frame = frame.loc[~drop].reset_index(drop=True)
        rep.rows_excluded[spec.name] = rep.rows_excluded.get(spec.name, 0) + int(drop.sum())
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
