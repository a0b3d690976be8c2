"""The view's state and its URL form: pure functions, no Streamlit.

A view is a force, a window (a run of whole calendar months), a comparison window and, on
the Trends page, a pillar and KPI. The URL query parameters (names fixed in TEAM-NOTES) are
``force``, ``window`` (``last_month|last_quarter|last_12_months|custom``), ``from``/``to``
(``YYYY-MM``, custom windows only), ``compare`` (``previous|year_ago``), ``pillar``, ``kpi``
and ``scope`` (``all|adult_rape|child``: the case scope every KPI is read for; default ``all``,
left out of the URL).

``decode`` never raises: a bad or stale value falls back to its default and adds a plain note
that the app shows on screen. ``encode`` is its inverse, so ``decode(encode(s)) == s`` for any
valid state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import pandas as pd

ALL_FORCES = "All forces"

WINDOWS: dict[str, str] = {
    "last_month": "Last month",
    "last_quarter": "Last quarter",
    "last_12_months": "Last 12 months",
    "custom": "Custom months",
}
WINDOW_MONTHS: dict[str, int] = {"last_month": 1, "last_quarter": 3, "last_12_months": 12}
COMPARES: dict[str, str] = {
    "previous": "Previous window",
    "year_ago": "Same window a year earlier",
}
#: Case scopes (issue 11): every case-linked KPI can be read for one of these.
SCOPES: dict[str, str] = {
    "all": "All RASSO",
    "adult_rape": "Adult rape",
    "child": "Child victims",
}
#: How a window line names a scope other than ``all`` (e.g. "adult rape only").
SCOPE_WORDS: dict[str, str] = {
    "all": "",
    "adult_rape": "adult rape only (offence group rape, victim aged 18 or over)",
    "child": "child victims only (victim under 18)",
}
DEFAULT_SCOPE = "all"
DEFAULT_WINDOW = "last_quarter"
DEFAULT_COMPARE = "previous"

#: The query parameters this module owns; others (e.g. ``share``) are left alone.
PARAM_KEYS: tuple[str, ...] = ("force", "window", "from", "to", "compare", "pillar", "kpi",
                               "scope")


@dataclass(frozen=True)
class ViewState:
    """One view of the flight deck. Months are ``YYYY-MM`` strings (only used for custom)."""

    force: str = ALL_FORCES
    window: str = DEFAULT_WINDOW
    start: str | None = None
    end: str | None = None
    compare: str = DEFAULT_COMPARE
    pillar: int | None = None
    kpi: str | None = None
    scope: str = DEFAULT_SCOPE


@dataclass(frozen=True)
class Choices:
    """What is valid for this export: forces, the months it covers, pillars and KPI ids."""

    forces: Sequence[str]
    first_month: pd.Period
    last_month: pd.Period
    pillars: Sequence[int] = (1, 2, 3, 4, 5, 6)
    kpi_ids: Sequence[str] = ()

    @property
    def months(self) -> list[str]:
        """Every month from first to last, as ``YYYY-MM``."""
        if self.last_month < self.first_month:
            return []
        return [str(p) for p in pd.period_range(self.first_month, self.last_month, freq="M")]


def parse_month(text: object) -> pd.Period | None:
    """A ``YYYY-MM`` string as a monthly Period, or None when it is not one."""
    if not isinstance(text, str) or len(text) != 7 or text[4] != "-":
        return None
    year, month = text[:4], text[5:]
    if not (year.isdigit() and month.isdigit()) or not 1 <= int(month) <= 12:
        return None
    return pd.Period(year=int(year), month=int(month), freq="M")


def _first(value: object) -> str | None:
    """A query parameter's value as one string (repeated parameters: the last one wins)."""
    if isinstance(value, list | tuple):
        value = value[-1] if value else None
    if value is None:
        return None
    return str(value).strip()


def default_force(forces: Sequence[str]) -> str:
    """The force a view shows when none is asked for: the export's only force when it holds
    one (a force's own export, where "All forces" would be the same figures under another
    name), else :data:`ALL_FORCES`."""
    return forces[0] if len(forces) == 1 else ALL_FORCES


