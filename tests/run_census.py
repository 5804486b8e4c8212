"""How many pipeline runs a test session makes, and what they cost: pipeline runs are most of
the suite's time, so the count is the figure to keep down.

Counted are Dagster runs executed in the test process (``execute_in_process``, which
``materialize`` uses too) and the runs of `datenwerk run` subprocesses and of the UI's run
workers, found in the run storage of every home the session made (deduplicated by run id, since
tests copy homes with their storage). The summary ends the test report; with
``DATENWERK_RUN_CENSUS=path`` every run is also written there as JSON lines. Under pytest-xdist
each worker counts its own runs and hands them to the controller, which sums them up.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pytest


@dataclass
class RunRecord:
    run_id: str
    job: str
    seconds: float
    where: str  # "in-process" or "subprocess"
    test: str  # the test (or the fixture set up for it) that started the run, if in process


RUNS: dict[str, RunRecord] = {}
CURRENT_TEST = ["(collection)"]


def _record_in_process_runs() -> None:
    from dagster import JobDefinition

    original = JobDefinition.execute_in_process
    if getattr(original, "_census", False):
        return

    def execute_in_process(self: JobDefinition, *args: Any, **kwargs: Any) -> Any:
        started = time.monotonic()
        result = original(self, *args, **kwargs)
        RUNS[result.run_id] = RunRecord(result.run_id, self.name, time.monotonic() - started,
                                        "in-process", CURRENT_TEST[0])
        return result

    execute_in_process._census = True  # type: ignore[attr-defined]
    JobDefinition.execute_in_process = execute_in_process  # type: ignore[method-assign]


def record_stored_runs(*roots: Path) -> None:
    """Runs in the run storage (``history/runs.db``) below ``roots`` not counted in process."""
    for root in roots:
        for db in root.rglob("runs.db") if root.exists() else ():
            with contextlib.suppress(sqlite3.Error), contextlib.closing(
                    sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as con:
                rows = con.execute(
                    "select run_id, pipeline_name, start_time, end_time from runs").fetchall()
            for run_id, job, start, end in rows:
                if run_id not in RUNS:
                    seconds = (end - start) if start and end else 0.0
                    RUNS[run_id] = RunRecord(run_id, job, seconds, "subprocess", "")


def pytest_configure(config: pytest.Config) -> None:
    _record_in_process_runs()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    CURRENT_TEST[0] = item.nodeid


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not RUNS:
        return
    runs = sorted(RUNS.values(), key=lambda r: -r.seconds)
    in_process = [r for r in runs if r.where == "in-process"]
    jobs: dict[str, int] = {}
    for run in runs:
        jobs[run.job] = jobs.get(run.job, 0) + 1
    terminalreporter.write_sep("=", "pipeline runs")
    terminalreporter.write_line(
        f"{len(runs)} Dagster runs ({len(in_process)} in process, "
        f"{len(runs) - len(in_process)} in subprocesses), {sum(r.seconds for r in runs):.0f} s "
        f"in all; by job: {', '.join(f'{job} {n}' for job, n in sorted(jobs.items()))}")
    for run in runs[:15]:
        terminalreporter.write_line(f"{run.seconds:7.1f}s {run.job:<24} {run.where:<10} {run.test}")
    if path := os.environ.get("DATENWERK_RUN_CENSUS"):
        with open(path, "w") as out:
            for run in runs:
                out.write(json.dumps(asdict(run)) + "\n")


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """In the xdist controller: the runs a worker counted (see ``run_census``)."""
    for run in getattr(node, "workeroutput", {}).get("census", []):
        RUNS.setdefault(run["run_id"], RunRecord(**run))


@pytest.fixture(scope="session", autouse=True)
def run_census(session_root: Path, tmp_path_factory: pytest.TempPathFactory,
               pytestconfig: pytest.Config) -> Iterator[None]:
    """Counts the runs in the session's homes before they are removed (and, in an xdist
    worker, hands them to the controller)."""
    yield
    record_stored_runs(session_root, tmp_path_factory.getbasetemp())
    if (output := getattr(pytestconfig, "workeroutput", None)) is not None:
        output["census"] = [asdict(run) for run in RUNS.values()]
