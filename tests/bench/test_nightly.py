"""The nightly run at demo scale: a full run, a run with nothing new, a run with +1 % contacts,
and the floor measured in the same session (``bench/results/nightly.json``).

Scales from ``BENCH_NIGHTLY_SCALES`` (comma-separated, default ``20,100`` as the issue asks;
a busy machine may afford only 20). For each scale, in a fresh DATENWERK_HOME:

- ``full``: ``datenwerk run`` on the generated demo (first load of everything);
- ``no_change``: ``datenwerk run`` again, nothing new delivered;
- ``increment``: ``datenwerk demo-data --increment 0.01`` (a later delivery, +1 % contacts in new
  files), then ``datenwerk run``;
- ``floor``: DuckDB's ``read_csv`` of every delivered CSV file into one database (Excel
  files are listed, not read: DuckDB reads no xlsx offline), plus a
  standalone ``dbt build`` on a copy of the loaded warehouse (the transformation alone);
- ``import_definitions``: ``import orchestration.definitions`` in a fresh process (median of 3).

Each run is a fresh process: wall and CPU seconds (its own and its children's, dbt included),
peak RSS (the larger of its own high-water mark and its largest child's), each Dagster step's
seconds and the run's number of events. While it runs, a thread of the benchmark samples every
process of its tree every 0.2 s (``tests/bench/proctree.py``: resident memory and CPU from
``/proc``); the samples are mapped to the steps by the steps' start and end times in the run's
Dagster event log: ``steps`` gives, per step, the peak of the tree's summed memory, the peak of
its largest process (and which: the CLI, the run worker, dbt, a browser), and the tree's CPU
seconds; ``sampled`` the same for the whole run, for the stretches before the first and after the
last step, and the peak of each process. The machine is shared: ``load_average_1min`` is recorded
before and after each run; compare the ratios within one run of this benchmark, not absolute
seconds across runs.

``BENCH_CODE_DIR`` runs the pipeline from another checkout of Datenwerk with this environment
and ``BENCH_NIGHTLY_NAME`` names the result file (a before/after comparison in one session).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from tests.bench.conftest import record
from tests.bench.proctree import Sampler

REPO = Path(__file__).parents[2]
CODE = Path(os.environ.get("BENCH_CODE_DIR", REPO)).resolve()
SCALES = [float(s) for s in os.environ.get("BENCH_NIGHTLY_SCALES", "20,100").split(",") if s]
INCREMENT = 0.01
NAME = os.environ.get("BENCH_NIGHTLY_NAME", "nightly")  # bench/results/<NAME>.json

# A child process: runs the CLI, then reports its costs and the run's steps as one JSON line.
CHILD = textwrap.dedent("""
    import json, os, resource, sys, time
    started = time.monotonic()
    from orchestration.cli import main
    code = main(ARGV)
    wall = time.monotonic() - started
    me, kids = (resource.getrusage(resource.RUSAGE_SELF),
                resource.getrusage(resource.RUSAGE_CHILDREN))
    status = open("/proc/self/status").read()
    hwm = int(next(l for l in status.splitlines() if l.startswith("VmHWM")).split()[1]) / 1024
    out = {"exit": code, "wall_s": round(wall, 2),
           "cpu_s": round(me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime, 2),
           "peak_rss_mb": round(max(hwm, kids.ru_maxrss / 1024), 1),
           "largest_child_rss_mb": round(kids.ru_maxrss / 1024, 1)}
    if ARGV[0] == "run":
        from dagster import DagsterInstance
        with DagsterInstance.get() as instance:
            run = instance.get_runs(limit=1)[0]
            stats = instance.get_run_step_stats(run.run_id)
            out["steps_s"] = {s.step_key: round(s.end_time - s.start_time, 2) for s in stats
                              if s.end_time and s.start_time}
            out["step_times"] = [[s.step_key, s.start_time, s.end_time] for s in stats
                                 if s.end_time and s.start_time]
            out["events"] = len(instance.all_logs(run.run_id))
    print(json.dumps(out))
