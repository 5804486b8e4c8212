"""``datenwerk erase`` leaves nothing of the client in ``build.duckdb``, on a small hand-made one
(no dlt load, no dbt build): an erasure stopped after its delete is completed by erasing again,
and the built models go also where the dbt project was never parsed."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

import ingestion.erasure as erasure_module
from ingestion.erasure import erase
from ingestion.pseudonymise import ensure_key_file, organisation_key, pseudonym
from tests.conftest import use_home
from warehouse import erasure
from warehouse.changes import full_refresh_requested

ORG, FOLDER = "loesch", "LA"
NUMBERS = [f"LZ-{40000 + i}" for i in range(400)]


def _write_raw(home: Path) -> Path:
    db = home / "warehouse" / "build.duckdb"
    db.parent.mkdir(parents=True)
    key = organisation_key(ORG)
    with duckdb.connect(str(db)) as con:
        con.execute("create schema raw_case_management")
        con.execute("create table raw_case_management.clients (client_id varchar, "
                    "source_file varchar)")
        con.executemany("insert into raw_case_management.clients values (?, ?)",
                        [(pseudonym(n, key), f"case_management/{ORG}/{FOLDER}/klienten.csv")
                         for n in NUMBERS])
    return db


def test_erase_again_completes_an_erasure_stopped_before_the_compaction(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_home(tmp_path)
    ensure_key_file()
    db = _write_raw(tmp_path)
    erased = pseudonym(NUMBERS[7], organisation_key(ORG)).encode()
    assert erased in db.read_bytes()

    def stopped(_db: Path) -> None:
        raise KeyboardInterrupt  # the steward's Ctrl-C, or the machine going down

    with monkeypatch.context() as m:
        m.setattr(erasure_module, "compact", stopped)
        with pytest.raises(KeyboardInterrupt):
            erase(f"{ORG}/{FOLDER}", NUMBERS[7], "Antrag Art. 17")
    # The rows were deleted, their bytes are still in the file's freed blocks.
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("select count(*) from raw_case_management.clients").fetchone() == (
            len(NUMBERS) - 1,)
    assert erased in db.read_bytes()

    result = erase(f"{ORG}/{FOLDER}", NUMBERS[7], "Antrag Art. 17, wiederholt")

    assert result.resumed and not result.found
    assert erased not in db.read_bytes()
    assert full_refresh_requested() is not None
    [entry] = erasure.entries()
    assert not entry.pending
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("select count(*) from raw_case_management.clients").fetchone() == (
            len(NUMBERS) - 1,)

    # Completed: erasing once more changes nothing, not even the file.
    before = db.stat().st_mtime_ns
    again = erase(f"{ORG}/{FOLDER}", NUMBERS[7], "nochmals")
    assert again.already_erased and not again.resumed and not again.found
    assert db.stat().st_mtime_ns == before


def test_erase_drops_the_built_models_of_an_installation_without_a_parsed_project(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A new installation (its dbt project not parsed yet: no manifest) whose steward erases
    before its first run: the built models of the home still go, else the compacted file keeps
    the client's staged ids and the next build only frees their blocks."""
    use_home(tmp_path)
    ensure_key_file()
    db = _write_raw(tmp_path)
    erased = pseudonym(NUMBERS[7], organisation_key(ORG))
    staged = "md5('LA|' || client_id)"
    with duckdb.connect(str(db)) as con:
        for schema in ("staging", "marts"):
            con.execute(f"create schema {schema}")
        con.execute(f"create view staging.stg_clients as select {staged} as client_id "
                    "from raw_case_management.clients")
        con.execute("create table marts.fct_cases as select client_id, 1 as cases "
                    "from staging.stg_clients")
        [(staged_id,)] = con.execute(f"select {staged} from (select ? as client_id)",
                                     [erased]).fetchall()
    assert staged_id.encode() in db.read_bytes()
    monkeypatch.setattr("warehouse.marts.manifest_path",
                        lambda: tmp_path / "install" / "transform" / "target" / "manifest.json")

    result = erase(f"{ORG}/{FOLDER}", NUMBERS[7], "Antrag Art. 17")

    assert result.schemas_dropped == ["marts", "staging"]
    assert staged_id.encode() not in db.read_bytes()
    with duckdb.connect(str(db), read_only=True) as con:
        assert {r[0] for r in con.execute("select schema_name from information_schema.schemata "
                                          "where catalog_name = current_database()")
                .fetchall()} == {"main", "raw_case_management"}


def test_a_load_that_stopped_before_the_erasure_does_not_bring_the_client_back(
        tmp_path: Path) -> None:
    """A run stopped in its load leaves dlt's package (the client's rows in it) in the home; the
    next run loads it before anything new, past the erasure register."""
    from ingestion.pipelines import pipeline

    use_home(tmp_path)
    ensure_key_file()
    _write_raw(tmp_path)
    erased = pseudonym(NUMBERS[7], organisation_key(ORG))
    stopped = pipeline("raw_case_management")
    stopped.extract([{"client_id": erased,
                      "source_file": f"case_management/{ORG}/{FOLDER}/klienten_neu.csv"}],
                    table_name="clients")
    stopped.normalize()
    assert pipeline("raw_case_management").has_pending_data

    erase(f"{ORG}/{FOLDER}", NUMBERS[7], "Antrag Art. 17")

    assert not pipeline("raw_case_management").has_pending_data
