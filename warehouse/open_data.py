"""Open data: what the public may see, written into a new folder, proved safe, swapped in.

``DATENWERK_HOME/open_data/`` (a symlink to the current generation in ``open_data.generations/``)
holds:

* the counselling-centre directory as Open Referral HSDS 3.0 tables ``organization.csv``,
  ``service.csv``, ``location.csv`` with ``address.csv`` and ``service_at_location.csv`` (HSDS
  keeps addresses and the service-location link in tables of their own). Source: the public
  reference file ``reference/<org>/locations.csv`` (staging model ``stg_reference__locations``);
  only public facts of organisations, no persons;
* yearly aggregates of cases closed in a year, from the published marts (``fct_cases``):
  ``cases_by_end_reason.csv`` (end-reason category x department, per year) and
  ``cases_by_region.csv`` (3-digit postcode region x department, per year), each with row, column
  and grand totals in rows labelled ``total``. Counts below ``SUPPRESSION_THRESHOLD`` and
  complementary cells are shown as "." (see :mod:`warehouse.suppression`). Where the
  installation holds several organisations (a federation or not), a department is named
  ``<organisation>/<department>``: two organisations' ``SB`` are two columns, never one sum;
* ``catalog.jsonld``: DCAT-AP.de metadata of every dataset and distribution (inline context,
  URLs relative to the folder so it can be served from anywhere).

What is guaranteed (checked on the files as written, before the swap): no published count is in
1..threshold-1; for every year, the two aggregate tables are checked as one linked system (they
share the department totals and the grand total, so differencing one against the other is
covered) and every "." has a feasible range at least ``PROTECTION_MARGIN`` wide. Years are
separate populations and no all-years total is published. Not covered: differencing between
successive nightly generations (a late delivery can change a past year's cells); publish a year
once it is complete if that matters.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from warehouse import paths, settings
from warehouse.db import table_exists
from warehouse.registry import Registry
from warehouse.suppression import (
    TOTAL,
    DisclosureReport,
    Table,
    suppress,
    table_from_counts,
    verify_no_disclosure,
)

__all__ = ["build", "swap_in", "verify_folder", "verify_no_disclosure"]

SUPPRESSED = "."  # as in German official tables ("Zahlenwert unbekannt oder geheimzuhalten")
# fct_cases.end_reason_category, in its order: the open data counts the marts' categories.
END_REASON_CATEGORIES = ("planned_end", "dropout", "other_end")
UNKNOWN = "unknown"
# The marts that name the organisations of an installation (departments_by_organisation).
ORGANISATION_TABLES = ("dim_department", "fct_cases", "mart_impact")
KEEP_GENERATIONS = 3  # the current one plus two for a reader that still has files open

LICENSE = "http://dcat-ap.de/def/licenses/dl-by-de/2.0"
HSDS_SPEC = "https://docs.openreferral.org/en/latest/hsds/schema_reference.html"
# The aggregates' description where departments are named with their organisation.
BY_ORGANISATION = ("Der Fachbereich steht mit dem Kürzel seines Trägers (alternate_name in "
                   "organization.csv) als 'Träger/Fachbereich': gleichnamige Fachbereiche "
                   "verschiedener Träger werden nicht zusammengezählt.")

# Aggregate files: name -> (row dimension, column dimension, title, description).
AGGREGATES: Registry[tuple[str, str, str, str]] = Registry("open-data aggregate", {
    "cases_by_end_reason": (
        "end_reason_category", "department_code",
        "Abgeschlossene Fälle nach Beendigungsgrund und Fachbereich",
        ("Im Jahr abgeschlossene Fälle nach Art der Beendigung wie im KDS 3.0 (planmäßig: "
         "regulär, vorzeitig auf Vereinbarung oder therapeutischen Rat, planmäßige "
         "Weitervermittlung; Abbruch; sonstige Beendigung) und Fachbereich, mit Summen. "
         "Fallzahlen unter der Schwelle und Zellen, aus denen sie sich errechnen ließen, "
         "stehen als '.'."),
    ),
    "cases_by_region": (
        "region", "department_code",
        "Abgeschlossene Fälle nach Region und Fachbereich",
        ("Im Jahr abgeschlossene Fälle nach Region der Klient:innen (die ersten drei Ziffern "
         "der Postleitzahl; 'unknown' ohne Postleitzahl) und Fachbereich, mit Summen. "
         "Fallzahlen unter der Schwelle und Zellen, aus denen sie sich errechnen ließen, "
         "stehen als '.'."),
    ),
})

# HSDS 3.0 field names (the subset we fill; order as in the schema reference).
HSDS_FIELDS: dict[str, tuple[str, ...]] = {
    "organization": ("id", "name", "alternate_name", "description", "email", "website",
                     "uri", "parent_organization_id"),
    "service": ("id", "organization_id", "program_id", "name", "alternate_name", "description",
                "url", "email", "status", "last_modified"),
    "location": ("id", "location_type", "url", "organization_id", "name", "alternate_name",
                 "description", "latitude", "longitude"),
    "address": ("id", "location_id", "attention", "address_1", "address_2", "city", "region",
                "state_province", "postal_code", "country", "address_type"),
    "service_at_location": ("id", "service_id", "location_id", "description"),
}
# The catalogue title of each HSDS table: a table without one fails here, at import.
HSDS_TITLES: Registry[str] = Registry("HSDS table title", {
    "organization": "Träger (HSDS organization)",
    "service": "Beratungsangebote (HSDS service)",
    "location": "Beratungsstellen (HSDS location)",
    "address": "Anschriften der Beratungsstellen (HSDS address)",
    "service_at_location": "Angebote je Beratungsstelle (HSDS service_at_location)",
}, declared=HSDS_FIELDS)




def departments_by_organisation(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the open data names each department with its organisation
    (``<organisation>/<department>``): in a federation, and in any installation whose marts hold
    more than one organisation. Organisations choose their department codes themselves; the same
    code at two of them (``SB``) is two departments, whose sum would let a figure one of them
    hides be subtracted from what the other shows. An installation of one organisation names
    its departments by their code."""
    if settings.federation():
        return True
    # Every organisation the installation has: its departments, its cases, its programs' money.
    named = [f"select organisation_code from {t}" for t in ORGANISATION_TABLES
             if table_exists(con, "main", t)]
    organisations = con.sql(
        f"select count(distinct organisation_code) from ({' union all '.join(named)})"
    ).fetchall()[0][0] if named else 0
    return int(organisations) > 1


