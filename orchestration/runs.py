"""`datenwerk run` as a real Dagster run: submitted with the code location's origin, executed by
Dagster's run worker in a child process, guarded against crashes, concurrent runs and signals.

- The run is created in the instance with the origin of the ``datenwerk`` code location (as the
  UI would create it), so it shows under the job in the UI and ``failure_alert`` reports it.
- Dagster's own run worker (what ``dagster api execute_run`` runs for the UI's run launcher)
  executes it in a child process group; dbt runs below it. The worker also creates the run, so
  the job's definitions are imported once per run, in the worker, not in `datenwerk run` too.
- One run at a time: an exclusive lock (``warehouse/.run.lock``, held by the kernel for as long
  as the process lives) makes a second ``datenwerk run`` fail at once, naming the run in progress,
  or wait for it up to a given time, saying every :data:`WAIT_REPORT_SECONDS` what it waits for.
- A run whose process is gone (kill -9, out of memory, a full disk, a power cut) is found by the
  next ``datenwerk run``: it is marked failed in Dagster (the failure alert goes out), its
  leftover processes are stopped and its slot in the ``warehouse_writer`` pool is freed.
- SIGINT and SIGTERM stop the run: the worker and dbt are stopped, the run is marked failed as
  "interrupted", nothing new is published, and the next run proceeds.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from warehouse import paths

if TYPE_CHECKING:
    from dagster import DagsterInstance
    from dagster._core.storage.dagster_run import DagsterRun

MODULE = "orchestration.definitions"
LOCATION = "datenwerk"  # [tool.dagster] code_location_name: what `make dev` loads
REPOSITORY = "__repository__"  # the repository name of a Definitions object
JOB = "nightly_refresh"
TAG_PID, TAG_HOST = "datenwerk/pid", "datenwerk/host"
RUN_ENV = "DATENWERK_RUN_ID"  # set for the worker and everything it starts (dbt): leftovers
GRACE_SECONDS = 10.0  # after SIGTERM, how long the worker may take before it is killed
PR_SET_PDEATHSIG = 1
WAIT_REPORT_SECONDS = 30.0  # while waiting for another run: how often to say so


class RunInProgress(Exception):
    """Another `datenwerk run` holds the run lock."""


@dataclass
class Outcome:
    run_id: str
    success: bool
    interrupted: str | None  # the signal's name, when stopped by one
    message: str  # why it failed, when it did


def lock_path() -> Path:
    return paths.warehouse_dir() / ".run.lock"


class Patience:
    """Waiting for another run for up to ``seconds``: says what it waits for at once and then
    every :data:`WAIT_REPORT_SECONDS`; once the time is up, :class:`RunInProgress`."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.started = time.monotonic()
        self._reported: float | None = None
        self.waited = False

    def wait(self, in_progress: str, advice: str) -> None:
        """One round of waiting for what ``in_progress`` names (or give up, with ``advice``)."""
        now = time.monotonic()
        waited = now - self.started
        if waited >= self.seconds:
            raise RunInProgress(f"{in_progress}; {advice}" + (
                f" (waited {waited:.0f} s)" if self.seconds else ""))
        if self._reported is None or now - self._reported >= WAIT_REPORT_SECONDS:
            print(f"Waiting: {in_progress}; waited {waited:.0f} s of at most "
                  f"{self.seconds:.0f} s.", flush=True)
            self._reported = now
        self.waited = True
        time.sleep(min(1.0, self.seconds - waited))

    def done(self, what: str) -> None:
        if self.waited:
            print(f"{what} after {time.monotonic() - self.started:.0f} s of waiting; starting.",
                  flush=True)
            self.waited = False


def _holder(fh: Any) -> dict[str, Any]:
    fh.seek(0)
    try:
        holder: dict[str, Any] = json.loads(fh.read() or "{}")
    except json.JSONDecodeError:
        holder = {}
    return holder


