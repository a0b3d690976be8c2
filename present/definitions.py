"""The Definitions page's text, generated from the KPI catalogue (``metrics.registry``). No
Streamlit: pure functions returning Markdown, so every definition wraps and is read in full.

Every cell that comes from a declaration (words a force analyst may write in
``FLIGHTDECK_KPIS``) is escaped for Markdown, and ``|`` cannot break a table row. No HTML:
the parts of a cell are separated by ``; ``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from metrics.registry import KPI, PILLARS

UNITS = {"proportion": "per cent", "days": "days (median)", "count": "count",
         "cases": "cases per investigator"}
BETTER = {"higher": "higher is better", "lower": "lower is better", "neutral": "neither"}
INTERVALS = {
    "wilson": "95% Wilson interval",
    "median_order": "95% distribution-free interval of the median",
    "none": "no interval",
}
_MD_SPECIAL = set("\\`*_{}[]()<>#+.!|~$")


def md(text: object) -> str:
    """``text`` with Markdown special characters escaped and newlines as spaces."""
    flat = " ".join(str(text).split())
    return "".join("\\" + ch if ch in _MD_SPECIAL else ch for ch in flat)


def code(text: object) -> str:
    """``text`` as an inline code span (backticks and pipes removed: they cannot be escaped
    inside one)."""
    return "`" + str(text).replace("`", "").replace("|", "") + "`"


def _param_words(params: Mapping[str, object]) -> str:
    return ", ".join(f"{md(k.replace('_', ' '))} = {md(v)}" for k, v in params.items())


def reading(kpi: KPI, names: Mapping[str, str]) -> str:
    """How to read one KPI, as one Markdown cell (parts separated by ``; ``): unit and
    direction, gate, interval (with the census note), when it is measured, maturity, its
    parameters, its balancing measures and whether it follows the case scope."""
    interval = getattr(kpi, "interval", "") or ""
    lines = [f"{UNITS.get(kpi.unit, md(kpi.unit))}, {BETTER.get(kpi.better, md(kpi.better))}",
             f"minimum n: {kpi.min_n}"]
    if interval == "none" and kpi.unit == "proportion":
        lines.append("no interval: a census of the teams, not a sample")
    elif interval:
        lines.append(INTERVALS.get(interval, md(interval)))
    lines.append("measured at window end" if kpi.stock else "measured over the window")
    maturity = int(getattr(kpi, "maturity_days", 0) or 0)
    lines.append(f"maturity: {maturity} days after the window ends (maturing until then)"
                 if maturity else "maturity: final when the window ends")
    params = getattr(kpi, "params", None) or {}
    if params:
        lines.append(f"parameters: {_param_words(params)}")
    balancing = [names.get(b, b) for b in (getattr(kpi, "balancing", ()) or ())]
    if balancing:
        lines.append(f"read beside: {', '.join(md(b) for b in balancing)}")
    scoped = getattr(kpi, "scoped", None)
    if scoped is None:
        scoped = kpi.source not in ("survey_responses", "workforce")
    lines.append("follows the case scope" if scoped else "force-wide (does not follow the "
                 "case scope)")
    targets = getattr(kpi, "targets", None) or {}
    if targets:
        lines.append("targets: " + ", ".join(f"{md(f)} {md(v)}" for f, v in targets.items()))
    return "; ".join(lines)


def origin_words(kpi: KPI, shipped: Path | None = None) -> str:
    """"" for a KPI from the shipped catalogue; else "declared in FILE" (the force's own)."""
    origin = getattr(kpi, "origin", "") or ""
    if not origin:
        return ""
    path = Path(origin)
    base = shipped or Path(__file__).resolve().parents[1] / "metrics" / "catalogue"
    try:
        path.resolve().relative_to(base.resolve())
        return ""
    except ValueError:
        return f"declared in {md(path.name)} (this force's catalogue)"


def pillar_table(kpis: Iterable[KPI], names: Mapping[str, str]) -> str:
    """One pillar's KPIs as a Markdown table (columns Measure, Definition, Reading it) whose
    cells wrap: name and id; the definition with numerator and denominator in words; and
    :func:`reading`."""
    rows = ["| Measure | Definition | Reading it |", "|---|---|---|"]
    for kpi in kpis:
        measure = f"**{md(kpi.name)}** ({code(kpi.id)}), {md(kpi.kind)}"
        extra = origin_words(kpi)
        if extra:
            measure += f"; *{extra}*"
        definition = md(kpi.definition)
        definition += f" **Counted:** {md(kpi.numerator)}"
        if kpi.denominator:
            definition += f". **Out of:** {md(kpi.denominator)}"
        rows.append(f"| {measure} | {definition} | {reading(kpi, names)} |")
    return "\n".join(rows)


def catalogue_markdown(kpis: Iterable[KPI]) -> list[tuple[str, str]]:
    """(pillar heading, Markdown table) for every pillar with a KPI, in pillar order."""
    kpis = list(kpis)
    names = {k.id: k.name for k in kpis}
    out = []
    for pillar, title in PILLARS.items():
        mine = [k for k in kpis if k.pillar == pillar]
        if mine:
            out.append((f"{pillar} · {title}", pillar_table(mine, names)))
    return out
