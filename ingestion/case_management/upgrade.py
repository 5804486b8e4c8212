"""Pseudonymising source numbers an older version stored in clear.

Before every identifier of the source system was pseudonymised, case, contact, goal and
assessment numbers were loaded into ``raw_case_management`` as they were. This replaces each
such value (any value that is not yet a pseudonym) by its keyed pseudonym, in place, so that
later deliveries of the same cases match their earlier rows, and drops the incremental staging
table of contacts so that the next build rebuilds it from the pseudonymised rows. It runs before
every case-management load. Each table's rows are looked at once: ``datenwerk_meta`` records the
newest load whose rows were checked, and later runs look only at the rows of newer loads (those
of an older version run again after a downgrade, say). Published generations written before keep
what they held until they are pruned.
"""

from __future__ import annotations

import logging
from pathlib import Path

import duckdb

from ingestion.pseudonymise import (
    PSEUDONYM_HEX_CHARS,
    organisation_key,
    pseudonym_sql,
    use_key_in_sql,
)
from ingestion.standard import standard
from warehouse import datasets
from warehouse.db import sql_text, table_exists

log = logging.getLogger(__name__)
DATASET = datasets.CASE_MANAGEMENT
PSEUDONYM_SQL_REGEX = f"[0-9a-f]{{{PSEUDONYM_HEX_CHARS}}}"
INCREMENTAL_STAGING = ("stg_case_management__contacts",)
# Per raw table, the newest load whose rows have been checked for clear identifiers.
CHECKED_TABLE = "datenwerk_meta.clear_identifiers_checked"
LOAD_ID = "_dlt_load_id"


def pseudonymise_stored_identifiers(db: Path, key: bytes | None = None,
                                    loading: str | None = None) -> dict[str, int]:
    """Replace clear identifiers in the raw case-management tables of ``db`` by pseudonyms;
    return the number of values replaced per ``table.column`` (empty: nothing was clear).
    ``loading``: the load this version is about to write, whose rows need no check later."""
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
        checked = _checked_through(con)
        for entity, name in columns:
            column = f'"{name}"'
            clear = (f"{column} is not null "
                     f"and not regexp_full_match({column}, '{PSEUDONYM_SQL_REGEX}')")
            if (entity, LOAD_ID) in present and entity in checked:
                # load ids are fixed-width timestamps: they compare as text (as dbt's models do)
                clear += f" and ({LOAD_ID} > {sql_text(checked[entity])} or {LOAD_ID} is null)"
            rows = _rekey(con, entity, column, clear,
                          with_organisation=(entity, "organisation_code") in present, key=key)
            if rows:
                changed[f"{entity}.{name}"] = rows
        tables = {e for e, spec in standard().items()
                  if any(f.pseudonymise and not f.personal for f in spec.fields.values())}
        _record_checked(con, sorted(tables), {t for t, c in present if c == LOAD_ID}, loading)
        if changed:
            for table in INCREMENTAL_STAGING:
                con.execute(f"drop table if exists staging.{table}")
            log.warning("Pseudonymised source numbers stored in clear by an earlier version: %s",
                        ", ".join(f"{k} ({n})" for k, n in sorted(changed.items())))
    return changed


def _checked_through(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """The newest load each raw table's rows were checked through (none: check every row)."""
    if not table_exists(con, "datenwerk_meta", CHECKED_TABLE.split(".")[1]):
        return {}
    return dict(con.execute(
        f"select table_name, checked_through from {CHECKED_TABLE} where dataset = ?",
        [DATASET]).fetchall())


def _record_checked(con: duckdb.DuckDBPyConnection, tables: list[str], with_loads: set[str],
                    loading: str | None) -> None:
    """Every row of ``tables`` is checked now, and those of the load ``loading`` are this
    version's: remember the newest load among them (``with_loads``: the tables that exist).
    The newest load comes from dlt's record of the dataset's loads, a few rows, not from the
    tables: rows of a load dlt did not complete (killed before it recorded the load) may be
    newer, and are checked again in a later run."""
    con.execute("create schema if not exists datenwerk_meta")
    con.execute(f"create table if not exists {CHECKED_TABLE} "
                "(dataset varchar, table_name varchar, checked_through varchar)")
    recorded = con.execute(f"select max(load_id) from {DATASET}._dlt_loads").fetchall()[0][0] \
        if table_exists(con, DATASET, "_dlt_loads") else None
    for table in tables:
        stored = recorded if table in with_loads else None
        newest = max((x for x in (stored, loading) if x is not None), default=None)
        if newest is None:
            continue  # no rows yet, and none coming
        con.execute(f"delete from {CHECKED_TABLE} where dataset = ? and table_name = ?",
                    [DATASET, table])
        con.execute(f"insert into {CHECKED_TABLE} values (?, ?, ?)", [DATASET, table, newest])


def _rekey(con: duckdb.DuckDBPyConnection, entity: str, column: str, clear: str, *,
           with_organisation: bool, key: bytes | None) -> int:
    """Pseudonymise the clear values of one column, each organisation's rows with its key (one
    key for all outside a federation); return the number of values replaced."""
    table = f'{DATASET}."{entity}"'
    organisations = [r[0] for r in con.execute(
        f"select distinct organisation_code from {table} where {clear}").fetchall()
    ] if with_organisation else [""]
    replaced = 0
    for org in organisations:
        use_key_in_sql(con, organisation_key(org or "", key))
        scope = "organisation_code is not distinct from ?" if with_organisation else "true"
        params = [org] if with_organisation else []
        replaced += int(con.execute(
            f"update {table} set {column} = {pseudonym_sql(column)} where {clear} and {scope}",
            params).fetchall()[0][0])
    return replaced
