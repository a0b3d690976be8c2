"""The data contract, declared once: tables, columns, types, allowed values and rules.

`metrics/load.py` enforces this declaration and `docs/data-contract.md` is generated from it
(``python -m metrics.contract > docs/data-contract.md``; a test fails when they disagree).

Column kinds and the dtype each has after loading (see `metrics/dataset.py`):

=========== ======================================= =========================================
kind        accepted Parquet (Arrow) types          loaded as
=========== ======================================= =========================================
id          string, dictionary of string, integer   pandas ``string`` (pyarrow storage)
category    string, dictionary of string            pandas ``category``
int         integer; float holding whole numbers    ``Int64``
float       integer, float                          ``float64``
bool        bool                                    ``boolean``
date        date32/64; timestamp (-> UK local date) ``datetime64[ns]`` at midnight, naive
timestamp   timestamp (naive = UK local, or tz)     ``datetime64[ns, Europe/London]``
=========== ======================================= =========================================

An all-null column (Arrow ``null`` type) is accepted for any kind.
"""

from __future__ import annotations

from dataclasses import dataclass

KINDS = ("id", "category", "int", "float", "bool", "date", "timestamp")
EXCLUDE = "exclude_rows"  # warning: the rows are dropped and counted in rows_excluded
KEEP = "keep_rows"  # warning: the rows are kept as they are and counted
SET_NULL = "set_null"  # warning: the offending values are treated as not recorded
UK_TZ = "Europe/London"
SURVEY_PREFIX = "q_"
SURVEY_SCALE = (1, 5)  # a five-point agree scale; 4 and 5 count as agreement


@dataclass(frozen=True)
class Column:
    """One column. ``required``: the column must be in the file; ``nullable``: values may be
    missing (a null in a non-nullable column excludes the row). ``allowed``: the only values
    accepted (others are ``on_invalid``). ``minimum``: smallest accepted number."""

    name: str
    kind: str
    description: str
    required: bool = False
    nullable: bool = True
    unique: bool = False
    allowed: tuple | None = None
    minimum: float | None = None
    first_of_month: bool = False
    on_invalid: str | None = None  # default: EXCLUDE when not nullable, else SET_NULL

    @property
    def invalid_action(self) -> str:
        """What happens to a value outside ``allowed``/``minimum``: EXCLUDE or SET_NULL."""
        return self.on_invalid or (SET_NULL if self.nullable else EXCLUDE)


@dataclass(frozen=True)
class Table:
    """One Parquet file. ``key`` names the column whose values are quoted as examples."""

    name: str
    description: str
    columns: tuple[Column, ...]
    key: str | None
    required: bool = False
    survey_items: bool = False  # extra ``q_`` columns are items (int 1-5 or bool)

    @property
    def file(self) -> str:
        return f"{self.name}.parquet"

    def column(self, name: str) -> Column:
        """The column called ``name``; KeyError when it is not in the contract."""
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


@dataclass(frozen=True)
class DateOrder:
    """Within one row, ``later`` must not be before ``earlier`` (both compared as UK local
    dates when either is a date). Breaking it triggers ``action`` on ``target``."""

    table: str
    earlier: str
    later: str
    action: str
    target: str  # the column blanked when action is SET_NULL
    rule: str
    wording: str  # "an outcome date before the recorded date"


@dataclass(frozen=True)
class Requires:
    """When ``column`` is set, ``needs`` must be set too."""

    table: str
    column: str
    needs: str
    action: str
    target: str
    rule: str
    wording: str


@dataclass(frozen=True)
class ForeignKey:
    """Every ``table.column`` value must exist in ``ref_table.ref_column`` (after the
    referenced table's own exclusions). Checked only when the referenced file is present."""

    table: str
    column: str
    ref_table: str
    ref_column: str
    action: str = EXCLUDE


@dataclass(frozen=True)
class Inconsistent:
    """A ``table`` row whose ``column`` is ``value`` while the ``ref_table`` row it points to
    (``via`` = ``ref_key``) has ``ref_column`` equal to ``ref_value``: impossible in the
    world, so a warning; the rows are kept (``KEEP``) and counted."""

    table: str
    via: str
    ref_table: str
    ref_key: str
    column: str
    value: str
    ref_column: str
    ref_value: str
    rule: str
    wording: str  # "a bail breach with action charge ..."


