"""The delivery protocol: what every delivered file goes through, whatever its source.

Case-management exports, DATEV files and reference tables all arrive the same way, and
:func:`deliver` is the one implementation of it (the inbox sensor uses :func:`complete_files`):

- **complete files only**: senders write under a temporary name (a leading dot, ``.part``,
  ``.tmp``, ...) and rename into place; ``DATENWERK_SETTLE_SECONDS`` adds a quiet period for
  senders that cannot rename (:func:`is_complete`);
- **each file once**: a file is identified by the sha256 of its bytes, so the same bytes
  delivered again under any name load nothing (the file registry of completed loads); the
  delivery is registered all the same (outcome ``repeated``), so the steward sees that it
  arrived and was recognised, while a file that only lies where it was loaded is not;
- **rejection**: a file that cannot be loaded as a whole, or whose rejected rows exceed
  ``settings.MAX_REJECT_SHARE`` (:func:`check_reject_share`), moves to the protected
  ``rejected/`` folder with a ``.reason.txt`` beside it, and loads nothing;
- **quarantine**: rejected rows go to the ``quarantine`` table with file, line, field and reason;
- **steward report**: a file with any problem gets a plain-language report.

Nothing is silently dropped.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import shutil
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dlt
import duckdb
import pyarrow as pa
from dlt.sources import DltResource

from warehouse import paths, settings
from warehouse.db import table_exists
from warehouse.files import sha256_file
from warehouse.reasons import translate

# Names senders write under before they rename a file into place (besides a leading dot).
INCOMPLETE_SUFFIXES = (".part", ".tmp", ".partial", ".crdownload", "~")
log = logging.getLogger(__name__)

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
        # Rows of clients erased before (the erasure register, warehouse/erasure.py): read and
        # left out, so rows read = loaded + quarantined + erased.
        ("rows_erased", pa.int64()),
        ("message", pa.string()),
        # Columns the profile does not know: never read, only named here (they may be personal).
        ("unexpected_columns", pa.list_(pa.string())),
        ("registered_at", pa.timestamp("us", tz="UTC")),
        # When the file was last written (its modification time): the same bytes written
        # again under the same name are a new delivery, a file lying where it was is none.
        ("source_modified_at", pa.timestamp("us", tz="UTC")),
    ]
)
# The registry's outcome of an identical file delivered again: nothing of it is read or loaded.
REPEATED = "repeated"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class FileRejected(Exception):
    """A whole file cannot be loaded (wrong format, missing column, undecodable)."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def is_complete(path: Path) -> bool:
    """Whether a delivered file is complete and may be picked up.

    Senders write under a temporary name (a leading dot, or ``.part``/``.tmp``/``.partial``) and
    rename into place when done; a rename is atomic, so a file under its final name is complete.
    For senders that cannot rename, ``DATENWERK_SETTLE_SECONDS`` adds a quiet period: a file
    modified more recently than that is left for the next run.
    """
    name = path.name
    if name.startswith((".", "~$")) or name.endswith(INCOMPLETE_SUFFIXES):
        return False
    return time.time() - path.stat().st_mtime >= settings.settle_seconds()


def complete_files(inbox: Path, pattern: str) -> list[Path]:
    """Every complete file of ``inbox`` matching ``pattern`` (a glob), in a stable order. A
    folder that is a symbolic link is not entered (see :func:`linked_from_elsewhere`): the log
    names it, since its files are never read."""
    if not inbox.is_dir():
        return []
    for folder, subfolders, _ in os.walk(inbox):
        for name in subfolders:
            if os.path.islink(os.path.join(folder, name)):
                log.warning("Not read: %s is a link to a folder; links in the inbox are not "
                            "followed", relative_to_inbox(Path(folder) / name))
    return [p for p in sorted(inbox.glob(pattern)) if p.is_file() and is_complete(p)]


def relative_to_inbox(path: Path) -> str:
    """Where ``path`` lies in the inbox as its folders say (a link is named where it lies, not
    where it leads)."""
    for candidate, inbox in ((Path(os.path.abspath(path)), Path(os.path.abspath(paths.inbox()))),
                             (path.resolve(), paths.inbox())):
        try:
            return candidate.relative_to(inbox).as_posix()
        except ValueError:
            continue
    return path.name


LINK_REASON = ("reached through a symbolic link that leads out of its place in the inbox; links "
               "are not followed, nothing of it is read")


