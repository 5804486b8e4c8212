"""Loading the same inbox again adds nothing and changes no figure."""

from __future__ import annotations

import duckdb

from tests.conftest import PipelineRun, copy_home, run_nightly


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


def test_second_run_adds_no_row_and_changes_no_mart(first_run: PipelineRun) -> None:
    before = table_contents(str(first_run.home / "warehouse" / "build.duckdb"))
    published_before = table_contents(str(first_run.home / "published" / "marts.duckdb"))
    home = copy_home(first_run.home, "second-run")

    result = run_nightly(home)

    assert result.success
    after = table_contents(str(home / "warehouse" / "build.duckdb"))
    assert {t: len(r) for t, r in after.items()} == {t: len(r) for t, r in before.items()}
    for table, rows in before.items():
        if table.startswith(("marts.", "intermediate.")):
            assert after[table] == rows, table
    published_after = table_contents(str(home / "published" / "marts.duckdb"))
    for table, rows in published_before.items():
        if not table.startswith("main._"):  # _publication, _checks: this run's own facts
            assert published_after[table] == rows, table
