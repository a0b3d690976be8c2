"""Plotly figure builders for the flight deck and the board pack. No Streamlit import.

Every builder takes plain pandas frames (from the KPI table or `metrics.stats`) and returns a
`plotly.graph_objects.Figure`. Colours come from the Okabe-Ito palette, and every colour-coded
category also differs by marker symbol and carries a text label in the legend or hover, so a
chart reads in greyscale and for colour-blind readers.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pandas as pd
import plotly.graph_objects as go

from present.escape import plotly as escape_label
from present.format import OKABE_ITO, format_value

FONT = dict(family="Source Sans Pro, DejaVu Sans, Arial, sans-serif", size=14)
POINT_TYPE_SYMBOLS: dict[str, str] = {
    "common_cause": "circle",
    "special_cause_improvement": "triangle-up",
    "special_cause_concern": "diamond",
    "special_cause_neutral_high": "square",
    "special_cause_neutral_low": "square",
}
FUNNEL_FLAGS: dict[str, tuple[str, str, str]] = {
    # flag -> (label, colour, symbol)
    "within": ("Within 95% limits", OKABE_ITO["blue"], "circle"),
    "worth_a_look": ("Between 95% and 99.8%: worth a look", OKABE_ITO["orange"], "square"),
    "outside": ("Outside 99.8% limits: flagged", OKABE_ITO["vermillion"], "diamond"),
}


def _x(months: pd.Series) -> list[str]:
    """Month labels for an x axis: Periods or dates become ``YYYY-MM-01`` date strings."""
    out = []
    for m in months:
        if isinstance(m, pd.Period):
            out.append(m.start_time.strftime("%Y-%m-%d"))
        else:
            out.append(pd.Timestamp(str(m)).strftime("%Y-%m-%d"))
    return out


def _y_axis(unit: str) -> dict:
    if unit == "proportion":
        return dict(tickformat=".0%", rangemode="tozero")
    return dict(tickformat=",.0f" if unit in ("days", "count") else ",.1f", rangemode="tozero")


def _layout(fig: go.Figure, *, title: str | None, height: int) -> go.Figure:
    fig.update_layout(
        title=dict(text=escape_label(title), x=0, xanchor="left") if title else None,
        font=FONT,
        height=height,
        margin=dict(l=10, r=10, t=50 if title else 10, b=10),
        plot_bgcolor="white",
        paper_bgcolor="white",
        legend=dict(orientation="h", yanchor="top", y=-0.15, x=0),
        hoverlabel=dict(font_size=14),
    )
    fig.update_xaxes(showgrid=False, linecolor="#444")
    fig.update_yaxes(gridcolor="#e5e5e5", zeroline=False, linecolor="#444")
    return fig


def add_limit_lines(fig: go.Figure, x: list[str], spc: pd.DataFrame,
                    drawn: Callable[[str], pd.Series]) -> list[pd.Series]:
    """Add an SPC chart's mean (solid black) and upper and lower process limits (dashed grey,
    one legend entry), stepped by month, for those of ``centre``/``upper``/``lower`` that are
    columns of ``spc``; ``drawn(col)`` gives the y values drawn for a column (e.g. clipped at
    zero). Returns the drawn series, in the values' units."""
    out = []
    for name, col, dash in (("Mean", "centre", "solid"), ("Process limits", "upper", "dash"),
                            (None, "lower", "dash")):
        if col not in spc:
            continue
        y = drawn(col)
        out.append(y)
        fig.add_trace(go.Scatter(
            x=x, y=y, mode="lines", name=name or "Process limits",
            line=dict(color=OKABE_ITO["black"] if col == "centre" else OKABE_ITO["grey"],
                      width=1.5, dash=dash, shape="hv"),
            showlegend=name is not None, legendgroup=col if col == "centre" else "limits",
            hoverinfo="skip",
        ))
    return out


def add_adoption_line(fig: go.Figure, adoption: pd.Period) -> None:
    """Mark the force's Soteria adoption month: a dotted green vertical line at its first
    day, labelled "Soteria adopted: limits rebased" at the top of the plot."""
    ax = adoption.start_time.strftime("%Y-%m-%d")
    fig.add_vline(x=ax, line=dict(color=OKABE_ITO["green"], width=2, dash="dot"))
    fig.add_annotation(
        x=ax, y=1, yref="paper", text="Soteria adopted: limits rebased", showarrow=False,
        xanchor="left", yanchor="bottom", font=dict(color="#00664d", size=13),
    )


