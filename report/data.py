"""Gathering the numbers of a board pack: one pass over the engine, then the verdicts.

:func:`collect_pack_data` computes every table the pack prints, disclosure-controlled for the
panel audience, into a :class:`PackData`:

- ``current``: the window for the force (and ``forces_window`` for the funnel plots), from
  ``metrics.kpis.compute_kpis``;
- ``verdicts``: ONE row per KPI from ``metrics.verdicts.kpi_verdicts`` with the pack's
  audience (the same call the flight deck's tiles make, so a panel pack and the panel screen
  agree); every value, change and verdict the pack prints reads this frame;
- ``spc``: each KPI's chart over the 36 months ending at the window (``SPC_HISTORY_MONTHS``,
  the verdicts' span), from ``metrics.verdicts.spc_points`` (the screen's chart: final
  months only, Laney p' or XmR, rebased at adoption);
- ``sentences``: the flight deck's "what changed" sentences (``present.sentences.
  what_changed`` over ``verdicts``), the pack's first content page;
- the survey items before and after the force's adoption, and the funnel plots;
- ``record``: the meeting record's view (``metrics.record.view``: latest commentary and
  assurance per KPI, open and overdue actions) when the pack is given a record; for a panel
  pack the commentary and assurance only, without authors' names (no actions, no reviews).
  The record KPIs (``panel_nfa_decision_sound``, ``open_learning_actions``) come from the
  same record, through ``compute_kpis(..., record=...)`` and ``kpi_verdicts(..., record=...)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd

from metrics import registry
from metrics.dataset import Dataset
from metrics.registry import KPI
from metrics.windows import comparison_window, describe_window, latest_complete_month
from present.format import is_missing
from report.common import (
    ALL_FORCES,
    AUDIENCES,
    COMPARISONS,
    BoardpackError,
    UnusableDataError,
    _month,
)
from report.words import kpi_value_text, verdict_word

#: Months on each SPC chart, ending at the window's last month (the verdicts' span).
SPC_HISTORY_MONTHS = 36
#: Panel audience: no SPC chart when more than this share of a KPI's months is suppressed.
PANEL_MAX_SUPPRESSED_MONTHS = 0.25
#: Survey items before/after adoption: up to this many months each side (as the app's page).
BEFORE_AFTER_MONTHS = 24
#: Proportion KPIs shown as funnel plots on the compare-forces page.
FUNNEL_KPIS: tuple[str, ...] = ("charge_rate", "victim_withdrawal_rate")
#: The columns of a verdict frame (``metrics.verdicts.kpi_verdicts``) the pack reads.
VERDICT_COLUMNS: tuple[str, ...] = (
    "value", "ci_low", "ci_high", "n", "status", "provisional", "final_on", "compare_value",
    "difference", "diff_ci_low", "diff_ci_high", "test", "p_value", "q_value",
    "change_verdict", "spc_point_type", "spc_month", "spc_evidence", "verdict")


def spc_frame(monthly: pd.DataFrame, kpi: KPI, adoption: pd.Period | None) -> pd.DataFrame:
    """One KPI's XmR chart data: ``month``, ``value``, ``centre``, ``upper``, ``lower``,
    ``point_type``, one row per month of ``monthly`` (one KPI, one force, ``by="month"``).

    As in the engine's ``spc`` column, months whose status is not ``ok`` enter the series as
    missing (a gap, point type None) and the limits are rebased at the adoption month when it
    lies inside the series (not its first month), so pack and screen agree.
    ``attrs["provisional"]`` is True when fewer than 12 points set the last limits.
    """
    cols = ["month", "value", "centre", "upper", "lower", "point_type"]
    rows = monthly.sort_values("window_start")
    if rows.empty:
        return pd.DataFrame(columns=cols)
    months = pd.PeriodIndex(pd.to_datetime(rows["window_start"]), freq="M")
    values = rows["value"].astype(float).where(rows["status"].eq("ok").to_numpy())
    out = pd.DataFrame({"month": list(months), "value": values.to_numpy()})
    out["centre"] = math.nan
    out["upper"] = math.nan
    out["lower"] = math.nan
    out["point_type"] = None
    out.attrs["provisional"] = True
    if int(values.notna().sum()) < 2:
        return out[out["value"].notna()].reset_index(drop=True)[cols]
    from metrics.stats import xmr

    rebase = [adoption] if adoption is not None and months[0] < adoption <= months[-1] else None
    result = xmr(pd.Series(values.to_numpy(), index=months), improvement=kpi.improvement,
                 rebase=rebase)
    for col in ("centre", "upper", "lower", "point_type"):
        out[col] = result[col].to_numpy()
    out.attrs["provisional"] = bool(result.attrs.get("provisional", False))
    return out





@dataclass
class PackData:
    """Everything a pack prints, already disclosure-controlled in the panel audience."""

    force: str
    start: pd.Period
    end: pd.Period
    comp_start: pd.Period
    comp_end: pd.Period
    audience: str
    comparison: str
    as_at: date | None
    kpis: list[KPI]
    current: pd.DataFrame  # window, this force, indexed by kpi_id
    forces_window: pd.DataFrame  # window, every force (for the funnel plots)
    adoption: pd.Period | None
    scope: str = "all"
    verdicts: pd.DataFrame = field(default_factory=pd.DataFrame)  # indexed by kpi_id
    sentences: list[Any] = field(default_factory=list)
    not_listed: str = ""  # the measures that changed beyond the sentences (present.sentences)
    coverage_note: str = ""  # a window starting before the export's data (metrics.windows)
    spc: dict[str, pd.DataFrame] = field(default_factory=dict)
    spc_notes: dict[str, str] = field(default_factory=dict)  # why a KPI has no chart
    rounded: set[str] = field(default_factory=set)  # panel: KPIs whose value rounding moved
    before_after: pd.DataFrame | None = None  # survey items around adoption (see below)
    before_after_window: tuple[pd.Period, pd.Period] | None = None
    record: PackRecord | None = None  # the meeting record's view; None: no record given
    record_note: str = ""  # why the record is missing from a pack that asked for it
    # the export's table names, so a "No data" row whose table is missing says so
    # (present.tiles.absent_words); empty: not known
    tables: frozenset[str] = frozenset()

    @property
    def window_label(self) -> str:
        """The window in words, e.g. ``Oct 2025 to Sep 2026``."""
        return describe_window(self.start, self.end)

    @property
    def comparison_label(self) -> str:
        """The comparison window in words with its kind, e.g. ``... (previous window)``."""
        return (f"{describe_window(self.comp_start, self.comp_end)} "
                f"({COMPARISONS[self.comparison]})")

    def kpi(self, kpi_id: str) -> KPI:
        """The registry KPI with this id."""
        return next(k for k in self.kpis if k.id == kpi_id)

    def row(self, kpi_id: str) -> dict[str, Any] | None:
        """One KPI's row of the verdict frame (value, interval, n, status, change and
        verdict) as a dict, or None."""
        cache = self.__dict__.setdefault("_rows", {})
        if "current" not in cache:
            table = self.verdicts
            cache["current"] = {str(i): dict(r) for i, r in zip(
                table.index, table.to_dict("records"), strict=True)}
        return cache["current"].get(kpi_id)

    def last_verdict(self, kpi_id: str) -> str:
        """The KPI's verdict in words (icon and word, e.g. ``✔ Improving``), from the
        verdict frame: the same word the flight deck's tile shows."""
        row = self.row(kpi_id)
        return verdict_word(row)


