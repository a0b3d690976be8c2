"""Every month's SPC point type against an independent chart written from the words.

``tests/reference/spc_by_hand.py`` was written from docs/methods.md and NHSRplotthedots' R
source by a checker who did not read the chart's code. It found that the monitoring chart
took moving ranges across gated months, which the methods say it must not; agreement on every
month of every KPI, force and scope is evidence that the chart does what the methods say.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from metrics.kpis import compute_kpis
from metrics.load import load_dataset
from tests.reference.spc_by_hand import reference_point_types

START, END = "2023-10", "2026-09"  # the 36 months of the default monitoring chart


@pytest.mark.parametrize("scope", ["all", "child"])
def test_every_months_point_type_agrees_with_the_reference(small_export: Path,
                                                          scope: str) -> None:
    table = compute_kpis(load_dataset(small_export), START, END, by="month", scope=scope)
    want = reference_point_types(table, small_export)
    got = table["spc"]
    typed = want.notna()
    assert typed.sum() > 3000 and (~typed).sum() > 500  # charted months, and gaps among them
    differ = table.loc[want.fillna("") != got.fillna(""), ["kpi_id", "force", "window_start"]]
    assert differ.empty, differ.assign(reference=want[differ.index],
                                       ours=got[differ.index]).head(10).to_string()
    assert set(got.dropna()) >= {"common_cause", "special_cause_improvement",
                                "special_cause_concern"}
