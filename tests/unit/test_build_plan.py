"""When a run may find nothing changed: requests and failed outputs are not forgotten.

Real files in a temporary home and a real (ephemeral) Dagster instance; no pipeline runs.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.conftest import use_home


def test_a_full_refresh_asked_by_a_run_that_failed_is_still_due(tmp_path: Path) -> None:
    from orchestration.transform import build_plan, inputs_fingerprint, project_fingerprint
    from warehouse import changes

    use_home(tmp_path / "home")
    t0 = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
    changes.record_build(inputs_fingerprint(), True, t0, project_fingerprint())
    assert not build_plan(False).full_refresh

    # A run asks for a full refresh, then fails before its build completes.
    changes.request_full_refresh(t0 + timedelta(hours=24))
    due = build_plan(False).full_refresh
    assert len(due) == 1 and "has not completed yet" in due[0]

    # A later incremental build does not answer it; a full one that started later does.
    changes.record_build(inputs_fingerprint(), False, t0 + timedelta(hours=25))
    assert build_plan(False).full_refresh
    changes.record_build(inputs_fingerprint(), True, t0 + timedelta(hours=26),
                         project_fingerprint())
    assert not build_plan(False).full_refresh


def test_a_changed_dbt_project_is_built_in_full_once(tmp_path: Path) -> None:
    """Incremental models built by other dbt code (a record from before, or another project)
    are rebuilt from every load, once: the incremental builds after it keep the project."""
    from orchestration.transform import build_plan, inputs_fingerprint, project_fingerprint
    from warehouse import changes

    use_home(tmp_path / "home")
    t0 = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
    changes.record_build(inputs_fingerprint(), True, t0, "an older dbt project")
    changes.record_build(inputs_fingerprint(), False, t0 + timedelta(hours=1))
    assert build_plan(False).full_refresh == ["the dbt project changed since the last full build"]
    changes.record_build(inputs_fingerprint(), True, t0 + timedelta(hours=2), project_fingerprint())
    changes.record_build(inputs_fingerprint(), False, t0 + timedelta(hours=3))
    assert not build_plan(False).full_refresh


def test_outputs_that_lag_behind_the_publication_are_named() -> None:
    from dagster import AssetKey, AssetMaterialization, DagsterInstance

    from orchestration.transform import PUBLICATION_OUTPUTS, outputs_behind_publication

    def materialise(name: str) -> None:
        instance.report_runless_asset_event(AssetMaterialization(asset_key=AssetKey([name])))

    with DagsterInstance.ephemeral() as instance:
        assert outputs_behind_publication(instance) == []  # nothing published: nothing lags
        materialise("published_marts")
        assert outputs_behind_publication(instance) == [
            k.to_user_string() for k in PUBLICATION_OUTPUTS]
        for key in PUBLICATION_OUTPUTS:
            materialise(key.to_user_string())
        assert outputs_behind_publication(instance) == []
        # The next publication succeeds, its department exports fail (a full disk).
        materialise("published_marts")
        materialise("open_data")
        materialise("impact_reports")
        assert outputs_behind_publication(instance) == ["department_exports"]


def test_a_change_to_the_code_changes_the_fingerprint(tmp_path: Path) -> None:
    import shutil

    from orchestration import transform

    project = Path(transform.__file__).resolve().parents[1]
    for package in transform.CODE_PACKAGES:
        shutil.copytree(project / package, tmp_path / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    before = transform.code_fingerprint(tmp_path)
    assert before == transform.code_fingerprint(project)
    with (tmp_path / "warehouse" / "exports.py").open("a", encoding="utf-8") as fh:
        fh.write("\n# a deployed fix\n")
    assert transform.code_fingerprint(tmp_path) != before


def test_only_tables_with_rows_of_a_load_completed_after_the_build_count(tmp_path: Path) -> None:
    import duckdb

    from warehouse import changes, paths

    use_home(tmp_path / "home")
    built = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
    paths.build_db().parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(paths.build_db())) as con:
        con.execute("create schema raw_cm")
        con.execute("create table raw_cm._dlt_loads (load_id varchar, status bigint, "
                    "inserted_at timestamptz)")
        con.execute("insert into raw_cm._dlt_loads values (?, 0, ?), (?, 0, ?), (?, 1, ?)", [
            "old", built - timedelta(hours=1), "new", built + timedelta(hours=20),
            "killed", built + timedelta(hours=21)])
        for table, load in (("contacts", "new"), ("cases", "old"), ("goals", "killed")):
            con.execute(f"create table raw_cm.{table} (id int, _dlt_load_id varchar)")
            con.execute(f"insert into raw_cm.{table} values (1, ?)", [load])
        con.execute("create table raw_cm._dlt_pipeline_state (_dlt_load_id varchar)")
        con.execute("insert into raw_cm._dlt_pipeline_state values ('new')")
    assert changes.tables_loaded_since(built) == {("raw_cm", "contacts")}
    assert changes.tables_loaded_since(built + timedelta(days=1)) == set()


def test_a_contacts_delivery_keeps_the_accounting_and_runs_tests_into_kept_models() -> None:
    import json

    from orchestration.transform import DBT_PROJECT, kept_nodes

    manifest = json.loads(DBT_PROJECT.manifest_path.read_text())
    kept = set(kept_nodes(manifest, {("raw_case_management", "contacts")}).values())
    assert {"stg_accounting__bookings", "mart_finance_by_cost_centre_month", "dim_department",
            "chart_of_accounts_defaults", "not_null_dim_department_department_code"} <= kept
    assert not {"stg_case_management__contacts", "fct_cases", "mart_impact",
                "mart_srs_report"} & kept
    # goals and assessment changes do not read the contacts; unit tests only the code
    assert {"fct_goals", "fct_assessment_change", "planned_end_rule_kds"} <= kept
    # a test on a rebuilt model that refers to a kept one runs (dbt's eager selection would
    # drop it with the kept model)
    assert "relationships_fct_cases_department_code__department_code__ref_dim_department_" \
        not in kept
    everything = kept_nodes(manifest, {("raw_accounting", "bookings"),
                                       ("raw_case_management", "contacts")})
    assert "mart_finance_by_cost_centre_month" not in everything.values()
    assert kept_nodes(manifest, set()).keys() >= {
        uid for uid, node in manifest["nodes"].items() if node["resource_type"] == "model"}


def test_a_recorded_check_counts_only_for_the_code_that_made_it(tmp_path: Path) -> None:
    """A check result recorded on a table's content is reported again for the same content
    only while the code, dbt project and configuration are those that made it."""
    import duckdb
    from dagster import AssetKey

    from orchestration.transform import recorded_check
    from warehouse import changes, gate, paths

    use_home(tmp_path / "home")
    paths.build_db().parent.mkdir(parents=True)
    with duckdb.connect(str(paths.build_db())) as con:
        con.execute("create schema marts; create table marts.mart_x as select 1 as n")
    now = datetime.now(UTC)
    changes.record_build("inputs-1", True, now - timedelta(hours=2))
    gate.record([("mart_x", "gx_mart_x", True, "ERROR", "7 expectations met")], run_id="run-1")
    changes.record_build("inputs-1", False, now - timedelta(hours=1))
    since = changes.last_build().same_inputs_since  # type: ignore[union-attr]
    assert since == (now - timedelta(hours=2)).isoformat()  # the first build of these inputs
    kept = recorded_check(AssetKey(["mart_x"]), "gx_mart_x", "run-2", since)
    assert kept is not None and kept.passed
    assert kept.description.startswith("unchanged content, result of run run-1")
    assert kept.metadata["kept_from_run"].value == "run-1"

    # New code: the same content is checked again (its record was made by the old code).
    changes.record_build("inputs-2", False, now + timedelta(hours=1))
    since = changes.last_build().same_inputs_since  # type: ignore[union-attr]
    assert since == (now + timedelta(hours=1)).isoformat()
    assert recorded_check(AssetKey(["mart_x"]), "gx_mart_x", "run-3", since) is None
    # Another content of the table: no record for it.
    with duckdb.connect(str(paths.build_db())) as con:
        con.execute("insert into marts.mart_x values (2)")
    assert recorded_check(AssetKey(["mart_x"]), "gx_mart_x", "run-3",
                          (now - timedelta(hours=3)).isoformat()) is None
