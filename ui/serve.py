"""The server launcher: ``python -m ui.serve run app.py [streamlit options]``.

Same semantics as ``streamlit run app.py`` (same options, same config, same app), with one
ASGI middleware, :class:`GuardMiddleware`, put in front of Streamlit's Starlette app before the
server starts. It acts at the HTTP layer, before a websocket is accepted and before any script
runs:

- **Host guard (DNS rebinding).** Every HTTP request and websocket upgrade whose ``Host`` is not
  this service (``metrics.hosts``: loopback names in local mode, plus ``[flightdeck]
  allowed_hosts`` from secrets when deployed), or whose ``Origin`` names another host, is
  refused: HTTP 403, or the websocket closed before it is accepted (HTTP 403, no upgrade).
- **Security headers** on every HTTP response: ``Content-Security-Policy: frame-ancestors
  'self'``, ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer``.
- **/_stcore/metrics** is answered only in local mode (no ``[auth]``) to a loopback client that
  did not come through a proxy; otherwise 404.
- **Downloads die with their session.** A ``/media/...`` file (``st.download_button`` data,
  images) is served only while a session that produced it is connected; once the browser tab
  is closed (the websocket gone) the URL answers 404. Every ``/media`` fetch is audited
  (``download`` or ``download_refused``, with the owning session's user), and a fetch is
  refused (503) when the audit line cannot be written.

Without the launcher (plain ``streamlit run app.py``) ``ui.access.require_access`` still refuses
a foreign Host before any data is read, but at the script level only.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from metrics import hosts

_LOG = logging.getLogger("flightdeck.serve")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("content-security-policy", "frame-ancestors 'self'"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
)
_PROXY_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip", "x-forwarded-host")
_LOOPBACK_CLIENTS = ("127.0.0.1", "::1", "localhost")

#: True once :func:`install` has patched the server (``ui.access`` reads it).
INSTALLED = False

# file id -> session ids that produced it (st.download_button, st.image, deferred downloads).
_OWNERS: dict[str, set[str]] = {}
# session id -> (user, audience, force, window, page) of its latest page run (ui.access).
_SESSIONS: dict[str, tuple[str, str, str | None, str | None, str | None]] = {}
_LOCK = threading.Lock()


# --------------------------------------------------------------------------- session identity


def remember_session(session_id: str, *, user: str, audience: str, force: str | None,
                     window: str | None, page: str | None) -> None:
    """Record who a session is (called by ``ui.access.require_access`` on every page run), so
    that a fetch of one of its downloads is audited as that user."""
    with _LOCK:
        _SESSIONS[session_id] = (user, audience, force, window, page)


def _identity(session_ids: set[str]) -> tuple[str, str, str | None, str | None, str | None]:
    with _LOCK:
        for sid in sorted(session_ids):
            if sid in _SESSIONS:
                return _SESSIONS[sid]
    return ("unknown", "none", None, None, None)


def _note_owner(file_id: str, session_id: str | None) -> None:
    if not file_id or not session_id:
        return
    with _LOCK:
        _OWNERS.setdefault(file_id, set()).add(session_id)


def _owners(file_id: str) -> set[str]:
    """Sessions that produced ``file_id``: ours plus Streamlit's current references."""
    with _LOCK:
        owners = set(_OWNERS.get(file_id, ()))
    try:
        from streamlit.runtime import Runtime

        mgr = Runtime.instance().media_file_mgr
        with mgr._lock:  # noqa: SLF001 - Streamlit 1.67 internals, pinned
            for sid, by_coord in mgr._files_by_session_and_coord.items():  # noqa: SLF001
                if file_id in by_coord.values():
                    owners.add(sid)
    except Exception:  # noqa: BLE001 - no runtime: nobody owns it
        _LOG.debug("media owners unavailable", exc_info=True)
    return owners


def _active(session_ids: set[str]) -> set[str]:
    """The sessions among ``session_ids`` whose browser is connected now."""
    try:
        from streamlit.runtime import Runtime

        mgr = Runtime.instance()._session_mgr  # noqa: SLF001
        return {sid for sid in session_ids if mgr.is_active_session(sid)}
    except Exception:  # noqa: BLE001 - fail closed
        _LOG.warning("session state unavailable; refusing media", exc_info=True)
        return set()


def _forget_closed() -> None:
    """Drop registry entries of sessions that are gone (keeps memory flat)."""
    try:
        from streamlit.runtime import Runtime

        mgr = Runtime.instance()._session_mgr  # noqa: SLF001
    except Exception:  # noqa: BLE001
        return
    with _LOCK:
        for file_id in list(_OWNERS):
            live = {sid for sid in _OWNERS[file_id] if mgr.get_session_info(sid) is not None}
            if live:
                _OWNERS[file_id] = live
            else:
                del _OWNERS[file_id]
        for sid in list(_SESSIONS):
            if mgr.get_session_info(sid) is None:
                del _SESSIONS[sid]


