"""An erasure stopped after its delete (before the compaction, or the removal of the models and
publications) is completed by ``datenwerk erase`` again, on a small hand-made ``build.duckdb``:
the deleted client's pseudonym must not stay in the file's freed blocks."""

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
