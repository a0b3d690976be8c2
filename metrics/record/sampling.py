"""Scrutiny panel samples: a reproducible stratified random sample of NFA cases.

Population: the force's cases with a no-further-action outcome (Home Office outcome codes
9-18 and 21, as the ``nfa_explained_in_person`` KPI) whose ``outcome_date`` falls in the window
(first day of the first month to the last day of the last month).

Strata: offence group x outcome code. Allocation is proportional: stratum ``h`` with ``N_h``
of the ``N`` cases gets ``n * N_h / N`` places, rounded by the largest-remainder (Hamilton)
method so the places add up to exactly ``n`` (ties: the larger stratum first, then the stratum
name). A sample of ``n >= N`` takes every case. Within a stratum the cases are sorted by
``case_id`` and drawn without replacement by NumPy's PCG64 generator seeded with ``seed``,
strata in name order, so the same export, window, size and seed always give the same cases
whatever the row order of the file. The seed is stored with the sample.
"""

from __future__ import annotations

import math
import secrets
from typing import Any

import numpy as np
import pandas as pd

from metrics.record.repository import Record, RecordError, month

NFA_CODES: tuple[int, ...] = (9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 21)
"""Home Office outcome codes counted as no further action (as metrics.kpis)."""
METHOD = ("stratified random: offence group x outcome code, proportional allocation "
          "(largest remainder), PCG64 seed")
MAX_SAMPLE = 500


def _cases(source: Any) -> pd.DataFrame:
    """The cases table from a ``Dataset``, a DataFrame or an export folder."""
    if isinstance(source, pd.DataFrame):
        return source
    if hasattr(source, "cases"):
        return source.cases
    from metrics.load import load_dataset

    dataset = load_dataset(source)
    if "cases" not in dataset.tables:
        raise RecordError(f"the export in {source} has no usable cases file")
    return dataset.cases


def nfa_population(cases: pd.DataFrame, force: str, start: object, end: object) -> pd.DataFrame:
    """The NFA cases of ``force`` with an outcome in the window: case_id, offence_group,
    outcome_code (int), outcome_date (date), stratum (``offence_group|code``), sorted by
    stratum then case_id."""
    first = pd.Period(month(start), "M").start_time
    last = pd.Period(month(end), "M").end_time
    outcome = pd.to_datetime(cases["outcome_date"], errors="coerce")
    code = pd.to_numeric(cases["outcome_code"], errors="coerce")
    mask = ((cases["force"].astype(str) == force) & code.isin(NFA_CODES)
            & (outcome >= first) & (outcome <= last))
    pop = pd.DataFrame({
        "case_id": cases.loc[mask, "case_id"].astype(str).to_numpy(),
        "offence_group": cases.loc[mask, "offence_group"].astype(str).to_numpy(),
        "outcome_code": code[mask].astype(int).to_numpy(),
        "outcome_date": outcome[mask].dt.date.to_numpy(),
    })
    pop["stratum"] = pop["offence_group"] + "|" + pop["outcome_code"].astype(str)
    return pop.sort_values(["stratum", "case_id"], kind="stable").reset_index(drop=True)


def allocate(sizes: dict[str, int], n: int) -> dict[str, int]:
    """Proportional allocation of ``n`` places over strata of ``sizes`` (largest remainder).

    Returns places per stratum (each at most its size; they add up to ``min(n, total)``).
    """
    total = sum(sizes.values())
    if n >= total:
        return dict(sizes)
    quotas = {h: n * s / total for h, s in sizes.items()}
    places = {h: math.floor(q) for h, q in quotas.items()}
    left = n - sum(places.values())
    order = sorted(sizes, key=lambda h: (-(quotas[h] - places[h]), -sizes[h], h))
    for h in order[:left]:
        places[h] += 1
    return places


def stratified_sample(population: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """``n`` cases of ``population`` (from :func:`nfa_population`) by proportional stratified
    random sampling with ``seed``; the rows keep the population's columns."""
    sizes = population.groupby("stratum").size().to_dict()
    places = allocate({str(h): int(s) for h, s in sizes.items()}, n)
    rng = np.random.default_rng(seed)
    picked = []
    for stratum in sorted(places):
        members = population[population["stratum"] == stratum].sort_values("case_id")
        k = places[stratum]
        if k <= 0:
            continue
        index = np.sort(rng.choice(len(members), size=k, replace=False))
        picked.append(members.iloc[index])
    if not picked:
        return population.iloc[0:0]
    return pd.concat(picked).reset_index(drop=True)


def draw_sample(record: Record, source: Any, force: str, start: object, end: object, *,
                size: int, seed: int | None = None, author: str) -> tuple[int, pd.DataFrame]:
    """Draw and store a sample of the force's NFA cases for the window.

    ``source``: a ``Dataset``, its cases DataFrame or an export folder. ``seed`` None draws a
    fresh random seed (stored, so the draw can be repeated). Returns ``(sample id, the sampled
    cases)``. Raises :class:`RecordError` for a bad size, an unknown force or an empty
    population.
    """
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_SAMPLE:
        raise RecordError(f"the sample size must be a whole number from 1 to {MAX_SAMPLE}")
    if seed is None:
        seed = secrets.randbelow(2**31 - 1)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**31:
        raise RecordError("the seed must be a whole number from 0 to 2147483647")
    first, last = month(start), month(end)
    if first > last:
        raise RecordError(f"the window starts ({first}) after it ends ({last})")
    cases = _cases(source)
    if force not in set(cases["force"].astype(str).unique()):
        raise RecordError(f"there are no cases for {force!r} in the export")
    population = nfa_population(cases, force, first, last)
    if population.empty:
        raise RecordError(f"{force} has no NFA outcomes from {first} to {last}")
    sample = stratified_sample(population, size, seed)
    sample_id = record.save_sample(
        force, first, last, size=size, seed=seed, population=len(population),
        method=f"{METHOD} {seed}", author=author, cases=sample.to_dict("records"))
    return sample_id, sample


def nominate_case(record: Record, sample_id: int, case_id: str, *, source: Any,
                  nominated_by: str) -> int:
    """Add an ISVA-nominated case to a sample, with its offence group and outcome from the
    export (so it counts in ``panel_nfa_decision_sound`` when it is an NFA outcome in the
    window). Returns the sample case id. Raises :class:`RecordError` when the case id is not
    in the export or belongs to another force."""
    samples = record.samples()
    row = samples[samples["id"] == int(sample_id)]
    if row.empty:
        raise RecordError(f"there is no sample {sample_id}")
    cases = _cases(source)
    match = cases[cases["case_id"].astype(str) == str(case_id).strip()]
    if match.empty:
        raise RecordError(f"case {str(case_id)[:40]!r} is not in the export")
    case = match.iloc[0]
    if str(case["force"]) != str(row.iloc[0]["force"]):
        raise RecordError("that case belongs to another force")
    outcome_date = pd.to_datetime(case.get("outcome_date"), errors="coerce")
    code = pd.to_numeric(pd.Series([case.get("outcome_code")]), errors="coerce").iloc[0]
    return record.add_nomination(
        int(sample_id), str(case["case_id"]), nominated_by=nominated_by,
        offence_group=str(case["offence_group"]),
        outcome_code=None if pd.isna(code) else int(code),
        outcome_date=None if pd.isna(outcome_date) else outcome_date.date())


