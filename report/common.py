"""Names every part of the board pack shares: the marking, audiences, comparisons, sections,
the errors, and small argument helpers. No heavy imports (the CLI reads these first)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

MARKING = "OFFICIAL-SENSITIVE"
ALL_FORCES = "All forces"
AUDIENCES: tuple[str, ...] = ("internal", "panel")
COMPARISONS: dict[str, str] = {
    "previous": "previous window",
    "year_ago": "same window a year earlier",
}

#: A panel figure that disclosure rounding changed (as the app marks it) and its footnote.
ROUNDED_MARK = "†"
ROUNDED_FOOTNOTE = (f"{ROUNDED_MARK} Changed by disclosure control: counts rounded to the "
                    "nearest 5; rates worked out from the rounded counts.")

ProgressFn = Callable[[float, str], None]
#: The pack's sections, in order (the cover and the appendix are always included).
SECTIONS: tuple[str, ...] = ("flight_deck", "pillars", "victim_voice", "compare_forces")


def sections_for(pages: Sequence[str] | None) -> tuple[str, ...]:
    """The sections a reader allowed ``pages`` (app page ids) may see; None: all of them."""
    if pages is None:
        return SECTIONS
    allowed = set(pages)
    out = []
    if "flight_deck" in allowed:
        out.append("flight_deck")
    if allowed & {"flight_deck", "trends"}:
        out.append("pillars")
    out += [s for s in ("victim_voice", "compare_forces") if s in allowed]
    return tuple(out)


class BoardpackError(ValueError):
    """A bad argument (unknown force, bad month, unknown audience or comparison)."""


class UnusableDataError(RuntimeError):
    """The export failed validation, so no pack can be built from it."""



def _get(row: Any, key: str) -> Any:
    """The value of ``key`` in a row (dict, Series or object), or None when it has none."""
    if row is None:
        return None
    try:
        return row[key]
    except (KeyError, IndexError, TypeError):
        return getattr(row, key, None)


def _month(value: str | pd.Period, what: str) -> pd.Period:
    """A month (``YYYY-MM`` text or Period) as a monthly Period; ``BoardpackError`` if not one."""
    if isinstance(value, pd.Period):
        return value.asfreq("M")
    text = str(value)
    if not re.fullmatch(r"\d{4}-\d{2}", text) or not 1 <= int(text[5:]) <= 12:
        raise BoardpackError(f"{what} must be a month as YYYY-MM, not {text!r}")
    return pd.Period(text, freq="M")



