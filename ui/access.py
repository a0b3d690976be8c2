"""Who may see what: audiences, sign-in, share links, the marking and the audit of page views.

Every page calls :func:`require_access` FIRST, before reading any data::

    from ui.access import require_access
    access = require_access("trends")     # st.stop()s with a refusal page when not allowed
    if access.is_panel:
        table = access.disclose(table)    # the panel disclosure rules (metrics.disclosure)

Resolution, on every rerun (nothing is trusted from an earlier run except a share token):

1. A ``share`` query parameter (or a share token this session already opened) with a valid
   signed token -> ``panel`` audience limited to the link's scope. A URL whose page, force or
   window leaves the scope, an expired token, a token signed with another secret or a malformed
   one is refused and audited. Once a session has opened a link it stays a panel session.
2. Else, when ``[auth]`` is configured in ``st.secrets``: the user must be signed in
   (``st.login``, OIDC) and their e-mail or domain must map to ``internal`` in
   ``[flightdeck.roles]``; the mapping is read again on every rerun, so removing someone
   takes effect at once even though their login cookie is still valid.
3. Else local mode: one local internal user, with a banner, and only for connections from
   this machine (``st.context.ip_address`` is None for localhost) that did not come through a
   reverse proxy (no ``X-Forwarded-For``/``Forwarded``/``X-Real-IP`` header).

A URL parameter never grants anything: ``?audience=internal`` or ``?role=admin`` is ignored.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import streamlit as st

from metrics import audit, hosts, sharelink
from metrics.sharelink import PAGE_IDS, PANEL_PAGES, LinkError, Scope

__all__ = [
    "MARKING",
    "Access",
    "require_access",
    "render_marking",
    "render_panel_banner",
    "share_link_panel",
    "link_secret",
    "auth_configured",
    "resolve_role",
    "log_export",
    "render_audit_trail",
    "allowed_hosts",
    "DATA_UNAVAILABLE",
    "may_see_data_problems",
    "render_data_unavailable",
    "stale_data_notice",
]

_LOG = logging.getLogger(__name__)

MARKING = "OFFICIAL-SENSITIVE"
SHARE_PARAM = "share"
LOCAL_USER = "local user"
ROLES = ("internal", "panel", "none")
PAGE_TITLES: dict[str, str] = {
    "flight_deck": "Flight deck", "trends": "Trends", "victim_voice": "Victim voice",
    "compare_forces": "Compare forces", "data_quality": "Data quality",
    "definitions": "Definitions and methods",
}
_TOKEN_KEY = "_flightdeck_share_token"
_LAST_VIEW_KEY = "_flightdeck_last_view"
_MD_SPECIAL = set("\\`*_{}[]()<>#+-.!|~$:")

REFUSALS: dict[str, str] = {
    "malformed": "This link is incomplete or has been altered. Ask the force for a new link.",
    "bad_signature": "This link's signature does not match. It was changed after it was "
                     "created, or it was not issued by this service.",
    "expired": "This link has expired. Ask the force for a new link.",
    "no_secret": "Panel links are not enabled on this service.",
    "page_not_in_scope": "This link does not open this page.",
    "force_not_in_scope": "This link is for another force. Changing the address does not "
                          "change what a link shows.",
    "window_not_in_scope": "This link is for another period. Changing the address does not "
                           "change what a link shows.",
    "not_in_mapping": "Your account is not on this service's access list. Ask the "
                      "performance team to add you.",
    "panel_role_needs_link": "Your account has scrutiny panel access only. Open the link the "
                             "force sent you.",
    "no_email": "Your sign-in did not provide an e-mail address, so access cannot be checked.",
    "remote_without_sign_in": "Sign-in is not configured, so this service only answers on the "
                              "machine it runs on.",
    "configuration_error": "This service's access settings cannot be read, so nobody can be "
                           "let in. The administrator has been told (see the server log).",
    "foreign_host": "This address is not served here. Open the flight deck at the address "
                    "your force gave you.",
    "audit_unavailable": "The flight deck cannot record who views it right now, so it shows "
                         "nothing. The administrator has been told (see the server log).",
}
DATA_UNAVAILABLE = "The data is not available right now."


def escape_md(text: object) -> str:
    """``text`` with Markdown/HTML special characters backslash-escaped, for st.markdown etc."""
    from present.escape import md  # the one Markdown escaper (also breaks autolinks)

    return md(text)


@dataclass(frozen=True)
class Access:
    """The session's resolved access for one page run.

    ``audience``: ``internal`` or ``panel``. ``user``: e-mail, ``local user`` or the share
    link id. ``scope``: None for internal, the link's :class:`~metrics.sharelink.Scope` for a
    panel. ``mode``: ``local``, ``signed_in`` or ``link``.
    """

    audience: str
    user: str
    page_id: str
    mode: str
    scope: Scope | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def is_panel(self) -> bool:
        return self.audience == "panel"

    @property
    def is_internal(self) -> bool:
        return self.audience == "internal"

    @property
    def allowed_pages(self) -> tuple[str, ...]:
        """Page ids this session may open (the app hides the others from navigation)."""
        return self.scope.pages if self.scope is not None else PAGE_IDS

    def allows(self, page_id: str) -> bool:
        return page_id in self.allowed_pages

    def locked_filters(self) -> dict[str, str]:
        """Sidebar filters fixed by a share link: ``{"force", "window", "from", "to"}`` for a
        panel (window is always ``custom``), ``{}`` for internal users. The app shows these
        read-only and writes exactly these values to the URL."""
        if self.scope is None:
            return {}
        return {
            "force": self.scope.force,
            "window": "custom",
            "from": self.scope.start,
            "to": self.scope.end,
        }

    @property
    def window_label(self) -> str | None:
        return self.scope.window_label if self.scope is not None else None

    def disclose(self, kpi_table: pd.DataFrame) -> pd.DataFrame:
        """The KPI table as this audience may see it: unchanged for internal users.

        For a panel: ``metrics.disclosure.apply_panel`` (or ``apply_panel_breakdown`` when the
        table has a ``group`` column), and every row outside the link's scope (another force,
        or a window not inside the link's months: comparison windows, history before the
        window, before/after periods) is blanked to status ``no_data``. Rows are blanked
        rather than dropped so that pages looking a KPI up still find a row.
        """
        if not self.is_panel:
            return kpi_table
        from metrics import disclosure  # imported lazily: keeps this module light

        if "group" in kpi_table.columns:
            out = disclosure.apply_panel_breakdown(kpi_table, group_col="group")
        else:  # months are protected against the link's window, which the panel also sees
            windows = [(self.scope.start, self.scope.end)] if self.scope is not None else None
            out = disclosure.apply_panel(kpi_table, windows=windows)
        if self.scope is None or out.empty:
            return out
        inside = pd.Series(True, index=out.index)
        if "force" in out.columns:
            inside &= out["force"].astype(str) == self.scope.force
        if "window_start" in out.columns and "window_end" in out.columns:
            first = pd.Period(self.scope.start, freq="M").start_time.normalize()
            last = pd.Period(self.scope.end, freq="M").end_time.normalize()
            inside &= (pd.to_datetime(out["window_start"]) >= first) & (
                pd.to_datetime(out["window_end"]) <= last)
        outside = ~inside.to_numpy()
        if outside.any():
            out = out.copy()
            for col in ("value", "numerator", "denominator", "n", "ci_low", "ci_high"):
                if col in out.columns:
                    out.loc[outside, col] = pd.NA if col == "n" else float("nan")
            out.loc[outside, "status"] = "no_data"
            if "spc" in out.columns:
                out["spc"] = out["spc"].where(~outside, None)
        return out

    def audit(self, action: str, *, force: str | None = None, window: str | None = None,
              page: str | None = None, reason: str | None = None) -> None:
        """Append an audit line as this user (never raises; failures go to the server log)."""
        _safe_log(action, user=self.user, audience=self.audience,
                  force=force if force is not None else (self.scope and self.scope.force),
                  window=window if window is not None else self.window_label,
                  page=page or self.page_id, reason=reason)


# --------------------------------------------------------------------------- configuration


class SecretsError(RuntimeError):
    """The secrets file exists but cannot be read (e.g. a TOML error). Access then fails
    closed: a broken file must never fall back to local mode without sign-in."""


def _section(name: str) -> Mapping[str, Any]:
    """A top-level secrets section as a mapping ({} when absent or when there is no secrets
    file at all). Raises :class:`SecretsError` when a secrets file exists but is unreadable."""
    try:
        value = st.secrets[name]
    except KeyError:
        return {}
    except FileNotFoundError as exc:  # Streamlit's StreamlitSecretNotFoundError
        if getattr(exc, "error_id", "no-secrets-found") == "no-secrets-found":
            return {}
        raise SecretsError(str(exc)) from exc
    except Exception as exc:  # noqa: BLE001 - never a traceback to the user
        raise SecretsError(str(exc)) from exc
    return value if isinstance(value, Mapping) else {}


def auth_configured() -> bool:
    """True when ``[auth]`` is present in ``st.secrets`` (sign-in is then required)."""
    return bool(_section("auth"))


def link_secret() -> str | None:
    """The link signing secret: ``st.secrets["flightdeck"]["link_secret"]`` or
    ``$FLIGHTDECK_SECRET``; None when neither is set (or it is shorter than 16 characters)."""
    value = _section("flightdeck").get("link_secret")
    if isinstance(value, str) and len(value.strip()) >= sharelink.MIN_SECRET_LENGTH:
        return value.strip()
    return sharelink.secret_from_env()


def allowed_hosts() -> tuple[tuple[str, int | None], ...]:
    """``[flightdeck] allowed_hosts`` from secrets as ``metrics.hosts.parse_allowed`` pairs
    (the deployed names; loopback names are always allowed on top). Raises
    :class:`SecretsError` when the secrets file cannot be read."""
    return hosts.parse_allowed(_section("flightdeck").get("allowed_hosts"))


def role_mapping() -> dict[str, str]:
    """``[flightdeck.roles]`` from secrets, keys lower-cased: ``"name@force.police.uk"`` or
    ``"@cps.gov.uk"`` (a whole domain) -> ``internal`` | ``panel`` | ``none``."""
    roles = _section("flightdeck").get("roles", {})
    if not isinstance(roles, Mapping):
        return {}
    return {str(k).strip().lower(): str(v).strip().lower() for k, v in roles.items()}


def resolve_role(email: str | None, mapping: Mapping[str, str]) -> str | None:
    """The role for ``email``: an exact address entry wins over its ``@domain`` entry; ``none``
    (or an unknown role word) means no access. Returns ``internal``, ``panel`` or None.

    Only the exact domain after ``@`` matches (``@force.police.uk`` does not match
    ``x@evil-force.police.uk`` nor ``x@sub.force.police.uk``).
    """
    if not email or email.count("@") != 1:
        return None
    address = email.strip().lower()
    domain = "@" + address.split("@", 1)[1]
    role = mapping.get(address, mapping.get(domain))
    return role if role in ("internal", "panel") else None


def _user_info() -> dict[str, Any]:
    try:
        return dict(st.user.to_dict())
    except Exception:  # noqa: BLE001 - no user info available (e.g. outside a session)
        return {}


def _login_provider() -> str | None:
    """The ``[auth.<provider>]`` to use: ``[flightdeck] auth_provider``, else the only named
    provider section, else None (the default ``[auth]`` provider)."""
    chosen = _section("flightdeck").get("auth_provider")
    if isinstance(chosen, str) and chosen:
        return chosen
    providers = [k for k, v in _section("auth").items() if isinstance(v, Mapping)]
    return providers[0] if len(providers) == 1 else None


# --------------------------------------------------------------------------- audit helpers


def _safe_log(action: str, **fields: Any) -> None:
    try:
        audit.log_event(action, **fields)
    except (OSError, ValueError):
        _LOG.error("audit log could not be written (action=%s)", action, exc_info=True)


def log_export(access: Access, *, kind: str, force: str | None = None,
               window: str | None = None) -> None:
    """Audit an export (CSV, board pack, ...). ``kind`` is a short word, e.g. ``csv``."""
    access.audit("export", force=force, window=window, reason=kind)


def _query(name: str) -> str | None:
    try:
        value = st.query_params.get(name)
    except Exception:  # noqa: BLE001
        return None
    return value if isinstance(value, str) and value != "" else None


def _log_view_once(access: Access) -> None:
    """Log a page view when the page, audience, user or filters changed since the last one
    logged for this session (widget reruns on the same view are not new views)."""
    force = access.scope.force if access.scope else _query("force")
    window = access.window_label or _window_from_url()
    key = (access.audience, access.user, access.page_id, force, window)
    if st.session_state.get(_LAST_VIEW_KEY) == key:
        return
    # Not _safe_log: a view that cannot be audited is not shown (OSError goes to the caller).
    audit.log_event("page_view", user=access.user, audience=access.audience, force=force,
                    window=window, page=access.page_id)
    st.session_state[_LAST_VIEW_KEY] = key


def _window_from_url() -> str | None:
    window, start, end = _query("window"), _query("from"), _query("to")
    if window == "custom" and start and end:
        return start if start == end else f"{start}..{end}"
    return window


# --------------------------------------------------------------------------- rendering


def render_marking(*, sidebar: bool = False) -> None:
    """Show the protective marking OFFICIAL-SENSITIVE (every page and export carries it)."""
    target = st.sidebar if sidebar else st
    target.markdown(f":red-background[**{MARKING}**]")


def _refuse(title: str, reason: str, *, detail: str | None = None) -> None:
    """Render a refusal page and stop the script. Shows no data."""
    render_marking(sidebar=True)
    render_marking()
    st.title(title)
    st.error(REFUSALS.get(reason, "Access refused."))
    if detail:
        st.caption(escape_md(detail))
    st.stop()


def _refuse_page(scope: Scope, token: str, reason: str = "page_not_in_scope") -> None:
    """The refusal page for a valid link asked for a page, force or period it does not open:
    plain words and links to the views it does open (``ui.shell.where_to_go``), no reason
    code. Stops."""
    render_marking(sidebar=True)
    render_marking()
    st.title("This link cannot be opened")
    st.error(REFUSALS.get(reason, REFUSALS["page_not_in_scope"]))
    try:
        from ui.shell import where_to_go

        where_to_go(scope, token)
    except Exception:  # noqa: BLE001 - e.g. no page registry (a single-page test app)
        _LOG.debug("page links for a refused link not drawn", exc_info=True)
    st.stop()


def render_panel_banner(access: Access) -> None:
    """The banner a panel sees: what this view is and when the link expires."""
    if access.scope is None:
        return
    scope = access.scope
    left = scope.expires - datetime.now(UTC)
    days = max(0, left.days)
    expiry = f"{scope.expires:%d %B %Y, %H:%M} UTC"
    st.info(
        f"**Scrutiny panel view** of {escape_md(scope.force)}, "
        f"{escape_md(_window_words(scope))}, shared by {escape_md(scope.created_by)}. "
        "Read-only aggregates: counts are rounded to the nearest 5, and counts from 1 to 7 "
        f"are not shown (marked \\* or suppressed). This link expires on {expiry} "
        f"({'less than a day' if days == 0 else f'{days} day' + ('s' if days > 1 else '')} "
        "left).",
        icon=":material/groups:",
    )


def _window_words(scope: Scope) -> str:
    def month(text: str) -> str:
        return datetime.strptime(text, "%Y-%m").strftime("%B %Y")

    if scope.start == scope.end:
        return month(scope.start)
    return f"{month(scope.start)} to {month(scope.end)}"


def _render_user_box(access: Access) -> None:
    if access.mode == "signed_in":
        st.sidebar.caption(f"Signed in as {escape_md(access.user)}")
        st.sidebar.button("Sign out", on_click=st.logout, key="_flightdeck_sign_out")


# --------------------------------------------------------------------------- resolution


def _panel_access(page_id: str, token: str) -> Access:
    secret = link_secret()
    verified: Scope | None = None
    try:
        if secret is None:
            raise sharelink.NoSecret("Panel links are not enabled on this service.")
        scope = sharelink.verify(token, secret)
        verified = scope
        sharelink.check_request(
            scope, page=page_id, force=_query("force"), start=_query("from"),
            end=_query("to"), window=_query("window"),
        )
    except LinkError as exc:
        # The id inside a token whose signature did not verify is whatever its sender wrote:
        # never recorded as a user. A verified link asking outside its scope is that link.
        _safe_log("link_refused", user=verified.link_id if verified else audit.UNVERIFIED,
                  audience="panel", force=_query("force"), window=_window_from_url(),
                  page=page_id, reason=exc.reason)
        if verified is not None and exc.reason in ("page_not_in_scope", "force_not_in_scope",
                                                   "window_not_in_scope"):
            _refuse_page(verified, token, exc.reason)
        _refuse("This link cannot be opened", exc.reason)
        raise  # unreachable: st.stop() raises
    st.session_state[_TOKEN_KEY] = token
    if _query(SHARE_PARAM) is None:
        st.query_params[SHARE_PARAM] = token  # keep the link in the address bar
    return Access(audience="panel", user=scope.link_id, page_id=page_id, mode="link",
                  scope=scope)


def _missing_auth_packages() -> list[str]:
    """Packages Streamlit's OIDC sign-in needs at run time (its ``auth`` extra) that are absent."""
    import importlib.util

    return [name for name in ("authlib", "httpx") if importlib.util.find_spec(name) is None]


