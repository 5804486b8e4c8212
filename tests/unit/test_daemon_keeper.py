"""The UI server keeps its Dagster daemon running (orchestration.webserver.DaemonKeeper), with
real child processes standing in for the daemon: one that ends is started again, one that keeps
ending is given up on, saying so, and a shutdown ends it for good and reaps it."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from orchestration.runs import zombie_children
from orchestration.webserver import DaemonKeeper


class QuickKeeper(DaemonKeeper):
    MAX_RESTARTS = 1  # a second end within the window is the last


def _started(code: str, log: list[subprocess.Popen]) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-c", code])
    log.append(process)
    return process


def test_a_daemon_that_keeps_ending_is_started_again_once_then_given_up(
        capsys: pytest.CaptureFixture[str]) -> None:
    started: list[subprocess.Popen] = []
    keeper = QuickKeeper(lambda: _started("import sys; sys.exit(3)", started))
    keeper._thread.join(timeout=30)

    assert not keeper._thread.is_alive()
    assert len(started) == 2  # the first and one restart
    err = capsys.readouterr().err
    assert "the Dagster daemon ended (exit status 3)" in err and "Starting it again in 1 s" in err
    assert "not started again" in err and "restart the UI" in err
    assert all(p.returncode == 3 for p in started)


def test_a_stopped_keeper_ends_its_daemon_and_starts_no_other() -> None:
    zombies_before = set(zombie_children())
    started: list[subprocess.Popen] = []
    keeper = DaemonKeeper(lambda: _started("import time; time.sleep(60)", started))
    time.sleep(0.5)

    keeper.stop()
    keeper._thread.join(timeout=10)

    assert not keeper._thread.is_alive()
    assert len(started) == 1 and started[0].returncode is not None
    assert set(zombie_children()) - zombies_before == set()
