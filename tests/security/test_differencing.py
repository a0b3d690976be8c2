"""Differencing attacks on every panel output (issue 15, item 2), written to the rule.

A scrutiny panel sees several outputs at once and can add and subtract: groups of a breakdown
add up to the force's figure, months add up to their window, forces add up to All forces. The
checker below plays that panel. For each output a panel can see it builds the published cells
and the additive relations that hold between them (only relations that hold exactly in the
internal figures: an attacker who guesses a relation that is false learns nothing exact), and
then enumerates the integer solutions consistent with what is published, by integer
programming (the smallest and the largest value each cell can take over all solutions):

- a shown 0 is 0; a shown rounded count ``r`` is a value in ``[r-2, r+2]``;
- ``*`` is read two ways: **literally**, as the footnote's "1 to 7", and **broadly**, as any
  count from 0 (a secondary suppression can hide any count, and a zero as a last resort).

It fails when a hidden cell has exactly one possible value (broad reading; for the literal
reading, when that one value is the true one: a reading that pins a wrong value misleads rather
than discloses), when a published count is exact where it should be rounded (not a multiple of
5, not the rounded true value, or pinned to one value by the relations), or when the same count
is published two ways.

Outputs covered, on ``data/sample`` and on a generated export with many small cells
(``generate --cases 3000 --seed 7 --forces all``): ``kpis --audience panel`` by window (forces
against All forces), ``kpis --audience panel --by month`` (months against the window's row of
the by-window output, forces against All forces), ``breakdown --audience panel`` (groups
against the force's figure from the by-window output), and the tables the board pack prints for
a panel (``report.boardpack.collect_pack_data``), plus the two attacks reported in the issue.
"""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import Bounds, LinearConstraint, milp

from metrics.__main__ import main as cli_main

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample"
COUNTS = ("numerator", "denominator", "n")
ALL = "All forces"
BIG = 10**7
WINDOW = ("2024-10", "2025-09")

pytestmark = pytest.mark.slow


# --------------------------------------------------------------------------- the checker


@dataclass
class System:
    """Published cells (``None`` = ``*``), their true values and the additive relations."""

    name: str
    labels: list[str] = field(default_factory=list)
    true: list[float] = field(default_factory=list)
    shown: list[float | None] = field(default_factory=list)
    relations: list[tuple[list[int], int]] = field(default_factory=list)
    index: dict[object, int] = field(default_factory=dict)

    def cell(self, key: object, true: float, shown: float | None) -> int:
        """Add a cell once (the same published figure seen twice is one cell)."""
        if key in self.index:
            return self.index[key]
        self.index[key] = len(self.true)
        self.labels.append(str(key))
        self.true.append(0.0 if _missing(true) else abs(float(true)))
        self.shown.append(None if _missing(shown) else abs(float(shown)))
        return self.index[key]

    def relate(self, cells: list[int], total: int) -> None:
        """Add ``sum(cells) == total`` when it holds exactly in the internal figures."""
        if cells and abs(sum(self.true[c] for c in cells) - self.true[total]) < 1e-6:
            self.relations.append((cells, total))


def _missing(x: object) -> bool:
    return x is None or x is pd.NA or (isinstance(x, float) and math.isnan(x))


def _domains(system: System, literal: bool) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = [], []
    for shown in system.shown:
        if shown is None:
            lo.append(1 if literal else 0)
            hi.append(7 if literal else BIG)
        elif shown == 0:
            lo.append(0)
            hi.append(0)
        else:
            lo.append(max(8 if literal else 0, shown - 2))
            hi.append(shown + 2)
    return np.array(lo, dtype=float), np.array(hi, dtype=float)


def _components(system: System) -> list[list[int]]:
    """Cells joined by relations (each relation's cells and total), as lists of cell ids."""
    parent = list(range(len(system.true)))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for cells, total in system.relations:
        for c in cells:
            parent[find(c)] = find(total)
    groups: dict[int, list[int]] = {}
    for cells, total in system.relations:
        for c in [*cells, total]:
            groups.setdefault(find(c), []).append(c)
    return [sorted(set(g)) for g in groups.values()]


