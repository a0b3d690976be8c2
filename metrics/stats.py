"""Statistics for the flight deck: intervals, SPC (XmR), funnel limits, before/after.

Pure functions over numbers and pandas objects; no Streamlit.
"""

from __future__ import annotations

import math

from scipy.stats import norm


def wilson(successes: float, n: float, confidence: float = 0.95) -> tuple[float, float]:
    """95% (by default) Wilson score interval for a proportion, as fractions in [0, 1].

    Returns (nan, nan) when n is 0. Accepts non-integer counts (e.g. rounded panel counts).
    """
    if n <= 0:
        return (math.nan, math.nan)
    z = float(norm.ppf(1 - (1 - confidence) / 2))
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))
