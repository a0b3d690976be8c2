"""Figure builders and formatting on small synthetic frames (no Streamlit, no export)."""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go
import pytest

from present import charts, page_charts
from present.format import (
    OKABE_ITO,
    format_change,
    format_interval,
    format_value,
    gate_text,
    verdict,
)


def _spc_frame() -> pd.DataFrame:
    months = pd.period_range("2025-01", periods=8, freq="M")
    return pd.DataFrame({
        "month": months,
        "value": [0.10, 0.12, 0.11, 0.13, 0.25, 0.26, 0.27, 0.28],
        "centre": [0.115] * 4 + [0.265] * 4,
        "upper": [0.16] * 4 + [0.31] * 4,
        "lower": [0.07] * 4 + [0.22] * 4,
        "point_type": ["common_cause"] * 4 + ["special_cause_improvement"] * 3
        + ["special_cause_concern"],
    })


def test_charts_module_does_not_import_streamlit() -> None:
    source = open(charts.__file__, encoding="utf-8").read()
    assert "import streamlit" not in source and "from streamlit" not in source


def test_trend_chart_has_one_marker_trace_per_point_type_with_text_labels() -> None:
    fig = page_charts.trend_chart(_spc_frame(), unit="proportion", title="Charge rate")
    names = {t.name for t in fig.data if t.mode == "markers"}
    assert names == {"Common cause", "Improvement", "Concern"}
    improvement = next(t for t in fig.data if t.name == "Improvement")
    assert improvement.marker.color == OKABE_ITO["blue"]
    assert improvement.marker.symbol == "triangle-up"
    assert len(improvement.y) == 3
    assert fig.layout.yaxis.tickformat == ".0%"


def test_trend_chart_marks_the_adoption_month() -> None:
    fig = page_charts.trend_chart(_spc_frame(), unit="proportion",
                                  adoption=pd.Period("2025-05", "M"))
    assert any("Soteria adopted" in (a.text or "") for a in fig.layout.annotations)
    assert any(s.x0 == "2025-05-01" for s in fig.layout.shapes)


def test_trend_chart_limits_follow_the_rebased_frame() -> None:
    fig = page_charts.trend_chart(_spc_frame(), unit="proportion")
    centre = next(t for t in fig.data if t.name == "Mean")
    assert list(centre.y) == [0.115] * 4 + [0.265] * 4


def test_sparkline_marks_the_last_valid_point_and_keeps_gaps() -> None:
    months = pd.Series(pd.period_range("2025-01", periods=4, freq="M"))
    fig = charts.sparkline(months, pd.Series([1.0, math.nan, 3.0, math.nan]), "count")
    assert isinstance(fig, go.Figure)
    line, last = fig.data
    assert math.isnan(line.y[1])
    assert list(last.x) == ["2025-03-01"] and list(last.y) == [3.0]


def test_breakdown_chart_hides_gated_values_and_says_why() -> None:
    frame = pd.DataFrame({
        "group": ["Adult", "Child"], "value": [0.3, 0.9], "ci_low": [0.25, 0.5],
        "ci_high": [0.35, 0.99], "n": [200, 4], "status": ["ok", "insufficient"],
    })
    fig = charts.breakdown_chart(frame, unit="proportion")
    bar = fig.data[0]
    assert list(bar.y) == ["Adult", "Child (too few)"]
    assert bar.x[0] == 0.3 and math.isnan(bar.x[1])


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [(0.3456, "proportion", "34.6%"), (12.4, "days", "12 days"), (1.0, "days", "1 day"),
     (1234, "count", "1,234"), (8.25, "cases", "8.2 cases"), (None, "count", "–"),
     (math.nan, "proportion", "–")],
)
def test_format_value(value: float | None, unit: str, expected: str) -> None:
    assert format_value(value, unit) == expected


def test_format_interval() -> None:
    assert format_interval(0.301, 0.389, "proportion") == "95% CI 30.1–38.9%"
    assert format_interval(10, 14.2, "days") == "95% CI 10–14 days"
    assert format_interval(math.nan, 1, "days") == ""


@pytest.mark.parametrize(
    ("current", "previous", "unit", "better", "text", "judgement"),
    [
        (0.30, 0.25, "proportion", "higher", "+5.0 pts", "better"),
        (0.30, 0.25, "proportion", "lower", "+5.0 pts", "worse"),
        (20, 23, "days", "lower", "−3 days", "better"),
        (20, 20.2, "days", "lower", "no change", "same"),
        (5, 3, "count", "neutral", "+2", "neutral"),
        (5, None, "count", "higher", "no comparison", "none"),
    ],
)
def test_format_change(current, previous, unit, better, text, judgement) -> None:
    change = format_change(current, previous, unit, better)
    assert (change.text, change.judgement) == (text, judgement)


def test_gate_text_reads_as_the_issue_asks() -> None:
    assert gate_text(17, 30) == "n = 17 of 30 needed"
    assert gate_text(None, 10) == "n = 0 of 10 needed"


@pytest.mark.parametrize(
    ("point_type", "above", "text"),
    [
        ("common_cause", None, "● Common cause"),
        ("special_cause_improvement", True, "▲ Improvement"),
        ("special_cause_improvement", False, "▼ Improvement"),
        ("special_cause_concern", False, "▼ Concern"),
        ("special_cause_neutral_high", None, "▲ Unusually high"),
        (None, None, "– No SPC verdict"),
        ("nonsense", None, "– No SPC verdict"),
    ],
)
def test_every_verdict_has_an_icon_and_a_text_label(point_type, above, text) -> None:
    assert verdict(point_type, above).text == text


@pytest.mark.parametrize(("diff", "low", "high", "unit", "text"), [
    (0.012, -0.021, 0.045, "proportion", "+1.2 pts, −2.1 to +4.5"),
    (-3.2, -6.0, 1.0, "days", "−3 days, −6 to +1"),
    (0.4, -0.2, 1.0, "cases", "+0.4 cases, −0.2 to +1.0"),
    (12.0, -3.0, 27.0, "count", "+12, −3 to +27"),
    (0.0001, None, None, "proportion", "0.0 pts"),
    (None, None, None, "proportion", "no comparison"),
])
def test_format_difference_gives_the_change_with_its_interval(diff, low, high, unit, text):
    from present.format import format_difference

    assert format_difference(diff, low, high, unit) == text


def test_format_date_has_no_leading_zero_and_survives_junk() -> None:
    from datetime import date

    from present.format import format_date

    assert format_date(date(2027, 3, 2)) == "2 Mar 2027"
    assert format_date("not a date") == "–" and format_date(None) == "–"
