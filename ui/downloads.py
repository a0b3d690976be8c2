"""Downloads: CSV and Excel of any displayed table, and the board pack PDF button.

API for pages (the app engineer calls these; ``ui/views.downloads`` already does the first)::

    from ui import downloads

    # Two buttons (CSV, Excel) under a table, with exactly the values and status flags shown.
    downloads.download_buttons(table, "charge_rate_by_team", access=ctx.access)

    # The flight deck's "Board pack" button: builds the PDF for the current view with a
    # progress bar, then offers it for download (kept across reruns for the same view).
    downloads.boardpack_button(ctx.dataset, force, ctx.start, ctx.end, ctx.access.audience,
                               comparison=ctx.view.compare, access=ctx.access)

    # Pure helpers (no Streamlit calls): bytes of the two file types.
    downloads.to_csv_bytes(table, audience="internal")  -> bytes
    downloads.to_excel_bytes(table, name="table", audience="internal")  -> bytes
    downloads.read_csv_download(data)  -> DataFrame  (skips the marking line)

Contract for the panel audience: a table must already be disclosure-controlled when it reaches
these helpers (``metrics.disclosure.apply_panel`` / ``apply_panel_marked`` for KPI tables,
``suppress_breakdown`` for counts by category, or ``Access.disclose``). The helpers check it
cheaply and refuse (``DisclosureError``) a panel table whose count columns (``numerator``,
``denominator``, ``n``, ``count``, ``cases``, ``responses``) hold a value from 1 to 7 or a value
not rounded to 5, which is what a table that skipped disclosure control looks like.

Every file carries the marking OFFICIAL-SENSITIVE: the first line of a CSV file (read it back
with ``pd.read_csv(..., skiprows=1)`` or :func:`read_csv_download`), and the header and footer
of the Excel sheet plus an "About" sheet. Each download and each board pack is written to the
audit trail (``metrics.audit.log_event``, action ``export``) when the button is clicked.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import streamlit as st

MARKING = "OFFICIAL-SENSITIVE"
PANEL_NOTE = ("Scrutiny panel: disclosure-controlled. * = suppressed (a count from 1 to 7, or a "
              "figure based on 1 to 7 people or events); other counts rounded to the nearest 5.")
COUNT_COLUMNS: tuple[str, ...] = ("numerator", "denominator", "n", "count", "cases",
                                  "responses")
CSV_MIME = "text/csv"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PDF_MIME = "application/pdf"
_SESSION_KEY = "_boardpack_pdf"


class DisclosureError(ValueError):
    """A panel download of a table that has not been through disclosure control."""


# --------------------------------------------------------------------------------------------
# Pure helpers
# --------------------------------------------------------------------------------------------

def _audience(access: Any = None, audience: str | None = None) -> str:
    if audience:
        return audience
    if access is not None and getattr(access, "audience", None):
        return str(access.audience)
    return "internal"


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


def export_frame(table: pd.DataFrame) -> pd.DataFrame:
    """The table as written to files: the index dropped unless it is meaningful (named),
    dates as ``YYYY-MM-DD``, months as ``YYYY-MM``, categories as text; values unchanged."""
    frame = table.copy()
    if any(name is not None for name in frame.index.names):
        frame = frame.reset_index()
    else:
        frame = frame.reset_index(drop=True)
    frame.columns = [str(c) for c in frame.columns]
    for col in frame.columns:
        s = frame[col]
        if isinstance(s.dtype, pd.PeriodDtype):
            frame[col] = s.astype(str)
        elif pd.api.types.is_datetime64_any_dtype(s):
            fmt = "%Y-%m-%d" if (s.dropna() == s.dropna().dt.normalize()).all() else \
                "%Y-%m-%d %H:%M"
            frame[col] = s.dt.strftime(fmt).astype(object).where(s.notna(), None)
        elif isinstance(s.dtype, pd.CategoricalDtype):
            frame[col] = s.astype(object).where(s.notna(), None)
        elif s.dtype == object:
            frame[col] = s.map(_plain)
    return frame


def _plain(value: Any) -> Any:
    if isinstance(value, pd.Period):
        return str(value)
    if isinstance(value, pd.Timestamp | datetime):
        return value.strftime("%Y-%m-%d")
    return value


def _marking_line(audience: str) -> str:
    return f"{MARKING} - {PANEL_NOTE}" if audience == "panel" else MARKING


def to_csv_bytes(table: pd.DataFrame, *, audience: str = "internal") -> bytes:
    """UTF-8 CSV (with BOM, so Excel reads it right): the marking line, then the table."""
    check_disclosure(table, audience)
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow([_marking_line(audience)])
    export_frame(table).to_csv(buf, index=False, lineterminator="\n")
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def read_csv_download(data: bytes) -> pd.DataFrame:
    """Read back a CSV written by :func:`to_csv_bytes` (skips the marking line)."""
    return pd.read_csv(io.BytesIO(data), skiprows=1, encoding="utf-8-sig")


def _sheet_title(name: str) -> str:
    title = re.sub(r"[\[\]:*?/\\]", " ", name).strip() or "table"
    return title[:31]


def to_excel_bytes(table: pd.DataFrame, *, name: str = "table", audience: str = "internal",
                   title: str | None = None) -> bytes:
    """An .xlsx workbook: the table on the first sheet (header in row 1, so
    ``pd.read_excel(data)`` gives it back), marked OFFICIAL-SENSITIVE in the page header and
    footer, and an "About" sheet with the marking, the title and the audience."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    check_disclosure(table, audience)
    frame = export_frame(table)
    wb = Workbook()
    ws = wb.active
    ws.title = _sheet_title(name)
    ws.append(list(frame.columns))
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in frame.itertuples(index=False, name=None):
        ws.append([_cell(v) for v in row])
    ws.freeze_panes = "A2"
    for i, col in enumerate(frame.columns, 1):
        sample = [len(str(col))] + [len(str(v)) for v in frame[col].head(200) if v is not None]
        ws.column_dimensions[get_column_letter(i)].width = min(60, max(sample) + 2)
    for header in (ws.oddHeader, ws.evenHeader):
        header.center.text = MARKING
    for footer in (ws.oddFooter, ws.evenFooter):
        footer.center.text = MARKING
    about = wb.create_sheet("About")
    rows = [("Marking", MARKING), ("Table", title or name),
            ("Audience", "Scrutiny panel (disclosure-controlled)" if audience == "panel"
             else "Internal"),
            ("Produced", datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))]
    if audience == "panel":
        rows.append(("Note", PANEL_NOTE))
    for row in rows:
        about.append(list(row))
    about["A1"].font = Font(bold=True)
    about.column_dimensions["A"].width = 12
    about.column_dimensions["B"].width = 100
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _cell(value: Any) -> Any:
    """A value openpyxl can write: NaN/NA become empty cells, numpy scalars plain Python."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        try:
            value = value.item()
        except (ValueError, AttributeError):
            pass
        if isinstance(value, float) and math.isnan(value):
            return None
    if isinstance(value, list | tuple | dict | set):
        return str(value)
    return value


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "table"


def _log_export(access: Any, audience: str, *, reason: str, force: str | None = None,
                window: str | None = None) -> None:
    """One ``export`` line in the audit trail; never lets an audit failure break the page."""
    try:
        from metrics.audit import log_event
    except ImportError:
        return
    try:
        log_event("export", user=str(getattr(access, "user", None) or "local user"),
                  audience=audience, force=force, window=window,
                  page=getattr(access, "page_id", None), reason=reason)
    except (OSError, ValueError):
        pass


# --------------------------------------------------------------------------------------------
# Streamlit widgets
# --------------------------------------------------------------------------------------------

def download_buttons(table: pd.DataFrame, name: str, *, access: Any = None,
                     audience: str | None = None, key: str | None = None,
                     title: str | None = None) -> None:
    """Render "CSV" and "Excel" download buttons for ``table`` side by side.

    ``name`` becomes the file name (``name.csv``, ``name.xlsx``) and the sheet name.
    ``access`` (``ui.access.Access``) or ``audience`` says who is looking; in the panel audience
    the table must already be disclosure-controlled (else the buttons are replaced by a short
    error and nothing is offered).
    """
    aud = _audience(access, audience)
    try:
        check_disclosure(table, aud)
    except DisclosureError:
        st.error("This table cannot be downloaded in the panel view.")
        return
    frozen = table.copy()
    slug = _slug(name)
    base = key or f"dl_{slug}"
    left, right, _ = st.columns([1, 1, 4])
    # The files are made when a button is clicked (deferred), so a page with many tables
    # reruns as fast without them.
    with left:
        st.download_button("Download CSV", data=lambda: to_csv_bytes(frozen, audience=aud),
                           file_name=f"{slug}.csv", mime=CSV_MIME, key=f"{base}_csv",
                           icon=":material/download:", on_click=_log_export,
                           args=(access, aud), kwargs={"reason": f"csv:{slug}"})
    with right:
        st.download_button("Download Excel",
                           data=lambda: to_excel_bytes(frozen, name=name, audience=aud,
                                                       title=title),
                           file_name=f"{slug}.xlsx", mime=XLSX_MIME, key=f"{base}_xlsx",
                           icon=":material/download:", on_click=_log_export,
                           args=(access, aud), kwargs={"reason": f"xlsx:{slug}"})


def boardpack_button(dataset: Any, force: str, start: str | pd.Period, end: str | pd.Period,
                     audience: str = "internal", *, comparison: str = "previous",
                     access: Any = None, key: str = "boardpack",
                     charts: bool = True) -> bytes | None:
    """The "Board pack" button: build the PDF for this view with a progress bar, then offer it.

    In the panel audience every KPI table goes through ``access.disclose`` when an ``access``
    is given (the same rows and rules as the screen), else ``apply_panel``, and the pack holds
    only the sections of the pages the share link allows (``access.allowed_pages``).
    The built PDF is kept in the session for this exact view, so the download button survives
    reruns. Returns the PDF bytes once built (None before). Errors are shown as one sentence,
    never a trace.
    """
    from report.boardpack import BoardpackError, UnusableDataError, boardpack_filename

    aud = _audience(access, audience)
    view = (force, str(start), str(end), aud, comparison, _data_key(dataset))
    stored = st.session_state.get(f"{_SESSION_KEY}_{key}")
    pdf: bytes | None = stored[1] if stored and stored[0] == view else None
    if pdf is None:
        if st.button("Build board pack (PDF)", key=f"{key}_build", icon=":material/picture_as_pdf:",
                     help="A4 landscape PDF of this view for the performance meeting"):
            bar = st.progress(0.0, text="Starting the board pack…")

            def progress(fraction: float, message: str) -> None:
                bar.progress(min(max(fraction, 0.0), 1.0), text=message)

            try:
                pdf = _build(dataset, force, start, end, aud, comparison, access, progress,
                             charts)
            except (BoardpackError, UnusableDataError) as exc:
                bar.empty()
                st.error(f"The board pack could not be built: {exc}")
                return None
            bar.empty()
            st.session_state[f"{_SESSION_KEY}_{key}"] = (view, pdf)
    if pdf is None:
        return None
    st.download_button("Download board pack", data=pdf, mime=PDF_MIME,
                       file_name=boardpack_filename(force, start, end, aud),
                       key=f"{key}_download", type="primary", icon=":material/download:",
                       on_click=_log_export, args=(access, aud),
                       kwargs={"reason": "board_pack_pdf", "force": force,
                               "window": f"{start}..{end}"})
    return pdf


def _data_key(dataset: Any) -> tuple:
    """Which export a pack was built from: its files' identity, so a new export rebuilds."""
    source = getattr(dataset, "source", None)
    if source is not None:
        try:
            from metrics.load import export_fingerprint

            return (str(source), export_fingerprint(source))
        except (ImportError, OSError):
            return (str(source), getattr(dataset, "as_at", None))
    return (id(dataset),)


def _build(dataset: Any, force: str, start: Any, end: Any, audience: str, comparison: str,
           access: Any, progress: Callable[[float, str], None], charts: bool) -> bytes:
    from report.boardpack import build_boardpack

    panel = audience == "panel"
    disclose = getattr(access, "disclose", None) if panel else None
    pages = getattr(access, "allowed_pages", None) if panel else None
    return build_boardpack(dataset, force, start, end, audience=audience,
                           comparison=comparison, progress=progress, charts=charts,
                           disclose=disclose, pages=pages)
