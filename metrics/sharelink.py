"""Signed share links for scrutiny panels: create and verify tokens (no Streamlit).

A token is ``<payload>.<signature>``, both base64url without padding:

- ``payload`` is compact JSON ``{"v":1,"f":force,"s":"YYYY-MM","e":"YYYY-MM","p":[page ids],
  "x":expiry (Unix seconds),"c":created (Unix seconds),"i":link id,"b":created by}``;
- ``signature`` is HMAC-SHA256 over ``b"flightdeck-panel-v1." + payload`` with the server
  secret, compared in constant time (``hmac.compare_digest``).

The token is signed, not encrypted: anyone holding it can read its scope, so it carries only
the scope (force, months, pages), the expiry, a random link id and who created it. It is a
bearer credential: whoever holds the link sees that scope, in the panel audience only, until it
expires.

The secret comes from ``st.secrets["flightdeck"]["link_secret"]`` or the environment variable
``FLIGHTDECK_SECRET`` (see ``ui/access.py``), never from the repository. Generate one with
``python -c "import secrets; print(secrets.token_urlsafe(32))"``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import secrets as _secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

PAGE_IDS: tuple[str, ...] = (
    "flight_deck",
    "trends",
    "victim_voice",
    "compare_forces",
    "data_quality",
    "definitions",
    "record",
)
"""Every page id of the app (docs/TEAM-NOTES.md)."""

PANEL_PAGES: tuple[str, ...] = ("flight_deck", "trends", "victim_voice", "definitions", "record")
"""Pages a share link may open. ``data_quality`` shows example record ids and
``compare_forces`` shows other forces' figures, so neither is ever shared with a panel.
``record`` (the meeting record) shows a panel only the commentary and assurance levels of its
force and window: never case reviews, names or case ids (pages/record.py checks the audience)."""

DEFAULT_EXPIRY = timedelta(days=14)
MAX_EXPIRY = timedelta(days=92)
MIN_SECRET_LENGTH = 16
MAX_TOKEN_LENGTH = 4096
ENV_SECRET = "FLIGHTDECK_SECRET"

_VERSION = 1
_DOMAIN = b"flightdeck-panel-v1."
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_B64 = re.compile(r"^[A-Za-z0-9_-]+$")


class LinkError(ValueError):
    """A share link that must be refused. ``reason`` is a short machine word for the audit log:
    ``malformed``, ``bad_signature``, ``expired``, ``scope_mismatch`` or ``no_secret``."""

    reason: str = "malformed"

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason


class MalformedLink(LinkError):
    """The token is not a well-formed flight deck link (truncated, edited, not ours)."""

    reason = "malformed"


class BadSignature(LinkError):
    """The signature does not match: the payload was edited or another secret signed it."""

    reason = "bad_signature"


class ExpiredLink(LinkError):
    """The link was valid but its expiry has passed."""

    reason = "expired"


class ScopeMismatch(LinkError):
    """The URL asks for a force, window or page outside the link's scope."""

    reason = "scope_mismatch"


class NoSecret(LinkError):
    """No signing secret is configured, so links can be neither created nor verified."""

    reason = "no_secret"


@dataclass(frozen=True)
class Scope:
    """What one share link shows: a force, a run of whole months, some pages, until expiry."""

    force: str
    start: str  # "YYYY-MM", first month of the window
    end: str  # "YYYY-MM", last month of the window (inclusive)
    pages: tuple[str, ...]
    expires: datetime  # timezone-aware UTC
    link_id: str
    created_by: str
    created: datetime  # timezone-aware UTC

    def allows_page(self, page_id: str) -> bool:
        """True when ``page_id`` is one of the pages this link opens."""
        return page_id in self.pages

    @property
    def window_label(self) -> str:
        """The window as ``YYYY-MM..YYYY-MM`` (one month: just ``YYYY-MM``)."""
        return self.start if self.start == self.end else f"{self.start}..{self.end}"


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    if not text or not _B64.match(text):
        raise MalformedLink("The link is not in the expected format.")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise MalformedLink("The link is not in the expected format.") from exc
    if _b64encode(raw) != text:  # only the canonical encoding: one token per scope
        raise MalformedLink("The link is not in the expected format.")
    return raw


def _key(secret: str) -> bytes:
    if not secret or len(secret) < MIN_SECRET_LENGTH:
        raise NoSecret(
            f"No usable link secret: it must be at least {MIN_SECRET_LENGTH} characters."
        )
    return secret.encode("utf-8")


def _sign(payload_b64: str, secret: str) -> bytes:
    return hmac.new(_key(secret), _DOMAIN + payload_b64.encode("ascii"), hashlib.sha256).digest()


def _check_month(value: str, name: str) -> str:
    if not isinstance(value, str) or not _MONTH.match(value):
        raise ValueError(f"{name} must be a month YYYY-MM, got {value!r}")
    return value


def _as_utc(moment: datetime | None) -> datetime:
    moment = moment or datetime.now(UTC)
    if moment.tzinfo is None:
        raise ValueError("times must be timezone-aware (UTC)")
    return moment.astimezone(UTC)


def secret_from_env() -> str | None:
    """The signing secret from ``FLIGHTDECK_SECRET``, or None when unset or too short."""
    value = os.environ.get(ENV_SECRET, "").strip()
    return value if len(value) >= MIN_SECRET_LENGTH else None


