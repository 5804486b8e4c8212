"""Deterministic synthetic demo data for Datenwerk: exports of one organisation plus ground truth.

:func:`generate` writes, for the invented organisation ``swm`` (Sozialwerk Musterstadt e.V.):

* case-management exports per department (``case_management/swm/<DEPT>/*.csv``; Windows-1252,
  ``;``, CRLF, German headings, ``DD.MM.YYYY``, decimal comma),
* DATEV EXTF Buchungsstapel files per year (``accounting/swm/EXTF_Buchungsstapel_<YEAR>.csv``)
  and the labels of their accounts (``accounting/swm/EXTF_Kontenbeschriftungen.csv``),
* reference tables (``reference/swm/*.csv``, UTF-8),

and beside them, never loaded, the ground truth computed from the generator's own arrays
(``planted_pii.json``, ``by_program_year.csv``, ``counts.json``). See ``README.md``.

Everything is vectorised with numpy (logic) and pyarrow (string formatting). Departments are
generated in chunks of at most :data:`CHUNK_CLIENTS` clients, each with its own random stream
derived from ``(seed, department, chunk)``, so memory stays bounded at large scales and the same
seed and scale always give byte-identical files.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ingestion.demo import names as W
from ingestion.demo.departments_config import write_departments_config
from ingestion.demo.directory import write_directory
from ingestion.demo.xlsx_vendor import convert_department

ORG_CODE = "swm"
ORG_NAME = "Sozialwerk Musterstadt e.V."
# The member organisations of the federation demo (code, name, size relative to ``scale``): the
# same departments and programs, client numbers that overlap, and one member small enough that
# its share of a federation figure could be recognised.
MEMBERS: tuple[tuple[str, str, float], ...] = (
    (ORG_CODE, ORG_NAME, 1.0),
    ("dwb", "Diakoniewerk Beispielstadt e.V.", 0.8),
    ("kjn", "Kinder- und Jugendhilfe Nordheide gGmbH", 0.25),
    ("bst", "Beratungsstellen Südtal e.V.", 0.5),
)
CLIENTS_AT_SCALE_1 = 2000
# Bounds memory: 100k clients make ~1.5M contacts per chunk (a few hundred MB while formatting).
CHUNK_CLIENTS = 100_000
# Rows per encoded block: keeps each pyarrow string buffer far below its 2 GB offset limit.
WRITE_BLOCK_ROWS = 250_000
YEARS = (2023, 2024, 2025)
N_MONTHS = 12 * len(YEARS)

DATEV_COLUMNS_FILE = (
    Path(__file__).resolve().parent.parent / "accounting" / "formats"
    / "datev_buchungsstapel_v13_columns.csv"
)
DATEV_CREATED = "20260105120000000"  # fixed "Erzeugt am" so that files are reproducible
DATEV_BERATER = 1001
DATEV_MANDANT = 20001
BANK_ACCOUNT = "1800"

HEADERS: dict[str, tuple[str, ...]] = {
    "klienten": ("Klient-Nr", "Vorname", "Nachname", "Geburtsdatum", "Geschlecht", "Straße",
                 "PLZ", "Ort", "Telefon", "E-Mail"),
    "faelle": ("Fall-Nr", "Klient-Nr", "Programm", "Zuweisung", "Beginn", "Ende",
               "Beendigungsgrund", "Fachkraft-Nr"),
    "kontakte": ("Kontakt-Nr", "Fall-Nr", "Datum", "Art", "Dauer (Min.)", "Mitarbeiter-Nr",
                 "Notiz"),
    "ziele": ("Ziel-Nr", "Fall-Nr", "Lebensbereich", "Vereinbart am", "Ausgangswert", "Zielwert",
              "Ergebnis", "Skala", "Gewicht"),
    "einschaetzungen": ("Einschätzung-Nr", "Fall-Nr", "Instrument", "Dimension", "Zeitpunkt",
                        "Datum", "Wert", "Skala min", "Skala max"),
}
ENTITIES = ("clients", "cases", "contacts", "goals", "assessments", "bookings")
_FILE_OF_ENTITY = {"clients": "klienten", "cases": "faelle", "contacts": "kontakte",
                   "goals": "ziele", "assessments": "einschaetzungen"}

GENDERS = ("weiblich", "männlich", "divers", "keine Angabe")
REFERRALS = ("Selbstmelder", "Jobcenter", "Jugendamt", "Arztpraxis", "Gericht", "Angehörige",
             "andere Beratungsstelle")
# Codes 0-2 are "planned", 3 "referral", 4 "dropout", 5 "moved", 6 "other" in the standard.
END_REASONS = ("regulär beendet", "vorzeitig auf Anraten der Fachkraft",
               "vorzeitig im Einvernehmen", "planmäßige Weitervermittlung",
               "Abbruch durch Klient/in", "Umzug", "Sonstiges")
_PLANNED_OR_REFERRAL = np.array([True, True, True, True, False, False, False])
CONTACT_TYPES = ("persönlich", "telefonisch", "online", "aufsuchend", "Gruppe")
_CONTACT_MINUTES = np.array([[50, 15], [15, 8], [40, 12], [90, 30], [120, 30]], dtype=float)
DOMAINS = ("Finanzen", "Wohnen", "Arbeit", "Gesundheit", "Familie", "Sucht",
           "Sprache/Integration", "Bildung")
PHASES = ("Aufnahme", "Zwischenstand", "Abschluss")
INSTRUMENT = "Lebenslagen-Einschätzung"

# Outcome model. Each end reason shortens the case, and shifts goal attainment and the change
# in assessment scores; "planned" ends do best, dropouts worst (cf. KDS 3.0 planned-end logic).
_PLANNED_SPLIT = np.array([0.72, 0.10, 0.18])  # regulär / auf Anraten / im Einvernehmen
_P_REFERRAL, _P_MOVED, _P_OTHER = 0.10, 0.04, 0.04
_REASON_DURATION = np.array([1.0, 0.9, 0.75, 0.85, 0.45, 0.6, 0.7])
_REASON_GOAL_SHIFT = np.array([0.9, 0.6, 0.5, 0.3, -1.5, -0.7, -0.5])
_REASON_SCORE_SHIFT = np.array([1.0, 0.7, 0.6, 0.4, -0.9, -0.3, -0.2])
_UNRATED_GOAL_SHARE = {True: 0.15, False: 0.03}  # dropouts often leave goals unrated
_EXIT_ASSESSED_SHARE = {True: 0.55, False: 0.92}  # gives ~85% of closed cases with an exit score
GAS_RHO = 0.3  # assumed correlation between goal scores in the GAS T-score (DESIGN.md)

# Accounting model (SKR 04 accounts; amounts follow the realised caseload).
ACCOUNT_SALARIES, ACCOUNT_SOCIAL, ACCOUNT_RENT = 6000, 6110, 6310
ACCOUNT_PHONE, ACCOUNT_MATERIAL = 6805, 6815
ACCOUNT_GRANTS, ACCOUNT_FEES, ACCOUNT_DONATIONS = 4300, 4400, 4900
_PAY_RAISE = (1.0, 1.055, 1.11)  # collective-agreement steps 2024 and 2025
_SOCIAL_SHARE = 0.205  # employer's social-insurance share of gross pay
_RENT_M2_PER_FTE, _RENT_EUR_M2 = 25.0, 11.80
_PHONE_EUR_PER_FTE = 28.0
_FEE_RATE_CENTS = (6240, 6510, 6820)  # Fachleistungsstunde billed to the Jugendamt, per year
_STRIPPED_BELEGDATUM_SHARE = 0.10  # share of rows written 503 instead of 0503 (DMM)

ACCOUNT_RANGES: tuple[tuple[int, int, str, str], ...] = (
    (6000, 6199, "cost", "personnel"),
    (6300, 6399, "cost", "premises"),
    (6800, 6899, "cost", "material"),
    (6200, 6299, "cost", "depreciation"),
    (6400, 6799, "cost", "administration"),
    (4300, 4399, "revenue", "grants"),
    (4400, 4499, "revenue", "fees"),
    (4900, 4999, "revenue", "donations"),
    (4000, 4299, "revenue", "other_revenue"),
)


@dataclass(frozen=True)
class Program:
    """One service (Angebot) and the parameters that shape its cases."""

    code: str
    name: str
    cost_centre: str
    share: float  # share of the department's clients whose first case is here
    median_days: float  # median length of a regularly ended case
    contacts_per_month: float
    cases_per_worker: int  # cases one caseworker takes on over the three years
    caseload_per_fte: float  # open cases per full-time post (drives personnel costs)
    contact_types: tuple[float, float, float, float, float]  # over CONTACT_TYPES
    young: bool  # clients are children/adolescents


@dataclass(frozen=True)
class Department:
    """One department (Fachbereich) of the organisation and its client mix."""

    code: str
    name: str
    name_en: str
    steward: str
    client_share: float
    is_pilot: bool
    programs: tuple[Program, ...]
    next_program: tuple[tuple[float, ...], ...]  # program of a second case, given the first
    gender: tuple[float, float, float, float]
    referral: tuple[float, ...]  # over REFERRALS
    dropout_base: float
    domains: tuple[float, ...]  # goal-domain weights over DOMAINS
    goals_per_case: tuple[float, float, float, float]  # P(1..4 goals)
    dimensions: tuple[str, ...]
    international_names: float
    salary_2023: float  # monthly gross pay per full-time post
    grant_share: float  # public grants as a share of the program's costs
    grant_text: str


DEPARTMENTS: tuple[Department, ...] = (
    Department(
        "SB", "Schuldner- und Insolvenzberatung", "Debt and insolvency counselling",
        "Katrin Brückner", 0.30, True,
        (
            Program("SB-ALLG", "Allgemeine Schuldnerberatung", "1100", 0.65, 240, 1.2, 120, 45,
                    (0.55, 0.30, 0.10, 0.03, 0.02), False),
            Program("SB-INSO", "Verbraucherinsolvenzberatung", "1200", 0.35, 360, 0.9, 100, 40,
                    (0.60, 0.25, 0.12, 0.02, 0.01), False),
        ),
        ((0.6, 0.4), (0.5, 0.5)),
        (0.47, 0.50, 0.01, 0.02),
        (0.45, 0.20, 0.02, 0.03, 0.05, 0.10, 0.15),
        0.20,
        (5.0, 2.5, 2.0, 0.8, 1.0, 0.3, 0.0, 0.3),
        (0.25, 0.40, 0.25, 0.10),
        ("Finanzielle Situation", "Wohnsituation", "Soziale Beziehungen"),
        0.18, 4300.0, 0.85, "Zuwendung Stadt Musterstadt",
    ),
    Department(
        "SUB", "Suchtberatung", "Addiction counselling", "Thomas Weißenfels", 0.25, True,
        (
            Program("SUB-AMB", "Ambulante Suchtberatung", "2100", 0.70, 200, 2.2, 90, 35,
                    (0.60, 0.20, 0.10, 0.02, 0.08), False),
            Program("SUB-NACH", "Nachsorge", "2200", 0.30, 300, 1.5, 90, 40,
                    (0.40, 0.15, 0.10, 0.05, 0.30), False),
        ),
        ((0.35, 0.65), (0.6, 0.4)),
        (0.30, 0.66, 0.01, 0.03),
        (0.35, 0.08, 0.01, 0.25, 0.15, 0.10, 0.06),
        0.28,
        (1.0, 1.0, 1.5, 3.0, 1.5, 5.0, 0.0, 0.2),
        (0.30, 0.40, 0.20, 0.10),
        ("Suchtmittelkonsum", "Gesundheit", "Soziale Beziehungen"),
        0.15, 4500.0, 0.90, "Zuwendung Land Suchthilfe",
    ),
    Department(
        "MBE", "Migrationsberatung", "Migration counselling", "Leyla Aydemir", 0.25, False,
        (
            Program("MBE", "Migrationsberatung für Erwachsene", "3100", 0.65, 180, 1.1, 150, 55,
                    (0.55, 0.25, 0.15, 0.03, 0.02), False),
            Program("JMD", "Jugendmigrationsdienst", "3200", 0.35, 240, 1.4, 110, 45,
                    (0.50, 0.20, 0.15, 0.05, 0.10), True),
        ),
        ((1.0, 0.0), (0.0, 1.0)),  # age decides the program, so clients stay in theirs
        (0.52, 0.46, 0.005, 0.015),
        (0.55, 0.20, 0.03, 0.02, 0.01, 0.09, 0.10),
        0.12,
        (1.0, 2.0, 3.0, 0.5, 1.0, 0.0, 5.0, 2.0),
        (0.30, 0.40, 0.20, 0.10),
        ("Sprache", "Wohnsituation"),
        0.85, 4100.0, 0.95, "Zuwendung BAMF/BMFSFJ",
    ),
    Department(
        "AJH", "Ambulante Jugendhilfe", "Outpatient youth welfare", "Jörg Hoffmeister", 0.20, False,
        (
            Program("AJH-SPFH", "Sozialpädagogische Familienhilfe", "4100", 0.45, 420, 3.6, 35,
                    12, (0.15, 0.15, 0.03, 0.65, 0.02), True),
            Program("AJH-EB", "Erziehungsbeistandschaft", "4200", 0.35, 360, 2.8, 45, 16,
                    (0.35, 0.15, 0.05, 0.43, 0.02), True),
            Program("AJH-SGA", "Soziale Gruppenarbeit", "4300", 0.20, 270, 3.2, 60, 20,
                    (0.15, 0.05, 0.03, 0.07, 0.70), True),
        ),
        ((0.4, 0.4, 0.2), (0.2, 0.5, 0.3), (0.1, 0.4, 0.5)),
        (0.45, 0.53, 0.01, 0.01),
        (0.05, 0.0, 0.80, 0.02, 0.03, 0.04, 0.06),
        0.12,
        (0.3, 1.0, 0.0, 1.5, 5.0, 0.3, 0.3, 4.0),
        (0.20, 0.45, 0.25, 0.10),
        ("Erziehungskompetenz", "Schule/Ausbildung", "Soziale Beziehungen"),
        0.15, 4400.0, 0.40, "Zuschuss Stadt Jugendhilfe",
    ),
)
PROGRAMS: tuple[Program, ...] = tuple(p for d in DEPARTMENTS for p in d.programs)
_PROGRAM_DEPT = np.array([i for i, d in enumerate(DEPARTMENTS) for _ in d.programs])
_DEPT_FIRST_PROGRAM = np.cumsum([0] + [len(d.programs) for d in DEPARTMENTS])[:-1]
N_PROGRAMS = len(PROGRAMS)


def _day(iso: str) -> int:
    return int(np.datetime64(iso, "D").astype(np.int64))


START_MIN = _day("2023-01-01")
START_MAX = _day("2025-11-30")
EXPORT_DAY = _day("2025-12-31")
_LAST_FIRST_CASE_START = _day("2024-09-30")  # clients with two cases start the first by then
_LAST_FIRST_CASE_END = _day("2025-06-30")
_CAL_FROM, _CAL_TO = _day("1940-01-01"), _day("2027-12-31")


@dataclass(frozen=True)
class _Calendar:
    """Lookup tables indexed by ``day - _CAL_FROM``: formatting dates costs one ``take``."""

    de: pa.Array
    iso: pa.Array
    year: np.ndarray
    month: np.ndarray
    dom: np.ndarray
    weekday: np.ndarray  # Monday = 0


@lru_cache(maxsize=1)
def _calendar() -> _Calendar:
    days = np.arange(_CAL_FROM, _CAL_TO + 1).astype("datetime64[D]")
    iso = days.astype(str)
    de = [f"{s[8:10]}.{s[5:7]}.{s[0:4]}" for s in iso.tolist()]  # 31k calendar days, once
    years = days.astype("datetime64[Y]").astype(np.int64) + 1970
    months = days.astype("datetime64[M]").astype(np.int64) % 12 + 1
    dom = (days - days.astype("datetime64[M]")).astype(np.int64) + 1
    weekday = (np.arange(_CAL_FROM, _CAL_TO + 1) + 3) % 7  # 1970-01-01 was a Thursday
    return _Calendar(pa.array(de), pa.array(iso.tolist()), years, months, dom, weekday)




def _s(values: np.ndarray) -> pa.Array:
    """Integers as decimal strings."""
    return pc.cast(pa.array(values), pa.string())


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    padded = pc.utf8_lpad(_s(numbers), width=width, padding="0")
    return pc.binary_join_element_wise(prefix, padded, "")


def _take(pool: Sequence[str] | pa.Array, idx: np.ndarray) -> pa.Array:
    arr = pool if isinstance(pool, pa.Array) else pa.array(list(pool), pa.string())
    return pc.take(arr, pa.array(idx))


def _join(*parts: pa.Array | str) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def _where(mask: np.ndarray, yes: pa.Array | str, no: pa.Array | str) -> pa.Array:
    return pc.if_else(pa.array(mask), yes, no)


def _dates(days: np.ndarray, missing: np.ndarray | None = None) -> pa.Array:
    out = pc.take(_calendar().de, pa.array(days - _CAL_FROM))
    return out if missing is None else _where(missing, "", out)


def _quote_needed(col: pa.Array) -> pa.Array:
    """Quote like csv.QUOTE_MINIMAL: only fields holding ';', '"' or a line break."""
    mask = pc.match_substring_regex(col, r'[;"\r\n]')
    if not pc.any(mask).as_py():
        return col
    escaped = _join('"', pc.replace_substring(col, '"', '""'), '"')
    return pc.if_else(mask, escaped, col)


def _lines_to_bytes(lines: pa.Array, encoding: str) -> bytes:
    """The concatenated values of a string array (each ending in CRLF), re-encoded."""
    arr = lines.combine_chunks() if isinstance(lines, pa.ChunkedArray) else lines
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)[arr.offset:arr.offset + len(arr) + 1]
    raw = memoryview(arr.buffers()[2])[int(offsets[0]):int(offsets[-1])]
    return bytes(raw).decode("utf-8").encode(encoding)


def _write_rows(fh: IO[bytes], columns: Sequence[pa.Array], encoding: str = "cp1252") -> None:
    n = len(columns[0]) if columns else 0
    for lo in range(0, n, WRITE_BLOCK_ROWS):
        block = [_quote_needed(c.slice(lo, WRITE_BLOCK_ROWS)) for c in columns]
        body = pc.binary_join_element_wise(*block, ";")
        fh.write(_lines_to_bytes(_join(body, "\r\n"), encoding))


def _header_line(names: Sequence[str]) -> bytes:
    return (";".join(names) + "\r\n").encode("cp1252")


def _choice(rng: np.random.Generator, probs: Sequence[float] | np.ndarray, n: int) -> np.ndarray:
    p = np.asarray(probs, dtype=float)
    return rng.choice(len(p), size=n, p=p / p.sum())


def _choice_rows(rng: np.random.Generator, table: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """One category per element, from the probability row ``table[rows]``."""
    cum = np.cumsum(table / table.sum(axis=1, keepdims=True), axis=1)
    u = rng.random(len(rows))
    return np.minimum((u[:, None] > cum[rows]).sum(axis=1), table.shape[1] - 1)


def _month_index(days: np.ndarray) -> np.ndarray:
    """Months since January 2023 (0..35 within the period)."""
    cal = _calendar()
    return (cal.year[days - _CAL_FROM] - YEARS[0]) * 12 + cal.month[days - _CAL_FROM] - 1


def _back_to_friday(days: np.ndarray, floor: np.ndarray | int) -> np.ndarray:
    """Move weekend dates to the Friday before, but never before ``floor``."""
    wd = _calendar().weekday[days - _CAL_FROM]
    return np.maximum(days - np.maximum(wd - 4, 0), floor)




@dataclass
class _Truth:
    """Per program x year counters, filled chunk by chunk from the in-memory arrays."""

    cases_closed: np.ndarray = field(default_factory=lambda: np.zeros((N_PROGRAMS, 3), np.int64))
    planned_ends: np.ndarray = field(default_factory=lambda: np.zeros((N_PROGRAMS, 3), np.int64))
    goals_rated: np.ndarray = field(default_factory=lambda: np.zeros((N_PROGRAMS, 3), np.int64))
    goals_achieved: np.ndarray = field(
        default_factory=lambda: np.zeros((N_PROGRAMS, 3), np.int64))
    assessed_pairs: np.ndarray = field(
        default_factory=lambda: np.zeros((N_PROGRAMS, 3), np.int64))
    improved_pairs: np.ndarray = field(
        default_factory=lambda: np.zeros((N_PROGRAMS, 3), np.int64))
    contacts: np.ndarray = field(default_factory=lambda: np.zeros((N_PROGRAMS, 3), np.int64))
    contact_minutes: np.ndarray = field(
        default_factory=lambda: np.zeros((N_PROGRAMS, 3), np.int64))
    clients_reached: np.ndarray = field(
        default_factory=lambda: np.zeros((N_PROGRAMS, 3), np.int64))
    costs_cents: np.ndarray = field(default_factory=lambda: np.zeros((N_PROGRAMS, 3), np.int64))
    revenues_cents: np.ndarray = field(
        default_factory=lambda: np.zeros((N_PROGRAMS, 3), np.int64))
    # Cases started in the year, and of those accepted (a second contact: contacts lie within
    # the case, so no dropout ends a case before its second contact).
    cases_started: np.ndarray = field(
        default_factory=lambda: np.zeros((N_PROGRAMS, 3), np.int64))
    cases_accepted: np.ndarray = field(
        default_factory=lambda: np.zeros((N_PROGRAMS, 3), np.int64))
    # Closed cases with at least one rated goal, and the sum of their GAS T-scores.
    cases_gas: np.ndarray = field(default_factory=lambda: np.zeros((N_PROGRAMS, 3), np.int64))
    gas_t_sum: np.ndarray = field(default_factory=lambda: np.zeros((N_PROGRAMS, 3), np.float64))


def _count(target: np.ndarray, prog: np.ndarray, year_idx: np.ndarray,
           weights: np.ndarray | None = None) -> None:
    key = prog * 3 + year_idx
    target += np.bincount(key, weights=weights, minlength=N_PROGRAMS * 3).reshape(
        N_PROGRAMS, 3).astype(np.int64)


class _PiiLists:
    """Planted identifiers, streamed to part files so that scale 500 fits in memory."""

    CATEGORIES = ("full_names", "streets", "phones", "emails", "birth_dates", "birth_dates_iso",
                  "notes", "client_numbers", "caseworker_numbers", "staff_numbers")

    def __init__(self, truth_dir: Path) -> None:
        self.dir = truth_dir
        self.parts = {c: truth_dir / f".planted_pii.{c}.part" for c in self.CATEGORIES}
        self.started = dict.fromkeys(self.CATEGORIES, False)
        for path in self.parts.values():
            path.write_bytes(b"")

    def add(self, category: str, values: pa.Array) -> None:
        uniq = pc.unique(values)
        uniq = uniq.filter(pc.not_equal(uniq, ""))
        if len(uniq) == 0:
            return
        encoded = json.dumps(uniq.to_pylist(), ensure_ascii=False)[1:-1]
        with self.parts[category].open("a", encoding="utf-8") as fh:
            fh.write((",\n" if self.started[category] else "\n") + encoded)
        self.started[category] = True

    def finish(self) -> None:
        with (self.dir / "planted_pii.json").open("w", encoding="utf-8") as out:
            out.write("{")
            for i, cat in enumerate(self.CATEGORIES):
                out.write(("," if i else "") + f"\n{json.dumps(cat)}: [")
                with self.parts[cat].open(encoding="utf-8") as part:
                    while chunk := part.read(1 << 20):
                        out.write(chunk)
                out.write("\n]")
                self.parts[cat].unlink()
            out.write("\n}\n")


@dataclass
class _Counters:
    """Running numbers: every identifier is unique across the organisation."""

    client: int = 0
    case: int = 0
    contact: int = 0
    goal: int = 0
    assessment: int = 0


@dataclass
class _AccountingInput:
    """What the bookings need from the cases: open cases per month, AJH fee hours."""

    active_diff: np.ndarray = field(
        default_factory=lambda: np.zeros((N_PROGRAMS, N_MONTHS + 1), np.int64))
    fee_prog: list[np.ndarray] = field(default_factory=list)
    fee_quarter: list[np.ndarray] = field(default_factory=list)
    fee_minutes: list[np.ndarray] = field(default_factory=list)


@dataclass(frozen=True)
class _Staff:
    offset: np.ndarray  # first staff index per program
    count: np.ndarray  # staff per program
    ids: pa.Array  # "MA-017" per staff index


def _staff(clients_per_dept: np.ndarray) -> _Staff:
    counts = []
    for d_idx, dept in enumerate(DEPARTMENTS):
        for prog in dept.programs:
            expected_cases = clients_per_dept[d_idx] * 1.2 * prog.share
            counts.append(max(2, math.ceil(expected_cases / prog.cases_per_worker)))
    count = np.array(counts, dtype=np.int64)
    offset = np.concatenate([[0], np.cumsum(count)[:-1]])
    total = int(count.sum())
    return _Staff(offset, count, _ids("MA-", np.arange(1, total + 1), max(3, len(str(total)))))


def _clients_per_department(scale: float) -> np.ndarray:
    return np.array([max(1, round(CLIENTS_AT_SCALE_1 * scale * d.client_share))
                     for d in DEPARTMENTS], dtype=np.int64)


def _rng(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, *keys]))




_FIRST_POOLS = (W.FIRST_NAMES_FEMALE_DE, W.FIRST_NAMES_FEMALE_INT, W.FIRST_NAMES_MALE_DE,
                W.FIRST_NAMES_MALE_INT)
_FIRST_NAMES = tuple(n for pool in _FIRST_POOLS for n in pool)
_FIRST_OFFSETS = np.cumsum([0] + [len(p) for p in _FIRST_POOLS])
_LAST_NAMES = W.LAST_NAMES_DE + W.LAST_NAMES_INT


def _email_part(name: str) -> str:
    out = name.lower()
    for k, v in W.EMAIL_TRANSLIT.items():
        out = out.replace(k, v)
    return out


@dataclass
class _Clients:
    number: np.ndarray
    gender: np.ndarray
    first_prog: np.ndarray  # global program index
    first_idx: np.ndarray
    last_idx: np.ndarray
    birth: np.ndarray
    young: np.ndarray


def _birth_days(rng: np.random.Generator, first_prog: np.ndarray, young: np.ndarray
                ) -> np.ndarray:
    """Youth programs: born 2005-2018 (JMD clients are the older ones); adults mostly 1960-2000."""
    m = len(first_prog)
    is_jmd = np.array([p.code == "JMD" for p in PROGRAMS])[first_prog]
    young_from = np.where(is_jmd, _day("2005-01-01"), _day("2007-01-01"))
    young_to = np.where(is_jmd, _day("2011-12-31"), _day("2018-12-31"))
    young_birth = young_from + (rng.random(m) * (young_to - young_from)).astype(np.int64)
    adult_span = _day("2005-12-31") - _day("1940-01-01")
    adult_birth = _day("1940-01-01") + (rng.beta(3.0, 2.2, m) * adult_span).astype(np.int64)
    return np.where(young, young_birth, adult_birth)


def _make_clients(rng: np.random.Generator, d_idx: int, m: int, number0: int,
                  total_clients: int, files: dict[str, IO[bytes]], pii: _PiiLists) -> _Clients:
    dept = DEPARTMENTS[d_idx]
    cal = _calendar()
    number = number0 + np.arange(1, m + 1)
    gender = _choice(rng, dept.gender, m)
    local_prog = _choice(rng, [p.share for p in dept.programs], m)
    first_prog = _DEPT_FIRST_PROGRAM[d_idx] + local_prog
    young = np.array([p.young for p in PROGRAMS])[first_prog]

    birth = _birth_days(rng, first_prog, young)

    intl = rng.random(m) < dept.international_names
    female = np.where(gender >= 2, rng.random(m) < 0.5, gender == 0)
    pool = np.where(female, 0, 2) + intl  # index into _FIRST_POOLS
    sizes = np.diff(_FIRST_OFFSETS)
    first_idx = _FIRST_OFFSETS[pool] + (rng.random(m) * sizes[pool]).astype(np.int64)
    n_de, n_int = len(W.LAST_NAMES_DE), len(W.LAST_NAMES_INT)
    last_idx = np.where(intl, n_de + rng.integers(0, n_int, m), rng.integers(0, n_de, m))

    street = rng.integers(0, len(W.STREETS), m)
    house = rng.integers(1, 121, m)
    suffix = np.where(rng.random(m) < 0.06, rng.integers(1, 3, m), 0)  # "12a", "12b"
    place = _choice(rng, [p[3] for p in W.PLACES], m)
    has_phone = rng.random(m) < np.where(young, 0.55, 0.80)
    mobile = rng.random(m) < 0.55
    mobile_prefix = rng.integers(0, len(W.MOBILE_PREFIXES), m)
    landline_digits = rng.integers(200_000, 9_999_999, m)
    mobile_digits = rng.integers(1_000_000, 99_999_999, m)
    has_email = rng.random(m) < np.where(young, 0.35, 0.65)
    domain = rng.integers(0, len(W.EMAIL_DOMAINS), m)
    # A bijection of the client number modulo 10^k: unique numbers that do not reveal the ID.
    k = len(str(total_clients))
    email_no = (number * 7919 + 13) % (10**k)

    first = _take(_FIRST_NAMES, first_idx)
    last = _take(_LAST_NAMES, last_idx)
    street_txt = _join(_take(W.STREETS, street), " ", _s(house), _take(("", "a", "b"), suffix))
    area = _take([p[2] for p in W.PLACES], place)
    landline = _join(area, " ", _s(landline_digits))
    mobile_no = _join(_take(W.MOBILE_PREFIXES, mobile_prefix), " ", _s(mobile_digits))
    phone = _where(has_phone, _where(mobile, mobile_no, landline), "")
    email = _join(_take([_email_part(n) for n in _FIRST_NAMES], first_idx), ".",
                  _take([_email_part(n) for n in _LAST_NAMES], last_idx), _s(email_no), "@",
                  _take(W.EMAIL_DOMAINS, domain))
    email = _where(has_email, email, "")
    client_no = _ids("K-", number, max(6, len(str(total_clients))))
    birth_de = _dates(birth)

    _write_rows(files["klienten"], [
        client_no, first, last, birth_de, _take(GENDERS, gender), street_txt,
        _take([p[0] for p in W.PLACES], place), _take([p[1] for p in W.PLACES], place),
        phone, email,
    ])
    pii.add("full_names", _join(first, " ", last))
    pii.add("streets", street_txt)
    pii.add("phones", phone)
    pii.add("emails", email)
    pii.add("birth_dates", birth_de)
    pii.add("birth_dates_iso", pc.take(cal.iso, pa.array(birth - _CAL_FROM)))
    pii.add("client_numbers", client_no)
    return _Clients(number, gender, first_prog, first_idx, last_idx, birth, young)


@dataclass
class _Cases:
    client: np.ndarray  # local client index
    prog: np.ndarray
    start: np.ndarray
    end: np.ndarray  # undefined where open
    open: np.ndarray
    obs_end: np.ndarray  # end, or the export date while open
    reason: np.ndarray  # END_REASONS index, -1 while open
    engagement: np.ndarray
    worker: np.ndarray  # staff index
    ids: pa.Array


def _make_cases(rng: np.random.Generator, d_idx: int, cl: _Clients, counters: _Counters,
                staff: _Staff, files: dict[str, IO[bytes]], client_no_width: int) -> _Cases:
    dept = DEPARTMENTS[d_idx]
    m = len(cl.number)
    two = rng.random(m) < 0.20
    second_of = np.flatnonzero(two)
    n2 = len(second_of)

    first_local = cl.first_prog - _DEPT_FIRST_PROGRAM[d_idx]
    trans = np.array(dept.next_program, dtype=float)
    second_prog = _DEPT_FIRST_PROGRAM[d_idx] + _choice_rows(rng, trans, first_local[second_of])

    client_effect = rng.normal(0, 1, m)
    e1 = 0.6 * client_effect + 0.8 * rng.normal(0, 1, m)
    e2 = 0.6 * client_effect[second_of] + 0.8 * rng.normal(0, 1, n2)

    def reasons(e: np.ndarray) -> np.ndarray:
        base = math.log(dept.dropout_base / (1 - dept.dropout_base))
        p_drop = 1 / (1 + np.exp(-(base - 0.9 * e)))
        u = rng.random(len(e))
        planned = _PLANNED_SPLIT.cumsum().searchsorted(rng.random(len(e)), side="right")
        out = np.minimum(planned, 2)
        thresholds = [(p_drop, 4), (p_drop + _P_REFERRAL, 3), (p_drop + _P_REFERRAL + _P_MOVED, 5),
                      (p_drop + _P_REFERRAL + _P_MOVED + _P_OTHER, 6)]
        for limit, code in reversed(thresholds):
            out = np.where(u < limit, code, out)
        return out

    def durations(prog: np.ndarray, reason: np.ndarray) -> np.ndarray:
        median = np.array([p.median_days for p in PROGRAMS])[prog]
        days = median * _REASON_DURATION[reason] * np.exp(0.55 * rng.normal(0, 1, len(prog)))
        return np.clip(days, 7, 1100).astype(np.int64)

    r1, r2 = reasons(e1), reasons(e2)
    first_latest = np.where(two, _LAST_FIRST_CASE_START, START_MAX)
    s1 = START_MIN + (rng.random(m) * (first_latest - START_MIN + 1)).astype(np.int64)
    s1 = np.clip(_back_to_friday(s1, START_MIN), START_MIN, START_MAX)
    end1 = s1 + durations(cl.first_prog, r1)
    # A client's first case must be over before the second one starts.
    end1 = np.where(two, np.minimum(end1, _LAST_FIRST_CASE_END), end1)
    end1 = _back_to_friday(np.minimum(end1, EXPORT_DAY + 400), s1)
    s2 = np.minimum(end1[second_of] + rng.integers(14, 181, n2), START_MAX)
    s2 = np.maximum(_back_to_friday(s2, START_MIN), end1[second_of] + 1)
    end2 = _back_to_friday(np.minimum(s2 + durations(second_prog, r2), EXPORT_DAY + 400), s2)

    client = np.concatenate([np.arange(m), second_of])
    prog = np.concatenate([cl.first_prog, second_prog])
    start = np.concatenate([s1, s2])
    end = np.concatenate([end1, end2])
    reason = np.concatenate([r1, r2])
    engagement = np.concatenate([e1, e2])

    order = np.lexsort((client, start))  # case numbers follow the start date
    client, prog, start, end, reason, engagement = (
        a[order] for a in (client, prog, start, end, reason, engagement))
    is_open = end > EXPORT_DAY
    reason = np.where(is_open, -1, reason)
    obs_end = np.where(is_open, EXPORT_DAY, end)
    n = len(client)
    referral = _choice(rng, dept.referral, n)
    worker = staff.offset[prog] + (rng.random(n) * staff.count[prog]).astype(np.int64)

    ids = _ids("F-", counters.case + np.arange(1, n + 1), 7)
    counters.case += n
    _write_rows(files["faelle"], [
        ids, _ids("K-", cl.number[client], client_no_width),
        _take([p.code for p in PROGRAMS], prog), _take(REFERRALS, referral),
        _dates(start), _dates(np.minimum(end, EXPORT_DAY), is_open),
        _take(("",) + END_REASONS, reason + 1), pc.take(staff.ids, pa.array(worker)),
    ])
    return _Cases(client, prog, start, end, is_open, obs_end, reason, engagement, worker, ids)


def _notes(rng: np.random.Generator, dept: Department, cl: _Clients,
           client: np.ndarray) -> pa.Array:
    """Free-text notes from templates, some naming the client (vectorised string joins)."""
    n = len(client)
    gender = cl.gender[client]
    young = cl.young[client]
    first = _take(_FIRST_NAMES, cl.first_idx[client])
    last = _take(_LAST_NAMES, cl.last_idx[client])

    salutation = _take(("Frau ", "Herr "), np.minimum(gender, 1))
    adult_named = _where(gender <= 1, _join(salutation, last), _join(first, " ", last))
    youth_named = _where(rng.random(n) < 0.5, first, _join("Familie ", last))
    named = _where(young, youth_named, adult_named)
    anon_adult = _take(W.NOTE_SUBJECTS_ANON, rng.integers(0, len(W.NOTE_SUBJECTS_ANON), n))
    anon_youth = _take(W.NOTE_SUBJECTS_ANON_YOUTH,
                       rng.integers(0, len(W.NOTE_SUBJECTS_ANON_YOUTH), n))
    subject = _where(rng.random(n) < 0.45, named, _where(young, anon_youth, anon_adult))

    topics, actions = W.NOTE_TOPICS[dept.code], W.NOTE_ACTIONS[dept.code]
    sep = _take(W.NOTE_SEPARATORS, rng.integers(0, len(W.NOTE_SEPARATORS), n))
    action = _take(actions, rng.integers(0, len(actions), n))
    report = _join(subject, " ", _take(W.NOTE_VERBS, rng.integers(0, len(W.NOTE_VERBS), n)), " ",
                   _take(topics, rng.integers(0, len(topics), n)), sep, action)
    opener = _join(_take(W.NOTE_OPENERS, rng.integers(0, len(W.NOTE_OPENERS), n)), sep, action)
    quote = _join(subject, ' sagt: "',
                  _take(W.NOTE_QUOTES, rng.integers(0, len(W.NOTE_QUOTES), n)), '"')
    kind = _choice(rng, (0.58, 0.22, 0.05, 0.15), n)  # report / opener / quote / no note
    return pc.choose(pa.array(kind.astype(np.int8)), report, opener, quote, pa.scalar(""))


@dataclass
class _Sinks:
    """Where one department's generated rows go: its open files, the planted personal data,
    the ground truth and what the accounting needs from the cases."""

    files: dict[str, IO[bytes]]
    pii: _PiiLists
    truth: _Truth
    acc: _AccountingInput


def _make_contacts(rng: np.random.Generator, d_idx: int, cl: _Clients, cs: _Cases,
                   counters: _Counters, staff: _Staff, out: _Sinks) -> np.ndarray:
    """Write the contacts; return the number of contacts per case."""
    files, pii, truth, acc = out.files, out.pii, out.truth, out.acc
    cal = _calendar()
    dept = DEPARTMENTS[d_idx]
    span = cs.obs_end - cs.start + 1
    rate = np.array([p.contacts_per_month for p in PROGRAMS])[cs.prog]
    lam = rate * span / 30.44 * np.exp(0.25 * cs.engagement) * np.where(cs.reason == 4, 0.6, 1.0)
    per_case = np.clip(rng.poisson(lam), 1, 40)

    case = np.repeat(np.arange(len(per_case)), per_case)
    first_row = np.concatenate([[0], np.cumsum(per_case)[:-1]])
    is_first = np.zeros(len(case), dtype=bool)
    is_first[first_row] = True
    start, stop = cs.start[case], cs.obs_end[case]
    day = start + (rng.random(len(case)) * (stop - start + 1)).astype(np.int64)
    day = np.where(is_first, start, _back_to_friday(day, start))  # intake on the start date
    order = np.argsort(case * 4096 + (day - START_MIN), kind="stable")
    case, day = case[order], day[order]
    n = len(case)
    prog = cs.prog[case]

    art_table = np.array([p.contact_types for p in PROGRAMS], dtype=float)
    art = _choice_rows(rng, art_table, prog)
    minutes = rng.normal(_CONTACT_MINUTES[art, 0], _CONTACT_MINUTES[art, 1])
    minutes = (np.clip(np.rint(minutes / 5) * 5, 10, 180)).astype(np.int64)
    other = staff.offset[prog] + (rng.random(n) * staff.count[prog]).astype(np.int64)
    worker = np.where(rng.random(n) < 0.8, cs.worker[case], other)
    notes = _notes(rng, dept, cl, cs.client[case])

    staff_ids = pc.take(staff.ids, pa.array(worker))
    _write_rows(files["kontakte"], [
        _ids("C-", counters.contact + np.arange(1, n + 1), 8), pc.take(cs.ids, pa.array(case)),
        _dates(day), _take(CONTACT_TYPES, art), _s(minutes), staff_ids, notes,
    ])
    counters.contact += n
    pii.add("notes", notes)
    pii.add("staff_numbers", staff_ids)

    year_idx = cal.year[day - _CAL_FROM] - YEARS[0]
    _count(truth.contacts, prog, year_idx)
    _count(truth.contact_minutes, prog, year_idx, minutes.astype(float))
    reached = np.unique((cs.client[case] * N_PROGRAMS + prog) * 3 + year_idx)
    _count(truth.clients_reached, (reached // 3) % N_PROGRAMS, reached % 3)

    # AJH bills the Jugendamt per case and quarter for the contact hours (Fachleistungsstunden).
    if DEPARTMENTS[d_idx].code == "AJH":
        month_idx = _month_index(day)
        key, inverse = np.unique(case * N_MONTHS + month_idx // 3, return_inverse=True)
        acc.fee_minutes.append(np.bincount(inverse, weights=minutes).astype(np.int64))
        acc.fee_quarter.append(key % N_MONTHS)
        acc.fee_prog.append(cs.prog[key // N_MONTHS])
    return per_case


def _make_goals(rng: np.random.Generator, d_idx: int, cs: _Cases, per_case: np.ndarray,
                counters: _Counters, files: dict[str, IO[bytes]], truth: _Truth) -> None:
    dept = DEPARTMENTS[d_idx]
    n_cases = len(cs.prog)
    k = 1 + _choice(rng, dept.goals_per_case, n_cases)
    # Distinct domains per case: Gumbel top-k over the department's domain weights.
    with np.errstate(divide="ignore"):
        log_w = np.log(np.array(dept.domains))
    ranked = np.argsort(-(log_w + rng.gumbel(size=(n_cases, len(DOMAINS)))), axis=1)
    case = np.repeat(np.arange(n_cases), k)
    rank = np.arange(len(case)) - np.repeat(np.cumsum(k) - k, k)
    domain = ranked[case, rank]
    n = len(case)

    set_day = np.minimum(cs.start[case] + rng.integers(0, 29, n), cs.obs_end[case])
    baseline = np.where(rng.random(n) < 0.55, -2, -1)
    weight = 1 + _choice(rng, (0.30, 0.45, 0.25), n)
    reason = cs.reason[case]
    closed = reason >= 0
    latent = (-0.55 + 0.55 * cs.engagement[case] + 0.35 * (np.log1p(per_case[case]) - 2.0)
              + _REASON_GOAL_SHIFT[np.maximum(reason, 0)] + 0.25 * (baseline + 1)
              + rng.normal(0, 0.75, n))
    result = np.clip(np.rint(latent), -2, 2).astype(np.int64)
    unrated_p = np.where(reason == 4, _UNRATED_GOAL_SHARE[True], _UNRATED_GOAL_SHARE[False])
    rated = closed & (rng.random(n) >= unrated_p)

    _write_rows(files["ziele"], [
        _ids("Z-", counters.goal + np.arange(1, n + 1), 7), pc.take(cs.ids, pa.array(case)),
        _take(DOMAINS, domain), _dates(set_day), _s(baseline), pa.repeat("0", n),
        _where(rated, _s(result), ""), pa.repeat("GAS", n), _s(weight),
    ])
    counters.goal += n

    cal = _calendar()
    end_year = cal.year[np.minimum(cs.end[case], EXPORT_DAY) - _CAL_FROM] - YEARS[0]
    _count(truth.goals_rated, cs.prog[case][rated], end_year[rated])
    achieved = rated & (result >= 0)
    _count(truth.goals_achieved, cs.prog[case][achieved], end_year[achieved])

    # GAS T-score per case over its rated goals (Kiresuk & Sherman, rho = GAS_RHO).
    w = np.where(rated, weight, 0).astype(float)
    sum_w = np.bincount(case, weights=w, minlength=n_cases)
    sum_w2 = np.bincount(case, weights=w * w, minlength=n_cases)
    sum_wx = np.bincount(case, weights=w * result, minlength=n_cases)
    has_gas = sum_w > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        t_score = 50 + 10 * sum_wx / np.sqrt((1 - GAS_RHO) * sum_w2 + GAS_RHO * sum_w ** 2)
    gas_year = cal.year[np.minimum(cs.end, EXPORT_DAY)[has_gas] - _CAL_FROM] - YEARS[0]
    _count(truth.cases_gas, cs.prog[has_gas], gas_year)
    truth.gas_t_sum += np.bincount(cs.prog[has_gas] * 3 + gas_year, weights=t_score[has_gas],
                                   minlength=N_PROGRAMS * 3).reshape(N_PROGRAMS, 3)


def _half_points(v2: np.ndarray) -> pa.Array:
    """Scores kept as integer half points (2..20) and written as ``6,5`` / ``7,0``."""
    table = [f"{i // 2},{5 if i % 2 else 0}" for i in range(21)]
    return _take(table, v2)


def _make_assessments(rng: np.random.Generator, d_idx: int, cs: _Cases, per_case: np.ndarray,
                      counters: _Counters, files: dict[str, IO[bytes]], truth: _Truth) -> None:
    dept = DEPARTMENTS[d_idx]
    n_cases, n_dim = len(cs.prog), len(dept.dimensions)
    reason = cs.reason[:, None]
    closed = cs.reason >= 0
    intake = np.clip(np.rint(2 * rng.normal(4.6, 1.4, (n_cases, n_dim))), 2, 18).astype(np.int64)
    delta = (0.3 + 0.6 * cs.engagement[:, None] + 0.3 * (np.log1p(per_case[:, None]) - 2.0)
             + _REASON_SCORE_SHIFT[np.maximum(reason, 0)] + rng.normal(0, 1.1, (n_cases, n_dim)))
    exit_v2 = np.clip(intake + np.rint(2 * delta), 2, 20).astype(np.int64)
    interim_v2 = np.clip(intake + np.rint(2 * (0.5 * delta + rng.normal(0, 0.5, delta.shape))),
                         2, 20).astype(np.int64)

    exit_p = np.where(cs.reason == 4, _EXIT_ASSESSED_SHARE[True], _EXIT_ASSESSED_SHARE[False])
    has_exit = closed & (rng.random(n_cases) < exit_p)
    has_interim = (cs.obs_end - cs.start > 120) & (rng.random(n_cases) < 0.6)
    intake_day = np.minimum(cs.start + rng.integers(0, 8, n_cases), cs.obs_end)
    interim_day = cs.start + (cs.obs_end - cs.start) // 2
    exit_day = np.maximum(np.minimum(cs.end, EXPORT_DAY) - rng.integers(0, 8, n_cases), cs.start)

    rows_case, rows_phase, rows_dim, rows_day, rows_v2 = [], [], [], [], []
    for phase_no, present, days, values in (
        (0, np.ones(n_cases, dtype=bool), intake_day, intake),
        (1, has_interim, interim_day, interim_v2),
        (2, has_exit, exit_day, exit_v2),
    ):
        idx = np.flatnonzero(present)
        rows_case.append(np.repeat(idx, n_dim))
        rows_phase.append(np.full(len(idx) * n_dim, phase_no))
        rows_dim.append(np.tile(np.arange(n_dim), len(idx)))
        rows_day.append(np.repeat(days[idx], n_dim))
        rows_v2.append(values[idx].ravel())
    case, phase, dim, day, v2 = (np.concatenate(a) for a in
                                 (rows_case, rows_phase, rows_dim, rows_day, rows_v2))
    order = np.lexsort((dim, phase, case))
    case, phase, dim, day, v2 = (a[order] for a in (case, phase, dim, day, v2))
    n = len(case)
    _write_rows(files["einschaetzungen"], [
        _ids("E-", counters.assessment + np.arange(1, n + 1), 8), pc.take(cs.ids, pa.array(case)),
        pa.repeat(INSTRUMENT, n), _take(dept.dimensions, dim), _take(PHASES, phase),
        _dates(day), _half_points(v2), pa.repeat("1", n), pa.repeat("10", n),
    ])
    counters.assessment += n

    cal = _calendar()
    pair_case = np.repeat(np.flatnonzero(has_exit), n_dim)
    improved = (exit_v2[has_exit] - intake[has_exit]).ravel() >= 2  # at least one full point
    end_year = cal.year[cs.end[pair_case] - _CAL_FROM] - YEARS[0]
    _count(truth.assessed_pairs, cs.prog[pair_case], end_year)
    _count(truth.improved_pairs, cs.prog[pair_case][improved], end_year[improved])


def _generate_chunk(rng: np.random.Generator, d_idx: int, m: int, counters: _Counters,
                    total_clients: int, staff: _Staff, out: _Sinks) -> dict[str, int]:
    files, pii, truth, acc = out.files, out.pii, out.truth, out.acc
    before = (counters.case, counters.contact, counters.goal, counters.assessment)
    client_no_width = max(6, len(str(total_clients)))
    cl = _make_clients(rng, d_idx, m, counters.client, total_clients, files, pii)
    counters.client += m
    cs = _make_cases(rng, d_idx, cl, counters, staff, files, client_no_width)
    pii.add("caseworker_numbers", pc.take(staff.ids, pa.array(cs.worker)))
    per_case = _make_contacts(rng, d_idx, cl, cs, counters, staff, out)
    _make_goals(rng, d_idx, cs, per_case, counters, files, truth)
    _make_assessments(rng, d_idx, cs, per_case, counters, files, truth)

    cal = _calendar()
    closed = ~cs.open
    end_year = cal.year[cs.end[closed] - _CAL_FROM] - YEARS[0]
    _count(truth.cases_closed, cs.prog[closed], end_year)
    planned = _PLANNED_OR_REFERRAL[np.maximum(cs.reason[closed], 0)]
    _count(truth.planned_ends, cs.prog[closed][planned], end_year[planned])
    start_year = cal.year[cs.start - _CAL_FROM] - YEARS[0]
    _count(truth.cases_started, cs.prog, start_year)
    accepted = per_case >= 2
    _count(truth.cases_accepted, cs.prog[accepted], start_year[accepted])

    # Open cases per program and month, as a difference array (+1 from start, -1 after the end).
    np.add.at(acc.active_diff, (cs.prog, _month_index(cs.start)), 1)
    np.add.at(acc.active_diff, (cs.prog, _month_index(cs.obs_end) + 1), -1)
    after = (counters.case, counters.contact, counters.goal, counters.assessment)
    return {"clients": m, "cases": after[0] - before[0], "contacts": after[1] - before[1],
            "goals": after[2] - before[2], "assessments": after[3] - before[3]}




@dataclass
class _Bookings:
    year: np.ndarray
    month: np.ndarray
    day: np.ndarray
    account: np.ndarray
    credit: np.ndarray  # True = H (revenue), False = S (cost)
    cents: np.ndarray
    prog: np.ndarray
    kind: np.ndarray  # sort key and document-number series
    text: np.ndarray  # object array of str
    doc: np.ndarray  # object array: fixed document number, or prefix of a numbered series


_DAYS_IN_MONTH = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def _month_days(year: np.ndarray, month: np.ndarray) -> np.ndarray:
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    return _DAYS_IN_MONTH[month - 1] + ((month == 2) & leap)


def _bookings(rng: np.random.Generator, acc: _AccountingInput) -> _Bookings:
    """Monthly personnel, rent and phone costs, material purchases, grants, fees, donations."""
    parts: list[dict[str, np.ndarray]] = []
    month_no = np.arange(N_MONTHS)
    years = YEARS[0] + month_no // 12
    months = month_no % 12 + 1
    raise_ = np.array(_PAY_RAISE)[month_no // 12]

    def add(prog: int, kind: int, account: int, credit: bool,
            when: tuple[np.ndarray, np.ndarray, np.ndarray], euros: np.ndarray,
            text: Sequence[str] | np.ndarray, doc: Sequence[str] | np.ndarray) -> None:
        year, month, day = when
        n = len(year)
        parts.append({
            "year": year.astype(np.int64), "month": month.astype(np.int64),
            "day": day.astype(np.int64), "account": np.full(n, account, np.int64),
            "credit": np.full(n, credit), "cents": np.rint(euros * 100).astype(np.int64),
            "prog": np.full(n, prog, np.int64), "kind": np.full(n, kind, np.int64),
            "text": np.asarray(text, dtype=object), "doc": np.asarray(doc, dtype=object),
        })

    active = np.cumsum(acc.active_diff, axis=1)[:, :N_MONTHS]
    for p, prog in enumerate(PROGRAMS):  # loop over the nine programs, vectorised over months
        dept = DEPARTMENTS[_PROGRAM_DEPT[p]]
        cc = prog.cost_centre
        steady = active[p, 12:].mean()
        # Half of the staff is fixed (the steady caseload), half follows this month's cases.
        fte = (0.5 * steady + 0.5 * active[p]) / prog.caseload_per_fte
        steady_fte = steady / prog.caseload_per_fte
        mm = [f"{m:02d}/{y}" for y, m in zip(years, months, strict=True)]
        ym = [f"{y}-{m:02d}" for y, m in zip(years, months, strict=True)]
        gross = np.round(fte * dept.salary_2023 * raise_ * rng.normal(1, 0.01, N_MONTHS), 2)
        last_day = np.minimum(_month_days(years, months), 28)
        add(p, 0, ACCOUNT_SALARIES, False, (years, months, last_day), gross,
            [f"Gehälter {t} {prog.code}" for t in mm], [f"LG{t}-{cc}" for t in ym])
        add(p, 1, ACCOUNT_SOCIAL, False, (years, months, last_day),
            np.round(gross * _SOCIAL_SHARE, 2),
            [f"Sozialversicherung {t} {prog.code}" for t in mm], [f"SV{t}-{cc}" for t in ym])
        nov = months == 11
        add(p, 2, ACCOUNT_SALARIES, False, (years[nov], months[nov], np.full(3, 25)),
            np.round(gross[nov] * 0.8, 2),
            [f"Jahressonderzahlung {y} {prog.code}" for y in YEARS],
            [f"JSZ{y}-{cc}" for y in YEARS])
        rent = np.round(_RENT_M2_PER_FTE * steady_fte * _RENT_EUR_M2 * 1.03 ** (month_no // 12), 2)
        add(p, 3, ACCOUNT_RENT, False, (years, months, np.full(N_MONTHS, 3)), rent,
            [f"Miete Beratungsräume {t} {prog.code}" for t in mm], [f"MI{t}-{cc}" for t in ym])
        phone = np.round(_PHONE_EUR_PER_FTE * steady_fte * rng.normal(1, 0.05, N_MONTHS), 2)
        add(p, 4, ACCOUNT_PHONE, False, (years, months, np.full(N_MONTHS, 5)), phone,
            [f"Telefon/Internet {t} {prog.code}" for t in mm], [f"TK{t}-{cc}" for t in ym])

        n_mat = rng.poisson(0.2 + 0.8 * steady_fte, N_MONTHS)
        mat_month = np.repeat(month_no, n_mat)
        n = len(mat_month)
        add(p, 5, ACCOUNT_MATERIAL, False,
            (years[mat_month], months[mat_month], rng.integers(1, 29, n)),
            np.round(np.exp(rng.normal(math.log(45), 0.7, n)), 2),
            np.array(W.MATERIAL_TEXTS, dtype=object)[rng.integers(0, len(W.MATERIAL_TEXTS), n)],
            np.full(n, "RE", dtype=object))

        n_don = rng.poisson(2 + 1.5 * steady_fte, len(YEARS))
        don_year = np.repeat(np.array(YEARS), n_don)
        n = len(don_year)
        don_month = rng.integers(1, 13, n)
        add(p, 7, ACCOUNT_DONATIONS, True, (don_year, don_month, rng.integers(1, 29, n)),
            np.maximum(5, np.round(np.exp(rng.normal(math.log(60), 1.0, n)))),
            np.array(W.DONATION_TEXTS, dtype=object)[rng.integers(0, len(W.DONATION_TEXTS), n)],
            np.full(n, "SP", dtype=object))

    _add_grants(parts, add)
    _add_fees(acc, add)

    merged = {k: np.concatenate([pt[k] for pt in parts]) for k in parts[0]}
    order = np.lexsort((np.arange(len(merged["year"])), merged["prog"], merged["kind"],
                        merged["day"], merged["month"], merged["year"]))
    b = _Bookings(**{k: v[order] for k, v in merged.items()})
    _number_documents(b)
    return b


_AddBookings = Callable[..., None]


def _add_grants(parts: list[dict[str, np.ndarray]], add: _AddBookings) -> None:
    """Grants: a share of each program's costs of the year, paid quarterly in round hundreds."""
    so_far = {k: np.concatenate([pt[k] for pt in parts])
              for k in ("prog", "year", "cents", "credit")}
    debit = ~so_far["credit"]
    cost_cents = np.bincount(so_far["prog"][debit] * 3 + so_far["year"][debit] - YEARS[0],
                             weights=so_far["cents"][debit].astype(float),
                             minlength=N_PROGRAMS * 3)
    for p, prog in enumerate(PROGRAMS):
        dept = DEPARTMENTS[_PROGRAM_DEPT[p]]
        for y_idx, year in enumerate(YEARS):
            own_share = dept.grant_share * cost_cents[p * 3 + y_idx] / 100
            quarter = round(own_share / 4 / 100) * 100
            add(p, 6, ACCOUNT_GRANTS, True,
                (np.full(4, year), np.array([1, 4, 7, 10]), np.full(4, 15)),
                np.full(4, float(quarter)),
                [f"{dept.grant_text} Q{q}/{year}" for q in range(1, 5)],
                [f"ZW{year}-Q{q}-{prog.cost_centre}" for q in range(1, 5)])