@dataclass(frozen=True)
class PackRecord:
    """What the pack prints of the meeting record for its force and window.

    ``comments``: kpi_id -> latest comment (``owner``, ``text``, ``assurance``, ``author``
    (blank in a panel pack), ``created_at``); ``open_actions`` / ``overdue``: the force's open
    actions and those past their due date on ``today`` (empty in a panel pack)."""

    comments: dict[str, Any]
    open_actions: list[Any]
    overdue: list[Any]
    today: date


RECORD_UNAVAILABLE = ("The meeting record could not be read, so this pack has no commentary, "
                      "assurance levels or actions.")


def pack_record(record: Any, force: str, start: pd.Period, end: pd.Period, audience: str,
                today: date | None = None) -> tuple[PackRecord | None, str]:
    """The meeting record's view for the pack (``metrics.record.view``) and a note.

    Returns ``(None, "")`` without a record, ``(None, RECORD_UNAVAILABLE)`` when it cannot
    be read (the pack is built without it), else the view: for ``audience="panel"`` only the
    commentary and assurance, authors blanked, no actions."""
    if record is None:
        return None, ""
    from dataclasses import replace

    from metrics.record import view

    today = today or date.today()
    try:
        seen = view(record, force, str(start), str(end), today=today)
    except Exception:  # noqa: BLE001 - the database went away: the pack goes on without it
        return None, RECORD_UNAVAILABLE
    comments = dict(seen.comments)
    if audience == "panel":
        comments = {k: replace(c, author="") for k, c in comments.items()}
        return PackRecord(comments, [], [], today), ""
    return PackRecord(comments, list(seen.open_actions), list(seen.overdue), today), ""


