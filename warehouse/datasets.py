"""The raw datasets the loads write into ``build.duckdb``, one dlt dataset per source.

Names only, and the one question the command line asks of them after a run, so that answering it
imports neither dlt nor the ingestion packages.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

from warehouse import paths
from warehouse.db import table_exists

REFERENCE = "raw_reference"
CASE_MANAGEMENT = "raw_case_management"
ACCOUNTING = "raw_accounting"
# The datasets the dbt project reads (the schemas of its sources).
RAW = (REFERENCE, CASE_MANAGEMENT, ACCOUNTING)


def without_data(datasets: Sequence[str] = RAW) -> list[str]:
    """Those of ``datasets`` into which no file has been loaded yet by a completed load (none
    delivered, or every one rejected): their marts are published, empty."""
    db = paths.build_db()
    if not db.exists():
        return list(datasets)
    empty = []
    with duckdb.connect(str(db), read_only=True) as con:
        for dataset in datasets:
            loaded = table_exists(con, dataset, "file_registry", "_dlt_loads") and con.execute(
                f'select count(*) from "{dataset}".file_registry as r '
                f'join "{dataset}"._dlt_loads as l on l.load_id = r._dlt_load_id '
                "and l.status = 0 where r.outcome = 'loaded'"
            ).fetchall()[0][0]
            if not loaded:
                empty.append(dataset)
    return empty