@contextmanager
def run_lock(patience: Patience | None = None) -> Iterator[Any]:
    """Hold the one-run-at-a-time lock; if another has it, wait as ``patience`` allows (not at
    all by default), then fail naming the holder.

    flock: the kernel releases it when the holder dies, however it dies."""
    patience = patience or Patience(0)
    path = lock_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fh = path.open("a+", encoding="utf-8")
    try:
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = _holder(fh)
                patience.wait(
                    f"another run is in progress (run {holder.get('run_id', '?')}, since "
                    f"{holder.get('since', '?')}, pid {holder.get('pid', '?')} on "
                    f"{holder.get('host', '?')})",
                    f"wait for it to finish, or stop it with kill {holder.get('pid', 'PID')}")
        patience.done("The other run has finished")
        yield fh
    finally:
        fh.close()


@contextmanager
def between_runs(what: str) -> Iterator[None]:
    """Hold the run lock while ``what`` (a rollback, a key rotation) changes what runs read and
    write; :class:`RunInProgress` at once if a run is in progress, from the CLI, the UI or a
    schedule. Needs DAGSTER_HOME (``cli.prepare_dagster_home``)."""
    from dagster import DagsterInstance

    with run_lock() as lock:
        _note_holder(lock, what)
        with DagsterInstance.get() as instance:
            others = blocking_runs(instance)
        if others:
            raise RunInProgress(
                f"another run is in progress (run {others[0].run_id}, started from the Dagster "
                "UI or a schedule); wait for it to finish")
        yield


def _note_holder(fh: Any, run_id: str) -> None:
    fh.seek(0)
    fh.truncate()
    fh.write(json.dumps({"run_id": run_id, "pid": os.getpid(), "host": socket.gethostname(),
                         "since": datetime.now(UTC).isoformat(timespec="seconds")}))
    fh.flush()


def processes_with_environment(variable: str, value: str) -> list[int]:
    """Processes other than this one whose environment sets ``variable`` to ``value`` (those
    this user may read; a zombie has no environment left)."""
    marker = f"{variable}={value}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if marker in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


def children(state: str | None = None, parent: int | None = None) -> list[int]:
    """The children of process ``parent`` (default: this one), those in ``state`` (a letter of
    /proc's) when given."""
    parent = os.getpid() if parent is None else parent
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            current, ppid = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:2]
        except (OSError, ValueError):
            continue
        if int(ppid) == parent and state in (None, current):
            found.append(int(entry.name))
    return found


def zombie_children() -> list[int]:
    """This process's children that have ended and were never waited for (zombies: each holds
    its process table entry until its parent reads its exit status)."""
    return children("Z")


def leftover_processes(run_id: str) -> list[int]:
    """Processes still running for ``run_id`` that `datenwerk run` started (a worker or dbt whose
    parent was killed), recognised by the run id in their environment."""
    return [pid for pid in processes_with_environment(RUN_ENV, run_id) if _alive(pid)]


def worker_alive(instance: DagsterInstance, run_id: str) -> bool:
    """Whether the run worker of a started run still lives: the process that reported the run's
    start (the run worker itself, however it was launched), or one `datenwerk run` started."""
    from dagster import DagsterEventType

    started = instance.get_records_for_run(
        run_id, of_type=DagsterEventType.RUN_START, limit=1).records
    event = started[0].event_log_entry.dagster_event if started else None
    if event is not None and event.pid is not None and _alive(event.pid):
        return True
    return bool(leftover_processes(run_id))


def stop_child(process: subprocess.Popen[Any], signum: int, grace_seconds: float) -> None:
    """End a child process and reap it, however this is left: ``signum`` first (its chance to
    stop cleanly), SIGKILL after ``grace_seconds``, and always a wait, also when the wait is
    interrupted. A child never waited for stays a zombie in this process for as long as it lives
    (a run worker, the webserver); one still running goes on without anyone reading it."""
    if process.poll() is not None:
        return
    try:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signum)
        process.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        pass
    finally:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            process.wait()


