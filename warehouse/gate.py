"""The publish gate in the data: check results recorded against the content they checked.

Every check on a table of ``build.duckdb`` records its outcome under a *fingerprint* of the
table's content at the time it ran (row count, two order-independent aggregates of DuckDB's row
hash, and the column names and types). Publication compares the current fingerprint of every
table it depends on with these records and refuses content that has no passing result for each
of its blocking checks, or a failed one. So what decides is the content, not the run: a run that
selects only the publication (the UI's "Materialize", a CLI or a schedule) after a blocked run
finds the blocked content's failed records and refuses; content changed by hand has no record
at all and is refused too.

Records live in ``warehouse/checked/<table>.json``, one file per table, replaced when its content
changes (results for an older content are of no use any more).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from warehouse import paths
from warehouse.files import write_json_atomically


@dataclass(frozen=True)
class CheckRecord:
    """One check result on one table's content."""

    check_name: str
    passed: bool
    severity: str  # ERROR or WARN
    run_id: str
    checked_at: str
    description: str = ""

    @property
    def blocks(self) -> bool:
        return not self.passed and self.severity == "ERROR"


def records_dir() -> Path:
    return paths.warehouse_dir() / "checked"


def _tables(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Base tables of the build database by name -> schema (views are not fingerprinted: their
    content is a query over tables whose own checks are recorded)."""
    return dict(con.sql(
        "select table_name, table_schema from information_schema.tables "
        "where table_type = 'BASE TABLE' and table_catalog = current_database()"
    ).fetchall())


def _fingerprint(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> str:
    columns = con.execute(
        "select string_agg(column_name || ' ' || data_type, ', ' order by ordinal_position) "
        "from information_schema.columns where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchall()[0][0]
    # Order-independent: the same rows in another physical order are the same content.
    rows, xor, total = con.sql(
        f'select count(*), coalesce(bit_xor(hash(t)), 0), coalesce(sum(hash(t)::hugeint), 0) '
        f'from "{schema}"."{table}" as t'
    ).fetchall()[0]
    digest = hashlib.sha256(f"{columns}|{rows}|{xor}|{total}".encode()).hexdigest()[:32]
    return f"{rows}:{digest}"


def fingerprints(tables: Iterable[str],
                 con: duckdb.DuckDBPyConnection | None = None) -> dict[str, str]:
    """The current content fingerprint of each named table that exists as a base table."""
    wanted = list(dict.fromkeys(tables))
    if con is None:
        if not paths.build_db().exists():
            return {}
        with duckdb.connect(str(paths.build_db()), read_only=True) as own:
            return fingerprints(wanted, own)
    known = _tables(con)
    return {name: _fingerprint(con, known[name], name) for name in wanted if name in known}


def _path(table: str) -> Path:
    return records_dir() / f"{table}.json"


def _load(table: str) -> dict[str, object]:
    path = _path(table)
    if not path.is_file():
        return {}
    loaded: dict[str, object] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def record(results: Iterable[tuple[str, str, bool, str, str]], run_id: str) -> int:
    """Record check results ``(table, check_name, passed, severity, description)`` against the
    tables' current content; results on something that is not a base table are ignored.
    Returns how many were recorded."""

    by_table: dict[str, list[tuple[str, bool, str, str]]] = {}
    for table, check_name, passed, severity, description in results:
        by_table.setdefault(table, []).append((check_name, passed, severity, description))
    prints = fingerprints(by_table)
    records_dir().mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC).isoformat()
    n = 0
    for table, fingerprint in prints.items():
        stored = _load(table)
        checks: dict[str, object] = dict(stored.get("checks") or {})  # type: ignore[call-overload]
        if stored.get("fingerprint") != fingerprint:
            checks = {}
        for check_name, passed, severity, description in by_table[table]:
            checks[check_name] = asdict(CheckRecord(
                check_name, bool(passed), severity, run_id, now, description[:1000]))
            n += 1
        write_json_atomically(_path(table), {
            "table": table, "fingerprint": fingerprint, "recorded_at": now, "checks": checks,
        })
    return n


def records_for(table: str, fingerprint: str) -> dict[str, CheckRecord]:
    """The recorded results for exactly this content of ``table`` (empty if none)."""
    stored = _load(table)
    if stored.get("fingerprint") != fingerprint:
        return {}
    raw: Mapping[str, Mapping[str, object]] = stored.get("checks") or {}  # type: ignore[assignment]
    return {name: CheckRecord(**value) for name, value in raw.items()}  # type: ignore[arg-type]


@dataclass(frozen=True)
class GateVerdict:
    """What the gate found: reasons to refuse (empty: publishable) and the passing records."""

    refusals: list[str]
    passed: dict[str, dict[str, CheckRecord]]  # table -> check -> record
    fingerprints: dict[str, str]


def verdict(required: Mapping[str, Iterable[str]]) -> GateVerdict:
    """Whether the current content of each table has a passing result for each of its
    ``required`` (blocking) checks and no failed blocking result."""
    with duckdb.connect(str(paths.build_db()), read_only=True) as con:
        prints = fingerprints(required, con)
    refusals: list[str] = []
    passed: dict[str, dict[str, CheckRecord]] = {}
    for table, checks in sorted(required.items()):
        fingerprint = prints.get(table)
        if fingerprint is None:
            continue  # a view, or not built: its tables carry the records
        recorded = records_for(table, fingerprint)
        for name in sorted(set(checks) | {n for n, r in recorded.items() if r.blocks}):
            result = recorded.get(name)
            if result is None:
                refusals.append(f"{table}:{name} (no result for its current content)")
            elif result.blocks:
                refusals.append(f"{table}:{name} (failed on its current content, "
                                f"run {result.run_id[:8]})")
        passed[table] = {name: r for name, r in recorded.items() if not r.blocks}
    return GateVerdict(refusals, passed, prints)
