"""The board pack: the flight deck as a printable PDF for the performance meeting.

``build_boardpack(dataset, force, start, end, *, audience, comparison, progress, charts)``
returns the bytes of an A4 landscape PDF with numbered pages and the marking
OFFICIAL-SENSITIVE on every page:

1. cover: force, window, comparison window, data as-at date, audience, contents;
2. flight deck: the six pillars, quantitative and qualitative KPIs side by side, each with its
   value and 95% interval (or the gate, ``n = 17 of 30 needed``), the change against the
   comparison window and the SPC verdict as a text label (never colour alone);
3. one page (or two) per pillar: an XmR chart per KPI and one sentence per special cause,
   e.g. "Charge rate: 7 months above the mean since adoption: improvement";
4. victim voice: every survey item with its gate and interval, and each item before against
   after the force's Soteria adoption (Newcombe interval, Benjamini-Hochberg);
5. compare forces: funnel plots (flags only outside 99.8%; no league table; never in a
   panel pack, as other forces' figures are not shared with a panel);
6. appendix: the definitions, generated from the KPI registry, and how to read the pack.

Every number comes from ``metrics.kpis.compute_kpis``; in the panel audience every KPI table
goes through ``metrics.disclosure.apply_panel`` first, so the pack is disclosure-controlled
exactly like the screen. Values are worded by ``present.format`` and charts drawn by
``present.charts``
(both pure, no Streamlit), so screen and paper say the same thing.

Charts are rendered by Plotly's exporter (kaleido 1.x, which drives a Chrome/Chromium; on
Debian ``BROWSER_PATH`` is pointed at ``/usr/bin/chromium`` when unset). All figures of a pack
go to one kaleido session. When no browser exists or export fails, the pack is still built,
with tables, and says on the cover and on each chart page that charts were left out.

No Streamlit import here: the app (``ui/downloads.py``), the CLI
(``python -m metrics boardpack``) and the benchmark call the same function.
"""

from __future__ import annotations

