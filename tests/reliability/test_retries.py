"""Transient faults are retried with backoff, terminal ones fail once: real runs of the real job.

A second process holds the DuckDB write lock on build.duckdb for a few seconds (what an analyst's
stray read-write connection does): the load step fails, is retried and succeeds. Without a
pseudonymisation key the step fails once and is not retried.
"""

from __future__ import annotations

import errno
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest
from dagster import AssetKey, DagsterEventType, DagsterInstance, Failure

from orchestration.faults import classified_faults, is_transient
from tests.conftest import copy_home, use_home

REFERENCE_TABLES = ("departments", "programs", "cost_centres", "accounts", "file_registry")
HOLD_SECONDS = 3.0


def run_reference_load(home: Path, on_retry: Callable[[], None] | None = None):  # type: ignore[no-untyped-def]
    """Run only the reference load of nightly_refresh (a real dlt step) on ``home``; call
    ``on_retry`` (from a watcher thread) once the step is up for retry."""
    from dagster._core.utils import make_new_run_id

    from orchestration.definitions import defs

    use_home(home)
    (home / "dagster").mkdir(parents=True, exist_ok=True)
    run_id = make_new_run_id()
    with DagsterInstance.local_temp(tempdir=str(home / "dagster")) as instance:
        done = threading.Event()

        def watch() -> None:
            while not done.wait(0.2):
                records = instance.get_records_for_run(
                    run_id, of_type=DagsterEventType.STEP_UP_FOR_RETRY
                ).records
                if records and on_retry is not None:
                    on_retry()
                    return

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            return defs.resolve_job_def("nightly_refresh").execute_in_process(
                instance=instance,
                run_id=run_id,
                raise_on_error=False,
                asset_selection=[AssetKey(["raw_reference", t]) for t in REFERENCE_TABLES],
            )
        finally:
            done.set()
            watcher.join(timeout=5)


def events_of(result, event_type: DagsterEventType) -> list:  # type: ignore[no-untyped-def]
    return [e for e in result.all_events if e.event_type == event_type]


def hold_write_lock(db: Path) -> subprocess.Popen[str]:
    """A second process that holds the DuckDB write lock on ``db`` until it reads a line on
    stdin (it prints "locked" once it holds it)."""
    return subprocess.Popen(
        [sys.executable, "-c", (
            "import duckdb, sys\n"
            f"con = duckdb.connect({str(db)!r})\n"
            "print('locked', flush=True)\n"
            "sys.stdin.readline()\n"
            "con.close()\n"
        )],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )


def test_locked_warehouse_is_retried_until_the_lock_is_gone(small_demo_home: Path) -> None:
    home = copy_home(small_demo_home, "retry-locked")
    db = home / "warehouse" / "build.duckdb"
    db.parent.mkdir(parents=True, exist_ok=True)
    # Another process holds the write lock until told to let go: after the first failed attempt.
    holder = hold_write_lock(db)
    released: list[float] = []

    def release() -> None:
        assert holder.stdin is not None
        holder.stdin.write("release\n")
        holder.stdin.flush()
        holder.wait(timeout=30)
        released.append(time.monotonic())

    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        result = run_reference_load(home, on_retry=release)
    finally:
        if holder.poll() is None:
            holder.kill()

    assert released, "the step was never up for retry"
    assert result.success
    retries = events_of(result, DagsterEventType.STEP_UP_FOR_RETRY)
    assert {e.step_key for e in retries} == {"load_reference"}
    first = retries[0].event_specific_data
    cause = first.error.cause
    assert cause.cls_name == "IOException" and "Could not set lock" in cause.message
    assert first.seconds_to_wait > 0  # backoff: 1 s with +/- jitter (Dagster scales it randomly)
    with duckdb.connect(str(db), read_only=True) as con:
        n = con.sql("select count(*) from raw_reference.departments").fetchall()[0][0]
    assert n == 4  # the demo's four departments, loaded by the retried attempt


def test_missing_key_fails_once_without_retry(small_demo_home: Path) -> None:
    home = copy_home(small_demo_home, "retry-no-key")
    (home / "secrets" / "pseudonym.key").unlink()

    result = run_reference_load(home)

    assert not result.success
    assert events_of(result, DagsterEventType.STEP_UP_FOR_RETRY) == []
    failures = events_of(result, DagsterEventType.STEP_FAILURE)
    assert [e.step_key for e in failures] == ["load_reference"]
    error = failures[0].step_failure_data.error
    assert "MissingKeyError" in error.message and "DATENWERK_PSEUDONYM_KEY" in error.message
    assert not (home / "warehouse" / "build.duckdb").exists()  # nothing written


def test_classification() -> None:
    with duckdb.connect(":memory:") as con:
        try:
            con.execute("attach '/nonexistent/dir/x.duckdb'")
        except duckdb.Error as exc:
            assert not is_transient(exc)  # a wrong path is configuration, not a passing fault
    assert is_transient(duckdb.IOException('IO Error: Could not set lock on file "b.duckdb"'))
    assert is_transient(OSError(errno.EIO, "Input/output error"))
    assert not is_transient(PermissionError(errno.EACCES, "Permission denied"))
    assert not is_transient(FileNotFoundError(errno.ENOENT, "No such file"))
    wrapped = RuntimeError("dlt step failed")
    wrapped.__cause__ = duckdb.IOException("Could not set lock on file")
    assert is_transient(wrapped)
    # dagster-dbt reports dbt's own error text in the Failure's description
    assert is_transient(Failure(description="dbt failed: IO Error: Could not set lock on file"))

    with pytest.raises(Failure) as terminal, classified_faults():
        raise ValueError("unknown profile 'x'")
    assert terminal.value.allow_retries is False
    with pytest.raises(OSError), classified_faults():
        raise OSError(errno.EAGAIN, "Resource temporarily unavailable")


def test_an_erasure_that_did_not_complete_stops_the_loads_once(small_demo_home: Path) -> None:
    """``datenwerk erase`` stopped after recording the client (its rows perhaps still in the raw
    tables): a run would build and publish them, so the loads refuse, once, naming the folder."""
    from warehouse import erasure

    home = copy_home(small_demo_home, "retry-erasure-pending")
    use_home(home)
    erasure.save([erasure.Erasure("swm", "SB", "2026-11-30T23:00:00+00:00", "Antrag Art. 17",
                                  {"fingerprint": {"clients": ["c" * 32], "cases": []}},
                                  pending=True)])

    result = run_reference_load(home)

    assert not result.success
    assert events_of(result, DagsterEventType.STEP_UP_FOR_RETRY) == []
    [failure] = events_of(result, DagsterEventType.STEP_FAILURE)
    error = failure.step_failure_data.error
    assert "ErasurePending" in error.message and "swm/SB" in error.message
    assert "datenwerk erase" in error.message
    with duckdb.connect(str(home / "warehouse" / "build.duckdb"), read_only=True) as con:
        schemas = {r[0] for r in con.sql("select schema_name from information_schema.schemata")
                   .fetchall()}
    assert "raw_reference" not in schemas  # nothing loaded