def _compute(dataset: Dataset, start: pd.Period, end: pd.Period, **kw: Any) -> pd.DataFrame:
    """``metrics.kpis.compute_kpis`` for the window (the KPI table: values in the KPI's unit)."""
    from metrics.kpis import compute_kpis

    return compute_kpis(dataset, start, end, **kw)


def _panel(table: pd.DataFrame) -> pd.DataFrame:
    """``metrics.disclosure.apply_panel`` (the one place the panel rules live)."""
    from metrics.disclosure import apply_panel

    return apply_panel(table)


def _adoption_month(dataset: Dataset, force: str) -> pd.Period | None:
    """The month of the force's Soteria adoption (None for All forces or no date)."""
    from metrics.kpis.spc import adoption_months

    return None if force == ALL_FORCES else adoption_months(dataset).get(force)


def first_data_month(dataset: Dataset) -> pd.Period | None:
    """The first month with a recorded case, or None."""
    cases = dataset.get("cases")
    if cases is None or cases.empty:
        return None
    first = cases["recorded_date"].min()
    return None if pd.isna(first) else pd.Timestamp(first).to_period("M")


def _panel_pages() -> tuple[str, ...]:
    """The app pages a share link may open (``metrics.sharelink.PANEL_PAGES``)."""
    from metrics.sharelink import PANEL_PAGES

    return tuple(PANEL_PAGES)


def check_arguments(dataset: Dataset, force: str, start: str | pd.Period,
                    end: str | pd.Period, audience: str = "internal",
                    comparison: str = "previous") -> tuple[pd.Period, pd.Period]:
    """The window's first and last months, after checking every argument (cheap).

    Raises ``BoardpackError`` for a bad argument, ``UnusableDataError`` for an unusable export.
    """
    if audience not in AUDIENCES:
        raise BoardpackError(f"audience must be one of {', '.join(AUDIENCES)}, not {audience!r}")
    if comparison not in COMPARISONS:
        raise BoardpackError(
            f"comparison must be one of {', '.join(COMPARISONS)}, not {comparison!r}")
    if not dataset.report.usable or "cases" not in dataset.tables:
        problems = "; ".join(p.message for p in dataset.report.errors[:2]) or "no cases table"
        raise UnusableDataError(f"the export is not usable: {problems}")
    p0, p1 = _month(start, "start"), _month(end, "end")
    if p0 > p1:
        raise BoardpackError(f"the window starts ({p0}) after it ends ({p1})")
    if force not in set(dataset.forces) | {ALL_FORCES}:
        raise BoardpackError(f"unknown force {force!r}")
    return p0, p1


