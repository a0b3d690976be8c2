"""Assembling the flight deck for a view: verdicts in, tiles and "what changed" out, as HTML.

No formula and no test here. The one verdict frame comes from
``metrics.verdicts.kpi_verdicts`` (one row per KPI); ``present.tiles`` and
``present.sentences`` turn it into display strings; :func:`deck_html` lays them out as one
block of static HTML (every text HTML-escaped) so the first screen of a projector holds the
"what changed" list and every pillar with its measures' verdicts. Each row and sentence links
to Trends for its KPI with the same force, window, comparison and scope in the URL.

The meeting record (``metrics.record``, issue 16) is read in one small call,
:func:`record_notes`: a row shows that a comment exists and its assurance level, and the deck
shows the view's open and overdue actions. When the record is not configured or not
reachable, the deck is drawn without it.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from urllib.parse import urlencode

import pandas as pd
import streamlit as st

from metrics.registry import PILLARS
from present.sentences import Sentence, not_listed, what_changed
from present.tiles import (
    TONE_COLOURS,
    UNREADABLE,
    VERDICT_STYLES,
    Tile,
    build_tiles,
    pillar_counts,
)
from ui.state import encode

_LOG = logging.getLogger(__name__)

#: how a sentence names the view's window ("14 of 30 survey replies this quarter")
WINDOW_WORDS: dict[str, str] = {
    "last_month": "this month", "last_quarter": "this quarter",
    "last_12_months": "in the last 12 months", "custom": "in this window",
}
COMPARE_WORDS: dict[str, str] = {
    "previous": "the previous window", "year_ago": "the same window a year earlier",
}


@dataclass(frozen=True)
class DeckView:
    """What the flight deck shows for one view: tiles by pillar and kind, and the sentences."""

    pillars: dict[int, dict[str, list[Tile]]]
    sentences: list[Sentence]
    actions: dict[str, int] = field(default_factory=dict)  # open, overdue
    not_listed: str = ""  # the measures that changed beyond the list (present.sentences)


def verdict_frame(ctx, force: str) -> pd.DataFrame:
    """The ``metrics.verdicts.kpi_verdicts`` frame for the view (one row per KPI)."""
    return deck_verdicts(ctx.dataset, ctx.start, ctx.end, force, ctx.view.compare,
                         getattr(ctx, "scope", "all"), panel=ctx.is_panel)


def deck_verdicts(dataset: object, start: pd.Period, end: pd.Period, force: str,
                  compare: str, scope: str, *, panel: bool = False) -> pd.DataFrame:
    """The flight deck's one call of ``metrics.verdicts.kpi_verdicts`` (one row per KPI),
    with the server's meeting record; the page's and the launcher's preparation of the
    default view (``ui.serve.warm_default_view``), so both ask the engine the same thing."""
    from metrics.verdicts import kpi_verdicts

    return kpi_verdicts(dataset, start, end, force=force, compare=compare, scope=scope,
                        audience="panel" if panel else "internal", record=_shared_record())


def _shared_record() -> object | None:
    """The server's one shared meeting record (``ui.data.meeting_record``), or None."""
    from ui.data import meeting_record

    return meeting_record()


def record_stamp(record: object | None) -> tuple:
    """``ui.data.record_stamp``: the record's state for the verdict cache's key."""
    from ui.data import record_stamp as stamp

    return stamp(record)


def record_state(record: object | None, stamp: tuple) -> bool | str:
    """The record's state for ``present.tiles.absent_words``: False without a record,
    ``present.tiles.UNREADABLE`` when reading it for ``stamp`` failed, else True."""
    if record is None:
        return False
    return UNREADABLE if stamp[:1] == (UNREADABLE,) else True


