"""dlt source for accounting exports: DATEV files (EXTF/DTVF) of each organisation.

Files arrive as ``inbox/accounting/<organisation>/<file>``; :mod:`ingestion.accounting.datev`
reads them. Resources (Arrow tables, and the bookings as Parquet files):

- ``bookings``: one row per booking line (Buchungsstapel, data category 21/22), amount signed
  by Soll/Haben relative to ``account`` (debit +, credit -), Generalumkehr applied; written a
  batch at a time as the file is read (:class:`BookingsFile`) and imported by dlt as it is;
- ``account_labels``: account labels (Kontenbeschriftungen, data category 20), when delivered;
- ``file_headers``: the DATEV header of each loaded file (Berater, Mandant, fiscal year, period,
  SKR, ...) with the control totals taken from the file before any line was dropped;
- ``quarantine``: rejected lines with file, line, field and reason;
- ``file_registry``: one row per delivered file.

Delivery rules (as for all sources): only complete files are picked up (write, then rename into
place); each file is loaded once (sha256 registry); a file that cannot be read as a whole moves
to the protected ``rejected/`` folder with its reason; so does a file with more bad lines than
``settings.MAX_REJECT_SHARE``; a file with problems gets a steward report. A later file for the
same Mandant replaces the earlier one's bookings on every day its period covers (staging), so a
corrected re-delivery never duplicates bookings. A re-delivery that covers much less than the
bookings it would replace (lines, money, booking days) is loaded but held out of staging until a
steward releases it (:mod:`ingestion.accounting.coverage`). See ``README.md`` beside this file.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import dlt
import pyarrow as pa
import pyarrow.parquet as pq
from dlt.sources import DltResource

from ingestion.accounting.coverage import coverage
from ingestion.accounting.datev import (
    BOOKING_SCHEMA,
    LABEL_SCHEMA,
    AccountLabels,
    Buchungsstapel,
    DatevFormatError,
    DatevHeader,
    DatevLinesMerged,
    read_datev,
)
from ingestion.delivery import (
    LOAD_ID_COLUMN,
    AcceptedRows,
    FileOutcome,
    FileRejected,
    check_reject_share,
    complete_files,
    current_load_id,
    deliver,
    outcome_resource,
    relative_to_inbox,
    rows_or_empty,
    scratch_parquet,
)
from warehouse import datasets, holds, paths

DATASET = datasets.ACCOUNTING
log = logging.getLogger(__name__)
PATTERN = "*/*"  # <organisation>/<file>

MONEY = pa.decimal128(18, 2)
HEADER_SCHEMA = pa.schema([
    ("organisation_code", pa.string()),
    ("format_kind", pa.string()),
    ("version", pa.int64()),
    ("data_category", pa.int64()),
    ("format_name", pa.string()),
    ("format_version", pa.int64()),
    ("created_at", pa.timestamp("us")),
    ("consultant_number", pa.string()),
    ("client_number", pa.string()),
    ("fiscal_year_start", pa.date32()),
    ("account_length", pa.int64()),
    ("period_from", pa.date32()),
    ("period_to", pa.date32()),
    ("description", pa.string()),
    ("currency", pa.string()),
    ("chart_of_accounts", pa.string()),
    ("header_fields", pa.int64()),
    ("encoding", pa.string()),
    ("delimiter", pa.string()),
    ("column_mapping", pa.string()),
    ("control_lines", pa.int64()),
    ("control_amount_eur", MONEY),
    ("control_absolute_eur", MONEY),
    ("control_unreadable_lines", pa.int64()),
    ("quarantined_lines", pa.int64()),
    ("quarantined_amount_eur", MONEY),
    ("quarantined_absolute_eur", MONEY),
    ("source_file", pa.string()),
    ("source_sha256", pa.string()),
])


@dataclass
class Parsed:
    """Everything read from the new files of one delivery."""

    bookings: list[AcceptedRows] = field(default_factory=list)  # Parquet, one per file
    account_labels: list[pa.Table] = field(default_factory=list)
    headers: list[dict[str, object]] = field(default_factory=list)
    outcomes: list[FileOutcome] = field(default_factory=list)


class Delivery:
    """All new DATEV files in the accounting inbox, parsed once and shared by the resources."""

    def __init__(self, inbox: Path, skip_hashes: frozenset[str]) -> None:
        self.inbox = inbox
        self.skip_hashes = skip_hashes

    @cached_property
    def parsed(self) -> Parsed:
        parsed = Parsed()

        def read(path: Path, outcome: FileOutcome) -> None:
            try:
                hold_if_much_smaller(load_file(path, outcome, parsed), outcome)
            except DatevFormatError as exc:
                raise FileRejected(path, exc.reason) from exc

        parsed.outcomes = deliver(
            complete_files(self.inbox, PATTERN), self.skip_hashes,
            lambda path, digest: FileOutcome(path, digest, path.relative_to(self.inbox).parts[0],
                                             entity="bookings", profile="datev"),
            read, dataset=DATASET,
        )
        return parsed


class BookingsFile:
    """The bookings of one file, written a batch at a time as they are read into a Parquet file
    that dlt imports as it is (each row carries its load id): memory holds one batch whatever
    the size of the file, and a file rejected after some batches leaves nothing behind."""

    def __init__(self, outcome: FileOutcome) -> None:
        self.path = scratch_parquet()
        self.rows = 0
        self._context = (outcome.organisation_code, outcome.sha256, current_load_id())
        self._writer = pq.ParquetWriter(self.path, booking_file_schema())

    def write(self, bookings: pa.Table) -> None:
        """Append one batch of bookings (:data:`BOOKING_SCHEMA`)."""
        self._writer.write_table(_with_context(bookings, *self._context))
        self.rows += bookings.num_rows

    def close(self) -> AcceptedRows:
        """The finished file and its number of rows."""
        self._writer.close()
        return AcceptedRows(self.path, self.rows)

    def discard(self) -> None:
        """Remove the file (its source was rejected)."""
        self._writer.close()
        self.path.unlink(missing_ok=True)


def booking_file_schema() -> pa.Schema:
    """Columns of ``raw_accounting.bookings``: the bookings, their file and their load id."""
    return _with_context(BOOKING_SCHEMA.empty_table(), "", "", "").schema


def load_file(path: Path, outcome: FileOutcome, parsed: Parsed,
              read: Buchungsstapel | AccountLabels | None = None
              ) -> Buchungsstapel | AccountLabels:
    """Read one DATEV file into ``parsed`` and ``outcome``; what the nightly load and
    ``datenwerk validate`` both do. Raises for a file rejected whole.

    Bookings go into a :class:`BookingsFile` as they are read. ``read``: the file already read
    in memory (``datenwerk validate``), which is checked and counted, its bookings not kept.
    """
    bookings = BookingsFile(outcome) if read is None else None
    try:
        try:
            read = read or read_datev(path, bookings.write if bookings else None)
        except DatevLinesMerged:  # a stray quotation mark found after bookings were written
            assert bookings is not None
            bookings.discard()
            bookings = BookingsFile(outcome)
            read = read_datev(path, bookings.write, separate_lines=True)
        if isinstance(read, AccountLabels):
            outcome.entity = "account_labels"
            problems = read.problems
            outcome.rows_read = read.labels.num_rows + problems.num_rows
            outcome.rows_loaded = read.labels.num_rows
        else:
            problems = read.problems
            outcome.rows_read = read.control.lines
            outcome.rows_loaded = read.booked_lines
            outcome.unexpected_columns = list(read.unknown_headings)
        if problems.num_rows:
            outcome.quarantine.append(_quarantine_rows(problems, path, outcome))
        check_reject_share(path, outcome, unit="lines")
    except BaseException:
        if bookings:
            bookings.discard()
        raise
    if bookings:
        written = bookings.close()
        if written.rows:
            parsed.bookings.append(written)
        else:
            written.path.unlink()
    if isinstance(read, AccountLabels):
        parsed.account_labels.append(
            _with_context(read.labels, outcome.organisation_code, outcome.sha256))
    parsed.headers.append(_header_row(read, outcome, path))
    return read


def hold_if_much_smaller(read: Buchungsstapel | AccountLabels, outcome: FileOutcome) -> None:
    """Hold a Buchungsstapel that covers much less than the bookings in force it would replace
    (:mod:`ingestion.accounting.coverage`): loaded, but merged only once a steward releases it
    (``datenwerk release``). The other files of the delivery go ahead."""
    if not isinstance(read, Buchungsstapel):
        return
    found = coverage(read, outcome.organisation_code, paths.build_db())
    if found is None or not found.too_small:
        return
    name = relative_to_inbox(outcome.path)
    load_id = holds.hold_files(current_load_id(), {outcome.sha256: name}, dataset=DATASET,
                               check="redelivery_coverage", reason=f"{name}: {found.reason()}")
    log.warning("Held %s (load %s) for a steward's confirmation: %s", name, load_id,
                found.reason())


def _with_context(rows: pa.Table, organisation_code: str, sha256: str,
                  load_id: str | None = None) -> pa.Table:
    """The organisation and the file's sha256 on every row (header fields join in staging), and
    the load id for a file dlt imports as it is (dlt adds it to Arrow tables)."""
    context = {"organisation_code": organisation_code, "source_sha256": sha256}
    if load_id is not None:
        context[LOAD_ID_COLUMN] = load_id
    for name, value in context.items():
        rows = rows.append_column(name, pa.repeat(pa.scalar(value, pa.string()), rows.num_rows))
    return rows


def _quarantine_rows(problems: pa.Table, path: Path, outcome: FileOutcome) -> pa.Table:
    n = problems.num_rows
    return pa.table({
        "source_file": pa.repeat(pa.scalar(relative_to_inbox(path), pa.string()), n),
        "source_sha256": pa.repeat(pa.scalar(outcome.sha256, pa.string()), n),
        "entity": pa.repeat(pa.scalar(outcome.entity, pa.string()), n),
        "source_line": problems["source_line"],
        "field": problems["field"],
        "reason": problems["reason"],
        "offending_value": problems["offending_value"],
    })


def _header_row(read: Buchungsstapel | AccountLabels, outcome: FileOutcome,
                path: Path) -> dict[str, object]:
    header: DatevHeader = read.header
    row: dict[str, object] = {
        "organisation_code": outcome.organisation_code,
        **header.as_row(),
        "encoding": read.dialect.encoding,
        "delimiter": read.dialect.delimiter,
        "source_file": relative_to_inbox(path),
        "source_sha256": outcome.sha256,
    }
    if isinstance(read, Buchungsstapel):
        control = read.control
        row.update({
            "column_mapping": read.column_mapping,
            "control_lines": control.lines,
            "control_amount_eur": control.amount_eur,
            "control_absolute_eur": control.absolute_eur,
            "control_unreadable_lines": control.unreadable_lines,
            "quarantined_lines": control.quarantined_lines,
            "quarantined_amount_eur": control.quarantined_amount_eur,
            "quarantined_absolute_eur": control.quarantined_absolute_eur,
        })
    return row


@dlt.source(name="accounting")
def accounting(
    inbox: Path | None = None,
    skip_hashes: frozenset[str] = frozenset(),
    present: frozenset[str] | None = None,
) -> list[DltResource]:
    """DATEV exports of all organisations in the accounting inbox (bookings, account labels).

    Args:
        inbox: folder holding ``<organisation>/<file>``; default from DATENWERK_HOME.
        skip_hashes: sha256 of files already loaded.
        present: raw tables that already exist (:func:`ingestion.delivery.present_tables`); the
            others are created empty, so dbt finds them even when no DATEV file was delivered.
    """
    delivery = Delivery(inbox or paths.accounting_inbox(), skip_hashes)

    def bookings() -> Iterator[Any]:
        """Booking lines (Buchungssätze): amount signed by Soll/Haben relative to the account
        (debit +, credit -), accounts, Belegdatum with its year, cost centres KOST1/KOST2."""
        files = delivery.parsed.bookings
        # All columns nullable and `_dlt_load_id` included: dlt finds nothing to normalise and
        # imports (hard-links) each Parquet file unchanged.
        schema = booking_file_schema().empty_table()
        try:
            imports = [dlt.mark.with_file_import(str(f.path), "parquet", f.rows, hints=schema)
                       for f in files]
            yield from rows_or_empty("bookings", imports, present,
                                     lambda: _with_context(BOOKING_SCHEMA.empty_table(), "", ""))
        finally:
            for f in files:
                f.path.unlink(missing_ok=True)  # dlt's package holds its own link

    def account_labels() -> Iterator[pa.Table]:
        """Account labels (Kontenbeschriftungen) of each Mandant, when delivered."""
        yield from rows_or_empty("account_labels", delivery.parsed.account_labels, present,
                                 lambda: _with_context(LABEL_SCHEMA.empty_table(), "", ""))

    def file_headers() -> Iterator[pa.Table]:
        """The DATEV header of each loaded file (Berater, Mandant, fiscal year, period, SKR)
        and the file's control totals (lines, signed and absolute sums, quarantined part)."""
        headers = delivery.parsed.headers
        tables = [pa.Table.from_pylist(headers, schema=HEADER_SCHEMA)] if headers else []
        yield from rows_or_empty("file_headers", tables, present, HEADER_SCHEMA.empty_table)

    def outcomes() -> list[FileOutcome]:
        return delivery.parsed.outcomes

    return [
        *(dlt.resource(fn, name=fn.__name__, write_disposition="append")
          for fn in (bookings, account_labels, file_headers)),
        outcome_resource("quarantine", outcomes, present, "Lines of DATEV files that could not "
                         "be read, with file, line, field and reason."),
        outcome_resource("file_registry", outcomes, present, "One row per delivered accounting "
                         "file: sha256, counts, loaded or rejected."),
    ]
