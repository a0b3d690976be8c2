"""Every KPI's output saved once and compared cell for cell after a change (performance work
must not move one number).

``python -m bench.compare_outputs save DATA OUT.pkl`` computes every KPI of the catalogue
(``compute_kpis``) for all three scopes, by window (default 2025-10..2026-09) and by month
(default 2023-10..2026-09), and pickles the tables; ``python -m bench.compare_outputs check
DATA OUT.pkl`` computes them again with the code in the working tree and prints, per table,
how many cells were compared and how many differ (every column, ``spc`` and ``provisional``
included; floats equal only when identical or both NaN; a KPI declared after the saved run is
named and not compared). ``kpi_items`` of every median KPI (window, each scope, every force and
one force + All forces) is compared row by row in order. Exit 0 when nothing differs, 1 when
some cell differs, 2 for bad arguments. ``--rev COMMIT`` on ``save`` runs the code of that
commit (``git worktree``-free: ``git archive`` of ``metrics/`` into a temporary folder).
"""

from __future__ import annotations

import argparse
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SCOPES = ("all", "adult_rape", "child")
KEYS = ["kpi_id", "force", "window_start"]


def compute_all(data: str, window: tuple[str, str], months: tuple[str, str]
                ) -> dict[str, pd.DataFrame]:
    """Every KPI table the comparison covers, keyed ``by/scope``, from the importable
    ``metrics`` package."""
    from metrics.kpis import compute_kpis
    from metrics.load import load_dataset

    ds = load_dataset(data)
    if not ds.report.usable:
        raise SystemExit(f"{data} does not validate")
    out = {}
    for scope in SCOPES:
        out[f"window/{scope}"] = compute_kpis(ds, *window, by="window", scope=scope)
        out[f"month/{scope}"] = compute_kpis(ds, *months, by="month", scope=scope)
    # the items behind each median KPI (Mood's test): every force, and one force + All forces
    from metrics.kpis import kpi_items, kpis_for

    one = sorted(set(out["window/all"]["force"]) - {"All forces"})[:1]
    for kpi in kpis_for(ds):
        if kpi.unit != "days":
            continue
        for scope in SCOPES:
            for label, forces in (("every", None), ("one", [*one, "All forces"])):
                items = kpi_items(ds, kpi.id, *window, forces=forces, scope=scope)
                out[f"items/{kpi.id}/{scope}/{label}"] = items
    return out


def compare_items(old: pd.DataFrame, new: pd.DataFrame) -> tuple[int, int, list[str]]:
    """(cells compared, differing, examples) of two ``kpi_items`` frames, row by row in
    order (the order is part of the output)."""
    if list(old.columns) != list(new.columns) or len(old) != len(new):
        return max(old.size, 1), max(old.size, 1), [f"shape {old.shape} != {new.shape}"]
    same_force = old["force"].to_numpy() == new["force"].to_numpy()
    a, b = old["item"].to_numpy(np.float64), new["item"].to_numpy(np.float64)
    same_item = (a == b) | (np.isnan(a) & np.isnan(b))
    bad = int((~same_force).sum() + (~same_item).sum())
    dtypes = [] if list(old.dtypes) == list(new.dtypes) else [f"dtypes {list(old.dtypes)} != "
                                                            f"{list(new.dtypes)}"]
    return old.size, bad + len(dtypes), dtypes


def compare(old: pd.DataFrame, new: pd.DataFrame) -> tuple[int, int, list[str]]:
    """(cells compared, cells differing, a few examples) of two KPI tables."""
    if "item" in old.columns:
        return compare_items(old, new)
    if list(old.columns) != list(new.columns):
        return 1, 1, [f"columns {list(old.columns)} != {list(new.columns)}"]
    added = sorted(set(new["kpi_id"]) - set(old["kpi_id"]))  # KPIs declared since: not compared
    new = new[~new["kpi_id"].isin(added)]
    merged = old.merge(new, on=KEYS, how="outer", suffixes=("_old", "_new"), indicator=True)
    cols = [c for c in old.columns if c not in KEYS]
    missing = int((merged["_merge"] != "both").sum())
    compared = len(merged) * len(cols)
    differ = missing * len(cols)
    examples = [f"{missing} rows only on one side"] if missing else []
    if added:
        examples.append(f"not compared (declared since): {', '.join(added)}")
    both = merged[merged["_merge"] == "both"]
    for col in cols:
        a, b = both[f"{col}_old"].to_numpy(), both[f"{col}_new"].to_numpy()
        if a.dtype.kind in "fiu" and b.dtype.kind in "fiu":
            fa, fb = a.astype(np.float64), b.astype(np.float64)
            same = (fa == fb) | (np.isnan(fa) & np.isnan(fb))
        else:
            same = np.array([(x == y) or (pd.isna(x) and pd.isna(y))
                             for x, y in zip(a, b, strict=True)], dtype=bool)
        bad = int((~same).sum())
        differ += bad
        if bad and len(examples) < 10:
            i = int(np.flatnonzero(~same)[0])
            row = both.iloc[i]
            examples.append(f"{row['kpi_id']} {row['force']} {row['window_start']:%Y-%m} "
                            f"{col}: {a[i]!r} -> {b[i]!r}")
    return compared, differ, examples


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.compare_outputs", description=__doc__)
    p.add_argument("action", choices=("save", "check"))
    p.add_argument("data")
    p.add_argument("file")
    p.add_argument("--window", default="2025-10:2026-09")
    p.add_argument("--months", default="2023-10:2026-09")
    p.add_argument("--rev", default=None, help="save: the commit whose metrics/ computes")
    a = p.parse_args(argv)
    window = tuple(a.window.split(":"))
    months = tuple(a.months.split(":"))
    if a.action == "save" and a.rev:
        tmp = Path(tempfile.mkdtemp(prefix="outputs_rev_"))
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", a.rev, "metrics"],
                                 check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(tmp)], input=archive, check=True)
        return subprocess.run([sys.executable, "-c",
                               "import sys; sys.path.insert(0, sys.argv[1]); "
                               "from bench.compare_outputs import main; "
                               "sys.exit(main(sys.argv[2:]))",
                               str(tmp), "save", a.data, a.file, "--window", a.window,
                               "--months", a.months], cwd=str(ROOT)).returncode
    tables = compute_all(a.data, window, months)  # type: ignore[arg-type]
    if a.action == "save":
        with open(a.file, "wb") as fh:
            pickle.dump(tables, fh)
        print(f"saved {sum(t.size for t in tables.values()):,} cells to {a.file}")
        return 0
    with open(a.file, "rb") as fh:
        saved = pickle.load(fh)  # noqa: S301 - our own file
    total = bad = 0
    for key in sorted(set(saved) | set(tables)):
        if key not in saved or key not in tables:
            print(f"{key}: only on one side")
            bad += 1
            continue
        n, d, ex = compare(saved[key], tables[key])
        total += n
        bad += d
        print(f"{key}: {n:,} cells compared, {d:,} differ")
        for line in ex:
            print(f"    {line}")
    print(f"TOTAL: {total:,} cells compared, {bad:,} differ")
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
