""""What changed": the few plain sentences that open the flight deck and the board pack.

Pure (no Streamlit). :func:`what_changed` reads the verdict frame of
``metrics.verdicts.kpi_verdicts`` (one row per KPI for the view) and the registry's KPIs and
returns at most ``limit`` (six) :class:`Sentence` objects, each with its numbers:

1. one sentence per measure that **changed for real** — its verdict is improving,
   deteriorating or mixed, or its change test says real (``change_verdict`` better, worse,
   higher, lower) — worded "Victim withdrawal rate fell to 38.0% from 44.0%, an improvement
   (real: below the process limits for 3 months)". Gated, suppressed, maturing and no-data
   measures never make a sentence;
2. **balancing measures** (``KPI.balancing``): when a measure improves while one declared to
   be read beside it deteriorates, one sentence says both (and replaces their own sentences);
3. **ranked by the strength of the evidence**: a special cause on the SPC chart first, then
   the smallest q-value (Benjamini–Hochberg), then p; quantitative and qualitative mixed;
4. **always one victim-voice sentence** (survey items): its real change, or "no clear change",
   or the gate ("14 of 30 survey replies this quarter; results appear at 30");
5. when nothing changed, one sentence says so (plus the victim-voice sentence).

Nothing here tests anything: "real" is what ``kpi_verdicts`` says.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pandas as pd

from present.format import format_value, gate_count, is_missing
from present.tiles import VERDICT_STYLES, _val, is_survey, rows_by_kpi

MAX_SENTENCES = 6
#: verdicts that make a "what changed" sentence on their own
CHANGED_VERDICTS = ("improving", "deteriorating", "mixed")
REAL_CHANGES = ("better", "worse", "higher", "lower")


@dataclass(frozen=True)
class Sentence:
    """One "what changed" sentence.

    ``kind``: change | mixed | balancing | victim_voice | nothing. ``tone``: good | bad |
    mixed | neutral | pending (the icon and word of :data:`present.tiles.VERDICT_STYLES`
    for it are ``icon`` and ``word``). ``kpi_ids``: the measures it is about (the first one
    links to its trend). ``rank``: (0 special cause / 1 change test only / 2 no evidence,
    q-value or p-value or 1.0); lower is stronger.
    """

    text: str
    kind: str
    tone: str
    icon: str
    word: str
    kpi_ids: tuple[str, ...] = ()
    rank: tuple[int, float] = (2, 1.0)

    @property
    def kpi_id(self) -> str | None:
        """The measure the sentence links to (its first), or None."""
        return self.kpi_ids[0] if self.kpi_ids else None


def format_q(q: object) -> str:
    """A q- or p-value in words for a sentence: ``q = 0.004``, ``q < 0.001``; empty if none."""
    if is_missing(q):
        return ""
    value = float(q)  # type: ignore[arg-type]
    return "q < 0.001" if value < 0.001 else f"q = {value:.3f}"


def _is_special(row: Mapping[str, object] | pd.Series) -> bool:
    point = _val(row, "spc_point_type")
    return isinstance(point, str) and point.startswith("special_cause")


def _rank(row: Mapping[str, object] | pd.Series) -> tuple[int, float]:
    """Strength of the evidence: special cause first, then the smallest q (then p)."""
    q = _val(row, "q_value")
    q = _val(row, "p_value") if q is None else q
    strength = 1.0 if q is None else float(q)  # type: ignore[arg-type]
    if _is_special(row):
        return (0, strength)
    if _val(row, "change_verdict") in REAL_CHANGES:
        return (1, strength)
    return (2, strength)


def _evidence(row: Mapping[str, object] | pd.Series) -> str:
    """"real: below the process limits for 3 months; change test q = 0.004"."""
    parts = []
    if _is_special(row) and _val(row, "spc_evidence"):
        parts.append(str(_val(row, "spc_evidence")))
    if _val(row, "change_verdict") in REAL_CHANGES:
        q = format_q(_val(row, "q_value")) or format_q(_val(row, "p_value")).replace("q", "p")
        parts.append(f"change test {q}".strip())
    return "real: " + "; ".join(parts) if parts else ""


def _rows_by_id(verdicts: pd.DataFrame | None, by_id: Mapping[str, object]
                ) -> dict[str, pd.Series]:
    """The verdict frame's first row per KPI id, for the KPIs of ``by_id`` only."""
    return {kid: row for kid, row in rows_by_kpi(verdicts).items() if kid in by_id}


