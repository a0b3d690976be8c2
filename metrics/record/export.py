"""CSV files of the meeting record (``record export``, the learning log download).

Free text typed into the record (commentary, actions, learning points) may start with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return, which a spreadsheet would run as a formula:
every table is written through ``metrics.safe_csv.write_csv``, the project's one
formula-injection neutraliser (such a text cell gets a leading apostrophe, OWASP's CSV
injection advice; plain numbers are left alone). Every file starts with the marking line
``OFFICIAL-SENSITIVE``.
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from metrics.safe_csv import safe_cell, safe_frame, write_csv

MARKING = "OFFICIAL-SENSITIVE"


def csv_bytes(table: pd.DataFrame) -> bytes:
    """UTF-8 CSV of ``table``: the marking line, then the header and rows (no index),
    written by ``metrics.safe_csv.write_csv`` (formula-injection safe)."""
    buffer = io.StringIO()
    buffer.write(MARKING + "\n")
    write_csv(table, buffer)
    return buffer.getvalue().encode("utf-8")


__all__ = ["MARKING", "csv_bytes", "read_export_csv", "safe_cell", "safe_frame",
           "write_tables"]


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
