"""Synthetic RASSO exports that follow the data contract (``docs/data-contract.md``).

Everything is vectorised with numpy (no Python loop over rows) and driven by one
``numpy.random.Generator`` seeded from ``seed``, so the same arguments always give the same
rows (and, with the same pyarrow version, the same bytes).

The story the data tells (all synthetic, no real people or figures):

- Cases are recorded from April 2018 to 30 September 2026 (the "as at" date). The first two
  years are a run-in: a charge takes about 14 months, so outcome-dated measures (charge rate,
  withdrawal rate) only reach a steady state from about April 2020. Recording grows ~3% a year,
  with a summer peak and a dip in the first Covid lockdown.
- Operation Soteria adoption (plausible, not the historical record): pathfinders in July 2021
  (Durham, South Wales, West Midlands, and Avon and Somerset when all forces are generated),
  an expansion cohort in 2022 (the Met, Gwent, Kent, Lancashire, ...), the national roll-out
  in 2023-24 (Warwickshire, Wiltshire, ...); with ``--forces all`` three forces have not
  adopted yet (null date).
- After adoption each force improves gradually over about 30 months: the charge rate
  (outcome 1 of all outcomes) rises from ~4% toward ~10%, victim withdrawal (outcomes 14 and
  16, about half of closures) eases, needs assessments, ISVA referrals, victim updates, device
  returns within 24 hours, survey agreement and specialist training all improve.
- CPS early advice usually takes weeks; after adoption a growing share comes within 48 hours
  of the request (up to ~45% in the four Welsh forces, whose practice the inspection notes, and
  ~10% elsewhere).
- Median days to charge is about 14 months; about one case with a suspect in four has a
  suspect with another case within 1,095 days (the two about a month apart, in the same force),
  so about one in eight has one in the 1,095 days before it (the repeat suspect share), the same
  in every month and force; ~20% of cases have no identified suspect;
  demographics are partly missing; recent cases are more often still open (null outcome).
- Device timestamps are stored time-zone aware (Europe/London); some victim devices are
  returned exactly 24 hours after seizure and some seizures straddle the clock changes.
- Survey responses are ~6% of cases, so the small forces get fewer than 30 a quarter.

Identifiers are pseudonymous (``C0000001``, ``S0000001``, ``I00001``, ...): no names, no free
text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

START = date(2018, 4, 1)  # first recorded date (two-year run-in before April 2020)
AS_AT = date(2026, 9, 30)  # last recorded date; nothing is dated after it
RAMP_DAYS = 900  # how long a force takes to reach its full post-adoption improvement
PAIR_GAP_DAYS = 30  # about how far apart the two cases of a repeat suspect are recorded
EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class ForceSpec:
    """One force: its name, team-name code, relative size (population, millions) and adoption."""

    name: str
    code: str
    weight: float
    cohort: str  # pathfinder | expansion | national
    adoption: date | None


def _f(name: str, code: str, weight: float, cohort: str, adoption: str | None) -> ForceSpec:
    """A ForceSpec from an ISO adoption date (or None)."""
    return ForceSpec(name, code, weight, cohort, date.fromisoformat(adoption) if adoption else None)


# The 43 territorial forces of England and Wales; weight ~ resident population in millions
# (City of London weighted up for its daytime population). Adoption dates are plausible
# synthetic choices, documented in docs/data-contract.md.
ALL_FORCES: tuple[ForceSpec, ...] = (
    _f("Avon and Somerset Constabulary", "AVS", 1.75, "pathfinder", "2021-07-01"),
    _f("Bedfordshire Police", "BED", 0.69, "national", "2023-07-01"),
    _f("Cambridgeshire Constabulary", "CAM", 0.89, "expansion", "2022-04-01"),
    _f("Cheshire Constabulary", "CHE", 1.07, "national", "2023-10-01"),
    _f("City of London Police", "COL", 0.08, "national", None),
    _f("Cleveland Police", "CLE", 0.57, "national", "2023-07-01"),
    _f("Cumbria Constabulary", "CUM", 0.50, "national", "2024-01-01"),
    _f("Derbyshire Constabulary", "DER", 1.05, "national", "2023-10-01"),
    _f("Devon and Cornwall Police", "DEV", 1.80, "national", "2023-07-01"),
    _f("Dorset Police", "DOR", 0.78, "expansion", "2022-04-01"),
    _f("Durham Constabulary", "DUR", 0.64, "pathfinder", "2021-07-01"),
    _f("Dyfed-Powys Police", "DYP", 0.52, "expansion", "2022-10-01"),
    _f("Essex Police", "ESS", 1.85, "national", "2023-07-01"),
    _f("Gloucestershire Constabulary", "GLO", 0.65, "national", "2024-01-01"),
    _f("Greater Manchester Police", "GMP", 2.87, "expansion", "2022-10-01"),
    _f("Gwent Police", "GWE", 0.60, "expansion", "2022-04-01"),
    _f("Hampshire and Isle of Wight Constabulary", "HAM", 2.00, "expansion", "2022-10-01"),
    _f("Hertfordshire Constabulary", "HER", 1.20, "national", "2023-10-01"),
    _f("Humberside Police", "HUM", 0.93, "national", "2023-07-01"),
    _f("Kent Police", "KEN", 1.86, "expansion", "2022-04-01"),
    _f("Lancashire Constabulary", "LAN", 1.53, "expansion", "2022-10-01"),
    _f("Leicestershire Police", "LEI", 1.10, "national", "2023-10-01"),
    _f("Lincolnshire Police", "LIN", 0.77, "national", None),
    _f("Merseyside Police", "MER", 1.43, "national", "2023-07-01"),
    _f("Metropolitan Police Service", "MET", 8.90, "expansion", "2022-04-01"),
    _f("Norfolk Constabulary", "NFK", 0.92, "national", "2024-01-01"),
    _f("North Wales Police", "NWA", 0.69, "expansion", "2022-10-01"),
    _f("North Yorkshire Police", "NYO", 0.83, "national", "2023-10-01"),
    _f("Northamptonshire Police", "NTH", 0.79, "national", "2024-04-01"),
    _f("Northumbria Police", "NUM", 1.48, "expansion", "2022-04-01"),
    _f("Nottinghamshire Police", "NOT", 1.16, "national", "2023-07-01"),
    _f("South Wales Police", "SWA", 1.33, "pathfinder", "2021-07-01"),
    _f("South Yorkshire Police", "SYO", 1.41, "national", "2023-10-01"),
    _f("Staffordshire Police", "STA", 1.14, "national", "2024-01-01"),
    _f("Suffolk Constabulary", "SUF", 0.76, "national", "2024-04-01"),
    _f("Surrey Police", "SUR", 1.20, "expansion", "2022-10-01"),
    _f("Sussex Police", "SUS", 1.73, "national", "2023-07-01"),
    _f("Thames Valley Police", "TVP", 2.45, "national", "2023-10-01"),
    _f("Warwickshire Police", "WAR", 0.60, "national", "2023-07-01"),
    _f("West Mercia Police", "WME", 1.30, "national", None),
    _f("West Midlands Police", "WMI", 2.92, "pathfinder", "2021-07-01"),
    _f("West Yorkshire Police", "WYO", 2.35, "national", "2023-07-01"),
    _f("Wiltshire Police", "WIL", 0.74, "national", "2023-07-01"),
)

INSPECTED: tuple[str, ...] = (
    "Durham Constabulary",
    "Metropolitan Police Service",
    "South Wales Police",
    "West Midlands Police",
    "Gwent Police",
    "Kent Police",
    "Lancashire Constabulary",
    "Warwickshire Police",
    "Wiltshire Police",
)

# Wales's practice in the inspection: CPS early advice within 48 hours of the request.
WELSH_FORCES: tuple[str, ...] = (
    "Dyfed-Powys Police", "Gwent Police", "North Wales Police", "South Wales Police")
# Share of early advice on the 48-hour track once a force has fully adopted (f_rec = 1).
FAST_ADVICE_SHARE = {"welsh": 0.45, "other": 0.10}

OFFENCE_GROUPS = ("rape", "sexual_assault", "other_sexual_offence")
HO_CODES = {
    "rape": ("19C", "19D", "19E", "19F", "19G", "19H"),
    "sexual_assault": ("17A", "17B", "20A", "20B"),
    "other_sexual_offence": ("21", "22A", "22B", "23", "70", "71", "72", "73",
                             "88A", "88B", "88C", "88D", "88E"),
}
AGE_BANDS = ("0-15", "16-17", "18-24", "25-34", "35-44", "45-54", "55+")
SEXES = ("female", "male", "other")
ETHNICITIES = ("White", "Mixed", "Asian", "Black", "Other", "not_stated")
CHANNELS = ("phone", "email", "in_person", "letter", "text", "video")
ORDER_TYPES = ("pre_charge_bail", "SRO", "SHPO", "interim_SHPO", "restraining_order",
               "non_molestation_order")
BREACH_ACTIONS = ("arrest", "charge", "warning", "no_action")
OWNERS = ("victim", "suspect", "witness")
COHORTS = ("pathfinder", "expansion", "national")
SURVEY_SCALE_ITEMS = ("q_treated_with_respect", "q_kept_informed", "q_felt_believed",
                      "q_would_report_again")
NFA_CODES = (9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 21)


def forces_for(which: str) -> tuple[ForceSpec, ...]:
    """The forces for ``--forces``: "inspected" (the nine inspected forces) or "all" (43)."""
    if which == "all":
        return ALL_FORCES
    if which == "inspected":
        return tuple(f for f in ALL_FORCES if f.name in INSPECTED)
    raise ValueError(f"--forces must be 'inspected' or 'all', not {which!r}")


# ---------------------------------------------------------------------------------------------
# small vectorised helpers


def _day(d: date) -> int:
    """Days since 1970-01-01."""
    return (d - EPOCH).days


def _date_arr(days: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    """A date32 array from days since the epoch; ``null`` marks missing values."""
    return pa.array(days.astype(np.int32), type=pa.int32(), mask=null).cast(pa.date32())


def _ids(prefix: str, nums: np.ndarray, width: int, null: np.ndarray | None = None) -> pa.Array:
    """Strings ``prefix`` + zero-padded ``nums`` (e.g. "C0000042"); null where ``null``."""
    s = pc.cast(pa.array(nums.astype(np.int64), mask=null), pa.string())
    s = pc.utf8_lpad(s, width, "0")
    return pc.binary_join_element_wise(pa.scalar(prefix), s, "")


def _cat(codes: np.ndarray, categories: tuple[str, ...], null: np.ndarray | None = None
         ) -> pa.DictionaryArray:
    """A dictionary-encoded string column from integer codes into ``categories``."""
    return pa.DictionaryArray.from_arrays(
        pa.array(codes.astype(np.int32), mask=null), pa.array(list(categories), pa.string()))


def _choice(rng: np.random.Generator, n: int, p: np.ndarray | list[float]) -> np.ndarray:
    """n draws of category codes 0..len(p)-1 with probabilities ``p`` (normalised)."""
    p = np.asarray(p, dtype=float)
    return np.searchsorted(np.cumsum(p / p.sum()), rng.random(n), side="right").clip(0, len(p) - 1)


def _choice_rows(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One draw per row of ``probs`` (n x k, rows need not be normalised): codes 0..k-1."""
    cum = np.cumsum(probs, axis=1)
    cum /= cum[:, -1:]
    u = rng.random(len(probs))[:, None]
    return (u > cum).sum(axis=1).clip(0, probs.shape[1] - 1)


