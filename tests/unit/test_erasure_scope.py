"""``datenwerk erase`` takes the client's own cases, as the warehouse knows them now: a case the
source system moved from one client to another belongs to the client its latest delivered
version names (staging's ``latest_by_key``). On a small hand-made ``build.duckdb`` (no dlt load,
no dbt build)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from ingestion.delivery import AcceptedRows, FileOutcome
from ingestion.erasure import erase, leave_out_erased
from ingestion.pseudonymise import ensure_key_file, organisation_key, pseudonym
from tests.conftest import use_home

ORG, FOLDER = "loesch", "LB"
SOURCE = f"case_management/{ORG}/{FOLDER}"


def _p(number: str) -> str:
    return pseudonym(number, organisation_key(ORG))


def _write_raw(home: Path) -> Path:
    """Clients X and Y. Case F-1 was X's, then moved to Y; F-3 was Y's, then moved to X; F-2 is
    X's, F-4 is Y's. Each case has contacts."""
    db = home / "warehouse" / "build.duckdb"
    db.parent.mkdir(parents=True)
    cases = [  # case, client, load, file
        ("F-1", "X", "1700000001.1", "faelle_2024.csv"),
        ("F-1", "Y", "1700000002.1", "faelle_2025.csv"),
        ("F-2", "X", "1700000001.1", "faelle_2024.csv"),
        ("F-3", "Y", "1700000001.1", "faelle_2024.csv"),
        ("F-3", "X", "1700000002.1", "faelle_2025.csv"),
        ("F-4", "Y", "1700000001.1", "faelle_2024.csv"),
    ]
    contacts = {"F-1": 3, "F-2": 2, "F-3": 4, "F-4": 5}
    with duckdb.connect(str(db)) as con:
        con.execute("create schema raw_case_management")
        for table, ids in (("clients", "client_id"), ("cases", "case_id, client_id"),
                           ("contacts", "contact_id, case_id")):
            columns = ", ".join(f"{c} varchar" for c in ids.split(", "))
            con.execute(f"create table raw_case_management.{table} ({columns}, "
                        "source_file varchar, source_line bigint, _dlt_load_id varchar)")
        con.executemany("insert into raw_case_management.clients values (?, ?, 2, ?)",
                        [(_p(c), f"{SOURCE}/klienten.csv", "1700000001.1") for c in "XY"])
        con.executemany("insert into raw_case_management.cases values (?, ?, ?, ?, ?)",
                        [(_p(case), _p(client), f"{SOURCE}/{file}", i + 2, load)
                         for i, (case, client, load, file) in enumerate(cases)])
        con.executemany("insert into raw_case_management.contacts values (?, ?, ?, ?, ?)",
                        [(_p(f"K-{case}-{n}"), _p(case), f"{SOURCE}/kontakte.csv", n + 2,
                          "1700000001.1")
                         for case, count in contacts.items() for n in range(count)])
    return db


def test_erase_takes_the_cases_the_client_has_now_and_leaves_moved_ones(tmp_path: Path) -> None:
    use_home(tmp_path)
    ensure_key_file()
    db = _write_raw(tmp_path)

    result = erase(f"{ORG}/{FOLDER}", "X", "Antrag Art. 17")

    with duckdb.connect(str(db), read_only=True) as con:
        cases = con.execute("select case_id, client_id from raw_case_management.cases "
                            "order by all").fetchall()
        contacts = dict(con.execute("select case_id, count(*) from raw_case_management.contacts "
                                    "group by all").fetchall())
    # F-1 is Y's now: its version that named X goes, Y's stays, and so do its contacts.
    # F-3 is X's now: every version goes, the one that named Y too, with its contacts.
    assert sorted(cases) == sorted([(_p("F-1"), _p("Y")), (_p("F-4"), _p("Y"))])
    assert contacts == {_p("F-1"): 3, _p("F-4"): 5}
    assert result.rows == {"clients": 1, "cases": 4, "contacts": 6, "goals": 0,
                           "assessments": 0}
    assert _p("X").encode() not in db.read_bytes()


def test_a_later_delivery_of_an_erased_clients_case_naming_another_client_loads_without_it(
        tmp_path: Path) -> None:
    """An older or re-made export names F-3 (erased with X, whose case it was last) under Y,
    as before it moved: the case is left out with its contacts, not loaded as Y's again."""
    use_home(tmp_path)
    ensure_key_file()
    _write_raw(tmp_path)
    erase(f"{ORG}/{FOLDER}", "X", "Antrag Art. 17")
    delivered = tmp_path / "inbox" / "case_management" / ORG / FOLDER / "faelle_2024.csv"
    accepted = []
    for entity, delivered_rows in (
        ("cases", [{"case_id": _p(c), "client_id": _p("Y")} for c in ("F-3", "F-4")]),
        ("contacts", [{"contact_id": _p(f"K-{c}-9"), "case_id": _p(c)} for c in ("F-3", "F-4")]),
    ):
        path = tmp_path / f"{entity}.parquet"
        pq.write_table(pa.Table.from_pylist(delivered_rows), path)
        outcome = FileOutcome(delivered, "0" * 64, ORG, entity, "demo", rows_read=2,
                              rows_loaded=2)
        accepted.append((ORG, FOLDER, entity, AcceptedRows(path, 2), outcome))

    assert leave_out_erased(accepted) == 2
    for _, _, entity, rows, outcome in accepted:
        kept = pq.read_table(rows.path).column("case_id").to_pylist()
        assert kept == [_p("F-4")], entity
        assert (rows.rows, outcome.rows_loaded, outcome.rows_erased) == (1, 1, 1)


def test_a_new_case_of_an_erased_client_is_remembered_for_its_later_contacts(
        tmp_path: Path) -> None:
    """An older export names a case of X the warehouse never had (F-5): it is left out, and so
    are its contacts when a later file delivers them alone."""
    use_home(tmp_path)
    ensure_key_file()
    _write_raw(tmp_path)
    erase(f"{ORG}/{FOLDER}", "X", "Antrag Art. 17")
    delivered = tmp_path / "inbox" / "case_management" / ORG / FOLDER / "alt.csv"

    def delivery(entity: str, rows: list[dict[str, str]]
                 ) -> tuple[str, str, str, AcceptedRows, FileOutcome]:
        path = tmp_path / f"{entity}-{len(list(tmp_path.glob('*.parquet')))}.parquet"
        pq.write_table(pa.Table.from_pylist(rows), path)
        outcome = FileOutcome(delivered, "0" * 64, ORG, entity, "demo", rows_read=len(rows),
                              rows_loaded=len(rows))
        return ORG, FOLDER, entity, AcceptedRows(path, len(rows)), outcome

    older = delivery("cases", [{"case_id": _p("F-5"), "client_id": _p("X")}])
    assert leave_out_erased([older]) == 1
    later = delivery("contacts", [{"contact_id": _p("K-F-5-1"), "case_id": _p("F-5")},
                                  {"contact_id": _p("K-F-4-9"), "case_id": _p("F-4")}])
    assert leave_out_erased([later]) == 1
    assert pq.read_table(later[3].path).column("case_id").to_pylist() == [_p("F-4")]
