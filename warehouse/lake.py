"""The Spark engine's lake: raw tables as Parquet, in folders any Spark reads without extra jars.

Layout under :func:`warehouse.paths.lake_dir`::

    raw/<dataset>/<table>/<load_id>.<file_id>.parquet   every raw table the loads landed
    raw/<dataset>/completed_loads/...        the loads' _dlt_loads (staging filters by them)
    raw/<dataset>/_dlt_loads, _dlt_version, _dlt_pipeline_state   the lake pipeline's own (JSONL)
    raw/datenwerk_holds/held_loads/...       loads held by a failed batch check
    raw/datenwerk_holds/held_files/...       files held on their own
    warehouse/                               what dbt-spark builds (spark.sql.warehouse.dir)
    metastore_db/                            Spark's catalog (Derby)

The loads land in ``build.duckdb`` (their batch checks, holds and quarantine read them there);
a second dlt pipeline per raw dataset then carries the landing's tables into ``raw/`` with the
filesystem destination, as Arrow batches, Parquet, each table replaced.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import dlt
import duckdb
import pyarrow as pa
from dlt.pipeline.pipeline import Pipeline

from warehouse import datasets, holds, paths, settings
from warehouse.dbt_env import dbt_environment, dbt_executable

RAW_DATASETS = datasets.RAW
HOLDS_DATASET = "datenwerk_holds"
# The DuckDB loads' _dlt_loads in the lake (dlt writes its own _dlt_loads there).
COMPLETED_LOADS = "completed_loads"
BATCH_ROWS = 100_000


def _copy(con: duckdb.DuckDBPyConnection, query: str, folder: Path) -> None:
    """Write ``query``'s rows as one Parquet file in ``folder``, replacing what was there only
    once the new file is complete (a reader never sees half a table)."""
    staging = folder.with_name(folder.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    target = str(staging / "part-0.parquet").replace("'", "''")
    con.execute(f"copy ({query}) to '{target}' (format parquet)")
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)


def _batches(con: duckdb.DuckDBPyConnection, schema: str,
             table: str) -> Iterator[pa.RecordBatch | pa.Table]:
    """The rows of one raw table as Arrow record batches; an empty table as an empty Arrow
    table, so its folder still gets a Parquet file with the columns."""
    reader = con.cursor().sql(f'select * from "{schema}"."{table}"').to_arrow_reader(
        BATCH_ROWS)
    empty = True
    for batch in reader:
        empty = False
        yield batch
    if empty:
        yield reader.schema.empty_table()


def _lake_pipeline(dataset: str, raw: Path) -> Pipeline:
    """The dlt pipeline that writes one raw dataset into the lake as Parquet."""
    settings.apply_process_environment()
    name = f"datenwerk_lake_{dataset}"
    # The rows keep the load ids of their DuckDB loads (staging filters by them); the load
    # into the lake must not stamp its own over them, as the landing's pipelines are asked to.
    os.environ[f"{name.upper()}__NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_LOAD_ID"] = "false"
    return dlt.pipeline(pipeline_name=name,
                        pipelines_dir=str(paths.dlt_dir()),
                        destination=dlt.destinations.filesystem(bucket_url=raw.as_uri()),
                        dataset_name=dataset)


def export_raw(build_db: Path | None = None, lake: Path | None = None) -> dict[str, int]:
    """Load the raw tables into ``lake/raw`` with dlt's filesystem destination (Parquet, one
    dlt dataset per raw schema, each table replaced) and export the holds; returns rows per
    ``dataset.table`` (the completed loads under ``COMPLETED_LOADS``)."""
    build_db = build_db or paths.build_db()
    raw = (lake or paths.lake_dir()) / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    with duckdb.connect(str(build_db), read_only=True) as con:
        tables = con.execute(
            "select schema_name, table_name from duckdb_tables() "
            "where database_name = current_database() and list_contains(?, schema_name) "
            "order by all", [list(RAW_DATASETS)]).fetchall()
        for dataset in RAW_DATASETS:
            resources = []
            for schema, table in tables:
                # dlt keeps its own _dlt_* tables in the dataset's folder; of DuckDB's only the
                # completed loads matter (staging filters by them), under a name of their own.
                if schema != dataset or (table.startswith("_dlt_") and table != "_dlt_loads"):
                    continue
                name = COMPLETED_LOADS if table == "_dlt_loads" else table
                resources.append(dlt.resource(_batches(con, schema, table), name=name,
                                              write_disposition="replace"))
                counts[f"{schema}.{name}"] = con.execute(
                    f'select count(*) from "{schema}"."{table}"').fetchall()[0][0]
            if resources:
                _lake_pipeline(dataset, raw).run(resources, loader_file_format="parquet")
        _copy(con, holds.held_load_ids_sql(), raw / HOLDS_DATASET / "held_loads")
        _copy(con, holds.held_files_sql(), raw / HOLDS_DATASET / "held_files")
    return counts


def dbt_target_dir() -> Path:
    """dbt's artefacts of Spark builds (manifest, ``run_results.json``), apart from DuckDB's."""
    return paths.lake_dir() / "dbt" / "target"


# What dbt-spark writes as Parquet folders (views and ephemeral models are queries, not data).
STORED = {"table", "incremental", "seed"}


def built_tables(manifest: Mapping[str, Any]) -> dict[tuple[str, str], Path]:
    """The folder of every table dbt-spark built in the lake, by (schema, table): seeds and
    models, each as its manifest names it (``<warehouse>/<schema>.db/<table>``)."""
    warehouse = paths.lake_dir() / "warehouse"
    found = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] in ("model", "seed") and node["config"]["materialized"] in STORED:
            schema, table = node["schema"], node["alias"]
            folder = warehouse / f"{schema}.db" / table
            if any(folder.glob("*.parquet")):
                found[(schema, table)] = folder
    return found


def _declared_types(node: Mapping[str, Any]) -> dict[str, str]:
    """A model's column types as its enforced contract declares them (none without one)."""
    if not node.get("config", {}).get("contract", {}).get("enforced"):
        return {}
    return {name: column["data_type"] for name, column in node["columns"].items()
            if column.get("data_type")}


