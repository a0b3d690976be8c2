"""The KPI registry: every NOM measure declared once.

Tiles, charts, the definitions page, the CLI and exports all read these declarations;
the computations in `metrics/kpis/` are looked up by the same ids.

Minimum n (the gate below which a value is not shown, status ``insufficient``):
- survey items: 30 responses (the inspection's rule: 30 replies before results mean anything);
- other proportions: 10 in the denominator (below that a 95% interval spans most of [0, 1]);
- medians (days): 5 items; caseload measures: 3 investigators;
- workforce ratios (denominators in days or FTE): 1 team-month row, i.e. shown whenever defined;
- counts (orders granted, s63G applications, device backlog): 0, so a count of zero is shown as
  0 (their n is the count itself; only a missing source table gives no_data).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

PILLARS: dict[int, str] = {
    1: "Suspect-focused investigation",
    2: "Repeat suspects",
    3: "Victims and procedural justice",
    4: "Learning and well-being",
    5: "Data and analysis",
    6: "Digital forensics",
}

KINDS = ("quantitative", "qualitative")
INTERVALS = ("wilson", "median_order", "none")
CASE_LINKED_SOURCES = ("cases", "victim_updates", "orders", "breaches", "devices")
UNITS = ("proportion", "days", "count", "cases")
DIRECTIONS = ("higher", "lower", "neutral")

SURVEY_PREFIX = "q_"
SURVEY_MIN_N = 30


@dataclass(frozen=True)
class KPI:
    """One KPI's declaration. ``numerator``/``denominator`` are plain-English descriptions.

    ``interval``: the interval it carries, ``wilson`` (proportions), ``median_order`` (medians)
    or ``none`` (counts, means, censuses); empty means the default for its unit.
    ``params``: named parameters of its computation (days, thresholds); ``maturity_days``: how
    long after a window ends its value can still move; ``balancing``: ids of the KPIs to read
    beside it; ``sql``: its computation over the contract tables; ``scoped``: case-linked, so
    it follows the scope (all|adult_rape|child); None means "yes when its source is a
    case-linked table"; ``targets``: force name -> target value (All forces allowed).
    """

    id: str
    name: str
    pillar: int
    kind: str  # "quantitative" | "qualitative"
    unit: str  # "proportion" | "days" | "count" | "cases"
    better: str  # "higher" | "lower" | "neutral"
    min_n: int
    definition: str
    numerator: str
    denominator: str = ""
    source: str = "cases"  # the table the KPI needs; missing table -> status no_data
    stock: bool = False  # measured at the window's last day rather than over the window
    target: float | None = None  # for the SPC assurance verdict, where one is set
    interval: str = ""
    params: dict = field(default_factory=dict, hash=False, compare=False)
    maturity_days: int = 0
    balancing: tuple[str, ...] = ()
    sql: str = ""
    scoped: bool | None = None
    targets: dict = field(default_factory=dict, hash=False, compare=False)
    origin: str = ""  # the declaration file it came from (for messages)

    def __post_init__(self) -> None:
        if not self.interval:
            default = {"proportion": "wilson", "days": "median_order"}.get(self.unit, "none")
            object.__setattr__(self, "interval", default)
        if self.scoped is None:
            object.__setattr__(self, "scoped", self.source in CASE_LINKED_SOURCES)
        object.__setattr__(self, "balancing", tuple(self.balancing))

    @property
    def is_proportion(self) -> bool:
        return self.unit == "proportion"

    @property
    def improvement(self) -> str:
        """The SPC improvement direction: "increase", "decrease" or "neutral"."""
        return {"higher": "increase", "lower": "decrease"}.get(self.better, "neutral")

    def final_on(self, window_end: date) -> date:
        """The date from which a window ending ``window_end`` is final: ``window_end`` plus
        ``maturity_days`` days. The window is provisional while ``final_on > as_at``."""
        if isinstance(window_end, datetime):  # also pandas Timestamp
            window_end = window_end.date()
        elif not isinstance(window_end, date):  # e.g. numpy datetime64
            window_end = date.fromisoformat(str(window_end)[:10])
        return window_end + timedelta(days=int(self.maturity_days))

    def target_for(self, force: str) -> float | None:
        """The target for ``force`` (``targets``, else the single ``target``), or None."""
        value = self.targets.get(force, self.target)
        return None if value is None else float(value)


def _kpi(**kw) -> KPI:
    return KPI(**kw)


_STATIC: tuple[KPI, ...] = (
    # Pillar 1: suspect-focused investigation
    _kpi(id="charge_rate", name="Charge rate", pillar=1, kind="quantitative", unit="proportion",
         better="higher", min_n=10,
         definition="Of the cases given an outcome in the window, the share charged or summonsed "
                    "(Home Office outcome 1).",
         numerator="Cases with outcome 1 and outcome date in the window",
         denominator="Cases with any outcome and outcome date in the window"),
    _kpi(id="charge_rate_cohort", name="Charge rate (cohort)", pillar=1, kind="quantitative",
         unit="proportion", better="higher", min_n=10,
         definition="Of the cases recorded in the window, the share that have been charged "
                    "(outcome 1) so far. Recent cohorts are still maturing.",
         numerator="Cases recorded in the window with outcome 1",
         denominator="Cases recorded in the window"),
    _kpi(id="days_to_charge", name="Days to charge", pillar=1, kind="quantitative", unit="days",
         better="lower", min_n=5,
         definition="Median days from recording to charge, for cases charged in the window.",
         numerator="Median of outcome date minus recorded date (outcome 1, outcome date in window)",
         denominator="Charged cases in the window"),
    _kpi(id="early_advice_days", name="Early advice wait", pillar=1, kind="quantitative",
         unit="days", better="lower", min_n=5,
         definition="Median days from requesting CPS early advice to receiving it, for advice "
                    "received in the window.",
         numerator="Median of received date minus requested date (received in window)",
         denominator="Early advice received in the window"),
    _kpi(id="suspect_arrest_rate", name="Suspect arrest rate", pillar=1, kind="quantitative",
         unit="proportion", better="higher", min_n=10,
         definition="Of the cases recorded in the window where arrest or voluntary interview "
                    "applies, the share where the suspect was arrested.",
         numerator="Cases recorded in the window with the suspect arrested",
         denominator="Cases recorded in the window with suspect_arrested recorded"),
    # Pillar 2: repeat suspects
    _kpi(id="repeat_suspect_share", name="Repeat suspect share", pillar=2, kind="quantitative",
         unit="proportion", better="neutral", min_n=10,
         definition="Of the cases recorded in the window with a named suspect, the share whose "
                    "suspect is on at least one other case (any force) recorded within 1,095 days.",
         numerator="Cases recorded in the window whose suspect has another case within 1,095 days",
         denominator="Cases recorded in the window with a suspect_id"),
    _kpi(id="orders_granted", name="Protective orders granted", pillar=2, kind="quantitative",
         unit="count", better="higher", min_n=0, source="orders",
         definition="SROs, SHPOs, interim SHPOs, restraining and non-molestation orders granted "
                    "in the window (pre-charge bail is not counted).",
         numerator="Orders of those types with granted date in the window"),
    _kpi(id="breach_action_rate", name="Breach action rate", pillar=2, kind="quantitative",
         unit="proportion", better="higher", min_n=10, source="breaches",
         definition="Of the order breaches in the window, the share met with arrest or charge.",
         numerator="Breaches in the window with action arrest or charge",
         denominator="Breaches in the window"),
    _kpi(id="s63g_applications", name="s63G applications", pillar=2, kind="quantitative",
         unit="count", better="higher", min_n=0,
         definition="Applications under PACE s63G to retain a suspect's biometrics, made in the "
                    "window.",
         numerator="Cases with s63G applied date in the window"),
    # Pillar 3: victims and procedural justice
    _kpi(id="victim_withdrawal_rate", name="Victim withdrawal rate", pillar=3,
         kind="quantitative", unit="proportion", better="lower", min_n=10,
         definition="Of the outcomes in the window, the share where the victim did not support or "
                    "withdrew support (outcomes 14 and 16).",
         numerator="Outcomes 14 and 16 with outcome date in the window",
         denominator="All outcomes with outcome date in the window"),
    _kpi(id="needs_assessment_7d", name="Needs assessed within 7 days", pillar=3,
         kind="qualitative", unit="proportion", better="higher", min_n=10, maturity_days=7,
         definition="Of the cases recorded in the window, the share whose victim needs assessment "
                    "was completed within 7 days of recording.",
         numerator="Cases recorded in the window with needs assessment no more than 7 days after",
         denominator="Cases recorded in the window"),
    _kpi(id="victim_updated_28d", name="Victims updated in last 28 days", pillar=3,
         kind="qualitative", unit="proportion", better="higher", min_n=10,
         source="victim_updates", stock=True,
         definition="Of the cases open at the window's end, the share whose victim was updated in "
                    "the 28 days up to and including that day.",
         numerator="Open cases with a victim update in the 28 days ending at window end",
         denominator="Cases open at window end (recorded by then, no outcome by then)"),
    _kpi(id="nfa_explained_in_person", name="NFA explained in person", pillar=3,
         kind="qualitative", unit="proportion", better="higher", min_n=10,
         definition="Of the no-further-action outcomes in the window, the share explained to the "
                    "victim face to face.",
         numerator="NFA outcomes in the window explained in person",
         denominator="NFA outcomes (codes 9-18, 21) with outcome date in the window"),
    _kpi(id="isva_wait_days", name="ISVA wait", pillar=3, kind="quantitative", unit="days",
         better="lower", min_n=5,
         definition="Median days from referral to an independent sexual violence adviser to first "
                    "contact, for first contacts in the window.",
         numerator="Median of ISVA start date minus referral date (start in window)",
         denominator="ISVA starts in the window"),
    # Pillar 4: learning and well-being
    _kpi(id="sickness_rate", name="Sickness rate", pillar=4, kind="qualitative",
         unit="proportion", better="lower", min_n=1, source="workforce",
         definition="Sickness days as a share of available days, over the window's months.",
         numerator="Sum of sickness days", denominator="Sum of available days"),
    _kpi(id="vacancy_rate", name="Vacancy rate", pillar=4, kind="quantitative",
         unit="proportion", better="lower", min_n=1, source="workforce", stock=True,
         definition="Share of establishment FTE not in post, in the window's last month.",
         numerator="Establishment FTE minus in-post FTE (last month)",
         denominator="Establishment FTE (last month)"),
    _kpi(id="trainee_share", name="Trainee share", pillar=4, kind="quantitative",
         unit="proportion", better="lower", min_n=1, source="workforce", stock=True,
         definition="Share of in-post FTE who are trainees, in the window's last month.",
         numerator="Trainee FTE (last month)", denominator="In-post FTE (last month)"),
    _kpi(id="specialist_trained_share", name="Specialist trained share", pillar=4,
         kind="quantitative", unit="proportion", better="higher", min_n=1, source="workforce",
         stock=True,
         definition="Share of headcount with specialist RASSO training, in the window's last "
                    "month.",
         numerator="Specialist-trained headcount (last month)",
         denominator="Headcount (last month)"),
    _kpi(id="screening_rate", name="Well-being screening rate", pillar=4, kind="qualitative",
         unit="proportion", better="higher", min_n=1, source="workforce",
         definition="Psychological screening completed as a share of screenings due, over the "
                    "window's months.",
         numerator="Sum of screenings done", denominator="Sum of screenings due"),
    _kpi(id="caseload_per_investigator", name="Caseload per investigator", pillar=4,
         kind="quantitative", unit="cases", better="lower", min_n=3, stock=True,
         definition="Mean open cases per investigator at the window's end.",
         numerator="Open cases at window end with an investigator",
         denominator="Distinct investigators holding them"),
    _kpi(id="investigators_over_15", name="Investigators over 15 cases", pillar=4,
         kind="quantitative", unit="proportion", better="lower", min_n=3, stock=True,
         definition="Of the investigators holding open cases at the window's end, the share "
                    "holding more than 15.",
         numerator="Investigators with more than 15 open cases at window end",
         denominator="Investigators with open cases at window end"),
    # Pillar 5: data and analysis
    _kpi(id="victim_demographics_complete", name="Victim demographics complete", pillar=5,
         kind="quantitative", unit="proportion", better="higher", min_n=10,
         definition="Of the cases recorded in the window, the share with victim sex, age band and "
                    "ethnicity all recorded (ethnicity not 'not stated').",
         numerator="Cases recorded in the window with all three fields complete",
         denominator="Cases recorded in the window"),
    # Pillar 6: digital forensics
    _kpi(id="victim_device_24h", name="Victim devices back in 24h", pillar=6,
         kind="quantitative", unit="proportion", better="higher", min_n=10, source="devices",
         definition="Of the victims' devices seized in the window, the share returned within 24 "
                    "hours of seizure (real elapsed time).",
         numerator="Victim devices seized in the window returned within 24 hours",
         denominator="Victim devices seized in the window"),
    _kpi(id="suspect_device_days", name="Suspect device examination", pillar=6,
         kind="quantitative", unit="days", better="lower", min_n=5, source="devices",
         definition="Median days from seizure to completed examination, for suspect devices "
                    "completed in the window.",
         numerator="Median of examination completed date minus seizure date (UK local)",
         denominator="Suspect devices completed in the window"),
    _kpi(id="device_backlog", name="Suspect device backlog", pillar=6, kind="quantitative",
         unit="count", better="lower", min_n=0, source="devices", stock=True,
         definition="Suspect devices seized on or before the window's end and not examined by "
                    "then.",
         numerator="Suspect devices outstanding at window end"),
)

STATIC_KPIS: dict[str, KPI] = {k.id: k for k in _STATIC}


def survey_kpi(column: str) -> KPI:
    """The KPI for one survey item column ``q_…``: share answering 4-5 (agree) or true."""
    if not column.startswith(SURVEY_PREFIX):
        raise ValueError(f"survey item columns start with {SURVEY_PREFIX!r}: {column!r}")
    item = column[len(SURVEY_PREFIX):]
    label = item.replace("_", " ").capitalize()
    return KPI(
        id=f"survey_{item}", name=f"Survey: {label.lower()}", pillar=3, kind="qualitative",
        unit="proportion", better="higher", min_n=SURVEY_MIN_N, source="survey_responses",
        definition=f"Of the victims who answered '{label}' in survey responses dated in the "
                   "window, the share who agreed (4 or 5 on the five-point scale) or said yes.",
        numerator="Answers 4 or 5 (or true)", denominator="Non-null answers",
    )


def survey_columns(columns: Iterable[str]) -> list[str]:
    """The survey item columns among ``columns``, in their order."""
    return [c for c in columns if c.startswith(SURVEY_PREFIX)]


def all_kpis(survey_items: Iterable[str] = ()) -> list[KPI]:
    """Every KPI: the static catalogue, then one per survey item column (``q_…``)."""
    return list(_STATIC) + [survey_kpi(c) for c in survey_items]


def catalogue_problems() -> list[str]:
    """Plain-English messages about the KPI catalogue (a bad declaration file: the file, the
    KPI and the problem), for the app banner and the CLI; empty when the catalogue is fine."""
    return []


def get_kpi(kpi_id: str, survey_items: Iterable[str] = ()) -> KPI:
    """The KPI with this id; survey KPIs are found among ``survey_items``. KeyError if none."""
    for kpi in all_kpis(survey_items):
        if kpi.id == kpi_id:
            return kpi
    raise KeyError(kpi_id)
