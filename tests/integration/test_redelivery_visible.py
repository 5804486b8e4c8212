"""An identical file delivered again loads nothing, and the steward sees that it came.

Through the real dlt pipelines and the real dbt models of mart_deliveries, on a hand-made inbox:
a department's case list, a copy of it under another name in the same delivery, the file lying
where it was for a night, then written again with the same bytes and sent once more under a third
name. Every delivery of the same bytes after the first is counted on the file's row, with the
date and name of the latest; the file's figures and the cases stay those of one load."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb

from ingestion.demo.generator import HEADERS
from tests.conftest import use_home

ORG, DEPT = "wieder", "SB"
REFERENCE = {
    "departments.csv": "organisation_code,department_code,department_name,data_steward,is_pilot\n"
                       f"{ORG},{DEPT},Schuldnerberatung,K. Steward,false\n",
    "programs.csv": "organisation_code,program_code,department_code,program_name\n"
                    f"{ORG},P-W,{DEPT},Programm W\n",
}
CASES = [[f"W{n}", f"KL-{n}", "P-W", "Selbstmelder", "01.03.2024", "", "", "MA-1"]
         for n in range(1, 6)]
CASES.append(["W6", "KL-6", "P-W", "Selbstmelder", "31.02.2024", "", "", "MA-1"])  # set aside


def load(home: Path, every_source: bool = False) -> None:
    """One nightly load of the case-management exports, as a run does (known files skipped);
    ``every_source``: the reference data and accounting first (none: its tables empty)."""
    from ingestion import accounting, case_management, reference
    from ingestion.delivery import loaded_hashes
    from ingestion.pipelines import pipeline

    use_home(home)
    sources = [(case_management, case_management.case_management)]
    if every_source:
        sources = [(reference, reference.reference), *sources, (accounting, accounting.accounting)]
    for module, source in sources:
        pipeline(module.DATASET).run(source(skip_hashes=frozenset(loaded_hashes(module.DATASET))))


def registrations(home: Path) -> list[tuple[str, str]]:
    with duckdb.connect(str(home / "warehouse" / "build.duckdb"), read_only=True) as con:
        return con.execute("select source_file, outcome from raw_case_management.file_registry "
                           "order by registered_at").fetchall()


def test_a_file_delivered_again_is_counted_on_its_row_and_loads_nothing(tmp_path: Path) -> None:
    from ingestion.pseudonymise import ensure_key_file

    home = tmp_path / "home"
    use_home(home)
    ensure_key_file()
    for name, text in REFERENCE.items():
        (home / "inbox" / "reference" / ORG).mkdir(parents=True, exist_ok=True)
        (home / "inbox" / "reference" / ORG / name).write_text(text, encoding="utf-8")
    folder = home / "inbox" / "case_management" / ORG / DEPT
    folder.mkdir(parents=True)
    data = ("\r\n".join([";".join(HEADERS["faelle"]), *(";".join(r) for r in CASES)])
            + "\r\n").encode("cp1252")
    first = folder / "faelle.csv"
    first.write_bytes(data)
    yesterday = first.stat().st_mtime - 86400
    os.utime(first, (yesterday, yesterday))
    (folder / "faelle_kopie.csv").write_bytes(data)  # the same bytes in the same delivery
    load(home, every_source=True)
    at = "case_management/wieder/SB/"
    assert registrations(home) == [(f"{at}faelle.csv", "loaded"),
                                   (f"{at}faelle_kopie.csv", "repeated")]

    load(home)  # the files lie where they were: no delivery, nothing registered
    assert len(registrations(home)) == 2

    first.write_bytes(data)  # the sender writes the file again, the same bytes
    (folder / "Fälle März.csv").write_bytes(data)  # and sends them once more, renamed
    load(home)
    assert [r for r in registrations(home)[2:]] == [(f"{at}Fälle März.csv", "repeated"),
                                                    (f"{at}faelle.csv", "repeated")]
    load(home)
    assert len(registrations(home)) == 4
    # The row set aside is still the file's problem: its repetition under its own name
    # (loading nothing) does not clear it as a corrected delivery would.
    from orchestration.deliveries import problems

    with duckdb.connect(str(home / "warehouse" / "build.duckdb"), read_only=True) as con:
        found = problems(con, "raw_case_management", latest_per_file=True)
    assert [(p.source_file, p.outcome, p.rows_quarantined) for p in found] == [
        (f"{at}faelle.csv", "loaded", 1)]

    db = home / "warehouse" / "build.duckdb"
    result = subprocess.run(
        [str(Path(sys.executable).parent / "dbt"), "build", "--select", "+mart_deliveries",
         "--target-path", str(home / "dbt" / "target")],
        cwd=Path(__file__).parents[2] / "transform",
        env={**os.environ, "DATENWERK_BUILD_DB": str(db)}, capture_output=True, text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:]
    with duckdb.connect(str(db), read_only=True) as con:
        rel = con.sql("select * from marts.mart_deliveries where source_system = "
                      "'case_management'")
        rows = [dict(zip(rel.columns, r, strict=True)) for r in rel.fetchall()]
        stored_cases = con.execute("select count(*) from raw_case_management.cases").fetchall()
        latest = con.execute("select max(registered_at) from raw_case_management.file_registry"
                             ).fetchall()[0][0]
    [row] = rows  # one file, however often it came
    assert (row["source_file"], row["outcome"], row["rows_read"], row["rows_loaded"],
            row["rows_quarantined"], row["quarantine_rows_stored"]) == (
        f"{at}faelle.csv", "loaded", 6, 5, 1, 1)
    assert row["is_reconciled"] is True
    assert (row["times_delivered_again"], row["last_delivered_again_as"],
            row["last_delivered_again_at"]) == (3, f"{at}faelle.csv", latest)
    assert stored_cases == [(5,)]
