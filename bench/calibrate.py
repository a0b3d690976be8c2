"""Issue 11's "today" figures, reproduced: an older checkout's CLI timed beside this one and the
references, whole processes, interleaved, in one run.

``python -m bench.calibrate DATA_DIR --old OLD_CHECKOUT [--repeat N]`` (e.g. ``git clone . /tmp/v1
&& git -C /tmp/v1 checkout c7695b7``, the commit before issue 11's work) prints a Markdown table of
median wall seconds and the ratios the issue quotes ("three KPIs ... about 3x", "all KPIs ...
about 7x"), for the old CLI and this one against the pyarrow floor, the tuples reference
(``bench.direct_sql``) and the pandas-frame reference (``bench.direct_sql --frame``). The old
checkout runs from its own folder with this interpreter; this one's CLI runs as a repeated run
(its check result kept in a private folder, primed once) and as a first run
(``FLIGHTDECK_CACHE=off``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.engine import FLOOR, REPO, THREE, months
from bench.machine import compile_sources

RATIOS = (  # (label, numerator step, denominator step)
    ("all KPIs / pyarrow floor", "old_all", "floor"),
    ("3 KPIs / direct SQL, tuples", "old_three", "sql_tuples"),
    ("3 KPIs / direct SQL to a pandas frame", "old_three", "sql_frame"),
)


def wall(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    """Wall seconds of ``cmd`` run in ``cwd`` with ``env`` added (output discarded)."""
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t0


def run(data: Path, old: Path, repeat: int) -> dict[str, list[float]]:
    """Each step ``repeat`` times, round by round; the wall seconds of every run by step."""
    py = sys.executable
    for root in (REPO, old):  # both versions load from bytecode, as installed
        compile_sources(root)
    start, end = months(data)
    kpis = ["-m", "metrics", "kpis", str(data), "--from", start, "--to", end, "--by", "month"]
    here, there = {"PYTHONPATH": str(REPO)}, {"PYTHONPATH": str(old)}
    with tempfile.TemporaryDirectory(prefix="flightdeck-calibrate-") as cache:
        kept = {**here, "FLIGHTDECK_CACHE": cache}
        off = {**here, "FLIGHTDECK_CACHE": "off"}
        steps = {
            "floor": ([py, "-c", FLOOR, str(data)], REPO, here),
            "sql_tuples": ([py, "-m", "bench.direct_sql", str(data), start, end], REPO, here),
            "sql_frame": ([py, "-m", "bench.direct_sql", str(data), start, end, "--frame"],
                          REPO, here),
            "old_three": ([py, *kpis, "--kpi", THREE], old, there),
            "old_all": ([py, *kpis], old, there),
            "three": ([py, *kpis, "--kpi", THREE], REPO, kept),
            "three_first": ([py, *kpis, "--kpi", THREE], REPO, off),
            "all": ([py, *kpis], REPO, kept),
            "all_first": ([py, *kpis], REPO, off),
        }
        wall([py, *kpis], REPO, kept)  # keeps the check result for the repeated runs
        out: dict[str, list[float]] = {k: [] for k in steps}
        for _ in range(repeat):
            for name, (cmd, cwd, env) in steps.items():
                out[name].append(wall(cmd, cwd, env))
    return out


def markdown(runs: dict[str, list[float]]) -> str:
    """The table of median wall seconds and the issue's ratios, old and new side by side."""
    med = {k: statistics.median(v) for k, v in runs.items()}
    lines = ["| step | median wall (s) |", "|---|---|"]
    lines += [f"| {k} | {v:.2f} |" for k, v in med.items()]
    lines += ["", "| ratio | old CLI | this CLI, repeated run | this CLI, first run |",
              "|---|---|---|---|"]
    for label, old_step, ref in RATIOS:
        new = "all" if old_step == "old_all" else "three"
        lines.append(f"| {label} | {med[old_step] / med[ref]:.1f}x | "
                     f"{med[new] / med[ref]:.1f}x | {med[new + '_first'] / med[ref]:.1f}x |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("data_dir", type=Path)
    p.add_argument("--old", type=Path, required=True, help="an older checkout of this project")
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args(argv)
    print(markdown(run(args.data_dir.resolve(), args.old.resolve(), args.repeat)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
