"""`datenwerk run` as people and machines stop it: real processes, real signals, a real second run.

- SIGTERM while dbt builds (a service manager stopping it, a Ctrl-C): the run ends "interrupted",
  nothing new is published, and a second `datenwerk run` started meanwhile is refused at once,
  naming the run in progress.
- SIGKILL while dbt builds (kill -9, the OOM killer): the next `datenwerk run` finds the dead run,
  marks it failed, frees its pool slot, and completes and publishes.
- A failed `datenwerk run` is a run of the job in the code location: listed under the job, and
  the daemon's failure_alert mails it (a local SMTP server receives the alert).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import PipelineRun, copy_home, use_home
from tests.integration.test_freshness_and_alerts import smtp_server  # noqa: F401 - fixture
from tests.integration.test_publish_gate import snapshot

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
IN_DBT = "started      transform_assets"
# Nothing new is delivered to the copied homes: without a full refresh a run would find nothing
# changed and leave dbt at once, before any signal could reach it while it builds.
REBUILD = ("--full-refresh",)
STARTUP_SECONDS = 600  # the machine is shared: loading the definitions twice can take minutes


class CliRun:
    """A real `datenwerk run` subprocess whose output is followed line by line."""

    def __init__(self, home: Path, extra_env: dict[str, str] | None = None,
                 args: tuple[str, ...] = ()) -> None:
        env = {**os.environ, "DATENWERK_HOME": str(home), **(extra_env or {})}
        env.pop("DAGSTER_HOME", None)  # the home's own: $DATENWERK_HOME/dagster
        self.process = subprocess.Popen(
            [str(BIN / "datenwerk"), "run", *args], cwd=REPO_ROOT, env=env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, bufsize=1)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, text: str, timeout: float = STARTUP_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output:
                return
            if self.process.poll() is not None:
                self._reader.join(timeout=5)
                if text in self.output:
                    return
                raise AssertionError(f"run ended before '{text}':\n{self.output[-3000:]}")
            time.sleep(0.2)
        raise TimeoutError(f"no '{text}' after {timeout} s:\n{self.output[-3000:]}")

    def finish(self, timeout: float = 1800) -> int:
        code = self.process.wait(timeout=timeout)
        self._reader.join(timeout=10)
        return code

    @property
    def run_id(self) -> str:
        match = re.search(r"run-([0-9a-f-]{36})\.log", self.output)
        assert match, self.output
        return match.group(1)


@pytest.fixture
def stop_leftovers() -> Iterator[list[CliRun]]:
    started: list[CliRun] = []
    yield started
    for run in started:
        if run.process.poll() is None:
            run.process.kill()
            run.process.wait(timeout=30)


def instance_of(home: Path):  # type: ignore[no-untyped-def]
    from dagster import DagsterInstance

    os.environ["DAGSTER_HOME"] = str(home / "dagster")
    try:
        return DagsterInstance.get()
    finally:
        os.environ.pop("DAGSTER_HOME", None)


def leftovers(run_id: str) -> list[int]:
    from orchestration.runs import leftover_processes

    return leftover_processes(run_id)


def test_sigterm_during_dbt_interrupts_the_run_and_a_second_run_is_refused(
    small_first_run: PipelineRun, stop_leftovers: list[CliRun],
) -> None:
    from dagster import DagsterRunStatus

    home = copy_home(small_first_run.home, "cli-sigterm")
    published_before = snapshot(home / "published")
    first = CliRun(home, args=REBUILD)
    stop_leftovers.append(first)
    first.wait_for(IN_DBT)

    second = CliRun(home)
    stop_leftovers.append(second)
    assert second.finish(timeout=300) == 75
    assert f"another run is in progress (run {first.run_id}, since " in second.output

    time.sleep(2)  # dbt is building
    first.process.send_signal(signal.SIGTERM)
    code = first.finish(timeout=120)

    assert code == 128 + signal.SIGTERM
    assert "The run was interrupted (SIGTERM)" in first.output
    assert snapshot(home / "published") == published_before
    with instance_of(home) as instance:
        run = instance.get_run_by_id(first.run_id)
        assert run is not None and run.status == DagsterRunStatus.FAILURE
        messages = [r.event_log_entry.dagster_event.message or "" for r in
                    instance.get_records_for_run(first.run_id).records
                    if r.event_log_entry.dagster_event is not None]
        assert any("interrupted" in m for m in messages), messages[-5:]
        assert not instance.event_log_storage.get_concurrency_run_ids()
    assert leftovers(first.run_id) == []  # dbt and the run worker are gone too


def test_sigkill_during_dbt_then_the_next_run_recovers_and_publishes(
    small_first_run: PipelineRun, stop_leftovers: list[CliRun],
) -> None:
    from dagster import DagsterRunStatus

    home = copy_home(small_first_run.home, "cli-sigkill")
    published_before = snapshot(home / "published")
    killed = CliRun(home, args=REBUILD)
    stop_leftovers.append(killed)
    killed.wait_for(IN_DBT)
    time.sleep(2)
    killed.process.send_signal(signal.SIGKILL)
    killed.finish(timeout=60)
    assert snapshot(home / "published") == published_before
    with instance_of(home) as instance:
        dead = instance.get_run_by_id(killed.run_id)
        assert dead is not None and dead.status == DagsterRunStatus.STARTED  # what Dagster knows

    # No flag: the full refresh the killed run asked for is still due, so this run rebuilds.
    following = CliRun(home)
    stop_leftovers.append(following)
    code = following.finish()

    assert code == 0, following.output[-3000:]
    assert f"Run {killed.run_id} (pid {killed.process.pid}) had died without finishing" in \
        following.output
    assert snapshot(home / "published") != published_before  # a new generation
    with instance_of(home) as instance:
        dead = instance.get_run_by_id(killed.run_id)
        assert dead is not None and dead.status == DagsterRunStatus.FAILURE
        last = instance.get_records_for_run(killed.run_id).records[-1].event_log_entry
        assert "is gone" in (last.dagster_event.message or "")
        assert instance.get_run_by_id(following.run_id).status == DagsterRunStatus.SUCCESS
    assert leftovers(killed.run_id) == []


def test_failed_cli_run_is_listed_under_the_job_and_alerts(
    small_first_run: PipelineRun, smtp_server: tuple[int, list],  # noqa: F811
    stop_leftovers: list[CliRun],
) -> None:
    from dagster import DagsterRunStatus, RunsFilter

    port, received = smtp_server
    home = copy_home(small_first_run.home, "cli-failed-alert")
    (home / "secrets" / "pseudonym.key").unlink()  # the case-management load fails terminally
    env = {**os.environ, "DATENWERK_HOME": str(home), "DAGSTER_HOME": str(home / "dagster"),
           "DATENWERK_SMTP_HOST": "127.0.0.1", "DATENWERK_SMTP_PORT": str(port),
           "DATENWERK_SMTP_TO": "ops@example.org", "PATH": f"{BIN}:{os.environ['PATH']}"}
    daemon_log = home / "daemon.log"
    with daemon_log.open("w") as out:
        daemon = subprocess.Popen([str(BIN / "dagster-daemon"), "run"], cwd=REPO_ROOT, env=env,
                                  stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        # The run failure sensor reports runs that fail after its first evaluation.
        while "failure_alert" not in daemon_log.read_text():
            assert time.monotonic() < deadline, daemon_log.read_text()[-3000:]
            assert daemon.poll() is None, daemon_log.read_text()[-3000:]
            time.sleep(1)
        failed = CliRun(home)
        stop_leftovers.append(failed)
        assert failed.finish() == 1, failed.output[-3000:]
        deadline = time.monotonic() + 300
        while not received and time.monotonic() < deadline:
            time.sleep(1)
    finally:
        os.killpg(daemon.pid, signal.SIGTERM)
        try:
            daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(daemon.pid, signal.SIGKILL)

    assert received, daemon_log.read_text()[-3000:]
    message = received[0].content.decode()
    assert "[Datenwerk] nightly_refresh failed" in message
    assert failed.run_id in message
    with instance_of(home) as instance:
        listed = instance.get_runs(RunsFilter(
            job_name="nightly_refresh",
            tags={".dagster/repository": "__repository__@datenwerk"},
            statuses=[DagsterRunStatus.FAILURE]))
        assert failed.run_id in {r.run_id for r in listed}


def started_ui_run(instance, worker_pid: int) -> str:  # type: ignore[no-untyped-def]
    """A run of the job as the UI creates it (origin, no `datenwerk run` tags), marked STARTED
    by its run worker ``worker_pid`` (the run start event carries the worker's pid)."""
    from dagster import DagsterEvent, DagsterEventType
    from dagster._core.utils import make_new_run_id

    from orchestration import runs

    run, _ = runs.submit(instance, make_new_run_id(), {}, {"dagster/from_ui": "true"})
    instance.report_dagster_event(DagsterEvent(
        event_type_value=DagsterEventType.RUN_START.value, job_name=runs.JOB, pid=worker_pid),
        run_id=run.run_id)
    return run.run_id


def dead_pid() -> int:
    """The pid of a process that has ended (a run worker killed by the OOM killer)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait(timeout=60)
    return process.pid


@contextmanager
def live_worker() -> Iterator[int]:
    """A process that lives for the test (a run worker still running); yields its pid."""
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    try:
        yield worker.pid
    finally:
        worker.kill()
        worker.wait(timeout=30)


def test_ui_run_whose_worker_died_is_failed_and_a_live_one_is_named(tmp_path: Path) -> None:
    """Runs launched from the UI carry no `datenwerk run` tags: a STARTED one whose run worker
    is gone is marked failed; one whose worker lives makes `datenwerk run` refuse, naming it."""
    from dagster import DagsterInstance, DagsterRunStatus

    from orchestration import runs

    use_home(tmp_path)
    with DagsterInstance.local_temp(tempdir=str(tmp_path)) as instance:
        dead = started_ui_run(instance, dead_pid())
        assert runs.blocking_runs(instance) == []
        assert instance.get_run_by_id(dead).status == DagsterRunStatus.FAILURE  # type: ignore[union-attr]

        with live_worker() as pid:
            live = started_ui_run(instance, pid)
            assert [r.run_id for r in runs.blocking_runs(instance)] == [live]
            with pytest.raises(
                runs.RunInProgress, match=f"another run is in progress \\(run {live}"
            ):
                runs.execute(instance, "never-started", {}, tmp_path / "run.log")
        assert instance.get_run_by_id(live).status == DagsterRunStatus.STARTED  # type: ignore[union-attr]


def test_dead_run_monitor_fails_runs_whose_worker_is_gone(tmp_path: Path) -> None:
    """Under the daemon, without any `datenwerk run`: the sensor fails the dead run (its
    failure alert goes out, its pool slot and the queue are freed) and leaves the live one."""
    from dagster import DagsterInstance, DagsterRunStatus, build_sensor_context

    from orchestration.alerts import dead_run_monitor

    with DagsterInstance.local_temp(tempdir=str(tmp_path)) as instance, live_worker() as pid:
        dead, live = started_ui_run(instance, dead_pid()), started_ui_run(instance, pid)
        result = dead_run_monitor(build_sensor_context(instance=instance))
        assert "1 dead run(s) marked failed" in str(result)
        assert instance.get_run_by_id(dead).status == DagsterRunStatus.FAILURE  # type: ignore[union-attr]
        assert instance.get_run_by_id(live).status == DagsterRunStatus.STARTED  # type: ignore[union-attr]


def datenwerk_cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATENWERK_HOME": str(home)}
    env.pop("DAGSTER_HOME", None)
    return subprocess.run([str(BIN / "datenwerk"), *args], cwd=REPO_ROOT, env=env, text=True,
                          capture_output=True, timeout=STARTUP_SECONDS)


def test_rollback_and_key_rotation_wait_for_no_run(
    small_first_run: PipelineRun, stop_leftovers: list[CliRun],
) -> None:
    """A rollback swapped marts.duckdb and rewrote the exports under a run about to publish its
    own; a key rotation dropped the raw schemas and dlt's folders under a run loading into them;
    a release let dbt merge a load into some staging models of a build and not into others.
    All are refused while a run is in progress, change nothing, and work once it has ended."""
    home = copy_home(small_first_run.home, "cli-maintenance")
    generation = json.loads((home / "published" / "marts.manifest.json").read_text())["generation"]
    key = (home / "secrets" / "pseudonym.key").read_bytes()
    published, exports = snapshot(home / "published"), snapshot(home / "exports")
    running = CliRun(home, args=REBUILD)
    stop_leftovers.append(running)
    running.wait_for(IN_DBT)

    for command in (("rollback", generation), ("rotate-key", "--yes"),
                    ("release", "1796045186.9008303", "--reason", "checked by hand")):
        refused = datenwerk_cli(home, *command)
        assert refused.returncode == 75, refused.stdout + refused.stderr
        assert f"another run is in progress (run {running.run_id}, since " in refused.stderr
        assert "Nothing was changed." in refused.stderr
    assert snapshot(home / "published") == published and snapshot(home / "exports") == exports
    assert (home / "secrets" / "pseudonym.key").read_bytes() == key

    running.process.send_signal(signal.SIGTERM)
    running.finish(timeout=120)
    done = datenwerk_cli(home, "rollback", generation, "--no-exports")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"now holds generation {generation}" in done.stdout
