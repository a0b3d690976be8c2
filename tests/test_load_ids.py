"""The id fast path (fixed-width ``<PREFIX><digits>`` ids compared as integers) must agree
with plain string comparison on any ids, regular or not."""

from __future__ import annotations

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from metrics.load import _duplicates, _int_keys, _missing_from

# a small alphabet of look-alike ids: same digits with other prefixes, widths and signs
IDS = st.sampled_from(["C001", "C002", "C010", "C0001", "C01", "X001", "c001", "C+01", "C-01",
                       "001", "C00A", "CC01", "C\u00e901", "C 01", "C999"])


def _series(values: list[str | None]) -> pd.Series:
    return pd.Series(pd.array(values, dtype=pd.StringDtype("pyarrow")))


@given(child=st.lists(st.one_of(IDS, st.none()), max_size=12),
       parent=st.lists(IDS, max_size=8))
@settings(max_examples=300, deadline=None)
def test_missing_from_matches_string_semantics(child: list[str | None],
                                               parent: list[str]) -> None:
    c, p = _series(child), _series(parent)
    got = _missing_from(c, p, lambda: _int_keys(p)).tolist()
    expected = [v is not None and v not in set(parent) for v in child]
    assert got == expected


@given(values=st.lists(IDS, max_size=12))
@settings(max_examples=300, deadline=None)
def test_duplicates_match_string_semantics(values: list[str]) -> None:
    s = _series(values)
    got = _duplicates(s, _int_keys(s))
    repeated = {v for v in values if values.count(v) > 1}
    if not repeated:
        assert got is None
    else:
        assert got is not None
        assert got[0] == sum(values.count(v) for v in repeated)
        assert set(got[1]) <= repeated and len(got[1]) == min(5, len(repeated))


def test_regular_ids_take_the_integer_path() -> None:
    shaped = _int_keys(_series(["C0000001", "C0000042", "C1234567"]))
    assert shaped is not None
    prefix, width, keys = shaped
    assert (prefix, width, keys.tolist()) == ("C", 8, [1, 42, 1234567])
    assert _int_keys(_series(["C001", "C01"])) is None
    assert _int_keys(_series(["C001", None])) is None
