"""Shared fixtures: small synthetic exports and an AppTest factory for the app.

Exports come from the project's own generator (``metrics.generate``): synthetic data only.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import settings

# Under CI (`.ci/run` sets FLIGHTDECK_CI=1) the property tests draw the same examples on every
# run, so a result there is reproducible and a landing never hangs on a random draw; on a
# developer's machine they keep searching anew each run (and the failures they find are
# pinned as @example, as in tests/test_disclosure.py).
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("FLIGHTDECK_CI") == "1":
    settings.load_profile("ci")

# Exports are checked anew on every load in the suite (tests/test_check_cache.py turns the kept
# results on for itself): a test that changes a rule must never meet a result kept before.
os.environ["FLIGHTDECK_CACHE"] = "off"

REPO = Path(__file__).resolve().parents[1]
APP = str(REPO / "app.py")


@pytest.fixture(scope="session")
def small_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic export (8,000 cases, nine forces), generated once per session."""
    from metrics.generate import generate

    out = tmp_path_factory.mktemp("export") / "small"
    generate(out, cases=8000, seed=3)
    return out


@pytest.fixture
def export_copy(small_export: Path, tmp_path: Path) -> Path:
    """A private copy of the small export that a test may break."""
    target = tmp_path / "export"
    shutil.copytree(small_export, target)
    return target


@pytest.fixture
def app_test(monkeypatch: pytest.MonkeyPatch, small_export: Path) -> Callable:
    """``app_test(data=None, **query)`` -> an AppTest of app.py on the small export."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.delenv("FLIGHTDECK_SECRET", raising=False)

    def make(data: Path | None = None, **query: str):
        monkeypatch.setenv("FLIGHTDECK_DATA", str(data or small_export))
        at = AppTest.from_file(APP, default_timeout=120)
        for key, value in query.items():
            at.query_params[key] = value
        return at

    return make