def _add_fees(acc: _AccountingInput, add: _AddBookings) -> None:
    """Fees the youth welfare office pays per quarter for the minutes of the AJH programs."""
    if not acc.fee_minutes:
        return
    f_prog = np.concatenate(acc.fee_prog)
    f_quarter = np.concatenate(acc.fee_quarter)
    f_minutes = np.concatenate(acc.fee_minutes)
    f_year = YEARS[0] + f_quarter // 4
    f_month = (f_quarter % 4) * 3 + 3
    rate = np.array(_FEE_RATE_CENTS)[f_quarter // 4]
    cents = np.rint(f_minutes * rate / 60)
    texts = np.array([f"Entgelt Jugendamt Q{q % 4 + 1}/{YEARS[0] + q // 4} {p.code}"
                      for p in PROGRAMS for q in range(12)], dtype=object)
    for p in np.unique(f_prog):  # loop over the AJH programs
        sel = f_prog == p
        add(int(p), 8, ACCOUNT_FEES, True,
            (f_year[sel], f_month[sel], _month_days(f_year[sel], f_month[sel])),
            cents[sel] / 100,
            texts[p * 12 + f_quarter[sel]], np.full(int(sel.sum()), "FL", dtype=object))


def _number_documents(b: _Bookings) -> None:
    """Invoices get running document numbers per year and series, in date order."""
    for prefix in ("RE", "SP", "FL"):
        for year in YEARS:
            sel = np.flatnonzero((b.doc == prefix) & (b.year == year))
            if len(sel):
                numbers = _ids(f"{prefix}{year}-", np.arange(1, len(sel) + 1), 6)
                b.doc[sel] = numbers.to_numpy(zero_copy_only=False)


def _datev_headings() -> list[str]:
    with DATEV_COLUMNS_FILE.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    # Real exports write the short alias where one exists (Konto, KOST1 - Kostenstelle).
    return [r["label_alias"] or r["label"] for r in rows]


def _datev_header(year: int) -> str:
    fields = [
        '"EXTF"', "700", "21", '"Buchungsstapel"', "13", DATEV_CREATED, "", '""', '""', '""',
        str(DATEV_BERATER), str(DATEV_MANDANT), f"{year}0101", "4", f"{year}0101", f"{year}1231",
        f'"Buchungen {year}"', '""', "1", "0", "0", '"EUR"', "", '""', "", '""', '"04"', "",
        '""', '""', '""',
    ]
    assert len(fields) == 31
    return ";".join(fields)


def _amounts(cents: np.ndarray) -> pa.Array:
    """``4210,5`` style: decimal comma, no thousands separator, no trailing zeros."""
    suffix = [""] + [(f",{c:02d}").rstrip("0") for c in range(1, 100)]
    return _join(_s(cents // 100), _take(suffix, cents % 100))


def _write_datev(rng: np.random.Generator, b: _Bookings, root: Path) -> dict[int, int]:
    headings = _datev_headings()
    n_cols = len(headings)
    kost_pos = headings.index("KOST1 - Kostenstelle")
    counts = {}
    for year in YEARS:
        sel = np.flatnonzero(b.year == year)
        n = len(sel)
        ddmm = b.day[sel] * 100 + b.month[sel]
        # Only days 1-9 show the difference, so strip among those to reach the share overall.
        early = b.day[sel] < 10
        p_strip = min(1.0, _STRIPPED_BELEGDATUM_SHARE * n / max(1, int(early.sum())))
        stripped = early & (rng.random(n) < p_strip)
        belegdatum = _where(stripped, _s(ddmm), pc.utf8_lpad(_s(ddmm), width=4, padding="0"))
        cc = np.array([p.cost_centre for p in PROGRAMS], dtype=object)[b.prog[sel]]
        fields: list[pa.Array | str] = [""] * n_cols
        fields[0] = _amounts(b.cents[sel])
        fields[1] = _where(b.credit[sel], '"H"', '"S"')
        fields[2] = '"EUR"'
        fields[6] = _s(b.account[sel])
        fields[7] = BANK_ACCOUNT
        fields[9] = belegdatum
        fields[10] = _join('"', pa.array(b.doc[sel], pa.string()), '"')
        fields[13] = _join('"', pa.array(b.text[sel], pa.string()), '"')
        fields[kost_pos] = _join('"', pa.array(cc, pa.string()), '"')
        with (root / f"EXTF_Buchungsstapel_{year}.csv").open("wb") as fh:
            fh.write((_datev_header(year) + "\r\n").encode("cp1252"))
            fh.write(_header_line(headings))
            if n:
                body = pc.binary_join_element_wise(*fields, ";")
                fh.write(_lines_to_bytes(_join(body, "\r\n"), "cp1252"))
        counts[year] = n
    return counts


# Kontenbeschriftungen (data category 20) for the accounts the demo books: real exports deliver
# them beside the Buchungsstapel, and the warehouse shows them with the accounts.
ACCOUNT_LABELS = (
    (BANK_ACCOUNT, "Bank"),
    (str(ACCOUNT_GRANTS), "Zuschüsse öffentliche Hand"),
    (str(ACCOUNT_FEES), "Entgelte Jugendamt"),
    (str(ACCOUNT_DONATIONS), "Spenden"),
    (str(ACCOUNT_SALARIES), "Gehälter"),
    (str(ACCOUNT_SOCIAL), "Gesetzliche soziale Aufwendungen"),
    (str(ACCOUNT_RENT), "Miete"),
    (str(ACCOUNT_PHONE), "Telefon und Internet"),
    (str(ACCOUNT_MATERIAL), "Bürobedarf"),
)


def _write_datev_labels(root: Path) -> None:
    fields = [
        '"EXTF"', "700", "20", '"Kontenbeschriftungen"', "2", DATEV_CREATED, "", '""', '""',
        '""', str(DATEV_BERATER), str(DATEV_MANDANT), f"{YEARS[0]}0101", "4", "", "",
        '"Kontenbeschriftungen"', '""', "", "", "", '""', "", '""', "", '""', '"04"', "", '""',
        '""', '""',
    ]
    assert len(fields) == 31
    lines = [";".join(fields), "Konto;Kontenbeschriftung;Sprach-ID"]
    lines += [f'{account};"{label}";"de-DE"' for account, label in ACCOUNT_LABELS]
    (root / "EXTF_Kontenbeschriftungen.csv").write_bytes(
        ("\r\n".join(lines) + "\r\n").encode("cp1252")
    )




def _write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def _write_reference(root: Path, org: str) -> None:
    root.mkdir(parents=True, exist_ok=True)
    _write_csv(root / "departments.csv",
               ("organisation_code", "department_code", "department_name", "department_name_en",
                "data_steward", "is_pilot"),
               [(org, d.code, d.name, d.name_en, d.steward, str(d.is_pilot).lower())
                for d in DEPARTMENTS])
    _write_csv(root / "programs.csv",
               ("organisation_code", "program_code", "department_code", "program_name"),
               [(org, p.code, DEPARTMENTS[_PROGRAM_DEPT[i]].code, p.name)
                for i, p in enumerate(PROGRAMS)])
    _write_csv(root / "cost_centres.csv",
               ("organisation_code", "cost_centre", "department_code", "program_code",
                "kost_field"),
               [(org, p.cost_centre, DEPARTMENTS[_PROGRAM_DEPT[i]].code, p.code, "KOST1")
                for i, p in enumerate(PROGRAMS)])
    _write_csv(root / "accounts.csv",
               ("organisation_code", "chart", "account_from", "account_to", "category_type",
                "category"),
               [(org, "SKR04", lo, hi, t, c) for lo, hi, t, c in ACCOUNT_RANGES])


def _rate(num: int, den: int, digits: int = 6) -> str:
    return "" if den == 0 else f"{num / den:.{digits}f}"


def _euros(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def _write_truth_table(path: Path, t: _Truth) -> None:
    rows = []
    for p, prog in enumerate(PROGRAMS):  # 9 programs x 3 years
        for y, year in enumerate(YEARS):
            cost = int(t.costs_cents[p, y])
            rows.append((
                prog.code, DEPARTMENTS[_PROGRAM_DEPT[p]].code, year,
                t.cases_closed[p, y], t.planned_ends[p, y],
                _rate(t.planned_ends[p, y], t.cases_closed[p, y]),
                t.goals_rated[p, y], t.goals_achieved[p, y],
                _rate(t.goals_achieved[p, y], t.goals_rated[p, y]),
                t.assessed_pairs[p, y], t.improved_pairs[p, y],
                _rate(t.improved_pairs[p, y], t.assessed_pairs[p, y]),
                t.contacts[p, y], t.contact_minutes[p, y], t.clients_reached[p, y],
                _euros(cost), _euros(int(t.revenues_cents[p, y])),
                _rate(cost, 100 * int(t.clients_reached[p, y]), 2),
                _rate(cost, 100 * int(t.planned_ends[p, y]), 2),
                _rate(cost, 100 * int(t.goals_achieved[p, y]), 2),
                t.cases_gas[p, y],
                "" if t.cases_gas[p, y] == 0 else f"{t.gas_t_sum[p, y] / t.cases_gas[p, y]:.6f}",
                t.cases_started[p, y], t.cases_accepted[p, y],
                _rate(t.cases_accepted[p, y], t.cases_started[p, y]),
            ))
    _write_csv(path, ("program_code", "department_code", "year", "cases_closed", "planned_ends",
                      "planned_end_rate", "goals_rated", "goals_achieved", "goal_attainment_rate",
                      "assessed_pairs", "improved_pairs", "share_improved", "contacts",
                      "contact_minutes", "clients_reached", "costs_eur", "revenues_eur",
                      "cost_per_client", "cost_per_planned_end", "cost_per_goal_achieved",
                      "cases_gas", "mean_gas_t", "cases_started", "cases_accepted",
                      "acceptance_rate"), rows)




def _write_accounting(seed: int, acc: _AccountingInput, acc_root: Path, truth: _Truth,
                      by_dept: dict[str, dict[str, int]]) -> dict[int, int]:
    """The DATEV exports, their costs and revenues in the truth, their bookings per department
    in ``by_dept``; returns the bookings per year."""
    bookings = _bookings(_rng(seed, 2), acc)
    booking_counts = _write_datev(_rng(seed, 3), bookings, acc_root)
    _write_datev_labels(acc_root)
    year_idx = bookings.year - YEARS[0]
    cost = (~bookings.credit) & (bookings.account >= 6000) & (bookings.account <= 6999)
    revenue = bookings.credit & (bookings.account >= 4000) & (bookings.account <= 4999)
    _count(truth.costs_cents, bookings.prog[cost], year_idx[cost],
           bookings.cents[cost].astype(float))
    _count(truth.revenues_cents, bookings.prog[revenue], year_idx[revenue],
           bookings.cents[revenue].astype(float))
    dept_of_booking = _PROGRAM_DEPT[bookings.prog]
    for d_idx, dept in enumerate(DEPARTMENTS):
        by_dept[dept.code]["bookings"] = int((dept_of_booking == d_idx).sum())
    return booking_counts


def generate(home_inbox: Path, truth_dir: Path, *, seed: int = 42,
             scale: float = 1.0, excel_department: str | None = "AJH",
             organisation: tuple[str, str] = (ORG_CODE, ORG_NAME)) -> dict[str, int]:
    """Write demo exports into home_inbox and ground truth into truth_dir; return counts per
    entity (clients, cases, contacts, goals, assessments, bookings).

    ``home_inbox`` receives ``case_management/swm/<DEPT>/*.csv``, ``accounting/swm/`` (DATEV
    EXTF per year) and ``reference/swm/*.csv``; ``truth_dir`` receives ``planted_pii.json``,
    ``by_program_year.csv`` and ``counts.json``. ``scale=1`` gives about 2,000 clients; the
    same ``seed`` (a non-negative integer) and ``scale`` always give byte-identical files.
    ``excel_department`` delivers in the second vendor's Excel format (``jugendhilfe_xlsx``
    profile) when its files fit a workbook; ``None`` keeps every department CSV.
    ``organisation`` (code, name) names the organisation the exports come from.
    """
    org, org_name = organisation
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale!r}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    home_inbox, truth_dir = Path(home_inbox), Path(truth_dir)
    cm_root = home_inbox / "case_management" / org
    acc_root = home_inbox / "accounting" / org
    truth_dir.mkdir(parents=True, exist_ok=True)
    acc_root.mkdir(parents=True, exist_ok=True)

    clients_per_dept = _clients_per_department(scale)
    total_clients = int(clients_per_dept.sum())
    staff = _staff(clients_per_dept)
    counters = _Counters()
    truth = _Truth()
    acc = _AccountingInput()
    pii = _PiiLists(truth_dir)
    by_dept: dict[str, dict[str, int]] = {}

    for d_idx, dept in enumerate(DEPARTMENTS):  # loop over departments and chunks only
        dept_dir = cm_root / dept.code
        dept_dir.mkdir(parents=True, exist_ok=True)
        counts = dict.fromkeys(ENTITIES, 0)
        files: dict[str, IO[bytes]] = {
            name: (dept_dir / f"{name}.csv").open("wb") for name in HEADERS}
        try:
            for name, fh in files.items():
                fh.write(_header_line(HEADERS[name]))
            n = int(clients_per_dept[d_idx])
            for c_idx, lo in enumerate(range(0, n, CHUNK_CLIENTS)):
                m = min(CHUNK_CLIENTS, n - lo)
                got = _generate_chunk(_rng(seed, 1, d_idx, c_idx), d_idx, m, counters,
                                      total_clients, staff, _Sinks(files, pii, truth, acc))
                for k, v in got.items():
                    counts[k] += v
        finally:
            for fh in files.values():
                fh.close()
        by_dept[dept.code] = counts

    booking_counts = _write_accounting(seed, acc, acc_root, truth, by_dept)

    formats = {d.code: "demo_csv" for d in DEPARTMENTS}
    if excel_department and convert_department(cm_root / excel_department):
        formats[excel_department] = "jugendhilfe_xlsx"

    _write_reference(home_inbox / "reference" / org, org)
    write_departments_config(home_inbox / "reference" / org, org,
                             [d.code for d in DEPARTMENTS if d.is_pilot])
    write_directory(home_inbox / "reference" / org, org, org_name,
                    [(d.code, d.name, d.name_en) for d in DEPARTMENTS])
    _write_truth_table(truth_dir / "by_program_year.csv", truth)
    pii.finish()
    total = {k: sum(c[k] for c in by_dept.values()) for k in ENTITIES}
    with (truth_dir / "counts.json").open("w", encoding="utf-8") as out:
        json.dump({"organisation_code": org, "seed": seed, "scale": scale, "total": total,
                   "by_department": by_dept, "export_profiles": formats,
                   "bookings_by_year": {str(y): c for y, c in booking_counts.items()}},
                  out, indent=2, ensure_ascii=False)
        out.write("\n")
    return total


def generate_federation(home_inbox: Path, truth_dir: Path, *, seed: int = 42, scale: float = 1.0,
                        organisations: int = 2) -> dict[str, dict[str, int]]:
    """Write the exports of ``organisations`` members of a federation (see :data:`MEMBERS`) into
    ``home_inbox``, each with its own ground truth in ``truth_dir/<organisation>/``; return
    the counts per organisation and entity.

    Each member is :func:`generate` with its own code, size and random stream, so client, case
    and contact numbers start at the same values everywhere: the same client number is a
    different person at each organisation.
    """
    if not 1 <= organisations <= len(MEMBERS):
        raise ValueError(f"the demo federation has 1 to {len(MEMBERS)} organisations, "
                         f"got {organisations}")
    return {
        code: generate(home_inbox, Path(truth_dir) / code, seed=seed + i, scale=scale * size,
                       organisation=(code, name))
        for i, (code, name, size) in enumerate(MEMBERS[:organisations])
    }


INCREMENT_FILE = "kontakte_nachtrag_{n}.csv"


def increment(home_inbox: Path, truth_dir: Path, *, share: float = 0.01,
              seed: int = 42) -> dict[str, int]:
    """Write a later delivery: ``share`` more contacts in new files, one per department.

    Each CSV department receives ``kontakte_nachtrag_<n>.csv`` (n counts the deliveries): contacts
    recorded late for cases already delivered, so every case, client and staff number exists;
    the contact numbers continue after the highest one delivered. Rows are drawn from the
    department's delivered contacts (date, type, minutes, staff and note of an existing contact
    of the same case), ``round(share * rows)`` of them, the same for the same seed and inbox.
    Departments delivering Excel are left out. Returns the new contacts per department; the
    ground truth of ``generate`` is not updated (``increments.json`` in ``truth_dir`` lists
    what was added).
    """
    if not 0 < share <= 1:
        raise ValueError(f"share must be in (0, 1], got {share!r}")
    import csv as _csv
    import io

    cm_root = Path(home_inbox) / "case_management" / ORG_CODE
    if not cm_root.is_dir():
        raise FileNotFoundError(f"no demo delivery under {cm_root}: run demo-data first")
    folders = sorted(p for p in cm_root.iterdir() if p.is_dir())
    delivered = {d: sorted(d.glob("kontakte*.csv")) for d in folders}
    n = 1 + max((len(files) - 1 for files in delivered.values() if files), default=0)
    next_number = 1 + max((_max_contact_number(f) for fs in delivered.values() for f in fs),
                          default=0)
    added: dict[str, int] = {}
    for d_idx, (folder, files) in enumerate(delivered.items()):
        if not files:
            continue
        with files[0].open(encoding="cp1252", newline="") as fh:
            rows = list(_csv.reader(fh, delimiter=";"))[1:]
        k = round(share * len(rows))
        rng = _rng(seed, 9, n, d_idx)
        picked = np.sort(rng.choice(len(rows), size=min(k, len(rows)), replace=False))
        out = io.StringIO(newline="")
        writer = _csv.writer(out, delimiter=";", lineterminator="\r\n")
        writer.writerow(HEADERS["kontakte"])
        for i, row in enumerate(picked):
            writer.writerow([f"C-{next_number + i:08d}", *rows[row][1:]])
        target = folder / INCREMENT_FILE.format(n=n)
        target.write_bytes(out.getvalue().encode("cp1252"))
        next_number += len(picked)
        added[folder.name] = len(picked)
    Path(truth_dir).mkdir(parents=True, exist_ok=True)
    log = Path(truth_dir) / "increments.json"
    history = json.loads(log.read_text(encoding="utf-8")) if log.exists() else []
    history.append({"delivery": n, "share": share, "seed": seed, "contacts": added})
    log.write_text(json.dumps(history, indent=2) + "\n", encoding="utf-8")
    return added


def _max_contact_number(path: Path) -> int:
    """The highest ``C-<number>`` in the first column of a contacts export."""
    import csv as _csv

    with path.open(encoding="cp1252", newline="") as fh:
        reader = _csv.reader(fh, delimiter=";")
        next(reader, None)
        return max((int(r[0][2:]) for r in reader if r and r[0].startswith("C-")), default=0)
