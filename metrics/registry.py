"""The KPI registry: the loader and validator of the KPI catalogue's declarations.

Every KPI is declared once, in one TOML file in ``metrics/catalogue/`` (format:
``docs/catalogue.md``): its words, pillar, unit, direction, minimum n, interval, parameters,
maturity, balancing measures, per-force targets and its computation as SQL over the data
contract's tables (run by ``metrics.kpis``). Survey items (``survey_<item>``) come from one
template declaration, ``metrics/catalogue/survey_item.toml``, applied to each ``q_`` column.
Nothing else declares a KPI.

A force's own catalogue: ``FLIGHTDECK_KPIS=PATH`` (a ``.toml`` file or a folder of them) adds
KPIs, or, with only ``id`` plus ``[params]`` and/or ``[targets]``, overrides a shipped KPI's
parameters and targets. A bad declaration (unknown key, wrong type, id clash, SQL that does
not bind on an empty export) is skipped and reported by :func:`catalogue_problems` as one
message naming the file, the KPI and the problem; the shipped catalogue goes on. Declarations
are trusted configuration read from disk only, never from a URL or a user's input.

Minimum n (the gate below which a value is not shown, status ``insufficient``):
- survey items: 30 responses (the inspection's rule: 30 replies before results mean anything);
- other proportions: 10 in the denominator (below that a 95% interval spans most of [0, 1]);
- medians (days): 5 items; caseload measures: 3 investigators;
- workforce ratios (denominators in days or FTE): 1 team-month row, i.e. shown whenever defined;
- counts (orders granted, s63G applications, device backlog): 0, so a count of zero is shown as
  0 (their n is the count itself; only a missing source table gives no_data).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

PILLARS: dict[int, str] = {
    1: "Suspect-focused investigation",
    2: "Repeat suspects",
    3: "Victims and procedural justice",
    4: "Learning and well-being",
    5: "Data and analysis",
    6: "Digital forensics",
}

KINDS = ("quantitative", "qualitative")
UNITS = ("proportion", "days", "count", "cases")
DIRECTIONS = ("higher", "lower", "neutral")
INTERVALS = ("wilson", "median_order", "none")
SOURCES = ("cases", "victim_updates", "orders", "breaches", "devices", "survey_responses",
           "workforce", "record")
RECORD_SOURCE = "record"
"""A KPI with this source is computed from the meeting record (``metrics.record.record_kpis``,
joined by ``compute_kpis(..., record=...)``), not by SQL over the export: it declares no ``sql``."""
CASE_LINKED_SOURCES = ("cases", "victim_updates", "orders", "breaches", "devices")

SURVEY_PREFIX = "q_"
SURVEY_MIN_N = 30
CATALOGUE_DIR = Path(__file__).resolve().parent / "catalogue"
SURVEY_TEMPLATE = "survey_item.toml"
ENV_KPIS = "FLIGHTDECK_KPIS"


@dataclass(frozen=True)
class KPI:
    """One KPI's declaration. ``numerator``/``denominator`` are plain-English descriptions.

    ``interval``: the interval it carries, ``wilson`` (proportions), ``median_order`` (medians)
    or ``none`` (counts, means, censuses); empty means the default for its unit.
    ``params``: named parameters of its computation (days, thresholds), used as ``$name`` in
    ``sql``; ``maturity_days``: how long (days) after a window ends its value can still move;
    ``balancing``: ids of the KPIs to read beside it; ``sql``: its computation over the
    contract tables (see docs/catalogue.md); ``scoped``: case-linked, so it follows the scope
    (all|adult_rape|child), None meaning "yes when its source is a case-linked table";
    ``targets``: force name -> target value (All forces allowed); ``origin``: the file.
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
    sql: str = field(default="", compare=False)
    scoped: bool | None = None
    targets: dict = field(default_factory=dict, hash=False, compare=False)
    origin: str = field(default="", compare=False)
    maturity_param: str = field(default="", compare=False)  # maturity_days names a param
    texts: tuple[str, ...] = field(default=(), compare=False, repr=False)  # raw words

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

    @property
    def shape(self) -> str:
        """What its SQL returns: ``items`` (one row per item: force, month, item; medians),
        ``stock`` (per force and month end: force, month, num[, den][, n]) or ``flow`` (per
        force and month: force, month, num[, den][, n], summed over the window's months)."""
        if self.unit == "days":
            return "items"
        return "stock" if self.stock else "flow"

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


