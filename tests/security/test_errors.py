"""No error details to users (issue 15, item 8).

The attack: with the data folder unreadable, the stale-data banner said "PermissionError:
[Errno 13] Permission denied: '<the data folder>/cases.parquet'", and ``validate`` on an
unreadable folder printed a traceback. Here the app (AppTest) loads a good copy of data/sample,
then the copy is made unreadable (chmod 000; as root, whom chmod does not stop, reading it is
made to raise the same PermissionError) and the page is run again: the banner says in plain
words that the last good data is shown, for an internal user and for a panel, and names no
exception, errno or path. ``validate`` on a chmod-000 folder (run as an unprivileged user when
the tests run as root) prints one plain line.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.security.apptest_helpers import REPO, all_text, open_app, panel_query
from tests.services import unavailable

FORCE, START, END = "Gwent Police", "2025-01", "2025-03"
DETAILS = ("Error", "Errno", "errno", "Traceback", "Permission denied", "parquet", "denied",
           "Exception", "[", "could not be opened")


def _make_unreadable(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """chmod 000 the export folder. Root reads through that, so when the tests run as root
    reading the folder is made to fail exactly as it does for everyone else: the
    ``PermissionError`` of the issue, naming ``<the data folder>/cases.parquet``."""
    os.chmod(folder, 0)
    if os.geteuid() == 0:
        import metrics.load

        def denied(path: object) -> tuple:
            raise PermissionError(13, "Permission denied", str(Path(str(path)) / "cases.parquet"))

        monkeypatch.setattr(metrics.load, "export_fingerprint", denied)


@pytest.fixture
def export(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "export-to-break"
    shutil.copytree(REPO / "data" / "sample", folder)
    monkeypatch.setenv("FLIGHTDECK_DATA", str(folder))
    monkeypatch.setenv("FLIGHTDECK_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    monkeypatch.delenv("FLIGHTDECK_SECRET", raising=False)
    yield folder
    if folder.is_dir():
        os.chmod(folder, 0o700)


@pytest.mark.parametrize("audience", ["internal", "panel"])
def test_stale_data_banner_is_plain_words(export, audience, monkeypatch):
    query = panel_query(FORCE, START, END) if audience == "panel" else {
        "force": FORCE, "window": "custom", "from": START, "to": END}
    at = open_app(query)
    assert not at.exception and not at.warning  # the good export loads
    _make_unreadable(export, monkeypatch)
    at.run()
    assert not at.exception
    banners = [w.value for w in at.warning]
    assert banners, "no stale-data banner"
    banner = " ".join(banners)
    assert "loaded at" in banner
    for word in DETAILS:
        assert word not in banner, word
    assert str(export) not in all_text(at) and export.name not in all_text(at)
    if audience == "panel":
        assert "not available right now" in banner
    else:
        assert "last good data" in banner and "Data quality" in banner


def test_no_good_export_ever_an_unreadable_folder_is_plain_words(export, monkeypatch):
    _make_unreadable(export, monkeypatch)
    at = open_app({})
    assert not at.exception
    shown = "\n".join(e.value for e in at.error)
    assert "could not be read" in shown or "cannot be used" in shown  # said, in plain words
    for word in ("Errno", "Traceback", "NotADirectoryError", "PermissionError", "OSError"):
        assert word not in all_text(at), word


def _unprivileged() -> list[str]:
    """The command prefix that runs the CLI as an unprivileged user when the tests run as root
    (root reads through chmod 000); [] otherwise."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        unavailable("running as root without setpriv: chmod 000 cannot stop root")
    return [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]


def test_validate_on_an_unreadable_folder_prints_one_plain_line():
    # A folder others may traverse (pytest's tmp_path is 0700 to root only).
    parent = Path(tempfile.mkdtemp(prefix="fd-validate-"))
    try:
        os.chmod(parent, 0o755)
        folder = parent / "export"
        shutil.copytree(REPO / "data" / "sample", folder)
        os.chmod(folder, 0)
        result = subprocess.run(
            [*_unprivileged(), sys.executable, "-m", "metrics", "validate", str(folder)],
            cwd=REPO, capture_output=True, text=True, timeout=120,
        )
        assert result.returncode == 1, result.stderr
        assert "Traceback" not in result.stderr + result.stdout
        assert "Errno" not in result.stderr
        lines = [x for x in result.stderr.splitlines() if x.strip()]
        assert len(lines) == 1 and "cannot be read" in lines[0], result.stderr
    finally:
        for root, dirs, _files in os.walk(parent):
            for name in dirs:
                os.chmod(Path(root) / name, 0o755)
        shutil.rmtree(parent, ignore_errors=True)


def test_data_quality_page_names_no_exception_when_the_folder_cannot_be_read(export,
                                                                           monkeypatch):
    """Internal users on the Data quality page, after the export folder became unreadable,
    read plain words too (the report of an export that cannot be read at all)."""
    at = open_app({}, page="pages/data_quality.py")
    assert not at.exception
    _make_unreadable(export, monkeypatch)
    at.run()
    assert not at.exception
    shown = all_text(at)
    for word in ("Errno", "Traceback", "NotADirectoryError", "PermissionError", "OSError"):
        assert word not in shown, word
    assert "last good data" in shown  # the stale banner is there: the check is not vacuous
