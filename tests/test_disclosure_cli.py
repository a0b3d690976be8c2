"""`python -m metrics kpis --audience panel` on the sample export: no small or unrounded count."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from metrics.registry import STATIC_KPIS

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
COUNTS = ("numerator", "denominator", "n")

pytestmark = pytest.mark.slow


def kpis(*args: str) -> pd.DataFrame:
    done = subprocess.run(
        [sys.executable, "-m", "metrics", "kpis", str(SAMPLE), "--from", "2025-01", "--to",
         "2025-03", "--by", "month", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )
    assert done.returncode == 0, done.stderr
    return pd.read_csv(io.StringIO(done.stdout))


def small(x: float) -> bool:
    return pd.notna(x) and 0 < abs(x) < 7.5


def test_panel_cli_output_has_no_small_or_unrounded_count():
    internal = kpis("--audience", "internal")
    panel = kpis("--audience", "panel")
    # The sample does hold small monthly counts, so the check below means something.
    assert internal[list(COUNTS)].map(small).to_numpy().any()
    assert len(panel) == len(internal)
    for col in COUNTS:
        values = panel[col].dropna()
        assert not values.map(small).any(), col
        assert ((values.abs() % 5) == 0).all(), col
    counts = panel[panel["kpi_id"].map(lambda k: k in STATIC_KPIS
                                       and STATIC_KPIS[k].unit == "count")]
    assert ((counts["value"].dropna() % 5) == 0).all()
    assert not counts["value"].map(small).any()
    hidden = panel["status"] == "suppressed"
    assert hidden.any() and panel.loc[hidden, "value"].isna().all()
    # Shown proportions equal the rounded ratio.
    props = panel[(panel["status"] == "ok") & panel["kpi_id"].map(
        lambda k: k.startswith("survey_") or (k in STATIC_KPIS
                                              and STATIC_KPIS[k].unit == "proportion"))]
    assert ((props["value"] - props["numerator"] / props["denominator"]).abs() < 1e-9).all()
