"""Fast tests of the benchmark harness's pure parts (no timing asserts)."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from types import SimpleNamespace

import pytest

from bench import cli, datasets, report
from bench.core import floor_columns, months
from bench.profiling import self_times, top


def test_median_odd_even_and_missing() -> None:
    assert report.median([3.0, 1.0, 2.0]) == 2.0
    assert report.median([4.0, 1.0, 2.0, 3.0]) == 2.5
    assert report.median([None, math.nan, 5.0]) == 5.0
    assert report.median([]) is None


def test_percentile_matches_linear_interpolation() -> None:
    xs = [1.0, 2.0, 3.0, 4.0, 5.0]
    assert report.percentile(xs, 50) == 3.0
    assert report.percentile(xs, 95) == pytest.approx(4.8)
    assert report.percentile(xs, 0) == 1.0
    assert report.percentile(xs, 100) == 5.0
    assert report.percentile([7.0], 95) == 7.0
    assert report.percentile([], 95) is None
    with pytest.raises(ValueError):
        report.percentile(xs, 101)


def test_ratio_add_and_goal_checks() -> None:
    assert report.ratio(3.0, 1.5) == 2.0
    assert report.ratio(1.0, 0) is None
    assert report.ratio(None, 1.0) is None
    assert report.add(1.0, 2.0) == 3.0
    assert report.add(1.0, None) is None
    assert report.at_most(3.0, 3.0) is True
    assert report.below(0.3, 0.3) is False
    assert report.below(None, 1.0) is None


def test_growth_exponent() -> None:
    r, k = report.growth(250_000, 1.0, 1_000_000, 4.0)
    assert r == 4.0 and k == pytest.approx(1.0)
    r, k = report.growth(250_000, 1.0, 1_000_000, 2.0)
    assert k == pytest.approx(0.5)
    assert report.growth(250_000, None, 1_000_000, 2.0) == (None, None)
    assert report.no_worse_than_linear(250_000, 1_000_000, 4.0) is True
    assert report.no_worse_than_linear(250_000, 1_000_000, 4.01) is False
    assert report.no_worse_than_linear(250_000, 1_000_000, None) is None


def test_formatting() -> None:
    assert report.fmt_seconds(0.1234) == "123 ms"
    assert report.fmt_seconds(2.345) == "2.35 s"
    assert report.fmt_seconds(None) == "n/a"
    assert report.fmt_bytes(512 * report.MiB) == "512 MiB"
    assert report.fmt_bytes(3 * report.GiB) == "3.00 GiB"
    assert report.fmt_size(2048) == "2 KiB"
    assert report.fmt_ratio(2.04) == "2.0×"
    assert report.size_label(1_000_000) == "1M"
    assert report.size_label(250_000) == "250k"
    assert report.size_label(1234) == "1234"


def test_markdown_table_rows_and_results() -> None:
    rows = [
        report.Figure("1", "floor", "0.50 s"),
        report.Figure("2+4", "load + month", "2.00 s", goal="≤ 3 s", passed=True,
                      vs_floor="4.0×", has_goal=True),
        report.Figure("5", "peak", "n/a", goal="< 2 GiB", passed=None, has_goal=True),
        report.Figure("6", "warm", "400 ms", goal="< 300 ms", passed=False, has_goal=True),
    ]
    text = report.markdown_table(rows)
    lines = text.splitlines()
    assert lines[0].startswith("| step | figure | value | goal | result | vs floor |")
    assert len(lines) == 2 + len(rows)
    assert "| 2+4 | load + month | 2.00 s | ≤ 3 s | PASS | 4.0× |" in text
    assert "not measured" in lines[4]
    assert "FAIL" in lines[5]
    assert report.summary_counts(rows) == (1, 1, 1)


def _core(floor: float, load: float, window: float, month: float, rss: int) -> dict:
    return {"floor": [floor, floor * 2, floor], "load": [load] * 3, "window": [window] * 3,
            "month": [month] * 3, "peak_rss": rss}


def test_build_figures_from_tiny_results() -> None:
    results = {
        "sizes": {
            "250000": _core(0.2, 0.5, 0.1, 0.3, 400 * report.MiB),
            "1000000": _core(0.5, 1.0, 0.2, 1.0, 1500 * report.MiB),
        },
        "apptest": {"cold": 4.0, "warm": [0.1, 0.2, 0.15], "first_change": 1.0,
                    "widget": "selectbox 'Compare'", "cases": 1_000_000},
        "concurrency": {
            "rss_baseline": 300 * report.MiB,
            "first_session": 2.0,
            "levels": {"50": {"times": [1.0] * 45 + [6.0] * 5, "dropped": 0,
                              "rss_before": 300 * report.MiB, "rss_peak": 450 * report.MiB,
                              "rss_after": 320 * report.MiB}},
        },
    }
    figs = {f.name: f for f in report.build_figures(results)}
    both = figs["load + by-month KPIs, 1M"]
    assert both.value == "2.00 s" and both.passed is True and both.vs_floor == "4.0×"
    assert figs["load + by-month KPIs ÷ floor, 1M"].passed is True
    assert figs["load + validate, 1M"].vs_floor == "2.0×"
    assert figs["peak RSS (fresh process: floor, load, KPIs), 1M"].passed is True
    assert figs["flight deck cold (first run; median of fresh processes), 1M"].passed is True
    warm = next(f for n, f in figs.items() if n.startswith("flight deck warm"))
    assert warm.value == "150 ms" and warm.passed is True
    growth = figs["growth 250k → 1M, steps 2+3+4"]
    assert growth.value.startswith("2.44×") and growth.passed is True
    p95 = figs["50 sessions: p50 / p95 to script finished"]
    assert p95.value == "1.00 s / 6.00 s" and p95.passed is False  # 5 of 50 slow: p95 is slow
    assert figs["50 sessions: dropped"].passed is True
    assert figs["server memory growth (warm baseline → peak under sessions)"].passed is True


def test_build_figures_with_errors_and_missing_parts() -> None:
    results = {"sizes": {"1000000": {"error": "boom", "peak_rss": 1}}}
    figs = report.build_figures(results)
    assert any("error: boom" in f.value for f in figs)
    assert any(f.name == "flight deck (AppTest)" and f.value == "not run" for f in figs)
    assert any(f.name == "concurrent sessions" and f.value == "not run" for f in figs)


def test_parse_sizes_and_levels() -> None:
    assert cli.parse_sizes("1M, 250k,500000") == [250_000, 500_000, 1_000_000]
    assert cli.parse_sizes("1.5m") == [1_500_000]
    with pytest.raises(argparse.ArgumentTypeError):
        cli.parse_sizes(",")
    assert cli.parse_levels("10,25,50") == [10, 25, 50]
    with pytest.raises(argparse.ArgumentTypeError):
        cli.parse_levels("1000")


def test_manifest_reuse_rules(tmp_path: Path) -> None:
    spec = datasets.Spec(cases=100, seed=3)
    (tmp_path / "cases.parquet").write_bytes(b"x" * 10)
    manifest = {**datasets.expected_manifest(spec, "v1"), "files": {"cases.parquet": 10}}
    assert datasets.manifest_matches(manifest, spec, "v1", tmp_path)
    assert not datasets.manifest_matches(manifest, spec, "v2", tmp_path)
    assert not datasets.manifest_matches(manifest, datasets.Spec(cases=100, seed=4), "v1")
    (tmp_path / "cases.parquet").write_bytes(b"x" * 11)  # a changed file is not reused
    assert not datasets.manifest_matches(manifest, spec, "v1", tmp_path)
    (tmp_path / datasets.MANIFEST).write_text(json.dumps(manifest))
    assert datasets.read_manifest(tmp_path) == manifest
    assert datasets.read_manifest(tmp_path / "absent") is None


def test_generator_version_depends_on_sources(tmp_path: Path) -> None:
    (tmp_path / "metrics").mkdir()
    v0 = datasets.generator_version(tmp_path)
    (tmp_path / "metrics" / "generate.py").write_text("A = 1\n")
    v1 = datasets.generator_version(tmp_path)
    (tmp_path / "metrics" / "generate.py").write_text("A = 2\n")
    assert len({v0, v1, datasets.generator_version(tmp_path)}) == 3


def test_months_and_floor_columns(tmp_path: Path) -> None:
    import datetime as dt

    import pyarrow as pa
    import pyarrow.parquet as pq

    assert months(dt.date(2026, 9, 30), 12) == ("2025-10", "2026-09")
    assert months(dt.date(2026, 9, 1), 36) == ("2023-10", "2026-09")
    path = tmp_path / "survey_responses.parquet"
    pq.write_table(pa.table({"response_id": ["r1"], "force": ["A"], "notes": ["free text"],
                             "response_date": [dt.date(2026, 1, 1)], "q_x": [5]}), path)
    assert floor_columns(path, "survey_responses") == ["response_id", "force",
                                                        "response_date", "q_x"]


def test_profile_self_times_and_top() -> None:
    leaf = SimpleNamespace(function="leaf", file_path_short="a.py", line_no=1, time=2.0,
                           children=[])
    own = SimpleNamespace(identifier="[self]", function="[self]", time=1.0, children=[])
    mid = SimpleNamespace(function="mid", file_path_short="a.py", line_no=5, time=3.0,
                          children=[leaf, own])
    root = SimpleNamespace(function="root", file_path_short="b.py", line_no=1, time=4.0,
                           children=[mid])
    times = self_times(root)
    assert times == {"leaf (a.py:1)": 2.0, "mid (a.py:5)": 1.0, "root (b.py:1)": 1.0}
    ranked = top(times, 4.0, 2)
    assert ranked[0] == ("leaf (a.py:1)", 2.0, 0.5)
    assert len(ranked) == 2


def test_merge_runs_concatenates_times_and_keeps_peaks() -> None:
    a = {"floor": [1.0], "load": [2.0], "window": [3.0], "month": [4.0], "peak_rss": 10,
         "rows": {"cases": 5}}
    b = {"floor": [1.5], "load": [2.5], "window": [3.5], "month": [4.5], "peak_rss": 7,
         "rows": {"cases": 5}}
    m = report.merge_runs(report.merge_runs(None, a), b)
    assert m["load"] == [2.0, 2.5] and m["floor"] == [1.0, 1.5]
    assert m["peak_rss"] == 10 and m["rows"] == {"cases": 5}
    failed = report.merge_runs(m, {"error": "boom", "peak_rss": 99})
    assert failed["load"] == [2.0, 2.5] and failed["run_errors"] == ["boom"]
    recovered = report.merge_runs({"error": "boom", "peak_rss": 3}, a)
    assert "error" not in recovered and recovered["peak_rss"] == 10


def test_with_cpu_and_cpu_medians() -> None:
    assert report.with_cpu(2.0, 1.5) == "2.00 s (CPU 1.50 s)"
    assert report.with_cpu(0.5, None) == "500 ms"
    m = report.step_medians({"load": [1.0, 3.0], "load_cpu": [0.5, 0.7, 0.6]})
    assert m["load"] == 2.0 and m["load_cpu"] == 0.6 and m["month_cpu"] is None


def test_merge_app_runs_medians_cold_and_pools_warm() -> None:
    runs = [{"cold": 9.0, "cold_cpu": 6.0, "warm": [0.1], "widget": "w", "first_change": 1.0},
            {"cold": 5.0, "cold_cpu": 5.0, "warm": [0.2, 0.3], "first_change": 2.0},
            {"cold": 6.0, "cold_cpu": 5.5, "warm": [], "error": "x"}]
    app = report.merge_app_runs(runs)
    assert app["cold"] == 6.0 and app["cold_cpu"] == 5.5 and app["cold_runs"] == [9.0, 5.0, 6.0]
    assert app["warm"] == [0.1, 0.2, 0.3] and app["widget"] == "w" and app["error"] == "x"
    assert app["first_change"] == 1.5


def test_growth_rows_include_cpu_reference() -> None:
    small = {"load": [1.0], "window": [1.0], "month": [1.0],
             "load_cpu": [0.5], "window_cpu": [0.5], "month_cpu": [0.5], "floor": [0.1]}
    big = {"load": [4.0], "window": [4.0], "month": [4.0],
           "load_cpu": [2.5], "window_cpu": [2.5], "month_cpu": [2.5], "floor": [0.4]}
    figs = {f.name: f for f in report.build_figures({"sizes": {"250000": small,
                                                               "1000000": big}})}
    assert figs["growth 250k → 1M, steps 2+3+4"].passed is True
    cpu = figs["growth 250k → 1M, steps 2+3+4 by CPU seconds (for reference)"]
    assert cpu.value.startswith("5.00×") and cpu.has_goal is False


def test_board_pack_time_is_shown_against_its_15_second_goal() -> None:
    from bench.report import _boardpack_figures

    fast, _ = _boardpack_figures({"seconds": [3.0, 4.0, 5.0], "bytes": 1000})
    slow, _ = _boardpack_figures({"seconds": [16.0], "bytes": 1000})
    assert fast.goal == "< 15 s" and fast.passed is True
    assert slow.passed is False


def test_app_goals_over_several_servers_take_the_median_first_deck(monkeypatch, tmp_path):
    from bench import app_goals

    warm = iter([
        {"data": "d", "forces": ["A"], "first": 3.4, "start_to_healthy": 2.0,
         "force_changes": [0.3], "rss_peak": 500 * 2**20},
        {"data": "d", "forces": ["A"], "first": 2.9, "start_to_healthy": 2.2,
         "force_changes": [0.6], "rss_peak": 520 * 2**20},
        {"data": "d", "forces": ["A"], "first": 3.1, "start_to_healthy": 1.8,
         "force_changes": [0.2], "rss_peak": 510 * 2**20},
    ])
    cold = iter([
        {"data": "d", "forces": ["A"], "first": 4.0, "start_to_healthy": 1.0,
         "force_changes": [0.1], "rss_peak": 530 * 2**20} for _ in range(3)])
    asked = []

    def fake_run(data, n_forces=3, **kw):
        asked.append(kw.get("warm", True))
        return next(warm if kw.get("warm", True) else cold)

    monkeypatch.setattr(app_goals, "run", fake_run)
    res = app_goals.run_repeated(tmp_path, 3)
    assert asked == [True, False] * 3  # each round: as make run, then nothing prepared
    assert res["first"] == 3.1 and res["first_runs"] == [3.4, 2.9, 3.1]
    assert res["force_changes"] == [0.3, 0.6, 0.2] and res["rss_peak"] == 520 * 2**20
    assert res["cold"]["first"] == 4.0
    text = app_goals.markdown(res)
    assert "3.10 s (median of 3: 2.90, 3.10, 3.40) | <= 3 s | no |" in text
    assert "(`FLIGHTDECK_WARM=0`, `FLIGHTDECK_CACHE=off`; start to healthy: 1.0 s) | " \
        "4.00 s (median of 3: 4.00, " \
        "4.00, 4.00) | <= 3 s | no |" in text
    assert "median / worst of 6 | 0.15 s / 0.60 s | <= 0.5 s | no |" in text  # both servers
    assert "| server peak RSS | 530 MiB |" in text  # the highest of either server
    assert "--repeat 3" in text


def test_engine_report_shows_first_and_repeated_runs_against_each_goal() -> None:
    """bench.engine times the CLI both as a repeated run (check result kept) and as a first
    run (FLIGHTDECK_CACHE=off); each has its own ratio and verdict against the goal."""
    from bench import engine

    def runs(wall: float) -> list[dict]:
        return [{"wall": wall, "cpu": wall, "rss": 2**29, "rc": 0}]

    walls = {"floor": 0.5, "all_kpis": 1.9, "all_kpis_checked": 2.5, "three_cli": 0.6,
             "three_cli_checked": 1.2, "three_sql": 0.25}
    res = {"data": "d", "months": ["2023-10", "2026-09"], "repeat": 1, "cases": 1000,
           "runs": {k: runs(v) for k, v in walls.items()},
           "median": {k: {"wall": v, "cpu": v} for k, v in walls.items()},
           "loadavg_end": []}
    text = engine.markdown(res)
    assert "repeated run / pyarrow floor | 3.8x | 3.8x | <= 4x | yes |" in text
    assert "first run (every file checked) / pyarrow floor | 5.0x | 5.0x | <= 4x | no |" in text
    assert "repeated run / the same 3 in direct DuckDB SQL | 2.4x | 2.4x | <= 2x | no |" in text
    assert "| 3 KPIs by month (CLI), first run | 1.20 | 1.20 |" in text


def test_engine_report_shows_the_frame_reference_beside_the_goals_lean_one() -> None:
    """The pandas-frame reference (``direct_sql --frame``) is reported beside the goal's lean
    one, marked "for comparison", and never replaces its verdict."""
    from bench import engine

    walls = {"floor": 0.5, "all_kpis": 1.9, "all_kpis_checked": 2.5, "three_cli": 0.9,
             "three_cli_checked": 1.5, "three_sql": 0.25, "three_sql_frame": 0.6}
    res = {"data": "d", "months": ["2023-10", "2026-09"], "repeat": 1, "cases": 1000,
           "runs": {k: [{"wall": v, "cpu": v, "rss": 2**29, "rc": 0}] for k, v in walls.items()},
           "median": {k: {"wall": v, "cpu": v} for k, v in walls.items()},
           "loadavg_end": []}
    text = engine.markdown(res)
    assert "repeated run / the same 3 in direct DuckDB SQL | 3.6x | 3.6x | <= 2x | no |" in text
    assert ("for comparison: 3 KPIs via the CLI, repeated run / the same SQL fetched to pandas "
            "(`direct_sql --frame`) | 1.5x | 1.5x | (<= 2x) | yes |") in text
    assert "for comparison: the same, first run / the same SQL fetched to pandas | 2.5x" in text
    assert "| the same SQL fetched to pandas and written with `to_csv` | 0.60 | 0.60 |" in text


def test_direct_sql_frame_writes_the_same_rows_as_the_lean_reference(tmp_path, capsys) -> None:
    """Both references compute the same cells (a missing median: "None" by hand, empty in
    pandas' CSV), so either may stand beside the CLI."""
    import csv
    import io

    from bench import direct_sql
    from metrics.generate import generate

    generate(tmp_path, cases=3000, seed=3)
    rows = []
    for extra in ([], ["--frame"]):
        assert direct_sql.main([str(tmp_path), "2024-01", "2024-12", *extra]) == 0
        got = list(csv.reader(io.StringIO(capsys.readouterr().out)))
        rows.append(sorted([c if c != "None" else "" for c in r] for r in got[1:]))
    assert rows[0] == rows[1] and len(rows[0]) > 30


def test_calibration_table_puts_old_and_new_against_each_reference() -> None:
    """bench.calibrate: medians per step, then each of the issue's ratios for the old CLI and
    this one (repeated and first run) over the same reference."""
    from bench import calibrate

    runs = {"floor": [0.5, 0.4, 0.6], "sql_tuples": [0.2], "sql_frame": [0.6],
            "old_three": [1.8], "old_all": [3.5], "three": [1.2], "three_first": [1.5],
            "all": [3.0], "all_first": [3.5]}
    text = calibrate.markdown(runs)
    assert "| floor | 0.50 |" in text  # the median, not the first run
    assert "| all KPIs / pyarrow floor | 7.0x | 6.0x | 7.0x |" in text
    assert "| 3 KPIs / direct SQL, tuples | 9.0x | 6.0x | 7.5x |" in text
    assert "| 3 KPIs / direct SQL to a pandas frame | 3.0x | 2.0x | 2.5x |" in text


def test_compile_sources_leaves_bytecode_even_when_python_writes_none(tmp_path, monkeypatch):
    import importlib.util
    import sys

    from bench.machine import compile_sources

    monkeypatch.setattr(sys, "dont_write_bytecode", True)  # PYTHONDONTWRITEBYTECODE=1
    (tmp_path / "metrics" / "kpis").mkdir(parents=True)
    (tmp_path / "metrics" / "kpis" / "engine.py").write_text("X = 1\n")
    (tmp_path / "app.py").write_text("Y = 2\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "notes.py").write_text("Z = 3\n")  # not a source folder
    compile_sources(tmp_path)
    for source in (tmp_path / "metrics" / "kpis" / "engine.py", tmp_path / "app.py"):
        assert Path(importlib.util.cache_from_source(str(source))).is_file()
    assert not (tmp_path / "data" / "__pycache__").exists()


def test_results_md_keeps_the_hand_written_sessions_and_notes(tmp_path, monkeypatch) -> None:
    from bench import cli

    sessions, notes = tmp_path / "sessions.md", tmp_path / "notes.md"
    sessions.write_text("## Measured by hand\n\n5M: 0.99 GiB\n")
    notes.write_text("## Analysis\n\nwhy\n")
    monkeypatch.setattr(cli, "SESSIONS", sessions)
    monkeypatch.setattr(cli, "NOTES", notes)
    results = {"machine": {}, "started": "a", "finished": "b", "repeat": 1, "floor_repeat": 1,
               "app_repeat": 1, "sizes": {}}
    text = cli.write_markdown(results, report.build_figures(results), "python -m bench")
    assert "5M: 0.99 GiB" in text and "why" in text
    assert text.index("## Measured by hand") < text.index("## Analysis")
    sessions.unlink()
    assert "5M: 0.99 GiB" not in cli.write_markdown(results, [], "python -m bench")