import asyncio
import io
import math
import os
import queue
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas as rl_canvas
from reportlab.platypus import (
    BaseDocTemplate,
    CondPageBreak,
    Frame,
    Image,
    KeepInFrame,
    KeepTogether,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from metrics import registry
from metrics.dataset import Dataset
from metrics.registry import KPI, PILLARS
from metrics.windows import comparison_window, describe_window, latest_complete_month
from present.format import (
    format_change,
    format_interval,
    format_value,
    gate_text,
    is_missing,
    verdict,
)

MARKING = "OFFICIAL-SENSITIVE"
ALL_FORCES = "All forces"
AUDIENCES: tuple[str, ...] = ("internal", "panel")
COMPARISONS: dict[str, str] = {
    "previous": "previous window",
    "year_ago": "same window a year earlier",
}
#: Months of history drawn on each SPC chart (ending at the window's last month); for a force
#: the chart reaches back to 12 months before its Soteria adoption, up to SPC_MAX_MONTHS, so the
#: limits rebased at adoption and the change since then are on the page.
SPC_HISTORY_MONTHS = 36
SPC_MAX_MONTHS = 84
SPC_BEFORE_ADOPTION = 12
#: Panel audience: no SPC chart when more than this share of a KPI's months is suppressed.
PANEL_MAX_SUPPRESSED_MONTHS = 0.25
#: Survey items before/after adoption: up to this many months each side (as the app's page).
BEFORE_AFTER_MONTHS = 24
#: Proportion KPIs shown as funnel plots on the compare-forces page.
FUNNEL_KPIS: tuple[str, ...] = ("charge_rate", "victim_withdrawal_rate")
SUPPRESSED_TEXT = "Suppressed*"
#: Special-cause sentences printed per KPI (the most recent ones).
SENTENCES_PER_KPI = 2
SUPPRESSED_NOTE = ("* Suppressed: based on 1 to 7 items, held back so that no victim can be "
                   "identified. Other counts are rounded to the nearest 5 and rates are "
                   "computed from the rounded counts.")

ProgressFn = Callable[[float, str], None]
#: The pack's sections, in order (the cover and the appendix are always included).
SECTIONS: tuple[str, ...] = ("flight_deck", "pillars", "victim_voice", "compare_forces")


def sections_for(pages: Sequence[str] | None) -> tuple[str, ...]:
    """The sections a reader allowed ``pages`` (app page ids) may see; None: all of them."""
    if pages is None:
        return SECTIONS
    allowed = set(pages)
    out = []
    if "flight_deck" in allowed:
        out.append("flight_deck")
    if allowed & {"flight_deck", "trends"}:
        out.append("pillars")
    out += [s for s in ("victim_voice", "compare_forces") if s in allowed]
    return tuple(out)


class BoardpackError(ValueError):
    """A bad argument (unknown force, bad month, unknown audience or comparison)."""


class UnusableDataError(RuntimeError):
    """The export failed validation, so no pack can be built from it."""


# --------------------------------------------------------------------------------------------
# Words and numbers (shared with the tests: they format compute_kpis output the same way)
# --------------------------------------------------------------------------------------------

def format_n(n: object) -> str:
    """A count for the pack: ``n = 1,234``; empty when there is none."""
    return "" if is_missing(n) else f"n = {float(n):,.0f}"  # type: ignore[arg-type]


def kpi_value_text(kpi: KPI, row: Any) -> str:
    """The main text of a KPI cell, exactly as printed in the pack.

    ``ok``: the value in plain units (``present.format.format_value``); ``insufficient``: the gate
    (``n = 17 of 30 needed``); ``suppressed``: ``Suppressed*``; otherwise ``No data``.
    """
    status = _get(row, "status")
    if status == "ok":
        return format_value(_get(row, "value"), kpi.unit)
    if status == "insufficient":
        if is_missing(_get(row, "n")):
            return SUPPRESSED_TEXT
        return gate_text(_get(row, "n"), kpi.min_n)
    if status == "suppressed":
        return SUPPRESSED_TEXT
    return "No data"


def kpi_detail_text(kpi: KPI, row: Any) -> str:
    """The small print under a KPI value: the 95% interval and n (when there are any)."""
    if _get(row, "status") != "ok":
        return ""
    parts = [format_interval(_get(row, "ci_low"), _get(row, "ci_high"), kpi.unit)]
    if kpi.unit != "count":
        parts.append(format_n(_get(row, "n")))
    return "; ".join(p for p in parts if p)


def change_text(kpi: KPI, row: Any, previous: Any) -> str:
    """The change against the comparison window, worded by ``present.format.format_change``."""
    if _get(row, "status") != "ok" or previous is None or _get(previous, "status") != "ok":
        return "no comparison"
    change = format_change(_get(row, "value"), _get(previous, "value"), kpi.unit, kpi.better)
    if change.judgement in ("better", "worse"):
        return f"{change.text} ({change.judgement})"
    return change.text


def verdict_text(point_type: str | None, above_centre: bool | None = None) -> str:
    """The SPC verdict as an icon plus a text label, e.g. ``▲ Improvement``."""
    return verdict(point_type, above_centre).text


def _get(row: Any, key: str) -> Any:
    if row is None:
        return None
    try:
        return row[key]
    except (KeyError, IndexError, TypeError):
        return getattr(row, key, None)


def _month(value: str | pd.Period, what: str) -> pd.Period:
    if isinstance(value, pd.Period):
        return value.asfreq("M")
    text = str(value)
    if not re.fullmatch(r"\d{4}-\d{2}", text) or not 1 <= int(text[5:]) <= 12:
        raise BoardpackError(f"{what} must be a month as YYYY-MM, not {text!r}")
    return pd.Period(text, freq="M")




# --------------------------------------------------------------------------------------------
# SPC: chart frames and special-cause sentences
# --------------------------------------------------------------------------------------------

SPECIAL_TYPES = ("special_cause_improvement", "special_cause_concern",
                 "special_cause_neutral_high", "special_cause_neutral_low")
_VERDICT_WORD = {
    "special_cause_improvement": "improvement",
    "special_cause_concern": "concern",
    "special_cause_neutral_high": "unusually high",
    "special_cause_neutral_low": "unusually low",
}


def spc_frame(monthly: pd.DataFrame, kpi: KPI, adoption: pd.Period | None) -> pd.DataFrame:
    """One KPI's XmR chart data: ``month``, ``value``, ``centre``, ``upper``, ``lower``,
    ``point_type``, one row per month of ``monthly`` (one KPI, one force, ``by="month"``).

    As in the engine's ``spc`` column, months whose status is not ``ok`` enter the series as
    missing (a gap, point type None) and the limits are rebased at the adoption month when it
    lies inside the series (not its first month), so pack and screen agree.
    ``attrs["provisional"]`` is True when fewer than 12 points set the last limits.
    """
    cols = ["month", "value", "centre", "upper", "lower", "point_type"]
    rows = monthly.sort_values("window_start")
    if rows.empty:
        return pd.DataFrame(columns=cols)
    months = pd.PeriodIndex(pd.to_datetime(rows["window_start"]), freq="M")
    values = rows["value"].astype(float).where(rows["status"].eq("ok").to_numpy())
    out = pd.DataFrame({"month": list(months), "value": values.to_numpy()})
    out["centre"] = math.nan
    out["upper"] = math.nan
    out["lower"] = math.nan
    out["point_type"] = None
    out.attrs["provisional"] = True
    if int(values.notna().sum()) < 2:
        return out[out["value"].notna()].reset_index(drop=True)[cols]
    from metrics.stats import xmr

    rebase = [adoption] if adoption is not None and months[0] < adoption <= months[-1] else None
    result = xmr(pd.Series(values.to_numpy(), index=months), improvement=kpi.improvement,
                 rebase=rebase)
    for col in ("centre", "upper", "lower", "point_type"):
        out[col] = result[col].to_numpy()
    out.attrs["provisional"] = bool(result.attrs.get("provisional", False))
    return out


def _runs(flags: Sequence[bool]) -> list[tuple[int, int]]:
    """(start, end) index pairs, inclusive, of the runs of True in ``flags``."""
    out, start = [], None
    for i, flag in enumerate(flags):
        if flag and start is None:
            start = i
        if not flag and start is not None:
            out.append((start, i - 1))
            start = None
    if start is not None:
        out.append((start, len(flags) - 1))
    return out


def special_cause_sentences(kpi: KPI, spc: pd.DataFrame, adoption: pd.Period | None = None,
                            *, limit: int = 3) -> list[str]:
    """One plain sentence per special cause on a KPI's chart, most recent last.

    Each run of consecutive special-cause months of one type is described by the strongest
    Making Data Count rule it meets: points outside the process limits, a run of months on one
    side of the mean, a trend of months rising or falling, or otherwise points close to a
    limit. E.g. ``Charge rate: 7 months above the mean since adoption: improvement``.
    """
    if spc.empty or "point_type" not in spc:
        return []
    spc = spc[spc["value"].notna()].reset_index(drop=True)
    types = [p if isinstance(p, str) else "" for p in spc["point_type"]]
    sentences: list[str] = []
    for point_type in SPECIAL_TYPES:
        for a, b in _runs([t == point_type for t in types]):
            seg = spc.iloc[a:b + 1]
            sentences.append((b, _describe_run(kpi, seg, point_type, adoption)))  # type: ignore[arg-type]
    sentences.sort(key=lambda s: s[0])  # type: ignore[index]
    return [s for _, s in sentences[-limit:]]  # type: ignore[misc]


def _describe_run(kpi: KPI, seg: pd.DataFrame, point_type: str,
                  adoption: pd.Period | None) -> str:
    """One sentence for a run of consecutive special-cause months of one type.

    A run can mix rules (a trend that becomes a shift, with points beyond a limit), so the
    sentence names the plainest rule that covers every month, and otherwise counts them.
    """
    count = len(seg)
    months = list(seg["month"])
    first, last = months[0], months[-1]
    values = seg["value"].astype(float).to_numpy()
    centre = seg["centre"].astype(float).to_numpy()
    upper = seg["upper"].astype(float).to_numpy()
    lower = seg["lower"].astype(float).to_numpy()
    word = _VERDICT_WORD[point_type]
    n_above = int(sum(v > c for v, c in zip(values, centre, strict=True)))
    n_below = int(sum(v < c for v, c in zip(values, centre, strict=True)))
    n_high = int(sum(v > u for v, u in zip(values, upper, strict=True) if not is_missing(u)))
    n_low = int(sum(v < lo for v, lo in zip(values, lower, strict=True) if not is_missing(lo)))
    since = ("since adoption" if adoption is not None and first == adoption
             else f"since {first.strftime('%b %Y')}")
    span = (first.strftime("%b %Y") if count == 1
            else f"{first.strftime('%b %Y')} to {last.strftime('%b %Y')}")

    def months_word(k: int) -> str:
        return f"{k} month" if k == 1 else f"{k} months"

    beyond = []
    if n_high:
        beyond.append(f"{n_high} above the upper process limit")
    if n_low:
        beyond.append(f"{n_low} below the lower process limit")
    if count >= 7 and (n_above == count or n_below == count):
        side = "above" if n_above == count else "below"
        what = f"{count} months {side} the mean {since}"
        if beyond:
            what += f", {' and '.join(beyond)}"
    elif count >= 7 and _monotonic(values):
        direction = "rising" if values[-1] > values[0] else "falling"
        what = f"{count} months {direction} in a row ({span})"
    elif count >= 7:
        side, n_side = ("above", n_above) if n_above >= n_below else ("below", n_below)
        what = (f"{count} months of special cause variation {since}, {n_side} of them "
                f"{side} the mean" + (f" and {' and '.join(beyond)}" if beyond else ""))
    elif beyond and n_high + n_low == count:
        what = f"{' and '.join(beyond)} ({span})".replace(
            f"{n_high} above", f"{months_word(n_high)} above", 1).replace(
            f"{n_low} below", f"{months_word(n_low)} below", 1)
    elif beyond:
        what = f"{months_word(count)} of special cause variation ({span}), {' and '.join(beyond)}"
    elif _near_limit(values, centre, upper, lower):
        side = "upper" if n_above >= n_below else "lower"
        what = f"{months_word(count)} close to the {side} process limit ({span})"
    else:
        what = f"{months_word(count)} of special cause variation ({span})"
    return f"{kpi.name}: {what}: {word}"


def _near_limit(values: Any, centre: Any, upper: Any, lower: Any) -> bool:
    """True when every value lies in the outer third towards a limit (the 2-of-3 rule)."""
    for v, c, u, lo in zip(values, centre, upper, lower, strict=True):
        if is_missing(u) or is_missing(lo) or u == c:
            return False
        if not (v > c + 2 * (u - c) / 3 or v < c - 2 * (c - lo) / 3):
            return False
    return True


def _monotonic(values: Any) -> bool:
    diffs = [b - a for a, b in zip(values[:-1], values[1:], strict=True)]
    return bool(diffs) and (all(d > 0 for d in diffs) or all(d < 0 for d in diffs))


# --------------------------------------------------------------------------------------------
# Gathering the numbers
# --------------------------------------------------------------------------------------------

@dataclass
class PackData:
    """Everything a pack prints, already disclosure-controlled in the panel audience."""

    force: str
    start: pd.Period
    end: pd.Period
    comp_start: pd.Period
    comp_end: pd.Period
    audience: str
    comparison: str
    as_at: date | None
    kpis: list[KPI]
    current: pd.DataFrame  # window, this force, indexed by kpi_id
    previous: pd.DataFrame  # comparison window, this force, indexed by kpi_id
    forces_window: pd.DataFrame  # window, every force (for the funnel plots)
    monthly: pd.DataFrame  # month rows for this force (SPC history)
    adoption: pd.Period | None
    spc: dict[str, pd.DataFrame] = field(default_factory=dict)
    spc_notes: dict[str, str] = field(default_factory=dict)  # why a KPI has no chart
    before_after: pd.DataFrame | None = None  # survey items around adoption (see below)
    before_after_window: tuple[pd.Period, pd.Period] | None = None

    @property
    def window_label(self) -> str:
        return describe_window(self.start, self.end)

    @property
    def comparison_label(self) -> str:
        return (f"{describe_window(self.comp_start, self.comp_end)} "
                f"({COMPARISONS[self.comparison]})")

    def kpi(self, kpi_id: str) -> KPI:
        return next(k for k in self.kpis if k.id == kpi_id)

    def row(self, kpi_id: str, *, previous: bool = False) -> dict[str, Any] | None:
        """One KPI's row of the window (or comparison window) table as a dict, or None."""
        cache = self.__dict__.setdefault("_rows", {})
        key = "previous" if previous else "current"
        if key not in cache:
            table = self.previous if previous else self.current
            cache[key] = {str(i): dict(r) for i, r in zip(
                table.index, table.to_dict("records"), strict=True)}
        return cache[key].get(kpi_id)

    def last_verdict(self, kpi_id: str) -> str:
        """The verdict label of the chart's last point, if that point is the window's end."""
        frame = self.spc.get(kpi_id)
        if frame is None or frame.empty:
            return verdict_text(None)
        last = frame.iloc[-1]
        if last["month"] != self.end:
            return verdict_text(None)
        above = None if is_missing(last["centre"]) else bool(last["value"] > last["centre"])
        return verdict_text(last["point_type"] if isinstance(last["point_type"], str) else None,
                            above)


def _compute(dataset: Dataset, start: pd.Period, end: pd.Period, **kw: Any) -> pd.DataFrame:
    from metrics.kpis import compute_kpis

    return compute_kpis(dataset, start, end, **kw)


def _panel(table: pd.DataFrame) -> pd.DataFrame:
    """``metrics.disclosure.apply_panel`` (the one place the panel rules live)."""
    try:
        from metrics.disclosure import apply_panel
    except ImportError as exc:  # never build a panel pack without disclosure control
        raise BoardpackError("the panel audience needs metrics.disclosure.apply_panel, "
                             "which is not available") from exc
    return apply_panel(table)


def _adoption_month(dataset: Dataset, force: str) -> pd.Period | None:
    """The month of the force's Soteria adoption (None for All forces or no date)."""
    from metrics.kpis.spc import adoption_months

    return None if force == ALL_FORCES else adoption_months(dataset).get(force)


def first_data_month(dataset: Dataset) -> pd.Period | None:
    """The first month with a recorded case, or None."""
    cases = dataset.get("cases")
    if cases is None or cases.empty:
        return None
    first = cases["recorded_date"].min()
    return None if pd.isna(first) else pd.Timestamp(first).to_period("M")


def _panel_pages() -> tuple[str, ...]:
    try:
        from metrics.sharelink import PANEL_PAGES
    except ImportError:
        return ("flight_deck", "trends", "victim_voice", "definitions")
    return tuple(PANEL_PAGES)


def check_arguments(dataset: Dataset, force: str, start: str | pd.Period,
                    end: str | pd.Period, audience: str = "internal",
                    comparison: str = "previous") -> tuple[pd.Period, pd.Period]:
    """The window's first and last months, after checking every argument (cheap).

    Raises ``BoardpackError`` for a bad argument, ``UnusableDataError`` for an unusable export.
    """
    if audience not in AUDIENCES:
        raise BoardpackError(f"audience must be one of {', '.join(AUDIENCES)}, not {audience!r}")
    if comparison not in COMPARISONS:
        raise BoardpackError(
            f"comparison must be one of {', '.join(COMPARISONS)}, not {comparison!r}")
    if not dataset.report.usable or "cases" not in dataset.tables:
        problems = "; ".join(p.message for p in dataset.report.errors[:2]) or "no cases table"
        raise UnusableDataError(f"the export is not usable: {problems}")
    p0, p1 = _month(start, "start"), _month(end, "end")
    if p0 > p1:
        raise BoardpackError(f"the window starts ({p0}) after it ends ({p1})")
    if force not in set(dataset.forces) | {ALL_FORCES}:
        raise BoardpackError(f"unknown force {force!r}")
    return p0, p1


def collect_pack_data(dataset: Dataset, force: str, start: str | pd.Period,
                      end: str | pd.Period, *, audience: str = "internal",
                      comparison: str = "previous",
                      disclose: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
                      progress: Callable[[float, str], None] | None = None) -> PackData:
    """Compute (and, for the panel, disclosure-control) every table the pack prints.

    ``disclose`` replaces ``apply_panel`` for the panel audience (the app passes
    ``Access.disclose``, which also keeps only a share link's force and months).
    ``progress(share_done, message)`` reports the steps.
    """
    def step(share: float, message: str) -> None:
        if progress is not None:
            progress(share, message)

    p0, p1 = check_arguments(dataset, force, start, end, audience, comparison)
    c0, c1 = comparison_window(p0, p1, comparison)
    from metrics.kpis import KpiInputError, survey_items

    first = first_data_month(dataset) or p0
    h0 = p1 - (SPC_HISTORY_MONTHS - 1)
    adoption = _adoption_month(dataset, force)
    if adoption is not None and adoption <= p1:
        h0 = min(h0, max(adoption - SPC_BEFORE_ADOPTION, p1 - (SPC_MAX_MONTHS - 1)))
    h0 = max(min(first, p0), h0)
    try:
        window_all = _compute(dataset, p0, p1)
        step(0.3, "Computing the comparison window")
        previous = _compute(dataset, c0, c1, forces=[force])
        step(0.5, "Computing the monthly history")
        monthly = _compute(dataset, h0, p1, by="month", forces=[force])
    except KpiInputError as exc:
        raise BoardpackError(str(exc)) from exc
    if audience == "panel":
        rule = disclose or _panel
        window_all, previous, monthly = rule(window_all), rule(previous), rule(monthly)
    step(0.7, "SPC limits and verdicts")
    kpis = registry.all_kpis(survey_items(dataset))
    current = window_all[window_all["force"] == force].set_index("kpi_id")
    data = PackData(
        force=force, start=p0, end=p1, comp_start=c0, comp_end=c1, audience=audience,
        comparison=comparison, as_at=dataset.as_at, kpis=kpis, current=current,
        previous=previous.set_index("kpi_id"), forces_window=window_all, monthly=monthly,
        adoption=adoption,
    )
    for kpi in kpis:
        rows = monthly[monthly["kpi_id"] == kpi.id]
        suppressed = float(rows["status"].eq("suppressed").mean()) if len(rows) else 0.0
        if suppressed > PANEL_MAX_SUPPRESSED_MONTHS:
            # The months left would be a biased selection (e.g. only the months with 0).
            data.spc[kpi.id] = spc_frame(rows.iloc[0:0], kpi, None)
            data.spc_notes[kpi.id] = (
                f"{kpi.name}: no chart in the panel view: {suppressed:.0%} of the months are "
                "suppressed (counts of 1 to 7), and the rest alone would mislead.")
            continue
        data.spc[kpi.id] = spc_frame(rows, kpi, data.adoption)
    survey = [k for k in kpis if k.source == "survey_responses"]
    window = _before_after_window(dataset, adoption)
    if window is not None and survey:
        ids = [k.id for k in survey]
        b0, a1 = window
        before = _compute(dataset, b0, adoption - 1, forces=[force], kpi_ids=ids)
        after = _compute(dataset, adoption, a1, forces=[force], kpi_ids=ids)
        data.before_after_window = window
        if audience == "panel":
            rule = disclose or _panel
            before, after = rule(before), rule(after)
        data.before_after = survey_before_after(survey, before, after)
    return data


def _before_after_window(dataset: Dataset, adoption: pd.Period | None
                         ) -> tuple[pd.Period, pd.Period] | None:
    """First month before and last month after adoption for the survey comparison: up to
    ``BEFORE_AFTER_MONTHS`` each side, within the export's months (as the app's victim voice
    page does); None when either side would be empty."""
    first, last = first_data_month(dataset), latest_complete_month(dataset.as_at)
    if adoption is None or first is None or last is None:
        return None
    b0 = max(adoption - BEFORE_AFTER_MONTHS, first)
    a1 = min(adoption + (BEFORE_AFTER_MONTHS - 1), last)
    if b0 >= adoption or a1 < adoption:
        return None
    return b0, a1


def survey_before_after(items: Sequence[KPI], before: pd.DataFrame, after: pd.DataFrame
                        ) -> pd.DataFrame:
    """Each survey item in the months before adoption against the months from it.

    Counts from the two KPI tables (``compute_kpis``, disclosure-controlled for a panel);
    ``metrics.stats.proportion_change`` (Newcombe interval, gate of the item's minimum n on each
    side) and Benjamini-Hochberg across the items. Columns: ``kpi_id``, ``status``, ``before``,
    ``after``, ``n_before``, ``n_after``, ``diff``, ``low``, ``high``, ``q`` (adjusted p),
    ``real`` (a discovery at a 5% false discovery rate) and each side's engine ``value_*`` and
    ``status_*`` (what the pack prints for that side).
    """
    from metrics.stats import benjamini_hochberg, proportion_change

    b, a = before.set_index("kpi_id"), after.set_index("kpi_id")

    def count(table: pd.DataFrame, kpi_id: str, col: str) -> float:
        value = table[col].get(kpi_id) if kpi_id in table.index else None
        return math.nan if is_missing(value) else float(value)  # type: ignore[arg-type]

    rows = []
    for kpi in items:
        result = proportion_change(count(b, kpi.id, "numerator"), count(b, kpi.id, "denominator"),
                                   count(a, kpi.id, "numerator"), count(a, kpi.id, "denominator"),
                                   min_n=kpi.min_n)
        rows.append({"kpi_id": kpi.id, **{k: result[k] for k in (
            "status", "before", "after", "n_before", "n_after", "diff", "low", "high",
            "p_value")},
            **{f"{col}_{side}": (table[col].get(kpi.id) if kpi.id in table.index else None)
               for side, table in (("before", b), ("after", a))
               for col in ("value", "status")}})
    frame = pd.DataFrame(rows)
    q, real = benjamini_hochberg(frame["p_value"].to_numpy(dtype=float))
    frame["q"], frame["real"] = q, real
    return frame


# --------------------------------------------------------------------------------------------
# Charts (built by present.charts, rendered with kaleido in one session)
# --------------------------------------------------------------------------------------------

CHART_FONT_SIZE = 18  # px at the export size: about 8 pt once scaled onto the page
SPC_PX = (720, 430)  # SPC and survey charts, pixels before the 1.5x scale
FUNNEL_PX = (1000, 500)


def browser_path() -> str | None:
    """The Chrome/Chromium kaleido will use: ``$BROWSER_PATH``, else Debian's chromium.

    Sets ``BROWSER_PATH`` when it was unset and a chromium is on PATH. None when none exists.
    """
    configured = os.environ.get("BROWSER_PATH")
    if configured:
        return configured if Path(configured).exists() else None
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            os.environ["BROWSER_PATH"] = found
            return found
    return None


class ChartSession:
    """One kaleido (Chrome) session started in a background thread, so that Chrome starts
    while the KPIs are computed; :meth:`render` then draws every figure of the pack in it.

    kaleido's own ``start_sync_server`` is a process-wide singleton that concurrent app
    sessions could not share safely, so each pack gets its own short-lived session. Chrome is
    closed in the background after the figures are written; :meth:`close` waits for that.
    """

    def __init__(self, timeout: float = 120.0) -> None:
        self.timeout = timeout
        self._jobs: queue.Queue[list[dict[str, Any]] | None] = queue.Queue(maxsize=1)
        self._done: queue.Queue[BaseException | None] = queue.Queue(maxsize=1)
        self.submitted = 0  # jobs handed to kaleido so far (read by render's progress)
        self._thread = threading.Thread(target=self._run, name="boardpack-kaleido",
                                        daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # noqa: BLE001 - reported to the waiting caller
            if self._done.empty():
                self._done.put(exc)

    async def _main(self) -> None:
        import kaleido

        async with kaleido.Kaleido(n=1, timeout=self.timeout) as k:
            loop = asyncio.get_running_loop()
            jobs = await loop.run_in_executor(None, self._jobs.get)
            if jobs is not None:
                await k.write_fig_from_object(self._counted(jobs))
            self._done.put(None)

    def _counted(self, jobs: list[dict[str, Any]]) -> Any:
        for job in jobs:
            yield job  # kaleido asks for the next job once a tab is free (n=1: one at a time)
            self.submitted += 1

    def render(self, jobs: list[dict[str, Any]],
               progress: Callable[[float], None] | None = None) -> None:
        """Write every job (``fig``, ``path``, ``opts``); raises what kaleido raised.

        ``progress(share_done)`` is called from this (the caller's) thread about twice a
        second while the figures are drawn, so a Streamlit progress bar can move.
        """
        self.submitted = 0
        self._jobs.put(jobs)
        deadline = time.monotonic() + self.timeout * 2
        while True:
            try:
                result = self._done.get(timeout=0.5)
                break
            except queue.Empty:
                if time.monotonic() > deadline:
                    raise TimeoutError("chart export timed out") from None
                if progress is not None and jobs:
                    progress(min(self.submitted, len(jobs)) / len(jobs))
        if result is not None:
            raise result

    def close(self, wait: float = 15.0) -> None:
        """Release the session (without drawing, if nothing was rendered) and wait for it."""
        try:
            self._jobs.put_nowait(None)
        except queue.Full:
            pass
        self._thread.join(wait)


def start_chart_session() -> tuple[ChartSession | None, str | None]:
    """A started :class:`ChartSession`, or (None, why charts will be left out)."""
    if browser_path() is None:
        return None, "Charts were left out: no Chrome or Chromium browser was found to draw them."
    try:
        import kaleido  # noqa: F401
    except ImportError:
        return None, "Charts were left out: the kaleido chart exporter is not installed."
    return ChartSession(), None


def render_figures(figures: dict[str, Any], *, width: int, height: int, scale: float = 2.0,
                   session: ChartSession | None = None,
                   progress: Callable[[float], None] | None = None
                   ) -> tuple[dict[str, bytes], str | None]:
    """PNG bytes for each figure, rendered in ONE kaleido session (kaleido starts slowly).

    ``figures`` maps a key to a Plotly figure, or to ``(figure, width, height)`` for a size
    other than the default ``width`` x ``height`` pixels. ``session``: an already started
    :class:`ChartSession` (else one is started here). Returns ``(images, note)``: ``note`` is
    None on success, else a plain sentence saying why charts were left out (no browser,
    kaleido missing, export failed). Never raises.
    """
    if not figures:
        return {}, None
    own = session is None
    if session is None:
        session, why = start_chart_session()
        if session is None:
            return {}, why
    try:
        with tempfile.TemporaryDirectory(prefix="boardpack-") as tmp:
            jobs, paths = [], {}
            for i, (key, item) in enumerate(figures.items()):
                fig, w, h = item if isinstance(item, tuple) else (item, width, height)
                path = Path(tmp) / f"chart{i:03d}.png"
                paths[key] = path
                jobs.append({"fig": fig, "path": path,
                             "opts": {"format": "png", "width": w, "height": h,
                                      "scale": scale}})
            try:
                session.render(jobs, progress)
            except Exception as exc:  # noqa: BLE001 - any exporter failure: no charts
                return {}, ("Charts were left out: the chart export failed "
                            f"({type(exc).__name__}).")
            images = {key: path.read_bytes() for key, path in paths.items() if path.exists()}
    finally:
        if own:
            session.close()
    if len(images) < len(figures):
        return images, "Some charts were left out: the chart export did not draw them all."
    return images, None


def _print_layout(fig: Any, title: str | None = None) -> Any:
    """The screen figure, sized for paper: bigger type, no legend (the page has a key)."""
    fig.update_layout(font=dict(size=CHART_FONT_SIZE), showlegend=False,
                      margin=dict(l=10, r=20, t=50 if title else 10, b=10))
    if title:
        fig.update_layout(title=dict(text=title, font=dict(size=CHART_FONT_SIZE + 2)))
    for ann in fig.layout.annotations or ():
        ann.font.size = CHART_FONT_SIZE - 2
    return fig


def build_figures(data: PackData, funnels: list[Funnel] | None = None,
                  sections: Sequence[str] = ("pillars", "victim_voice", "compare_forces")
                  ) -> dict[str, Any]:
    """Plotly figures for the pack, keyed ``spc:<kpi_id>``, ``funnel:<kpi_id>``, ``survey``.

    Raises ImportError when the chart builders (``present.charts``, Plotly) cannot be imported.
    """
    from present import charts

    figures: dict[str, Any] = {}
    for kpi in data.kpis if "pillars" in sections else ():
        if kpi.source == "survey_responses":
            continue
        frame = data.spc.get(kpi.id)
        if frame is None or frame.empty:
            continue
        adoption = data.adoption if data.adoption is not None and \
            frame["month"].iloc[0] < data.adoption <= frame["month"].iloc[-1] else None
        fig = charts.spc_chart(frame, unit=kpi.unit, title=kpi.name, adoption=adoption)
        figures[f"spc:{kpi.id}"] = _print_layout(fig, kpi.name)
    survey = _survey_frame(data)
    if "victim_voice" in sections and not survey.empty and survey["status"].eq("ok").any():
        fig = charts.breakdown_chart(survey, unit="proportion", title=None)
        fig.update_xaxes(range=[0, 1])
        figures["survey"] = _print_layout(fig)
    if "compare_forces" not in sections:
        funnels = []
    for funnel in funnels if funnels is not None else _funnels(data):
        kpi = data.kpi(funnel.kpi_id)
        fig = charts.funnel_chart(funnel.points, funnel.limits, target=funnel.target,
                                  title=kpi.name)
        fig = _print_layout(fig, kpi.name)
        fig.update_layout(showlegend=True, margin=dict(l=10, r=110, t=80, b=10),
                          legend=dict(orientation="h", y=1.0, yanchor="bottom", x=1,
                                      xanchor="right"))
        fig.update_traces(textfont=dict(size=CHART_FONT_SIZE - 5), cliponaxis=False,
                          selector=dict(mode="markers+text"))
        figures[f"funnel:{funnel.kpi_id}"] = (fig, FUNNEL_PX[0], FUNNEL_PX[1])
    return figures


def _survey_frame(data: PackData) -> pd.DataFrame:
    rows = []
    for kpi in data.kpis:
        r = data.row(kpi.id)
        if kpi.source != "survey_responses" or r is None:
            continue
        rows.append({"group": kpi.name.replace("Survey: ", "").capitalize(),
                     "value": r["value"], "ci_low": r["ci_low"], "ci_high": r["ci_high"],
                     "n": r["n"], "status": r["status"]})
    return pd.DataFrame(rows)


@dataclass
class Funnel:
    """One funnel plot: points per force (``force``, ``n``, ``value``, ``flag``, ``side``),
    the limits to draw, the all-forces target and whether limits allow for overdispersion."""

    kpi_id: str
    points: pd.DataFrame
    limits: pd.DataFrame
    target: float
    overdispersed: bool


_FLAG = {"outside_998": "outside", "between_95_998": "worth_a_look", "inside_95": "within"}


def _funnels(data: PackData) -> list[Funnel]:
    """A funnel per ``FUNNEL_KPIS`` entry with at least three forces to compare.

    Uses the window's (panel: disclosure-controlled) numerators and denominators, the pooled
    rate as target and ``metrics.stats.funnel_flags`` (overdispersion allowed for when the
    forces vary more than chance allows).
    """
    from metrics.stats import funnel_flags, funnel_limits

    out = []
    table = data.forces_window
    for kpi_id in FUNNEL_KPIS:
        rows = table[(table["kpi_id"] == kpi_id) & (table["force"] != ALL_FORCES)
                     & (table["status"] == "ok")]
        if len(rows) < 3:
            continue
        num = rows["numerator"].astype(float).to_numpy()
        den = rows["denominator"].astype(float).to_numpy()
        flags = funnel_flags(num, den)
        target = float(flags.attrs["target"])
        if math.isnan(target):
            continue
        points = pd.DataFrame({
            "force": rows["force"].astype(str).to_numpy(), "n": den,
            "value": flags["proportion"].to_numpy(),
            "flag": [_FLAG.get(p, "within") for p in flags["position"]],
            "side": flags["side"].to_numpy(),
        })
        grid = _grid(max(1.0, float(den.min()) * 0.5), float(den.max()) * 1.1)
        limits = funnel_limits(target, grid, tau2=float(flags.attrs["tau2"]))
        out.append(Funnel(kpi_id, points, limits, target, bool(flags.attrs["tau2"] > 0)))
    return out


def _grid(lo: float, hi: float, steps: int = 120) -> list[float]:
    lo, hi = max(lo, 1.0), max(hi, 2.0)
    ratio = (hi / lo) ** (1 / (steps - 1))
    return [lo * ratio**i for i in range(steps)]


# --------------------------------------------------------------------------------------------
# PDF layout (ReportLab)
# --------------------------------------------------------------------------------------------

PAGE = landscape(A4)
MARGIN = 14 * mm
TOP_MARGIN = 14 * mm
BOTTOM_MARGIN = 13 * mm
_FONTS = {"regular": "Helvetica", "bold": "Helvetica-Bold"}
_FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu",
              "/usr/local/share/fonts", "/Library/Fonts")
# Fallbacks for Helvetica (no Unicode glyphs) when DejaVu Sans is not installed.
_ASCII = str.maketrans({"▲": "^", "▼": "v", "●": "o", "◆": "<>", "■": "#", "↑": "+",
                        "↓": "-", "→": ">", "↕": "~", "−": "-", "–": "-", "·": "-",
                        "≥": ">="})


def _register_fonts() -> None:
    if _FONTS["regular"] == "DejaVuSans":
        return
    for folder in _FONT_DIRS:
        regular, bold = Path(folder) / "DejaVuSans.ttf", Path(folder) / "DejaVuSans-Bold.ttf"
        if regular.exists() and bold.exists():
            try:
                pdfmetrics.registerFont(TTFont("DejaVuSans", str(regular)))
                pdfmetrics.registerFont(TTFont("DejaVuSans-Bold", str(bold)))
            except Exception:  # noqa: BLE001 - a broken font file: keep Helvetica
                return
            _FONTS.update(regular="DejaVuSans", bold="DejaVuSans-Bold")
            return


def _t(text: str) -> str:
    """Text safe for the font in use (ASCII stand-ins when only Helvetica is available)."""
    return text if _FONTS["regular"] == "DejaVuSans" else text.translate(_ASCII)


def _esc(text: object) -> str:
    """Escape text for a ReportLab Paragraph (it parses a little XML)."""
    return _t(str(text)).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class _Styles:
    def __init__(self) -> None:
        reg, bold = _FONTS["regular"], _FONTS["bold"]
        self.title = ParagraphStyle("title", fontName=bold, fontSize=26, leading=32)
        self.h1 = ParagraphStyle("h1", fontName=bold, fontSize=16, leading=20, spaceAfter=6)
        self.h2 = ParagraphStyle("h2", fontName=bold, fontSize=11, leading=14, spaceBefore=4,
                                 spaceAfter=3)
        self.body = ParagraphStyle("body", fontName=reg, fontSize=9, leading=12)
        self.small = ParagraphStyle("small", fontName=reg, fontSize=7.5, leading=9.5)
        self.cell = ParagraphStyle("cell", fontName=reg, fontSize=8, leading=10)
        self.cell_b = ParagraphStyle("cellb", fontName=bold, fontSize=8.5, leading=10.5)
        self.deck = ParagraphStyle("deck", fontName=reg, fontSize=7, leading=8.2)
        self.deck_b = ParagraphStyle("deckb", fontName=bold, fontSize=7.4, leading=8.4)
        self.card = ParagraphStyle("card", fontName=reg, fontSize=7.2, leading=8.8)
        self.cell_small = ParagraphStyle("cells", fontName=reg, fontSize=6.8, leading=8.2,
                                         textColor=colors.HexColor("#333333"))
        self.head = ParagraphStyle("head", fontName=bold, fontSize=8, leading=10,
                                   textColor=colors.white)
        self.cover_row = ParagraphStyle("cover", fontName=reg, fontSize=13, leading=18)
        self.banner = ParagraphStyle("banner", fontName=bold, fontSize=10, leading=13,
                                     alignment=TA_CENTER)


class _NumberedCanvas(rl_canvas.Canvas):
    """Draws "Page x of y" and the marking on every page (two passes over the pages)."""

    footer_left = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._saved: list[dict[str, Any]] = []

    def showPage(self) -> None:  # noqa: N802 - ReportLab's name
        self._saved.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._saved)
        for state in self._saved:
            self.__dict__.update(state)
            self._decorate(total)
            super().showPage()
        super().save()

    def _decorate(self, total: int) -> None:
        width, height = PAGE
        self.saveState()
        self.setFont(_FONTS["bold"], 10)
        self.drawCentredString(width / 2, height - 9 * mm, MARKING)
        self.drawCentredString(width / 2, 6 * mm, MARKING)
        self.setFont(_FONTS["regular"], 8)
        self.drawString(MARGIN, 6 * mm, _t(self.footer_left))
        self.drawRightString(width - MARGIN, 6 * mm, f"Page {self._pageNumber} of {total}")
        self.setLineWidth(0.5)
        self.line(MARGIN, height - 11 * mm, width - MARGIN, height - 11 * mm)
        self.line(MARGIN, 10 * mm, width - MARGIN, 10 * mm)
        self.restoreState()


