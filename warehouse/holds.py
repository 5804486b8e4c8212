"""Held loads: a batch that failed its Great Expectations suite is never merged, in no later run.

A blocking ``gx_batch_<table>`` check stops staging in the run that loaded the batch. The rows stay
in the raw tables, though (dlt has committed them), and the next run validates only *its* loads.
Without a record, the next run's staging would merge the failed batch. So a failing batch check
holds the loads it validated: one JSON file per load id under
``$DATENWERK_HOME/quality/held_loads/``, which dbt's ``completed_loads`` macro reads (DuckDB's
``read_text``) and excludes, for every table of that load.

A data engineer looks at the check's result (Data Docs), then either leaves the load held (a
corrected file is delivered instead; it loads under a new load id) or releases it with
``datenwerk release LOAD_ID``. Releasing moves the file to ``released/`` (kept: who released
what, when, and why); a load released after the last full refresh makes the next dbt build one
(:func:`released_since`): incremental staging reads only loads newer than the last build, and a
released load is older.

A load can also hold only some of its files (:func:`hold_files`, a record with ``files``): a
DATEV re-delivery that covers much less than the bookings it would replace is held that way, and
the other files of the same night are merged as usual.

The files hold load ids, table names, file names and the check's summary: no row values.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from warehouse import paths
from warehouse.files import write_json_atomically


def held_dir() -> Path:
    """Where held loads are recorded (read by dbt, see ``transform/macros/completed_loads.sql``)."""
    return paths.quality_dir() / "held_loads"


def released_dir() -> Path:
    return held_dir() / "released"


@dataclass(frozen=True)
class Hold:
    load_id: str
    dataset: str
    tables: tuple[str, ...]
    checks: tuple[str, ...]
    reason: str
    held_at: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Hold:
        return cls(
            load_id=str(data["load_id"]), dataset=str(data.get("dataset", "")),
            tables=tuple(data.get("tables", ())), checks=tuple(data.get("checks", ())),
            reason=str(data.get("reason", "")), held_at=str(data.get("held_at", "")),
        )


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomically(path, data)  # dbt never reads a half-written file


def _file(load_id: str) -> Path:
    if not load_id.replace(".", "").isdigit():
        raise ValueError(f"not a dlt load id: {load_id!r}")
    return held_dir() / f"{load_id}.json"


def held_load_ids_sql() -> str:
    """A DuckDB subquery of the loads held as a whole: what dbt's ``held_load_ids`` macro
    selects (a record naming ``files`` holds only those files of its load)."""
    folder = str(held_dir()).replace("'", "''")
    return (
        "select load_id from (select json_extract_string(content, '$.load_id') as load_id, "
        "json_extract(content, '$.files') as files "
        f"from read_text('{folder}/*.json')) where load_id is not null and files is null"
    )


def held_files_sql() -> str:
    """A DuckDB subquery of the sha256 of files held on their own: dbt's ``held_files``."""
    folder = str(held_dir()).replace("'", "''")
    return (
        "select unnest(json_extract_string(content, '$.files[*]')) as source_sha256 "
        f"from read_text('{folder}/*.json') "
        "where json_extract_string(content, '$.load_id') is not null"
    )


def hold(
    load_ids: Iterable[str], *, dataset: str, table: str, check: str, reason: str
) -> list[str]:
    """Hold ``load_ids`` (a failing ``check`` on ``dataset.table``); returns the ids held.

    Holding a load twice adds the table and check to its record.
    """
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    held = []
    for load_id in sorted(set(load_ids)):
        path = _file(load_id)
        data: dict[str, Any] = (
            json.loads(path.read_text(encoding="utf-8")) if path.exists()
            else {"load_id": load_id, "dataset": dataset, "tables": [], "checks": [],
                  "reason": reason, "held_at": now}
        )
        data["tables"] = sorted({*data["tables"], table})
        data["checks"] = sorted({*data["checks"], check})
        _write_json(path, data)
        held.append(load_id)
    return held


def hold_files(load_id: str, files: dict[str, str], *, dataset: str, check: str,
               reason: str) -> str:
    """Hold some files of a load (sha256 -> file name), not the load: the other files of the
    same night go ahead. Released like a held load (:func:`release`)."""
    path = _file(load_id)
    data: dict[str, Any] = (
        json.loads(path.read_text(encoding="utf-8")) if path.exists()
        else {"load_id": load_id, "dataset": dataset, "tables": [], "checks": [], "files": [],
              "file_names": [], "reason": "",
              "held_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    )
    data["files"] = sorted({*data.get("files", []), *files})
    data["file_names"] = sorted({*data.get("file_names", []), *files.values()})
    data["checks"] = sorted({*data["checks"], check})
    data["tables"] = sorted({*data["tables"], "files: " + ", ".join(data["file_names"])})
    data["reason"] = "; ".join(r for r in (data["reason"], reason) if r)
    _write_json(path, data)
    return load_id


def held() -> list[Hold]:
    """The loads held now, oldest first."""
    folder = held_dir()
    if not folder.is_dir():
        return []
    records = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))]
    # Only records with a load id hold anything (dbt's SQL skips the others the same way).
    return [Hold.from_json(r) for r in records if isinstance(r, dict) and r.get("load_id")]


def release(load_id: str, *, reason: str, by: str | None = None) -> Hold:
    """Release a held load: the next dbt build merges it (a full refresh, see
    :func:`released_since`)."""
    path = _file(load_id)
    if not path.exists():
        known = ", ".join(h.load_id for h in held()) or "none"
        raise KeyError(f"load {load_id} is not held (held now: {known})")
    data = json.loads(path.read_text(encoding="utf-8"))
    data.update(
        released_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        released_by=by or getpass.getuser(),
        release_reason=reason,
    )
    _write_json(released_dir() / path.name, data)
    path.unlink()
    return Hold.from_json(data)


def released_since(when: dt.datetime | None) -> list[str]:
    """Loads released at or after ``when`` (all released loads if None), oldest release first.
    Release times are kept to the second: a release in the same second as ``when`` counts."""
    folder = released_dir()
    if not folder.is_dir():
        return []
    found = []
    for path in folder.glob("*.json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        released_at = dt.datetime.fromisoformat(str(data.get("released_at") or "1970-01-01"))
        if released_at.tzinfo is None:
            released_at = released_at.replace(tzinfo=dt.UTC)
        if when is None or released_at >= when.replace(microsecond=0):
            found.append((released_at, str(data.get("load_id", path.stem))))
    return [load_id for _, load_id in sorted(found)]