""")


def child(args: list[str], home: Path, code: Path = CODE) -> dict[str, Any]:
    """Run ``datenwerk ARGS`` from the checkout ``code`` in a fresh process on ``home``."""
    env = {**os.environ, "DATENWERK_HOME": str(home), "DAGSTER_HOME": str(home / "dagster"),
           "PYTHONPATH": str(code)}
    load_before = os.getloadavg()[0]
    with Sampler(interval=0.2, label=role) as sampler:
        proc = subprocess.run([sys.executable, "-c", CHILD.replace("ARGV", repr(args))],
                              cwd=code, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"datenwerk {' '.join(args)} failed:\n{proc.stderr[-4000:]}")
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    assert figures["exit"] == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    figures["load_average_1min"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    if "step_times" in figures:
        figures.update(per_step(sampler, figures.pop("step_times")))
    return figures


def role(argv: list[str], name: str) -> str:
    """Which process of a run this is, from its command line."""
    text = " ".join(argv)
    if "orchestration.runs import work" in text:
        return "run worker"
    if "from orchestration.cli import main" in text:
        return "datenwerk CLI"
    if any(Path(a).name == "dbt" for a in argv[:2]):
        return "dbt"
    if "chrom" in name.lower() or "headless_shell" in name:
        return "browser"
    return name


def per_step(sampler: Sampler, step_times: list[list[Any]]) -> dict[str, Any]:
    """The samples of a run mapped to its steps (by their start and end times)."""
    starts, ends = [t[1] for t in step_times], [t[2] for t in step_times]
    first, last = sampler.samples[0].at, sampler.samples[-1].at
    return {
        "steps": {key: {"s": round(end - start, 2), **sampler.window(start, end).figures()}
                  for key, start, end in sorted(step_times, key=lambda t: t[1])},
        "sampled": {
            "interval_s": sampler.interval,
            "run": sampler.window(first, last).figures(),
            "before_first_step": sampler.window(first, min(starts)).figures(),
            "after_last_step": sampler.window(max(ends), last).figures(),
            "peak_by_process_mb": {name: round(mb, 1) for name, mb in
                                   sorted(sampler.peaks.items(), key=lambda kv: -kv[1])},
        },
    }


READ_ALL = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    import duckdb
    inbox, work = Path(sys.argv[1]), Path(sys.argv[2])
    files = sorted(p for p in inbox.rglob("*.csv"))
    skipped = sorted(str(p.relative_to(inbox)) for p in inbox.rglob("*") if p.is_file()
                     and p.suffix != ".csv")
    # DuckDB reads no Windows-1252 (its latin-1 refuses the en dash of a note): the exports are
    # copied as UTF-8 first, untimed, so the floor is DuckDB's parse and store alone.
    copies = []
    for i, path in enumerate(files):
        copy = work / f"{i}.csv"
        text = path.read_bytes().decode("utf-8" if "reference" in path.parts else "cp1252")
        copy.write_text(text, encoding="utf-8")
        copies.append((copy, path.name.startswith("EXTF_")))
    started = time.monotonic()
    with duckdb.connect(str(work / "read_csv.duckdb")) as con:
        for i, (copy, datev) in enumerate(copies):
            con.execute(f"create table t{i} as select * from read_csv(?, delim=';', "
                        f"header=true, skip={1 if datev else 0})", [str(copy)])
    print(json.dumps({"seconds": round(time.monotonic() - started, 2), "files": len(files),
                      "bytes": sum(p.stat().st_size for p in files),
                      "not_read": skipped}))
""")