def department_label(organisation: str, department: str, by_organisation: bool) -> str:
    """How the open data, and the reports' cells linked with it, name a department."""
    return f"{organisation}/{department}" if by_organisation else department


def case_counts(marts_db: Path) -> list[tuple[str, str, str, str, int]]:
    """(year, department, end reason, region, cases) of closed cases from the published marts;
    the department is named as :func:`department_label` says."""
    with duckdb.connect(str(marts_db), read_only=True) as con:
        by_organisation = departments_by_organisation(con)
        return [
            (str(y), department_label(o, d, by_organisation), r, g, int(n))
            for y, o, d, r, g, n in con.sql(
                f"""
                select year(end_date), organisation_code, department_code, end_reason_category,
                       coalesce(region, '{UNKNOWN}'), count(*)
                from fct_cases
                where end_date is not null
                group by all
                order by all
                """
            ).fetchall()
        ]


def aggregate_tables(
    rows: Sequence[tuple[str, str, str, str, int]],
    threshold: int | None = None, margin: int | None = None,
) -> list[Table]:
    """The suppressed aggregate tables, two per year (linked by their department totals)."""
    threshold = settings.SUPPRESSION_THRESHOLD if threshold is None else threshold
    margin = settings.PROTECTION_MARGIN if margin is None else margin
    departments = sorted({r[1] for r in rows})
    reasons = [*END_REASON_CATEGORIES, *sorted({r[2] for r in rows} - set(END_REASON_CATEGORIES))]
    regions = sorted({r[3] for r in rows})
    by_year: dict[str, list[tuple[str, str, str, str, int]]] = defaultdict(list)
    for row in rows:
        by_year[row[0]].append(row)
    out: list[Table] = []
    for year, year_rows in sorted(by_year.items()):
        by_reason: dict[tuple[str, ...], int] = defaultdict(int)
        by_region: dict[tuple[str, ...], int] = defaultdict(int)
        for _, dept, reason, region, n in year_rows:
            by_reason[(reason, dept)] += n
            by_region[(region, dept)] += n
        family = [
            table_from_counts("cases_by_end_reason", {"year": year},
                              AGGREGATES["cases_by_end_reason"][:2], by_reason,
                              [reasons, departments]),
            table_from_counts("cases_by_region", {"year": year},
                              AGGREGATES["cases_by_region"][:2], by_region,
                              [regions, departments]),
        ]
        out += suppress(family, threshold, margin)
    return out


