"""Pure writers for the app's downloads: CSV and Excel that say what they hold. No Streamlit.

Every file names its force, window, scope, audience and as-at date twice: in the file name
(:func:`export_filename`, e.g. ``charge_rate_by_team_durham-constabulary_2025-10_2026-09_all_
internal_asat-2026-10-15.csv``) and inside the file: ``#`` comment lines at the top of a CSV
(:func:`about_lines`; read the table back with :func:`read_csv_download`), an "About" sheet in
Excel. The table itself carries numbers as numbers (:func:`export_frame`): proportions as
fractions (0.25 = 25%; Excel shows them with a percent number format), intervals as two numeric
columns ``ci_low`` and ``ci_high``, counts as integers, an empty cell (never "None") for a
missing value, and a ``unit`` column beside ``kpi_id`` so a reader knows which rows are
proportions and which are days.

Every text cell that a spreadsheet would evaluate (``= + - @``, tab, CR at its start) is
neutralised: in CSV by ``metrics.safe_csv`` (a ``'`` prefix), in Excel by storing it as a
string cell (``data_type "s"`` with the quote-prefix style), never as a formula.

Panel contract: a table must already be disclosure-controlled when it reaches these writers;
:func:`check_disclosure` refuses one whose count columns hold 1 to 7 or unrounded counts.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd

from metrics.safe_csv import header_line, is_dangerous, safe_cell, safe_frame, write_csv

MARKING = "OFFICIAL-SENSITIVE"
PANEL_NOTE = ("Scrutiny panel: disclosure-controlled. * = suppressed (a count from 1 to 7, or a "
              "figure based on 1 to 7 people or events); other counts rounded to the nearest 5; "
              "rates worked out from the rounded counts.")
UNITS_NOTE = ("Proportions are fractions (0.25 = 25%); days are days; ci_low and ci_high are "
              "the 95% interval in the same unit; an empty cell has no value.")
COUNT_COLUMNS: tuple[str, ...] = ("numerator", "denominator", "n", "count", "cases",
                                  "responses")
#: Columns holding a KPI's value (or its interval) in the KPI's unit.
VALUE_COLUMNS: tuple[str, ...] = ("value", "ci_low", "ci_high", "compare_value", "difference",
                                  "diff_ci_low", "diff_ci_high")
#: Columns that are always proportions (funnel downloads).
PROPORTION_COLUMNS: tuple[str, ...] = ("target", "lower_998", "lower_95", "upper_95",
                                       "upper_998")
_EMPTY_TEXT = frozenset({"None", "nan", "NaN", "<NA>", "NaT"})
_EXCEL_FORMATS = {"proportion": "0.0%", "days": "0.0", "count": "#,##0", "cases": "#,##0",
                  "fte": "#,##0.0"}


class DisclosureError(ValueError):
    """A panel download of a table that has not been through disclosure control."""


@dataclass(frozen=True)
class ExportAbout:
    """What a download holds, written into its file name and its About sheet / header lines.

    ``start``/``end`` are months (``YYYY-MM``), ``as_at`` the export's as-at date, ``scope``
    ``all|adult_rape|child``, ``audience`` ``internal|panel``; ``kpi`` names the KPI of a
    breakdown or funnel (``"charge_rate: Charge rate"``). Any field may be None when unknown.
    """

    title: str = "table"
    force: str | None = None
    start: str | None = None
    end: str | None = None
    scope: str | None = "all"
    audience: str = "internal"
    as_at: date | None = None
    kpi: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def window(self) -> str | None:
        """``YYYY-MM to YYYY-MM`` (or None when the window is unknown)."""
        if self.start is None or self.end is None:
            return None
        return f"{self.start} to {self.end}"


def _slug(text: str, lower: bool = True) -> str:
    text = text.lower() if lower else text
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")


def export_filename(name: str, about: ExportAbout | None, ext: str) -> str:
    """A file name saying what the file holds, e.g.
    ``charge_rate_by_team_durham-constabulary_2025-10_2026-09_all_internal_asat-2026-10-15.csv``.

    Parts left out when unknown. Only ``[A-Za-z0-9_.-]`` characters; at most 180 characters
    before the extension.
    """
    base = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_.") or "table"
    parts = [base]
    if about is not None:
        if about.force:
            parts.append(_slug(about.force) or "force")
        if about.start and about.end:
            parts.append(f"{_slug(str(about.start))}_{_slug(str(about.end))}")
        if about.scope:
            parts.append(_slug(about.scope).replace("-", "_"))
        parts.append(_slug(about.audience or "internal"))
        if about.as_at is not None:
            parts.append(f"asat-{pd.Timestamp(about.as_at).strftime('%Y-%m-%d')}")
    stem = "_".join(p for p in parts if p)[:180].rstrip("_.-")
    return f"{stem}.{ext.lstrip('.')}"


def about_rows(about: ExportAbout | None, *, audience: str = "internal") -> list[tuple[str, str]]:
    """The (label, text) pairs of the About sheet and the CSV header, marking first.

    Labels: Marking, Table, KPI, Force, Window, Scope, Audience, Data as at, Produced, Units,
    Note (panel), then any notes. Unknown fields are left out.
    """
    about = about or ExportAbout(audience=audience)
    aud = about.audience or audience
    rows: list[tuple[str, str]] = [("Marking", MARKING), ("Table", about.title)]
    if about.kpi:
        rows.append(("KPI", about.kpi))
    if about.force:
        rows.append(("Force", about.force))
    if about.window:
        rows.append(("Window", about.window))
    if about.scope:
        rows.append(("Scope", about.scope))
    rows.append(("Audience", "Scrutiny panel (disclosure-controlled)" if aud == "panel"
                 else "Internal"))
    if about.as_at is not None:
        rows.append(("Data as at", pd.Timestamp(about.as_at).strftime("%Y-%m-%d")))
    rows.append(("Produced", datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")))
    rows.append(("Units", UNITS_NOTE))
    if aud == "panel":
        rows.append(("Note", PANEL_NOTE))
    rows += [("Note", n) for n in about.notes]
    return rows


def about_lines(about: ExportAbout | None, *, audience: str = "internal") -> list[str]:
    """The CSV's ``#`` header lines: ``# OFFICIAL-SENSITIVE`` then ``# label: text`` each."""
    rows = about_rows(about, audience=audience)
    return [header_line(MARKING)] + [header_line(f"{k}: {v}") for k, v in rows[1:]]