def record_notes(ctx, force: str, today: date | None = None
                 ) -> tuple[dict[str, object], dict[str, int]]:
    """The meeting record's latest comments (kpi_id -> Comment) for the view's force and
    window, and its action counts ``{"open": n, "overdue": m}``; empty when the record is
    absent or unreachable. A panel link gets the commentary and assurance levels of its
    force and window with no names (``author`` blanked) and no actions."""
    record = _shared_record()
    if record is None:
        return {}, {}
    try:
        comments = dict(record.latest_comments(force, ctx.start, ctx.end))  # type: ignore[attr-defined]
        if ctx.is_panel:
            return {k: _without_names(c) for k, c in comments.items()}, {}
        actions = list(record.actions(force, status="open"))  # type: ignore[attr-defined]
        today = today or date.today()
        overdue = sum(1 for a in actions if a.overdue(today))
        return comments, {"open": len(actions), "overdue": overdue}
    except Exception:  # noqa: BLE001 - the deck is drawn without the record
        _LOG.warning("meeting record not available for the flight deck", exc_info=True)
        return {}, {}


def _without_names(comment: object) -> object:
    """``comment`` with its author removed (a panel link carries no names)."""
    try:
        return replace(comment, author="")  # type: ignore[type-var]
    except TypeError:  # not a dataclass: keep only what a tile reads
        return _PanelComment(getattr(comment, "kpi_id", ""), getattr(comment, "owner", ""),
                             getattr(comment, "text", ""), getattr(comment, "assurance", ""))


@dataclass(frozen=True)
class _PanelComment:
    kpi_id: str
    owner: str
    text: str
    assurance: str
    author: str = ""


@st.cache_data(max_entries=256, show_spinner=False)
def _cached_verdicts(fingerprint: tuple, force: str, start: str, end: str, compare: str,
                     scope: str, catalogue: str, record: tuple, _ctx: object
                     ) -> pd.DataFrame:
    return verdict_frame(_ctx, force)


def view_verdicts(ctx, force: str, stamp: tuple | None = None) -> pd.DataFrame:
    """:func:`verdict_frame`, cached per export, view, KPI catalogue (``FLIGHTDECK_KPIS``)
    and state of the meeting record (``stamp``, :func:`record_stamp`, read when not given);
    a panel link's never (its disclosure depends on the link)."""
    import os

    fingerprint = ctx.loaded.fingerprint
    if ctx.is_panel or not fingerprint:
        return verdict_frame(ctx, force)
    return _cached_verdicts(fingerprint, force, str(ctx.start), str(ctx.end),
                            ctx.view.compare, str(getattr(ctx, "scope", "all")),
                            os.environ.get("FLIGHTDECK_KPIS", ""),
                            record_stamp(_shared_record()) if stamp is None else stamp, ctx)


def build_deck(ctx, force: str) -> DeckView:
    """The flight deck for the current view: tiles by pillar, "what changed", record notes.

    The verdicts are cached per view; the meeting record is read on every run (comments
    change during a meeting)."""
    record = _shared_record()
    stamp = record_stamp(record)
    frame = view_verdicts(ctx, force, stamp)
    comments, actions = record_notes(ctx, force)
    pillars = build_tiles(ctx.kpis, frame, comments=comments, tables=ctx.dataset.tables,
                          record=record_state(record, stamp))
    sentences = what_changed(
        frame, ctx.kpis, window_words=WINDOW_WORDS.get(ctx.view.window, "in this window"),
        compare_words=COMPARE_WORDS.get(ctx.view.compare, "the comparison window"))
    return DeckView(pillars, sentences, actions, not_listed(frame, ctx.kpis, sentences))


