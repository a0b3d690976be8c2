"""The pack's charts, drawn as vector graphics for paper (ReportLab drawings, no browser).

Each builder returns a ``reportlab.graphics.shapes.Drawing`` sized in points, which the PDF
embeds as vector paths and real text (so the axis titles and labels can be read back from the
PDF, and print sharp at any size). Every chart has a title, axis titles with units, dates on
the time axis ("Jan 2025"), tick labels sized to fit (no label cut off), and colours from the
Okabe-Ito palette that also differ by marker shape (``present.format`` colours, as on screen).

- :func:`spc_drawing`: an XmR chart (values, mean, process limits rebased at adoption, the
  point types as shapes, the adoption month as a dotted line).
- :func:`survey_drawing`: survey items as bars with their 95% intervals, the gate in words for
  items with too few answers.
- :func:`funnel_drawing`: a funnel plot on a log axis with tidy 1-2-5 ticks; only the chosen
  force (ringed, bold) and the forces outside the 99.8% limits are labelled, each label placed
  where it overlaps no other label, marker or the axes (a label that finds no free place is
  left to the table beside the chart). ``drawing.label_boxes`` lists where labels went.

Each drawing carries ``axis_titles`` (x, y) and ``kind`` for tests. Pure: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd
from reportlab.graphics.shapes import Circle, Drawing, Group, Line, Polygon, PolyLine, Rect, String
from reportlab.lib import colors
from reportlab.lib.attrmap import AttrMap, AttrMapValue

from present.format import OKABE_ITO, POINT_TYPE_COLOURS
from report.fonts import FONTS, t, width


class ChartDrawing(Drawing):
    """A Drawing that also says what it shows: ``kind`` (spc|survey|funnel), ``axis_titles``
    (x, y), and for funnels ``label_boxes`` and ``unlabelled`` (read by the tests)."""

    _attrMap = AttrMap(BASE=Drawing, kind=AttrMapValue(None), axis_titles=AttrMapValue(None),
                       label_boxes=AttrMapValue(None), unlabelled=AttrMapValue(None))


AXIS = colors.HexColor("#444444")
GRID = colors.HexColor("#e3e3e3")
INK = colors.HexColor("#222222")
MUTED = colors.HexColor("#666666")
LINE = colors.HexColor(OKABE_ITO["blue"])
FLAG_STYLE: dict[str, tuple[str, str, str]] = {
    # flag -> (colour, shape, words)
    "within": (OKABE_ITO["sky_blue"], "circle", "within 95%"),
    "worth_a_look": (OKABE_ITO["orange"], "square", "95% to 99.8%: worth a look"),
    "outside": (OKABE_ITO["vermillion"], "diamond", "outside 99.8%: flagged"),
}
POINT_SHAPES: dict[str, str] = {
    "common_cause": "circle",
    "special_cause_improvement": "triangle",
    "special_cause_concern": "diamond",
    "special_cause_neutral_high": "square",
    "special_cause_neutral_low": "square",
}
UNIT_AXIS: dict[str, str] = {"proportion": "Per cent", "days": "Days", "count": "Number",
                             "cases": "Cases"}


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------

def _finite(values: Any) -> list[float]:
    out = []
    for v in values:
        try:
            f = float(v)
        except (TypeError, ValueError):
            continue
        if math.isfinite(f):
            out.append(f)
    return out


def nice_ticks(lo: float, hi: float, max_ticks: int = 6) -> list[float]:
    """Round tick values covering ``lo``..``hi`` (steps of 1, 2, 2.5 or 5 times a power of 10),
    at most about ``max_ticks`` of them; the first <= lo and the last >= hi."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [0.0, 1.0]
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    raw = (hi - lo) / max(1, max_ticks - 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw * 0.999)
    start = math.floor(lo / step + 1e-9) * step
    ticks = [start]
    while ticks[-1] < hi - 1e-9 * step:
        ticks.append(ticks[-1] + step)
    return [round(v, 12) for v in ticks]


