"""Small helpers the pages share: pickers bound to the view, SPC frames, download tables.

Pages stay thin: they arrange what these return. Numbers come from the engine
(``metrics.kpis``) and ``metrics.stats``; nothing here computes a KPI.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pandas as pd
import streamlit as st

from metrics.registry import KPI, PILLARS
from present.format import (
    POINT_TYPE_LABELS,
    format_interval,
    kpi_value_text,
)
from ui import shell
from ui.tiles import escape_md

_LOG = logging.getLogger(__name__)
W_PILLAR, W_KPI, W_SPAN = "fd_pillar", "fd_kpi", "fd_span"
#: History spans on Trends, in months (0: everything the export holds); 36 by default.
SPANS: dict[int, str] = {12: "12 months", 24: "24 months", 36: "36 months", 60: "5 years",
                         0: "All months"}


def _on_pillar() -> None:
    shell.set_view(pillar=st.session_state[W_PILLAR], kpi=None)


def _on_kpi() -> None:
    shell.set_view(kpi=st.session_state[W_KPI])


def kpi_picker(ctx: shell.PageContext, kpis: Sequence[KPI], *, with_pillar: bool = True,
               default: str | None = None) -> KPI:
    """A pillar and KPI picker bound to the view (URL ``pillar`` and ``kpi``)."""
    by_id = {k.id: k for k in kpis}
    chosen = by_id.get(ctx.view.kpi or "") or by_id.get(default or "") or kpis[0]
    if with_pillar:
        pillars = sorted({k.pillar for k in kpis})
        pillar = ctx.view.pillar if ctx.view.pillar in pillars else chosen.pillar
        if chosen.pillar != pillar:
            chosen = next(k for k in kpis if k.pillar == pillar)
        shell._sync_widget(W_PILLAR, pillar)
        col1, col2 = st.columns([1, 1])
        col1.selectbox("Pillar", pillars, key=W_PILLAR, on_change=_on_pillar,
                       format_func=lambda p: f"{p} · {PILLARS[p]}")
        options = [k.id for k in kpis if k.pillar == pillar]
        target = col2
    else:
        options = list(by_id)
        target = st
    shell._sync_widget(W_KPI, chosen.id)
    target.selectbox("KPI", options, key=W_KPI, on_change=_on_kpi,
                     format_func=lambda i: by_id[i].name)
    return chosen


def span_picker(ctx: shell.PageContext) -> tuple[pd.Period, str]:
    """The Trends history span (36 months by default, longer allowed): returns the first
    month to ask for and the span in words. A panel link offers only spans its data covers
    (its :attr:`~ui.shell.PageContext.coverage`), so no chart reaches outside the link."""
    options = list(SPANS)
    first_month = ctx.choices.first_month
    cover = ctx.coverage
    if cover is not None:
        options = [m for m in options if m and ctx.end - (m - 1) >= cover[0]]
    if W_SPAN not in st.session_state or st.session_state[W_SPAN] not in options:
        st.session_state[W_SPAN] = shell.HISTORY_MONTHS if shell.HISTORY_MONTHS in options \
            else options[-1]
    months = st.selectbox("History shown", options, format_func=SPANS.__getitem__, key=W_SPAN)
    first = first_month if not months else max(first_month, ctx.end - (months - 1))
    return first, SPANS[months]


def value_text(row: pd.Series, kpi: KPI) -> str:
    """A KPI-table row's value for a table cell, worded as in the board pack
    (``present.format.kpi_value_text``)."""
    return kpi_value_text(row.get("status"), row.get("value"), kpi.unit, row.get("provisional"),
                          row.get("n"), kpi.min_n)


def display_table(table: pd.DataFrame, kpis: dict[str, KPI], label_col: str,
                  rounded: Sequence[bool] | None = None) -> pd.DataFrame:
    """A KPI table as the screen shows it: label, value (or gate), 95% interval, n, status.
    ``rounded`` (one flag per row, e.g. :func:`ui.shell.rounding_changed`): values that panel
    rounding changed get :data:`ui.shell.ROUNDED_MARK`."""
    rows = []
    marks = list(rounded) if rounded is not None else [False] * len(table)
    for (_, row), mark in zip(table.iterrows(), marks, strict=True):
        kpi = kpis[row["kpi_id"]]
        text = value_text(row, kpi)
        rows.append({
            label_col: row[label_col] if label_col in row else kpi.name,
            "value": f"{text} {shell.ROUNDED_MARK}" if mark else text,
            "95% interval": format_interval(row.get("ci_low"), row.get("ci_high"), kpi.unit)
            .removeprefix("95% CI "),
            "numerator": row.get("numerator"),
            "denominator": row.get("denominator"),
            "n": row.get("n"),
            "status": row.get("status"),
        })
    return pd.DataFrame(rows)


def verdict_words(chart: pd.DataFrame) -> str:
    """One sentence on an SPC chart: its last point's verdict and whether limits are final."""
    variation = chart.attrs.get("variation")
    segments = chart.attrs.get("segments") or [{}]
    if segments[-1].get("degenerate") or "upper" not in chart or \
            not pd.notna(chart["upper"]).any():
        return "No SPC verdict: too few months with a value to set process limits."
    label = POINT_TYPE_LABELS.get(variation or "", "no verdict (too few months)")
    words = f"Latest month: {label.lower()}."
    if chart.attrs.get("provisional"):
        words += " Limits are provisional: fewer than 12 months set them."
    return words


