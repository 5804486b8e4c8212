"""dlt source for accounting exports: DATEV files (EXTF/DTVF) of each organisation.

Files arrive as ``inbox/accounting/<organisation>/<file>``; :mod:`ingestion.accounting.datev`
reads them. Resources (everything is yielded as Arrow tables):

- ``bookings``: one row per booking line (Buchungsstapel, data category 21/22), amount signed
  by Soll/Haben relative to ``account`` (debit +, credit -), Generalumkehr applied;
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

import dlt
import pyarrow as pa
from dlt.sources import DltResource

from ingestion.accounting.coverage import coverage
from ingestion.accounting.datev import (
    BOOKING_SCHEMA,
    LABEL_SCHEMA,
    AccountLabels,
    Buchungsstapel,
    DatevFormatError,
    DatevHeader,
    read_datev,
)
from ingestion.case_management import current_load_id
from ingestion.delivery import (
    FileOutcome,
    FileRejected,
    check_reject_share,
    complete_files,
    deliver,
    outcome_resource,
    relative_to_inbox,
    rows_or_empty,
)
from warehouse import holds, paths

DATASET = "raw_accounting"
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

    bookings: list[pa.Table] = field(default_factory=list)
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
            read,
        )
        return parsed


def load_file(path: Path, outcome: FileOutcome, parsed: Parsed,
              read: Buchungsstapel | AccountLabels | None = None
              ) -> Buchungsstapel | AccountLabels:
    """Read one DATEV file (unless ``read`` already holds it) into ``parsed`` and ``outcome``;
    what the nightly load and ``datenwerk validate`` both do. Raises for a file rejected whole."""
    read = read or read_datev(path)
    if isinstance(read, AccountLabels):
        outcome.entity = "account_labels"
        rows, problems = read.labels, read.problems
        outcome.rows_read = rows.num_rows + problems.num_rows
    else:
        rows, problems = read.bookings, read.problems
        outcome.rows_read = read.control.lines
        outcome.unexpected_columns = list(read.unknown_headings)
    if problems.num_rows:
        outcome.quarantine.append(_quarantine_rows(problems, path, outcome))
    check_reject_share(path, outcome, unit="lines")
    outcome.rows_loaded = rows.num_rows
    rows = _with_context(rows, outcome.organisation_code, outcome.sha256)
    if isinstance(read, AccountLabels):
        parsed.account_labels.append(rows)
    else:
        parsed.bookings.append(rows)
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


def _with_context(rows: pa.Table, organisation_code: str, sha256: str) -> pa.Table:
    """The organisation and the file's sha256 on every row (header fields join in staging)."""
    for name, value in (("organisation_code", organisation_code), ("source_sha256", sha256)):
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

    def bookings() -> Iterator[pa.Table]:
        """Booking lines (Buchungssätze): amount signed by Soll/Haben relative to the account
        (debit +, credit -), accounts, Belegdatum with its year, cost centres KOST1/KOST2."""
        yield from rows_or_empty("bookings", delivery.parsed.bookings, present,
                                 lambda: _with_context(BOOKING_SCHEMA.empty_table(), "", ""))

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