def linked_from_elsewhere(path: Path) -> bool:
    """Whether ``path`` in the inbox is, or lies below, a symbolic link that leads anywhere but
    to where the path itself says. The folders say whose data a file is: a link placed by one
    sender (``SB/kontakte.csv`` -> another organisation's export, a folder ``SB2`` -> another
    inbox, a file elsewhere on the server) would load other people's data under its name. A link
    above the inbox (the inbox itself on a mounted share) is fine."""
    inbox = Path(os.path.abspath(paths.inbox()))
    try:
        said = Path(os.path.abspath(path)).relative_to(inbox)
    except ValueError:
        return False  # not in the inbox (a file checked by `datenwerk validate`)
    try:
        return path.resolve().relative_to(inbox.resolve()) != said
    except ValueError:
        return True



# The column dlt gives every row of a load package; a Parquet file imported as it is carries it.
LOAD_ID_COLUMN = "_dlt_load_id"


@dataclass
class AcceptedRows:
    """The accepted rows of one file: a Parquet file in the protected folder, and its size."""

    path: Path
    rows: int


def current_load_id() -> str:
    """The id of the load package dlt is extracting (the ``_dlt_load_id`` of its rows)."""
    return str(dlt.current.load_package_state()["load_id"])


def scratch_parquet() -> Path:
    """A fresh file name for accepted rows, in the protected folder like every working copy."""
    return paths.protected_dir("tmp") / f"accepted-{uuid.uuid4().hex}.parquet"


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
    rows_erased: int = 0  # rows of erased clients, left out (ingestion.erasure)
    quarantine: list[pa.Table] = field(default_factory=list)
    rejected_reason: str | None = None
    unexpected_columns: list[str] = field(default_factory=list)
    # Optional columns the profile maps and the file lacks ("Zuweisung (referral_source)"):
    # their fields stay empty. Reported to the steward, not kept in the registry.
    missing_columns: list[str] = field(default_factory=list)
    # Rows of a title above a workbook's header (report name, date): not read.
    title_rows: int = 0
    # Loaded rows whose postcode gives no region (four digits, a foreign code): incomplete.
    postcodes_without_region: int = 0
    # The file's modification time (microseconds since 1970), taken before it is read.
    modified_us: int | None = None
    # An identical file delivered again: the file whose load it repeats (nothing is read).
    repeats: str | None = None

    @property
    def rows_quarantined(self) -> int:
        return sum(t.num_rows for t in self.quarantine)

    @property
    def notice(self) -> str | None:
        """What a loaded file's reader noticed, for the registry's message and so for
        mart_deliveries ("Hinweis" in a department's export): how many columns were not read,
        never their names (they may be personal; the steward's report names them), and the
        optional columns of the profile that the file lacks."""
        parts = []
        if self.unexpected_columns:
            parts.append(f"{len(self.unexpected_columns)} column(s) not read (unknown to the "
                         "export profile; the file's report names them)")
        if self.postcodes_without_region:
            parts.append(f"{self.postcodes_without_region} row(s) with a postcode that gives no "
                         "region (not five digits), loaded without one")
        if self.missing_columns:
            parts.append("optional column(s) missing, their fields stay empty: "
                         + ", ".join(self.missing_columns))
        return "; ".join(parts) or None

    def registry_row(self) -> dict[str, object]:
        return {
            "source_sha256": self.sha256,
            "source_file": relative_to_inbox(self.path),
            "organisation_code": self.organisation_code,
            "entity": self.entity,
            "profile": self.profile,
            "outcome": REPEATED if self.repeats else (
                "rejected" if self.rejected_reason else "loaded"),
            "rows_read": self.rows_read,
            "rows_loaded": self.rows_loaded,
            "rows_quarantined": self.rows_quarantined,
            "rows_erased": self.rows_erased,
            "message": (f"the same bytes as {self.repeats}, loaded before: nothing of it is "
                        "loaded again, no figure counts twice") if self.repeats else (
                self.rejected_reason or self.notice),
            "unexpected_columns": self.unexpected_columns,
            "registered_at": datetime.now(UTC),
            "source_modified_at": None if self.modified_us is None else (
                EPOCH + timedelta(microseconds=self.modified_us)),
        }


def registry_table(outcomes: Sequence[FileOutcome]) -> pa.Table:
    return pa.Table.from_pylist([o.registry_row() for o in outcomes], schema=REGISTRY_SCHEMA)


def quarantine_table(outcomes: Sequence[FileOutcome]) -> pa.Table:
    tables = [t for o in outcomes for t in o.quarantine]
    if not tables:
        return QUARANTINE_SCHEMA.empty_table()
    return pa.concat_tables(
        [t.select(QUARANTINE_SCHEMA.names).cast(QUARANTINE_SCHEMA) for t in tables]
    )


