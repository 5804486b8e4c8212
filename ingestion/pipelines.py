"""The dlt pipelines that load each source into the warehouse (``build.duckdb``)."""

from __future__ import annotations

import dlt
from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials
from dlt.pipeline.pipeline import Pipeline

from warehouse import paths, settings


def pipeline(dataset: str) -> Pipeline:
    """A dlt pipeline writing ``dataset`` (a raw_* schema) into the build database.

    Built from the current ``DATENWERK_HOME`` each time, so separate homes never share a
    working directory or a destination. Its DuckDB has the same memory limit as dbt's
    (``DATENWERK_DUCKDB_MEMORY_LIMIT``): by default DuckDB keeps up to 80 % of the machine's
    memory for the blocks a large load inserts; beyond the limit it spills next to the database
    (``build.duckdb.tmp``, inside the home).
    """
    settings.apply_process_environment()
    paths.warehouse_dir().mkdir(parents=True, exist_ok=True)
    return dlt.pipeline(
        pipeline_name=f"datenwerk_{dataset}",
        pipelines_dir=str(paths.dlt_dir()),
        destination=dlt.destinations.duckdb(DuckDbCredentials(
            str(paths.build_db()),
            global_config={"memory_limit": settings.duckdb_memory_limit()})),
        dataset_name=dataset,
    )
