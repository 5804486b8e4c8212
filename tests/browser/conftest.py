"""A running Dagster UI for the browser and GraphQL tests: the guarded webserver and the daemon
(with their code servers), as `make dev` starts them, on a free loopback port, against a small
demo home.

The daemon is needed: runs go through Dagster's run queue (one at a time, see dagster.yaml), and
the daemon is what takes them off the queue and launches them (in a subprocess of its own).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import _SESSION_ROOT

SCALE = 0.02  # about 40 clients: every stage runs, the run takes a minute, not five
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Webserver:
    url: str
    port: int
    home: Path
    log: Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_code_location(url: str, process: subprocess.Popen, log: Path, timeout: float) -> None:
    """Until the webserver answers and the `datenwerk` code location has loaded its jobs."""
    query = (
        b'{"query": "{ workspaceOrError { ... on Workspace { locationEntries { name '
        b'locationOrLoadError { __typename } } } } }"}'
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"dagster dev exited:\n{log.read_text()[-3000:]}")
        try:
            request = urllib.request.Request(
                f"{url}/graphql", data=query, headers={"Content-Type": "application/json"}
            )
            with urllib.request.urlopen(request, timeout=5) as response:
                if b'"RepositoryLocation"' in response.read():
                    return
        except OSError:
            pass
        time.sleep(1)
    raise TimeoutError(f"the Dagster UI did not come up in {timeout} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def webserver() -> Iterator[Webserver]:
    from ingestion.demo.generator import generate
    from ingestion.pseudonymise import ensure_key_file
    from tests.conftest import use_home

    home = _SESSION_ROOT / "webserver"
    previous_home = os.environ.get("DATENWERK_HOME")
    use_home(home)
    generate(home / "inbox", home / "demo_truth", seed=11, scale=SCALE)
    ensure_key_file()
    if previous_home:
        use_home(Path(previous_home))
    dagster_home = home / "dagster"
    dagster_home.mkdir(parents=True, exist_ok=True)
    from orchestration.cli import DAGSTER_YAML

    (dagster_home / "dagster.yaml").write_text(DAGSTER_YAML)

    port = free_port()
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "DATENWERK_HOME": str(home),
        "DAGSTER_HOME": str(dagster_home),
        "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}",
    }
    log = home / "dagster-dev.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "orchestration.webserver", "-H", "127.0.0.1", "-p", str(port)],
            cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: webserver, daemon, code server
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_code_location(url, process, log, timeout=300)
        yield Webserver(url, port, home, log)
    finally:
        # Ctrl-C, as a user stops `make dev`; its shutdown can hang on the code server, so the
        # group (webserver, daemon, code server, run workers) is killed after a grace period.
        os.killpg(process.pid, signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=15)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def last_publication(home: Path) -> tuple[object, str] | None:
    """(published_at, run_id) of the home's published marts, or None."""
    import duckdb

    db = home / "published" / "marts.duckdb"
    if not db.exists():
        return None
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.sql("select published_at, run_id from main._publication").fetchall()
    return rows[0] if rows else None
