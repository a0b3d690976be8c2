"""The contract declaration: consistent with itself, with Dataset, and with its document."""

from __future__ import annotations

from pathlib import Path

from metrics import contract
from metrics.contract import (
    DATE_ORDERS,
    FOREIGN_KEYS,
    KINDS,
    REQUIRES,
    TABLE_BY_NAME,
    TABLES,
    contract_markdown,
)
from metrics.dataset import TABLE_NAMES

DOC = Path(__file__).resolve().parents[1] / "docs" / "data-contract.md"


def test_doc_is_generated_from_the_declaration() -> None:
    assert DOC.read_text() == contract_markdown(), (
        "docs/data-contract.md is stale: run `python -m metrics.contract > "
        "docs/data-contract.md`")


def test_tables_match_dataset_table_names() -> None:
    assert tuple(t.name for t in TABLES) == TABLE_NAMES
    assert [t.name for t in TABLES if t.required] == ["cases"]


def test_every_column_is_well_formed() -> None:
    for t in TABLES:
        names = [c.name for c in t.columns]
        assert len(names) == len(set(names)), t.name
        assert t.key in names
        for c in t.columns:
            assert c.kind in KINDS, (t.name, c.name)
            if c.unique:
                assert c.required and not c.nullable, (t.name, c.name)
            if not c.nullable:
                assert c.required, (t.name, c.name)


def test_rules_name_real_columns() -> None:
    for fk in FOREIGN_KEYS:
        TABLE_BY_NAME[fk.table].column(fk.column)
        assert TABLE_BY_NAME[fk.ref_table].column(fk.ref_column).unique
    for d in DATE_ORDERS:
        t = TABLE_BY_NAME[d.table]
        assert {t.column(d.earlier).kind, t.column(d.later).kind} <= {"date", "timestamp"}
        assert d.target in (d.earlier, d.later)
    for r in REQUIRES:
        t = TABLE_BY_NAME[r.table]
        t.column(r.column), t.column(r.needs)
        assert r.target in (r.column, r.needs)


def test_allowed_values_follow_the_issue() -> None:
    cases = TABLE_BY_NAME["cases"]
    assert cases.column("offence_group").allowed == ("rape", "sexual_assault",
                                                     "other_sexual_offence")
    assert cases.column("outcome_code").allowed == tuple(range(1, 23))
    assert len(contract.HO_OFFENCE_CODES) == 23
    assert TABLE_BY_NAME["breaches"].column("action").allowed == (
        "arrest", "charge", "warning", "no_action")
    assert TABLE_BY_NAME["forces"].column("cohort").allowed == (
        "pathfinder", "expansion", "national")
    assert [c.name for c in TABLE_BY_NAME["workforce"].columns][3:] == [
        "establishment_fte", "in_post_fte", "trainee_fte", "headcount",
        "specialist_trained_headcount", "sickness_days", "available_days", "screening_due",
        "screening_done"]
