"""The inbox sensor, evaluated for real on an installation whose inbox was loaded by a real run:
loaded files never trigger, a file under a temporary name waits, the renamed file starts exactly
one run (run key = its sha256), and nothing starts while a run is in progress."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
from dagster import (
    DagsterInstance,
    DagsterRunStatus,
    SensorResult,
    SkipReason,
    build_sensor_context,
)

from tests.conftest import PipelineRun, copy_home, use_home


def evaluate(instance: DagsterInstance, cursor: str | None) -> SensorResult | SkipReason:
    from orchestration.sensors import inbox_sensor

    result = inbox_sensor(build_sensor_context(instance=instance, cursor=cursor))
    assert isinstance(result, (SensorResult, SkipReason))
    return result


@pytest.fixture
def loaded_home(first_run: PipelineRun) -> Path:
    home = copy_home(first_run.home, "sensor")
    use_home(home)
    return home


def test_new_complete_file_starts_one_run(loaded_home: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from orchestration import sensors

    monkeypatch.delenv("DATENWERK_SETTLE_SECONDS", raising=False)
    hashed: list[Path] = []
    real_sha = sensors.sha256_file
    monkeypatch.setattr(sensors, "sha256_file", lambda p: hashed.append(p) or real_sha(p))
    instance = DagsterInstance.ephemeral()

    # Everything in the inbox was loaded by the first run: nothing to do.
    first = evaluate(instance, None)
    assert isinstance(first, SensorResult) and not first.run_requests
    # every delivered file, not the export configuration (departments.yml), which no load reads
    files_in_inbox = len([p for p in (loaded_home / "inbox").rglob("*")
                          if p.is_file() and p.name != "departments.yml"])
    assert len(hashed) == files_in_inbox
    cursor = first.cursor

    # A second tick hashes nothing: mtime and size are unchanged.
    hashed.clear()
    second = evaluate(instance, cursor)
    assert not second.run_requests and hashed == []

    # A delivery being written under a temporary name is not picked up ...
    dept = loaded_home / "inbox" / "case_management" / "swm" / "SB"
    source = next(dept.glob("*ontakte*"))
    body = source.read_bytes() + b"\r\n"  # new bytes: a new file for the registry
    partial = dept / "kontakte_nachlieferung.csv.part"
    partial.write_bytes(body)
    waiting = evaluate(instance, second.cursor)
    assert not waiting.run_requests

    # ... until it is renamed into place: then exactly one run, keyed by the file's sha256.
    partial.rename(dept / "kontakte_nachlieferung.csv")
    triggered = evaluate(instance, waiting.cursor)
    assert [r.run_key for r in triggered.run_requests] == [hashlib.sha256(body).hexdigest()]
    assert triggered.run_requests[0].tags["datenwerk/trigger"] == "inbox"

    # The next tick does not request it again; a tick that lost its cursor asks with the same
    # run key, which Dagster skips.
    again = evaluate(instance, triggered.cursor)
    assert not again.run_requests
    lost_cursor = evaluate(instance, None)
    assert [r.run_key for r in lost_cursor.run_requests] == [triggered.run_requests[0].run_key]

    # Two files delivered together: one run for both.
    shutil.copy(dept / "kontakte_nachlieferung.csv", dept / "kontakte_2.csv")
    (dept / "kontakte_2.csv").write_bytes(body + b"\r\n")
    (dept / "kontakte_3.csv").write_bytes(body + b"\r\n\r\n")
    both = evaluate(instance, again.cursor)
    assert len(both.run_requests) == 1
    assert both.run_requests[0].tags["datenwerk/new_files"] == "2"


def test_settle_time_and_busy_instance(loaded_home: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from dagster._core.test_utils import create_run_for_test

    instance = DagsterInstance.ephemeral()
    cursor = evaluate(instance, None).cursor
    dept = loaded_home / "inbox" / "case_management" / "swm" / "SUB"
    (dept / "ziele_neu.csv").write_bytes(next(dept.glob("*iele*")).read_bytes() + b"\r\n")

    monkeypatch.setenv("DATENWERK_SETTLE_SECONDS", "3600")
    assert not evaluate(instance, cursor).run_requests  # written a moment ago: not settled

    monkeypatch.setenv("DATENWERK_SETTLE_SECONDS", "0")
    create_run_for_test(instance, job_name="nightly_refresh", status=DagsterRunStatus.STARTED)
    busy = evaluate(instance, cursor)
    assert isinstance(busy, SkipReason) and "in progress" in (busy.skip_message or "")

    idle = DagsterInstance.ephemeral()
    assert len(evaluate(idle, cursor).run_requests) == 1
