"""The board pack's pages (ReportLab): styles, the numbered and marked canvas, and the
builder that turns a :class:`report.data.PackData` into the flowables of each section.

:func:`render_pack` lays out every section and returns the PDF bytes. Headings keep with what
follows them and paragraphs never leave a single line at the top or foot of a page
(``keepWithNext``, ``allowWidows=0``, ``allowOrphans=0``); charts are drawn by
:mod:`report.charts` as vector graphics.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas as rl_canvas
from reportlab.platypus import (
    BaseDocTemplate,
    CondPageBreak,
    Frame,
    KeepInFrame,
    KeepTogether,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from metrics import registry
from metrics.registry import KPI, PILLARS
from metrics.windows import describe_window
from present.format import format_interval, format_value, is_missing
from present.funnel import too_few_forces_text
from present.tiles import VERDICT_STYLES, absent_words
from report import charts as pack_charts
from report.common import (
    ALL_FORCES,
    MARKING,
    ROUNDED_FOOTNOTE,
    ROUNDED_MARK,
    SECTIONS,
    _get,
)
from report.data import SPC_HISTORY_MONTHS, Funnel, PackData, survey_frame
from report.fonts import FONTS, esc, register_fonts, t
from report.words import (
    SENTENCES_PER_KPI,
    change_short,
    change_text,
    format_n,
    kpi_value_text,
    special_cause_sentences,
)

PAGE = landscape(A4)
MARGIN = 14 * mm
TOP_MARGIN = 14 * mm
BOTTOM_MARGIN = 13 * mm

class _Styles:
    """The paragraph styles of the pack (sizes in points)."""
    def __init__(self) -> None:
        reg, bold = FONTS["regular"], FONTS["bold"]
        self.title = ParagraphStyle("title", fontName=bold, fontSize=26, leading=32)
        self.h1 = ParagraphStyle("h1", fontName=bold, fontSize=16, leading=20, spaceAfter=6,
                                 keepWithNext=1)
        self.h2 = ParagraphStyle("h2", fontName=bold, fontSize=11, leading=14, spaceBefore=4,
                                 spaceAfter=3, keepWithNext=1)
        self.body = ParagraphStyle("body", fontName=reg, fontSize=9, leading=12,
                                   allowWidows=0, allowOrphans=0)
        self.lead = ParagraphStyle("lead", fontName=reg, fontSize=11, leading=15,
                                   allowWidows=0, allowOrphans=0, leftIndent=16,
                                   firstLineIndent=-16, spaceAfter=5)
        self.small = ParagraphStyle("small", fontName=reg, fontSize=7.5, leading=9.5,
                                    allowWidows=0, allowOrphans=0)
        self.cell = ParagraphStyle("cell", fontName=reg, fontSize=8, leading=10)
        self.cell_b = ParagraphStyle("cellb", fontName=bold, fontSize=8.5, leading=10.5)
        self.deck = ParagraphStyle("deck", fontName=reg, fontSize=7, leading=8.2)
        self.deck_b = ParagraphStyle("deckb", fontName=bold, fontSize=7.4, leading=8.4)
        self.card = ParagraphStyle("card", fontName=reg, fontSize=7.2, leading=8.8)
        self.cell_small = ParagraphStyle("cells", fontName=reg, fontSize=6.8, leading=8.2,
                                         textColor=colors.HexColor("#333333"))
        self.head = ParagraphStyle("head", fontName=bold, fontSize=8, leading=10,
                                   textColor=colors.white)
        self.cover_row = ParagraphStyle("cover", fontName=reg, fontSize=13, leading=18)
        self.banner = ParagraphStyle("banner", fontName=bold, fontSize=10, leading=13,
                                     alignment=TA_CENTER)


#: the verdicts the cover names, in the deck's words and icons (``present.tiles``)
COVER_VERDICTS = ("improving", "deteriorating", "no_clear_change", "mixed", "maturing",
                  "insufficient")


class _NumberedCanvas(rl_canvas.Canvas):
    """Draws "Page x of y" and the marking on every page (two passes over the pages)."""

    footer_left = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._saved: list[dict[str, Any]] = []

    def showPage(self) -> None:  # noqa: N802 - ReportLab's name
        self._saved.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._saved)
        for state in self._saved:
            self.__dict__.update(state)
            self._decorate(total)
            super().showPage()
        super().save()

    def _decorate(self, total: int) -> None:
        width, height = PAGE
        self.saveState()
        self.setFont(FONTS["bold"], 10)
        self.drawCentredString(width / 2, height - 9 * mm, MARKING)
        self.drawCentredString(width / 2, 6 * mm, MARKING)
        self.setFont(FONTS["regular"], 8)
        self.drawString(MARGIN, 6 * mm, t(self.footer_left))
        self.drawRightString(width - MARGIN, 6 * mm, f"Page {self._pageNumber} of {total}")
        self.setLineWidth(0.5)
        self.line(MARGIN, height - 11 * mm, width - MARGIN, height - 11 * mm)
        self.line(MARGIN, 10 * mm, width - MARGIN, 10 * mm)
        self.restoreState()


GREY_HEAD = colors.HexColor("#333333")
GREY_BAND = colors.HexColor("#eeeeee")
GREY_RULE = colors.HexColor("#999999")


def _table(rows: list[list[Any]], widths: list[float], *, header: bool = True,
           zebra: bool = True, extra: list[tuple] | None = None) -> Table:
    """A ReportLab table with the pack's look (dark header row, zebra bands, hair rules)."""
    table = Table(rows, colWidths=widths, repeatRows=1 if header else 0, hAlign="LEFT")
    style: list[tuple] = [
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
        ("LINEBELOW", (0, 0), (-1, -1), 0.25, GREY_RULE),
    ]
    if header:
        style += [("BACKGROUND", (0, 0), (-1, 0), GREY_HEAD)]
    if zebra:
        for i in range(1 if header else 0, len(rows)):
            if i % 2 == 0:
                style.append(("BACKGROUND", (0, i), (-1, i), GREY_BAND))
    table.setStyle(TableStyle(style + (extra or [])))
    return table


