"""The erasure register: which clients were erased, so that nothing brings them back.

A client is erased on request (GDPR Art. 17) or when the source system deletes the record after
its retention period (``datenwerk erase``, :mod:`ingestion.erasure`). The register keeps one entry
per erased client: the organisation and the department folder that delivered the number, the
keyed pseudonyms of the client and of its cases (per key fingerprint: a key rotation adds the
pseudonyms under the new key), when, and who and why as free text. It never holds the clear
number: without the key a pseudonym identifies nobody, and with the key it is what the warehouse
held anyway.

Who reads it:

- the case-management load leaves out the rows of erased clients and their cases, whatever file
  (a re-delivered or older export) still holds them, and counts them as erased;
- ``rotate-key`` carries each entry to the new key;
- the publication and the department exports remove what was written before the latest erasure
  (kept generations, dated export folders), so that a rollback never brings the client back.

The register lives in the protected folder (pseudonyms are personal data) and outside
``build.duckdb``: a warehouse rebuilt from the inbox must still leave the erased clients out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from warehouse import paths
from warehouse.files import write_json_atomically

REGISTER_VERSION = 1


@dataclass
class Erasure:
    """One erased client of one delivering folder."""

    organisation_code: str
    folder: str  # the department folder that delivered the client's number
    erased_at: str  # ISO time, UTC
    reason: str  # who asked and why, free text without the number
    # key fingerprint -> {"clients": [pseudonym], "cases": [pseudonyms of its cases]}
    pseudonyms: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)  # raw rows deleted per table
    # Recorded, and its rows perhaps deleted, but not yet compacted away and its publications
    # not yet removed: ``datenwerk erase`` again completes it.
    pending: bool = False

    def ids(self, fingerprint: str, kind: str) -> set[str]:
        return set(self.pseudonyms.get(fingerprint, {}).get(kind, []))


def register_path() -> Path:
    return paths.protected_dir() / "erasure_register.json"


def entries() -> list[Erasure]:
    """Every erasure recorded, oldest first (none before the first)."""
    path = register_path()
    if not path.is_file():
        return []
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return [Erasure(**e) for e in data.get("erasures", [])]


def save(erasures: list[Erasure]) -> None:
    write_json_atomically(register_path(), {
        "version": REGISTER_VERSION,
        "erasures": [e.__dict__ for e in erasures],
    })


def find(erasures: list[Erasure], organisation: str, folder: str, fingerprint: str,
         client: str) -> Erasure | None:
    """The entry of ``client`` (its pseudonym under ``fingerprint``) in ``organisation/folder``."""
    for e in erasures:
        if (e.organisation_code, e.folder) == (organisation, folder) and client in e.ids(
                fingerprint, "clients"):
            return e
    return None


def erased_ids(fingerprint: str) -> dict[tuple[str, str], tuple[set[str], set[str]]]:
    """Per (organisation, folder): the pseudonyms under ``fingerprint`` of the erased clients
    and of their cases."""
    out: dict[tuple[str, str], tuple[set[str], set[str]]] = {}
    for e in entries():
        clients, cases = out.setdefault((e.organisation_code, e.folder), (set(), set()))
        clients |= e.ids(fingerprint, "clients")
        cases |= e.ids(fingerprint, "cases")
    return {k: v for k, v in out.items() if v[0] or v[1]}


def add_cases(organisation: str, folder: str, fingerprint: str,
              cases_by_client: dict[str, set[str]]) -> None:
    """Record cases of erased clients that a delivery named for the first time (pseudonyms
    under ``fingerprint``): a later file with only their contacts must find them here."""
    register = entries()
    changed = False
    for client, cases in cases_by_client.items():
        entry = find(register, organisation, folder, fingerprint, client)
        if entry is None:
            continue
        known = entry.pseudonyms.setdefault(fingerprint, {"clients": [client], "cases": []})
        new = cases - set(known.get("cases", []))
        if new:
            known["cases"] = sorted(set(known.get("cases", [])) | new)
            changed = True
    if changed:
        save(register)


def pending() -> list[Erasure]:
    """Erasures recorded but not completed (``datenwerk erase`` stopped on its way): their rows
    may still be in the warehouse."""
    return [e for e in entries() if e.pending]


def last_erasure_at(organisation: str | None = None) -> datetime | None:
    """When the latest erasure (of ``organisation``, or of any) was recorded; None if never.
    Anything published or exported before it may hold an erased client."""
    times = [datetime.fromisoformat(e.erased_at) for e in entries()
             if organisation is None or e.organisation_code == organisation]
    return max(times, default=None)
