"""A missing test service (Chromium, PostgreSQL): a skip on a developer's machine, a failure in
CI, where `.ci/run` sets FLIGHTDECK_CI=1 and `make test` installs both (so a skip never hides a
suite that did not run)."""

from __future__ import annotations

import os

import pytest


def unavailable(reason: str) -> None:
    """Skip with ``reason``, or fail with it when running under CI (FLIGHTDECK_CI=1)."""
    if os.environ.get("FLIGHTDECK_CI") == "1":
        pytest.fail(f"CI needs this service: {reason}", pytrace=False)
    pytest.skip(reason)