def _changed(row: Mapping[str, object] | pd.Series) -> bool:
    """Whether a verdict row makes a sentence (a shown value with a real change)."""
    if _val(row, "status") != "ok" or _val(row, "verdict") in ("maturing", "insufficient",
                                                                "no_data"):
        return False
    return _val(row, "verdict") in CHANGED_VERDICTS or _val(row, "change_verdict") in REAL_CHANGES


#: what a difference that is not a real change is, by the change test's verdict: tested and
#: possibly chance, never tested (a census of the teams: its verdict is the chart's alone), or
#: not comparable (a side provisional or gated)
UNREAL_DIFFERENCE_WORDS = {
    "not_tested": "a census of the teams, so the difference is not tested",
    "not_comparable": "not comparable",
}
CHANCE_WORDS = "a difference that could be chance"


def _movement(kpi: object, row: Mapping[str, object] | pd.Series) -> str:
    """"rose to 12.0% from 10.0%" when the change test says the change is real; otherwise the
    two values without a verb that would claim a change, and what the test said: "is 12.0%
    (10.0% in the comparison window, a difference that could be chance)" (or "…, a census of
    the teams, so the difference is not tested" / "…, not comparable": a difference nobody
    tested is never called chance); "is 12.0%" with nothing to compare."""
    unit = str(getattr(kpi, "unit", ""))
    value, before = _val(row, "value"), _val(row, "compare_value")
    now = format_value(value, unit)  # type: ignore[arg-type]
    if before is None:
        return f"is {now}"
    verdict = _val(row, "change_verdict")
    if verdict not in REAL_CHANGES:
        words = UNREAL_DIFFERENCE_WORDS.get(str(verdict), CHANCE_WORDS)
        return (f"is {now} ({format_value(before, unit)} in the comparison window, "  # type: ignore[arg-type]
                f"{words})")
    diff = _val(row, "difference")
    diff = float(value) - float(before) if diff is None else float(diff)  # type: ignore[arg-type]
    verb = "rose" if diff > 0 else "fell" if diff < 0 else "stayed"
    if verb == "stayed":
        return f"is {now}, as in the comparison window"
    return f"{verb} to {now} from {format_value(before, unit)}"  # type: ignore[arg-type]


def _tone(row: Mapping[str, object] | pd.Series) -> str:
    verdict = _val(row, "verdict")
    if verdict == "improving" or (verdict != "mixed" and _val(row, "change_verdict") == "better"):
        return "good"
    if verdict == "deteriorating" or (verdict != "mixed" and
                                      _val(row, "change_verdict") == "worse"):
        return "bad"
    return "mixed" if verdict == "mixed" else "neutral"


_TONE_STYLE = {"good": "improving", "bad": "deteriorating", "mixed": "mixed",
               "neutral": "no_clear_change", "pending": "insufficient"}


#: a real change of a measure with no better direction: its own icon and word (never the
#: "no clear change" dot)
NEUTRAL_CHANGE = {"higher": ("▲", "Higher"), "lower": ("▼", "Lower")}


def _sentence(text: str, kind: str, tone: str, kpi_ids: tuple[str, ...],
              rank: tuple[int, float], direction: str | None = None) -> Sentence:
    style = VERDICT_STYLES[_TONE_STYLE[tone]]
    icon, word = style.icon, style.word
    if tone == "neutral" and kind in ("change", "victim_voice") and direction in NEUTRAL_CHANGE:
        icon, word = NEUTRAL_CHANGE[direction]
    return Sentence(text, kind, tone, icon, word, kpi_ids, rank)


def change_sentence(kpi: object, row: Mapping[str, object] | pd.Series) -> Sentence:
    """The sentence for one measure that changed for real."""
    name = str(getattr(kpi, "name", ""))
    tone = _tone(row)
    evidence = _evidence(row)
    if tone == "mixed":
        chart = _val(row, "spc_evidence")
        parts = [p for p in (format_q(_val(row, "q_value")) and
                             f"change test {format_q(_val(row, 'q_value'))}",
                             chart and f"monthly chart: {chart}") if p]
        text = (f"{name}: mixed signals, {_movement(kpi, row)}"
                f"{' (' + '; '.join(parts) + ')' if parts else ''}; see its trend")
        return _sentence(text, "mixed", tone, (str(getattr(kpi, "id", "")),), _rank(row))
    judged = {"good": ", an improvement", "bad": ", a deterioration"}.get(tone, "")
    if judged and _val(row, "change_verdict") not in REAL_CHANGES:
        # the window-on-window difference is not a real change: the signal is the chart's
        judged = ", but its monthly chart shows" + judged[1:]
    text = f"{name} {_movement(kpi, row)}{judged}{' (' + evidence + ')' if evidence else ''}"
    return _sentence(text, "change", tone, (str(getattr(kpi, "id", "")),), _rank(row),
                     _direction(row))


