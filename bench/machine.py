"""A description of the machine and software the benchmark ran on."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parent.parent
PACKAGES: tuple[str, ...] = ("streamlit", "pandas", "numpy", "pyarrow", "scipy", "plotly",
                             "protobuf", "websockets", "psutil", "pyinstrument")


SOURCE_DIRS = ("metrics", "report", "present", "ui", "pages", "bench")


def compile_sources(root: Path) -> None:
    """Compile the project's modules under ``root`` to bytecode (``__pycache__``), as pip does
    for an installed package and ``make run`` / ``make bench`` do here: with
    ``PYTHONDONTWRITEBYTECODE`` set (CI, this machine) Python would otherwise compile every
    module again in each timed process (about 0.1 s of a CLI run). Returns nothing; a module
    whose source changed later is compiled again by Python itself, as before."""
    import compileall

    for name in SOURCE_DIRS:
        if (root / name).is_dir():
            compileall.compile_dir(str(root / name), quiet=2, workers=0)
    for path in root.glob("*.py"):
        compileall.compile_file(str(path), quiet=2)


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (platform.processor() elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_revision() -> str:
    """The short commit of the working tree, "+dirty" when it has uncommitted changes."""
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                             capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=REPO, capture_output=True, text=True, timeout=10).stdout
        return rev + ("+dirty" if dirty.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def describe() -> dict[str, Any]:
    """CPU, cores, RAM, OS, Python, package versions, git revision, load average."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = []
    return {
        "cpu": cpu_model(),
        "logical_cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "ram_bytes": psutil.virtual_memory().total,
        "os": f"{platform.system()} {platform.release()}",
        "python": sys.version.split()[0],
        "packages": versions,
        "git": git_revision(),
        "loadavg": load,
    }


def markdown(info: dict[str, Any], loadavg_end: list[float] | None = None) -> str:
    """The description as a Markdown bullet list."""
    ram = info.get("ram_bytes") or 0
    pkgs = ", ".join(f"{k} {v}" for k, v in (info.get("packages") or {}).items())
    lines = [
        f"- CPU: {info.get('cpu')}; {info.get('logical_cores')} logical cores "
        f"({info.get('usable_cores')} usable by this process)",
        f"- RAM: {ram / 2**30:.1f} GiB; OS: {info.get('os')}",
        f"- Python {info.get('python')}; {pkgs}",
        f"- Code: git {info.get('git')}",
    ]
    load = info.get("loadavg")
    if load:
        end = f", at the end {loadavg_end}" if loadavg_end else ""
        lines.append(f"- Load average (1, 5, 15 min) at the start {load}{end}")
    return "\n".join(lines)
