"""How a profile's value maps fit one export: entries that never matched, texts without an entry.

A value map (``values:`` in a profile, and the department map) is written once against a vendor's
texts; the texts change (a new program, a renamed facility, a typo fixed). ``datenwerk validate``
shows both directions so that a steward can keep the profile in step. Only fields whose values
are mapped are read: never identifiers or personal fields (a profile cannot map those).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from ingestion.case_management.helpers import read_header, source_relation, utf8_source
from ingestion.standard import EntityMapping, Profile, standard

# Values without an entry are listed up to this many per field (most frequent first).
MAX_LISTED = 20


@dataclass(frozen=True)
class ValueMapUsage:
    """One value map against one file."""

    entity: str
    field: str
    column: str
    unused_entries: list[str]
    unmapped_values: list[tuple[str, int]]  # text, rows; most frequent first
    becomes: str | None  # what a text without an entry becomes (None: kept or quarantined)
    rows_unmapped: int = 0


def value_map_usage(
    path: Path, profile: Profile, mappings: list[EntityMapping]
) -> list[ValueMapUsage]:
    """Every value map of ``mappings`` (and the profile's department map) checked against the
    distinct texts of its column in ``path``."""
    maps: list[tuple[str, str, str, dict[str, str], str | None, tuple[str, ...]]] = []
    for m in mappings:
        spec = standard()[m.entity]
        for fld in sorted(set(m.values) | set(m.unmapped)):
            if fld in m.columns:
                maps.append((m.entity, fld, m.columns[fld], m.values.get(fld, {}),
                             m.unmapped.get(fld), spec.fields[fld].codes))
    if profile.department is not None:
        d = profile.department
        maps.append(("-", "department_code", d.column, d.values, d.unmapped, ()))
    header = read_header(path, profile)
    maps = [entry for entry in maps if entry[2] in header.names]
    if not maps:
        return []
    found = []
    with duckdb.connect() as con, utf8_source(path, header) as source:
        relation = source_relation(con, path, header, source)
        for entity, fld, column, values, unmapped, codes in maps:
            col = '"' + column.replace('"', '""') + '"'
            counts = con.execute(
                f"select trim({col}) as v, count(*) as n from {relation} "
                f"where nullif(trim({col}), '') is not null group by all order by n desc, v"
            ).fetchall()
            seen = {v for v, _ in counts}
            without = [(v, n) for v, n in counts if v not in values and v not in codes]
            found.append(ValueMapUsage(
                entity=entity, field=fld, column=column,
                unused_entries=sorted(k for k in values if k not in seen),
                unmapped_values=without[:MAX_LISTED], becomes=unmapped,
                rows_unmapped=sum(n for _, n in without),
            ))
    return found


def usage_lines(usages: list[ValueMapUsage]) -> list[str]:
    """The findings for a steward, in German (what ``datenwerk validate`` prints)."""
    lines: list[str] = []
    for u in usages:
        where = f"{u.field} (Spalte '{u.column}')"
        if u.unused_entries:
            lines.append(f"Zuordnung {where}: nie verwendete Einträge: "
                         + ", ".join(repr(e) for e in u.unused_entries))
        if u.unmapped_values:
            result = (f"werden zu {u.becomes!r}" if u.becomes is not None
                      else "bleiben unverändert bzw. sind unbekannte Codes")
            listed = ", ".join(f"{v!r} ({n}x)" for v, n in u.unmapped_values)
            lines.append(f"Zuordnung {where}: {u.rows_unmapped} Zeilen mit Werten ohne Eintrag "
                         f"({result}): {listed}")
    return lines
