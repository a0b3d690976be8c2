"""The server launcher imports what the first page run needs before it answers
(``ui.serve.preload``), and a module that cannot be imported never stops the server."""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path

from ui import serve

ROOT = Path(__file__).resolve().parents[1]


def test_every_preloaded_module_imports_in_a_fresh_process_without_a_runtime_warning():
    code = ("import gc, sys; from ui import serve; failed = serve.preload(); "
            "print(failed, all(m in sys.modules for m in serve.PRELOAD), "
            "gc.get_freeze_count() > 0)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=True)
    assert done.stdout.strip() == "[] True True"
    assert "No runtime found" not in done.stderr


def test_a_module_that_cannot_be_imported_is_named_not_raised(monkeypatch):
    frozen: list[bool] = []
    monkeypatch.setattr(gc, "freeze", lambda: frozen.append(True))  # not the test process
    assert serve.preload(("json", "flightdeck_no_such_module")) == [
        "flightdeck_no_such_module"]
    assert frozen == [True]


def test_the_launcher_preloads_before_streamlit_starts(monkeypatch):
    calls: list[str] = []
    monkeypatch.setattr(serve, "install", lambda: calls.append("install"))
    monkeypatch.setattr(serve, "preload", lambda: calls.append("preload") or [])
    from streamlit.web import cli

    monkeypatch.setattr(serve, "warm_default_view", lambda: None)
    monkeypatch.setattr(cli.main, "main", lambda **kw: calls.append(f"streamlit {kw['args']}"))
    serve.main(["run", "app.py"])
    assert calls == ["install", "preload", "streamlit ['run', 'app.py']"]


def test_the_default_flight_deck_is_prepared_so_its_first_visitor_runs_no_query(
        monkeypatch, export_copy: Path, tmp_path: Path):
    from streamlit.testing.v1 import AppTest

    from metrics.kpis import engine

    monkeypatch.setenv("FLIGHTDECK_DATA", str(export_copy))
    monkeypatch.setenv("FLIGHTDECK_DB", f"sqlite:///{tmp_path / 'record.db'}")
    monkeypatch.setenv("FLIGHTDECK_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    monkeypatch.delenv("FLIGHTDECK_SECRET", raising=False)
    monkeypatch.delenv(serve.WARM_ENV, raising=False)
    seconds = serve.warm_default_view()
    assert seconds is not None and seconds > 0
    queries: list[str] = []
    query = engine._Run.query

    def counted(run, kpi, wrapper):
        queries.append(kpi.id)
        return query(run, kpi, wrapper)

    monkeypatch.setattr(engine._Run, "query", counted)
    page = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    page.run()  # the first visitor: a link without parameters, the flight deck
    assert not page.exception
    assert any("Flight deck: All forces" in h.value for h in page.header)
    assert queries == []  # every verdict of the deck came from what was prepared


def test_flightdeck_warm_0_prepares_nothing(monkeypatch, export_copy: Path):
    from ui import data as ui_data

    monkeypatch.setenv("FLIGHTDECK_DATA", str(export_copy))
    monkeypatch.setenv(serve.WARM_ENV, "0")
    monkeypatch.setattr(ui_data, "load", lambda *a, **k: (_ for _ in ()).throw(
        AssertionError("loaded although FLIGHTDECK_WARM=0")))
    assert serve.warm_default_view() is None


def test_an_unusable_export_is_logged_never_raised(monkeypatch, tmp_path: Path, caplog):
    (tmp_path / "cases.parquet").write_bytes(b"not parquet")
    monkeypatch.setenv("FLIGHTDECK_DATA", str(tmp_path))
    monkeypatch.delenv(serve.WARM_ENV, raising=False)
    assert serve.warm_default_view() is None

    def broken(*_a, **_k):
        raise RuntimeError("engine down")

    from metrics import verdicts

    monkeypatch.setattr(verdicts, "kpi_verdicts", broken)
    monkeypatch.setenv("FLIGHTDECK_DATA", str(ROOT / "data" / "sample"))
    with caplog.at_level("WARNING", logger=serve.__name__):
        assert serve.warm_default_view() is None
    assert "could not prepare the default flight deck" in caplog.text


def test_the_launcher_prepares_the_default_view_after_preloading(monkeypatch, capsys):
    monkeypatch.delenv(serve.WARM_ENV, raising=False)
    calls: list[str] = []
    monkeypatch.setattr(serve, "install", lambda: calls.append("install"))
    monkeypatch.setattr(serve, "preload", lambda: calls.append("preload") or [])
    monkeypatch.setattr(serve, "warm_default_view", lambda: calls.append("warm") or 0.1)
    from streamlit.web import cli

    monkeypatch.setattr(cli.main, "main", lambda **kw: calls.append("streamlit"))
    serve.main(["run", "app.py"])
    assert calls == ["install", "preload", "warm", "streamlit"]
    err = capsys.readouterr().err  # the wait before the server answers is said, then timed
    assert "Preparing the default flight deck..." in err and "Prepared in 0.1 s." in err
    calls.clear()
    monkeypatch.setenv(serve.WARM_ENV, "0")
    serve.main(["run", "app.py"])
    assert calls == ["install", "preload", "streamlit"]
    assert "Preparing" not in capsys.readouterr().err


def test_a_launcher_that_froze_duckdb_exits_without_a_leak_report():
    # objects still frozen at exit are never finalised: DuckDB's bindings then print
    # "nanobind: leaked ..." on every shutdown unless they are unfrozen first
    code = ("from ui import serve; serve.preload(); import duckdb, gc; "
            "con = duckdb.connect(); print(gc.get_freeze_count() > 0)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=True)
    assert done.stdout.strip() == "True"
    assert "leaked" not in done.stderr


WATCHED = {"metrics", "present", "report", "ui", "pages", "pandas", "numpy", "scipy", "duckdb",
           "pyarrow", "sqlalchemy", "alembic", "psycopg", "plotly", "reportlab", "openpyxl"}


def test_after_preloading_the_first_page_run_imports_none_of_the_heavy_packages(
        tmp_path: Path, small_export: Path):
    # PRELOAD is kept by hand: a page that starts importing another module of ours or of a
    # heavy library on its first run (so the first visitor waits for it) fails here
    code = (
        "import sys\n"
        "from ui import serve\n"
        "serve.preload()\n"
        "from streamlit.testing.v1 import AppTest\n"
        "before = set(sys.modules)\n"
        f"at = AppTest.from_file({str(ROOT / 'app.py')!r}, default_timeout=180)\n"
        "at.run()\n"
        "assert not at.exception, at.exception\n"
        "new = sorted(set(sys.modules) - before)\n"
        f"print([m for m in new if m.split('.')[0] in {sorted(WATCHED)!r}])\n")
    env = {**__import__("os").environ, "FLIGHTDECK_DATA": str(small_export),
           "FLIGHTDECK_DB": f"sqlite:///{tmp_path / 'record.db'}",
           "FLIGHTDECK_AUDIT_LOG": str(tmp_path / "audit.jsonl"), "FLIGHTDECK_WARM": "0"}
    env.pop("FLIGHTDECK_SECRET", None)
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