def collect_pack_data(dataset: Dataset, force: str, start: str | pd.Period,
                      end: str | pd.Period, *, audience: str = "internal",
                      comparison: str = "previous", scope: str = "all",
                      disclose: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
                      progress: Callable[[float, str], None] | None = None,
                      with_forces: bool = True, record: Any = None,
                      today: date | None = None) -> PackData:
    """Compute (and, for the panel, disclosure-control) every table the pack prints.

    ``disclose`` replaces ``apply_panel`` for the panel audience's own tables (the app passes
    ``Access.disclose``, which also keeps only a share link's force and months); verdicts
    come from ``kpi_verdicts(..., audience=audience)``, as on the screen.
    ``progress(share_done, message)`` reports the steps. ``with_forces=False``: the window
    for this force only (no funnel plots). ``record``: a ``metrics.record.Record`` (its KPIs,
    commentary, assurance and actions; see :func:`pack_record`), ``today`` the day actions
    are overdue against (default today). Raises ``BoardpackError`` for bad arguments,
    ``UnusableDataError`` for an unusable export.
    """
    def step(share: float, message: str) -> None:
        if progress is not None:
            progress(share, message)

    p0, p1 = check_arguments(dataset, force, start, end, audience, comparison)
    c0, c1 = comparison_window(p0, p1, comparison)
    from metrics.kpis import KpiInputError, survey_items

    kw: dict[str, Any] = {} if scope == "all" else {"scope": scope}
    view, record_note = pack_record(record, force, p0, p1, audience, today)
    if view is None:
        record = None  # unreadable: its KPIs stay no_data rather than failing the pack
    if record is not None:
        kw["record"] = record
    rule = (disclose or _panel) if audience == "panel" else None
    # Every force only when the funnels need them (an internal pack's compare-forces page).
    forces = None if audience == "internal" and with_forces else [force]
    try:
        window_all = _compute(dataset, p0, p1, forces=forces, **kw)
    except (KpiInputError, TypeError) as exc:
        raise BoardpackError(str(exc)) from exc
    raw_window = window_all[window_all["force"] == force]
    if rule is not None:
        window_all = rule(window_all)
    kpis = registry.all_kpis(survey_items(dataset))
    adoption = _adoption_month(dataset, force)
    data = PackData(
        force=force, start=p0, end=p1, comp_start=c0, comp_end=c1, audience=audience,
        comparison=comparison, as_at=dataset.as_at, kpis=kpis,
        current=window_all[window_all["force"] == force].set_index("kpi_id"),
        forces_window=window_all, adoption=adoption, scope=scope, record=view,
        record_note=record_note, coverage_note=_coverage_note(dataset, p0, p1, c0, c1),
        tables=frozenset(dataset.tables))
    step(0.3, "Verdicts (SPC and change tests)")
    data.verdicts = pack_verdicts(dataset, data, record=record)
    if rule is not None:
        data.rounded = rounding_changed(raw_window, data.verdicts, kpis)
    step(0.6, "SPC charts")
    data.spc, data.spc_notes = spc_frames(dataset, data, rule, kw)
    step(0.8, "What changed")
    data.sentences = what_changed_sentences(data)
    data.not_listed = not_listed_line(data)
    survey = [k for k in kpis if k.source == "survey_responses"]
    window = _before_after_window(dataset, adoption)
    if window is not None and survey and adoption is not None:
        ids = [k.id for k in survey]
        b0, a1 = window
        kw.pop("record", None)  # survey items only
        before = _compute(dataset, b0, adoption - 1, forces=[force], kpi_ids=ids, **kw)
        after = _compute(dataset, adoption, a1, forces=[force], kpi_ids=ids, **kw)
        data.before_after_window = window
        if rule is not None:
            before, after = rule(before), rule(after)
        data.before_after = survey_before_after(survey, before, after)
    return data