def tick_text(value: float, unit: str, step: float) -> str:
    """A y tick label in the unit: ``25%`` for proportions, ``1,200`` for counts."""
    if unit == "proportion":
        digits = 0 if step * 100 >= 1 - 1e-9 else 1
        return f"{value * 100:.{digits}f}%"
    if step >= 1 or float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.1f}"


def _string(x: float, y: float, text: str, size: float, *, bold: bool = False,
            anchor: str = "start", colour: Any = INK) -> String:
    return String(x, y, t(text), fontName=FONTS["bold" if bold else "regular"], fontSize=size,
                  fillColor=colour, textAnchor=anchor)


def _rotated(x: float, y: float, text: str, size: float) -> Group:
    """Text rotated 90° (reading upwards), centred on (x, y)."""
    g = Group(_string(0, 0, text, size, anchor="middle", colour=MUTED))
    g.transform = (0, 1, -1, 0, x, y)
    return g


def marker(shape: str, x: float, y: float, r: float, fill: Any, stroke: Any = None,
           stroke_width: float = 0.4) -> Any:
    """A marker of ``shape`` (circle, square, diamond, triangle) of radius ``r`` at (x, y)."""
    stroke = stroke if stroke is not None else fill
    if shape == "circle":
        return Circle(x, y, r, fillColor=fill, strokeColor=stroke, strokeWidth=stroke_width)
    if shape == "square":
        return Rect(x - r * 0.85, y - r * 0.85, r * 1.7, r * 1.7, fillColor=fill,
                    strokeColor=stroke, strokeWidth=stroke_width)
    if shape == "diamond":
        pts = [x, y + r * 1.2, x + r * 1.2, y, x, y - r * 1.2, x - r * 1.2, y]
    else:  # triangle
        pts = [x, y + r * 1.25, x + r * 1.1, y - r * 0.8, x - r * 1.1, y - r * 0.8]
    return Polygon(pts, fillColor=fill, strokeColor=stroke, strokeWidth=stroke_width)


def _title(d: Drawing, title: str, size: float, width_pt: float, height_pt: float) -> float:
    """Draw a chart title at the top left, wrapped onto a second line (and then made
    smaller) when it is wider than the chart; returns the height it takes in points."""
    lines = _wrap(title, width_pt, size, bold=True)
    while (len(lines) > 2 or max(width(ln, size, True) for ln in lines) > width_pt) \
            and size > 5:
        size -= 0.5
        lines = _wrap(title, width_pt, size, bold=True)
    for i, line in enumerate(lines[:2]):
        d.add(_string(0, height_pt - size * (1 + 1.15 * i), line, size, bold=True))
    return size * (1 + 1.15 * (min(len(lines), 2) - 1))


def _wrap(text: str, limit: float, size: float, bold: bool = False) -> list[str]:
    """Words of ``text`` in lines no wider than ``limit`` points (a long word stays whole)."""
    lines: list[str] = []
    for word in text.split():
        if lines and width(lines[-1] + " " + word, size, bold) <= limit:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines or [""]


def _months(values: Sequence[Any]) -> list[pd.Period]:
    out = []
    for m in values:
        out.append(m.asfreq("M") if isinstance(m, pd.Period)
                   else pd.Timestamp(str(m)).to_period("M"))
    return out


def month_label(month: pd.Period) -> str:
    """``Jan 2025``."""
    return month.strftime("%b %Y")


