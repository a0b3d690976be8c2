"""An independent pandas reference for the KPI catalogue, written from the words only.

Written by a checker who read the definitions (``metrics/catalogue/*.toml`` without their SQL,
``docs/data-contract.md`` and the issue's definitions) and not the engine, so agreeing with it
is evidence that the SQL says what the words say. Row-at-a-time clarity over speed: it is an
oracle for tests (``tests/test_kpis_against_the_words.py``), never a path for a product figure.

``reference_rows(data_dir, start, end, scope, by)`` returns one row per KPI x force (and All
forces) x window with the columns of ``compute_kpis``.
"""

# ruff: noqa: E731
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import binom

ALL = "All forces"
NFA = set(range(9, 19)) | {21}
ADULT = {"18-24", "25-34", "35-44", "45-54", "55+"}
CHILD = {"0-15", "16-17"}
PROTECTIVE = {"SRO", "SHPO", "interim_SHPO", "restraining_order", "non_molestation_order"}

MATURITY = {
    "charge_rate_cohort": 365,
    "needs_assessment_7d": 7,
    "order_grant_rate": 90,
    "s63g_rate": 90,
    "isva_referral_28d": 28,
    "suspect_device_30d": 30,
}
MIN_N = {
    "proportion": 10,
    "days": 5,
    "count": 0,
    "cases": 3,
    "workforce": 1,
    "survey": 30,
    "investigators_over_15": 3,
}


def dt(s):
    """A contract date column: a timestamp is reduced to its UK local date."""
    s = pd.to_datetime(s)
    if getattr(s.dt, "tz", None) is not None:
        s = s.dt.tz_convert("Europe/London").dt.tz_localize(None)
    return s.dt.normalize()


def load(d):
    d = Path(d)
    c = pd.read_parquet(d / "cases.parquet")
    for col in [
        "recorded_date",
        "outcome_date",
        "early_advice_requested_date",
        "early_advice_received_date",
        "needs_assessment_date",
        "isva_referral_date",
        "isva_start_date",
        "s63g_applied_date",
    ]:
        c[col] = dt(c[col])
    c["force"] = c["force"].astype(str)
    c["outcome_code"] = c["outcome_code"].astype("Float64")
    vu = pd.read_parquet(d / "victim_updates.parquet")
    vu["contact_date"] = dt(vu["contact_date"])
    o = pd.read_parquet(d / "orders.parquet")
    o["applied_date"] = dt(o["applied_date"])
    o["granted_date"] = dt(o["granted_date"])
    o["force"] = o["force"].astype(str)
    o["order_type"] = o["order_type"].astype(str)
    b = pd.read_parquet(d / "breaches.parquet")
    b["breach_date"] = dt(b["breach_date"])
    b["force"] = b["force"].astype(str)
    b["action"] = b["action"].astype(str)
    dv = pd.read_parquet(d / "devices.parquet")
    dv["force"] = dv["force"].astype(str)
    dv["owner"] = dv["owner"].astype(str)
    for col in ["seized_at", "returned_at"]:
        s = pd.to_datetime(dv[col])
        if s.dt.tz is None:
            s = s.dt.tz_localize("Europe/London", ambiguous=True, nonexistent="shift_forward")
        dv[col] = s.dt.tz_convert("Europe/London")
    dv["seized_date"] = dv["seized_at"].dt.tz_localize(None).dt.normalize()
    dv["examination_completed_date"] = dt(dv["examination_completed_date"])
    sv = pd.read_parquet(d / "survey_responses.parquet")
    sv["response_date"] = dt(sv["response_date"])
    sv["force"] = sv["force"].astype(str)
    wf = pd.read_parquet(d / "workforce.parquet")
    wf["month"] = dt(wf["month"])
    wf["force"] = wf["force"].astype(str)
    # --- the contract's row rules (docs/data-contract.md) ---------------------------------
    c = c[c["offence_group"].astype(str).isin(["rape", "sexual_assault", "other_sexual_offence"])]
    c = c[c["outcome_code"].isna() | c["outcome_code"].between(1, 22)]
    c = c[~(c["outcome_code"].notna() & c["outcome_date"].isna())]  # outcome_without_date
    c = c[~(c["outcome_date"] < c["recorded_date"])]  # outcome_before_recorded
    c.loc[c["outcome_code"].isna(), "outcome_date"] = pd.NaT  # date_without_outcome
    bad = (c["early_advice_received_date"] < c["early_advice_requested_date"]) | (
        c["early_advice_received_date"].notna() & c["early_advice_requested_date"].isna()
    )
    c.loc[bad, "early_advice_received_date"] = pd.NaT
    c.loc[c["isva_start_date"] < c["isva_referral_date"], "isva_start_date"] = pd.NaT
    keep = set(c["case_id"])
    vu = vu[vu["case_id"].isin(keep)]
    o = o[o["case_id"].isin(keep)]
    o.loc[o["granted_date"] < o["applied_date"], "granted_date"] = pd.NaT
    b = b[b["order_id"].isin(set(o["order_id"]))]
    dv = dv[dv["case_id"].isin(keep)].copy()
    dv.loc[dv["returned_at"] < dv["seized_at"], "returned_at"] = pd.NaT
    dv.loc[dv["examination_completed_date"] < dv["seized_date"], "examination_completed_date"] = (
        pd.NaT
    )
    as_at = None
    ej = d / "export.json"
    if ej.exists():
        try:
            as_at = pd.Timestamp(json.loads(ej.read_text())["as_at"])
        except Exception:
            as_at = None
    if as_at is None:
        as_at = max(c["recorded_date"].max(), c["outcome_date"].max())
    return dict(cases=c, vu=vu, orders=o, breaches=b, devices=dv, survey=sv, wf=wf, as_at=as_at)


