"""Peak memory of the ``gx_batch_contacts`` suite: a chunk at a time against the whole batch as one
pandas frame (how it ran before), on the same rows (``bench/results/gx_batch_memory.json``); and
narrowed, as it runs now: GX sees only the rows SQL flags for an expectation.

The rows are real loaded contacts: ``BENCH_BATCH_HOME`` names a home whose warehouse holds
loaded demo contacts (the nightly benchmark leaves one under ``BENCH_ROOT``); without it a demo
at scale 2 is generated and loaded first. The contacts are then repeated with new keys until the
batch has ``BENCH_BATCH_ROWS`` rows (default 2.86 million, the contacts of demo scale 100), in a
copy of the warehouse. Each way runs in a fresh process; both must report the same outcome.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.bench.conftest import record

ROWS = int(os.environ.get("BENCH_BATCH_ROWS", "2860000"))
TABLE = 'raw_case_management."contacts"'

CHILD = textwrap.dedent("""
    import json, sys, time
    import duckdb
    from quality import batches, gx
    from warehouse import paths
    mode = sys.argv[1]
    with duckdb.connect(str(paths.build_db()), read_only=True) as con:
        loads = [r[0] for r in con.sql(
            "select load_id from raw_case_management._dlt_loads where status = 0").fetchall()]
    started = time.monotonic()
    if mode in ("chunks", "narrowed"):
        result = batches.validate_batch("raw_case_management", "contacts", loads, run_name=mode,
                                        narrow=mode == "narrowed")
    else:  # the whole batch in one frame, as the suite ran before
        from ingestion.standard import standard
        with duckdb.connect(str(paths.build_db()), read_only=True) as con:
            frame = con.execute("select * from raw_case_management.contacts "
                                "where list_contains(?::varchar[], _dlt_load_id)", [loads]).df()
        spec = standard()["contacts"]
        result = gx.run_suite(batches.entity_suite(spec, "gx_batch_contacts"), frame,
                              asset_name="raw_case_management.contacts", run_name=mode,
                              showable=gx.showable_columns(frame, ["contact_type"]))
    seconds = time.monotonic() - started
    status = open("/proc/self/status").read()
    hwm = int(next(l for l in status.splitlines() if l.startswith("VmHWM")).split()[1]) / 1024
    print(json.dumps({"seconds": round(seconds, 2), "peak_rss_mb": round(hwm, 1),
                      "rows": result.rows, "success": result.success,
                      "failed": [[f["columns"], f.get("unexpected_count")]
                                 for f in result.failed]}))
""")


def loaded_home(root: Path) -> Path:
    given = os.environ.get("BENCH_BATCH_HOME")
    if given:
        return Path(given)
    from dagster import AssetKey

    from tests.conftest import generated_home, run_nightly

    home = generated_home(root / "source", 2)
    result = run_nightly(home, asset_selection=[AssetKey(["raw_case_management", "contacts"])])
    assert result.success  # type: ignore[attr-defined]
    return home


def grown_copy(source: Path, home: Path) -> int:
    """A home whose raw contacts are the source's, repeated with new keys up to ROWS rows."""
    (home / "warehouse").mkdir(parents=True)
    db = home / "warehouse" / "build.duckdb"
    shutil.copy(source / "warehouse" / "build.duckdb", db)
    with duckdb.connect(str(db)) as con:
        rows = con.sql(f"select count(*) from {TABLE}").fetchall()[0][0]
        times = max(1, math.ceil(ROWS / rows))
        con.execute(f"create temp table one as select * from {TABLE}")
        for k in range(1, times):
            con.execute(f"insert into {TABLE} select * replace ("
                        f"source_line + {k} * 100000000 as source_line, "
                        f"contact_id || '-{k}' as contact_id) from one")
        return con.sql(f"select count(*) from {TABLE}").fetchall()[0][0]


def measured(mode: str, home: Path) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-c", CHILD, mode], capture_output=True, text=True,
                          env={**os.environ, "DATENWERK_HOME": str(home)}, check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.bench
def test_batch_suite_memory_does_not_grow_with_the_batch(tmp_path: Path) -> None:
    home = tmp_path / "grown"
    rows = grown_copy(loaded_home(tmp_path), home)
    whole = measured("whole", home)
    chunks = measured("chunks", home)
    narrowed = measured("narrowed", home)
    for other in (chunks, narrowed):
        assert (other["rows"], other["success"], other["failed"]) == (
            whole["rows"], whole["success"], whole["failed"])
    record("gx_batch_memory", {
        "rows": rows,
        "whole_frame": whole,
        "chunks": chunks,
        "narrowed": narrowed,
        "peak_rss_ratio_chunks_to_whole": round(chunks["peak_rss_mb"] / whole["peak_rss_mb"], 3),
        "seconds_ratio_chunks_to_whole": round(chunks["seconds"] / whole["seconds"], 3),
        "peak_rss_ratio_narrowed_to_whole": round(
            narrowed["peak_rss_mb"] / whole["peak_rss_mb"], 3),
        "seconds_ratio_narrowed_to_whole": round(narrowed["seconds"] / whole["seconds"], 3),
    })
