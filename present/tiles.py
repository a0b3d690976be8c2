"""The flight deck's tile model: one verdict per measure, as a word, an icon and a colour.

Pure (no Streamlit): :func:`build_tiles` turns the verdict frame of
``metrics.verdicts.kpi_verdicts`` (one row per KPI for the view) and the registry's KPIs into
:class:`Tile` objects of display strings. It computes nothing statistical: the verdict, the
change test and the SPC evidence all come from that frame. What it adds is presentation:

* the verdict's **word, icon and colour come from one table** (:data:`VERDICT_STYLES`), so
  they can never disagree; the gate and maturity verdicts carry their numbers in the word
  ("17 of 30 replies needed", "n = 7 of 10 needed", "Maturing — final on 12 Mar 2027");
* the change is a number with its 95% interval ("+1.2 pts, −2.1 to +4.5"), **coloured only
  when the change test says it is real** (``change_verdict`` better/worse, or higher/lower for
  a measure with no better direction);
* a guard: a tile never shows two signals that point different ways. When the verdict says
  improving or deteriorating but the real change points the other way (which
  ``kpi_verdicts`` should already have called ``mixed``), the tile says **Mixed signals**.

See docs/flight-deck.md for how a tile's verdict is shown.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass, replace

import pandas as pd

from present.format import (
    SO_FAR,
    format_date,
    format_difference,
    format_interval,
    format_value,
    gate_count,
    gate_text,
)

#: Colours for text on white or the tile's light grey: every one reaches 4.5:1 (WCAG AA),
#: and each verdict also has its own icon and word, so colour is never the only signal.
TONE_COLOURS: dict[str, str] = {
    "good": "#005A9C",  # blue (Okabe-Ito blue, darkened for text contrast)
    "bad": "#A63D00",  # dark orange (Okabe-Ito vermillion, darkened)
    "mixed": "#6A3D9A",  # purple
    "neutral": "#4D4D4D",  # dark grey
    "pending": "#4D4D4D",
}


@dataclass(frozen=True)
class VerdictStyle:
    """How one verdict looks: its word, icon and tone (colour key of :data:`TONE_COLOURS`)."""

    word: str
    icon: str
    tone: str


#: verdict key of ``kpi_verdicts`` -> its style. ``maturing`` and ``insufficient`` get their
#: numbers added to the word by :func:`verdict_word`.
VERDICT_STYLES: dict[str, VerdictStyle] = {
    "improving": VerdictStyle("Improving", "✔", "good"),
    "deteriorating": VerdictStyle("Deteriorating", "✖", "bad"),
    "no_clear_change": VerdictStyle("No clear change", "●", "neutral"),
    "mixed": VerdictStyle("Mixed signals", "◆", "mixed"),
    # a real change (test or SPC) of a measure with no better direction: never "no clear change"
    "higher": VerdictStyle("Higher", "▲", "neutral"),
    "lower": VerdictStyle("Lower", "▼", "neutral"),
    "maturing": VerdictStyle("Maturing", "◷", "pending"),
    "insufficient": VerdictStyle("Too few to show", "○", "pending"),
    "suppressed": VerdictStyle("Suppressed (small number)", "○", "pending"),
    "no_data": VerdictStyle("No data", "–", "pending"),
    # no verdict for this row (absent or unrecognised): say so rather than guess
    "unknown": VerdictStyle("No verdict yet", "–", "pending"),
}

#: change_verdict -> tone of the change text (None: not coloured, the test says not real).
CHANGE_TONES: dict[str, str | None] = {
    "better": "good", "worse": "bad", "higher": "neutral", "lower": "neutral",
}
ASSURANCE_WORDS: dict[str, str] = {
    "assured": "Assured", "partly_assured": "Partly assured", "not_assured": "Not assured",
}


@dataclass(frozen=True)
class Tile:
    """Everything one tile (or compact row) shows, as text; no numbers left to format.

    ``verdict`` is the key of :data:`VERDICT_STYLES`; ``word``/``icon``/``colour`` its look.
    ``change_colour`` is ``None`` unless the change test says the change is real.
    """

    kpi_id: str
    name: str
    pillar: int
    kind: str  # quantitative | qualitative
    unit: str
    status: str  # ok | insufficient | no_data | suppressed
    value_text: str  # "34.5%"; "–" when the value is held back
    interval_text: str  # "95% CI 30.1–38.9%" or ""
    verdict: str
    word: str
    icon: str
    colour: str
    change_text: str  # "+1.2 pts, −2.1 to +4.5", or "no comparison"
    change_colour: str | None
    change_real: bool
    evidence: str  # plain words behind the verdict ("below the process limits for 3 months")
    provisional: bool = False  # the window is still maturing: a shown value can still move
    # "chart: 7 months in a row below the average" when a special cause on the SPC chart
    # speaks in the verdict (so a verdict beside a change that is not real says where it
    # comes from); "" otherwise
    chart_text: str = ""
    help: str = ""
    comment: str = ""  # "Comment: Partly assured" when the meeting record holds one
    comment_assurance: str | None = None
    # why there is nothing to show, when the export lacks the KPI's table:
    # "this export has no devices.parquet"; "" otherwise
    absent_text: str = ""

    @property
    def shows_value(self) -> bool:
        """True when the value is shown (status ok), False when gated, suppressed or absent."""
        return self.status == "ok"

    @property
    def verdict_text(self) -> str:
        """Icon and word together, as screen readers and the board pack read them."""
        return f"{self.icon} {self.word}"

    @property
    def verdict_and_chart(self) -> str:
        """The verdict with the chart's evidence when it speaks, for a single cell:
        "✔ Improving (chart: 2 of the last 3 months close to the upper process limit)"."""
        return self.verdict_text + (f" ({self.chart_text})" if self.chart_text else "")

    @property
    def value_note(self) -> str:
        """"so far" when a shown value belongs to a window still maturing, else ""."""
        return SO_FAR if self.shows_value and self.provisional else ""

    @property
    def tone(self) -> str:
        """The verdict's tone key (good, bad, mixed, neutral, pending)."""
        return VERDICT_STYLES[self.verdict].tone


