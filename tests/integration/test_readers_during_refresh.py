"""Analysts never block a refresh: a separate process holding the published file open
(read-only, or read-write) through a full nightly run keeps seeing the generation it opened;
a new connection sees the new one.

The read-only case is the shared second run (tests/integration/conftest.py), which the
idempotency test also examines; the read-write case runs the job on its own copy."""

from __future__ import annotations

import json

import pytest
from dagster import AssetKey

from tests.conftest import PipelineRun
from tests.integration.conftest import ReaderRun, run_with_reader


@pytest.mark.xdist_group("second_run")  # asked for below, for the read-only case only
@pytest.mark.parametrize("mode", ["read_only", "read_write"])
def test_reader_keeps_its_generation_through_a_full_refresh(
    request: pytest.FixtureRequest, small_first_run: PipelineRun, mode: str
) -> None:
    if mode == "read_only":
        run: ReaderRun = request.getfixturevalue("second_run")
    else:
        run = run_with_reader(small_first_run, f"reader-{mode}", mode)
    assert run.mode == mode
    old_generation, old_cases = run.reader_before
    # the reader saw the whole published mart (the small demo has a few dozen cases)
    assert old_cases == run.cases_in_build > 20

    result = run.result
    assert result.success, [  # type: ignore[attr-defined]
        (e.step_key, str(e.step_failure_data.error)[-1500:])  # type: ignore[union-attr]
        for e in result.all_events if e.is_step_failure]  # type: ignore[attr-defined]
    materialised = {e.asset_key for e in result.all_events  # type: ignore[attr-defined]
                    if e.event_type_value == "ASSET_MATERIALIZATION"}
    assert {AssetKey(["published_marts"]), AssetKey(["department_exports"])} <= materialised
    assert run.reader_after == [old_generation, old_cases]  # its connection kept its generation
    new_generation, new_cases = run.new_connection
    assert new_generation != old_generation
    assert new_cases == old_cases  # nothing new delivered: same figures, new generation
    # the run config's full refresh reached dbt: the build is recorded as a full refresh
    build = json.loads((run.home / "dbt" / "last_build.json").read_text())
    assert build["full_refresh_at"] == build["built_at"]
    assert run.reader_exit == 0, run.reader_stderr
