"""Shared fixtures: a complete Datenwerk installation in a temporary DATENWERK_HOME.

The session fixture generates demo data at a small scale and runs the real `nightly_refresh`
job in process (real dlt pipelines, real dbt, real DuckDB files, real GX). Tests that need to
change things work on a copy of that home.

Two installations, each loaded once per session:
- ``first_run`` (SCALE, about 200 clients): the golden and truth tests (marts against the
  generator's ground truth, privacy, open data) need every program with closed cases in every year.
- ``small_first_run`` (SMALL_SCALE, about 40 clients): the fault-injection and gate tests, which
  need *a* loaded installation to break and run again, not a statistically rich one.

A run costs some 40 s whatever the scale (dbt, the checks, the reports), so a night that several
tests examine runs once, as a session fixture, and a test that goes on from it works on a copy
of its home (``copy_home``: copying DuckDB files takes a moment). Only the first run prints the
impact reports' PDFs (see ``pytest_runtestloop``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, event

from tests.xdist_groups import xdist_worker

pytest_plugins = ["pytester", "tests.environment", "tests.run_census", "tests.xdist_groups"]

SCALE = 0.1  # about 200 clients: every program has closed cases in every year, in seconds
SMALL_SCALE = 0.02  # about 40 clients, every department and every file type, a dozen cases each
SEED = 7

# Set before Datenwerk modules are imported: loading the definitions touches this home.
_SESSION_ROOT = (
    Path(os.environ.get("DATENWERK_TEST_ROOT", "/tmp")) / f"datenwerk-test-{os.getpid()}"
)
os.environ["DATENWERK_HOME"] = str(_SESSION_ROOT / "definitions")
os.environ.pop("DATENWERK_PSEUDONYM_KEY", None)
# The tests install the demo organisation: its stewards own the assets (as after `demo-data`).
os.environ["DATENWERK_STEWARDS_FILE"] = str(Path(__file__).parents[1] / "ingestion" / "demo"
                                            / "stewards.yml")
os.environ.pop("DATENWERK_KEY_FILE", None)
CHROMIUM_FOR_REPORTS = os.environ.get("DATENWERK_CHROMIUM")  # None: Datenwerk's default


@event.listens_for(Engine, "connect")
def _storage_without_fsync(connection: object, _record: object) -> None:
    """Runs in this process keep their Dagster storage (SQLite, in the home) without waiting for
    the disk: Dagster opens a connection per event and, at every commit and close, waits until
    the disk has the page (some 1,300 waits in a run, 1-10 ms each, more on a busy disk). A
    killed process loses nothing either way; only a power cut could, and a test's storage need
    not survive one. ``datenwerk run`` keeps SQLite's default."""
    if isinstance(connection, sqlite3.Connection):
        connection.execute("PRAGMA synchronous=OFF")


@dataclass
class PipelineRun:
    home: Path
    result: object  # dagster ExecuteInProcessResult


def use_home(home: Path) -> None:
    os.environ["DATENWERK_HOME"] = str(home)


# Captured stdout/stderr of every step (a `tail -F` process per step: some 10 s of a run).
NO_COMPUTE_LOGS = {"compute_logs": {"module": "dagster.core.storage.noop_compute_log_manager",
                                    "class": "NoOpComputeLogManager"}}


def run_nightly(  # type: ignore[no-untyped-def]
    home: Path, asset_selection: list | None = None, compute_logs: bool = False,
    run_config: dict | None = None,
):
    """Run the real nightly_refresh job on ``home`` (Dagster storage in ``home/dagster``):
    all of it, or only ``asset_selection`` (asset keys; their checks run with them), with
    ``run_config`` (such as ``orchestration.cli.FULL_REFRESH_CONFIG``).

    ``compute_logs``: capture each step's output in the storage too, as `datenwerk run` does
    (the privacy tests search it; other tests do not read it)."""
    from dagster import DagsterInstance

    from orchestration.definitions import defs

    use_home(home)
    # A persistent instance under the home, as `datenwerk run` uses: its runs and events stay
    # for the next run on the home (and its storage is an artefact the privacy tests search).
    (home / "dagster").mkdir(parents=True, exist_ok=True)
    overrides = None if compute_logs else NO_COMPUTE_LOGS
    with DagsterInstance.local_temp(tempdir=str(home / "dagster"), overrides=overrides) as instance:
        return defs.resolve_job_def("nightly_refresh").execute_in_process(
            instance=instance, raise_on_error=False, asset_selection=asset_selection,
            run_config=run_config,
        )


@pytest.fixture(scope="session")
def session_root() -> Iterator[Path]:
    """The session's temporary folder, removed at the end of the session."""
    yield _SESSION_ROOT
    shutil.rmtree(_SESSION_ROOT, ignore_errors=True)