def downloads(ctx: shell.PageContext, table: pd.DataFrame, name: str, *,
              kpi: str | None = None) -> None:
    """CSV and Excel downloads of a table (``ui.downloads.download_buttons``), naming this
    view's force, window, scope, audience and as-at date (``page=ctx``) and, for a breakdown
    or funnel, its KPI. Pass numbers as numbers (fractions, counts), not display text."""
    from ui.downloads import download_buttons

    if kpi is None:
        download_buttons(table, name=name, access=ctx.access, page=ctx)
    else:
        download_buttons(table, name=name, access=ctx.access, page=ctx, kpi=kpi)


def safe(text: object) -> str:
    """Text from the data, escaped for Markdown."""
    return escape_md(text)


def boardpack(ctx: shell.PageContext, force: str) -> None:
    """The board pack button for this view (``ui.downloads.boardpack_button``)."""
    from ui.downloads import boardpack_button

    audience = "panel" if ctx.is_panel else "internal"
    boardpack_button(ctx.dataset, force, ctx.start, ctx.end, audience,
                     comparison=ctx.view.compare, access=ctx.access)


def share_link(ctx: shell.PageContext) -> None:
    """The "Create panel link" widget for internal users (``ui.access.share_link_panel``)."""
    from ui.access import share_link_panel

    share_link_panel(ctx.access, {"force": ctx.view.force, "from": str(ctx.start),
                                  "to": str(ctx.end), "page": ctx.page_id})


def group_label(value: object) -> str:
    """A category code as words for a chart or table: ``sexual_assault`` -> ``Sexual assault``."""
    text = str(value).replace("_", " ").strip()
    return text[:1].upper() + text[1:]


# --------------------------------------------------------------------------- Trends sections


def catalogue_banner() -> None:
    """A warning naming each problem in the force's own KPI declarations
    (``metrics.registry.catalogue_problems``); the app goes on with the shipped catalogue."""
    from metrics.registry import catalogue_problems

    try:
        problems = catalogue_problems()
    except Exception:  # noqa: BLE001 - a broken catalogue must never break a page
        _LOG.exception("catalogue_problems failed")
        problems = ["The force's KPI declarations could not be read (see the server log)."]
    if problems:
        lines = "\n".join(f"- {safe(p)}" for p in problems)
        st.warning("Some of this force's own KPI declarations (`FLIGHTDECK_KPIS`) were not "
                   f"used; the shipped catalogue is shown instead for those:\n{lines}",
                   icon=":material/rule:")


def _months_words(first: pd.Period, last: pd.Period) -> str:
    return first.strftime("%B %Y") if first == last else \
        f"{first.strftime('%B %Y')} to {last.strftime('%B %Y')}"


def trend_frame(ctx: shell.PageContext, kpi: KPI, force: str, first: pd.Period
                ) -> pd.DataFrame:
    """The monthly SPC chart frame of one KPI and force from ``first`` to the window's end,
    for this audience: ``metrics.verdicts.spc_chart`` (Laney p′ for proportions, maturing
    months excluded).

    Columns: month (Period), value, numerator, denominator, status, provisional, centre,
    upper, lower, point_type, limits_provisional, segment_start; ``attrs["verdict"]`` and
    ``attrs["verdict_month"]`` (the latest final month's point type and its month)."""
    from ui import data as ui_data

    months = (ctx.end - first).n + 1
    frame = ui_data.spc_chart(ctx.loaded, kpi.id, force, ctx.end, months=months,
                              scope=ctx.scope,
                              audience="panel" if ctx.is_panel else "internal").copy()
    attrs = dict(frame.attrs)
    frame["month"] = pd.PeriodIndex(pd.to_datetime(frame["month"]), freq="M")
    frame.attrs = attrs
    return frame


