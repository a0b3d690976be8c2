"""Assembling the flight deck: the engine's tables for a view, turned into tiles by pillar.

No formula here: the values, intervals, gates and SPC point types all come from
``metrics.kpis.compute_kpis`` (via the cached ``ui.data``); this module only picks rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import streamlit as st

from metrics.kpis import KpiInputError
from metrics.registry import KPI, PILLARS
from ui.tiles import Tile, build_tile

SPARK_MONTHS = 24
GRID = 6  # tile slots per pillar row: every tile is 1/6 of the pillar wide


@dataclass(frozen=True)
class DeckTables:
    """The three KPI tables behind a flight deck view, for one force."""

    current: pd.DataFrame
    previous: pd.DataFrame
    monthly: pd.DataFrame


def deck_tables(ctx, force: str) -> DeckTables:  # ctx: ui.shell.PageContext
    """Current window, comparison window and monthly series (history up to window end)."""
    current = ctx.kpi_table(ctx.start, ctx.end, forces=[force])
    try:
        previous = ctx.kpi_table(ctx.cmp_start, ctx.cmp_end, forces=[force])
    except KpiInputError:
        previous = current.iloc[0:0]
    monthly = ctx.kpi_table(ctx.choices.first_month, ctx.end, by="month", forces=[force])
    return DeckTables(current, previous, monthly)


def _row(table: pd.DataFrame, kpi_id: str) -> pd.Series | None:
    rows = table[table["kpi_id"] == kpi_id]
    return None if rows.empty else rows.iloc[0]


def _first_rows(table: pd.DataFrame) -> dict[str, pd.Series]:
    """kpi_id -> its first row (as :func:`_row` picks it), indexed once for every tile."""
    first = table.drop_duplicates("kpi_id", keep="first")
    return {str(row["kpi_id"]): row for _, row in first.iterrows()}


def tiles_by_pillar(
    kpis: list[KPI], tables: DeckTables, compare_label: str, spark_months: int = SPARK_MONTHS
) -> dict[int, dict[str, list[Tile]]]:
    """Pillar -> {"quantitative": [...], "qualitative": [...]} tiles, in registry order."""
    out: dict[int, dict[str, list[Tile]]] = {
        p: {"quantitative": [], "qualitative": []} for p in PILLARS
    }
    # sorted once (stable, so each KPI's months keep their order), then split by KPI
    monthly = tables.monthly.sort_values("window_start", kind="stable")
    by_kpi = {k: g for k, g in monthly.groupby("kpi_id", sort=False)}
    current, previous = _first_rows(tables.current), _first_rows(tables.previous)
    for kpi in kpis:
        series = by_kpi.get(kpi.id)
        # the tile's SPC verdict is the last month's point type (the window's end month)
        spark = series.tail(spark_months) if series is not None else None
        tile = build_tile(kpi, current.get(kpi.id), previous.get(kpi.id),
                          spark, compare_label=compare_label)
        out[kpi.pillar][kpi.kind].append(tile)
    return out


@st.cache_data(max_entries=512, show_spinner=False)
def _cached_tiles(
    fingerprint: tuple, force: str, start: str, end: str, cmp_start: str, cmp_end: str,
    first_month: str, compare_label: str, builder: str, _ctx: object,
) -> dict[int, dict[str, list[Tile]]]:
    return tiles_by_pillar(_ctx.kpis, deck_tables(_ctx, force), compare_label)  # type: ignore[attr-defined]


def deck_tiles(ctx, force: str, compare_label: str) -> dict[int, dict[str, list[Tile]]]:
    """:func:`tiles_by_pillar` of :func:`deck_tables`, cached per export and view.

    The tiles are small picklable models, so a new session or a repeated view does no pandas
    work. Keyed on the export's fingerprint, the force, the windows and the comparison label
    (and the tables' builder); panel links are never cached (their disclosure depends on the
    link's scope).
    """
    fingerprint = ctx.loaded.fingerprint
    if ctx.is_panel or not fingerprint or ctx.choices is None:
        return tiles_by_pillar(ctx.kpis, deck_tables(ctx, force), compare_label)
    builder = f"{deck_tables.__module__}.{deck_tables.__qualname__}"
    return _cached_tiles(fingerprint, force, str(ctx.start), str(ctx.end), str(ctx.cmp_start),
                         str(ctx.cmp_end), str(ctx.choices.first_month), compare_label, builder,
                         ctx)


def per_row(n_quant: int, n_qual: int, width: int = 6) -> tuple[int, int]:
    """How many tiles per row on each side of a pillar (quantitative, qualitative).

    Both sides share ``width`` slots; a side with tiles gets at least one slot.
    """
    if n_quant == 0 or n_qual == 0:
        return min(n_quant, width), min(n_qual, width)
    qual = min(n_qual, max(2, width - n_quant))
    quant = min(n_quant, width - qual)
    return quant, qual


def slots(n_quant: int, n_qual: int, width: int = GRID) -> int:
    """Tile slots a pillar needs in a row (both sides)."""
    quant, qual = per_row(n_quant, n_qual, width)
    return quant + qual


def pillar_rows(sizes: dict[int, int], width: int = GRID) -> list[list[int]]:
    """Consecutive pillars share a row while their slots fit in ``width`` (order kept)."""
    rows: list[list[int]] = []
    used = width
    for pillar, size in sizes.items():
        if rows and used + size <= width:
            rows[-1].append(pillar)
            used += size
        else:
            rows.append([pillar])
            used = size
    return rows
