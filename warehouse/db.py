"""Small questions every layer asks of a DuckDB connection."""

from __future__ import annotations

import duckdb


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, *tables: str) -> bool:
    """Whether every one of ``tables`` exists in ``schema`` (tables or views)."""
    found = con.execute(
        "select count(distinct table_name) from information_schema.tables "
        "where table_schema = ? and list_contains(?::varchar[], table_name)",
        [schema, list(tables)],
    ).fetchall()[0][0]
    return bool(found == len(set(tables)))


def sql_name(name: str) -> str:
    """An identifier (a column, a table) quoted for DuckDB's SQL."""
    return '"' + name.replace('"', '""') + '"'


def sql_text(value: str) -> str:
    """A text value as a DuckDB SQL literal."""
    return "'" + value.replace("'", "''") + "'"