def _signed_in_access(page_id: str) -> Access:
    info = _user_info()
    if not info.get("is_logged_in"):
        render_marking()
        st.title("Sign in to the Soteria flight deck")
        st.write("This service shows OFFICIAL-SENSITIVE performance information. Sign in with "
                 "your organisation account to continue.")
        missing = _missing_auth_packages()
        if missing:
            _LOG.error("sign-in is configured but %s is not installed", ", ".join(missing))
            st.error("Sign-in cannot complete on this server: the package(s) "
                     f"{', '.join(missing)} needed by Streamlit's sign-in are not installed. "
                     "Ask the administrator to install them (pip install httpx).")
        st.button("Sign in", type="primary", on_click=st.login, args=(_login_provider(),),
                  key="_flightdeck_sign_in")
        st.stop()
    email = info.get("email") or info.get("preferred_username")
    email = email if isinstance(email, str) else None
    role = resolve_role(email, role_mapping())
    if role != "internal":
        reason = ("no_email" if not email else
                  "panel_role_needs_link" if role == "panel" else "not_in_mapping")
        _safe_log("access_refused", user=email or "unknown", audience="none", page=page_id,
                  reason=reason)
        st.sidebar.button("Sign out", on_click=st.logout, key="_flightdeck_sign_out")
        _refuse("Access refused", reason)
    return Access(audience="internal", user=str(email), page_id=page_id, mode="signed_in")


