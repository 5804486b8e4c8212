"""The demo's public counselling-centre directory: one public address per department, no
person, and no street from the client street pool (so privacy searches stay meaningful)."""

from __future__ import annotations

import csv
from pathlib import Path

from ingestion.demo import names
from ingestion.demo.directory import COLUMNS, write_directory
from ingestion.demo.generator import DEPARTMENTS, ORG_CODE, ORG_NAME
from ingestion.reference import OPTIONAL, TABLES


def test_one_public_address_per_department(tmp_path: Path) -> None:
    path = write_directory(tmp_path, ORG_CODE, ORG_NAME,
                           [(d.code, d.name, d.name_en) for d in DEPARTMENTS])
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["department_code"] for r in rows] == [d.code for d in DEPARTMENTS]
    assert all(r["address_1"] and len(r["postal_code"]) == 5 for r in rows)
    assert not {r["address_1"].rsplit(" ", 1)[0] for r in rows} & set(names.STREETS)
    stewards = {d.steward for d in DEPARTMENTS}
    assert not [r for r in rows if any(s in ",".join(r.values()) for s in stewards)]
    # the reference source accepts the file: its required columns are there, the rest optional
    required, _ = TABLES["locations"]
    assert set(required) <= set(COLUMNS) <= set(required) | set(OPTIONAL["locations"]) | {
        "organisation_code"}
