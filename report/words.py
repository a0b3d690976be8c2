"""What the pack says in words: KPI values, gates, changes, verdicts and one sentence per
special cause on an SPC chart. Pure (no ReportLab), shared by the layout and the tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from metrics.registry import KPI
from present.format import (
    format_change,
    format_interval,
    is_missing,
    verdict,
)
from present.format import (
    kpi_value_text as format_kpi_value_text,  # the name kpi_value_text is this module's own
)
from report.common import _get

SENTENCES_PER_KPI = 2

def format_n(n: object) -> str:
    """A count for the pack: ``n = 1,234``; empty when there is none."""
    return "" if is_missing(n) else f"n = {float(n):,.0f}"  # type: ignore[arg-type]


def kpi_value_text(kpi: KPI, row: Any) -> str:
    """The main text of a KPI cell, exactly as printed in the pack and shown on screen
    (``present.format.kpi_value_text``)."""
    return format_kpi_value_text(_get(row, "status"), _get(row, "value"), kpi.unit,
                                 _get(row, "provisional"), _get(row, "n"), kpi.min_n)


def kpi_detail_text(kpi: KPI, row: Any) -> str:
    """The small print under a KPI value: the 95% interval and n (when there are any)."""
    if _get(row, "status") != "ok":
        return ""
    parts = [format_interval(_get(row, "ci_low"), _get(row, "ci_high"), kpi.unit)]
    if kpi.unit != "count":
        parts.append(format_n(_get(row, "n")))
    return "; ".join(p for p in parts if p)


#: What the change test said, after the change's size.
CHANGE_TEST_WORDS: dict[str, str] = {
    "better": "real: better", "worse": "real: worse", "higher": "real", "lower": "real",
    "no_clear_change": "could be chance", "not_comparable": "not comparable",
}


def verdict_word(row: Any) -> str:
    """A verdict-frame row's verdict as icon and word, e.g. ``✔ Improving`` (the flight
    deck tile's words, ``present.tiles.VERDICT_STYLES``); a maturing KPI adds the date its
    figures are final (``◷ Maturing (final on 12 Mar 2027)``). ``– No verdict`` for no row."""
    key = _get(row, "verdict")
    if not isinstance(key, str):
        return "– No verdict"
    from present.tiles import VERDICT_STYLES

    style = VERDICT_STYLES.get(key)
    icon, word = (style.icon, style.word) if style is not None else (
        "–", key.replace("_", " ").capitalize())
    final_on = _get(row, "final_on")
    if key == "maturing" and final_on is not None and not is_missing_date(final_on):
        word += f" (final on {pd.Timestamp(final_on).strftime('%d %b %Y')})"
    return f"{icon} {word}"


def is_missing_date(value: Any) -> bool:
    """True for None, NaT or NaN."""
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def change_text(kpi: KPI, row: Any, previous: Any = None) -> str:
    """The change against the comparison window, e.g. ``↑ +0.8 pts (real: better)``.

    ``row``: a verdict-frame row (its ``compare_value`` and ``change_verdict``: the change
    test decides "real" or "could be chance"), or an engine row with ``previous`` the
    comparison window's engine row (then the size alone). ``no comparison`` when either side
    has no value."""
    if _get(row, "status") != "ok":
        return "no comparison"
    has_compare = isinstance(row, dict) and "compare_value" in row
    before = _get(row, "compare_value") if has_compare else (
        _get(previous, "value") if _get(previous, "status") == "ok" else None)
    if is_missing(before) or is_missing(_get(row, "value")):
        return "no comparison"
    change = format_change(_get(row, "value"), before, kpi.unit, kpi.better)
    test = _get(row, "change_verdict") if has_compare else None
    if isinstance(test, str) and test in CHANGE_TEST_WORDS:
        return f"{change.text} ({CHANGE_TEST_WORDS[test]})"
    return change.text


def change_short(kpi: KPI, row: Any, previous: Any = None) -> str:
    """The change for a narrow cell: its size, and ``(real)`` only when the change test says
    so (``+7.5 pts (real)``, ``−0.6 pts``); ``no comparison`` when either side is missing."""
    full = change_text(kpi, row, previous)
    if full == "no comparison" or "(" not in full:
        return full
    size, _, test = full.partition(" (")
    return f"{size} (real)" if test.startswith("real") else size


def verdict_text(point_type: str | None, above_centre: bool | None = None) -> str:
    """The SPC verdict as an icon plus a text label, e.g. ``▲ Improvement``."""
    return verdict(point_type, above_centre).text


SPECIAL_TYPES = ("special_cause_improvement", "special_cause_concern",
                 "special_cause_neutral_high", "special_cause_neutral_low")
_VERDICT_WORD = {
    "special_cause_improvement": "improvement",
    "special_cause_concern": "concern",
    "special_cause_neutral_high": "unusually high",
    "special_cause_neutral_low": "unusually low",
}



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