_PROXY_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip", "x-forwarded-host")


def _via_proxy() -> bool:
    """True when the request came through a reverse proxy (forwarding headers present)."""
    try:
        headers = st.context.headers
        return any(isinstance(headers.get(name), str) and headers.get(name)
                   for name in _PROXY_HEADERS)
    except Exception:  # noqa: BLE001 - no headers available (e.g. AppTest)
        return False


def _local_access(page_id: str) -> Access:
    try:
        remote = st.context.ip_address
    except Exception:  # noqa: BLE001
        remote = None
    # Only a real address string counts (AppTest's mocked runtime returns a mock object).
    # A proxy on this machine makes remote visitors look local: its forwarding headers give
    # it away, so local mode refuses those requests too.
    if (isinstance(remote, str) and remote) or _via_proxy():
        _safe_log("access_refused", user=str(remote), audience="none", page=page_id,
                  reason="remote_without_sign_in")
        _refuse("Access refused", "remote_without_sign_in")
    return Access(audience="internal", user=LOCAL_USER, page_id=page_id, mode="local",
                  notes=("Running locally without sign-in: single local user, internal "
                         "audience. Configure [auth] in secrets before deploying.",))


def require_access(page_id: str) -> Access:
    """Resolve this session's audience for ``page_id``, or stop the page with a refusal.

    Call it first on every page, before any data is read. Renders the marking, the panel
    banner or the local-mode banner, and (in the sidebar) the signed-in user with a sign-out
    button. Logs a ``page_view`` when the view changed, and every refusal.

    Raises ``ValueError`` for an unknown ``page_id`` (a programming error).
    """
    if page_id not in PAGE_IDS:
        raise ValueError(f"unknown page id {page_id!r}; expected one of {PAGE_IDS}")
    token = _query(SHARE_PARAM) or st.session_state.get(_TOKEN_KEY)
    try:
        foreign = _foreign_host()
        if foreign is not None:
            _LOG.warning("refused a page run for Host %r", foreign[:100])
            _safe_log("access_refused", user="unknown", audience="none", page=page_id,
                      reason="foreign_host")
            _refuse("Access refused", "foreign_host")
        if token:
            access = _panel_access(page_id, token)
        elif auth_configured():
            access = _signed_in_access(page_id)
        else:
            access = _local_access(page_id)
    except SecretsError:
        _LOG.error("the secrets file cannot be read; refusing access", exc_info=True)
        _safe_log("access_refused", user="unknown", audience="none", page=page_id,
                  reason="configuration_error")
        _refuse("Access refused", "configuration_error")
        raise  # unreachable: st.stop() raises
    try:
        audit.check_writable()
        _log_view_once(access)
    except OSError:
        _LOG.error("the audit log cannot be written; refusing to serve", exc_info=True)
        _refuse("The flight deck cannot be used right now", "audit_unavailable")
    _remember_session(access)
    render_marking(sidebar=True)  # always in view, whatever the page layout does
    render_marking()
    if access.is_panel:
        render_panel_banner(access)
    elif access.mode == "local":
        st.caption(":material/computer: " + escape_md(access.notes[0]))
    _render_user_box(access)
    return access


