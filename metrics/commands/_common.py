"""What the table commands (``kpis``, ``changes``, ``funnel``, ``breakdown``, ``boardpack``) share.

The positional ``DATA_DIR`` and ``--from``/``--to`` arguments, the checks on them (months,
``--kpi`` lists), loading an export with its problems printed in plain words, and writing a
table as formula-safe CSV or as a JSON array. Nothing heavy is imported at module level (no
pandas, no DuckDB), so that building the parser stays lean; every helper imports what it needs
when it runs.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    import pandas as pd

MAX_PROBLEMS_SHOWN = 20
SCOPES = ("all", "adult_rape", "child")


class CommandError(Exception):
    """A user error: one ``error:`` line on stderr, exit code 2."""


class UnusableExport(Exception):
    """The export failed validation: the problems were printed; exit code 1."""


def guarded(body: Any, args: argparse.Namespace, out: TextIO | None, err: TextIO | None
            ) -> int:
    """Run ``body(args, out, err)``; user errors become one ``error:`` line (exit 2), an
    unusable export or an unexpected failure exit 1 (one line). Never lets a traceback reach
    the terminal."""
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    from metrics.kpis import KpiInputError

    try:
        return int(body(args, out, err))
    except UnusableExport:
        return 1
    except (CommandError, KpiInputError, ValueError, KeyError) as exc:
        text = str(exc).strip("'\"") if isinstance(exc, KeyError) else str(exc)
        print(f"error: {text.splitlines()[0] if text else type(exc).__name__}", file=err)
        return 2
    except Exception as exc:  # noqa: BLE001 - never a traceback on the terminal
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"error: could not compute the {getattr(args, 'command', 'requested')} "
              f"table: {text}", file=err)
        return 1


def add_data_window_arguments(p: argparse.ArgumentParser, *, whole: bool = True) -> None:
    """Add ``DATA_DIR`` then the months (:func:`add_month_arguments`)."""
    add_data_dir_argument(p)
    add_month_arguments(p, whole=whole)


def add_data_dir_argument(p: argparse.ArgumentParser) -> None:
    """Add the positional ``DATA_DIR`` (``dest`` ``data_dir``): the export's folder."""
    p.add_argument("data_dir", metavar="DATA_DIR", help="folder holding the Parquet export")


def add_month_arguments(p: argparse.ArgumentParser, *, whole: bool = True) -> None:
    """Add the required ``--from``/``--to`` months (``dest`` ``start`` and ``end``, text
    ``YYYY-MM``). ``whole`` says "first whole month" in the help (the table commands) rather
    than "first month" (the board pack)."""
    month = "whole month" if whole else "month"
    p.add_argument("--from", dest="start", required=True, metavar="YYYY-MM",
                   help=f"first {month} of the window")
    p.add_argument("--to", dest="end", required=True, metavar="YYYY-MM",
                   help=f"last {month} of the window")


def parse_window(start_text: str, end_text: str,
                 error: type[Exception] = CommandError) -> tuple[pd.Period, pd.Period]:
    """The ``--from``/``--to`` months as monthly ``pd.Period`` (first, last), both included.
    Raises ``error`` when ``--from`` is after ``--to`` (and ``metrics.kpis.KpiInputError``
    for text that is not a month)."""
    from metrics.kpis import to_period

    start, end = to_period(start_text), to_period(end_text)
    if start > end:
        raise error(f"--from {start} is after --to {end}")
    return start, end


def parse_kpi_ids(text: str | None, error: type[Exception] = CommandError) -> list[str] | None:
    """The KPI ids of a comma-separated ``--kpi`` (spaces stripped), or None when the flag
    was not given (every KPI). Raises ``error`` when it names none."""
    if text is None:
        return None
    kpi_ids = [k.strip() for k in text.split(",") if k.strip()]
    if not kpi_ids:
        raise error("--kpi needs at least one KPI id")
    return kpi_ids


def one_line(text: str) -> str:
    """``text`` with every run of white space (new lines included) folded to one space."""
    return " ".join(text.split())