GREY_HEAD = colors.HexColor("#333333")
GREY_BAND = colors.HexColor("#eeeeee")
GREY_RULE = colors.HexColor("#999999")


def _table(rows: list[list[Any]], widths: list[float], *, header: bool = True,
           zebra: bool = True, extra: list[tuple] | None = None) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=1 if header else 0, hAlign="LEFT")
    style: list[tuple] = [
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
        ("LINEBELOW", (0, 0), (-1, -1), 0.25, GREY_RULE),
    ]
    if header:
        style += [("BACKGROUND", (0, 0), (-1, 0), GREY_HEAD)]
    if zebra:
        for i in range(1 if header else 0, len(rows)):
            if i % 2 == 0:
                style.append(("BACKGROUND", (0, i), (-1, i), GREY_BAND))
    table.setStyle(TableStyle(style + (extra or [])))
    return table


class _Builder:
    """Lays out the pack's pages from a PackData and rendered chart images."""

    def __init__(self, data: PackData, images: dict[str, bytes], chart_note: str | None,
                 sections: Sequence[str] = SECTIONS) -> None:
        self.data = data
        self.sections = tuple(sections)
        self.images = images
        self.chart_note = chart_note
        self.s = _Styles()
        self.width = PAGE[0] - 2 * MARGIN
        self.height = PAGE[1] - TOP_MARGIN - BOTTOM_MARGIN

    # -- helpers ------------------------------------------------------------------------------
    def p(self, text: str, style: ParagraphStyle | None = None) -> Paragraph:
        return Paragraph(text, style or self.s.body)

    def head(self, *labels: str) -> list[Paragraph]:
        return [self.p(_esc(label), self.s.head) for label in labels]

    def image(self, key: str, width: float, height: float) -> Image | None:
        png = self.images.get(key)
        if png is None:
            return None
        return Image(io.BytesIO(png), width=width, height=height)

    def suppressed_note(self) -> list[Any]:
        if self.data.audience != "panel":
            return []
        try:
            from metrics.disclosure import FOOTNOTE as note
        except ImportError:
            note = SUPPRESSED_NOTE
        return [Spacer(1, 4), self.p(_esc(note), self.s.small)]

    def charts_missing_note(self) -> list[Any]:
        if not self.chart_note:
            return []
        return [self.p(f"<b>{_esc(self.chart_note)}</b> The tables give the same numbers.",
                       self.s.small), Spacer(1, 4)]

    # -- pages ---------------------------------------------------------------------------------
    def cover(self) -> list[Any]:
        d = self.data
        audience = ("Internal (officers and analysts)" if d.audience == "internal" else
                    "Scrutiny panel: disclosure-controlled (counts of 1 to 7 suppressed, "
                    "others rounded to the nearest 5)")
        rows = [
            ("Force", d.force),
            ("Window", d.window_label),
            ("Compared with", d.comparison_label),
            ("Data as at", d.as_at.strftime("%d %B %Y") if d.as_at else "unknown"),
            ("Audience", audience),
            ("Produced", datetime.now(UTC).strftime("%d %B %Y %H:%M UTC")),
        ]
        table = Table([[self.p(f"<b>{_esc(k)}</b>", self.s.cover_row),
                        self.p(_esc(v), self.s.cover_row)] for k, v in rows],
                      colWidths=[45 * mm, self.width - 45 * mm])
        table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                                   ("LINEBELOW", (0, 0), (-1, -1), 0.25, GREY_RULE),
                                   ("TOPPADDING", (0, 0), (-1, -1), 5),
                                   ("BOTTOMPADDING", (0, 0), (-1, -1), 5)]))
        contents = []
        if "flight_deck" in self.sections:
            contents.append("Flight deck: the six pillars, quantitative and qualitative side "
                            "by side")
        if "pillars" in self.sections:
            contents += [f"Pillar {i}: {name}" for i, name in PILLARS.items()]
        if "victim_voice" in self.sections:
            contents.append("Victim voice")
        if "compare_forces" in self.sections:
            contents.append("Compare forces")
        contents.append("Appendix: definitions and methods")
        flow: list[Any] = [
            Spacer(1, 18 * mm),
            self.p("Operation Soteria: RASSO flight deck", self.s.title),
            self.p(_esc(f"Board pack for {d.force}"), self.s.h1),
            Spacer(1, 6 * mm), table, Spacer(1, 6 * mm),
            self.p("<b>Contents</b>", self.s.h2),
        ]
        flow += [self.p(_esc(f"{i}. {c}")) for i, c in enumerate(contents, 1)]
        flow.append(Spacer(1, 5 * mm))
        if self.chart_note:
            flow.append(self.p(f"<b>{_esc(self.chart_note)}</b> The tables carry every number.",
                               self.s.body))
        flow.append(self.p(
            _esc("Values carry 95% intervals. A value below its KPI's minimum n is not shown: "
                 "the pack says how many items there are and how many are needed. SPC verdicts "
                 "are words, not colours: Improvement, Concern, Common cause."), self.s.small))
        flow.append(PageBreak())
        return flow

    def _rows(self, kpi: KPI) -> tuple[Any, Any]:
        d = self.data
        return d.row(kpi.id), d.row(kpi.id, previous=True)

    def _kpi_cells(self, kpi: KPI, row: Any, prev: Any, *, with_kind: bool = False) -> list[Any]:
        """One KPI's row of a pillar or victim-voice table: name, [kind,] value, interval, n,
        change and SPC verdict (interval and n left blank unless the value is shown)."""
        ok = row is not None and _get(row, "status") == "ok"
        interval = format_interval(row["ci_low"], row["ci_high"], kpi.unit) if ok else ""
        cells = [self.p(_esc(kpi.name), self.s.cell)]
        if with_kind:
            cells.append(self.p(_esc(kpi.kind), self.s.cell))
        return cells + [
            self.p(_esc(kpi_value_text(kpi, row) if row is not None else "No data"),
                   self.s.cell_b),
            self.p(_esc(interval.replace("95% CI ", "")), self.s.cell),
            self.p(_esc(format_n(row["n"]) if ok else ""), self.s.cell),
            self.p(_esc(change_text(kpi, row, prev)), self.s.cell),
            self.p(_esc(self.data.last_verdict(kpi.id)), self.s.cell),
        ]

    def kpi_cells(self, kpi: KPI) -> tuple[list[Any], bool]:
        """Five flight-deck cells (name, value, interval, change, verdict) and whether the
        value cell should span the interval cell (a gate or suppression message)."""
        row, prev = self._rows(kpi)
        value = kpi_value_text(kpi, row) if row is not None else "No data"
        ok = row is not None and _get(row, "status") == "ok"
        interval = format_interval(row["ci_low"], row["ci_high"], kpi.unit) if ok else ""
        cells = [self.p(_esc(kpi.name), self.s.deck),
                 self.p(_esc(value), self.s.deck_b),
                 self.p(_esc(interval.replace("95% CI ", "")), self.s.deck),
                 self.p(_esc(change_text(kpi, row, prev)), self.s.deck),
                 self.p(_esc(self.data.last_verdict(kpi.id)), self.s.deck)]
        return cells, not ok

    def flight_deck(self) -> list[Any]:
        d = self.data
        flow: list[Any] = [self.p(_esc(f"Flight deck: {d.force}, {d.window_label}"), self.s.h1),
                           self.p(_esc(f"Values with 95% intervals. Change is against "
                                       f"{d.comparison_label}. The SPC verdict is the latest "
                                       "month's point on its chart (pillar pages)."),
                                  self.s.small), Spacer(1, 4)]
        kpi_w = [38 * mm, 18 * mm, 26 * mm, 24 * mm, 27 * mm]
        gap = self.width - 2 * sum(kpi_w)
        widths = kpi_w + [gap] + kpi_w
        rows: list[list[Any]] = [
            self.head("Quantitative", "Value", "95% interval", "Change", "SPC verdict", "",
                      "Qualitative", "Value", "95% interval", "Change", "SPC verdict")]
        extra: list[tuple] = []
        blank = ["", "", "", "", ""]
        for number, name in PILLARS.items():
            quant = [k for k in d.kpis if k.pillar == number and k.kind == "quantitative"]
            qual = [k for k in d.kpis if k.pillar == number and k.kind == "qualitative"]
            band = len(rows)
            rows.append([self.p(f"<b>Pillar {number}: {_esc(name)}</b>", self.s.deck_b)]
                        + [""] * 10)
            extra += [("SPAN", (0, band), (-1, band)),
                      ("BACKGROUND", (0, band), (-1, band), GREY_BAND),
                      ("LINEABOVE", (0, band), (-1, band), 1, colors.black)]
            for i in range(max(len(quant), len(qual), 1)):
                r = len(rows)
                left, span_l = self.kpi_cells(quant[i]) if i < len(quant) else (blank, False)
                right, span_r = self.kpi_cells(qual[i]) if i < len(qual) else (blank, False)
                if span_l:
                    extra.append(("SPAN", (1, r), (2, r)))
                if span_r:
                    extra.append(("SPAN", (7, r), (8, r)))
                rows.append([*left, "", *right])
        extra.append(("LINEBEFORE", (6, 0), (6, -1), 0.8, colors.black))
        extra += [("TOPPADDING", (0, 0), (-1, -1), 1.6),
                  ("BOTTOMPADDING", (0, 0), (-1, -1), 1.6)]
        flow.append(_table(rows, widths, zebra=False, extra=extra))
        flow += self.suppressed_note()
        # One page, whatever the number of survey items: shrink to fit when needed.
        return [KeepInFrame(self.width, self.height - 2, flow, mode="shrink"), PageBreak()]

    def _sentences(self, kpi: KPI) -> list[str]:
        """What a KPI's chart shows: a sentence per special cause (or why there is none)."""
        d = self.data
        frame = d.spc.get(kpi.id)
        months = 0 if frame is None else int(frame["value"].notna().sum())
        sentences = special_cause_sentences(kpi, frame if frame is not None else
                                            pd.DataFrame(), d.adoption, limit=SENTENCES_PER_KPI)
        if kpi.id in d.spc_notes:
            return [d.spc_notes[kpi.id]]
        if not sentences:
            sentences = [f"{kpi.name}: no special cause; common cause variation only."
                         if months >= 2 else f"{kpi.name}: too few months with a value to "
                                             "chart."]
        if months >= 2 and frame is not None and frame.attrs.get("provisional"):
            sentences.append("Limits are provisional: fewer than 12 months set them.")
        return sentences

    def pillar_pages(self) -> list[Any]:
        """Per pillar: a table of its KPIs, then one card per KPI (its SPC chart with the
        sentences under it), three to a row. Without charts the sentences join the table."""
        d = self.data
        flow: list[Any] = []
        gap = 3 * mm
        chart_w = (self.width - 2 * gap) / 3
        chart_h = chart_w * SPC_PX[1] / SPC_PX[0]
        for number, name in PILLARS.items():
            kpis = [k for k in d.kpis if k.pillar == number and k.source != "survey_responses"]
            cards = {k.id: self.image(f"spc:{k.id}", chart_w, chart_h) for k in kpis}
            with_charts = any(c is not None for c in cards.values())
            flow.append(self.p(_esc(f"Pillar {number}: {name}"), self.s.h1))
            head = ["KPI", "Kind", "Value", "95% interval", "n", "Change", "SPC verdict"]
            rows = [self.head(*head, *([] if with_charts else ["What the chart shows"]))]
            for kpi in kpis:
                row, prev = self._rows(kpi)
                cells = self._kpi_cells(kpi, row, prev, with_kind=True)
                if not with_charts:
                    cells.append([self.p(_esc(s), self.s.cell) for s in self._sentences(kpi)])
                rows.append(cells)
            widths = [52 * mm, 22 * mm, 24 * mm, 34 * mm, 22 * mm, 32 * mm, 30 * mm]
            if with_charts:
                widths[0] += self.width - sum(widths)
            else:
                widths = [40 * mm, 20 * mm, 22 * mm, 30 * mm, 18 * mm, 26 * mm, 26 * mm]
                widths.append(self.width - sum(widths))
            flow.append(_table(rows, widths))
            flow.append(Spacer(1, 2 * mm))
            flow += self.charts_missing_note()
            if with_charts:
                flow.append(self.p(_esc(
                    "Key: ● common cause, ▲ improvement, ◆ concern, ■ unusually high or low; "
                    "solid line the mean, dashed lines the process limits; dotted vertical "
                    "line: Soteria adopted, limits rebased."), self.s.small))
                items = []
                for kpi in kpis:
                    img = cards[kpi.id]
                    text = [self.p(_esc(s), self.s.card) for s in self._sentences(kpi)]
                    items.append([img, *text] if img is not None else
                                 [self.p(f"<b>{_esc(kpi.name)}</b>", self.s.cell), *text])
                for i in range(0, len(items), 3):
                    line = items[i:i + 3]
                    line += [""] * (3 - len(line))
                    t = Table([line], colWidths=[chart_w + gap] * 2 + [chart_w])
                    t.setStyle(TableStyle([("LEFTPADDING", (0, 0), (-1, -1), 0),
                                           ("RIGHTPADDING", (0, 0), (-1, -1), gap),
                                           ("TOPPADDING", (0, 0), (-1, -1), 3),
                                           ("VALIGN", (0, 0), (-1, -1), "TOP")]))
                    flow.append(t)
            flow += self.suppressed_note()
            flow.append(PageBreak())
        return flow

    def victim_voice(self) -> list[Any]:
        d = self.data
        flow: list[Any] = [self.p("Victim voice", self.s.h1), self.p(_esc(
            f"What victims told the force in survey responses dated {d.window_label}, and the "
            "qualitative measures of how victims are kept informed. A survey item is shown "
            f"once {registry.SURVEY_MIN_N} victims have answered it: below that the pack says "
            "how many answered and how many are needed. Percentages are "
            "the share agreeing (4 or 5 out of 5) or answering yes."), self.s.body),
            Spacer(1, 3 * mm)]
        kpis = [k for k in d.kpis if k.pillar == 3 and k.kind == "qualitative"]
        rows = [self.head("Measure", "Value", "95% interval", "n", "Change", "SPC verdict")]
        for kpi in kpis:
            row, prev = d.row(kpi.id), d.row(kpi.id, previous=True)
            rows.append(self._kpi_cells(kpi, row, prev))
        table = _table(rows, [66 * mm, 40 * mm, 40 * mm, 24 * mm, 36 * mm, 32 * mm])
        ba = self.before_after_table()
        flow.append(table)
        flow += self.charts_missing_note()
        if ba:
            flow.append(KeepTogether(ba))
        img = self.image("survey", 80 * mm, 80 * mm * SPC_PX[1] / SPC_PX[0])
        if img is not None:
            img.hAlign = "LEFT"
            flow += [Spacer(1, 3 * mm), KeepTogether([
                self.p("Survey items in the window, with 95% intervals", self.s.h2), img])]
        flow += self.suppressed_note()
        flow.append(PageBreak())
        return flow

    def before_after_table(self) -> list[Any]:
        """Survey items before adoption against after (up to 24 months each side)."""
        d = self.data
        frame = d.before_after
        if frame is None or frame.empty or d.adoption is None:
            return []
        adopted = d.adoption.strftime("%b %Y")
        b0, a1 = d.before_after_window or (d.adoption, d.adoption)
        flow: list[Any] = [Spacer(1, 4 * mm), self.p(_esc(
            f"Before and after adoption ({adopted}): {describe_window(b0, d.adoption - 1)} "
            f"against {describe_window(d.adoption, a1)}"), self.s.h2),
            self.p(_esc(
                "Difference after minus before with a 95% Newcombe interval; p-values adjusted "
                "for testing every item at once (Benjamini-Hochberg, 5% false discovery rate)."),
                self.s.small), Spacer(1, 1.5 * mm)]
        rows = [self.head("Survey item", "Before", "After", "Difference (95% interval)",
                          "Adjusted p", "Verdict")]
        for _, r in frame.iterrows():
            kpi = d.kpi(r["kpi_id"])
            ok = r["status"] == "ok"
            before = kpi_value_text(kpi, {"status": r["status_before"], "value": r["value_before"],
                                          "n": r["n_before"]})
            after = kpi_value_text(kpi, {"status": r["status_after"], "value": r["value_after"],
                                         "n": r["n_after"]})
            diff = (f"{r['diff'] * 100:+.1f} pts ({r['low'] * 100:+.1f} to "
                    f"{r['high'] * 100:+.1f})") if ok else ""
            verdict_words = (("likely real" if r["real"] else "could be chance") if ok
                             else "too few answers")
            rows.append([self.p(_esc(kpi.name.removeprefix("Survey: ").capitalize()),
                                self.s.cell),
                         self.p(_esc(before), self.s.cell),
                         self.p(_esc(after), self.s.cell),
                         self.p(_esc(diff.replace("-", "−")), self.s.cell),
                         self.p("" if is_missing(r["q"]) else f"{r['q']:.3f}", self.s.cell),
                         self.p(_esc(verdict_words), self.s.cell)])
        flow.append(_table(rows, [66 * mm, 34 * mm, 34 * mm, 56 * mm, 24 * mm, 36 * mm]))
        return flow

    def compare_forces(self, funnels: list[Funnel]) -> list[Any]:
        d = self.data
        flow: list[Any] = [self.p("Compare forces", self.s.h1), self.p(_esc(
            f"Funnel plots for {d.window_label}: each force's rate against its denominator, with "
            "95% and 99.8% limits around the rate for all forces together. A force is flagged "
            "only outside the 99.8% limits; between 95% and 99.8% it is worth a look. Forces are "
            "not ranked: a league table would mostly rank noise."), self.s.body),
            Spacer(1, 3 * mm)]
        if not funnels:
            flow.append(self.p("No funnel plot: fewer than three forces have a value for the "
                               "compared KPIs in this window.", self.s.body))
        flow += self.charts_missing_note()
        labels = {"outside": "Outside 99.8%: flagged",
                  "worth_a_look": "95% to 99.8%: worth a look"}
        side_w = 128 * mm
        for funnel in funnels:
            kpi = d.kpi(funnel.kpi_id)
            points = funnel.points
            img_w = self.width - side_w - 4 * mm
            img_h = img_w * FUNNEL_PX[1] / FUNNEL_PX[0]
            img = self.image(f"funnel:{funnel.kpi_id}", img_w, img_h)
            # With the chart, list the forces outside 95%; without it, every force
            # (alphabetically: positions, not ranks).
            shown = points if img is None else points[points["flag"].isin(list(labels))]
            rows = [self.head("Force", "Rate", "Denominator", "Position")]
            for _, r in shown.sort_values("force").iterrows():
                where = "above" if r["value"] > funnel.target else "below"
                position = (f"{labels[r['flag']]}, {where}" if r["flag"] in labels
                            else "Within 95%")
                style = self.s.cell_b if r["flag"] == "outside" else self.s.cell
                rows.append([self.p(_esc(r["force"]), style),
                             self.p(_esc(format_value(r["value"], "proportion")), style),
                             self.p(_esc(f"n = {r['n']:,.0f}"), style),
                             self.p(_esc(position), style)])
            side: list[Any] = [self.p(_esc(
                f"{kpi.name}: all forces {format_value(funnel.target, 'proportion')}"),
                self.s.h2)]
            this = points[points["force"] == d.force]
            if not this.empty:
                where = {"outside": "outside the 99.8% limits (flagged)",
                         "worth_a_look": "between the 95% and 99.8% limits (worth a look)",
                         "within": "within the 95% limits"}[str(this.iloc[0]["flag"])]
                side.append(self.p(_esc(f"{d.force} is {where}."), self.s.body))
            if funnel.overdispersed:
                side.append(self.p(_esc(
                    "The forces vary more than chance alone allows (overdispersion), so the "
                    "limits are widened (Spiegelhalter's additive random effects)."),
                    self.s.small))
            side.append(Spacer(1, 2 * mm))
            if len(rows) > 1:
                side.append(_table(rows, [48 * mm, 16 * mm, 24 * mm, side_w - 88 * mm]))
            else:
                side.append(self.p("Every force lies within the 95% limits.", self.s.body))
            if img is None:
                flow += side + [Spacer(1, 4 * mm)]
                continue
            block = Table([[img, side]], colWidths=[img_w + 4 * mm, side_w])
            block.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                                       ("LEFTPADDING", (0, 0), (-1, -1), 0)]))
            flow += [CondPageBreak(img_h + 10), block, Spacer(1, 3 * mm)]
        flow += self.suppressed_note()
        flow.append(PageBreak())
        return flow

    def appendix(self) -> list[Any]:
        d = self.data
        flow: list[Any] = [self.p("Appendix: definitions and methods", self.s.h1), self.p(_esc(
            "Generated from the KPI registry, the single declaration every tile, chart, table "
            "and export reads."), self.s.small), Spacer(1, 2 * mm)]
        rows = [self.head("KPI (id)", "Pillar", "Kind", "Unit, better", "Min n", "Definition",
                          "Numerator", "Denominator")]
        for kpi in d.kpis:
            rows.append([
                self.p(f"<b>{_esc(kpi.name)}</b><br/>{_esc(kpi.id)}", self.s.cell_small),
                self.p(str(kpi.pillar), self.s.cell_small),
                self.p(_esc(kpi.kind), self.s.cell_small),
                self.p(_esc(f"{kpi.unit}, {kpi.better}"), self.s.cell_small),
                self.p(str(kpi.min_n), self.s.cell_small),
                self.p(_esc(kpi.definition), self.s.cell_small),
                self.p(_esc(kpi.numerator), self.s.cell_small),
                self.p(_esc(kpi.denominator or "-"), self.s.cell_small),
            ])
        rest = self.width - (42 + 12 + 20 + 24 + 11) * mm
        flow.append(_table(rows, [42 * mm, 12 * mm, 20 * mm, 24 * mm, 11 * mm, rest * 0.42,
                                  rest * 0.29, rest * 0.29]))
        flow += [Spacer(1, 4 * mm), self.p("How to read the pack", self.s.h2)]
        notes = [
            "Intervals: proportions carry a 95% Wilson score interval; medians a "
            "distribution-free 95% interval from order statistics.",
            "Gates: a value based on fewer items than its KPI's minimum n is not shown; the "
            "pack prints n and the number needed instead.",
            "SPC (NHS Making Data Count XmR charts): the mean and process limits (2.66 times "
            "the mean moving range) come from the series, rebased at the force's Soteria "
            "adoption month. Special cause: a point outside the limits, 7 months on one side "
            "of the mean, 7 months rising or falling, or 2 of 3 months close to a limit. "
            "Improvement or concern follows the KPI's better direction; otherwise unusually "
            "high or low. Fewer than 12 months make the limits provisional.",
            "Funnel plots: exact binomial limits (Spiegelhalter 2005) around the all-forces "
            "rate; flagged only outside 99.8%.",
        ]
        if d.audience == "panel":
            notes.append("Disclosure control (scrutiny panel): a count of 0 stays 0, a count of "
                         "1 to 7 is suppressed, other counts are rounded to the nearest 5, rates "
                         "are computed from rounded counts, and statistics based on 1 to 7 "
                         "items are suppressed.")
        flow += [self.p(_esc(n), self.s.small) for n in notes]
        return flow


