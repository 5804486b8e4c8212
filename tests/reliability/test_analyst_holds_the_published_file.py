"""An analyst holds the published marts.duckdb open read-write (a DuckDB connection without
read_only, a notebook left open), and may even have changed it, while the pipeline works.

DuckDB gives such a connection the file alone: no other process can open it, not even to read.
The pipeline must never need it: open data is built from the kept generation file, and the
daytime freshness check reads that one too. Before, both opened marts.duckdb: "Materialize" of
open_data and every freshness_checks run failed on the lock (a false "stale" alert every two
hours of the working day), and open data would have been counted from the analyst's edits.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from dagster import AssetKey, DagsterInstance

from tests.conftest import PipelineRun, copy_home, run_nightly
from tests.integration.test_freshness_and_alerts import evaluations, run_job
from tests.integration.test_quality_gate import materialised

ANALYST = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])  # read-write: DuckDB's default
con.execute("delete from fct_cases")  # the analyst's own experiment, in the analysts' copy
con.execute("checkpoint")
print("holding", flush=True)
time.sleep(900)
"""


@pytest.fixture
def analyst_holding(small_first_run: PipelineRun) -> Iterator[Path]:
    """A copy of the small first run's home whose marts.duckdb a read-write analyst holds."""
    home = copy_home(small_first_run.home, "analyst-read-write")
    analyst = subprocess.Popen(
        [sys.executable, "-c", ANALYST, str(home / "published" / "marts.duckdb")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert analyst.stdout is not None and analyst.stdout.readline().strip() == "holding"
        with pytest.raises(duckdb.IOException, match="lock"):  # the file is the analyst's alone
            duckdb.connect(str(home / "published" / "marts.duckdb"), read_only=True)
        yield home
    finally:
        analyst.kill()
        analyst.wait(timeout=30)


def closed_cases(folder: Path) -> int:
    """Closed cases in the open data by end reason (a hidden cell '.' counts as 0)."""
    with (folder / "cases_by_end_reason.csv").open(encoding="utf-8") as f:
        return sum(int(row["cases"]) for row in csv.DictReader(f) if row["cases"].isdigit())


def test_open_data_and_freshness_do_not_need_the_analysts_file(analyst_holding: Path) -> None:
    home = analyst_holding
    before = closed_cases(home / "open_data")
    assert before > 0

    result = run_nightly(home, asset_selection=[AssetKey(["open_data"])])
    assert result.success, [str(e.step_failure_data.error)[-800:]  # type: ignore[attr-defined]
                            for e in result.all_events if e.is_step_failure]  # type: ignore[attr-defined]
    assert AssetKey(["open_data"]) in materialised(result)
    # Counted from the publication, not from the analyst's emptied copy.
    assert closed_cases(home / "open_data") == before

    fresh = run_job(home, DagsterInstance.ephemeral(), "freshness_checks")
    assert evaluations(fresh)["publication_freshness"].passed, \
        evaluations(fresh)["publication_freshness"].description
