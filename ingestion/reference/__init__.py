"""dlt source for reference data: departments, programs, cost centres, account categories and
the public counselling-centre directory.

Files arrive as ``inbox/reference/<organisation>/<table>.csv`` (UTF-8, ``,``-separated, standard
column names, every value read as text so that leading zeros survive). Each delivery is a full
snapshot of that table for the organisation: staging keeps the latest one. Resources:
``departments``, ``programs``, ``cost_centres``, ``accounts``, ``locations`` (public address of
each department's counselling centre, published as open data), ``file_registry``.

The accounting mapping of an organisation lives here (see ``ingestion/accounting/README.md``):

- ``cost_centres.csv``: cost centre -> department and program, and ``kost_field``: which DATEV
  field holds the cost centre, ``KOST1`` or ``KOST2`` (SKR 42 books the tax sphere in KOST1, so
  departments sit in KOST2). One ``kost_field`` per organisation.
- ``accounts.csv``: account ranges of the organisation's chart (``SKR03``, ``SKR04``, ``SKR42``,
  ``SKR49``, or any other SKR such as ``SKR45``) -> ``category_type`` (cost, revenue, balance)
  and ``category``. Bounds are digit
  strings of equal length compared with the leading digits of an account, so ``6000``-``6199``
  covers 6000-6199 (and 60000-61999 in a 5-digit chart). They take precedence over the default
  ranges of the chart shipped in ``transform/seeds/chart_of_accounts_defaults.csv``.

Organisation, department and program codes must be identifiers (letters, digits, ``_``, ``-``,
``.``; see :func:`warehouse.paths.checked_code`): they name folders downstream.

A file that breaks these rules is rejected as a whole with the line and what is wrong: each
file is a full snapshot of its table, so loading it without some of its rows would silently
change what the table says.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from functools import cached_property
from pathlib import Path

import dlt
import pyarrow as pa
import pyarrow.csv as pacsv
from dlt.sources import DltResource

from ingestion.delivery import (
    FileOutcome,
    FileRejected,
    complete_files,
    deliver,
    outcome_resource,
    rows_or_empty,
)
from warehouse import datasets, paths
from warehouse.reasons import error_kind

DATASET = datasets.REFERENCE
PATTERN = "*/*.csv"  # <organisation>/<table>.csv

# Table -> (required columns, description). Columns are read as text except these typed ones.
TABLES: dict[str, tuple[tuple[str, ...], str]] = {
    "departments": (
        ("organisation_code", "department_code", "department_name", "data_steward"),
        "Departments (Fachbereiche) with their data steward and pilot flag.",
    ),
    "programs": (
        ("organisation_code", "program_code", "department_code", "program_name"),
        "Programs (Angebote) and the department they belong to.",
    ),
    "cost_centres": (
        ("organisation_code", "cost_centre", "department_code", "program_code", "kost_field"),
        "Cost centres (Kostenstellen) and the department/program they stand for.",
    ),
    "accounts": (
        ("organisation_code", "chart", "account_from", "account_to", "category_type", "category"),
        "Account ranges of the chart of accounts mapped to cost and revenue categories.",
    ),
    "locations": (
        ("organisation_code", "organisation_name", "department_code", "location_name",
         "address_1", "postal_code", "city"),
        "Public counselling-centre directory: each department's public address (open data).",
    ),
}
TYPED = {"is_pilot": pa.bool_()}
# Columns a table may leave out: added empty, so staging always finds them.
OPTIONAL: dict[str, tuple[str, ...]] = {
    "departments": ("is_pilot",),
    "locations": ("description", "state_province", "country", "latitude", "longitude", "website"),
}

# What a new organisation needs first (its cases name departments and programs); the others
# add the finance figures (cost_centres, accounts) and the public directory (locations).
REQUIRED_TABLES = ("departments", "programs")
# A template is not a delivery: this suffix matches no loader's pattern until it is renamed.
TEMPLATE_SUFFIX = ".template"

# The shared categories: marts compare organisations, so categories are a fixed vocabulary.
CATEGORIES = {
    "cost": ("personnel", "material", "premises", "administration", "depreciation",
             "other_costs"),
    "revenue": ("grants", "fees", "donations", "membership_fees", "other_revenue"),
    "balance": (),  # any name: balance-sheet accounts never reach the finance marts
}
KOST_FIELDS = ("KOST1", "KOST2")


def _accounts_problem(table: pa.Table) -> str | None:
    """The first row of accounts.csv that breaks the mapping rules, described; None if fine."""
    for line, row in enumerate(table.to_pylist(), start=2):
        chart = (row["chart"] or "").upper().replace(" ", "").removeprefix("SKR")
        lo, hi = (row["account_from"] or "").strip(), (row["account_to"] or "").strip()
        kind, category = row["category_type"] or "", row["category"] or ""
        if not (chart.isdigit() and len(chart) <= 2):
            return (f"line {line}: chart '{row['chart']}' is not a DATEV chart such as SKR03, "
                    "SKR04, SKR42 or SKR49")
        if not (lo.isdigit() and hi.isdigit() and len(lo) == len(hi) and lo <= hi):
            return (f"line {line}: account_from '{lo}' and account_to '{hi}' must be digit "
                    "strings of equal length with from <= to")
        if kind not in CATEGORIES:
            return f"line {line}: category_type '{kind}' is not one of {', '.join(CATEGORIES)}"
        if not category or (CATEGORIES[kind] and category not in CATEGORIES[kind]):
            return (f"line {line}: category '{category}' is not a {kind} category "
                    f"({', '.join(CATEGORIES[kind]) or 'any name'})")
    return None


def _cost_centres_problem(table: pa.Table) -> str | None:
    """A kost_field other than KOST1/KOST2, or two different ones for one organisation."""
    fields: dict[str, set[str]] = {}
    for line, row in enumerate(table.to_pylist(), start=2):
        kost = (row["kost_field"] or "KOST1").upper().replace(" ", "")
        if kost not in KOST_FIELDS:
            return f"line {line}: kost_field '{row['kost_field']}' is not KOST1 or KOST2"
        fields.setdefault(row["organisation_code"], set()).add(kost)
    mixed = {org: sorted(f) for org, f in fields.items() if len(f) > 1}
    if mixed:
        return (f"kost_field must be the same for all cost centres of an organisation; found "
                f"{mixed}: one DATEV field holds the department/program cost centre")
    return None


VALIDATORS = {"accounts": _accounts_problem, "cost_centres": _cost_centres_problem}
# Codes that name folders downstream (exports/<department>/, inbox folders): identifiers only.
CODE_COLUMNS = ("organisation_code", "department_code", "program_code")


def _codes_problem(table: pa.Table) -> str | None:
    """The first code that is not a valid identifier (see :func:`warehouse.paths.checked_code`)."""
    for column in (c for c in CODE_COLUMNS if c in table.column_names):
        for line, value in enumerate(table.column(column).to_pylist(), start=2):
            if value is None:
                continue
            try:
                paths.checked_code(value, column)
            except paths.InvalidCodeError as exc:
                return f"line {line}: {exc}"
    return None


def parse_reference(path: Path, name: str, outcome: FileOutcome) -> pa.Table:
    """Read and check one reference file as table ``name``, with ``source_sha256``; what the
    load and ``datenwerk validate`` both do. Raises FileRejected."""
    table = read_table(path, name)
    outcome.rows_read = outcome.rows_loaded = table.num_rows
    return table.append_column(
        "source_sha256", pa.repeat(pa.scalar(outcome.sha256, pa.string()), table.num_rows))


class Delivery:
    def __init__(self, inbox: Path, skip_hashes: frozenset[str]) -> None:
        self.inbox = inbox
        self.skip_hashes = skip_hashes

    @cached_property
    def parsed(self) -> tuple[dict[str, list[pa.Table]], list[FileOutcome]]:
        tables: dict[str, list[pa.Table]] = {t: [] for t in TABLES}

        def read(path: Path, outcome: FileOutcome) -> None:
            tables[path.stem].append(parse_reference(path, path.stem, outcome))

        outcomes = deliver(
            complete_files(self.inbox, PATTERN), self.skip_hashes,
            lambda path, digest: FileOutcome(path, digest, path.parent.name, entity=path.stem,
                                             profile="reference"),
            read, dataset=DATASET,
        )
        return tables, outcomes


def read_table(path: Path, name: str | None = None) -> pa.Table:
    """One reference table (``name``, default the file's stem), checked against the rules of its
    kind; raises FileRejected."""
    name = name or path.stem
    if name not in TABLES:
        raise FileRejected(path, f"unknown reference table; expected one of {sorted(TABLES)}")
    with path.open(encoding="utf-8-sig", newline="") as fh:
        names = next(csv.reader(fh), [])
    try:
        table = pacsv.read_csv(
            path,
            convert_options=pacsv.ConvertOptions(
                # Text unless typed: account numbers keep their leading zeros.
                column_types={n: TYPED.get(n, pa.string()) for n in names},
                strings_can_be_null=True,
                null_values=[""],
            ),
        )
    except pa.ArrowInvalid as exc:
        raise FileRejected(path, error_kind(exc)) from exc
    missing = [c for c in TABLES[name][0] if c not in table.column_names]
    if missing:
        raise FileRejected(path, f"missing column(s) {', '.join(missing)}")
    for column in OPTIONAL.get(name, ()):
        if column not in table.column_names:
            table = table.append_column(
                column, pa.nulls(table.num_rows, TYPED.get(column, pa.string())))
    problem = _codes_problem(table) or (VALIDATORS[name](table) if name in VALIDATORS else None)
    if problem:
        raise FileRejected(path, problem)
    return table


def write_templates(folder: Path) -> list[Path]:
    """Header-only templates of every reference table (required columns, then optional ones)
    in ``folder``, as ``<table>.csv.template``: filled in and renamed to ``<table>.csv`` they
    are delivered (write, then rename); until then nothing loads them. Existing files are kept."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, (required, _) in TABLES.items():
        path = folder / f"{name}.csv{TEMPLATE_SUFFIX}"
        if path.exists() or (folder / f"{name}.csv").exists():
            continue
        path.write_text(",".join((*required, *OPTIONAL.get(name, ()))) + "\n", encoding="utf-8")
        written.append(path)
    return written


@dlt.source(name="reference")
def reference(
    inbox: Path | None = None,
    skip_hashes: frozenset[str] = frozenset(),
    present: frozenset[str] | None = None,
) -> list[DltResource]:
    """Reference data of all organisations (departments, programs, cost centres, accounts).

    ``present``: raw tables that already exist; the others are created empty, so staging finds
    every table before (or without) its first delivery.
    """
    delivery = Delivery(inbox or paths.reference_inbox(), skip_hashes)

    def rows(name: str) -> Callable[[], Iterator[pa.Table]]:
        def gen() -> Iterator[pa.Table]:
            columns = (*TABLES[name][0], *OPTIONAL.get(name, ()), "source_sha256")
            yield from rows_or_empty(
                name, delivery.parsed[0][name], present,
                lambda: pa.table({c: pa.array([], TYPED.get(c, pa.string())) for c in columns}),
            )

        gen.__doc__ = TABLES[name][1]
        return gen

    return [
        *(dlt.resource(rows(n), name=n, write_disposition="append") for n in TABLES),
        outcome_resource("file_registry", lambda: delivery.parsed[1], present,
                         "One row per delivered reference file."),
    ]