def rounding_changed(raw: pd.DataFrame, shown: pd.DataFrame, kpis: Sequence[KPI]) -> set[str]:
    """The KPIs whose value, as printed (``present.format.format_value``), differs between
    the undisclosed window table ``raw`` (rows of one force) and the panel's ``shown``
    (indexed by kpi_id): rounding moved them, so the pack marks them (as the app does)."""
    from present.format import format_value

    units = {k.id: k.unit for k in kpis}
    before = raw.drop_duplicates("kpi_id").set_index("kpi_id")
    out: set[str] = set()
    for kpi_id, row in shown.iterrows():
        if kpi_id not in before.index or row.get("status") != "ok" or \
                before.at[kpi_id, "status"] != "ok":
            continue
        unit = units.get(str(kpi_id), "proportion")
        if format_value(before.at[kpi_id, "value"], unit) != format_value(row["value"], unit):
            out.add(str(kpi_id))
    return out


def pack_verdicts(dataset: Dataset, data: PackData, *, record: Any = None) -> pd.DataFrame:
    """The verdict frame (indexed by kpi_id): ``metrics.verdicts.kpi_verdicts`` with the
    pack's force, window, comparison, scope and audience."""
    from metrics.verdicts import kpi_verdicts

    extra = {} if record is None else {"record": record}
    frame = kpi_verdicts(dataset, data.start, data.end, force=data.force,
                         compare=data.comparison, scope=data.scope, audience=data.audience,
                         **extra)
    out = frame.drop_duplicates("kpi_id").set_index("kpi_id")
    out.attrs = dict(frame.attrs)
    return out


def spc_frames(dataset: Dataset, data: PackData,
               rule: Callable[[pd.DataFrame], pd.DataFrame] | None,
               kw: dict[str, Any]) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """Each KPI's chart frame (month Period, value, centre, upper, lower, point_type,
    provisional) over the ``SPC_HISTORY_MONTHS`` months ending at the window, and notes for
    KPIs with no chart (a panel pack's mostly suppressed months).

    One by-month engine call for every KPI (none when ``kpi_verdicts`` hands over its own
    36 months in ``verdicts.attrs["monthly"]``, internal audience); the limits and point
    types from
    ``metrics.verdicts.spc_points`` (the screen's charts and the verdicts' SPC)."""
    from metrics.kpis import KpiInputError

    h0 = data.end - (SPC_HISTORY_MONTHS - 1)
    shared = data.verdicts.attrs.get("monthly") if rule is None else None
    if isinstance(shared, pd.DataFrame) and not shared.empty and \
            pd.Timestamp(shared["window_start"].min()).to_period("M") <= h0:
        # kpi_verdicts already computed these months (internal audience): reuse them.
        start = h0.start_time
        monthly = shared[pd.to_datetime(shared["window_start"]) >= start].copy()
    else:
        try:
            monthly = _compute(dataset, h0, data.end, by="month", forces=[data.force], **kw)
        except KpiInputError as exc:
            raise BoardpackError(str(exc)) from exc
    if "provisional" not in monthly.columns:
        monthly = monthly.assign(provisional=False)
    monthly["provisional"] = monthly["provisional"].fillna(False).astype(bool)
    if rule is _panel:
        # Months are protected against the windows the pack prints, so a hidden month
        # cannot be worked out from the window's total (metrics.disclosure).
        from metrics.disclosure import apply_panel

        monthly = apply_panel(monthly, windows=[(str(data.start), str(data.end)),
                                                (str(data.comp_start), str(data.comp_end))])
    elif rule is not None:
        monthly = rule(monthly)
    monthly = monthly.sort_values(["kpi_id", "window_start"]).reset_index(drop=True)
    from metrics.verdicts import adoption_months, spc_points

    known = {k.id: k for k in data.kpis}
    monthly = monthly[monthly["kpi_id"].isin(list(known))].reset_index(drop=True)
    points = spc_points(monthly, known, adoption_months(dataset))
    frames: dict[str, pd.DataFrame] = {}
    notes: dict[str, str] = {}
    for kpi in data.kpis:
        mask = (monthly["kpi_id"] == kpi.id).to_numpy()
        rows = monthly[mask]
        suppressed = float(rows["status"].eq("suppressed").mean()) if len(rows) else 0.0
        if data.audience == "panel" and suppressed > PANEL_MAX_SUPPRESSED_MONTHS:
            # The months left would be a biased selection (e.g. only the months with 0).
            frames[kpi.id] = spc_frame(rows.iloc[0:0], kpi, None)
            notes[kpi.id] = (
                f"{kpi.name}: no chart in the panel view: {suppressed:.0%} of the months are "
                "suppressed (counts of 1 to 7), and the rest alone would mislead.")
            continue
        pts = points[mask]
        frame = pd.DataFrame({
            "month": list(pd.PeriodIndex(pd.to_datetime(rows["window_start"]), freq="M")),
            "value": rows["value"].astype(float).where(rows["status"].eq("ok")).to_numpy(),
            "centre": pts["centre"].to_numpy(float), "upper": pts["upper"].to_numpy(float),
            "lower": pts["lower"].to_numpy(float),
            "point_type": [p if isinstance(p, str) else None for p in pts["point_type"]],
            "provisional": rows["provisional"].to_numpy(bool),
        })
        last = pts["limits_provisional"].to_numpy(bool)
        frame.attrs["provisional"] = bool(last[-1]) if len(last) else True
        frames[kpi.id] = frame
    return frames, notes


