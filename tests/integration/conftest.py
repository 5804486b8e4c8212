"""Installations shared by several test files.

A second nightly run: the idempotency test and the read-only reader test assert different facts
of the same run (nothing new delivered; a reader holds the published file read-only all along),
so the pipeline runs once for both. An installation of three organisations outside a federation:
the source-mix tests check what each organisation delivered, the disclosure tests what its
reports and open data publish together."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from orchestration.cli import FULL_REFRESH_CONFIG
from tests.conftest import SMALL_SCALE, PipelineRun, copy_home, run_nightly

SECOND_SEED = 11  # another demo draw: other bytes, other figures

# A separate process with the published file open: it reports (generation, cases) when it
# starts, again after the refresh (on its first line of stdin), and exits on the second.
READER = """
import json, sys
import duckdb
con = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == "read_only")
def state():
    generation = con.sql("select any_value(generation) from _publication").fetchall()[0][0]
    cases = con.sql("select count(*) from fct_cases").fetchall()[0][0]
    return [generation, cases]
print(json.dumps(state()), flush=True)
sys.stdin.readline()  # the refresh happens here
print(json.dumps(state()), flush=True)
sys.stdin.readline()
"""


@dataclass
class ReaderRun:
    """A nightly run on ``home`` while a reader (``mode``) held the published file open."""

    home: Path
    mode: str
    result: object  # dagster ExecuteInProcessResult
    cases_in_build: int  # marts.fct_cases in build.duckdb before the run
    reader_before: list  # [generation, cases] the reader saw before the run
    reader_after: list  # ... and on the same connection after it
    new_connection: list  # [generation, cases] a new connection sees after the run
    reader_exit: int
    reader_stderr: str


def run_with_reader(source: PipelineRun, name: str, mode: str) -> ReaderRun:
    home = copy_home(source.home, name)
    published = home / "published" / "marts.duckdb"
    with duckdb.connect(str(home / "warehouse" / "build.duckdb"), read_only=True) as con:
        cases_in_build = con.sql("select count(*) from marts.fct_cases").fetchall()[0][0]
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(published), mode],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert reader.stdout is not None and reader.stdin is not None
        before = json.loads(reader.stdout.readline())

        # The reader holds the file all along. Nothing new is delivered: a full refresh (run
        # config) rebuilds and publishes anyway, where a plain run would find nothing changed.
        result = run_nightly(home, run_config=FULL_REFRESH_CONFIG)

        reader.stdin.write("\n")
        reader.stdin.flush()
        after = json.loads(reader.stdout.readline())
        with duckdb.connect(str(published), read_only=True) as con:
            new = [con.sql("select any_value(generation) from _publication").fetchall()[0][0],
                   con.sql("select count(*) from fct_cases").fetchall()[0][0]]
        reader.stdin.write("\n")
        reader.stdin.flush()
        code = reader.wait(timeout=30)
        stderr = reader.stderr.read() if reader.stderr else ""
    finally:
        if reader.poll() is None:
            reader.kill()
    return ReaderRun(home, mode, result, cases_in_build, before, after, new, code, stderr)


@pytest.fixture(scope="session")
def second_run(small_first_run: PipelineRun) -> ReaderRun:
    """The nightly job again on a copy of the small first run's home (nothing new delivered),
    with a read-only reader holding the published file through the run."""
    return run_with_reader(small_first_run, "second-run", "read_only")


def add_client_born_1901(home: Path) -> None:
    """A later delivery with one client born in 1901: a valid date the loader accepts, but no
    client of a counselling centre is 125 years old (the batch suite's birth-year range)."""
    folder = home / "inbox" / "case_management" / "swm" / "SB"
    header = (folder / "klienten.csv").read_bytes().decode("cp1252").split("\r\n")[0]
    row = "K-999991;Erika;Beispiel;01.01.1901;weiblich;Hauptstraße 1;04249;Musterstadt;;"
    (folder / "klienten_nachtrag.csv").write_bytes(f"{header}\r\n{row}\r\n".encode("cp1252"))


@dataclass
class BadBatchNight:
    """A nightly run whose delivery failed its batch suite (``add_client_born_1901``)."""

    home: Path
    result: object  # dagster ExecuteInProcessResult
    published_before: bytes  # the published marts.duckdb as the run found it


@pytest.fixture(scope="session")
def night_of_a_bad_batch(small_first_run: PipelineRun) -> BadBatchNight:
    """The night after the small first run with a client born in 1901 delivered, run once: the
    quality-gate test reads what it left, the held-loads test carries on from a copy of it."""
    home = copy_home(small_first_run.home, "bad-batch")
    before = (home / "published" / "marts.duckdb").read_bytes()
    add_client_born_1901(home)
    return BadBatchNight(home, run_nightly(home), before)


def _reference_for(source: Path, target: Path, org: str, departments: set[str] | None) -> None:
    """The demo's reference tables, rewritten for another organisation (only ``departments``)."""
    target.mkdir(parents=True, exist_ok=True)
    for name in ("departments.csv", "programs.csv", "cost_centres.csv", "accounts.csv"):
        with (source / name).open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            rows = [{**r, "organisation_code": org} for r in reader
                    if departments is None or r.get("department_code", "") in (*departments, "")]
        with (target / name).open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(reader.fieldnames or ()))
            writer.writeheader()
            writer.writerows(rows)


@pytest.fixture(scope="session")
def three_organisations(small_demo_home: Path, session_root: Path) -> Iterator[PipelineRun]:
    """The demo organisation, ``beratung`` (case management of one department only) and
    ``kasse`` (one year of accounting only), drawn from a second demo: one installation,
    not a federation, in which two organisations share the department code ``SB``."""
    from ingestion.demo.generator import generate

    second = session_root / "second-demo"
    if not second.exists():
        generate(second / "inbox", second / "demo_truth", seed=SECOND_SEED, scale=SMALL_SCALE)
    home = copy_home(small_demo_home, "three-organisations")
    inbox = home / "inbox"
    shutil.copytree(second / "inbox" / "case_management" / "swm" / "SB",
                    inbox / "case_management" / "beratung" / "SB")
    (inbox / "accounting" / "kasse").mkdir(parents=True)
    shutil.copy(second / "inbox" / "accounting" / "swm" / "EXTF_Buchungsstapel_2024.csv",
                inbox / "accounting" / "kasse")
    reference = second / "inbox" / "reference" / "swm"
    _reference_for(reference, inbox / "reference" / "beratung", "beratung", {"SB"})
    _reference_for(reference, inbox / "reference" / "kasse", "kasse", None)
    result = run_nightly(home)
    assert result.success, [  # type: ignore[attr-defined]
        (e.step_key, str(e.step_failure_data.error)[-1500:])
        for e in result.all_events if e.is_step_failure]  # type: ignore[attr-defined]
    yield PipelineRun(home, result)
