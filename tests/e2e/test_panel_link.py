"""A scrutiny panel link in a real browser (Chromium via Playwright) against `streamlit run`.

Opens a signed panel link for one force and quarter of the sample export and checks: the
panel banner, the fixed filters, a suppressed tile (a count from 1 to 7 internally) and a
rounded count; then that editing the URL to another force, or tampering with the token, gets
the refusal page; and that the audit file holds the expected lines and no data values.
Screenshots go to ``test-output/e2e/``.

Starts its own servers (free port, 127.0.0.1) rather than ``conftest.start_app``: they need
``--secrets.files`` (a hermetic secrets file, and one with ``[auth]`` for the sign-in test).
Skips, with the reason, only when no Chromium can be found (``make chromium`` installs it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest

from metrics import sharelink
from tests.e2e.conftest import chromium_path, free_port, stop_server, wait_until_healthy
from tests.services import unavailable

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SECRET = "e2e-panel-link-secret-0123456789"
FORCE = "Gwent Police"
START, END = "2025-01", "2025-03"
DATA = ROOT / "data" / "sample"
OUT = ROOT / "test-output" / "e2e"
LOAD_TIMEOUT_MS = 120_000


def _chromium() -> str | None:
    """Debian's Chromium (``conftest.chromium_path``), else Google Chrome, or None."""
    return chromium_path() or shutil.which("google-chrome")


def _serve(tmp_path_factory, *extra: str) -> Iterator[dict]:
    """`streamlit run app.py` on a free port with a link secret and a fresh audit file."""
    if _chromium() is None:
        unavailable("no Chromium found (install Debian's chromium: make chromium)")
    audit_log = tmp_path_factory.mktemp("audit") / "audit.jsonl"
    port = free_port()
    env = dict(os.environ, FLIGHTDECK_SECRET=SECRET, FLIGHTDECK_AUDIT_LOG=str(audit_log),
               FLIGHTDECK_DATA=str(DATA))
    log_path = tmp_path_factory.mktemp("server") / "streamlit.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ui.serve", "run", "app.py", "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true", *extra],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        if not wait_until_healthy(base, proc, 60):
            pytest.fail(f"streamlit did not start:\n{log_path.read_text()[-2000:]}")
        yield {"base": base, "audit": audit_log, "log": log_path}
    finally:
        stop_server(proc, 15)


@pytest.fixture(scope="module")
def panel_server(tmp_path_factory) -> Iterator[dict]:
    """Local mode (no [auth], whatever a developer's own .streamlit/secrets.toml says)."""
    secrets = tmp_path_factory.mktemp("secrets") / "secrets.toml"
    secrets.write_text("# no [auth]: local mode\n")
    yield from _serve(tmp_path_factory, "--secrets.files", str(secrets))


@pytest.fixture(scope="module")
def signin_server(tmp_path_factory) -> Iterator[dict]:
    """Sign-in configured through a secrets file outside the repository (fake provider)."""
    secrets = tmp_path_factory.mktemp("secrets") / "secrets.toml"
    secrets.write_text(
        '[flightdeck.roles]\n"@example.police.uk" = "internal"\n\n'
        '[auth]\nredirect_uri = "http://127.0.0.1:9/oauth2callback"\n'
        f'cookie_secret = "{"c" * 32}"\n\n'
        '[auth.microsoft]\nclient_id = "00000000-0000-0000-0000-000000000000"\n'
        'client_secret = "not-a-secret"\n'
        'server_metadata_url = "https://login.invalid/v2.0/.well-known/openid-configuration"\n'
    )
    yield from _serve(tmp_path_factory, "--secrets.files", str(secrets))