def _doc(buffer: io.BytesIO, data: PackData) -> BaseDocTemplate:
    doc = BaseDocTemplate(
        buffer, pagesize=PAGE, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=TOP_MARGIN,
        bottomMargin=BOTTOM_MARGIN, title=f"Board pack: {data.force}, {data.window_label}",
        author="Soteria flight deck", subject=MARKING,
        keywords=[MARKING, data.audience],
    )
    frame = Frame(doc.leftMargin, doc.bottomMargin, doc.width, doc.height, id="body",
                  leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0)
    doc.addPageTemplates([PageTemplate(id="page", frames=[frame])])
    return doc


def build_boardpack(
    dataset: Dataset,
    force: str,
    start: str | pd.Period,
    end: str | pd.Period,
    *,
    audience: str = "internal",
    comparison: str = "previous",
    progress: ProgressFn | None = None,
    charts: bool = True,
    disclose: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
    pages: Sequence[str] | None = None,
) -> bytes:
    """The board pack PDF for ``force`` (or ``"All forces"``) over ``start``..``end``.

    ``audience``: ``internal`` or ``panel`` (every KPI table through ``apply_panel`` first).
    ``comparison``: ``previous`` (the same number of months just before) or ``year_ago``.
    ``progress(fraction, message)`` is called as the work advances (for a progress bar).
    ``charts=False`` skips chart rendering (tables only; the pack says so).
    ``disclose``: for the panel audience, the function every KPI table goes through instead of
    ``metrics.disclosure.apply_panel`` (the app passes ``Access.disclose``, so the pack shows
    exactly the rows and rules of the screen).
    ``pages``: the app page ids the reader may see (a share link's pages); the pack then holds
    only the matching sections (``flight_deck`` -> flight deck; ``flight_deck`` or ``trends`` ->
    pillar pages; ``victim_voice``; ``compare_forces``). The cover and the appendix of
    definitions are always included. None: every section. A panel pack never has the
    compare-forces section (other forces' figures are not shared with a panel, as for links).
    Raises ``BoardpackError`` for bad arguments and ``UnusableDataError`` for an export that
    failed validation.
    """
    def tick(fraction: float, message: str) -> None:
        if progress is not None:
            progress(min(max(fraction, 0.0), 1.0), message)

    check_arguments(dataset, force, start, end, audience, comparison)
    sections = sections_for(pages)
    if audience == "panel":
        # As for share links (metrics.sharelink.PANEL_PAGES): a panel never sees other
        # forces' figures, so no compare-forces section.
        sections = tuple(s for s in sections if s in sections_for(_panel_pages()))
    session: ChartSession | None = None
    session_note: str | None = None
    if charts and set(sections) & {"pillars", "victim_voice", "compare_forces"}:
        session, session_note = start_chart_session()  # Chrome starts while KPIs compute
    try:
        return _build(dataset, force, start, end, audience, comparison, sections, disclose,
                      charts, session, session_note, tick)
    finally:
        if session is not None:
            session.close()


