"""Security headers the app's own server sets on every response (issue 15, item 9).

``Content-Security-Policy: frame-ancestors 'self'`` (no framing by other sites: clickjacking),
``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: no-referrer`` (share tokens in the URL
never leave in a Referer). Checked with raw requests to a real server through the launcher, on
pages, Streamlit's endpoints, static assets, errors and refusals alike. The rest (HSTS, the full
CSP) is the reverse proxy's (docs/security.md).
"""

from __future__ import annotations

import re

import pytest

EXPECTED = {
    "content-security-policy": "frame-ancestors 'self'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


@pytest.fixture(scope="module")
def server(start_guarded):
    return start_guarded()


def _asset(server) -> str:
    _, _, body = server.request("/")
    match = re.search(rb'src="\.?/?(static/[^"]+\.js)"', body)
    assert match, "no script asset in the index page"
    return "/" + match.group(1).decode()


@pytest.mark.parametrize("what", ["index", "page_url", "health", "host_config", "asset",
                                  "missing", "head", "refused_host", "metrics_via_proxy"])
def test_every_response_carries_the_security_headers(server, what):
    port = server.port
    request = {
        "index": lambda: server.request("/"),
        "page_url": lambda: server.request("/trends?force=Kent"),
        "health": lambda: server.request("/_stcore/health"),
        "host_config": lambda: server.request("/_stcore/host-config"),
        "asset": lambda: server.request(_asset(server)),
        "missing": lambda: server.request("/media/does-not-exist.csv"),
        "head": lambda: server.request("/", method="HEAD"),
        "refused_host": lambda: server.request("/", host=f"attacker.example:{port}"),
        "metrics_via_proxy": lambda: server.request(
            "/_stcore/metrics", headers={"X-Forwarded-For": "198.51.100.7"}),
    }[what]
    status, headers, _ = request()
    assert status < 500
    for name, value in EXPECTED.items():
        assert headers.get(name) == value, (what, name, headers.get(name))