@pytest.fixture(scope="module")
def browser(panel_server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def expected() -> dict:
    """What the panel must see, from the engine and the disclosure rules directly."""
    from metrics.disclosure import apply_panel
    from metrics.kpis import compute_kpis
    from metrics.load import load_dataset
    from metrics.registry import STATIC_KPIS

    raw = compute_kpis(load_dataset(DATA), START, END, forces=[FORCE])
    panel = apply_panel(raw).set_index("kpi_id")
    raw = raw.set_index("kpi_id")
    counts = [k for k, kpi in STATIC_KPIS.items() if kpi.unit == "count"]
    suppressed = [k for k in counts if panel.loc[k, "status"] == "suppressed"]
    rounded = [k for k in counts if panel.loc[k, "status"] == "ok"
               and raw.loc[k, "value"] % 5 != 0]
    if not suppressed or not rounded:
        pytest.fail(f"the sample no longer has a small and an unrounded count for {FORCE}")
    return {
        "suppressed_id": suppressed[0], "rounded_id": rounded[0],
        "suppressed": STATIC_KPIS[suppressed[0]].name,
        "suppressed_raw": int(raw.loc[suppressed[0], "value"]),
        "rounded": STATIC_KPIS[rounded[0]].name,
        "rounded_raw": int(raw.loc[rounded[0], "value"]),
        "rounded_panel": int(panel.loc[rounded[0], "value"]),
    }


def _link_url(base: str, token: str, **overrides: str) -> str:
    query = {"share": token, "force": FORCE, "window": "custom", "from": START, "to": END}
    query.update(overrides)
    return f"{base}/?{urlencode(query)}"


def _tile(page, kpi_id: str):
    """The flight deck's row for one KPI (``li.fd-row[data-kpi=…]``, ui/deck.py)."""
    row = page.locator(f'li.fd-row[data-kpi="{kpi_id}"]').first
    row.wait_for(timeout=LOAD_TIMEOUT_MS)
    return row


def _wait_idle(page) -> None:
    """Wait until the script run has finished (Streamlit's own e2e convention)."""
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for(
        timeout=LOAD_TIMEOUT_MS)


def _events(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_panel_link_in_chromium(panel_server, browser, expected):
    OUT.mkdir(parents=True, exist_ok=True)
    token, scope = sharelink.create(SECRET, force=FORCE, start=START, end=END,
                                    pages=["flight_deck", "trends"],
                                    created_by="e2e@example.police.uk")
    page = browser.new_page(viewport={"width": 1280, "height": 720})

    # 1. A valid link: banner, fixed filters, suppressed and rounded tiles.
    page.goto(_link_url(panel_server["base"], token))
    banner = page.get_by_text("Scrutiny panel view")
    banner.wait_for(timeout=LOAD_TIMEOUT_MS)
    page.locator("li.fd-row").first.wait_for(timeout=LOAD_TIMEOUT_MS)
    _wait_idle(page)
    banner_text = page.locator('[data-testid="stAlert"]', has_text="Scrutiny panel view") \
        .first.inner_text()
    assert FORCE in banner_text and "January 2025 to March 2025" in banner_text
    assert f"{scope.expires:%d %B %Y}" in banner_text and "expires" in banner_text
    marking = page.locator('[data-testid="stSidebar"]').get_by_text("OFFICIAL-SENSITIVE")
    box = marking.bounding_box()
    assert box is not None
    on_top = page.evaluate(  # the marking is what a viewer sees there, not covered by a header
        "([x, y]) => document.elementFromPoint(x, y)?.textContent ?? ''",
        [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2])
    assert "OFFICIAL-SENSITIVE" in on_top

    suppressed = _tile(page, expected["suppressed_id"])
    words = suppressed.inner_text()
    assert "Suppressed" in words or "*" in words, words
    value = suppressed.locator(".fd-value").inner_text().strip()
    assert value in ("–", "*", ""), value  # no number where a count of 1 to 7 was

    rounded = _tile(page, expected["rounded_id"])
    value = rounded.locator(".fd-value").inner_text()
    assert value.strip().split()[0] == str(expected["rounded_panel"]), value
    assert value.strip().split()[0] != str(expected["rounded_raw"])

    force_box = page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]',
                             has_text="Force").first
    assert force_box.locator("input").first.is_disabled()
    assert page.get_by_text("Data quality", exact=True).count() == 0  # not in the navigation
    page.screenshot(path=str(OUT / "panel_link_flight_deck.png"))

    # 2. The URL edited to another force: refused, nothing of either force shown.
    page.goto(_link_url(panel_server["base"], token, force="Kent Police"))
    page.get_by_text("This link cannot be opened").wait_for(timeout=LOAD_TIMEOUT_MS)
    _wait_idle(page)
    body = page.inner_text("body")
    assert "another force" in body and "Flight deck:" not in body
    page.screenshot(path=str(OUT / "panel_link_refused_force.png"))

    # 3. A tampered token: refused.
    payload, signature = token.split(".")
    forged = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1] + "." + signature
    page.goto(_link_url(panel_server["base"], forged))
    page.get_by_text("This link cannot be opened").wait_for(timeout=LOAD_TIMEOUT_MS)
    _wait_idle(page)
    assert "Flight deck:" not in page.inner_text("body")
    page.close()

    # 4. The audit trail: a page view by the link, two refusals, and no data values.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(_events(panel_server["audit"])) < 3:
        time.sleep(0.2)
    events = _events(panel_server["audit"])
    views = [e for e in events if e["action"] == "page_view"]
    refused = [e for e in events if e["action"] == "link_refused"]
    assert views and all(e["user"] == scope.link_id and e["audience"] == "panel"
                         for e in views)
    assert views[0]["force"] == FORCE and views[0]["window"] == f"{START}..{END}"
    assert sorted(e["reason"] for e in refused) == ["bad_signature", "force_not_in_scope"]
    allowed = {"time", "user", "audience", "force", "window", "page", "action", "reason"}
    for event in events:
        assert set(event) == allowed  # who/what/where only: no value or count fields
        assert all(v is None or (isinstance(v, str) and not v.strip().isdigit())
                   for v in event.values())
    assert "Traceback" not in panel_server["log"].read_text()