def trend_href(view: object, kpi_id: str, pillar: int, share: str | None = None) -> str:
    """The relative link to Trends for one KPI, keeping the view's force, window,
    comparison and scope (and a panel link's ``share`` token): ``trends?force=…&kpi=…``."""
    params = encode(replace(view, kpi=kpi_id, pillar=pillar))  # type: ignore[type-var]
    if share:
        params["share"] = share
    return "trends?" + urlencode(params)


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def count_words(tiles: Sequence[Tile]) -> str:
    """The pillar at a glance: "1 improving · 2 deteriorating · 4 no clear change" (verdicts
    present only, in a fixed order)."""
    counts = pillar_counts(tiles)
    order = ["improving", "deteriorating", "mixed", "higher", "lower", "no_clear_change",
             "maturing", "insufficient", "suppressed", "no_data", "unknown"]
    return " · ".join(f"{counts[k]} {VERDICT_STYLES[k].word.lower()}" for k in order
                      if counts.get(k))


def _row_html(tile: Tile, href: str | None) -> str:
    change = _e(tile.change_text)
    if tile.change_colour:
        change = (f'<span class="fd-real" style="color:{tile.change_colour}">{change}'
                  '<span class="fd-sr"> (real change)</span></span>')
    detail = []
    if tile.interval_text:
        detail.append(_e(tile.interval_text))
    if tile.shows_value:
        detail.append(f"change {change}")
    if tile.chart_text:
        detail.append(_e(tile.chart_text))
    if tile.absent_text:
        detail.append(_e(tile.absent_text))
    if tile.comment:
        detail.append(f'<span class="fd-comment">&#128172; {_e(tile.comment)}</span>')
    verdict = f'<span aria-hidden="true">{_e(tile.icon)}</span> {_e(tile.word)}'
    note = f' <span class="fd-note">{_e(tile.value_note)}</span>' if tile.value_note else ""
    link = f' href="{_e(href)}" target="_self"' if href else ""
    if tile.verdict == "mixed" and href:
        verdict = f'<a href="{_e(href)}" target="_self">{verdict}</a>'
    return (
        f'<li class="fd-row" data-kpi="{_e(tile.kpi_id)}" data-kind="{_e(tile.kind)}" '
        f'data-verdict="{_e(tile.verdict)}">'
        f'<a class="fd-name"{link} title="{_e(tile.help)}">'
        f'{_e(tile.name)}</a>'
        f'<span class="fd-value">{_e(tile.value_text)}{note}</span>'
        f'<span class="fd-verdict" style="color:{tile.colour}">{verdict}</span>'
        f'<span class="fd-detail">{" · ".join(detail)}</span></li>')


def _sentence_html(sentence: Sentence, href: Callable[[str], str | None]) -> str:
    colour = TONE_COLOURS.get(sentence.tone, TONE_COLOURS["neutral"])
    text = _e(sentence.text) + "."
    target = href(sentence.kpi_id) if sentence.kpi_id else None
    if target:
        text = f'<a href="{_e(target)}" target="_self">{text}</a>'
    return (f'<li class="fd-sentence" data-kind="{_e(sentence.kind)}" '
            f'data-rank="{sentence.rank[0]}:{sentence.rank[1]:.6g}">'
            f'<span class="fd-tag" style="color:{colour}"><span aria-hidden="true">'
            f'{_e(sentence.icon)}</span> {_e(sentence.word)}:</span> {text}</li>')


PILLAR_COLUMNS = 3


def pillar_height(tiles: Sequence[Tile], kinds: int) -> float:
    """A pillar box's height in text lines: heading and counts 3.2, kind labels 0.7 each (only
    when a pillar has both kinds), a row with a detail line 1.6 (a gated or empty row 1),
    plus 0.7 when its verdict word wraps and 0.6 when the chart's evidence makes its detail
    two lines."""
    rows = sum((1.6 if (t.interval_text or t.shows_value or t.comment or t.absent_text)
                else 1.0)
               + (0.7 if len(t.word) > 22 else 0.0) + (0.6 if t.chart_text else 0.0)
               for t in tiles)
    return 3.2 + (0.7 * kinds if kinds > 1 else 0.0) + rows


HEADING_SLACK = 4.0  # lines a pillar heading may sit below the highest possible placement