def _c(name: str, kind: str, description: str, **kw: object) -> Column:
    return Column(name=name, kind=kind, description=description, **kw)  # type: ignore[arg-type]


OFFENCE_GROUPS = ("rape", "sexual_assault", "other_sexual_offence")
HO_OFFENCE_CODES = ("19C", "19D", "19E", "19F", "19G", "19H", "17A", "17B", "20A", "20B", "21",
                    "22A", "22B", "23", "70", "71", "72", "73", "88A", "88B", "88C", "88D", "88E")
AGE_BANDS = ("0-15", "16-17", "18-24", "25-34", "35-44", "45-54", "55+")
SEXES = ("female", "male", "other")
ETHNICITIES = ("White", "Mixed", "Asian", "Black", "Other", "not_stated")
OUTCOME_CODES = tuple(range(1, 23))
ORDER_TYPES = ("pre_charge_bail", "SRO", "SHPO", "interim_SHPO", "restraining_order",
               "non_molestation_order")
BREACH_ACTIONS = ("arrest", "charge", "warning", "no_action")
OWNERS = ("victim", "suspect", "witness")
COHORTS = ("pathfinder", "expansion", "national")

TABLES: tuple[Table, ...] = (
    Table("cases", "One row per recorded RASSO crime. The only required file.", key="case_id",
          required=True, columns=(
              _c("case_id", "id", "Pseudonymous case key.", required=True, nullable=False,
                 unique=True),
              _c("force", "category", "Force name, e.g. \"Durham Constabulary\".", required=True,
                 nullable=False),
              _c("offence_group", "category", "Offence group.", required=True, nullable=False,
                 allowed=OFFENCE_GROUPS),
              _c("ho_offence_code", "category", "Home Office offence code.",
                 allowed=HO_OFFENCE_CODES),
              _c("recorded_date", "date", "Date the crime was recorded.", required=True,
                 nullable=False),
              _c("victim_age_band", "category", "Victim age band.", allowed=AGE_BANDS),
              _c("victim_sex", "category", "Victim sex.", allowed=SEXES),
              _c("victim_ethnicity", "category", "Victim ethnicity.", allowed=ETHNICITIES),
              _c("suspect_id", "id", "Pseudonymous person key; null = no suspect identified."),
              _c("suspect_arrested", "bool", "True arrested, false voluntary interview, null not "
                 "applicable."),
              _c("outcome_code", "int", "Home Office outcome type 1-22; null = still under "
                 "investigation.", allowed=OUTCOME_CODES, on_invalid=EXCLUDE),
              _c("outcome_date", "date", "Date of the outcome; required when outcome_code is "
                 "set."),
              _c("investigator_id", "id", "Officer in the case, pseudonymous."),
              _c("team", "category", "Investigating team."),
              _c("early_advice_requested_date", "date", "CPS early advice requested."),
              _c("early_advice_received_date", "date", "CPS early advice received."),
              _c("needs_assessment_date", "date", "Victim needs assessment completed."),
              _c("isva_referral_date", "date", "Referral to an independent sexual violence "
                 "adviser."),
              _c("isva_start_date", "date", "First contact by the ISVA."),
              _c("nfa_explained_in_person", "bool", "For a no-further-action outcome: the "
                 "decision was explained to the victim face to face."),
              _c("s63g_applied_date", "date", "Application under PACE s63G to retain "
                 "biometrics."),
          )),
    Table("victim_updates", "One row per update given to a victim.", key="case_id", columns=(
        _c("case_id", "id", "The case (must exist in cases).", required=True, nullable=False),
        _c("contact_date", "date", "Date of the update.", required=True, nullable=False),
        _c("channel", "category", "How the victim was updated (free category, e.g. phone)."),
    )),
    Table("orders", "Protective orders and pre-charge bail.", key="order_id", columns=(
        _c("order_id", "id", "Order key.", required=True, nullable=False, unique=True),
        _c("case_id", "id", "The case (must exist in cases).", required=True, nullable=False),
        _c("force", "category", "Force name.", required=True, nullable=False),
        _c("order_type", "category", "Kind of order.", required=True, nullable=False,
           allowed=ORDER_TYPES),
        _c("applied_date", "date", "Date applied for (bail: imposed).", required=True,
           nullable=False),
        _c("granted_date", "date", "Date granted; null = not (yet) granted."),
    )),
    Table("breaches", "Breaches of orders.", key="breach_id", columns=(
        _c("breach_id", "id", "Breach key.", required=True, nullable=False, unique=True),
        _c("order_id", "id", "The order (must exist in orders).", required=True,
           nullable=False),
        _c("force", "category", "Force name.", required=True, nullable=False),
        _c("breach_date", "date", "Date of the breach.", required=True, nullable=False),
        _c("action", "category", "Action taken.", required=True, nullable=False,
           allowed=BREACH_ACTIONS),
    )),
    Table("devices", "Digital devices seized.", key="device_id", columns=(
        _c("device_id", "id", "Device key.", required=True, nullable=False, unique=True),
        _c("case_id", "id", "The case (must exist in cases).", required=True, nullable=False),
        _c("force", "category", "Force name.", required=True, nullable=False),
        _c("owner", "category", "Whose device.", required=True, nullable=False,
           allowed=OWNERS),
        _c("seized_at", "timestamp", "When seized.", required=True, nullable=False),
        _c("returned_at", "timestamp", "When returned; null = not returned."),
        _c("examination_completed_date", "date", "Forensic examination completed."),
    )),
    Table("survey_responses", "Victim survey responses (anonymous: no case key). Any number of "
          "item columns named q_...: integers 1-5 (five-point agree scale) or booleans.",
          key="response_id", survey_items=True, columns=(
              _c("response_id", "id", "Response key.", required=True, nullable=False,
                 unique=True),
              _c("force", "category", "Force name.", required=True, nullable=False),
              _c("response_date", "date", "Date of the response.", required=True,
                 nullable=False),
          )),
    Table("forces", "One row per force: Soteria adoption, used to rebase charts and compare "
          "before and after.", key="force", columns=(
              _c("force", "category", "Force name.", required=True, nullable=False,
                 unique=True),
              _c("soteria_adoption_date", "date", "Date the force adopted the Soteria model; "
                 "null = not yet."),
              _c("cohort", "category", "Adoption cohort.", required=True, allowed=COHORTS),
          )),
    Table("workforce", "One row per team per month. All numbers load as float64 (a count may "
          "be written as an integer; sickness may be in part days).", key="team", columns=(
        _c("force", "category", "Force name.", required=True, nullable=False),
        _c("team", "category", "Team name.", required=True, nullable=False),
        _c("month", "date", "First day of the month.", required=True, nullable=False,
           first_of_month=True),
        *(_c(name, "float", desc, minimum=0) for name, desc in (
            ("establishment_fte", "Funded posts (FTE)."),
            ("in_post_fte", "Posts filled (FTE)."),
            ("trainee_fte", "Of those in post, trainees (FTE)."),
        )),
        *(_c(name, "float", desc, minimum=0) for name, desc in (
            ("headcount", "People in post."),
            ("specialist_trained_headcount", "Of them, with specialist RASSO training."),
            ("sickness_days", "Working days lost to sickness in the month."),
            ("available_days", "Working days available in the month."),
            ("screening_due", "Well-being screenings due in the month."),
            ("screening_done", "Well-being screenings done in the month."),
        )),
    )),
)