class Solver:
    """Integer solutions of one component: ``sum(cells) - total == 0``, each cell in a box."""

    def __init__(self, system: System, cells: list[int], literal: bool):
        self.cells = cells
        pos = {c: k for k, c in enumerate(cells)}
        rows = []
        for members, total in system.relations:
            if total in pos:
                row = np.zeros(len(cells))
                for c in members:
                    row[pos[c]] += 1
                row[pos[total]] -= 1
                rows.append(row)
        lo, hi = _domains(system, literal)
        self.bounds = Bounds(lo[cells], hi[cells])
        self.constraint = LinearConstraint(np.array(rows), 0, 0)
        self.pos = pos

    def extreme(self, objective: np.ndarray) -> np.ndarray | None:
        """The integer solution minimising ``objective``, or None when there is none."""
        res = milp(objective, constraints=self.constraint, bounds=self.bounds,
                   integrality=np.ones(len(self.cells)))
        return None if res.status != 0 else np.round(res.x)

    def values_of(self, cell: int) -> tuple[float, float] | None:
        """The smallest and largest integer value of ``cell`` over all solutions."""
        c = np.zeros(len(self.cells))
        c[self.pos[cell]] = 1
        low, high = self.extreme(c), self.extreme(-c)
        if low is None or high is None:
            return None
        return low[self.pos[cell]], high[self.pos[cell]]


def check(system: System) -> list[str]:
    """Every way the published cells give away more than the rule allows (empty: safe):
    a hidden or published count pinned to one value (to its true value, under the literal
    reading), or a published count that is not the rounded true count."""
    problems = []
    for label, true, shown in zip(system.labels, system.true, system.shown, strict=True):
        if shown is None:
            continue  # hidden: any value (a zero only as a last-resort secondary cell)
        if true == 0 and shown != 0:
            problems.append(f"{system.name}: {label} is 0 but shown as {shown:g}")
        elif true != 0 and 0 < true < 7.5:
            problems.append(f"{system.name}: {label} = {true:g} is shown ({shown:g})")
        elif true != 0 and (shown % 5 != 0 or abs(shown - true) > 2.5):
            problems.append(f"{system.name}: {label} shown as {shown:g}, not the rounded "
                            f"{true:g}")
    if problems:
        return problems
    for cells in _components(system):
        hidden = [c for c in cells if system.shown[c] is None]
        shown = [c for c in cells if system.shown[c] not in (None, 0)]
        for literal in (False, True):
            solver = Solver(system, cells, literal)
            # Solutions with random objectives show most cells can move; only the cells that
            # never moved get their own smallest and largest value.
            rng = np.random.default_rng(0)
            seen: dict[int, set[float]] = {c: set() for c in cells}
            first = solver.extreme(np.zeros(len(cells)))
            if first is None:
                if not literal:  # the truth itself is a solution of the broad reading
                    problems.append(f"{system.name}: no solution for the published cells")
                continue
            for x in [first] + [solver.extreme(rng.normal(size=len(cells))) for _ in range(6)]:
                if x is not None:
                    for c in cells:
                        seen[c].add(float(x[solver.pos[c]]))
            reading = "reading * as 1-7" if literal else "any reading"
            for c in [c for c in hidden + shown if len(seen[c]) == 1]:
                values = solver.values_of(c)
                if values is None or values[0] != values[1]:
                    continue
                if literal and values[0] != system.true[c]:
                    continue  # a wrong value: the literal reader is misled, not informed
                what = "hidden" if system.shown[c] is None else "published"
                problems.append(f"{system.name}: {what} {system.labels[c]} can only be "
                                f"{values[0]:g} ({reading})")
    return problems


def check_all(systems: Iterable[System]) -> list[str]:
    problems = []
    for s in systems:
        problems += check(s)
    return problems


# --------------------------------------------------------------------------- checking the checker