def _month_ticks(months: list[pd.Period], room: float, size: float) -> list[int]:
    """Indexes of the months to label: every 1, 2, 3, 6, 12 or 24 months (aligned to
    January, April, July, October when the step allows), as many as fit in ``room`` points."""
    if not months:
        return []
    label_w = width("Sep 2025", size) + size * 1.2
    fit = max(1, int(room // label_w))
    for step in (1, 2, 3, 6, 12, 24, 48):
        idx = [i for i, m in enumerate(months)
               if (step <= 2 and (i % step == 0)) or (step > 2 and (m.month - 1) % step == 0)]
        if step >= 12:
            idx = [i for i, m in enumerate(months) if m.month == 1][:: step // 12]
        if not idx:
            idx = [0]
        if len(idx) <= fit:
            return idx
    return [0]


class _Frame:
    """The plot area inside a drawing and the mapping from data to points."""

    def __init__(self, x0: float, y0: float, x1: float, y1: float, lo: float, hi: float,
                 n: int) -> None:
        self.x0, self.y0, self.x1, self.y1 = x0, y0, x1, y1
        self.lo, self.hi, self.n = lo, hi, n

    def x(self, i: float) -> float:
        if self.n <= 1:
            return (self.x0 + self.x1) / 2
        return self.x0 + (self.x1 - self.x0) * i / (self.n - 1)

    def y(self, v: float) -> float:
        return self.y0 + (self.y1 - self.y0) * (v - self.lo) / (self.hi - self.lo)


def _segments(xs: list[float], ys: list[float | None]) -> list[list[float]]:
    """Polyline point lists, broken at missing values."""
    out: list[list[float]] = []
    run: list[float] = []
    for x, y in zip(xs, ys, strict=True):
        if y is None or not math.isfinite(y):
            if len(run) >= 4:
                out.append(run)
            run = []
            continue
        run += [x, y]
    if len(run) >= 4:
        out.append(run)
    return out


def _step_line(f: _Frame, values: list[float | None], n: int) -> list[list[float]]:
    """Point lists of a step line through one level per month (each month's level from
    half a month before to half a month after it; clipped to the plot), broken at gaps."""
    out: list[list[float]] = []
    run: list[float] = []
    for i, v in enumerate(values):
        if v is None or not math.isfinite(v) or not (f.lo <= v <= f.hi):
            if len(run) >= 4:
                out.append(run)
            run = []
            continue
        xa = f.x(max(0.0, i - 0.5)) if n > 1 else f.x0
        xb = f.x(min(n - 1.0, i + 0.5)) if n > 1 else f.x1
        run += [xa, f.y(v), xb, f.y(v)]
    if len(run) >= 4:
        out.append(run)
    return out


def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


# --------------------------------------------------------------------------------------------
# XmR chart
# --------------------------------------------------------------------------------------------

def spc_drawing(frame: pd.DataFrame, *, unit: str, title: str, width_pt: float,
                height_pt: float, adoption: pd.Period | None = None,
                font: float = 7.0) -> ChartDrawing:
    """An XmR chart of one KPI: ``frame`` from ``report.data.spc_frame`` (month, value,
    centre, upper, lower, point_type). Values in the KPI's unit (fractions for proportions,
    shown as per cent). Returns a Drawing of ``width_pt`` x ``height_pt`` points."""
    d = ChartDrawing(width_pt, height_pt)
    d.kind = "spc"
    y_title = UNIT_AXIS.get(unit, unit.capitalize())
    d.axis_titles = ("Month", y_title)
    title_size = font + 1.2
    title_h = _title(d, title, title_size, width_pt, height_pt)
    rows = frame.reset_index(drop=True)
    months = _months(rows["month"]) if len(rows) else []
    values = [_num(v) for v in rows.get("value", [])]
    if not any(v is not None for v in values):
        d.add(_string(width_pt / 2, height_pt / 2, "No month has a value to chart.", font,
                      anchor="middle", colour=MUTED))
        return d
    cols = {c: [_num(v) for v in rows[c]] if c in rows else [None] * len(rows)
            for c in ("centre", "upper", "lower")}
    data = _finite([*values, *cols["centre"], *cols["upper"], *cols["lower"]])
    # Rates, days and counts cannot go below 0: a lower limit below 0 is simply not drawn.
    nonneg = all(v >= 0 for v in _finite(values))
    if nonneg:
        data = [v for v in data if v >= 0] or [0.0]
    lo = 0.0 if nonneg else min(0.0, min(data))
    hi = max(data) * 1.04 if max(data) > 0 else 1.0
    if unit == "proportion" and max(data) <= 1:
        hi = min(hi, 1.0) if max(data) < 0.96 else 1.0
    ticks = nice_ticks(lo, hi, 5)
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
    labels = [tick_text(v, unit, step) for v in ticks]
    left = max(width(s, font) for s in labels) + font * 0.6 + font * 1.6
    bottom = font * 3.0
    top = title_h + font * 0.9
    right = width("Sep 2025", font) / 2 + 2
    f = _Frame(left, bottom, width_pt - right, height_pt - top, ticks[0], ticks[-1],
               len(months))
    # grid and y ticks
    for v, text in zip(ticks, labels, strict=True):
        y = f.y(v)
        d.add(Line(f.x0, y, f.x1, y, strokeColor=GRID, strokeWidth=0.4))
        d.add(_string(f.x0 - font * 0.4, y - font * 0.35, text, font, anchor="end",
                      colour=MUTED))
    d.add(Line(f.x0, f.y0, f.x1, f.y0, strokeColor=AXIS, strokeWidth=0.6))
    d.add(Line(f.x0, f.y0, f.x0, f.y1, strokeColor=AXIS, strokeWidth=0.6))
    # x ticks (dates)
    for i in _month_ticks(months, f.x1 - f.x0, font):
        x = f.x(i)
        d.add(Line(x, f.y0, x, f.y0 - 2, strokeColor=AXIS, strokeWidth=0.5))
        d.add(_string(x, f.y0 - font * 1.25, month_label(months[i]), font, anchor="middle",
                      colour=MUTED))
    d.add(_string((f.x0 + f.x1) / 2, 1, "Month", font, anchor="middle", colour=MUTED))
    d.add(_rotated(font * 0.8, (f.y0 + f.y1) / 2, y_title, font))
    # adoption
    if adoption is not None and months and months[0] < adoption <= months[-1]:
        i = months.index(adoption) if adoption in months else None
        if i is not None:
            x = f.x(i - 0.5)
            d.add(Line(x, f.y0, x, f.y1, strokeColor=INK, strokeWidth=0.6,
                       strokeDashArray=[1, 1.5]))
            text = "Soteria adopted"
            anchor = "start" if x + width(text, font - 1) + 3 < f.x1 else "end"
            d.add(_string(x + (2 if anchor == "start" else -2), f.y1 - font, text, font - 1,
                          anchor=anchor, colour=MUTED))
    # mean and limits: a step line, one level per month (p' limits vary with the month's
    # denominator; XmR limits are level and step only at a rebase); gaps where missing
    for col, dash, w in (("upper", [2.5, 1.5], 0.6), ("lower", [2.5, 1.5], 0.6),
                         ("centre", None, 0.7)):
        for seg in _step_line(f, cols[col], len(months)):
            d.add(PolyLine(seg, strokeColor=MUTED if col != "centre" else AXIS,
                           strokeWidth=w, strokeDashArray=dash))
    # values and point types; maturing months (not final) hollow, joined by a dotted line
    xs = [f.x(i) for i in range(len(months))]
    ys = [None if v is None else f.y(v) for v in values]
    maturing = [bool(v) for v in rows["provisional"]] if "provisional" in rows else \
        [False] * len(rows)
    final_ys = [None if m else y for y, m in zip(ys, maturing, strict=True)]
    for seg in _segments(xs, final_ys):
        d.add(PolyLine(seg, strokeColor=LINE, strokeWidth=0.9))
    tail = [y if (m or (i + 1 < len(ys) and maturing[i + 1])) else None
            for i, (y, m) in enumerate(zip(ys, maturing, strict=True))]
    for seg in _segments(xs, tail):
        d.add(PolyLine(seg, strokeColor=LINE, strokeWidth=0.7, strokeDashArray=[1, 1.2]))
    types = list(rows["point_type"]) if "point_type" in rows else [None] * len(rows)
    r = max(1.2, min(2.2, (f.x1 - f.x0) / max(1, len(months)) * 0.32))
    for x, y, p, m in zip(xs, ys, types, maturing, strict=True):
        if y is None:
            continue
        if m:
            d.add(Circle(x, y, r, fillColor=colors.white, strokeColor=LINE, strokeWidth=0.6))
            continue
        kind = p if isinstance(p, str) and p in POINT_SHAPES else "common_cause"
        colour = colors.HexColor(POINT_TYPE_COLOURS.get(kind, OKABE_ITO["grey"]))
        size = r if kind == "common_cause" else r * 1.35
        d.add(marker(POINT_SHAPES[kind], x, y, size, colour, stroke=colors.white
                     if kind == "common_cause" else INK, stroke_width=0.25))
    return d


# --------------------------------------------------------------------------------------------
# Survey items
# --------------------------------------------------------------------------------------------

def survey_drawing(rows: pd.DataFrame, *, width_pt: float, font: float = 7.0,
                   title: str | None = None) -> ChartDrawing:
    """Survey items as horizontal bars (share agreeing, per cent) with 95% interval whiskers.

    ``rows``: ``group`` (item words), ``value``, ``ci_low``, ``ci_high`` (fractions),
    ``status`` and ``note`` (what to say instead of a bar, e.g. ``n = 17 of 30 needed``).
    Item names wrap onto several lines rather than being cut off. The height follows the
    number of items (about 2.2 lines each)."""
    label_room = width_pt * 0.38
    items = []
    for _, r in rows.iterrows():
        items.append((r, _wrap(str(r["group"]), label_room, font)))
    line_h = font * 1.2
    heights = [max(font * 2.2, len(lines) * line_h + font * 0.8) for _, lines in items]
    title_h = font * 2 if title else 0
    bottom = font * 3.2
    height_pt = title_h + bottom + sum(heights) + font
    d = ChartDrawing(width_pt, height_pt)
    d.kind = "survey"
    x_title = "Share agreeing or answering yes (per cent), with 95% interval"
    d.axis_titles = (x_title, "Survey item")
    if title:
        d.add(_string(0, height_pt - font - 1, title, font + 1.2, bold=True))
    left = min(label_room, max([width(ln, font) for _, ls in items for ln in ls] + [10])) + \
        font
    x0, x1 = left, width_pt - width("100%", font)
    y_top = height_pt - title_h - font * 0.5

    def xv(v: float) -> float:
        return x0 + (x1 - x0) * max(0.0, min(1.0, v))

    for v in (0, 0.2, 0.4, 0.6, 0.8, 1.0):
        d.add(Line(xv(v), bottom, xv(v), y_top, strokeColor=GRID, strokeWidth=0.4))
        d.add(_string(xv(v), bottom - font * 1.25, f"{v * 100:.0f}%", font, anchor="middle",
                      colour=MUTED))
    d.add(Line(x0, bottom, x1, bottom, strokeColor=AXIS, strokeWidth=0.6))
    d.add(_string((x0 + x1) / 2, 1, x_title, font, anchor="middle", colour=MUTED))
    y = y_top
    for (r, lines), h in zip(items, heights, strict=True):
        mid = y - h / 2
        for k, line in enumerate(lines):
            offset = (len(lines) - 1) / 2 - k
            d.add(_string(left - font * 0.6, mid + offset * line_h - font * 0.35, line, font,
                          anchor="end"))
        value, low, high = _num(r.get("value")), _num(r.get("ci_low")), _num(r.get("ci_high"))
        if r.get("status") == "ok" and value is not None:
            bar_h = min(h * 0.5, font * 1.3)
            d.add(Rect(x0, mid - bar_h / 2, xv(value) - x0, bar_h,
                       fillColor=colors.HexColor(OKABE_ITO["sky_blue"]), strokeColor=None))
            if low is not None and high is not None:
                d.add(Line(xv(low), mid, xv(high), mid, strokeColor=INK, strokeWidth=0.7))
                for end in (low, high):
                    d.add(Line(xv(end), mid - 2, xv(end), mid + 2, strokeColor=INK,
                               strokeWidth=0.7))
            end_x = xv(high if high is not None else value) + 3
            text = f"{value * 100:.0f}%"
            if end_x + width(text, font) > width_pt:
                end_x = xv(value) - width(text, font) - 3
            d.add(_string(end_x, mid - font * 0.35, text, font, bold=True))
        else:
            d.add(_string(x0 + 2, mid - font * 0.35, str(r.get("note") or "No data"), font,
                          colour=MUTED))
        y -= h
    return d


# --------------------------------------------------------------------------------------------
# Funnel plot
# --------------------------------------------------------------------------------------------

def log_ticks(lo: float, hi: float, max_ticks: int = 8) -> list[float]:
    """Tidy ticks for a log axis from ``lo`` to ``hi``: 1, 2, 5 x 10^k (or only 10^k when
    those would be too many); at least two ticks."""
    lo, hi = max(lo, 1e-9), max(hi, lo * 1.0001)
    k0, k1 = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    for mults in ((1, 2, 5), (1, 3), (1,)):
        ticks = [m * 10**k for k in range(k0, k1 + 1) for m in mults
                 if lo <= m * 10**k <= hi]
        if len(ticks) <= max_ticks and len(ticks) >= 2:
            return ticks
    return [lo, hi]


def _overlaps(a: tuple[float, float, float, float], b: tuple[float, float, float, float],
              pad: float = 0.5) -> bool:
    return not (a[2] + pad <= b[0] or b[2] + pad <= a[0] or a[3] + pad <= b[1]
                or b[3] + pad <= a[1])


def place_labels(anchors: list[tuple[str, float, float, float, bool]],
                 bounds: tuple[float, float, float, float],
                 obstacles: list[tuple[float, float, float, float]], size: float
                 ) -> tuple[list[tuple[str, float, float, tuple[float, float, float, float],
                                       bool]], list[str]]:
    """Greedy label placement: each (text, x, y, marker radius, must) tries positions around
    its point, nearest first, and takes the first whose box stays inside ``bounds`` and
    overlaps no placed label and no obstacle (other markers). A ``must`` label (the chosen
    force, bold) that finds no free place tries again further out, then over markers (never
    over another label). Returns (placed: text, baseline x, baseline y, box, must;
    unplaced texts)."""
    placed: list[tuple[str, float, float, tuple[float, float, float, float], bool]] = []
    unplaced: list[str] = []
    boxes: list[tuple[float, float, float, float]] = []
    bx0, by0, bx1, by1 = bounds

    def options(x: float, y: float, w: float, h: float, gap: float) -> list[tuple[float, float]]:
        return [(x + gap, y - h * 0.35), (x - gap - w, y - h * 0.35),
                (x + gap * 0.7, y + gap * 0.7), (x + gap * 0.7, y - gap * 0.7 - h),
                (x - gap * 0.7 - w, y + gap * 0.7), (x - gap * 0.7 - w, y - gap * 0.7 - h),
                (x - w / 2, y + gap), (x - w / 2, y - gap - h)]

    for text, x, y, r, must in anchors:
        w, h = width(text, size, must), size * 1.05
        own = (x - r, y - r, x + r, y + r)
        tries = [(r + 1.5, True)]
        if must:
            tries += [(r + size * 2.5, True), (r + size * 5, True), (r + 1.5, False),
                      (r + size * 2.5, False)]
        spot = None
        for gap, avoid_markers in tries:
            for lx, ly in options(x, y, w, h, gap):
                box = (lx, ly - size * 0.25, lx + w, ly - size * 0.25 + h)
                if box[0] < bx0 or box[2] > bx1 or box[1] < by0 or box[3] > by1:
                    continue
                if any(_overlaps(box, b) for b in boxes):
                    continue
                if avoid_markers and any(_overlaps(box, o, 0) for o in obstacles if o != own):
                    continue
                spot = (lx, ly, box)
                break
            if spot is not None:
                break
        if spot is None:
            unplaced.append(text)
            continue
        placed.append((text, spot[0], spot[1], spot[2], must))
        boxes.append(spot[2])
    return placed, unplaced


def _legend_entries() -> list[tuple[str, str, str, Any, Any]]:
    out: list[tuple[str, str, str, Any, Any]] = [
        ("marker", words, shape, colour, None) for colour, shape, words in FLAG_STYLE.values()]
    out += [("line", "99.8% limits", "", MUTED, None), ("line", "95% limits", "", MUTED,
                                                         [2.5, 1.5]),
            ("line", "all forces", "", AXIS, None)]
    return out


def _legend_width(words: str, font: float) -> float:
    return 9 + width(words, font - 0.5) + font * 1.3


def _legend_rows(width_pt: float, font: float) -> int:
    rows, x = 1, 0.0
    for _, words, _, _, _ in _legend_entries():
        w = _legend_width(words, font)
        if x > 0 and x + w > width_pt:
            rows, x = rows + 1, 0.0
        x += w
    return rows


def funnel_drawing(points: pd.DataFrame, limits: pd.DataFrame, *, target: float,
                   force: str | None, title: str, x_title: str, width_pt: float,
                   height_pt: float, font: float = 7.0) -> ChartDrawing:
    """A funnel plot: each force's rate (per cent) against its denominator (log axis), the
    all-forces rate and the 95% (dashed) and 99.8% (solid) limits.

    ``points``: force, n, value, flag (within|worth_a_look|outside). ``limits``: n, level,
    lower, upper (``metrics.stats.funnel_limits``). ``force``: the chosen force, drawn larger,
    ringed and labelled in bold; forces outside 99.8% are labelled too when a free place
    exists. ``drawing.label_boxes``: [(text, x0, y0, x1, y1)], ``drawing.unlabelled``: the
    outliers left to the table."""
    d = ChartDrawing(width_pt, height_pt)
    d.kind = "funnel"
    y_title = "Rate (per cent)"
    d.axis_titles = (x_title, y_title)
    title_size = font + 1.2
    title_h = _title(d, title, title_size, width_pt, height_pt)
    ns = _finite(points["n"]) + _finite(limits["n"])
    ns = [n for n in ns if n > 0]
    if not ns or points.empty:
        d.add(_string(width_pt / 2, height_pt / 2, "No force to plot.", font, anchor="middle"))
        d.label_boxes, d.unlabelled = [], []
        return d
    n_lo, n_hi = min(_finite(points["n"])) / 1.6, max(_finite(points["n"])) * 1.25
    lim = limits[(limits["n"] >= n_lo) & (limits["n"] <= n_hi)]
    ys = _finite(points["value"]) + _finite(lim["lower"]) + _finite(lim["upper"]) + [target]
    lo, hi = max(0.0, min(ys)), min(1.0, max(ys))
    pad = (hi - lo) * 0.04 or 0.01
    ticks = nice_ticks(max(0.0, lo - pad), min(1.0, hi + pad), 6)
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 0.1
    labels = [tick_text(v, "proportion", step) for v in ticks]
    legend_h = font * 1.3 * _legend_rows(width_pt, font) + font * 0.3
    left = max(width(s, font) for s in labels) + font * 0.6 + font * 1.6
    bottom, top = font * 3.0, title_h + legend_h + font * 0.6
    x0, y0, x1, y1 = left, bottom, width_pt - 4, height_pt - top
    lx0, lx1 = math.log10(n_lo), math.log10(n_hi)

    def xn(n: float) -> float:
        return x0 + (x1 - x0) * (math.log10(n) - lx0) / (lx1 - lx0)

    def yv(v: float) -> float:
        return y0 + (y1 - y0) * (v - ticks[0]) / (ticks[-1] - ticks[0])

    for v, text in zip(ticks, labels, strict=True):
        d.add(Line(x0, yv(v), x1, yv(v), strokeColor=GRID, strokeWidth=0.4))
        d.add(_string(x0 - font * 0.4, yv(v) - font * 0.35, text, font, anchor="end",
                      colour=MUTED))
    for n in log_ticks(n_lo, n_hi):
        d.add(Line(xn(n), y0, xn(n), y0 - 2, strokeColor=AXIS, strokeWidth=0.5))
        d.add(_string(xn(n), y0 - font * 1.25, f"{n:,.0f}", font, anchor="middle",
                      colour=MUTED))
    d.add(Line(x0, y0, x1, y0, strokeColor=AXIS, strokeWidth=0.6))
    d.add(Line(x0, y0, x0, y1, strokeColor=AXIS, strokeWidth=0.6))
    d.add(_string((x0 + x1) / 2, 1, x_title, font, anchor="middle", colour=MUTED))
    d.add(_rotated(font * 0.8, (y0 + y1) / 2, y_title, font))
    # limits and target
    for level, dash in ((0.95, [2.5, 1.5]), (0.998, None)):
        rows = lim[(lim["level"] - level).abs() < 1e-9].sort_values("n")
        for col in ("lower", "upper"):
            seg = []
            for n, v in zip(rows["n"], rows[col], strict=True):
                v = _num(v)
                if v is None or n <= 0:
                    continue
                seg += [xn(float(n)), yv(min(max(v, ticks[0]), ticks[-1]))]
            if len(seg) >= 4:
                d.add(PolyLine(seg, strokeColor=MUTED, strokeWidth=0.6, strokeDashArray=dash))
    d.add(Line(x0, yv(target), x1, yv(target), strokeColor=AXIS, strokeWidth=0.8))
    # points: the chosen force last (on top)
    order = sorted(points.itertuples(index=False), key=lambda p: (p.force == force, p.flag))
    obstacles: list[tuple[float, float, float, float]] = []
    anchors: list[tuple[str, float, float, float, bool]] = []
    r = 2.0
    for p in order:
        colour, shape, _ = FLAG_STYLE.get(str(p.flag), FLAG_STYLE["within"])
        x, y = xn(float(p.n)), yv(float(p.value))
        if p.force == force:
            d.add(Circle(x, y, r * 2.3, fillColor=None, strokeColor=INK, strokeWidth=1.1))
            d.add(marker(shape, x, y, r * 1.3, colors.HexColor(colour), stroke=INK))
            obstacles.append((x - r * 2.3, y - r * 2.3, x + r * 2.3, y + r * 2.3))
        else:
            d.add(marker(shape, x, y, r, colors.HexColor(colour), stroke=INK, stroke_width=0.2))
            obstacles.append((x - r, y - r, x + r, y + r))
    chosen = [p for p in order if p.force == force]
    outliers = sorted((p for p in order if p.flag == "outside" and p.force != force),
                      key=lambda p: -abs(float(p.value) - target))
    for p in chosen:
        anchors.append((str(p.force), xn(float(p.n)), yv(float(p.value)), r * 2.3, True))
    for p in outliers:
        anchors.append((str(p.force), xn(float(p.n)), yv(float(p.value)), r, False))
    placed, unplaced = place_labels(anchors, (x0 + 1, y0 + 1, x1, y1), obstacles, font)
    anchor_at = {a[0]: (a[1], a[2], a[3]) for a in anchors}
    for text, lx, ly, box, bold in placed:
        ax, ay, ar = anchor_at[text]
        nx, ny = min(max(ax, box[0]), box[2]), min(max(ay, box[1]), box[3])
        if math.hypot(nx - ax, ny - ay) > ar + 3:  # placed further out: a leader line
            d.add(Line(ax, ay, nx, ny, strokeColor=INK, strokeWidth=0.4))
        if bold:  # the chosen force: on a white ground, so it reads over any marker
            d.add(Rect(box[0] - 1, box[1], box[2] - box[0] + 2, box[3] - box[1],
                       fillColor=colors.Color(1, 1, 1, alpha=0.85), strokeColor=None))
        d.add(_string(lx, ly, text, font, bold=bold))
    d.label_boxes = [(text, *box) for text, _, _, box, _ in placed]
    d.unlabelled = unplaced
    # legend under the title (wrapping onto a second row when it does not fit)
    lx, ly = 0.0, height_pt - title_h - font * 1.3
    for kind, words, shape, colour, dash in _legend_entries():
        w = _legend_width(words, font)
        if lx > 0 and lx + w > width_pt:
            lx, ly = 0.0, ly - font * 1.3
        if kind == "marker":
            d.add(marker(shape, lx + 3, ly + font * 0.3, 2, colors.HexColor(colour),
                         stroke=INK, stroke_width=0.2))
        else:
            d.add(Line(lx, ly + font * 0.3, lx + 7, ly + font * 0.3, strokeColor=colour,
                       strokeWidth=0.7, strokeDashArray=dash))
        d.add(_string(lx + 9, ly, words, font - 0.5, colour=MUTED))
        lx += w
    return d


__all__ = ["funnel_drawing", "log_ticks", "marker", "month_label", "nice_ticks",
           "place_labels", "spc_drawing", "survey_drawing", "tick_text"]