# --------------------------------------------------------------------------- configuration


def _secrets_section(name: str) -> dict[str, Any]:
    """A secrets section ({} when absent). Raises when the secrets file cannot be read."""
    from ui import access

    return dict(access._section(name))  # noqa: SLF001 - the one reader of secrets


_SETTINGS_TTL_S = 2.0
_settings: dict[str, tuple[float, Any]] = {}


def _cached(name: str, compute: Callable[[], Any]) -> Any:
    """``compute()`` reused for 2 seconds (every asset request asks; a secrets change still
    takes effect within 2 s)."""
    now = time.monotonic()
    hit = _settings.get(name)
    if hit is not None and now - hit[0] < _SETTINGS_TTL_S:
        return hit[1]
    value = compute()
    _settings[name] = (now, value)
    return value


def _read_allowed_hosts() -> tuple[tuple[str, int | None], ...]:
    try:
        entries = _secrets_section("flightdeck").get("allowed_hosts")
    except Exception:  # noqa: BLE001
        return ()
    return hosts.parse_allowed(entries)  # type: ignore[arg-type]


def _read_auth_configured() -> bool:
    try:
        return bool(_secrets_section("auth"))
    except Exception:  # noqa: BLE001
        return True


def allowed_hosts() -> tuple[tuple[str, int | None], ...]:
    """``[flightdeck] allowed_hosts`` parsed (loopback names are always allowed on top).
    An unreadable secrets file gives () (loopback only: fail closed)."""
    return _cached("allowed_hosts", _read_allowed_hosts)


def auth_configured() -> bool:
    """True when ``[auth]`` is in secrets, or when secrets cannot be read (fail closed)."""
    return _cached("auth_configured", _read_auth_configured)


def _base_path() -> str:
    try:
        from streamlit import config

        base = (config.get_option("server.baseUrlPath") or "").strip("/")
    except Exception:  # noqa: BLE001
        base = ""
    return f"/{base}/" if base else "/"


def _segments(path: str) -> list[str]:
    base = _base_path()
    rest = path[len(base):] if path.startswith(base) else path.lstrip("/")
    return [s for s in rest.split("/") if s]


# --------------------------------------------------------------------------- the middleware