def _direction(row: Mapping[str, object] | pd.Series) -> str | None:
    """"higher" or "lower": which way the value moved (difference, else the SPC side)."""
    diff = _val(row, "difference")
    if diff is not None and float(diff) != 0:  # type: ignore[arg-type]
        return "higher" if float(diff) > 0 else "lower"  # type: ignore[arg-type]
    point = _val(row, "spc_point_type")
    if point == "special_cause_neutral_high":
        return "higher"
    if point == "special_cause_neutral_low":
        return "lower"
    return None


def _improves(row: Mapping[str, object] | pd.Series | None) -> bool:
    return row is not None and _changed(row) and _tone(row) == "good"


def _worsens(row: Mapping[str, object] | pd.Series | None) -> bool:
    return row is not None and _changed(row) and _tone(row) == "bad"


def balancing_sentence(kpi: object, row: Mapping[str, object] | pd.Series, other: object,
                       other_row: Mapping[str, object] | pd.Series) -> Sentence:
    """"Charge rate rose to 12.0% from 10.0% (real: …), but victim withdrawal rate, read
    beside it, rose to 45.0% from 40.0%, a deterioration (real: …)"."""
    first = f"{getattr(kpi, 'name', '')} {_movement(kpi, row)}"
    ev1, ev2 = _evidence(row), _evidence(other_row)
    text = (f"{first}{' (' + ev1 + ')' if ev1 else ''}, but "
            f"{str(getattr(other, 'name', '')).lower()}, read beside it, "
            f"{_movement(other, other_row)}, a deterioration{' (' + ev2 + ')' if ev2 else ''}")
    rank = min(_rank(row), _rank(other_row))
    return _sentence(text, "balancing", "mixed",
                     (str(getattr(other, "id", "")), str(getattr(kpi, "id", ""))), rank)


def victim_voice_sentence(
    survey: list[tuple[object, Mapping[str, object] | pd.Series | None]],
    *, window_words: str, compare_words: str,
) -> Sentence:
    """The sentence for the victims' survey: its strongest real change, or no clear change,
    or the gate, or that no replies came in; or, when the export has no survey at all (no
    ``survey_responses`` file or no item in it), that victims' voice is missing."""
    if not survey:
        style = VERDICT_STYLES["no_data"]
        return Sentence("No victim survey in this export, so there is no victims' voice to "
                        "read beside the figures", "victim_voice", "pending", style.icon,
                        style.word, (), (2, 1.0))
    changed = [(kpi, row) for kpi, row in survey if row is not None and _changed(row)]
    if changed:
        kpi, row = min(changed, key=lambda kr: _rank(kr[1]))  # type: ignore[arg-type]
        s = change_sentence(kpi, row)  # type: ignore[arg-type]
        return Sentence(s.text, "victim_voice", s.tone, s.icon, s.word, s.kpi_ids, s.rank)
    rows = [(kpi, row) for kpi, row in survey if row is not None]
    replies = [int(float(_val(r, "n"))) for _, r in rows if _val(r, "n") is not None]  # type: ignore[arg-type]
    n = max(replies) if replies else 0
    first_id = (str(getattr(survey[0][0], "id", "")),) if survey else ()
    shown = [(k, r) for k, r in rows if _val(r, "status") == "ok"]
    if shown:
        text = (f"Victim survey: no clear change against {compare_words} in any of its "
                f"{len(shown)} items shown ({n:,} replies {window_words})")
        return _sentence(text, "victim_voice", "neutral", (str(getattr(shown[0][0], "id", "")),),
                         (2, 1.0))
    gated = [(k, r) for k, r in rows if _val(r, "status") == "insufficient"]
    if gated:
        min_n = int(getattr(gated[0][0], "min_n", 30))
        shown_n = gate_count(n, min_n)
        count = f"Fewer than {min_n}" if shown_n is None else f"{shown_n:,} of {min_n}"
        text = f"{count} survey replies {window_words}; results appear at {min_n}"
        return _sentence(text, "victim_voice", "pending", first_id, (2, 1.0))
    if any(_val(r, "status") == "suppressed" for _, r in rows):
        text = f"Victim survey results {window_words} are suppressed (small numbers)"
        return _sentence(text, "victim_voice", "pending", first_id, (2, 1.0))
    return _sentence(f"No victim survey replies {window_words}", "victim_voice", "pending",
                     first_id, (2, 1.0))