def _lognormal_days(rng: np.random.Generator, median: np.ndarray | float, sigma: float,
                    n: int) -> np.ndarray:
    """n positive day counts (int64), log-normal with the given median (days) and sigma."""
    return np.maximum(0, np.rint(np.asarray(median) * np.exp(sigma * rng.standard_normal(n)))
                      ).astype(np.int64)


def _improvement(days: np.ndarray, adopt_day: np.ndarray) -> np.ndarray:
    """0..1: how far along its post-adoption improvement a force is on ``days``."""
    return np.clip((days - adopt_day) / RAMP_DAYS, 0.0, 1.0)


def _write(table: pa.Table, path: Path) -> None:
    """Write ``table`` to ``path`` as zstd-compressed Parquet (deterministic bytes)."""
    pq.write_table(table, path, compression="zstd", use_dictionary=True)


# ---------------------------------------------------------------------------------------------
# the generator


def generate(out: str | Path, cases: int = 60_000, seed: int = 1,
             forces: str = "inspected") -> dict[str, int]:
    """Write the eight Parquet files of a synthetic export into ``out`` (created if needed).

    ``cases`` is the number of case rows; ``forces`` is "inspected" or "all".
    Returns the number of rows written per table name.
    """
    if cases < 1:
        raise ValueError("cases must be at least 1")
    if seed < 0:
        raise ValueError("seed must be 0 or more")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    specs = forces_for(forces)
    n_forces = len(specs)
    start, as_at = _day(START), _day(AS_AT)
    never = as_at + 100_000
    adopt_f = np.array([_day(s.adoption) if s.adoption else never for s in specs], np.int64)

    # --- months and recorded dates -----------------------------------------------------------
    months = np.arange(np.datetime64(START, "M"), np.datetime64(AS_AT, "M") + 1)
    m_start = (months.astype("datetime64[D]") - np.datetime64(EPOCH, "D")).astype(np.int64)
    m_len = np.diff(np.append(m_start, as_at + 1))
    years = (m_start - m_start[0]) / 365.25
    moy = months.astype(int) % 12  # 0 = January
    m_weight = np.exp(0.03 * years) * (1 + 0.08 * np.cos((moy - 6) / 12 * 2 * np.pi))
    m_weight[(months >= np.datetime64("2020-04")) & (months <= np.datetime64("2020-05"))] *= 0.75

    n = cases
    f_weight = np.array([s.weight for s in specs])
    fi = _choice(rng, n, f_weight)
    mi = _choice(rng, n, m_weight)
    recorded = m_start[mi] + (rng.random(n) * m_len[mi]).astype(np.int64)
    order = np.lexsort((fi, recorded))
    fi, recorded = fi[order], recorded[order]
    adopt = adopt_f[fi]
    f_rec = _improvement(recorded, adopt)
    # per-force character: a little variation in baseline charge and withdrawal
    force_charge = 0.045 + 0.012 * rng.standard_normal(n_forces).clip(-1.5, 1.5)
    force_withdraw = 0.53 + 0.04 * rng.standard_normal(n_forces).clip(-1.5, 1.5)

    # --- offence -------------------------------------------------------------------------
    og = _choice(rng, n, [0.42, 0.40, 0.18])
    ho = np.empty(n, dtype=np.int64)
    ho_cats: list[str] = []
    for g, name in enumerate(OFFENCE_GROUPS):
        codes = HO_CODES[name]
        sel = og == g
        ho[sel] = len(ho_cats) + rng.integers(0, len(codes), sel.sum())
        ho_cats.extend(codes)
    ho_null = rng.random(n) < 0.03

    # --- victim demographics (completeness improves after adoption) -------------------------
    age = _choice(rng, n, [0.30, 0.08, 0.20, 0.18, 0.11, 0.07, 0.06])
    age_null = rng.random(n) < 0.09 - 0.06 * f_rec
    sex = _choice(rng, n, [0.88, 0.115, 0.005])
    sex_null = rng.random(n) < 0.05 - 0.03 * f_rec
    eth = _choice(rng, n, [0.74, 0.04, 0.09, 0.06, 0.03, 0.04])
    eth[rng.random(n) < 0.10 - 0.06 * f_rec] = 5  # not_stated
    eth_null = rng.random(n) < 0.06 - 0.04 * f_rec

    # --- suspects, repeat suspects -----------------------------------------------------------
    has_suspect = rng.random(n) >= 0.20
    repeat = has_suspect & (rng.random(n) < 0.265)
    suspect_num = np.zeros(n, dtype=np.int64)
    # Repeat-linked cases are paired within a force, along its repeat cases in recorded order
    # (a random tiebreak within a day): each is paired with the one ``step`` places on, where
    # ``step`` (even) is about PAIR_GAP_DAYS of that force's repeat cases, so a pair is about
    # PAIR_GAP_DAYS apart in every force and at every date (rarely the same day, and far from
    # 1,095 days unless a force has only a few repeat cases a year). Position ``rank`` is on
    # chain ``rank % step``; a chain's cases are paired in turn, starting one case later on
    # every other chain, so among any ``step`` consecutive cases half are the first of their
    # pair and half the second. A case counts as a repeat only when its partner came before
    # it (no look-ahead), so the look-back share is the same in every month and force (no
    # boundary to dip after, no dependence on force size).
    r_idx = np.flatnonzero(repeat)
    o = np.lexsort((rng.random(len(r_idx)), recorded[r_idx], fi[r_idx]))
    r_idx = r_idx[o]
    f_r = fi[r_idx]
    per_force = np.bincount(f_r, minlength=n_forces)
    rank = np.arange(len(r_idx)) - (np.cumsum(per_force) - per_force)[f_r]
    per_day = per_force / (as_at - start + 1)
    step = np.maximum(2, 2 * np.rint(per_day * PAIR_GAP_DAYS / 2)).astype(np.int64)[f_r]
    chain = rank % step
    link = (rank // step + chain % 2) // 2
    pair_id = np.unique((f_r * (n + 1) + chain) * (n + 1) + link, return_inverse=True)[1]
    suspect_num[r_idx] = pair_id
    single = np.flatnonzero(has_suspect & ~repeat)
    n_pairs = int(pair_id.max()) + 1 if len(pair_id) else 0
    suspect_num[single] = n_pairs + np.arange(len(single))
    n_suspects = n_pairs + len(single)
    # Suspect ids are not in recording order: a permutation from a stream of its own. The main
    # stream still draws the permutation the earlier pairing (within force and 730-day bucket
    # of recorded date) drew, of as many suspects as it made, so every other column and file
    # of an export is unchanged by the new pairing.
    bucket = fi[r_idx] * 1000 + (recorded[r_idx] - start) // 730
    rng.permutation(int(((np.unique(bucket, return_counts=True)[1] + 1) // 2).sum()) + len(single))
    perm = np.random.default_rng([seed, 1]).permutation(n_suspects) + 1
    suspect_num[has_suspect] = perm[suspect_num[has_suspect]]
    arrested = rng.random(n) < 0.55 + 0.15 * f_rec
    arrested_null = ~has_suspect | (rng.random(n) < 0.08)

    # --- outcomes ----------------------------------------------------------------------------
    f_out = _improvement(recorded + 365, adopt)  # outcome types follow practice at ~outcome time
    p_charge = force_charge[fi] + 0.07 * f_out
    p_withdraw = force_withdraw[fi] - 0.08 * f_out
    # columns: 1 charge, 14, 16, 15, 18, 2, 3, 5, 8, 10, 12, 20, 21, 22
    codes_s = np.array([1, 14, 16, 15, 18, 2, 3, 5, 8, 10, 12, 20, 21, 22])
    probs = np.empty((n, len(codes_s)))
    probs[:, 0] = p_charge
    probs[:, 1] = p_withdraw * 0.45
    probs[:, 2] = p_withdraw * 0.55
    other = np.array([0.006, 0.004, 0.004, 0.004, 0.01, 0.006, 0.01, 0.012, 0.002])
    probs[:, 5:] = other
    probs[:, 4] = 0.01
    probs[:, 3] = np.maximum(0.05, 1 - probs[:, [0, 1, 2, 4]].sum(axis=1) - other.sum())
    code = codes_s[_choice_rows(rng, probs)]
    # no suspect identified: mostly outcome 18, some withdrawals
    ns = ~has_suspect
    code[ns] = np.array([18, 14, 16, 15])[_choice(rng, int(ns.sum()), [0.62, 0.16, 0.17, 0.05])]
    median = np.full(n, 200.0)
    median[code == 1] = 420.0
    median[(code == 14) | (code == 16)] = 120.0
    median[code == 15] = 270.0
    median[code == 18] = 60.0
    sigma = np.where(code == 1, 0.45, 0.85)
    delay = np.maximum(0, np.rint(median * np.exp(sigma * rng.standard_normal(n)))).astype(np.int64)
    outcome = recorded + delay
    open_ = outcome > as_at
    outcome_code = np.where(open_, 0, code)

    # --- investigators and teams -------------------------------------------------------------
    counts_f = np.bincount(fi, minlength=n_forces)
    n_teams = np.clip(np.rint(np.array([s.weight for s in specs]) * 1.6), 1, 14).astype(np.int64)
    n_inv = np.maximum(4, np.rint(counts_f / 140)).astype(np.int64)  # ~12 open cases each
    inv_offset = np.r_[0, np.cumsum(n_inv)[:-1]]
    inv_local = (rng.random(n) * n_inv[fi]).astype(np.int64)
    inv_num = inv_offset[fi] + inv_local + 1
    inv_null = rng.random(n) < 0.04
    team_names: list[str] = []
    team_offset = np.r_[0, np.cumsum(n_teams)[:-1]]
    for s, k in zip(specs, n_teams, strict=True):
        team_names.extend(f"{s.code}-T{j + 1:02d}" for j in range(k))
    team_code = team_offset[fi] + inv_local % n_teams[fi]
    team_null = rng.random(n) < 0.03

    # --- investigation steps -----------------------------------------------------------------
    ea_req = has_suspect & (rng.random(n) < 0.25 + 0.15 * f_rec)
    ea_req_day = recorded + _lognormal_days(rng, 70, 0.7, n)
    ea_rec_day = ea_req_day + _lognormal_days(rng, 35 - 15 * f_rec, 0.6, n)
    # the 48-hour track, taken more often as a force adopts and most often in Wales; drawn
    # from a stream of its own so that every other column is what it was before it existed
    fast = np.random.default_rng([seed, 48])
    welsh = np.array([s.name in WELSH_FORCES for s in specs])[fi]
    track = fast.random(n) < np.where(welsh, FAST_ADVICE_SHARE["welsh"],
                                      FAST_ADVICE_SHARE["other"]) * f_rec
    ea_rec_day = np.where(track, ea_req_day + fast.integers(0, 3, n), ea_rec_day)
    ea_req_null = ~ea_req | (ea_req_day > as_at)
    ea_rec_null = ea_req_null | (ea_rec_day > as_at) | (rng.random(n) < 0.05)
    na_day = recorded + _lognormal_days(rng, 9 - 6 * f_rec, 0.9, n)
    na_null = (rng.random(n) > 0.75 + 0.15 * f_rec) | (na_day > as_at)
    isva_ref = rng.random(n) < 0.45 + 0.25 * f_rec
    isva_ref_day = recorded + _lognormal_days(rng, 4, 1.0, n)
    isva_start_day = isva_ref_day + _lognormal_days(rng, 20 - 8 * f_rec, 0.7, n)
    isva_ref_null = ~isva_ref | (isva_ref_day > as_at)
    isva_start_null = isva_ref_null | (isva_start_day > as_at) | (rng.random(n) < 0.15)
    is_nfa = np.isin(outcome_code, NFA_CODES)
    f_o = _improvement(outcome, adopt)
    nfa_person = rng.random(n) < 0.25 + 0.4 * f_o
    nfa_null = ~is_nfa | (rng.random(n) < 0.15)
    s63g_day = outcome + _lognormal_days(rng, 20, 0.6, n)
    s63g_null = ~(has_suspect & np.isin(outcome_code, (15, 16)) & (rng.random(n) < 0.04 + 0.1 * f_o)
                  ) | (s63g_day > as_at)

    case_width = max(7, len(str(n)))
    case_ids = _ids("C", np.arange(1, n + 1), case_width)
    force_names = tuple(s.name for s in specs)
    cases_tbl = pa.table({
        "case_id": case_ids,
        "force": _cat(fi, force_names),
        "offence_group": _cat(og, OFFENCE_GROUPS),
        "ho_offence_code": _cat(ho, tuple(ho_cats), ho_null),
        "recorded_date": _date_arr(recorded),
        "victim_age_band": _cat(age, AGE_BANDS, age_null),
        "victim_sex": _cat(sex, SEXES, sex_null),
        "victim_ethnicity": _cat(eth, ETHNICITIES, eth_null),
        "suspect_id": _ids("S", suspect_num, max(7, len(str(n_suspects))), ~has_suspect),
        "suspect_arrested": pa.array(arrested, mask=arrested_null),
        "outcome_code": pa.array(outcome_code.astype(np.int32), mask=open_),
        "outcome_date": _date_arr(outcome, open_),
        "investigator_id": _ids("I", inv_num, 5, inv_null),
        "team": _cat(team_code, tuple(team_names), team_null),
        "early_advice_requested_date": _date_arr(ea_req_day, ea_req_null),
        "early_advice_received_date": _date_arr(ea_rec_day, ea_rec_null),
        "needs_assessment_date": _date_arr(na_day, na_null),
        "isva_referral_date": _date_arr(isva_ref_day, isva_ref_null),
        "isva_start_date": _date_arr(isva_start_day, isva_start_null),
        "nfa_explained_in_person": pa.array(nfa_person, mask=nfa_null),
        "s63g_applied_date": _date_arr(s63g_day, s63g_null),
    })
    _write(cases_tbl, out / "cases.parquet")
    rows = {"cases": n}
    end = np.where(open_, as_at, outcome)  # the last day the case was live

    # --- victim updates: roughly every 120 days before adoption, every 60 after --------------
    span = end - recorded + 1
    interval = 120 - 60 * f_rec
    n_upd = rng.poisson(0.6 + span / interval)
    u_case = np.repeat(np.arange(n), n_upd)
    u_day = recorded[u_case] + (rng.random(len(u_case)) * span[u_case]).astype(np.int64)
    u_day = np.sort(u_day + u_case * 100_000) - u_case * 100_000  # in date order within a case
    ch = _choice(rng, len(u_case), [0.45, 0.2, 0.15, 0.08, 0.1, 0.02])
    _write(pa.table({
        "case_id": case_ids.take(pa.array(u_case)),
        "contact_date": _date_arr(u_day),
        "channel": _cat(ch, CHANNELS),
    }), out / "victim_updates.parquet")
    rows["victim_updates"] = len(u_case)

    # --- orders and breaches -----------------------------------------------------------------
    has_order = has_suspect & (rng.random(n) < 0.12 + 0.06 * f_rec)
    o_case = np.flatnonzero(has_order)
    no = len(o_case)
    charged = outcome_code[o_case] == 1
    o_type = _choice(rng, no, [0.45, 0.0, 0.0, 0.15, 0.15, 0.25])
    post = charged & (rng.random(no) < 0.5)
    o_type[post] = _choice(rng, int(post.sum()), [0.0, 0.4, 0.4, 0.0, 0.2, 0.0])
    o_applied = np.where(post, outcome[o_case], recorded[o_case]) + _lognormal_days(rng, 10, 1.0,
                                                                                     no)
    o_granted = o_applied + _lognormal_days(rng, 14, 0.8, no)
    keep = o_applied <= as_at
    o_case, o_type, o_applied, o_granted = o_case[keep], o_type[keep], o_applied[keep], o_granted[
        keep]
    no = len(o_case)
    o_granted[o_type == 0] = o_applied[o_type == 0]  # bail starts the day it is imposed
    o_granted_null = ((rng.random(no) < 0.12) & (o_type != 0)) | (o_granted > as_at)
    order_ids = _ids("O", np.arange(1, no + 1), max(7, len(str(no))))
    _write(pa.table({
        "order_id": order_ids,
        "case_id": case_ids.take(pa.array(o_case)),
        "force": _cat(fi[o_case], force_names),
        "order_type": _cat(o_type, ORDER_TYPES),
        "applied_date": _date_arr(o_applied),
        "granted_date": _date_arr(np.maximum(o_granted, o_applied), o_granted_null),
    }), out / "orders.parquet")
    rows["orders"] = no

    granted = np.flatnonzero(~o_granted_null)
    n_br = np.where(rng.random(len(granted)) < 0.18, 1 + rng.poisson(0.4, len(granted)), 0)
    b_order = np.repeat(granted, n_br)
    b_day = o_granted[b_order] + _lognormal_days(rng, 60, 1.0, len(b_order))
    keep = b_day <= as_at
    b_order, b_day = b_order[keep], b_day[keep]
    f_b = _improvement(b_day, adopt[o_case[b_order]])
    b_act = _choice_rows(rng, np.column_stack([0.38 + 0.12 * f_b, 0.14 + 0.04 * f_b,
                                               np.full(len(b_day), 0.28),
                                               np.maximum(0.02, 0.2 - 0.16 * f_b)]))
    # breaching pre-charge bail is not an offence: such a breach is never charged (an arrest
    # instead); decided after the draw so the random stream, and every other file, is unchanged
    b_act[(o_type[b_order] == ORDER_TYPES.index("pre_charge_bail"))
          & (b_act == BREACH_ACTIONS.index("charge"))] = BREACH_ACTIONS.index("arrest")
    _write(pa.table({
        "breach_id": _ids("B", np.arange(1, len(b_day) + 1), 7),
        "order_id": order_ids.take(pa.array(b_order)),
        "force": _cat(fi[o_case[b_order]], force_names),
        "breach_date": _date_arr(b_day),
        "action": _cat(b_act, BREACH_ACTIONS),
    }), out / "breaches.parquet")
    rows["breaches"] = len(b_day)

    # --- devices -----------------------------------------------------------------------------
    n_dev = rng.poisson(0.3, n)
    d_case = np.repeat(np.arange(n), n_dev)
    nd = len(d_case)
    owner = _choice(rng, nd, [0.4, 0.5, 0.1])
    owner[(owner == 1) & ~has_suspect[d_case]] = 0
    seize_day = recorded[d_case] + _lognormal_days(rng, 3, 1.0, nd)
    # seizure instants between 08:00 and 20:00 UTC: never in the 01:00-02:00 clock-change hour
    seized_s = seize_day * 86400 + 8 * 3600 + rng.integers(0, 12 * 3600, nd)
    f_d = _improvement(seize_day, adopt[d_case])
    quick = rng.random(nd) < np.where(owner == 0, 0.15 + 0.5 * f_d, 0.05)
    hold_s = np.where(quick, rng.integers(2 * 3600, 24 * 3600, nd),
                      _lognormal_days(rng, 45, 0.9, nd) * 86400 + rng.integers(0, 86400, nd))
    hold_s[quick & (rng.random(nd) < 0.12)] = 24 * 3600  # exactly 24 hours: the boundary
    exam_day = seize_day + _lognormal_days(rng, 150 - 80 * f_d, 0.7, nd)
    exam_null = (exam_day > as_at) | ((owner != 1) & (rng.random(nd) < 0.5))
    returned_s = seized_s + hold_s
    suspect_dev = owner == 1
    returned_s[suspect_dev] = (exam_day[suspect_dev] + rng.integers(1, 30, int(suspect_dev.sum()))
                               ) * 86400 + 10 * 3600
    ret_null = (returned_s // 86400 > as_at) | (suspect_dev & ((rng.random(nd) < 0.5) | exam_null))
    # clock-change showcases: victim devices seized at noon the day before a change and back at
    # noon (UK local) the day after -> 23 real hours in March, 25 in October.
    showcase = [("2024-03-30T12:00Z", "2024-03-31T11:00Z"), ("2024-10-26T11:00Z",
                                                            "2024-10-27T12:00Z"),
                ("2025-03-29T12:00Z", "2025-03-30T11:00Z"), ("2025-10-25T11:00Z",
                                                            "2025-10-26T12:00Z")]
    for seized_iso, returned_iso in showcase:
        s_sec = int(np.datetime64(seized_iso.rstrip("Z"), "s").astype(np.int64))
        cand = np.flatnonzero((owner == 0) & (seize_day < s_sec // 86400)
                              & (seize_day >= s_sec // 86400 - 20))
        if len(cand):
            i = cand[0]
            seized_s[i] = s_sec
            seize_day[i] = s_sec // 86400
            returned_s[i] = int(np.datetime64(returned_iso.rstrip("Z"), "s").astype(np.int64))
            ret_null[i] = False
            exam_day[i] = max(exam_day[i], seize_day[i])
    ts = pa.timestamp("us", tz="Europe/London")
    _write(pa.table({
        "device_id": _ids("D", np.arange(1, nd + 1), 7),
        "case_id": case_ids.take(pa.array(d_case)),
        "force": _cat(fi[d_case], force_names),
        "owner": _cat(owner, OWNERS),
        "seized_at": pa.array(seized_s * 1_000_000, pa.int64()).cast(ts),
        "returned_at": pa.array(returned_s * 1_000_000, pa.int64(), mask=ret_null).cast(ts),
        "examination_completed_date": _date_arr(exam_day, exam_null),
    }), out / "devices.parquet")
    rows["devices"] = nd

    # --- survey responses (anonymous: force and date only) -----------------------------------
    s_case = np.flatnonzero(rng.random(n) < 0.06)
    ns_ = len(s_case)
    s_day = np.where(open_[s_case], recorded[s_case] + 120, outcome[s_case]) + rng.integers(
        14, 90, ns_)
    keep = s_day <= as_at
    s_case, s_day = s_case[keep], s_day[keep]
    ns_ = len(s_case)
    f_s = _improvement(s_day, adopt[s_case])
    survey: dict[str, pa.Array] = {
        "response_id": _ids("R", np.arange(1, ns_ + 1), 7),
        "force": _cat(fi[s_case], force_names),
        "response_date": _date_arr(s_day),
    }
    for k, col in enumerate(SURVEY_SCALE_ITEMS):
        agree = rng.random(ns_) < 0.42 + 0.05 * k + 0.22 * f_s
        val = np.where(agree, rng.integers(4, 6, ns_), rng.integers(1, 4, ns_))
        survey[col] = pa.array(val.astype(np.int64), mask=rng.random(ns_) < 0.07)
    survey["q_closure_met_in_person"] = pa.array(rng.random(ns_) < 0.3 + 0.35 * f_s,
                                                 mask=rng.random(ns_) < 0.15)
    _write(pa.table(survey), out / "survey_responses.parquet")
    rows["survey_responses"] = ns_

    # --- forces ------------------------------------------------------------------------------
    _write(pa.table({
        "force": pa.array(force_names, pa.string()),
        "soteria_adoption_date": _date_arr(adopt_f, adopt_f >= never),
        "cohort": _cat(np.array([COHORTS.index(s.cohort) for s in specs]), COHORTS),
    }), out / "forces.parquet")
    rows["forces"] = n_forces

    # --- workforce: one row per team per month -----------------------------------------------
    n_m = len(months)
    t_force = np.repeat(np.arange(n_forces), n_teams)
    nt = len(t_force)
    w_team = np.repeat(np.arange(nt), n_m)
    w_month = np.tile(np.arange(n_m), nt)
    nw = len(w_team)
    w_f = _improvement(m_start[w_month], adopt_f[t_force[w_team]])
    est = rng.integers(12, 28, nt).astype(float)[w_team]
    in_post = np.round(est * np.clip(0.82 + 0.09 * w_f + 0.04 * rng.standard_normal(nw), 0.6, 1.0),
                       1)
    trainee = np.round(in_post * np.clip(0.28 - 0.12 * w_f + 0.04 * rng.standard_normal(nw), 0,
                                         0.6), 1)
    headcount = np.rint(in_post * 1.07).astype(np.int64)
    specialist = np.rint(headcount * np.clip(0.25 + 0.6 * w_f + 0.05 * rng.standard_normal(nw),
                                             0, 1)).astype(np.int64)
    available = np.rint(headcount * m_len[w_month] * 5 / 7 * 0.9).astype(np.int64)
    sickness = np.rint(available * np.clip(0.055 - 0.015 * w_f + 0.015 * rng.standard_normal(nw),
                                           0, 0.3)).astype(np.int64)
    due = rng.binomial(headcount, 1 / 6)
    done = rng.binomial(due, np.clip(0.55 + 0.35 * w_f, 0, 1))
    _write(pa.table({
        "force": _cat(t_force[w_team], force_names),
        "team": _cat(w_team, tuple(team_names)),
        "month": _date_arr(m_start[w_month]),
        "establishment_fte": pa.array(est),
        "in_post_fte": pa.array(in_post),
        "trainee_fte": pa.array(trainee),
        "headcount": pa.array(headcount),
        "specialist_trained_headcount": pa.array(specialist),
        "sickness_days": pa.array(sickness),
        "available_days": pa.array(available),
        "screening_due": pa.array(due.astype(np.int64)),
        "screening_done": pa.array(done.astype(np.int64)),
    }), out / "workforce.parquet")
    rows["workforce"] = nw
    return rows