def _brute(system: System, literal: bool) -> dict[int, set[int]]:
    """Every integer solution of a tiny system, by enumeration (the checker's reference)."""
    lo, hi = _domains(system, literal)
    hi = np.minimum(hi, max([40.0] + [v + 2 for v in system.shown if v is not None]))
    values: dict[int, set[int]] = {c: set() for c in range(len(system.true))}
    ranges = [range(int(a), int(b) + 1) for a, b in zip(lo, hi, strict=True)]
    import itertools

    for combo in itertools.product(*ranges):
        if all(sum(combo[c] for c in cells) == combo[t] for cells, t in system.relations):
            for c, v in enumerate(combo):
                values[c].add(v)
    return values


def _line(true: list[float], shown: list[float | None], name: str = "line") -> System:
    s = System(name)
    ids = [s.cell(i, t, v) for i, (t, v) in enumerate(zip(true, shown, strict=True))]
    s.relate(ids[:-1], ids[-1])
    return s


def test_the_checker_finds_the_reported_breakdown_attack():
    # Female 120, Male 20, Not recorded *, and the pack's n 135 (the figures; true
    # 118 + 18 + 1 = 137): Not recorded can only be 1, and then the others are exact.
    s = _line([118, 18, 1, 137], [120, 20, None, 135])
    problems = check(s)
    assert any("hidden 2 can only be 1" in p for p in problems), problems
    assert any("published 0 can only be 118" in p for p in problems), problems
    assert _brute(s, literal=True)[2] == {1} and _brute(s, literal=True)[0] == {118}
    assert _brute(s, literal=False)[2] == {0, 1}  # only the footnote's reading pins it


def test_the_checker_finds_seven_hidden_months_under_a_hidden_window():
    s = _line([1] * 7 + [0] * 5 + [7], [None] * 7 + [0] * 5 + [None])
    problems = check(s)
    assert any("can only be 1" in p for p in problems)
    # Hiding a zero month as well leaves every month free under either reading.
    s2 = _line([1] * 7 + [0] * 5 + [7], [None] * 8 + [0] * 4 + [None])
    assert check(s2) == []


def test_the_checker_finds_unrounded_and_exact_published_counts():
    assert check(_line([12, 30, 42], [12, 30, 40]))  # 12 is not rounded
    # Four 8s shown as 10 (8 to 12) under a total of 32 shown as 30 (28 to 32): every one is
    # exactly 8, though each is rounded.
    problems = check(_line([8, 8, 8, 8, 32], [10, 10, 10, 10, 30]))
    assert any("published 0 can only be 8" in p for p in problems), problems
    assert check(_line([20, 40, 60], [20, 40, 60])) == []  # rounded, not pinned
    # Rounding alone leaves a lone hidden cell some room: 30 (28-32) of 35 (33-37) -> 1 to 9.
    assert check(_line([3, 30, 33], [None, 30, 35])) == []


@pytest.mark.parametrize("seed", range(30))
def test_the_checkers_integer_programme_agrees_with_enumeration(seed):
    rng = np.random.default_rng(seed)
    true = [int(v) for v in rng.choice([0, 1, 2, 3, 5, 8, 9, 12], size=3)]
    true.append(sum(true))
    shown = [None if 0 < v < 8 else (0 if v == 0 else float(5 * math.floor(v / 5 + 0.5)))
             for v in true]
    for k in rng.choice(4, size=int(rng.integers(0, 2)), replace=False):
        shown[int(k)] = None
    s = _line(true, shown)
    for literal in (False, True):
        values = _brute(s, literal)
        if not all(values.values()):
            continue  # no solution under this reading
        solver = Solver(s, list(range(4)), literal)
        capped = max(max(v) for v in values.values()) >= 40  # enumeration stopped at 40
        for c in range(4):
            low, high = solver.values_of(c)
            assert low == min(values[c]), (true, shown, literal, c)
            if not capped:
                assert high == max(values[c]), (true, shown, literal, c)
            else:
                assert high >= max(values[c])