TABLE_BY_NAME: dict[str, Table] = {t.name: t for t in TABLES}

DATE_ORDERS: tuple[DateOrder, ...] = (
    DateOrder("cases", "recorded_date", "outcome_date", EXCLUDE, "outcome_date",
              "outcome_before_recorded", "an outcome date before the recorded date"),
    DateOrder("cases", "early_advice_requested_date", "early_advice_received_date", SET_NULL,
              "early_advice_received_date", "early_advice_order",
              "early advice received before it was requested"),
    DateOrder("cases", "isva_referral_date", "isva_start_date", SET_NULL, "isva_start_date",
              "isva_order", "ISVA first contact before the referral"),
    DateOrder("orders", "applied_date", "granted_date", SET_NULL, "granted_date",
              "granted_before_applied", "an order granted before it was applied for"),
    DateOrder("devices", "seized_at", "returned_at", SET_NULL, "returned_at",
              "returned_before_seized", "a device returned before it was seized"),
    DateOrder("devices", "seized_at", "examination_completed_date", SET_NULL,
              "examination_completed_date", "examined_before_seized",
              "an examination completed before the device was seized"),
)

REQUIRES: tuple[Requires, ...] = (
    Requires("cases", "outcome_code", "outcome_date", EXCLUDE, "outcome_code",
             "outcome_without_date", "an outcome code but no outcome date"),
    Requires("cases", "outcome_date", "outcome_code", SET_NULL, "outcome_date",
             "date_without_outcome", "an outcome date but no outcome code"),
    Requires("cases", "early_advice_received_date", "early_advice_requested_date", SET_NULL,
             "early_advice_received_date", "early_advice_not_requested",
             "early advice received but never requested"),
)

