"""dbt parses only what changed, from one run of a home to the next and from one home to another.

Every dbt build of a home uses the same target folder and the same environment (profile and the
variables the project reads), and every home has the same profile: paths below the home are
named ``~/...``, and dbt runs with HOME at the home. So dbt's partial parsing applies from a
home's first build on (dagster-dbt starts it from the project's own parse), and to a home
copied elsewhere, which the log tells apart from a full parse.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from dagster import AssetKey

from tests.conftest import PipelineRun, copy_home, run_nightly, use_home
from warehouse import paths
from warehouse.dbt_env import dbt_environment, dbt_executable

# A cheap view: dbt parses the whole project whatever the selection.
ONE_MODEL = [AssetKey(["stg_reference__departments"])]
PARTIAL = "Partial parsing enabled"
FULL = "Unable to do partial parsing"


def build_log(home: Path) -> str:
    """The dbt log of one selected build on ``home`` (the log is emptied before)."""
    log = home / "dbt" / "target" / "dbt.log"
    log.unlink(missing_ok=True)
    result = run_nightly(home, asset_selection=ONE_MODEL)
    assert result.success  # type: ignore[attr-defined]
    return log.read_text(encoding="utf-8")


def test_second_build_of_a_home_parses_only_what_changed(small_first_run: PipelineRun) -> None:
    # The first build of a new home starts from the project's parse.
    fresh = (small_first_run.home / "dbt" / "target" / "dbt.log").read_text(encoding="utf-8")
    assert PARTIAL in fresh and FULL not in fresh, fresh[-3000:]

    home = copy_home(small_first_run.home, "partial-parse")
    assert not list((home / "dbt" / "target").glob("*/run_results.json")), \
        "no target folder per run"

    first = build_log(home)  # the copy's build database lies elsewhere: same profile
    assert PARTIAL in first, first[-3000:]
    assert FULL not in first

    second = build_log(home)
    assert PARTIAL in second, second[-3000:]
    assert FULL not in second
    # dbt's own user folder (~/.dbt) is not written into the home although HOME points there.
    assert not (home / ".dbt").exists()


def test_dbt_duckdb_has_the_memory_limit_and_spills_into_the_home(
        small_first_run: PipelineRun, monkeypatch: pytest.MonkeyPatch) -> None:
    """The DuckDB inside dbt runs with DATENWERK_DUCKDB_MEMORY_LIMIT (not 80 % of the machine)
    and writes what exceeds it below the home (never to a shared /tmp)."""
    home = copy_home(small_first_run.home, "memory-limit")
    use_home(home)
    monkeypatch.setenv("DATENWERK_DUCKDB_MEMORY_LIMIT", "256MiB")
    shown = subprocess.run(
        [dbt_executable(), "--quiet", "show", "--output", "json", "--inline",
         "select current_setting('memory_limit') as memory_limit, "
         "current_setting('temp_directory') as spill, (select path from duckdb_databases() "
         "where database_name = 'build') as build_db",
         "--target-path", str(paths.dbt_target_dir())],
        cwd=paths.TRANSFORM_DIR, env={**os.environ, **dbt_environment()},
        capture_output=True, text=True, check=False)
    assert shown.returncode == 0, shown.stdout[-3000:] + shown.stderr[-3000:]
    [row] = json.loads(shown.stdout[shown.stdout.index("{"):])["show"]
    assert row["memory_limit"] == "256.0 MiB"
    # `~` is the home in dbt's process: DuckDB opened the home's build database, and spills
    # below it.
    assert row["build_db"] == str(home / "warehouse" / "build.duckdb")
    assert row["spill"] == "~/warehouse/spill"