def load_export(folder_name: str, err: TextIO, error: type[Exception] = CommandError, *,
                say_cause: bool = True, clean: Callable[[str], str] = str) -> Any:
    """The loaded ``metrics.dataset.Dataset`` of ``folder_name``, or None when the export
    fails validation (its errors are printed on ``err``: a heading, at most
    :data:`MAX_PROBLEMS_SHOWN` lines ``  file column: message`` with each message passed
    through ``clean``, then how many more). Raises ``error`` for a folder that cannot be read
    (with the OS's reason when ``say_cause``)."""
    from metrics.load import load_dataset

    folder = Path(folder_name)
    if not folder.is_dir() or not os.access(folder, os.R_OK | os.X_OK):
        why = ("does not exist" if not folder.exists() else "is not a folder"
               if not folder.is_dir() else "cannot be read (permission denied)")
        raise error(f"cannot read the data folder {str(folder)!r}: it {why}")
    try:
        dataset = load_dataset(folder)
    except OSError as exc:
        cause = f": {exc}" if say_cause else ""
        raise error(f"cannot read the data folder {str(folder)!r}{cause}") from exc
    if not dataset.report.usable:
        errors = dataset.report.errors
        print(f"the export in {str(folder)!r} is not usable ({len(errors)} error(s)):", file=err)
        for p in errors[:MAX_PROBLEMS_SHOWN]:
            where = p.file + (f" {p.column}" if p.column else "")
            print(f"  {where}: {clean(p.message)}", file=err)
        if len(errors) > MAX_PROBLEMS_SHOWN:
            print(f"  ... and {len(errors) - MAX_PROBLEMS_SHOWN} more", file=err)
        return None
    return dataset


def write_rows(table: pd.DataFrame, out: TextIO, fmt: str,
               date_columns: Sequence[str] = ()) -> None:
    """Write ``table`` to ``out``: ``fmt`` ``"csv"`` through ``metrics.safe_csv.write_csv``
    (formula-injection safe, empty cells for missing, booleans ``true``/``false``) or
    ``"json"``, an array of objects (null for missing). ``date_columns`` are written as ISO
    ``YYYY-MM-DD`` text. The caller's table is not changed."""
    import numpy as np
    import pandas as pd

    shown = table.copy()
    for col in date_columns:
        shown[col] = iso_date_text(shown[col])
    if fmt == "csv":
        for col in [c for c in shown.columns if shown[c].dtype == bool]:
            shown[col] = pd.Categorical.from_codes(shown[col].to_numpy().astype(np.int8),
                                                   ["false", "true"])
        from metrics.safe_csv import write_csv

        write_csv(shown, out)
        return
    columns = list(shown.columns)
    records = [{c: json_value(v) for c, v in zip(columns, row, strict=True)}
               for row in shown.itertuples(index=False, name=None)]
    json.dump(records, out, indent=1)
    out.write("\n")


def iso_date_text(values: Any) -> Any:
    """Dates (datetime64 or anything ``pd.to_datetime`` reads) as ISO ``YYYY-MM-DD`` text, a
    ``pd.Categorical`` (each distinct date formatted once); missing dates are missing."""
    import numpy as np
    import pandas as pd

    series = pd.Series(values)
    if not pd.api.types.is_datetime64_any_dtype(series.dtype):
        series = pd.to_datetime(series)
    days = series.to_numpy(dtype="datetime64[D]")
    codes, uniques = pd.factorize(days)
    text = np.datetime_as_string(np.asarray(uniques, dtype="datetime64[D]"), unit="D")
    return pd.Categorical.from_codes(codes, pd.Index(text.tolist(), dtype=object))


def json_value(v: Any) -> Any:
    """A table cell as a JSON-ready Python value: None for missing (None, NA, NaT, NaN),
    a numpy scalar as its Python value, anything else unchanged."""
    import pandas as pd

    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if hasattr(v, "item"):  # numpy scalar
        v = v.item()
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def add_db_argument(p: argparse.ArgumentParser, what: str) -> None:
    """The ``--db URL`` option: the meeting record's database (default ``$FLIGHTDECK_DB``);
    ``what`` says what it adds to this command's output."""
    p.add_argument("--db", metavar="URL", default=None,
                   help="the meeting record's database URL (default $FLIGHTDECK_DB; without "
                        f"either there is no record): {what}")


def open_record_arg(args: argparse.Namespace, err: TextIO, without: str) -> Any:
    """The meeting record of ``--db`` (else ``$FLIGHTDECK_DB``), or None when neither is set.
    When it cannot be opened: one ``warning:`` line on ``err`` (no password), ending ``;
    {without}``, and None."""
    url = getattr(args, "db", None) or os.environ.get("FLIGHTDECK_DB") or None
    if not url:
        return None
    from metrics.record import RecordUnavailable, open_record

    try:
        return open_record(url)
    except RecordUnavailable as exc:
        print(f"warning: {exc}; {without}", file=err)
        return None
