"""Downloads die with their session and every fetch is audited (issue 15, item 6).

The attack: a panel CSV's media URL still answered 72 s after the browser closed, with no
cookies, and refetches added no audit line. Here a real server (the launcher) runs a small page
that passes the access gate and offers two downloads the way the app does (bytes, and a
deferred callable like ``ui.downloads``); the test fetches both, closes the session, and
refetches without cookies: 404 within the deadline (one minute; in practice at once), and the
audit has one line per fetch, served or refused.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.security.conftest import StreamlitClient

PAGE = '''
import streamlit as st
from ui.access import require_access

access = require_access("flight_deck")
st.download_button("Download CSV", data=b"kpi_id,value\\ncharge_rate,0.1\\n",
                   file_name="tiles.csv", mime="text/csv", key="plain")
st.download_button("Download later", data=lambda: b"kpi_id,value\\nlater,1\\n",
                   file_name="later.csv", mime="text/csv", key="deferred")
from PIL import Image
st.image(Image.new("RGB", (2, 2)), caption="tiny")
'''
DEADLINE_S = 60.0


@pytest.fixture(scope="module")
def server(start_guarded, tmp_path_factory):
    folder: Path = tmp_path_factory.mktemp("download-page")
    script = folder / "download_page.py"
    script.write_text(PAGE, encoding="utf-8")
    return start_guarded(script)


def _urls(client: StreamlitClient) -> list[str]:
    buttons = {b.label: b for b in client.elements("download_button")}
    plain = buttons["Download CSV"].url
    later = client.deferred_url(buttons["Download later"].deferred_file_id)
    assert plain.startswith("/media/") and later.startswith("/media/")
    return [plain, later]


def test_downloads_die_with_the_session_and_every_fetch_is_audited(server):
    client = StreamlitClient(server.port)
    client.run()
    urls = _urls(client)
    before = len(server.audit_lines())
    for url in urls * 2:  # each fetched twice while the session is open
        status, headers, body = server.request(url)
        assert status == 200, (url, status)
        assert body.startswith(b"kpi_id,value")
        assert headers.get("x-content-type-options") == "nosniff"
    fetches = server.audit_lines()[before:]
    assert [e["action"] for e in fetches] == ["download"] * 4
    assert {e["user"] for e in fetches} == {"local user"}
    assert {e["audience"] for e in fetches} == {"internal"}
    assert {e["page"] for e in fetches} == {"flight_deck"}

    client.close()  # the browser tab goes away
    closed_at = time.monotonic()
    refused: dict[str, int] = {}
    while len(refused) < len(urls) and time.monotonic() - closed_at < DEADLINE_S:
        for url in urls:
            if url not in refused and server.request(url)[0] == 404:
                refused[url] = 404
        time.sleep(0.2)
    assert len(refused) == len(urls), "a download outlived its session past the deadline"
    assert time.monotonic() - closed_at < DEADLINE_S
    # still dead later, and every refetch is audited too
    for url in urls:
        status, _, body = server.request(url)
        assert status == 404 and b"kpi_id" not in body
    after = server.audit_lines()[before + 4:]
    assert after and {e["action"] for e in after} == {"download_refused"}
    assert {e["reason"] for e in after} == {"session_closed"}
    assert len(after) >= len(urls) + len(urls)  # at least the polls that hit 404 + the refetch


def test_an_image_of_a_closed_session_is_gone_too(server):
    client = StreamlitClient(server.port)
    client.run()
    image_urls = [img.url for imgs in client.elements("imgs") for img in imgs.imgs]
    assert image_urls and server.request(image_urls[0])[0] == 200
    client.close()
    deadline = time.monotonic() + 15
    while server.request(image_urls[0])[0] != 404:
        assert time.monotonic() < deadline, "an image outlived its session"
        time.sleep(0.2)


def test_a_guessed_media_id_is_refused_and_audited(server):
    before = len(server.audit_lines())
    assert server.request("/media/" + "0" * 56 + ".csv")[0] == 404
    line = server.audit_lines()[before:]
    assert [e["action"] for e in line] == ["download_refused"]
    assert line[0]["user"] == "unknown"
