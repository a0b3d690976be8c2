"""The funnel plot's data: forces' points and limits.

:func:`funnel_from_verdicts` reads ``metrics.verdicts.funnel_table`` (gated on status ok,
widened for overdispersion only when φ > 1) and returns a :class:`Funnel`; its ``table`` is
the one shown beside the chart and downloaded: numeric numerators, denominators, value and
limits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from metrics import stats
from metrics.verdicts import FUNNEL_MIN_FORCES

FLAGS = {"inside_95": "within", "between_95_998": "worth_a_look", "outside_998": "outside",
         "within": "within", "outside": "outside"}
FLAG_WORDS = {"within": "within limits", "worth_a_look": "worth a look",
              "outside": "flagged (outside 99.8%)"}


@dataclass(frozen=True)
class Funnel:
    """Points (force, n, value, flag), limit curves (n, level, lower, upper), the target
    (fraction), whether the limits were widened (φ > 1), φ, and the display table."""

    points: pd.DataFrame  # force, n, value, flag
    limits: pd.DataFrame  # n, level, lower, upper
    target: float
    overdispersed: bool
    phi: float
    table: pd.DataFrame  # for display


def _grid(denominators: np.ndarray) -> np.ndarray:
    n_max = float(denominators.max()) * 1.3
    n_min = max(1.0, float(denominators.min()) / 2)
    return np.unique(np.concatenate([np.geomspace(n_min, n_max, 120), [n_max]]))


def too_few_forces_text(forces: Sequence[str]) -> str | None:
    """Why there is no funnel plot when the export itself holds fewer than
    ``FUNNEL_MIN_FORCES`` forces (a force's own export, say): a sentence naming them; None
    when it holds enough (then a missing funnel means too few forces with a value)."""
    if len(forces) >= FUNNEL_MIN_FORCES:
        return None
    held = ", ".join(forces) or "none"
    plural = "" if len(forces) == 1 else "s"
    return (f"This export holds {len(forces)} force{plural} ({held}): a funnel plot needs at "
            f"least {FUNNEL_MIN_FORCES} forces to compare, so there is nothing to compare here. "
            "An export of several forces (a regional or the national one) draws it.")


def funnel_from_verdicts(table: pd.DataFrame) -> Funnel | None:
    """A :class:`Funnel` from ``metrics.verdicts.funnel_table`` rows (forces with status ok);
    None with fewer than ``FUNNEL_MIN_FORCES`` forces. The display table keeps numbers as
    numbers: force, numerator, denominator, value (fraction), the 95% and 99.8% limits at the
    force's denominator (fractions) and its position in words, sorted by force."""
    if table is None or len(table) < FUNNEL_MIN_FORCES:
        return None
    target = float(table["target"].iloc[0])
    tau2 = float(table["tau2"].iloc[0] or 0.0)
    adjusted = bool(table["adjusted"].iloc[0])
    den = table["denominator"].to_numpy(float)
    limits = stats.funnel_limits(target, _grid(den), tau2=tau2 if adjusted else 0.0)
    flag = [FLAGS.get(str(p), "within") for p in table["position"]]
    points = pd.DataFrame({"force": table["force"].astype(str).to_numpy(), "n": den,
                           "value": table["value"].to_numpy(float), "flag": flag})
    shown = pd.DataFrame({
        "force": points["force"],
        "numerator": table["numerator"].round().astype("Int64").to_numpy(),
        "denominator": table["denominator"].round().astype("Int64").to_numpy(),
        "value": points["value"],
        "lower 95%": table["lower_95"].to_numpy(float),
        "upper 95%": table["upper_95"].to_numpy(float),
        "lower 99.8%": table["lower_998"].to_numpy(float),
        "upper 99.8%": table["upper_998"].to_numpy(float),
        "position": [FLAG_WORDS[f] for f in flag],
    }).sort_values("force").reset_index(drop=True)
    return Funnel(points, limits, target, adjusted, float(table["phi"].iloc[0]), shown)