def pack_columns(heights: dict[int, float], columns: int = PILLAR_COLUMNS) -> list[list[int]]:
    """Pillars into at most ``columns`` columns for the first screen of a projector.

    Every split is tried (pillars keep their number order within a column; columns are ordered
    by their first pillar). Among the splits whose lowest pillar heading is within
    :data:`HEADING_SLACK` lines of the highest it can be (so every pillar's name and verdict
    counts are on the first screen), the one with the shortest tallest column wins.
    """
    from itertools import product

    pillars = list(heights)
    columns = max(1, min(columns, len(pillars)))
    splits: list[tuple[float, float, list[list[int]]]] = []
    for assignment in product(range(columns), repeat=len(pillars)):
        packed: list[list[int]] = [[] for _ in range(columns)]
        for pillar, column in zip(pillars, assignment, strict=True):
            packed[column].append(pillar)
        if any(not c for c in packed) or [c[0] for c in packed] != sorted(c[0] for c in packed):
            continue
        lowest = max(sum(heights[p] for p in c[:-1]) for c in packed)
        tallest = max(sum(heights[p] for p in c) for c in packed)
        splits.append((round(lowest, 6), round(tallest, 6), packed))
    if not splits:
        return [pillars]
    highest = min(s[0] for s in splits)
    fits = [s for s in splits if s[0] <= highest + HEADING_SLACK]
    return min(fits, key=lambda s: (s[1], s[0]))[2]


def deck_html(deck: DeckView, href: Callable[[str], str | None], *,
              actions_href: str | None = None) -> str:
    """The flight deck as one static HTML block: "What changed", then the six pillars.

    ``href(kpi_id)`` gives a KPI's Trends link (None: no link, e.g. a panel link that does
    not open Trends). Every text from the data or the registry is
    HTML-escaped; colours always come with an icon and a word.
    """
    items = "".join(_sentence_html(s, href) for s in deck.sentences)
    changed = f'<ol class="fd-sentences">{items}</ol>'
    if deck.not_listed:
        changed += f'<p class="fd-more">{_e(deck.not_listed)}.</p>'
    actions = ""
    if deck.actions:
        words = (f"{deck.actions.get('open', 0)} open actions, "
                 f"{deck.actions.get('overdue', 0)} overdue")
        actions = (f'<p class="fd-actions"><a href="{_e(actions_href)}" target="_self">{words}'
                   "</a></p>" if actions_href else f'<p class="fd-actions">{words}</p>')
    blocks: dict[int, str] = {}
    heights: dict[int, float] = {}
    for number, name in PILLARS.items():
        sides = deck.pillars.get(number, {})
        tiles = [*sides.get("quantitative", []), *sides.get("qualitative", [])]
        kinds = [k for k in ("quantitative", "qualitative") if sides.get(k)]
        groups = []
        for kind in kinds:
            rows = "".join(_row_html(t, href(t.kpi_id)) for t in sides[kind])
            label = f'<p class="fd-kind">{kind.capitalize()}</p>' if len(kinds) > 1 else ""
            groups.append(f'{label}<ul class="fd-rows" aria-label="{_e(name)}: {kind}">'
                          f"{rows}</ul>")
        counts = count_words(tiles) or "no measures"
        if len(kinds) == 1:
            counts = f"{kinds[0].capitalize()} · {counts}"
        blocks[number] = (
            f'<section class="fd-pillar" aria-labelledby="fd-p{number}">'
            f'<h3 id="fd-p{number}">{number} · {_e(name)}</h3>'
            f'<p class="fd-counts">{_e(counts)}</p>'
            f'{"".join(groups)}</section>')
        heights[number] = pillar_height(tiles, len(kinds))
    columns = "".join(
        f'<div class="fd-col">{"".join(blocks[p] for p in column)}</div>'
        for column in pack_columns(heights, PILLAR_COLUMNS))
    return (
        f"<style>{DECK_CSS}</style>"
        '<div class="fd-deck">'
        '<section class="fd-changed" id="what-changed" aria-labelledby="fd-changed-h" '
        'tabindex="0">'
        f'<div class="fd-head"><h3 id="fd-changed-h">What changed</h3>{actions}</div>'
        f'{changed}</section>'
        f'<div class="fd-grid">{columns}</div></div>')


