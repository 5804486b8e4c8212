"""Erasing one client from the warehouse, and keeping it erased.

``datenwerk erase`` (GDPR Art. 17, or the source system's own deletion after its retention
period) names the client as the steward receives it: the organisation, the department folder its
exports arrive in and the client's number in that case-management system. Numbers are unique only
per delivering folder (``transform/macros/ids.sql``), so the folder is part of the name.

:func:`erase` computes the number's keyed pseudonym with the current key (the clear number is
never stored or logged), deletes the client's rows and those of its cases (their contacts, goals
and assessments, by the raw tables' keys) from the raw case-management tables, records the
erasure in the register (:mod:`warehouse.erasure`), drops the built models and compacts the file
(no freed block keeps the client), removes dlt's packages of raw rows not loaded yet, asks for a
full refresh of every model, and removes the kept publications and the organisation's dated
department exports written before it.
The next run builds and publishes without the client.

:func:`leave_out_erased` applies the register at every load: a re-delivered or older export that
still holds an erased client loads without its rows, and the file registry counts them
(``rows_erased``). :func:`carry_to_key` keeps the register valid across ``rotate-key``.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from ingestion.delivery import AcceptedRows, FileOutcome, FileRejected, complete_files
from ingestion.pseudonymise import (
    KEY_TABLE,
    KeyMismatchError,
    key_fingerprint,
    organisation_key,
    pseudonym,
)
from warehouse import datasets, erasure, marts, paths
from warehouse.changes import request_full_refresh
from warehouse.compact import compact
from warehouse.db import sql_text, table_exists

log = logging.getLogger(__name__)
DATASET = datasets.CASE_MANAGEMENT
# The raw tables of a client's rows, in the order they are followed: the client, its cases (by
# the client's number), then what belongs to those cases (by the case numbers).
BY_CLIENT = ("clients", "cases")
BY_CASE = ("contacts", "goals", "assessments")
# Where a raw row was delivered: case_management/<organisation>/<folder>/<file>.
FOLDER_SQL = ("split_part(source_file, '/', 2) = $organisation "
              "and split_part(source_file, '/', 3) = $folder")


class ErasurePending(RuntimeError):
    """An erasure was recorded and did not complete: a load now could publish the client."""


def refuse_while_pending() -> None:
    """Refuse to load while an erasure is incomplete: ``datenwerk erase`` stopped after it
    recorded the client (its rows may still be in the raw tables, its publications kept), and
    a run would build and publish them. Erasing again with the same number completes it."""
    waiting = erasure.pending()
    if waiting:
        named = ", ".join(f"{e.organisation_code}/{e.folder} (recorded {e.erased_at})"
                          for e in waiting)
        raise ErasurePending(
            f"An erasure did not complete: {named}. Its client's rows may still be in the "
            "warehouse, and this run would publish them. Run `datenwerk erase` again with the "
            "same folder and number (the steward has it; the register holds only pseudonyms), "
            "then run again.")


class ErasureRefused(ValueError):
    """The request cannot be carried out as given (a malformed folder, the number in the
    reason); nothing was changed. The message is German: the steward reads it."""


@dataclass
class ErasureResult:
    organisation: str
    folder: str
    rows: dict[str, int]  # raw rows deleted per table
    already_erased: bool = False  # the register held the client already
    generations_removed: list[str] = field(default_factory=list)
    exports_removed: list[Path] = field(default_factory=list)
    schemas_dropped: list[str] = field(default_factory=list)  # the models' (rebuilt next run)
    # Rejected files of the folder (protected/rejected/, clear text like the inbox) that still
    # hold the number: retention, like the inbox; the steward is told.
    rejected_files: list[Path] = field(default_factory=list)
    # An erasure stopped after its rows were deleted (before the file was compacted, the models
    # dropped or the publications removed) was completed now.
    resumed: bool = False

    @property
    def found(self) -> bool:
        return sum(self.rows.values()) > 0


def parse_folder(text: str) -> tuple[str, str]:
    """``<organisation>/<department folder>`` as given on the command line."""
    parts = [p for p in text.strip().strip("/").split("/") if p]
    if len(parts) != 2 or any(p in (".", "..") or p.startswith(".") for p in parts):
        raise ErasureRefused(
            f"--folder {text!r}: erwartet wird <Träger>/<Fachbereichsordner>, der Ordner des "
            "Posteingangs, in den die Exporte der Klient:in geliefert werden (z. B. swm/SB)")
    return parts[0], parts[1]


def _check_key(con: duckdb.DuckDBPyConnection) -> None:
    """The pseudonym is only the warehouse's if the key is: refuse with another one."""
    if not table_exists(con, "datenwerk_meta", "pseudonym_key"):
        return
    rows = con.execute(
        f"select fingerprint from {KEY_TABLE} order by recorded_at desc limit 1").fetchall()
    if rows and rows[0][0] != key_fingerprint():
        raise KeyMismatchError(
            f"the configured pseudonymisation key (fingerprint {key_fingerprint()}) is not the "
            f"warehouse's ({rows[0][0]}): its pseudonym of the number would match nothing. "
            "Configure the warehouse's key and erase again.")


