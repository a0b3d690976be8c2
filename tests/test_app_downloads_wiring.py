"""The pages' downloads are wired to ``ui.downloads.download_buttons`` with the page's context
(AppTest): every download names its page (``page=ctx``), a breakdown or funnel its KPI, and
Compare forces downloads the funnel table (``present.export.funnel_download``: numerators,
denominators, rates and both limits), not the screen's table.
"""

from __future__ import annotations

import pandas as pd
import pytest

from metrics.load import load_dataset
from metrics.verdicts import funnel_table
from present import export

FORCE = "Gwent Police"
QUERY = {"force": FORCE, "window": "custom", "from": "2025-10", "to": "2026-09"}


@pytest.fixture
def calls(monkeypatch):
    """Every call of ``ui.downloads.download_buttons`` during the runs: (table, kwargs)."""
    import ui.downloads as dl

    seen: list[tuple[pd.DataFrame, dict]] = []

    def record(table, name=None, **kwargs):
        seen.append((table.copy(), {"name": name, **kwargs}))

    monkeypatch.setattr(dl, "download_buttons", record)
    return seen


def _open(app_test, page: str):
    at = app_test(**QUERY)
    at.run()
    at.switch_page(f"pages/{page}.py")
    at.run()
    assert not at.exception, at.exception
    return at


def test_compare_forces_downloads_the_funnel_table_with_its_kpi(app_test, calls,
                                                                 small_export):
    at = _open(app_test, "compare_forces")
    funnel = [(t, kw) for t, kw in calls if str(kw["name"]).endswith("_funnel")]
    assert funnel, [kw["name"] for _, kw in calls]
    table, kw = funnel[-1]
    assert kw["name"] == "charge_rate_funnel" and kw["kpi"] == "charge_rate"
    assert kw["page"].page_id == "compare_forces" and kw["access"] is not None
    assert list(table.columns) == ["kpi_id", "force", "numerator", "denominator", "value",
                                   "target", "lower_998", "lower_95", "upper_95", "upper_998",
                                   "position"]
    # the table the plot is drawn from (forces with status ok, their pooled rate the target)
    want = export.funnel_download(
        funnel_table(load_dataset(small_export), "charge_rate", "2025-10", "2026-09"),
        "charge_rate")
    pd.testing.assert_frame_equal(table.reset_index(drop=True), want.reset_index(drop=True))
    assert (table["lower_998"] <= table["lower_95"]).all()
    assert (table["upper_95"] <= table["upper_998"]).all()
    assert at.selectbox(key="fd_kpi").value == "charge_rate"


def test_a_page_download_without_a_kpi_still_names_its_page(app_test, calls):
    _open(app_test, "data_quality")
    assert calls, "the data quality page offers its tables"
    for _, kw in calls:
        assert kw["page"].page_id == "data_quality"
        assert "kpi" not in kw
