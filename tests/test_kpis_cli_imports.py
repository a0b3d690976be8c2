"""The ``kpis`` CLI keeps a lean import path: computing every KPI by month (with SPC) never
imports the app's, the board pack's or the charts' libraries (issue 11: they cost seconds
of every process)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# (``report.common``, the board pack's plain constants, is imported by the CLI's parsers)
HEAVY = ("reportlab", "plotly", "streamlit", "matplotlib", "scipy.stats", "ui", "present")

PROBE = """
import json, runpy, sys
sys.argv = ["metrics", "kpis", sys.argv[1], "--from", "2026-07", "--to", "2026-09",
            "--by", "month"]
try:
    runpy.run_module("metrics", run_name="__main__")
except SystemExit as exc:
    code = exc.code
else:
    code = 0
import gc
sys.stderr.write("\\nMODULES " + json.dumps({"code": code, "modules": sorted(sys.modules),
                                            "gc_enabled": gc.isenabled(),
                                            "frozen": gc.get_freeze_count()}))
"""


def test_kpis_by_month_imports_no_heavy_library():
    done = subprocess.run([sys.executable, "-c", PROBE, str(ROOT / "data" / "sample")],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    report = json.loads(done.stderr.rsplit("MODULES ", 1)[1])
    assert report["code"] in (0, None), done.stderr[-2000:]
    assert done.stdout.startswith("kpi_id,force,window_start")
    loaded = [m for m in report["modules"]
              if any(m == h or m.startswith(h + ".") for h in HEAVY)]
    assert loaded == []
    assert "duckdb" in report["modules"]  # the engine itself did run


def test_the_cli_process_freezes_its_imports_and_keeps_collecting():
    done = subprocess.run([sys.executable, "-c", PROBE, str(ROOT / "data" / "sample")],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    report = json.loads(done.stderr.rsplit("MODULES ", 1)[1])
    # the imported modules' objects are left out of collections, and collection is back on
    assert report["gc_enabled"] is True
    assert report["frozen"] > 10_000  # pandas, numpy and DuckDB: over 100,000 here


def test_main_called_in_process_leaves_the_collector_alone(capsys):
    import gc

    from metrics.__main__ import main

    before = gc.get_freeze_count()
    assert main(["catalogue", "list"]) == 0
    assert gc.isenabled() and gc.get_freeze_count() == before
