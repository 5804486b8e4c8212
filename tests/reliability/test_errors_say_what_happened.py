"""Errors that say what happened: a lock held by another process through every retry ends the
step with the holder's PID, not with Dagster's "Exceeded max_retries"; a full disk ends
`datenwerk run` with a sentence that says so, not a traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from dagster import DagsterEventType

from tests.conftest import PipelineRun, copy_home
from tests.integration.test_publish_gate import snapshot
from tests.reliability.test_retries import events_of, hold_write_lock, run_reference_load


def test_lock_held_through_every_retry_names_the_holder(small_demo_home: Path) -> None:
    home = copy_home(small_demo_home, "lock-held-throughout")
    db = home / "warehouse" / "build.duckdb"
    db.parent.mkdir(parents=True, exist_ok=True)
    holder = hold_write_lock(db)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        result = run_reference_load(home)
    finally:
        holder.kill()
        holder.wait(timeout=30)

    assert not result.success
    assert len(events_of(result, DagsterEventType.STEP_UP_FOR_RETRY)) == 4
    [failure] = events_of(result, DagsterEventType.STEP_FAILURE)
    error = failure.step_failure_data.error
    text = f"{error.message} {failure.step_failure_data.user_failure_data.description}" \
        if failure.step_failure_data.user_failure_data else error.message
    assert f"locked by another process, PID {holder.pid}" in text
    assert "after 5 attempts" in text
    assert "Exceeded max_retries" not in text


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real file system that fills up: a tmpfs of a few megabytes (needs the right to mount,
    as root in CI; skipped elsewhere)."""
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    yield mount_point
    subprocess.run(["umount", str(mount_point)], check=False, capture_output=True)


def test_full_disk_ends_the_run_with_a_clear_message(
    small_first_run: PipelineRun, small_disk: Path,
) -> None:
    # tmpfs keeps each file in whole 4 KiB pages (dbt's target holds hundreds of small files)
    size_mb = sum(-(-f.stat().st_size // 4096) * 4096
                  for f in small_first_run.home.rglob("*") if f.is_file())
    size_mb = size_mb // 1_000_000 + 3  # the installation and 3 MB: the next run fills it
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs",
                              str(small_disk)], check=False, capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.strip()}")
    home = small_disk / "home"
    shutil.copytree(small_first_run.home, home)
    published_before = snapshot(home / "published")
    env = {**os.environ, "DATENWERK_HOME": str(home)}
    env.pop("DAGSTER_HOME", None)

    # A full refresh: with nothing new delivered, the run would find nothing changed and write
    # next to nothing; rebuilding every model is what fills the disk.
    run = subprocess.run([str(Path(sys.executable).parent / "datenwerk"), "run", "--full-refresh"],
                         env=env,
                         cwd=Path(__file__).resolve().parents[2], capture_output=True,
                         text=True, timeout=1800, check=False)

    output = run.stdout + run.stderr
    assert run.returncode == 1, output[-3000:]
    assert "disk full or file size limit while writing " in output, output[-3000:]
    assert "Traceback" not in output
    assert snapshot(home / "published") == published_before


def test_definitions_that_do_not_load_end_the_run_saying_why(tmp_path: Path) -> None:
    """A stewards file broken by hand: the run worker cannot load the definitions, so no run is
    created; `datenwerk run` says so with the worker's last lines (the YAML error), not a
    traceback of its own, and the next run is not blocked by anything it left."""
    from dagster import DagsterInstance

    stewards = tmp_path / "stewards.yml"
    stewards.write_text("teams: [data-engineering\n", encoding="utf-8")  # unclosed list
    home = tmp_path / "home"
    env = {**os.environ, "DATENWERK_HOME": str(home), "DATENWERK_STEWARDS_FILE": str(stewards)}
    env.pop("DAGSTER_HOME", None)

    run = subprocess.run([str(Path(sys.executable).parent / "datenwerk"), "run"], env=env,
                         cwd=Path(__file__).resolve().parents[2], capture_output=True,
                         text=True, timeout=900, check=False)

    assert run.returncode == 1, run.stdout[-3000:] + run.stderr[-3000:]
    assert "before it created the run" in run.stderr, run.stderr[-3000:]
    assert "ParserError" in run.stderr  # the worker's own reason, from its output
    assert str(home / "logs") in run.stderr
    with DagsterInstance.from_config(str(home / "dagster")) as instance:
        assert instance.get_runs() == []
    assert not (home / "published" / "marts.duckdb").exists()
