"""KPI tiles for the flight deck: a pure model built from KPI-table rows, and its rendering.

:func:`build_tile` turns the engine's rows (current window, comparison window, monthly series)
into a :class:`Tile` of display strings; it holds no formula. :func:`render_tile` draws one
with Streamlit: the value in plain units (or the gate, "n = 17 of 30 needed"), its 95%
interval, the change against the comparison, a sparkline and the SPC verdict as an icon with a
text label.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd
import streamlit as st

from metrics.registry import KPI
from present.format import (
    Change,
    Verdict,
    format_change,
    format_interval,
    format_value,
    gate_text,
    verdict,
)

# Streamlit's named colours nearest the Okabe-Ito roles used in the charts.
VERDICT_BADGE: dict[str | None, str] = {
    "special_cause_improvement": "blue",
    "special_cause_concern": "orange",
    "special_cause_neutral_high": "violet",
    "special_cause_neutral_low": "violet",
    "common_cause": "gray",
    None: "gray",
}
CHANGE_COLOUR: dict[str, str] = {
    "better": "blue", "worse": "orange", "same": "gray", "neutral": "gray", "none": "gray",
}
_MD_SPECIAL = set("\\`*_{}[]()<>#+-.!|~$:")


def escape_md(text: object) -> str:
    """Backslash-escape Markdown specials (text from the data is never rendered as markup)."""
    return "".join("\\" + ch if ch in _MD_SPECIAL else ch for ch in str(text))


@dataclass(frozen=True)
class Tile:
    """Everything one tile shows, as text and numbers."""

    kpi_id: str
    name: str
    kind: str
    unit: str
    status: str  # ok | insufficient | no_data | suppressed
    value_text: str  # "34.5%", or the gate text, or "No data"
    interval_text: str
    change: Change
    compare_label: str
    verdict: Verdict
    spark: Sequence[float] = field(default_factory=tuple)
    help: str = ""

    @property
    def shows_value(self) -> bool:
        return self.status == "ok"


def _get(row: pd.Series | None, col: str) -> object:
    if row is None or col not in row.index:
        return None
    value = row[col]
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def _above(point_type: str | None, better: str) -> bool | None:
    """Whether a special cause lies above the mean, from its type and the KPI's direction."""
    if point_type == "special_cause_improvement":
        return better != "lower"
    if point_type == "special_cause_concern":
        return better == "lower"
    return None


def build_tile(
    kpi: KPI,
    current: pd.Series | None,
    previous: pd.Series | None,
    series: pd.DataFrame | None,
    *,
    compare_label: str,
) -> Tile:
    """A tile from one KPI's rows of the KPI tables.

    ``current``/``previous``: the window and comparison rows (``compute_kpis`` columns);
    ``series``: the monthly rows up to the window's end (with ``spc``), oldest first.
    """
    status = str(_get(current, "status") or "no_data")
    value = _get(current, "value")
    if status == "ok":
        value_text = format_value(value, kpi.unit)  # type: ignore[arg-type]
    elif status == "insufficient":
        value_text = gate_text(_get(current, "n"), kpi.min_n)  # type: ignore[arg-type]
    elif status == "suppressed":
        value_text = "Suppressed (small number)"
    else:
        value_text = "No data"
    interval = format_interval(_get(current, "ci_low"), _get(current, "ci_high"), kpi.unit)
    prev_value = _get(previous, "value") if _get(previous, "status") == "ok" else None
    change = format_change(value if status == "ok" else None, prev_value,  # type: ignore[arg-type]
                           kpi.unit, kpi.better)
    spark: tuple[float, ...] = ()
    point_type = None
    if series is not None and not series.empty:
        ok = series["status"].eq("ok")
        spark = tuple(float(v) if o else math.nan for v, o in zip(series["value"], ok,
                                                                   strict=True))
        if "spc" in series.columns:
            last = series["spc"].iloc[-1]
            point_type = last if isinstance(last, str) else None
    return Tile(
        kpi_id=kpi.id, name=kpi.name, kind=kpi.kind, unit=kpi.unit, status=status,
        value_text=value_text, interval_text=interval, change=change,
        compare_label=compare_label, verdict=verdict(point_type, _above(point_type, kpi.better)),
        spark=spark, help=kpi.definition,
    )


def render_tile(tile: Tile) -> None:
    """Draw one tile in the current container (a bordered box)."""
    with st.container(border=True):
        spark = [v for v in tile.spark] if tile.shows_value else None
        has_spark = bool(spark) and sum(0 if math.isnan(v) else 1 for v in spark or ()) > 1
        if tile.shows_value:
            delta = None
            if tile.change.judgement not in ("none",):
                delta = tile.change.text.replace("−", "-")
                if tile.change.judgement == "same":
                    delta = 0
            st.metric(
                escape_md(tile.name), tile.value_text, delta=delta,
                delta_color=CHANGE_COLOUR[tile.change.judgement],  # type: ignore[arg-type]
                help=escape_md(tile.help), chart_data=spark if has_spark else None,
                chart_type="line",
            )
        else:
            st.metric(escape_md(tile.name), "–", help=escape_md(tile.help))
            st.markdown(f"**{escape_md(tile.value_text)}**")
        lines = []
        words = _change_words(tile)
        if tile.shows_value and words:
            lines.append(f"**{words}**")
        if tile.interval_text:
            lines.append(tile.interval_text)
        if tile.shows_value and tile.change.judgement == "none":
            lines.append(f"no {tile.compare_label.lower()} to compare")
        colour = VERDICT_BADGE.get(tile.verdict.point_type, "gray")
        badge = f":{colour}-badge[{tile.verdict.icon} {escape_md(tile.verdict.label)}]"
        # one element for the words under the value and the verdict (each element is a
        # message to the browser): the caption's line, then the badge as its own paragraph
        st.markdown(f":small[:gray[{' · '.join(lines)}]]\n\n{badge}" if lines else badge)


def _change_words(tile: Tile) -> str:
    """The delta's words: better or worse (never colour alone); empty when not judged."""
    return {"better": "better", "worse": "worse"}.get(tile.change.judgement, "")
