"""The Spark engine builds the same tables as DuckDB: the small demo's raw tables go into the lake
as Parquet, dbt-spark (local Spark, session method) builds the project over them, and every table
it built is compared with the DuckDB build row by row, floating-point figures at the declared
precision (``transform/macros/precision.sql``: rates to 4 decimals, means and scores to 2).

So far the models of SPARK_READY build on Spark (bench/SPARK.md lists what the others need);
the selection grows until it is the whole project and the comparison covers the marts.

Behind the ``spark`` marker (needs the ``spark`` dependency group and Java): ``make test-spark``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from tests.conftest import PipelineRun, use_home

pytestmark = pytest.mark.spark

pyspark = pytest.importorskip("pyspark", reason="the spark dependency group: make spark-deps")

SPARK_READY = ("staging int_contacts_per_case int_case_gas_scores int_department_programs "
               "int_calendar_years int_periods int_program_years")

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


def test_spark_builds_the_same_tables(small_first_run: PipelineRun, tmp_path: Path) -> None:
    from warehouse import lake

    home = tmp_path / "spark-home"
    shutil.copytree(small_first_run.home, home,
                    ignore=shutil.ignore_patterns("dagster", "published", "exports"))
    use_home(home)
    built = lake.build_on_spark(SPARK_READY)
    assert built.returncode == 0, built.stdout[-4000:]

    # Views (most staging models) are queries, not data: the tables hold what Spark computed.
    warehouse = home / "lake" / "warehouse"
    tables = sorted((folder.parent.name.removesuffix(".db"), folder.name)
                    for folder in warehouse.glob("*.db/*") if any(folder.glob("*.parquet")))
    assert len(tables) >= 8, tables
    with duckdb.connect(str(home / "warehouse" / "build.duckdb"), read_only=True) as con:
        def columns(schema: str, table: str) -> str:
            return ", ".join(f'"{c}"' for (c,) in con.execute(
                "select column_name from duckdb_columns() where schema_name = ? "
                "and table_name = ? order by column_index", [schema, table]).fetchall())

        expected = rows(con, {f"{s}.{t}": f"{s}.{t}" for s, t in tables})
        actual = rows(con, {f"{s}.{t}": "(select {} from read_parquet('{}/*.parquet'))".format(
            columns(s, t), warehouse / f"{s}.db" / t) for s, t in tables})
    for name in expected:
        assert actual[name] == expected[name], name