def _val(row: Mapping[str, object] | pd.Series, col: str) -> object:
    """A cell of a verdict row, None when absent or missing (NaN, NA, NaT)."""
    value = row.get(col) if hasattr(row, "get") else None
    if value is None:
        return None
    try:
        if pd.isna(value):  # type: ignore[arg-type]
            return None
    except (TypeError, ValueError):
        pass
    return value


def is_survey(kpi: object) -> bool:
    """True for a victim-survey item KPI (counts are survey replies)."""
    return getattr(kpi, "source", "") == "survey_responses"


def gate_word(kpi: object, n: object) -> str:
    """The gate as the tile's word: "17 of 30 replies needed" (survey) or "n = 7 of 10 needed"."""
    min_n = int(getattr(kpi, "min_n", 0))
    shown = gate_count(n, min_n)
    if not is_survey(kpi):
        return gate_text(n, min_n)
    if shown is None:
        return f"fewer than {min_n} of {min_n} replies needed"
    return f"{shown} of {min_n} replies needed"


def verdict_key(row: Mapping[str, object] | pd.Series) -> str:
    """The verdict key for a verdict row: status first (no data, gate, suppressed), then
    ``verdict``; an unknown or absent verdict is ``unknown`` (never guessed)."""
    status = str(_val(row, "status") or "no_data")
    if status == "no_data":
        return "no_data"
    if status == "insufficient":
        return "insufficient"
    if status == "suppressed":
        return "suppressed"
    verdict = _val(row, "verdict")
    if verdict in ("insufficient", "no_data") and status == "ok":
        return str(verdict)
    return str(verdict) if verdict in VERDICT_STYLES else "unknown"