def write_aggregate(folder: Path, name: str, tables: Sequence[Table]) -> Path:
    """Long format: year, row dimension, column dimension, cases ("." where suppressed)."""
    row_dim, col_dim = AGGREGATES[name][:2]
    target = folder / f"{name}.csv"
    with target.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(("year", row_dim, col_dim, "cases"))
        for t in tables:
            if t.name != name:
                continue
            for (r, c), v in sorted(t.cells.items(), key=lambda kv: _order(kv[0])):
                writer.writerow((t.fixed["year"], r, c, SUPPRESSED if v is None else v))
    return target


def _order(cell: tuple[str, ...]) -> tuple[tuple[bool, int, str], ...]:
    # Margins last; the end-reason categories in the marts' order, everything else alphabetical.
    return tuple(
        (v == TOTAL, END_REASON_CATEGORIES.index(v) if v in END_REASON_CATEGORIES else 99, v)
        for v in cell
    )


def read_aggregate(path: Path) -> list[Table]:
    """Tables as published in a file (for verifying exactly what goes out)."""
    by_year: dict[str, Table] = {}
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        if len(header) != 4 or header[0] != "year" or header[3] != "cases":
            raise ValueError(f"{path.name}: unexpected header {header}")
        for line, row in enumerate(reader, start=2):
            year, r, c, value = row
            table = by_year.setdefault(
                year, Table(path.stem, {"year": year}, (header[1], header[2])))
            if value == SUPPRESSED:
                table.cells[(r, c)] = None
            elif value.isdigit():
                table.cells[(r, c)] = int(value)
            else:
                raise ValueError(f"{path.name} line {line}: '{value}' is neither a count nor '.'")
    return list(by_year.values())




def directory_rows(build_db: Path) -> list[dict[str, Any]]:
    """The public directory (stg_reference__locations) from the build database; [] if none."""
    if not build_db.exists():
        return []
    with duckdb.connect(str(build_db), read_only=True) as con:
        if not table_exists(con, "staging", "stg_reference__locations"):
            return []
        rel = con.sql("select * from staging.stg_reference__locations "
                      "order by organisation_code, department_code")
        return [dict(zip(rel.columns, row, strict=True)) for row in rel.fetchall()]


def _uuid(*parts: str) -> str:
    # HSDS 3.0 ids are UUIDs; name-based so the same centre keeps its id across publications.
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "datenwerk:" + ":".join(parts)))