def chart_verdict_words(chart: pd.DataFrame) -> str:
    """One sentence on an SPC chart frame (:func:`trend_frame`): the latest final month's
    verdict in words, or why there is none."""
    if "upper" not in chart or not pd.notna(chart["upper"]).any():
        return "No SPC verdict: too few months with a value to set process limits."
    verdict, month = chart.attrs.get("verdict"), chart.attrs.get("verdict_month")
    if not verdict or month is None:
        return "No SPC verdict: no final month with a value."
    when = pd.Period(month, freq="M").strftime("%B %Y")
    words = f"Latest final month ({when}): {POINT_TYPE_LABELS.get(verdict, verdict).lower()}."
    if "limits_provisional" in chart and bool(chart["limits_provisional"].iloc[-1]):
        words += " Limits are provisional: too few months set them yet."
    return words


def trend_section(ctx: shell.PageContext, kpi: KPI, force: str, first: pd.Period,
                  adoption: pd.Period | None, span_words: str) -> pd.DataFrame | None:
    """The monthly SPC chart of one KPI, from the first month with data; a sentence instead
    when fewer than ``present.page_charts.MIN_TREND_POINTS`` months have a value. Returns the
    chart frame (None when no chart was drawn)."""
    from present import page_charts

    chart = trend_frame(ctx, kpi, force, first)
    source = chart.assign(window_start=chart["month"].dt.start_time) if not chart.empty \
        else chart
    start = page_charts.data_start(source) if not chart.empty else None
    if start is None:
        st.info(f"No month in the last {span_words.lower()} has anything to count for "
                f"{safe(kpi.name.lower())} in {safe(force)}, so there is no chart.")
        return None
    attrs = dict(chart.attrs)
    chart = chart[chart["month"] >= pd.Period(start, freq="M")].reset_index(drop=True)
    chart.attrs = attrs
    with_value = int(pd.notna(chart["value"]).sum())
    first_shown, last = chart["month"].min(), chart["month"].max()
    if with_value < page_charts.MIN_TREND_POINTS:
        held = int(chart["status"].isin(["insufficient", "suppressed"]).sum())
        why = (f"{held} month(s) have too few cases to show a value (fewer than "
               f"{kpi.min_n}, or hidden by disclosure control)" if held else
               "there are too few months with data")
        st.info(f"Too little to chart for {safe(kpi.name.lower())} from "
                f"{_months_words(first_shown, last)}: {with_value} month(s) with a value, and "
                f"{why}. The window's own figure is on the flight deck.")
        return None
    st.plotly_chart(
        page_charts.trend_chart(chart, unit=kpi.unit, title=f"{kpi.name}, monthly",
                                adoption=adoption),
        width="stretch", config={"displaylogo": False},
    )
    span = span_words.lower()
    if first_shown > first:  # said only when it is so: the months before had nothing to count
        span += " asked for; the chart starts where this force's data starts"
    words = [f"{_months_words(first_shown, last)} ({span})."]
    if adoption is not None and first_shown < adoption <= last:
        words.append(f"Soteria adopted {adoption.strftime('%B %Y')}; limits rebased there.")
    words.append(chart_verdict_words(chart))
    if chart["provisional"].fillna(False).astype(bool).any():
        words.append("Hollow points are months still maturing: their values can still "
                     "change, so they set no limits and get no verdict.")
    if ctx.is_panel:
        words.append("Each month's value is worked out from its counts rounded to the nearest "
                     "5; months with a count from 1 to 7 are left as gaps.")
    cover = ctx.coverage
    if cover is not None and ctx.choices.first_month < cover[0]:
        words.append(f"Months before {cover[0].strftime('%B %Y')} are outside this link's "
                     "window.")
    words.append("Points: ● common cause, ▲ improvement, ◆ concern, ■ unusual (neutral "
                 "measures), ○ maturing.")
    st.caption(" ".join(words))
    return chart


#: Months either side of adoption in the before/after panel (whole years: same seasons).
BEFORE_AFTER_MONTHS = 12