def _build(dataset: Dataset, force: str, start: str | pd.Period, end: str | pd.Period,
           audience: str, comparison: str, sections: tuple[str, ...],
           disclose: Callable[[pd.DataFrame], pd.DataFrame] | None, charts: bool,
           session: ChartSession | None, session_note: str | None,
           tick: Callable[[float, str], None]) -> bytes:
    tick(0.02, "Computing KPIs")
    data = collect_pack_data(dataset, force, start, end, audience=audience,
                             comparison=comparison, disclose=disclose,
                             progress=lambda share, message: tick(0.02 + 0.22 * share, message))
    tick(0.25, "Preparing charts")
    images: dict[str, bytes] = {}
    note: str | None = None
    funnels = _funnels(data) if "compare_forces" in sections else []
    if charts:
        try:
            figures = build_figures(data, funnels, sections)
        except ImportError as exc:
            figures, session_note = {}, (
                f"Charts were left out: the chart builders could not be loaded ({exc.name}).")
            if session is not None:
                session.close()
                session = None
        if session is None:
            note = session_note
        elif figures:
            tick(0.3, f"Drawing {len(figures)} charts")
            total = len(figures)
            images, note = render_figures(
                figures, width=SPC_PX[0], height=SPC_PX[1], scale=1.5, session=session,
                progress=lambda share: tick(0.3 + 0.55 * share,
                                            f"Drawing charts ({round(share * total)} of {total})"))
    else:
        note = "Charts were left out of this pack on request."
    tick(0.85, "Laying out the pages")
    _register_fonts()
    builder = _Builder(data, images, note, sections)
    story: list[Any] = []
    story += builder.cover()
    if "flight_deck" in sections:
        story += builder.flight_deck()
    if "pillars" in sections:
        story += builder.pillar_pages()
    if "victim_voice" in sections:
        story += builder.victim_voice()
    if "compare_forces" in sections:
        story += builder.compare_forces(funnels)
    story += builder.appendix()
    buffer = io.BytesIO()
    doc = _doc(buffer, data)
    footer = (f"{data.force}: {data.window_label}"
              + (" (scrutiny panel)" if audience == "panel" else ""))
    canvas_cls = type("PackCanvas", (_NumberedCanvas,), {"footer_left": footer})
    doc.build(story, canvasmaker=canvas_cls)
    tick(1.0, "Board pack ready")
    return buffer.getvalue()


