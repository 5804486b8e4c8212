"""`datenwerk erase`: one client leaves the warehouse, the publications and the department
exports, and stays out, through the real dlt loads, the real dbt build, real publications and
real department exports of a small hand-made installation.

Organisation ``loesch`` has two departments with systems of their own whose numbers repeat:
folder LA (clients LZ-40417, LZ-40418, LZ-40419) and folder LB (clients LZ-40417 and LZ-40420).
LA's client LZ-40417 asks for erasure: she has two cases (F-1, F-2) with three contacts and a
goal. LB's LZ-40417 is another person and stays, as does everything of LA's other clients.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from ingestion.demo.generator import HEADERS
from tests.conftest import copy_home, in_staging, load_and_build, stored_id, use_home
from warehouse.exports import today

ORG = "loesch"
NUMBER = "LZ-40417"  # the erased client's number in LA's system
CLIENTS = {
    "LA": [[n, "A", "B", "01.02.1980", "weiblich", "Weg 1", "04109", "Leipzig", "", ""]
           for n in (NUMBER, "LZ-40418", "LZ-40419")],
    "LB": [[n, "C", "D", "03.07.1950", "männlich", "Weg 2", "01067", "Dresden", "", ""]
           for n in (NUMBER, "LZ-40420")],
}
CASES = {
    "LA": [["F-1", NUMBER, "P-A", "Selbstmelder", "01.02.2024", "30.06.2024", "regulär beendet",
            "MA-1"],
           ["F-2", NUMBER, "P-A", "Jobcenter", "01.09.2024", "", "", "MA-1"],
           ["F-3", "LZ-40418", "P-A", "Selbstmelder", "01.03.2024", "30.09.2024",
            "Abbruch durch Klient/in", "MA-2"],
           ["F-4", "LZ-40419", "P-A", "Selbstmelder", "01.04.2024", "", "", "MA-2"]],
    "LB": [["F-1", NUMBER, "P-B", "Selbstmelder", "01.03.2024", "31.05.2024", "regulär beendet",
            "MA-1"],
           ["F-2", "LZ-40420", "P-B", "Selbstmelder", "01.03.2024", "", "", "MA-1"]],
}
CONTACTS = {
    "LA": [["K-1", "F-1", "15.02.2024", "persönlich", "60", "MA-1", "Notiz"],
           ["K-2", "F-1", "15.03.2024", "telefonisch", "20", "MA-1", ""],
           ["K-3", "F-2", "10.09.2024", "persönlich", "45", "MA-1", ""],
           ["K-4", "F-3", "05.03.2024", "persönlich", "30", "MA-2", ""],
           ["K-5", "F-4", "05.04.2024", "online", "50", "MA-2", ""]],
    "LB": [["K-1", "F-1", "10.03.2024", "persönlich", "20", "MA-1", ""],
           ["K-2", "F-2", "20.03.2024", "telefonisch", "25", "MA-1", ""]],
}
GOALS = {
    "LA": [["Z-1", "F-1", "Wohnen", "01.02.2024", "-1", "0", "1", "GAS", "1"],
           ["Z-2", "F-3", "Arbeit", "01.03.2024", "-2", "0", "-1", "GAS", "1"]],
    "LB": [["Z-1", "F-1", "Wohnen", "01.03.2024", "-1", "0", "1", "GAS", "1"]],
}
ERASED_ROWS = {"clients": 1, "cases": 2, "contacts": 3, "goals": 1, "assessments": 0}
REFERENCE = {
    "departments.csv": "organisation_code,department_code,department_name,data_steward,is_pilot\n"
                       "loesch,LA,Abteilung A,L. Steward,true\n"
                       "loesch,LB,Abteilung B,L. Steward,true\n",
    "programs.csv": "organisation_code,program_code,department_code,program_name\n"
                    "loesch,P-A,LA,Programm A\nloesch,P-B,LB,Programm B\n",
    "departments.yml": "departments:\n"
                       "  - {code: LA, marts: [fct_cases, fct_goals, mart_deliveries], "
                       "formats: [csv, parquet]}\n"
                       "  - {code: LB, marts: [fct_cases], formats: [csv, parquet]}\n",
}


def _csv(name: str, rows: list[list[str]]) -> bytes:
    lines = [";".join(HEADERS[name])] + [";".join(r) for r in rows]
    return ("\r\n".join(lines) + "\r\n").encode("cp1252")


def _write_inbox(inbox: Path) -> None:
    (inbox / "reference" / ORG).mkdir(parents=True)
    for name, text in REFERENCE.items():
        (inbox / "reference" / ORG / name).write_text(text, encoding="utf-8")
    for dept in ("LA", "LB"):
        folder = inbox / "case_management" / ORG / dept
        folder.mkdir(parents=True)
        for name, rows in (("klienten", CLIENTS[dept]), ("faelle", CASES[dept]),
                           ("kontakte", CONTACTS[dept]), ("ziele", GOALS[dept]),
                           ("einschaetzungen", [])):
            (folder / f"{name}.csv").write_bytes(_csv(name, rows))
    # A client list whose birth dates are all impossible: rejected as a whole, it moves to
    # protected/rejected/, clear numbers and all.
    (inbox / "case_management" / ORG / "LA" / "klienten_kaputt.csv").write_bytes(_csv(
        "klienten", [[n, "A", "B", "31.02.1980", "weiblich", "", "", "", "", ""]
                     for n in (NUMBER, "LZ-40418")]))


def _marts(db: Path) -> list[str]:
    with duckdb.connect(str(db), read_only=True) as con:
        return [r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts' "
            "order by 1").fetchall()]


def _publish_and_export(db: Path, day: date | None = None) -> str:
    from warehouse.exports import export_departments
    from warehouse.publish import publish

    generation = publish(_marts(db)).generation
    # Each day's folder written, as after a night whose rows changed.
    export_departments(date=day, rewrite_unchanged=day is not None)
    return generation


def _values_found(db: Path, needles: set[str]) -> list[str]:
    """``schema.table.column`` of every text column of every table holding one of ``needles``;
    in a table of delivered rows (with ``source_file``) only rows of LA's folder count: LB's
    own numbers F-1 and LZ-40417 have the same raw pseudonyms."""
    found = []
    with duckdb.connect(str(db), read_only=True) as con:
        columns = con.execute(
            "select c.table_schema, c.table_name, c.column_name, "
            "bool_or(c.column_name = 'source_file') over (partition by c.table_schema, "
            "c.table_name) from information_schema.columns c "
            "join information_schema.tables t using (table_catalog, table_schema, table_name) "
            "where t.table_type = 'BASE TABLE'").fetchall()
        for schema, table, column, delivered in columns:
            la = " and split_part(source_file, '/', 3) = 'LA'" if delivered else ""
            if con.execute(f'select count(*) from "{schema}"."{table}" where list_contains('
                           f'$n, try_cast("{column}" as varchar)){la}',
                           {"n": sorted(needles)}).fetchall()[0][0]:
                found.append(f"{schema}.{table}.{column}")
    return found


def _rows(db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return sorted(con.execute(sql).fetchall(), key=repr)


@dataclass
class Story:
    home: Path
    db: Path
    erased: set[str]  # the client's and its cases' pseudonyms, raw and staged
    raw_erased: set[str]  # of those, the raw ones
    before: dict[str, list[tuple]]  # others' rows before the erasure
    output: str  # what erase printed
    generations_before: list[str]
    raw_found_after_erase: list[str]
    redelivered: dict[str, tuple]  # file -> (outcome, rows_read, rows_loaded, rows_erased)
    rollback_refused: str  # why the current generation could not be restored after the erasure
    refresh_asked: datetime | None  # the full refresh erase asked the next run for


OTHERS = {
    # LA's other clients and everything of LB, row by row, and LB's program's figures.
    "cases": "select * from marts.fct_cases where not list_contains($erased, case_id)",
    "goals": "select * from marts.fct_goals where not list_contains($erased, case_id)",
    "impact_lb": "select * from marts.mart_impact where program_code = 'P-B'",
}


def _others(db: Path, erased: set[str]) -> dict[str, list[tuple]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return {name: sorted(con.execute(
            sql, {"erased": sorted(erased)} if "$erased" in sql else None).fetchall(), key=repr)
            for name, sql in OTHERS.items()}


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    from orchestration.cli import main
    from orchestration.transform import prepare_manifest
    from warehouse.publish import RollbackError, rollback

    prepare_manifest()  # the marts' YAML (department columns, labels) for the exports
    home = tmp_path_factory.mktemp("erasure") / "home"
    _write_inbox(home / "inbox")
    db = load_and_build(home, tests=False)  # the build after the erasure runs every test
    # Two publications and two days of department exports before the erasure.
    generations = [_publish_and_export(db, today() - timedelta(days=1)),
                   _publish_and_export(db, today())]
    client = stored_id(home, NUMBER)
    cases = {stored_id(home, c) for c in ("F-1", "F-2")}
    erased = {client, *cases, in_staging("LA", client), *(in_staging("LA", c) for c in cases)}
    before = _others(db, erased)

    import contextlib
    import io
    import os

    os.environ["DAGSTER_HOME"] = str(home / "dagster")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["erase", "--folder", f"{ORG}/LA", "--client", NUMBER,
                     "--reason", "Antrag nach Art. 17 DSGVO vom 28.11.2026, L. Steward"])
    assert code == 0, out.getvalue()
    raw_found = _values_found(db, {client, *cases})
    from warehouse.changes import full_refresh_requested

    refresh_asked = full_refresh_requested()
    try:  # the current publication, from before the erasure, until the next one replaces it
        rollback(generations[-1])
        refused = ""
    except RollbackError as exc:
        refused = str(exc)

    # The department delivers again: the same client file under another name (the same bytes)
    # and an older export of its cases, re-exported with one more contact of F-2 (other bytes).
    folder = home / "inbox" / "case_management" / ORG / "LA"
    shutil.copy(folder / "klienten.csv", folder / "klienten_erneut.csv")
    (folder / "kontakte_2024.csv").write_bytes(_csv("kontakte", [
        *CONTACTS["LA"], ["K-6", "F-2", "20.09.2024", "persönlich", "30", "MA-1", ""]]))
    (folder / "faelle_alt.csv").write_bytes(_csv("faelle", CASES["LA"][:3]))
    db = load_and_build(home, full_refresh=True)
    _publish_and_export(db)
    registry = {r[0].rsplit("/", 1)[-1]: r[1:] for r in _rows(
        db, "select source_file, outcome, rows_read, rows_loaded, rows_erased "
            "from raw_case_management.file_registry")}
    yield Story(home, db, erased, {client, *cases}, before, out.getvalue(), generations, raw_found,
                registry, refused, refresh_asked)


@pytest.fixture
def at_home(story: Story) -> Story:
    """The story's installation, current for this test (the environment is restored after it)."""
    import os

    use_home(story.home)
    os.environ["DAGSTER_HOME"] = str(story.home / "dagster")
    return story