# -- the declaration format ---------------------------------------------------------------------

# key -> (accepted Python types after tomllib, required)
_KEYS: dict[str, tuple[tuple[type, ...], bool]] = {
    "id": ((str,), True),
    "name": ((str,), True),
    "pillar": ((int,), True),
    "kind": ((str,), True),
    "unit": ((str,), True),
    "better": ((str,), True),
    "min_n": ((int,), True),
    "interval": ((str,), False),
    "maturity_days": ((int, str), False),
    "source": ((str,), False),
    "scoped": ((bool,), False),
    "stock": ((bool,), False),
    "balancing": ((list,), False),
    "definition": ((str,), True),
    "numerator": ((str,), True),
    "denominator": ((str,), False),
    "params": ((dict,), False),
    "targets": ((dict,), False),
    "sql": ((str,), True),  # not for source = "record" (see _check_keys)
}
_OVERRIDE_KEYS = {"id", "params", "targets"}
_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_TYPE_WORDS = {str: "text", int: "a whole number", bool: "true or false", list: "a list",
               dict: "a table"}


class DeclarationError(ValueError):
    """A declaration that cannot be used; the message names the file, the KPI and the problem."""


def _where(path: Path | str, kpi_id: object) -> str:
    name = Path(path).name if str(path) else "?"
    return f"{name}: KPI {kpi_id!r}" if isinstance(kpi_id, str) and kpi_id else f"{name}"


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_keys(raw: dict[str, Any], where: str, *, override: bool) -> None:
    """DeclarationError for an unknown key, a wrong type or a missing required key."""
    for key in raw:
        if key not in _KEYS:
            raise DeclarationError(f"{where}: unknown key {key!r} (allowed: "
                                   f"{', '.join(_KEYS)})")
    for key, value in raw.items():
        types = _KEYS[key][0]
        ok = isinstance(value, types) and not (bool not in types and isinstance(value, bool))
        if not ok:
            words = " or ".join(_TYPE_WORDS.get(t, t.__name__) for t in types)
            raise DeclarationError(f"{where}: {key} must be {words}, not {value!r}")
    if not override:
        missing = [k for k, (_, required) in _KEYS.items() if required and k not in raw
                   and not (k == "sql" and raw.get("source") == RECORD_SOURCE)]
        if missing:
            raise DeclarationError(f"{where}: missing required key(s) {', '.join(missing)}")
    for key in ("params", "targets"):
        for name, value in raw.get(key, {}).items():
            if not _number(value):
                raise DeclarationError(f"{where}: [{key}] {name} must be a number, not "
                                       f"{value!r}")
    for item in raw.get("balancing", []):
        if not isinstance(item, str):
            raise DeclarationError(f"{where}: balancing must list KPI ids, not {item!r}")


