"""The Spark engine builds the same marts as DuckDB: the small demo's raw tables go into the lake
as Parquet, dbt-spark (local Spark, session method) builds the whole project over them (seeds,
models, data tests, unit tests), and every table it built, every published mart among them, is
compared with the DuckDB build row by row, floating-point figures at the declared precision
(``transform/macros/precision.sql``: rates to 4 decimals, means and scores to 2).

One Spark build serves every test here (a local Spark session costs minutes on a busy machine).
Behind the ``spark`` marker (needs the ``spark`` dependency group and Java): ``make test-spark``.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from tests.conftest import PipelineRun, use_home

pytestmark = pytest.mark.spark

pyspark = pytest.importorskip("pyspark", reason="the spark dependency group: make spark-deps")

# Every figure is rounded to at most 4 decimals before publication; a double read back from
# Parquet may differ from DuckDB's in the last bits only.
FLOAT_DECIMALS = 4


def rows(con: duckdb.DuckDBPyConnection, relations: dict[str, str]) -> dict[str, list[tuple]]:
    """Rows of each table (name -> relation or Parquet scan), sorted, floats rounded."""
    def normal(value: object) -> object:
        return round(value, FLOAT_DECIMALS) if isinstance(value, float) else value

    return {name: sorted((tuple(normal(v) for v in row)
                          for row in con.execute(f"select * from {relation}").fetchall()),
                         key=repr)
            for name, relation in relations.items()}


@pytest.fixture(scope="module")
def spark_home(small_first_run: PipelineRun, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the small demo's home after its DuckDB run, built once more on Spark."""
    from warehouse import lake

    home = tmp_path_factory.mktemp("spark") / "home"
    shutil.copytree(small_first_run.home, home,
                    ignore=shutil.ignore_patterns("dagster", "published", "exports"))
    use_home(home)
    built = lake.build_on_spark()
    assert built.returncode == 0, built.stdout[-6000:]
    return home


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


def test_spark_builds_the_same_marts(spark_home: Path) -> None:
    from warehouse import marts

    # Views (most staging models) are queries, not data: the tables hold what Spark computed.
    warehouse = spark_home / "lake" / "warehouse"
    tables = sorted((folder.parent.name.removesuffix(".db"), folder.name)
                    for folder in warehouse.glob("*.db/*") if any(folder.glob("*.parquet")))
    published = marts.published(spark_home / "lake" / "dbt" / "target" / "manifest.json")
    assert published and {("marts", m) for m in published} <= set(tables), tables
    with duckdb.connect(str(spark_home / "warehouse" / "build.duckdb"), read_only=True) as con:
        # Spark's Parquet has no time zone on its timestamps (session time zone UTC): read as
        # DuckDB's types, in UTC, an instant compares equal to DuckDB's timestamptz.
        con.execute("set TimeZone = 'UTC'")

        def columns(schema: str, table: str) -> str:
            return ", ".join(f'cast("{c}" as {t}) as "{c}"' for c, t in con.execute(
                "select column_name, data_type from duckdb_columns() where schema_name = ? "
                "and table_name = ? order by column_index", [schema, table]).fetchall())

        expected = rows(con, {f"{s}.{t}": f"{s}.{t}" for s, t in tables})
        actual = rows(con, {f"{s}.{t}": "(select {} from read_parquet('{}/*.parquet'))".format(
            columns(s, t), warehouse / f"{s}.db" / t) for s, t in tables})
    assert all(expected[f"marts.{m}"] for m in published), "a published mart is empty"
    for name in expected:
        assert actual[name] == expected[name], name
