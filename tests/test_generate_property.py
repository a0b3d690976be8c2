"""Any size and seed of generated data follows the contract: no validation problem at all."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from metrics.generate import generate
from metrics.load import load_dataset


@given(cases=st.integers(min_value=1, max_value=400), seed=st.integers(0, 2**32 - 1),
       forces=st.sampled_from(["inspected", "all"]))
@settings(max_examples=12, deadline=None)
def test_generated_exports_always_validate(cases: int, seed: int, forces: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        rows = generate(Path(tmp), cases=cases, seed=seed, forces=forces)
        ds = load_dataset(tmp)
        assert ds.report.problems == ()
        assert {name: len(frame) for name, frame in ds.tables.items()} == rows
