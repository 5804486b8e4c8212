"""dlt source for accounting exports: DATEV Buchungsstapel files (EXTF/DTVF).

Files arrive as ``inbox/accounting/<organisation>/*.csv``. Resources:

- ``bookings``: one row per booking line, amount signed by Soll/Haben relative to ``account``;
- ``file_headers``: the parsed DATEV header of each file (Berater, Mandant, period, SKR, ...);
- ``quarantine``: rejected lines with file, line, field and reason;
- ``file_registry``: one row per delivered file.

Each file is loaded once (sha256 registry); a corrected re-delivery for the same Mandant and
period supersedes the earlier file in staging. Everything is yielded as Arrow tables.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path

import dlt
import pyarrow as pa
from dlt.sources import DltResource

from ingestion.accounting.datev import DatevHeader, read_buchungsstapel
from ingestion.delivery import (
    FileOutcome,
    FileRejected,
    quarantine_table,
    registry_table,
    reject_file,
    relative_to_inbox,
    sha256_of,
)
from warehouse import paths

DATASET = "raw_accounting"
log = logging.getLogger(__name__)


class Delivery:
    """All new DATEV files in the accounting inbox, parsed once and shared by the resources."""

    def __init__(self, inbox: Path, skip_hashes: frozenset[str]) -> None:
        self.inbox = inbox
        self.skip_hashes = skip_hashes

    @cached_property
    def parsed(self) -> tuple[list[pa.Table], list[dict[str, object]], list[FileOutcome]]:
        bookings: list[pa.Table] = []
        headers: list[dict[str, object]] = []
        outcomes: list[FileOutcome] = []
        seen = set(self.skip_hashes)
        for path in sorted(self.inbox.glob("*/*")):
            if not path.is_file() or path.name.startswith("."):
                continue
            digest = sha256_of(path)
            if digest in seen:
                continue
            seen.add(digest)
            org = path.relative_to(self.inbox).parts[0]
            outcome = FileOutcome(path, digest, org, entity="bookings", profile="datev")
            try:
                table, header = read_buchungsstapel(path, outcome)
                org_col = pa.array([org] * table.num_rows, pa.string())
                bookings.append(table.add_column(0, "organisation_code", org_col))
                headers.append(_header_row(header, org, path, digest))
            except FileRejected as exc:
                outcome.rejected_reason = exc.reason
                outcome.quarantine.clear()
                reject_file(path, exc.reason)
                log.warning("Rejected %s: %s", relative_to_inbox(path), exc.reason)
            outcomes.append(outcome)
        return bookings, headers, outcomes


def _header_row(header: DatevHeader, org: str, path: Path, digest: str) -> dict[str, object]:
    return {
        "organisation_code": org,
        **header.as_row(),
        "source_file": relative_to_inbox(path),
        "source_sha256": digest,
    }


@dlt.source(name="accounting")
def accounting(
    inbox: Path | None = None, skip_hashes: frozenset[str] = frozenset()
) -> list[DltResource]:
    """DATEV Buchungsstapel exports of all organisations in the accounting inbox.

    Args:
        inbox: folder holding ``<organisation>/<file>``; default from DATENWERK_HOME.
        skip_hashes: sha256 of files already loaded.
    """
    delivery = Delivery(inbox or paths.accounting_inbox(), skip_hashes)

    def bookings() -> Iterator[pa.Table]:
        """Booking lines (Buchungssätze) with signed amounts, accounts and cost centres."""
        yield from delivery.parsed[0]

    def file_headers() -> Iterator[pa.Table]:
        """The DATEV header of each loaded file: Berater, Mandant, fiscal year, period, SKR."""
        if delivery.parsed[1]:
            yield pa.Table.from_pylist(delivery.parsed[1])

    def quarantine() -> Iterator[pa.Table]:
        """Booking lines that could not be read, with file, line, field and reason."""
        if delivery.parsed[2]:
            yield quarantine_table(delivery.parsed[2])

    def file_registry() -> Iterator[pa.Table]:
        """One row per delivered accounting file: sha256, counts, outcome."""
        if delivery.parsed[2]:
            yield registry_table(delivery.parsed[2])

    return [
        dlt.resource(fn, name=fn.__name__, write_disposition="append")
        for fn in (bookings, file_headers, quarantine, file_registry)
    ]