def generated_home(home: Path, scale: float) -> Path:
    """A home with demo exports (and their ground truth) in the inbox, not yet loaded."""
    from ingestion.demo.generator import generate
    from ingestion.pseudonymise import ensure_key_file

    use_home(home)
    generate(home / "inbox", home / "demo_truth", seed=SEED, scale=scale)
    ensure_key_file()
    return home


@pytest.fixture(scope="session")
def demo_home(session_root: Path) -> Path:
    """The demo at SCALE, not yet loaded."""
    return generated_home(session_root / "pristine", SCALE)


@pytest.fixture(scope="session")
def first_run(demo_home: Path) -> PipelineRun:
    """The first full pipeline run on a copy of the demo home."""
    home = _SESSION_ROOT / "home"
    shutil.copytree(demo_home, home)
    from orchestration.runs import children, zombie_children

    session_chromium = os.environ.pop("DATENWERK_CHROMIUM", None)
    if CHROMIUM_FOR_REPORTS is not None:  # this run prints its PDFs
        os.environ["DATENWERK_CHROMIUM"] = CHROMIUM_FOR_REPORTS
    before = set(children())
    try:
        result = run_nightly(home, compute_logs=True)
    finally:
        if session_chromium is not None:
            os.environ["DATENWERK_CHROMIUM"] = session_chromium
    # with its step output captured (tail processes) and its PDFs printed (Chromium)
    assert set(zombie_children()) - before == set()
    return PipelineRun(home, result)


@pytest.fixture(scope="session")
def small_demo_home(session_root: Path) -> Path:
    """Like ``demo_home`` at SMALL_SCALE: for tests that break an installation and run again."""
    return generated_home(session_root / "small-pristine", SMALL_SCALE)


@pytest.fixture(scope="session")
def small_first_run(small_demo_home: Path) -> PipelineRun:
    """The first full pipeline run on a copy of the small demo home (it must succeed: tests
    compare what a broken run leaves behind with what this run published)."""
    from orchestration.runs import children, zombie_children

    home = _SESSION_ROOT / "small-home"
    shutil.copytree(small_demo_home, home)
    before = set(children())  # earlier tests' processes, ended or not, are not this run's
    result = run_nightly(home)
    assert result.success, [  # type: ignore[attr-defined]
        (e.step_key, str(e.step_failure_data.error)[-1500:])
        for e in result.all_events if e.is_step_failure]  # type: ignore[attr-defined]
    # A night waits for every process it starts (dbt, dagster's log tailers), as the run
    # worker's must: the Dagster processes that run nights live on.
    assert set(zombie_children()) - before == set()
    return PipelineRun(home, result)


@dataclass
class BlockedNight:
    """A run of the money's path whose mart failed its check (a credit of EUR 10 million)."""

    home: Path
    result: object  # dagster ExecuteInProcessResult
    marts_before: bytes  # the published marts.duckdb as the run found it
    published_before: dict[str, str]  # the published and exports folders as the run found them
    exports_before: dict[str, str]


@pytest.fixture(scope="session")
def night_blocked_by_a_huge_credit(small_first_run: PipelineRun) -> BlockedNight:
    """On a copy of the small first run's home: a corrected DATEV file with a huge credit, and
    a run of the accounting loads, the models from the bookings to the marts that take money
    from them, their checks, publication and the exports. The publish-gate test reads what it
    left; the gate-in-the-data test carries on from a copy of it."""
    from dagster import AssetKey

    from orchestration.definitions import defs
    from tests.integration.test_publish_gate import corrected_delivery_with_huge_credit, snapshot

    home = copy_home(small_first_run.home, "broken-mart")
    marts_before = (home / "published" / "marts.duckdb").read_bytes()
    published_before, exports_before = snapshot(home / "published"), snapshot(home / "exports")
    corrected_delivery_with_huge_credit(home)
    raw_accounting = [k for k in defs.resolve_asset_graph().get_all_asset_keys()
                      if k.path[0] == "raw_accounting"]
    result = run_nightly(home, asset_selection=[*raw_accounting, *(AssetKey([name]) for name in (
        "stg_accounting__bookings", "int_accounts_categorised", "int_bookings_categorised",
        "mart_finance_by_cost_centre_month", "mart_impact", "published_marts",
        "department_exports"))])
    return BlockedNight(home, result, marts_before, published_before, exports_before)


def stored_id(home: Path, number: str) -> str:
    """How a source-system number (client, case, contact, ...) is stored in ``home``: its keyed
    pseudonym under that home's key."""
    from ingestion.pseudonymise import pseudonym

    return pseudonym(number, (home / "secrets" / "pseudonym.key").read_text().strip().encode())