def add_funnel_limits(fig: go.Figure, limits: pd.DataFrame, *, clip: bool = False) -> None:
    """Add a funnel plot's 95% (dashed grey) and 99.8% (solid dark grey) limits, upper and
    lower under one legend entry per level, from ``metrics.stats.funnel_limits`` output
    (``n``, ``level``, ``lower``, ``upper``; fractions). ``clip`` draws them within 0-1."""
    for level, dash, colour in ((0.95, "dash", OKABE_ITO["grey"]), (0.998, "solid", "#444444")):
        band = limits[limits["level"].round(4) == round(level, 4)].sort_values("n")
        if band.empty:
            continue
        label = f"{level:.1%} limits".replace(".0%", "%")
        for i, col in enumerate(("upper", "lower")):
            fig.add_trace(go.Scatter(
                x=band["n"], y=band[col].clip(lower=0, upper=1) if clip else band[col],
                mode="lines", name=label, legendgroup=label, showlegend=i == 0,
                line=dict(color=colour, dash=dash, width=1.5), hoverinfo="skip",
            ))


def sparkline(months: pd.Series, values: pd.Series, unit: str, *, height: int = 60) -> go.Figure:
    """A small trend line with no axes, its last point marked. Gaps (NaN) stay gaps."""
    fig = go.Figure(
        go.Scatter(
            x=_x(months), y=list(values), mode="lines", line=dict(color=OKABE_ITO["blue"], width=2),
            hovertemplate="%{x|%b %Y}: %{customdata}<extra></extra>",
            customdata=[format_value(v, unit) for v in values], connectgaps=False,
        )
    )
    valid = [(x, v) for x, v in zip(_x(months), values, strict=True) if not _isnan(v)]
    if valid:
        fig.add_trace(go.Scatter(
            x=[valid[-1][0]], y=[valid[-1][1]], mode="markers", hoverinfo="skip",
            marker=dict(color=OKABE_ITO["blue"], size=7),
        ))
    fig.update_layout(
        height=height, margin=dict(l=0, r=0, t=4, b=4), showlegend=False,
        plot_bgcolor="rgba(0,0,0,0)", paper_bgcolor="rgba(0,0,0,0)",
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def _isnan(v: object) -> bool:
    try:
        return v is None or math.isnan(float(v))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return True


def breakdown_chart(
    frame: pd.DataFrame, *, unit: str, title: str | None = None, height: int | None = None
) -> go.Figure:
    """Horizontal bars by group with 95% interval whiskers.

    ``frame``: ``group``, ``value``, ``ci_low``, ``ci_high``, ``n``, ``status``. Groups whose value
    is held back (gated or suppressed) show no bar and say why in their label.
    """
    frame = frame.reset_index(drop=True)
    labels = []
    for _, row in frame.iterrows():
        status = row.get("status", "ok")
        if status == "ok":
            labels.append(escape_label(row["group"]))
        elif status == "suppressed":
            labels.append(f"{escape_label(row['group'])} (suppressed)")
        else:
            labels.append(f"{escape_label(row['group'])} (too few)")
    shown = frame["status"].eq("ok") if "status" in frame else pd.Series(True, index=frame.index)
    values = frame["value"].where(shown)
    err_plus = (frame.get("ci_high", values) - values).where(shown)
    err_minus = (values - frame.get("ci_low", values)).where(shown)
    fig = go.Figure(go.Bar(
        y=labels, x=values, orientation="h", marker=dict(color=OKABE_ITO["blue"]),
        error_x=dict(type="data", array=err_plus, arrayminus=err_minus, color="#333", width=4),
        customdata=[[format_value(v, unit), "" if _isnan(n) else f"{int(n):,}"]
                    for v, n in zip(values, frame.get("n", values), strict=True)],
        hovertemplate="%{y}: %{customdata[0]} (n = %{customdata[1]})<extra></extra>",
    ))
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(**_y_axis(unit))
    return _layout(fig, title=title, height=height or max(220, 40 * len(frame) + 80))


def survey_trend_chart(trend: pd.DataFrame, *, height: int = 380) -> go.Figure:
    """One line per survey item over quarters (gated quarters are gaps), distinct markers."""
    palette = [OKABE_ITO[c] for c in ("blue", "orange", "green", "purple", "vermillion",
                                      "sky_blue", "black")]
    symbols = ["circle", "square", "diamond", "triangle-up", "x", "star", "cross"]
    fig = go.Figure()
    for i, (item, block) in enumerate(trend.groupby("item", sort=False)):
        fig.add_trace(go.Scatter(
            x=_x(block["quarter"]), y=block["value"], mode="lines+markers", name=escape_label(item),
            line=dict(color=palette[i % len(palette)], width=2),
            marker=dict(symbol=symbols[i % len(symbols)], size=8),
            connectgaps=False,
            hovertemplate="%{x|%b %Y} quarter: %{y:.1%}<extra>" + escape_label(item) + "</extra>",
        ))
    fig.update_yaxes(tickformat=".0%", range=[0, 1])
    return _layout(fig, title=None, height=height)
