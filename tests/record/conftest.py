"""Fixtures of the meeting record's tests: every repository test runs on SQLite AND on a real
PostgreSQL server (Debian's packages) that this suite starts and stops itself.

The PostgreSQL cluster is a throwaway: ``initdb`` into a fresh folder under /tmp, ``pg_ctl
start`` listening only on a unix socket in that folder (no TCP port to collide with other
runs), one fresh database per test, ``pg_ctl stop`` and the folder removed at the end. As
root (CI containers), initdb refuses to run, so the cluster is created and run as the
``postgres`` system user (``runuser``), with the folder chowned to it. The PostgreSQL tests
skip, with the reason, only when the binaries or a non-root user are missing.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from metrics.record import Record, open_record
from tests.services import unavailable

PG_USER = "flightdeck"
_COUNTER = itertools.count()


def _pg_bin_dir() -> Path | None:
    """The folder with initdb and pg_ctl (PATH, else Debian's /usr/lib/postgresql/N/bin)."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)
    return versions[0].parent if versions else None


def _as_owner(argv: list[str], owner: str | None) -> list[str]:
    if owner is None:
        return argv
    return ["runuser", "-u", owner, "--", *argv]


class PgServer:
    """A running throwaway PostgreSQL cluster reachable through a unix socket."""

    def __init__(self, bindir: Path, root: Path, owner: str | None) -> None:
        self.bindir, self.root, self.owner = bindir, root, owner
        self.data = root / "data"
        self.port = 5432 + (os.getpid() % 1000) + 1

    def run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(_as_owner([str(self.bindir / argv[0]), *argv[1:]], self.owner),
                              capture_output=True, text=True, timeout=120, check=check,
                              cwd=self.root)

    def start(self) -> None:
        self.run("initdb", "-D", str(self.data), "-U", PG_USER, "-A", "trust", "-E", "UTF8",
                 "--no-sync", "--locale=C")
        opts = (f"-k {self.root} -p {self.port} -c listen_addresses='' -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=50")
        self.run("pg_ctl", "-D", str(self.data), "-o", opts, "-l", str(self.root / "log"),
                 "-w", "-t", "60", "start")

    def stop(self) -> None:
        self.run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", check=False)

    def url(self, database: str) -> str:
        return (f"postgresql+psycopg://{PG_USER}@/{database}"
                f"?host={self.root}&port={self.port}")

    def create_database(self) -> str:
        from sqlalchemy import create_engine, text

        name = f"t{os.getpid()}_{next(_COUNTER)}"
        engine = create_engine(self.url("postgres"), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        return self.url(name)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A PostgreSQL server for the whole test session (skips when PostgreSQL is missing)."""
    bindir = _pg_bin_dir()
    if bindir is None:
        unavailable("PostgreSQL binaries (initdb, pg_ctl) not installed: run "
                    "scripts/install-postgres.sh (make postgres)")
    owner: str | None = None
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            unavailable("running as root and there is no 'postgres' user for initdb")
        if shutil.which("runuser") is None:
            unavailable("running as root and runuser is missing (initdb refuses root)")
        owner = "postgres"
    root = Path(tempfile.mkdtemp(prefix="fdpg-", dir="/tmp"))
    if owner is not None:
        info = pwd.getpwnam(owner)
        os.chown(root, info.pw_uid, info.pw_gid)
    server = PgServer(bindir, root, owner)
    try:
        server.start()
    except subprocess.CalledProcessError as exc:
        log = root / "log"
        detail = log.read_text(errors="replace")[-800:] if log.exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"PostgreSQL would not start: {exc.stderr.strip()[-800:]} {detail}")
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database URL on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'record.db'}"
    server: PgServer = request.getfixturevalue("pg_server")
    return server.create_database()


@pytest.fixture
def audit_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private audit trail for the test (FLIGHTDECK_AUDIT_LOG)."""
    path = tmp_path / "audit.jsonl"
    monkeypatch.setenv("FLIGHTDECK_AUDIT_LOG", str(path))
    return path


@pytest.fixture
def record(db_url: str, audit_file: Path) -> Iterator[Record]:
    """An opened (migrated) record on each backend."""
    rec = open_record(db_url)
    try:
        yield rec
    finally:
        rec.close()