def test_erase_says_in_german_what_it_erased_and_what_happens_next(story: Story) -> None:
    lines = story.output.splitlines()
    assert lines[0].startswith(f"Gelöscht: eine Klient:in aus {ORG}/LA")
    counts = {line.split()[0]: int(line.split()[1]) for line in lines[2:7]}
    assert counts == {"Klient:innen": 1, "Fälle": 2, "Kontakte": 3, "Ziele": 1,
                      "Einschätzungen": 0}
    # One older generation (the current one stays until the next publication); yesterday's
    # export of LA and of LB (both of the organisation; today's is each one's latest).
    assert "Ältere Veröffentlichungen entfernt: 1; ältere Fachbereichs-Exporte entfernt: 2." in (
        story.output)
    assert "Was jetzt geschieht" in story.output and NUMBER not in story.output


def test_no_raw_table_holds_the_client_after_the_erasure(story: Story) -> None:
    assert story.raw_found_after_erase == []
    # The next run rebuilds every model from every load, and only then publishes.
    [entry] = json.loads((story.home / "protected" / "erasure_register.json").read_text())[
        "erasures"]
    assert story.refresh_asked == datetime.fromisoformat(entry["erased_at"])


def test_the_next_build_publication_and_exports_hold_nothing_of_the_client(story: Story) -> None:
    assert _values_found(story.db, story.erased) == []
    # Not even in freed blocks: the ids keyed by LA's folder are nowhere in the file's bytes
    # (the raw pseudonyms are LB's numbers' too).
    staged = {i for i in story.erased if i not in story.raw_erased}
    assert [i for i in staged if i.encode() in story.db.read_bytes()] == []
    generations = sorted((story.home / "published" / "generations").glob("*.duckdb"))
    assert [g.stem for g in generations if g.stem in story.generations_before] == []
    for generation in [*generations, story.home / "published" / "marts.duckdb"]:
        assert _values_found(generation, story.erased) == [], generation
    exports = sorted((story.home / "exports").rglob("*.*"))
    assert {p.parent.name for p in exports if p.suffix == ".parquet"} == {today().isoformat()}
    for path in exports:
        if path.suffix == ".parquet":
            values = {str(v) for col in pq.read_table(path).columns for v in col.to_pylist()}
        else:
            values = set(path.read_text(encoding="utf-8-sig", errors="replace")
                         .replace(";", "\n").replace('"', "").split())
        assert not values & story.erased, path
    la_cases = pq.read_table(story.home / "exports" / "LA" / "latest" / "fct_cases.parquet")
    assert la_cases.num_rows == 2  # F-3 and F-4


