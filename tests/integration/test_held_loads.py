"""A batch that failed its suite stays out of staging in later runs too, until it is released.

Without the hold, the next run (no new files, its own batch empty and valid) would merge the
failed batch that dlt had already committed to the raw tables.
"""

from __future__ import annotations

import duckdb
from dagster import AssetKey

from orchestration.cli import main as datenwerk
from tests.conftest import copy_home, run_nightly, use_home
from tests.integration.conftest import BadBatchNight
from tests.integration.test_quality_gate import evaluations, materialised
from warehouse import holds


def full_refresh_due() -> bool:
    """Whether the next dbt build is a full refresh (a load released since the last one)."""
    from orchestration.transform import build_plan

    return any("released" in reason for reason in build_plan(False).full_refresh)


def clients_born_1901(home) -> int:  # type: ignore[no-untyped-def]
    with duckdb.connect(str(home / "warehouse" / "build.duckdb"), read_only=True) as con:
        raw = con.sql("select count(*) from raw_case_management.clients "
                      "where birth_year = 1901").fetchall()[0][0]
        staged = con.sql("select count(*) from staging.stg_case_management__clients "
                         "where birth_year = 1901").fetchall()[0][0]
    assert raw == 1  # dlt committed the batch: the hold is what keeps it out
    return int(staged)


def test_failed_batch_is_held_until_released(night_of_a_bad_batch: BadBatchNight, capsys) -> None:  # type: ignore[no-untyped-def]
    # The failed night is shared with the quality-gate test; the later nights run on a copy.
    home = copy_home(night_of_a_bad_batch.home, "held-batch")
    use_home(home)
    failed = night_of_a_bad_batch.result
    assert not failed.success
    check = evaluations(failed)["gx_batch_clients"]
    assert not check.passed
    held_ids = check.metadata["held_loads"].value
    assert held_ids == check.metadata["load_ids"].value and len(held_ids) == 1
    assert [h.load_id for h in holds.held()] == held_ids
    assert holds.held()[0].tables == ("clients",)

    # The next night: nothing new delivered. The run succeeds and publishes, without the batch.
    published = home / "published" / "marts.duckdb"
    before = published.stat().st_mtime_ns
    quiet = run_nightly(home)
    assert quiet.success
    assert evaluations(quiet)["gx_batch_clients"].passed
    assert AssetKey(["published_marts"]) in materialised(quiet)
    assert published.stat().st_mtime_ns != before
    assert clients_born_1901(home) == 0
    warning = evaluations(quiet)["no_held_loads"]  # the publication says what it leaves out
    assert not warning.passed and held_ids[0] in warning.description
    assert warning.metadata["held_loads"].value[0]["tables"] == ["clients"]

    # The engineer lists the hold and releases it; the next run merges the batch.
    use_home(home)
    assert datenwerk(["held"]) == 0
    listing = capsys.readouterr().out
    assert held_ids[0] in listing and "gx_batch_clients" in listing
    assert datenwerk(["release", "123.456", "--reason", "x"]) == 1  # not held: said so
    assert "not held" in capsys.readouterr().err
    assert datenwerk(["release", held_ids[0], "--reason", "the client really is that old"]) == 0
    assert holds.held() == [] and full_refresh_due()
    # A partial build (say, one model materialised from the UI) does not use up the request:
    # the incremental contacts would miss the released load.
    partial = run_nightly(home, asset_selection=[AssetKey(["stg_case_management__clients"])])
    assert partial.success and clients_born_1901(home) == 1
    assert full_refresh_due()
    released = run_nightly(home)
    assert released.success
    assert clients_born_1901(home) == 1
    assert evaluations(released)["no_held_loads"].passed
    assert not full_refresh_due()  # the full refresh ran once
    assert (holds.released_dir() / f"{held_ids[0]}.json").is_file()
