"""No direct identifier the generator planted survives ingestion: not in the warehouse, not in
the published file, not in dlt's working directories (load packages, state, schemas)."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from tests.conftest import PipelineRun
from tests.privacy_scan import (
    NOT_SEARCHED,
    file_bytes,
    hits_in_duckdb,
    leaked_keys,
    source_keys,
)

# Identifier kinds that must never be stored, and those only shorter than this are left to the
# exact-match query (short strings such as first names also occur in staff names of reference data).
PII_KINDS = ("full_names", "streets", "phones", "emails", "birth_dates", "birth_dates_iso", "notes")
RAW_ID_KINDS = ("client_numbers", "caseworker_numbers", "staff_numbers")


def planted(run: PipelineRun) -> dict[str, list[str]]:
    data = json.loads((run.home / "demo_truth" / "planted_pii.json").read_text(encoding="utf-8"))
    return {k: [str(v) for v in vals] for k, vals in data.items()}


def file_texts(folder: Path) -> list[tuple[Path, bytes]]:
    """Every file under ``folder`` as bytes, decompressed where dlt compresses."""
    return [(path, file_bytes(path)) for path in folder.rglob("*") if path.is_file()]


def test_planted_identifiers_were_planted(first_run: PipelineRun) -> None:
    pii = planted(first_run)
    inbox = b"".join(p.read_bytes() for p in (first_run.home / "inbox").rglob("*.csv"))
    for kind in ("full_names", "emails", "phones", "notes"):
        assert pii[kind], kind
    # The test can fail: these values really are in the exports.
    assert pii["emails"][0].encode("cp1252") in inbox
    assert pii["phones"][0].encode("cp1252") in inbox


def test_no_identifier_in_warehouse_or_published_file(first_run: PipelineRun) -> None:
    pii = planted(first_run)
    needles = [v for k in (*PII_KINDS, *RAW_ID_KINDS) for v in pii.get(k, [])]
    for db in (first_run.home / "warehouse" / "build.duckdb",
               first_run.home / "published" / "marts.duckdb"):
        assert hits_in_duckdb(db, needles) == [], db


def test_no_identifier_in_any_artefact_outside_the_protected_folder(first_run: PipelineRun) -> None:
    """dlt working directories, Dagster storage (event log, run storage), dbt artefacts and logs."""
    pii = planted(first_run)
    # Every name, street, phone, e-mail and birth date, and the first 300 notes (each note is
    # long and unique, 300 are plenty to catch a leak of the notes column).
    needles = [v for k in PII_KINDS for v in pii.get(k, [])[: 300 if k == "notes" else None]
               if len(v) >= 8]
    encoded = sorted(
        {n.encode(enc, errors="replace") for n in needles for enc in ("utf-8", "cp1252")}
    )
    folders = [p for p in first_run.home.iterdir() if p.is_dir() and p.name not in NOT_SEARCHED]
    assert {"dlt", "dagster", "dbt", "warehouse"} <= {p.name for p in folders}
    files = [f for folder in folders for f in file_texts(folder) if f[0].suffix != ".duckdb"]
    assert len(files) > 20, "too few artefacts: nothing was really checked"
    leaks = sorted({(str(p.relative_to(first_run.home)), n.decode(errors="replace"))
                    for p, raw in files for n in encoded if n in raw})
    assert leaks == []


def test_planted_identifiers_are_found_where_they_are_allowed(first_run: PipelineRun) -> None:
    """The search itself works: the same needles are found in the exports."""
    pii = planted(first_run)
    blob = b"".join(raw for _, raw in file_texts(first_run.home / "inbox"))
    assert any(e.encode("cp1252") in blob for e in pii["emails"])
    assert any(n.encode("cp1252") in blob for n in pii["full_names"] if n.isascii())


def test_identifiers_are_stable_keyed_pseudonyms(first_run: PipelineRun) -> None:
    from ingestion.pseudonymise import pseudonym

    db = first_run.home / "warehouse" / "build.duckdb"
    with duckdb.connect(str(db), read_only=True) as con:
        ids = [r[0] for r in con.execute(
            "select distinct client_id from raw_case_management.clients"
        ).fetchall()]
    raw_numbers = planted(first_run)["client_numbers"]
    key = (first_run.home / "secrets" / "pseudonym.key").read_text().strip().encode()
    assert len(ids) == len(raw_numbers)
    assert set(ids) == {pseudonym(n, key) for n in raw_numbers}


def test_no_source_system_number_in_clear_anywhere(first_run: PipelineRun) -> None:
    """Client, case, contact, goal, assessment and staff numbers as the deliveries hold them
    appear nowhere: not in build.duckdb, the published file, its generations, department exports,
    open data or any other artefact; only their keyed pseudonyms do."""
    needles = source_keys(first_run.home / "inbox")
    assert len(needles) > 1000  # every number of every delivered entity
    assert (first_run.home / "exports").is_dir() and (first_run.home / "open_data").is_dir()
    assert any((first_run.home / "published" / "generations").iterdir())
    assert leaked_keys(first_run.home, needles) == []


def test_the_key_scan_finds_clear_numbers(first_run: PipelineRun, tmp_path: Path) -> None:
    """The scan can fail: a clear case number in a copy of a published table is found."""
    import shutil

    home = tmp_path / "home"
    (home / "published").mkdir(parents=True)
    shutil.copy(first_run.home / "published" / "marts.duckdb", home / "published" / "x.duckdb")
    needles = source_keys(first_run.home / "inbox")
    with duckdb.connect(str(home / "published" / "x.duckdb")) as con:
        con.execute("update fct_cases set case_id = ? where rowid = 0", [min(needles)])
    (home / "open_data").mkdir()
    (home / "open_data" / "x.csv").write_text(f"a;b\n1;{max(needles)}\n")
    assert len(leaked_keys(home, needles)) == 2
