"""An independent reference for the monthly SPC chart behind every verdict, written from
docs/methods.md (2.4, 2.10) and NHSRplotthedots' R source by a checker who did not read
``metrics/stats.py``, ``metrics/verdicts.py`` or ``metrics/kpis/spc.py``: segments rebased at
the adoption month, limits from each segment's first 24 included months, Laney p' for
proportions of cases, outcomes and answers, XmR otherwise, no moving range across a missing
month, the four rules in NHSRplotthedots' precedence. Test-only
(``tests/test_spc_against_the_words.py``): nothing in the product calls it.

``reference_point_types(table, data_dir)`` gives one point type (or None) per row of a
``compute_kpis(..., by="month")`` table.
"""
# ruff: noqa: B023, B905, E501, E701, E702, E731, E741
from __future__ import annotations

import glob
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd

CAT = Path(__file__).resolve().parents[2] / "metrics" / "catalogue"
WORKFORCE = {"sickness_rate", "vacancy_rate", "trainee_share", "specialist_trained_share", "screening_rate"}
CASELOAD = {"caseload_per_investigator", "investigators_over_15"}


def catalogue():
    out = {}
    for f in sorted(glob.glob(str(CAT / "*.toml"))):
        with open(f, "rb") as fh:
            d = tomllib.load(fh)
        out[d["id"]] = d
    return out


def kpi_meta(kid, cat):
    d = cat.get(kid) or cat["survey_{item}"]
    imp = {"higher": 1, "lower": -1, "neutral": 0}[d["better"]]
    method = "laney" if d["unit"] == "proportion" and kid not in WORKFORCE | CASELOAD else "xmr"
    return imp, method


# ---------------- NHSRplotthedots rules on a compressed series ----------------
def seven_one_side(rtm):
    n = len(rtm); out = np.zeros(n, bool)
    for i in range(6, n):
        w = rtm[i - 6:i + 1]
        if w[-1] != 0 and np.all(w == w[-1]):
            out[i] = True
    return out


def part_of_seven(flag):
    n = len(flag); out = np.zeros(n, bool)
    for i in range(n):
        out[i] = flag[i:i + 7].any()
    return out


def seven_trend(y):
    n = len(y); out = np.zeros(n)
    for i in range(6, n):
        d = np.sign(np.diff(y[i - 6:i + 1]))
        if np.all(d == 1): out[i] = 1
        elif np.all(d == -1): out[i] = -1
    return out


def two_in_three(close, rtm):
    n = len(close)
    vp = np.r_[0, 0, close.astype(int), 0, 0]; rp = np.r_[0, 0, rtm, 0, 0]
    out = np.zeros(n, bool)
    for i in range(n):
        for a in (0, 1, 2):
            if vp[i + a:i + a + 3].sum() >= 2 and abs(rp[i + a:i + a + 3].sum()) == 3:
                out[i] = True
    return out & close


def point_types(y, centre, upper, lower, nupper, nlower, limits_ok, imp):
    """y, limits arrays for the included months of ONE segment, in order."""
    n = len(y)
    if n == 0:
        return []
    rtm = np.sign(y - centre)
    if limits_ok:
        outside = (y > upper) | (y < lower)
        close = ~outside & ((y < nlower) | (y > nupper))
    else:
        outside = np.zeros(n, bool); close = np.zeros(n, bool)
    ptrend = part_of_seven(seven_trend(y) != 0)
    p23 = two_in_three(close, rtm)
    prun = part_of_seven(seven_one_side(rtm))
    sdy = np.sign(np.diff(y))
    right = np.r_[sdy, sdy[-1:]] if n > 1 else np.zeros(1)
    left = np.r_[0, sdy]
    nxt = np.r_[ptrend[1:], False]
    tdir = np.where(nxt & ptrend, right, left)
    v = np.zeros(n)
    for i in range(n):
        if outside[i]: v[i] = 1 if rtm[i] == 1 else -1
        elif ptrend[i]: v[i] = 1 if tdir[i] == 1 else -1
        elif p23[i]: v[i] = 1 if rtm[i] > 0 else -1
        elif prun[i]: v[i] = 1 if rtm[i] > 0 else -1
    res = []
    for vi in v:
        if imp == 0:
            res.append("special_cause_neutral_high" if vi > 0 else "special_cause_neutral_low" if vi < 0 else "common_cause")
        else:
            vi = vi * imp
            res.append("special_cause_improvement" if vi > 0 else "special_cause_concern" if vi < 0 else "common_cause")
    return res


