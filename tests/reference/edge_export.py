"""A hand-made boundary export for ``tests/test_kpis_against_the_words.py``: every edge
the issue names (the same-day repeat, the 1,095/1,096-day look-back, a look-ahead-only match, a
repeat whose earlier case validation excludes, a bail breach charged, exactly 2, 7, 28 and 30
days, UK local dates of UTC seizures, 24 hours across a clock change, set-to-null rules) on top
of a generated export. Synthetic: every id is made up."""

# ruff: noqa: E731, N806
from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

D = date.fromisoformat


def _append(src: Path, dst: Path, name: str, rows: list[dict]) -> None:
    """Write ``dst/name.parquet``: ``src``'s rows, then ``rows``, in ``src``'s schema."""
    t = pq.read_table(src / f"{name}.parquet")
    schema = t.schema
    df = t.to_pandas()
    add = pd.DataFrame(rows)
    for col in schema.names:
        if col not in add:
            add[col] = None
    out = pd.concat([df.astype(object), add[schema.names].astype(object)], ignore_index=True)
    arrays = []
    for fld in schema:
        vals = out[fld.name].tolist()
        vals = [
            None if (v is None or (isinstance(v, float) and v != v) or v is pd.NaT) else v
            for v in vals
        ]
        if pa.types.is_dictionary(fld.type):
            arrays.append(pa.array(vals, pa.string()).dictionary_encode())
        else:
            arrays.append(pa.array(vals, fld.type))
    pq.write_table(pa.Table.from_arrays(arrays, schema=schema), dst / f"{name}.parquet")


def _case(force: str, cid: str, rec: str, **kw) -> dict:
    r = dict(
        case_id=cid,
        force=force,
        offence_group="rape",
        ho_offence_code="19C",
        recorded_date=D(rec),
        victim_age_band="25-34",
        victim_sex="female",
        victim_ethnicity="White",
        investigator_id="IEDGE1",
        team=None,
    )
    for k, v in kw.items():
        r[k] = D(v) if isinstance(v, str) and k.endswith("_date") else v
    return r


def build_edge_export(src: Path, dst: Path) -> tuple[Path, str]:
    """``dst``: a copy of the export ``src`` plus hand-made boundary rows (ids E.., SX.., DE..,
    OE.., BE..) in its first force, and ``export.json`` stating an as-at date of 2026-04-07.
    Returns ``(dst, that force)``. Each row's comment says which rule it meets."""
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst)
    forces = sorted(
        pq.read_table(src / "cases.parquet", columns=["force"])["force"]
        .to_pandas()
        .astype(str)
        .unique()
    )
    F, G = forces[0], forces[1]
    case = lambda cid, rec, **kw: _case(kw.pop("force", F), cid, rec, **kw)
    append = lambda name, rows: _append(src, dst, name, rows)
    # fmt: off
    na, isva = "needs_assessment_date", "isva_referral_date"
    asked, got = "early_advice_requested_date", "early_advice_received_date"
    cases = [
        case("E01", "2025-11-10", suspect_id="SX1", suspect_arrested=True),
        case("E02", "2025-11-10", suspect_id="SX1", suspect_arrested=False),  # same-day repeat
        case("E03", "2022-11-11", suspect_id="SX2"),
        case("E04", "2025-11-10", suspect_id="SX2", suspect_arrested=True),  # 1,095 days: repeat
        case("E05", "2022-11-10", suspect_id="SX3"),
        case("E06", "2025-11-10", suspect_id="SX3", suspect_arrested=True),  # 1,096 days: not
        case("E07", "2025-11-10", suspect_id="SX4", suspect_arrested=True),  # look-ahead only
        case("E08", "2026-01-05", suspect_id="SX4", suspect_arrested=True),  # repeat
        case("E09", "2025-06-01", suspect_id="SX5", outcome_code=15,
             outcome_date="2025-05-01"),  # outcome before recording: excluded
        case("E10", "2025-11-10", suspect_id="SX5", suspect_arrested=True),  # E09 excluded: not
        case("E11", "2025-11-12", suspect_id="SX6", suspect_arrested=True),  # repeat via E12
        case("E12", "2025-11-12", suspect_id="SX6", force=G, victim_age_band="0-15",
             offence_group="sexual_assault"),  # another force, outside adult rape
        case("E13", "2025-11-10", **{na: "2025-11-05", isva: "2025-11-01"}),  # before recording
        case("E14", "2025-11-10", **{na: "2025-11-17", isva: "2025-12-08"}),  # exactly 7 and 28
        case("E15", "2025-11-10", **{na: "2025-11-18", isva: "2025-12-09"}),  # 8 and 29 days
        case("E16", "2025-11-20", **{asked: "2025-12-01", got: "2025-12-03"}),  # exactly 2 days
        case("E17", "2025-11-20", **{asked: "2025-12-01", got: "2025-12-04"}),  # 3 days
        case("E18", "2025-11-20", **{asked: "2025-12-06", got: "2025-12-05"}),  # set to null
        case("E19", "2025-12-01", isva_referral_date="2026-03-03"),  # waiting exactly 28 days
        case("E20", "2025-12-01", isva_referral_date="2026-03-02"),  # waiting 29 days
        case("E21", "2025-12-01", isva_referral_date="2026-02-01",
             isva_start_date="2026-01-15"),  # start before referral: set to null
        case("E22", "2025-12-01", isva_referral_date="2026-02-01",
             isva_start_date="2026-04-10"),  # seen after the window's end
        case("E24", "2025-10-01", outcome_date="2025-12-01"),  # date without outcome
        case("E25", "2025-10-01", outcome_code=15),  # outcome without date: excluded
        case("E26", "2025-10-02", outcome_code=1,
             outcome_date="2026-10-02"),  # charged at 365 days, after the stated as-at date
    ]
    # fmt: on
    append("cases", cases)

    L = "Europe/London"
    ts = lambda s: pd.Timestamp(s, tz=L).to_pydatetime()
    utc = lambda s: pd.Timestamp(s, tz="UTC").tz_convert(L).to_pydatetime()
    in_force = lambda columns, rows: [dict(zip(columns, r, strict=True), force=F) for r in rows]
    # fmt: off
    append("devices", in_force(
        ("device_id", "case_id", "owner", "seized_at", "returned_at", "examination_completed_date"),
        [("DE1", "E01", "suspect", utc("2025-09-30 23:30"), None, D("2025-10-31")),  # 1 Oct UK
         ("DE2", "E01", "victim", ts("2026-03-28 12:00"), ts("2026-03-29 12:30"), None),  # 23.5 h
         ("DE3", "E02", "victim", ts("2025-10-25 12:00"), ts("2025-10-26 11:30"), None),  # 24.5 h
         ("DE4", "E02", "suspect", ts("2025-12-01 10:00"), None, D("2025-11-30")),  # set to null
         ("DE5", "E09", "suspect", ts("2025-11-01 10:00"), None, None),  # its case excluded
         ("DE6", "E04", "suspect", utc("2026-03-31 23:30"), None, None)]))  # 1 Apr UK: outside
    append("orders", in_force(
        ("order_id", "case_id", "order_type", "applied_date", "granted_date"),
        [("OE1", "E01", "pre_charge_bail", D("2025-11-10"), D("2025-11-10")),
         ("OE2", "E02", "SHPO", D("2025-11-15"), D("2025-11-10")),  # granted before: set to null
         ("OE3", "E09", "restraining_order", D("2025-11-15"), D("2025-11-20"))]))  # case excluded
    append("breaches", in_force(
        ("breach_id", "order_id", "breach_date", "action"),
        [("BE1", "OE1", D("2025-12-01"), "charge"),  # a bail breach charged: a warning, kept
         ("BE2", "OE1", D("2025-12-02"), "arrest"),
         ("BE3", "OE3", D("2025-12-02"), "arrest")]))  # its order's case excluded
    # fmt: on
    append("victim_updates", [
        dict(case_id="E24", contact_date=D("2026-03-04"), channel="phone"),  # end - 27 days
        dict(case_id="E19", contact_date=D("2026-03-03"), channel="phone"),  # end - 28 days
    ])
    (dst / "export.json").write_text(json.dumps({"as_at": "2026-04-07"}))
    return dst, F