def hsds_tables(
    rows: Sequence[dict[str, Any]], modified: datetime
) -> dict[str, list[dict[str, Any]]]:
    """HSDS 3.0 organization, service, location, address and service_at_location records."""
    out: dict[str, list[dict[str, Any]]] = {name: [] for name in HSDS_FIELDS}
    orgs_seen: set[str] = set()
    for row in rows:
        org, dept = row["organisation_code"], row["department_code"]
        org_id = _uuid(org, "organization")
        if org not in orgs_seen:
            orgs_seen.add(org)
            out["organization"].append({
                "id": org_id, "name": row["organisation_name"], "alternate_name": org,
                # the name often ends in "e.V.": no sentence full stop after it
                "description": f"{row['organisation_name']}: Träger der Beratungsstellen",
                "website": (row.get("website") or "").rsplit("/", 1)[0] + "/"
                if row.get("website") else "",
            })
        service_id, location_id = _uuid(org, dept, "service"), _uuid(org, dept, "location")
        out["service"].append({
            "id": service_id, "organization_id": org_id, "name": row["location_name"],
            "alternate_name": dept, "description": row.get("description") or "",
            "url": row.get("website") or "", "status": "active",
            "last_modified": modified.isoformat(timespec="seconds"),
        })
        out["location"].append({
            "id": location_id, "location_type": "physical", "organization_id": org_id,
            "name": row["location_name"], "alternate_name": dept,
            "url": row.get("website") or "",
            "latitude": "" if row.get("latitude") is None else row["latitude"],
            "longitude": "" if row.get("longitude") is None else row["longitude"],
        })
        out["address"].append({
            "id": _uuid(org, dept, "address"), "location_id": location_id,
            "address_1": row["address_1"], "city": row["city"],
            "state_province": row.get("state_province") or "",
            "postal_code": row["postal_code"], "country": row.get("country") or "DE",
            "address_type": "physical",
        })
        out["service_at_location"].append({
            "id": _uuid(org, dept, "service_at_location"), "service_id": service_id,
            "location_id": location_id,
        })
    return out


def write_hsds(folder: Path, tables: dict[str, list[dict[str, Any]]]) -> list[Path]:
    written = []
    for name, fields in HSDS_FIELDS.items():
        target = folder / f"{name}.csv"
        with target.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=fields, lineterminator="\n")
            writer.writeheader()
            for record in tables[name]:
                writer.writerow({f: record.get(f, "") for f in fields})
        written.append(target)
    return written



CONTEXT = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "dcatde": "http://dcat-ap.de/def/dcatde/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}
CSV_FORMAT = "http://publications.europa.eu/resource/authority/file-type/CSV"
CSV_MEDIA_TYPE = "https://www.iana.org/assignments/media-types/text/csv"
THEME_SOCIETY = "http://publications.europa.eu/resource/authority/data-theme/SOCI"
LANGUAGE_DE = "http://publications.europa.eu/resource/authority/language/DEU"


def _de(text: str) -> dict[str, str]:
    return {"@value": text, "@language": "de"}


def _date(value: str, kind: str = "date") -> dict[str, str]:
    return {"@value": value, "@type": f"xsd:{kind}"}


def _distribution(
    folder: Path, file: str, title: str, description: str,
    modified: str, attribution: str, conforms_to: str | None = None,
) -> dict[str, Any]:
    dist: dict[str, Any] = {
        "@id": f"#distribution/{Path(file).stem}",
        "@type": "dcat:Distribution",
        "dct:title": _de(title),
        "dct:description": _de(description),
        "dcat:accessURL": {"@id": file},
        "dcat:downloadURL": {"@id": file},
        "dct:format": {"@id": CSV_FORMAT},
        "dcat:mediaType": {"@id": CSV_MEDIA_TYPE},
        "dct:license": {"@id": LICENSE},
        "dcatde:licenseAttributionByText": attribution,
        "dct:modified": _date(modified, "dateTime"),
        "dcat:byteSize": _date(str((folder / file).stat().st_size), "nonNegativeInteger"),
    }
    if conforms_to:
        dist["dct:conformsTo"] = {"@id": conforms_to}
    return dist