def what_changed_sentences(data: PackData) -> list[Any]:
    """The flight deck's "what changed" sentences for this view: ``present.sentences.
    what_changed`` over the verdict frame (objects with ``text``, ``icon``, ``word``)."""
    from present.sentences import what_changed

    return list(what_changed(data.verdicts.reset_index(), data.kpis,
                             window_words=f"in {data.window_label}",
                             compare_words=data.comparison_label))


def not_listed_line(data: PackData) -> str:
    """The measures that changed but have no sentence (``present.sentences.not_listed``),
    pointing to the pack's verdict summary; "" when every change has its sentence."""
    from present.sentences import not_listed

    return not_listed(data.verdicts.reset_index(), data.kpis, data.sentences,
                      where="each verdict is in the summary below")


def _before_after_window(dataset: Dataset, adoption: pd.Period | None
                         ) -> tuple[pd.Period, pd.Period] | None:
    """First month before and last month after adoption for the survey comparison: up to
    ``BEFORE_AFTER_MONTHS`` each side, within the export's months (as the app's victim voice
    page does); None when either side would be empty."""
    first, last = first_data_month(dataset), latest_complete_month(dataset.as_at)
    if adoption is None or first is None or last is None:
        return None
    b0 = max(adoption - BEFORE_AFTER_MONTHS, first)
    a1 = min(adoption + (BEFORE_AFTER_MONTHS - 1), last)
    if b0 >= adoption or a1 < adoption:
        return None
    return b0, a1


def survey_before_after(items: Sequence[KPI], before: pd.DataFrame, after: pd.DataFrame
                        ) -> pd.DataFrame:
    """Each survey item in the months before adoption against the months from it.

    Counts from the two KPI tables (``compute_kpis``, disclosure-controlled for a panel);
    ``metrics.stats.proportion_change`` (Newcombe interval, gate of the item's minimum n on each
    side) and Benjamini-Hochberg across the items. Columns: ``kpi_id``, ``status``, ``before``,
    ``after``, ``n_before``, ``n_after``, ``diff``, ``low``, ``high``, ``q`` (adjusted p),
    ``real`` (a discovery at a 5% false discovery rate) and each side's engine ``value_*`` and
    ``status_*`` (what the pack prints for that side).
    """
    from metrics.stats import benjamini_hochberg, proportion_change

    b, a = before.set_index("kpi_id"), after.set_index("kpi_id")

    def count(table: pd.DataFrame, kpi_id: str, col: str) -> float:
        value = table[col].get(kpi_id) if kpi_id in table.index else None
        return math.nan if is_missing(value) else float(value)  # type: ignore[arg-type]

    rows = []
    for kpi in items:
        result = proportion_change(count(b, kpi.id, "numerator"), count(b, kpi.id, "denominator"),
                                   count(a, kpi.id, "numerator"), count(a, kpi.id, "denominator"),
                                   min_n=kpi.min_n)
        rows.append({"kpi_id": kpi.id, **{k: result[k] for k in (
            "status", "before", "after", "n_before", "n_after", "diff", "low", "high",
            "p_value")},
            **{f"{col}_{side}": (table[col].get(kpi.id) if kpi.id in table.index else None)
               for side, table in (("before", b), ("after", a))
               for col in ("value", "status")}})
    frame = pd.DataFrame(rows)
    q, real = benjamini_hochberg(frame["p_value"].to_numpy(dtype=float))
    frame["q"], frame["real"] = q, real
    return frame


