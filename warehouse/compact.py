"""Compacting a DuckDB file: a copy of what it holds replaces it.

DuckDB marks deleted rows and dropped tables free and reuses their blocks later; until then their
bytes stay in the file. After an erasure (:mod:`ingestion.erasure`) they must not: the database is
copied into a new file (``COPY FROM DATABASE``), which holds only live rows, and renamed over the
old one. Only call it while nobody else has the file open (between runs, under the run lock).
"""

from __future__ import annotations

import os
import stat
import uuid
from pathlib import Path

import duckdb

from warehouse.db import sql_name, sql_text
from warehouse.files import fsync_dir, fsync_file


def compact(db: Path) -> None:
    """Replace ``db`` by a copy of its live content (same schemas, tables, views, data)."""
    tmp = db.with_name(f".{db.name}-{uuid.uuid4().hex}.compact.tmp")
    try:
        with duckdb.connect() as con:
            # Attached under its own name: views that name their catalog bind while copied.
            name = sql_name(db.stem)
            con.execute(f"attach {sql_text(str(db))} as {name} (read_only)")
            con.execute(f"attach {sql_text(str(tmp))} as compacted")
            con.execute(f"copy from database {name} to compacted")
            con.execute("detach compacted")
            con.execute(f"detach {name}")
        tmp.chmod(stat.S_IMODE(db.stat().st_mode))  # as private as the file it replaces
        fsync_file(tmp)
        os.replace(tmp, db)
        fsync_dir(db.parent)
    finally:
        for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
            leftover.unlink(missing_ok=True)
