"""A UI server the tests have stopped is reaped as soon as it has ended, not at the end of the
session: until then it was a zombie child of the test process, which tests that assert they
leave no zombie (the printer's, dbt's) could count as their own under pytest-xdist."""

from __future__ import annotations

import subprocess
import sys
import time

from orchestration.runs import zombie_children
from tests.browser.conftest import STOPPING, stop_ui


def test_a_stopped_server_leaves_no_zombie() -> None:
    zombies_before = set(zombie_children())
    # Stands in for the server: a process group that Ctrl-C ends, stopped once it is up. Its
    # handler is set in so many words, as uvicorn sets the server's: a shell starts a background
    # job (`make test &`) with Ctrl-C ignored, and Python then installs none of its own.
    server = subprocess.Popen(
        [sys.executable, "-c", "import signal, sys, time\n"
         "signal.signal(signal.SIGINT, lambda *_: sys.exit(130))\nprint('up', flush=True)\n"
         "time.sleep(60)"],
        start_new_session=True, stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None and server.stdout.readline() == "up\n"
    stop_ui(server)
    deadline = time.monotonic() + 10
    while server.returncode is None and time.monotonic() < deadline:
        time.sleep(0.1)

    assert set(zombie_children()) - zombies_before == set()
    assert server.returncode is not None
    STOPPING.remove(server)
    server.stdout.close()
