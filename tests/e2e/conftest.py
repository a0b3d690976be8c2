"""Real-browser fixtures: ``streamlit run app.py`` on a free port, driven by Debian's Chromium.

Follows Streamlit's own ``e2e_playwright`` conventions: wait for ``/_stcore/health``, then
for ``[data-testid="stApp"]`` to report ``data-test-script-state="notRunning"`` after every
interaction, and find elements by ``data-testid``. Every test here is marked ``e2e``; they
skip (with the reason) only when no ``chromium`` executable is found.

Fixtures for other e2e tests (e.g. the access engineer's panel tests):
``start_app(env)`` -> base URL of a server with those extra environment variables;
``app_url`` (the default server on data/sample); ``browser``; ``page`` (1280x720);
``wait_for_app_run(page)``; ``screenshot_dir`` (test-output/). Helpers for modules that start
their own servers: ``chromium_path()``, ``free_port()``, ``wait_until_healthy(url, proc)``,
``stop_server(proc)``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.services import unavailable

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "data" / "sample"
OUTPUT = REPO / "test-output"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1280, "height": 720}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.e2e)


def chromium_path() -> str | None:
    """Debian's Chromium (``/usr/bin/chromium``), or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.status == 200 and response.read().strip() == b"ok"
    except OSError:
        return False


def wait_until_healthy(url: str, proc: subprocess.Popen, timeout_s: float = 90) -> bool:
    """Poll ``url``'s ``/_stcore/health`` every 0.3 s: True once the server answers ``ok``,
    False when ``proc`` has exited or ``timeout_s`` seconds have passed first."""
    deadline = time.monotonic() + timeout_s
    while not _healthy(url):
        if proc.poll() is not None or time.monotonic() > deadline:
            return False
        time.sleep(0.3)
    return True


def stop_server(proc: subprocess.Popen, timeout_s: float = 15) -> None:
    """Stop a server process: terminate, and kill it if it has not exited within
    ``timeout_s`` seconds (then wait for it as long again)."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout_s)


@pytest.fixture(scope="session")
def chromium() -> str:
    path = chromium_path()
    if path is None:
        unavailable("no chromium executable on PATH (make chromium installs Debian's); "
                    "real-browser tests need it")
    return path


@pytest.fixture(scope="session")
def start_app(chromium: str, tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[Callable[..., str]]:
    """A factory: ``start_app(FLIGHTDECK_SECRET="...")`` -> base URL of a running app.

    One server per distinct set of extra environment variables, stopped at session end.
    ``FLIGHTDECK_DATA`` defaults to data/sample; the audit log goes to a temporary file.
    """
    servers: dict[tuple, tuple[subprocess.Popen, str]] = {}
    logs = tmp_path_factory.mktemp("streamlit-logs")

    def start(**env: str) -> str:
        key = tuple(sorted(env.items()))
        if key in servers:
            return servers[key][1]
        port = free_port()
        full_env = {**os.environ, "FLIGHTDECK_DATA": str(SAMPLE),
                    "FLIGHTDECK_AUDIT_LOG": str(logs / f"audit-{port}.jsonl"),
                    "PYTHONPATH": str(REPO), **env}
        log = open(logs / f"server-{port}.log", "w")  # noqa: SIM115 - closed with the server
        proc = subprocess.Popen(
            [sys.executable, "-m", "ui.serve", "run", str(REPO / "app.py"),  # the launcher
             "--server.headless", "true", "--server.port", str(port),
             "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
             "--server.fileWatcherType", "none"],
            cwd=REPO, env=full_env, stdout=log, stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        if not wait_until_healthy(url, proc, 90):
            proc.kill()
            raise RuntimeError(f"streamlit did not start; see {logs}/server-{port}.log")
        servers[key] = (proc, url)
        return url

    yield start
    for proc, _ in servers.values():
        stop_server(proc, 10)


@pytest.fixture(scope="session")
def app_url(start_app: Callable[..., str]) -> str:
    """The default app (data/sample, local mode, no link secret)."""
    return start_app()


@pytest.fixture(scope="module")
def browser(chromium: str):
    """One Chromium per test module (module scope, so Playwright's sync loop is closed before
    another module starts its own)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    OUTPUT.mkdir(exist_ok=True)
    return OUTPUT


def wait_for_app_run(page, timeout_ms: int = 90_000) -> None:
    """Block until the app is connected and its script has finished running."""
    page.wait_for_timeout(250)
    page.locator("[data-testid='stApp'][data-test-connection-state='CONNECTED']").wait_for(
        state="attached", timeout=timeout_ms)
    page.locator("[data-testid='stApp'][data-test-script-state='notRunning']").wait_for(
        state="attached", timeout=timeout_ms)
    # No loading skeletons or running indicator left: every element has rendered.
    page.locator("[data-testid='stSkeleton']").first.wait_for(state="detached",
                                                              timeout=timeout_ms)
    page.locator("[data-testid='stStatusWidget']").first.wait_for(state="detached",
                                                                  timeout=timeout_ms)
    page.locator("[data-testid='stApp'][data-test-script-state='notRunning']").wait_for(
        state="attached", timeout=timeout_ms)
    page.wait_for_timeout(400)


@pytest.fixture(name="wait_for_app_run")
def wait_for_app_run_fixture() -> Callable:
    return wait_for_app_run


def select_option(page, label: str, option: str) -> None:
    """Pick ``option`` in the sidebar or main selectbox labelled ``label``, then wait."""
    box = page.locator("[data-testid='stSelectbox']").filter(
        has=page.locator("[data-testid='stWidgetLabel']").get_by_text(label, exact=True)).first
    box.click()
    page.keyboard.type(option)  # filters long (virtualised) option lists
    page.get_by_role("option", name=option, exact=True).click()
    wait_for_app_run(page)


def selectbox_value(page, label: str) -> str:
    """The value a selectbox labelled ``label`` shows (its combobox input)."""
    return page.get_by_role("combobox", name=label, exact=True).input_value()