def test_other_clients_rows_and_figures_are_unchanged(story: Story) -> None:
    after = _others(story.db, story.erased)
    assert after == story.before
    assert len(after["cases"]) == 4  # LA's F-3, F-4 and LB's F-1 (its own LZ-40417), F-2


def test_a_redelivery_does_not_bring_the_client_back(story: Story) -> None:
    # The same bytes under another name: recognised, nothing read.
    assert story.redelivered["klienten_erneut.csv"][0] == "repeated"
    # Other bytes: loaded without the client's rows, and counted as erased.
    assert story.redelivered["kontakte_2024.csv"] == ("loaded", 6, 2, 4)
    assert story.redelivered["faelle_alt.csv"] == ("loaded", 3, 1, 2)
    reconciled = _rows(story.db, "select source_file, rows_erased, is_reconciled "
                                 "from marts.mart_deliveries where rows_erased > 0")
    assert [(f.rsplit("/", 1)[-1], n, ok) for f, n, ok in reconciled] == [
        ("faelle_alt.csv", 2, True), ("kontakte_2024.csv", 4, True)]


def test_rollback_cannot_restore_a_publication_from_before_the_erasure(at_home: Story) -> None:
    story = at_home
    from warehouse.publish import list_generations

    assert "was published before the erasure" in story.rollback_refused
    # The next publication removed the one left (it was current until then).
    kept = [m["generation"] for m in list_generations()]
    assert len(kept) == 1 and not set(kept) & set(story.generations_before)