FOREIGN_KEYS: tuple[ForeignKey, ...] = (
    ForeignKey("victim_updates", "case_id", "cases", "case_id"),
    ForeignKey("orders", "case_id", "cases", "case_id"),
    ForeignKey("devices", "case_id", "cases", "case_id"),
    ForeignKey("breaches", "order_id", "orders", "order_id"),
)

INCONSISTENT: tuple[Inconsistent, ...] = (
    Inconsistent("breaches", "order_id", "orders", "order_id", "action", "charge",
                 "order_type", "pre_charge_bail", "bail_breach_charged",
                 "a breach of pre-charge bail with action charge (breaching bail is not an "
                 "offence, so it cannot be charged)"),
)

EXPORT_JSON = "export.json"

# Which findings refuse the export (error, exit 1) and which load with a warning.
SEVERITY_POLICY: tuple[tuple[str, str, str], ...] = (
    ("folder missing, or cases.parquet missing", "error", "nothing to show"),
    ("file unreadable: empty (0 bytes), truncated or damaged, not Parquet (e.g. a CSV renamed "
     ".parquet)", "error", "the export is broken; showing the other files would mislead"),
    ("required column missing", "error", "the file cannot be interpreted"),
    ("wrong column type (e.g. text in a date column)", "error",
     "every value would be misread"),
    ("duplicate ids (case_id, order_id, breach_id, device_id, response_id, forces.force)",
     "error", "a broken join in the extract; every count would be inflated"),
    ("cases.parquet with no usable rows", "error", "nothing to show"),
    ("optional column missing", "warning", "loaded as all missing; its KPIs show no data"),
    ("missing value in a non-nullable column", "warning", "rows excluded and counted"),
    ("unknown category / value out of range", "warning",
     "rows excluded where the column is non-nullable (and outcome_code); otherwise the value "
     "is treated as not recorded"),
    ("date order broken", "warning", "see Row rules above"),
    ("outcome_code without outcome_date", "warning", "rows excluded"),
    ("dangling foreign key", "warning", "rows excluded (also rows whose case or order was "
     "excluded)"),
    ("export.json present but without a valid as_at date", "warning",
     "ignored: the as-at date is the latest recorded or outcome date"),
    ("export.json as_at before the latest recorded or outcome date in cases, or after today",
     "warning", "the stated date is still used (windows ending after it read as maturing)"),
    ("a bail breach with action charge", "warning", "rows kept and counted (a bail breach "
     "cannot be charged; bail_breach_arrest_rate counts arrests only)"),
    ("survey item outside 1-5 (or not a whole number)", "warning",
     "the answer is treated as not given"),
    ("negative workforce number; month not the first of a month", "warning",
     "value treated as not recorded; row excluded"),
    ("date or timestamp before 1900 or after 2199", "warning",
     "treated as not recorded (such values are typos or placeholders)"),
    ("naive timestamp in the repeated or skipped clock-change hour", "warning",
     "repeated hour (October): the first occurrence (BST) is used; skipped hour (March): the "
     "instant the clocks went forward (02:00 BST) is used; nothing is excluded"),
)


