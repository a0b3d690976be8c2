"""The meeting record in a real browser (Chromium via Playwright) against ``streamlit run``.

A comment, an action and a case review are made in the app; the comment is seen again after
a reload; the server is stopped and a new one started on the same database, and all three
are still there, in the app and in ``python -m metrics record export``.

Starts its own servers (free port, 127.0.0.1, local mode through a hermetic secrets file,
a private SQLite record and audit file). Skips, with the reason, only when no Chromium is
found (``make chromium``). Until ``ui/shell.py`` lists the record page, the server is started
through a small entry script that adds it to the navigation the way ``ui.shell`` declares
pages (absolute page paths); everything else is app.py unchanged.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pandas as pd
import pytest

from tests.e2e.conftest import (
    chromium_path,
    free_port,
    stop_server,
    wait_for_app_run,
    wait_until_healthy,
)
from tests.services import unavailable

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data" / "sample"
OUT = ROOT / "test-output" / "e2e"
FORCE, START, END = "Gwent Police", "2026-07", "2026-09"
TIMEOUT_MS = 120_000
SECRET = "e2e-record-panel-secret-0123456789"
COMMENT = "Charge rate steady; early advice requests up since the summer."

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ENTRY = '''
import sys
from dataclasses import replace
from pathlib import Path
ROOT = Path({root!r})
sys.path.insert(0, str(ROOT))
import ui.shell as shell
if not any(spec.id == "record" for spec in shell.PAGE_SPECS):
    specs = tuple(replace(s, path=str(ROOT / s.path)) for s in shell.PAGE_SPECS)
    shell.PAGE_SPECS = (*specs, replace(specs[0], id="record", path=str(ROOT / "pages/record.py"),
                                        title="Meeting record", section="Meeting"))
exec(compile((ROOT / "app.py").read_text(), str(ROOT / "app.py"), "exec"))
'''


def _entry(tmp: Path) -> Path:
    """app.py when ui/shell.py lists the record page, else the navigation-adding entry."""
    import ui.shell as shell

    if any(spec.id == "record" for spec in shell.PAGE_SPECS):
        return ROOT / "app.py"
    entry = tmp / "record_entry.py"
    entry.write_text(ENTRY.format(root=str(ROOT)))
    return entry


class Server:
    """One ``streamlit run`` process (start/stop)."""

    def __init__(self, entry: Path, env: dict[str, str], log: Path) -> None:
        self.entry, self.env, self.log = entry, env, log
        self.proc: subprocess.Popen | None = None
        self.base = ""

    def start(self) -> str:
        port = free_port()
        with open(self.log, "a") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "ui.serve", "run", str(self.entry), "--server.port",
                 str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
                 "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
                 "--secrets.files", self.env["_SECRETS"]],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.base = f"http://127.0.0.1:{port}"
        if not wait_until_healthy(self.base, self.proc, 90):
            self.stop()
            pytest.fail(f"streamlit did not start:\n{self.log.read_text()[-2000:]}")
        return self.base

    def stop(self) -> None:
        if self.proc is None:
            return
        stop_server(self.proc, 15)
        self.proc = None


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> Iterator[dict]:
    if chromium_path() is None:
        unavailable("no Chromium found (install Debian's chromium: make chromium)")
    tmp = tmp_path_factory.mktemp("record-e2e")
    secrets = tmp / "secrets.toml"
    secrets.write_text("# no [auth]: local mode\n")
    db_url = f"sqlite:///{tmp / 'record.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLIGHTDECK_")}
    env.update(FLIGHTDECK_DATA=str(DATA), FLIGHTDECK_DB=db_url, FLIGHTDECK_SECRET=SECRET,
               FLIGHTDECK_AUDIT_LOG=str(tmp / "audit.jsonl"), PYTHONPATH=str(ROOT),
               _SECRETS=str(secrets))
    server = Server(_entry(tmp), env, tmp / "streamlit.log")
    server.start()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        try:
            yield {"server": server, "browser": browser, "db": db_url, "tmp": tmp, "env": env}
        finally:
            browser.close()
            server.stop()


def _wait(page) -> None:
    """Wait until the app has connected and finished its run (``conftest.wait_for_app_run``
    with this module's timeout)."""
    wait_for_app_run(page, TIMEOUT_MS)


def _open(page, base: str) -> None:
    query = urlencode({"force": FORCE, "window": "custom", "from": START, "to": END})
    page.goto(f"{base}/record?{query}", timeout=TIMEOUT_MS)
    _wait(page)
    page.get_by_role("heading", name=f"Meeting record: {FORCE}").wait_for(timeout=TIMEOUT_MS)


def _see(page, locator, name: str) -> None:
    """Wait for ``locator``; on a timeout keep a screenshot (test-output/e2e/) and fail."""
    try:
        locator.wait_for(timeout=TIMEOUT_MS)
    except Exception:
        OUT.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(OUT / f"record-failed-{name}.png"), full_page=True)
        raise


def _markdown(page, text: str):
    """The Markdown paragraph (not the table cell) showing exactly ``text``."""
    return page.locator("[data-testid='stMarkdownContainer']").get_by_text(text, exact=True)


def _form(page, button: str):
    return page.locator("[data-testid='stForm']").filter(
        has=page.get_by_role("button", name=button))


def _submit(page, button: str, fields: dict[str, str], then: str) -> None:
    """Fill the form whose submit button is ``button`` (``fields``: label -> text), submit
    it, wait for the run and then for the text ``then`` (the form's success message)."""
    form = _form(page, button)
    for label, value in fields.items():
        form.get_by_label(label).fill(value)
    form.get_by_role("button", name=button).click()
    _wait(page)
    page.get_by_text(then).wait_for(timeout=TIMEOUT_MS)