class _Builder:
    """Lays out the pack's pages from a PackData, drawing its charts as vector graphics."""

    def __init__(self, data: PackData, charts: bool, chart_note: str | None,
                 sections: Sequence[str] = SECTIONS) -> None:
        self.data = data
        self.sections = tuple(sections)
        self.charts = charts
        self.chart_note = chart_note
        self.drawings: dict[str, Drawing] = {}  # every chart drawn, by key (for tests)
        self.s = _Styles()
        self.width = PAGE[0] - 2 * MARGIN
        self.height = PAGE[1] - TOP_MARGIN - BOTTOM_MARGIN

    # -- helpers ------------------------------------------------------------------------------
    def p(self, text: str, style: ParagraphStyle | None = None) -> Paragraph:
        """A paragraph of (already escaped) ``text``."""
        return Paragraph(text, style or self.s.body)

    def head(self, *labels: str) -> list[Paragraph]:
        """Header cells (white on dark) for ``labels``."""
        return [self.p(esc(label), self.s.head) for label in labels]

    def _keep(self, key: str, drawing: Drawing) -> Drawing:
        self.drawings[key] = drawing
        return drawing

    def spc_chart(self, kpi: KPI, width: float, height: float) -> Drawing | None:
        """The KPI's SPC chart as a vector drawing, or None (no charts, or no months)."""
        frame = self.data.spc.get(kpi.id)
        if not self.charts or frame is None or frame.empty or \
                not frame["value"].notna().any():
            return None
        return self._keep(f"spc:{kpi.id}", pack_charts.spc_drawing(
            frame, unit=kpi.unit, title=kpi.name, width_pt=width, height_pt=height,
            adoption=self.data.adoption))

    def survey_chart(self, width: float) -> Drawing | None:
        """The survey items with intervals as a drawing, or None (no charts, no item)."""
        frame = survey_frame(self.data)
        if not self.charts or frame.empty or not frame["status"].eq("ok").any():
            return None
        return self._keep("survey", pack_charts.survey_drawing(frame, width_pt=width))

    def funnel_chart(self, funnel: Funnel, width: float, height: float) -> Drawing | None:
        """A funnel plot as a drawing, or None when charts are off."""
        if not self.charts:
            return None
        kpi = self.data.kpi(funnel.kpi_id)
        denominator = (kpi.denominator or "Denominator").rstrip(".")
        if len(denominator) > 60:
            denominator = "Denominator"
        return self._keep(f"funnel:{funnel.kpi_id}", pack_charts.funnel_drawing(
            funnel.points, funnel.limits, target=funnel.target, force=self.data.force,
            title=f"{kpi.name}, {self.data.window_label}",
            x_title=f"{denominator} (log scale)", width_pt=width, height_pt=height))

    def value_text(self, kpi: KPI, row: Any) -> str:
        """A KPI's value as printed, with :data:`ROUNDED_MARK` when disclosure rounding
        changed it (panel)."""
        text = kpi_value_text(kpi, row) if row is not None else "No data"
        return f"{text} {ROUNDED_MARK}" if kpi.id in self.data.rounded else text

    def suppressed_note(self) -> list[Any]:
        """The panel's footnotes: suppression, and rounding when a figure carries the mark."""
        if self.data.audience != "panel":
            return []
        from metrics.disclosure import FOOTNOTE

        out = [Spacer(1, 4), self.p(esc(FOOTNOTE), self.s.small)]
        if self.data.rounded:
            out.append(self.p(esc(ROUNDED_FOOTNOTE), self.s.small))
        return out

    def charts_missing_note(self) -> list[Any]:
        """A bold line saying why charts were left out (empty when they were drawn)."""
        if not self.chart_note:
            return []
        return [self.p(f"<b>{esc(self.chart_note)}</b> The tables give the same numbers.",
                       self.s.small), Spacer(1, 4)]

    # -- pages ---------------------------------------------------------------------------------
    def cover(self) -> list[Any]:
        """The cover page: force, window, comparison, as-at date, audience, contents."""
        d = self.data
        audience = ("Internal (officers and analysts)" if d.audience == "internal" else
                    "Scrutiny panel: disclosure-controlled (counts of 1 to 7 suppressed, "
                    "others rounded to the nearest 5)")
        rows = [
            ("Force", d.force),
            ("Window", d.window_label),
            ("Compared with", d.comparison_label),
            ("Data as at", d.as_at.strftime("%d %B %Y") if d.as_at else "unknown"),
            ("Audience", audience),
            ("Produced", datetime.now(UTC).strftime("%d %B %Y %H:%M UTC")),
        ]
        if d.scope != "all":
            words = {"adult_rape": "adult rape cases only", "child": "child cases only"}
            rows.insert(3, ("Cases", words.get(d.scope, d.scope)))
        table = Table([[self.p(f"<b>{esc(k)}</b>", self.s.cover_row),
                        self.p(esc(v), self.s.cover_row)] for k, v in rows],
                      colWidths=[45 * mm, self.width - 45 * mm])
        table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                                   ("LINEBELOW", (0, 0), (-1, -1), 0.25, GREY_RULE),
                                   ("TOPPADDING", (0, 0), (-1, -1), 5),
                                   ("BOTTOMPADDING", (0, 0), (-1, -1), 5)]))
        contents = ["What changed"]
        if "flight_deck" in self.sections:
            contents.append("Flight deck: the six pillars, quantitative and qualitative side "
                            "by side")
        if "pillars" in self.sections:
            contents += [f"Pillar {i}: {name}" for i, name in PILLARS.items()]
        if "victim_voice" in self.sections:
            contents.append("Victim voice")
        if "compare_forces" in self.sections:
            contents.append("Compare forces")
        contents.append("Appendix: definitions and methods")
        flow: list[Any] = [
            Spacer(1, 8 * mm),
            self.p("Operation Soteria: RASSO flight deck", self.s.title),
            self.p(esc(f"Board pack for {d.force}"), self.s.h1),
            Spacer(1, 6 * mm), table, Spacer(1, 6 * mm),
            self.p("<b>Contents</b>", self.s.h2),
        ]
        flow += [self.p(esc(f"{i}. {c}")) for i, c in enumerate(contents, 1)]
        flow.append(Spacer(1, 5 * mm))
        if self.chart_note:
            flow.append(self.p(f"<b>{esc(self.chart_note)}</b> The tables carry every number.",
                               self.s.body))
        verdicts = ", ".join(f"{VERDICT_STYLES[k].icon} {VERDICT_STYLES[k].word}"
                             for k in COVER_VERDICTS)
        flow.append(self.p(
            esc("Values carry 95% intervals. A value below its KPI's minimum n is not shown: "
                "the pack says how many items there are and how many are needed. Each verdict "
                f"is an icon and a word, never a colour alone: {verdicts}."), self.s.small))
        flow.append(PageBreak())
        return flow

    def what_changed(self) -> list[Any]:
        """The first content page: the flight deck's "what changed" sentences, each with its
        verdict icon and word, then how to read them."""
        d = self.data
        flow: list[Any] = [
            self.p(esc(f"What changed: {d.force}, {d.window_label}"), self.s.h1),
            self.p(esc(f"Against {d.comparison_label}. Strongest evidence first; a change is "
                       "called real only when the SPC chart or the change test (adjusted for "
                       "testing every measure at once) says so."), self.s.small)]
        if d.coverage_note:
            flow.append(self.p(f"<b>{esc(d.coverage_note)}</b>", self.s.small))
        flow.append(Spacer(1, 4 * mm))
        for sentence in d.sentences:
            text = getattr(sentence, "text", sentence)
            icon, word = getattr(sentence, "icon", ""), getattr(sentence, "word", "")
            lead = f"<b>{esc(icon)} {esc(word)}</b>: " if word else ""
            flow.append(self.p(f"{esc(icon) if not word else ''}{lead}{esc(text)}",
                               self.s.lead))
        if d.not_listed:
            flow.append(self.p(esc(d.not_listed + "."), self.s.small))
        flow += self.verdict_summary()
        flow += self.assurance_summary()
        flow += self.actions_summary()
        flow += self.suppressed_note()
        flow.append(PageBreak())
        return flow

    def verdict_summary(self) -> list[Any]:
        """Every measure's verdict at a glance: one line per verdict with its count, naming
        the measures unless they are the many with no clear change."""
        d = self.data
        groups: dict[str, list[str]] = {}
        for kpi in d.kpis:
            groups.setdefault(d.last_verdict(kpi.id).split(" (final on")[0], []).append(
                kpi.name)
        order = ["✔ Improving", "✖ Deteriorating", "◆ Mixed signals", "● No clear change",
                 "◷ Maturing", "○ Too few to show", "○ Suppressed (small number)", "– No data"]
        rows = [self.head("Verdict", "Measures", "Which")]
        for word in sorted(groups, key=lambda w: order.index(w) if w in order else 99):
            names = groups[word]
            which = "" if word == "● No clear change" and len(names) > 6 else ", ".join(names)
            rows.append([self.p(esc(word), self.s.cell_b), self.p(str(len(names)), self.s.cell),
                         self.p(esc(which), self.s.cell)])
        return [Spacer(1, 4 * mm), self.p("Every measure at a glance", self.s.h2),
                _table(rows, [48 * mm, 20 * mm, self.width - 68 * mm])]

    # -- the meeting record (issue 16) ----------------------------------------------------------
    def _commented(self, kpis: Sequence[KPI]) -> list[tuple[KPI, Any]]:
        """(KPI, its latest comment) for those of ``kpis`` with commentary, in their order."""
        rec = self.data.record
        if rec is None:
            return []
        return [(k, rec.comments[k.id]) for k in kpis if k.id in rec.comments]

    def assurance_summary(self) -> list[Any]:
        """The summary page's assurance levels from the meeting record: one line per measure
        with commentary (measure, pillar, assurance, owner), in catalogue order; a sentence
        when the record holds none or could not be read; nothing without a record."""
        d = self.data
        if d.record is None:
            return [self.p(esc(d.record_note), self.s.small)] if d.record_note else []
        flow: list[Any] = [Spacer(1, 4 * mm),
                           self.p("Assurance levels (meeting record)", self.s.h2)]
        commented = self._commented(d.kpis)
        if not commented:
            flow.append(self.p(esc(f"No commentary or assurance recorded for {d.force}, "
                                   f"{d.window_label}."), self.s.body))
            return flow
        counts = {word: sum(1 for _, c in commented if assurance_words(c) == word)
                  for word in ASSURANCE_ORDER}
        flow.append(self.p(esc(" · ".join(f"{w}: {n}" for w, n in counts.items())),
                           self.s.small))
        rows = [self.head("Measure", "Pillar", "Assurance", "Owner")]
        for kpi, comment in commented:
            rows.append([self.p(esc(kpi.name), self.s.cell), self.p(str(kpi.pillar), self.s.cell),
                         self.p(esc(assurance_words(comment)), self.s.cell_b),
                         self.p(esc(getattr(comment, "owner", "")), self.s.cell)])
        flow.append(_table(rows, [90 * mm, 16 * mm, 36 * mm, self.width - 142 * mm]))
        return flow

    def actions_summary(self) -> list[Any]:
        """The force's open actions from the meeting record, overdue first (then by due
        date), each with what it is for, its owner, due date and whether it is overdue.
        Internal packs with a record only (a panel pack lists no actions)."""
        d = self.data
        if d.record is None or d.audience == "panel":
            return []
        rec = d.record
        flow: list[Any] = [Spacer(1, 4 * mm), self.p(esc(
            f"Actions: {len(rec.open_actions)} open, {len(rec.overdue)} overdue "
            f"(on {rec.today:%d %b %Y})"), self.s.h2)]
        if not rec.open_actions:
            flow.append(self.p(esc(f"No open actions for {d.force} in the meeting record."),
                               self.s.body))
            return flow
        overdue = {a.id for a in rec.overdue}
        names = {k.id: k.name for k in d.kpis}
        rows = [self.head("Action", "For", "Owner", "Due", "Status")]
        for a in sorted(rec.open_actions, key=lambda a: (a.id not in overdue, a.due_date, a.id)):
            target = (names.get(a.kpi_id, a.kpi_id) if a.kpi_id else
                      f"Pillar {a.pillar}: {PILLARS.get(a.pillar, '')}" if a.pillar else "")
            late = a.id in overdue
            rows.append([self.p(esc(a.text), self.s.cell), self.p(esc(target), self.s.cell),
                         self.p(esc(a.owner), self.s.cell),
                         self.p(esc(f"{a.due_date:%d %b %Y}"), self.s.cell),
                         self.p(esc("Overdue" if late else "Open"),
                                self.s.cell_b if late else self.s.cell)])
        flow.append(_table(rows, [self.width - 170 * mm, 70 * mm, 44 * mm, 28 * mm, 28 * mm]))
        return flow

    def pillar_commentary(self, kpis: Sequence[KPI]) -> list[Any]:
        """The meeting record's commentary on the pillar's measures, printed with its table:
        measure, assurance, owner, commentary (and, internal packs only, author and time)."""
        commented = self._commented(kpis)
        if not commented:
            return []
        internal = self.data.audience != "panel"
        head = ["Measure", "Assurance", "Owner", "Commentary"]
        widths = [46 * mm, 26 * mm, 34 * mm]
        if internal:
            head.append("Recorded by")
        rows = [self.head(*head)]
        for kpi, c in commented:
            cells = [self.p(esc(kpi.name), self.s.cell),
                     self.p(esc(assurance_words(c)), self.s.cell_b),
                     self.p(esc(getattr(c, "owner", "")), self.s.cell),
                     self.p(esc(getattr(c, "text", "")), self.s.cell)]
            if internal:
                when = getattr(c, "created_at", None)
                stamp = f", {when:%d %b %Y}" if isinstance(when, datetime) else ""
                cells.append(self.p(esc(f"{getattr(c, 'author', '')}{stamp}"), self.s.cell))
            rows.append(cells)
        rest = self.width - sum(widths) - (40 * mm if internal else 0)
        widths.append(rest)
        if internal:
            widths.append(40 * mm)
        return [self.p("Commentary and assurance (meeting record)", self.s.h2),
                _table(rows, widths), Spacer(1, 2 * mm)]

    def absent_text(self, kpi: KPI, row: Any) -> str:
        """Why the KPI's row has no data, as the deck says it (``present.tiles.absent_words``):
        a missing file, or no meeting record given; "" when the row has data or the reason is
        not known (a record given but unreadable: the pack's own note says so)."""
        if row is not None and _get(row, "status") != "no_data":
            return ""
        if self.data.record is not None:
            record: bool | None = True
        else:
            record = None if self.data.record_note else False
        return absent_words(kpi, self.data.tables or None, record)

    def _kpi_cells(self, kpi: KPI, row: Any, *, with_kind: bool = False) -> list[Any]:
        """One KPI's row of a pillar or victim-voice table: name, [kind,] value, interval, n,
        change and SPC verdict (interval and n left blank unless the value is shown)."""
        ok = row is not None and _get(row, "status") == "ok"
        interval = (format_interval(row["ci_low"], row["ci_high"], kpi.unit) if ok
                    else self.absent_text(kpi, row))
        cells = [self.p(esc(kpi.name), self.s.cell)]
        if with_kind:
            cells.append(self.p(esc(kpi.kind), self.s.cell))
        return cells + [
            self.p(esc(self.value_text(kpi, row)),
                   self.s.cell_b),
            self.p(esc(interval.replace("95% CI ", "")), self.s.cell),
            self.p(esc(format_n(row["n"]) if ok else ""), self.s.cell),
            self.p(esc(change_text(kpi, row)), self.s.cell),
            self.p(esc(self.data.last_verdict(kpi.id)), self.s.cell),
        ]

    def kpi_cells(self, kpi: KPI) -> tuple[list[Any], bool]:
        """Five flight-deck cells (name, value, interval, change, verdict) and whether the
        value cell should span the interval cell (a gate or suppression message)."""
        row = self.data.row(kpi.id)
        value = self.value_text(kpi, row)
        ok = row is not None and _get(row, "status") == "ok"
        interval = format_interval(row["ci_low"], row["ci_high"], kpi.unit) if ok else ""
        absent = self.absent_text(kpi, row)
        value = f"{value}: {absent}" if absent else value
        cells = [self.p(esc(kpi.name), self.s.deck),
                 self.p(esc(value), self.s.deck_b),
                 self.p(esc(interval.replace("95% CI ", "")), self.s.deck),
                 self.p(esc(change_short(kpi, row)), self.s.deck),
                 self.p(esc(self.data.last_verdict(kpi.id)), self.s.deck)]
        return cells, not ok

    def flight_deck(self) -> list[Any]:
        """The flight deck page(s): six pillars, quantitative and qualitative side by side."""
        d = self.data
        flow: list[Any] = [self.p(esc(f"Flight deck: {d.force}, {d.window_label}"), self.s.h1),
                           self.p(esc(f"Values with 95% intervals. Change is against "
                                       f"{d.comparison_label}, with what its test says. The "
                                       "verdict combines the SPC chart (pillar pages) and "
                                       "the change test, as on the flight deck."),
                                  self.s.small), Spacer(1, 4)]
        kpi_w = [38 * mm, 18 * mm, 26 * mm, 24 * mm, 27 * mm]
        gap = self.width - 2 * sum(kpi_w)
        widths = kpi_w + [gap] + kpi_w
        header = self.head("Quantitative", "Value", "95% interval", "Change", "Verdict", "",
                           "Qualitative", "Value", "95% interval", "Change", "Verdict")
        blank = ["", "", "", "", ""]
        blocks: list[tuple[list[list[Any]], list[tuple]]] = []
        for number, name in PILLARS.items():
            quant = [k for k in d.kpis if k.pillar == number and k.kind == "quantitative"]
            qual = [k for k in d.kpis if k.pillar == number and k.kind == "qualitative"]
            rows: list[list[Any]] = [[self.p(f"<b>Pillar {number}: {esc(name)}</b>",
                                             self.s.deck_b)] + [""] * 10]
            extra: list[tuple] = [("SPAN", (0, 0), (-1, 0)),
                                  ("BACKGROUND", (0, 0), (-1, 0), GREY_BAND),
                                  ("LINEABOVE", (0, 0), (-1, 0), 1, colors.black)]
            for i in range(max(len(quant), len(qual), 1)):
                r = len(rows)
                left, span_l = self.kpi_cells(quant[i]) if i < len(quant) else (blank, False)
                right, span_r = self.kpi_cells(qual[i]) if i < len(qual) else (blank, False)
                if span_l:
                    extra.append(("SPAN", (1, r), (2, r)))
                if span_r:
                    extra.append(("SPAN", (7, r), (8, r)))
                rows.append([*left, "", *right])
            blocks.append((rows, extra))

        def table(rows: list[list[Any]], extra: list[tuple], with_header: bool) -> Table:
            shift = 1 if with_header else 0
            moved = [(cmd, (a[0], a[1] + shift), (b[0], b[1] + shift), *rest)
                     for cmd, a, b, *rest in extra]
            moved += [("LINEBEFORE", (6, 0), (6, -1), 0.8, colors.black),
                      ("TOPPADDING", (0, 0), (-1, -1), 1.6),
                      ("BOTTOMPADDING", (0, 0), (-1, -1), 1.6)]
            return _table(([header] if with_header else []) + rows, widths,
                          header=with_header, zebra=False, extra=moved)

        note = [self.p(esc("Change: the difference from the comparison window; "
                           "\u201c(real)\u201d when its test says the change is real "
                           "(otherwise it could be chance)."), self.s.small),
                *self.suppressed_note()]
        whole = [*flow, table([r for rows, _ in blocks for r in rows],
                              [(cmd, (a[0], a[1] + sum(len(rw) for rw, _ in blocks[:k])),
                                (b[0], b[1] + sum(len(rw) for rw, _ in blocks[:k])), *rest)
                               for k, (_, ex) in enumerate(blocks) for cmd, a, b, *rest in ex],
                              True), *note]
        needed = sum(f.wrap(self.width, self.height)[1] for f in whole)
        if needed <= (self.height - 2) * 1.15:
            # One page, shrinking a little when needed.
            return [KeepInFrame(self.width, self.height - 2, whole, mode="shrink"), PageBreak()]
        # Too long for one readable page: break between pillars (never inside one), with the
        # column headings at the top of each page.
        out: list[Any] = list(flow)
        room = self.height - sum(f.wrap(self.width, self.height)[1] for f in flow) - 4
        first_on_page = True
        for rows, extra in blocks:
            t_ = table(rows, extra, first_on_page)
            h = t_.wrap(self.width, self.height)[1]
            if h > room and not first_on_page:
                out.append(PageBreak())
                room = self.height - 4
                t_ = table(rows, extra, True)
                h = t_.wrap(self.width, self.height)[1]
            out.append(t_)
            room -= h
            first_on_page = False
        return [*out, *note, PageBreak()]

    def _sentences(self, kpi: KPI) -> list[str]:
        """What a KPI's chart shows: a sentence per special cause (or why there is none)."""
        d = self.data
        frame = d.spc.get(kpi.id)
        months = 0 if frame is None else int(frame["value"].notna().sum())
        sentences = special_cause_sentences(kpi, frame if frame is not None else
                                            pd.DataFrame(), d.adoption, limit=SENTENCES_PER_KPI)
        if kpi.id in d.spc_notes:
            return [d.spc_notes[kpi.id]]
        if not sentences:
            sentences = [f"{kpi.name}: no special cause; common cause variation only."
                         if months >= 2 else f"{kpi.name}: too few months with a value to "
                                             "chart."]
        if months >= 2 and frame is not None and frame.attrs.get("provisional"):
            sentences.append("Limits are provisional: fewer than 12 months set them.")
        return sentences

    def pillar_pages(self) -> list[Any]:
        """Per pillar: a table of its KPIs, then one card per KPI (its SPC chart with the
        sentences under it), four to a row (eight fit a page under the table). Without charts
        the sentences join the table."""
        d = self.data
        flow: list[Any] = []
        gap = 3 * mm
        per_row = CARDS_PER_ROW
        chart_w = (self.width - (per_row - 1) * gap) / per_row
        chart_h = chart_w * 0.62
        for number, name in PILLARS.items():
            kpis = [k for k in d.kpis if k.pillar == number and k.source != "survey_responses"]
            cards = {k.id: self.spc_chart(k, chart_w, chart_h) for k in kpis}
            with_charts = any(c is not None for c in cards.values())
            flow.append(self.p(esc(f"Pillar {number}: {name}"), self.s.h1))
            head = ["KPI", "Kind", "Value", "95% interval", "n", "Change", "Verdict"]
            rows = [self.head(*head, *([] if with_charts else ["What the chart shows"]))]
            for kpi in kpis:
                cells = self._kpi_cells(kpi, self.data.row(kpi.id), with_kind=True)
                if not with_charts:
                    cells.append([self.p(esc(s), self.s.cell) for s in self._sentences(kpi)])
                rows.append(cells)
            widths = [52 * mm, 22 * mm, 24 * mm, 34 * mm, 20 * mm, 48 * mm, 50 * mm]
            if with_charts:
                widths[0] += self.width - sum(widths)
            else:
                widths = [40 * mm, 20 * mm, 22 * mm, 30 * mm, 18 * mm, 26 * mm, 26 * mm]
                widths.append(self.width - sum(widths))
            flow.append(_table(rows, widths))
            flow.append(Spacer(1, 2 * mm))
            flow += self.pillar_commentary(kpis)
            flow += self.charts_missing_note()
            if with_charts:
                flow.append(self.p(esc(
                    "Key: ● common cause, ▲ improvement, ◆ concern, ■ unusually high or low; "
                    f"the last {SPC_HISTORY_MONTHS} months; solid line the mean, dashed lines "
                    "the process limits; dotted vertical line: Soteria adopted, limits "
                    "rebased. Maturing months are drawn but set no limits."), self.s.small))
                items = []
                for kpi in kpis:
                    img = cards[kpi.id]
                    text = [self.p(esc(s), self.s.card) for s in self._sentences(kpi)]
                    items.append([img, *text] if img is not None else
                                 [self.p(f"<b>{esc(kpi.name)}</b>", self.s.cell), *text])
                lines: list[Any] = []
                for i in range(0, len(items), per_row):
                    line = items[i:i + per_row]
                    line += [""] * (per_row - len(line))
                    t = Table([line], colWidths=[chart_w + gap] * (per_row - 1) + [chart_w])
                    t.setStyle(TableStyle([("LEFTPADDING", (0, 0), (-1, -1), 0),
                                           ("RIGHTPADDING", (0, 0), (-1, -1), gap),
                                           ("TOPPADDING", (0, 0), (-1, -1), 3),
                                           ("VALIGN", (0, 0), (-1, -1), "TOP")]))
                    lines.append(t)
                # The footnote stays with the last row of charts (never alone on a page).
                flow += lines[:-1] + [KeepTogether(lines[-1:] + self.suppressed_note())]
            else:
                flow += self.suppressed_note()
            flow.append(PageBreak())
        return flow

    def victim_voice(self) -> list[Any]:
        """The victim voice page: qualitative measures, survey gates, before/after adoption."""
        d = self.data
        flow: list[Any] = [self.p("Victim voice", self.s.h1), self.p(esc(
            f"What victims told the force in survey responses dated {d.window_label}, and the "
            "qualitative measures of how victims are kept informed. A survey item is shown "
            f"once {registry.SURVEY_MIN_N} victims have answered it: below that the pack says "
            "how many answered and how many are needed. Percentages are "
            "the share agreeing (4 or 5 out of 5) or answering yes."), self.s.body),
            Spacer(1, 3 * mm)]
        kpis = [k for k in d.kpis if k.pillar == 3 and k.kind == "qualitative"]
        rows = [self.head("Measure", "Value", "95% interval", "n", "Change", "Verdict")]
        for kpi in kpis:
            rows.append(self._kpi_cells(kpi, d.row(kpi.id)))
        table = _table(rows, [66 * mm, 40 * mm, 40 * mm, 24 * mm, 36 * mm, 32 * mm])
        ba = self.before_after_table()
        flow.append(table)
        flow += self.charts_missing_note()
        if ba:
            flow.append(KeepTogether(ba))
        img = self.survey_chart(150 * mm)
        if img is not None:
            img.hAlign = "LEFT"
            flow += [Spacer(1, 3 * mm), KeepTogether([
                self.p("Survey items in the window, with 95% intervals", self.s.h2), img])]
        flow += self.suppressed_note()
        flow.append(PageBreak())
        return flow

    def before_after_table(self) -> list[Any]:
        """Survey items before adoption against after (up to 24 months each side)."""
        d = self.data
        frame = d.before_after
        if frame is None or frame.empty or d.adoption is None:
            return []
        adopted = d.adoption.strftime("%b %Y")
        b0, a1 = d.before_after_window or (d.adoption, d.adoption)
        flow: list[Any] = [Spacer(1, 4 * mm), self.p(esc(
            f"Before and after adoption ({adopted}): {describe_window(b0, d.adoption - 1)} "
            f"against {describe_window(d.adoption, a1)}"), self.s.h2),
            self.p(esc(
                "Difference after minus before with a 95% Newcombe interval; p-values adjusted "
                "for testing every item at once (Benjamini-Hochberg, 5% false discovery rate)."),
                self.s.small), Spacer(1, 1.5 * mm)]
        rows = [self.head("Survey item", "Before", "After", "Difference (95% interval)",
                          "Adjusted p", "Verdict")]
        for _, r in frame.iterrows():
            kpi = d.kpi(r["kpi_id"])
            ok = r["status"] == "ok"
            before = kpi_value_text(kpi, {"status": r["status_before"], "value": r["value_before"],
                                          "n": r["n_before"]})
            after = kpi_value_text(kpi, {"status": r["status_after"], "value": r["value_after"],
                                         "n": r["n_after"]})
            diff = (f"{r['diff'] * 100:+.1f} pts ({r['low'] * 100:+.1f} to "
                    f"{r['high'] * 100:+.1f})") if ok else ""
            verdict_words = (("likely real" if r["real"] else "could be chance") if ok
                             else "too few answers")
            rows.append([self.p(esc(kpi.name.removeprefix("Survey: ").capitalize()),
                                self.s.cell),
                         self.p(esc(before), self.s.cell),
                         self.p(esc(after), self.s.cell),
                         self.p(esc(diff.replace("-", "−")), self.s.cell),
                         self.p("" if is_missing(r["q"]) else f"{r['q']:.3f}", self.s.cell),
                         self.p(esc(verdict_words), self.s.cell)])
        flow.append(_table(rows, [66 * mm, 34 * mm, 34 * mm, 56 * mm, 24 * mm, 36 * mm]))
        return flow

    def compare_forces(self, funnels: list[Funnel]) -> list[Any]:
        """The compare-forces page: funnel plots with the forces outside 95% beside them."""
        d = self.data
        flow: list[Any] = [self.p("Compare forces", self.s.h1), self.p(esc(
            f"Funnel plots for {d.window_label}: each force's rate against its denominator, with "
            "95% and 99.8% limits around the rate for all forces together. A force is flagged "
            "only outside the 99.8% limits; between 95% and 99.8% it is worth a look. Forces are "
            "not ranked: a league table would mostly rank noise."), self.s.body),
            Spacer(1, 3 * mm)]
        if not funnels:
            held = sorted(set(d.forces_window["force"].astype(str)) - {ALL_FORCES})
            flow.append(self.p(esc(too_few_forces_text(held) or (
                "No funnel plot: fewer than three forces have a value for the compared KPIs "
                "in this window.")), self.s.body))
        flow += self.charts_missing_note()
        labels = {"outside": "Outside 99.8%: flagged",
                  "worth_a_look": "95% to 99.8%: worth a look"}
        side_w = 128 * mm
        for funnel in funnels:
            kpi = d.kpi(funnel.kpi_id)
            points = funnel.points
            img_w = self.width - side_w - 4 * mm
            img_h = img_w * 0.44  # two funnels to a page
            img = self.funnel_chart(funnel, img_w, img_h)
            # With the chart, list the forces outside 95%; without it, every force
            # (alphabetically: positions, not ranks).
            shown = points if img is None else points[points["flag"].isin(list(labels))]
            rows = [self.head("Force", "Rate", "Denominator", "Position")]
            for _, r in shown.sort_values("force").iterrows():
                where = "above" if r["value"] > funnel.target else "below"
                position = (f"{labels[r['flag']]}, {where}" if r["flag"] in labels
                            else "Within 95%")
                style = self.s.cell_b if r["flag"] == "outside" else self.s.cell
                rows.append([self.p(esc(r["force"]), style),
                             self.p(esc(format_value(r["value"], "proportion")), style),
                             self.p(esc(f"n = {r['n']:,.0f}"), style),
                             self.p(esc(position), style)])
            side: list[Any] = [self.p(esc(
                f"{kpi.name}: all forces {format_value(funnel.target, 'proportion')}"),
                self.s.h2)]
            this = points[points["force"] == d.force]
            if not this.empty:
                where = {"outside": "outside the 99.8% limits (flagged)",
                         "worth_a_look": "between the 95% and 99.8% limits (worth a look)",
                         "within": "within the 95% limits"}[str(this.iloc[0]["flag"])]
                side.append(self.p(esc(f"{d.force} is {where}."), self.s.body))
            if funnel.overdispersed:
                side.append(self.p(esc(
                    "The forces vary more than chance alone allows (overdispersion), so the "
                    "limits are widened (Spiegelhalter's additive random effects)."),
                    self.s.small))
            side.append(Spacer(1, 2 * mm))
            if len(rows) > 1:
                side.append(_table(rows, [48 * mm, 16 * mm, 24 * mm, side_w - 88 * mm]))
            else:
                side.append(self.p("Every force lies within the 95% limits.", self.s.body))
            if img is None:
                flow += side + [Spacer(1, 4 * mm)]
                continue
            block = Table([[img, side]], colWidths=[img_w + 4 * mm, side_w])
            block.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                                       ("LEFTPADDING", (0, 0), (-1, -1), 0)]))
            flow += [CondPageBreak(img_h + 10), block, Spacer(1, 3 * mm)]
        flow += self.suppressed_note()
        flow.append(PageBreak())
        return flow

    def appendix(self) -> list[Any]:
        """The appendix: every KPI's definition from the registry and how to read the pack."""
        d = self.data
        flow: list[Any] = [self.p("Appendix: definitions and methods", self.s.h1), self.p(esc(
            "Generated from the KPI registry, the single declaration every tile, chart, table "
            "and export reads."), self.s.small), Spacer(1, 2 * mm)]
        rows = [self.head("KPI (id)", "Pillar", "Kind", "Unit, better", "Min n", "Definition",
                          "Numerator", "Denominator")]
        for kpi in d.kpis:
            rows.append([
                self.p(f"<b>{esc(kpi.name)}</b><br/>{esc(kpi.id)}", self.s.cell_small),
                self.p(str(kpi.pillar), self.s.cell_small),
                self.p(esc(kpi.kind), self.s.cell_small),
                self.p(esc(f"{kpi.unit}, {kpi.better}"), self.s.cell_small),
                self.p(str(kpi.min_n), self.s.cell_small),
                self.p(esc(kpi.definition), self.s.cell_small),
                self.p(esc(kpi.numerator), self.s.cell_small),
                self.p(esc(kpi.denominator or "-"), self.s.cell_small),
            ])
        rest = self.width - (42 + 12 + 20 + 24 + 11) * mm
        flow.append(_table(rows, [42 * mm, 12 * mm, 20 * mm, 24 * mm, 11 * mm, rest * 0.42,
                                  rest * 0.29, rest * 0.29]))
        flow += [Spacer(1, 4 * mm), self.p("How to read the pack", self.s.h2)]
        notes = [
            "Intervals: proportions carry a 95% Wilson score interval; medians a "
            "distribution-free 95% interval from order statistics.",
            "Gates: a value based on fewer items than its KPI's minimum n is not shown; the "
            "pack prints n and the number needed instead.",
            "SPC (NHS Making Data Count XmR charts): the mean and process limits (2.66 times "
            "the mean moving range) come from the series, rebased at the force's Soteria "
            "adoption month. Special cause: a point outside the limits, 7 months on one side "
            "of the mean, 7 months rising or falling, or 2 of 3 months close to a limit. "
            "Improvement or concern follows the KPI's better direction; otherwise unusually "
            "high or low. Fewer than 12 months make the limits provisional.",
            "Funnel plots: exact binomial limits (Spiegelhalter 2005) around the all-forces "
            "rate; flagged only outside 99.8%.",
        ]
        if d.audience == "panel":
            notes.append("Disclosure control (scrutiny panel): a count of 0 stays 0, a count of "
                         "1 to 7 is suppressed, other counts are rounded to the nearest 5, rates "
                         "are computed from rounded counts, and statistics based on 1 to 7 "
                         "items are suppressed.")
        flow += [self.p(esc(n), self.s.small) for n in notes]
        return flow