def chart(months, y, num, den, incl, rebase_pos, method, imp, baseline=24, screen=True):
    """months: list of periods; incl: bool mask of present & final months.
    Returns DataFrame with centre/upper/lower/point_type/limits_provisional."""
    T = len(months)
    centre = np.full(T, np.nan); upper = np.full(T, np.nan); lower = np.full(T, np.nan)
    nup = np.full(T, np.nan); nlo = np.full(T, np.nan)
    ptype = [None] * T; lprov = np.zeros(T, bool)
    bounds = [0] + ([rebase_pos] if rebase_pos else []) + [T]
    for s, e in zip(bounds[:-1], bounds[1:]):
        idx = [i for i in range(s, e) if incl[i]]
        if not idx:
            continue
        base = idx[:baseline]
        prov = len(base) < 13
        limits_ok = True
        if method == "xmr":
            c = np.mean(y[base])
            mr = [abs(y[b] - y[a]) for a, b in zip(base[:-1], base[1:]) if b == a + 1]
            mr = np.array(mr, float)
            if len(mr) == 0:
                amr = np.nan
            else:
                amr = mr.mean()
                if screen:
                    mr2 = mr[mr < 3.267 * amr]
                    amr = mr2.mean() if len(mr2) else np.nan
            if not np.isfinite(amr) or amr == 0:
                limits_ok = False; amr = 0.0 if not np.isfinite(amr) else amr
            for i in range(s, e):
                centre[i] = c; upper[i] = c + 2.66 * amr; lower[i] = c - 2.66 * amr
                nup[i] = c + 2 / 3 * 2.66 * amr; nlo[i] = c - 2 / 3 * 2.66 * amr
        else:
            pbar = num[base].sum() / den[base].sum()
            sig = lambda i: np.sqrt(pbar * (1 - pbar) / den[i])
            z = {i: (y[i] - pbar) / sig(i) for i in base} if 0 < pbar < 1 else {}
            mr = [abs(z[b] - z[a]) for a, b in zip(base[:-1], base[1:]) if b == a + 1] if z else []
            sz = np.mean(mr) / 1.128 if len(mr) else np.nan
            if not (0 < pbar < 1) or not np.isfinite(sz) or sz == 0:
                limits_ok = False
            for i in range(s, e):
                centre[i] = pbar
                if limits_ok and den[i] > 0:
                    si = sig(i)
                    upper[i] = min(1.0, pbar + 3 * si * sz); lower[i] = max(0.0, pbar - 3 * si * sz)
                    nup[i] = pbar + 2 * si * sz; nlo[i] = pbar - 2 * si * sz
                else:
                    upper[i] = lower[i] = nup[i] = nlo[i] = pbar
        lprov[s:e] = prov
        ii = np.array(idx)
        pts = point_types(y[ii], centre[ii], upper[ii], lower[ii], nup[ii], nlo[ii], limits_ok, imp)
        for i, p in zip(idx, pts):
            ptype[i] = p
    return pd.DataFrame({"month": months, "value": y, "centre": centre, "upper": upper, "lower": lower,
                         "point_type": ptype, "limits_provisional": lprov})


def adoption(data_dir):
    f = pd.read_parquet(Path(data_dir) / "forces.parquet")
    return {r.force: (pd.Timestamp(r.soteria_adoption_date).to_period("M") if pd.notna(r.soteria_adoption_date) else None)
            for r in f.itertuples()}


def reference_point_types(table: pd.DataFrame, data_dir) -> pd.Series:
    """Each row's point type by the reference (None for a month that is not ``ok`` or is
    provisional), indexed like ``table`` (a by-month ``compute_kpis`` table)."""
    m = table.assign(month=pd.to_datetime(table["window_start"]).dt.to_period("M"))
    m["incl"] = m["status"].eq("ok") & ~m["provisional"].astype(bool) & m["value"].notna()
    cat, adopt = catalogue(), adoption(data_dir)
    out = pd.Series(None, index=table.index, dtype=object)
    for (k, f), g in m.groupby(["kpi_id", "force"], sort=False):
        g = g.sort_values("month")
        months = list(g["month"])
        imp, method = kpi_meta(k, cat)
        rb = None
        if f != "All forces":
            a = adopt.get(f)
            if a is not None and a in months and months.index(a) > 0:
                rb = months.index(a)
        ch = chart(months, g["value"].to_numpy(float), g["numerator"].to_numpy(float),
                   g["denominator"].to_numpy(float), g["incl"].to_numpy(), rb, method, imp)
        out.loc[g.index] = ch["point_type"].to_numpy()
    return out