def _foreign_host() -> str | None:
    """The request's ``Host`` when it is not one of ours (``metrics.hosts``), else None.

    Defence in depth behind the server launcher (``ui.serve``), which refuses such requests
    before any script runs. None when no headers are available (AppTest)."""
    try:
        headers = st.context.headers
        value = headers.get("host") if headers is not None else None
    except Exception:  # noqa: BLE001 - no request context (AppTest)
        return None
    if not isinstance(value, str):
        return None
    return None if hosts.host_allowed(value, allowed_hosts()) else value


def _remember_session(access: Access) -> None:
    """Tell the server launcher who this session is (its downloads are audited as them)."""
    try:
        from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

        from ui import serve

        ctx = get_script_run_ctx(suppress_warning=True)
        if ctx is not None and isinstance(getattr(ctx, "session_id", None), str):
            force = access.scope.force if access.scope else _query("force")
            serve.remember_session(ctx.session_id, user=access.user, audience=access.audience,
                                   force=force, window=access.window_label or _window_from_url(),
                                   page=access.page_id)
    except Exception:  # noqa: BLE001 - bookkeeping only
        _LOG.debug("session identity not recorded", exc_info=True)


# --------------------------------------------------------------------------- data problems


def may_see_data_problems(access: object) -> bool:
    """True when this audience may see why the data is unusable (the validation report, row
    counts, example ids, paths): internal users only. A panel, or anything that is not a
    resolved internal :class:`Access`, gets only :data:`DATA_UNAVAILABLE`."""
    return isinstance(access, Access) and access.is_internal


