"""No direct identifier the generator planted survives ingestion: not in the warehouse, not in
the published file, not in dlt's working directories (load packages, state, schemas)."""

from __future__ import annotations

import gzip
import json
import zlib
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from tests.conftest import PipelineRun

# Identifier kinds that must never be stored, and those only shorter than this are left to the
# exact-match query (short strings such as first names also occur in staff names of reference data).
PII_KINDS = ("full_names", "streets", "phones", "emails", "birth_dates", "birth_dates_iso", "notes")
RAW_ID_KINDS = ("client_numbers", "caseworker_numbers", "staff_numbers")


def planted(run: PipelineRun) -> dict[str, list[str]]:
    data = json.loads((run.home / "demo_truth" / "planted_pii.json").read_text(encoding="utf-8"))
    return {k: [str(v) for v in vals] for k, vals in data.items()}


def string_columns(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str]]:
    return con.execute(
        "select table_schema, table_name, column_name from information_schema.columns "
        "where data_type = 'VARCHAR' and table_schema not in ('information_schema', 'pg_catalog')"
    ).fetchall()


def hits_in_duckdb(db: Path, needles: list[str]) -> list[str]:
    found = []
    with duckdb.connect(str(db), read_only=True) as con:
        columns = string_columns(con)
        con.execute("create temp table needles as select unnest(?::varchar[]) as v", [needles])
        for schema, table, column in columns:
            rows = con.execute(
                f'select distinct n.v from "{schema}"."{table}" t '
                f'join temp.needles n on contains(t."{column}", n.v)'
            ).fetchall()
            found += [f"{schema}.{table}.{column}: {r[0]}" for r in rows]
    return found


def file_texts(folder: Path) -> list[tuple[Path, bytes]]:
    """Every file under ``folder`` as bytes, decompressed where dlt compresses."""
    out = []
    for path in folder.rglob("*"):
        if not path.is_file():
            continue
        raw = path.read_bytes()
        if path.suffix == ".parquet":
            table = pq.read_table(path)
            raw = json.dumps(table.to_pylist(), default=str, ensure_ascii=False).encode()
        elif raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        else:
            try:
                raw = zlib.decompress(raw)
            except zlib.error:
                pass
        out.append((path, raw))
    return out


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


# Everything under DATENWERK_HOME except the deliveries themselves, the protected folder (mode
# 0700: rejected files and steward reports), the key and the generator's own truth.
NOT_SEARCHED = {"inbox", "protected", "secrets", "demo_truth"}


def test_no_identifier_in_any_artefact_outside_the_protected_folder(first_run: PipelineRun) -> None:
    """dlt working directories, Dagster storage (event log, run storage), dbt artefacts and logs."""
    pii = planted(first_run)
    # Every name, street, phone, e-mail and birth date, and the first 300 notes (each note is
    # long and unique, 300 are plenty to catch a leak of the notes column).
    needles = [v for k in PII_KINDS for v in pii.get(k, [])[: 300 if k == "notes" else None]
               if len(v) >= 8]
    encoded = sorted({n.encode(enc, errors="replace") for n in needles for enc in ("utf-8", "cp1252")})
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
