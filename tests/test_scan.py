"""The DuckDB fast path (`metrics.scan.clean_dataset`, taken by ``load_dataset``'s default
``engine="auto"``) gives exactly what the pandas loader gives, and declines every export in
which the pandas loader finds a row-level problem.

Each case writes a small synthetic export (tests/foundation_export.py, or the generator), loads
it both ways and compares the reports (problems in order, rows read and excluded), every table
(dtypes included), the as-at date and the force list. Declining is always allowed; accepting an
export the pandas loader would flag is the bug these tests look for.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import metrics.scan  # noqa: F401 - the fast path must exist: a missing module fails here
from metrics.contract import UK_TZ
from metrics.generate import generate
from metrics.load import load_dataset
from tests.foundation_export import replace_column, tables, write_export

D = date
# File-level findings: reported before any row is read, the same way on both paths; and the
# export.json date checks, made after the rows on both paths.
FILE_LEVEL = frozenset({"missing_optional_column", "survey_item_name", "survey_item_type",
                        "bad_export_json", "as_at_before_data", "as_at_in_future"})
# Rows-kept warnings: no row is excluded or blanked, so the fast path reports them itself,
# worded by the loader's own functions (and with the same example ids).
KEPT_ROWS = frozenset({"bail_breach_charged", "suspicious_text"})
Tabs = dict[str, pa.Table | None]


def assert_same(folder: Path) -> bool:
    """Load ``folder`` both ways, assert every observable result is equal, and return whether
    the fast path was taken."""
    fast = load_dataset(folder)
    slow = load_dataset(folder, engine="pandas")
    assert slow.scan is None
    assert fast.report.problems == slow.report.problems
    assert fast.report.rows_read == slow.report.rows_read
    assert fast.report.rows_excluded == slow.report.rows_excluded
    assert fast.report == slow.report
    assert set(fast.tables) == set(slow.tables)
    for name in slow.tables:
        pd.testing.assert_frame_equal(fast.tables[name], slow.tables[name], check_exact=True,
                                      obj=f"table {name}")
    assert fast.as_at == slow.as_at
    if "cases" in slow.tables:
        assert fast.forces == slow.forces
    return fast.scan is not None


def pandas_rules(folder: Path) -> set[str]:
    """The rule names the pandas loader reports for ``folder``."""
    return {p.rule for p in load_dataset(folder, engine="pandas").report.problems}


# --- mutations ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mutation:
    """One change to the foundation export: ``apply`` edits the tables before writing (None
    drops a file), ``after`` edits the written folder. ``rule``: what the pandas loader must
    then report (None: a clean export in an unusual but accepted form)."""

    name: str
    rule: str | None
    apply: Callable[[Tabs], None] = lambda tabs: None
    after: Callable[[Path], None] | None = None


def at(table: str, column: str, row: int, value: object) -> Callable[[Tabs], None]:
    """Set one cell (the column's Arrow type kept); a no-op when the table, column or row is
    gone (so mutations combine freely)."""

    def apply(tabs: Tabs) -> None:
        t = tabs.get(table)
        if t is None or column not in t.column_names or row >= t.num_rows:
            return
        values = t.column(column).to_pylist()
        values[row] = value
        try:  # the column's type; a no-op when an earlier mutation changed it
            arr = pa.array(values, t.schema.field(column).type)
        except (pa.ArrowException, TypeError, ValueError):
            return
        tabs[table] = replace_column(t, column, arr)

    return apply


def col(table: str, column: str, make: Callable[[pa.Table], pa.Array]) -> Callable[[Tabs], None]:
    """Replace a whole column with ``make(table)``; a no-op when it is gone (or when another
    mutation changed the row count)."""

    def apply(tabs: Tabs) -> None:
        t = tabs.get(table)
        if t is None or column not in t.column_names:
            return
        try:
            values = make(t)
        except pa.ArrowException:  # e.g. a cast of a column an earlier mutation changed
            return
        if len(values) == len(t):
            tabs[table] = replace_column(t, column, values)

    return apply


def edit(table: str, change: Callable[[pa.Table], pa.Table | None]) -> Callable[[Tabs], None]:
    """Replace a whole table with ``change(table)`` (None leaves the file out)."""

    def apply(tabs: Tabs) -> None:
        if tabs.get(table) is not None:
            try:
                tabs[table] = change(tabs[table])
            except pa.ArrowException:  # e.g. a cast an earlier mutation made impossible
                pass

    return apply


def drop(table: str, column: str) -> Callable[[Tabs], None]:
    """Leave ``column`` out of ``table`` (when still there)."""
    return edit(table, lambda t: t.drop_columns([column]) if column in t.column_names else t)


def add(table: str, column: str, values: pa.Array) -> Callable[[Tabs], None]:
    """Append an extra column (when not there yet and the row count still fits)."""
    return edit(table, lambda t: t if column in t.column_names or len(values) != t.num_rows
                else t.append_column(column, values))


def both(*steps: Callable[[Tabs], None]) -> Callable[[Tabs], None]:
    def apply(tabs: Tabs) -> None:
        for step in steps:
            step(tabs)

    return apply


def file_bytes(name: str, data: Callable[[bytes], bytes]) -> Callable[[Path], None]:
    """Rewrite a written file's bytes (when it was written)."""

    def after(folder: Path) -> None:
        f = folder / f"{name}.parquet"
        if f.exists():
            f.write_bytes(data(f.read_bytes()))

    return after


def text_file(name: str, text: str) -> Callable[[Path], None]:
    return lambda folder: (folder / name).write_text(text, encoding="utf-8")


def ts(*rows: datetime | None, tz: str | None = None) -> Callable[[pa.Table], pa.Array]:
    return lambda t: pa.array(list(rows), pa.timestamp("us", tz=tz))


ROW_RULES = [
    Mutation("force_missing", "missing_value", at("cases", "force", 0, None)),
    Mutation("contact_date_missing", "missing_value",
             at("victim_updates", "contact_date", 1, None)),
    Mutation("offence_group_unknown", "unknown_category",
             at("cases", "offence_group", 1, "burglary")),
    Mutation("victim_sex_unknown", "unknown_category", at("cases", "victim_sex", 0, "n/a")),
    Mutation("order_type_unknown", "unknown_category", at("orders", "order_type", 1, "ASBO")),
    Mutation("outcome_code_99", "unknown_category", at("cases", "outcome_code", 0, 99)),
    Mutation("outcome_code_0", "unknown_category", at("cases", "outcome_code", 3, 0)),
    Mutation("sickness_negative", "below_minimum", at("workforce", "sickness_days", 0, -1)),
    Mutation("fte_negative", "below_minimum", at("workforce", "in_post_fte", 0, -0.5)),
    Mutation("month_mid", "not_first_of_month", at("workforce", "month", 0, D(2024, 1, 15))),
    Mutation("date_1850", "date_out_of_range",
             at("cases", "needs_assessment_date", 0, D(1850, 1, 1))),
    Mutation("recorded_2300", "date_out_of_range", at("cases", "recorded_date", 2, D(2300, 1, 1))),
    Mutation("seized_1800", "date_out_of_range",
             at("devices", "seized_at", 1, datetime(1800, 1, 1, 9))),
    Mutation("seized_repeated_hour", "clock_change_hour", both(
        col("devices", "seized_at", ts(datetime(2024, 10, 27, 1, 30), datetime(2024, 2, 2, 9))),
        col("devices", "returned_at", ts(datetime(2024, 10, 28, 9), None)))),
    Mutation("seized_skipped_hour", "clock_change_hour", both(
        col("devices", "seized_at", ts(datetime(2024, 3, 31, 1, 30), datetime(2024, 2, 2, 9))),
        col("devices", "returned_at", ts(datetime(2024, 4, 2, 9), None)))),
    Mutation("survey_7", "survey_out_of_range", at("survey_responses", "q_kept_informed", 0, 7)),
    Mutation("survey_float_2_5", "survey_out_of_range", col(
        "survey_responses", "q_felt_believed", lambda t: pa.array([2.5, 4.0]))),
    Mutation("case_id_duplicate", "duplicate_id", at("cases", "case_id", 1, "C001")),
    Mutation("force_duplicate", "duplicate_id", at("forces", "force", 1, "Durham Constabulary")),
    # ids of no <PREFIX><digits> shape have no integer keys: their uniqueness is checked in SQL
    Mutation("device_id_duplicate_free_text", "duplicate_id", col(
        "devices", "device_id", lambda t: pa.array(["phone one"] * t.num_rows))),
    Mutation("update_dangling", "dangling_foreign_key",
             at("victim_updates", "case_id", 2, "C999")),
    Mutation("breach_dangling", "dangling_foreign_key", at("breaches", "order_id", 0, "O999")),
    Mutation("outcome_before_recorded", "outcome_before_recorded",
             at("cases", "outcome_date", 1, D(2024, 1, 1))),
    Mutation("early_advice_order", "early_advice_order",
             at("cases", "early_advice_received_date", 0, D(2024, 2, 1))),
    Mutation("isva_order", "isva_order", at("cases", "isva_start_date", 0, D(2024, 1, 1))),
    Mutation("granted_before_applied", "granted_before_applied",
             at("orders", "granted_date", 0, D(2024, 1, 1))),
    Mutation("returned_before_seized", "returned_before_seized",
             at("devices", "returned_at", 0, datetime(2024, 1, 5, 9))),
    Mutation("examined_before_seized", "examined_before_seized",
             at("devices", "examination_completed_date", 1, D(2024, 1, 1))),
    Mutation("outcome_without_date", "outcome_without_date",
             at("cases", "outcome_date", 0, None)),
    Mutation("date_without_outcome", "date_without_outcome",
             at("cases", "outcome_code", 0, None)),
    Mutation("early_advice_not_requested", "early_advice_not_requested",
             at("cases", "early_advice_requested_date", 0, None)),
    Mutation("bail_breach_charged", "bail_breach_charged", at("breaches", "action", 0, "charge")),
    Mutation("force_formula", "suspicious_text", at("cases", "force", 0, "=Durham")),
    Mutation("case_id_bidi", "suspicious_text", at("cases", "case_id", 0, "C0\u202e01")),
    Mutation("team_201", "suspicious_text", at("cases", "team", 2, "T" * 201)),
    # a formula-like id in a foreign-key column dangles: excluded before the text check
    Mutation("update_case_plus", "dangling_foreign_key",
             at("victim_updates", "case_id", 0, "+C001")),
    Mutation("order_id_plus", "suspicious_text", at("orders", "order_id", 1, "+O002")),
    Mutation("suspect_id_at", "suspicious_text", at("cases", "suspect_id", 3, "@S002")),
    Mutation("investigator_bidi", "suspicious_text",
             at("cases", "investigator_id", 0, "I0\u202e1")),
    Mutation("investigator_isolate", "suspicious_text",
             at("cases", "investigator_id", 1, "I\u2066001")),
    Mutation("investigator_c1_control", "suspicious_text",
             at("cases", "investigator_id", 2, "I\x85002")),
    Mutation("investigator_nul", "suspicious_text", at("cases", "investigator_id", 0, "I\x00")),
    Mutation("investigator_201_accented", "suspicious_text",
             at("cases", "investigator_id", 0, "\u00e9" * 201)),
    Mutation("team_tab", "suspicious_text", at("cases", "team", 0, "\tDUR-T01")),
    Mutation("force_newline_inside", "suspicious_text",
             at("cases", "force", 2, "Gwent\nPolice")),
    Mutation("workforce_team_minus", "suspicious_text", at("workforce", "team", 0, "-T01")),
    # a tz-aware seizure late on 1 June UTC is 2 June in the UK: examined "before" it
    Mutation("examined_before_tz_seizure", "examined_before_seized", col(
        "devices", "seized_at", ts(datetime(2024, 1, 6, 10, tzinfo=UTC),
                                   datetime(2024, 6, 1, 23, 30, tzinfo=UTC), tz=UK_TZ))),
    Mutation("returned_tz_before_naive_seizure", "returned_before_seized", both(
        at("devices", "seized_at", 0, datetime(2024, 6, 1, 12, 30)),  # 11:30 UTC
        col("devices", "returned_at", ts(datetime(2024, 6, 1, 11, 15, tzinfo=UTC), None,
                                         tz="UTC")))),
    Mutation("recorded_as_text", "wrong_type", col(
        "cases", "recorded_date", lambda t: pa.array(["2024-01-05"] * t.num_rows))),
    Mutation("outcome_fraction", "wrong_type", col(
        "cases", "outcome_code", lambda t: pa.array([1.5] + [None] * (t.num_rows - 1)))),
    Mutation("force_column_dropped", "missing_column",
             drop("cases", "force")),
    Mutation("cases_zero_rows", "no_rows", edit("cases", lambda t: t.slice(0, 0))),
    Mutation("cases_all_excluded", "no_rows", col(
        "cases", "force", lambda t: pa.array([None] * t.num_rows, pa.string()))),
    Mutation("cases_file_missing", "file_missing", edit("cases", lambda t: None)),
    Mutation("orders_is_csv", "not_parquet",
             after=file_bytes("orders", lambda b: b"order_id,case_id\nO001,C001\n")),
    Mutation("updates_truncated", "truncated",
             after=file_bytes("victim_updates", lambda b: b[: len(b) // 2])),
    Mutation("devices_empty", "empty_file", after=file_bytes("devices", lambda b: b"")),
]

# Clean exports in unusual but accepted forms: the fast path may take or decline them.
VARIANTS = [
    Mutation("seized_tz_aware", None, both(
        col("devices", "seized_at", ts(datetime(2024, 10, 27, 0, 30, tzinfo=UTC),
                                       datetime(2024, 3, 31, 1, 30, tzinfo=UTC), tz=UK_TZ)),
        col("devices", "returned_at", ts(datetime(2024, 10, 28, 9, tzinfo=UTC), None,
                                         tz=UK_TZ)))),
    Mutation("recorded_utc_timestamps", None, col("cases", "recorded_date", ts(
        datetime(2024, 1, 5, 12), datetime(2024, 2, 1), datetime(2024, 3, 1, 8),
        datetime(2024, 3, 31, 23, 30), tz="UTC"))),  # last: 2024-04-01 00:30 BST
    Mutation("date_as_naive_repeated_hour", None, col("cases", "s63g_applied_date", ts(
        None, None, None, datetime(2024, 10, 27, 1, 30)))),
    Mutation("suspect_id_integers", None, col(
        "cases", "suspect_id", lambda t: pa.array([1, 1, None, 2], pa.int64()))),
    Mutation("ids_large_string", None, col(
        "cases", "case_id", lambda t: t.column("case_id").cast(pa.large_string()))),
    Mutation("dates_date64", None, col(
        "orders", "applied_date", lambda t: t.column("applied_date").cast(pa.date64()))),
    Mutation("exam_same_uk_day_as_tz_seizure", None, both(
        col("devices", "seized_at", ts(datetime(2024, 1, 6, 10, tzinfo=UTC),
                                       datetime(2024, 6, 1, 23, 30, tzinfo=UTC), tz=UK_TZ)),
        at("devices", "examination_completed_date", 1, D(2024, 6, 2)))),
    Mutation("seized_new_york", None, col("devices", "seized_at", ts(
        datetime(2024, 1, 6, 10, tzinfo=UTC), datetime(2024, 2, 2, 9, tzinfo=UTC),
        tz="America/New_York"))),
    Mutation("seized_ns", None, col(
        "devices", "seized_at", lambda t: t.column("seized_at").cast(pa.timestamp("ns")))),
    Mutation("investigator_200_accented", None,
             at("cases", "investigator_id", 0, "\u00e9" * 200)),
    Mutation("fte_nan", None, at("workforce", "trainee_fte", 0, float("nan"))),
    Mutation("survey_zero_rows", None, edit("survey_responses", lambda t: t.slice(0, 0))),
    Mutation("workforce_zero_rows", None, edit("workforce", lambda t: t.slice(0, 0))),
    Mutation("extra_columns", None, add("cases", "victim_name", pa.array(["x"] * 4))),
    Mutation("columns_reversed", None, edit("cases", lambda t: t.select(t.column_names[::-1]))),
    Mutation("team_all_null", None, col("cases", "team", lambda t: pa.nulls(t.num_rows))),
    Mutation("device_ids_free_text_unique", None, col(
        "devices", "device_id", lambda t: pa.array([f"phone {i}" for i in range(t.num_rows)]))),
    Mutation("response_ids_of_two_widths", None, col(  # R1 and R01 are different ids
        "survey_responses", "response_id", lambda t: pa.array(["R1", "R01"][:t.num_rows]))),
]
# File-level findings (and type variants) that must keep the fast path.
FILE_LEVEL_CASES = [
    Mutation("team_column_dropped", "missing_optional_column",
             drop("cases", "team")),
    Mutation("survey_bad_name", "survey_item_name",
             add("survey_responses", "q_Bad Name", pa.array([1, 2], pa.int64()))),
    Mutation("survey_text_item", "survey_item_type",
             add("survey_responses", "q_comment", pa.array(["fine", "slow"]))),
    Mutation("export_json_bad_date", "bad_export_json",
             after=text_file("export.json", '{"as_at": "2024-13-45"}')),
    Mutation("export_json_good", None, after=text_file("export.json", '{"as_at": "2025-03-01"}')),
    Mutation("export_json_before_data", "as_at_before_data",  # cases run to 1 Feb 2025
             after=text_file("export.json", '{"as_at": "2025-01-15"}')),
    Mutation("export_json_in_future", "as_at_in_future",
             after=text_file("export.json", '{"as_at": "2999-01-01"}')),
    Mutation("devices_file_absent", None, edit("devices", lambda t: None)),
    Mutation("force_dictionary", None, col(
        "cases", "force", lambda t: t.column("force").combine_chunks().dictionary_encode())),
    Mutation("outcome_code_int64", None, col(
        "cases", "outcome_code", lambda t: t.column("outcome_code").cast(pa.int64()))),
    Mutation("workforce_all_int64", None, edit("workforce", lambda t: pa.table({
        n: (t.column(n).cast(pa.int64()) if pa.types.is_floating(t.column(n).type) and n != (
            "in_post_fte") else t.column(n)) for n in t.column_names}))),
]


def build(folder: Path, *mutations: Mutation) -> Path:
    """Write the foundation export with ``mutations`` applied in order; returns ``folder``."""
    tabs: Tabs = dict(tables())
    for m in mutations:
        m.apply(tabs)
    write_export(folder, **tabs)
    for m in mutations:
        if m.after is not None:
            m.after(folder)
    return folder


def check_decline(folder: Path) -> tuple[bool, set[str]]:
    """``assert_same`` plus: the fast path is never taken when the pandas loader reports
    anything beyond file-level and rows-kept warnings. Returns (fast path taken, pandas
    rules)."""
    taken = assert_same(folder)
    rules = pandas_rules(folder)
    if rules - FILE_LEVEL - KEPT_ROWS:
        assert not taken, f"fast path accepted an export the pandas loader flags: {rules}"
    return taken, rules


# --- tests ----------------------------------------------------------------------------------


def test_foundation_export_takes_the_fast_path(tmp_path: Path) -> None:
    """The hand-written clean export is accepted by the fast path and loads identically."""
    folder = write_export(tmp_path / "x")
    assert pandas_rules(folder) == set()
    assert assert_same(folder)


def test_generated_export_takes_the_fast_path(small_export: Path) -> None:
    """The generator's 8,000-case export is clean, taken by the fast path, and identical."""
    assert assert_same(small_export)


def test_generated_all_forces_export_takes_the_fast_path(tmp_path: Path) -> None:
    """A 3,000-case export of every force (other seed, incl. not-yet-adopted forces)."""
    generate(tmp_path / "all", cases=3000, seed=7, forces="all")
    assert assert_same(tmp_path / "all")


def test_fast_tables_are_a_read_only_mapping(tmp_path: Path) -> None:
    """On the fast path ``tables`` is a read-only Mapping that hands out one frame per table
    (materialised once, the same object on every access) and ``get``/``cases`` work."""
    ds = load_dataset(write_export(tmp_path / "x"))
    assert ds.scan is not None
    assert isinstance(ds.tables, Mapping)
    assert len(ds.tables) == 8 and "nope" not in ds.tables
    first = ds.tables["cases"]
    assert ds.tables["cases"] is first and ds.cases is first
    assert ds.get("nope") is None and ds.get("devices") is ds.tables["devices"]
    with pytest.raises(TypeError):
        ds.tables["cases"] = first  # type: ignore[index]
    with pytest.raises((TypeError, AttributeError)):
        del ds.tables["cases"]  # type: ignore[attr-defined]


def test_generated_export_with_a_dangling_key_is_declined(export_copy: Path) -> None:
    """A copy of the generated export with one bad row: declined, same report."""
    import pyarrow.parquet as pq

    f = export_copy / "victim_updates.parquet"
    t = pq.read_table(f)
    ids = t.column("case_id").to_pylist()
    ids[0] = "C9999999"
    pq.write_table(replace_column(t, "case_id", pa.array(ids, t.schema.field("case_id").type)),
                   f)
    taken, rules = check_decline(export_copy)
    assert "dangling_foreign_key" in rules and not taken


@pytest.mark.parametrize("mutation", ROW_RULES, ids=lambda m: m.name)
def test_each_rule_is_declined_with_the_same_report(tmp_path: Path, mutation: Mutation) -> None:
    """Each mutation really breaks its rule under the pandas loader; the auto loader gives the
    same report and tables; the fast path declines every export whose rows a rule excludes or
    blanks, and takes (reporting the same warning) one whose rows a rule only counts."""
    folder = build(tmp_path / "x", mutation)
    taken, rules = check_decline(folder)
    assert mutation.rule in rules, rules
    # a rows-kept warning alone keeps the fast path (same report); any other rule declines it
    assert taken == (rules <= FILE_LEVEL | KEPT_ROWS), (taken, rules)


@pytest.mark.parametrize("mutation", VARIANTS, ids=lambda m: m.name)
def test_accepted_forms_load_the_same(tmp_path: Path, mutation: Mutation) -> None:
    """Clean exports in other accepted Arrow forms (tz-aware timestamps, timestamps for dates,
    integer ids, large strings, date64, an all-null column): no problem under the pandas
    loader and identical results whichever path the auto loader took."""
    folder = build(tmp_path / "x", mutation)
    assert pandas_rules(folder) == set()
    check_decline(folder)


@pytest.mark.parametrize("mutation", FILE_LEVEL_CASES, ids=lambda m: m.name)
def test_file_level_findings_keep_the_fast_path(tmp_path: Path, mutation: Mutation) -> None:
    """File-level warnings (a missing optional column or file, unusable q_ columns, a bad
    export.json) and plain type variants keep the fast path with the same report."""
    folder = build(tmp_path / "x", mutation)
    rules = pandas_rules(folder)
    assert rules <= FILE_LEVEL
    assert rules == ({mutation.rule} if mutation.rule else set())
    assert assert_same(folder)


@settings(max_examples=25, deadline=None)
@given(mutations=st.lists(st.sampled_from(ROW_RULES + VARIANTS + FILE_LEVEL_CASES),
                          max_size=3))
def test_random_mutations_load_the_same(mutations: list[Mutation]) -> None:
    """Any 0-3 mutations together: identical results, and the fast path only when the pandas
    loader found nothing beyond file-level warnings."""
    with tempfile.TemporaryDirectory() as tmp:
        check_decline(build(Path(tmp) / "x", *mutations))


def test_an_export_rewritten_after_loading_never_reaches_the_kpis(export_copy: Path) -> None:
    """The fast path serves a private snapshot of the files it checked: rewriting the export
    in place afterwards (a broken extract landing while the app keeps the last good one)
    changes no figure of the loaded Dataset, and the snapshot goes with the Dataset."""
    import gc

    import pyarrow.parquet as pq

    from metrics.kpis import compute_kpis

    ds = load_dataset(export_copy)
    assert ds.parquet is not None
    before = compute_kpis(ds, "2025-10", "2026-09", kpi_ids=["charge_rate", "days_to_charge"])
    cases = pq.read_table(export_copy / "cases.parquet")
    pq.write_table(cases.slice(0, 10), export_copy / "cases.parquet")  # in place, same path
    (export_copy / "orders.parquet").write_bytes(b"not parquet")
    after = compute_kpis(ds, "2025-10", "2026-09", kpi_ids=["charge_rate", "days_to_charge"])
    pd.testing.assert_frame_equal(before, after)
    assert len(ds.tables["cases"]) == len(cases)
    snapshot = ds.parquet.files["cases"].parent
    assert snapshot != export_copy and snapshot.exists()
    del ds, before, after
    gc.collect()
    assert not snapshot.exists()


def test_a_snapshot_left_by_a_killed_process_is_removed(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A process killed while serving an export leaves its snapshot behind: the next load
    removes the snapshots of processes that are gone, and keeps those of live ones."""
    import os
    import subprocess
    import sys
    import tempfile

    from metrics.scan import SNAPSHOT_PREFIX

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)
    stale = tmp_path / f"{SNAPSHOT_PREFIX}{int(ended.stdout)}-abc"
    live = tmp_path / f"{SNAPSHOT_PREFIX}{os.getpid()}-def"
    for folder in (stale, live):
        folder.mkdir()
        (folder / "cases.parquet").write_bytes(b"victim data")
    ds = load_dataset(write_export(tmp_path / "x"))
    assert ds.parquet is not None
    assert not stale.exists() and live.exists()
