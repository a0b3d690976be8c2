"""Profile steps 2-4 with pyinstrument: ``python -m bench.profiling DATA_DIR [--dir DIR]``.

Writes ``profile.txt`` (the call tree) and ``profile.html`` into ``--dir`` (default
``bench/data/``) and prints the hotspots: the functions with the most *own* time, with the
share of the profiled total. Used by ``python -m bench --profile`` and on its own.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def _synthetic(frame: Any) -> bool:
    """pyinstrument's bookkeeping frames ("[self]", "[await]", ...), which are not functions."""
    return str(getattr(frame, "identifier", getattr(frame, "function", ""))).startswith("[")


def self_times(frame: Any) -> dict[str, float]:
    """Own (self) seconds per function over a pyinstrument frame tree, keyed "func (file:line)".

    A synthetic "[self]" child's time is its parent's own time.
    """
    totals: dict[str, float] = defaultdict(float)
    stack = [frame]
    while stack:
        f = stack.pop()
        children = [c for c in (getattr(f, "children", []) or []) if not _synthetic(c)]
        own = f.time - sum(c.time for c in children)
        if own > 0 and not _synthetic(f):
            path = str(getattr(f, "file_path_short", "") or getattr(f, "file_path", "") or "")
            key = f"{f.function} ({path}:{getattr(f, 'line_no', '')})"
            totals[key] += own
        stack.extend(children)
    return dict(totals)


IDLE_FILES = ("threading.py", "concurrent/futures/", "selectors.py", "queue.py")


