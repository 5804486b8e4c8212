"""A full disk, as a file-size limit makes it (RLIMIT_FSIZE with SIGXFSZ ignored: a write past
the limit fails with EFBIG, as on a full disk): a command that cannot write ends with one line
naming the file ("disk full or file size limit while writing <path>") and a non-zero exit code,
never a traceback; the published generation stays as it was."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.conftest import PipelineRun, copy_home, use_home
from tests.integration.test_publish_gate import snapshot

REPO_ROOT = Path(__file__).resolve().parents[2]
DISK_FULL = "disk full or file size limit while writing "


def file_size_limit(limit: int) -> Callable[[], None]:
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def datenwerk(home: Path, *args: str, limit: int) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATENWERK_HOME": str(home)}
    env.pop("DAGSTER_HOME", None)
    return subprocess.run([str(Path(sys.executable).parent / "datenwerk"), *args], env=env,
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=1800,
                          check=False, preexec_fn=file_size_limit(limit))


def the_line(output: str) -> str:
    """The one line that says what could not be written (and no traceback anywhere)."""
    assert "Traceback" not in output, output[-3000:]
    lines = [line for line in output.splitlines() if DISK_FULL in line]
    assert lines, output[-3000:]
    return lines[0]


def test_a_rollback_that_cannot_write_the_analysts_file_names_it_and_keeps_it(
    small_first_run: PipelineRun,
) -> None:
    home = copy_home(small_first_run.home, "file-size-limit-rollback")
    use_home(home)
    from orchestration.publish import published_mart_names
    from warehouse.publish import publish

    publish(published_mart_names(), run_id="a-second-publication")
    published = home / "published" / "marts.duckdb"
    before = snapshot(home / "published")

    result = datenwerk(home, "rollback", "previous", limit=published.stat().st_size // 2)

    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    assert f"{DISK_FULL}{published} (" in the_line(result.stdout + result.stderr)
    assert snapshot(home / "published") == before


def test_a_run_that_cannot_record_itself_names_dagsters_storage_and_publishes_nothing(
    small_first_run: PipelineRun,
) -> None:
    """SQLite (Dagster's run storage) says only "disk I/O error" when it cannot write."""
    home = copy_home(small_first_run.home, "file-size-limit-run")
    before = snapshot(home / "published")
    run_storage = home / "dagster" / "history" / "runs" / "index.db"
    limit = min(1_000_000, run_storage.stat().st_size // 2)  # it cannot grow

    result = datenwerk(home, "run", limit=limit)

    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    assert f"{DISK_FULL}Dagster's run storage in {home / 'dagster'} (" in the_line(
        result.stdout + result.stderr)
    assert snapshot(home / "published") == before