def dcat_catalog(folder: Path, publisher: str, years: Sequence[str], modified: datetime,
                 threshold: int, by_organisation: bool = False) -> dict[str, Any]:
    """DCAT-AP.de catalogue of the folder's datasets and distributions as JSON-LD;
    ``by_organisation``: the aggregates name departments ``<organisation>/<department>``."""
    stamp = modified.isoformat(timespec="seconds")
    whose = "der Träger" if by_organisation else "des Trägers"
    attribution = f"{publisher} (Datenwerk)"
    publisher_node = {"@id": "#publisher", "@type": "foaf:Organization", "foaf:name": publisher}
    common = {
        "@type": "dcat:Dataset",
        "dct:publisher": {"@id": "#publisher"},
        "dct:license": {"@id": LICENSE},
        "dct:modified": _date(stamp, "dateTime"),
        "dct:language": {"@id": LANGUAGE_DE},
        "dcat:theme": {"@id": THEME_SOCIETY},
        "dct:accessRights": {
            "@id": "http://publications.europa.eu/resource/authority/access-right/PUBLIC"},
    }
    datasets: list[dict[str, Any]] = []
    distributions: list[dict[str, Any]] = []
    directory_dists = [
        _distribution(folder, f"{name}.csv", HSDS_TITLES[name],
                      f"Tabelle '{name}' des Verzeichnisses der Beratungsstellen nach "
                      "Open Referral HSDS 3.0.",
                      stamp, attribution, HSDS_SPEC)
        for name in HSDS_FIELDS
    ]
    distributions += directory_dists
    datasets.append({
        **common,
        "@id": "#dataset/counselling_centres",
        "dct:title": _de("Verzeichnis der Beratungsstellen"),
        "dct:description": _de(f"Beratungsstellen {whose} mit ihren Angeboten und "
                               "öffentlichen Anschriften, als Tabellen nach Open Referral HSDS "
                               "3.0. Nur öffentliche Angaben über Einrichtungen, keine "
                               "personenbezogenen Daten."),
        "dct:temporal": {"@type": "dct:PeriodOfTime",
                         "dcat:startDate": _date(modified.date().isoformat())},
        "dcat:keyword": ["Beratungsstelle", "Verzeichnis", "HSDS", "Open Referral"],
        "dcat:distribution": [{"@id": d["@id"]} for d in directory_dists],
    })
    temporal = {"@type": "dct:PeriodOfTime",
                "dcat:startDate": _date(f"{min(years)}-01-01" if years else stamp[:10]),
                "dcat:endDate": _date(f"{max(years)}-12-31" if years else stamp[:10])}
    for name, (_, _, title, description) in AGGREGATES.items():
        if by_organisation:
            description = f"{description} {BY_ORGANISATION}"
        dist = _distribution(folder, f"{name}.csv", title, description, stamp, attribution)
        distributions.append(dist)
        datasets.append({
            **common,
            "@id": f"#dataset/{name}",
            "dct:title": _de(title),
            "dct:description": _de(f"{description} Schwelle: {threshold} Fälle."),
            "dct:temporal": temporal,
            "dcat:keyword": ["Fallzahlen", "Soziale Arbeit", "Beratung"],
            "dcat:distribution": [{"@id": dist["@id"]}],
        })
    catalog = {
        "@id": "#catalog",
        "@type": "dcat:Catalog",
        "dct:title": _de("Offene Daten – Datenwerk"),
        "dct:description": _de(
            "Offene Daten mehrerer Träger der Sozialen Arbeit: das Verzeichnis ihrer "
            "Beratungsstellen und jährliche Fallzahlen je Träger und Fachbereich, kleine "
            "Fallzahlen unterdrückt." if by_organisation else
            "Offene Daten eines Trägers der Sozialen Arbeit: das Verzeichnis seiner "
            "Beratungsstellen und jährliche Fallzahlen, kleine Fallzahlen unterdrückt."),
        "dct:publisher": {"@id": "#publisher"},
        "dct:license": {"@id": LICENSE},
        "dct:modified": _date(stamp, "dateTime"),
        "dct:language": {"@id": LANGUAGE_DE},
        "dcat:dataset": [{"@id": d["@id"]} for d in datasets],
    }
    return {"@context": CONTEXT, "@graph": [catalog, publisher_node, *datasets, *distributions]}