def _rejected_files_holding(organisation: str, folder: str, number: str) -> list[Path]:
    """The folder's rejected files (moved out of the inbox, clear text) whose bytes hold the
    number as a value of its own (not inside a longer number); workbooks are zipped, so any
    rejected workbook of the folder is named."""
    root = paths.rejected_dir() / "case_management" / organisation / folder
    if not root.is_dir():
        return []
    pattern = re.compile(rb"(?<![\w-])" + re.escape(number.encode("utf-8")) + rb"(?![\w-])")
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.name.endswith(
        ".reason.txt") and (p.suffix.lower() in (".xlsx", ".xls") or pattern.search(
            p.read_bytes())))


def _drop_built_schemas(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Drop the schemas the dbt project builds (staging, intermediate, marts, seeds, as its
    manifests name them): they hold the client until the next build, and a rebuild would only
    free, not clear, their blocks. Nobody reads them between runs; the next run rebuilds them
    in full. Without any manifest (an installation that has not parsed the project yet), every
    schema but the loads' own: nothing else in the file is written outside dbt."""
    built: set[str] = set()
    manifests = [m for m in (marts.manifest_path(), paths.dbt_target_dir() / "manifest.json")
                 if m.is_file()]
    for manifest in manifests:
        nodes = json.loads(manifest.read_text(encoding="utf-8")).get("nodes", {}).values()
        built |= {str(n["schema"]) for n in nodes
                  if n.get("resource_type") in ("model", "seed", "snapshot") and n.get("schema")}
    present = {r[0] for r in con.execute(
        "select schema_name from information_schema.schemata "
        "where catalog_name = current_database()").fetchall()}
    # Never the loads' own schemas, whatever a project calls its layers.
    dropped = sorted(s for s in (built & present if manifests else present)
                     if not s.startswith("raw_") and s not in ("main", "datenwerk_meta"))
    for schema in dropped:
        con.execute(f'drop schema "{schema}" cascade')
    return dropped


def _clear_leftovers(db: Path) -> None:
    """What holds deleted rows after the delete. Deleted rows stay in the file's freed blocks
    until DuckDB reuses them: a copy of what is left replaces the file (the models were dropped
    first, and the next build is a full refresh anyway, so the rebuild frees no block that holds
    the client). A load that stopped after dlt extracted it (a killed or failed run) waits in
    dlt's working folder with the client's rows, and the next run loads it before anything new,
    past the register: it goes. Its files were not registered as loaded, so the next run reads
    them again, through the register; dlt takes its state from the warehouse (as after
    rotate-key)."""
    compact(db)
    shutil.rmtree(paths.dlt_dir() / f"datenwerk_{DATASET}", ignore_errors=True)


def _cases_of(con: duckdb.DuckDBPyConnection, client: str, where: dict[str, str],
              known: set[str]) -> set[str]:
    """The client's cases in the folder: those whose latest delivered version names the
    client (as staging picks it, ``latest_by_key``), and ``known`` (the register's, whose rows
    a former erasure deleted). A case the source moved to another client since is that
    client's now: its contacts, goals and assessments stay (only its rows that name the erased
    client go, see :func:`erase`)."""
    if not table_exists(con, DATASET, "cases"):
        return set(known)
    return set(known) | {r[0] for r in con.execute(
        f'select case_id from "{DATASET}".cases where {FOLDER_SQL} and case_id is not null '
        "qualify row_number() over (partition by case_id "
        "order by _dlt_load_id desc, source_file desc, source_line desc) = 1 "
        "and client_id = $client",
        {**where, "client": client}).fetchall()}


def _holds(con: duckdb.DuckDBPyConnection, client: str, cases: set[str],
           where: dict[str, str]) -> bool:
    """Whether any raw row of the folder belongs to the client or one of its cases."""
    for table in (*BY_CLIENT, *BY_CASE):
        ids = {client} if table in BY_CLIENT else cases
        if ids and table_exists(con, DATASET, table) and con.execute(
                f'select count(*) from "{DATASET}"."{table}" where {FOLDER_SQL} and '
                f"list_contains($ids, {'client_id' if table in BY_CLIENT else 'case_id'})",
                {**where, "ids": sorted(ids)}).fetchall()[0][0]:
            return True
    return False


def _delete(con: duckdb.DuckDBPyConnection, table: str, column: str, ids: Iterable[str],
            where: dict[str, str]) -> int:
    if not ids or not table_exists(con, DATASET, table):
        return 0
    return int(con.execute(
        f'delete from "{DATASET}"."{table}" where {FOLDER_SQL} '
        f"and list_contains($ids, {column})", {**where, "ids": sorted(ids)}).fetchall()[0][0])


def _delete_client(con: duckdb.DuckDBPyConnection, client: str, cases: set[str],
                   where: dict[str, str]) -> dict[str, int]:
    """Delete the client's raw rows and its cases' (every version of them, also one that named
    another client before); rows deleted per table."""
    rows = {table: _delete(con, table, "client_id", {client}, where) for table in BY_CLIENT}
    rows["cases"] += _delete(con, "cases", "case_id", cases, where)
    rows.update({table: _delete(con, table, "case_id", cases, where) for table in BY_CASE})
    return rows


def erase(folder_text: str, client_number: str, reason: str) -> ErasureResult:
    """Erase the client ``client_number`` of the department folder ``<org>/<folder>`` (see the
    module docstring). Call between runs: it writes ``build.duckdb`` (DuckDB has one writer).
    ``reason``: who asked and why, free text; it must not contain the number."""
    organisation, folder = parse_folder(folder_text)
    number = client_number.strip()  # as the load reads it (pseudonymise_array trims)
    if not number:
        raise ErasureRefused("--client ist leer")
    if number in reason:
        raise ErasureRefused("Der Grund enthält die Klientennummer. Das Löschregister bewahrt "
                             "den Grund auf, nie die Nummer: beschreiben Sie den Antrag ohne sie")
    fingerprint = key_fingerprint()
    client = pseudonym(number, organisation_key(organisation))
    register = erasure.entries()
    entry = erasure.find(register, organisation, folder, fingerprint, client)
    result = ErasureResult(organisation, folder, dict.fromkeys((*BY_CLIENT, *BY_CASE), 0),
                           already_erased=entry is not None)
    db = paths.build_db()
    if not db.exists():
        return result
    where = {"organisation": organisation, "folder": folder}
    # Read-only until the client is found: an unknown number changes nothing, not even the file.
    with duckdb.connect(str(db), read_only=True) as con:
        _check_key(con)
        cases = _cases_of(con, client, where, entry.ids(fingerprint, "cases") if entry else set())
        found = _holds(con, client, cases, where)
    # An erasure that stopped after its delete left no raw row but may have left the client in
    # the file's freed blocks, the built models and the kept publications: it is completed.
    result.resumed = not found and entry is not None and entry.pending
    if not found and not result.resumed:
        return result
    result.rejected_files = _rejected_files_holding(organisation, folder, number)
    del number
    now = datetime.now(UTC)
    # The register first: from now on no load brings the client back, even if this stops.
    if entry is None:
        entry = erasure.Erasure(organisation, folder, now.isoformat(), reason)
        register.append(entry)
    else:
        entry.erased_at, entry.reason = now.isoformat(), f"{entry.reason}; {reason}"
    entry.pseudonyms[fingerprint] = {"clients": [client], "cases": sorted(cases)}
    entry.pending = True  # until the publications are removed: erase again completes it
    erasure.save(register)
    with duckdb.connect(str(db)) as con:
        con.begin()
        result.rows = _delete_client(con, client, cases, where)
        con.commit()
        dropped = _drop_built_schemas(con)
    _clear_leftovers(db)
    result.schemas_dropped = dropped
    entry.rows = {t: entry.rows.get(t, 0) + n for t, n in result.rows.items()}
    erasure.save(register)
    log.info("Erased a client of %s/%s (%d raw rows)", organisation, folder,
             sum(result.rows.values()))
    # Not at the top: the exports bring pandas, which a load does not need.
    from warehouse.exports import drop_exports_before
    from warehouse.publish import drop_generations_before

    request_full_refresh(now)
    result.generations_removed = drop_generations_before(now)
    result.exports_removed = drop_exports_before(organisation, now)
    entry.pending = False
    erasure.save(register)
    return result


def _drop_rows(rows: AcceptedRows, by: dict[str, set[str]]) -> int:
    """Remove, in one pass, the rows whose column (a key of ``by``) holds one of its ids from an
    accepted rows' Parquet file; return how many."""
    by = {column: ids for column, ids in by.items() if ids}
    if not by:
        return 0
    erased = " or ".join(f"coalesce(list_contains(${column}, {column}), false)" for column in by)
    params = {column: sorted(ids) for column, ids in by.items()}
    with duckdb.connect() as con:
        source = f"read_parquet({sql_text(str(rows.path))})"
        found = int(con.execute(f"select count(*) from {source} where {erased}",
                                params).fetchall()[0][0])
        if not found:
            return 0
        kept = rows.path.with_name(rows.path.stem + "-kept.parquet")
        con.execute(f"copy (select * from {source} where not ({erased})) to "
                    f"{sql_text(str(kept))} (format parquet, compression zstd)", params)
    kept.replace(rows.path)
    rows.rows -= found
    return found


def leave_out_erased(accepted: list[tuple[str, str, str, AcceptedRows, FileOutcome]]) -> int:
    """Remove the rows of erased clients and of their cases from a delivery's accepted rows
    (organisation, folder, entity, rows, the outcome that counts them), before dlt loads them;
    each outcome counts them as ``rows_erased``, not loaded. Cases of an erased client are
    found by its number in the delivery's case rows too, so their contacts, goals and
    assessments go with them. Returns the rows left out."""
    ids = erasure.erased_ids(key_fingerprint())
    if not ids:
        return 0
    total = 0
    order = {e: i for i, e in enumerate((*BY_CLIENT, *BY_CASE))}
    for organisation, folder, entity, rows, outcome in sorted(
            accepted, key=lambda a: order.get(a[2], len(order))):
        clients, cases = ids.get((organisation, folder), (set(), set()))
        if entity not in order or not (clients or cases):
            continue
        if entity == "cases" and clients:
            with duckdb.connect() as con:
                named = con.execute(
                    f"select distinct client_id, case_id from "
                    f"read_parquet({sql_text(str(rows.path))}) "
                    "where list_contains($ids, client_id) and case_id is not null",
                    {"ids": sorted(clients)}).fetchall()
            named_by: dict[str, set[str]] = {}
            for client, case in named:
                named_by.setdefault(client, set()).add(case)
            cases |= {case for _, case in named}
            # A later file with only these cases' contacts must find them in the register.
            erasure.add_cases(organisation, folder, key_fingerprint(), named_by)
        # A case row goes by its client or by its case (an erased client's case, in a version
        # naming another client).
        n = _drop_rows(rows, {"client_id": clients} if entity == "clients"
                       else {"client_id": clients, "case_id": cases} if entity == "cases"
                       else {"case_id": cases})
        if n:
            outcome.rows_loaded -= n
            outcome.rows_erased += n
            total += n
            log.info("Left out %d %s row(s) of erased clients from %s/%s (erasure register)",
                     n, entity, organisation, folder)
    return total


@dataclass
class Carried:
    carried: int  # erasures now also recorded under the new key
    not_found: int  # erasures whose client no inbox file holds any more


def carry_to_key(old_key: bytes, new_key: bytes) -> Carried:
    """Record every erasure under the new key as well, before a rotation switches to it.

    Pseudonyms cannot be translated between keys; the inbox still holds the exports in clear,
    and ``rotate-key`` reloads them. So the client and case numbers of each erased client's
    folder are read from its files with both keys, row by row: where the old key gives an
    erased pseudonym, the new key's pseudonym of the same row is recorded. The clear numbers
    stay inside the reader."""
    register = erasure.entries()
    old_fp, new_fp = key_fingerprint(old_key), key_fingerprint(new_key)
    folders: dict[tuple[str, str], list[erasure.Erasure]] = {}
    for e in register:
        if e.ids(old_fp, "clients"):
            folders.setdefault((e.organisation_code, e.folder), []).append(e)
    carried = not_found = 0
    for (organisation, folder), erased in folders.items():
        old_clients = set().union(*(e.ids(old_fp, "clients") for e in erased))
        old_cases = set().union(*(e.ids(old_fp, "cases") for e in erased))
        pairs = _read_folder(organisation, folder, (old_key, new_key), old_clients, old_cases)
        for e in erased:
            mine = e.ids(old_fp, "clients")
            found = sorted(pairs.clients[c] for c in mine if c in pairs.clients)
            own_cases = e.ids(old_fp, "cases") | {
                c for c, client in pairs.case_client.items() if client in mine}
            e.pseudonyms[new_fp] = {"clients": found, "cases": sorted(
                pairs.cases[c] for c in own_cases if c in pairs.cases)}
            carried += bool(found)
            not_found += not found
    if folders:
        erasure.save(register)
    return Carried(carried, not_found)


def _read_folder(organisation: str, folder: str, keys: tuple[bytes, bytes],
                 old_clients: set[str], old_cases: set[str]) -> Pairs:
    """The pseudonyms of the erased clients and their cases under both keys, read from every
    file of the folder that the load would read."""
    from ingestion.case_management import FOLDER_DEPTH, detect_mappings
    from ingestion.case_management.helpers import parse_export
    from ingestion.standard import standard

    pairs = Pairs({}, {}, {})
    org_keys = [organisation_key(organisation, key) for key in keys]
    inbox = paths.case_management_inbox()
    for path in complete_files(inbox / organisation / folder, "*"):
        if len(path.relative_to(inbox).parts) != FOLDER_DEPTH:
            continue
        try:
            profile, mappings = detect_mappings(path)
            for mapping in mappings:
                spec = standard()[mapping.entity]
                if not {"client_id", "case_id"} & set(spec.fields):
                    continue
                old, new = (parse_export(
                    path, profile, mapping, spec,
                    FileOutcome(path, "", organisation, mapping.entity, profile.name), {},
                    key=key).to_pydict() for key in org_keys)
                pairs.add(old, new, old_clients, old_cases)
        except FileRejected:
            continue  # not loadable: it brings nobody back either
    return pairs


@dataclass
class Pairs:
    """Old pseudonym -> new pseudonym of the erased clients and their cases, and each case's
    client (old pseudonyms), found in a folder's files."""

    clients: dict[str, str]
    cases: dict[str, str]
    case_client: dict[str, str]

    def add(self, old: dict[str, list[str | None]], new: dict[str, list[str | None]],
            old_clients: set[str], old_cases: set[str]) -> None:
        """Pair the old and new pseudonyms of the same rows (both reads in the file's order)."""
        if old["source_line"] != new["source_line"]:
            raise RuntimeError("the two reads of one file differ; rotate again")
        rows = len(old["source_line"])
        old_client_ids = old.get("client_id", [None] * rows)
        old_case_ids = old.get("case_id", [None] * rows)
        for i in range(rows):
            client, case = old_client_ids[i], old_case_ids[i]
            if client is not None and client in old_clients:
                self.clients[client] = str(new["client_id"][i])
            if case is not None and (case in old_cases or client in old_clients):
                self.cases[case] = str(new["case_id"][i])
                if client is not None and client in old_clients:
                    self.case_client[case] = client
