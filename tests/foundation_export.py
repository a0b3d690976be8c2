"""A tiny, hand-written valid export for the contract and loader tests (synthetic ids only).

``write_export(folder, **overrides)`` writes all eight files; pass ``name=pa.Table`` to replace
one table or ``name=None`` to leave that file out. ``tables()`` returns the default tables so a
test can change one column and write it back.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

D = date


def tables() -> dict[str, pa.Table]:
    """The default valid tables, small enough to reason about by hand."""
    cases = pa.table({
        "case_id": ["C001", "C002", "C003", "C004"],
        "force": ["Durham Constabulary", "Durham Constabulary", "Gwent Police", "Gwent Police"],
        "offence_group": ["rape", "sexual_assault", "rape", "other_sexual_offence"],
        "ho_offence_code": ["19C", "17A", None, "23"],
        "recorded_date": pa.array([D(2024, 1, 5), D(2024, 2, 1), D(2024, 3, 1), D(2024, 4, 1)]),
        "victim_age_band": ["18-24", None, "25-34", "0-15"],
        "victim_sex": ["female", "female", None, "male"],
        "victim_ethnicity": ["White", "not_stated", "Asian", None],
        "suspect_id": ["S001", "S001", None, "S002"],
        "suspect_arrested": pa.array([True, False, None, True]),
        "outcome_code": pa.array([1, 14, None, 15], pa.int32()),
        "outcome_date": pa.array([D(2025, 2, 1), D(2024, 5, 1), None, D(2024, 9, 1)]),
        "investigator_id": ["I001", "I001", "I002", None],
        "team": ["DUR-T01", "DUR-T01", "GWE-T01", None],
        "early_advice_requested_date": pa.array([D(2024, 3, 1), None, None, None]),
        "early_advice_received_date": pa.array([D(2024, 3, 20), None, None, None]),
        "needs_assessment_date": pa.array([D(2024, 1, 8), D(2024, 2, 20), None, D(2024, 4, 2)]),
        "isva_referral_date": pa.array([D(2024, 1, 6), None, None, None]),
        "isva_start_date": pa.array([D(2024, 1, 20), None, None, None]),
        "nfa_explained_in_person": pa.array([None, True, None, False]),
        "s63g_applied_date": pa.array([None, None, None, D(2024, 9, 20)], pa.date32()),
    })
    victim_updates = pa.table({
        "case_id": ["C001", "C001", "C003"],
        "contact_date": pa.array([D(2024, 1, 10), D(2024, 3, 1), D(2024, 3, 5)]),
        "channel": ["phone", "email", "in_person"],
    })
    orders = pa.table({
        "order_id": ["O001", "O002"],
        "case_id": ["C001", "C004"],
        "force": ["Durham Constabulary", "Gwent Police"],
        "order_type": ["pre_charge_bail", "SHPO"],
        "applied_date": pa.array([D(2024, 1, 6), D(2024, 5, 1)]),
        "granted_date": pa.array([D(2024, 1, 6), None]),
    })
    breaches = pa.table({
        "breach_id": ["B001"],
        "order_id": ["O001"],
        "force": ["Durham Constabulary"],
        "breach_date": pa.array([D(2024, 2, 10)]),
        "action": ["arrest"],
    })
    devices = pa.table({
        "device_id": ["D001", "D002"],
        "case_id": ["C001", "C002"],
        "force": ["Durham Constabulary", "Durham Constabulary"],
        "owner": ["victim", "suspect"],
        "seized_at": pa.array([datetime(2024, 1, 6, 10, 0), datetime(2024, 2, 2, 9, 0)],
                              pa.timestamp("us")),
        "returned_at": pa.array([datetime(2024, 1, 7, 9, 0), None], pa.timestamp("us")),
        "examination_completed_date": pa.array([None, D(2024, 6, 1)], pa.date32()),
    })
    survey = pa.table({
        "response_id": ["R001", "R002"],
        "force": ["Durham Constabulary", "Gwent Police"],
        "response_date": pa.array([D(2024, 6, 1), D(2024, 7, 1)]),
        "q_treated_with_respect": pa.array([5, 2], pa.int64()),
        "q_kept_informed": pa.array([4, None], pa.int64()),
        "q_felt_believed": pa.array([3, 4], pa.int64()),
        "q_would_report_again": pa.array([5, 1], pa.int64()),
        "q_closure_met_in_person": pa.array([True, None]),
    })
    forces = pa.table({
        "force": ["Durham Constabulary", "Gwent Police"],
        "soteria_adoption_date": pa.array([D(2021, 7, 1), None]),
        "cohort": ["pathfinder", "national"],
    })
    workforce = pa.table({
        "force": ["Durham Constabulary"],
        "team": ["DUR-T01"],
        "month": pa.array([D(2024, 1, 1)]),
        "establishment_fte": [20.0],
        "in_post_fte": [18.5],
        "trainee_fte": [3.0],
        "headcount": pa.array([19], pa.int64()),
        "specialist_trained_headcount": pa.array([10], pa.int64()),
        "sickness_days": pa.array([12], pa.int64()),
        "available_days": pa.array([380], pa.int64()),
        "screening_due": pa.array([3], pa.int64()),
        "screening_done": pa.array([2], pa.int64()),
    })
    return {"cases": cases, "victim_updates": victim_updates, "orders": orders,
            "breaches": breaches, "devices": devices, "survey_responses": survey,
            "forces": forces, "workforce": workforce}


def replace_column(table: pa.Table, name: str, values: pa.Array | list) -> pa.Table:
    """``table`` with column ``name`` replaced (type inferred from a plain list)."""
    arr = values if isinstance(values, pa.Array) else pa.array(values)
    return table.set_column(table.schema.get_field_index(name), name, arr)


def write_export(folder: Path, **overrides: pa.Table | None) -> Path:
    """Write the default tables into ``folder`` with ``overrides``; returns ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    all_tables = tables()
    all_tables.update(overrides)
    for name, table in all_tables.items():
        if table is not None:
            pq.write_table(table, folder / f"{name}.parquet")
    return folder
