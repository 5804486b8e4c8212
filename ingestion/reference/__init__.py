"""dlt source for reference data: departments, programs, cost centres, account categories.

Files arrive as ``inbox/reference/<organisation>/<table>.csv`` (UTF-8, ``,``-separated, standard
column names). Each delivery is a full snapshot of that table for the organisation: staging keeps
the latest one. Resources: ``departments``, ``programs``, ``cost_centres``, ``accounts``,
``file_registry``.
"""

from __future__ import annotations

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
}
TYPED = {"is_pilot": pa.bool_()}


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
                if name not in TABLES:
                    raise FileRejected(path, f"unknown reference table; expected one of {sorted(TABLES)}")
                table = pacsv.read_csv(
                    path,
                    convert_options=pacsv.ConvertOptions(
                        column_types=TYPED, strings_can_be_null=True, null_values=[""]
                    ),
                )
                table = table.cast(
                    pa.schema([
                        pa.field(f.name, TYPED.get(f.name, pa.string())) for f in table.schema
                    ])
                )
                missing = [c for c in TABLES[name][0] if c not in table.column_names]
                if missing:
                    raise FileRejected(path, f"missing column(s) {', '.join(missing)}")
                outcome.rows_read = outcome.rows_loaded = table.num_rows
                n = table.num_rows
                tables[name].append(
                    table.append_column("source_sha256", pa.array([digest] * n, pa.string()))
                )
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
            yield from delivery.parsed[0][name]

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
