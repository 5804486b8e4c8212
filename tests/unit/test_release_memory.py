"""The run worker gives memory a step freed back to the system after the step
(``orchestration.runs.release_memory``): pandas frames fetched from DuckDB leave their freed
pages in pyarrow's allocator, which otherwise keeps them for the rest of the run."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from warehouse.paths import REPO_ROOT

# Frames of strings fetched from DuckDB a chunk at a time, as the batch suites read their rows,
# then dropped: resident memory before and after release_memory().
FETCH_AND_DROP = textwrap.dedent("""
    import json
    import duckdb
    from orchestration.runs import release_memory

    def rss_mb():
        with open("/proc/self/status") as status:
            line = next(l for l in status if l.startswith("VmRSS"))
        return int(line.split()[1]) / 1024

    with duckdb.connect() as con:
        con.execute("set enable_progress_bar = false")
        # pseudonyms and file hashes: strings longer than DuckDB stores inline
        result = con.execute("select md5(i::varchar) as contact_id, "
                             "sha256((i % 50)::varchar) as source_sha256, i as source_line "
                             "from range(3000000) t(i)")
        rows = 0
        while not (frame := result.fetch_df_chunk(100)).empty:
            rows += len(frame)
        del frame, result
    dropped = rss_mb()
    release_memory()
    print(json.dumps({"rows": rows, "dropped": dropped, "released": rss_mb()}))
""")


def test_memory_of_dropped_frames_goes_back_to_the_system() -> None:
    proc = subprocess.run([sys.executable, "-c", FETCH_AND_DROP], cwd=REPO_ROOT,
                          capture_output=True, text=True, check=True)
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    assert figures["rows"] == 3_000_000
    # ~65 MB of the ~100 MB these frames left behind; gc.collect() alone gives back nothing
    assert figures["dropped"] - figures["released"] >= 40, figures


# The worker after loading the definitions and after a step: what the collector tracks, and
# whether a reference cycle a step creates and drops (GX's objects hold such cycles) is still
# collected.
SETTLED = textwrap.dedent("""
    import gc, json
    import orchestration.definitions
    from orchestration.runs import release_memory, settle_definitions

    def rss_mb():
        with open("/proc/self/status") as status:
            line = next(l for l in status if l.startswith("VmRSS"))
        return int(line.split()[1]) / 1024

    tracked_before = len(gc.get_objects())
    settle_definitions()
    tracked_after = len(gc.get_objects())
    cycle = [bytearray(200 * 2**20)]
    cycle.append(cycle)
    held = rss_mb()
    del cycle
    import openpyxl  # a library only some steps import
    imported = len(gc.get_objects())
    release_memory()
    print(json.dumps({"tracked_before": tracked_before, "tracked_after": tracked_after,
                      "imported": imported, "after_step": len(gc.get_objects()),
                      "frozen": gc.get_freeze_count(), "held": held, "released": rss_mb()}))
""")


def test_collector_skips_the_definitions_and_still_frees_the_runs_cycles() -> None:
    proc = subprocess.run([sys.executable, "-c", SETTLED], cwd=REPO_ROOT,
                          capture_output=True, text=True, check=True)
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    # a full collection no longer walks the ~500k objects of dagster, dbt and dlt
    assert figures["tracked_before"] > 200_000, figures
    assert figures["tracked_after"] < figures["tracked_before"] / 50, figures
    assert figures["frozen"] >= figures["tracked_before"] * 0.9, figures
    # nor, after the step, the objects of the library the step imported
    assert figures["imported"] - figures["tracked_after"] > 5_000, figures
    assert figures["after_step"] < 1_000, figures
    # a cycle created during the run is collected when the step ends
    assert figures["held"] - figures["released"] >= 190, figures
