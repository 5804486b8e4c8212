"""A night whose figures did not change draws no chart again: the impact reports written from
the chart cache are the reports the run wrote, and the cache keeps only the charts in use."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from tests.conftest import PipelineRun, copy_home, use_home
from warehouse import paths, reports
from warehouse.exports import publication_day
from warehouse.publish import current_manifest


def html_of_the_day(home: Path) -> dict[Path, bytes]:
    """Every report page in the dated folders (``latest`` points at one of them)."""
    return {p.relative_to(home): p.read_bytes() for p in (home / "reports").rglob("*.html")
            if "latest" not in p.parts}


def test_reports_from_the_cache_equal_the_runs_and_stale_charts_go(
        small_first_run: PipelineRun) -> None:
    home = copy_home(small_first_run.home, "chart-cache")
    use_home(home)
    cache = paths.chart_cache_dir()
    drawn = {p.name: p.stat().st_mtime_ns for p in cache.glob("*.svg")}
    assert drawn, "the run drew its charts into the cache"
    written = html_of_the_day(home)
    assert written
    (cache / f"{'0' * 64}.svg").write_text("<svg/>", encoding="utf-8")  # an earlier night's

    # Written again without a date: the publication's day, as the run's, even after midnight.
    results = reports.write_reports()

    (run_day,) = {dt.date.fromisoformat(p.parts[-2]) for p in written}
    manifest = current_manifest()
    assert manifest is not None and run_day == publication_day(manifest)
    assert results and html_of_the_day(home) == written
    # Not one chart drawn again (each file as the run left it), and the stale one is gone.
    assert {p.name: p.stat().st_mtime_ns for p in cache.glob("*.svg")} == drawn
