"""A row excluded for a dangling key also drops the rows that reference it (breach -> order
-> case)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from metrics.load import load_dataset

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


def test_breach_of_an_excluded_order_is_excluded(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    shutil.copytree(SAMPLE, folder)
    orders = pq.read_table(folder / "orders.parquet")
    breaches = pq.read_table(folder / "breaches.parquet")
    order_id = breaches.column("order_id")[0].as_py()
    at = orders.column("order_id").to_pylist().index(order_id)
    case_ids = orders.column("case_id").to_pylist()
    case_ids[at] = "C9999999"
    field = orders.schema.get_field_index("case_id")
    orders = orders.set_column(field, "case_id",
                               pa.array(case_ids, orders.schema.field("case_id").type))
    pq.write_table(orders, folder / "orders.parquet")
    ds = load_dataset(folder)
    rules = {(p.file, p.rule) for p in ds.report.problems}
    assert ("breaches.parquet", "dangling_foreign_key") in rules
    assert order_id not in set(ds.tables["breaches"]["order_id"])
    assert set(ds.tables["breaches"]["order_id"]) <= set(ds.tables["orders"]["order_id"])


