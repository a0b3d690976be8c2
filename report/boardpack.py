"""The board pack: the flight deck as a printable PDF for the performance meeting.

``build_boardpack(dataset, force, start, end, *, audience, comparison, progress, charts)``
returns the bytes of an A4 landscape PDF with numbered pages and the marking
OFFICIAL-SENSITIVE on every page:

1. cover: force, window, comparison window, data as-at date, audience, contents;
2. what changed: the flight deck's "what changed" sentences (``present.sentences``);
3. flight deck: the six pillars, quantitative and qualitative KPIs side by side, each with its
   value and 95% interval (or the gate, ``n = 17 of 30 needed``), the change against the
   comparison window with what its test says, and the verdict as icon and word;
4. one page (or two) per pillar: an SPC chart per KPI and one sentence per special cause;
5. victim voice: every survey item with its gate and interval, and each item before against
   after the force's Soteria adoption (Newcombe interval, Benjamini-Hochberg);
6. compare forces: funnel plots (flags only outside 99.8%; no league table; never in a
   panel pack, as other forces' figures are not shared with a panel);
7. appendix: the definitions, generated from the KPI registry, and how to read the pack.

The work is split by step: :mod:`report.data` gathers the numbers (``compute_kpis`` once per
window, every verdict from ``metrics.verdicts.kpi_verdicts`` with the pack's audience),
:mod:`report.words` words them, :mod:`report.charts` draws the charts as vector graphics (no
browser, so every pack has its charts and prints sharp), :mod:`report.layout` lays out the
pages. No Streamlit import: the app (``ui/downloads.py``), the CLI
(``python -m metrics boardpack``) and the benchmark (``python -m report.boardpack DATA``) call
the same function.
"""

from __future__ import annotations

import io
import os
import re
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from metrics.dataset import Dataset
from metrics.windows import comparison_window
from report.common import (
    ALL_FORCES,
    AUDIENCES,
    COMPARISONS,
    MARKING,
    SECTIONS,
    BoardpackError,
    ProgressFn,
    UnusableDataError,
    _month,
    sections_for,
)
from report.data import (
    FUNNEL_KPIS,
    SPC_HISTORY_MONTHS,
    PackData,
    _funnels,
    _panel_pages,
    check_arguments,
    collect_pack_data,
    spc_frame,
    survey_before_after,
)
from report.words import (
    change_text,
    format_n,
    kpi_detail_text,
    kpi_value_text,
    special_cause_sentences,
    verdict_text,
    verdict_word,
)


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
    scope: str = "all",
    record: Any = None,
    today: date | None = None,
) -> bytes:
    """The board pack PDF (bytes) for ``force`` (or ``"All forces"``) over ``start``..``end``
    (months ``YYYY-MM`` or Periods).

    ``audience``: ``internal`` or ``panel`` (every KPI table disclosure-controlled, verdicts
    worked out from the disclosed figures). ``comparison``: ``previous`` (the same number of
    months just before) or ``year_ago``. ``progress(fraction, message)`` is called as the work
    advances (for a progress bar). ``charts=False`` leaves the charts out (the pack says so).
    ``disclose``: for the panel audience, the function the pack's own KPI tables go through
    instead of ``metrics.disclosure.apply_panel`` (the app passes ``Access.disclose``).
    ``pages``: the app page ids the reader may see (a share link's pages); the pack then holds
    only the matching sections (``flight_deck`` -> flight deck; ``flight_deck`` or ``trends`` ->
    pillar pages; ``victim_voice``; ``compare_forces``). The cover, "what changed" and the
    appendix are always included. A panel pack never has the compare-forces section.
    ``scope``: ``all|adult_rape|child`` (engines that support it).
    ``record``: the meeting record (``metrics.record.Record``): each pillar's commentary is
    printed with its table, the assurance levels and the open and overdue actions (on
    ``today``, default today) on the summary page, and the record KPIs get their values. A
    panel pack prints the commentary and assurance only, without authors' names. A record
    that cannot be read leaves one sentence on the summary page, never a failed pack.
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
    tick(0.02, "Computing KPIs")
    data = collect_pack_data(dataset, force, start, end, audience=audience,
                             comparison=comparison, disclose=disclose, scope=scope,
                             progress=lambda share, message: tick(0.02 + 0.7 * share, message),
                             with_forces="compare_forces" in sections, record=record,
                             today=today)
    funnels = _funnels(data) if "compare_forces" in sections else []
    tick(0.75, "Laying out the pages and drawing the charts")
    from report.layout import render_pack

    note = None if charts else "Charts were left out of this pack on request."
    pdf = render_pack(data, sections, charts=charts, chart_note=note, funnels=funnels)
    tick(1.0, "Board pack ready")
    return pdf


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
    "charts"}``: ``seconds`` (wall-clock) covers ``build_boardpack`` only, ``load_seconds``
    loading the export. For ``make bench`` (``python -m report.boardpack DATA``).
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
    "ALL_FORCES", "AUDIENCES", "COMPARISONS", "FUNNEL_KPIS", "MARKING", "SECTIONS",
    "SPC_HISTORY_MONTHS", "BoardpackError",
    "PackData", "UnusableDataError", "benchmark", "boardpack_filename", "build_boardpack",
    "change_text", "check_arguments", "collect_pack_data", "comparison_window", "format_n",
    "kpi_detail_text", "kpi_value_text", "special_cause_sentences", "spc_frame",
    "sections_for", "survey_before_after", "verdict_text", "verdict_word",
]


if __name__ == "__main__":  # python -m report.boardpack [DATA_DIR]: the benchmark, as JSON
    import json
    import sys

    print(json.dumps(benchmark(sys.argv[1] if len(sys.argv) > 1 else "data/sample")))