class ThreadSampler:
    """A tiny all-threads sampling profiler (pyinstrument samples only the calling thread).

    Every ``interval`` seconds it reads ``sys._current_frames()`` and counts, for each busy
    thread, its innermost frame (own time) and every repo function on its stack (inclusive).
    A thread whose innermost frame is in threading/futures/queue code is idle (waiting on a
    pool or a lock) and not counted.
    """

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.own: dict[str, int] = defaultdict(int)
        self.inclusive: dict[str, int] = defaultdict(int)
        self.samples = 0  # busy-thread samples
        self.ticks = 0
        self._stop = False
        self._thread: Any = None

    def _key(self, code: Any, line: int) -> str:
        path = code.co_filename
        short = path.split("site-packages/")[-1] if "site-packages/" in path else (
            path[len(str(REPO)) + 1:] if path.startswith(str(REPO)) else path)
        return f"{code.co_name} ({short}:{line})"

    def _run(self) -> None:
        import threading
        import time

        me = threading.get_ident()
        while not self._stop:
            self.ticks += 1
            for ident, frame in sys._current_frames().items():
                if ident == me:
                    continue
                leaf = frame.f_code.co_filename
                if any(idle in leaf for idle in IDLE_FILES):
                    continue
                self.samples += 1
                self.own[self._key(frame.f_code, frame.f_code.co_firstlineno)] += 1
                seen: set[str] = set()
                f = frame
                while f is not None:
                    fn = f.f_code.co_filename
                    if fn.startswith(str(REPO)) and "/.venv/" not in fn and "/bench/" not in fn:
                        k = self._key(f.f_code, f.f_code.co_firstlineno)
                        if k not in seen:
                            seen.add(k)
                            self.inclusive[k] += 1
                    f = f.f_back
            time.sleep(self.interval)

    def __enter__(self) -> ThreadSampler:
        import threading

        self._thread = threading.Thread(target=self._run, name="bench-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop = True
        self._thread.join()

    def shares(self, counts: dict[str, int], n: int = 15) -> list[tuple[str, float, float]]:
        """The ``n`` largest counts as (name, busy-thread samples, share of busy samples)."""
        total = self.samples or 1
        ranked = sorted(counts.items(), key=lambda kv: kv[1], reverse=True)[:n]
        return [(name, float(c), c / total) for name, c in ranked]


def top(times: dict[str, float], total: float, n: int = 15) -> list[tuple[str, float, float]]:
    """The ``n`` largest entries as (name, seconds, share of ``total``)."""
    ranked = sorted(times.items(), key=lambda kv: kv[1], reverse=True)[:n]
    return [(name, s, (s / total if total else 0.0)) for name, s in ranked]


def profile(data: Path, out_dir: Path) -> dict[str, Any]:
    """Profile one load and the two KPI computations; returns timings and hotspots."""
    from pyinstrument import Profiler

    from bench.core import months
    from metrics.kpis import compute_kpis
    from metrics.load import load_dataset

    out_dir.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {}
    profiler = Profiler(interval=0.001)
    profiler.start()
    ds = load_dataset(data)
    w = months(ds.as_at, 12)
    m = months(ds.as_at, 36)
    compute_kpis(ds, w[0], w[1], by="window")
    compute_kpis(ds, m[0], m[1], by="month")
    profiler.stop()
    session = profiler.last_session
    root = session.root_frame()
    total = root.time if root is not None else 0.0
    result["total"] = total
    (out_dir / "profile.txt").write_text(profiler.output_text(unicode=False, color=False,
                                                               show_all=False))
    (out_dir / "profile.html").write_text(profiler.output_html())
    result["hotspots"] = top(self_times(root), total) if root is not None else []
    # the cumulative view of the repo's own functions, which is where fixes go
    ours: dict[str, float] = defaultdict(float)
    stack = [root] if root is not None else []
    while stack:
        f = stack.pop()
        path = str(getattr(f, "file_path", "") or "")
        if str(REPO) in path and "/.venv/" not in path and "/bench/" not in path:
            ours[f"{f.function} ({getattr(f, 'file_path_short', path)}:{f.line_no})"] += f.time
            # a function recursing into itself is counted once per frame
        stack.extend(getattr(f, "children", []) or [])
    result["repo_cumulative"] = top(ours, total, 25)
    result["files"] = [str(out_dir / "profile.txt"), str(out_dir / "profile.html")]
    del ds
    # the same work again under the all-threads sampler (the pools' threads included)
    import gc

    gc.collect()
    with ThreadSampler() as sampler:
        ds = load_dataset(data)
        compute_kpis(ds, w[0], w[1], by="window")
        compute_kpis(ds, m[0], m[1], by="month")
    result["threads_own"] = sampler.shares(sampler.own)
    result["threads_inclusive"] = sampler.shares(sampler.inclusive)
    result["threads_samples"] = sampler.samples
    result["threads_ticks"] = sampler.ticks
    return result


def format_hotspots(result: dict[str, Any], n: int = 12) -> str:
    """Markdown: the own-time hotspots and the repo functions by cumulative time."""
    lines = [f"Profiled load + 12-month + 36-month KPIs: {result.get('total', 0):.2f} s total "
             "(pyinstrument, 1 ms interval).", "", "Own time (where the CPU goes):", ""]
    for name, s, share in result.get("hotspots", [])[:n]:
        lines.append(f"- {s:.2f} s ({share:.0%}) `{name}`")
    lines += ["", "Repo functions by cumulative time (nested calls counted in each caller):", ""]
    for name, s, share in result.get("repo_cumulative", [])[:n]:
        lines.append(f"- {s:.2f} s ({share:.0%}) `{name}`")
    if result.get("threads_own"):
        lines += ["", f"All threads (the loader's and engine's pools included; a sampler every "
                  f"5 ms, {result.get('threads_samples')} busy-thread samples over "
                  f"{result.get('threads_ticks')} ticks). Innermost function:", ""]
        for name, _c, share in result["threads_own"][:n]:
            lines.append(f"- {share:.0%} `{name}`")
        lines += ["", "Repo functions on the stack (inclusive):", ""]
        for name, _c, share in result.get("threads_inclusive", [])[:n]:
            lines.append(f"- {share:.0%} `{name}`")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Profile, print the hotspots, and write them as JSON to ``--out`` when given."""
    import json

    parser = argparse.ArgumentParser(prog="python -m bench.profiling")
    parser.add_argument("data", type=Path)
    parser.add_argument("--dir", type=Path, default=REPO / "bench" / "data",
                        help="where profile.txt and profile.html go")
    parser.add_argument("--out", type=Path, default=None, help="JSON result file")
    args = parser.parse_args(argv)
    try:
        result = profile(args.data, args.dir)
        result["text"] = format_hotspots(result)
        print(format_hotspots(result, 20))
        print(f"\ncall tree: {args.dir / 'profile.txt'}")
    except Exception as exc:
        result = {"error": f"{type(exc).__name__}: {exc}"[:300]}
        print(result["error"], file=sys.stderr)
    if args.out is not None:
        args.out.write_text(json.dumps(result, indent=2, default=str))
    return 0 if "error" not in result else 1


if __name__ == "__main__":
    sys.exit(main())
