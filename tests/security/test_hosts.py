"""DNS rebinding (issue 15, item 1): a foreign Host never reaches the app.

The attack: a page on attacker.example rebinds its name to 127.0.0.1, so the browser sends
``Host: attacker.example:PORT`` with a matching ``Origin`` to the flight deck in local mode.
These tests send exactly those requests, raw, to a real server started through the launcher
(``python -m ui.serve run app.py``) on data/sample, and check they are refused at the HTTP
layer (4xx, websocket not upgraded) while 127.0.0.1, localhost and [::1] still work.
"""

from __future__ import annotations

import pytest

from metrics import hosts

FOREIGN = ("attacker.example", "127.0.0.1.attacker.example", "localhost.attacker.example",
           "evil", "localhost.", "0.0.0.0", "127.0.0.2", "[::2]", "LOCALHOST@attacker.example")


@pytest.fixture(scope="module")
def server(start_guarded):
    return start_guarded()


@pytest.mark.parametrize("name", FOREIGN)
def test_http_with_a_foreign_host_is_refused(server, name):
    status, headers, body = server.request("/", host=f"{name}:{server.port}")
    assert 400 <= status < 500, status
    assert b"<html" not in body.lower() and b"streamlit" not in body.lower()
    # and the app's own endpoints
    for path in ("/_stcore/health", "/_stcore/host-config", "/static/../app.py", "/flight_deck"):
        assert 400 <= server.request(path, host=f"{name}:{server.port}")[0] < 500


@pytest.mark.parametrize("name", ["attacker.example", "127.0.0.1.attacker.example"])
def test_websocket_with_a_foreign_host_and_matching_origin_is_not_upgraded(server, name):
    host = f"{name}:{server.port}"
    status = server.upgrade(host=host, origin=f"http://{host}")
    assert " 101 " not in status + " "
    assert status.split()[1].startswith("4"), status
    # Nothing ran as the local user: no page view was audited for the attacker's request.
    assert not [e for e in server.audit_lines() if e["action"] == "page_view"]


def test_websocket_with_our_host_but_a_foreign_origin_is_not_upgraded(server):
    status = server.upgrade(host=f"127.0.0.1:{server.port}", origin="http://attacker.example")
    assert status.split()[1].startswith("4"), status


def test_missing_or_repeated_host_is_refused(server):
    assert 400 <= server.request("/", host="")[0] < 500
    status, _, _ = server.request(
        "/", headers={"Host": "attacker.example"})  # two Host headers: ours and theirs
    assert 400 <= status < 500


@pytest.mark.parametrize("name", ["127.0.0.1", "localhost", "[::1]", "LocalHost"])
def test_loopback_names_work_on_any_port(server, name):
    status, _, body = server.request("/", host=f"{name}:{server.port}")
    assert status == 200 and b"<html" in body.lower()
    assert server.request("/", host=name)[0] == 200  # no port


def test_a_local_websocket_session_runs_the_app(server):
    """The refusals above are not vacuous: the same upgrade with our Host is accepted and
    streams the internal flight deck, audited as the local user."""
    from tests.security.conftest import StreamlitClient

    assert " 101 " in server.upgrade(host=f"127.0.0.1:{server.port}",
                                     origin=f"http://127.0.0.1:{server.port}") + " "
    client = StreamlitClient(server.port)
    try:
        client.run()
        assert "OFFICIAL-SENSITIVE" in client.text()
        assert "Running locally" in client.text()
    finally:
        client.close()
    assert any(e["action"] == "page_view" and e["user"] == "local user"
               for e in server.audit_lines())


def test_deployed_hosts_come_from_secrets(start_guarded):
    """``[flightdeck] allowed_hosts`` adds the public name (and only that name)."""
    deployed = start_guarded(
        secrets='[flightdeck]\nallowed_hosts = ["flightdeck.example.police.uk"]\n')
    assert deployed.request("/", host="flightdeck.example.police.uk")[0] == 200
    assert deployed.request("/", host="FlightDeck.Example.Police.UK:443")[0] == 200
    assert 400 <= deployed.request("/", host="attacker.example")[0] < 500
    assert 400 <= deployed.request("/", host="x.flightdeck.example.police.uk")[0] < 500
    name = "flightdeck.example.police.uk"
    assert " 101 " in deployed.upgrade(host=name, origin=f"https://{name}") + " "
    assert " 101 " not in deployed.upgrade(host="attacker.example",
                                           origin="https://attacker.example") + " "


@pytest.mark.parametrize(("value", "expected"), [
    ("127.0.0.1:8501", True), ("localhost", True), ("[::1]:8501", True), ("[::1]", True),
    ("attacker.example:8501", False), ("localhost.", False), ("127.0.0.1:0", False),
    ("127.0.0.1:65536", False), ("user@localhost", False), ("local host", False),
    ("[::1]x", False), ("::1", False), ("", False), (None, False),
])
def test_host_header_parsing(value, expected):
    assert hosts.host_allowed(value) is expected


def test_allowed_entries_with_a_port_allow_that_port_only():
    allowed = hosts.parse_allowed(["deck.example.uk:8443", "other.example.uk", "bad host"])
    assert allowed == (("deck.example.uk", 8443), ("other.example.uk", None))
    assert hosts.host_allowed("deck.example.uk:8443", allowed)
    assert not hosts.host_allowed("deck.example.uk:443", allowed)
    assert hosts.host_allowed("other.example.uk:1234", allowed)
    assert hosts.parse_allowed("a.example, b.example") == (("a.example", None),
                                                            ("b.example", None))


@pytest.mark.parametrize(("origin", "expected"), [
    (None, True), ("http://127.0.0.1:8501", True), ("https://localhost", True),
    ("http://attacker.example:8501", False), ("null", False), ("file://", False),
    ("http://user@localhost", False), ("http://localhost/x", False),
])
def test_origin_check(origin, expected):
    assert hosts.origin_allowed(origin) is expected


def test_plain_streamlit_run_still_refuses_a_foreign_websocket(tmp_path):
    """Without the launcher, ``server.allowedHosts`` in .streamlit/config.toml still stops the
    rebinding websocket (the HTTP pages are then answered; only the launcher refuses those)."""
    import os
    import subprocess
    import sys
    import time

    from tests.security.conftest import APP, REPO, Server, _healthy, free_port

    port = free_port()
    log = tmp_path / "plain.log"
    env = {**os.environ, "FLIGHTDECK_AUDIT_LOG": str(tmp_path / "audit.jsonl")}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(APP), "--server.port", str(port)],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not _healthy(port):
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        server = Server(port, tmp_path / "audit.jsonl", log, proc)
        host = f"attacker.example:{port}"
        assert " 101 " not in server.upgrade(host=host, origin=f"http://{host}") + " "
        local = f"127.0.0.1:{port}"
        assert " 101 " in server.upgrade(host=local, origin=f"http://{local}") + " "
    finally:
        proc.terminate()
        proc.wait(timeout=15)