def before_after_unavailable(ctx: shell.PageContext, force: str,
                             adoption: pd.Period | None) -> str | None:
    """Why this view can have no before/after Soteria comparison, in plain words (no
    adoption date, All forces, too few months in the export, outside a panel link's
    window); None when it can have one. Trends and Victim voice say the same."""
    if adoption is None:
        if force == "All forces" and not ctx.is_panel:
            return ("Forces adopted Soteria in different months, so All forces has no single "
                    "adoption date: choose a force to compare before and after.")
        return (f"{safe(force)} has no Soteria adoption date in this export, so there is no "
                "before and after.")
    months = BEFORE_AFTER_MONTHS
    first, last = adoption - months, adoption + (months - 1)
    if ctx.choices is not None and (first < ctx.choices.first_month
                                    or last > ctx.choices.last_month):
        return (f"The export does not hold {months} months on both sides of the adoption "
                f"month ({adoption.strftime('%B %Y')}), so there is no before and after.")
    if not ctx.covers(first, last):
        return (f"Soteria was adopted in {adoption.strftime('%B %Y')}; the months either "
                "side of it are outside this link's window.")
    return None


def before_after_section(ctx: shell.PageContext, force: str, adoption: pd.Period | None
                         ) -> None:
    """Before/after Soteria adoption for every proportion KPI of the force: the 12 months
    before adoption against the 12 months from it (``metrics.verdicts.before_after``:
    difference in differences against forces not yet adopting)."""
    st.subheader("Before and after Soteria", anchor=False)
    why = before_after_unavailable(ctx, force, adoption)
    if why or adoption is None:
        st.write(why)
        return
    first, last = adoption - BEFORE_AFTER_MONTHS, adoption + (BEFORE_AFTER_MONTHS - 1)
    from ui import data as ui_data
    from ui import survey

    kpis = {k.id: k for k in ctx.kpis if k.is_proportion}
    raw = ui_data.before_after(ctx.loaded, force, scope=ctx.scope,
                               audience="panel" if ctx.is_panel else "internal",
                               kpi_ids=list(kpis))
    table = survey.before_after_display(raw, kpis, panel=ctx.is_panel)
    names = str(raw["comparison_forces"].iloc[0]) if len(raw) else ""
    others = ("pooled" if ctx.is_panel else names.replace("; ", ", ")) if names else \
        "none in this export"
    st.caption(
        f"{_months_words(first, adoption - 1)} against {_months_words(adoption, last)}, "
        "every proportion KPI, as a difference in differences: the force's change minus "
        "the change over the same months in forces that had not yet adopted Soteria "
        f"({safe(others)}), with "
        "its 95% interval. With many KPIs tested at once, p-values are adjusted for the "
        "false discovery rate (Benjamini–Hochberg); 'likely real' means an adjusted p "
        "of 0.05 or less. Without a comparison group the change is the force's own and "
        "gets no verdict.")
    st.dataframe(table, hide_index=True, width="stretch")


def commentary_history(ctx: shell.PageContext, force: str, kpi: KPI) -> None:
    """The KPI's commentary and assurance history from the meeting record (``metrics.record``),
    newest first; a panel sees only its link's window. Nothing when there is no record."""
    from ui import data as ui_data

    record = ui_data.meeting_record()
    if record is None:
        return
    scope = getattr(ctx.access, "scope", None)
    try:
        if scope is not None:
            history = record.comment_history(force, kpi.id, window_start=scope.start,
                                             window_end=scope.end)
        else:
            history = record.comment_history(force, kpi.id)
    except Exception:  # noqa: BLE001 - the record is optional on this page
        _LOG.exception("commentary history failed")
        st.caption("The meeting record cannot be read just now.")
        return
    st.subheader("Commentary history", anchor=False)
    if not history:
        st.caption(f"No commentary recorded for {safe(kpi.name.lower())} in {safe(force)}.")
        return
    for c in history:
        window = c.window_start if c.window_start == c.window_end else \
            f"{c.window_start} to {c.window_end}"
        # A panel link carries no names: the author is shown to internal users only.
        author = "" if scope is not None else f"{safe(c.author)}, "
        st.markdown(f"**{safe(c.assurance_label)}** · {safe(window)} · owner {safe(c.owner)} · "
                    f"{author}{c.created_at:%d %b %Y %H:%M} UTC  \n{safe(c.text)}")
