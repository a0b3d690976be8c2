"""The audit trail: one JSON line per page view, link creation, refused link and export.

No Streamlit. Each event is written with ONE ``os.write`` on a file descriptor opened with
``O_APPEND``, so concurrent sessions (threads or processes) never interleave partial lines.

Actions: ``page_view``, ``link_created``, ``link_refused`` (a share link refused: bad
signature, expired, malformed, outside its scope), ``export`` and ``access_refused`` (a signed-in
account not on the access list, or a remote connection without sign-in configured).

A line holds only who/what/where: ``time`` (UTC ISO 8601), ``user`` (e-mail, ``local user`` or
a share link id), ``audience``, ``force``, ``window`` (``YYYY-MM..YYYY-MM``), ``page``,
``action`` and ``reason``. It never holds KPI values, counts, case ids or victim details.

The file is ``$FLIGHTDECK_AUDIT_LOG``, by default ``logs/audit.jsonl`` in the repository folder
(ignored by git through the ``audit*.jsonl`` pattern). It is created with mode 0600.
"""

from __future__ import annotations

import json
import os
from collections import deque
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

ENV_AUDIT_LOG = "FLIGHTDECK_AUDIT_LOG"
DEFAULT_AUDIT_LOG = Path(__file__).resolve().parent.parent / "logs" / "audit.jsonl"
ACTIONS: tuple[str, ...] = (
    "page_view", "link_created", "link_refused", "export", "access_refused",
)
AUDIENCES: tuple[str, ...] = ("internal", "panel", "none")
COLUMNS: tuple[str, ...] = (
    "time", "user", "audience", "force", "window", "page", "action", "reason",
)
_MAX_FIELD = 200


def audit_path() -> Path:
    """The audit file: ``$FLIGHTDECK_AUDIT_LOG`` or ``logs/audit.jsonl``."""
    configured = os.environ.get(ENV_AUDIT_LOG, "").strip()
    return Path(configured) if configured else DEFAULT_AUDIT_LOG


def _clean(value: object) -> str | None:
    """A short single-line string (or None). Control characters become spaces."""
    if value is None:
        return None
    text = str(value)
    text = "".join(" " if ord(ch) < 32 or ord(ch) == 127 else ch for ch in text)
    return text[:_MAX_FIELD]


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
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        written = os.write(fd, line)  # one write call per line: atomic append
        if written != len(line):  # pragma: no cover - only on a full disk
            raise OSError(f"short write to audit log {target}")
    finally:
        os.close(fd)
    return event


def _tail_lines(path: Path, limit: int, block: int = 1 << 16) -> list[str]:
    """The last ``limit`` non-empty lines of ``path``, reading backwards in blocks (the file
    can grow large; the reader only ever needs its end)."""
    if limit == 0:
        return []
    with path.open("rb") as handle:
        handle.seek(0, os.SEEK_END)
        position = handle.tell()
        data = b""
        while position > 0 and data.count(b"\n") <= limit:
            step = min(block, position)
            position -= step
            handle.seek(position)
            data = handle.read(step) + data
    lines = [x for x in data.decode("utf-8", errors="replace").splitlines() if x.strip()]
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