def reject_file(path: Path, reason: str) -> Path:
    """Move a rejected file out of the inbox, with its reason beside it (in German, for the
    steward: :func:`warehouse.reasons.translate`); return the new path."""
    target = paths.rejected_dir() / relative_to_inbox(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(path), target)
    target.with_name(target.name + ".reason.txt").write_text(
        f"{relative_to_inbox(path)} wurde am {datetime.now(UTC):%d.%m.%Y um %H:%M} UTC "
        "abgewiesen; nichts daraus wurde geladen.\n"
        f"Grund: {translate(reason, 'de')}\n"
        "Bitte korrigieren Sie den Export (oder sein Exportprofil) und legen Sie die Datei "
        "erneut in den Posteingang.\n",
        encoding="utf-8",
    )
    return target


def check_reject_share(path: Path, outcome: FileOutcome, unit: str = "rows") -> None:
    """Reject the whole file when more of its ``unit`` (rows, lines) were rejected than
    ``settings.MAX_REJECT_SHARE``: so many bad rows mean a wrong export, not a few typing errors."""
    if not outcome.rows_read or not outcome.quarantine:
        return
    if outcome.rows_quarantined / outcome.rows_read <= settings.MAX_REJECT_SHARE:
        return
    first = outcome.quarantine[0].slice(0, 1).to_pylist()[0]
    raise FileRejected(
        path,
        f"{outcome.rows_quarantined} of {outcome.rows_read} {unit} rejected, more than the "
        f"allowed share of {settings.MAX_REJECT_SHARE:.0%}; first problem: line "
        f"{first['source_line']}, field {first['field']}: {first['reason']}",
    )


# Faults of the machine, not of a file: a full disk, an I/O error, another process's lock on
# the build database, no memory. Rejecting the file being read would move a good file aside.
ENVIRONMENT_ERRORS = (OSError, MemoryError, duckdb.IOException, duckdb.OutOfMemoryException)


def unexpected_error(exc: Exception) -> str:
    """The rejection reason of a file whose reading failed in a way no check foresaw. Only the
    kind of error and where it arose: its message may quote a value of the file (personal data).
    The traceback goes to the log for the platform team."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" in {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    log.error("Unexpected %s while reading a file, at:\n%s", type(exc).__name__,
              "".join(traceback.format_list(frames)))
    return (
        f"unexpected error while reading the file ({type(exc).__name__}{where}); the file is "
        "set aside, the others load: tell the platform team"
    )


def reject(outcome: FileOutcome, reason: str) -> None:
    """Record a whole-file rejection: nothing of it loads, the file leaves the inbox."""
    outcome.rejected_reason = reason
    outcome.quarantine.clear()
    outcome.rows_loaded = 0
    reject_file(outcome.path, reason)
    log.warning("Rejected %s: %s", relative_to_inbox(outcome.path), reason)


def deliver(
    files: Iterable[Path],
    skip_hashes: Iterable[str],
    outcome_for: Callable[[Path, str], FileOutcome],
    read: Callable[[Path, FileOutcome], None],
    dataset: str | None = None,
) -> list[FileOutcome]:
    """Take each new file of ``files`` (complete ones, see :func:`complete_files`) through the
    protocol: skip known hashes, ``read`` it (which keeps what it accepts, fills the outcome and
    raises :class:`FileRejected` for a file that cannot load as a whole, e.g. from
    :func:`check_reject_share`), reject it, and write the steward report of a file with problems.

    With the ``dataset`` whose registry holds the known hashes, a known file that is a new
    delivery (another name, or written again: :func:`_earlier_copy`) gets an outcome too,
    ``repeated``: nothing of it is read.

    ``outcome_for(path, sha256)`` makes the file's registry entry. Returns every file's outcome.
    """
    from ingestion.reports import write_report  # reports builds on this module

    outcomes: list[FileOutcome] = []
    seen = set(skip_hashes)
    first: dict[str, FileOutcome] = {}  # sha256 -> the file of this delivery that was read
    copies = functools.cache(lambda: registered_copies(dataset or ""))  # read at most once
    for path in files:
        if linked_from_elsewhere(path):  # never read, never hashed: its target is not ours
            outcomes.append(_reject_link(path, outcome_for))
            continue
        modified_us = path.stat().st_mtime_ns // 1000
        digest = sha256_file(path)
        if digest in seen:
            earlier = None if dataset is None else _delivered_again(
                path, digest, modified_us, first, copies)
            if earlier is None:
                log.info("Skipped %s: the same bytes were loaded before (sha256 %s)",
                         relative_to_inbox(path), digest[:12])
                continue
            repeated = outcome_for(path, digest)
            repeated.modified_us, repeated.repeats = modified_us, earlier
            outcomes.append(repeated)
            log.info("Delivered again: %s, the same bytes as %s (sha256 %s); nothing loaded",
                     relative_to_inbox(path), earlier, digest[:12])
            continue
        seen.add(digest)
        outcome = outcome_for(path, digest)
        outcome.modified_us = modified_us
        first[digest] = outcome
        try:
            read(path, outcome)
        except FileRejected as exc:
            reject(outcome, exc.reason)
        except ENVIRONMENT_ERRORS:
            raise  # the machine, not the file: the step fails (and retries what is transient)
        except Exception as exc:  # one unreadable file must not stop the others
            reject(outcome, unexpected_error(exc))
        if (outcome.rejected_reason or outcome.quarantine or outcome.unexpected_columns
                or outcome.missing_columns or outcome.postcodes_without_region):
            write_report(outcome)
        outcomes.append(outcome)
    return outcomes


def _reject_link(path: Path, outcome_for: Callable[[Path, str], FileOutcome]) -> FileOutcome:
    """The outcome of a file reached through a link (:func:`linked_from_elsewhere`): rejected.
    A link in the file's own place leaves the inbox (the link, never its target); a file below a
    linked folder stays where it is, since moving it would move another's file."""
    from ingestion.reports import write_report

    outcome = outcome_for(path, hashlib.sha256(str(path.resolve()).encode()).hexdigest())
    if path.is_symlink():
        reject(outcome, LINK_REASON)
    else:
        outcome.rejected_reason = LINK_REASON
        log.warning("Rejected %s, left in place: %s", relative_to_inbox(path), LINK_REASON)
    write_report(outcome)
    return outcome