def _coverage_note(dataset: Dataset, p0: pd.Period, p1: pd.Period, c0: pd.Period,
                   c1: pd.Period) -> str:
    """``metrics.windows.coverage_note`` for the pack's windows ("" when both are covered)."""
    from metrics.windows import coverage_note

    first = dataset.first_recorded
    month = pd.Period(first, freq="M") if first is not None else None
    return coverage_note(month, p0, p1, c0, c1) or ""


def survey_frame(data: PackData) -> pd.DataFrame:
    """The survey items of the window for the survey chart: ``group`` (item words),
    ``value``, ``ci_low``, ``ci_high`` (fractions), ``n``, ``status`` and ``note`` (the gate
    or "Suppressed*" for an item without a value), from the verdict frame."""
    rows = []
    for kpi in data.kpis:
        r = data.row(kpi.id)
        if kpi.source != "survey_responses" or r is None:
            continue
        rows.append({"group": kpi.name.replace("Survey: ", "").capitalize(),
                     "value": r["value"], "ci_low": r["ci_low"], "ci_high": r["ci_high"],
                     "n": r["n"], "status": r["status"], "note": kpi_value_text(kpi, r)})
    return pd.DataFrame(rows, columns=["group", "value", "ci_low", "ci_high", "n", "status",
                                       "note"])


@dataclass
class Funnel:
    """One funnel plot: points per force (``force``, ``n``, ``value``, ``flag``), the limits
    to draw, the all-forces target and whether limits allow for overdispersion."""

    kpi_id: str
    points: pd.DataFrame
    limits: pd.DataFrame
    target: float
    overdispersed: bool


def _funnels(data: PackData) -> list[Funnel]:
    """A funnel per ``FUNNEL_KPIS`` entry with at least ``FUNNEL_MIN_FORCES`` forces.

    The window's (panel: disclosure-controlled) numerators and denominators of the forces
    with status ``ok``, placed by ``metrics.verdicts.funnel_points`` and drawn from
    ``present.funnel.funnel_from_verdicts``, exactly as the Compare forces page and the
    ``funnel`` CLI place them (pooled target, exact limits, widened for overdispersion only
    when phi > 1).
    """
    from metrics.verdicts import FUNNEL_MIN_FORCES, funnel_points
    from present.funnel import funnel_from_verdicts

    out = []
    table = data.forces_window
    for kpi_id in FUNNEL_KPIS:
        rows = table[(table["kpi_id"] == kpi_id) & (table["force"] != ALL_FORCES)
                     & (table["status"] == "ok")]
        if len(rows) < FUNNEL_MIN_FORCES:
            continue
        plot = funnel_from_verdicts(funnel_points(
            rows["force"].astype(str).tolist(), rows["numerator"].astype(float).to_numpy(),
            rows["denominator"].astype(float).to_numpy()))
        if plot is None or math.isnan(plot.target):
            continue
        out.append(Funnel(kpi_id, plot.points, plot.limits, plot.target, plot.overdispersed))
    return out
