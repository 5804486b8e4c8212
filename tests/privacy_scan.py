"""Searching an installation for the source system's numbers and other planted values.

The needles come from the deliveries themselves: every column an export profile maps onto an
identifier of the standard (client, case, contact, goal, assessment, staff numbers). A derived
key (client number + start date) is covered by its identifier part: the clear client number is
a token of the clear derived key, wherever that would appear. The haystack is every artefact
outside the inbox, the protected folder, the key and the generator's truth: every VARCHAR column
of every DuckDB file (build, published, generations) and the bytes of every other file
(department exports, open data, dlt packages, Dagster storage, dbt artefacts, logs).

Values are compared as whole tokens (runs of letters, digits and '-'), not as substrings: a
numeric client number such as ``4711`` may occur by chance inside a hexadecimal pseudonym, and
that is no leak.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import zipfile
import zlib
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

# Everything under DATENWERK_HOME except the deliveries themselves, the protected folder (mode
# 0700: rejected files and steward reports), the key and the generator's own truth.
NOT_SEARCHED = {"inbox", "protected", "secrets", "demo_truth"}
TOKEN = re.compile(rb"[0-9A-Za-z-]+")
TOKEN_SPLIT_SQL = "[^0-9A-Za-z-]+"


def source_keys(inbox: Path) -> set[str]:
    """Every value of an identifier column in the case-management deliveries under ``inbox``."""
    from ingestion.case_management import detect_mappings
    from ingestion.case_management.helpers import _excel_frame, read_header
    from ingestion.standard import standard

    found: set[str] = set()
    for path in sorted((inbox / "case_management").rglob("*")):
        if not path.is_file():
            continue
        profile, mappings = detect_mappings(path)
        for mapping in mappings:
            spec = standard()[mapping.entity]
            columns = {mapping.columns[f] for f in mapping.columns
                       if spec.fields[f].pseudonymise}
            header = read_header(path, profile)
            if header.is_excel:
                table, _ = _excel_frame(path, header)  # its empty rows hold no number
                rows = [dict(zip(table.column_names, r, strict=True))
                        for r in zip(*(table[c].to_pylist() for c in table.column_names),
                                     strict=True)]
            else:
                text = path.read_bytes().decode(header.encoding).lstrip("\ufeff")
                lines = csv.reader(io.StringIO(text), delimiter=header.delimiter)
                next(lines, None)  # the header, named as the load reads it: header.names
                rows = [dict(zip(header.names, r, strict=False)) for r in lines]
            for row in rows:
                found |= {str(row[c]).strip() for c in columns if row.get(c) not in (None, "")}
    return found


def searched_files(home: Path) -> list[Path]:
    """Every artefact of an installation that must not hold personal data."""
    return [p for folder in home.iterdir() if folder.is_dir() and folder.name not in NOT_SEARCHED
            for p in folder.rglob("*") if p.is_file()]


def file_bytes(path: Path) -> bytes:
    """A file's content as bytes, decompressed and unpacked where it is stored packed."""
    raw = path.read_bytes()
    if path.suffix == ".parquet":
        table = pq.read_table(path)
        return json.dumps(table.to_pylist(), default=str, ensure_ascii=False).encode()
    if raw[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            return b"\n".join(archive.read(n) for n in archive.namelist())
    if raw[:2] == b"\x1f\x8b":
        return gzip.decompress(raw)
    try:
        return zlib.decompress(raw)
    except zlib.error:
        return raw


def string_columns(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str]]:
    return con.execute(
        "select table_schema, table_name, column_name from information_schema.columns "
        "where data_type = 'VARCHAR' and table_schema not in ('information_schema', 'pg_catalog')"
    ).fetchall()


def hits_in_duckdb(db: Path, needles: list[str]) -> list[str]:
    """``schema.table.column: value`` for every needle contained in a VARCHAR value."""
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


def planted_in_files(home: Path, needles: list[str]) -> list[str]:
    """Where any needle (a name, a diagnosis, ...) occurs in the artefacts of ``home``, in
    UTF-8 or Windows-1252, as a substring."""
    encoded = {n.encode(enc, errors="replace"): n for n in needles for enc in ("utf-8", "cp1252")}
    leaks = []
    for path in searched_files(home):
        if path.suffix == ".duckdb":
            leaks += [f"{path.name}:{hit}" for hit in hits_in_duckdb(path, needles)]
        elif path.suffix != ".wal":
            raw = file_bytes(path)
            leaks += [f"{path.relative_to(home)}: {n}" for b, n in encoded.items() if b in raw]
    return sorted(set(leaks))


def tokens_in_duckdb(db: Path, needles: set[str]) -> list[str]:
    """``schema.table.column: value`` for every needle that is a token of a VARCHAR value."""
    found = []
    with duckdb.connect(str(db), read_only=True) as con:
        columns = con.execute(
            "select table_catalog, table_schema, table_name, column_name "
            "from information_schema.columns where data_type = 'VARCHAR' "
            "and table_schema not in ('information_schema', 'pg_catalog')").fetchall()
        con.execute("create temp table needles as select unnest(?::varchar[]) as v",
                    [sorted(needles)])
        for catalog, schema, table, column in columns:
            if catalog == "temp":
                continue
            rows = con.execute(
                f'select distinct n.v from (select unnest(regexp_split_to_array("{column}", '
                f"'{TOKEN_SPLIT_SQL}')) as tok, \"{column}\" as whole "
                f'from "{schema}"."{table}") as t '
                "join temp.needles as n on t.tok = n.v or t.whole = n.v").fetchall()
            found += [f"{db.name}:{schema}.{table}.{column}: {r[0]}" for r in rows]
    return found


def leaked_keys(home: Path, needles: set[str]) -> list[str]:
    """Where any needle occurs as a token in the artefacts of ``home`` (empty: no leak)."""
    encoded = {n.encode() for n in needles}
    leaks = []
    for path in searched_files(home):
        if path.suffix == ".duckdb":
            leaks += tokens_in_duckdb(path, needles)
        elif path.suffix != ".wal":
            hits = set(TOKEN.findall(file_bytes(path))) & encoded
            leaks += [f"{path.relative_to(home)}: {h.decode()}" for h in sorted(hits)]
    return leaks