def build(folder: Path, marts_db: Path, build_db: Path, *, threshold: int | None = None,
          margin: int | None = None, now: datetime | None = None) -> None:
    """Write every open-data file into ``folder`` (which must be new and private to the caller)."""
    threshold = settings.SUPPRESSION_THRESHOLD if threshold is None else threshold
    now = now or datetime.now(UTC)
    folder.mkdir(parents=True)
    rows = case_counts(marts_db)
    with duckdb.connect(str(marts_db), read_only=True) as con:
        by_organisation = departments_by_organisation(con)
    tables = aggregate_tables(rows, threshold, margin)
    for name in AGGREGATES:
        write_aggregate(folder, name, tables)
    directory = directory_rows(build_db)
    write_hsds(folder, hsds_tables(directory, now))
    publishers = sorted({r["organisation_name"] for r in directory})
    publisher = " / ".join(publishers) if publishers else "Datenwerk"
    catalog = dcat_catalog(folder, publisher, sorted({r[0] for r in rows}), now, threshold,
                           by_organisation)
    (folder / "catalog.jsonld").write_text(
        json.dumps(catalog, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


# Fields that describe a person; none may appear in a published directory table.
PERSON_FIELDS = ("contact", "person", "staff", "steward", "client", "birth", "phone")


def verify_folder(folder: Path, *, threshold: int | None = None,
                  margin: int | None = None) -> DisclosureReport:
    """Verify the files as written: suppression (per year, both aggregates linked), HSDS field
    names, and the catalogue. Fails closed: an unreadable file is a problem, not a pass."""
    threshold = settings.SUPPRESSION_THRESHOLD if threshold is None else threshold
    margin = settings.PROTECTION_MARGIN if margin is None else margin
    problems: list[str] = []
    hidden = published = 0
    narrowest = float("inf")
    by_year: dict[str, list[Table]] = defaultdict(list)
    for name in AGGREGATES:
        try:
            for t in read_aggregate(folder / f"{name}.csv"):
                by_year[t.fixed["year"]].append(t)
        except (OSError, ValueError) as exc:
            problems.append(f"{name}.csv: {exc}")
    for year, tables in sorted(by_year.items()):
        report = verify_no_disclosure(tables, threshold, margin)
        problems += [f"{year}: {p}" for p in report.problems]
        hidden += report.hidden_cells
        published += report.published_cells
        narrowest = min(narrowest, report.narrowest)
    for name, fields in HSDS_FIELDS.items():
        try:
            with (folder / f"{name}.csv").open(encoding="utf-8", newline="") as fh:
                header = next(csv.reader(fh))
        except (OSError, StopIteration) as exc:
            problems.append(f"{name}.csv: {exc!r}")
            continue
        if tuple(header) != fields:
            problems.append(f"{name}.csv: columns {header} are not the HSDS fields {fields}")
        personal = [h for h in header if any(p in h for p in PERSON_FIELDS)]
        if personal:
            problems.append(f"{name}.csv: personal field(s) {personal}")
    try:
        catalog = json.loads((folder / "catalog.jsonld").read_text(encoding="utf-8"))
        problems += dcat_problems(catalog)
    except (OSError, ValueError) as exc:
        problems.append(f"catalog.jsonld: {exc}")
    return DisclosureReport(problems, hidden, published, narrowest)


# DCAT-AP.de 2.0: mandatory properties of a dataset and a distribution (plus what we promise).
DATASET_REQUIRED = ("dct:title", "dct:description", "dct:publisher", "dcat:distribution",
                    "dct:license", "dct:temporal", "dct:modified")
DISTRIBUTION_REQUIRED = ("dcat:accessURL", "dct:license", "dct:format", "dcat:mediaType",
                         "dct:modified", "dct:title")


def dcat_problems(catalog: dict[str, Any]) -> list[str]:
    """Required DCAT-AP.de properties missing from the catalogue's datasets and distributions."""
    problems = []
    graph = catalog.get("@graph", [])
    nodes = {n.get("@id"): n for n in graph}
    datasets = [n for n in graph if n.get("@type") == "dcat:Dataset"]
    if not datasets:
        problems.append("catalog.jsonld: no dcat:Dataset")
    for ds in datasets:
        problems += [f"{ds['@id']}: missing {p}" for p in DATASET_REQUIRED if p not in ds]
        for ref in ds.get("dcat:distribution", []):
            dist = nodes.get(ref.get("@id"))
            if dist is None or dist.get("@type") != "dcat:Distribution":
                problems.append(f"{ds['@id']}: distribution {ref} not described")
                continue
            problems += [f"{dist['@id']}: missing {p}"
                         for p in DISTRIBUTION_REQUIRED if p not in dist]
            if dist.get("dct:license", {}).get("@id") != LICENSE:
                problems.append(f"{dist['@id']}: licence is not {LICENSE}")
    return problems


class OpenDataBlocked(Exception):
    """The candidate failed verification: it is not published."""


def publish_from(marts_db: Path) -> Path:
    """Build the open data from ``marts_db`` (a kept generation file) into a new folder, verify
    it and swap it in; OpenDataBlocked, the current open data left in place, if it discloses.
    The Dagster asset does the same in two steps, to report the verification as its check."""
    candidate = new_candidate()
    try:
        build(candidate, marts_db, paths.build_db())
        problems = verify_folder(candidate).problems
        if problems:
            raise OpenDataBlocked(
                f"open data not published ({len(problems)} problem(s), first: {problems[0]}); "
                f"the previous publication stays at {paths.open_data_dir()}.")
        return swap_in(candidate)
    finally:
        discard(candidate)


def new_candidate() -> Path:
    """A new, empty-to-be generation folder (not yet visible as ``open_data``)."""
    generations = paths.open_data_generations()
    if generations.exists():  # leftovers of a killed run (runs are serialised by the pool)
        for stale in generations.glob(".*.tmp"):
            shutil.rmtree(stale, ignore_errors=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    return generations / f".{stamp}-{uuid.uuid4().hex[:8]}.tmp"


def swap_in(candidate: Path) -> Path:
    """Make ``candidate`` the current ``open_data`` with one atomic rename of a symlink."""
    generations = paths.open_data_generations()
    final = generations / candidate.name.removeprefix(".").removesuffix(".tmp")
    os.replace(candidate, final)
    link = paths.open_data_dir()
    if link.exists() and not link.is_symlink():  # a plain folder from elsewhere: keep it aside
        os.replace(link, generations / f"0-legacy-{uuid.uuid4().hex[:8]}")  # sorts oldest
    tmp_link = link.with_name(f".open_data-{uuid.uuid4().hex}.link")
    os.symlink(Path(generations.name) / final.name, tmp_link)
    os.replace(tmp_link, link)
    dir_fd = os.open(link.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    for old in sorted(p for p in generations.iterdir() if not p.name.startswith("."))[
        :-KEEP_GENERATIONS
    ]:
        if old != final:
            shutil.rmtree(old, ignore_errors=True)
    return final


def discard(candidate: Path) -> None:
    shutil.rmtree(candidate, ignore_errors=True)


def data_rows(folder: Path) -> dict[str, int]:
    return {p.name: sum(1 for _ in p.open(encoding="utf-8")) - 1
            for p in sorted(folder.glob("*.csv"))}
