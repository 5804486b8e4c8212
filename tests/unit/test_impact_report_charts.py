"""The impact reports' charts: real Vega-Lite specs drawn by vl-convert, each distinct chart once,
kept in the home's chart cache by the hash of its spec."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import use_home
from warehouse import paths, reports

YEARS = (2024, 2025)
CASES: list[dict[str, Any]] = [{"x": "Schuldnerberatung", "Jahr": "2024", "value": 120},
         {"x": "Schuldnerberatung", "Jahr": "2025", "value": 134},
         {"x": None, "Jahr": "2025", "value": 7}]  # a category without a name


def test_a_chart_is_drawn_once_and_then_read_from_the_cache(tmp_path: Path) -> None:
    use_home(tmp_path / "home")
    svg = reports.year_bars("Fälle je Angebot", CASES, ",d", YEARS)
    assert svg.startswith("<svg") and "Schuldnerberatung" in svg and "(ohne Bezeichnung)" in svg
    [cached] = paths.chart_cache_dir().glob("*.svg")
    assert cached.read_text(encoding="utf-8") == svg

    # The same figures again: the cached drawing is what the report gets (no new conversion).
    cached.write_text("<svg><!-- aus dem Cache --></svg>", encoding="utf-8")
    assert reports.year_bars("Fälle je Angebot", CASES, ",d", YEARS) == cached.read_text(
        encoding="utf-8")

    # Other figures are another chart: drawn, and cached beside the first.
    changed = [{**CASES[0], "value": 121}, *CASES[1:]]
    redrawn = reports.year_bars("Fälle je Angebot", changed, ",d", YEARS)
    assert redrawn.startswith("<svg") and "121" in redrawn
    assert len(list(paths.chart_cache_dir().glob("*.svg"))) == 2


def test_an_unreadable_cache_only_costs_a_new_drawing(tmp_path: Path) -> None:
    """A cache that cannot be written (a read-only or full disk) is no reason for a missing
    chart: the report gets its drawing all the same."""
    use_home(tmp_path / "home")
    paths.chart_cache_dir().parent.mkdir(parents=True)
    paths.chart_cache_dir().write_text("not a folder")  # so no file can be written below it
    svg = reports.trend("Kontakte je Monat", [{"x": 1, "Jahr": "2025", "value": 3.5}], ",.1f")
    assert svg.startswith("<svg") and "Kontakte je Monat" in svg
