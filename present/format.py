"""Plain-unit formatting of KPI values, intervals, changes, gates and SPC verdicts.

Pure functions, no Streamlit, so the app, the charts and the board pack word things alike.
Proportions arrive as fractions in [0, 1] and are shown as percentages; changes in a
proportion are shown in percentage points.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Okabe-Ito colour-blind-safe palette (Okabe & Ito 2008).
OKABE_ITO: dict[str, str] = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
    "grey": "#7F7F7F",
}


def is_missing(value: object) -> bool:
    """True for None, NaN, pd.NA or anything that is not a number."""
    if value is None:
        return True
    try:
        return math.isnan(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return True


def format_value(value: float | None, unit: str) -> str:
    """A KPI value in plain units: ``34.5%``, ``12 days``, ``1,234``, ``8.2 cases``; or ``–``."""
    if is_missing(value):
        return "–"
    v = float(value)  # type: ignore[arg-type]
    if unit == "proportion":
        return f"{v:.1%}"
    if unit == "days":
        return f"{v:,.0f} day" if round(v) == 1 else f"{v:,.0f} days"
    if unit == "cases":
        return f"{v:,.1f} cases"
    return f"{v:,.0f}"


#: Said after a value whose window is still maturing (``provisional``): it can still move.
SO_FAR = "so far"


def value_so_far(text: str, provisional: object) -> str:
    """``text`` (a formatted value) followed by :data:`SO_FAR` when ``provisional`` is true
    (the window can still move), else ``text`` unchanged: "0.4% so far"."""
    return f"{text} {SO_FAR}" if not is_missing(provisional) and bool(provisional) else text


def format_interval(low: float | None, high: float | None, unit: str) -> str:
    """A 95% interval as ``95% CI 30.1–38.9%``, or an empty string when there is none."""
    if is_missing(low) or is_missing(high):
        return ""
    lo, hi = float(low), float(high)  # type: ignore[arg-type]
    if unit == "proportion":
        return f"95% CI {lo * 100:.1f}–{hi * 100:.1f}%"
    if unit == "days":
        return f"95% CI {lo:,.0f}–{hi:,.0f} days"
    return f"95% CI {lo:,.1f}–{hi:,.1f}"


@dataclass(frozen=True)
class Change:
    """A change against the comparison window, worded and judged against the KPI's direction."""

    text: str  # e.g. "+2.1 pts", "−3 days", "no change", "no comparison"
    judgement: str  # "better" | "worse" | "same" | "neutral" | "none"

    @property
    def arrow(self) -> str:
        return {"better": "↑", "worse": "↓", "same": "→", "neutral": "↕"}.get(self.judgement, "")


def format_change(current: float | None, previous: float | None, unit: str, better: str) -> Change:
    """The change from ``previous`` to ``current`` in the KPI's units, judged by ``better``.

    ``better`` is the registry's direction: "higher", "lower" or "neutral".
    """
    if is_missing(current) or is_missing(previous):
        return Change("no comparison", "none")
    diff = float(current) - float(previous)  # type: ignore[arg-type]
    if unit == "proportion":
        rounded, text = round(diff * 100, 1), f"{abs(diff) * 100:.1f} pts"
    elif unit == "cases":
        rounded, text = round(diff, 1), f"{abs(diff):,.1f} cases"
    elif unit == "days":
        rounded = round(diff)
        text = f"{abs(diff):,.0f} day" if abs(rounded) == 1 else f"{abs(diff):,.0f} days"
    else:
        rounded, text = round(diff), f"{abs(diff):,.0f}"
    if rounded == 0:
        return Change("no change", "same")
    sign = "+" if diff > 0 else "−"
    if better == "neutral":
        judgement = "neutral"
    else:
        judgement = "better" if (diff > 0) == (better == "higher") else "worse"
    return Change(f"{sign}{text}", judgement)


def gate_count(n: object, min_n: int) -> int | None:
    """The count of a value held back below its minimum n, as it may be shown: the count (0
    when missing), or None when the count shown reaches the minimum it is below (a panel's
    count, rounded to the nearest 5: 28 replies shown as 30 of the 30 needed), which must
    then read "fewer than" the minimum, never as enough."""
    shown = 0 if is_missing(n) else int(float(n))  # type: ignore[arg-type]
    return shown if shown < min_n else None


#: What a suppressed figure (disclosure control) shows, on screen and in the pack.
SUPPRESSED_TEXT = "Suppressed*"