ASSURANCE_ORDER = ("Assured", "Partly assured", "Not assured")
_ASSURANCE = {"assured": "Assured", "partly_assured": "Partly assured",
              "not_assured": "Not assured"}


def assurance_words(comment: Any) -> str:
    """A comment's assurance level in words (``Partly assured``)."""
    level = str(getattr(comment, "assurance", ""))
    return _ASSURANCE.get(level, level.replace("_", " ").capitalize() or "No level")


def _doc(buffer: io.BytesIO, data: PackData) -> BaseDocTemplate:
    """The A4 landscape document with one body frame inside the margins."""
    doc = BaseDocTemplate(
        buffer, pagesize=PAGE, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=TOP_MARGIN,
        bottomMargin=BOTTOM_MARGIN, title=f"Board pack: {data.force}, {data.window_label}",
        author="Soteria flight deck", subject=MARKING,
        keywords=[MARKING, data.audience],
    )
    frame = Frame(doc.leftMargin, doc.bottomMargin, doc.width, doc.height, id="body",
                  leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0)
    doc.addPageTemplates([PageTemplate(id="page", frames=[frame])])
    return doc



#: SPC chart cards per row on a pillar page.
CARDS_PER_ROW = 4


def render_pack(data: PackData, sections: Sequence[str], *, charts: bool = True,
                chart_note: str | None = None, funnels: list[Funnel] | None = None,
                builder_out: list[Any] | None = None) -> bytes:
    """The PDF bytes of the pack: cover, "what changed", then ``sections`` in order
    (flight_deck, pillars, victim_voice, compare_forces) and the appendix.

    ``charts=False`` leaves the charts out (``chart_note`` says why on the cover and chart
    pages). ``builder_out``: when a list is given, the builder is appended to it (tests read
    its ``drawings``)."""
    register_fonts()
    builder = _Builder(data, charts, chart_note, sections)
    if builder_out is not None:
        builder_out.append(builder)
    story: list[Any] = []
    story += builder.cover()
    story += builder.what_changed()
    if "flight_deck" in sections:
        story += builder.flight_deck()
    if "pillars" in sections:
        story += builder.pillar_pages()
    if "victim_voice" in sections:
        story += builder.victim_voice()
    if "compare_forces" in sections:
        story += builder.compare_forces(funnels or [])
    story += builder.appendix()
    buffer = io.BytesIO()
    doc = _doc(buffer, data)
    footer = (f"{data.force}: {data.window_label}"
              + (" (scrutiny panel)" if data.audience == "panel" else ""))
    canvas_cls = type("PackCanvas", (_NumberedCanvas,), {"footer_left": footer})
    doc.build(story, canvasmaker=canvas_cls)
    return buffer.getvalue()
