"""Issue 11's app goals at national scale, against fresh servers started as ``make run``
does (``python -m ui.serve run app.py``).

``python -m bench.app_goals DATA_DIR [--forces 3] [--repeat 1] [--out RESULT.json] [--markdown
FILE]``
starts ``python -m ui.serve run app.py`` (what ``make run`` starts) on ``DATA_DIR`` (127.0.0.1,
headless), and then, speaking Streamlit's websocket protocol as a browser does
(``bench.concurrency.open_session``):

- ``first``: the first flight deck from the fresh server (open the socket -> the script run
  finished), after ``/_stcore/health`` answers; the time from starting the process to healthy
  is shown beside it;
- ``force change``: for each of ``--forces`` forces not yet seen, a session opening the flight
  deck with ``?force=NAME`` (the same rerun a change of the sidebar's force makes: a new
  force's KPIs, the export already loaded), one after another; the median and the worst;
- ``server RSS``: the server's peak resident memory, sampled every 100 ms from start to end.

The launcher prepares the default flight deck before it answers (``ui.serve.
warm_default_view``), so each round starts two servers one after the other: one as ``make
run`` starts it (with the user's kept check results, ``metrics.check_cache``), and one with
``FLIGHTDECK_WARM=0`` and ``FLIGHTDECK_CACHE=off`` (nothing prepared and nothing kept: every
file checked, and the first visitor waits for every verdict), whose first deck is shown beside
the other's.

Goals (issue 11, 1,000,000 cases): first flight deck <= 3 s, a force not yet seen <= 0.5 s,
server RSS <= 700 MiB. The server is always stopped at the end.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

import psutil

from bench.concurrency import (
    REPO,
    close_all,
    free_port,
    open_session,
    start_server,
    stop_server,
    wait_healthy,
)
from bench.machine import compile_sources

GOALS = {"first": 3.0, "force_change": 0.5, "rss_mib": 700.0}


def _forces(data: Path, count: int) -> list[str]:
    """``count`` force names of the export, spread over its sorted list (not the first one:
    the default view may already show it)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    names = sorted(str(v) for v in pc.unique(pq.read_table(
        data / "cases.parquet", columns=["force"])["force"]).to_pylist() if v is not None)
    step = max(1, len(names) // (count + 1))
    return [names[i] for i in range(step, len(names), step)][:count]


def run(data: Path, n_forces: int = 3, timeout: float = 180.0, warm: bool = True
        ) -> dict[str, Any]:
    """Start a fresh server on ``data`` (``warm`` False: with ``FLIGHTDECK_WARM=0``) and time
    the first deck and forces not yet seen."""
    compile_sources(REPO)
    port = free_port()
    log_path = REPO / "bench" / "data" / "app-goals-server.log"
    t_start = time.perf_counter()
    extra = {"FLIGHTDECK_WARM": "1"} if warm else {"FLIGHTDECK_WARM": "0",
                                                   "FLIGHTDECK_CACHE": "off"}
    proc = start_server(data, port, log_path, env_extra=extra)
    peak = [0]
    stop = threading.Event()

    def sample() -> None:
        try:
            ps = psutil.Process(proc.pid)
            while not stop.is_set():
                peak[0] = max(peak[0], ps.memory_info().rss)
                stop.wait(0.1)
        except psutil.Error:
            return

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out: dict[str, Any] = {"data": str(data), "forces": _forces(data, n_forces)}
    try:
        wait_healthy(port, proc, 120.0)
        out["start_to_healthy"] = time.perf_counter() - t_start

        async def scenario() -> None:
            first, ws = await open_session(port, timeout)
            await close_all([ws])
            out["first"] = first.seconds
            out["first_exceptions"] = first.exceptions
            if first.seconds is None:
                out["error"] = f"first session dropped: {first.dropped_reason}"
                return
            changes = []
            for name in out["forces"]:
                query = urllib.parse.urlencode({"force": name})
                res, ws = await open_session(port, timeout, query)
                await close_all([ws])
                changes.append(res.seconds)
                if res.exceptions:
                    out.setdefault("notes", []).append(f"{name}: {res.exceptions} exception(s)")
            out["force_changes"] = changes

        asyncio.run(scenario())
    except Exception as exc:  # noqa: BLE001 - reported in the results, server stopped below
        out["error"] = f"{type(exc).__name__}: {exc}"[:300]
    finally:
        stop.set()
        sampler.join(timeout=2)
        stop_server(proc)
    out["rss_peak"] = peak[0]
    return out


def run_repeated(data: Path, repeat: int, n_forces: int = 3) -> dict[str, Any]:
    """:func:`run` on ``repeat`` rounds of two fresh servers, one after another: one as
    ``make run`` starts it, then one with nothing prepared. The first's figures, with the
    second's under ``cold``: the first deck and the time to healthy as medians (every run's
    first deck in ``first_runs``), the forces not yet seen of every run together, the highest
    peak RSS, the first error."""
    warm_runs, cold_runs = [], []
    for _ in range(max(1, repeat)):
        warm_runs.append(run(data, n_forces))
        cold_runs.append(run(data, n_forces, warm=False))
    return {**_summary(warm_runs), "cold": _summary(cold_runs)}


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Several runs of :func:`run` as one (a single run as it is)."""
    if len(runs) == 1:
        return runs[0]
    firsts = [r["first"] for r in runs if r.get("first") is not None]
    out: dict[str, Any] = {
        "data": runs[0]["data"], "forces": runs[0]["forces"], "first_runs": firsts,
        "first": statistics.median(firsts) if len(firsts) == len(runs) else None,
        "start_to_healthy": statistics.median(r.get("start_to_healthy", float("nan"))
                                              for r in runs),
        "force_changes": [c for r in runs for c in r.get("force_changes", [])],
        "rss_peak": max(r.get("rss_peak", 0) for r in runs),
    }
    errors = [r["error"] for r in runs if r.get("error")]
    if errors:
        out["error"] = errors[0]
    notes = [n for r in runs for n in r.get("notes", [])]
    if notes:
        out["notes"] = notes
    return out


def _first_deck_text(res: dict[str, Any]) -> str:
    """The first deck's median, with every run's figure when there were several."""
    first, runs = res.get("first"), res.get("first_runs") or []
    text = "failed" if first is None else f"{first:.2f} s"
    if runs:
        text += f" (median of {len(runs)}: {', '.join(f'{r:.2f}' for r in sorted(runs))})"
    return text


def markdown(res: dict[str, Any]) -> str:
    """The results section for bench/results.md."""
    changes = [c for c in res.get("force_changes", []) if c is not None]
    worst = max(changes) if changes else float("nan")
    med = statistics.median(changes) if changes else float("nan")
    first = res.get("first")
    rss = res.get("rss_peak", 0) / 2**20

    def met(value: float | None, goal: float) -> str:
        return "yes" if value is not None and value == value and value <= goal else "no"

    runs = res.get("first_runs") or []
    servers = (f"{len(runs)} fresh `python -m ui.serve run app.py` servers one after another"
               if runs else "one fresh `python -m ui.serve run app.py` server")
    first_text = _first_deck_text(res)
    command = f"python -m bench.app_goals {res['data']}" + (
        f" --repeat {len(runs)}" if runs else "")
    cold = res.get("cold")
    lines = [
        f"## The app at national scale (issue 11): `{res['data']}`",
        "",
        f"`{command}`: {servers} (as `make run`)"
        + ("; each followed by one with `FLIGHTDECK_WARM=0` and `FLIGHTDECK_CACHE=off`"
           if cold else "") +
        "; sessions speak Streamlit's websocket protocol (open -> script finished).",
        "",
        "| measure | figure | goal | met |",
        "|---|---|---|---|",
        f"| first flight deck from a fresh server as `make run` starts it (the default view "
        f"prepared before it answers; process start to healthy: "
        f"{res.get('start_to_healthy', float('nan')):.1f} s) | "
        f"{first_text} | <= 3 s | {met(first, GOALS['first'])} |",
    ]
    if cold:
        lines.append(
            f"| first flight deck from a fresh server with nothing prepared or kept "
            f"(`FLIGHTDECK_WARM=0`, `FLIGHTDECK_CACHE=off`; start to healthy: "
            f"{cold.get('start_to_healthy', float('nan')):.1f} s) | {_first_deck_text(cold)} | "
            f"<= 3 s | {met(cold.get('first'), GOALS['first'])} |")
        changes += [c for c in cold.get("force_changes", []) if c is not None]
        worst = max(changes) if changes else float("nan")
        med = statistics.median(changes) if changes else float("nan")
        rss = max(rss, cold.get("rss_peak", 0) / 2**20)
    lines += [
        f"| a force not yet seen (`?force=`), median / worst of {len(changes)} | "
        f"{med:.2f} s / {worst:.2f} s | <= 0.5 s | {met(worst, GOALS['force_change'])} |",
        f"| server peak RSS | {rss:.0f} MiB | <= 700 MiB | {met(rss, GOALS['rss_mib'])} |",
        "",
    ]
    if cold and (cold.get("error") or cold.get("notes")):
        lines += [f"Notes (nothing prepared): {cold.get('error') or ''} "
                  f"{'; '.join(cold.get('notes', []))}", ""]
    if res.get("error") or res.get("notes"):
        lines += [f"Notes: {res.get('error') or ''} {'; '.join(res.get('notes', []))}", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from bench.core import report_arguments, write_results

    p = report_arguments(__doc__.splitlines()[0])
    p.add_argument("--forces", type=int, default=3)
    p.add_argument("--repeat", type=int, default=1,
                   help="rounds of fresh servers (as make run, then nothing prepared), one "
                        "after another; the first deck is their median")
    args = p.parse_args(argv)
    res = run_repeated(args.data_dir.resolve(), args.repeat, args.forces)
    write_results(res, markdown(res), args)
    return 0 if not res.get("error") and not res.get("cold", {}).get("error") else 1


if __name__ == "__main__":
    sys.exit(main())
