"""``metrics.safe_csv.write_csv`` writes a plain table's rows with DuckDB (faster than
pandas' writer on a KPI table of tens of thousands of rows); the bytes must be exactly those
pandas' ``to_csv`` gives, whatever the numbers and the text, and a table DuckDB could write
differently (booleans, dates, empty text, mixed cells) must go through pandas."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from metrics import safe_csv
from metrics.safe_csv import safe_frame, to_csv_text


def pandas_text(frame: pd.DataFrame) -> str:
    """What the writer gave before DuckDB: the neutralised frame through pandas."""
    return safe_frame(frame).to_csv(index=False, lineterminator="\n")


def duckdb_wrote(frame: pd.DataFrame) -> bool:
    return safe_csv._write_with_duckdb(safe_frame(frame), io.StringIO())


floats = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-1e6, max_value=1e6).map(lambda x: round(x, 6)),
    st.integers(min_value=-10**6, max_value=10**6).map(float),
    st.sampled_from([0.0, -0.0, 1e-5, 1e-4, 1e15, 1e16, 0.1 + 0.2, 1 / 3, float("nan")]))
texts = st.one_of(
    st.none(),
    st.text(min_size=1, max_size=12),
    st.sampled_from(['a,b', 'say "hi"', "two\nlines", "cr\rhere", " padded ", "=1+2", "-5",
                     "Devon & Cornwall", "Avon and Somerset Constabulary", "nan", "NULL",
                     "\t=1", "'quoted'", "é ü 中"]))


@st.composite
def tables(draw, text_cells: st.SearchStrategy = texts) -> pd.DataFrame:
    rows = draw(st.integers(min_value=1, max_value=30))
    return pd.DataFrame({
        "kpi_id": draw(st.lists(text_cells, min_size=rows, max_size=rows)),
        "value": np.array(draw(st.lists(floats, min_size=rows, max_size=rows)), dtype=float),
        "n": np.array(draw(st.lists(st.integers(-2**62, 2**62), min_size=rows,
                                    max_size=rows)), dtype=np.int64),
        "status": draw(st.lists(text_cells, min_size=rows, max_size=rows)),
    })


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables())
@example(pd.DataFrame({"kpi_id": ["a", None], "value": [float("nan"), -0.0], "n": [1, 2],
                       "status": ['x,"y"', "line\nbreak"]}))
def test_duckdb_rows_are_the_bytes_pandas_writes(frame: pd.DataFrame) -> None:
    assert to_csv_text(frame) == pandas_text(frame)


plain_texts = st.one_of(st.none(), st.text(
    alphabet=st.characters(blacklist_characters="#\r", blacklist_categories=("Cs",)),
    min_size=1, max_size=12))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables(plain_texts))
def test_tables_of_plain_text_take_duckdb_and_give_the_same_bytes(frame: pd.DataFrame) -> None:
    assert duckdb_wrote(frame)
    assert to_csv_text(frame) == pandas_text(frame)


def test_a_kpi_like_table_goes_through_duckdb() -> None:
    frame = pd.DataFrame({"kpi_id": ["charge_rate"] * 3, "force": ["A", "B", "All forces"],
                          "value": [0.25, float("nan"), 1 / 3], "n": [4, 0, 9],
                          "provisional": ["true", "false", "true"]})
    assert duckdb_wrote(frame)
    assert to_csv_text(frame) == pandas_text(frame)
    assert to_csv_text(frame).splitlines()[2] == "charge_rate,B,,0,false"


@pytest.mark.parametrize("column", [
    [True, False],                                   # bool: pandas writes True, DuckDB true
    pd.to_datetime(["2026-01-01", "2026-02-01"]),    # dates
    ["", "x"],                                       # empty text: DuckDB would quote it
    ["#", "x"],                                      # so would it "#" and a carriage return
    [1, "x"],                                        # mixed cells
    pd.Categorical([1, 2]),                          # categories that are not text
    pd.Categorical(["", "x"]),                       # empty text as a category
    np.array([1, 2], dtype=np.int32),
])
def test_other_columns_fall_back_to_pandas_with_the_same_bytes(column) -> None:
    frame = pd.DataFrame({"k": ["a", "b"], "c": column})
    assert not duckdb_wrote(frame)
    assert to_csv_text(frame) == pandas_text(frame)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables(plain_texts))
def test_text_as_categories_takes_duckdb_and_gives_the_bytes_of_the_same_text(
        frame: pd.DataFrame) -> None:
    as_categories = frame.assign(kpi_id=pd.Categorical(frame["kpi_id"]),
                                 status=pd.Categorical(frame["status"]))
    assert duckdb_wrote(as_categories)
    assert to_csv_text(as_categories) == pandas_text(frame)


def test_an_empty_table_falls_back() -> None:
    empty = pd.DataFrame({"a": pd.Series([], dtype=float)})
    assert not duckdb_wrote(empty)
    assert to_csv_text(empty) == "a\n"


@pytest.mark.parametrize("text", ["#1", "a\rb"])
def test_text_duckdb_would_quote_and_python_would_not_falls_back(text: str) -> None:
    frame = pd.DataFrame({"k": [text, "b"], "v": [1.0, 2.0]})
    assert not duckdb_wrote(frame)
    assert to_csv_text(frame) == pandas_text(frame)


def test_formula_cells_are_still_neutralised_on_the_duckdb_path() -> None:
    frame = pd.DataFrame({"force": ["=HYPERLINK(1)", "-2+3", "-5"], "value": [-0.05, 1.0, 2.0]})
    assert duckdb_wrote(frame)
    lines = to_csv_text(frame).splitlines()
    assert lines == ["force,value", "'=HYPERLINK(1),-0.05", "'-2+3,1.0", "-5,2.0"]