def test_comment_action_and_review_survive_a_restart_and_reach_the_export(setup):
    server, browser = setup["server"], setup["browser"]
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    _open(page, server.base)

    # commentary: write, save, reload, see it
    form = _form(page, "Save commentary")
    form.get_by_label("Owner (a role, e.g. Head of crime)").fill("Head of crime")
    form.get_by_text("Partly assured", exact=True).click()
    form.get_by_label("Commentary (at most 2,000 characters)").fill(COMMENT)
    form.get_by_role("button", name="Save commentary").click()
    _wait(page)
    page.get_by_text("Commentary saved.").wait_for(timeout=TIMEOUT_MS)
    page.reload()
    _wait(page)
    _see(page, _markdown(page, COMMENT), "after-reload")
    assert page.get_by_text("Latest: Partly assured").count() == 1

    # an action
    page.get_by_role("tab", name="Actions").click()
    _submit(page, "Record action", {"What was agreed": "Dip-sample bail decisions monthly",
                                    "Owner (a role)": "DI, case review team"},
            "Action recorded.")

    # a case review: draw a sample, review its first case
    page.get_by_role("tab", name="Case reviews").click()
    _submit(page, "Draw sample of NFA cases", {"Seed (empty: a fresh one)": "7"},
            "Sample 1 drawn")
    page.get_by_role("tab", name="Case reviews").click()
    form = _form(page, "Save review")
    form.get_by_text("Early advice", exact=True).click()
    form.get_by_text("no", exact=True).click()
    form.get_by_role("textbox", name="Learning point").fill("Request early advice before NFA.")
    form.get_by_role("button", name="Save review").click()
    _wait(page)
    page.get_by_text("Review saved.").wait_for(timeout=TIMEOUT_MS)
    OUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUT / "record-before-restart.png"), full_page=True)

    # restart the server on the same database
    server.stop()
    base = server.start()
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    _open(page, base)
    _see(page, _markdown(page, COMMENT), "after-restart")
    page.get_by_role("tab", name="Actions").click()
    page.get_by_text("1 open, 0 overdue.").wait_for(timeout=TIMEOUT_MS)
    page.get_by_role("tab", name="Case reviews").click()
    page.get_by_text(re.compile(r"^1 of \d+ cases reviewed")).wait_for(timeout=TIMEOUT_MS)
    page.screenshot(path=str(OUT / "record-after-restart.png"), full_page=True)

    # and in the export
    out = setup["tmp"] / "export"
    env = {k: v for k, v in setup["env"].items() if k != "_SECRETS"}
    proc = subprocess.run([sys.executable, "-m", "metrics", "record", "export", "--db",
                           setup["db"], "--out", str(out)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    comments = pd.read_csv(out / "comments.csv", skiprows=1)
    assert comments["text"].tolist() == [COMMENT]
    assert comments["author"].tolist() == ["local user"]
    actions = pd.read_csv(out / "actions.csv", skiprows=1)
    assert actions["text"].tolist() == ["Dip-sample bail decisions monthly"]
    reviews = pd.read_csv(out / "reviews.csv", skiprows=1)
    assert reviews["learning_point"].tolist() == ["Request early advice before NFA."]
    assert reviews["early_advice"].astype(str).str.lower().tolist() in (["true"], ["1"])
    assert reviews["decision_sound"].astype(str).str.lower().tolist() in (["false"], ["0"])


def test_panel_link_to_the_record_shows_commentary_but_never_case_ids(setup):
    from metrics import sharelink
    from metrics.record import draw_sample, open_record

    start, end = "2026-04", "2026-06"
    record = open_record(setup["db"], audit_path=setup["tmp"] / "audit-test.jsonl")
    record.add_comment(FORCE, start, end, "charge_rate", owner="Head of crime",
                       text="Panel sees this commentary.", assurance="not_assured",
                       author="named.author@example.police.uk")
    cases = pd.read_parquet(DATA / "cases.parquet")
    sample_id, _ = draw_sample(record, cases, FORCE, start, end, size=5, seed=3, author="lead")
    first = int(record.sample_cases(sample_id)["sample_case_id"][0])
    record.add_review(first, decision_sound=False, learning_point="Internal learning point",
                      reviewer="panel chair")
    case_ids = set(record.export_tables()["sample_cases"]["case_id"])
    record.close()
    token, _ = sharelink.create(SECRET, force=FORCE, start=start, end=end,
                                pages=["flight_deck", "record"], created_by="e2e")
    query = urlencode({"share": token, "force": FORCE, "window": "custom", "from": start,
                       "to": end})
    page = setup["browser"].new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(f"{setup['server'].base}/record?{query}", timeout=TIMEOUT_MS)
    _wait(page)
    # the table is drawn on a canvas; its accessible cells are in the DOM (attached, hidden)
    cells = page.locator("[data-testid='stDataFrame'] [role='gridcell']")
    cells.filter(has_text="Panel sees this commentary.").first.wait_for(
        state="attached", timeout=TIMEOUT_MS)
    assert cells.filter(has_text="Not assured").count() == 1
    html = page.content()
    assert case_ids and not [c for c in case_ids if c in html]
    assert "named.author@example.police.uk" not in html
    assert "Internal learning point" not in html and "panel chair" not in html
    assert page.get_by_role("tab").count() == 0  # no Actions / Case reviews tabs
    assert page.locator("[data-testid='stForm']").count() == 0
    OUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUT / "record-panel.png"), full_page=True)
