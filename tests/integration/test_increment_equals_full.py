"""A run after a delivery publishes what a full run on the same inbox publishes.

The run after +1 % contacts builds only what depends on the contacts, reports the recorded
results of checks on content it did not change, rewrites only the departments whose rows
changed and draws again only the charts whose figures changed. None of that may show in what
it publishes: a fresh installation with the same inbox and key, built in one full run, must
publish the same marts, department exports, impact report figures and open data."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import shutil
from pathlib import Path

import duckdb
import openpyxl
import pyarrow.parquet as pq
import pytest

from orchestration.cli import main as datenwerk
from tests.conftest import PipelineRun, copy_home, run_nightly, use_home
from tests.integration.test_partial_build import kept
from tests.integration.test_quality_gate import evaluations, materialised
from warehouse import paths, reports

# Three nights (a full one, a delivery, a fresh full one), over two minutes: make test-long.
pytestmark = pytest.mark.long

# When each file arrived and which load carried it (mart_deliveries, in English and as the
# exports name them): two deliveries and one differ there by design, and nowhere else.
LOAD_COLUMNS = frozenset({"registered_at", "load_id", "Eingegangen am", "Ladevorgang"})


# The workbook's notes on the publication it was written from (by design not the same).
PUBLICATION_ROWS = frozenset({"Stand", "Generation", "Lauf", "Veröffentlicht"})


def _without_load_columns(rows: list[list[object]],
                          columns: frozenset[str] = LOAD_COLUMNS) -> list[str]:
    """The rows (the first holding the column names) without ``columns``, as sorted text (a
    publication's order of equal deliveries is not part of its content)."""
    header = next((row for row in rows if columns & {str(v) for v in row}), None)
    drop = {i for i, name in enumerate(header or []) if str(name) in columns}
    return sorted(repr([v for i, v in enumerate(row) if i not in drop]) for row in rows)


def published_content(home: Path) -> dict[str, list[str]]:
    """Every published mart's rows (not the publication's own records of run and checks)."""
    found = {}
    with duckdb.connect(str(home / "published" / "marts.duckdb"), read_only=True) as con:
        for (table,) in con.sql("select table_name from information_schema.tables "
                                "where table_schema = 'main' order by 1").fetchall():
            if not table.startswith("_"):
                relation = con.table(table)
                found[table] = _without_load_columns([relation.columns,
                                                      *map(list, relation.fetchall())])
    return found


def export_contents(home: Path) -> dict[str, object]:
    """Every department's latest export, file by file, as its readers see it: the CSV's rows,
    the Parquet file's table, the workbook's cell values, the files the manifest lists (it
    also names the generation and time it was written from, which differ by design)."""
    found: dict[str, object] = {}
    for file in sorted((home / "exports").glob("*/latest/*")):
        name = f"{file.parent.parent.name}/{file.name}"
        if file.suffix == ".csv":
            text = file.read_text(encoding="utf-8-sig")
            found[name] = _without_load_columns(list(csv.reader(io.StringIO(text),
                                                                delimiter=";")))
        elif file.suffix == ".parquet":
            table = pq.read_table(file)
            found[name] = _without_load_columns([table.column_names,
                                                 *([row[c] for c in table.column_names]
                                                   for row in table.to_pylist())])
        elif file.suffix == ".xlsx":
            book = openpyxl.load_workbook(file, read_only=True)
            found[name] = {sheet.title: _without_load_columns(
                [list(row) for row in sheet.iter_rows(values_only=True)
                 if row and row[0] not in PUBLICATION_ROWS])
                for sheet in book.worksheets}
            book.close()
        elif file.name == "manifest.json":
            manifest = json.loads(file.read_text(encoding="utf-8"))
            found[name] = sorted((f["file"], f["rows"]) for f in manifest["files"])
        else:
            found[name] = None  # present: the same names in both
    return found


def report_pages(home: Path) -> dict[str, str]:
    """Every impact report of the home's publication as the page it renders, for one fixed
    publication time, generation and date: the same figures, tables and charts give the same
    page. And the report files the run wrote (names only)."""
    use_home(home)
    manifest, source = reports.generation_source(None, "impact reports")
    fixed = {**manifest, "published_at": "2026-01-01T00:00:00+00:00", "generation": "g",
             "run_id": "r"}
    pages: dict[str, str] = {}
    with duckdb.connect(str(source), read_only=True) as con:
        for scope in reports.scopes(con):
            pages[f"{scope.organisation_code}/{scope.folder}"] = reports.render_html(
                reports.Report(con, scope), fixed, dt.date(2026, 1, 1))
    written = sorted("/".join(p.relative_to(paths.impact_reports_dir()).parts[:2] + (p.name,))
                     for p in paths.impact_reports_dir().glob("*/*/latest/*.html"))
    pages["files"] = "\n".join(written)
    return pages


def open_data_files(home: Path) -> dict[str, list[str]]:
    """The open data's tables, without the time each record was last published (HSDS
    ``last_modified``; the catalogue's dates too say when, not what)."""
    return {p.name: _without_load_columns(
                list(csv.reader(io.StringIO(p.read_text(encoding="utf-8")))),
                frozenset({"last_modified"}))
            for p in sorted((home / "open_data").glob("*.csv"))}


def test_a_run_after_a_delivery_publishes_what_a_full_run_on_the_same_inbox_does(
    small_first_run: PipelineRun,
) -> None:
    home = copy_home(small_first_run.home, "increment-equals-full")
    use_home(home)
    assert datenwerk(["demo-data", "--increment", "0.01", "--seed", "11"]) == 0
    delivered = run_nightly(home)
    assert delivered.success
    assert kept(delivered), "a build after new loads keeps what they do not reach"
    # Marts built again whose content the new contacts did not change: their suites report
    # the result recorded on that content (the marts' own tests of this are in
    # test_partial_build.py); the rest of this test shows nothing of it is published.
    rebuilt = {key.path[-1] for key in materialised(delivered)} - kept(delivered)
    reused = {name.removeprefix("gx_") for name, check in evaluations(delivered).items()
              if (check.description or "").startswith("unchanged content")}
    assert rebuilt & reused, (sorted(rebuilt), sorted(reused))

    fresh = home.parent / "increment-equals-full-fresh"
    shutil.rmtree(fresh, ignore_errors=True)
    fresh.mkdir()
    for folder in ("inbox", "secrets"):  # the same deliveries, the same pseudonymisation key
        shutil.copytree(home / folder, fresh / folder)
    full = run_nightly(fresh)
    assert full.success and not kept(full)

    assert published_content(home) == published_content(fresh)
    increment_exports, full_exports = export_contents(home), export_contents(fresh)
    assert any(name.endswith(".xlsx") for name in full_exports)
    assert increment_exports.keys() == full_exports.keys()
    for name, content in full_exports.items():
        assert increment_exports[name] == content, name
    increment_reports, full_reports = report_pages(home), report_pages(fresh)
    assert len(full_reports) > 2 and full_reports["files"]
    assert increment_reports.keys() == full_reports.keys()
    for scope, page in full_reports.items():
        assert increment_reports[scope] == page, scope
    assert open_data_files(home) == open_data_files(fresh) != {}
