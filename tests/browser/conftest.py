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
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
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


@dataclass
class Launched:
    """A UI server process (webserver, daemon and code servers in one process group)."""

    process: subprocess.Popen
    url: str
    port: int
    home: Path
    log: Path


def launch_ui(home: Path, extra_env: dict[str, str] | None = None) -> Launched:
    """Start ``python -m orchestration.webserver`` (as `make dev` does) on ``home`` and a free
    loopback port, without waiting for it: it loads its code while other tests run."""
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
        **(extra_env or {}),
    }
    log = home / "dagster-dev.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "orchestration.webserver", "-H", "127.0.0.1", "-p", str(port)],
            cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: webserver, daemon, code server
        )
    return Launched(process, f"http://127.0.0.1:{port}", port, home, log)


# Servers asked to stop, whose shutdown is awaited once, at the end of the session.
STOPPING: list[subprocess.Popen] = []


def stop_ui(process: subprocess.Popen) -> None:
    """Ctrl-C, as a user stops `make dev`. Its shutdown can hang on the code server for the
    whole grace period, so it is awaited at the end of the session (``reap_servers``), for all
    servers at once, instead of here. A thread waits for it meanwhile: a server that has ended
    is reaped at once, not left a zombie of the test process until the session ends (where
    tests that look for zombies they leave would count it)."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGINT)
    threading.Thread(target=process.wait, name=f"reap-ui-{process.pid}", daemon=True).start()
    STOPPING.append(process)


def reap_servers(grace: float = 15) -> None:
    """The group of each stopped server (webserver, daemon, code server, run workers) is killed
    when it has not ended within ``grace`` seconds of the end of the session."""
    deadline = time.monotonic() + grace
    while STOPPING:
        process = STOPPING.pop()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def launch_demo_ui() -> Launched:
    """The browser tests' server, on a small demo home of its own (generated, not loaded)."""
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
    return launch_ui(home)


# Servers started when the session's tests were collected (see ``start_servers_early``), by the
# name of the fixture that will use them.
EARLY: dict[str, Launched] = {}
LAUNCHERS: dict[str, Callable[[], Launched]] = {"webserver": launch_demo_ui}


def ui_tests_last(items: list[pytest.Item]) -> None:
    """The tests of the UI servers at the end of the session (in their order): their servers,
    started with the session, load their code (a minute) while the other tests run."""
    items.sort(key=lambda item: any(name in item.fixturenames for name in LAUNCHERS))  # stable


def start_servers_early(items: list[pytest.Item]) -> None:
    """Start the UI servers the selected tests need, in the background, and the GraphQL night
    as soon as its server is up."""
    needed = [name for name in LAUNCHERS if any(name in item.fixturenames for item in items)]
    for name in needed:
        EARLY[name] = LAUNCHERS[name]()
    if "webserver" in EARLY and any("graphql_night" in item.fixturenames for item in items):
        GRAPHQL_NIGHT.start(EARLY["webserver"])


@dataclass
class GraphqlNight:
    """nightly_refresh launched through Dagster's GraphQL API, as a script or another tool
    would: the publication before it, the run's id and final status, the publication after."""

    before: tuple[object, str] | None
    run_id: str
    status: object  # DagsterRunStatus
    after: tuple[object, str] | None


class BackgroundNight:
    """The GraphQL night, launched as soon as the server has loaded its code: it runs in the
    server's run worker while the session's other tests run (two cores). The ``webserver``
    fixture waits for it, so the browser tests find the server idle."""

    def __init__(self) -> None:
        self.thread: threading.Thread | None = None
        self.result: GraphqlNight | None = None
        self.error: BaseException | None = None

    def start(self, launched: Launched) -> None:
        self.thread = threading.Thread(target=self._run, args=(launched,), daemon=True)
        self.thread.start()

    def _run(self, launched: Launched) -> None:
        try:
            wait_for_code_location(launched.url, launched.process, launched.log, timeout=300)
            self.result = graphql_night_on(launched.port, launched.home)
        except BaseException as error:  # re-raised in the test session, not lost in a thread
            self.error = error

    def wait(self) -> None:
        if self.thread is not None:
            self.thread.join()

    def outcome(self, launched: Webserver) -> GraphqlNight:
        """The night's outcome (launched now if it was not launched early)."""
        self.wait()
        if self.error is not None:
            raise self.error
        return self.result or graphql_night_on(launched.port, launched.home)


def graphql_night_on(port: int, home: Path) -> GraphqlNight:
    from dagster import DagsterRunStatus
    from dagster_graphql import DagsterGraphQLClient

    from orchestration.cli import FULL_REFRESH_CONFIG

    before = last_publication(home)
    client = DagsterGraphQLClient("127.0.0.1", port_number=port, timeout=60)
    run_id = client.submit_job_execution(
        "nightly_refresh",
        repository_location_name="datenwerk",
        repository_name="__repository__",
        tags={"datenwerk/trigger": "graphql-test"},
        # The home has been published and nothing new arrived: without a full refresh the
        # run would find nothing changed and publish nothing (as a quiet night should).
        run_config=FULL_REFRESH_CONFIG,
    )
    deadline = time.monotonic() + 900
    status = client.get_run_status(run_id)
    while status not in (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE,
                         DagsterRunStatus.CANCELED) and time.monotonic() < deadline:
        time.sleep(3)
        status = client.get_run_status(run_id)
    return GraphqlNight(before, run_id, status, last_publication(home))


GRAPHQL_NIGHT = BackgroundNight()


def stop_servers() -> None:
    """At the end of the session: servers started early whose tests never ran (``-x``), and
    the shutdown of all."""
    while EARLY:
        stop_ui(EARLY.popitem()[1].process)
    reap_servers()


def claim_ui(name: str) -> Launched:
    """The server started early for fixture ``name`` (or one started now)."""
    return EARLY.pop(name, None) or LAUNCHERS[name]()


# Package scope: the server stops once the browser tests are done. In a plain session they run
# last anyway; under xdist their worker goes on with other tests, without a server idling beside.
@pytest.fixture(scope="package")
def webserver() -> Iterator[Webserver]:
    launched = claim_ui("webserver")
    try:
        wait_for_code_location(launched.url, launched.process, launched.log, timeout=300)
        GRAPHQL_NIGHT.wait()  # the server is idle for the browser
        yield Webserver(launched.url, launched.port, launched.home, launched.log)
    finally:
        stop_ui(launched.process)


@pytest.fixture(scope="package")
def graphql_night(webserver: Webserver) -> GraphqlNight:
    return GRAPHQL_NIGHT.outcome(webserver)


def last_publication(home: Path) -> tuple[object, str] | None:
    """(published_at, run_id) of the home's published marts, or None."""
    import duckdb

    db = home / "published" / "marts.duckdb"
    if not db.exists():
        return None
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.sql("select published_at, run_id from main._publication").fetchall()
    return rows[0] if rows else None
