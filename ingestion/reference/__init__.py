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

A file that breaks these rules is rejected as a whole with the line and what is wrong.
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

from ingestion.delivery import FileOutcome, FileRejected, registry_table, reject_file, sha256_of
from warehouse import paths

DATASET = "raw_reference"

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
    "locations": ("description", "state_province", "country", "latitude", "longitude", "website"),
}

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


def parse_reference(path: Path, name: str, outcome: FileOutcome) -> pa.Table:
    """Read and check one reference file as table ``name``, with ``source_sha256``; what the
    load and ``datenwerk validate`` both do. Raises FileRejected (or ArrowInvalid)."""
    if name not in TABLES:
        raise FileRejected(path, f"unknown reference table; expected one of {sorted(TABLES)}")
    with path.open(encoding="utf-8-sig", newline="") as fh:
        names = next(csv.reader(fh), [])
    table = pacsv.read_csv(
        path,
        convert_options=pacsv.ConvertOptions(
            # Text unless typed: account numbers keep their leading zeros.
            column_types={n: TYPED.get(n, pa.string()) for n in names},
            strings_can_be_null=True,
            null_values=[""],
        ),
    )
    missing = [c for c in TABLES[name][0] if c not in table.column_names]
    if missing:
        raise FileRejected(path, f"missing column(s) {', '.join(missing)}")
    for column in OPTIONAL.get(name, ()):
        if column not in table.column_names:
            table = table.append_column(
                column, pa.nulls(table.num_rows, TYPED.get(column, pa.string())))
    problem = VALIDATORS[name](table) if name in VALIDATORS else None
    if problem:
        raise FileRejected(path, problem)
    outcome.rows_read = outcome.rows_loaded = table.num_rows
    n = table.num_rows
    return table.append_column("source_sha256", pa.array([outcome.sha256] * n, pa.string()))


class Delivery:
    def __init__(self, inbox: Path, skip_hashes: frozenset[str]) -> None:
        self.inbox = inbox
        self.skip_hashes = skip_hashes

    @cached_property
    def parsed(self) -> tuple[dict[str, list[pa.Table]], list[FileOutcome]]:
        tables: dict[str, list[pa.Table]] = {t: [] for t in TABLES}
        outcomes: list[FileOutcome] = []
        for path in sorted(self.inbox.glob("*/*.csv")):
            digest = sha256_of(path)
            if digest in self.skip_hashes:
                continue
            org, name = path.parent.name, path.stem
            outcome = FileOutcome(path, digest, org, entity=name, profile="reference")
            try:
                tables[name].append(parse_reference(path, name, outcome))
            except (FileRejected, pa.ArrowInvalid) as exc:
                outcome.rejected_reason = getattr(exc, "reason", str(exc))
                reject_file(path, outcome.rejected_reason)
            outcomes.append(outcome)
        return tables, outcomes


@dlt.source(name="reference")
def reference(
    inbox: Path | None = None, skip_hashes: frozenset[str] = frozenset()
) -> list[DltResource]:
    """Reference data of all organisations (departments, programs, cost centres, accounts)."""
    delivery = Delivery(inbox or paths.reference_inbox(), skip_hashes)

    def rows(name: str) -> Callable[[], Iterator[pa.Table]]:
        def gen() -> Iterator[pa.Table]:
            tables, outcomes = delivery.parsed
            if tables[name] or not outcomes:
                yield from tables[name]
            else:
                # Optional tables (accounts.csv) must exist for staging before any is delivered:
                # an empty table makes dlt create it.
                columns = (*TABLES[name][0], *OPTIONAL.get(name, ()), "source_sha256")
                yield pa.table({c: pa.array([], TYPED.get(c, pa.string())) for c in columns})

        gen.__doc__ = TABLES[name][1]
        return gen

    def file_registry() -> Iterator[pa.Table]:
        """One row per delivered reference file."""
        if delivery.parsed[1]:
            yield registry_table(delivery.parsed[1])

    return [
        *(dlt.resource(rows(n), name=n, write_disposition="append") for n in TABLES),
        dlt.resource(file_registry, name="file_registry", write_disposition="append"),
    ]
