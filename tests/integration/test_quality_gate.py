"""The quality gate on real pipeline runs: a bad batch stops staging and publication, a warning
lets publication run and shows, a crashing check fails closed, Data Docs exist after a run."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import duckdb
from dagster import AssetCheckSeverity, AssetKey

from tests.conftest import PipelineRun, copy_home, run_nightly
from tests.integration.conftest import BadBatchNight


def evaluations(result: Any) -> dict[str, Any]:
    return {
        e.event_specific_data.check_name: e.event_specific_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }


def materialised(result: Any) -> set[AssetKey]:
    return {e.asset_key for e in result.all_events if e.event_type_value == "ASSET_MATERIALIZATION"}


# The warning and crash tests run only the mart whose check they break and the publish step:
# the gate decides from the checks of the run's own selection (orchestration/publish.py), so this
# proves what the whole job would, in a fraction of the time (the rest is as the first run left it).
FCT_CASES_AND_PUBLISH = [AssetKey(["fct_cases"]), AssetKey(["published_marts"])]


def test_every_suite_passes_on_the_demo_and_docs_exist(first_run: PipelineRun) -> None:
    checks = evaluations(first_run.result)
    gx = {name: ev for name, ev in checks.items() if name.startswith("gx_")}
    for entity in ("clients", "cases", "contacts", "goals", "assessments", "bookings"):
        ev = gx[f"gx_batch_{entity}"]
        assert ev.passed, ev.description
        assert ev.metadata["rows"].value > 0  # the first run's batch was really validated
        assert ev.metadata["load_ids"].value
    for mart in ("fct_cases", "mart_finance_by_cost_centre_month", "mart_deliveries"):
        assert gx[f"gx_{mart}"].passed, gx[f"gx_{mart}"].description
        assert gx[f"gx_{mart}"].severity == AssetCheckSeverity.ERROR
        row_count = gx[f"gx_{mart}_row_count"]
        assert row_count.passed and row_count.severity == AssetCheckSeverity.WARN
        assert "first publication" in row_count.description

    docs = first_run.home / "quality" / "data_docs"
    index = (docs / "index.html").read_text(encoding="utf-8")
    assert str(docs / "index.html") == gx["gx_fct_cases"].metadata["data_docs"].value
    page = gx["gx_fct_cases"].metadata["data_docs_page"].value
    assert page.startswith(str(docs)) and "gx_fct_cases" in page
    page_text = Path(page).read_text(encoding="utf-8")
    assert "ExpectCompoundColumnsToBeUnique" in page_text or "unique" in page_text.lower()
    for suite in ("gx_batch_cases", "gx_batch_bookings", "gx_fct_cases", "gx_mart_deliveries"):
        assert suite in index
    # Our index renders offline: no external reference at all; GX pages lose the tracking logo.
    assert not re.search(r"(src|href)=\"https?://", index)
    assert "dataContextId" not in page_text
    # The GX project lives under DATENWERK_HOME, not in the repository.
    assert (first_run.home / "quality" / "gx" / "great_expectations.yml").exists()


def test_quality_report_summarises_the_run_that_published(first_run: PipelineRun) -> None:
    report = next(
        e.event_specific_data.materialization
        for e in first_run.result.all_events
        if e.event_type_value == "ASSET_MATERIALIZATION"
        and e.asset_key == AssetKey(["data_quality_report"])
    )
    gx_suites = {n for n in evaluations(first_run.result) if n.startswith("gx_")}
    # every GX check of the run wrote its result, and the report counts exactly those
    assert report.metadata["suites_run"].value == len(gx_suites) > 10
    assert report.metadata["suites_failed"].value == 0
    assert report.metadata["rows_validated"].value > 0
    assert Path(report.metadata["data_docs"].value).is_file()


def test_bad_batch_stops_staging_and_publication(night_of_a_bad_batch: BadBatchNight) -> None:
    home, result = night_of_a_bad_batch.home, night_of_a_bad_batch.result
    published = home / "published" / "marts.duckdb"
    before = night_of_a_bad_batch.published_before

    assert not result.success
    failed = evaluations(result)["gx_batch_clients"]
    assert not failed.passed and failed.severity == AssetCheckSeverity.ERROR
    failures = failed.metadata["failed_expectations"].value
    assert [f["columns"] for f in failures] == [["birth_year"]]
    assert failures[0]["expectation"] == "expect_column_values_to_be_between"
    assert failures[0]["unexpected_count"] == 1
    assert failures[0]["sample_values"] == [1901]
    assert failed.metadata["rows"].value == 1  # only this run's batch, not the earlier loads
    done = materialised(result)
    assert AssetKey(["raw_case_management", "clients"]) in done
    assert AssetKey(["stg_case_management__clients"]) not in done  # staging did not run
    assert AssetKey(["published_marts"]) not in done
    assert published.read_bytes() == before


def test_warning_check_fails_and_publication_still_runs(small_first_run: PipelineRun) -> None:
    home = copy_home(small_first_run.home, "row-count-warning")
    published = home / "published" / "marts.duckdb"
    # The last publication had a third of today's cases: outside the ±30 % band. The band is
    # read from the publication's manifest (an analyst may hold marts.duckdb read-write).
    with duckdb.connect(str(published), read_only=True) as con:
        rows = con.sql("select count(*) from fct_cases").fetchall()[0][0]
    manifest_file = home / "published" / "marts.manifest.json"
    manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
    assert manifest["row_counts"]["fct_cases"] == rows
    kept = rows // 3
    manifest["row_counts"]["fct_cases"] = kept
    manifest_file.write_text(json.dumps(manifest), encoding="utf-8")

    result = run_nightly(home, asset_selection=FCT_CASES_AND_PUBLISH)

    assert result.success
    warning = evaluations(result)["gx_fct_cases_row_count"]
    assert not warning.passed
    assert warning.severity == AssetCheckSeverity.WARN
    failures = warning.metadata["failed_expectations"].value
    assert failures[0]["expectation"] == "expect_table_row_count_to_be_between"
    assert failures[0]["observed_value"] == str(rows)
    assert f"last publication: {kept} rows" in warning.description
    assert AssetKey(["published_marts"]) in materialised(result)
    with duckdb.connect(str(published), read_only=True) as con:
        assert con.sql("select count(*) from fct_cases").fetchall()[0][0] == rows
    # The warning is in the Data Docs index, too.
    runs = json.loads((home / "quality" / "data_docs" / "runs.json").read_text())
    latest = runs["gx_fct_cases_row_count"][0]
    assert latest["run"] == result.run_id and not latest["success"]


def test_crashing_check_fails_closed(small_first_run: PipelineRun) -> None:
    home = copy_home(small_first_run.home, "broken-gx-config")
    published = home / "published" / "marts.duckdb"
    before = published.read_bytes()
    (home / "quality" / "gx" / "great_expectations.yml").write_text("config_version: [oops\n")

    result = run_nightly(home, asset_selection=FCT_CASES_AND_PUBLISH)

    assert not result.success
    crashed = evaluations(result)["gx_fct_cases"]
    assert not crashed.passed and crashed.severity == AssetCheckSeverity.ERROR
    assert "crashed" in crashed.description
    assert crashed.metadata["error"].value
    assert AssetKey(["fct_cases"]) in materialised(result)
    assert AssetKey(["published_marts"]) not in materialised(result)
    assert published.read_bytes() == before
