"""DuckDB and Spark on the same loaded warehouse, at demo scale (``make bench-spark``,
``bench/results/spark_engines.json``).

Scales from ``DATENWERK_BENCH_SPARK_SCALES`` (default ``"20 100"``). Per scale, in
``<root>/scale-<scale>`` (root: ``DATENWERK_BENCH_ROOT`` when set, and the homes are kept;
else a temporary folder; the tests' conftest replaces ``DATENWERK_HOME`` with its own):

- ``demo_data``: ``datenwerk demo-data --scale <scale>``;
- ``duckdb_nightly``: ``datenwerk run`` on DuckDB once (every Dagster step's seconds, as
  ``test_nightly.py`` records them);
- ``duckdb_dbt``: ``dbt build --full-refresh`` on a copy of the loaded warehouse, outside
  Dagster: DuckDB's transformation alone;
- ``spark``: the Spark engine on the same warehouse (:func:`spark_engine_run`).

Each is a fresh process tree measured by :func:`tests.bench.proctree.measure`: wall and CPU
seconds and peak resident memory of the whole tree (dbt, Spark's JVM), and the 1-minute load
average before and after. Rows per table of both engines, dbt's node summary of both builds
and the commit are recorded. Each scale is written as soon as it is measured, merged into the
scales already in the file, so ``DATENWERK_BENCH_SPARK_SCALES=100`` adds scale 100 to a file
that holds scale 20.

Spark's local session takes its memory from ``DATENWERK_SPARK_DRIVER_MEMORY`` (the profile's
``spark`` target, default ``1g``), recorded with the figures.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.bench import engines
from tests.bench.conftest import RESULTS, record
from tests.bench.proctree import measure
from tests.bench.test_nightly import CHILD, standalone_dbt

REPO = Path(__file__).parents[2]
NAME = "spark_engines"

# Today's Spark engine: the raw tables exported from the DuckDB build database to Parquet in the
# lake, then the whole dbt project built on local Spark in one process (warehouse.lake).
SPARK_BUILD = """
import json
from warehouse import lake, paths
proc = lake.build_on_spark()
(paths.lake_dir() / "dbt" / "bench_build.log").write_text(proc.stdout)
print(json.dumps({"exit": proc.returncode}))
"""


def spark_engine_run(home: Path) -> tuple[str, list[str], dict[str, str]]:
    """What runs the Spark engine on ``home``'s loaded warehouse: its name in the results, the
    command, and the variables it needs beyond the home's. The one place to change when the
    nightly run is orchestrated on Spark; it then becomes::

        return ("datenwerk run, DATENWERK_ENGINE=spark",
                [sys.executable, "-c", CHILD.replace("ARGV", "['run']")],
                {"DATENWERK_ENGINE": "spark"})

    and the child reports Dagster's steps too, as the DuckDB run does."""
    return ("warehouse.lake.build_on_spark (export_raw, dbt build --full-refresh on Spark)",
            [sys.executable, "-c", SPARK_BUILD], {"DATENWERK_ENGINE": "spark"})


def home_env(home: Path) -> dict[str, str]:
    return {**os.environ, "DATENWERK_HOME": str(home), "DAGSTER_HOME": str(home / "dagster"),
            "PYTHONPATH": str(REPO), "DO_NOT_TRACK": "1",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}


def measured(command: list[str], env: dict[str, str], cwd: Path, what: str) -> dict[str, Any]:
    """``measure`` the command; its last stdout line (a JSON object, if any) joins the figures."""
    m = measure(command, env=env, cwd=cwd)
    stdout, stderr = m.pop("stdout"), m.pop("stderr")
    if m["returncode"] != 0:
        raise RuntimeError(f"{what} failed ({m['returncode']}):\n{stdout[-3000:]}{stderr[-3000:]}")
    last = stdout.strip().splitlines()[-1] if stdout.strip() else ""
    if last.startswith("{"):
        reported = json.loads(last)
        assert reported.get("exit", 0) == 0, f"{what} failed:\n{stdout[-3000:]}{stderr[-3000:]}"
        m.update({f"child_{k}" if k in m else k: v for k, v in reported.items()})
    return m


def cli(args: list[str], home: Path, extra: dict[str, str] | None = None) -> dict[str, Any]:
    """``datenwerk ARGS`` in a fresh process tree (the nightly benchmark's child script)."""
    return measured([sys.executable, "-c", CHILD.replace("ARGV", repr(args))],
                    {**home_env(home), **(extra or {})}, REPO, f"datenwerk {' '.join(args)}")


