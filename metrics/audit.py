"""The audit trail: one JSON line per page view, link creation, refused link and export.

No Streamlit. Each event is written with ONE ``os.write`` on a file descriptor opened with
``O_APPEND``, so concurrent sessions (threads or processes) never interleave partial lines.

Actions: ``page_view``, ``link_created``, ``link_refused`` (a share link refused: bad
signature, expired, malformed, outside its scope; its ``user`` is ``unverified``, since the id
inside a refused token cannot be trusted), ``export``, ``access_refused`` (a signed-in account
not on the access list, a remote connection without sign-in configured, a foreign Host),
``record_write`` (a write to the meeting record, ``metrics.record``: what in ``reason``),
``download`` (a ``/media`` file fetched, audited by the server launcher ``ui.serve``) and
``download_refused`` (a fetch after its session closed, or of an unknown file).

A line holds only who/what/where: ``time`` (UTC ISO 8601), ``user`` (e-mail, ``local user`` or
a share link id), ``audience``, ``force``, ``window`` (``YYYY-MM..YYYY-MM``), ``page``,
``action`` and ``reason``. It never holds KPI values, counts, case ids or victim details.

The file is ``$FLIGHTDECK_AUDIT_LOG``, by default ``logs/audit.jsonl`` in the repository folder
(ignored by git through the ``audit*.jsonl`` pattern). It is opened with ``O_NOFOLLOW`` (a
symlink in its place is refused) and kept at mode 0600 (an existing 0644 file is tightened).

Every control, format and separator character in a field (C0, C1, U+2028, U+2029, bidi
overrides, ...) and the backslash are written as visible escapes (``\\u2028``), so a line is
always one line whatever a URL or a token carried; the reader splits on ``"\\n"`` only.
"""

from __future__ import annotations

import json
import os
import stat
import unicodedata
from collections import deque
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

ENV_AUDIT_LOG = "FLIGHTDECK_AUDIT_LOG"
DEFAULT_AUDIT_LOG = Path(__file__).resolve().parent.parent / "logs" / "audit.jsonl"
ACTIONS: tuple[str, ...] = (
    "page_view", "link_created", "link_refused", "export", "access_refused", "record_write",
    "download", "download_refused",
)
AUDIENCES: tuple[str, ...] = ("internal", "panel", "none")
COLUMNS: tuple[str, ...] = (
    "time", "user", "audience", "force", "window", "page", "action", "reason",
)
_MAX_FIELD = 200
UNVERIFIED = "unverified"
_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs"})
# O_NONBLOCK: a FIFO put in the file's place fails at once (ENXIO) instead of hanging.
_OPEN_FLAGS = (os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
               | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0))


def audit_path() -> Path:
    """The audit file: ``$FLIGHTDECK_AUDIT_LOG`` or ``logs/audit.jsonl``."""
    configured = os.environ.get(ENV_AUDIT_LOG, "").strip()
    return Path(configured) if configured else DEFAULT_AUDIT_LOG


