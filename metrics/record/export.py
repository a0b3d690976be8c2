"""CSV files of the meeting record (``record export``, the learning log download).

Free text typed into the record (commentary, actions, learning points) may start with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return, which a spreadsheet would run as a formula:
every such text cell is written with a leading apostrophe (OWASP's CSV injection advice).
Every file starts with the marking line ``OFFICIAL-SENSITIVE``.
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

MARKING = "OFFICIAL-SENSITIVE"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """``value`` with a leading apostrophe when it is text a spreadsheet would run."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def safe_frame(table: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``table`` with every text cell passed through :func:`safe_cell`."""
    out = table.copy()
    for column in out.columns:
        if out[column].dtype == object:
            out[column] = out[column].map(safe_cell)
    return out


def csv_bytes(table: pd.DataFrame) -> bytes:
    """UTF-8 CSV of ``table``: the marking line, then the header and rows (no index)."""
    buffer = io.StringIO()
    buffer.write(MARKING + "\n")
    safe_frame(table).to_csv(buffer, index=False)
    return buffer.getvalue().encode("utf-8")


def read_export_csv(path: str | Path) -> pd.DataFrame:
    """Read back a file written by :func:`write_tables` (skips the marking line)."""
    return pd.read_csv(path, skiprows=1)


def write_tables(tables: dict[str, pd.DataFrame], folder: str | Path) -> list[Path]:
    """Write each table as ``folder/<name>.csv`` (folder created, mode 0700 when new).

    Returns the paths written, in the order of ``tables``.
    """
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True, mode=0o700)
    written = []
    for name, table in tables.items():
        path = target / f"{name}.csv"
        path.write_bytes(csv_bytes(table))
        written.append(path)
    return written
