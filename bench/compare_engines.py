"""Old (pandas/numpy, before issue 11) against new (DuckDB) KPI engine, cell for cell.

``python -m bench.compare_engines DATA_DIR [--rev COMMIT] [--window 2025-10:2026-09]
[--months 2023-10:2026-09]`` loads the export once, runs both engines by window and by month
for every KPI whose definition did not change in issue 11, and prints, per KPI and in total,
how many cells were compared and how many differ. The old engine is taken from git at
``--rev`` (default: the last commit before the DuckDB engine) into a temporary folder.

Cells: ``value, numerator, denominator, n, ci_low, ci_high, status`` (+ ``spc`` by month) of
every (KPI, force, window) row, All forces included. Floats are equal when both are NaN or
they are identical; a float difference within 1e-9 relative is counted separately as "close"
(summation order), never as equal. Census ratios (issue 11: interval none) compare every
cell except ``ci_low``/``ci_high``, which are no longer computed. Exit 0 when nothing differs.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
OLD_REV = "09553ae"
CHANGED = {"charge_rate_cohort", "repeat_suspect_share", "breach_action_rate"}
CENSUS = {"sickness_rate", "vacancy_rate", "trainee_share", "specialist_trained_share",
          "screening_rate"}
CELLS = ("value", "numerator", "denominator", "n", "ci_low", "ci_high", "status")


def old_engine(rev: str):
    """The KPI engine module as it was at ``rev`` (with its own ``_arrays``)."""
    tmp = Path(tempfile.mkdtemp(prefix="old_engine_"))
    arrays = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:metrics/kpis/_arrays.py"],
                            check=True, capture_output=True, text=True).stdout
    engine = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:metrics/kpis/engine.py"],
                            check=True, capture_output=True, text=True).stdout
    (tmp / "old_arrays.py").write_text(arrays)
    (tmp / "old_engine.py").write_text(
        engine.replace("from metrics.kpis import _arrays as A", "import old_arrays as A"))
    sys.path.insert(0, str(tmp))
    spec = importlib.util.spec_from_file_location("old_engine", tmp / "old_engine.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["old_engine"] = module  # dataclasses look their module up
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def compare(old: pd.DataFrame, new: pd.DataFrame, cols: tuple[str, ...]
            ) -> tuple[dict[str, list[int]], list[str]]:
    """Per KPI [cells compared, differing, close]; and a few example differences."""
    keys = ["kpi_id", "force", "window_start"]
    merged = old.merge(new, on=keys, how="outer", suffixes=("_old", "_new"), indicator=True)
    out: dict[str, list[int]] = {}
    examples: list[str] = []
    for kid, part in merged.groupby("kpi_id", sort=False):
        tally = out.setdefault(str(kid), [0, 0, 0])
        missing = int((part["_merge"] != "both").sum())
        tally[0] += missing * len(cols)
        tally[1] += missing * len(cols)
        part = part[part["_merge"] == "both"]
        for col in cols:
            if kid in CENSUS and col in ("ci_low", "ci_high"):
                continue
            a, b = part[f"{col}_old"].to_numpy(), part[f"{col}_new"].to_numpy()
            tally[0] += len(a)
            if col in ("status", "spc"):
                same = np.array([(x == y) or (pd.isna(x) and pd.isna(y))
                                 for x, y in zip(a, b, strict=True)], dtype=bool)
                close = same
            else:
                fa, fb = a.astype(np.float64), b.astype(np.float64)
                both_nan = np.isnan(fa) & np.isnan(fb)
                same = both_nan | (fa == fb)
                close = both_nan | np.isclose(fa, fb, rtol=1e-9, atol=0)
            tally[1] += int((~same).sum())
            tally[2] += int((~same & close).sum())
            for i in np.flatnonzero(~same)[:2]:
                if len(examples) < 12:
                    row = part.iloc[i]
                    examples.append(f"{kid} {row['force']} {str(row['window_start'])[:10]} "
                                    f"{col}: old {a[i]!r} new {b[i]!r}")
    return out, examples


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("data_dir")
    p.add_argument("--rev", default=OLD_REV)
    p.add_argument("--window", default="2025-10:2026-09")
    p.add_argument("--months", default="2023-10:2026-09")
    args = p.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    from metrics.kpis import compute_kpis
    from metrics.load import load_dataset

    old = old_engine(args.rev)
    ds = load_dataset(args.data_dir)
    ids = [k.id for k in old.kpis_for(ds) if k.id not in CHANGED and k.id in
           {*old._COMPUTE, *(f"survey_{c[2:]}" for c in old.survey_items(ds))}]
    print(f"export {args.data_dir}: {len(ds.cases):,} cases; {len(ids)} unchanged KPIs "
          f"(changed, not compared: {', '.join(sorted(CHANGED))})")
    total = [0, 0, 0]
    all_examples: list[str] = []
    for by, span in (("window", args.window), ("month", args.months)):
        start, end = span.split(":")
        t0 = time.perf_counter()
        a = old.compute_kpis(ds, start, end, by=by, kpi_ids=ids)
        t1 = time.perf_counter()
        b = compute_kpis(ds, start, end, by=by, kpi_ids=ids)
        t2 = time.perf_counter()
        cols = CELLS + (("spc",) if by == "month" else ())
        per, examples = compare(a, b, cols)
        all_examples += examples
        cells = sum(v[0] for v in per.values())
        diff = sum(v[1] for v in per.values())
        close = sum(v[2] for v in per.values())
        total = [total[0] + cells, total[1] + diff, total[2] + close]
        print(f"by {by} {start}..{end}: {len(a):,} rows; {cells:,} cells compared, {diff:,} "
              f"differ ({close:,} of them within 1e-9 relative); old {t1 - t0:.2f} s, new "
              f"{t2 - t1:.2f} s (same process, warm caches differ)")
        for kid, (n_cells, n_diff, n_close) in per.items():
            if n_diff:
                print(f"  {kid}: {n_diff:,} of {n_cells:,} differ ({n_close:,} close)")
    for line in all_examples:
        print("  e.g.", line)
    print(f"TOTAL {total[0]:,} cells compared, {total[1]:,} differ "
          f"({total[2]:,} within 1e-9 relative)")
    return 0 if total[1] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
