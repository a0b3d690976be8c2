"""National benchmark data: generated once into ``bench/data/`` and reused.

Each size lives in ``bench/data/cases_<N>/`` with a ``manifest.json`` recording the generator
version (a hash of the generator's source files), the seed, the forces option and the files
written. A folder is reused only when its manifest matches the current generator and its
files are all present with the recorded sizes; otherwise it is regenerated (into a temporary
folder first, so an interrupted run never leaves a half-written export that looks complete).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA_ROOT = REPO / "bench" / "data"
DEFAULT_SEED = 8
FORCES = "all"
MANIFEST = "manifest.json"

# The sources whose content defines what the generator writes (it imports nothing else from
# the repo; add a module here if it ever does).
GENERATOR_SOURCES: tuple[str, ...] = (
    "metrics/generate.py",
    "metrics/commands/generate.py",
)


def generator_version(repo: Path = REPO) -> str:
    """A short hash of the generator's source files (missing files hash as absent)."""
    h = hashlib.sha256()
    for rel in GENERATOR_SOURCES:
        path = repo / rel
        h.update(rel.encode())
        h.update(path.read_bytes() if path.exists() else b"<absent>")
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class Spec:
    """What to generate: a case count, a seed and the forces option."""

    cases: int
    seed: int = DEFAULT_SEED
    forces: str = FORCES

    @property
    def folder_name(self) -> str:
        return f"cases_{self.cases}"


def expected_manifest(spec: Spec, version: str) -> dict[str, object]:
    """The manifest fields that must match for a folder to be reused."""
    return {"cases": spec.cases, "seed": spec.seed, "forces": spec.forces,
            "generator_version": version}


def manifest_matches(manifest: dict[str, object], spec: Spec, version: str,
                     folder: Path | None = None) -> bool:
    """True when ``manifest`` was written for ``spec`` by generator ``version``.

    With ``folder`` given, the recorded files must also be present with their recorded sizes.
    """
    want = expected_manifest(spec, version)
    if any(manifest.get(k) != v for k, v in want.items()):
        return False
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        return False
    if folder is not None:
        for name, size in files.items():
            path = folder / str(name)
            if not path.is_file() or path.stat().st_size != size:
                return False
    return True


def read_manifest(folder: Path) -> dict[str, object] | None:
    """The folder's manifest, or None when absent or unreadable."""
    try:
        return json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None


def ensure(spec: Spec, root: Path = DATA_ROOT, *, log=print) -> Path:
    """The folder holding ``spec``'s export, generating it first when needed."""
    version = generator_version()
    folder = root / spec.folder_name
    manifest = read_manifest(folder)
    if manifest is not None and manifest_matches(manifest, spec, version, folder):
        log(f"  reusing {folder.relative_to(REPO)} (generator {version}, seed {spec.seed})")
        return folder
    tmp = root / f".{spec.folder_name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    cmd = [sys.executable, "-m", "metrics", "generate", "--out", str(tmp),
           "--cases", str(spec.cases), "--seed", str(spec.seed), "--forces", spec.forces]
    log(f"  generating {spec.cases:,} cases: {' '.join(cmd[1:])}")
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["(no output)"]
        raise RuntimeError(f"generator exited {proc.returncode}: {tail[0]}")
    files = {p.name: p.stat().st_size for p in sorted(tmp.glob("*.parquet"))}
    if "cases.parquet" not in files:
        shutil.rmtree(tmp, ignore_errors=True)
        raise RuntimeError(f"generator wrote no cases.parquet into {tmp}")
    manifest = {**expected_manifest(spec, version), "files": files,
                "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "generate_seconds": round(seconds, 2)}
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    log(f"  generated in {seconds:.1f} s ({sum(files.values()) / 2**20:.0f} MiB)")
    return folder