def repeat_flag(all_cases, look_back=1095):
    """True when another case (any force, any scope) with the same suspect_id was recorded on
    the same day or in the look_back days before this case's recorded date."""
    s = all_cases.loc[all_cases["suspect_id"].notna(), ["case_id", "suspect_id", "recorded_date"]]
    m = s.merge(s, on="suspect_id", suffixes=("", "_o"))
    m = m[m["case_id"] != m["case_id_o"]]
    gap = (m["recorded_date"] - m["recorded_date_o"]).dt.days
    hit = m.loc[(gap >= 0) & (gap <= look_back), "case_id"].unique()
    return all_cases["case_id"].isin(hit)


def scope_cases(c, scope):
    if scope == "all":
        return c
    age = c["victim_age_band"].astype("object")
    if scope == "adult_rape":
        return c[(c["offence_group"].astype(str) == "rape") & age.isin(ADULT)]
    if scope == "child":
        return c[age.isin(CHILD)]
    raise ValueError(scope)


def wilson(x, n, z=1.959963984540054):
    if n == 0:
        return (np.nan, np.nan)
    p = x / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return (max(0.0, centre - half), min(1.0, centre + half))


def median_ci(vals):
    v = np.sort(np.asarray(vals, dtype=float))
    n = len(v)
    if n < 6:
        return (np.nan, np.nan)
    best = None
    for rank in range(1, n // 2 + 2):
        if binom.cdf(rank - 1, n, 0.5) <= 0.025:
            best = rank
        else:
            break
    if best is None:
        return (np.nan, np.nan)
    return (v[best - 1], v[n - best])


class Ref:
    def __init__(self, data, scope):
        self.d = data
        self.scope = scope
        allc = data["cases"]
        allc = allc.assign(repeat=repeat_flag(allc))
        self.all_cases = allc
        self.c = scope_cases(allc, scope) if scope != "none" else allc
        keep = set(self.c["case_id"])
        self.vu = data["vu"][data["vu"]["case_id"].isin(keep)]
        self.o = data["orders"][data["orders"]["case_id"].isin(keep)]
        self.b = data["breaches"].merge(
            self.o[["order_id", "order_type", "case_id"]], on="order_id"
        )
        self.dv = data["devices"][data["devices"]["case_id"].isin(keep)]
        self.forces = sorted(set(data["cases"]["force"]))
        self.rows = []

    # --- row emitters -------------------------------------------------------------------
    def emit_prop(self, kpi, ws, we, df, numcol, min_n=10, interval="wilson"):
        """df: one row per unit in the denominator with 'force' and boolean numcol."""
        for f in self.forces + [ALL]:
            sub = df if f == ALL else df[df["force"] == f]
            n = len(sub)
            x = int(sub[numcol].sum())
            self._row(
                kpi,
                f,
                ws,
                we,
                x / n if n else np.nan,
                x,
                n,
                n,
                min_n,
                wilson(x, n) if interval == "wilson" else (np.nan, np.nan),
            )

    def emit_ratio(self, kpi, ws, we, df, numcol, dencol, ncol=None, min_n=1):
        for f in self.forces + [ALL]:
            sub = df if f == ALL else df[df["force"] == f]
            x = sub[numcol].sum()
            den = sub[dencol].sum()
            n = len(sub) if ncol is None else sub[ncol].sum()
            self._row(
                kpi,
                f,
                ws,
                we,
                x / den if den else np.nan,
                x,
                den,
                n,
                min_n,
                (np.nan, np.nan),
                nodata=not den,
            )

    def emit_median(self, kpi, ws, we, df, col, min_n=5):
        for f in self.forces + [ALL]:
            sub = df if f == ALL else df[df["force"] == f]
            v = sub[col].astype(float).to_numpy()
            n = len(v)
            self._row(
                kpi,
                f,
                ws,
                we,
                float(np.median(v)) if n else np.nan,
                np.nan,
                n,
                n,
                min_n,
                median_ci(v),
            )

    def emit_count(self, kpi, ws, we, df):
        for f in self.forces + [ALL]:
            sub = df if f == ALL else df[df["force"] == f]
            n = len(sub)
            self._row(kpi, f, ws, we, n, n, np.nan, n, 0, (np.nan, np.nan))

    def _row(self, kpi, f, ws, we, value, num, den, n, min_n, ci, nodata=False):
        if nodata or (n == 0 and min_n > 0):
            status = "no_data"
        elif n < min_n:
            status = "insufficient"
        else:
            status = "ok"
        prov = we + pd.Timedelta(days=MATURITY.get(kpi, 0)) > self.d["as_at"]
        self.rows.append(
            dict(
                kpi_id=kpi,
                force=f,
                window_start=ws.date().isoformat(),
                window_end=we.date().isoformat(),
                value=value,
                numerator=num,
                denominator=den,
                n=n,
                ci_low=ci[0],
                ci_high=ci[1],
                status=status,
                provisional=bool(prov),
            )
        )

    # --- KPIs ---------------------------------------------------------------------------
    def window(self, ws, we):
        c, vu, o, b, dv = self.c, self.vu, self.o, self.b, self.dv
        inw = lambda s: (s >= ws) & (s <= we)
        out = c[c["outcome_code"].notna() & inw(c["outcome_date"])].copy()
        out["code"] = out["outcome_code"].astype(int)
        out["days"] = (out["outcome_date"] - out["recorded_date"]).dt.days
        rec = c[inw(c["recorded_date"])].copy()

        out["charged"] = out["code"] == 1
        self.emit_prop("charge_rate", ws, we, out, "charged")

        rec["cohort"] = (rec["outcome_code"] == 1).fillna(False) & (
            (rec["outcome_date"] - rec["recorded_date"]).dt.days <= 365
        ).fillna(False)
        self.emit_prop("charge_rate_cohort", ws, we, rec, "cohort")

        self.emit_median("days_to_charge", ws, we, out[out["charged"]], "days")
        self.emit_median("investigation_days", ws, we, out, "days")

        ea = c[
            c["early_advice_requested_date"].notna() & inw(c["early_advice_received_date"])
        ].copy()
        ea["wait"] = (ea["early_advice_received_date"] - ea["early_advice_requested_date"]).dt.days
        self.emit_median("early_advice_days", ws, we, ea, "wait")
        ea["in2"] = ea["wait"] <= 2
        self.emit_prop("early_advice_2d", ws, we, ea, "in2")

        arr = rec[rec["suspect_arrested"].notna()].copy()
        arr["arr"] = arr["suspect_arrested"].astype(bool)
        self.emit_prop("suspect_arrest_rate", ws, we, arr, "arr")

        sus = rec[rec["suspect_id"].notna()]
        self.emit_prop("repeat_suspect_share", ws, we, sus, "repeat")
        self.emit_prop("repeat_suspect_arrest_rate", ws, we, arr[arr["repeat"]], "arr")

        prot = o[o["order_type"].isin(PROTECTIVE)]
        self.emit_count("orders_granted", ws, we, prot[inw(prot["granted_date"])])
        app = prot[inw(prot["applied_date"])].copy()
        app["granted"] = app["granted_date"].notna()
        self.emit_prop("order_grant_rate", ws, we, app, "granted")

        bw = b[inw(b["breach_date"])].copy()
        ob = bw[bw["order_type"] != "pre_charge_bail"].copy()
        ob["act"] = ob["action"].isin(["arrest", "charge"])
        self.emit_prop("order_breach_action_rate", ws, we, ob, "act")
        bb = bw[bw["order_type"] == "pre_charge_bail"].copy()
        bb["act"] = bb["action"] == "arrest"
        self.emit_prop("bail_breach_arrest_rate", ws, we, bb, "act")

        self.emit_count("s63g_applications", ws, we, c[inw(c["s63g_applied_date"])])
        nfa = out[out["code"].isin(NFA)].copy()
        s63 = nfa[nfa["suspect_arrested"].eq(True).fillna(False).astype(bool)].copy()
        s63["app"] = s63["s63g_applied_date"].notna()
        self.emit_prop("s63g_rate", ws, we, s63, "app")

        out["wd"] = out["code"].isin([14, 16])
        self.emit_prop("victim_withdrawal_rate", ws, we, out, "wd")

        rec["na7"] = ((rec["needs_assessment_date"] - rec["recorded_date"]).dt.days <= 7).fillna(
            False
        )
        self.emit_prop("needs_assessment_7d", ws, we, rec, "na7")

        # stock: cases open at window end
        E = we
        open_ = c[
            (c["recorded_date"] <= E) & ~(c["outcome_code"].notna() & (c["outcome_date"] <= E))
        ].copy()
        upd = vu[(vu["contact_date"] <= E) & (vu["contact_date"] >= E - pd.Timedelta(days=27))]
        open_["upd"] = open_["case_id"].isin(set(upd["case_id"]))
        self.emit_prop("victim_updated_28d", ws, we, open_, "upd")

        nfa["inp"] = nfa["nfa_explained_in_person"].eq(True).fillna(False).astype(bool)
        self.emit_prop("nfa_explained_in_person", ws, we, nfa, "inp")

        iv = c[c["isva_referral_date"].notna() & inw(c["isva_start_date"])].copy()
        iv["wait"] = (iv["isva_start_date"] - iv["isva_referral_date"]).dt.days
        self.emit_median("isva_wait_days", ws, we, iv, "wait")

        rec["ir28"] = ((rec["isva_referral_date"] - rec["recorded_date"]).dt.days <= 28).fillna(
            False
        )
        self.emit_prop("isva_referral_28d", ws, we, rec, "ir28")

        wait = c[(c["isva_referral_date"] <= E) & ~(c["isva_start_date"] <= E)].copy()
        wait["over"] = (E - wait["isva_referral_date"]).dt.days > 28
        self.emit_prop("isva_waiting_over_28d", ws, we, wait, "over")

        # workforce (force-wide, never scoped)
        wf = self.d["wf"]
        wfw = wf[inw(wf["month"])]
        self.emit_ratio("sickness_rate", ws, we, wfw, "sickness_days", "available_days")
        self.emit_ratio("screening_rate", ws, we, wfw, "screening_done", "screening_due")
        last = wf[wf["month"] == we.replace(day=1)].copy()
        last["vac"] = last["establishment_fte"] - last["in_post_fte"]
        self.emit_ratio("vacancy_rate", ws, we, last, "vac", "establishment_fte")
        self.emit_ratio("trainee_share", ws, we, last, "trainee_fte", "in_post_fte")
        self.emit_ratio(
            "specialist_trained_share", ws, we, last, "specialist_trained_headcount", "headcount"
        )

        # caseload
        held = open_[open_["investigator_id"].notna()]
        per = held.groupby(["force", "investigator_id"]).size().rename("cases").reset_index()
        per["one"] = 1
        self.emit_ratio("caseload_per_investigator", ws, we, per, "cases", "one", "one", min_n=3)
        per["over"] = per["cases"] > 15
        self.emit_prop("investigators_over_15", ws, we, per, "over", min_n=3)

        rec["demo"] = (
            rec["victim_sex"].notna()
            & rec["victim_age_band"].notna()
            & rec["victim_ethnicity"].notna()
            & (rec["victim_ethnicity"].astype("object") != "not_stated")
        )
        self.emit_prop("victim_demographics_complete", ws, we, rec, "demo")

        vd = dv[(dv["owner"] == "victim") & inw(dv["seized_date"])].copy()
        vd["r24"] = ((vd["returned_at"] - vd["seized_at"]) <= pd.Timedelta(hours=24)).fillna(False)
        self.emit_prop("victim_device_24h", ws, we, vd, "r24")

        sd = dv[dv["owner"] == "suspect"]
        comp = sd[inw(sd["examination_completed_date"])].copy()
        comp["days"] = (comp["examination_completed_date"] - comp["seized_date"]).dt.days
        self.emit_median("suspect_device_days", ws, we, comp, "days")
        sz = sd[inw(sd["seized_date"])].copy()
        sz["e30"] = ((sz["examination_completed_date"] - sz["seized_date"]).dt.days <= 30).fillna(
            False
        )
        self.emit_prop("suspect_device_30d", ws, we, sz, "e30")
        bl = sd[(sd["seized_date"] <= E) & ~(sd["examination_completed_date"] <= E)]
        self.emit_count("device_backlog", ws, we, bl)

        sv = self.d["survey"]
        svw = sv[inw(sv["response_date"])]
        for q in [k for k in sv.columns if k.startswith("q_")]:
            col = svw[q]
            a = svw[col.notna()].copy()
            if a[q].map(lambda v: isinstance(v, (bool, np.bool_))).all() and len(a):
                a["agree"] = a[q].astype(bool)
            else:
                a["agree"] = a[q].astype(float) >= 4
            self.emit_prop("survey_" + q[2:], ws, we, a, "agree", min_n=30)


def month_windows(start: str, end: str) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """The (first day, last day) of each calendar month from ``start`` to ``end``."""
    p = pd.period_range(start, end, freq="M")
    return [(x.start_time.normalize(), x.end_time.normalize()) for x in p]


def reference_rows(
    data_dir, start: str, end: str, scope: str = "all", by: str = "window"
) -> pd.DataFrame:
    """The reference's KPI table for ``data_dir``: one window ``start``..``end`` ("YYYY-MM")
    or each month of it; values are fractions, days or counts as in ``compute_kpis``."""
    data = load(data_dir)
    r = Ref(data, scope)
    if by == "window":
        r.window(pd.Timestamp(start + "-01"), pd.Period(end, "M").end_time.normalize())
    else:
        for ws, we in month_windows(start, end):
            r.window(ws, we)
    return pd.DataFrame(r.rows)
