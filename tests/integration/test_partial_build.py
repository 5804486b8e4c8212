"""A delivery rebuilds only what depends on it: after new contacts (and a late correction of a
contact of an old month) the run builds the models downstream of the contacts, keeps the rest
as built, reuses the check results of the kept content, publishes, and the marts equal a full
refresh of the same inputs row for row."""

from __future__ import annotations

from pathlib import Path

import duckdb
from dagster import AssetKey

from orchestration.cli import FULL_REFRESH_CONFIG
from orchestration.cli import main as datenwerk
from orchestration.transform import KEPT_SINCE
from tests.conftest import PipelineRun, copy_home, run_nightly, staged_id, use_home
from tests.integration.test_incremental import contents
from tests.integration.test_quality_gate import evaluations, materialised


def kept(result: object) -> set[str]:
    """The models the run kept as they were (their materialisation says since when)."""
    return {e.asset_key.path[-1] for e in result.all_events  # type: ignore[attr-defined]
            if e.event_type_value == "ASSET_MATERIALIZATION"
            and KEPT_SINCE in e.event_specific_data.materialization.metadata}


def published(home: Path) -> dict[str, list[tuple]]:
    """Every published mart's rows (not the publication's own records of run and checks)."""
    tables = contents(home / "published" / "marts.duckdb", ("main",))
    return {name: rows for name, rows in tables.items() if not name.startswith("main._")}


def test_a_delivery_rebuilds_what_depends_on_it_and_equals_a_full_refresh(
    small_first_run: PipelineRun,
) -> None:
    home = copy_home(small_first_run.home, "partial-build")
    use_home(home)
    assert datenwerk(["demo-data", "--increment", "0.01", "--seed", "7"]) == 0
    # A late correction: SB's first contact (January 2023, long published) lasted 175 minutes.
    sb = home / "inbox" / "case_management" / "swm" / "SB"
    lines = (sb / "kontakte.csv").read_bytes().decode("cp1252").split("\r\n")
    first = lines[1].split(";")
    assert first[2].endswith(".2023")
    first[4] = "175"
    (sb / "kontakte_korrektur.csv").write_bytes(
        "\r\n".join([lines[0], ";".join(first), ""]).encode("cp1252"))

    delivered = run_nightly(home)
    assert delivered.success
    built, kept_models = materialised(delivered), kept(delivered)
    # Nothing of the accounting, the reference data, the goals or the assessments changed:
    # kept as built (goals and assessment changes read their cases' attributes, not contacts).
    assert {"dim_cost_centre", "mart_finance_by_cost_centre_month", "int_bookings_categorised",
            "int_case_gas_scores", "dim_department", "fct_goals",
            "fct_assessment_change"} <= kept_models
    # What reads the contacts was built again, and published.
    for model in ("stg_case_management__contacts", "fct_cases", "mart_outcomes", "mart_impact",
                  "mart_srs_report"):
        assert AssetKey([model]) in built and model not in kept_models, model
    assert AssetKey(["published_marts"]) in built
    checks = evaluations(delivered)
    # The kept marts' checks report the result recorded on exactly their content...
    finance = checks["gx_mart_finance_by_cost_centre_month"]
    assert finance.passed and finance.description.startswith("unchanged content")
    assert checks["not_null_dim_cost_centre_cost_centre"].description.startswith("unchanged")
    # (the row count is compared with the publication, which moved on: it runs again)
    count = checks["gx_mart_finance_by_cost_centre_month_row_count"]
    assert not (count.description or "").startswith("unchanged")
    # ... a rebuilt mart whose content changed was checked again, and so was a test from it to
    # a kept dimension; one the delivery did not change after all (no case closed or assessed:
    # mart_outcomes) reports the result recorded on that content.
    assert not checks["gx_fct_cases"].description.startswith("unchanged")
    assert checks["gx_mart_outcomes"].description.startswith("unchanged content")
    assert AssetKey(["mart_outcomes"]) in built and "mart_outcomes" not in kept_models
    relationship = next(name for name in checks if name.startswith("relationships_fct_cases_")
                        and "dim_department" in name)
    assert checks[relationship].passed
    assert not (checks[relationship].description or "").startswith("unchanged")

    db = home / "warehouse" / "build.duckdb"
    with duckdb.connect(str(db), read_only=True) as con:
        minutes = con.execute(
            "select duration_minutes from staging.stg_case_management__contacts "
            "where contact_id = ?", [staged_id(home, "SB", first[0])]).fetchall()
    assert minutes == [(175,)]  # the correction of an old month reached the build
    partial = contents(db, ("staging", "intermediate", "marts"))
    partial_published = published(home)

    refreshed_home = copy_home(home, "partial-build-full-refresh")
    refreshed = run_nightly(refreshed_home, run_config=FULL_REFRESH_CONFIG)
    assert refreshed.success and not kept(refreshed)
    full = contents(refreshed_home / "warehouse" / "build.duckdb",
                    ("staging", "intermediate", "marts"))
    assert full.keys() == partial.keys() and "marts.fct_cases" in full
    for table, rows in partial.items():
        assert full[table] == rows, table
    assert "main.mart_impact" in partial_published
    assert published(refreshed_home) == partial_published
