"""Which ``Host`` (and websocket ``Origin``) a request may carry: the DNS-rebinding guard.

No Streamlit. A browser tricked by DNS rebinding sends requests to 127.0.0.1 with the
attacker's name in ``Host`` (``attacker.example:8501``) and a matching ``Origin``; refusing every
Host that is not one of ours stops it whatever the attacker's DNS does.

- Local mode: ``127.0.0.1``, ``localhost`` and ``[::1]``, any port (``LOOPBACK_HOSTS``).
- Deployed: those plus the names listed in ``[flightdeck] allowed_hosts`` in
  ``.streamlit/secrets.toml`` (``["flightdeck.example.police.uk"]``; an entry with a port,
  ``"flightdeck.example.police.uk:8443"``, allows that port only).

Names compare case-insensitively and exactly: no wildcards, no sub-domains, no trailing dot.
A missing, repeated or malformed Host is refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

__all__ = [
    "LOOPBACK_HOSTS",
    "parse_host",
    "parse_allowed",
    "host_allowed",
    "origin_allowed",
]

LOOPBACK_HOSTS: tuple[str, ...] = ("127.0.0.1", "localhost", "::1")
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_NAME = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$")
_IPV6 = re.compile(r"^[0-9a-f:.]+$")


def parse_host(value: str | None) -> tuple[str, int | None] | None:
    """``(name, port)`` from a ``Host`` header value (``"127.0.0.1:8501"``, ``"[::1]"``,
    ``"Localhost"``): the name lower-cased without brackets, the port as an int or None when
    absent. Returns None for anything malformed (empty, spaces, user info, a bad port, ...)."""
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    if not text or len(text) > 300 or any(ch.isspace() or ord(ch) < 33 or ord(ch) > 126
                                          for ch in text):
        return None
    port_text: str | None = None
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            return None
        name, rest = text[1:end], text[end + 1:]
        if not name or not _IPV6.match(name) or ":" not in name:
            return None
        if rest:
            if not rest.startswith(":"):
                return None
            port_text = rest[1:]
    else:
        if text.count(":") > 1:
            return None
        name, _, port_text = text.partition(":")
        if not _:
            port_text = None
        if not _NAME.match(name):
            return None
    port: int | None = None
    if port_text is not None:
        if not port_text.isdigit() or len(port_text) > 5 or not 0 < int(port_text) < 65536:
            return None
        port = int(port_text)
    return name, port


def parse_allowed(entries: Iterable[object] | str | None) -> tuple[tuple[str, int | None], ...]:
    """The deployed host list as ``(name, port or None)`` pairs. ``entries`` is the
    ``allowed_hosts`` value from secrets: a list of names (``"host"`` or ``"host:port"``) or one
    comma-separated string. Malformed entries are dropped (the caller logs them)."""
    if entries is None:
        return ()
    items = entries.split(",") if isinstance(entries, str) else list(entries)
    out: list[tuple[str, int | None]] = []
    for item in items:
        parsed = parse_host(str(item)) if isinstance(item, str) else None
        if parsed is not None:
            out.append(parsed)
    return tuple(out)


def host_allowed(value: str | None,
                 allowed: Iterable[tuple[str, int | None]] = ()) -> bool:
    """True when the ``Host`` header ``value`` names this service: a loopback name (any port)
    or an entry of ``allowed`` (from :func:`parse_allowed`; an entry's port, when given, must
    match). False for a missing or malformed value and for every other name."""
    parsed = parse_host(value)
    if parsed is None:
        return False
    name, port = parsed
    if name in LOOPBACK_HOSTS:
        return True
    return any(name == a_name and (a_port is None or a_port == port)
               for a_name, a_port in allowed)


def origin_allowed(origin: str | None,
                   allowed: Iterable[tuple[str, int | None]] = ()) -> bool:
    """True when a request's ``Origin`` is absent (non-browser clients send none) or is an
    ``http(s)://`` origin whose host passes :func:`host_allowed`. ``null`` and other schemes
    are refused."""
    if origin is None:
        return True
    try:
        parts = urlsplit(origin.strip())
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
        return False
    if "@" in parts.netloc:
        return False
    return host_allowed(parts.netloc, allowed)
