"""``python -m metrics boardpack``: exit codes, one-line errors and the audit line."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from pypdf import PdfReader

from metrics.__main__ import main as cli
from metrics.load import load_dataset


@pytest.fixture(scope="module")
def force(small_export: Path) -> str:
    return load_dataset(small_export).forces[0]


@pytest.fixture
def audit_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "audit.jsonl"
    monkeypatch.setenv("FLIGHTDECK_AUDIT_LOG", str(path))
    return path


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_writes_a_pdf_and_logs_an_export(small_export, force, tmp_path, audit_log,
                                         capsys) -> None:
    out = tmp_path / "pack.pdf"
    code, stdout, stderr = _run(capsys, "boardpack", str(small_export), "--force", force,
                                "--from", "2026-01", "--to", "2026-06", "--audience", "panel",
                                "--compare", "year_ago", "--no-charts", "--out", str(out))
    assert code == 0, stderr
    assert stdout.startswith(f"Wrote {out}")
    reader = PdfReader(io.BytesIO(out.read_bytes()))
    first = " ".join(reader.pages[0].extract_text().split())
    assert f"Board pack for {force}" in first and "Scrutiny panel" in first
    events = [json.loads(line) for line in audit_log.read_text().splitlines()]
    assert len(events) == 1
    event = events[0]
    assert (event["action"], event["audience"], event["force"], event["window"]) == (
        "export", "panel", force, "2026-01..2026-06")
    assert event["reason"] == "board_pack_pdf"
    assert set(event) == {"time", "user", "audience", "force", "window", "page", "action",
                          "reason"}  # who and what, never values


def test_the_pack_takes_the_apps_scope(small_export, force, tmp_path, audit_log,
                                       capsys) -> None:
    out = tmp_path / "child.pdf"
    code, _, stderr = _run(capsys, "boardpack", str(small_export), "--force", force, "--from",
                           "2026-07", "--to", "2026-09", "--scope", "child", "--no-charts",
                           "--out", str(out))
    assert code == 0, stderr
    first = " ".join(PdfReader(io.BytesIO(out.read_bytes())).pages[0].extract_text().split())
    assert "Cases child cases only" in first
    with pytest.raises(SystemExit) as exc:
        cli(["boardpack", str(small_export), "--force", force, "--from", "2026-07", "--to",
             "2026-09", "--scope", "adults", "--out", str(out)])
    assert exc.value.code == 2 and "invalid choice: 'adults'" in capsys.readouterr().err


@pytest.mark.parametrize(("args", "message"), [
    (["--force", "Atlantis Police", "--from", "2026-01", "--to", "2026-03"], "unknown force"),
    (["--force", "{force}", "--from", "2026-13", "--to", "2026-03"], "--from must be a month"),
    (["--force", "{force}", "--from", "2026-01", "--to", "26-03"], "--to must be a month"),
    (["--force", "{force}", "--from", "2026-04", "--to", "2026-03"], "after it ends"),
])
def test_bad_arguments_exit_2_with_one_line(small_export, force, tmp_path, audit_log, capsys,
                                            args, message) -> None:
    out = tmp_path / "pack.pdf"
    argv = [a.replace("{force}", force) for a in args]
    code, _, stderr = _run(capsys, "boardpack", str(small_export), *argv, "--no-charts",
                           "--out", str(out))
    assert code == 2
    assert stderr.startswith("error: ") and message in stderr
    assert stderr.count("\n") == 1 and "Traceback" not in stderr
    assert not out.exists() and not audit_log.exists()


def test_missing_folder_exits_2(tmp_path, capsys) -> None:
    code, _, stderr = _run(capsys, "boardpack", str(tmp_path / "nowhere"), "--force", "X",
                           "--from", "2026-01", "--to", "2026-01", "--out",
                           str(tmp_path / "p.pdf"))
    assert code == 2 and "does not exist" in stderr


def test_missing_output_folder_exits_2(small_export, force, tmp_path, capsys) -> None:
    code, _, stderr = _run(capsys, "boardpack", str(small_export), "--force", force,
                           "--from", "2026-01", "--to", "2026-01", "--out",
                           str(tmp_path / "no" / "p.pdf"))
    assert code == 2 and "does not exist" in stderr


def test_unusable_export_exits_1(export_copy: Path, force, tmp_path, capsys) -> None:
    (export_copy / "cases.parquet").write_text("case_id,force\n1,x\n")
    code, _, stderr = _run(capsys, "boardpack", str(export_copy), "--force", force,
                           "--from", "2026-01", "--to", "2026-01", "--no-charts", "--out",
                           str(tmp_path / "p.pdf"))
    assert code == 1
    assert stderr.startswith("error: the export is not usable") and stderr.count("\n") == 1


def test_argparse_rejects_an_unknown_audience(small_export, force, tmp_path, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        cli(["boardpack", str(small_export), "--force", force, "--from", "2026-01", "--to",
             "2026-01", "--audience", "public", "--out", str(tmp_path / "p.pdf")])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