def kpi_value_text(status: object, value: object, unit: str, provisional: object, n: object,
                   min_n: int) -> str:
    """A KPI cell's main text, as the screen's tables and the board pack show it: ``ok``, the
    value in plain units (:func:`format_value`), with "so far" while its window is maturing;
    ``insufficient``, the gate (``n = 17 of 30 needed``, or :data:`SUPPRESSED_TEXT` when a
    panel's n is withheld); ``suppressed``, :data:`SUPPRESSED_TEXT`; otherwise ``No data``."""
    if status == "ok":
        return value_so_far(format_value(value, unit), provisional)  # type: ignore[arg-type]
    if status == "insufficient":
        if is_missing(n):
            return SUPPRESSED_TEXT
        return gate_text(n, min_n)  # type: ignore[arg-type]
    if status == "suppressed":
        return SUPPRESSED_TEXT
    return "No data"


def gate_text(n: float | None, min_n: int) -> str:
    """The gate message for a value held back below its minimum n: ``n = 17 of 30 needed``
    (``fewer than 30 of 30 needed`` when the count shown, rounded, reaches it)."""
    shown = gate_count(n, min_n)
    if shown is None:
        return f"fewer than {min_n} of {min_n} needed"
    return f"n = {shown} of {min_n} needed"


@dataclass(frozen=True)
class Verdict:
    """An SPC verdict: an icon, a text label (never colour alone) and a colour."""

    icon: str
    label: str
    colour: str
    point_type: str | None

    @property
    def text(self) -> str:
        return f"{self.icon} {self.label}"


POINT_TYPE_LABELS: dict[str, str] = {
    "common_cause": "Common cause",
    "special_cause_improvement": "Improvement",
    "special_cause_concern": "Concern",
    "special_cause_neutral_high": "Unusually high",
    "special_cause_neutral_low": "Unusually low",
}
POINT_TYPE_COLOURS: dict[str, str] = {
    "common_cause": OKABE_ITO["grey"],
    "special_cause_improvement": OKABE_ITO["blue"],
    "special_cause_concern": OKABE_ITO["orange"],
    "special_cause_neutral_high": OKABE_ITO["purple"],
    "special_cause_neutral_low": OKABE_ITO["purple"],
}


def verdict(point_type: str | None, above_centre: bool | None = None) -> Verdict:
    """The SPC verdict for a chart's last point type.

    ``above_centre`` picks the arrow for special causes (▲ above the mean, ▼ below).
    """
    if not point_type or point_type not in POINT_TYPE_LABELS:
        return Verdict("–", "No SPC verdict", OKABE_ITO["grey"], None)
    if point_type == "common_cause":
        icon = "●"
    elif point_type == "special_cause_neutral_high":
        icon = "▲"
    elif point_type == "special_cause_neutral_low":
        icon = "▼"
    else:
        icon = "▲" if above_centre or above_centre is None else "▼"
    return Verdict(icon, POINT_TYPE_LABELS[point_type], POINT_TYPE_COLOURS[point_type], point_type)


def _signed(value: float, decimals: int) -> str:
    """``+1.2`` / ``−2.1`` (a real minus sign) / ``0.0``, to ``decimals`` places."""
    text = f"{abs(value):,.{decimals}f}"
    if float(text.replace(",", "")) == 0:
        return text
    return ("+" if value > 0 else "−") + text


def format_difference(diff: float | None, low: float | None, high: float | None,
                      unit: str) -> str:
    """A change with its 95% interval: ``+1.2 pts, −2.1 to +4.5`` (proportions in percentage
    points), ``−3 days, −6 to +1``, ``+0.4 cases, −0.2 to +1.0``, ``+12, −3 to +27``.

    Without an interval only the change is given (``+1.2 pts``); ``no comparison`` when the
    change itself is missing.
    """
    if is_missing(diff):
        return "no comparison"
    scale, decimals, suffix = {
        "proportion": (100.0, 1, " pts"), "days": (1.0, 0, " days"),
        "cases": (1.0, 1, " cases"),
    }.get(unit, (1.0, 0, ""))
    text = _signed(float(diff) * scale, decimals) + suffix  # type: ignore[arg-type]
    if is_missing(low) or is_missing(high):
        return text
    lo = _signed(float(low) * scale, decimals)  # type: ignore[arg-type]
    hi = _signed(float(high) * scale, decimals)  # type: ignore[arg-type]
    return f"{text}, {lo} to {hi}"


def format_date(value: object) -> str:
    """A date as ``12 Mar 2027`` (day without a leading zero); ``–`` when missing or not a date."""
    import pandas as pd

    if value is None:
        return "–"
    try:
        stamp = pd.Timestamp(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "–"
    if pd.isna(stamp):
        return "–"
    return f"{stamp.day} {stamp.strftime('%b %Y')}"