# --------------------------------------------------------------------------- outputs


def run_cli(*args: str) -> pd.DataFrame:
    """Run ``python -m metrics ARGS`` in this process and read its CSV."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli_main(list(args))
    assert code == 0, err.getvalue()
    return pd.read_csv(io.StringIO(out.getvalue()), keep_default_na=False, na_values=[""])


@dataclass
class Export:
    path: Path
    window_internal: pd.DataFrame
    window_panel: pd.DataFrame


def _kpis(path: Path, audience: str, *extra: str) -> pd.DataFrame:
    return run_cli("kpis", str(path), "--from", WINDOW[0], "--to", WINDOW[1],
                   "--audience", audience, *extra)


@pytest.fixture(scope="module", params=["sample", "small"])
def export(request, tmp_path_factory) -> Export:
    if request.param == "sample":
        path = SAMPLE
    else:
        path = tmp_path_factory.mktemp("small") / "export"
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert cli_main(["generate", "--out", str(path), "--cases", "3000", "--seed", "7",
                             "--forces", "all"]) == 0
    return Export(path, _kpis(path, "internal"), _kpis(path, "panel"))


def _key(row: pd.Series) -> tuple:
    return (row["kpi_id"], row["force"], row["window_start"], row["window_end"])


def window_systems(internal: pd.DataFrame, panel: pd.DataFrame, name: str) -> list[System]:
    """``kpis --by window``: per KPI and count, the forces against All forces."""
    systems = []
    merged = internal.merge(panel, on=["kpi_id", "force", "window_start", "window_end"],
                            suffixes=("", "_shown"), validate="one_to_one")
    for kpi_id, block in merged.groupby("kpi_id"):
        for col in COUNTS:
            s = System(f"{name} {kpi_id} {col}")
            forces = [s.cell((r.force, col), getattr(r, col), getattr(r, f"{col}_shown"))
                      for r in block.itertuples() if r.force != ALL]
            total_rows = block[block["force"] == ALL]
            if len(total_rows):
                r = total_rows.iloc[0]
                total = s.cell((ALL, col), r[col], r[f"{col}_shown"])
                s.relate(forces, total)
            systems.append(s)
    return systems


def month_systems(export: Export, internal: pd.DataFrame, panel: pd.DataFrame,
                  name: str) -> list[System]:
    """``kpis --by month``: months against the by-window output's row, forces against All."""
    systems = []
    wi = export.window_internal.set_index(["kpi_id", "force"])
    wp = export.window_panel.set_index(["kpi_id", "force"])
    merged = internal.merge(panel, on=["kpi_id", "force", "window_start", "window_end"],
                            suffixes=("", "_shown"), validate="one_to_one")
    for kpi_id, block in merged.groupby("kpi_id"):
        for col in COUNTS:
            s = System(f"{name} {kpi_id} {col}")
            by_force: dict[str, list[int]] = {}
            by_month: dict[str, list[int]] = {}
            totals_month: dict[str, int] = {}
            for r in block.itertuples():
                c = s.cell((r.force, r.window_start, col), getattr(r, col),
                           getattr(r, f"{col}_shown"))
                if r.force == ALL:
                    totals_month[r.window_start] = c
                else:
                    by_month.setdefault(r.window_start, []).append(c)
                by_force.setdefault(r.force, []).append(c)
            window_cells = {}
            for force, cells in by_force.items():
                if (kpi_id, force) in wi.index:
                    w = s.cell((force, "window", col), wi.loc[(kpi_id, force), col],
                               wp.loc[(kpi_id, force), col])
                    window_cells[force] = w
                    s.relate(cells, w)
            for month, cells in by_month.items():
                if month in totals_month:
                    s.relate(cells, totals_month[month])
            if ALL in window_cells:
                s.relate([c for f, c in window_cells.items() if f != ALL], window_cells[ALL])
            systems.append(s)
    return systems