def import_built(manifest_path: Path | None = None, build_db: Path | None = None) -> list[str]:
    """Copy every table dbt-spark built in the lake into the build database, under the same
    schema and name, replacing what was there in one transaction: the checks, the publish gate,
    the publication, the exports and open data then read the Spark build exactly as they read a
    DuckDB one. A column with a type in the model's contract gets that type (Spark writes some
    types wider, an integer sum as ``bigint``); the others keep the type Spark wrote.
    Timestamps are instants (Parquet ``TIMESTAMP_MICROS``, adjusted to UTC). Returns
    ``schema.table`` of every table copied."""
    manifest = json.loads((manifest_path or dbt_target_dir() / "manifest.json").read_text())
    nodes = {(n["schema"], n["alias"]): n for n in manifest["nodes"].values()
             if n["resource_type"] in ("model", "seed")}
    copied = []
    with duckdb.connect(str(build_db or paths.build_db())) as con:
        con.execute("set TimeZone = 'UTC'")
        con.execute("begin")
        for (schema, table), folder in sorted(built_tables(manifest).items()):
            scan = "read_parquet('{}')".format(str(folder / "*.parquet").replace("'", "''"))
            declared = _declared_types(nodes[(schema, table)])
            columns = [name for name, in con.execute(
                f"select column_name from (describe select * from {scan})").fetchall()]
            select = ", ".join(f'cast("{c}" as {declared[c]}) as "{c}"' if c in declared
                               else f'"{c}"' for c in columns)
            con.execute(f'create schema if not exists "{schema}"')
            # A view of an earlier DuckDB build on this home may have the same name.
            if con.execute("select count(*) from duckdb_views() where database_name = "
                           "current_database() and schema_name = ? and view_name = ?",
                           [schema, table]).fetchall()[0][0]:
                con.execute(f'drop view "{schema}"."{table}"')
            con.execute(f'create or replace table "{schema}"."{table}" as '
                        f"select {select} from {scan}")
            copied.append(f"{schema}.{table}")
        con.execute("commit")
    return copied


def spark_dbt(*invocations: list[str]) -> subprocess.CompletedProcess[str]:
    """Run dbt commands (each a list of arguments) with the Spark target on this home's lake,
    one after the other in one process, so they share one local Spark session (its JVM and
    catalog start once; they end with the process). Stops at the first that fails. Artefacts go
    to ``lake/dbt``, apart from DuckDB's."""
    lake = paths.lake_dir()
    env = {**os.environ, **dbt_environment(), "DATENWERK_ENGINE": "spark"}
    common = ["--target", settings.ENGINES["spark"],
              "--target-path", str(dbt_target_dir()),
              "--log-path", str(lake / "dbt" / "logs")]
    command = [str(Path(dbt_executable()).with_name("python")), "-m", "warehouse.lake",
               json.dumps([[*args, *common] for args in invocations])]
    return subprocess.run(command, cwd=paths.TRANSFORM_DIR, env=env, text=True,
                          stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, check=False)


def build_on_spark(select: str | None = None) -> subprocess.CompletedProcess[str]:
    """Export the raw tables into the lake, register them in Spark's catalog and build the dbt
    project on Spark (``select``: a dbt selection, default all): seeds, models in full (see the
    project's ``is_incremental``), their data tests and unit tests, in dbt's order, so a failed
    test skips what depends on it, as on DuckDB. Returns dbt's process (output in ``stdout``);
    ``lake/dbt/target/run_results.json`` holds every node's result."""
    export_raw()
    return spark_dbt(["run-operation", "register_lake_sources"],
                     ["build", "--full-refresh", *(["--select", select] if select else [])])


def _run_in_one_session(invocations: list[list[str]]) -> int:
    """dbt's commands in this process, in order; the exit code of the first that fails."""
    from dbt.cli.main import dbtRunner

    runner = dbtRunner()
    for args in invocations:
        if not runner.invoke(args).success:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(_run_in_one_session(json.loads(sys.argv[1])))