def render_data_unavailable(access: object, show_details: Any, loaded: object = None) -> None:
    """What a page shows when no good export has loaded: for internal users a title, what to
    do and ``show_details()`` (the validation report); for anyone else only "The data is not
    available right now." (never the report, counts, ids, paths or exception text).

    ``loaded`` (a ``ui.data.Loaded``): when its ``report`` is None the export could not be read
    at all, and internal users get plain words instead of the exception (the server log has it).
    """
    if not may_see_data_problems(access):
        st.title("Not available", anchor=False)
        st.info(DATA_UNAVAILABLE, icon=":material/hourglass_empty:")
        return
    st.title("The export cannot be shown", anchor=False)
    if loaded is not None and getattr(loaded, "report", True) is None:
        _LOG.error("the export cannot be read: %s", getattr(loaded, "problem", None))
        st.error("The export folder could not be read. Check that it exists and that the "
                 "account running the flight deck may read it and its files (the server log "
                 "has the details), then reload.")
        return
    st.write("The flight deck needs a valid export. This is what the checks found; "
             "fix the export (or set FLIGHTDECK_DATA to another folder) and reload.")
    show_details()


def stale_data_notice(access: object, loaded_at: datetime | None) -> str:
    """The banner text (Markdown-safe, plain words) when the export on disk is unusable and the
    last good data is served. Never the problem itself (exception text, paths): internal users
    are pointed at the Data quality page, a panel is told when its figures were loaded."""
    when = loaded_at.strftime("%d %b %Y %H:%M UTC") if loaded_at else "earlier"
    if may_see_data_problems(access):
        return (f"The export on disk cannot be used right now. Showing the last good data, "
                f"loaded at {when}. The Data quality page says what the checks found.")
    return f"Newer data is not available right now. These figures were loaded at {when}."