def what_changed(
    verdicts: pd.DataFrame,
    kpis: Iterable[object],
    *,
    window_words: str = "in this window",
    compare_words: str = "the previous window",
    limit: int = MAX_SENTENCES,
) -> list[Sentence]:
    """At most ``limit`` sentences saying what changed, strongest evidence first.

    ``verdicts``: the ``metrics.verdicts.kpi_verdicts`` frame for one view (one row per KPI).
    ``kpis``: the registry's KPIs (``metrics.registry.all_kpis``), for names, units, survey
    items and ``balancing``. ``window_words``: "this quarter"; ``compare_words``: "the
    previous window". Always holds exactly one victim-voice sentence (kind ``victim_voice``
    or, when a survey item changed, that item's sentence); when nothing changed, one sentence
    of kind ``nothing`` says so. Pure: the same frame gives the same sentences.
    """
    kpis = list(kpis)
    limit = max(2, int(limit))
    by_id = {str(getattr(k, "id", "")): k for k in kpis}
    rows = _rows_by_id(verdicts, by_id)

    balancing: list[Sentence] = []
    covered: set[str] = set()
    for kpi in kpis:
        kid = str(getattr(kpi, "id", ""))
        if not _improves(rows.get(kid)):
            continue
        for other_id in getattr(kpi, "balancing", ()) or ():
            other_row = rows.get(str(other_id))
            if other_id in by_id and _worsens(other_row) and other_id not in covered:
                balancing.append(balancing_sentence(kpi, rows[kid], by_id[other_id],
                                                    other_row))  # type: ignore[arg-type]
                covered.update({kid, str(other_id)})

    changes = [change_sentence(by_id[kid], row) for kid, row in rows.items()
               if _changed(row) and kid not in covered]
    ranked = sorted(balancing + changes, key=lambda s: s.rank)
    survey = [(k, rows.get(str(getattr(k, "id", "")))) for k in kpis if is_survey(k)]
    survey_ids = {str(getattr(k, "id", "")) for k, _ in survey}

    out: list[Sentence]
    if not ranked:
        tested = sum(1 for r in rows.values() if _val(r, "status") == "ok")
        nothing = _sentence(
            f"No clear change against {compare_words}: none of the {tested} measures with a "
            "value moved beyond chance or broke its process limits", "nothing", "neutral", (),
            (2, 1.0))
        out = [nothing]
    else:
        out = ranked[:limit]
    has_voice = any(set(s.kpi_ids) & survey_ids for s in out if s.kind != "nothing")
    if not has_voice:
        voice = victim_voice_sentence(survey, window_words=window_words,
                                      compare_words=compare_words)
        out = out[: limit - 1] + [voice]
    return out


#: how the measures left out of the list are counted, worst news first: tone -> words
_LEFT_OUT_WORDS = (("bad", "deteriorating"), ("mixed", "with mixed signals"),
                   ("good", "improving"), ("neutral", "higher or lower"))
NAMED_LEFT_OUT = 3


def not_listed(verdicts: pd.DataFrame, kpis: Iterable[object],
               sentences: Iterable[Sentence], *,
               where: str = "their rows are in the pillars below") -> str:
    """The measures that changed but have no sentence in ``sentences`` (the list holds at
    most six), in one line, worst news first and the deteriorating and mixed ones named:
    "Also changed: 2 deteriorating (Caseload per investigator, Waiting over 28 days for an
    ISVA) and 4 improving; their rows are in the pillars below". "" when every measure that
    changed is in the list. So a list of six improvements never hides a deterioration.
    ``where``: where the reader finds them (the board pack: its verdict summary)."""
    kpis = list(kpis)
    by_id = {str(getattr(k, "id", "")): k for k in kpis}
    listed = {kid for s in sentences for kid in s.kpi_ids}
    left = [(kid, row) for kid, row in _rows_by_id(verdicts, by_id).items()
            if kid not in listed and _changed(row)]
    if not left:
        return ""
    parts = []
    for tone, words in _LEFT_OUT_WORDS:
        names = [str(getattr(by_id[kid], "name", kid)) for kid, row in left
                 if _tone(row) == tone]
        if not names:
            continue
        part = f"{len(names)} {words}"
        if tone in ("bad", "mixed"):
            shown = names[:NAMED_LEFT_OUT]
            more = len(names) - len(shown)
            part += " (" + ", ".join(shown) + (f" and {more} more" if more else "") + ")"
        parts.append(part)
    joined = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return f"Also changed: {joined}; {where}"