def contract_markdown() -> str:
    """The text of ``docs/data-contract.md``, generated from the declarations above."""
    lines = [
        "# Data contract",
        "",
        "<!-- Generated from metrics/contract.py by `python -m metrics.contract > "
        "docs/data-contract.md`. Do not edit by hand: tests/test_contract.py compares them. -->",
        "",
        "A data folder holds up to eight Parquet files. Only `cases.parquet` is required; a "
        "missing optional file means its KPIs show \"no data\", never an error. Columns outside "
        "this contract are never loaded (an export may carry names or free text the dashboard "
        "must not hold).",
        "",
        "## Time",
        "",
        "- A **date** column holds a UK local (Europe/London) calendar date. Parquet `date32` is "
        "read as is; a timestamp given for a date column is reduced to its UK local date "
        "(naive timestamps are UK local time, time-zone-aware ones are converted to "
        "Europe/London first). Dates load as naive `datetime64[ns]` at midnight.",
        "- A **timestamp** column (`devices.seized_at`, `devices.returned_at`) loads as "
        "`datetime64[ns, Europe/London]`: naive values are UK local time, time-zone-aware ones "
        "are converted. Durations are real elapsed time, so the clock changes count: a device "
        "seized 2024-03-30 12:00 and returned 2024-03-31 12:00 (UK local) was held 23 hours.",
        "- A naive local time that happened twice (01:00-01:59 on the last Sunday of October) "
        "is read as the first occurrence (BST); one that never happened (01:00-01:59 on the "
        "last Sunday of March) is read as 02:00 BST, the instant the clocks went forward. Both "
        "are reported as a warning with the count; no row is excluded.",
        "",
        "## Column kinds",
        "",
        "| kind | accepted Parquet types | loaded as |",
        "|---|---|---|",
        "| id | string, dictionary of string, integer | pandas `string` (pyarrow) |",
        "| category | string, dictionary of string | pandas `category` |",
        "| int | integer; float holding whole numbers | `Int64` |",
        "| float | integer, float | `float64` |",
        "| bool | bool | `boolean` |",
        "| date | date32/64, timestamp | `datetime64[ns]` at midnight (UK local date) |",
        "| timestamp | timestamp (naive = UK local), date | `datetime64[ns, Europe/London]` |",
        "",
        "An all-null column (Parquet/Arrow `null` type) is accepted for any kind.",
        "",
        "## Files",
    ]
    for t in TABLES:
        lines += ["", f"### `{t.file}`{' (required)' if t.required else ''}", "", t.description,
                  "", "| column | kind | required | nullable | rules | meaning |",
                  "|---|---|---|---|---|---|"]
        for c in t.columns:
            rules = []
            if c.unique:
                rules.append("unique")
            if c.allowed is not None:
                vals = (f"{c.allowed[0]}-{c.allowed[-1]}" if c.allowed == OUTCOME_CODES
                        else ", ".join(f"`{v}`" for v in c.allowed))
                rules.append(f"one of {vals} (else {c.invalid_action})")
            if c.minimum is not None:
                rules.append(f">= {c.minimum:g} (else {c.invalid_action})")
            if c.first_of_month:
                rules.append(f"first of a month (else {EXCLUDE})")
            for fk in FOREIGN_KEYS:
                if fk.table == t.name and fk.column == c.name:
                    rules.append(f"must exist in {fk.ref_table}.{fk.ref_column} (else "
                                 f"{fk.action})")
            lines.append(f"| `{c.name}` | {c.kind} | {'yes' if c.required else 'no'} | "
                         f"{'yes' if c.nullable else 'no'} | {'; '.join(rules)} | "
                         f"{c.description} |")
        if t.survey_items:
            lines.append(f"| `{SURVEY_PREFIX}...` | int or bool | no | yes | int: "
                         f"{SURVEY_SCALE[0]}-{SURVEY_SCALE[1]} (else {SET_NULL}) | survey items; "
                         "the sample ships q_treated_with_respect, q_kept_informed, "
                         "q_felt_believed, q_would_report_again (1-5) and "
                         "q_closure_met_in_person (bool) |")
    lines += ["", "## Row rules", "", "| file | rule | check | action |", "|---|---|---|---|"]
    for d in DATE_ORDERS:
        what = f"`{d.later}` not before `{d.earlier}`"
        act = EXCLUDE if d.action == EXCLUDE else f"{SET_NULL} `{d.target}`"
        lines.append(f"| {d.table}.parquet | {d.rule} | {what} | {act} |")
    for r in REQUIRES:
        what = f"`{r.column}` set requires `{r.needs}` set"
        act = EXCLUDE if r.action == EXCLUDE else f"{SET_NULL} `{r.target}`"
        lines.append(f"| {r.table}.parquet | {r.rule} | {what} | {act} |")
    for i in INCONSISTENT:
        what = (f"not `{i.column}` = `{i.value}` when its {i.ref_table} row "
                f"(`{i.via}`) has `{i.ref_column}` = `{i.ref_value}`")
        lines.append(f"| {i.table}.parquet | {i.rule} | {what} | {KEEP} (counted) |")
    lines += [
        "",
        "`exclude_rows`: the row is dropped (and counted); `set_null`: the value is treated as "
        "not recorded, the row stays; `keep_rows`: the row stays as it is and is counted in "
        "the report. Rows referring to an excluded case or order are excluded "
        "in turn (dangling foreign key).",
        "",
        "## The as-at date (`export.json`)",
        "",
        f"An export may state its extraction date in `{EXPORT_JSON}` beside the Parquet "
        "files: `{\"as_at\": \"YYYY-MM-DD\"}`. Without it (or when it is unreadable or holds "
        "no valid date) the as-at date is the latest `recorded_date` or `outcome_date` in "
        "cases. The as-at date is shown with every figure and decides which windows are "
        "still **provisional**: a KPI declares `maturity_days` (how long after a window ends "
        "its value can still move, see docs/catalogue.md), and a window is provisional while "
        "`window_end + maturity_days > as_at` (final on the as-at date itself).",
        "",
        "## Errors and warnings",
        "",
        "An **error** refuses the export: `python -m metrics validate` exits 1 and the app shows "
        "the messages instead of KPIs. A **warning** loads the data, excludes or blanks what it "
        "says, and counts the rows. Each message names the file, the column, how many rows, "
        "and up to five example ids (ids only, never victim details).",
        "",
        "| finding | severity | why / what happens |",
        "|---|---|---|",
    ]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in SEVERITY_POLICY]
    lines += [
        "",
        "`python -m metrics validate DATA_DIR` exits 0 when the export is usable (warnings "
        "only), 1 when it is not, and 2 when `DATA_DIR` does not exist or is not a folder (a "
        "one-line message).",
        "",
        "Every run checks the export's files, except that the result for a **clean** export "
        "(no finding that excludes or blanks a row) is kept in `FLIGHTDECK_CACHE` (README, "
        "Configuration), keyed by a BLAKE2b hash of the files' bytes, of the checking code "
        "and of the DuckDB and pyarrow versions. A later run over byte-identical files, by "
        "the same code, reuses it and gives the same report; a file changed by one byte, a "
        "rule changed or a library upgraded means the files are checked again. An entry "
        "holds row counts, warnings without example ids, the force names and the first and "
        "latest dates: never a case id, and a check whose warnings carry example ids is not "
        "kept. `FLIGHTDECK_CACHE=off` checks every time.",
        "",
        "## Synthetic data",
        "",
        "`data/sample/` is `python -m metrics generate --out data/sample --cases 100000 "
        "--seed 1` (byte-identical for the same pyarrow version). See `metrics/generate.py` for "
        "the story it tells. Soteria adoption in the synthetic data (plausible, not the "
        "historical record): pathfinders 2021-07-01 (Durham, South Wales, West Midlands; with "
        "`--forces all` also Avon and Somerset); expansion 2022 (Metropolitan Police Service, "
        "Gwent, Kent 2022-04-01, Lancashire 2022-10-01, ...); national 2023-24 (Warwickshire, "
        "Wiltshire 2023-07-01, ...); with `--forces all`, City of London, Lincolnshire and "
        "West Mercia have not adopted (null). Cases are recorded from 2018-04-01 to 2026-09-30 "
        "(as at); the first two years are a run-in so that outcome-dated measures (a charge "
        "takes about 14 months) are steady from April 2020.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(contract_markdown(), end="")