def _row_consistency(panel: pd.DataFrame, internal: pd.DataFrame, name: str) -> list[str]:
    """A count a KPI publishes twice in each row (``n`` is the denominator of a rate or a
    median, the numerator of a count: equal in every row of that KPI) must be hidden or shown
    alike, or the shown copy gives the hidden one away."""
    problems = []
    for kpi_id, rows in internal.groupby("kpi_id"):
        shown = panel.loc[rows.index]
        for a, b in (("n", "denominator"), ("n", "numerator")):
            same = (rows[a].fillna(-1) == rows[b].fillna(-1)) & rows[a].notna()
            if not same.all():
                continue  # not the same count by definition, only by chance in some rows
            odd = shown[a].isna() != shown[b].isna()
            for r in shown[odd].itertuples():
                problems.append(f"{name}: {kpi_id} {r.force} {r.window_start}: {a} and {b} "
                                "are the same count, one hidden, one shown")
    return problems


def _value_rules(panel: pd.DataFrame, name: str) -> list[str]:
    """Medians in whole days; a value shown only where its counts are."""
    from metrics.registry import STATIC_KPIS

    problems = []
    for r in panel.itertuples():
        unit = STATIC_KPIS[r.kpi_id].unit if r.kpi_id in STATIC_KPIS else "proportion"
        if _missing(r.value):
            continue
        if unit == "days" and (float(r.value) % 1 != 0 or _missing(r.n)):
            problems.append(f"{name}: {r.kpi_id} {r.force}: median {r.value} with n {r.n}")
        if unit == "proportion" and (_missing(r.numerator) or _missing(r.denominator)):
            problems.append(f"{name}: {r.kpi_id} {r.force}: a rate shown with a hidden count")
    return problems


def test_kpis_by_window_forces_against_all_forces(export):
    name = f"{export.path.name} kpis window"
    problems = check_all(window_systems(export.window_internal, export.window_panel, name))
    problems += _row_consistency(export.window_panel, export.window_internal, name)
    problems += _value_rules(export.window_panel, name)
    assert problems == [], "\n".join(problems[:20])


def test_kpis_by_month_against_the_window_and_all_forces(export):
    internal = _kpis(export.path, "internal", "--by", "month")
    panel = _kpis(export.path, "panel", "--by", "month")
    assert internal[list(COUNTS)].map(lambda x: not _missing(x) and 0 < x < 8).to_numpy().any()
    name = f"{export.path.name} kpis month"
    problems = check_all(month_systems(export, internal, panel, name))
    problems += _row_consistency(panel, internal, name)
    problems += _value_rules(panel, name)
    assert problems == [], "\n".join(problems[:20])


BREAKDOWN_KPIS = ("charge_rate", "early_advice_days", "s63g_applications")
DIMENSIONS = ("offence_group", "victim_age_band", "victim_sex", "victim_ethnicity", "team")


def breakdown_system(export: Export, kpi_id: str, dim: str, force: str) -> tuple[
        list[System], pd.DataFrame, pd.DataFrame]:
    args = ["breakdown", str(export.path), "--kpi", kpi_id, "--by", dim, "--from", WINDOW[0],
            "--to", WINDOW[1], "--force", force]
    internal = run_cli(*args)
    panel = run_cli(*args, "--audience", "panel")
    wi = export.window_internal.set_index(["kpi_id", "force"])
    wp = export.window_panel.set_index(["kpi_id", "force"])
    systems = []
    for col in COUNTS:
        s = System(f"{export.path.name} breakdown {kpi_id} by {dim} {force} {col}")
        cells = [s.cell(g, t, p) for g, t, p in zip(
            internal["group"], internal[col], panel[col], strict=True)]
        total = s.cell("force total", wi.loc[(kpi_id, force), col], wp.loc[(kpi_id, force), col])
        s.relate(cells, total)
        systems.append(s)
    return systems, internal, panel


def _forces_to_check(export: Export) -> list[str]:
    forces = sorted(set(export.window_internal["force"]) - {ALL})
    return [ALL] + forces[:4]