def test_the_clear_number_is_in_no_file_of_the_home_but_the_inbox(story: Story) -> None:
    needle = NUMBER.encode()
    holding = [p.relative_to(story.home).as_posix() for p in story.home.rglob("*")
               if p.is_file() and "inbox" not in p.relative_to(story.home).parts
               and needle in p.read_bytes()]
    # The rejected delivery is a clear export like the inbox's: erase names it for the steward.
    rejected = "protected/rejected/case_management/loesch/LA/klienten_kaputt.csv"
    assert holding == [rejected]
    assert "Abgewiesene Dateien, die die Nummer noch im Klartext enthalten" in story.output
    assert rejected in story.output
    register = json.loads((story.home / "protected" / "erasure_register.json").read_text())
    [entry] = register["erasures"]
    assert (entry["organisation_code"], entry["folder"]) == (ORG, "LA")
    assert entry["rows"] == ERASED_ROWS


def test_an_unknown_number_is_said_so_and_changes_nothing(at_home: Story,
                                                         capsys: pytest.CaptureFixture) -> None:
    from orchestration.cli import main

    story = at_home
    register = story.home / "protected" / "erasure_register.json"
    kept = register.read_bytes(), story.db.read_bytes()
    # LB's own LZ-40420 is no client of LA: numbers count per folder.
    assert main(["erase", "--folder", f"{ORG}/LA", "--client", "LZ-40420",
                 "--reason", "Testanfrage"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Nicht gefunden:") and "Nichts wurde geändert" in err
    assert (register.read_bytes(), story.db.read_bytes()) == kept


def test_rotate_key_keeps_the_erasure(story: Story) -> None:
    from ingestion import case_management
    from ingestion.delivery import loaded_hashes
    from ingestion.pipelines import pipeline
    from ingestion.pseudonymise import rotate_key
    from warehouse import erasure

    home = copy_home(story.home, "erasure-rotated")
    use_home(home)
    old, new, _ = rotate_key()
    [entry] = erasure.entries()
    # Client and both cases, found in the inbox by the old key, recorded under the new one.
    assert len(entry.ids(new, "clients")) == 1 and len(entry.ids(new, "cases")) == 2
    assert entry.ids(new, "clients") == {stored_id(home, NUMBER)}
    # rotate-key drops the old key's rows; the next load reads the whole inbox again.
    skip = frozenset(loaded_hashes(case_management.DATASET))
    pipeline(case_management.DATASET).run(case_management.case_management(skip_hashes=skip))
    db = home / "warehouse" / "build.duckdb"
    erased = {stored_id(home, n) for n in (NUMBER, "F-1", "F-2")}
    assert _values_found(db, erased) == []
    la = _rows(db, "select client_id from raw_case_management.clients "
                   "where split_part(source_file, '/', 3) = 'LA'")
    # LZ-40418 and LZ-40419, from klienten.csv; klienten_erneut.csv repeats its bytes
    assert sorted(r[0] for r in la) == sorted(stored_id(home, n) for n in ("LZ-40418", "LZ-40419"))
    erased_rows = dict(_rows(db, "select split_part(source_file, '/', 4), rows_erased "
                                 "from raw_case_management.file_registry "
                                 "where split_part(source_file, '/', 3) = 'LA'"))
    assert (erased_rows["klienten.csv"], erased_rows["faelle.csv"], erased_rows["kontakte.csv"],
            erased_rows["ziele.csv"]) == (1, 2, 3, 1)
    assert old != new
