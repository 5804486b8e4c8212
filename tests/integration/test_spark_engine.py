"""The Spark engine runs the same nightly run and publishes the same marts as DuckDB.

``DATENWERK_ENGINE=spark``: the small demo's nightly run, orchestrated by the same Dagster
definitions. The loads land in ``build.duckdb`` as on DuckDB; the dbt step puts the raw tables
into the lake as Parquet, dbt-spark (local Spark, session method) builds the whole project over
them (seeds, models, data tests, unit tests) and its tables are copied back into
``build.duckdb``, from which the checks, the gate and the publication go on as on DuckDB.

Compared with the DuckDB run of the same inbox: every table Spark built, row by row, and every
published mart in ``published/marts.duckdb``, floating-point figures at the declared precision
(``transform/macros/precision.sql``: rates to 4 decimals, means and scores to 2); and the
asset keys and checks both runs materialised and evaluated.

One Spark run serves every test here (a local Spark session costs minutes on a busy machine).
Behind the ``spark`` marker (needs the ``spark`` dependency group and Java): ``make test-spark``.
"""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from tests.conftest import PipelineRun, run_nightly

pytestmark = pytest.mark.spark

pyspark = pytest.importorskip("pyspark", reason="the spark dependency group: make spark-deps")

# Every figure is rounded to at most 4 decimals before publication; a double read back from
# Parquet may differ from DuckDB's in the last bits only.
FLOAT_DECIMALS = 4
# Facts of a load, not of the engine: the two runs load the same inbox at different times.
LOAD_FACTS = ("load_id", "_dlt_load_id", "_dlt_id", "registered_at")
ENGINE_FACTS = f"columns(lambda c: not list_contains({list(LOAD_FACTS)}, c))"


def rows(con: duckdb.DuckDBPyConnection, relations: dict[str, str]) -> dict[str, list[tuple]]:
    """Rows of each table (name -> relation), sorted, floats rounded, without the columns
    that name the load (``LOAD_FACTS``)."""
    def normal(value: object) -> object:
        return round(value, FLOAT_DECIMALS) if isinstance(value, float) else value

    return {name: sorted((tuple(normal(v) for v in row)
                          for row in con.execute(
                              f"select {ENGINE_FACTS} from {relation}").fetchall()),
                         key=repr)
            for name, relation in relations.items()}


@pytest.fixture(scope="module")
def spark_run(small_demo_home: Path, small_first_run: PipelineRun,
              tmp_path_factory: pytest.TempPathFactory) -> PipelineRun:
    """The nightly run with ``DATENWERK_ENGINE=spark`` on a copy of the small demo's inbox
    (and key) that the DuckDB run of ``small_first_run`` loaded."""
    home = tmp_path_factory.mktemp("spark") / "home"
    shutil.copytree(small_demo_home, home)
    os.environ["DATENWERK_ENGINE"] = "spark"
    try:
        result = run_nightly(home)
    finally:
        del os.environ["DATENWERK_ENGINE"]
    assert result.success, [  # type: ignore[attr-defined]
        (e.step_key, str(e.step_failure_data.error)[-3000:])
        for e in result.all_events if e.is_step_failure]  # type: ignore[attr-defined]
    return PipelineRun(home, result)


@pytest.fixture(scope="module")
def spark_home(spark_run: PipelineRun) -> Path:
    return spark_run.home


def test_spark_runs_the_seeds_models_and_data_tests(spark_home: Path) -> None:
    # Exposures (the marts' consumers) are documentation: dbt reports them as no-op.
    results = [r for r in json.loads((spark_home / "lake" / "dbt" / "target" / "run_results.json")
                                     .read_text(encoding="utf-8"))["results"]
               if not r["unique_id"].startswith("exposure.")]
    kinds = Counter(r["unique_id"].split(".")[0] for r in results)
    assert {r["status"] for r in results} <= {"success", "pass"}, [
        (r["unique_id"], r["status"], r["message"]) for r in results
        if r["status"] not in ("success", "pass")]
    manifest = json.loads((spark_home / "lake" / "dbt" / "target" / "manifest.json")
                          .read_text(encoding="utf-8"))
    declared = Counter(n["resource_type"] for n in manifest["nodes"].values())
    assert kinds["seed"] == declared["seed"] > 0
    assert kinds["model"] == declared["model"] > 0
    assert kinds["test"] == declared["test"] > 100
    assert kinds["unit_test"] == len(manifest["unit_tests"]) > 0


