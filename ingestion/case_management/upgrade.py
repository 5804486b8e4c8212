"""Pseudonymising source numbers an older version stored in clear.

Before every identifier of the source system was pseudonymised, case, contact, goal and
assessment numbers were loaded into ``raw_case_management`` as they were. This replaces each
such value (any value that is not yet a pseudonym) by its keyed pseudonym, in place, so that
later deliveries of the same cases match their earlier rows, and drops the incremental staging
table of contacts so that the next build rebuilds it from the pseudonymised rows. It runs before
every case-management load and costs one scan per identifier column once nothing is left.
Published generations written before keep what they held until they are pruned.
"""

from __future__ import annotations

import logging
from pathlib import Path

import duckdb

from ingestion.pseudonymise import PSEUDONYM_HEX_CHARS, pseudonym_sql, use_key_in_sql
from ingestion.standard import standard

log = logging.getLogger(__name__)
DATASET = "raw_case_management"
PSEUDONYM_SQL_REGEX = f"[0-9a-f]{{{PSEUDONYM_HEX_CHARS}}}"
INCREMENTAL_STAGING = ("stg_case_management__contacts",)


def pseudonymise_stored_identifiers(db: Path, key: bytes | None = None) -> dict[str, int]:
    """Replace clear identifiers in the raw case-management tables of ``db`` by pseudonyms;
    return the number of values replaced per ``table.column`` (empty: nothing was clear)."""
    if not db.exists():
        return {}
    changed: dict[str, int] = {}
    with duckdb.connect(str(db)) as con:
        present = {
            (t, c) for t, c in con.execute(
                "select table_name, column_name from information_schema.columns "
                "where table_schema = ?", [DATASET]).fetchall()
        }
        columns = [(entity, f.name) for entity, spec in standard().items()
                   for f in spec.fields.values()
                   if f.pseudonymise and not f.personal and (entity, f.name) in present]
        if columns:
            use_key_in_sql(con, key)  # only where something was loaded: a key exists
        for entity, name in columns:
            column = f'"{name}"'
            rows = con.execute(
                f'update {DATASET}."{entity}" set {column} = {pseudonym_sql(column)} '
                f"where {column} is not null "
                f"and not regexp_full_match({column}, '{PSEUDONYM_SQL_REGEX}')"
            ).fetchall()[0][0]
            if rows:
                changed[f"{entity}.{name}"] = int(rows)
        if changed:
            for table in INCREMENTAL_STAGING:
                con.execute(f"drop table if exists staging.{table}")
            log.warning("Pseudonymised source numbers stored in clear by an earlier version: %s",
                        ", ".join(f"{k} ({n})" for k, n in sorted(changed.items())))
    return changed