def check_disclosure(table: pd.DataFrame, audience: str) -> None:
    """Refuse (``DisclosureError``) a panel table that was not disclosure-controlled.

    Internal tables pass untouched. For ``panel``: every numeric value in a count column must
    be 0 or a multiple of 5 of at least 10 (``*``, text and empty cells are fine). A table
    marked ``table.attrs["disclosure"] == "panel"`` is trusted.
    """
    if audience != "panel" or table.attrs.get("disclosure") == "panel":
        return
    for col in table.columns:
        if str(col).strip().lower() not in COUNT_COLUMNS:
            continue
        values = pd.to_numeric(table[col].where(table[col].astype(str) != "*"),
                               errors="coerce").dropna().abs()
        bad = values[(values > 0) & ((values < 8) | ((values % 5).round(9) % 5 != 0))]
        if not bad.empty:
            raise DisclosureError(
                f"column {col!r} holds counts that have not been through disclosure control "
                f"(e.g. {bad.iloc[0]:g}); pass the table through metrics.disclosure first")


def _units(kpi_ids: Iterable[Any]) -> dict[str, str]:
    """kpi_id -> unit from the registry (survey items are proportions)."""
    from metrics import registry

    out: dict[str, str] = {}
    for kpi_id in {str(k) for k in kpi_ids if isinstance(k, str)}:
        try:
            out[kpi_id] = registry.get_kpi(kpi_id).unit
        except KeyError:
            if kpi_id.startswith("survey_"):
                out[kpi_id] = "proportion"
    return out


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float | np.floating) and math.isnan(value):
        return True
    return isinstance(value, str) and value in _EMPTY_TEXT