def _columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> str:
    """The columns of ``schema.table`` of the connection's own database, cast to their types
    there (to read another engine's table as this one's)."""
    return ", ".join(f'cast("{c}" as {t}) as "{c}"' for c, t in con.execute(
        "select column_name, data_type from duckdb_columns() where database_name = "
        "current_database() and schema_name = ? and table_name = ? order by column_index",
        [schema, table]).fetchall())


def test_spark_builds_the_same_tables(spark_home: Path, small_first_run: PipelineRun) -> None:
    from warehouse import marts

    # Every model is a table on Spark (staging too): what Spark computed, copied into the
    # Spark run's build.duckdb, where the checks and the publication read it.
    warehouse = spark_home / "lake" / "warehouse"
    tables = sorted((folder.parent.name.removesuffix(".db"), folder.name)
                    for folder in warehouse.glob("*.db/*") if any(folder.glob("*.parquet")))
    published = marts.published(spark_home / "lake" / "dbt" / "target" / "manifest.json")
    assert published and {("marts", m) for m in published} <= set(tables), tables
    duck_build = small_first_run.home / "warehouse" / "build.duckdb"
    with duckdb.connect(str(duck_build), read_only=True) as con:
        con.execute("set TimeZone = 'UTC'")
        con.execute("attach ? as spark (read_only)",
                    [str(spark_home / "warehouse" / "build.duckdb")])
        expected = rows(con, {f"{s}.{t}": f"{s}.{t}" for s, t in tables})
        actual = rows(con, {f"{s}.{t}": f"(select {_columns(con, s, t)} from spark.{s}.{t})"
                            for s, t in tables})
    assert all(expected[f"marts.{m}"] for m in published), "a published mart is empty"
    for name in expected:
        assert actual[name] == expected[name], name


def test_spark_publishes_the_same_marts(spark_home: Path, small_first_run: PipelineRun) -> None:
    from warehouse import marts

    published = marts.published(spark_home / "lake" / "dbt" / "target" / "manifest.json")
    with duckdb.connect(str(small_first_run.home / "published" / "marts.duckdb"),
                        read_only=True) as con:
        con.execute("set TimeZone = 'UTC'")
        con.execute("attach ? as spark (read_only)",
                    [str(spark_home / "published" / "marts.duckdb")])
        tables = {n: s for n, s in con.execute(
            "select table_name, schema_name from duckdb_tables() "
            "where database_name = current_database()").fetchall()}
        spark_tables = {n: s for n, s in con.execute(
            "select table_name, schema_name from duckdb_tables() "
            "where database_name = 'spark'").fetchall()}
        assert set(published) <= set(tables)
        assert spark_tables == tables
        # Analysts' SQL stays the same: the same columns, of the same types.
        types = "select table_name, column_name, data_type from duckdb_columns() " \
                "where database_name = ? order by all"
        assert (con.execute(types, ["spark"]).fetchall()
                == con.execute(types, ["marts"]).fetchall())
        expected = rows(con, {m: f"{tables[m]}.{m}" for m in published})
        actual = rows(con, {m: f"(select {_columns(con, tables[m], m)} "
                               f"from spark.{tables[m]}.{m})" for m in published})
    for mart in published:
        assert expected[mart], f"{mart} is empty"
        assert actual[mart] == expected[mart], mart


def test_both_engines_materialise_and_check_the_same_assets(
        spark_run: PipelineRun, small_first_run: PipelineRun) -> None:
    """The same definitions: the Spark run's dbt events carry the same asset keys, and every
    check (dbt tests, GX, the gate's) reports on both engines, with the same outcome."""
    def graph(result: object) -> tuple[set[object], set[tuple[object, str, bool]]]:
        return ({e.asset_key for e in result.get_asset_materialization_events()},  # type: ignore[attr-defined]
                {(e.asset_key, e.check_name, e.passed)
                 for e in result.get_asset_check_evaluations()})  # type: ignore[attr-defined]

    spark_assets, spark_checks = graph(spark_run.result)
    duck_assets, duck_checks = graph(small_first_run.result)
    assert len(duck_assets) > 50 and len(duck_checks) > 100
    assert spark_assets == duck_assets
    assert spark_checks == duck_checks
