"""Validate a clean export in DuckDB, straight over its Parquet files, without pandas.

``clean_dataset(folder)`` runs the contract's rules (``metrics.contract``) as SQL counts over
``read_parquet``: one aggregate query per file (every column rule: non-null, allowed values,
minimum, first of month, plausible dates, survey scale, uniqueness, ``REQUIRES`` and
``DATE_ORDERS``), one anti-join per foreign key, one join for each ``INCONSISTENT`` rule and a
check of the distinct force, team and id values for suspicious text. The rule checks are
generated from the contract's declarations, so a new rule there is checked here too. What
they found for a clean export is kept per content hash (``metrics.check_cache``): a later load
of byte-identical files by the same code reuses it instead of running them again.

When every count is zero and every column has a type this path reads as is, the export is
*clean*: the pandas loader (``metrics.load``) would find only the file-level warnings (missing
optional column, unusable survey item, bad ``export.json``), which this path reports with the
very same code, and would exclude no row. The returned `Dataset` then reads its tables lazily:
the KPI engine's DuckDB views read the Parquet files (only the columns a query names) and a
table becomes a pandas frame only when something asks for it (``dataset.tables[name]``),
converted by the loader's own code. Otherwise ``clean_dataset`` returns None and the pandas
loader, which words every finding, is used: a check here may say "not clean" where the loader
finds nothing (declining is always safe), never the reverse.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import weakref
from collections.abc import Container, Iterator, Mapping
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa

from metrics import check_cache, contract
from metrics.contract import (
    DATE_ORDERS,
    FOREIGN_KEYS,
    INCONSISTENT,
    REQUIRES,
    SURVEY_SCALE,
    TABLES,
    Column,
    Table,
)
from metrics.dataset import Dataset

# Problems the loader raises before reading any row: reported the same way here.
FILE_LEVEL_RULES = ("missing_optional_column", "survey_item_name", "survey_item_type",
                    "bad_export_json")
# Dates the loader keeps (1900-01-01 .. 2199-12-31), narrowed by a day at each end so the test
# here flags a superset whatever the time zone of a timestamp.
_FIRST_SAFE, _LAST_SAFE = "1900-01-02", "2199-12-30"


@dataclass
class ParquetScan:
    """A clean export read straight from its Parquet files.

    ``folder``: the export folder; ``files``: table name -> the Parquet path of every usable
    file (its private snapshot copy), in contract order;
    ``columns``: table name -> the columns the loader would read (contract columns present,
    then survey items); ``types``: (table, column) -> Arrow type in the file;
    ``forces_in_cases``: the distinct force names of cases, sorted; ``latest``: the latest
    recorded or outcome date in cases; ``first_recorded``: the earliest recorded date;
    ``distinct``: (table, category column) -> its distinct values, found by the checks.
    """

    folder: Path
    files: dict[str, Path]
    columns: dict[str, list[str]]
    types: dict[tuple[str, str], pa.DataType]
    forces_in_cases: list[str] = field(default_factory=list)
    latest: date | None = None
    first_recorded: date | None = None
    distinct: dict[tuple[str, str], list[str | None]] = field(default_factory=dict, repr=False)
    tables: LazyTables = field(init=False)

    def __post_init__(self) -> None:
        self.tables = LazyTables(self)

    def survey_type(self, item: str) -> str:
        """The DuckDB type of a survey item column: BOOLEAN or BIGINT."""
        t = self.types[("survey_responses", item)]
        return "BOOLEAN" if pa.types.is_boolean(t) else "BIGINT"

    def frame(self, name: str) -> Any:
        """Table ``name`` as the pandas frame the loader would have produced (a clean export
        loses no row, so the loader's conversion alone gives the same frame)."""
        import pyarrow.parquet as pq

        from metrics.load import Findings, convert_table

        spec = contract.TABLE_BY_NAME[name]
        arrow = pq.read_table(self.files[name], columns=self.columns[name])
        frame = convert_table(spec, arrow, Findings())
        if frame is None:  # cannot happen for a file this scan passed; never serve half a table
            raise RuntimeError(f"{spec.file} changed since it was checked")
        return frame


class LazyTables(Mapping):
    """The tables of a `ParquetScan`: names known up front, each frame made on first access
    (once, under a lock) and kept. Read-only, like every loaded table."""

    def __init__(self, scan: ParquetScan) -> None:
        self._scan = scan
        self._frames: dict[str, Any] = {}
        self._lock = threading.Lock()

    def __getitem__(self, name: str) -> Any:
        if name not in self._scan.files:
            raise KeyError(name)
        frame = self._frames.get(name)
        if frame is None:
            with self._lock:
                frame = self._frames.get(name)
                if frame is None:
                    frame = self._frames[name] = self._scan.frame(name)
        return frame

    def __contains__(self, name: object) -> bool:  # membership makes no frame
        return name in self._scan.files

    def __iter__(self) -> Iterator[str]:
        return iter(self._scan.files)

    def __len__(self) -> int:
        return len(self._scan.files)

    def materialised(self) -> list[str]:
        """The tables made into pandas frames so far."""
        return list(self._frames)


def clean_dataset(folder: str | Path) -> Dataset | None:
    """The export in ``folder`` as a `Dataset` read from its Parquet files when it is clean
    (see the module docstring), with the report the pandas loader would give; None when it is
    not clean, not a folder, or uses a column type this path does not read as is.

    The files are first copied to a private snapshot folder (removed with the Dataset), and
    the snapshot is what is checked and served: an export rewritten in place later (the app
    keeps the last good export while a new one is broken) can never reach the KPIs unchecked.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return None
    copied = _snapshot(folder)
    if copied is None:
        return None
    snapshot, digests = copied
    try:
        dataset = _check(folder, snapshot, digests)
    except Exception:  # noqa: BLE001 - anything DuckDB cannot check, the pandas loader words
        dataset = None
    if dataset is None:
        shutil.rmtree(snapshot, ignore_errors=True)
        return None
    weakref.finalize(dataset.scan, shutil.rmtree, snapshot, True)
    return dataset


def _snapshot(folder: Path) -> tuple[Path, dict[str, str]] | None:
    """A private copy (mode 0700) of the contract's Parquet files in ``folder`` and the
    BLAKE2b digest of each file copied (by file name); None when one cannot be copied (the
    pandas loader then reads and reports the folder)."""
    _remove_stale_snapshots()
    target = Path(tempfile.mkdtemp(prefix=f"{SNAPSHOT_PREFIX}{os.getpid()}-"))
    digests: dict[str, str] = {}
    try:
        for spec in TABLES:
            source = folder / spec.file
            if source.exists():
                digests[spec.file] = check_cache.copy_hashing(source, target / spec.file)
    except OSError:
        shutil.rmtree(target, ignore_errors=True)
        return None
    return target, digests


SNAPSHOT_PREFIX = "flightdeck-export-"


def _remove_stale_snapshots() -> None:
    """Remove the snapshot folders of processes that ended without removing their own (killed,
    or crashed): ``flightdeck-export-<pid>-*`` owned by this user whose process is gone. A
    copy of an export must not outlive the process that served it."""
    root = Path(tempfile.gettempdir())
    for folder in root.glob(f"{SNAPSHOT_PREFIX}*-*"):
        pid = folder.name[len(SNAPSHOT_PREFIX):].split("-", 1)[0]
        try:
            if not pid.isdigit() or folder.stat().st_uid != os.getuid() or _alive(int(pid)):
                continue
        except OSError:
            continue
        shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    """Whether a process with this id exists (signal 0 checks without sending anything)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _check(folder: Path, snapshot: Path, digests: dict[str, str]) -> Dataset | None:
    """``clean_dataset`` on the copied files (``digests``: their BLAKE2b digests by file
    name): the Dataset, or None when not clean. The row checks of files already found clean
    by this code are not run again (`metrics.check_cache`)."""
    from metrics.load import Findings, check_export_json, readable_columns

    findings = Findings()
    files: dict[str, Path] = {}
    columns: dict[str, list[str]] = {}
    types: dict[tuple[str, str], pa.DataType] = {}
    for spec in TABLES:
        path = snapshot / spec.file
        if not path.exists():
            if spec.required:
                return None
            continue
        before = len(findings.problems)
        found = readable_columns(path, spec, findings)
        if found is None or any(p.rule not in FILE_LEVEL_RULES
                                for p in findings.problems[before:]):
            return None
        cols, schema = found
        for name in cols:
            t = schema.field(name).type
            if not _reads_as_is(spec, name, t):
                return None
            types[(spec.name, name)] = t
        files[spec.name], columns[spec.name] = path, cols
    scan = ParquetScan(folder, files, columns, types)
    key = check_cache.export_key(digests)
    if not _recall(check_cache.read(key), scan, findings):
        before = len(findings.problems)
        passed = _rules_pass(scan, findings)
        pa.default_memory_pool().release_unused()  # the columns read for the checks are gone
        if not passed:
            return None
        _remember(key, scan, findings, findings.problems[before:])
    check_export_json(folder, findings, latest=scan.latest)
    return Dataset(scan.tables, findings.freeze(), folder, scan=scan)


def _remember(key: str, scan: ParquetScan, findings: Any, raised: list[Any]) -> None:
    """Keep what the row checks of a clean export found (``check_cache``): rows per table,
    the warnings they raised (``raised``; not kept when one carries example ids) and the
    scan's facts."""
    if not check_cache.storable(raised):
        return
    check_cache.write(key, {
        "rows_read": dict(findings.rows_read),
        "warnings": [[p.severity, p.file, p.column, p.rule, p.rows, p.message]
                     for p in raised],
        "forces": list(scan.forces_in_cases),
        "latest": scan.latest.isoformat() if scan.latest else None,
        "first_recorded": scan.first_recorded.isoformat() if scan.first_recorded else None,
    })


def _recall(entry: dict[str, Any] | None, scan: ParquetScan, findings: Any) -> bool:
    """Fill ``findings`` and the scan's facts from a kept entry as the row checks would;
    False (and nothing changed) when there is none or it has not the expected form."""
    if entry is None:
        return False
    try:
        rows = {str(k): int(v) for k, v in entry["rows_read"].items()}
        warnings = [(str(s), str(f), None if c is None else str(c), str(r), int(n), str(m))
                    for s, f, c, r, n, m in entry["warnings"]]
        forces = [str(f) for f in entry["forces"]]
        latest, first = (None if v is None else date.fromisoformat(v)
                         for v in (entry["latest"], entry["first_recorded"]))
    except (KeyError, TypeError, ValueError, AttributeError):
        return False
    if set(rows) != set(scan.files) or any(w[0] != "warning" for w in warnings):
        return False
    findings.rows_read.update(rows)
    findings.rows_excluded.update(dict.fromkeys(rows, 0))
    for w in warnings:
        findings.add(*w)
    scan.forces_in_cases, scan.latest, scan.first_recorded = forces, latest, first
    return True


def _is_str(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def _reads_as_is(spec: Table, name: str, t: pa.DataType) -> bool:
    """Whether DuckDB reads column ``name`` of type ``t`` with the loader's meaning, with no
    conversion the loader would report: text ids and categories (plain or dictionary), integer
    ints, integer or float numbers, booleans, date32 dates, timestamps to the microsecond (as
    DuckDB keeps them); survey items integer or boolean. Anything else (integer ids, floats in
    an int column, all-null columns, dates given as timestamps...) goes to the pandas
    loader."""
    try:
        kind = spec.column(name).kind
    except KeyError:  # a survey item
        return pa.types.is_integer(t) or pa.types.is_boolean(t)
    if pa.types.is_dictionary(t):
        return kind in ("id", "category") and _is_str(t.value_type)
    return {
        "id": _is_str(t),
        "category": _is_str(t),
        "int": pa.types.is_integer(t),
        "float": pa.types.is_integer(t) or pa.types.is_floating(t),
        "bool": pa.types.is_boolean(t),
        "date": pa.types.is_date32(t),
        "timestamp": pa.types.is_timestamp(t) and t.unit in ("s", "ms", "us"),
    }[kind]


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def parquet_source(path: Path) -> str:
    """``read_parquet('path')`` with the path quoted as a SQL string."""
    return "read_parquet('" + str(path).replace("'", "''") + "')"


def _sql_value(v: object) -> str:
    return str(v) if isinstance(v, int) else "'" + str(v).replace("'", "''") + "'"


def _local_date(scan: ParquetScan, table: str, column: str) -> str:
    """SQL for a date or timestamp column as its UK local date (the session time zone)."""
    t = scan.types[(table, column)]
    if not pa.types.is_timestamp(t):
        return _q(column)
    return f"CAST(CAST({_q(column)} AS TIMESTAMPTZ) AS DATE)"


def _column_checks(scan: ParquetScan, spec: Table, c: Column,
                   skip_unique: Container[tuple[str, str]] = ()) -> list[str]:
    """SQL counts, each zero when column ``c`` breaks none of its rules (uniqueness not for
    the columns in ``skip_unique``, checked on their integer keys)."""
    q = _q(c.name)
    t = scan.types[(spec.name, c.name)]
    out = []
    if not c.nullable:
        out.append(f"count_if({q} IS NULL)")
    if c.allowed is not None and c.kind != "category":  # categories: by their distinct values
        ints = all(isinstance(v, int) for v in c.allowed)
        if ints and list(c.allowed) == list(range(min(c.allowed), max(c.allowed) + 1)):
            out.append(f"count_if({q} NOT BETWEEN {min(c.allowed)} AND {max(c.allowed)})")
        else:
            values = ", ".join(_sql_value(v) for v in c.allowed)
            out.append(f"count_if({q} IS NOT NULL AND {q} NOT IN ({values}))")
    if c.minimum is not None:
        out.append(f"count_if({q} < {c.minimum!r})")
    if c.first_of_month:
        out.append(f"count_if({q} IS NOT NULL AND day({q}) <> 1)")
    if c.kind in ("date", "timestamp"):
        if pa.types.is_timestamp(t):
            bound = "TIMESTAMPTZ" if t.tz is not None else "TIMESTAMP"
            out.append(f"count_if({q} < {bound} '{_FIRST_SAFE}' OR {q} > {bound} '{_LAST_SAFE}')")
            if t.tz is None:  # the loader warns about naive times in a clock-change hour
                out.append(f"count_if(month({q}) IN (3, 10) AND dayofweek({q}) = 0 "
                           f"AND day({q}) >= 25 AND hour({q}) <= 2)")
        else:
            out.append(f"count_if({q} < DATE '{_FIRST_SAFE}' OR {q} > DATE '{_LAST_SAFE}')")
    if c.unique and (spec.name, c.name) not in skip_unique:
        out.append(f"count({q}) - count(DISTINCT {q})")
    return out


def _table_checks(scan: ParquetScan, spec: Table,
                  skip_unique: Container[tuple[str, str]] = ()) -> list[str]:
    """Every per-row SQL count of one table (column rules, survey scale, REQUIRES,
    DATE_ORDERS), each zero on a clean file."""
    present = set(scan.columns[spec.name])
    out = []
    for c in spec.columns:
        if c.name in present:
            out += _column_checks(scan, spec, c, skip_unique)
    if spec.survey_items:
        lo, hi = SURVEY_SCALE
        for item in scan.columns[spec.name]:
            if item.startswith(contract.SURVEY_PREFIX) and scan.survey_type(item) == "BIGINT":
                out.append(f"count_if({_q(item)} NOT BETWEEN {lo} AND {hi})")
    for r in REQUIRES:
        if r.table == spec.name and r.column in present:
            needs = f" AND {_q(r.needs)} IS NULL" if r.needs in present else ""
            out.append(f"count_if({_q(r.column)} IS NOT NULL{needs})")
    for d in DATE_ORDERS:
        if d.table == spec.name and d.earlier in present and d.later in present:
            early, late = _q(d.earlier), _q(d.later)
            if spec.column(d.earlier).kind != spec.column(d.later).kind:
                early = _local_date(scan, spec.name, d.earlier)
                late = _local_date(scan, spec.name, d.later)
            out.append(f"count_if({late} < {early})")
    return out


_FK_OF = {(fk.table, fk.column): fk for fk in FOREIGN_KEYS}


def _text_columns(spec: Table, present: list[str]) -> list[Column]:
    """The force, team and id columns of ``spec`` whose text the loader checks."""
    return [c for c in spec.columns
            if c.name in present and (c.kind == "id" or c.name in ("force", "team"))]


def _distinct(con: Any, scan: ParquetScan, table: str, column: str) -> list[str | None]:
    """The distinct values of a category column (cheap: Parquet keeps them as a
    dictionary), as text; None for missing."""
    cache = scan.distinct
    if (table, column) not in cache:
        rows = con.execute(f"SELECT DISTINCT {_q(column)}::VARCHAR FROM "
                           f"{parquet_source(scan.files[table])}").fetchall()
        cache[(table, column)] = [r[0] for r in rows]
    return cache[(table, column)]


Keys = tuple[str, int, Any]  # (prefix, width, integer keys): ``metrics.load`` id shapes


def shaped_ids(scan: ParquetScan, pool: Executor | None = None
               ) -> dict[tuple[str, str], Keys]:
    """Integer keys of the plain-text id columns whose values are all ``<PREFIX><digits>``
    (one upper-case prefix, one width; nulls left out), by the loader's own reading of the
    Arrow buffers (``metrics.load``): equal ids have equal keys, different ids different keys,
    so uniqueness and foreign keys are exact on them. Columns of another shape are left out
    (their checks run in SQL). ``pool``: read the columns on it, side by side."""
    columns = _text_id_columns(scan)
    if pool is None:
        found = [_shaped_column(scan, table, name) for table, name in columns]
    else:
        found = list(pool.map(lambda key: _shaped_column(scan, *key), columns))
    pa.default_memory_pool().release_unused()  # the text is gone: give its memory back
    return {key: keys for key, keys in zip(columns, found, strict=True) if keys is not None}


def _text_id_columns(scan: ParquetScan) -> list[tuple[str, str]]:
    """(table, column) of every id column of the export stored as plain text."""
    return [(spec.name, c.name) for spec in TABLES if spec.name in scan.files
            for c in spec.columns if c.kind == "id" and c.name in scan.columns[spec.name]
            and _is_str(scan.types[(spec.name, c.name)])]


def _shaped_column(scan: ParquetScan, table: str, name: str) -> Keys | None:
    """One column's integer keys (``shaped_ids``), or None when its ids have another shape;
    only the keys are kept, not the text."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from metrics.load import arrow_int_keys

    column = pq.read_table(scan.files[table], columns=[name]).column(name)
    return arrow_int_keys(pc.drop_null(column))


def _unique_keys(keys: Keys) -> bool:
    """Whether integer keys are all different."""
    import numpy as np

    from metrics.load import presence_table

    table = presence_table(keys[2])
    if table is not None:
        return int(np.count_nonzero(table)) == len(keys[2])
    return len(np.unique(keys[2])) == len(keys[2])


def _keys_within(child: Keys, parent: Keys) -> bool:
    """Whether every child key is a parent key (ids of another shape never are)."""
    import numpy as np

    if len(child[2]) == 0:
        return True
    if child[:2] != parent[:2]:
        return False
    from metrics.load import presence_table

    table = presence_table(parent[2])
    keys = child[2]
    if table is None or int(keys.min()) < 0:
        return bool(np.isin(keys, parent[2]).all())
    return int(keys.max()) < len(table) and bool(table[keys].all())


def _foreign_keys(con: Any, scan: ParquetScan, ids: dict[tuple[str, str], Keys]
                  ) -> set[tuple[str, str]] | None:
    """Check every foreign key whose tables are both present: on integer keys where both
    columns have them (``shaped_ids``), else one anti-join per referenced column (its ids
    hashed once for all the tables that point at it). Returns the (table, column) pairs
    checked, or None when any id dangles."""
    by_parent: dict[tuple[str, str], list[Any]] = {}
    checked: set[tuple[str, str]] = set()
    for fk in FOREIGN_KEYS:
        if fk.table not in scan.files or fk.ref_table not in scan.files:
            continue
        child, parent = ids.get((fk.table, fk.column)), ids.get((fk.ref_table, fk.ref_column))
        if child is not None and parent is not None:
            if not _keys_within(child, parent):
                return None
            checked.add((fk.table, fk.column))
        else:
            by_parent.setdefault((fk.ref_table, fk.ref_column), []).append(fk)
    for (ref_table, ref_column), fks in by_parent.items():
        children = " UNION ALL ".join(
            f"SELECT {_q(fk.column)} AS k FROM {parquet_source(scan.files[fk.table])}"
            for fk in fks)
        dangling = con.execute(
            f"SELECT count(*) FROM ({children}) AS c WHERE k IS NOT NULL AND NOT EXISTS "
            f"(SELECT 1 FROM {parquet_source(scan.files[ref_table])} AS p "
            f"WHERE p.{_q(ref_column)} = c.k)").fetchone()[0]
        if dangling:
            return None
    return checked | {(fk.table, fk.column) for fks in by_parent.values() for fk in fks}


def _suspicious_rows(con: Any, scan: ParquetScan, spec: Table, c: Column) -> int:
    """Rows of ``spec.c`` with suspicious text, by the loader's own test
    (``metrics.load.suspicious``): a category's distinct values are tested once each and
    their rows counted; other columns are read and every value tested."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from metrics.load import decoded, suspicious

    if c.kind == "category":
        names = pa.array([v for v in _distinct(con, scan, spec.name, c.name) if v is not None],
                         type=pa.string())
        flagged = names.filter(suspicious(names)).to_pylist()
        if not flagged:
            return 0
        return int(con.execute(
            f"SELECT count_if({_q(c.name)}::VARCHAR IN (SELECT unnest($v))) FROM "
            f"{parquet_source(scan.files[spec.name])}", {"v": flagged}).fetchone()[0])
    values = decoded(pq.read_table(scan.files[spec.name], columns=[c.name]).column(c.name))
    return int(pc.sum(suspicious(values.cast(pa.string()))).as_py() or 0)


def _inconsistent(con: Any, scan: ParquetScan, rule: Any, findings: Any) -> None:
    """Record an ``INCONSISTENT`` rule's warning (rows kept) as the loader words it, with
    the same example ids (the first rows in file order)."""
    from metrics.load import MAX_EXAMPLES, add_inconsistent

    if rule.table not in scan.files or rule.ref_table not in scan.files:
        return
    if rule.column not in scan.columns[rule.table] or rule.via not in scan.columns[
            rule.table] or rule.ref_column not in scan.columns[rule.ref_table]:
        return
    spec = contract.TABLE_BY_NAME[rule.table]
    child = ("read_parquet('" + str(scan.files[rule.table]).replace("'", "''")
             + "', file_row_number = true)")
    key = _q(spec.key) if spec.key else "NULL"
    where = (f"c.{_q(rule.column)}::VARCHAR = $value AND c.{_q(rule.via)} IN "
             f"(SELECT {_q(rule.ref_key)} FROM {parquet_source(scan.files[rule.ref_table])} "
             f"WHERE {_q(rule.ref_column)}::VARCHAR = $ref_value)")
    params = {"value": str(rule.value), "ref_value": str(rule.ref_value)}
    count = int(con.execute(f"SELECT count(*) FROM {child} AS c WHERE {where}",
                            params).fetchone()[0])
    if not count:
        return
    rows = con.execute(
        f"SELECT coalesce(c.{key}::VARCHAR, 'row ' || (c.file_row_number + 1)) FROM {child} "
        f"AS c WHERE {where} ORDER BY c.file_row_number LIMIT {MAX_EXAMPLES}", params).fetchall()
    add_inconsistent(findings, rule, count, tuple(str(r[0]) for r in rows))


def _table_counts(con: Any, scan: ParquetScan, spec: Table,
                  skip_unique: Container[tuple[str, str]]) -> tuple[Any, ...]:
    """One table's row count and every per-row count of ``_table_checks``, in a DuckDB
    session of its own on ``con`` (so tables are counted side by side)."""
    from metrics.kpis.sql import cursor

    checks = _table_checks(scan, spec, skip_unique)
    cur = cursor(con)
    try:
        return cur.execute(f"SELECT {', '.join(['count(*)', *checks])} FROM "
                           f"{parquet_source(scan.files[spec.name])}").fetchone()
    finally:
        cur.close()


def _rules_pass(scan: ParquetScan, findings: Any) -> bool:
    """Run every check on a fresh DuckDB connection; fill ``findings.rows_read`` (and zero
    ``rows_excluded``) and the scan's facts; True when no check found a row."""
    from metrics.kpis.sql import connect
    from metrics.load import SUSPICIOUS_LENGTH, add_suspicious_text

    con = connect()
    try:
        present = [spec for spec in TABLES if spec.name in scan.files]
        # the text ids' uniqueness is checked on their integer keys when they have them
        text_ids = set(_text_id_columns(scan))
        with ThreadPoolExecutor(2, thread_name_prefix="flightdeck-scan") as pool:
            counted = [pool.submit(_table_counts, con, scan, spec, text_ids)
                       for spec in present]
            ids = shaped_ids(scan, pool)
            rows = [job.result() for job in counted]
        unique = [(spec, c) for spec in present for c in spec.columns if c.unique]
        if not all(_unique_keys(ids[(spec.name, c.name)]) for spec, c in unique
                   if (spec.name, c.name) in ids):
            return False
        for spec, c in unique:  # a text id of another shape: uniqueness in SQL
            if (spec.name, c.name) in text_ids and (spec.name, c.name) not in ids:
                q = _q(c.name)
                if con.execute(f"SELECT count({q}) - count(DISTINCT {q}) FROM "
                               f"{parquet_source(scan.files[spec.name])}").fetchone()[0]:
                    return False
        for spec, row in zip(present, rows, strict=True):
            if any(row[1:]) or (spec.required and not row[0]):  # no cases: the loader's error
                return False
            findings.rows_read[spec.name] = int(row[0])
            findings.rows_excluded[spec.name] = 0
        checked_fks = _foreign_keys(con, scan, ids)
        if checked_fks is None:
            return False
        for spec in TABLES:  # allowed values of categories, by their distinct values
            for c in spec.columns:
                if spec.name in scan.files and c.kind == "category" and c.allowed is not None \
                        and c.name in scan.columns[spec.name]:
                    allowed = {str(v) for v in c.allowed}
                    if any(v is not None and v not in allowed
                           for v in _distinct(con, scan, spec.name, c.name)):
                        return False
        for rule in INCONSISTENT:
            _inconsistent(con, scan, rule, findings)
        unsafe_parents: set[tuple[str, str]] = set()
        for spec in TABLES:
            if spec.name not in scan.files:
                continue
            for c in _text_columns(spec, scan.columns[spec.name]):
                fk = _FK_OF.get((spec.name, c.name))
                if (fk is not None and (spec.name, c.name) in checked_fks
                        and (fk.ref_table, fk.ref_column) not in unsafe_parents):
                    continue  # every value is a value of the parent's column, checked clean
                shaped = ids.get((spec.name, c.name))
                if shaped is not None and shaped[1] <= SUSPICIOUS_LENGTH:
                    continue  # upper-case letters then digits: no formula or control character
                rows = _suspicious_rows(con, scan, spec, c)
                if rows:
                    add_suspicious_text(findings, spec, c.name, rows)
                    unsafe_parents.add((spec.name, c.name))
        _facts(con, scan)
    finally:
        con.close()
    return True


def _facts(con: Any, scan: ParquetScan) -> None:
    """The scan's export-level facts from cases: forces, latest and first dates."""
    source = parquet_source(scan.files["cases"])
    present = scan.columns["cases"]
    outcome = "max(outcome_date)" if "outcome_date" in present else "NULL"
    first, latest_recorded, latest_outcome = con.execute(
        f"SELECT min(recorded_date), max(recorded_date), {outcome} FROM {source}").fetchone()
    dates = [d for d in (latest_recorded, latest_outcome) if d is not None]
    scan.latest = max(dates) if dates else None
    scan.first_recorded = first
    scan.forces_in_cases = sorted(
        str(r[0]) for r in con.execute(
            f"SELECT DISTINCT force::VARCHAR FROM {source} WHERE force IS NOT NULL").fetchall())


def distinct_forces(scan: ParquetScan, tables: tuple[str, ...]) -> list[str]:
    """The distinct force names in the ``force`` column of each of ``tables`` present,
    sorted (cheap: Parquet keeps a category column as a dictionary)."""
    from metrics.kpis.sql import connect

    parts = [f"SELECT DISTINCT force::VARCHAR AS force FROM {parquet_source(scan.files[name])}"
             for name in tables if name in scan.files and "force" in scan.columns[name]]
    if not parts:
        return []
    con = connect()
    try:
        rows = con.execute(f"SELECT DISTINCT force FROM ({' UNION ALL '.join(parts)}) "
                           "WHERE force IS NOT NULL").fetchall()
    finally:
        con.close()
    return sorted(str(r[0]) for r in rows)
