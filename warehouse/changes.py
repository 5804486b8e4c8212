"""What changed since the last publication: the facts a run needs to decide that it may stop.

A run rebuilds only when its inputs changed: a load completed after the current publication, a
pseudonymisation key was recorded (rotated) after the last full build, or the dbt project is not
the one the last build used. The last build is recorded in ``dbt/last_build.json`` beside the
dbt target folder: when it ran, whether it was a full refresh, and the project's fingerprint.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from warehouse import paths
from warehouse.db import table_exists
from warehouse.publish import write_json_atomically


@dataclass(frozen=True)
class BuildRecord:
    """The last build of every dbt model that succeeded."""

    built_at: str
    full_refresh_at: str  # the last such build that was a full refresh ("" if none yet)
    project_fingerprint: str
    # When the first build with this fingerprint started: a check result recorded since then
    # was made by the same code and checks ("" in a record written before this was kept).
    fingerprint_since: str = ""
    # The dbt project of the last full refresh: incremental models whose code changed since are
    # rebuilt from every load ("" in a record written before this was kept).
    full_refresh_project: str = ""

    @property
    def same_inputs_since(self) -> str:
        """Since when every build had these inputs (at most since this build, if unknown)."""
        return self.fingerprint_since or self.built_at

    @property
    def full_refresh_time(self) -> datetime | None:
        return datetime.fromisoformat(self.full_refresh_at) if self.full_refresh_at else None


def build_record_path() -> Path:
    return paths.dbt_target_dir().parent / "last_build.json"


def last_build() -> BuildRecord | None:
    """The record of the last complete dbt build of this home; None before the first."""
    path = build_record_path()
    if not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    return BuildRecord(str(data.get("built_at", "")), str(data.get("full_refresh_at", "")),
                       str(data.get("project_fingerprint", "")),
                       str(data.get("fingerprint_since", "")),
                       str(data.get("full_refresh_project", "")))


def record_build(project_fingerprint: str, full_refresh: bool,
                 started_at: datetime, dbt_project: str = "") -> BuildRecord:
    """Record a complete, successful dbt build (after dbt finished) by the time it started: what
    changed while it ran is newer than the build. ``dbt_project``: the dbt project's own
    fingerprint, kept for a full refresh."""
    now = started_at.isoformat()
    previous = last_build()
    record = BuildRecord(
        built_at=now,
        full_refresh_at=now if full_refresh else (previous.full_refresh_at if previous else ""),
        project_fingerprint=project_fingerprint,
        fingerprint_since=(previous.same_inputs_since
                           if previous and previous.project_fingerprint == project_fingerprint
                           else now),
        full_refresh_project=(dbt_project if full_refresh
                              else previous.full_refresh_project if previous else ""),
    )
    path = build_record_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomically(path, asdict(record))
    return record


def full_refresh_request_path() -> Path:
    return paths.dbt_target_dir().parent / "full_refresh_requested.json"


def request_full_refresh(at: datetime) -> None:
    """Remember that a full refresh was asked for, until a full build that started later
    succeeds: a request whose run failed is not forgotten by the next run."""
    path = full_refresh_request_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomically(path, {"requested_at": at.isoformat()})


def full_refresh_requested() -> datetime | None:
    """When a full refresh was last asked for (None if never)."""
    path = full_refresh_request_path()
    if not path.is_file():
        return None
    return datetime.fromisoformat(json.loads(path.read_text(encoding="utf-8"))["requested_at"])


def _newest(con: duckdb.DuckDBPyConnection, sql: str) -> datetime | None:
    found = [row[0] for row in con.sql(sql).fetchall() if row[0] is not None]
    newest = max(found, default=None)
    if newest is not None and newest.tzinfo is None:
        newest = newest.replace(tzinfo=UTC)
    return newest


def last_completed_load() -> datetime | None:
    """When the newest completed dlt load of any dataset in the build database finished."""
    db = paths.build_db()
    if not db.exists():
        return None
    with duckdb.connect(str(db), read_only=True) as con:
        schemas = [row[0] for row in con.sql(
            "select table_schema from information_schema.tables "
            "where table_name = '_dlt_loads' and table_catalog = current_database()"
        ).fetchall()]
        if not schemas:
            return None
        union = " union all ".join(
            f'select max(inserted_at) from "{schema}"._dlt_loads where status = 0'
            for schema in schemas)
        return _newest(con, union)


def last_key_recorded() -> datetime | None:
    """When the pseudonymisation key in use was recorded in the warehouse (first load or a
    rotation): rows keyed before it must not stay in incremental models."""
    db = paths.build_db()
    if not db.exists():
        return None
    with duckdb.connect(str(db), read_only=True) as con:
        if not table_exists(con, "datenwerk_meta", "pseudonym_key"):
            return None
        return _newest(con, "select max(recorded_at) from datenwerk_meta.pseudonym_key")


def tables_loaded_since(since: datetime) -> set[tuple[str, str]]:
    """The dlt tables (schema, table) holding rows of a load that completed after ``since``:
    what a build that started at ``since`` has not seen yet."""
    db = paths.build_db()
    if not db.exists():
        return set()
    found: set[tuple[str, str]] = set()
    with duckdb.connect(str(db), read_only=True) as con:
        # dlt's tables of a load (not its own _dlt_* tables) carry the load's id in each row
        tables = con.sql(
            "select c.table_schema, c.table_name from information_schema.columns c "
            "join information_schema.tables l on l.table_schema = c.table_schema "
            "and l.table_name = '_dlt_loads' and l.table_catalog = c.table_catalog "
            "where c.table_catalog = current_database() and c.column_name = '_dlt_load_id' "
            "and not starts_with(c.table_name, '_dlt_')"
        ).fetchall()
        for schema, table in tables:
            new = con.execute(
                f'select exists (select 1 from "{schema}"."{table}" where _dlt_load_id in '
                f'(select load_id from "{schema}"._dlt_loads where status = 0 '
                f"and inserted_at > ?))", [since]).fetchall()[0][0]
            if new:
                found.add((schema, table))
    return found
