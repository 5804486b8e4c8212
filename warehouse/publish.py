"""Write - audit - publish: the analysts' copy of the marts, in generations.

The pipeline writes only ``build.duckdb``. After every blocking check has passed, the marts are
copied into a new DuckDB file, a *generation*: ``published/generations/<generation>.duckdb``,
checkpointed, closed and fsynced, with ``<generation>.json`` beside it (run id, time, row counts,
check results, sha256). Inside the file, ``_publication`` and ``_checks`` hold the same facts.

``published/marts.duckdb`` is a copy of the current generation, atomically renamed over the
path. A reader holding the old file (read-only or read-write) keeps reading the old inode and
never blocks the swap; a new connection opens the new file; nobody sees half a refresh; a failed
or blocked run never reaches this step and so leaves the last good publication in place.

It is a copy, not a hard link or a symlink: an analyst's read-write connection may change
``marts.duckdb``, and that must never change the kept generations (their sha256 is recorded,
rollback and the department exports read them). The pipeline never opens ``marts.duckdb``
itself, so no analyst connection can lock it out.

The last :func:`warehouse.settings.keep_generations` generations stay (default 7);
:func:`rollback` makes an older one current again, by the same atomic rename. Only generations
that were current once (``published/history.json`` records each one after its swap) can be
rolled back to: a publication killed before its swap leaves a complete generation that nobody
ever read, and the next publication removes it.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from warehouse import disk, erasure, gate, paths, settings
from warehouse.checks import CheckResult
from warehouse.files import fsync_dir, fsync_file, sha256_file, write_json_atomically

MARTS_SCHEMA = "marts"
MANIFEST_VERSION = 1
# The on-disk format of published files. DuckDB writes its newest format by default, which older
# DuckDB releases cannot open; analysts' tools (DBeaver, R, Python notebooks) ship DuckDB 1.x for
# a long time, so publications are written in the format every DuckDB since 1.0 reads.
STORAGE_VERSION = "v1.0.0"


@dataclass(frozen=True)
class Publication:
    generation: str
    path: str
    published_at: datetime
    run_id: str | None
    row_counts: dict[str, int]
    checks: list[CheckResult] = field(default_factory=list)
    sha256: str = ""


class PublicationMismatch(Exception):
    """The copied marts differ from the content whose checks passed (changed in between)."""


class RollbackError(Exception):
    """The generation asked for does not exist or its file does not match its manifest."""


def _new_generation_id(published_at: datetime, run_id: str | None) -> str:
    """``<UTC time>-<first 8 characters of the run id>``: sorts by time, names its run."""
    stem = f"{published_at:%Y%m%dT%H%M%SZ}-{(run_id or 'manual')[:8]}"
    candidate, n = stem, 1
    while (paths.generations_dir() / f"{candidate}.duckdb").exists():
        n += 1
        candidate = f"{stem}-{n}"
    return candidate


def _write_generation(
    tmp: Path, generation: str, marts: Sequence[str], run_id: str | None,
    published_at: datetime, checks: Sequence[CheckResult], expected: Mapping[str, str],
) -> dict[str, int]:
    counts: dict[str, int] = {}
    with duckdb.connect() as con:
        con.execute(f"attach '{tmp}' as generation (storage_version '{STORAGE_VERSION}')")
        con.execute("use generation")
        con.execute(f"attach '{paths.build_db()}' as build (read_only)")
        for mart in marts:
            con.execute(
                f'create table main."{mart}" as select * from build.{MARTS_SCHEMA}."{mart}"')
            counts[mart] = con.execute(f'select count(*) from main."{mart}"').fetchall()[0][0]
        con.execute("detach build")
        # What is published is what was checked: the copy itself, not the build file again.
        copied = gate.fingerprints(expected, con)
        changed = sorted(m for m, fp in expected.items() if copied.get(m) != fp)
        if changed:
            raise PublicationMismatch(
                f"{', '.join(changed)} changed after their checks passed (another process "
                f"wrote to {paths.build_db()}?); not publishing")
        con.execute(
            "create table main._publication (generation varchar, run_id varchar, "
            "published_at timestamptz, mart varchar, row_count bigint)"
        )
        con.executemany(
            "insert into main._publication values (?, ?, ?, ?, ?)",
            [[generation, run_id, published_at, mart, n] for mart, n in counts.items()],
        )
        con.execute(
            "create table main._checks (asset_key varchar, check_name varchar, passed boolean, "
            "severity varchar, blocking boolean, description varchar)"
        )
        if checks:
            con.executemany(
                "insert into main._checks values (?, ?, ?, ?, ?, ?)",
                [[c.asset_key, c.check_name, c.passed, c.severity, c.blocking, c.description]
                 for c in checks],
            )
        con.execute("checkpoint")
        con.execute("use memory")
        con.execute("detach generation")
    return counts


def publish(
    marts: Sequence[str], run_id: str | None = None, checks: Sequence[CheckResult] = (),
    keep: int | None = None, expected: Mapping[str, str] | None = None,
) -> Publication:
    """Copy ``marts`` from the build database into a new generation and make it current.

    Only call this after every blocking check passed; ``checks`` are recorded as they were.
    ``expected``: content fingerprints (:func:`warehouse.gate.fingerprints`) the copied marts
    must have, those their checks passed on. Afterwards all but the newest ``keep`` generations
    are removed (default from :func:`warehouse.settings.keep_generations`).
    """
    gens = paths.generations_dir()
    gens.mkdir(parents=True, exist_ok=True)
    clean_orphans()
    published_at = datetime.now(UTC)
    generation = _new_generation_id(published_at, run_id)
    db_file = gens / f"{generation}.duckdb"
    tmp = gens / f".{generation}-{uuid.uuid4().hex}.duckdb.tmp"
    try:
        with disk.writing(db_file):
            counts = _write_generation(tmp, generation, marts, run_id, published_at, checks,
                                       expected or {})
            fsync_file(tmp)
        os.replace(tmp, db_file)
        fsync_dir(gens)
        _fault_point("publish:before-manifest")
    finally:
        for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
            leftover.unlink(missing_ok=True)
    digest = sha256_file(db_file)
    manifest = {
        "manifest_version": MANIFEST_VERSION,
        "generation": generation,
        "run_id": run_id,
        "published_at": published_at.isoformat(),
        "file": db_file.name,
        "sha256": digest,
        "bytes": db_file.stat().st_size,
        "row_counts": counts,
        "checks": [c.record() for c in checks],
    }
    write_json_atomically(gens / f"{generation}.json", manifest)
    _make_current(generation)
    prune_generations(keep if keep is not None else settings.keep_generations())
    return Publication(
        generation, str(paths.published_db()), published_at, run_id, counts, list(checks), digest
    )


def record_unchanged(run_id: str | None) -> dict[str, Any] | None:
    """Note in the current manifest that ``run_id`` found nothing changed since it was published
    (``checked_unchanged_at``): the publication is confirmed current without a new generation.
    None (nothing noted) before the first publication."""
    current = current_manifest()
    if current is None:
        return None
    current = {**current, "checked_unchanged_at": datetime.now(UTC).isoformat(),
               "checked_run_id": run_id}
    write_json_atomically(paths.published_manifest(), current)
    return current


def _pending_path() -> Path:
    return paths.published_manifest().with_name(".pending-current.json")


def _fault_point(name: str) -> None:
    """Die here, as a kill -9 would, when ``DATENWERK_FAULT_POINT`` names this point (the
    reliability tests crash a real publication in a subprocess this way)."""
    if settings.fault_point() == name:
        os._exit(137)


def _make_current(generation: str) -> dict[str, Any]:
    """Copy a generation to a temporary name beside ``marts.duckdb`` and rename it over it.

    The rename and the manifest cannot change together, so the intent is written first
    (``.pending-current.json``, naming the generation and the new file's inode): whoever reads
    the current manifest next (:func:`current_manifest`) finishes or drops it, by whether
    ``marts.duckdb`` is that inode. A crash in between never leaves them disagreeing.
    """
    manifest = generation_manifest(generation)
    source = paths.generations_dir() / manifest["file"]
    target = paths.published_db()
    tmp = target.with_name(f".{target.stem}-{uuid.uuid4().hex}.duckdb.tmp")
    try:
        with disk.writing(target):
            shutil.copyfile(source, tmp)
            fsync_file(tmp)
        current = {**manifest, "current_since": datetime.now(UTC).isoformat(),
                   "inode": tmp.stat().st_ino}
        write_json_atomically(_pending_path(), current)
        _fault_point("publish:before-replace")
        os.replace(tmp, target)
        fsync_dir(target.parent)
        _fault_point("publish:after-replace")
    finally:
        tmp.unlink(missing_ok=True)
    _record_current(current)
    _pending_path().unlink(missing_ok=True)
    return current


def _history_path() -> Path:
    return paths.published_dir() / "history.json"


def _record_current(current: dict[str, Any]) -> None:
    """After the swap: the generation joins the history of current generations, then the
    current manifest names it (a crash in between is finished by :func:`_settle_pending`)."""
    history = _history()
    if not history or history[-1]["generation"] != current["generation"]:
        history.append({"generation": current["generation"], "since": current["current_since"]})
        write_json_atomically(_history_path(), {"current": history})
    write_json_atomically(paths.published_manifest(), current)


def _history() -> list[dict[str, str]]:
    """Which generations were current, in order. Installations older than the history start it
    with every generation they keep (a rollback may have left newer ones behind the current
    one: they were current once, and rollback must still reach them)."""
    path = _history_path()
    if path.is_file():
        entries: list[dict[str, str]] = json.loads(path.read_text(encoding="utf-8"))["current"]
        return entries
    if not paths.published_manifest().is_file():
        return []
    return [{"generation": m["generation"], "since": m["published_at"]}
            for m in sorted(list_generations(only_once_current=False),
                            key=lambda m: (m["published_at"], m["generation"]))]


def once_current() -> set[str]:
    """The generations that were current at some time (the only ones rollback restores)."""
    _settle_pending()
    return {entry["generation"] for entry in _history()}


def _settle_pending() -> None:
    """Finish or drop a change of the current generation that a crash interrupted."""
    pending = _pending_path()
    if not pending.is_file():
        return
    current = json.loads(pending.read_text(encoding="utf-8"))
    target = paths.published_db()
    if target.is_file() and target.stat().st_ino == current.get("inode"):
        _record_current(current)
    pending.unlink(missing_ok=True)


def clean_orphans() -> list[str]:
    """Remove what interrupted publications left: temporary files, generation files that
    never got their manifest, and generations that never became current (killed before their
    swap). Only call while no publication runs (publish does, first)."""
    was_current = once_current()
    removed = []
    gens = paths.generations_dir()
    leftovers = list(paths.published_dir().glob(".*.tmp")) if paths.published_dir().is_dir() else []
    if gens.is_dir():
        leftovers += list(gens.glob(".*.tmp")) + list(gens.glob(".*.tmp.wal"))
        leftovers += [f for f in gens.glob("*.duckdb") if not f.with_suffix(".json").is_file()]
        for manifest in list_generations(only_once_current=False):
            if manifest["generation"] not in was_current:
                leftovers += [gens / manifest["file"], gens / f"{manifest['generation']}.json"]
    for leftover in leftovers:
        leftover.unlink(missing_ok=True)
        removed.append(leftover.name)
    return removed


def generation_manifest(generation: str) -> dict[str, Any]:
    path = paths.generations_dir() / f"{generation}.json"
    if not path.is_file():
        known = ", ".join(m["generation"] for m in list_generations()) or "none"
        raise RollbackError(f"no generation '{generation}' in {paths.generations_dir()} "
                            f"(known: {known})")
    manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return manifest


def list_generations(only_once_current: bool = True) -> list[dict[str, Any]]:
    """Manifests of the kept generations, oldest first (by publication time); by default only
    those that were current once (see :func:`once_current`)."""
    gens = paths.generations_dir()
    if not gens.is_dir():
        return []
    was_current = once_current() if only_once_current else set()
    manifests = []
    for path in gens.glob("*.json"):
        manifest = json.loads(path.read_text(encoding="utf-8"))
        if (gens / manifest["file"]).is_file() and (
                not only_once_current or manifest["generation"] in was_current):
            manifests.append(manifest)
    return sorted(manifests, key=lambda m: (m["published_at"], m["generation"]))


def current_manifest() -> dict[str, Any] | None:
    """The manifest of the generation in ``published/marts.duckdb`` (None before the first
    publication). Read this, not the DuckDB file, for row counts of the last publication: an
    analyst's read-write connection locks the file, never this JSON."""
    _settle_pending()
    path = paths.published_manifest()
    if not path.is_file():
        return None
    manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return manifest


def latest_published_at() -> datetime | None:
    """When the newest generation that was ever current was published (None before the first).

    After a rollback this is the generation rolled back from, not the current one: what the
    build held then was published, and taken back on purpose."""
    times = [datetime.fromisoformat(m["published_at"]) for m in list_generations()]
    current = current_manifest()
    if current is not None:
        times.append(datetime.fromisoformat(current["published_at"]))
    return max(times, default=None)


def generation_source(manifest: dict[str, Any] | None, made: str) -> tuple[dict[str, Any], Path]:
    """The manifest (the current one unless given) and the generation file it names, for what is
    ``made`` from a publication (department exports, impact reports); raises FileNotFoundError
    before the first publication."""
    manifest = current_manifest() if manifest is None else manifest
    if manifest is None:
        raise FileNotFoundError(
            f"nothing is published yet ({paths.published_manifest()} is missing): {made} are "
            "made from a publication; run the pipeline first")
    return manifest, paths.generations_dir() / manifest["file"]


def current_generation_file() -> Path | None:
    """The kept (immutable) file of the current generation: department exports read this."""
    manifest = current_manifest()
    if manifest is None:
        return None
    return paths.generations_dir() / manifest["file"]


def prune_generations(keep: int) -> list[str]:
    """Remove all but the newest ``keep`` generations, and every generation published before the
    latest erasure (:mod:`warehouse.erasure`), never the current one; return those removed."""
    manifests = list_generations()
    removed = _remove_generations(manifests[: max(len(manifests) - keep, 0)])
    erased_at = erasure.last_erasure_at()
    return removed + (drop_generations_before(erased_at) if erased_at is not None else [])


def _remove_generations(manifests: Sequence[Mapping[str, Any]]) -> list[str]:
    current = (current_manifest() or {}).get("generation")
    removed = []
    for manifest in manifests:
        if manifest["generation"] == current:
            continue
        (paths.generations_dir() / manifest["file"]).unlink(missing_ok=True)
        (paths.generations_dir() / f"{manifest['generation']}.json").unlink(missing_ok=True)
        removed.append(manifest["generation"])
    return removed


def published_before(manifest: Mapping[str, Any], at: datetime) -> bool:
    return datetime.fromisoformat(str(manifest["published_at"])) < at


def drop_generations_before(at: datetime) -> list[str]:
    """Remove every kept generation published before ``at`` (an erasure) but the current one,
    which analysts read until the next publication replaces it (and the next prune removes it);
    return those removed. They were built from rows that held the erased client: removing one
    row from a copy would leave every figure that counted the client (and its recorded checks
    and sha256 would no longer describe the file), and rebuilding an old generation needs the
    raw rows of its day, which are not kept. Generations that never became current go too."""
    return _remove_generations([
        m for m in list_generations(only_once_current=False) if published_before(m, at)])


def rollback(generation: str) -> dict[str, Any]:
    """Make a kept generation current again (atomic rename over ``marts.duckdb``).

    ``previous`` names the generation published before the current one. The file must still
    match the sha256 in its manifest; a damaged generation is refused.
    """
    if generation == "previous":
        manifests = list_generations()
        current = (current_manifest() or {}).get("generation")
        names = [m["generation"] for m in manifests]
        if current not in names or names.index(current) == 0:
            raise RollbackError("there is no generation before the current one")
        generation = names[names.index(current) - 1]
    manifest = generation_manifest(generation)
    if generation not in once_current():
        raise RollbackError(
            f"generation {generation} was never published: its publication was interrupted "
            "before it became current, and the next publication removes it")
    erased_at = erasure.last_erasure_at()
    if erased_at is not None and published_before(manifest, erased_at):
        raise RollbackError(
            f"generation {generation} was published before the erasure of "
            f"{erased_at:%Y-%m-%d %H:%M:%S} UTC and may hold the erased client; only "
            "generations published after it can be restored")
    source = paths.generations_dir() / manifest["file"]
    if not source.is_file():
        raise RollbackError(f"the file of generation {generation} is gone: {source}")
    digest = sha256_file(source)
    if digest != manifest["sha256"]:
        raise RollbackError(
            f"{source} does not match its manifest (sha256 {digest}, expected "
            f"{manifest['sha256']}): the file was changed; refusing to publish it"
        )
    return _make_current(generation)


def mart_row_count(name: str) -> int:
    """Rows of a mart in the build database (what the next publication would copy)."""
    with duckdb.connect(str(paths.build_db()), read_only=True) as con:
        return int(con.sql(f'select count(*) from {MARTS_SCHEMA}."{name}"').fetchall()[0][0])


def last_publication() -> tuple[datetime, str | None] | None:
    """When the analysts' file was last published or confirmed current (a run that found
    nothing changed, noted in the manifest of the same generation), and by which run; None if
    never published."""
    # The kept generation, not marts.duckdb: an analyst may hold that one read-write (locked).
    db = current_generation_file()
    if db is None or not db.exists():
        return None
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.sql(
            "select published_at, run_id, generation from main._publication "
            "order by published_at desc limit 1"
        ).fetchall()
    if not rows:
        return None
    published_at, run_id, generation = rows[0]
    manifest = current_manifest() or {}
    checked = manifest.get("checked_unchanged_at")
    if checked and manifest.get("generation") == generation:
        return datetime.fromisoformat(checked).astimezone(UTC), manifest.get("checked_run_id")
    return published_at.astimezone(UTC), run_id