def build_retyped_export(src: Path, dst: Path) -> Path:
    """``dst``: the clean export ``src`` re-typed as the contract allows, so a clean export's
    direct path has to convert: case dates as UTC instants of 00:30 UK time (in summer the UTC
    date is the day before), ``outcome_code`` as float, device times as naive UK local time and
    the examination date as a naive timestamp; plus two victim devices seized in the repeated
    (October) and skipped (March) clock-change hours. Returns ``dst``."""
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst)
    t = pq.read_table(src / "cases.parquet")
    cols = {}
    for name in t.schema.names:
        col = t[name]
        if pa.types.is_date32(col.type):
            s = pd.to_datetime(pd.Series(col.to_pandas()))
            # UK local 00:30 of that date as a UTC instant (summer: the UTC date is the day before)
            s = s + pd.Timedelta(minutes=30)
            s = s.dt.tz_localize("Europe/London").dt.tz_convert("UTC")
            cols[name] = pa.array(s, pa.timestamp("us", tz="UTC"))
        elif name == "outcome_code":
            cols[name] = pa.array(col.to_pandas().astype("float64"), pa.float64())
        else:
            cols[name] = col
    pq.write_table(pa.table(cols), dst / "cases.parquet")

    t = pq.read_table(src / "devices.parquet")
    df = t.to_pandas()
    # victim devices with naive local times in the repeated (Oct) and skipped (Mar) hour
    extra = pd.DataFrame(
        [("DX1", "2025-10-26 01:30", "2025-10-27 01:00"),
         ("DX2", "2026-03-29 01:30", "2026-03-30 01:45")],
        columns=["device_id", "seized_at", "returned_at"],
    ).assign(case_id=df.case_id.iloc[0], force=df.force.iloc[0], owner="victim",
             examination_completed_date=None)
    extra[["seized_at", "returned_at"]] = extra[["seized_at", "returned_at"]].apply(
        pd.to_datetime)
    for c in ["seized_at", "returned_at"]:
        df[c] = df[c].dt.tz_localize(None)  # wall-clock UK local time
    df = pd.concat([df, extra], ignore_index=True)
    df["examination_completed_date"] = pd.to_datetime(df["examination_completed_date"])
    out = pa.table(
        {
            "device_id": pa.array(df.device_id, pa.string()),
            "case_id": pa.array(df.case_id, pa.string()),
            "force": pa.array(df.force.astype(str), pa.string()).dictionary_encode(),
            "owner": pa.array(df.owner.astype(str), pa.string()).dictionary_encode(),
            "seized_at": pa.array(df.seized_at, pa.timestamp("us")),
            "returned_at": pa.array(df.returned_at, pa.timestamp("us")),
            "examination_completed_date": pa.array(
                df.examination_completed_date, pa.timestamp("us")
            ),
        }
    )
    pq.write_table(out, dst / "devices.parquet")
    return dst