def duckdb_rows(db: Path) -> dict[str, int]:
    """Rows of every table in a DuckDB file, by ``schema.table``."""
    with duckdb.connect(str(db), read_only=True) as con:
        tables = con.execute("select schema_name, table_name from duckdb_tables() "
                             "where database_name = current_database() order by all").fetchall()
        return {f"{s}.{t}": con.execute(f'select count(*) from "{s}"."{t}"').fetchall()[0][0]
                for s, t in tables}


def lake_rows(lake: Path) -> dict[str, int]:
    """Rows of every Parquet table in the lake: what Spark built (``warehouse/<schema>.db``)
    and the raw tables it read (``raw/<dataset>``), by ``schema.table``."""
    folders = {f"{f.parent.name.removesuffix('.db')}.{f.name}": f
               for pattern in ("warehouse/*.db/*", "raw/*/*") for f in lake.glob(pattern)
               if any(f.glob("*.parquet"))}
    with duckdb.connect() as con:
        return {name: con.execute("select count(*) from read_parquet(?)",
                                  [str(folder / "*.parquet")]).fetchall()[0][0]
                for name, folder in sorted(folders.items())}


def folder_mb(folder: Path) -> float:
    return round(sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20, 1)


def commit() -> dict[str, Any]:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True,
                              check=False).stdout.strip()

    return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain"))}


def run_results(target: Path) -> dict[str, Any]:
    path = target / "run_results.json"
    return engines.node_summary(json.loads(path.read_text())) if path.exists() else {}


@pytest.mark.bench_spark
def test_duckdb_and_spark_on_the_same_warehouse(tmp_path: Path) -> None:
    scales = engines.parse_scales(os.environ.get("DATENWERK_BENCH_SPARK_SCALES", "20 100"))
    root = Path(os.environ.get("DATENWERK_BENCH_ROOT") or tmp_path)
    for scale in scales:
        home = root / f"scale-{scale:g}"
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir(parents=True)
        s: dict[str, Any] = {
            **commit(),
            "spark_driver_memory": os.environ.get("DATENWERK_SPARK_DRIVER_MEMORY", "1g"),
            "spark_engine": spark_engine_run(home)[0],
        }
        s["demo_data"] = cli(["demo-data", "--scale", str(scale)], home)
        s["inbox_mb"] = folder_mb(home / "inbox")
        # The same inbox, key and stewards for the nightly run on Spark, before DuckDB's run.
        spark_home = root / f"scale-{scale:g}-spark-nightly"
        shutil.rmtree(spark_home, ignore_errors=True)
        shutil.copytree(home, spark_home)
        s["duckdb_nightly"] = cli(["run"], home)
        build_db = home / "warehouse" / "build.duckdb"
        s["warehouse_mb"] = round(build_db.stat().st_size / 2**20, 1)
        rows: dict[str, dict[str, int]] = {"duckdb": duckdb_rows(build_db)}

        work = home / "duckdb-dbt-alone"
        work.mkdir()
        shutil.copy(build_db, work / "build.duckdb")
        command, env = standalone_dbt(home, work / "build.duckdb", work, "--full-refresh")
        s["duckdb_dbt"] = measured(command, env, REPO / "transform", "dbt build on DuckDB")
        s["duckdb_dbt"]["dbt"] = run_results(work / "target")
        shutil.rmtree(work)  # a second warehouse of this size is not needed any more

        _, command, extra = spark_engine_run(home)
        s["spark"] = measured(command, {**home_env(home), **extra}, REPO, "the Spark engine")
        lake = home / "lake"
        s["spark"]["dbt"] = run_results(lake / "dbt" / "target")
        s["lake_mb"] = {part: folder_mb(lake / part) for part in ("raw", "warehouse")}
        rows["spark"] = lake_rows(lake)
        s["rows"] = rows
        s["rows_compared"] = engines.compare_rows(rows["duckdb"], rows["spark"])
        s["spark_nightly"] = cli(["run"], spark_home, {"DATENWERK_ENGINE": "spark"})
        s["published_marts_compared"] = engines.compare_rows(
            duckdb_rows(home / "published" / "marts.duckdb"),
            duckdb_rows(spark_home / "published" / "marts.duckdb"))
        s["summary"] = engines.summarise(s)

        existing = RESULTS / f"{NAME}.json"
        previous = json.loads(existing.read_text()) if existing.exists() else None
        record(NAME, {"scales": engines.merge_scale(previous, f"{scale:g}", s)})
        failed = {"error", "fail", "skipped", "runtime error"}
        assert not failed & s["spark"]["dbt"].get("by_status", {}).keys(), s["spark"]["dbt"]
        if "DATENWERK_BENCH_ROOT" not in os.environ:
            shutil.rmtree(home, ignore_errors=True)
            shutil.rmtree(spark_home, ignore_errors=True)