def verdict_word(kpi: object, row: Mapping[str, object] | pd.Series, key: str) -> str:
    """The verdict's word with its numbers: the gate, or the maturity date."""
    if key == "insufficient":
        return gate_word(kpi, _val(row, "n"))
    if key == "maturing":
        final_on = _val(row, "final_on")
        if final_on is not None:
            return f"Maturing — final on {format_date(final_on)}"
        return "Maturing"
    return VERDICT_STYLES[key].word


#: verdicts a special cause on the chart can give (the tile then says so beside the change)
CHART_VERDICTS = frozenset({"improving", "deteriorating", "mixed", "higher", "lower"})


def change_is_real(row: Mapping[str, object] | pd.Series) -> bool:
    """True when the change test says the change is real (better, worse, higher, lower)."""
    return _val(row, "change_verdict") in CHANGE_TONES


def _direction_conflict(key: str, change_verdict: object) -> bool:
    """A real change that points against an improving/deteriorating verdict."""
    return (key == "improving" and change_verdict == "worse") or (
        key == "deteriorating" and change_verdict == "better")


def _neutral_change(row: Mapping[str, object] | pd.Series) -> str | None:
    """"higher"/"lower" when a measure with no better direction changed for real (its change
    test says higher/lower, or its SPC point is a neutral special cause), else None."""
    change = _val(row, "change_verdict")
    if change in ("higher", "lower"):
        return str(change)
    point = _val(row, "spc_point_type")
    return {"special_cause_neutral_high": "higher",
            "special_cause_neutral_low": "lower"}.get(str(point))


def build_tile(
    kpi: object,
    row: Mapping[str, object] | pd.Series | None,
    *,
    comment: object | None = None,
) -> Tile:
    """One tile from a KPI's registry entry and its ``kpi_verdicts`` row (None: no data).

    ``comment``: the meeting record's latest comment for this KPI and view (an object with an
    ``assurance`` attribute), or None.
    """
    row = row if row is not None else {"status": "no_data"}
    status = str(_val(row, "status") or "no_data")
    unit = str(getattr(kpi, "unit", ""))
    key = verdict_key(row)
    change_verdict = _val(row, "change_verdict")
    if key in ("improving", "deteriorating") and _direction_conflict(key, change_verdict):
        key = "mixed"
    if key == "no_clear_change":
        key = _neutral_change(row) or key
    style = VERDICT_STYLES[key]
    shows = status == "ok"
    value_text = format_value(_val(row, "value"), unit) if shows else "–"  # type: ignore[arg-type]
    interval = (format_interval(_val(row, "ci_low"), _val(row, "ci_high"), unit)  # type: ignore[arg-type]
                if shows else "")
    real = shows and change_is_real(row)
    if shows and _val(row, "difference") is not None:
        change_text = format_difference(_val(row, "difference"), _val(row, "diff_ci_low"),  # type: ignore[arg-type]
                                        _val(row, "diff_ci_high"), unit)  # type: ignore[arg-type]
    else:
        change_text = "no comparison"
    tone = CHANGE_TONES.get(str(change_verdict)) if real else None
    evidence = str(_val(row, "spc_evidence") or "")
    chart_text = (f"chart: {evidence}" if shows and evidence and key in CHART_VERDICTS
                  and str(_val(row, "spc_point_type") or "").startswith("special_cause")
                  else "")
    assurance = getattr(comment, "assurance", None) if comment is not None else None
    return Tile(
        kpi_id=str(getattr(kpi, "id", "")), name=str(getattr(kpi, "name", "")),
        pillar=int(getattr(kpi, "pillar", 0)), kind=str(getattr(kpi, "kind", "")), unit=unit,
        status=status, value_text=value_text, interval_text=interval, verdict=key,
        word=verdict_word(kpi, row, key), icon=style.icon, colour=TONE_COLOURS[style.tone],
        change_text=change_text, change_colour=TONE_COLOURS[tone] if tone else None,
        change_real=real, evidence=evidence, provisional=bool(_val(row, "provisional") or False),
        chart_text=chart_text,
        help=str(getattr(kpi, "definition", "")),
        comment=(f"Comment: {ASSURANCE_WORDS.get(str(assurance), 'no assurance level')}"
                 if comment is not None else ""),
        comment_assurance=str(assurance) if assurance is not None else None,
    )


