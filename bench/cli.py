"""``python -m bench``: generate (or reuse) the data, run every step, print and write the table."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import datasets, machine, report

REPO = Path(__file__).resolve().parent.parent
DATA_ROOT = REPO / "bench" / "data"
RESULTS_MD = REPO / "bench" / "results.md"
SAMPLE = REPO / "data" / "sample"
# hand-written, appended to results.md as they are, so that a bench run loses neither:
SESSIONS = REPO / "bench" / "sessions.md"  # figures measured by hand between bench runs
NOTES = REPO / "bench" / "notes.md"  # the analysis

DEFAULT_SIZES = (250_000, 500_000, 1_000_000)
QUICK_SIZES = (25_000, 50_000, 100_000)


def parse_sizes(text: str) -> list[int]:
    """"250k,500000,1M" -> [250000, 500000, 1000000] (sorted, unique)."""
    out: set[int] = set()
    for part in text.split(","):
        p = part.strip().lower().replace("_", "")
        if not p:
            continue
        mult = 1
        if p.endswith("k"):
            mult, p = 1_000, p[:-1]
        elif p.endswith("m"):
            mult, p = 1_000_000, p[:-1]
        value = int(float(p) * mult)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"size must be positive: {part!r}")
        out.add(value)
    if not out:
        raise argparse.ArgumentTypeError("no sizes given")
    return sorted(out)


def parse_levels(text: str) -> list[int]:
    """"10,25,50" -> [10, 25, 50]; each between 1 and 200 (bounded by design)."""
    levels = [int(x) for x in text.split(",") if x.strip()]
    if not levels or any(n < 1 or n > 200 for n in levels):
        raise argparse.ArgumentTypeError("levels must be 1-200 sessions each")
    return levels


def build_parser() -> argparse.ArgumentParser:
    """The command-line options."""
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--sizes", type=parse_sizes, default=None,
                   help="case counts, e.g. 250k,500k,1M (default); the largest is the main size")
    p.add_argument("--repeat", type=int, default=3,
                   help="runs of load and KPI steps per size (median reported; default 3)")
    p.add_argument("--floor-repeat", type=int, default=5, help="runs of the floor (default 5)")
    p.add_argument("--app-repeat", type=int, default=6,
                   help="warm AppTest reruns per fresh process (default 6)")
    p.add_argument("--app-cold", type=int, default=3,
                   help="fresh AppTest processes, each timing one cold run (default 3)")
    p.add_argument("--seed", type=int, default=datasets.DEFAULT_SEED)
    p.add_argument("--levels", type=parse_levels, default=[10, 25, 50],
                   help="concurrent sessions per level (default 10,25,50)")
    p.add_argument("--concurrency-data", type=Path, default=SAMPLE,
                   help="export the concurrent sessions open (default data/sample)")
    p.add_argument("--session-timeout", type=float, default=60.0)
    p.add_argument("--skip-apptest", action="store_true")
    p.add_argument("--skip-concurrency", action="store_true")
    p.add_argument("--skip-profile", action="store_true")
    p.add_argument("--skip-boardpack", action="store_true")
    p.add_argument("--skip-engine", action="store_true",
                   help="skip issue 11's whole-process KPI engine goals (bench/engine.py) and "
                        "its app goals (bench/app_goals.py)")
    p.add_argument("--quick", action="store_true",
                   help="small sizes (25k,50k,100k), one repeat, levels 2,5,10: for iteration")
    p.add_argument("--out", type=Path, default=RESULTS_MD, help="Markdown results file")
    p.add_argument("--json", type=Path, default=DATA_ROOT / "results.json",
                   help="raw results (JSON)")
    p.add_argument("--report-only", action="store_true",
                   help="measure nothing: rewrite --out from the raw results in --json "
                        "(e.g. after editing bench/notes.md)")
    return p


def _env() -> dict[str, str]:
    """The environment for child processes: the repo importable."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH")
                                     else "")
    return env


def run_child(module: str, args: Sequence[str], name: str, timeout: float) -> dict[str, Any]:
    """Run ``python -m module args --out JSON`` in a fresh process; its JSON result."""
    logs = DATA_ROOT / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    out = logs / f"{name}.json"
    out.unlink(missing_ok=True)
    log = logs / f"{name}.log"
    cmd = [sys.executable, "-m", module, *args, "--out", str(out)]
    try:
        with open(log, "w") as fh:
            subprocess.run(cmd, cwd=REPO, env=_env(), stdout=fh, stderr=subprocess.STDOUT,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:g} s (log: {log.relative_to(REPO)})"}
    try:
        return json.loads(out.read_text())
    except (OSError, ValueError):
        tail = log.read_text().strip().splitlines()[-1:] if log.exists() else []
        return {"error": f"no result ({tail[0][:200] if tail else 'no output'})"}


