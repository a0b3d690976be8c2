"""require_access with AppTest: local, signed-out, signed-in (role mapping), panel links."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from streamlit.testing.v1 import AppTest

from metrics import audit, sharelink
from ui.access import REFUSALS, resolve_role

SECRET = "apptest-link-secret-0123456789"
AUTH = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "c" * 32,
        "microsoft": {"client_id": "id", "client_secret": "s",
                      "server_metadata_url": "https://login.example/.well-known/openid"}}
DATA_MARK = "DATA-SHOWN-4711"  # written by page() after require_access (a literal there:
# AppTest.from_function runs the function's source on its own)


def page(page_id: str = "flight_deck") -> None:
    """A tiny page: access first, then a stand-in for data."""
    import streamlit as st

    from ui.access import require_access, share_link_panel

    access = require_access(page_id)
    st.markdown(f"DATA-SHOWN-4711 audience={access.audience} user={access.user} mode={access.mode}")
    st.markdown(f"locked={sorted(access.locked_filters().items())}")
    share_link_panel(access, {"force": "Avon", "from": "2025-01", "to": "2025-03",
                              "page": page_id})


@pytest.fixture(autouse=True)
def audit_file(tmp_path, monkeypatch):
    path = tmp_path / "audit.jsonl"
    monkeypatch.setenv("FLIGHTDECK_AUDIT_LOG", str(path))
    monkeypatch.delenv("FLIGHTDECK_SECRET", raising=False)
    return path


def lines(path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def app(page_id: str = "flight_deck", *, secrets=None, user=None, query=None) -> AppTest:
    at = AppTest.from_function(page, kwargs={"page_id": page_id}, default_timeout=20)
    # Always seed secrets so a developer's own .streamlit/secrets.toml never leaks in.
    at.secrets["flightdeck"] = {"roles": {}}
    for key, value in (secrets or {}).items():
        at.secrets[key] = value
    if user is not None:
        at.user = user
    for key, value in (query or {}).items():
        at.query_params[key] = value
    return at


def text(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [e.value for e in at.error] + [i.value for i in at.info] + [t.value for t in at.title]
    return "\n".join(str(p) for p in parts)


def shown_data(at: AppTest) -> bool:
    return DATA_MARK in text(at)


def link(**kw) -> tuple[str, sharelink.Scope]:
    args = dict(force="Avon", start="2025-01", end="2025-03",
                pages=["flight_deck", "trends"], created_by="lead@example.police.uk")
    args.update(kw)
    secret = args.pop("secret", SECRET)
    return sharelink.create(secret, **args)


# --------------------------------------------------------------------------- local mode


def test_local_mode_is_one_internal_user_with_a_banner(audit_file):
    at = app().run()
    assert not at.exception
    assert "audience=internal user=local user mode=local" in text(at)
    assert "Running locally without sign" in text(at)
    assert "OFFICIAL-SENSITIVE" in text(at)
    events = lines(audit_file)
    assert [e["action"] for e in events] == ["page_view"]
    assert events[0]["user"] == "local user" and events[0]["audience"] == "internal"


def test_reruns_of_the_same_view_log_one_page_view(audit_file):
    at = app().run()
    at.run()
    at.run()
    assert len(lines(audit_file)) == 1


def test_local_mode_refuses_remote_connections(audit_file, monkeypatch):
    from streamlit.runtime.context import ContextProxy

    monkeypatch.setattr(ContextProxy, "ip_address", property(lambda self: "203.0.113.9"))
    at = app().run()
    assert not shown_data(at)
    assert "only answers on the machine it runs on" in text(at)
    assert lines(audit_file)[-1]["reason"] == "remote_without_sign_in"


def test_local_mode_refuses_requests_through_a_reverse_proxy(audit_file, monkeypatch):
    from streamlit.runtime.context import ContextProxy, StreamlitHeaders

    headers = StreamlitHeaders([("X-Forwarded-For", "198.51.100.7"), ("Host", "localhost:8501")])
    monkeypatch.setattr(ContextProxy, "headers", property(lambda self: headers))
    at = app().run()
    assert not shown_data(at)
    assert lines(audit_file)[-1]["reason"] == "remote_without_sign_in"


@pytest.mark.parametrize("query", [
    {"audience": "internal"}, {"role": "admin"}, {"audience": "internal", "role": "admin"},
])
def test_url_parameters_grant_nothing_when_signed_out(query):
    at = app(secrets={"auth": AUTH}, user={"is_logged_in": False}, query=query).run()
    assert not shown_data(at)
    assert [b.label for b in at.button] == ["Sign in"]


# --------------------------------------------------------------------------- sign-in


def test_signed_out_user_gets_the_login_prompt_and_no_data(audit_file):
    at = app(secrets={"auth": AUTH}, user={"is_logged_in": False}).run()
    assert not at.exception
    assert not shown_data(at)
    assert "Sign in" in at.title[0].value
    assert at.button[0].label == "Sign in"
    assert lines(audit_file) == []


def test_login_prompt_says_when_sign_in_packages_are_missing(monkeypatch):
    import ui.access

    monkeypatch.setattr(ui.access, "_missing_auth_packages", lambda: ["httpx"])
    at = app(secrets={"auth": AUTH}, user={"is_logged_in": False}).run()
    assert "httpx" in at.error[0].value
    assert not shown_data(at)


def test_user_without_login_flag_is_treated_as_signed_out():
    at = app(secrets={"auth": AUTH}, user={"email": "someone@example.police.uk"}).run()
    assert not shown_data(at)


def test_signed_in_user_mapped_by_domain_is_internal(audit_file):
    roles = {"@example.police.uk": "internal"}
    at = app(secrets={"auth": AUTH, "flightdeck": {"roles": roles}},
             user={"is_logged_in": True, "email": "Analyst@Example.Police.UK"}).run()
    assert not at.exception
    assert "audience=internal user=Analyst@Example.Police.UK mode=signed_in" in text(at)
    assert "Sign out" in [b.label for b in at.sidebar.button]
    assert lines(audit_file)[-1]["user"] == "Analyst@Example.Police.UK"


def test_preferred_username_is_used_when_there_is_no_email_claim():
    roles = {"@example.police.uk": "internal"}
    at = app(secrets={"auth": AUTH, "flightdeck": {"roles": roles}},
             user={"is_logged_in": True, "preferred_username": "upn@example.police.uk"}).run()
    assert "user=upn@example.police.uk" in text(at)


def test_removal_from_the_mapping_takes_effect_on_the_next_rerun(audit_file):
    roles = {"analyst@example.police.uk": "internal"}
    at = app(secrets={"auth": AUTH, "flightdeck": {"roles": roles}},
             user={"is_logged_in": True, "email": "analyst@example.police.uk"}).run()
    assert shown_data(at)
    at.secrets["flightdeck"] = {"roles": {}}  # removed; the login cookie is still valid
    at.run()
    assert not shown_data(at)
    assert "not on this service's access list" in text(at)
    refused = lines(audit_file)[-1]
    assert refused["action"] == "access_refused" and refused["reason"] == "not_in_mapping"


@pytest.mark.parametrize("email,roles,reason", [
    ("x@other.police.uk", {"@example.police.uk": "internal"}, "not_in_mapping"),
    ("x@evil-example.police.uk", {"@example.police.uk": "internal"}, "not_in_mapping"),
    ("leaver@example.police.uk", {"@example.police.uk": "internal",
                                  "leaver@example.police.uk": "none"}, "not_in_mapping"),
    ("isva@charity.org.uk", {"@charity.org.uk": "panel"}, "panel_role_needs_link"),
])
def test_unmapped_excluded_or_panel_accounts_are_refused(email, roles, reason, audit_file):
    at = app(secrets={"auth": AUTH, "flightdeck": {"roles": roles}},
             user={"is_logged_in": True, "email": email}).run()
    assert not shown_data(at)
    assert lines(audit_file)[-1]["reason"] == reason


def test_resolve_role_rules():
    mapping = {"@force.police.uk": "internal", "boss@force.police.uk": "none",
               "isva@charity.org": "panel", "@weird.org": "superuser"}
    assert resolve_role("a@force.police.uk", mapping) == "internal"
    assert resolve_role("BOSS@force.police.uk", mapping) is None
    assert resolve_role("isva@charity.org", mapping) == "panel"
    assert resolve_role("x@weird.org", mapping) is None
    assert resolve_role("a@sub.force.police.uk", mapping) is None
    assert resolve_role("a@b@force.police.uk", mapping) is None
    assert resolve_role(None, mapping) is None


# --------------------------------------------------------------------------- panel links


def test_valid_panel_link_shows_the_banner_and_the_scope(audit_file):
    token, scope = link()
    at = app(secrets={"flightdeck": {"link_secret": SECRET}},
             query={"share": token, "force": "Avon", "window": "custom",
                    "from": "2025-01", "to": "2025-03"}).run()
    assert not at.exception
    assert f"audience=panel user={scope.link_id} mode=link" in text(at)
    banner = at.info[0].value
    assert "Scrutiny panel view" in banner and "Avon" in banner
    assert "January 2025 to March 2025" in banner
    assert f"{scope.expires:%d %B %Y}" in banner and "13 days left" in banner
    assert "locked=[('force', 'Avon'), ('from', '2025-01'), ('to', '2025-03'), " \
           "('window', 'custom')]" in text(at)
    assert not at.expander  # no "Create panel link" for a panel
    event = lines(audit_file)[-1]
    assert event == event | {"action": "page_view", "audience": "panel",
                             "user": scope.link_id, "force": "Avon",
                             "window": "2025-01..2025-03", "page": "flight_deck"}


def test_panel_link_with_an_internal_audience_parameter_stays_panel():
    token, _ = link()
    at = app(secrets={"flightdeck": {"link_secret": SECRET}},
             query={"share": token, "audience": "internal", "role": "admin"}).run()
    assert "audience=panel" in text(at)


def test_panel_link_takes_precedence_over_sign_in():
    token, _ = link()
    at = app(secrets={"auth": AUTH, "flightdeck": {"link_secret": SECRET}},
             user={"is_logged_in": False}, query={"share": token}).run()
    assert "audience=panel" in text(at)


def test_panel_session_stays_panel_when_the_parameter_disappears():
    token, _ = link()
    at = app(secrets={"flightdeck": {"link_secret": SECRET}}, query={"share": token}).run()
    assert "audience=panel" in text(at)
    at.query_params.clear()
    at.run()
    assert "audience=panel" in text(at)
    assert at.query_params.get("share") == token  # put back in the address bar


def _tampered(token: str) -> str:
    payload, signature = token.split(".")
    return payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1] + "." + signature


@pytest.mark.parametrize("case,reason", [
    ("tampered", "bad_signature"),
    ("foreign_secret", "bad_signature"),
    ("expired", "expired"),
    ("malformed", "malformed"),
    ("other_force", "force_not_in_scope"),
    ("other_window", "window_not_in_scope"),
    ("rolling_window", "window_not_in_scope"),
    ("other_page", "page_not_in_scope"),
    ("no_secret", "no_secret"),
])
def test_bad_links_are_refused_and_audited(case, reason, audit_file):
    token, scope = link()
    query = {"share": token}
    secrets = {"flightdeck": {"link_secret": SECRET}}
    page_id = "flight_deck"
    if case == "tampered":
        query["share"] = _tampered(token)
    elif case == "foreign_secret":
        query["share"] = link(secret="someone-elses-secret-0123456789")[0]
    elif case == "expired":
        query["share"] = link(now=datetime.now(UTC) - timedelta(days=15))[0]
    elif case == "malformed":
        query["share"] = "not-a-token"
    elif case == "other_force":
        query["force"] = "Kent"
    elif case == "other_window":
        query.update({"window": "custom", "from": "2024-01", "to": "2025-03"})
    elif case == "rolling_window":
        query["window"] = "last_12_months"
    elif case == "other_page":
        page_id = "data_quality"
    elif case == "no_secret":
        secrets = {"flightdeck": {}}
    at = app(page_id, secrets=secrets, query=query).run()
    assert not at.exception
    assert not shown_data(at)
    assert "cannot be opened" in at.title[0].value
    if case == "other_page":  # a valid link on another page: where it can go, no reason code
        assert "does not open this page" in text(at) and "Reason code" not in text(at)
    else:
        assert REFUSALS[reason] in text(at) and "Reason code" not in text(at)
    events = lines(audit_file)
    assert [e["action"] for e in events] == ["link_refused"]
    assert events[0]["reason"] == reason and events[0]["audience"] == "panel"
    assert events[0]["page"] == page_id
    if case in ("tampered", "other_force", "expired"):
        assert events[0]["user"] != "local user"
    # Only a token whose signature verified names its link; any other is "unverified".
    verified = case in ("other_force", "other_window", "rolling_window", "other_page")
    assert (events[0]["user"] != audit.UNVERIFIED) is verified, (case, events[0]["user"])


def test_link_secret_from_environment(monkeypatch):
    monkeypatch.setenv("FLIGHTDECK_SECRET", SECRET)
    token, _ = link()
    at = app(query={"share": token}).run()
    assert "audience=panel" in text(at)


# --------------------------------------------------------------------------- creating links


def test_link_creation_is_disabled_without_a_secret():
    at = app().run()
    assert at.expander[0].label == "Create panel link"
    assert "Panel links are disabled" in at.info[0].value
    assert not [b for b in at.button if b.label == "Create link"]


def test_internal_user_creates_a_link_that_opens_the_same_view(audit_file):
    at = app(secrets={"flightdeck": {"link_secret": SECRET}}).run()
    at.button(key="_flightdeck_link_create").click().run()
    assert not at.exception
    url = at.code[0].value
    assert url.startswith("?share=") and "force=Avon" in url and "from=2025-01" in url
    from urllib.parse import parse_qs, urlsplit

    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    scope = sharelink.verify(query["share"], SECRET)
    assert (scope.force, scope.start, scope.end) == ("Avon", "2025-01", "2025-03")
    assert scope.created_by == "local user"
    assert scope.pages == sharelink.PANEL_PAGES
    assert scope.expires - scope.created == timedelta(days=14)
    created = [e for e in lines(audit_file) if e["action"] == "link_created"]
    assert len(created) == 1 and scope.link_id in created[0]["reason"]

    opened = app(secrets={"flightdeck": {"link_secret": SECRET}}, query=query).run()
    assert "audience=panel" in text(opened)


def test_unshareable_page_offers_no_link():
    at = app("data_quality", secrets={"flightdeck": {"link_secret": SECRET}}).run()
    assert "never shared" in text(at)
    assert not [b for b in at.button if b.label == "Create link"]


def test_audit_lines_hold_only_the_documented_fields(audit_file):
    token, _ = link()
    app(secrets={"flightdeck": {"link_secret": SECRET}}, query={"share": token}).run()
    app(secrets={"flightdeck": {"link_secret": SECRET}},
        query={"share": _tampered(token)}).run()
    for event in lines(audit_file):
        assert set(event) == set(audit.COLUMNS)


def test_unknown_page_id_is_a_programming_error():
    at = app("admin").run()
    assert at.exception
    assert not shown_data(at)


def test_panel_disclose_keeps_only_the_scope_and_applies_the_rules():
    import pandas as pd

    from ui.access import Access

    _, scope = link()

    def r(force, start, end, num, den):
        return dict(kpi_id="charge_rate", force=force, window_start=pd.Timestamp(start),
                    window_end=pd.Timestamp(end), value=num / den, numerator=num,
                    denominator=den, n=den, ci_low=0.1, ci_high=0.9, status="ok")

    table = pd.DataFrame([
        r("Avon", "2025-01-01", "2025-03-31", 13, 52),   # the scope
        r("Avon", "2025-02-01", "2025-02-28", 5, 20),    # a month inside it
        r("Avon", "2024-10-01", "2024-12-31", 40, 90),   # comparison window: outside
        r("Kent", "2025-01-01", "2025-03-31", 40, 90),   # another force
    ])
    panel = Access(audience="panel", user=scope.link_id, page_id="flight_deck", mode="link",
                   scope=scope)
    out = panel.disclose(table)
    assert out["force"].tolist() == ["Avon", "Avon", "Avon", "Kent"]
    assert out["status"].tolist() == ["ok", "suppressed", "no_data", "no_data"]
    assert out["numerator"].tolist()[0] == 15
    outside = out.iloc[2:]
    assert outside[["value", "numerator", "denominator", "ci_low"]].isna().all().all()
    assert outside["n"].isna().all()
    groups = pd.DataFrame([r("Avon", "2025-01-01", "2025-03-31", 13, 52),
                           r("Avon", "2025-01-01", "2025-03-31", 5, 20),
                           r("Avon", "2025-01-01", "2025-03-31", 30, 60)])
    grouped = panel.disclose(groups.assign(group=["a", "b", "c"]))
    # b is 1-7; a, the next smallest numerator, is hidden too so b cannot be worked out
    assert grouped["status"].tolist() == ["suppressed", "suppressed", "ok"]
    internal = Access(audience="internal", user="local user", page_id="flight_deck",
                      mode="local")
    assert internal.disclose(table) is table
    assert internal.locked_filters() == {} and internal.allows("data_quality")
    assert not panel.allows("data_quality") and panel.allows("trends")


def audit_page(page_id: str = "data_quality") -> None:
    import streamlit as st

    from ui.access import render_audit_trail, require_access

    render_audit_trail(require_access(page_id))
    st.markdown("PAGE-END")


def test_recent_activity_is_shown_to_internal_users_only(audit_file):
    at = AppTest.from_function(audit_page, default_timeout=20)
    at.secrets["flightdeck"] = {"roles": {}, "link_secret": SECRET}
    at.run()
    assert not at.exception
    assert at.subheader[0].value == "Recent activity"
    shown = at.dataframe[0].value
    assert shown["action"].tolist() == ["page_view"] and shown["user"].tolist() == ["local user"]

    token, _ = link(pages=["trends"])
    panel = AppTest.from_function(audit_page, kwargs={"page_id": "trends"}, default_timeout=20)
    panel.secrets["flightdeck"] = {"link_secret": SECRET}
    panel.query_params["share"] = token
    panel.run()
    assert "PAGE-END" in text(panel)  # the page ran for the panel...
    assert not panel.dataframe and not panel.subheader  # ...without the audit trail


def test_unreadable_secrets_file_fails_closed(audit_file, monkeypatch):
    """A secrets.toml that exists but does not parse must not fall back to local mode."""
    import streamlit
    from streamlit.errors import StreamlitSecretNotFoundError

    class Broken:
        def __getitem__(self, key):
            raise StreamlitSecretNotFoundError("Error parsing secrets file",
                                               error_id="failed-parsing-secrets-file")

    monkeypatch.setattr(streamlit, "secrets", Broken())
    at = AppTest.from_function(page, default_timeout=20)  # no at.secrets: the broken file
    at.run()
    assert not at.exception
    assert not shown_data(at)
    assert "cannot be read" in text(at)
    assert lines(audit_file)[-1]["reason"] == "configuration_error"


def test_missing_secrets_file_is_local_mode(monkeypatch):
    import streamlit
    from streamlit.errors import StreamlitSecretNotFoundError

    class Missing:
        def __getitem__(self, key):
            raise StreamlitSecretNotFoundError("No secrets found", error_id="no-secrets-found")

    monkeypatch.setattr(streamlit, "secrets", Missing())
    at = AppTest.from_function(page, default_timeout=20)
    at.run()
    assert "mode=local" in text(at)
