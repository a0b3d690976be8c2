"""Downloads: CSV and Excel of any displayed table, and the board pack PDF button.

API for pages::

    from ui import downloads

    # Two buttons (CSV, Excel) under a table. ``page`` (the ``ui.shell.PageContext``) names
    # the force, window, scope, audience and as-at date in the file names and inside the files.
    downloads.download_buttons(table, "charge_rate_by_team", access=ctx.access, page=ctx,
                               kpi="charge_rate")

    # The flight deck's "Board pack" button: builds the PDF for the current view with a
    # progress bar, then offers it for download (kept across reruns for the same view).
    downloads.boardpack_button(ctx.dataset, force, ctx.start, ctx.end, ctx.access.audience,
                               comparison=ctx.view.compare, access=ctx.access)

The files themselves are written by the pure ``present.export`` (no Streamlit): ``#`` header
lines (CSV) or an "About" sheet (Excel) with the marking OFFICIAL-SENSITIVE, numbers as
numbers, every text cell neutralised against formula injection. Its names are re-exported
here (``to_csv_bytes``, ``to_excel_bytes``, ``read_csv_download``, ``export_frame``,
``check_disclosure``, ``DisclosureError``).

Contract for the panel audience: a table must already be disclosure-controlled when it reaches
these helpers (``metrics.disclosure.apply_panel`` / ``apply_panel_marked`` for KPI tables,
``suppress_breakdown`` for counts by category, or ``Access.disclose``); ``check_disclosure``
refuses one whose count columns hold 1 to 7 or unrounded counts. Each download and each board
pack is written to the audit trail (``metrics.audit.log_event``, action ``export``) on click.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from present.export import (
    COUNT_COLUMNS,
    MARKING,
    PANEL_NOTE,
    DisclosureError,
    ExportAbout,
    check_disclosure,
    export_filename,
    export_frame,
    read_csv_download,
    to_csv_bytes,
    to_excel_bytes,
)

CSV_MIME = "text/csv"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PDF_MIME = "application/pdf"
_SESSION_KEY = "_boardpack_pdf"

__all__ = ["COUNT_COLUMNS", "MARKING", "PANEL_NOTE", "DisclosureError", "ExportAbout",
           "about_for", "boardpack_button", "check_disclosure", "download_buttons",
           "export_filename", "export_frame", "read_csv_download", "to_csv_bytes",
           "to_excel_bytes"]


def _audience(access: Any = None, audience: str | None = None) -> str:
    """The audience: ``audience`` if given, else the access's, else internal."""
    if audience:
        return audience
    if access is not None and getattr(access, "audience", None):
        return str(access.audience)
    return "internal"


def about_for(page: Any, title: str, *, audience: str = "internal",
              kpi: str | None = None) -> ExportAbout:
    """What a download from ``page`` (a ``ui.shell.PageContext``, or None) holds: its force,
    window, scope and as-at date, read duck-typed so a partial context still works.

    ``kpi``: a KPI id (named with its registry name when known) for breakdowns and funnels.
    """
    view = getattr(page, "view", None)
    loaded = getattr(page, "loaded", None)
    dataset = getattr(loaded, "dataset", None)
    start, end = getattr(page, "start", None), getattr(page, "end", None)
    kpi_text = kpi
    if kpi:
        try:
            from metrics.registry import get_kpi

            kpi_text = f"{kpi}: {get_kpi(kpi).name}"
        except KeyError:
            kpi_text = kpi
    return ExportAbout(
        title=title, force=getattr(view, "force", None),
        start=None if start is None else str(start), end=None if end is None else str(end),
        scope=getattr(view, "scope", None) or "all", audience=audience,
        as_at=getattr(dataset, "as_at", None), kpi=kpi_text)


def _current_page() -> Any:
    """The page context ``ui.shell.page_setup`` stored for this run (None outside the app),
    so a download names its force, window and scope even when the page did not pass it."""
    from ui import shell

    return st.session_state.get(shell._CTX)


def _log_export(access: Any, audience: str, *, reason: str, force: str | None = None,
                window: str | None = None) -> None:
    """One ``export`` line in the audit trail; never lets an audit failure break the page."""
    from metrics.audit import log_event

    try:
        log_event("export", user=str(getattr(access, "user", None) or "local user"),
                  audience=audience, force=force, window=window,
                  page=getattr(access, "page_id", None), reason=reason)
    except (OSError, ValueError):
        pass


def _slug(name: str) -> str:
    return export_filename(name, None, "x")[:-2]


# --------------------------------------------------------------------------------------------
# Streamlit widgets
# --------------------------------------------------------------------------------------------

