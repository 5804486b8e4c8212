"""Contacts and bookings (the largest tables) are staged incrementally: a run reads only new loads,
a corrected re-delivery replaces what it delivers again (contacts by id, bookings on every day the
corrected file covers), and a full refresh gives the same staging, intermediate and marts."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import duckdb

from quality import accounting as checks
from tests.conftest import PipelineRun, copy_home, stored_id, use_home

TRANSFORM = Path(__file__).parents[2] / "transform"


def dbt_build(db: Path, *args: str) -> None:
    result = subprocess.run(
        [str(Path(os.sys.executable).parent / "dbt"), "build", *args,
         "--target-path", str(db.parent.parent / "dbt" / "target-incremental")],
        cwd=TRANSFORM, env={**os.environ, "DATENWERK_BUILD_DB": str(db)},
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:]


def contents(db: Path, schemas: tuple[str, ...]) -> dict[str, list[tuple]]:
    with duckdb.connect(str(db), read_only=True) as con:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            f"where table_schema in {schemas!r} and table_type = 'BASE TABLE'").fetchall()
        return {f"{s}.{t}": sorted(con.execute(f'select * from "{s}"."{t}"').fetchall(), key=repr)
                for s, t in tables}


def test_incremental_contacts_and_bookings_equal_a_full_refresh(
    small_first_run: PipelineRun,
) -> None:
    from ingestion import accounting, case_management
    from ingestion.delivery import loaded_hashes
    from ingestion.pipelines import pipeline

    home = copy_home(small_first_run.home, "incremental")
    db = home / "warehouse" / "build.duckdb"
    use_home(home)
    with duckdb.connect(str(db), read_only=True) as con:
        staged_before = con.execute(
            "select count(*), max(load_id) from staging.stg_case_management__contacts"
        ).fetchall()[0]
    # A corrected re-delivery: the first contact of SB now lasts 175 minutes; one new contact.
    sb = home / "inbox" / "case_management" / "swm" / "SB"
    lines = (sb / "kontakte.csv").read_bytes().decode("cp1252").split("\r\n")
    first = lines[1].split(";")
    contact_id = first[0]
    first[4] = "175"
    new = list(first)
    new[0] = "C-99999999"
    (sb / "kontakte_korrektur.csv").write_bytes(
        "\r\n".join([lines[0], ";".join(first), ";".join(new), ""]).encode("cp1252"))
    # A corrected 2024 DATEV file (same Mandant and period) without its first ten lines.
    datev = home / "inbox" / "accounting" / "swm"
    datev_text = (datev / "EXTF_Buchungsstapel_2024.csv").read_bytes().decode("cp1252")
    datev_lines = datev_text.split("\r\n")
    (datev / "EXTF_Buchungsstapel_2024_korrektur.csv").write_bytes(
        "\r\n".join(datev_lines[:2] + datev_lines[12:]).encode("cp1252"))
    for module, source in ((case_management, case_management.case_management),
                           (accounting, accounting.accounting)):
        skip = frozenset(loaded_hashes(module.DATASET))
        pipeline(module.DATASET).run(source(skip_hashes=skip))

    selection = ("--select", "stg_case_management__contacts+", "stg_accounting__bookings+")
    dbt_build(db, *selection)
    with duckdb.connect(str(db), read_only=True) as con:
        staged = con.execute(
            "select count(*), count(distinct contact_id) from staging.stg_case_management__contacts"
        ).fetchall()[0]
        corrected = con.execute(
            "select duration_minutes, load_id from staging.stg_case_management__contacts "
            "where contact_id = ?", [stored_id(home, contact_id)]).fetchall()
    assert staged == (staged_before[0] + 1, staged_before[0] + 1)  # one new, none twice
    assert corrected[0][0] == 175 and corrected[0][1] > staged_before[1]  # the correction won
    with duckdb.connect(str(db), read_only=True) as con:
        files = dict(
            con.execute(
                "select source_file, count(*) from staging.stg_accounting__bookings "
                "where year(document_date) = 2024 group by 1"
            ).fetchall()
        )
        reconciled = checks.reconcile_bookings_to_files(con)
    assert files == {"accounting/swm/EXTF_Buchungsstapel_2024_korrektur.csv": len(datev_lines) - 13}
    assert reconciled.passed, reconciled.description
    incremental = contents(db, ("staging", "intermediate", "marts"))

    dbt_build(db, "--full-refresh", *selection)
    refreshed = contents(db, ("staging", "intermediate", "marts"))
    assert refreshed.keys() == incremental.keys()
    assert "staging.stg_case_management__contacts" in refreshed
    for table, rows in incremental.items():
        assert refreshed[table] == rows, table