def test_signed_out_visitor_gets_the_sign_in_page_and_no_data(signin_server, browser):
    OUT.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    page.goto(f"{signin_server['base']}/?audience=internal&role=admin&force={FORCE}")
    page.get_by_text("Sign in to the Soteria flight deck").wait_for(timeout=LOAD_TIMEOUT_MS)
    page.get_by_role("button", name="Sign in").wait_for(timeout=LOAD_TIMEOUT_MS)
    _wait_idle(page)
    assert page.locator("li.fd-row").count() == 0
    assert "Flight deck:" not in page.inner_text("body")
    page.screenshot(path=str(OUT / "sign_in.png"))
    page.close()
    assert not [e for e in _events(signin_server["audit"]) if e["action"] == "page_view"]


def test_internal_user_creates_a_link_that_opens_the_panel_view(panel_server, browser):
    OUT.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    query = urlencode({"force": FORCE, "window": "custom", "from": START, "to": END})
    page.goto(f"{panel_server['base']}/?{query}")
    page.locator("li.fd-row").first.wait_for(timeout=LOAD_TIMEOUT_MS)
    _wait_idle(page)  # a click during a rerun can be lost on a loaded machine
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_text("Create panel link").click()
    _wait_idle(page)
    sidebar.get_by_role("button", name="Create link").click()
    _wait_idle(page)
    code = sidebar.locator('[data-testid="stCode"]', has_text="share=")
    code.wait_for(timeout=LOAD_TIMEOUT_MS)
    url = code.inner_text().strip()
    assert url.startswith(panel_server["base"]) and "force=Gwent+Police" in url
    page.screenshot(path=str(OUT / "panel_link_created.png"))
    page.close()

    panel = browser.new_page(viewport={"width": 1280, "height": 720})
    panel.goto(url)
    panel.get_by_text("Scrutiny panel view").wait_for(timeout=LOAD_TIMEOUT_MS)
    assert FORCE in panel.inner_text("body")
    assert panel.locator('[data-testid="stSidebar"]').get_by_text("Create panel link").count() \
        == 0
    panel.close()
    created = [e for e in _events(panel_server["audit"]) if e["action"] == "link_created"]
    assert created and created[-1]["user"] == "local user"
    assert created[-1]["force"] == FORCE and created[-1]["window"] == f"{START}..{END}"
