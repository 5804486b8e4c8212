"""dlt source for case-management exports (clients, cases, contacts, goals, assessments).

Files arrive as ``inbox/case_management/<organisation>/<department>/<entity file>`` in a vendor's
format; an export profile (``profiles/*.yml``) maps them onto the data standard
(``ingestion/standard_v1.yml``). Resources:

- ``clients``, ``cases``, ``contacts``, ``goals``, ``assessments``: accepted rows in the standard,
  person identifiers pseudonymised, direct identifiers never read past the header;
- ``quarantine``: rejected rows with file, line, field and reason;
- ``file_registry``: one row per delivered file (sha256, profile, counts, outcome).

Each file is loaded once: files whose sha256 is already registered by a completed load are skipped.
Accepted rows are written by DuckDB straight into Parquet, with dlt's ``_dlt_load_id`` already in
it, and handed to dlt as files to import as they are (no row passes through Python or is written
twice); quarantine and registry rows are small Arrow tables.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import cached_property
from pathlib import Path
from typing import Any

import dlt
from dlt.sources import DltResource

from ingestion.case_management.helpers import (
    empty_table,
    known_columns,
    output_schema,
    read_header,
    write_export,
)
from ingestion.case_management.plausibility import ReferenceCodes, reference_codes
from ingestion.case_management.upgrade import pseudonymise_stored_identifiers
from ingestion.delivery import (
    LOAD_ID_COLUMN,
    AcceptedRows,
    FileOutcome,
    FileRejected,
    check_reject_share,
    complete_files,
    current_load_id,
    deliver,
    outcome_resource,
    rows_or_empty,
    scratch_parquet,
)
from ingestion.erasure import leave_out_erased
from ingestion.pseudonymise import organisation_key
from ingestion.standard import EntityMapping, Profile, profiles, standard
from warehouse import datasets, paths

DATASET = datasets.CASE_MANAGEMENT
CONTEXT_COLUMNS = ("organisation_code", "department_code")  # from the folder a file arrives in
# Every file, at any depth: one at the wrong depth is rejected with a reason, not ignored.
PATTERN = "**/*"
ENTITIES = ("clients", "cases", "contacts", "goals", "assessments")
FOLDER_DEPTH = 3  # <organisation>/<department>/<file>


def misplaced(path: Path, inbox: Path) -> FileRejected:
    """Why a file at the wrong depth is not loaded: organisation and department come from its
    folders, so a file above or below ``<organisation>/<department>/`` cannot be attributed."""
    parts = path.relative_to(inbox).parts
    where = "deeper than" if len(parts) > FOLDER_DEPTH else "outside"
    return FileRejected(
        path,
        f"the file lies {where} a department folder ({'/'.join(parts)}); exports belong in "
        "<organisation>/<department>/ of the case-management inbox, where the folders say whose "
        "data it is. Move it there (sub-folders such as an archive are not read).",
    )


def detect_profile(path: Path) -> tuple[Profile, EntityMapping]:
    """The export profile of a file and the (primary) entity it holds."""
    profile, mappings = detect_mappings(path)
    return profile, mappings[0]


def detect_mappings(
    path: Path, profile_name: str | None = None
) -> tuple[Profile, list[EntityMapping]]:
    """The export profile of a file and every entity read from it, the primary one first.

    By file pattern first; where no pattern matches (a vendor's default name such as
    ``Export_2025-12-31.csv``), or ``profile_name`` is given and its patterns do not match, by
    the header: the profile and entity whose columns the header holds, the most columns winning.
    """
    if profile_name is not None and profile_name not in profiles():
        raise FileRejected(
            path, f"unknown profile '{profile_name}'; known: {', '.join(sorted(profiles()))}"
        )
    pool = [profiles()[profile_name]] if profile_name else list(profiles().values())
    by_name = [(p, found) for p in pool if (found := p.entities_for(path.name))]
    fits = _header_fits(path, by_name)
    by_header = not fits
    if by_header:
        # No name matched, or the header is not what the matching profile expects (a KDS case
        # list saved as faelle.csv): every profile's primary entities, by header.
        fits = _header_fits(path, [(p, p.entities_of(m)) for p in pool
                                   for m in p.entities.values() if m.primary])
    if not fits:
        if len(by_name) == 1:
            return by_name[0]  # reading it names what is wrong (missing columns, binary data)
        known = ", ".join(sorted(p.name for p in pool))
        raise FileRejected(
            path,
            "neither the file name nor the header matches an export profile (checked: "
            f"{known}); name the profile with --profile or add one for this export",
        )
    if by_header and len(fits) > 1 and fits[0][0] == fits[1][0]:
        raise FileRejected(
            path,
            f"the header fits several export profiles ({fits[0][1].name}, {fits[1][1].name}): "
            "name one with --profile or give the file a name its profile expects",
        )
    return fits[0][1], fits[0][2]


def _header_fits(
    path: Path, candidates: list[tuple[Profile, list[EntityMapping]]]
) -> list[tuple[int, Profile, list[EntityMapping]]]:
    """The candidates whose primary entity's required columns the header holds and that know
    most of the header's columns (a clients mapping needs only the client number, but it does not
    describe a case list), the one that knows the most columns first."""
    fits = []
    for profile, mappings in candidates:
        try:
            names = set(read_header(path, profile).names) - {""}
        except FileRejected:
            continue
        known = len(names & known_columns(profile, mappings[0]))
        if _required_columns(mappings[0]) <= names and known * 2 > len(names):
            fits.append((known, profile, mappings))
    return sorted(fits, key=lambda f: f[0], reverse=True)


def _required_columns(mapping: EntityMapping) -> set[str]:
    spec = standard()[mapping.entity]
    sources = {**{f: (c,) for f, c in mapping.columns.items()}, **mapping.derived_keys}
    return {c for f, cols in sources.items() if spec.fields[f].required for c in cols}


class Delivery:
    """All new files in the case-management inbox, parsed once and shared by the resources.

    ``load_id`` is written into every accepted row; by default the id of the load package dlt is
    extracting when the files are first parsed.
    """

    def __init__(
        self, inbox: Path, skip_hashes: frozenset[str], load_id: str | None = None
    ) -> None:
        self.inbox = inbox
        self.skip_hashes = skip_hashes
        self.load_id = load_id
        # Outcomes of entities read from another entity's file: quarantine only, no registry row.
        self.derived_outcomes: list[FileOutcome] = []
        # Each file's accepted rows with where they came from and the outcome that counts them.
        self.accepted: list[tuple[str, str, str, AcceptedRows, FileOutcome]] = []

    @cached_property
    def reference(self) -> ReferenceCodes:
        """Departments and programs the rows must belong to (read once, when files are parsed)."""
        return reference_codes()

    def files(self) -> list[tuple[Path, str, str | None]]:
        """(path, organisation, department) of every complete file in the inbox, in a stable
        order; department None for a file at the wrong folder depth (see :func:`misplaced`)."""
        found: list[tuple[Path, str, str | None]] = []
        for path in complete_files(self.inbox, PATTERN):
            parts = path.relative_to(self.inbox).parts
            if any(p.startswith(".") for p in parts[:-1]):
                continue
            dept = parts[1] if len(parts) == FOLDER_DEPTH else None
            found.append((path, parts[0] if len(parts) > 1 else "unknown", dept))
        return found

    @cached_property
    def parsed(self) -> tuple[dict[str, list[AcceptedRows]], list[FileOutcome]]:
        tables: dict[str, list[AcceptedRows]] = {e: [] for e in ENTITIES}
        load_id = self.load_id or current_load_id()
        # Rows an earlier version stored with clear source numbers get their pseudonyms first,
        # so that this delivery's rows match them.
        pseudonymise_stored_identifiers(paths.build_db(), loading=load_id)
        context = {path: (org, dept) for path, org, dept in self.files()}

        def read(path: Path, outcome: FileOutcome) -> None:
            org, dept = context[path]
            # One registry row per file; entities read from the rows of another (the clients of
            # a case list) add their rows and quarantine, not a second registration.
            secondary: list[FileOutcome] = []
            accepted: list[tuple[str, AcceptedRows, FileOutcome]] = []
            try:
                if dept is None:
                    raise misplaced(path, self.inbox)
                if unknown := self.reference.department_problem(org, dept):
                    raise FileRejected(path, unknown)
                profile, mappings = detect_mappings(path)
                outcome.entity = ", ".join(m.entity for m in mappings)
                outcome.profile = profile.name
                row_context = {**dict(zip(CONTEXT_COLUMNS, (org, dept), strict=True)),
                               LOAD_ID_COLUMN: load_id}
                for mapping in mappings:
                    into = outcome if mapping.primary else FileOutcome(
                        path, outcome.sha256, org, mapping.entity, profile.name)
                    target = scratch_parquet()
                    accepted.append((mapping.entity, AcceptedRows(target, 0), into))
                    accepted[-1][1].rows = write_export(
                        path, profile, mapping, into, row_context,
                        target, key=organisation_key(org), plausible=self.reference.for_file(
                            org, None if profile.department is not None else dept),
                    )
                    if into is not outcome:
                        secondary.append(into)
                check_reject_share(path, outcome)
            except Exception:  # FileRejected or unforeseen (see deliver): nothing of it loads
                for _, rows, _ in accepted:
                    rows.path.unlink(missing_ok=True)
                raise
            for entity, rows, into in accepted:
                tables[entity].append(rows)
                self.accepted.append((org, dept, entity, rows, into))
            self.derived_outcomes += secondary

        outcomes = deliver(
            context, self.skip_hashes,
            lambda path, digest: FileOutcome(path, digest, context[path][0], entity="unknown",
                                             profile="unknown"),
            read, dataset=DATASET,
        )
        # After every file is read: an erased client's cases in one file take their contacts in
        # another with them.
        leave_out_erased(self.accepted)
        return tables, outcomes


@dlt.source(name="case_management")
def case_management(
    inbox: Path | None = None,
    skip_hashes: frozenset[str] = frozenset(),
    present: frozenset[str] | None = None,
) -> list[DltResource]:
    """Case-management exports of all organisations and departments in the inbox.

    Args:
        inbox: folder holding ``<organisation>/<department>/<file>``; default from DATENWERK_HOME.
        skip_hashes: sha256 of files already loaded (see :func:`ingestion.delivery.loaded_hashes`).
        present: raw tables that already exist (:func:`ingestion.delivery.present_tables`); the
            others are created empty, so dbt finds them even when no export was ever delivered.
    """
    delivery = Delivery(inbox or paths.case_management_inbox(), skip_hashes)

    def entity_rows(entity: str) -> Callable[[], Iterator[Any]]:
        def rows() -> Iterator[Any]:
            tables = delivery.parsed[0]
            # The Arrow schema is the table's: all columns nullable, `_dlt_load_id` included, so
            # dlt finds nothing to normalise and imports (hard-links) the Parquet file unchanged.
            columns = [*CONTEXT_COLUMNS, LOAD_ID_COLUMN]
            schema = output_schema(standard()[entity], columns).empty_table()
            try:
                imports = [
                    dlt.mark.with_file_import(
                        str(accepted.path), "parquet", accepted.rows, hints=schema
                    )
                    for accepted in tables[entity]
                ]
                yield from rows_or_empty(
                    entity, imports, present, lambda: empty_table(standard()[entity], columns)
                )
            finally:
                for accepted in tables[entity]:
                    accepted.path.unlink(missing_ok=True)  # dlt's package holds its own link

        rows.__doc__ = standard()[entity].description
        return rows

    resources = [
        dlt.resource(entity_rows(entity), name=entity, write_disposition="append")
        for entity in ENTITIES
    ]

    return [
        *resources,
        outcome_resource(
            "quarantine", lambda: [*delivery.parsed[1], *delivery.derived_outcomes], present,
            "Rejected rows with file, line, field and reason (identifiers already pseudonymised)."),
        outcome_resource(
            "file_registry", lambda: delivery.parsed[1], present,
            "One row per delivered file: sha256, profile, rows read/loaded/quarantined, outcome."),
    ]
