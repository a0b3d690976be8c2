"""What the DuckDB checks found for a clean export is kept per export content
(`metrics.check_cache`): a second load of the same files gives exactly what checking them
gives, and a changed file, changed checking code, a forged or broken entry or a cache turned
off all mean the files are checked anew. Nothing kept names a case.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from metrics import check_cache, scan
from metrics.kpis import compute_kpis
from metrics.load import load_dataset
from tests.foundation_export import replace_column
from tests.test_scan import ROW_RULES, build

KPIS = ["charge_rate", "days_to_charge", "repeat_suspect_share", "victim_updated_28d"]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private cache folder for this test (the suite runs with the cache off)."""
    folder = tmp_path / "cache"
    monkeypatch.setenv(check_cache.ENV, str(folder))
    return folder


@pytest.fixture
def export(export_copy: Path) -> Path:
    """A private copy of the small export (tests/conftest.py), which a test may break."""
    return export_copy


def entries(folder: Path) -> list[Path]:
    return sorted(folder.glob(f"*{check_cache.SUFFIX}"))


def count_checks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A list that grows by one each time the row checks really run."""
    runs: list[int] = []
    real = scan._rules_pass

    def counted(*args, **kwargs):
        runs.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(scan, "_rules_pass", counted)
    return runs


def assert_same_load(first, second) -> None:
    assert second.scan is not None and first.scan is not None
    assert second.report == first.report
    assert second.forces == first.forces
    assert second.as_at == first.as_at
    assert second.first_recorded == first.first_recorded
    for by in ("window", "month"):
        pd.testing.assert_frame_equal(
            compute_kpis(second, "2025-10", "2026-09", by=by, kpi_ids=KPIS),
            compute_kpis(first, "2025-10", "2026-09", by=by, kpi_ids=KPIS), check_exact=True)


def test_a_second_load_skips_the_checks_and_gives_the_same_dataset(
        export: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runs = count_checks(monkeypatch)
    first = load_dataset(export)
    assert len(runs) == 1 and len(entries(cache)) == 1
    second = load_dataset(export)
    assert len(runs) == 1, "the kept result was not used"
    assert_same_load(first, second)
    monkeypatch.setenv(check_cache.ENV, "off")
    assert_same_load(first, load_dataset(export))
    assert len(runs) == 2


def test_a_file_changed_after_it_was_kept_is_checked_again(
        export: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The attack: an export found clean once, then one row broken in place (same file
    name, same size class). The kept result must not vouch for the new bytes."""
    load_dataset(export)
    runs = count_checks(monkeypatch)
    path = export / "victim_updates.parquet"
    table = pq.read_table(path)
    ids = table.column("case_id").to_pylist()
    ids[0] = "C9999999"  # a case that does not exist: an error the loader must report
    pq.write_table(replace_column(table, "case_id",
                                  pa.array(ids, table.schema.field("case_id").type)), path)
    reloaded = load_dataset(export)
    assert len(runs) == 1
    assert reloaded.scan is None
    assert "dangling_foreign_key" in {p.rule for p in reloaded.report.problems}


def test_changed_checking_code_is_another_key(export: Path, cache: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    load_dataset(export)
    runs = count_checks(monkeypatch)
    monkeypatch.setattr(check_cache, "checker_version", lambda: "a rule changed")
    load_dataset(export)
    assert len(runs) == 1 and len(entries(cache)) == 2


@pytest.mark.parametrize("damage", ["not json", "wrong key", "wrong format", "bad rows",
                                    "an error", "other tables"])
def test_a_broken_or_forged_entry_is_ignored(export: Path, cache: Path,
                                             monkeypatch: pytest.MonkeyPatch,
                                             damage: str) -> None:
    first = load_dataset(export)
    (path,) = entries(cache)
    entry = json.loads(path.read_text())
    if damage == "not json":
        path.write_text("{")
    else:
        if damage == "wrong key":
            entry["key"] = "0" * 64
        elif damage == "wrong format":
            entry["format"] = 99
        elif damage == "bad rows":
            entry["rows_read"]["cases"] = "many"
        elif damage == "an error":
            entry["warnings"] = [["error", "cases.parquet", None, "x", 1, "forged"]]
        else:
            entry["rows_read"] = {"cases": 1}
        path.write_text(json.dumps(entry))
    runs = count_checks(monkeypatch)
    again = load_dataset(export)
    assert len(runs) == 1, "a damaged entry was trusted"
    assert again.report == first.report


def test_off_keeps_nothing(export: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(check_cache.ENV, "off")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    runs = count_checks(monkeypatch)
    load_dataset(export)
    load_dataset(export)
    assert len(runs) == 2
    assert not (tmp_path / "xdg").exists() and not (tmp_path / "home").exists()


def test_default_folder_is_private_under_xdg_cache_home(export: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(check_cache.ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    load_dataset(export)
    folder = tmp_path / "xdg" / "flightdeck"
    (path,) = entries(folder)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_an_unwritable_folder_only_means_no_cache(export: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the folder should be")
    monkeypatch.setenv(check_cache.ENV, str(blocker / "cache"))
    first = load_dataset(export)
    assert first.scan is not None and first.report.usable


def test_an_entry_holds_no_case_id(export: Path, cache: Path) -> None:
    load_dataset(export)
    (path,) = entries(cache)
    text = path.read_text()
    ids = pq.read_table(export / "cases.parquet", columns=["case_id", "suspect_id"])
    for column in ("case_id", "suspect_id"):
        assert not any(v in text for v in ids.column(column).to_pylist()[:500] if v)


@pytest.mark.parametrize("name", ["bail_breach_charged", "force_formula"])
def test_kept_row_warnings_load_the_same_twice(tmp_path: Path, cache: Path,
                                               monkeypatch: pytest.MonkeyPatch,
                                               name: str) -> None:
    """Warnings that keep the fast path: one with example ids is never kept (the checks run
    again); one without is kept and replayed word for word."""
    (mutation,) = [m for m in ROW_RULES if m.name == name]
    folder = build(tmp_path / "x", mutation)
    first = load_dataset(folder)
    assert first.scan is not None and mutation.rule in {p.rule for p in first.report.problems}
    runs = count_checks(monkeypatch)
    second = load_dataset(folder)
    with_examples = any(p.examples for p in first.report.problems)
    assert len(runs) == (1 if with_examples else 0)
    assert len(entries(cache)) == (0 if with_examples else 1)
    assert second.report == first.report


def test_old_entries_are_removed(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(check_cache, "MAX_ENTRIES", 3)
    for i in range(5):
        check_cache.write(f"{i:064d}", {"rows_read": {}})
    kept = entries(cache)
    assert len(kept) == 3
