"""The funnel plot's data: forces' points and limits from ``metrics.stats``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from metrics import stats
from present.format import format_value

FLAGS = {"inside_95": "within", "between_95_998": "worth_a_look", "outside_998": "outside"}
FLAG_WORDS = {"within": "within limits", "worth_a_look": "worth a look",
              "outside": "flagged (outside 99.8%)"}


@dataclass(frozen=True)
class Funnel:
    points: pd.DataFrame  # force, n, value, flag
    limits: pd.DataFrame  # n, level, lower, upper
    target: float
    overdispersed: bool
    phi: float
    table: pd.DataFrame  # for display


def funnel(kpi_table: pd.DataFrame) -> Funnel | None:
    """Funnel points and limits for one proportion KPI's window table (all forces).

    Forces with a zero denominator are left out; the target is the All forces value.
    """
    forces = kpi_table[(kpi_table["force"] != "All forces") & (kpi_table["denominator"] > 0)]
    if len(forces) < 3:
        return None
    pooled = kpi_table[kpi_table["force"] == "All forces"]
    target = float(forces["numerator"].sum() / forces["denominator"].sum())
    if not pooled.empty and pooled["denominator"].iloc[0] > 0:
        target = float(pooled["numerator"].iloc[0] / pooled["denominator"].iloc[0])
    flags = stats.funnel_flags(forces["numerator"].to_numpy(float),
                               forces["denominator"].to_numpy(float), target=target)
    tau2 = float(flags.attrs.get("tau2", 0.0) or 0.0)
    phi = float(flags.attrs.get("phi", float("nan")))
    n_max = float(forces["denominator"].max()) * 1.3
    n_min = max(1.0, float(forces["denominator"].min()) / 2)
    grid = np.unique(np.concatenate([np.geomspace(n_min, n_max, 120), [n_max]]))
    limits = stats.funnel_limits(target, grid, tau2=tau2)
    flag = [FLAGS.get(p, "within") for p in flags["position"]]
    points = pd.DataFrame({"force": forces["force"].astype(str).to_numpy(),
                           "n": forces["denominator"].to_numpy(float),
                           "value": flags["proportion"].to_numpy(float), "flag": flag})
    table = pd.DataFrame({
        "force": points["force"],
        "value": [format_value(v, "proportion") for v in points["value"]],
        "denominator": points["n"].astype(int),
        "position": [FLAG_WORDS[f] for f in flag],
    }).sort_values("force")
    return Funnel(points, limits, target, tau2 > 0, phi, table)
