"""The app's frame, run first by every page: access, data, sidebar, URL state.

Order on every rerun (deny by default):

1. ``ui.access.require_access(page_id)``: the audience check, before any data is read;
2. the export is loaded (cached; last good data kept when the export on disk breaks);
3. the view is read from the URL (``ui.state.decode``; bad values get a visible note), or from
   the session when the URL is unchanged; a panel link's scope locks force and window;
4. the sidebar: page links (carrying the view, so a page switch keeps it) and the filters;
5. the view is written back to the URL (only this module's keys; ``share`` is left alone).

Every page calls :func:`page_setup` first (its page id) and stays thin.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date

import pandas as pd
import streamlit as st

from metrics.dataset import Dataset
from metrics.registry import KPI, all_kpis
from metrics.windows import comparison_window, describe_window
from present import quality
from ui import data as ui_data
from ui.state import (
    ALL_FORCES,
    COMPARES,
    PARAM_KEYS,
    SCOPE_WORDS,
    SCOPES,
    WINDOWS,
    Choices,
    ViewState,
    decode,
    encode,
    window_bounds,
)
from ui.tiles import escape_md

_LOG = logging.getLogger(__name__)
_VIEW = "_fd_view"
_NOTES = "_fd_notes"
_WRITTEN = "_fd_url_written"
_CTX = "_fd_context"
W_FORCE, W_WINDOW, W_FROM, W_TO, W_COMPARE, W_SCOPE = (
    "fd_force", "fd_window", "fd_from", "fd_to", "fd_compare", "fd_scope")
#: The monthly history a page shows by default, and the most a panel link covers before its
#: window's last month (its charts need it): 36 months.
HISTORY_MONTHS = 36
#: The footnote under a table with a figure marked as changed by panel rounding.
ROUNDED_MARK = "†"
ROUNDED_FOOTNOTE = (f"{ROUNDED_MARK} Changed by disclosure control: counts rounded to the "
                    "nearest 5; rates worked out from the rounded counts.")


@dataclass(frozen=True)
class PageSpec:
    """One page: its id (TEAM-NOTES), file, title, icon and navigation section."""

    id: str
    path: str
    title: str
    icon: str
    section: str


PAGE_SPECS: tuple[PageSpec, ...] = (
    PageSpec("flight_deck", "pages/flight_deck.py", "Flight deck", ":material/dashboard:",
             "Meeting"),
    PageSpec("record", "pages/record.py", "Meeting record", ":material/edit_note:", "Meeting"),
    PageSpec("trends", "pages/trends.py", "Trends", ":material/show_chart:", "Explore"),
    PageSpec("victim_voice", "pages/victim_voice.py", "Victim voice",
             ":material/record_voice_over:", "Explore"),
    PageSpec("compare_forces", "pages/compare_forces.py", "Compare forces",
             ":material/filter_alt:", "Explore"),
    PageSpec("data_quality", "pages/data_quality.py", "Data quality", ":material/fact_check:",
             "About the data"),
    PageSpec("definitions", "pages/definitions.py", "Definitions and methods",
             ":material/menu_book:", "About the data"),
)


ENTRY_MARK = "_fd_entry_run"
_REPAIRED = "_fd_nav_repaired"
_ENTERED = "_fd_entered_app"  # this session has run through app.py's navigation


def navigation() -> object:
    """Declare the pages with ``st.navigation`` (hidden: ui.shell draws the links).

    Returns the current page. Called by ``app.py`` on every run.
    """
    st.session_state[ENTRY_MARK] = True
    sections: dict[str, list] = {}
    for spec in PAGE_SPECS:
        sections.setdefault(spec.section, []).append(
            st.Page(spec.path, title=spec.title, icon=spec.icon, url_path=spec.id,
                    default=spec.id == "flight_deck")
        )
    return st.navigation(sections, position="hidden")


def _repair_entry() -> None:
    """Route a run that did not start in app.py back through it, once per session.

    A first visit after a server start that lands on a page URL (e.g. /trends) is run by
    Streamlit as a ``pages/`` file on its own, with its automatic page list; declaring the
    navigation here and rerunning puts the session on app.py's navigation.

    A session that has already run through app.py is on its navigation: a page-file run then
    (AppTest reruns the page file itself after the first run) is left alone. Repairing it
    threw away the widget interaction the run carried (``st.navigation`` re-registers the
    page and ``st.rerun()`` resets one-run triggers), which is why the first click on
    "Build board pack (PDF)" was ignored after opening the app with only ``?force=``.
    """
    if st.session_state.pop(ENTRY_MARK, False):
        st.session_state[_ENTERED] = True
        return
    if st.session_state.get(_REPAIRED) or st.session_state.get(_ENTERED):
        return
    st.session_state[_REPAIRED] = True
    navigation()
    st.session_state.pop(ENTRY_MARK, None)
    st.rerun()


@dataclass(frozen=True)
class PageContext:
    """What a page needs: who is looking, which data, which view."""

    page_id: str
    access: object  # ui.access.Access
    loaded: ui_data.Loaded
    view: ViewState
    choices: Choices | None
    start: pd.Period | None = None
    end: pd.Period | None = None
    cmp_start: pd.Period | None = None
    cmp_end: pd.Period | None = None

    @property
    def dataset(self) -> Dataset:
        assert self.loaded.dataset is not None
        return self.loaded.dataset

    @property
    def is_panel(self) -> bool:
        return bool(getattr(self.access, "is_panel", False))

    @property
    def survey_items(self) -> list[str]:
        return ui_data.survey_items(self.dataset) if self.loaded.dataset is not None else []

    @property
    def kpis(self) -> list[KPI]:
        return all_kpis(self.survey_items)

    @property
    def scope(self) -> str:
        """The case scope of this view: ``all``, ``adult_rape`` or ``child``."""
        return getattr(self.view, "scope", "all")

    @property
    def scope_text(self) -> str:
        """The scope in words for a window line, e.g. ``adult rape only (...)``; "" for all."""
        return SCOPE_WORDS.get(self.scope, "")

    @property
    def window_text(self) -> str:
        """The window in plain words, with the scope when it is not all RASSO, e.g.
        ``Jul 2026 to Sep 2026 · adult rape only (...)``."""
        if self.start is None:
            return ""
        words = describe_window(self.start, self.end)
        return f"{words} · {self.scope_text}" if self.scope_text else words

    def scoped(self, kpi: KPI) -> bool:
        """True when ``kpi`` follows the case scope (case-linked); survey and workforce
        measures are force-wide (``KPI.scoped`` from the catalogue when it has it)."""
        flag = getattr(kpi, "scoped", None)
        if flag is not None:
            return bool(flag)
        return kpi.source not in ("survey_responses", "workforce")

    def force_wide_note(self, kpis: Sequence[KPI]) -> str:
        """"" for all RASSO; else a sentence naming which of ``kpis`` ignore the scope."""
        if self.scope == "all":
            return ""
        wide = [k for k in kpis if not self.scoped(k)]
        if not wide:
            return ""
        if len(wide) == len(kpis):
            return ("These measures are force-wide: survey and workforce figures cannot be "
                    f"split by case, so they are the same for every scope "
                    f"(not {SCOPES[self.scope].lower()} only).")
        return (f"{len(wide)} of these measures (survey and workforce) are force-wide: they "
                "cannot be split by case, so they do not follow the scope.")

    @property
    def coverage(self) -> tuple[pd.Period, pd.Period] | None:
        """The months a panel link's data covers: from 36 months before its window's end
        (or the start of a comparison window, if earlier) to the window's end. None when the
        session is not a panel link."""
        scope = getattr(self.access, "scope", None)
        if not self.is_panel or scope is None:
            return None
        start, end = pd.Period(scope.start, freq="M"), pd.Period(scope.end, freq="M")
        firsts = [end - (HISTORY_MONTHS - 1)]
        for compare in COMPARES:
            firsts.append(comparison_window(start, end, compare)[0])
        return min(firsts), end

    def covers(self, start: pd.Period, end: pd.Period) -> bool:
        """True when the months ``start``..``end`` are all inside what this session may see
        (always for internal users; a panel link's :attr:`coverage` otherwise)."""
        cover = self.coverage
        return cover is None or (cover[0] <= start and end <= cover[1])

    @property
    def coverage_note(self) -> str | None:
        """``metrics.windows.coverage_note``: a warning when the window or its comparison
        window starts before the export's first month of cases; None otherwise."""
        from metrics.windows import coverage_note

        first = self.choices.first_month if self.choices is not None else None
        return coverage_note(first, self.start, self.end, self.cmp_start, self.cmp_end)

    @property
    def compare_text(self) -> str:
        if self.cmp_start is None:
            return ""
        return f"{COMPARES[self.view.compare]} ({describe_window(self.cmp_start, self.cmp_end)})"

    @property
    def compare_phrase(self) -> str:
        """:attr:`compare_text` inside a sentence ("changes against the previous window
        (...)"): its first letter in lower case."""
        text = self.compare_text
        return text[:1].lower() + text[1:]

    @property
    def as_at(self) -> date | None:
        return self.dataset.as_at if self.loaded.dataset is not None else None

    def disclose(self, table: pd.DataFrame) -> pd.DataFrame:
        """The KPI table as this audience may see it (panel rules via ``ui.access``).

        A panel link's data covers its window, both comparison windows and the 36 months of
        history its charts need (:attr:`coverage`): ``Access.disclose`` is applied with the
        link's scope widened to those months, so the force stays locked, every figure goes
        through the disclosure rules, and rows outside the coverage come back ``no_data``.
        """
        disclose = getattr(self.access, "disclose", None)
        if disclose is None:
            return table
        scope, cover = getattr(self.access, "scope", None), self.coverage
        if scope is not None and cover is not None:
            widened = replace(self.access, scope=replace(scope, start=str(cover[0])))
            return widened.disclose(table)  # type: ignore[attr-defined]
        return disclose(table)

    def kpi_table(self, start: pd.Period, end: pd.Period, *, by: str = "window",
                  forces: Sequence[str] | None = None,
                  kpi_ids: Sequence[str] | None = None,
                  mark_rounding: bool = False) -> pd.DataFrame:
        """The engine's KPI table for this export and scope, cached, after disclosure control.

        ``mark_rounding=True`` adds a bool column ``rounded``: True where a panel's value
        differs, as shown (``present.format.format_value``), from the undisclosed value
        (always False for internal users).
        """
        raw = ui_data.kpi_table(self.loaded, start, end, by=by, forces=forces, kpi_ids=kpi_ids,
                                scope=self.scope)
        table = self.disclose(raw)
        if mark_rounding:
            table = table.assign(rounded=rounding_changed(raw, table, self.kpis)
                                 if self.is_panel else False)
        return table


def rounding_changed(raw: pd.DataFrame, shown: pd.DataFrame, kpis: Sequence[KPI]) -> list[bool]:
    """Per row of ``shown`` (same rows as ``raw``): True when a value still shown reads
    differently, in the screen's format, from the undisclosed value (rounding moved it)."""
    from present.format import format_value

    units = {k.id: k.unit for k in kpis}
    out = []
    for (_, before), (_, after) in zip(raw.iterrows(), shown.iterrows(), strict=True):
        unit = units.get(str(after["kpi_id"]), "proportion")
        changed = (after["status"] == "ok" and before["status"] == "ok"
                   and format_value(before["value"], unit) != format_value(after["value"],
                                                                           unit))
        out.append(bool(changed))
    return out


def context() -> PageContext:
    """The context :func:`page_setup` prepared for this run's page."""
    ctx = st.session_state.get(_CTX)
    if ctx is None:
        st.error("Open the app through app.py (streamlit run app.py).")
        st.stop()
    return ctx


def _choices(dataset: Dataset) -> Choices | None:
    bounds = ui_data.month_range(dataset)
    if bounds is None:
        return None
    first, last = bounds
    kpi_ids = [k.id for k in all_kpis(ui_data.survey_items(dataset))]
    return Choices(forces=dataset.forces, first_month=first, last_month=last, kpi_ids=kpi_ids)


def _own_params() -> dict[str, str]:
    raw = st.query_params.to_dict()
    return {k: str(v) for k, v in raw.items() if k in PARAM_KEYS}


def _resolve_view(choices: Choices, locked: Mapping[str, str]) -> ViewState:
    """The view for this run: from the URL when it changed since we last wrote it."""
    url = _own_params()
    written = st.session_state.get(_WRITTEN)
    view: ViewState | None = st.session_state.get(_VIEW)
    if view is None or (url and url != written):
        view, notes = decode(url, choices)
        st.session_state[_NOTES] = notes
    if locked:
        # A panel link shares a force and window of all RASSO: the case scope is not part of
        # what was shared, so it stays "all" (a narrower scope means smaller counts).
        view = replace(view, force=locked["force"], window="custom", start=locked["from"],
                       end=locked["to"], scope="all")
    st.session_state[_VIEW] = view
    return view


def _write_url(view: ViewState) -> None:
    wanted = encode(view)
    current = _own_params()
    if current != wanted:
        for key in PARAM_KEYS:
            if key not in wanted and key in st.query_params:
                del st.query_params[key]
        for key, value in wanted.items():
            if current.get(key) != value:
                st.query_params[key] = value
    st.session_state[_WRITTEN] = wanted


def set_view(**changes: object) -> None:
    """Change fields of the view (callbacks of page widgets, e.g. the KPI picker)."""
    view = st.session_state.get(_VIEW) or ViewState()
    st.session_state[_VIEW] = replace(view, **changes)
    st.session_state[_NOTES] = []


def _on_filter_change() -> None:
    view: ViewState = st.session_state.get(_VIEW) or ViewState()
    window = st.session_state.get(W_WINDOW, view.window)
    start, end = st.session_state.get(W_FROM), st.session_state.get(W_TO)
    if window == "custom":
        if not start or not end:
            start, end = view.start, view.end
        if start and end and start > end:
            start, end = end, start
    else:
        start = end = None
    st.session_state[_VIEW] = replace(
        view, force=st.session_state.get(W_FORCE, view.force), window=window,
        start=start, end=end, compare=st.session_state.get(W_COMPARE, view.compare),
        scope=st.session_state.get(W_SCOPE, view.scope),
    )
    st.session_state[_NOTES] = []


def _sync_widget(key: str, value: object) -> None:
    """Set a widget's value from the view before it is drawn.

    Always assigned: widget identities are per page, so a page switch would otherwise draw
    the widget at its default and overwrite the view.
    """
    st.session_state[key] = value


def _sidebar_filters(view: ViewState, choices: Choices, locked: Mapping[str, str],
                     loaded: ui_data.Loaded | None = None) -> ViewState:
    sb = st.sidebar
    sb.subheader("View", anchor=False)
    forces = [ALL_FORCES, *choices.forces]
    if view.window == "custom" and not (view.start and view.end):
        default_start = max(choices.first_month, choices.last_month - 11)
        view = replace(view, start=str(default_start), end=str(choices.last_month))
    _sync_widget(W_FORCE, view.force)
    _sync_widget(W_WINDOW, view.window)
    _sync_widget(W_COMPARE, view.compare)
    sb.selectbox("Force", forces, key=W_FORCE, on_change=_on_filter_change,
                 disabled=bool(locked))
    sb.selectbox("Window", list(WINDOWS), format_func=WINDOWS.__getitem__, key=W_WINDOW,
                 on_change=_on_filter_change, disabled=bool(locked))
    if view.window == "custom":
        months = choices.months
        _sync_widget(W_FROM, view.start)
        _sync_widget(W_TO, view.end)
        col1, col2 = sb.columns(2)
        col1.selectbox("From", months, key=W_FROM, on_change=_on_filter_change,
                       disabled=bool(locked))
        col2.selectbox("To", months, key=W_TO, on_change=_on_filter_change,
                       disabled=bool(locked))
    sb.selectbox("Compare with", list(COMPARES), format_func=COMPARES.__getitem__,
                 key=W_COMPARE, on_change=_on_filter_change)
    _sync_widget(W_SCOPE, view.scope)
    sb.selectbox("Cases", list(SCOPES), format_func=SCOPES.__getitem__, key=W_SCOPE,
                 on_change=_on_filter_change, disabled=bool(locked),
                 help="Adult rape: offence group rape, victim aged 18 or over. Child "
                      "victims: victim under 18. Survey and workforce measures are "
                      "force-wide and do not change with this choice.")
    if locked:
        sb.caption("Force, window and cases are fixed by the shared link.")
    st.session_state[_VIEW] = view
    return view


def _page_links(allowed: Sequence[str], view: ViewState, target: object = None) -> None:
    """Sidebar links to the allowed pages, carrying the view (and a share token) in the URL."""
    params = encode(view)
    share = st.query_params.get("share")
    if share:
        params["share"] = share
    where = target or st.sidebar
    section = None
    for spec in PAGE_SPECS:
        if spec.id not in allowed:
            continue
        if spec.section != section:
            section = spec.section
            where.caption(section)  # type: ignore[attr-defined]
        where.page_link(spec.path, label=spec.title, icon=spec.icon,  # type: ignore[attr-defined]
                        query_params=params)


def where_to_go(scope: object, token: str) -> None:
    """For a refused panel page (``ui.access``'s refusal page): say in words which pages the
    link opens, for which force and months, and link to each of them (the link's own view:
    ``share``, force, custom window). ``scope``: the verified ``metrics.sharelink.Scope``."""
    pages = [spec for spec in PAGE_SPECS if spec.id in getattr(scope, "pages", ())]
    if not pages:
        return
    months = describe_window(pd.Period(scope.start, freq="M"),  # type: ignore[attr-defined]
                             pd.Period(scope.end, freq="M"))  # type: ignore[attr-defined]
    st.write(f"This link shows {escape_md(scope.force)}, {escape_md(months)}, on "  # type: ignore[attr-defined]
             f"{len(pages)} page{'s' if len(pages) > 1 else ''}. Open one of them:")
    params = {"share": token, "force": scope.force, "window": "custom",  # type: ignore[attr-defined]
              "from": scope.start, "to": scope.end}  # type: ignore[attr-defined]
    for spec in pages:
        st.page_link(spec.path, label=spec.title, icon=spec.icon, query_params=params)


def validation_report(loaded: ui_data.Loaded) -> None:
    """The validation report of the export on disk (problems, rows read and excluded)."""
    report = loaded.report
    if report is None:  # plain words; the exception goes to the server log only (issue 15)
        _LOG.error("the export in %s could not be read: %s", loaded.path, loaded.problem)
        st.error(f"The export in {escape_md(loaded.path)} could not be read. Check that the "
                 "folder exists and that the account running the flight deck may read it and "
                 "its files; the server log has the details.")
        return
    if report.errors:
        st.error(f"The export in {escape_md(loaded.path)} cannot be used: "
                 f"{len(report.errors)} error(s).")
    problems = pd.DataFrame(
        [{"severity": p.severity, "file": p.file, "column": p.column or "", "rule": p.rule,
          "rows": p.rows, "problem": p.message, "examples": ", ".join(p.examples)}
         for p in report.problems],
        columns=["severity", "file", "column", "rule", "rows", "problem", "examples"],
    )
    counted = {col: st.column_config.NumberColumn(col, format="localized")  # 100,000
               for col in ("rows", "rows read", "rows excluded")}
    if problems.empty:
        st.success("No validation problems.")
    else:
        # each problem in full as a sentence (a table cell cuts long text off on a projector);
        # the table below sorts and filters them
        st.markdown(quality.problem_list(report.problems))
        with st.expander("The problem as a table" if len(problems) == 1
                         else f"The {len(problems)} problems as a table"):
            st.dataframe(problems, hide_index=True, width="stretch", column_config={
                **counted, "problem": st.column_config.TextColumn("problem", width="large")})
    counts = pd.DataFrame({
        "rows read": pd.Series(report.rows_read, dtype="Int64"),
        "rows excluded": pd.Series(report.rows_excluded, dtype="Int64"),
    }).fillna(0)
    if not counts.empty:
        counts.index.name = "table"
        st.dataframe(counts, width="stretch", column_config=counted)


# Static styling only (no data in it): denser tiles so the deck reads on a 1280x720 projector.
_CSS = """<style>
[data-testid="stMainBlockContainer"] {padding: 4.2rem 1.5rem 2rem 1.5rem; max-width: none;}
[data-testid="stMain"] h2 {font-size: 1.9rem; padding: 0.2rem 0 0.1rem 0;}
[data-testid="stMain"] h3 {font-size: 1.3rem; padding: 0.1rem 0 0.2rem 0;}
[data-testid="stMetricValue"] {font-size: 1.5rem; line-height: 1.2;}
[data-testid="stMetricLabel"] p {font-size: 0.9rem; font-weight: 600; line-height: 1.25;}
[data-testid="stMetricLabel"] * {
  white-space: normal !important; overflow: visible !important;
  text-overflow: clip !important;}
[data-testid="stMetricDelta"] {font-size: 0.85rem;}
[data-testid="stMain"] [data-testid="stMarkdownContainer"] p span {
  white-space: normal !important; overflow: visible !important;
  text-overflow: clip !important; max-width: 100% !important;}
[data-testid="stSidebar"] .stSelectbox:has(input:disabled) [data-testid="stWidgetLabel"] p {
  color: #595959 !important;}
</style>"""


def page_setup(page_id: str) -> PageContext:
    """The shared frame every page runs first; returns the page's context (or stops).

    Access is checked before anything else (``ui.access.require_access``), then the export
    is loaded, the view resolved from the URL, the sidebar drawn and the URL written back.
    """
    from ui.access import render_data_unavailable, require_access, stale_data_notice

    st.session_state.pop(_CTX, None)
    _repair_entry()
    # Our links replace Streamlit's automatic list of the pages/ folder (which it shows when a
    # first visit after a server start lands on a page URL, before app.py has run).
    st.set_option("client.showSidebarNavigation", False)
    st.html(_CSS)
    access = require_access(page_id)
    with st.spinner("Loading the export…"):
        loaded = ui_data.load()
    allowed = list(getattr(access, "allowed_pages", [spec.id for spec in PAGE_SPECS]))
    if loaded.stale:  # plain words only: the problem itself goes to the log and Data quality
        st.warning(stale_data_notice(access, loaded.loaded_at), icon=":material/warning:")
    choices = _choices(loaded.dataset) if loaded.dataset is not None else None
    if loaded.dataset is None or choices is None:
        _page_links(allowed, ViewState())
        ctx = PageContext(page_id, access, loaded, ViewState(), None)
        st.session_state[_CTX] = ctx
        if page_id != "definitions":  # a panel sees only "The data is not available right now"
            render_data_unavailable(access, lambda: validation_report(loaded), loaded)
            st.stop()
        return ctx
    nav = st.sidebar.container()
    locked = access.locked_filters() if hasattr(access, "locked_filters") else {}
    view = _resolve_view(choices, locked)
    view = _sidebar_filters(view, choices, locked, loaded)
    for note in st.session_state.get(_NOTES, []):
        st.warning(escape_md(note), icon=":material/link_off:")
    if getattr(access, "is_internal", False):
        from ui.views import catalogue_banner

        catalogue_banner()  # a force's broken KPI declarations, on every page (not to a panel)
    start, end = window_bounds(view, choices.last_month)
    cmp_start, cmp_end = comparison_window(start, end, view.compare)
    _write_url(view)
    _page_links(allowed, view, nav)
    ctx = PageContext(page_id, access, loaded, view, choices, start, end, cmp_start, cmp_end)
    st.session_state[_CTX] = ctx
    return ctx