def _build(raw: dict[str, Any], path: Path | str) -> KPI:
    """The KPI of one full declaration; DeclarationError naming the problem."""
    where = _where(path, raw.get("id"))
    _check_keys(raw, where, override=False)
    if not _ID.match(raw["id"]):
        raise DeclarationError(f"{where}: id must be lower-case letters, digits and _")
    choices = {"kind": KINDS, "unit": UNITS, "better": DIRECTIONS, "interval": INTERVALS,
               "source": SOURCES}
    for key, allowed in choices.items():
        if key in raw and raw[key] not in allowed:
            raise DeclarationError(f"{where}: {key} must be one of {', '.join(allowed)}, not "
                                   f"{raw[key]!r}")
    if raw["pillar"] not in PILLARS:
        raise DeclarationError(f"{where}: pillar must be 1-6, not {raw['pillar']!r}")
    if raw["min_n"] < 0:
        raise DeclarationError(f"{where}: min_n must not be negative")
    if raw.get("unit") == "days" and raw.get("interval", "median_order") == "wilson":
        raise DeclarationError(f"{where}: a median (unit days) cannot carry a Wilson interval")
    params = dict(raw.get("params", {}))
    kw = {k: v for k, v in raw.items() if k not in ("params", "targets", "maturity_days")}
    texts = (raw["definition"], raw["numerator"], raw.get("denominator", ""))
    kpi = KPI(**kw, params=params, targets=dict(raw.get("targets", {})),
              maturity_days=0, origin=str(path), texts=texts)
    maturity = raw.get("maturity_days", 0)
    if isinstance(maturity, str):
        if maturity not in params:
            raise DeclarationError(f"{where}: maturity_days names {maturity!r}, which is not "
                                   "one of its [params]")
        kpi = replace(kpi, maturity_param=maturity)
    elif maturity < 0:
        raise DeclarationError(f"{where}: maturity_days must not be negative")
    else:
        kpi = replace(kpi, maturity_days=int(maturity))
    return _settle(kpi)


def _fill(text: str, params: dict[str, Any]) -> str:
    """``text`` with each ``{param}`` replaced by the parameter's value (1,095 style)."""
    for name, value in params.items():
        shown = f"{value:,}" if isinstance(value, int) else f"{value:g}"
        text = text.replace("{" + name + "}", shown)
    return text


def _settle(kpi: KPI) -> KPI:
    """``kpi`` with its words filled from its parameters and a parameter-named maturity."""
    definition, numerator, denominator = (_fill(t, kpi.params) for t in kpi.texts)
    kpi = replace(kpi, definition=definition, numerator=numerator, denominator=denominator)
    if kpi.maturity_param:
        kpi = replace(kpi, maturity_days=int(kpi.params[kpi.maturity_param]))
    return kpi