def decode(params: Mapping[str, object], choices: Choices) -> tuple[ViewState, list[str]]:
    """The view a URL asks for, and a note for every value that was bad or stale.

    Never raises. A value that is unknown, malformed or outside the export falls back to the
    default for that field (the force: :func:`default_force`); the returned notes say what was
    ignored, in plain words.
    """
    notes: list[str] = []
    state = ViewState(force=default_force(choices.forces))

    force = _first(params.get("force"))
    if force:
        if force == ALL_FORCES or force in choices.forces:
            state = replace(state, force=force)
        else:
            notes.append(f"Force '{force}' is not in this export; showing {state.force}.")

    window = _first(params.get("window"))
    if window:
        if window in WINDOWS:
            state = replace(state, window=window)
        else:
            notes.append(
                f"Window '{window}' is not one of {', '.join(WINDOWS)}; "
                f"showing {WINDOWS[DEFAULT_WINDOW].lower()}."
            )

    if state.window == "custom":
        state, custom_notes = _decode_custom(params, choices, state)
        notes.extend(custom_notes)
    elif _first(params.get("from")) or _first(params.get("to")):
        notes.append("'from' and 'to' only apply to a custom window; ignored.")

    compare = _first(params.get("compare"))
    if compare:
        if compare in COMPARES:
            state = replace(state, compare=compare)
        else:
            notes.append(
                f"Comparison '{compare}' is not one of {', '.join(COMPARES)}; "
                f"comparing with the {COMPARES[DEFAULT_COMPARE].lower()}."
            )

    pillar = _first(params.get("pillar"))
    if pillar:
        if pillar.isdigit() and int(pillar) in choices.pillars:
            state = replace(state, pillar=int(pillar))
        else:
            notes.append(f"Pillar '{pillar}' does not exist (pillars are 1 to 6); ignored.")

    kpi = _first(params.get("kpi"))
    if kpi:
        if kpi in choices.kpi_ids:
            state = replace(state, kpi=kpi)
        else:
            notes.append(f"KPI '{kpi}' is not in this export's catalogue; ignored.")

    scope = _first(params.get("scope"))
    if scope:
        if scope in SCOPES:
            state = replace(state, scope=scope)
        else:
            notes.append(f"Scope '{scope}' is not one of {', '.join(SCOPES)}; "
                         f"showing {SCOPES[DEFAULT_SCOPE]}.")  # "All RASSO": an acronym
    return state, notes


def _decode_custom(
    params: Mapping[str, object], choices: Choices, state: ViewState
) -> tuple[ViewState, list[str]]:
    """The ``from``/``to`` months of a custom window, clipped to the export's months."""
    notes: list[str] = []
    start_text, end_text = _first(params.get("from")), _first(params.get("to"))
    start, end = parse_month(start_text), parse_month(end_text)
    if start_text and start is None:
        notes.append(f"'from={start_text}' is not a month (YYYY-MM).")
    if end_text and end is None:
        notes.append(f"'to={end_text}' is not a month (YYYY-MM).")
    in_range = [
        p is not None and choices.first_month <= p <= choices.last_month for p in (start, end)
    ]
    if start is not None and end is not None and all(in_range) and start <= end:
        return replace(state, start=str(start), end=str(end)), notes
    if start is not None and end is not None and start > end:
        notes.append(f"Custom window {start} to {end} runs backwards.")
    elif (start is not None and not in_range[0]) or (end is not None and not in_range[1]):
        notes.append(
            f"Custom months must lie between {choices.first_month} and {choices.last_month} "
            "(the export's whole months)."
        )
    elif start is None or end is None:
        notes.append("A custom window needs both 'from' and 'to' months.")
    notes.append(f"Showing {WINDOWS[DEFAULT_WINDOW].lower()} instead.")
    return replace(state, window=DEFAULT_WINDOW, start=None, end=None), notes


def encode(state: ViewState) -> dict[str, str]:
    """The query parameters for a view (only the fields that apply to it)."""
    params = {"force": state.force, "window": state.window}
    if state.window == "custom" and state.start and state.end:
        params["from"], params["to"] = state.start, state.end
    params["compare"] = state.compare
    if state.pillar is not None:
        params["pillar"] = str(state.pillar)
    if state.kpi:
        params["kpi"] = state.kpi
    if state.scope != DEFAULT_SCOPE:
        params["scope"] = state.scope
    return params


def window_bounds(state: ViewState, last_month: pd.Period) -> tuple[pd.Period, pd.Period]:
    """The first and last month of the view's window, given the export's last whole month."""
    if state.window == "custom" and state.start and state.end:
        start, end = parse_month(state.start), parse_month(state.end)
        if start is not None and end is not None:
            return start, end
    months = WINDOW_MONTHS.get(state.window, WINDOW_MONTHS[DEFAULT_WINDOW])
    return last_month - (months - 1), last_month