def create(
    secret: str,
    *,
    force: str,
    start: str,
    end: str,
    pages: tuple[str, ...] | list[str],
    created_by: str,
    expires_in: timedelta = DEFAULT_EXPIRY,
    now: datetime | None = None,
    link_id: str | None = None,
) -> tuple[str, Scope]:
    """Sign a new panel link. Returns ``(token, scope)``.

    Raises ``ValueError`` for a bad scope (unknown or unshareable page, bad months, ``start``
    after ``end``, expiry not in (0, 92 days]) and ``NoSecret`` for a missing/short secret.
    """
    _key(secret)
    if not isinstance(force, str) or not force.strip():
        raise ValueError("force must be a non-empty name")
    _check_month(start, "start")
    _check_month(end, "end")
    if start > end:
        raise ValueError(f"start {start} is after end {end}")
    pages = tuple(dict.fromkeys(pages))
    if not pages:
        raise ValueError("a link must open at least one page")
    for page in pages:
        if page not in PANEL_PAGES:
            raise ValueError(f"page {page!r} cannot be shared with a panel")
    if not timedelta(0) < expires_in <= MAX_EXPIRY:
        raise ValueError(f"expiry must be between 1 second and {MAX_EXPIRY.days} days")
    created = _as_utc(now).replace(microsecond=0)
    expires = created + expires_in
    link_id = link_id or _secrets.token_urlsafe(9)
    payload = {
        "v": _VERSION,
        "f": force,
        "s": start,
        "e": end,
        "p": list(pages),
        "x": int(expires.timestamp()),
        "c": int(created.timestamp()),
        "i": link_id,
        "b": created_by,
    }
    raw = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    payload_b64 = _b64encode(raw)
    token = f"{payload_b64}.{_b64encode(_sign(payload_b64, secret))}"
    scope = Scope(
        force=force, start=start, end=end, pages=pages,
        expires=datetime.fromtimestamp(payload["x"], UTC), link_id=link_id,
        created_by=created_by, created=datetime.fromtimestamp(payload["c"], UTC),
    )
    return token, scope


def _parse_payload(raw: bytes) -> Scope:
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedLink("The link's contents cannot be read.") from exc
    try:
        if not isinstance(data, dict) or data.get("v") != _VERSION:
            raise ValueError("unknown version")
        pages = data["p"]
        if not isinstance(pages, list) or not pages or not all(p in PANEL_PAGES for p in pages):
            raise ValueError("bad pages")
        force, start, end = data["f"], data["s"], data["e"]
        if not isinstance(force, str) or not force:
            raise ValueError("bad force")
        _check_month(start, "start")
        _check_month(end, "end")
        if start > end:
            raise ValueError("start after end")
        expiry, created = data["x"], data["c"]
        if not all(isinstance(t, int) and not isinstance(t, bool) for t in (expiry, created)):
            raise ValueError("bad times")
        link_id, created_by = data["i"], data["b"]
        if not isinstance(link_id, str) or not isinstance(created_by, str):
            raise ValueError("bad ids")
        return Scope(
            force=force, start=start, end=end, pages=tuple(pages),
            expires=datetime.fromtimestamp(expiry, UTC), link_id=link_id,
            created_by=created_by, created=datetime.fromtimestamp(created, UTC),
        )
    except (KeyError, TypeError, ValueError, OverflowError, OSError) as exc:
        raise MalformedLink("The link's contents are not a valid scope.") from exc


def peek_link_id(token: str) -> str | None:
    """The link id inside a token WITHOUT checking its signature, for audit lines about
    refused links only (never trust it for access). None when unreadable."""
    try:
        payload_b64 = token.split(".")[0]
        data = json.loads(_b64decode(payload_b64).decode("utf-8"))
        link_id = data.get("i") if isinstance(data, dict) else None
        return link_id[:40] if isinstance(link_id, str) else None
    except (LinkError, UnicodeDecodeError, json.JSONDecodeError, IndexError, AttributeError):
        return None


def verify(token: str, secret: str, now: datetime | None = None) -> Scope:
    """Check a token and return its scope.

    Order: shape (``MalformedLink``), then signature in constant time (``BadSignature``), then
    contents (``MalformedLink``), then expiry (``ExpiredLink``; a link is expired from the
    second of its expiry). ``NoSecret`` when ``secret`` is missing or too short.
    """
    _key(secret)
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        raise MalformedLink("The link is missing or too long.")
    parts = token.strip().split(".")
    if len(parts) != 2:
        raise MalformedLink("The link is not in the expected format.")
    payload_b64, sig_b64 = parts
    raw = _b64decode(payload_b64)
    signature = _b64decode(sig_b64)
    if not hmac.compare_digest(signature, _sign(payload_b64, secret)):
        raise BadSignature("The link's signature does not match: it was changed or is not ours.")
    scope = _parse_payload(raw)
    if _as_utc(now) >= scope.expires:
        raise ExpiredLink(f"The link expired on {scope.expires:%d %B %Y at %H:%M} UTC.")
    return scope


def check_request(
    scope: Scope,
    *,
    page: str,
    force: str | None = None,
    start: str | None = None,
    end: str | None = None,
    window: str | None = None,
) -> None:
    """Raise ``ScopeMismatch`` when a request (the page and the URL's filters) leaves the scope.

    A filter left out (None) is fine: the app then uses the scope's value. ``window`` may only
    be ``custom`` (the scope is a fixed run of months, never a rolling "last month").
    """
    if not scope.allows_page(page):
        raise ScopeMismatch(f"This link does not open the page {page!r}.", "page_not_in_scope")
    if force is not None and force != scope.force:
        raise ScopeMismatch("This link is for another force.", "force_not_in_scope")
    if window is not None and window != "custom":
        raise ScopeMismatch("This link is for a fixed window.", "window_not_in_scope")
    if (start is not None and start != scope.start) or (end is not None and end != scope.end):
        raise ScopeMismatch("This link is for another window.", "window_not_in_scope")