# --------------------------------------------------------------------------- share link UI


def share_link_panel(access: Access, current_view: Mapping[str, str | None]) -> str | None:
    """The "Create panel link" widget for internal users (call it in the sidebar or on the
    flight deck). ``current_view``: ``{"force", "from", "to", "page"}`` with months YYYY-MM and
    the current page id. Returns the new link's URL when one was just created, else None.

    Panel sessions get nothing. Without a secret, the widget explains how to enable links.
    """
    if not access.is_internal:
        return None
    with st.expander("Create panel link", icon=":material/share:"):
        try:
            secret = link_secret()
        except SecretsError:
            secret = None
        if secret is None:
            st.info("Panel links are disabled: no signing secret is configured. An "
                    "administrator sets `link_secret` under `[flightdeck]` in "
                    "`.streamlit/secrets.toml` or the `FLIGHTDECK_SECRET` environment "
                    "variable (at least 16 random characters).")
            return None
        force, start, end = current_view.get("force"), current_view.get("from"), \
            current_view.get("to")
        page = current_view.get("page")
        if not (force and start and end):
            st.caption("Choose a force and a window first.")
            return None
        if page not in PANEL_PAGES:
            st.caption("Open the flight deck, trends, victim voice or definitions page to "
                       "share it. Data quality and force comparisons are never shared.")
            return None
        st.caption(f"Shares {escape_md(force)}, {escape_md(start)} to {escape_md(end)}, with "
                   "disclosure control (rounded counts, small numbers hidden).")
        pages = st.multiselect("Pages", options=list(PANEL_PAGES), default=list(PANEL_PAGES),
                               format_func=lambda pid: PAGE_TITLES.get(pid, pid),
                               key="_flightdeck_link_pages")
        days = st.number_input("Expires after (days)", min_value=1,
                               max_value=sharelink.MAX_EXPIRY.days,
                               value=sharelink.DEFAULT_EXPIRY.days, step=1,
                               key="_flightdeck_link_days")
        if page not in pages:
            st.caption("The link opens on this page, so keep it selected.")
            return None
        if not st.button("Create link", key="_flightdeck_link_create"):
            return None
        try:
            token, scope = sharelink.create(
                secret, force=str(force), start=str(start), end=str(end), pages=pages,
                created_by=access.user, expires_in=timedelta(days=int(days)),
            )
        except ValueError as exc:
            st.error(f"The link could not be created: {escape_md(exc)}")
            return None
        _safe_log("link_created", user=access.user, audience="internal", force=scope.force,
                  window=scope.window_label, page=page, reason=f"link {scope.link_id}")
        url = _link_url(token, scope)
        st.success(f"Link created (id {scope.link_id}); it expires on "
                   f"{scope.expires:%d %B %Y} UTC. Anyone with it sees this view.")
        st.code(url, language=None)
        return url


def _link_url(token: str, scope: Scope) -> str:
    from urllib.parse import urlencode

    query = urlencode({SHARE_PARAM: token, "force": scope.force, "window": "custom",
                       "from": scope.start, "to": scope.end})
    try:
        base = st.context.url or ""
    except Exception:  # noqa: BLE001
        base = ""
    return f"{base}?{query}"


# --------------------------------------------------------------------------- audit trail UI


def render_audit_trail(access: Access, *, limit: int = 50) -> None:
    """"Recent activity" from the audit trail, for internal users only (a panel gets nothing).
    Call it on the Data quality page (or an admin page)."""
    if not access.is_internal:
        return
    st.subheader("Recent activity", anchor=False)
    try:
        frame = audit.read_audit(limit=limit)
    except OSError:
        _LOG.error("the audit trail cannot be read", exc_info=True)
        st.warning("The audit trail cannot be read right now. The server log says why.")
        return
    if frame.empty:
        st.caption("No activity recorded yet.")
        return
    st.dataframe(frame, hide_index=True, width="stretch")  # cells are shown as plain text
    st.caption(f"The latest {len(frame)} events, newest first: page views, panel links created "
               "and refused, exports and refused sign-ins. No figures are recorded.")