def floor(home: Path, work: Path) -> dict[str, Any]:
    """read_csv of every delivered CSV, and dbt build alone on a copy of the warehouse."""
    proc = subprocess.run([sys.executable, "-c", READ_ALL, str(home / "inbox"), str(work)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    read = json.loads(proc.stdout.strip().splitlines()[-1])
    db = work / "build.duckdb"
    shutil.copy(home / "warehouse" / "build.duckdb", db)
    command, env = standalone_dbt(home, db, work)
    started = time.monotonic()
    dbt = subprocess.run(command, cwd=CODE / "transform", capture_output=True, text=True,
                         check=False, env=env)
    dbt_seconds = time.monotonic() - started
    assert dbt.returncode == 0, dbt.stdout[-3000:] + dbt.stderr[-3000:]
    return {"read_csv_s": read["seconds"], "files": read["files"],
            "bytes": read["bytes"], "not_read": read["not_read"],
            "dbt_build_s": round(dbt_seconds, 2),
            "total_s": round(read["seconds"] + dbt_seconds, 2)}


def standalone_dbt(home: Path, db: Path, work: Path,
                   *args: str) -> tuple[list[str], dict[str, str]]:
    """``dbt build`` (plus ``args``) of the home's project on the warehouse copy ``db``, outside
    Dagster, with its artefacts in ``work``: the command and its environment (run in
    ``transform/``)."""
    command = [str(Path(sys.executable).parent / "dbt"), "--quiet", "build", *args,
               "--target-path", str(work / "target"), "--log-path", str(work / "logs")]
    env = {**os.environ, "DATENWERK_HOME": str(home), "DATENWERK_BUILD_DB": str(db),
           "DATENWERK_HELD_LOADS": str(home / "quality" / "held_loads"),
           # what DuckDB spills beyond its memory limit stays with the copy, not in ./data
           "DATENWERK_DUCKDB_SPILL": str(work / "spill"),
           "DO_NOT_TRACK": "1", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    return command, env


def import_seconds(home: Path) -> float:
    """Median wall time of ``import orchestration.definitions`` in a fresh process."""
    times = []
    env = {**os.environ, "DATENWERK_HOME": str(home), "PYTHONPATH": str(CODE)}
    for _ in range(3):
        started = time.monotonic()
        subprocess.run([sys.executable, "-c", "import orchestration.definitions"], cwd=CODE,
                       env=env, check=True, capture_output=True)
        times.append(time.monotonic() - started)
    return round(statistics.median(times), 2)


@pytest.mark.bench
def test_nightly_full_no_change_and_increment(tmp_path: Path) -> None:
    root = Path(os.environ.get("BENCH_ROOT", tmp_path))
    figures: dict[str, Any] = {"code": str(CODE), "increment_share": INCREMENT, "scales": {}}
    for scale in SCALES:
        home = root / f"nightly-{scale:g}"
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir(parents=True)
        s: dict[str, Any] = {}
        # The data always from this checkout (the same files whichever code runs on them).
        s["demo_data"] = child(["demo-data", "--scale", str(scale)], home, REPO)
        s["import_definitions_s"] = import_seconds(home)
        s["full"] = child(["run"], home)
        s["no_change"] = child(["run"], home)
        s["increment_data"] = child(["demo-data", "--increment", str(INCREMENT)], home, REPO)
        s["increment"] = child(["run"], home)
        work = root / f"floor-{scale:g}"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir()
        s["floor"] = floor(home, work)
        full = s["full"]["wall_s"]
        s["ratios"] = {
            "no_change_to_full": round(s["no_change"]["wall_s"] / full, 3),
            "increment_to_full": round(s["increment"]["wall_s"] / full, 3),
            "full_to_floor": round(full / s["floor"]["total_s"], 3),
            # CPU seconds: what a run costs whatever else the shared machine runs
            "no_change_cpu_to_full": round(s["no_change"]["cpu_s"] / s["full"]["cpu_s"], 3),
            "increment_cpu_to_full": round(s["increment"]["cpu_s"] / s["full"]["cpu_s"], 3),
        }
        figures["scales"][f"{scale:g}"] = s
        record(NAME, figures)  # after each scale: a later failure keeps what was measured
        if "BENCH_ROOT" not in os.environ:
            shutil.rmtree(home, ignore_errors=True)
            shutil.rmtree(work, ignore_errors=True)