def download_buttons(table: pd.DataFrame, name: str, *, access: Any = None,
                     audience: str | None = None, key: str | None = None,
                     title: str | None = None, page: Any = None, kpi: str | None = None,
                     about: ExportAbout | None = None) -> None:
    """Render "CSV" and "Excel" download buttons for ``table``, side by side (content-wide,
    so their labels are never clipped; they wrap onto a new line in a narrow column).

    ``name`` starts the file name and names the sheet; ``page`` (``ui.shell.PageContext``;
    default: the one ``page_setup`` stored for this run) or ``about`` says which force,
    window, scope and as-at date the table covers (in the file names and inside the files);
    ``kpi`` names the KPI of a breakdown or funnel.
    ``access`` (``ui.access.Access``) or ``audience`` says who is looking; in the panel
    audience the table must already be disclosure-controlled (else a short error replaces the
    buttons and nothing is offered).
    """
    aud = _audience(access, audience)
    try:
        check_disclosure(table, aud)
    except DisclosureError:
        st.error("This table cannot be downloaded in the panel view.")
        return
    frozen = table.copy()
    slug = _slug(name)
    if page is None and about is None:
        page = _current_page()
    info = about or about_for(page, title or name.replace("_", " "), audience=aud, kpi=kpi)
    if info.audience != aud:
        info = ExportAbout(**{**info.__dict__, "audience": aud})
    base = key or f"dl_{slug}"
    window = info.window.replace(" to ", "..") if info.window else None
    what = "the table"
    # The files are made when a button is clicked (deferred), so a page with many tables
    # reruns as fast without them.
    with st.container(horizontal=True, gap="small"):
        st.download_button("Download CSV", data=lambda: to_csv_bytes(frozen, info),
                           file_name=export_filename(name, info, "csv"), mime=CSV_MIME,
                           key=f"{base}_csv", icon=":material/download:", width="content",
                           help=f"Download {what} as CSV (numbers as numbers; header lines "
                                "name the force, window, scope, audience and as-at date)",
                           on_click=_log_export, args=(access, aud),
                           kwargs={"reason": f"csv:{slug}", "force": info.force,
                                   "window": window})
        st.download_button("Download Excel",
                           data=lambda: to_excel_bytes(frozen, info, name=name),
                           file_name=export_filename(name, info, "xlsx"), mime=XLSX_MIME,
                           key=f"{base}_xlsx", icon=":material/download:", width="content",
                           help=f"Download {what} as an Excel workbook (with an About sheet)",
                           on_click=_log_export, args=(access, aud),
                           kwargs={"reason": f"xlsx:{slug}", "force": info.force,
                                   "window": window})


def boardpack_button(dataset: Any, force: str, start: str | pd.Period, end: str | pd.Period,
                     audience: str = "internal", *, comparison: str = "previous",
                     access: Any = None, key: str = "boardpack",
                     charts: bool = True, scope: str | None = None,
                     record: Any = "app") -> bytes | None:
    """The "Board pack" button: build the PDF for this view with a progress bar, then offer it.

    In the panel audience every KPI table goes through ``access.disclose`` when an ``access``
    is given (the same rows and rules as the screen), else ``apply_panel``, and the pack holds
    only the sections of the pages the share link allows (``access.allowed_pages``).
    The built PDF is kept in the session for this exact view, so the download button survives
    reruns. ``scope`` (``all|adult_rape|child``; default: the page's, from ``ui.shell``) is the
    case scope the pack is read for. ``record``: the meeting record the pack prints
    (commentary, assurance, actions, record KPIs); default ``"app"``, the app's shared record
    (``ui.data.meeting_record()``, None when unavailable); None for a pack without it.
    Returns the PDF bytes once built (None before). Errors are shown as one sentence, never a
    trace.
    """
    from report.boardpack import BoardpackError, UnusableDataError, boardpack_filename

    aud = _audience(access, audience)
    if scope is None:
        scope = str(getattr(getattr(_current_page(), "view", None), "scope", None) or "all")
    view = (force, str(start), str(end), aud, comparison, scope, _data_key(dataset))
    stored = st.session_state.get(f"{_SESSION_KEY}_{key}")
    pdf: bytes | None = stored[1] if stored and stored[0] == view else None
    if pdf is None:
        if st.button("Build board pack (PDF)", key=f"{key}_build", icon=":material/picture_as_pdf:",
                     help="A4 landscape PDF of this view for the performance meeting"):
            bar = st.progress(0.0, text="Starting the board pack…")

            def progress(fraction: float, message: str) -> None:
                bar.progress(min(max(fraction, 0.0), 1.0), text=message)

            try:
                if isinstance(record, str) and record == "app":
                    from ui.data import meeting_record

                    record = meeting_record()
                pdf = _build(dataset, force, start, end, aud, comparison, access, progress,
                             charts, scope, record)
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
        from metrics.load import export_fingerprint

        try:
            return (str(source), export_fingerprint(source))
        except OSError:
            return (str(source), getattr(dataset, "as_at", None))
    return (id(dataset),)


def _build(dataset: Any, force: str, start: Any, end: Any, audience: str, comparison: str,
           access: Any, progress: Callable[[float, str], None], charts: bool,
           scope: str = "all", record: Any = None) -> bytes:
    """The pack's PDF bytes for this view (panel: the session's disclose and pages), with
    the meeting record ``record`` when given."""
    from report.boardpack import build_boardpack

    panel = audience == "panel"
    disclose = getattr(access, "disclose", None) if panel else None
    pages = getattr(access, "allowed_pages", None) if panel else None
    return build_boardpack(dataset, force, start, end, audience=audience,
                           comparison=comparison, progress=progress, charts=charts,
                           disclose=disclose, pages=pages, scope=scope, record=record)