def _override(base: KPI, raw: dict[str, Any], path: Path | str) -> KPI:
    """``base`` with the parameters and targets of an override declaration."""
    where = _where(path, raw.get("id"))
    _check_keys(raw, where, override=True)
    extra = set(raw) - _OVERRIDE_KEYS
    if extra:
        raise DeclarationError(
            f"{where}: id clash: {base.id!r} is already declared in "
            f"{Path(base.origin).name}; a force's file may only override its [params] and "
            f"[targets] (remove {', '.join(sorted(extra))}, or choose a new id)")
    unknown = set(raw.get("params", {})) - set(base.params)
    if unknown:
        raise DeclarationError(f"{where}: unknown parameter(s) {', '.join(sorted(unknown))} "
                               f"(it has: {', '.join(base.params) or 'none'})")
    params = {**base.params, **raw.get("params", {})}
    kpi = replace(base, params=params, targets={**base.targets, **raw.get("targets", {})},
                  origin=f"{Path(base.origin).name} + {Path(path).name}")
    return _settle(kpi)


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise DeclarationError(f"{path.name}: cannot be read ({exc.strerror or exc})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise DeclarationError(f"{path.name}: not valid TOML ({exc})") from exc
    except UnicodeDecodeError as exc:
        raise DeclarationError(f"{path.name}: not UTF-8 text") from exc


def declaration_files(path: Path | str) -> list[Path]:
    """The ``.toml`` declaration files at ``path`` (a file, or a folder's files sorted by
    name); FileNotFoundError when it does not exist."""
    p = Path(path)
    if p.is_dir():
        return sorted(f for f in p.glob("*.toml") if f.is_file())
    if p.is_file():
        return [p]
    raise FileNotFoundError(str(p))


@dataclass(frozen=True)
class Catalogue:
    """The loaded catalogue: the KPIs in order, the survey template, and the problems found."""

    kpis: tuple[KPI, ...]
    survey_template: dict[str, Any]
    problems: tuple[str, ...] = ()

    def survey_kpi(self, column: str) -> KPI:
        return _survey_from(self.survey_template, column)


def _load_shipped() -> tuple[list[KPI], dict[str, Any]]:
    kpis: list[KPI] = []
    seen: dict[str, KPI] = {}
    for path in declaration_files(CATALOGUE_DIR):
        if path.name == SURVEY_TEMPLATE:
            continue
        kpi = _build(_read(path), path)
        if kpi.id in seen:
            raise DeclarationError(f"{path.name}: KPI {kpi.id!r}: id clash with "
                                   f"{Path(seen[kpi.id].origin).name}")
        seen[kpi.id] = kpi
        kpis.append(kpi)
    template = _read(CATALOGUE_DIR / SURVEY_TEMPLATE)
    _survey_from(template, "q_example")  # validates the template
    return kpis, template


def load_catalogue(extra: str | Path | None = None, *, check_sql: bool = True) -> Catalogue:
    """The shipped catalogue plus the declarations at ``extra`` (a file or folder; default
    ``$FLIGHTDECK_KPIS``). Each bad extra declaration is skipped and described in
    ``problems``; the shipped files are trusted (a test checks them). ``check_sql``: bind each
    extra KPI's SQL on an empty export (needs DuckDB)."""
    shipped, template = _shipped()
    if extra is None:
        extra = os.environ.get(ENV_KPIS) or None
    if extra is None:
        return Catalogue(tuple(shipped), template)
    kpis = list(shipped)
    by_id = {k.id: i for i, k in enumerate(kpis)}
    problems: list[str] = []
    try:
        files = declaration_files(extra)
    except FileNotFoundError:
        return Catalogue(tuple(shipped), template,
                         (f"{ENV_KPIS}: {str(extra)!r} is not a file or folder; the shipped "
                          "catalogue is used",))
    added: list[KPI] = []
    for path in files:
        try:
            raw = _read(path)
            if not isinstance(raw.get("id"), str):
                raise DeclarationError(f"{path.name}: missing required key id")
            if raw["id"] in by_id:
                pos = by_id[raw["id"]]
                kpi = _override(kpis[pos], raw, path)
                if check_sql:
                    _check_sql(kpi, path)
                kpis[pos] = kpi
                continue
            if raw["id"].startswith("survey_"):
                raise DeclarationError(f"{_where(path, raw['id'])}: ids starting survey_ are "
                                       "kept for the survey items")
            kpi = _build(raw, path)
            if check_sql:
                _check_sql(kpi, path)
            by_id[kpi.id] = len(kpis)
            kpis.append(kpi)
            added.append(kpi)
        except DeclarationError as exc:
            problems.append(f"{exc} (skipped)")
    known = {k.id for k in kpis}
    for kpi in added:
        missing = [b for b in kpi.balancing if b not in known and not b.startswith("survey_")]
        if missing:
            problems.append(f"{_where(kpi.origin, kpi.id)}: balancing names unknown KPI(s) "
                            f"{', '.join(missing)} (ignored)")
    return Catalogue(tuple(kpis), template, tuple(problems))


def shipped_problems_check() -> None:
    """Check the shipped catalogue's SQL (every declaration and the survey template) on an
    empty export; DeclarationError naming the first problem. Returns nothing when fine."""
    kpis, _ = _shipped()
    for kpi in [*kpis, catalogue().survey_kpi("q_example")]:
        _check_sql(kpi, kpi.origin)


def _check_sql(kpi: KPI, path: Path | str) -> None:
    """DeclarationError when the KPI's SQL does not bind on an empty export (or lacks the
    output columns its shape needs)."""
    if kpi.source == RECORD_SOURCE:  # computed from the meeting record, no SQL to bind
        if kpi.sql.strip():
            raise DeclarationError(f"{_where(path, kpi.id)}: a KPI with source = \"record\" "
                                   "is computed from the meeting record and takes no sql")
        return
    from metrics.kpis.sql import sql_problem

    problem = sql_problem(kpi)
    if problem:
        raise DeclarationError(f"{_where(path, kpi.id)}: {problem}")


_SHIPPED: tuple[list[KPI], dict[str, Any]] | None = None
_CACHE: dict[tuple, Catalogue] = {}


def _shipped() -> tuple[list[KPI], dict[str, Any]]:
    global _SHIPPED
    if _SHIPPED is None:
        _SHIPPED = _load_shipped()
    return _SHIPPED


def _extra_key(extra: str | None) -> tuple:
    """Cache key of the force's catalogue: the path and each file's size and mtime."""
    if not extra:
        return ()
    try:
        files = declaration_files(extra)
    except FileNotFoundError:
        return (extra, "missing")
    stamps = []
    for f in files:
        try:
            st = f.stat()
        except OSError:
            continue
        stamps.append((str(f), st.st_size, st.st_mtime_ns))
    return (extra, tuple(stamps))


def catalogue() -> Catalogue:
    """The current catalogue (shipped + ``$FLIGHTDECK_KPIS``), cached until a file changes."""
    extra = os.environ.get(ENV_KPIS) or None
    key = _extra_key(extra)
    hit = _CACHE.get(key)
    if hit is None:
        if len(_CACHE) > 8:
            _CACHE.clear()
        hit = _CACHE[key] = load_catalogue(extra)
    return hit


def catalogue_problems() -> list[str]:
    """Plain-English messages about the KPI catalogue (a bad declaration file: the file, the
    KPI and the problem), for the app banner and the CLI; empty when the catalogue is fine."""
    return list(catalogue().problems)


# -- survey items -------------------------------------------------------------------------------


def _survey_from(template: dict[str, Any], column: str) -> KPI:
    if not column.startswith(SURVEY_PREFIX):
        raise ValueError(f"survey item columns start with {SURVEY_PREFIX!r}: {column!r}")
    item = column[len(SURVEY_PREFIX):]
    label = item.replace("_", " ").capitalize()
    quoted = '"' + column.replace('"', '""') + '"'
    words = {"{item}": item, "{label}": label, "{label_lower}": label.lower(),
             "{column}": quoted}

    def fill(value: Any) -> Any:
        if isinstance(value, str):
            for key, text in words.items():
                value = value.replace(key, text)
        return value

    raw = {k: fill(v) for k, v in template.items()}
    return _build(raw, CATALOGUE_DIR / SURVEY_TEMPLATE)


def survey_kpi(column: str) -> KPI:
    """The KPI for one survey item column ``q_…``: share answering 4-5 (agree) or true."""
    return catalogue().survey_kpi(column)


def survey_columns(columns: Iterable[str]) -> list[str]:
    """The survey item columns among ``columns``, in their order."""
    return [c for c in columns if c.startswith(SURVEY_PREFIX)]


# -- lookups ------------------------------------------------------------------------------------


class _Static(Mapping):
    """id -> KPI for the catalogue's non-survey KPIs (shipped plus the force's own), live."""

    def __getitem__(self, key: str) -> KPI:
        for kpi in catalogue().kpis:
            if kpi.id == key:
                return kpi
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter([k.id for k in catalogue().kpis])

    def __len__(self) -> int:
        return len(catalogue().kpis)


STATIC_KPIS: Mapping[str, KPI] = _Static()


def all_kpis(survey_items: Iterable[str] = ()) -> list[KPI]:
    """Every KPI: the catalogue (shipped, then the force's own), then one per survey item
    column (``q_…``)."""
    cat = catalogue()
    return list(cat.kpis) + [cat.survey_kpi(c) for c in survey_items]


def get_kpi(kpi_id: str, survey_items: Iterable[str] = ()) -> KPI:
    """The KPI with this id; survey KPIs are found among ``survey_items``. KeyError if none."""
    for kpi in all_kpis(survey_items):
        if kpi.id == kpi_id:
            return kpi
    raise KeyError(kpi_id)
