"""The inbox sensor: a complete new export in the inbox starts an ingest-and-refresh run.

Complete means what the loaders mean (:func:`ingestion.delivery.is_complete`): under its
final name (senders write ``x.csv.part`` and rename) and, if ``DATENWERK_SETTLE_SECONDS`` is set,
untouched for that long. New means: its sha256 is in no file registry of a completed load and no
earlier tick requested a run for it.

One run per tick takes every new file (a department delivers five files at once; five runs would
rebuild the marts five times). Its run key is the file's sha256, or for several files the sha256 of
their sorted hashes: each file is requested once (the cursor remembers it) and a tick evaluated
twice cannot start a second run (Dagster skips a run key it has seen). A file whose run failed is
not requested again; the nightly run picks it up.

Cheap on a big inbox: the cursor keeps ``(mtime, size, sha256)`` per file, so only changed files
are hashed, and ``build.duckdb`` is opened (read-only) only when an unknown hash appears - never
while a run is queued or in progress, because a reader would lock the run out of its warehouse.

Stopped by default, like the schedule: an installation starts nothing on its own until the data
engineer turns it on (Automation -> inbox_sensor), e.g. once the pilot departments deliver daily.
"""

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from dagster import (
    DagsterRunStatus,
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from ingestion import accounting, case_management, delivery, reference
from ingestion.delivery import loaded_hashes
from warehouse import paths
from warehouse.files import sha256_file

JOB_NAME = "nightly_refresh"  # load, transform, check, publish: the ingest-and-refresh job
# Where each source's loader looks: the same patterns and the same protocol as the loaders.
INBOX_PATTERNS = {
    "case_management": case_management.PATTERN,
    "accounting": accounting.PATTERN,
    "reference": reference.PATTERN,
}
DATASETS = (case_management.DATASET, accounting.DATASET, reference.DATASET)
BUSY = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
]
# Frequent enough to start a run within a minute of a delivery, rare enough that a scan of a few
# thousand files (stat only, see the cursor) costs nothing.
INTERVAL_SECONDS = 60


@dataclass
class Cursor:
    """Per file (relative to the inbox): [mtime_ns, size, sha256]; and hashes already handled
    (loaded, or requested by an earlier tick)."""

    files: dict[str, list]
    handled: set[str]

    @classmethod
    def parse(cls, raw: str | None) -> "Cursor":
        data = json.loads(raw) if raw else {}
        return cls(dict(data.get("files", {})), set(data.get("handled", [])))

    def dump(self) -> str:
        return json.dumps({"files": self.files, "handled": sorted(self.handled)}, sort_keys=True)


def complete_files(inbox: Path) -> list[Path]:
    """Every complete export file in the inbox, in a stable order."""
    return [p for source, pattern in INBOX_PATTERNS.items()
            for p in delivery.complete_files(inbox / source, pattern)]


def scan(inbox: Path, cursor: Cursor) -> dict[str, str]:
    """sha256 of every complete file (relative path -> hash), hashing only changed files;
    updates the cursor's file cache."""
    current: dict[str, list] = {}
    for path in complete_files(inbox):
        rel = path.relative_to(inbox).as_posix()
        stat = path.stat()
        cached = cursor.files.get(rel)
        if cached and cached[0] == stat.st_mtime_ns and cached[1] == stat.st_size:
            current[rel] = cached
        else:
            current[rel] = [stat.st_mtime_ns, stat.st_size, sha256_file(path)]
    cursor.files = current
    return {rel: entry[2] for rel, entry in current.items()}


def run_key_for(hashes: set[str]) -> str:
    if len(hashes) == 1:
        return next(iter(hashes))
    return hashlib.sha256("\n".join(sorted(hashes)).encode()).hexdigest()


@sensor(
    name="inbox_sensor",
    job_name=JOB_NAME,
    minimum_interval_seconds=INTERVAL_SECONDS,
    default_status=DefaultSensorStatus.STOPPED,
    description=(
        "Starts nightly_refresh when a complete new export lands in the inbox (write-then-rename; "
        "run key = the file's sha256, so no file starts two runs). Files already loaded never "
        "trigger. Waits while a run is queued or in progress."
    ),
)
def inbox_sensor(context: SensorEvaluationContext) -> SensorResult | SkipReason:
    cursor = Cursor.parse(context.cursor)
    busy = context.instance.get_runs_count(RunsFilter(statuses=BUSY))
    if busy:
        return SkipReason(f"{busy} run(s) queued or in progress; new files wait for the next tick")
    by_file = scan(paths.inbox(), cursor)
    present = set(by_file.values())
    cursor.handled &= present  # forget files that left the inbox (rejected, archived)
    unknown = present - cursor.handled
    if unknown:
        loaded = set().union(*(loaded_hashes(dataset) for dataset in DATASETS))
        cursor.handled |= unknown & loaded
        unknown -= loaded
    if not unknown:
        return SensorResult(
            skip_reason=SkipReason(f"no new complete files among {len(by_file)} in the inbox"),
            cursor=cursor.dump(),
        )
    new_files = sorted(rel for rel, digest in by_file.items() if digest in unknown)
    cursor.handled |= unknown
    context.log.info(f"{len(new_files)} new file(s): {', '.join(new_files[:20])}")
    return SensorResult(
        run_requests=[
            RunRequest(
                run_key=run_key_for(unknown),
                tags={"datenwerk/trigger": "inbox", "datenwerk/new_files": str(len(new_files))},
            )
        ],
        cursor=cursor.dump(),
    )