def _escape_char(ch: str) -> str:
    if ch == "\\":
        return "\\\\"
    if ch != " " and unicodedata.category(ch) in _ESCAPED_CATEGORIES:
        code = ord(ch)
        return (f"\\x{code:02x}" if code < 0x100 else
                f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    return ch


def escape_field(text: str, limit: int | None = None) -> str:
    """``text`` with the backslash and every control, format, surrogate, unassigned and
    separator character (Unicode categories Cc, Cf, Cs, Co, Cn, Zl, Zp, and Zs other than the
    plain space) written as a visible escape: ``\\\\``, ``\\u2028``, ``\\x85``. The result holds
    no line break of any kind (``str.splitlines`` sees one line). With ``limit``, at most that
    many characters, cut between escapes (never inside one)."""
    out: list[str] = []
    size = 0
    for ch in text:
        piece = _escape_char(ch)
        if limit is not None and size + len(piece) > limit:
            break
        out.append(piece)
        size += len(piece)
    return "".join(out)


def _clean(value: object) -> str | None:
    """A short single-line string (or None): :func:`escape_field` cut to 200 characters."""
    if value is None:
        return None
    return escape_field(str(value), _MAX_FIELD)


def make_event(
    action: str,
    *,
    user: str,
    audience: str,
    force: str | None = None,
    window: str | None = None,
    page: str | None = None,
    reason: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Build (and validate) one audit event as a dict with the ``COLUMNS`` keys."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}; expected one of {ACTIONS}")
    if audience not in AUDIENCES:
        raise ValueError(f"unknown audience {audience!r}; expected one of {AUDIENCES}")
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return {
        "time": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "user": _clean(user) or "unknown",
        "audience": audience,
        "force": _clean(force),
        "window": _clean(window),
        "page": _clean(page),
        "action": action,
        "reason": _clean(reason),
    }


def log_event(
    action: str,
    *,
    user: str,
    audience: str,
    force: str | None = None,
    window: str | None = None,
    page: str | None = None,
    reason: str | None = None,
    path: str | os.PathLike[str] | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Append one event to the audit file and return it.

    ``action`` is one of ``ACTIONS`` (``page_view``, ``link_created``, ``link_refused``,
    ``export``). ``window`` is a label such as ``2025-01..2025-03``; ``reason`` a short word or
    phrase (``expired``, ``csv``, ...). Pass no data values. Raises ``ValueError`` for an
    unknown action or audience and ``OSError`` when the file cannot be written.

    Example (an export): ``log_event("export", user=access.user, audience=access.audience,
    force="Avon", window="2025-01..2025-03", page="flight_deck", reason="board_pack_pdf")``.
    """
    event = make_event(
        action, user=user, audience=audience, force=force, window=window, page=page,
        reason=reason, now=now,
    )
    line = (json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
    target = Path(path) if path is not None else audit_path()
    fd = _open_for_append(target)
    try:
        written = os.write(fd, line)  # one write call per line: atomic append
        if written != len(line):  # pragma: no cover - only on a full disk
            raise OSError(f"short write to audit log {target}")
    finally:
        os.close(fd)
    return event


def _open_for_append(target: Path) -> int:
    """A file descriptor appending to ``target``: created 0600, never through a symlink
    (``O_NOFOLLOW``), only a regular file, and tightened to 0600 when it was wider.
    Raises ``OSError`` otherwise (the caller refuses to serve unaudited)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, _OPEN_FLAGS, 0o600)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(f"audit log {target} is not a regular file")
        if stat.S_IMODE(info.st_mode) != 0o600:
            os.fchmod(fd, 0o600)
    except BaseException:
        os.close(fd)
        raise
    return fd


def check_writable(path: str | os.PathLike[str] | None = None) -> Path:
    """Open the audit file for appending (as :func:`log_event` would) and close it again,
    writing nothing. Returns its path; raises ``OSError`` when it cannot be written."""
    target = Path(path) if path is not None else audit_path()
    os.close(_open_for_append(target))
    return target


def _tail_lines(path: Path, limit: int, block: int = 1 << 16) -> list[str]:
    """The last ``limit`` non-empty JSON lines of ``path``, reading backwards in blocks (the
    file can grow large; the reader only ever needs its end). Lines end at ``"\\n"`` only:
    other line breaks (U+2028, ``\\r``, U+0085) are data, never separators."""
    if limit == 0:
        return []
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        position = handle.tell()
        data = b""
        while position > 0 and data.count(b"\n") <= limit:
            step = min(block, position)
            position -= step
            handle.seek(position)
            data = handle.read(step) + data
    lines = [x.decode("utf-8", errors="replace") for x in data.split(b"\n") if x.strip()]
    if position > 0:  # the first line may be cut: drop it
        lines = lines[1:]
    return list(deque(lines, maxlen=limit))


def read_audit(path: str | os.PathLike[str] | None = None, limit: int = 200) -> pd.DataFrame:
    """The last ``limit`` events, newest first, as a DataFrame with ``COLUMNS``.

    ``time`` is a UTC timestamp. Unreadable lines (e.g. a torn line after a crash) are skipped.
    A missing file gives an empty frame.
    """
    target = Path(path) if path is not None else audit_path()
    tail = _tail_lines(target, max(0, int(limit))) if target.exists() else []
    rows: list[dict[str, Any]] = []
    for line in tail:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and record.get("action") in ACTIONS:
            rows.append({col: record.get(col) for col in COLUMNS})
    frame = pd.DataFrame(rows[::-1], columns=list(COLUMNS))
    frame["time"] = pd.to_datetime(frame["time"], utc=True, errors="coerce")
    return frame.reset_index(drop=True)
