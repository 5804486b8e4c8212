"""What case-management rows must agree with beyond the standard's own rules.

A row can be well-formed and still corrupt every figure built on it:

- its department (the folder it arrived in) or its program is not in the organisation's reference
  data: marts would count cases of a department or program that no dimension knows, and open data
  would publish a department nobody defined;
- a date lies in the future (2031 typed for 2021): every monthly mart would run to that date,
  with the case "active" in each month;
- a date lies before 1900 (a year typed as 0023): the date dimension would start in that year,
  and every monthly figure with it.

Such rows are quarantined at ingest with their reason (a file of an unknown department is rejected
as a whole), never loaded, never published. Reference data may arrive in the same run as the case
data, and the two loads run in either order, so the known codes are those already loaded into the
warehouse together with the reference files waiting in the inbox.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

import duckdb

from warehouse import datasets, paths, settings

REFERENCE_DATASET = datasets.REFERENCE
# Earliest valid date of any field, birth dates included: no client alive was born before it, and
# a real run that loaded a contact dated 0023-07-18 grew dim_date to 731,581 days.
EARLIEST_DATE = dt.date(1900, 1, 1)


@dataclass
class Plausibility:
    """The checks for one file: allowed codes per standard field, and the range of valid dates
    (the earliest applies everywhere, the latest only where today's date is known)."""

    allowed: dict[str, frozenset[str]] = field(default_factory=dict)
    latest_date: dt.date | None = None
    earliest_date: dt.date | None = EARLIEST_DATE
    # Why a field's codes are what they are (named in the quarantine reason).
    allowed_from: dict[str, str] = field(default_factory=dict)


@dataclass
class ReferenceCodes:
    """Departments and programs of every organisation, as the reference data defines them."""

    departments: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    programs: dict[tuple[str, str], set[str]] = field(default_factory=lambda: defaultdict(set))
    organisations_with_programs: set[str] = field(default_factory=set)

    def department_problem(self, organisation: str, department: str) -> str | None:
        """Why case data of this folder cannot be attributed, or None."""
        known = self.departments.get(organisation)
        if not known:
            return (
                f"no reference data for organisation '{organisation}': departments.csv has never "
                "been delivered (expected in the reference inbox as "
                f"{organisation}/departments.csv), "
                "so its case data cannot be attributed to departments"
            )
        if department not in known:
            return (
                f"department '{department}' (the folder this file arrived in) is not in the "
                f"reference departments of {organisation} (known: {', '.join(sorted(known))}); "
                "add it to departments.csv or move the file into the right department's folder"
            )
        return None

    def for_file(self, organisation: str, department: str | None) -> Plausibility:
        """The checks for a file of this organisation and department; ``department`` None for a
        file whose rows name their own department (a profile's department column): then any
        program of the organisation is plausible."""
        if department is None:
            programs = frozenset(p for (org, _), found in self.programs.items()
                                 if org == organisation for p in found)
        else:
            programs = frozenset(self.programs.get((organisation, department), set()))
        if organisation in self.organisations_with_programs:
            source = (f"the reference programs of department {department}" if department
                      else f"the reference programs of {organisation}")
        else:
            source = f"the reference programs of {organisation} (programs.csv was never delivered)"
        return Plausibility(
            allowed={"program_code": programs},
            latest_date=latest_plausible_date(),
            allowed_from={"program_code": source},
        )


def latest_plausible_date() -> dt.date:
    """The latest date a row may hold: today plus the tolerance for clocks and early entries."""
    return dt.date.today() + dt.timedelta(days=settings.future_date_tolerance_days())


def _warehouse_rows(sql: str) -> list[tuple[str, ...]]:
    """Rows of completed reference loads in the build database (none before the first load)."""
    db = paths.build_db()
    if not db.exists():
        return []
    with duckdb.connect(str(db), read_only=True) as con:
        present = {r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = ?",
            [REFERENCE_DATASET]).fetchall()}
        if not {"departments", "programs", "_dlt_loads"} <= present:
            return []
        return [tuple(r) for r in con.execute(sql).fetchall()]


def _inbox_rows(name: str, columns: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Rows of the reference files ``<organisation>/<name>.csv`` waiting in the inbox."""
    rows: list[tuple[str, ...]] = []
    for path in sorted(paths.reference_inbox().glob(f"*/{name}.csv")):
        try:
            with path.open(encoding="utf-8-sig", newline="") as fh:
                rows += [
                    tuple((r.get(c) or "").strip() for c in columns) for r in csv.DictReader(fh)
                ]
        except (OSError, UnicodeDecodeError, csv.Error):
            continue  # the reference load rejects it with its reason; it defines nothing here
    return rows


def reference_codes() -> ReferenceCodes:
    """Known departments and programs: loaded reference data plus reference files in the inbox."""
    loaded = (
        f"join {REFERENCE_DATASET}._dlt_loads as l "
        "on l.load_id = t._dlt_load_id and l.status = 0"
    )
    codes = ReferenceCodes()
    for org, dept in [
        *_warehouse_rows(f"select organisation_code, department_code "
                         f"from {REFERENCE_DATASET}.departments as t {loaded}"),
        *_inbox_rows("departments", ("organisation_code", "department_code")),
    ]:
        codes.departments[org].add(dept)
    for org, dept, program in [
        *_warehouse_rows(f"select organisation_code, department_code, program_code "
                         f"from {REFERENCE_DATASET}.programs as t {loaded}"),
        *_inbox_rows("programs", ("organisation_code", "department_code", "program_code")),
    ]:
        codes.programs[(org, dept)].add(program)
        codes.organisations_with_programs.add(org)
    return codes