def rows_by_kpi(verdicts: pd.DataFrame | None) -> dict[str, pd.Series]:
    """The verdict frame's first row per KPI id (empty for no frame)."""
    rows: dict[str, pd.Series] = {}
    if verdicts is not None and not verdicts.empty:
        for _, row in verdicts.drop_duplicates("kpi_id", keep="first").iterrows():
            rows[str(row["kpi_id"])] = row
    return rows


NO_RECORD_WORDS = "no meeting record is connected"
NO_REVIEW_WORDS = "no case review in the meeting record for this window"
UNREADABLE_RECORD_WORDS = "the meeting record could not be read"
UNREADABLE = "unreadable"
"""The ``record`` state of :func:`absent_words` for a connected record that failed to read
(also the first item of ``ui.data.record_stamp`` for such a record)."""


def absent_words(kpi: object, tables: Container[str] | None,
                 record: bool | str | None = None) -> str:
    """Why a "No data" row has no data, in words, or "" when that is not known.

    An export KPI: "this export has no devices.parquet" when its source table is not among
    the export's ``tables`` (None: not known). A meeting record KPI (``source = "record"``),
    by ``record``: False (none connected) :data:`NO_RECORD_WORDS`; True (connected and read,
    but no reviewed case in the window) :data:`NO_REVIEW_WORDS`; :data:`UNREADABLE`
    (connected, but reading it failed) :data:`UNREADABLE_RECORD_WORDS`; None (not known) ""."""
    from metrics.registry import RECORD_SOURCE

    source = str(getattr(kpi, "source", ""))
    if source == RECORD_SOURCE:
        if record is None:
            return ""
        if record == UNREADABLE:
            return UNREADABLE_RECORD_WORDS
        return NO_REVIEW_WORDS if record else NO_RECORD_WORDS
    if tables is None or not source or source in tables:
        return ""
    return f"this export has no {source}.parquet"


def build_tiles(
    kpis: Iterable[object],
    verdicts: pd.DataFrame,
    *,
    comments: Mapping[str, object] | None = None,
    tables: Container[str] | None = None,
    record: bool | str | None = None,
) -> dict[int, dict[str, list[Tile]]]:
    """Pillar -> {"quantitative": [...], "qualitative": [...]} tiles, in registry order.

    ``verdicts``: the ``kpi_verdicts`` frame (one row per KPI; a KPI with no row gets a
    "No data" tile). ``comments``: kpi_id -> latest comment from the meeting record.
    ``tables``: the export's table names, so a "No data" tile whose table is missing says so
    (``Tile.absent_text``); ``record``: the meeting record's state as :func:`absent_words`
    takes it (connected, none, :data:`UNREADABLE`; None: not known), so its KPIs' "No data"
    tiles say why. Every pillar of ``metrics.registry.PILLARS`` is present, even when empty.
    """
    from metrics.registry import PILLARS

    rows = rows_by_kpi(verdicts)
    comments = comments or {}
    out: dict[int, dict[str, list[Tile]]] = {
        p: {"quantitative": [], "qualitative": []} for p in PILLARS}
    for kpi in kpis:
        tile = build_tile(kpi, rows.get(kpi.id), comment=comments.get(kpi.id))  # type: ignore[attr-defined]
        if tile.status == "no_data":
            tile = replace(tile, absent_text=absent_words(kpi, tables, record))
        out.setdefault(tile.pillar, {"quantitative": [], "qualitative": []})
        out[tile.pillar].setdefault(tile.kind, []).append(tile)
    return out


def pillar_counts(tiles: Iterable[Tile]) -> dict[str, int]:
    """How many tiles of a pillar say each verdict (keys of :data:`VERDICT_STYLES`)."""
    counts: dict[str, int] = {}
    for tile in tiles:
        counts[tile.verdict] = counts.get(tile.verdict, 0) + 1
    return counts

