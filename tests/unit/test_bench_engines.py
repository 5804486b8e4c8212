"""The engine benchmark's figures: dbt's run results summed up, rows compared, scales merged, and
the process tree whose memory it adds up (``tests/bench/engines.py``, ``proctree.py``)."""

from __future__ import annotations

import os
import sys

import pytest

from tests.bench import engines, proctree


def test_scales_are_read_with_spaces_or_commas() -> None:
    assert engines.parse_scales("20 100") == [20.0, 100.0]
    assert engines.parse_scales(" 0.5,20 ,") == [0.5, 20.0]
    with pytest.raises(ValueError, match="DATENWERK_BENCH_SPARK_SCALES.*'zero'"):
        engines.parse_scales("zero")
    with pytest.raises(ValueError, match="positive"):
        engines.parse_scales("0")


def test_node_summary_counts_kinds_and_statuses_and_sums_node_seconds() -> None:
    results = {"elapsed_time": 12.345, "results": [
        {"unique_id": "model.datenwerk.fct_cases", "status": "success", "execution_time": 4.5},
        {"unique_id": "test.datenwerk.not_null_x.1a", "status": "pass", "execution_time": 1.25},
        {"unique_id": "test.datenwerk.unique_y.2b", "status": "fail", "execution_time": 0.25},
        {"unique_id": "seed.datenwerk.programs", "status": "success", "execution_time": None},
        {"unique_id": "unit_test.datenwerk.m.t", "status": "skipped"},
    ]}
    assert engines.node_summary(results) == {
        "elapsed_s": 12.35, "nodes": 5,
        "by_type": {"model": 1, "seed": 1, "test": 2, "unit_test": 1},
        "by_status": {"fail": 1, "pass": 1, "skipped": 1, "success": 2},
        "node_seconds": 6.0,
    }
    assert engines.node_summary({})["nodes"] == 0


def test_rows_compared_by_table_name() -> None:
    duck = {"marts.fct_cases": 10, "marts.dim_date": 365, "raw_reference.x": 3}
    spark = {"marts.fct_cases": 10, "marts.dim_date": 366, "datenwerk_holds.held_loads": 0}
    assert engines.compare_rows(duck, spark) == {
        "tables_compared": 2, "differing": {"marts.dim_date": [365, 366]},
        "only_duckdb": ["raw_reference.x"], "only_spark": ["datenwerk_holds.held_loads"]}


def test_summary_relates_spark_to_the_same_dbt_build_on_duckdb() -> None:
    scale = {
        "duckdb_nightly": {"wall_s": 300.0, "cpu_s": 200.0, "tree_peak_rss_mb": 2000.0,
                           "steps_s": {"transform_assets": 120.0}},
        "duckdb_dbt": {"wall_s": 100.0, "cpu_s": 80.0, "tree_peak_rss_mb": 900.0},
        "spark": {"wall_s": 1500.0, "cpu_s": 1000.0, "tree_peak_rss_mb": 2700.0},
        "rows": {"duckdb": {"raw_case_management.contacts": 2_860_000}},
    }
    summary = engines.summarise(scale)
    assert summary["contacts"] == 2_860_000
    assert summary["duckdb_nightly"]["dbt_step_s"] == 120.0
    assert summary["spark_to_duckdb_dbt"] == {"wall": 15.0, "cpu": 12.5, "peak_rss": 3.0}
    scale["duckdb_dbt"]["cpu_s"] = 0.0  # not measurable: no ratio, not a division error
    assert engines.summarise(scale)["spark_to_duckdb_dbt"]["cpu"] is None
    assert "spark_nightly" not in summary  # a scale measured before the run on Spark existed


def test_summary_relates_the_nightly_run_on_spark_to_duckdb_s() -> None:
    scale = {
        "duckdb_nightly": {"wall_s": 120.0, "cpu_s": 80.0, "tree_peak_rss_mb": 2000.0,
                           "steps_s": {"transform_assets": 30.0}},
        "duckdb_dbt": {"wall_s": 20.0, "cpu_s": 20.0, "tree_peak_rss_mb": 400.0},
        "spark": {"wall_s": 300.0, "cpu_s": 200.0, "tree_peak_rss_mb": 1800.0},
        "spark_nightly": {"wall_s": 270.0, "cpu_s": 260.0, "tree_peak_rss_mb": 2500.0,
                          "steps_s": {"transform_assets": 180.0}},
    }
    summary = engines.summarise(scale)
    assert summary["spark_nightly"] == {"wall_s": 270.0, "cpu_s": 260.0,
                                        "tree_peak_rss_mb": 2500.0, "dbt_step_s": 180.0}
    assert summary["spark_to_duckdb_nightly"] == {"wall": 2.25, "cpu": 3.25, "peak_rss": 1.25}


def test_a_scale_is_added_to_the_scales_already_measured() -> None:
    existing = {"benchmark": "spark_engines", "scales": {"20": {"a": 1}, "100": {"a": 2}}}
    merged = engines.merge_scale(existing, "100", {"a": 3})
    assert merged == {"20": {"a": 1}, "100": {"a": 3}}
    assert list(engines.merge_scale(existing, "5", {})) == ["5", "20", "100"]
    assert engines.merge_scale(None, "20", {"a": 1}) == {"20": {"a": 1}}


def test_stat_lines_with_spaces_and_parentheses_in_the_name() -> None:
    # fields 3-13, utime, stime (the process's own CPU), cutime, cstime, 18-21, starttime,
    # vsize, rss, ...
    fields = " ".join(["S", "41"] + ["0"] * 9 + ["30", "12", "5", "6"] + ["0"] * 4 + ["9000"]
                      + ["0", "777"] + ["0"] * 20)
    proc = proctree.parse_stat(f"4242 (java (Spark) x) {fields}")
    assert proc == proctree.Proc(pid=4242, ppid=41, rss_pages=777, cpu_ticks=42, started=9000,
                                 name="java (Spark) x")


def test_tree_memory_adds_every_descendant_not_the_root_nor_strangers() -> None:
    procs = [proctree.Proc(1, 0, 5), proctree.Proc(10, 1, 100), proctree.Proc(11, 10, 200),
             proctree.Proc(12, 11, 300), proctree.Proc(20, 1, 7), proctree.Proc(30, 20, 9)]
    assert sorted(p.pid for p in proctree.descendants(procs, 10)) == [11, 12]
    assert proctree.tree_rss_mb(procs, 10) == 500 * proctree.PAGE_MB


def test_measure_counts_an_orphaned_grandchild() -> None:
    """The grandchild outlives its parent (as Spark's JVM does): its CPU and memory count."""
    grandchild = ("import time; b = bytearray(200 * 2**20); t = time.process_time();"
                  "\nwhile time.process_time() - t < 1.0: pass\ntime.sleep(1.0)")
    parent = (f"import subprocess, sys; subprocess.Popen([sys.executable, '-c', {grandchild!r}]);"
              "print('{\"exit\": 0}')")
    me = os.getpid()
    before = {p.pid for p in proctree._snapshot() if p.ppid == me}
    m = proctree.measure([sys.executable, "-c", parent], env=os.environ, interval=0.1)
    assert m["returncode"] == 0
    assert m["cpu_s"] >= 1.0
    assert m["tree_peak_rss_mb"] >= 200
    left = {p.pid for p in proctree._snapshot() if p.ppid == me} - before
    assert not left, "an orphan left unreaped"
