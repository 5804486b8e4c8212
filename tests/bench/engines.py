"""Figures of the engine comparison (``make bench-spark``): what dbt's run results say, the rows
each engine built, and the summary per scale. Pure functions, so they are tested on their own
(``tests/unit/test_bench_engines.py``)."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any


def parse_scales(text: str) -> list[float]:
    """Demo scales from a setting such as ``"20 100"`` or ``"20,100"``."""
    try:
        scales = [float(part) for part in re.split(r"[\s,]+", text.strip()) if part]
    except ValueError:
        scales = []
    if not scales or any(s <= 0 for s in scales):
        raise ValueError(
            f"DATENWERK_BENCH_SPARK_SCALES: expected positive demo scales, got {text!r}")
    return scales


def node_summary(run_results: dict[str, Any]) -> dict[str, Any]:
    """dbt's ``run_results.json`` in a few figures: its elapsed seconds, how many nodes of each
    kind ran, their statuses, and the seconds spent in nodes (more than elapsed with threads)."""
    results = run_results.get("results", [])
    return {
        "elapsed_s": round(float(run_results.get("elapsed_time", 0.0)), 2),
        "nodes": len(results),
        "by_type": dict(sorted(Counter(r["unique_id"].split(".")[0] for r in results).items())),
        "by_status": dict(sorted(Counter(r["status"] for r in results).items())),
        "node_seconds": round(sum(float(r.get("execution_time") or 0.0) for r in results), 2),
    }


def compare_rows(duckdb_rows: dict[str, int], spark_rows: dict[str, int]) -> dict[str, Any]:
    """Tables both engines hold, and where their row counts differ (``schema.table`` names)."""
    common = sorted(duckdb_rows.keys() & spark_rows.keys())
    return {
        "tables_compared": len(common),
        "differing": {t: [duckdb_rows[t], spark_rows[t]] for t in common
                      if duckdb_rows[t] != spark_rows[t]},
        "only_duckdb": sorted(duckdb_rows.keys() - spark_rows.keys()),
        "only_spark": sorted(spark_rows.keys() - duckdb_rows.keys()),
    }


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a is not None and b else None


def summarise(scale: dict[str, Any]) -> dict[str, Any]:
    """The comparison of one scale: the nightly run and the dbt build on each engine, and
    Spark's cost relative to DuckDB's for the same dbt build (wall and CPU)."""
    nightly, dbt, spark = scale["duckdb_nightly"], scale["duckdb_dbt"], scale["spark"]
    rows = scale.get("rows", {}).get("duckdb", {})
    return {
        "contacts": rows.get("raw_case_management.contacts"),
        "duckdb_nightly": {"wall_s": nightly["wall_s"], "cpu_s": nightly["cpu_s"],
                           "tree_peak_rss_mb": nightly["tree_peak_rss_mb"],
                           "dbt_step_s": nightly.get("steps_s", {}).get("transform_assets")},
        "duckdb_dbt_build": {k: dbt[k] for k in ("wall_s", "cpu_s", "tree_peak_rss_mb")},
        "spark_build": {k: spark[k] for k in ("wall_s", "cpu_s", "tree_peak_rss_mb")},
        "spark_to_duckdb_dbt": {"wall": _ratio(spark["wall_s"], dbt["wall_s"]),
                                "cpu": _ratio(spark["cpu_s"], dbt["cpu_s"]),
                                "peak_rss": _ratio(spark["tree_peak_rss_mb"],
                                                   dbt["tree_peak_rss_mb"])},
        **_nightly_on_spark(nightly, scale.get("spark_nightly")),
    }


def _nightly_on_spark(duckdb: dict[str, Any], spark: dict[str, Any] | None) -> dict[str, Any]:
    """The whole nightly run on Spark (``DATENWERK_ENGINE=spark datenwerk run`` on a fresh copy
    of the same inbox) against DuckDB's, where the scale measured it."""
    if spark is None:
        return {}
    return {
        "spark_nightly": {"wall_s": spark["wall_s"], "cpu_s": spark["cpu_s"],
                          "tree_peak_rss_mb": spark["tree_peak_rss_mb"],
                          "dbt_step_s": spark.get("steps_s", {}).get("transform_assets")},
        "spark_to_duckdb_nightly": {"wall": _ratio(spark["wall_s"], duckdb["wall_s"]),
                                    "cpu": _ratio(spark["cpu_s"], duckdb["cpu_s"]),
                                    "peak_rss": _ratio(spark["tree_peak_rss_mb"],
                                                       duckdb["tree_peak_rss_mb"])},
    }


def merge_scale(existing: dict[str, Any] | None, key: str, entry: dict[str, Any]) -> dict[str, Any]:
    """The result file's scales with ``entry`` for ``key`` added or replaced: scales measured by
    an earlier or a parallel run of the benchmark stay."""
    scales = dict((existing or {}).get("scales", {}))
    scales[key] = entry
    return dict(sorted(scales.items(), key=lambda item: float(item[0])))
