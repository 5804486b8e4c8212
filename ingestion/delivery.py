"""What every delivered file goes through, whatever its source: identity (sha256), the file
registry, rejection of whole files, and the quarantine table for rejected rows.

A file is identified by the sha256 of its bytes: the same bytes delivered again under any name
load nothing. Rejected files move to ``$DATENWERK_HOME/rejected/`` with a ``.reason.txt`` beside
them; rejected rows go to the ``quarantine`` table with file, line, field and reason. Nothing is
silently dropped.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from warehouse import paths

QUARANTINE_SCHEMA = pa.schema(
    [
        ("source_file", pa.string()),
        ("source_sha256", pa.string()),
        ("entity", pa.string()),
        ("source_line", pa.int64()),
        ("field", pa.string()),
        ("reason", pa.string()),
        # The offending value, only where it is not personal data (codes, dates of events,
        # numbers); identifiers and personal fields are never copied here.
        ("offending_value", pa.string()),
    ]
)

REGISTRY_SCHEMA = pa.schema(
    [
        ("source_sha256", pa.string()),
        ("source_file", pa.string()),
        ("organisation_code", pa.string()),
        ("entity", pa.string()),
        ("profile", pa.string()),
        ("outcome", pa.string()),  # loaded | rejected
        ("rows_read", pa.int64()),
        ("rows_loaded", pa.int64()),
        ("rows_quarantined", pa.int64()),
        ("message", pa.string()),
        # Columns the profile does not know: never read, only named here (they may be personal).
        ("unexpected_columns", pa.list_(pa.string())),
        ("registered_at", pa.timestamp("us", tz="UTC")),
    ]
)


class FileRejected(Exception):
    """A whole file cannot be loaded (wrong format, missing column, undecodable)."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def relative_to_inbox(path: Path) -> str:
    try:
        return path.resolve().relative_to(paths.inbox()).as_posix()
    except ValueError:
        return path.name


@dataclass
class FileOutcome:
    """What became of one delivered file: the registry row and its quarantined rows."""

    path: Path
    sha256: str
    organisation_code: str
    entity: str
    profile: str
    rows_read: int = 0
    rows_loaded: int = 0
    quarantine: list[pa.Table] = field(default_factory=list)
    rejected_reason: str | None = None
    unexpected_columns: list[str] = field(default_factory=list)

    @property
    def rows_quarantined(self) -> int:
        return sum(t.num_rows for t in self.quarantine)

    def registry_row(self) -> dict[str, object]:
        return {
            "source_sha256": self.sha256,
            "source_file": relative_to_inbox(self.path),
            "organisation_code": self.organisation_code,
            "entity": self.entity,
            "profile": self.profile,
            "outcome": "rejected" if self.rejected_reason else "loaded",
            "rows_read": self.rows_read,
            "rows_loaded": self.rows_loaded,
            "rows_quarantined": self.rows_quarantined,
            "message": self.rejected_reason,
            "unexpected_columns": self.unexpected_columns,
            "registered_at": datetime.now(UTC),
        }


def registry_table(outcomes: Sequence[FileOutcome]) -> pa.Table:
    return pa.Table.from_pylist([o.registry_row() for o in outcomes], schema=REGISTRY_SCHEMA)


def quarantine_table(outcomes: Sequence[FileOutcome]) -> pa.Table:
    tables = [t for o in outcomes for t in o.quarantine]
    if not tables:
        return QUARANTINE_SCHEMA.empty_table()
    return pa.concat_tables([t.select(QUARANTINE_SCHEMA.names).cast(QUARANTINE_SCHEMA) for t in tables])


def reject_file(path: Path, reason: str) -> Path:
    """Move a rejected file out of the inbox, with its reason beside it; return the new path."""
    target = paths.rejected_dir() / relative_to_inbox(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(path), target)
    target.with_name(target.name + ".reason.txt").write_text(
        f"{relative_to_inbox(path)} was rejected on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.\n"
        f"Reason: {reason}\n"
        "Fix the export (or its profile) and deliver it again into the inbox.\n",
        encoding="utf-8",
    )
    return target


def loaded_hashes(dataset: str) -> set[str]:
    """sha256 of every file whose load completed in ``dataset`` (its ``file_registry`` table).

    Only registry rows of completed loads count (``_dlt_loads.status = 0``): a killed load must be
    repeated, not skipped. Rejected files do not count: a rejection can depend on where a file
    lay or on the reference data of the day, so the same bytes delivered again are judged again.
    """
    db = paths.build_db()
    if not db.exists():
        return set()
    with duckdb.connect(str(db), read_only=True) as con:
        present = con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = ? and table_name in ('file_registry', '_dlt_loads')",
            [dataset],
        ).fetchall()[0][0]
        if present < 2:
            return set()
        rows = con.execute(
            f'select distinct r.source_sha256 from "{dataset}".file_registry as r '
            f'join "{dataset}"._dlt_loads as l on l.load_id = r._dlt_load_id and l.status = 0 '
            "where r.outcome = 'loaded'"
        ).fetchall()
    return {r[0] for r in rows}
