"""The dlt pipelines that load each source into the warehouse (``build.duckdb``)."""

from __future__ import annotations

import dlt
from dlt.pipeline.pipeline import Pipeline

from warehouse import paths, settings


def pipeline(dataset: str) -> Pipeline:
    """A dlt pipeline writing ``dataset`` (a raw_* schema) into the build database.

    Built from the current ``DATENWERK_HOME`` each time, so separate homes never share a
    working directory or a destination.
    """
    settings.apply_process_environment()
    paths.warehouse_dir().mkdir(parents=True, exist_ok=True)
    return dlt.pipeline(
        pipeline_name=f"datenwerk_{dataset}",
        pipelines_dir=str(paths.dlt_dir()),
        destination=dlt.destinations.duckdb(str(paths.build_db())),
        dataset_name=dataset,
    )