# Static styling (no data in it). Words wrap only between words (never mid-word); values are
# large for the back of a room; pillars packed in 3 columns of similar
# height at 1920 px (they wrap to fewer on a narrower screen).
DECK_CSS = """
.fd-deck {color: #1f1f1f; font-size: 1rem; line-height: 1.25;}
.fd-deck * {overflow-wrap: normal; word-break: normal; hyphens: none;}
.fd-deck a {color: #004f8a; text-decoration: underline; text-underline-offset: 2px;}
.fd-deck a:focus-visible, .fd-changed:focus-visible {outline: 3px solid #1f1f1f;
  outline-offset: 2px;}
.fd-changed {border: 2px solid #1f1f1f; border-radius: .5rem; padding: .4rem .9rem .5rem;
  margin: 0 0 .6rem 0;}
.fd-changed h3, .fd-pillar h3 {font-size: 1.15rem; font-weight: 700; margin: 0; padding: 0;
  line-height: 1.3;}
.fd-sentences {margin: .2rem 0 0 0; padding-left: 1.6rem;}
.fd-sentence {font-size: 1.05rem; margin: .05rem 0; line-height: 1.3;}
.fd-sentence a {color: #1f1f1f;}
.fd-tag {font-weight: 700; white-space: nowrap;}
.fd-more {margin: .15rem 0 0 0; font-size: .95rem;}
.fd-head {display: flex; flex-wrap: wrap; align-items: baseline; gap: 0 1.2rem;}
.fd-actions {margin: 0; font-size: .95rem;}
.fd-grid {display: flex; flex-wrap: wrap; gap: 0 .7rem; align-items: flex-start;}
.fd-col {flex: 1 1 25rem; min-width: 0;}
.fd-pillar {box-sizing: border-box;
  border: 1px solid #8c8c8c; border-radius: .5rem; padding: .25rem .6rem .25rem;
  margin: 0 0 .5rem 0;}
.fd-counts {font-size: .85rem; color: #4d4d4d; margin: 0; line-height: 1.2;}
.fd-kind {font-size: .75rem; font-weight: 700; color: #4d4d4d; margin: .1rem 0 0 0;
  text-transform: uppercase; letter-spacing: .03em;}
.fd-deck ul.fd-rows {list-style: none; margin: 0; padding: 0;}
.fd-deck ul.fd-rows li.fd-row {margin: 0; padding: .06rem 0;}
.fd-row {display: grid; grid-template-columns: minmax(0, 1fr) auto 10.8rem;
  column-gap: .5rem; align-items: baseline; padding: .12rem 0;
  border-top: 1px solid #e0e0e0; margin: 0;}
.fd-name {font-weight: 600; min-width: 0;}
.fd-deck a.fd-name:not([href]) {color: inherit; text-decoration: none; cursor: default;}
.fd-value {font-size: 1.15rem; line-height: 1.2; font-weight: 700; white-space: nowrap;
  text-align: right;}
.fd-note {font-size: .75rem; font-weight: 400; color: #4d4d4d;}
.fd-verdict {font-weight: 700; font-size: .95rem; min-width: 0;}
.fd-detail {grid-column: 1 / -1; font-size: .8rem; color: #4d4d4d; line-height: 1.1;}
.fd-detail:empty {display: none;}
.fd-real {font-weight: 700;}
.fd-sr {position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0);
  white-space: nowrap;}
"""


def actions_link(view: object, share: str | None) -> str | None:
    """The meeting record page's link for the view (None for a panel link)."""
    if share:
        return None
    return "record?" + urlencode(encode(view))  # type: ignore[arg-type]