def _delivered_again(path: Path, digest: str, modified_us: int, first: dict[str, FileOutcome],
                     copies: Callable[[], dict[str, list[tuple[str, int | None, str]]]]
                     ) -> str | None:
    """The file whose load ``path`` repeats when it is a new delivery of bytes known before:
    a second copy in this delivery (``first``: the file read; a rejected one is judged again
    next time, as before), or a copy other than those registered (:func:`_earlier_copy`)."""
    if digest in first:
        return None if first[digest].rejected_reason else relative_to_inbox(first[digest].path)
    return _earlier_copy(path, modified_us, copies().get(digest, []))


def _earlier_copy(path: Path, modified_us: int,
                  copies: list[tuple[str, int | None, str]]) -> str | None:
    """The loaded file whose bytes ``path`` repeats, when ``path`` is a new delivery of them
    (``copies``: the registrations of those bytes, :func:`registered_copies`); None when it is
    a file registered before, lying where it lay, as it was then. A registration without a
    modification time (before they were kept) stands for its file however old it is."""
    here = relative_to_inbox(path)
    if any(f == here and m in (None, modified_us) for f, m, _ in copies):
        return None
    loaded = [f for f, _, outcome in copies if outcome == "loaded"]
    return loaded[0] if loaded else None  # bytes known from elsewhere: skipped as before


def registered_copies(dataset: str) -> dict[str, list[tuple[str, int | None, str]]]:
    """Per sha256 of a loaded file, each registration of its bytes in ``dataset``'s completed
    loads, loaded or delivered again: (file, modification time in microseconds since 1970 or
    None, outcome), the first loaded first."""
    db = paths.build_db()
    if not {"file_registry", "_dlt_loads"} <= present_tables(dataset):
        return {}
    with duckdb.connect(str(db), read_only=True) as con:
        modified = "epoch_us(r.source_modified_at)" if con.execute(
            "select count(*) from information_schema.columns where table_schema = ? and "
            "table_name = 'file_registry' and column_name = 'source_modified_at'",
            [dataset]).fetchall()[0][0] else "null"
        rows = con.execute(
            f"select r.source_sha256, r.source_file, {modified}, r.outcome "
            f'from "{dataset}".file_registry as r '
            f'join "{dataset}"._dlt_loads as l on l.load_id = r._dlt_load_id and l.status = 0 '
            f"where r.outcome in ('loaded', '{REPEATED}') "
            "and r.source_sha256 in (select source_sha256 from "
            f"\"{dataset}\".file_registry where outcome = 'loaded') "
            "order by r.outcome <> 'loaded', r.registered_at"
        ).fetchall()
    found: dict[str, list[tuple[str, int | None, str]]] = {}
    for digest, source_file, modified_us, outcome in rows:
        found.setdefault(digest, []).append((source_file, modified_us, outcome))
    return found


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
        if not table_exists(con, dataset, "file_registry", "_dlt_loads"):
            return set()
        rows = con.execute(
            f'select distinct r.source_sha256 from "{dataset}".file_registry as r '
            f'join "{dataset}"._dlt_loads as l on l.load_id = r._dlt_load_id and l.status = 0 '
            "where r.outcome = 'loaded'"
        ).fetchall()
    return {r[0] for r in rows}