def in_staging(department: str, stored: str) -> str:
    """How the stored pseudonym of a number delivered in ``department``'s folder is keyed from
    staging on (``transform/macros/ids.sql``): numbers are unique per delivering folder, so the
    MD5 of the folder and the pseudonym."""
    return hashlib.md5(f"{department}|{stored}".encode()).hexdigest()


def staged_id(home: Path, department: str, number: str) -> str:
    """:func:`in_staging` of a number delivered in ``home`` (the home's key)."""
    return in_staging(department, stored_id(home, number))


def write_datev_bookings(
    inbox: Path, organisation: str, bookings: dict[int, list[tuple[str, str, str, str]]]
) -> None:
    """One DATEV EXTF Buchungsstapel per year into ``inbox``: ``bookings`` maps a year to
    (amount with decimal comma, Konto, Belegdatum DDMM, KOST1) per booking line."""
    from ingestion.demo.generator import _datev_header, _datev_headings

    folder = inbox / "accounting" / organisation
    folder.mkdir(parents=True)
    headings = _datev_headings()
    kost = headings.index("KOST1 - Kostenstelle")
    for year, lines_of_year in bookings.items():
        lines = [_datev_header(year), ";".join(headings)]
        for amount, account, belegdatum, cost_centre in lines_of_year:
            fields = [""] * len(headings)
            fields[0], fields[1], fields[2] = amount, '"S"', '"EUR"'
            fields[6], fields[7], fields[9] = account, "1800", belegdatum
            fields[10], fields[13] = f'"RE{year}-{belegdatum}"', '"Gehälter"'
            fields[kost] = f'"{cost_centre}"'
            lines.append(";".join(fields))
        (folder / f"EXTF_Buchungsstapel_{year}.csv").write_bytes(
            ("\r\n".join(lines) + "\r\n").encode("cp1252"))


def copy_home(src: Path, name: str) -> Path:
    """A separate installation copied from ``src`` (for tests that change things)."""
    dst = _SESSION_ROOT / name
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst)
    return dst


@pytest.hookimpl(trylast=True)  # after -m and -k have deselected
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    from tests.browser.conftest import ui_tests_last

    if not xdist_worker():  # under xdist: tests/xdist_groups.py orders them
        ui_tests_last(items)


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> None:
    """Before the first test (not when only collecting).

    Runs print their impact reports as HTML only, as on a machine without Chromium: a PDF takes
    a Chromium process per report, some 10 s of every run. The first run prints them
    (``first_run``), and the impact-report tests read those; the benchmarks print them all.

    The UI servers some tests drive start now, in the background (in a plain session; under
    xdist a worker starts its server when it comes to their tests)."""
    from tests.browser.conftest import start_servers_early

    if session.config.option.collectonly:
        return
    if not any(item.get_closest_marker("bench") for item in session.items):
        os.environ["DATENWERK_CHROMIUM"] = str(_SESSION_ROOT / "no-chromium")
    if not xdist_worker():  # under xdist the other worker runs tests while the server starts
        start_servers_early(session.items)


def pytest_sessionfinish() -> None:
    from tests.browser.conftest import stop_servers

    stop_servers()


def load_and_build(home: Path, full_refresh: bool = False, tests: bool = True) -> Path:
    """Load ``home``'s inbox with the real dlt sources (reference, case management, accounting)
    and ``dbt build`` every model, contract and test on it, as a run does without Dagster
    (``full_refresh``: incremental models from every load, as a run after a key rotation or an
    erasure; not ``tests``: seeds and models without their tests, some 5 CPU s less); returns
    the build database. For tests whose figures are worked out by hand."""
    from ingestion import accounting, case_management, reference
    from ingestion.delivery import loaded_hashes
    from ingestion.pipelines import pipeline
    from ingestion.pseudonymise import ensure_key_file

    use_home(home)
    ensure_key_file()
    for module, source in ((reference, reference.reference),
                           (case_management, case_management.case_management),
                           (accounting, accounting.accounting)):
        skip = frozenset(loaded_hashes(module.DATASET))
        pipeline(module.DATASET).run(source(skip_hashes=skip))
    db = home / "warehouse" / "build.duckdb"
    result = subprocess.run(
        [str(Path(sys.executable).parent / "dbt"), "build",
         *([] if tests else ["--exclude-resource-type", "test", "unit_test"]),
         "--target-path", str(home / "dbt" / "target"), *(["--full-refresh"] * full_refresh)],
        cwd=Path(__file__).parents[1] / "transform",
        env={**os.environ, "DATENWERK_BUILD_DB": str(db)},
        capture_output=True, text=True, check=False,
    )
    # Every model, contract, data test and unit test passes on the hand-made delivery.
    assert result.returncode == 0, result.stdout[-4000:]
    return db
