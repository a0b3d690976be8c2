"""Plotly figure builders for the Trends and Compare forces pages. No Streamlit import.

- :func:`trend_chart`: a monthly XmR chart whose time axis starts at the first month with data,
  maturing (provisional) months drawn hollow and labelled, limits rebased at adoption.
- :func:`funnel_chart`: a funnel plot with the selected force highlighted, labels only where
  they do not collide (every force is in the hover and in the table beside the chart), and
  tidy log-axis ticks (1-2-5 steps, thousands separated).

Colours are the Okabe-Ito palette; every category also differs by marker symbol and is named
in the legend or hover, so a chart reads in greyscale and for colour-blind readers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from present.charts import (
    FUNNEL_FLAGS,
    POINT_TYPE_SYMBOLS,
    _layout,
    _x,
    _y_axis,
    add_adoption_line,
    add_funnel_limits,
    add_limit_lines,
)
from present.escape import plotly as escape_label
from present.format import OKABE_ITO, POINT_TYPE_COLOURS, POINT_TYPE_LABELS, format_value

MATURING_LABEL = "Maturing: can still change"
#: Fewest months with a value that make a monthly chart worth drawing (half a year); fewer is
#: a sentence, not a frame with a handful of dots.
MIN_TREND_POINTS = 6


def data_start(monthly: pd.DataFrame) -> pd.Timestamp | None:
    """The first month (``window_start``) of a monthly KPI table with anything to count:
    a status other than ``no_data`` and a count (``n``, ``denominator``, or ``numerator``,
    which is the value of a count KPI such as the device backlog and has no denominator)
    above zero. None when no month has data."""
    if monthly.empty:
        return None
    counted = pd.Series(False, index=monthly.index)
    for col in ("n", "denominator", "numerator"):
        if col in monthly:
            counted |= pd.to_numeric(monthly[col], errors="coerce").fillna(0).to_numpy() > 0
    has = monthly["status"].ne("no_data") & counted
    if not has.any():
        return None
    return pd.Timestamp(pd.to_datetime(monthly.loc[has, "window_start"]).min())


def trend_chart(
    spc: pd.DataFrame,
    *,
    unit: str,
    title: str | None = None,
    adoption: pd.Period | None = None,
    height: int = 420,
) -> go.Figure:
    """A monthly XmR chart (Making Data Count style) over the months in ``spc``.

    ``spc``: one row per month with ``month`` (Period), ``value``, ``centre``, ``upper``,
    ``lower``, ``point_type`` and optionally ``provisional`` (bool: the month is still
    maturing). Maturing months are drawn hollow, in their own legend entry, and say so in
    the hover. Limits below zero are drawn at zero (none of these measures is negative);
    proportions above 100% at 100%. The y axis spans the values and limits shown, never an
    empty default range. The x axis is dates (month labels), units on the y axis.
    """
    fig = go.Figure()
    x = _x(spc["month"])
    values = pd.to_numeric(spc["value"], errors="coerce")
    fig.add_trace(go.Scatter(x=x, y=values, mode="lines", line=dict(color="#9a9a9a", width=1.5),
                             hoverinfo="skip", showlegend=False, connectgaps=False))
    ceiling = 1.0 if unit == "proportion" else None
    shown: list[float] = [v for v in values if not math.isnan(v)]
    for y in add_limit_lines(
            fig, x, spc,
            lambda col: pd.to_numeric(spc[col], errors="coerce").clip(lower=0.0, upper=ceiling)):
        shown.extend(v for v in y if not math.isnan(v))
    maturing = (spc["provisional"].fillna(False).astype(bool).to_numpy()
                if "provisional" in spc else np.zeros(len(spc), dtype=bool))
    types = spc.get("point_type", pd.Series([None] * len(spc))).fillna("common_cause")
    for point_type, label in POINT_TYPE_LABELS.items():
        mask = (types == point_type).to_numpy() & ~maturing & values.notna().to_numpy()
        if mask.any():
            fig.add_trace(_points(x, values, mask, unit, label,
                                  POINT_TYPE_COLOURS[point_type],
                                  POINT_TYPE_SYMBOLS[point_type]))
    mask = maturing & values.notna().to_numpy()
    if mask.any():
        fig.add_trace(_points(x, values, mask, unit, MATURING_LABEL, OKABE_ITO["blue"],
                              "circle-open"))
    if adoption is not None and len(spc) and spc["month"].min() <= adoption <= spc["month"].max():
        add_adoption_line(fig, adoption)
    axis = _y_axis(unit)
    if shown:
        low, high = min(shown), max(shown)
        pad = (high - low) * 0.08 or (abs(high) * 0.1 or 0.05)
        low, high = max(0.0, low - pad), high + pad
        if ceiling is not None:
            high = min(ceiling, high)
        axis = {**axis, "range": [low, high], "rangemode": "normal"}
    fig.update_yaxes(title=_UNIT_TITLES.get(unit), **axis)
    fig.update_xaxes(title="Month", tickformat="%b %Y", dtick="M3" if len(spc) <= 36 else "M6")
    return _layout(fig, title=title, height=height)


_UNIT_TITLES = {"proportion": "Per cent", "days": "Days (median)", "count": "Count",
                "cases": "Cases per investigator"}


def _points(x: Sequence[str], values: pd.Series, mask: np.ndarray, unit: str, label: str,
            colour: str, symbol: str) -> go.Scatter:
    chosen = values[mask]
    return go.Scatter(
        x=[xx for xx, m in zip(x, mask, strict=True) if m], y=chosen, mode="markers",
        name=label,
        marker=dict(color=colour, size=12, symbol=symbol,
                    line=dict(color=colour if symbol.endswith("-open") else "white",
                              width=2 if symbol.endswith("-open") else 1)),
        customdata=[[format_value(v, unit), label] for v in chosen],
        hovertemplate="%{x|%b %Y}: %{customdata[0]} (%{customdata[1]})<extra></extra>",
    )


# --------------------------------------------------------------------------- funnel


def log_ticks(low: float, high: float) -> tuple[list[float], list[str]]:
    """Tick values at 1, 2 and 5 times powers of ten between ``low`` and ``high`` (> 0), and
    their labels with thousands separators (``1,000``); fewer steps (1 and 10s only) when
    the range spans more than three decades."""
    low, high = max(low, 1e-9), max(high, low * 1.0001)
    first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
    steps = (1, 2, 5) if last - first <= 3 else (1,)
    values = [m * 10.0 ** e for e in range(first, last + 1) for m in steps
              if low <= m * 10.0 ** e <= high]
    if len(values) < 2:  # a narrow range: its ends
        values = sorted({_nice(low), _nice(high)})
    return values, [f"{v:,.0f}" if v >= 1 else f"{v:g}" for v in values]


def _nice(value: float) -> float:
    """``value`` to two significant figures (e.g. 1234 -> 1200)."""
    return float(f"{value:.2g}")


@dataclass(frozen=True)
class Label:
    """One text label on the funnel plot: which force, where (plot fractions 0-1 of the axes)
    and its box, offset from the marker by ``xshift``/``yshift`` pixels."""

    force: str
    x: float
    y: float
    xshift: int
    yshift: int
    box: tuple[float, float, float, float]  # left, bottom, right, top in pixels


_OFFSETS = ((0, 14, "center"), (0, -14, "center"), (10, 0, "left"), (-10, 0, "right"),
            (10, 14, "left"), (-10, 14, "right"), (10, -14, "left"), (-10, -14, "right"))


def place_labels(points: pd.DataFrame, wanted: Sequence[str], *, x_range: tuple[float, float],
                 y_range: tuple[float, float], width_px: float = 640, height_px: float = 400,
                 char_px: float = 7.2, line_px: float = 16) -> list[Label]:
    """Labels for the ``wanted`` forces (in priority order) that collide with no other label
    and no marker: each tries positions around its marker (above, below, right, left, the
    corners) and is left out, hover only, when none is free.

    ``points``: ``force``, ``n`` (log x axis) and ``value``; ``x_range`` in log10 units of n,
    ``y_range`` in values; sizes in pixels of the plotting area.
    """
    def px(n: float, v: float) -> tuple[float, float]:
        fx = (math.log10(max(n, 1e-9)) - x_range[0]) / ((x_range[1] - x_range[0]) or 1)
        fy = (v - y_range[0]) / ((y_range[1] - y_range[0]) or 1)
        return fx * width_px, fy * height_px

    markers = [px(float(r.n), float(r.value)) for r in points.itertuples()]
    taken: list[tuple[float, float, float, float]] = [
        (mx - 6, my - 6, mx + 6, my + 6) for mx, my in markers]
    by_force = {str(r.force): r for r in points.itertuples()}
    out: list[Label] = []
    for force in wanted:
        row = by_force.get(force)
        if row is None or not np.isfinite(row.value):
            continue
        mx, my = px(float(row.n), float(row.value))
        w, h = len(force) * char_px, line_px
        for dx, dy, anchor in _OFFSETS:
            left = mx + dx - (w / 2 if anchor == "center" else w if anchor == "right" else 0)
            bottom = my + dy - h / 2
            box = (left, bottom, left + w, bottom + h)
            inside = box[0] >= 0 and box[2] <= width_px and box[1] >= 0 and box[3] <= height_px
            own = (mx - 6, my - 6, mx + 6, my + 6)
            if inside and not any(_overlap(box, t) for t in taken if t != own):
                taken.append(box)
                out.append(Label(force, float(row.n), float(row.value), dx, dy, box))
                break
    return out


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def funnel_chart(
    points: pd.DataFrame,
    limits: pd.DataFrame,
    *,
    target: float,
    highlight: str | None = None,
    title: str | None = None,
    height: int = 500,
    width_px: float = 420,
) -> go.Figure:
    """A funnel plot for a proportion KPI (Spiegelhalter 2005), the chosen force standing out.

    ``points``: ``force``, ``n`` (denominator), ``value``, ``flag`` (``within``,
    ``worth_a_look``, ``outside``). ``limits``: ``metrics.stats.funnel_limits`` output (``n``,
    ``level``, ``lower``, ``upper``). ``highlight``: the view's force (a larger black-ringed
    marker, labelled). Other labels are the forces outside or near the limits that fit
    without overlapping (:func:`place_labels`, sized for a plot at least ``width_px`` wide);
    every force is in the hover and in the table the page shows beside the chart. The x axis
    is log-scaled with 1-2-5 ticks (:func:`log_ticks`).
    """
    fig = go.Figure()
    add_funnel_limits(fig, limits, clip=True)
    n_low = float(limits["n"].min()) if not limits.empty else float(points["n"].min())
    n_high = float(limits["n"].max()) if not limits.empty else float(points["n"].max())
    fig.add_trace(go.Scatter(  # the target as a named line (a legend entry, not a label that
        x=[n_low, n_high], y=[target, target], mode="lines",  # could sit on a point)
        name=f"All forces {target:.1%}",
        line=dict(color=OKABE_ITO["black"], width=2, dash="dot"),
        hoverinfo="skip"))
    for flag, (label, colour, symbol) in FUNNEL_FLAGS.items():
        sub = points[points["flag"] == flag]
        if sub.empty:
            continue
        fig.add_trace(go.Scatter(
            x=sub["n"], y=sub["value"], mode="markers", name=label,
            text=[escape_label(f) for f in sub["force"]],
            marker=dict(color=colour, size=10, symbol=symbol, line=dict(color="white", width=1)),
            customdata=[[format_value(v, "proportion"), label] for v in sub["value"]],
            hovertemplate="%{text}: %{customdata[0]} of %{x:,} (%{customdata[1]})<extra></extra>",
        ))
    chosen = points[points["force"] == highlight] if highlight else points.iloc[0:0]
    if not chosen.empty:
        row = chosen.iloc[0]
        fig.add_trace(go.Scatter(
            x=[row["n"]], y=[row["value"]], mode="markers",
            name=f"{escape_label(highlight)} (chosen)",
            marker=dict(color=FUNNEL_FLAGS[row["flag"]][1], size=18,
                        symbol=FUNNEL_FLAGS[row["flag"]][2],
                        line=dict(color=OKABE_ITO["black"], width=3)),
            hovertemplate=f"{escape_label(highlight)}: "
                          f"{format_value(row['value'], 'proportion')} of "
                          "%{x:,}<extra>chosen force</extra>"))
    ys = [*points["value"].dropna(), target]
    y_low, y_high = max(0.0, min(ys) - 0.05), min(1.0, max(ys) + 0.05)
    # Labelled: the chosen force, then flagged forces, then those worth a look, while they fit
    # without touching another label or point (every force is in the hover and the table).
    order = [highlight] if highlight else []
    for flag in ("outside", "worth_a_look"):
        order += [f for f in points.loc[points["flag"] == flag, "force"] if f not in order]
    plot_h = height - 170  # title, axis title, legend and margins
    for lab in place_labels(points, order, x_range=(math.log10(n_low), math.log10(n_high)),
                            y_range=(y_low, y_high), width_px=width_px, height_px=plot_h):
        fig.add_annotation(
            x=math.log10(lab.x), y=lab.y,
            text=f"<b>{escape_label(lab.force)}</b>" if lab.force == highlight
            else escape_label(lab.force), showarrow=False, xshift=lab.xshift, yshift=lab.yshift,
            xanchor="center" if lab.xshift == 0 else "left" if lab.xshift > 0 else "right",
            font=dict(size=12, color=OKABE_ITO["black"]))
    tickvals, ticktext = log_ticks(n_low, n_high)
    fig.update_xaxes(title="Denominator (cases counted; log scale)", type="log",
                     tickvals=tickvals, ticktext=ticktext,
                     range=[math.log10(n_low), math.log10(n_high)])
    fig.update_yaxes(title="Per cent", tickformat=".0%", range=[y_low, y_high])
    return _layout(fig, title=title, height=height)