class GuardMiddleware:
    """ASGI middleware in front of Streamlit's app (see the module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._requests = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope.get("type")
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers: dict[str, list[str]] = {}
        for raw_name, raw_value in scope.get("headers") or ():
            headers.setdefault(raw_name.decode("latin-1").lower(), []).append(
                raw_value.decode("latin-1"))
        host_values = headers.get("host", [])
        origin_values = headers.get("origin", [])
        allowed = allowed_hosts()
        host_ok = len(host_values) == 1 and hosts.host_allowed(host_values[0], allowed)
        origin_ok = len(origin_values) <= 1 and hosts.origin_allowed(
            origin_values[0] if origin_values else None, allowed)
        if not (host_ok and origin_ok):
            _LOG.warning("refused a %s request for Host %r Origin %r", kind,
                         host_values[:2], origin_values[:2])
            await _refuse(scope, send, 403, "This address is not served here.")
            return
        if kind == "websocket":
            await self.app(scope, receive, send)
            return
        segments = _segments(str(scope.get("path") or "/"))
        if segments[:2] == ["_stcore", "metrics"] and not self._metrics_allowed(scope, headers):
            await _refuse(scope, send, 404, "Not found.")
            return
        if segments[:1] == ["media"] and len(segments) >= 2:
            if not await self._media_allowed(segments[1], send, scope):
                return
        await self.app(scope, receive, _with_headers(send))

    @staticmethod
    def _metrics_allowed(scope: Scope, headers: dict[str, list[str]]) -> bool:
        client = scope.get("client") or ("", 0)
        local = client[0] in _LOOPBACK_CLIENTS
        proxied = any(headers.get(name) for name in _PROXY_HEADERS)
        return local and not proxied and not auth_configured()

    async def _media_allowed(self, name: str, send: Send, scope: Scope) -> bool:
        """Serve ``/media/<name>`` only while an owning session is connected; audit it."""
        file_id = os.path.splitext(name)[0]
        owners = _owners(file_id)
        live = _active(owners)
        user, audience, force, window, page = _identity(live or owners)
        action = "download" if live else "download_refused"
        try:
            from metrics import audit

            audit.log_event(action, user=user, audience=audience, force=force, window=window,
                            page=page, reason=("served" if live else "session_closed"))
        except Exception:  # noqa: BLE001 - an unaudited download is not served
            _LOG.error("audit log could not be written; refusing a download", exc_info=True)
            await _refuse(scope, send, 503, "The audit trail cannot be written, so nothing "
                                            "is served. The administrator has been told.")
            return False
        self._requests += 1
        if self._requests % 200 == 0:
            _forget_closed()
        if not live:
            with _LOCK:
                _OWNERS.pop(file_id, None)
            await _refuse(scope, send, 404, "This download has expired. Download it again "
                                            "from the page.")
            return False
        return True


def _with_headers(send: Send) -> Send:
    async def send_with_headers(message: Message) -> None:
        if message.get("type") == "http.response.start":
            present = {bytes(k).lower() for k, _ in message.get("headers", [])}
            extra = [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS
                     if k.encode() not in present]
            message["headers"] = [*message.get("headers", []), *extra]
        await send(message)

    return send_with_headers


async def _refuse(scope: Scope, send: Send, status: int, text: str) -> None:
    """A plain-text refusal (HTTP) or a websocket closed before it is accepted (HTTP 403)."""
    if scope.get("type") == "websocket":
        await send({"type": "websocket.close", "code": 1008})
        return
    body = (text + "\n").encode("utf-8")
    await send({
        "type": "http.response.start", "status": status,
        "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()),
                    *[(k.encode(), v.encode()) for k, v in SECURITY_HEADERS]],
    })
    await send({"type": "http.response.body", "body": body})


_WARNED = False


def warn_if_unguarded() -> bool:
    """Log a warning once per process when the app runs without the launcher (a plain
    ``streamlit run app.py``): the Host check then runs only at page level, and downloads are
    neither bound to their session nor audited per fetch. Returns True when guarded."""
    global _WARNED  # noqa: PLW0603
    if INSTALLED:
        return True
    if not _WARNED:
        _WARNED = True
        _LOG.warning("started without the launcher: use `python -m ui.serve run app.py` (make "
                     "run) for the Host check at the HTTP layer, security headers and "
                     "session-bound, audited downloads")
    return False


# --------------------------------------------------------------------------- installation


def install() -> None:
    """Patch Streamlit (1.67) before its server starts: the middleware goes in front of the
    Starlette app, and media files record the session that produced them. Idempotent."""
    global INSTALLED  # noqa: PLW0603
    if INSTALLED:
        return
    from streamlit.runtime import media_file_manager as mfm
    from streamlit.web.server.starlette import starlette_server

    original_create = starlette_server.create_starlette_app

    def create_guarded_app(runtime: Any) -> Any:
        app = original_create(runtime)
        app.add_middleware(GuardMiddleware)
        _extend_streamlit_allowed_hosts()
        return app

    starlette_server.create_starlette_app = create_guarded_app

    manager = mfm.MediaFileManager
    original_add = manager.add
    original_execute = manager.execute_deferred

    def add(self: Any, *args: Any, **kwargs: Any) -> str:
        url = original_add(self, *args, **kwargs)
        _note_owner(_file_id_from_url(url), _current_session())
        return url

    def execute_deferred(self: Any, file_id: str) -> str:
        with self._lock:  # noqa: SLF001
            entry = self._deferred_callables.get(file_id)  # noqa: SLF001
        url = original_execute(self, file_id)
        _note_owner(_file_id_from_url(url), entry.get("session_id") if entry else None)
        return url

    manager.add = add  # type: ignore[method-assign]
    manager.execute_deferred = execute_deferred  # type: ignore[method-assign]
    INSTALLED = True


def _extend_streamlit_allowed_hosts() -> None:
    """Add ``[flightdeck] allowed_hosts`` to Streamlit's own ``server.allowedHosts`` (its
    websocket check), so a deployment lists its public name once, in secrets."""
    from streamlit import config

    current = list(config.get_option("server.allowedHosts") or [])
    if not current:
        return  # Streamlit's check is off (empty list): ours still applies to every request
    extra = [name for name, _ in allowed_hosts() if name not in current]
    if extra:
        config.set_option("server.allowedHosts", [*current, *extra])


def _file_id_from_url(url: str) -> str:
    return os.path.splitext(str(url).rstrip("/").rsplit("/", 1)[-1])[0]


def _current_session() -> str | None:
    try:
        from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

        ctx = get_script_run_ctx(suppress_warning=True)
        return ctx.session_id if ctx is not None else None
    except Exception:  # noqa: BLE001
        return None


# What the first page run would otherwise import while its visitor waits (about 1 s): the
# pages' modules, the loader, the engine and their libraries, the downloads and board pack
# buttons, the meeting record's SQLAlchemy (both its dialects) and Alembic. A test
# (tests/test_serve_preload.py) fails when a first run imports one of these packages anew.
PRELOAD = ("ui.shell", "ui.deck", "ui.tiles", "ui.views", "ui.access", "ui.record",
           "ui.downloads", "metrics.load", "metrics.verdicts", "metrics.scan",
           "metrics.kpis.spc", "metrics.kpis.record_rows", "metrics.record",
           "present.charts", "present.sentences", "present.export", "report.boardpack",
           "duckdb", "numpy.rec", "pyarrow.parquet", "pyarrow.dataset",
           "sqlalchemy.dialects.sqlite", "sqlalchemy.dialects.postgresql.psycopg",
           "alembic.command", "alembic.config", "alembic.runtime.migration", "sqlite3",
           "streamlit.material_icon_names", "streamlit.runtime.scriptrunner.magic_funcs",
           "streamlit.components.v2.manifest_scanner")


def preload(modules: tuple[str, ...] = PRELOAD) -> list[str]:
    """Import ``modules`` in the launcher, before the server answers, so the first visitor
    does not wait for them, then freeze them out of the garbage collector's scans. Returns
    the names that could not be imported (logged; the page that needs one then says so as
    it would without the launcher)."""
    import importlib

    # st.cache_data checks its options when a module is imported, and says "No runtime
    # found" before the server has made one; harmless (the caches are the runtime's)
    from streamlit.runtime.caching import cache_data_api  # its logger, set up on import

    quiet = logging.getLogger(cache_data_api.__name__)
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    failed = []
    try:
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 - a missing module must not stop the server
                _LOG.warning("could not preload %s", name, exc_info=True)
                failed.append(name)
    finally:
        quiet.setLevel(level)
    # what was imported lives as long as the server: out of the collector's scans, so the
    # first page run's collection (ui.data._freeze_long_lived) scans only what came after
    from ui.data import freeze_long_lived

    freeze_long_lived()
    return failed


WARM_ENV = "FLIGHTDECK_WARM"


def warming_on() -> bool:
    """Whether the launcher prepares the default flight deck (``FLIGHTDECK_WARM`` not 0)."""
    return os.environ.get(WARM_ENV, "1").strip() != "0"


def warm_default_view() -> float | None:
    """Load the export the app serves (``ui.data.load``) and work out the flight deck's
    verdicts for the view a link without parameters opens (All forces, the last quarter
    against the one before, all RASSO), so the first visitor's page reads them from the
    engine's caches instead of waiting for them. Returns the seconds it took; None when it is
    turned off (``FLIGHTDECK_WARM=0``), the export is not usable, or anything fails (logged,
    never raised: the page then computes as it would have)."""
    if not warming_on():
        return None
    started = time.monotonic()
    try:
        from ui import data as ui_data
        from ui.deck import deck_verdicts
        from ui.state import ViewState, default_force, window_bounds

        loaded = ui_data.load()
        if loaded.dataset is None or loaded.stale:
            return None
        bounds = ui_data.month_range(loaded.dataset)
        if bounds is None:
            return None
        view = ViewState(force=default_force(loaded.dataset.forces))
        start, end = window_bounds(view, bounds[1])
        deck_verdicts(loaded.dataset, start, end, view.force, view.compare, view.scope)
    except Exception:  # noqa: BLE001 - preparing a view must never stop the server
        _LOG.warning("could not prepare the default flight deck", exc_info=True)
        return None
    seconds = time.monotonic() - started
    _LOG.info("prepared the default flight deck in %.1f s", seconds)
    return seconds


def main(argv: list[str] | None = None) -> None:
    """``python -m ui.serve [run] app.py [options]``: install the guard, import what the first
    page run needs (:func:`preload`), prepare the default flight deck
    (:func:`warm_default_view`), then hand over to Streamlit's own command line
    (``streamlit run ...``). Does not return normally."""
    from ui import serve  # the importable module, not __main__: one registry per process

    serve.install()
    serve.preload()
    if serve.warming_on():
        print("  Preparing the default flight deck...", file=sys.stderr, flush=True)
        seconds = serve.warm_default_view()
        if seconds is not None:
            print(f"  Prepared in {seconds:.1f} s.", file=sys.stderr, flush=True)
    from streamlit.web import cli

    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] != "run":
        args = ["run", *args]
    started = time.monotonic()
    try:
        cli.main.main(args=args, prog_name="streamlit")
    finally:
        _LOG.debug("server ran for %.0f s", time.monotonic() - started)


if __name__ == "__main__":
    main()
