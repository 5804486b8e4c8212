"""Reading one delivered file as the nightly load does, for the readers' unit tests."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from ingestion.case_management import detect_profile
from ingestion.case_management.helpers import parse_export
from ingestion.delivery import FileOutcome
from ingestion.standard import standard


def parse(path: Path, department: str = "SB") -> tuple[pa.Table, FileOutcome]:
    """The accepted rows of the export ``path`` and its outcome (quarantine, counts), read with
    the profile detected from its header as a file of organisation ``org``'s ``department``."""
    profile, mapping = detect_profile(path)
    outcome = FileOutcome(path, "sha", "org", mapping.entity, profile.name)
    table = parse_export(path, profile, mapping, standard()[mapping.entity], outcome,
                         {"organisation_code": "org", "department_code": department})
    return table, outcome