def present_tables(dataset: str) -> frozenset[str]:
    """The tables ``dataset`` already holds in the build database (none before its first load)."""
    db = paths.build_db()
    if not db.exists():
        return frozenset()
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "select table_name from information_schema.tables where table_schema = ?", [dataset]
        ).fetchall()
    return frozenset(r[0] for r in rows)


def rows_or_empty(
    name: str, rows: Sequence[object], present: frozenset[str] | None,
    empty: Callable[[], pa.Table],
) -> Iterator[object]:
    """The rows of one resource, or, when there are none and its raw table does not exist yet,
    one empty table with the full schema: every source is optional, so every raw table exists
    (and dbt finds every source) from the first run on, whatever an organisation delivers.
    ``present`` None means unknown: the empty table is yielded (dlt merges it as a no-op)."""
    if rows:
        yield from rows
    elif present is None or name not in present:
        yield empty()


def _completed_registry(dataset: str) -> list[tuple[str, str, str, str, datetime]]:
    """(organisation, department, entity, outcome, newest registration) of ``dataset``'s files
    in completed loads, by the folders they lay in (``<dataset folder>/<organisation>/
    <department>/``); none before its first load."""
    if not {"file_registry", "_dlt_loads"} <= present_tables(dataset):
        return []
    with duckdb.connect(str(paths.build_db()), read_only=True) as con:
        rows = con.sql(
            f"select split_part(r.source_file, '/', 2), split_part(r.source_file, '/', 3), "
            f"coalesce(r.entity, ''), r.outcome, max(r.registered_at) "
            f'from "{dataset}".file_registry as r '
            f'join "{dataset}"._dlt_loads as l on l.load_id = r._dlt_load_id and l.status = 0 '
            f"group by all"
        ).fetchall()
    return [(org, code, entity, outcome, at.astimezone(UTC))
            for org, code, entity, outcome, at in rows if org and code]


def last_delivery_by_department(dataset: str) -> dict[tuple[str, str], datetime]:
    """The newest completed load of a file of ``dataset`` (loaded or rejected), per
    (organisation, department); nothing delivered yet: no department is late."""
    out: dict[tuple[str, str], datetime] = {}
    for org, code, _, outcome, at in _completed_registry(dataset):
        if outcome != REPEATED:  # the same bytes again bring nothing newer
            out[(org, code)] = max(at, out.get((org, code), at))
    return out


def last_load_by_entity(dataset: str) -> dict[tuple[str, str], dict[str, datetime]]:
    """The newest completed load of a *loaded* file per entity (clients, cases, contacts, …), per
    (organisation, department) of ``dataset``: a file that holds several entities (``cases,
    contacts``) counts for each. A department whose export stopped carrying one entity still
    delivers files, so only this tells that its contacts, say, are months old."""
    out: dict[tuple[str, str], dict[str, datetime]] = {}
    for org, code, entities, outcome, at in _completed_registry(dataset):
        for entity in (e.strip() for e in entities.split(",")):
            if outcome == "loaded" and entity:
                seen = out.setdefault((org, code), {})
                seen[entity] = max(at, seen.get(entity, at))
    return out


# The two tables every source writes about its files: builder of the rows, and the schema.
_OUTCOME_TABLES: dict[str, tuple[Callable[[Sequence[FileOutcome]], pa.Table], pa.Schema]] = {
    "quarantine": (quarantine_table, QUARANTINE_SCHEMA),
    "file_registry": (registry_table, REGISTRY_SCHEMA),
}


def outcome_resource(name: str, outcomes: Callable[[], Sequence[FileOutcome]],
                     present: frozenset[str] | None, doc: str) -> DltResource:
    """The dlt resource ``quarantine`` or ``file_registry`` of a source: the rows of the file
    outcomes ``outcomes()`` gives when the load runs (or the empty table, see
    :func:`rows_or_empty`); ``doc`` describes the table (the asset's description)."""
    build, schema = _OUTCOME_TABLES[name]

    def rows() -> Iterator[pa.Table]:
        found = outcomes()
        tables = [build(found)] if found else []
        yield from rows_or_empty(name, tables, present, schema.empty_table)

    rows.__doc__ = doc
    return dlt.resource(rows, name=name, write_disposition="append")