@pytest.mark.parametrize("kpi_id", BREAKDOWN_KPIS)
def test_breakdown_groups_against_the_forces_published_figure(export, kpi_id):
    problems = []
    for force in _forces_to_check(export):
        for dim in DIMENSIONS:
            systems, internal, panel = breakdown_system(export, kpi_id, dim, force)
            assert internal["group"].tolist() == panel["group"].tolist()
            problems += check_all(systems)
            name = f"breakdown {kpi_id} {dim} {force}"
            problems += _row_consistency(panel.assign(window_start=""),
                                         internal.assign(window_start=""), name)
            problems += _value_rules(panel, name)
    assert problems == [], "\n".join(problems[:20])


def test_the_reported_durham_breakdown_attack_is_closed():
    """Durham, 2024-10..2025-09, early_advice_days by victim sex against the window's n."""
    ex = Export(SAMPLE, _kpis(SAMPLE, "internal"), _kpis(SAMPLE, "panel"))
    systems, internal, panel = breakdown_system(ex, "early_advice_days", "victim_sex",
                                                "Durham Constabulary")
    assert internal["n"].between(1, 7).any()  # the small group the attack went for
    assert check_all(systems) == []
    assert panel["n"].isna().sum() >= 2


def test_the_reported_months_against_window_attack_is_closed(tmp_path):
    """Seven months of 1 and five of 0 under a hidden window (the issue's Wiltshire pattern),
    built in an export so that it goes through the real CLI."""
    import pyarrow.parquet as pq

    export = tmp_path / "export"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli_main(["generate", "--out", str(export), "--cases", "3000", "--seed", "7",
                         "--forces", "all"]) == 0
    survey = pq.read_table(export / "survey_responses.parquet").to_pandas()
    force = sorted(set(survey["force"].dropna().astype(str)))[0]
    mask = survey["force"].astype(str) == force
    template = survey[mask].iloc[[0]]
    months = pd.period_range(WINDOW[0], WINDOW[1], freq="M")[:7]
    rows = []
    for k, month in enumerate(months):  # one answer in each of seven months, none otherwise
        row = template.copy()
        row["response_date"] = (month.start_time + pd.Timedelta(days=9)).date()
        row["response_id"] = f"ATTACK-{k}"
        rows.append(row)
    pd.concat([survey[~mask], *rows], ignore_index=True).to_parquet(
        export / "survey_responses.parquet", index=False)
    item = next(c for c in survey.columns if c.startswith("q_"))
    kpi_id = "survey_" + item[2:]
    ex = Export(export, _kpis(export, "internal", "--kpi", kpi_id),
                _kpis(export, "panel", "--kpi", kpi_id))
    internal = _kpis(export, "internal", "--by", "month", "--kpi", kpi_id)
    panel = _kpis(export, "panel", "--by", "month", "--kpi", kpi_id)
    mine = internal[internal["force"] == force]
    if mine["denominator"].fillna(0).between(1, 1).sum() < 7:
        pytest.fail(f"the attack pattern was not built: {mine['denominator'].tolist()}")
    problems = check_all(month_systems(ex, internal, panel, "attack"))
    assert problems == [], "\n".join(problems[:20])


def as_text(t: pd.DataFrame) -> pd.DataFrame:
    """A KPI table with ISO date strings, as the CLI prints it (``kpi_id`` as a column)."""
    t = t.reset_index() if "kpi_id" not in t.columns else t.copy()
    for c in ("window_start", "window_end"):
        t[c] = pd.to_datetime(t[c]).dt.strftime("%Y-%m-%d")
    return t


