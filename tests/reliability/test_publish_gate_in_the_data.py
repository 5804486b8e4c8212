"""The publish gate lives in the data: a run that selects only the publication (what the UI's
"Materialize" on the asset does) publishes checked content or refuses, whatever ran before."""

from __future__ import annotations

import duckdb
from dagster import AssetKey

from tests.conftest import BlockedNight, PipelineRun, copy_home, run_nightly
from tests.integration.test_publish_gate import (
    materialised,
    snapshot,
)

PUBLISH_ONLY = [AssetKey(["published_marts"]), AssetKey(["department_exports"])]


def failure_messages(result) -> str:  # type: ignore[no-untyped-def]
    return "\n".join(str(e.step_failure_data.error) for e in result.all_events
                     if e.is_step_failure and e.step_failure_data.error)


def test_publish_only_after_a_blocked_run_refuses_the_blocked_marts(
    night_blocked_by_a_huge_credit: BlockedNight,
) -> None:
    # The blocked run is shared with the publish-gate test; the publish-only run runs on a copy.
    night = night_blocked_by_a_huge_credit
    home = copy_home(night.home, "gate-bypass-after-blocked-run")
    published_before, exports_before = night.published_before, night.exports_before
    blocked = night.result
    assert not blocked.success
    with duckdb.connect(str(home / "warehouse" / "build.duckdb"), read_only=True) as con:
        worst = con.sql("select min(costs_eur) from marts.mart_impact").fetchall()[0][0]
    assert worst < 0  # the bad content is in the build database, where a later run finds it

    again = run_nightly(home, asset_selection=PUBLISH_ONLY)

    assert not again.success
    assert AssetKey(["published_marts"]) not in materialised(again)
    assert AssetKey(["department_exports"]) not in materialised(again)
    message = failure_messages(again)
    assert "mart_impact:gx_mart_impact (failed on its current content" in message
    assert snapshot(home / "published") == published_before
    assert snapshot(home / "exports") == exports_before


def test_publish_only_refuses_marts_changed_by_hand(small_first_run: PipelineRun) -> None:
    home = copy_home(small_first_run.home, "gate-bypass-hand-edit")
    published_before = snapshot(home / "published")
    exports_before = snapshot(home / "exports")
    # Checked content publishes from a publish-only run (the records of the last run suffice) ...
    control = run_nightly(home, asset_selection=[AssetKey(["published_marts"])])
    assert control.success, failure_messages(control)
    published_checked = snapshot(home / "published")
    assert published_checked != published_before  # a new generation of the same content
    # ... content nobody checked does not: a rate of 7.0 written straight into the build file.
    with duckdb.connect(str(home / "warehouse" / "build.duckdb")) as con:
        con.execute("update marts.mart_outcomes set planned_end_rate = 7.0")

    again = run_nightly(home, asset_selection=PUBLISH_ONLY)

    assert not again.success
    assert "mart_outcomes:gx_mart_outcomes (no result for its current content)" in \
        failure_messages(again)
    assert snapshot(home / "published") == published_checked
    assert snapshot(home / "exports") == exports_before