def _kill(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
        time.sleep(0.1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    try:  # a zombie is dead: it only waits for its parent to read its exit status
        return stat.read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False


def end_run(instance: DagsterInstance, run_id: str, message: str) -> bool:
    """Mark a run that is not finished as failed (the failure alert reports it) and free its
    pool slots. False if it had finished already."""
    from dagster._core.storage.dagster_run import FINISHED_STATUSES

    run = instance.get_run_by_id(run_id)
    if run is None or run.status in FINISHED_STATUSES:
        return False
    instance.report_run_failed(run, message=message)
    instance.event_log_storage.free_concurrency_slots_for_run(run_id)
    return True


def recover_dead_runs(instance: DagsterInstance) -> list[DagsterRun]:
    """Runs of `datenwerk run` on this host still marked in progress, found while we hold the
    run lock: their process is gone. Stop what they left running, mark them failed, free their
    pool slots."""
    from dagster import DagsterRunStatus, RunsFilter

    unfinished = [DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING,
                  DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]
    host = socket.gethostname()
    recovered = []
    for run in instance.get_runs(RunsFilter(statuses=unfinished, tags={TAG_HOST: host})):
        _kill(leftover_processes(run.run_id))
        if end_run(instance, run.run_id, (
            f"The process of this run (pid {run.tags.get(TAG_PID)} on {host}) is gone: it was "
            "killed, ran out of memory or the machine stopped. Marked failed by the next "
            "`datenwerk run`; nothing of it was published."
        )):
            recovered.append(run)
    return recovered


def fail_dead_workers(instance: DagsterInstance, without_tag: bool = True) -> list[DagsterRun]:
    """Runs marked STARTED whose run worker is gone (killed, out of memory) hold the warehouse
    pool and the run queue for ever: mark them failed (the failure alert reports them) and free
    their slots. ``without_tag``: only runs not started by `datenwerk run` (those are checked
    under the run lock, see :func:`recover_dead_runs`)."""
    from dagster import DagsterRunStatus, RunsFilter

    dead = []
    for run in instance.get_runs(RunsFilter(statuses=[DagsterRunStatus.STARTED])):
        if (without_tag and TAG_PID in run.tags) or worker_alive(instance, run.run_id):
            continue
        if end_run(instance, run.run_id, "The run worker of this run is gone: it was killed or "
                   "ran out of memory. Marked failed by Datenwerk."):
            dead.append(run)
    return dead


def blocking_runs(instance: DagsterInstance) -> list[DagsterRun]:
    """Runs in progress that did not come from `datenwerk run` (the UI, the schedule): they
    hold the warehouse. Those whose worker is gone are marked failed first."""
    from dagster import DagsterRunStatus, RunsFilter

    for dead in fail_dead_workers(instance):
        print(f"Run {dead.run_id} (from the UI or a schedule) had died without finishing: "
              "marked failed, its pool slot freed.", flush=True)
    running = instance.get_runs(RunsFilter(statuses=[DagsterRunStatus.STARTING,
                                                     DagsterRunStatus.STARTED]))
    return [r for r in running if TAG_PID not in r.tags]


def submit(instance: DagsterInstance, run_id: str, run_config: Mapping[str, Any],
           tags: Mapping[str, str]) -> tuple[DagsterRun, Any]:
    """Create the run in the instance as the code location's run of the job (with its remote
    origin: the UI lists it under the job and the failure sensor sees it)."""
    from dagster._core.definitions.reconstruct import ReconstructableRepository
    from dagster._core.execution.api import create_execution_plan
    from dagster._core.remote_origin import (
        ManagedGrpcPythonEnvCodeLocationOrigin,
        RemoteJobOrigin,
        RemoteRepositoryOrigin,
    )
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

    workdir = str(paths.REPO_ROOT)
    recon_job = ReconstructableRepository.for_module(
        MODULE, "defs", working_directory=workdir).get_reconstructable_job(JOB)
    job_def = recon_job.get_definition()
    origin = RemoteJobOrigin(
        RemoteRepositoryOrigin(
            ManagedGrpcPythonEnvCodeLocationOrigin(
                LoadableTargetOrigin(executable_path=sys.executable, module_name=MODULE,
                                     working_directory=workdir),
                location_name=LOCATION,
            ),
            REPOSITORY,
        ),
        JOB,
    )
    run = instance.create_run_for_job(
        job_def,
        execution_plan=create_execution_plan(job_def, run_config=run_config),
        run_id=run_id,
        run_config=run_config,
        tags=tags,
        remote_job_origin=origin,
        job_code_origin=recon_job.get_python_origin(),
    )
    return run, recon_job


# Started before the worker: asks the kernel to kill it when `datenwerk run` dies (kill -9, out
# of memory), then becomes the worker (the request survives exec).
DIE_WITH_PARENT = (
    "import ctypes, os, signal, sys\n"
    f"ctypes.CDLL(None).prctl({PR_SET_PDEATHSIG}, signal.SIGKILL)\n"
    "if os.getppid() != int(sys.argv[1]): sys.exit(70)\n"
    "os.execv(sys.argv[2], sys.argv[2:])\n"
)


def start_worker(instance: DagsterInstance, run_id: str, run_config: Mapping[str, Any],
                 tags: Mapping[str, str], log: Any) -> subprocess.Popen[bytes]:
    """The run worker for ``run_id`` (:func:`work`), in its own process group (a terminal's
    Ctrl-C reaches only `datenwerk run`, which stops the group)."""
    from dagster._serdes import serialize_value

    command = [sys.executable, "-c", WORKER, serialize_value(instance.get_ref()), run_id,
               json.dumps(run_config), json.dumps(dict(tags))]
    return subprocess.Popen(
        [sys.executable, "-c", DIE_WITH_PARENT, str(os.getpid()), *command],
        cwd=str(paths.REPO_ROOT), env={**os.environ, RUN_ENV: run_id},
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )


WORKER = ("import sys\nfrom orchestration.runs import work\n"
          "sys.exit(work(*sys.argv[1:]))\n")


def work(instance_ref: str, run_id: str, run_config: str, tags: str) -> int:
    """The run worker: creates the run (:func:`submit`) and executes it in this process, as
    ``dagster api execute_run`` does (an interrupt is raised where Dagster can end the run
    cleanly); the exit code is not 0 when the run failed."""
    from dagster import DagsterInstance
    from dagster._cli.api import _execute_run_command_body
    from dagster._core.instance.ref import InstanceRef
    from dagster._serdes import deserialize_value
    from dagster._utils.interrupts import capture_interrupts

    with capture_interrupts(), DagsterInstance.from_ref(
            deserialize_value(instance_ref, InstanceRef)) as instance:
        submit(instance, run_id, json.loads(run_config), json.loads(tags))
        settle_definitions()
        return _execute_run_command_body(run_id, instance, _after_step,
                                         set_exit_code_on_failure=True)


def _after_step(event: Any) -> None:
    """Each event of the run as the worker executes it: after a step, what it freed goes back to
    the system (:func:`release_memory`)."""
    if event.is_step_success or event.is_step_failure:
        release_memory()


def settle_definitions() -> None:
    """Exempt what is alive now from Python's cycle collector (``gc.freeze``), after collecting
    what is not. Called once the definitions are loaded (dagster, dbt, dlt and the assets: about
    half a million objects, alive until the worker ends) and after each step (the libraries it
    imported, GX's for one). A full collection, after every step and whenever the collector's own
    thresholds call for one, then looks only at what was created since: 0.3 s less per
    collection, about 7 s of CPU in a run of 25 steps. Frozen objects are still freed as usual
    when their last reference goes; only a reference cycle among objects that were alive at a
    step's end (its context, which Dagster drops right after) stays until the worker ends."""
    import gc

    gc.collect()
    gc.freeze()


def release_memory() -> None:
    """Give freed memory back to the system. pyarrow's allocator (mimalloc), which DuckDB's and
    pandas' conversions use, keeps what a step freed for later use: at demo scale 100 the run
    worker then carried ~120 MB more from its batch checks into the dbt step, beside dbt's
    process. Objects in reference cycles (GX's) are collected first (:func:`settle_definitions`),
    or their buffers would still be held."""
    import pyarrow

    settle_definitions()
    pyarrow.default_memory_pool().release_unused()


@contextmanager
def stop_on_signals(worker: subprocess.Popen[bytes], caught: list[str]) -> Iterator[None]:
    """SIGINT/SIGTERM: stop the worker's process group (SIGTERM, then SIGKILL after a grace
    period, see :func:`wait`) and remember the signal."""
    def handler(signum: int, frame: object) -> None:
        caught.append(signal.Signals(signum).name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGTERM)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def wait(worker: subprocess.Popen[bytes], caught: list[str]) -> int:
    """The worker's exit code; after a signal it gets :data:`GRACE_SECONDS`, then its whole
    process group (dbt included) is killed."""
    deadline: float | None = None
    while True:
        try:
            return worker.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            pass
        if caught and deadline is None:
            deadline = time.monotonic() + GRACE_SECONDS
        if deadline is not None and time.monotonic() > deadline:
            try:
                os.killpg(worker.pid, signal.SIGKILL)
            except OSError as exc:
                if exc.errno != errno.ESRCH:
                    raise


def execute(instance: DagsterInstance, run_id: str, run_config: Mapping[str, Any],
            log_file: Path, on_started: Any = None, wait_seconds: float = 0.0) -> Outcome:
    """Run the job once under the run lock (see the module's docstring); ``on_started(run_id)``
    is called once the worker runs (to follow progress). Another run in progress is waited for
    up to ``wait_seconds`` (saying so), then refused."""
    from dagster import DagsterRunStatus

    patience = Patience(wait_seconds)
    with run_lock(patience) as lock:
        _note_holder(lock, run_id)
        for dead in recover_dead_runs(instance):
            print(f"Run {dead.run_id} (pid {dead.tags.get(TAG_PID)}) had died without "
                  "finishing: marked failed, its pool slot freed.", flush=True)
        while others := blocking_runs(instance):
            record = instance.get_run_record_by_id(others[0].run_id)
            since = record.start_time if record is not None else None
            started = datetime.fromtimestamp(since, UTC).isoformat(timespec="seconds") \
                if since else "?"
            patience.wait(
                f"another run is in progress (run {others[0].run_id}, since {started}, started "
                "from the Dagster UI or a schedule)",
                "wait for it, or terminate it in the UI if its process is gone")
        patience.done("The other run has finished")
        tags = {TAG_PID: str(os.getpid()), TAG_HOST: socket.gethostname(),
                "datenwerk/trigger": "cli"}
        caught: list[str] = []
        with log_file.open("ab") as log:
            worker = start_worker(instance, run_id, run_config, tags, log)
            with stop_on_signals(worker, caught):
                follow = on_started(run_id) if on_started else None
                try:
                    code = wait(worker, caught)
                finally:
                    if follow is not None:
                        follow.__exit__(None, None, None)
        _kill(leftover_processes(run_id))
        if instance.get_run_by_id(run_id) is None:
            return Outcome(run_id, False, caught[0] if caught else None, (
                f"the run worker ended with exit code {code} before it created the run; its "
                f"output: {log_file}\n{_tail(log_file)}"))
        if caught:
            end_run(instance, run_id, f"interrupted by {caught[0]} before it finished")
            final = instance.get_run_by_id(run_id)
            if final is None or final.status != DagsterRunStatus.SUCCESS:
                return Outcome(run_id, False, caught[0], "interrupted")
        if end_run(instance, run_id, f"the run worker ended with exit code {code} "
                                     "before the run finished (killed, or out of memory?)"):
            return Outcome(run_id, False, None, f"the run worker died (exit code {code})")
        final = instance.get_run_by_id(run_id)
        success = final is not None and final.status == DagsterRunStatus.SUCCESS
        return Outcome(run_id, success, None, "" if success else "failed")


def _tail(log_file: Path, lines: int = 20) -> str:
    """The last lines of a worker's output (why it ended, when it could not create the run)."""
    try:
        text = log_file.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
