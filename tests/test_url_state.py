"""URL state: decoding query parameters into a view, encoding it back, and window arithmetic."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from metrics.windows import comparison_window, describe_window, latest_complete_month
from ui.state import (
    ALL_FORCES,
    DEFAULT_COMPARE,
    DEFAULT_WINDOW,
    Choices,
    ViewState,
    decode,
    default_force,
    encode,
    parse_month,
    window_bounds,
)

CHOICES = Choices(
    forces=["Avon and Somerset", "Durham", "South Wales"],
    first_month=pd.Period("2023-01", "M"),
    last_month=pd.Period("2026-09", "M"),
    kpi_ids=["charge_rate", "survey_felt_believed"],
)
P = pd.Period


def test_empty_url_gives_the_default_view_without_notes() -> None:
    state, notes = decode({}, CHOICES)
    assert state == ViewState()
    assert state.force == ALL_FORCES and state.window == DEFAULT_WINDOW
    assert state.compare == DEFAULT_COMPARE
    assert notes == []


def test_a_full_valid_url_restores_every_field() -> None:
    params = {"force": "Durham", "window": "custom", "from": "2025-01", "to": "2025-06",
              "compare": "year_ago", "pillar": "3", "kpi": "survey_felt_believed"}
    state, notes = decode(params, CHOICES)
    assert notes == []
    assert state == ViewState("Durham", "custom", "2025-01", "2025-06", "year_ago", 3,
                              "survey_felt_believed")


@pytest.mark.parametrize(
    "state",
    [
        ViewState(),
        ViewState(force="South Wales", window="last_month", compare="year_ago"),
        ViewState(force="Durham", window="custom", start="2023-01", end="2026-09"),
        ViewState(window="last_12_months", pillar=6, kpi="charge_rate"),
        ViewState(force=ALL_FORCES, window="custom", start="2026-09", end="2026-09"),
    ],
)
def test_decode_inverts_encode(state: ViewState) -> None:
    decoded, notes = decode(encode(state), CHOICES)
    assert decoded == state
    assert notes == []


def test_encode_omits_custom_months_for_a_named_window() -> None:
    params = encode(ViewState(window="last_month", start="2025-01", end="2025-02"))
    assert "from" not in params and "to" not in params
    assert params == {"force": ALL_FORCES, "window": "last_month", "compare": "previous"}


@pytest.mark.parametrize(
    ("params", "field", "expected", "note_fragment"),
    [
        ({"force": "Atlantis"}, "force", ALL_FORCES, "Atlantis"),
        ({"force": "durham"}, "force", ALL_FORCES, "durham"),  # names are case-sensitive
        ({"window": "fortnight"}, "window", DEFAULT_WINDOW, "fortnight"),
        ({"compare": "lastyear"}, "compare", DEFAULT_COMPARE, "lastyear"),
        ({"pillar": "7"}, "pillar", None, "Pillar '7'"),
        ({"pillar": "two"}, "pillar", None, "Pillar 'two'"),
        ({"pillar": "-1"}, "pillar", None, "Pillar '-1'"),
        ({"kpi": "made_up"}, "kpi", None, "made_up"),
        ({"kpi": "<script>"}, "kpi", None, "<script>"),
        ({"scope": "evil"}, "scope", "all", "showing All RASSO."),  # the acronym kept
    ],
)
def test_bad_values_fall_back_with_a_note(
    params: dict, field: str, expected: object, note_fragment: str
) -> None:
    state, notes = decode(params, CHOICES)
    assert getattr(state, field) == expected
    assert len(notes) == 1 and note_fragment in notes[0]


@pytest.mark.parametrize(
    ("start", "end", "note_fragment"),
    [
        ("2025-13", "2025-06", "not a month"),
        ("2025/01", "2025-06", "not a month"),
        ("2025-06", "2025-01", "runs backwards"),
        ("2022-12", "2025-01", "must lie between 2023-01 and 2026-09"),
        ("2025-01", "2026-10", "must lie between"),  # a stale link: month not yet complete
        ("2025-01", None, "needs both"),
        (None, None, "needs both"),
    ],
)
def test_bad_custom_window_falls_back_to_the_default_window(
    start: str | None, end: str | None, note_fragment: str
) -> None:
    params = {"window": "custom", "from": start, "to": end}
    state, notes = decode({k: v for k, v in params.items() if v is not None}, CHOICES)
    assert state.window == DEFAULT_WINDOW and state.start is None and state.end is None
    assert any(note_fragment in n for n in notes)
    assert any("instead" in n for n in notes)


def test_from_and_to_without_custom_window_are_ignored_with_a_note() -> None:
    state, notes = decode({"window": "last_month", "from": "2025-01", "to": "2025-02"}, CHOICES)
    assert state.window == "last_month" and state.start is None
    assert notes and "custom" in notes[0]


def test_repeated_parameters_take_the_last_value() -> None:
    state, notes = decode({"force": ["Durham", "South Wales"]}, CHOICES)
    assert state.force == "South Wales" and notes == []


def test_several_bad_values_give_one_note_each() -> None:
    _, notes = decode({"force": "X", "window": "Y", "compare": "Z"}, CHOICES)
    assert len(notes) == 3


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2026-01", P("2026-01", "M")), ("2026-12", P("2026-12", "M")), ("2026-00", None),
     ("26-01", None), ("2026-1", None), ("abcd-ef", None), ("", None), (None, None),
     (202601, None)],
)
def test_parse_month(text: object, expected: pd.Period | None) -> None:
    assert parse_month(text) == expected


@pytest.mark.parametrize(
    ("as_at", "expected"),
    [(date(2026, 9, 30), "2026-09"), (date(2026, 9, 29), "2026-08"), (date(2024, 2, 29), "2024-02"),
     (date(2026, 1, 1), "2025-12")],
)
def test_latest_complete_month(as_at: date, expected: str) -> None:
    assert latest_complete_month(as_at) == P(expected, "M")


def test_latest_complete_month_of_no_data_is_none() -> None:
    assert latest_complete_month(None) is None


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (ViewState(window="last_month"), ("2026-09", "2026-09")),
        (ViewState(window="last_quarter"), ("2026-07", "2026-09")),
        (ViewState(window="last_12_months"), ("2025-10", "2026-09")),
        (ViewState(window="custom", start="2024-02", end="2024-05"), ("2024-02", "2024-05")),
    ],
)
def test_window_bounds(state: ViewState, expected: tuple[str, str]) -> None:
    assert window_bounds(state, P("2026-09", "M")) == (P(expected[0], "M"), P(expected[1], "M"))


@pytest.mark.parametrize(
    ("window", "compare", "expected"),
    [
        (("2026-09", "2026-09"), "previous", ("2026-08", "2026-08")),
        (("2026-07", "2026-09"), "previous", ("2026-04", "2026-06")),
        (("2025-10", "2026-09"), "previous", ("2024-10", "2025-09")),
        (("2026-07", "2026-09"), "year_ago", ("2025-07", "2025-09")),
        (("2026-01", "2026-02"), "previous", ("2025-11", "2025-12")),
    ],
)
def test_comparison_window(
    window: tuple[str, str], compare: str, expected: tuple[str, str]
) -> None:
    start, end = (P(m, "M") for m in window)
    assert comparison_window(start, end, compare) == (P(expected[0], "M"), P(expected[1], "M"))


def test_describe_window() -> None:
    assert describe_window(P("2026-07", "M"), P("2026-09", "M")) == "Jul 2026 to Sep 2026"
    assert describe_window(P("2026-09", "M"), P("2026-09", "M")) == "Sep 2026"


def test_choices_months_lists_every_month_inclusive() -> None:
    months = Choices([], P("2025-11", "M"), P("2026-02", "M")).months
    assert months == ["2025-11", "2025-12", "2026-01", "2026-02"]


@pytest.mark.parametrize("scope", ["adult_rape", "child"])
def test_scope_is_read_from_the_url_and_written_back(scope: str) -> None:
    state, notes = decode({"scope": scope}, CHOICES)
    assert notes == [] and state.scope == scope
    assert encode(state)["scope"] == scope
    assert decode(encode(state), CHOICES)[0] == state


def test_default_scope_is_all_and_stays_out_of_the_url() -> None:
    state, _ = decode({}, CHOICES)
    assert state.scope == "all"
    assert "scope" not in encode(state)


def test_unknown_scope_falls_back_to_all_with_a_note() -> None:
    state, notes = decode({"scope": "adults"}, CHOICES)
    assert state.scope == "all"
    assert len(notes) == 1 and "adults" in notes[0] and "all" in notes[0]


def test_a_one_force_export_defaults_to_its_force_and_falls_back_to_it() -> None:
    # a force's own export: "All forces" would be the same figures under another name
    one = Choices(forces=["Durham"], first_month=P("2023-01"), last_month=P("2026-09"))
    state, notes = decode({}, one)
    assert state.force == "Durham" and notes == []
    state, notes = decode({"force": "Kent"}, one)
    assert state.force == "Durham"
    assert notes == ["Force 'Kent' is not in this export; showing Durham."]
    assert decode({"force": ALL_FORCES}, one)[0].force == ALL_FORCES  # still reachable
    assert default_force(CHOICES.forces) == ALL_FORCES and default_force([]) == ALL_FORCES


def test_a_window_before_the_exports_first_month_is_said() -> None:
    from metrics.windows import coverage_note

    may = P("2026-05")
    # the previous quarter (Apr-Jun) begins before May: the comparison holds two of 3 months
    note = coverage_note(may, P("2026-07"), P("2026-09"), P("2026-04"), P("2026-06"))
    assert note == ("This export's data starts in May 2026, so the comparison window (Apr 2026 "
                    "to Jun 2026) holds only part of its months: read each change against it "
                    "with care.")
    # the window itself before the data: its own figures are partial too
    assert coverage_note(may, P("2026-04"), P("2026-06"), P("2026-01"), P("2026-03")) \
        .startswith("This export's data starts in May 2026, so the window (Apr 2026 to Jun "
                    "2026) holds only part of its months")
    # both covered (a window may start in the first month), or nothing known: no note
    assert coverage_note(may, P("2026-08"), P("2026-09"), P("2026-06"), P("2026-07")) is None
    assert coverage_note(may, P("2026-06"), P("2026-08"), P("2026-05"), P("2026-05")) is None
    assert coverage_note(None, P("2026-07"), P("2026-09"), P("2026-04"), P("2026-06")) is None
