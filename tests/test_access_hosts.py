"""require_access refuses a foreign Host (DNS rebinding), as defence in depth behind the
server launcher: a plain ``streamlit run app.py`` still never runs a page for
``Host: attacker.example``, in local mode, for a share link and when signed in."""

from __future__ import annotations

import pytest

from tests import test_access
from tests.test_access import AUTH, SECRET, app, lines, link, shown_data, text
from ui.access import REFUSALS

#: test_access's autouse fixture: a fresh audit log per test and no link secret from the env.
audit_file = test_access.audit_file


@pytest.fixture
def host(monkeypatch):
    from streamlit.runtime.context import ContextProxy, StreamlitHeaders

    def use(value: str) -> None:
        headers = StreamlitHeaders([("Host", value), ("Origin", f"http://{value}")])
        monkeypatch.setattr(ContextProxy, "headers", property(lambda self: headers))

    return use


@pytest.mark.parametrize("mode", ["local", "link", "signed_in"])
def test_a_foreign_host_is_refused_before_any_data(audit_file, host, mode):
    host("attacker.example:8501")
    secrets, query, user = None, None, None
    if mode == "link":
        secrets = {"flightdeck": {"link_secret": SECRET, "roles": {}}}
        token, scope = link()
        query = {"share": token, "force": scope.force, "window": "custom",
                 "from": scope.start, "to": scope.end}
    elif mode == "signed_in":
        secrets = {"auth": AUTH, "flightdeck": {"roles": {"@example.police.uk": "internal"}}}
        user = {"is_logged_in": True, "email": "analyst@example.police.uk"}
    at = app(secrets=secrets, query=query, user=user).run()
    assert not at.exception
    assert not shown_data(at)
    assert REFUSALS["foreign_host"] in text(at) and "foreign_host" not in text(at)
    events = lines(audit_file)
    assert [e["action"] for e in events] == ["access_refused"]
    assert events[0]["reason"] == "foreign_host" and events[0]["user"] == "unknown"


@pytest.mark.parametrize("name", ["127.0.0.1:8501", "localhost:8501", "[::1]:8501", "localhost"])
def test_loopback_hosts_are_served(host, name):
    host(name)
    at = app().run()
    assert shown_data(at) and "audience=internal user=local user" in text(at)


def test_a_deployed_host_from_secrets_is_served(host):
    host("flightdeck.example.police.uk")
    at = app(secrets={"flightdeck": {"roles": {},
                                     "allowed_hosts": ["flightdeck.example.police.uk"]}})
    assert shown_data(at.run())
    host("attacker.example")
    at = app(secrets={"flightdeck": {"roles": {},
                                     "allowed_hosts": ["flightdeck.example.police.uk"]}})
    assert not shown_data(at.run())