def boardpack_step(data: Path, timeout: float = 600.0) -> dict[str, Any] | None:
    """A 12-month All-forces board pack on ``data``, timed by ``report.boardpack.benchmark``.

    Runs ``python -m report.boardpack DATA`` in a fresh process (it prints the benchmark as
    JSON: seconds for ``build_boardpack`` alone, bytes, pages, window). None when the board pack
    module has no ``benchmark`` (it is optional for this harness).
    """
    try:
        import report.boardpack as bp
    except ImportError:
        return None
    if not callable(getattr(bp, "benchmark", None)):
        return None
    try:
        proc = subprocess.run([sys.executable, "-m", "report.boardpack", str(data)], cwd=REPO,
                              env=_env(), capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:g} s"}
    lines = [ln for ln in proc.stdout.strip().splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        return {"error": f"exit {proc.returncode}: {tail[0][:200]}"}
    out = json.loads(lines[-1])
    return {"seconds": [out.get("seconds")], "bytes": out.get("bytes"),
            "pages": out.get("pages"), "window": [out.get("start"), out.get("end")],
            "load_seconds": out.get("load_seconds"),
            "data": str(data.relative_to(REPO)) if data.is_relative_to(REPO) else str(data)}


def write_markdown(results: dict[str, Any], figures: list[report.Figure], command: str) -> str:
    """The results.md text."""
    passed, failed, missing = report.summary_counts(figures)
    info = results["machine"]
    lines = [
        "# Benchmark results (issue 8)",
        "",
        f"Run {results['started']} to {results['finished']} UTC with `{command}` "
        f"(`make bench`). Medians of {results['repeat']} runs for load and KPI steps, "
        f"{results['floor_repeat']} for the floor; the flight deck's cold run in "
        f"{results.get('app_cold', 1)} fresh processes, {results['app_repeat']} warm reruns in "
        "each.",
        "",
        f"**Goals: {passed} pass, {failed} fail, {missing} not measured.**",
        "",
        "## Machine",
        "",
        machine.markdown(info, results.get("loadavg_end")),
        "",
        "The 2 cores are shared with other engineers' test runs while this was measured, so "
        "timings are noisy (see the load average); each size runs in a fresh process; the "
        "Parquet files are in the OS page cache (warm reads).",
        "",
        "## Results",
        "",
        report.markdown_table(figures),
        "",
        "Steps: 1 floor = `pyarrow.parquet.read_table(path, columns=KPI columns)` for every "
        "file; 2 = `metrics.load.load_dataset`; 3 = `compute_kpis(by=\"window\")`, 12 months; "
        "4 = `compute_kpis(by=\"month\")`, 36 months with SPC; 5 = `ru_maxrss` of the process "
        "running 1-4; 6 = `AppTest.from_file(\"app.py\")` with `FLIGHTDECK_DATA` on the "
        "national data; 7 = steps 2-4 at smaller sizes; 8 = sessions over Streamlit's "
        "websocket protocol against one `python -m ui.serve run app.py`, time from socket open to "
        "`script_finished` (the server has sent the whole page).",
        "",
        "## Details",
        "",
    ]
    for size, res in sorted(results["sizes"].items(), key=lambda kv: int(kv[0])):
        label = report.size_label(int(size))
        if res.get("error"):
            lines.append(f"- {label}: error {res['error']}")
            continue
        rows = ", ".join(f"{k} {v:,}" for k, v in (res.get("rows") or {}).items())
        gen = res.get("generated") or {}
        lines.append(
            f"- {label}: rows {rows}; as at {res.get('as_at')}; window "
            f"{res.get('window_range')}, months {res.get('month_range')} "
            f"({res.get('month_rows', 0):,} KPI rows, spc column: {res.get('month_has_spc')}); "
            f"RSS after load {report.fmt_bytes(res.get('rss_after_load'))}; "
            f"generator {gen.get('generator_version')} seed {gen.get('seed')} "
            f"({gen.get('generate_seconds')} s to generate); runs: load "
            f"{_fmt_list(res.get('load'))}, window {_fmt_list(res.get('window'))}, month "
            f"{_fmt_list(res.get('month'))}, floor {_fmt_list(res.get('floor'))}; 1-minute "
            f"load average as each process began {res.get('loadavg')}"
        )
        if res.get("problems"):
            lines.append(f"  - validation: {'; '.join(res['problems'][:5])}")
    app = results.get("apptest") or {}
    if app:
        error = f"; {app['error']}" if app.get("error") else ""
        lines.append(f"- AppTest: widget flipped: {app.get('widget')}; cold runs "
                     f"{_fmt_list(app.get('cold_runs'))} "
                     f"(CPU {_fmt_list(app.get('cold_cpu_runs'))}); warm runs "
                     f"{_fmt_list(app.get('warm'))}{error}")
    conc = results.get("concurrency") or {}
    if conc:
        lines.append(f"- Concurrency on {conc.get('data')}: server RSS idle "
                     f"{report.fmt_bytes(conc.get('rss_idle'))}, after the first session "
                     f"{report.fmt_bytes(conc.get('rss_baseline'))}"
                     + (f"; {conc['error']}" if conc.get("error") else "")
                     + (f"; {conc['note']}" if conc.get("note") else ""))
        for n, lv in sorted((conc.get("levels") or {}).items(), key=lambda kv: int(kv[0])):
            lines.append(
                f"  - {n} sessions: wall {lv.get('wall', 0):.2f} s, max "
                f"{report.fmt_seconds(max(lv.get('times') or [0]))}, dropped {lv.get('dropped')}"
                f" {lv.get('dropped_reasons') or ''}, exception elements {lv.get('exceptions')}, "
                f"{lv.get('messages_per_session')} messages / "
                f"{(lv.get('bytes_per_session') or 0) / 1024:.0f} KiB per session")
    if results.get("boardpack"):
        bp = results["boardpack"]
        lines.append(f"- Board pack (`report.boardpack.build_boardpack`, All forces, "
                     f"{bp.get('window')}, {bp.get('data')}, charts on): "
                     f"{_fmt_list(bp.get('seconds'))} s, {bp.get('bytes')} bytes, "
                     f"{bp.get('pages')} pages"
                     + (f"; {bp['error']}" if bp.get("error") else ""))
    if app.get("warm_profile"):
        lines += ["", "## Where a warm flight deck rerun goes (cProfile, repo functions)", "",
                  "Cumulative seconds per rerun, nested calls counted in each caller:", ""]
        lines += [f"- {s:.3f} s `{name}`" for name, s in app["warm_profile"]]
        lines.append("")
    prof = results.get("profile")
    if prof:
        label = report.size_label(int(results.get("main_size") or report.MAIN_SIZE))
        lines += ["", f"## Profile ({label} cases, steps 2-4)", ""]
        lines.append(prof["text"] if "text" in prof else f"error: {prof.get('error')}")
    eng = results.get("engine")
    if eng:
        from bench import engine

        lines += ["", engine.markdown(eng) if "median" in eng
                  else f"## KPI engine (issue 11)\n\nerror: {eng.get('error')}"]
    goals = results.get("app_goals")
    if goals:
        from bench import app_goals

        lines += ["", app_goals.markdown(goals) if "first" in goals
                  else f"## The app at national scale (issue 11)\n\nerror: {goals.get('error')}"]
    for hand_written in (SESSIONS, NOTES):
        if hand_written.exists():
            lines += ["", hand_written.read_text().strip()]
    return "\n".join(lines) + "\n"


def _fmt_list(xs: Any) -> str:
    """Seconds as "[1.23, 1.25]"."""
    if not xs:
        return "[]"
    return "[" + ", ".join(f"{x:.2f}" for x in xs) + "]"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 0 when it ran (whatever the goals), 1 when nothing could be measured."""
    args = build_parser().parse_args(argv)
    command = "python -m bench" + (" " + " ".join(argv if argv is not None else sys.argv[1:])
                                   if (argv if argv is not None else sys.argv[1:]) else "")
    if args.report_only:
        results = json.loads(args.json.read_text())
        figures = report.build_figures(results)
        args.out.write_text(write_markdown(results, figures,
                                           results.get("command", "python -m bench")))
        print(report.markdown_table(figures))
        print(f"\nrewritten {args.out} from {args.json}")
        return 0
    sizes = args.sizes or (list(QUICK_SIZES) if args.quick else list(DEFAULT_SIZES))
    if args.quick:
        args.repeat, args.floor_repeat, args.app_repeat, args.app_cold = 1, 2, 3, 1
        if args.levels == [10, 25, 50]:
            args.levels = [2, 5, 10]
    main_size = max(sizes)
    results_main = main_size
    DATA_ROOT.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "machine": machine.describe(), "sizes": {}, "repeat": args.repeat,
        "floor_repeat": args.floor_repeat, "app_repeat": args.app_repeat,
        "app_cold": args.app_cold,
        "main_size": results_main, "command": command,
    }
    print(f"bench: sizes {[report.size_label(s) for s in sizes]}, repeat {args.repeat}")

    folders: dict[int, Path] = {}
    for size in sizes:
        spec = datasets.Spec(cases=size, seed=args.seed)
        try:
            folders[size] = datasets.ensure(spec)
        except Exception as exc:
            results["sizes"][str(size)] = {"error": f"generate: {exc}"[:300]}

    # Rounds interleave the sizes (largest first, then smallest first, ...), one fresh
    # process per size per round, so background load on the shared machine falls on every
    # size alike and the growth ratios are not skewed by when a size happened to run.
    floor_per_round = max(1, -(-args.floor_repeat // args.repeat))
    order = sorted(folders, reverse=True)
    for rnd in range(args.repeat):
        print(f"steps 1-5, round {rnd + 1} of {args.repeat} (a fresh process per size)...",
              flush=True)
        for size in order if rnd % 2 == 0 else list(reversed(order)):
            res = run_child("bench.core", [str(folders[size]), "--repeat", "1",
                                           "--floor-repeat", str(floor_per_round)],
                            f"core_{size}_r{rnd + 1}", timeout=1800)
            key = str(size)
            results["sizes"][key] = report.merge_runs(results["sizes"].get(key), res)
            m = report.step_medians(res)
            print(f"  {report.size_label(size)}: floor {report.fmt_seconds(m['floor'])}, load "
                  f"{report.fmt_seconds(m['load'])}, window {report.fmt_seconds(m['window'])}, "
                  f"month {report.fmt_seconds(m['month'])}, peak RSS "
                  f"{report.fmt_bytes(res.get('peak_rss'))}"
                  + (f"  ERROR {res['error']}" if res.get("error") else ""), flush=True)
    for size in order:
        results["sizes"][str(size)]["generated"] = datasets.read_manifest(folders[size]) or {}

    if not args.skip_apptest and main_size in folders:
        print(f"step 6: flight deck through AppTest at {report.size_label(main_size)}...",
              flush=True)
        runs = []
        for i in range(args.app_cold):
            runs.append(run_child("bench.apptest", [str(folders[main_size]), "--repeat",
                                                    str(args.app_repeat)], f"apptest_{i + 1}",
                                  timeout=900))
            print(f"  fresh process {i + 1}: cold {report.fmt_seconds(runs[-1].get('cold'))}",
                  flush=True)
        app = report.merge_app_runs(runs)
        app["cases"] = main_size
        results["apptest"] = app
        print(f"  cold {report.fmt_seconds(app.get('cold'))}, warm "
              f"{report.fmt_seconds(report.median(app.get('warm') or []))}"
              + (f"  ERROR {app['error']}" if app.get("error") else ""), flush=True)

    if not args.skip_profile and main_size in folders and \
            not results["sizes"][str(main_size)].get("error"):
        print("profiling steps 2-4 with pyinstrument...", flush=True)
        prof = run_child("bench.profiling", [str(folders[main_size])], "profile", timeout=900)
        results["profile"] = prof
        if prof.get("text"):
            print(prof["text"], flush=True)

    if not args.skip_engine and main_size in folders:
        from bench import engine

        print(f"KPI engine goals (issue 11) at {report.size_label(main_size)}: whole "
              "processes...", flush=True)
        try:
            results["engine"] = engine.run(folders[main_size], args.repeat)
        except Exception as exc:  # a broken step is reported, the bench goes on
            results["engine"] = {"error": f"{type(exc).__name__}: {exc}"[:300]}

    if not args.skip_engine and main_size in folders:
        from bench import app_goals

        print(f"app goals (issue 11) at {report.size_label(main_size)}: a fresh server, the "
              "first flight deck, forces not yet seen, server RSS...", flush=True)
        try:
            results["app_goals"] = app_goals.run_repeated(folders[main_size], args.repeat)
        except Exception as exc:  # a broken step is reported, the bench goes on
            results["app_goals"] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
        print(app_goals.markdown(results["app_goals"]) if "first" in results["app_goals"]
              else f"  {results['app_goals']}", flush=True)

    if not args.skip_boardpack:
        print("board pack: 12 months, All forces, sample data...", flush=True)
        try:
            bp = boardpack_step(SAMPLE)
        except Exception as exc:
            bp = {"error": f"{type(exc).__name__}: {exc}"[:200]}
        if bp is not None:
            results["boardpack"] = bp
            print(f"  {bp}", flush=True)

    if not args.skip_concurrency:
        from bench import concurrency

        print(f"step 8: {args.levels} concurrent sessions on {args.concurrency_data}...",
              flush=True)
        results["concurrency"] = concurrency.run(args.concurrency_data.resolve(), args.levels,
                                                 timeout=args.session_timeout)

    results["finished"] = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    try:
        results["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        pass
    figures = report.build_figures(results)
    text = write_markdown(results, figures, command)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2, default=str))
    args.out.write_text(text)
    print()
    print(machine.markdown(results["machine"], results.get("loadavg_end")))
    print()
    print(report.markdown_table(figures))
    passed, failed, missing = report.summary_counts(figures)
    print(f"\ngoals: {passed} pass, {failed} fail, {missing} not measured; "
          f"written to {args.out}")
    return 0 if results["sizes"] else 1
