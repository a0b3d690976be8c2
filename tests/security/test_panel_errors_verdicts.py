"""A suppressed tile shows no SPC verdict worked out from unrounded history (issue 15, item 9).

The attack: a panel tile whose value was suppressed still said "improving" or "deteriorating",
a verdict the SPC rules had worked out from the exact monthly counts, so the hidden history
leaked as a word. The verdicts engine's ``kpi_verdicts(audience="panel")`` works from the
disclosed figures; here every KPI a panel sees suppressed must carry no direction verdict
and no tested change, both in that table and on the flight deck a panel link opens (where the
tile's detail line must not carry SPC evidence either). The internal view of the same window
gives some of those KPIs a direction, so the check is not vacuous.
"""

from __future__ import annotations

import math

import pytest

from tests.security.apptest_helpers import REPO, deck_tiles, open_app, panel_query

FORCE, START, END = "Gwent Police", "2025-01", "2025-03"
DIRECTIONS = {"improving", "deteriorating", "mixed"}


def _empty(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value == ""


@pytest.fixture(scope="module")
def verdict_tables():
    from metrics.load import load_dataset
    from metrics.verdicts import kpi_verdicts

    dataset = load_dataset(REPO / "data" / "sample")
    panel = kpi_verdicts(dataset, START, END, force=FORCE, audience="panel")
    internal = kpi_verdicts(dataset, START, END, force=FORCE, audience="internal")
    return panel, internal


def test_kpi_verdicts_gives_a_suppressed_kpi_no_spc_verdict(verdict_tables):
    panel, internal = verdict_tables
    hidden = panel[panel["status"] == "suppressed"]
    assert len(hidden) >= 3
    for row in hidden.itertuples(index=False):
        assert row.verdict not in DIRECTIONS, (row.kpi_id, row.verdict)
        assert row.change_verdict not in ("better", "worse", "higher", "lower"), row.kpi_id
        assert _empty(row.value) and _empty(row.ci_low) and _empty(row.ci_high)
    directed = internal.set_index("kpi_id").loc[hidden["kpi_id"], "verdict"]
    assert directed.isin(DIRECTIONS).any(), "no suppressed KPI has an internal direction"


def test_a_panel_deck_shows_no_direction_on_a_suppressed_tile(monkeypatch, tmp_path,
                                                              verdict_tables):
    monkeypatch.setenv("FLIGHTDECK_DATA", str(REPO / "data" / "sample"))
    monkeypatch.setenv("FLIGHTDECK_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    monkeypatch.delenv("FLIGHTDECK_SECRET", raising=False)
    panel = deck_tiles(open_app(panel_query(FORCE, START, END, pages=("flight_deck",))))
    internal = dict(zip(verdict_tables[1]["kpi_id"], verdict_tables[1]["verdict"],
                        strict=True))
    assert panel, "the flight deck's tiles were not found"
    hidden = [k for k, (value, verdict, _text) in panel.items()
              if verdict == "suppressed" or value in ("–", "*", "")]
    assert len(hidden) >= 3
    for kpi_id in hidden:
        assert panel[kpi_id][1] not in DIRECTIONS, (kpi_id, panel[kpi_id])
        assert "process limits" not in panel[kpi_id][2], (kpi_id, panel[kpi_id])
    assert any(internal.get(k) in DIRECTIONS for k in hidden)
