"""dbt parses only what changed from one run of a home to the next.

Every dbt build of a home uses the same target folder and the same environment (profile and the
variables the project reads), so dbt's partial parsing applies from the second build on. A home
copied elsewhere has another build database, hence another profile: its first build parses in
full, which shows the log tells the two cases apart.
"""

from __future__ import annotations

from pathlib import Path

from dagster import AssetKey

from tests.conftest import PipelineRun, copy_home, run_nightly

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
    home = copy_home(small_first_run.home, "partial-parse")
    assert not list((home / "dbt" / "target").glob("*/run_results.json")), \
        "no target folder per run"

    first = build_log(home)
    assert FULL in first and "profile has changed" in first  # the copy's build db moved

    second = build_log(home)
    assert PARTIAL in second, second[-3000:]
    assert FULL not in second
