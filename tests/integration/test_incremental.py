"""Contacts and bookings (the largest tables) are staged incrementally: a run reads only new loads,
a corrected re-delivery replaces what it delivers again (contacts by id, bookings on every day the
corrected file covers), and a full refresh gives the same staging, intermediate and marts."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import duckdb

from quality import accounting as checks
from tests.conftest import PipelineRun, copy_home, staged_id, use_home

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
            "where contact_id = ?", [staged_id(home, "SB", contact_id)]).fetchall()
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


def _contacts_by_case(path: Path) -> tuple[list[str], dict[str, list[list[str]]]]:
    """A contacts export's header and its rows by case number (Fall-Nr, the second column)."""
    header, *lines = path.read_bytes().decode("cp1252").split("\r\n")
    by_case: dict[str, list[list[str]]] = {}
    for fields in (line.split(";") for line in lines if line):
        by_case.setdefault(fields[1], []).append(fields)
    return [header], by_case


def test_contacts_per_case_recount_only_changed_cases_and_equal_a_full_refresh(
    small_first_run: PipelineRun,
) -> None:
    """A re-delivery that moves contacts between cases: the case that gave away its only
    contact loses its row (a full build has none), both cases of a moved contact are counted
    again, a late contact counts for its case; cases nothing reached keep their rows as built,
    and every intermediate and mart table equals a full refresh."""
    from ingestion import case_management
    from ingestion.delivery import loaded_hashes
    from ingestion.pipelines import pipeline

    home = copy_home(small_first_run.home, "incremental-cases")
    db = home / "warehouse" / "build.duckdb"
    use_home(home)
    sb = home / "inbox" / "case_management" / "swm" / "SB"
    header, by_case = _contacts_by_case(sb / "kontakte.csv")
    # (notes hold no ';' in the demo's first columns; only the first six fields are changed)
    single = next(case for case, rows in by_case.items() if len(rows) == 1)
    several = [case for case, rows in by_case.items() if len(rows) >= 3]
    receiver, giver, late, untouched = several[0], several[1], several[2], several[3]
    moved_single = [by_case[single][0][0], receiver, *by_case[single][0][2:]]
    moved_other = [by_case[giver][0][0], receiver, *by_case[giver][0][2:]]
    late_contact = ["C-99999998", late, *by_case[late][0][2:]]
    (sb / "kontakte_verschoben.csv").write_bytes("\r\n".join(
        [*header, *(";".join(row) for row in (moved_single, moved_other, late_contact)), ""]
    ).encode("cp1252"))
    skip = frozenset(loaded_hashes(case_management.DATASET))
    pipeline(case_management.DATASET).run(case_management.case_management(skip_hashes=skip))

    def per_case(con: duckdb.DuckDBPyConnection, case: str) -> list[tuple]:
        return con.execute(
            "select n_contacts, load_id from intermediate.int_contacts_per_case "
            "where case_id = ?", [staged_id(home, "SB", case)]).fetchall()

    with duckdb.connect(str(db), read_only=True) as con:
        before = {case: per_case(con, case) for case in (single, receiver, giver, late, untouched)}
    dbt_build(db, "--select", "stg_case_management__contacts+")
    with duckdb.connect(str(db), read_only=True) as con:
        after = {case: per_case(con, case) for case in (single, receiver, giver, late, untouched)}
    assert after[single] == []
    assert after[receiver][0][0] == before[receiver][0][0] + 2
    assert after[giver][0][0] == before[giver][0][0] - 1
    assert after[late][0][0] == before[late][0][0] + 1
    for case in (receiver, late):  # counted again: the new load is the newest of both
        assert after[case][0][1] > before[untouched][0][1]
    assert after[untouched] == before[untouched]
    incremental = contents(db, ("intermediate", "marts"))

    dbt_build(db, "--full-refresh", "--select", "stg_case_management__contacts+")
    refreshed = contents(db, ("intermediate", "marts"))
    assert refreshed.keys() == incremental.keys()
    for table, rows in incremental.items():
        assert refreshed[table] == rows, table
