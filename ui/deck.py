"""Assembling the flight deck: the engine's tables for a view, turned into tiles by pillar.

No formula here: the values, intervals, gates and SPC point types all come from
``metrics.kpis.compute_kpis`` (via the cached ``ui.data``); this module only picks rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

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


def tiles_by_pillar(
    kpis: list[KPI], tables: DeckTables, compare_label: str, spark_months: int = SPARK_MONTHS
) -> dict[int, dict[str, list[Tile]]]:
    """Pillar -> {"quantitative": [...], "qualitative": [...]} tiles, in registry order."""
    out: dict[int, dict[str, list[Tile]]] = {
        p: {"quantitative": [], "qualitative": []} for p in PILLARS
    }
    by_kpi = {k: g for k, g in tables.monthly.groupby("kpi_id", sort=False)}
    for kpi in kpis:
        series = by_kpi.get(kpi.id)
        if series is not None:
            series = series.sort_values("window_start")
        # the tile's SPC verdict is the last month's point type (the window's end month)
        spark = series.tail(spark_months) if series is not None else None
        tile = build_tile(kpi, _row(tables.current, kpi.id), _row(tables.previous, kpi.id),
                          spark, compare_label=compare_label)
        out[kpi.pillar][kpi.kind].append(tile)
    return out


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
