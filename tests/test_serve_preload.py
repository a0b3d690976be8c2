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

    monkeypatch.setattr(cli.main, "main", lambda **kw: calls.append(f"streamlit {kw['args']}"))
    serve.main(["run", "app.py"])
    assert calls == ["install", "preload", "streamlit ['run', 'app.py']"]