def boardpack_filename(force: str, start: str | pd.Period, end: str | pd.Period,
                       audience: str = "internal") -> str:
    """A file name such as ``boardpack_avon-and-somerset_2025-01_2025-12.pdf``."""
    slug = re.sub(r"[^a-z0-9]+", "-", force.lower()).strip("-") or "pack"
    suffix = "_panel" if audience == "panel" else ""
    return f"boardpack_{slug}_{_month(start, 'start')}_{_month(end, 'end')}{suffix}.pdf"


def benchmark(data_dir: str | os.PathLike[str] = "data/sample", *, months: int = 12,
              force: str = ALL_FORCES, charts: bool = True, out: str | None = None
              ) -> dict[str, Any]:
    """Time a pack for the last ``months`` whole months of an export (default: 12, All forces).

    Returns ``{"seconds", "load_seconds", "bytes", "pages", "force", "start", "end",
    "charts"}``; ``seconds`` covers ``build_boardpack`` only (not loading). For ``make bench``.
    """
    from metrics.load import load_dataset

    t0 = time.perf_counter()
    dataset = load_dataset(data_dir)
    load_seconds = time.perf_counter() - t0
    as_at = dataset.as_at
    if as_at is None:
        raise UnusableDataError("the export has no dates")
    last = pd.Timestamp(as_at).to_period("M")
    if pd.Timestamp(as_at).day != pd.Timestamp(as_at).days_in_month:
        last -= 1
    first = last - (months - 1)
    t1 = time.perf_counter()
    pdf = build_boardpack(dataset, force, first, last, charts=charts)
    seconds = time.perf_counter() - t1
    if out:
        Path(out).write_bytes(pdf)
    from pypdf import PdfReader

    pages = len(PdfReader(io.BytesIO(pdf)).pages)
    return {"seconds": round(seconds, 2), "load_seconds": round(load_seconds, 2),
            "bytes": len(pdf), "pages": pages, "force": force, "start": str(first),
            "end": str(last), "charts": charts}


__all__ = [
    "ALL_FORCES", "AUDIENCES", "COMPARISONS", "MARKING", "BoardpackError", "PackData",
    "UnusableDataError", "benchmark", "boardpack_filename", "browser_path", "build_boardpack",
    "build_figures", "change_text", "collect_pack_data", "comparison_window", "format_n",
    "kpi_detail_text", "kpi_value_text", "render_figures", "special_cause_sentences",
    "spc_frame", "verdict_text",
]


if __name__ == "__main__":  # python -m report.boardpack [DATA_DIR]: the benchmark, as JSON
    import json
    import sys

    print(json.dumps(benchmark(sys.argv[1] if len(sys.argv) > 1 else "data/sample")))
