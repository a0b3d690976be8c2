"""``/_stcore/metrics`` is not served without sign-in (issue 15, item 9).

The attack: with ``[auth]`` configured, the server's metrics (sessions, caches, memory)
answered anyone, signed in or not. Now it is answered only in local mode (no ``[auth]``) to a
loopback client that did not come through a proxy, and not at all when sign-in is configured
or the secrets cannot be read (fail closed).
"""

from __future__ import annotations

import pytest

AUTH = """
[flightdeck]
allowed_hosts = ["flightdeck.example.police.uk"]

[auth]
redirect_uri = "http://localhost:8501/oauth2callback"
cookie_secret = "metrics-endpoint-test-cookie-secret-0123456789"

[auth.microsoft]
client_id = "00000000-0000-0000-0000-000000000000"
client_secret = "not-a-real-secret"
server_metadata_url = "https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000/v2.0/.well-known/openid-configuration"
"""
PATHS = ("/_stcore/metrics", "/_stcore/metrics/", "/_stcore/metrics?families=session_events",
         "//_stcore/metrics")


@pytest.fixture(scope="module")
def signed_in(start_guarded):
    return start_guarded(secrets=AUTH)


@pytest.fixture(scope="module")
def local(start_guarded):
    return start_guarded()


@pytest.mark.parametrize("path", PATHS)
def test_not_served_when_sign_in_is_configured(signed_in, path):
    for host in (f"127.0.0.1:{signed_in.port}", "flightdeck.example.police.uk"):
        status, _, body = signed_in.request(path, host=host)
        assert status != 200, (path, status)
        assert b"session" not in body.lower() and b"# TYPE" not in body
    assert signed_in.request("/_stcore/health")[0] == 200  # the server itself is up


def test_not_served_when_the_secrets_cannot_be_read(start_guarded):
    broken = start_guarded(secrets="[auth\nthis is not toml = ")
    status, _, body = broken.request("/_stcore/metrics")
    assert status == 404 and b"# TYPE" not in body


def test_local_mode_serves_loopback_clients_only(local):
    status, _, body = local.request("/_stcore/metrics")
    assert status == 200 and b"# TYPE" in body  # not vacuous: it is there for the local user
    for header in ("X-Forwarded-For", "Forwarded", "X-Real-IP", "X-Forwarded-Host"):
        status, _, body = local.request("/_stcore/metrics", headers={header: "198.51.100.7"})
        assert status == 404 and b"# TYPE" not in body, header
