"""Write - audit - publish: the analysts' copy of the marts.

The pipeline writes only ``build.duckdb``. After every blocking check has passed, the marts are
copied into a new DuckDB file, which is checkpointed, closed, fsynced and atomically renamed over
``published/marts.duckdb``. A reader that has the old file open keeps reading the old file; no
one ever sees half a refresh; a failed or blocked run never reaches this step and so leaves the
last good publication in place.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb
import pandas as pd

from warehouse import paths

MARTS_SCHEMA = "marts"


@dataclass(frozen=True)
class Publication:
    path: str
    published_at: datetime
    row_counts: dict[str, int]


def mart_frame(name: str) -> pd.DataFrame:
    """A mart of the build database as a pandas DataFrame (for validation)."""
    with duckdb.connect(str(paths.build_db()), read_only=True) as con:
        return con.sql(f'select * from {MARTS_SCHEMA}."{name}"').df()


def publish(marts: Sequence[str], run_id: str | None = None) -> Publication:
    """Copy ``marts`` from the build database into a fresh file and swap it in atomically."""
    target = paths.published_db()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.stem}-{uuid.uuid4().hex}.duckdb.tmp")
    published_at = datetime.now(UTC)
    counts: dict[str, int] = {}
    try:
        with duckdb.connect(str(tmp)) as con:
            con.execute(f"attach '{paths.build_db()}' as build (read_only)")
            for mart in marts:
                con.execute(
                    f'create table main."{mart}" as select * from build.{MARTS_SCHEMA}."{mart}"'
                )
                counts[mart] = con.execute(f'select count(*) from main."{mart}"').fetchall()[0][0]
            con.execute(
                "create table main._publication as "
                "select ?::timestamptz as published_at, ?::varchar as run_id, "
                "?::varchar[] as marts",
                [published_at, run_id, list(marts)],
            )
            con.execute("detach build")
            con.execute("checkpoint")
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    finally:
        if tmp.exists():
            tmp.unlink()
        wal = tmp.with_name(tmp.name + ".wal")
        if wal.exists():
            wal.unlink()
    return Publication(str(target), published_at, counts)
