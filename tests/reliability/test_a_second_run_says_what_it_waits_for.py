"""A second `datenwerk run` while another process holds what it needs says what it waits for:
the run in progress (run id, since, pid) while it waits for the one-run-at-a-time lock, then
starts once that run ends or gives up with "another run is in progress"; the holder's PID while
another process holds the warehouse file. Real second processes hold the locks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import copy_home
from tests.reliability.test_cli_runs_recover import REPO_ROOT, CliRun, stop_leftovers  # noqa: F401
from tests.reliability.test_retries import hold_write_lock

HOLD_RUN_LOCK = (
    "import sys\n"
    "from orchestration import runs\n"
    "with runs.run_lock() as lock:\n"
    "    runs._note_holder(lock, 'run-held-by-a-second-process')\n"
    "    print('locked', flush=True)\n"
    "    sys.stdin.readline()\n"
)


@pytest.fixture
def run_in_progress(tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen[str]]]:
    """A home whose one-run-at-a-time lock another process holds (as a live run does) until
    it reads a line on stdin."""
    home = tmp_path / "home"
    holder = subprocess.Popen([sys.executable, "-c", HOLD_RUN_LOCK], cwd=REPO_ROOT,
                              env={**os.environ, "DATENWERK_HOME": str(home)}, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    yield home, holder
    holder.kill()
    holder.wait(timeout=30)


WAITING = "Waiting: another run is in progress (run run-held-by-a-second-process, since "


def test_a_run_waiting_for_another_says_so_and_gives_up_naming_it(
    run_in_progress: tuple[Path, subprocess.Popen[str]], stop_leftovers: list[CliRun],  # noqa: F811
) -> None:
    home, holder = run_in_progress
    waiting = CliRun(home, args=("--wait", "0.1"))  # 6 s
    stop_leftovers.append(waiting)

    code = waiting.finish(timeout=600)

    assert code == 75, waiting.output[-3000:]
    assert WAITING in waiting.output
    assert f"pid {holder.pid} on " in waiting.output
    assert "Not started: another run is in progress (run run-held-by-a-second-process, since " \
        in waiting.output
    assert "Traceback" not in waiting.output


def test_a_waiting_run_starts_when_the_other_ends(
    run_in_progress: tuple[Path, subprocess.Popen[str]], stop_leftovers: list[CliRun],  # noqa: F811
) -> None:
    home, holder = run_in_progress
    waiting = CliRun(home, args=("--wait", "10"))
    stop_leftovers.append(waiting)
    waiting.wait_for(WAITING)

    assert holder.stdin is not None
    holder.stdin.write("done\n")
    holder.stdin.flush()
    holder.wait(timeout=30)

    waiting.wait_for("The other run has finished after ")
    assert "of waiting; starting." in waiting.output
    waiting.process.send_signal(signal.SIGTERM)  # what it started is not under test here
    waiting.finish(timeout=300)


def test_a_run_waiting_for_the_warehouse_file_names_the_process_holding_it(
    small_demo_home: Path, stop_leftovers: list[CliRun],  # noqa: F811
) -> None:
    home = copy_home(small_demo_home, "warehouse-file-held")
    db = home / "warehouse" / "build.duckdb"
    db.parent.mkdir(parents=True, exist_ok=True)
    holder = hold_write_lock(db)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        run = CliRun(home)
        stop_leftovers.append(run)
        run.wait_for(f"the warehouse file is locked by another process, PID {holder.pid} (")
        waits = [line for line in run.lines if f"PID {holder.pid}" in line]
        assert all("WAITING" in line and "trying again in" in line for line in waits), waits
    finally:
        holder.kill()
        holder.wait(timeout=30)
    released = len(run.lines)
    deadline = time.monotonic() + 300  # the step that waited goes on once the holder is gone
    while not any("done " in line for line in run.lines[released:]):
        assert time.monotonic() < deadline and run.process.poll() is None, run.output[-3000:]
        time.sleep(0.5)
    run.process.send_signal(signal.SIGTERM)
    run.finish(timeout=300)