def test_board_pack_tables_for_a_panel(export):
    """The tables ``report.boardpack.collect_pack_data`` prints for a panel: every force's
    window (the funnel table) against All forces, and the monthly history of each count KPI
    (a chart value per month that is the rounded count) against the window's figure. (For
    rates and medians a monthly chart value is a ratio or a median, not a count.)"""
    from metrics.kpis import compute_kpis
    from metrics.load import load_dataset
    from metrics.registry import STATIC_KPIS
    from report.boardpack import collect_pack_data

    dataset = load_dataset(export.path)
    problems = []
    for force in _forces_to_check(export)[:3]:
        data = collect_pack_data(dataset, force, WINDOW[0], WINDOW[1], audience="panel")
        name = f"{export.path.name} pack {force}"
        window_true = as_text(compute_kpis(dataset, data.start, data.end))
        window_shown = as_text(data.forces_window)
        problems += check_all(window_systems(window_true, window_shown, name + " window"))
        months = as_text(compute_kpis(dataset, data.start, data.end, by="month",
                                      forces=[force]))
        current = window_true[window_true["force"] == force].set_index("kpi_id")
        shown_now = window_shown[window_shown["force"] == force].set_index("kpi_id")
        for kpi_id, frame in data.spc.items():
            if STATIC_KPIS.get(kpi_id) is None or STATIC_KPIS[kpi_id].unit != "count":
                continue
            if frame is None or frame.empty or kpi_id not in current.index:
                continue
            chart = frame.assign(m=pd.PeriodIndex(frame["month"], freq="M").astype(str))
            chart = chart.set_index("m")["value"]
            s = System(f"{name} chart {kpi_id}")
            cells = []
            for r in months[months["kpi_id"] == kpi_id].itertuples():
                m = r.window_start[:7]
                cells.append(s.cell(m, r.numerator, chart.get(m, math.nan)))
            total = s.cell("window", current.loc[kpi_id, "numerator"],
                           shown_now.loc[kpi_id, "numerator"])
            s.relate(cells, total)
            problems += check(s)
    assert problems == [], "\n".join(problems[:20])


def test_a_panel_run_for_one_force_agrees_with_the_run_for_every_force(export):
    """Two panel runs must not disagree: otherwise the one force's shown count gives away what
    the table of every force hid to protect another cell."""
    forces = _forces_to_check(export)[1:3]
    every = export.window_panel
    for force in forces:
        alone = _kpis(export.path, "panel", "--force", force)
        mine = every[every["force"] == force].reset_index(drop=True)
        cols = ["kpi_id", "value", *COUNTS, "status"]
        pd.testing.assert_frame_equal(alone[cols].reset_index(drop=True), mine[cols],
                                      check_dtype=False)


def test_a_share_links_monthly_view_against_its_window(export):
    """The app's panel path (``ui.access.Access.disclose``): a link for one force and a
    window; its pages show the months of that window (from a longer monthly history, the rest
    blanked) and the window's tile. The months must not give the window's hidden cells away."""
    from datetime import UTC, datetime, timedelta

    from metrics.kpis import compute_kpis
    from metrics.load import load_dataset
    from metrics.sharelink import Scope
    from ui.access import Access

    dataset = load_dataset(export.path)
    now = datetime.now(UTC)
    problems = []
    for force in _forces_to_check(export)[1:3]:
        scope = Scope(force=force, start=WINDOW[0], end=WINDOW[1], pages=("trends",),
                      expires=now + timedelta(days=1), link_id="test", created_by="test",
                      created=now)
        access = Access(audience="panel", user="test", page_id="trends", mode="link",
                        scope=scope)
        history = compute_kpis(dataset, "2023-10", WINDOW[1], by="month", forces=[force])
        window = compute_kpis(dataset, WINDOW[0], WINDOW[1], forces=[force])
        shown_months = access.disclose(history)
        inside = pd.to_datetime(history["window_start"]) >= pd.Timestamp(WINDOW[0] + "-01")
        ex = Export(export.path, as_text(window), as_text(access.disclose(window)))
        problems += check_all(month_systems(
            ex, as_text(history[inside.to_numpy()].reset_index(drop=True)),
            as_text(shown_months[inside.to_numpy()].reset_index(drop=True)),
            f"{export.path.name} link {force}"))
    assert problems == [], "\n".join(problems[:20])
