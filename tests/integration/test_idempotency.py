"""Loading the same inbox again adds nothing and changes no figure.

The second run is shared with the read-only reader test (tests/integration/conftest.py): a
reader held the published file through it, which must not change what the run wrote."""

from __future__ import annotations

import duckdb

from tests.conftest import PipelineRun
from tests.integration.conftest import ReaderRun


def table_contents(db: str) -> dict[str, list[tuple]]:
    with duckdb.connect(db, read_only=True) as con:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_type = 'BASE TABLE' order by 1, 2"
        ).fetchall()
        return {
            f"{s}.{t}": sorted(con.execute(f'select * from "{s}"."{t}"').fetchall(), key=repr)
            for s, t in tables
        }


def test_second_run_adds_no_row_and_changes_no_mart(
    small_first_run: PipelineRun, second_run: ReaderRun
) -> None:
    # The first run's home is untouched: the second run worked on a copy of it.
    before = table_contents(str(small_first_run.home / "warehouse" / "build.duckdb"))
    published_before = table_contents(str(small_first_run.home / "published" / "marts.duckdb"))
    home = second_run.home

    assert second_run.result.success  # type: ignore[attr-defined]
    after = table_contents(str(home / "warehouse" / "build.duckdb"))
    assert {t: len(r) for t, r in after.items()} == {t: len(r) for t, r in before.items()}
    assert any(t.startswith("marts.") and rows for t, rows in before.items())
    for table, rows in before.items():
        if table.startswith(("marts.", "intermediate.")):
            assert after[table] == rows, table
    published_after = table_contents(str(home / "published" / "marts.duckdb"))
    for table, rows in published_before.items():
        if not table.startswith("main._"):  # _publication, _checks: this run's own facts
            assert published_after[table] == rows, table


def mart_content_hashes(db: str) -> dict[str, str]:
    """sha256 of each published mart's rows (in a fixed order, floats in their exact repr):
    equal hashes are bit-identical figures, not merely the same row counts."""
    import hashlib

    with duckdb.connect(db, read_only=True) as con:
        tables = [r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'main' "
            "and table_type = 'BASE TABLE' and table_name not like '\\_%' escape '\\'"
        ).fetchall()]
        return {
            t: hashlib.sha256(
                "\n".join(sorted(map(repr, con.execute(f'select * from "{t}"').fetchall())))
                .encode()).hexdigest()
            for t in tables
        }


def test_second_run_leaves_every_published_mart_bit_identical(
    small_first_run: PipelineRun, second_run: ReaderRun
) -> None:
    before = mart_content_hashes(str(small_first_run.home / "published" / "marts.duckdb"))
    after = mart_content_hashes(str(second_run.home / "published" / "marts.duckdb"))
    assert {"mart_outcomes", "mart_impact", "mart_srs_report", "fct_cases"} <= set(before)
    assert after == before
