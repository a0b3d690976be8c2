"""What the DuckDB checks found for a clean export, kept per export content between runs.

Validating every file of an export is the dearest step of a short CLI run (0.5-0.8 s at
1,000,000 cases; the KPIs asked for may take less). A clean export's checks give the same
answer every time the same files are checked by the same code, so ``metrics.scan`` keeps it
here, keyed by :func:`export_key`: a BLAKE2b hash of the checked files' bytes (the private
snapshot the KPIs are then served from), the checking code (``CHECKER_SOURCES``) and the
versions of DuckDB and pyarrow. A file changed by one byte, a rule changed or a library
upgraded gives another key, so the export is checked anew.

What an entry holds (JSON, one small file per key): rows per table, the warnings the checks
raised, the forces in cases and the first and latest dates. Never a case id or anything else
from a row: a check whose warnings carry example ids is not kept (``storable``), so nothing
here identifies a victim. Only the outcome "clean" is kept; an export with findings is always
read and worded by the pandas loader.

Where: ``$FLIGHTDECK_CACHE`` (a folder), else ``$XDG_CACHE_HOME/flightdeck`` or
``~/.cache/flightdeck``; ``FLIGHTDECK_CACHE=off`` keeps nothing. The folder is made private
(mode 0700), holds at most ``MAX_ENTRIES`` entries (the oldest removed) and anything unreadable
in it is ignored: the cache can only ever spare a check, never change a result.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

ENV = "FLIGHTDECK_CACHE"
OFF = ("off", "0", "no", "false")
FORMAT = 1
MAX_ENTRIES = 64
SUFFIX = ".check.json"
# The code whose rules decide "clean": a change to any of them is another key.
CHECKER_SOURCES = ("contract.py", "scan.py", "load.py", "dataset.py", "check_cache.py")


def cache_folder() -> Path | None:
    """The folder entries live in, or None when ``FLIGHTDECK_CACHE`` turns the cache off."""
    stated = os.environ.get(ENV, "").strip()
    if stated.lower() in OFF:
        return None
    if stated:
        return Path(stated).expanduser()
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or str(Path.home() / ".cache")
    return Path(base) / "flightdeck"


@lru_cache(maxsize=1)
def checker_version() -> str:
    """A hash of the checking code and of the DuckDB and pyarrow versions (hex, 32 chars)."""
    import duckdb
    import pyarrow

    h = hashlib.blake2b(digest_size=16)
    here = Path(__file__).resolve().parent
    for name in CHECKER_SOURCES:
        h.update(name.encode() + b"\0" + (here / name).read_bytes() + b"\0")
    h.update(f"duckdb {duckdb.__version__} pyarrow {pyarrow.__version__}".encode())
    return h.hexdigest()


def copy_hashing(source: Path, target: Path) -> str:
    """Copy ``source`` to ``target`` and return the BLAKE2b hex digest of the copy (the bytes
    that will be checked and served); OSError when either cannot be used. The copy is the
    kernel's (``shutil.copyfile``), the hash read back from the page cache: three times faster
    than copying through Python."""
    import shutil

    shutil.copyfile(source, target)
    with open(target, "rb") as copied:
        return hashlib.file_digest(copied, lambda: hashlib.blake2b(digest_size=32)).hexdigest()


def export_key(digests: dict[str, str]) -> str:
    """The key of an export whose files (name -> BLAKE2b digest) are ``digests``."""
    h = hashlib.blake2b(digest_size=32)
    h.update(checker_version().encode())
    for name in sorted(digests):
        h.update(f"\0{name}\0{digests[name]}".encode())
    return h.hexdigest()


def storable(problems: list[Any]) -> bool:
    """Whether warnings can be kept: none carries example ids from the rows."""
    return all(not p.examples for p in problems)


def read(key: str) -> dict[str, Any] | None:
    """The entry kept for ``key``, or None (cache off, no entry, or an entry that cannot be
    read or has not the expected form: ignored, never raised)."""
    folder = cache_folder()
    if folder is None:
        return None
    try:
        entry = json.loads((folder / f"{key}{SUFFIX}").read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(entry, dict) or entry.get("format") != FORMAT or entry.get("key") != key:
        return None
    return entry


def write(key: str, entry: dict[str, Any]) -> None:
    """Keep ``entry`` for ``key`` (atomically: a reader sees the old entry or the new one);
    a folder that cannot be written is silently skipped. Removes the oldest entries beyond
    ``MAX_ENTRIES``."""
    folder = cache_folder()
    if folder is None:
        return
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(folder, 0o700)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=SUFFIX)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump({"format": FORMAT, "key": key, **entry}, out)
            os.replace(tmp, folder / f"{key}{SUFFIX}")
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _prune(folder)
    except OSError:
        return


def _prune(folder: Path) -> None:
    """Remove all but the ``MAX_ENTRIES`` most recently written entries."""
    entries = []
    for path in folder.glob(f"*{SUFFIX}"):
        try:
            entries.append((path.stat().st_mtime_ns, path))
        except OSError:
            continue
    for _, path in sorted(entries, reverse=True)[MAX_ENTRIES:]:
        path.unlink(missing_ok=True)
