"""Analysts never block a refresh: a separate process holding the published file open
(read-only, or read-write) through a full nightly run keeps seeing the generation it opened;
a new connection sees the new one."""

from __future__ import annotations

import json
import subprocess
import sys

import duckdb
import pytest
from dagster import AssetKey

from tests.conftest import PipelineRun, copy_home, run_nightly

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


@pytest.mark.parametrize("mode", ["read_only", "read_write"])
def test_reader_keeps_its_generation_through_a_full_refresh(
    first_run: PipelineRun, mode: str
) -> None:
    home = copy_home(first_run.home, f"reader-{mode}")
    published = home / "published" / "marts.duckdb"
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(published), mode],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert reader.stdout is not None and reader.stdin is not None
        old_generation, old_cases = json.loads(reader.stdout.readline())
        assert old_cases > 100

        result = run_nightly(home)  # the reader holds the file all along

        assert result.success, [
            (e.step_key, str(e.step_failure_data.error)[-1500:])  # type: ignore[union-attr]
            for e in result.all_events if e.is_step_failure]
        materialised = {e.asset_key for e in result.all_events
                        if e.event_type_value == "ASSET_MATERIALIZATION"}
        assert {AssetKey(["published_marts"]), AssetKey(["department_exports"])} <= materialised
        reader.stdin.write("\n")
        reader.stdin.flush()
        assert json.loads(reader.stdout.readline()) == [old_generation, old_cases]
        with duckdb.connect(str(published), read_only=True) as con:
            new_generation = con.sql(
                "select any_value(generation) from _publication").fetchall()[0][0]
            new_cases = con.sql("select count(*) from fct_cases").fetchall()[0][0]
        assert new_generation != old_generation
        assert new_cases == old_cases  # nothing new delivered: same figures, new generation
        reader.stdin.write("\n")
        reader.stdin.flush()
        assert reader.wait(timeout=30) == 0, reader.stderr.read() if reader.stderr else ""
    finally:
        if reader.poll() is None:
            reader.kill()