def _plain(value: Any) -> Any:
    """A value as a file holds it: None for missing, Python numbers, ISO dates, text."""
    if _missing(value):
        return None
    if isinstance(value, pd.Period):
        return str(value)
    if isinstance(value, pd.Timestamp | datetime):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, list | tuple | dict | set):
        return str(value)
    return value


def _numeric_or_none(values: pd.Series) -> pd.Series | None:
    """``values`` as numbers when every non-missing value is a number (or numeric text
    other than the panel's ``*``); else None."""
    present = values[~values.map(_missing)]
    if present.empty:
        return None
    if present.map(lambda v: isinstance(v, bool | np.bool_)).any():
        return None
    numbers = pd.to_numeric(present, errors="coerce")
    if numbers.isna().any():
        return None
    out = pd.Series(np.nan, index=values.index, dtype="float64")
    out[present.index] = numbers.astype("float64")
    return out


def _whole(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and \
        not isinstance(value, bool | np.bool_) and math.isfinite(value) and \
        float(value).is_integer() and abs(value) < 2**53


def _as_int_if_whole(values: pd.Series) -> pd.Series:
    """Counts as integers: ``Int64`` when every value is whole; otherwise (full-time
    equivalents such as 1.7 officers) each whole value an int and the rest floats."""
    finite = values.dropna()
    if finite.empty or all(_whole(v) for v in finite):
        return values.round().astype("Int64")
    return pd.Series([None if _missing(v) else int(v) if _whole(v) else float(v)
                      for v in values], index=values.index, dtype=object)


def export_frame(table: pd.DataFrame) -> pd.DataFrame:
    """The table as written to files.

    The index is dropped unless it is named; dates become ``YYYY-MM-DD``, months ``YYYY-MM``;
    categories text; count columns whole numbers (``Int64``, panel ``*`` kept as text); an
    object column whose values are all numbers becomes numeric; missing values (and the text
    "None"/"nan") become empty; a ``unit`` column (``proportion|days|count|cases``) is added
    after ``kpi_id`` when the table has KPI values and no unit.
    """
    frame = table.copy()
    if any(name is not None for name in frame.index.names):
        frame = frame.reset_index()
    else:
        frame = frame.reset_index(drop=True)
    frame.columns = [str(c) for c in frame.columns]
    for col in frame.columns:
        s = frame[col]
        if isinstance(s.dtype, pd.PeriodDtype):
            frame[col] = s.astype(str).where(s.notna(), None)
        elif pd.api.types.is_datetime64_any_dtype(s):
            fmt = "%Y-%m-%d" if (s.dropna() == s.dropna().dt.normalize()).all() else \
                "%Y-%m-%d %H:%M"
            frame[col] = s.dt.strftime(fmt).astype(object).where(s.notna(), None)
        elif isinstance(s.dtype, pd.CategoricalDtype):
            frame[col] = s.astype(object).map(_plain)
        elif pd.api.types.is_bool_dtype(s.dtype):
            continue
        elif s.dtype == object or isinstance(s.dtype, pd.StringDtype):
            s = s.astype(object).map(_plain)
            numbers = _numeric_or_none(s)
            frame[col] = s if numbers is None else numbers
        if col.lower() in COUNT_COLUMNS and pd.api.types.is_float_dtype(frame[col].dtype):
            frame[col] = _as_int_if_whole(frame[col])
        elif col.lower() in COUNT_COLUMNS and frame[col].dtype == object:
            frame[col] = pd.Series([int(v) if _whole(v) else v for v in frame[col]],
                                   index=frame.index, dtype=object)
    if "kpi_id" in frame.columns and "unit" not in frame.columns and \
            any(c in frame.columns for c in VALUE_COLUMNS):
        units = _units(frame["kpi_id"])
        frame.insert(list(frame.columns).index("kpi_id") + 1, "unit",
                     frame["kpi_id"].map(lambda k: units.get(str(k))))
    return frame


def to_csv_bytes(table: pd.DataFrame, about: ExportAbout | None = None, *,
                 audience: str | None = None) -> bytes:
    """UTF-8 CSV (with BOM, so Excel reads it right): ``#`` header lines (marking, table,
    force, window, scope, audience, as-at, produced, units), then the table, every dangerous
    text cell neutralised (``metrics.safe_csv``)."""
    aud = audience or (about.audience if about else "internal")
    check_disclosure(table, aud)
    if about is not None and about.audience != aud:
        about = ExportAbout(**{**about.__dict__, "audience": aud})
    buf = io.StringIO()
    write_csv(export_frame(table), buf, about_lines(about, audience=aud))
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def read_csv_download(data: bytes) -> pd.DataFrame:
    """Read back a CSV written by :func:`to_csv_bytes` (skips the ``#`` header lines)."""
    text = data.decode("utf-8-sig")
    skip = 0
    for line in text.splitlines():
        if line.startswith("#") or line.startswith('"#'):
            skip += 1
            continue
        break
    return pd.read_csv(io.StringIO(text), skiprows=skip, keep_default_na=True)


def csv_header(data: bytes) -> dict[str, str]:
    """The ``label: text`` header lines of a CSV written by :func:`to_csv_bytes`, as a dict
    (``{"Marking": "OFFICIAL-SENSITIVE", "Force": ..., ...}``)."""
    out: dict[str, str] = {}
    rows = csv.reader(io.StringIO(data.decode("utf-8-sig")))
    for row in rows:
        if not row or not row[0].startswith("#"):
            break
        text = row[0][1:].strip()
        if ": " in text:
            key, value = text.split(": ", 1)
            out.setdefault(key, value)
        else:
            out.setdefault("Marking", text)
    return out


def _sheet_title(name: str) -> str:
    """A valid Excel sheet title (31 characters, no []:*?/\\, never "About")."""
    title = re.sub(r"[\[\]:*?/\\]", " ", name).strip() or "table"
    if title.lower() == "about":
        title = "table"
    return safe_cell(title)[:31].lstrip("'") or "table"


def _excel_value(value: Any) -> Any:
    """A cell value for openpyxl: None for missing or infinite, else the plain value."""
    value = _plain(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _write_text(cell: Any, value: str) -> None:
    """Store ``value`` as a string cell, never a formula (even when it begins with ``=``)."""
    cell.value = value
    cell.data_type = "s"
    if is_dangerous(value):
        cell.quotePrefix = True


def to_excel_bytes(table: pd.DataFrame, about: ExportAbout | None = None, *,
                   name: str = "table", audience: str | None = None,
                   title: str | None = None) -> bytes:
    """An .xlsx workbook: the table on the first sheet (header in row 1, so
    ``pd.read_excel(data)`` gives it back), an "About" sheet (marking, table, KPI, force,
    window, scope, audience, as-at, produced, units) and the marking in the page header and
    footer. Proportions are numeric fractions shown with a percent format, counts integers,
    missing values empty cells, every text cell a string (never a formula)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    aud = audience or (about.audience if about else "internal")
    check_disclosure(table, aud)
    about = about or ExportAbout(title=title or name, audience=aud)
    if about.audience != aud or (title and about.title != title):
        about = ExportAbout(**{**about.__dict__, "audience": aud,
                               "title": title or about.title})
    frame = export_frame(table)
    units = frame["unit"].tolist() if "unit" in frame.columns else [None] * len(frame)
    wb = Workbook()
    ws = wb.active
    ws.title = _sheet_title(name)
    for j, col in enumerate(frame.columns, 1):
        head = ws.cell(row=1, column=j)
        _write_text(head, str(col))
        head.font = Font(bold=True)
    columns = list(frame.columns)
    for i, row in enumerate(frame.itertuples(index=False, name=None), 2):
        for j, (col, raw) in enumerate(zip(columns, row, strict=True), 1):
            value = _excel_value(raw)
            if value is None:
                continue
            cell = ws.cell(row=i, column=j)
            if isinstance(value, str):
                _write_text(cell, value)
                continue
            cell.value = value
            if isinstance(value, bool):
                continue
            unit = units[i - 2] if col in VALUE_COLUMNS else None
            if col in PROPORTION_COLUMNS:
                unit = "proportion"
            if col.lower() in COUNT_COLUMNS:
                unit = "count" if isinstance(value, int) else "fte"
            if unit in _EXCEL_FORMATS:
                cell.number_format = _EXCEL_FORMATS[unit]
    ws.freeze_panes = "A2"
    for j, col in enumerate(columns, 1):
        sample = [len(str(col))] + [len(str(v)) for v in frame[col].head(200)
                                    if not _missing(v)]
        ws.column_dimensions[get_column_letter(j)].width = min(60, max(sample) + 2)
    for header in (ws.oddHeader, ws.evenHeader):
        header.center.text = MARKING
    for footer in (ws.oddFooter, ws.evenFooter):
        footer.center.text = MARKING
    sheet = wb.create_sheet("About")
    for i, (label, text) in enumerate(about_rows(about, audience=aud), 1):
        _write_text(sheet.cell(row=i, column=1), label)
        _write_text(sheet.cell(row=i, column=2), str(text))
    sheet["A1"].font = Font(bold=True)
    sheet.column_dimensions["A"].width = 12
    sheet.column_dimensions["B"].width = 100
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


#: Positions of ``metrics.verdicts.funnel_table`` as the download names them.
FUNNEL_POSITIONS = {"outside": "outside_998", "between_95_998": "between_95_998",
                    "within": "inside_95"}


def funnel_download(funnel_rows: pd.DataFrame, kpi_id: str) -> pd.DataFrame:
    """The funnel plot as a table: one row per force on it, with its numerator, denominator,
    rate and the 95% and 99.8% limits at its denominator, exactly as the plot places it.

    ``funnel_rows``: ``metrics.verdicts.funnel_table`` (or ``funnel_points``) rows for the KPI
    ``kpi_id``: the forces with status ``ok``, disclosure-controlled for a panel; the target is
    their pooled rate, the limits widened for overdispersion only when phi > 1.
    Columns ``kpi_id, force, numerator, denominator, value, target, lower_998, lower_95,
    upper_95, upper_998, position`` (``outside_998|between_95_998|inside_95``); rates and
    limits are fractions, counts whole numbers; sorted by force. Empty (with those columns)
    when no force is on the plot.
    """
    cols = ["kpi_id", "force", "numerator", "denominator", "value", "target", "lower_998",
            "lower_95", "upper_95", "upper_998", "position"]
    if funnel_rows is None or funnel_rows.empty:
        return pd.DataFrame(columns=cols)
    out = funnel_rows.assign(
        kpi_id=kpi_id, force=funnel_rows["force"].astype(str),
        position=[FUNNEL_POSITIONS[str(p)] for p in funnel_rows["position"]])
    out["numerator"] = _as_int_if_whole(out["numerator"].astype(float))
    out["denominator"] = _as_int_if_whole(out["denominator"].astype(float))
    return out.sort_values("force", kind="mergesort").reset_index(drop=True)[cols]


__all__ = ["COUNT_COLUMNS", "MARKING", "PANEL_NOTE", "DisclosureError", "ExportAbout",
           "about_lines", "about_rows", "check_disclosure", "csv_header", "export_filename",
           "export_frame", "funnel_download", "read_csv_download", "safe_cell", "safe_frame",
           "to_csv_bytes", "to_excel_bytes"]
