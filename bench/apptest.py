"""Step 6: the flight deck page through ``streamlit.testing.v1.AppTest``, in a fresh process.

``python -m bench.apptest DATA_DIR --out RESULT.json [--repeat N]`` sets ``FLIGHTDECK_DATA``,
runs ``AppTest.from_file("app.py")`` (the flight deck is the default page) and times:

- cold: the first run in the fresh process (loading the export and computing the KPIs);
- first change: a filter (the comparison selector, else the window selector) moved to a value
  not seen yet, which may compute new KPIs;
- warm: the filter moved back and forth between values already seen, so every run hits the
  app's caches; the median of ``--repeat`` such reruns.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent

# Filters to flip, in order of preference: (words in key or label, query-param name).
FILTER_HINTS: tuple[tuple[str, ...], ...] = (("compare", "comparison"), ("window",))
# URL values of the filters' options, in the widgets' order (docs/TEAM-NOTES.md).
PARAM_VALUES: dict[str, tuple[str, ...]] = {
    "compare": ("previous", "year_ago"),
    "window": ("last_month", "last_quarter", "last_12_months"),
}
WIDGET_KINDS: tuple[str, ...] = ("selectbox", "radio", "segmented_control", "pills",
                                 "select_slider")


def _options(widget: Any) -> list[Any]:
    """The widget's option labels."""
    return list(getattr(widget, "options", []) or [])


def find_filter(at: Any) -> tuple[str, Any] | None:
    """(description, widget) for the first filter widget matching ``FILTER_HINTS``."""
    for hints in FILTER_HINTS:
        for kind in WIDGET_KINDS:
            try:
                widgets = list(at.get(kind))
            except Exception:  # kind unknown to this Streamlit
                continue
            for w in widgets:
                text = f"{getattr(w, 'key', '') or ''} {getattr(w, 'label', '') or ''}".lower()
                if any(h in text for h in hints) and len(_options(w)) >= 2:
                    return f"{kind} '{getattr(w, 'label', '') or w.key}'", w
    return None


def current_index(widget: Any) -> int:
    """The selected option's index (0 when it cannot be read)."""
    idx = getattr(widget, "index", None)
    if isinstance(idx, int):
        return idx
    indices = getattr(widget, "indices", None)
    if indices:
        return int(list(indices)[0])
    return 0


def choose(widget: Any, index: int) -> None:
    """Select option ``index`` on a selectbox, radio, segmented control or pills widget."""
    if hasattr(widget, "select_index"):
        widget.select_index(index)
        return
    options = _options(widget)
    fmt = getattr(widget, "format_func", None)
    label = options[index]
    # set_value takes the underlying value; without a format_func it is the label itself.
    value = label
    if fmt is not None:
        values = getattr(widget, "_options_values", None)
        if values:
            value = values[index]
    if hasattr(widget, "indices") and hasattr(widget, "select"):
        widget.set_value([value] if isinstance(widget.value, list) else value)
    else:
        widget.set_value(value)


def errors(at: Any) -> list[str]:
    """Exception elements on the page, as short strings."""
    return [str(getattr(e, "message", e))[:200] for e in at.exception]


def profile_reruns(at: Any, runs: int = 2, top: int = 12) -> list[tuple[str, float]]:
    """Per-rerun cumulative seconds of the repo's functions over ``runs`` warm reruns.

    AppTest runs the script in its own thread, so cProfile is switched on inside
    ``ScriptRunner._run_script`` for the duration of each run.
    """
    import cProfile
    import pstats

    from streamlit.runtime.scriptrunner import script_runner

    prof = cProfile.Profile()
    original = script_runner.ScriptRunner._run_script

    def wrapped(self: Any, *args: Any, **kwargs: Any) -> Any:
        prof.enable()
        try:
            return original(self, *args, **kwargs)
        finally:
            prof.disable()

    script_runner.ScriptRunner._run_script = wrapped
    try:
        for _ in range(runs):
            at.run()
    finally:
        script_runner.ScriptRunner._run_script = original
    stats = pstats.Stats(prof).stats  # type: ignore[attr-defined]
    rows: list[tuple[str, float]] = []
    for (file, line, func), (_cc, _nc, _tt, ct, _callers) in stats.items():
        if str(REPO) in file and "/.venv/" not in file and "/bench/" not in file:
            rel = Path(file).relative_to(REPO)
            rows.append((f"{func} ({rel}:{line})", ct / runs))
    rows.sort(key=lambda r: r[1], reverse=True)
    return rows[:top]


def run(data: Path, repeat: int, timeout: float) -> dict[str, Any]:
    """Cold, first-change and warm timings of the flight deck page."""
    from streamlit.testing.v1 import AppTest

    os.environ["FLIGHTDECK_DATA"] = str(data)
    os.chdir(REPO)
    out: dict[str, Any] = {"warm": [], "warm_cpu": []}
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=timeout)
    c0 = time.process_time()
    t0 = time.perf_counter()
    at.run()
    out["cold"] = time.perf_counter() - t0
    out["cold_cpu"] = time.process_time() - c0
    if errors(at):
        out["error"] = f"exception on first run: {errors(at)[0]}"
        return out
    found = find_filter(at)
    if found is None:
        out["error"] = "no compare/window filter widget found"
        return out
    out["widget"], widget = found
    param = next((h for h in ("compare", "window")
                  if h in f"{widget.key} {widget.label}".lower()), "compare")
    start = current_index(widget)
    other = 1 if start == 0 else 0
    values = [PARAM_VALUES[param][start], PARAM_VALUES[param][other]]
    choose(widget, other)
    t0 = time.perf_counter()
    at.run()
    out["first_change"] = time.perf_counter() - t0
    if errors(at):
        out["error"] = f"exception after the change: {errors(at)[0]}"
        return out
    indices = [start, other]
    methods: set[str] = set()
    for i in range(repeat):
        found = find_filter(at)
        if found is not None:
            choose(found[1], indices[i % 2])
            methods.add("widget")
        else:
            # AppTest sometimes omits the sidebar after a rerun; the URL is the other way a
            # view changes (a copied link), and the app reads it on every run.
            at.query_params[param] = values[i % 2]
            methods.add(f"query param {param}")
        c0 = time.process_time()
        t0 = time.perf_counter()
        at.run()
        out["warm"].append(time.perf_counter() - t0)
        out["warm_cpu"].append(time.process_time() - c0)
        if errors(at):
            out["error"] = f"exception on rerun: {errors(at)[0]}"
            break
    out["warm_method"] = " / ".join(sorted(methods))
    if "error" not in out:
        out["warm_profile"] = profile_reruns(at)
    out["values"] = [str(v) for v in values]
    return out


def main(argv: list[str] | None = None) -> int:
    """Run step 6 and write the JSON result (with ``error`` on failure)."""
    parser = argparse.ArgumentParser(prog="python -m bench.apptest")
    parser.add_argument("data", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--repeat", type=int, default=6)
    parser.add_argument("--timeout", type=float, default=180.0)
    args = parser.parse_args(argv)
    try:
        result = run(args.data.resolve(), args.repeat, args.timeout)
    except Exception as exc:
        traceback.print_exc()
        result = {"error": f"{type(exc).__name__}: {exc}"[:300]}
    args.out.write_text(json.dumps(result, indent=2, default=str))
    return 0 if "error" not in result else 1


if __name__ == "__main__":
    sys.exit(main())
