"""Where Datenwerk keeps its runtime data. The only module that knows file locations.

Everything lives under one data directory, ``DATENWERK_HOME`` (default ``./data`` relative to
the current directory). Setting it to another folder gives a completely separate installation:
inbox, warehouse files, dlt working directories, Dagster home, published files and exports.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
TRANSFORM_DIR = REPO_ROOT / "transform"


def home() -> Path:
    """The data directory, absolute (``DATENWERK_HOME``, default ``./data``)."""
    return Path(os.environ.get("DATENWERK_HOME", "data")).expanduser().resolve()


def inbox() -> Path:
    return home() / "inbox"


def case_management_inbox() -> Path:
    return inbox() / "case_management"


def accounting_inbox() -> Path:
    return inbox() / "accounting"


def reference_inbox() -> Path:
    return inbox() / "reference"


def demo_truth() -> Path:
    """The demo generator's ground truth: beside the inbox, never loaded."""
    return home() / "demo_truth"


def warehouse_dir() -> Path:
    return home() / "warehouse"


def build_db() -> Path:
    """The pipeline's own DuckDB file. Only the pipeline opens it."""
    return warehouse_dir() / "build.duckdb"


def published_dir() -> Path:
    return home() / "published"


def published_db() -> Path:
    """The analysts' read-only copy of the marts, swapped in atomically."""
    return published_dir() / "marts.duckdb"


def published_manifest() -> Path:
    """Which generation ``marts.duckdb`` holds (run id, time, row counts, checks), as JSON."""
    return published_dir() / "marts.manifest.json"


def generations_dir() -> Path:
    """The last publications, one ``<generation>.duckdb`` and ``<generation>.json`` each."""
    return published_dir() / "generations"


def exports_dir() -> Path:
    """Department exports: ``exports/<department>/<date>/`` and ``latest``."""
    return home() / "exports"


def departments_configs() -> list[Path]:
    """Every organisation's ``departments.yml`` (pilot departments and what they receive)."""
    return sorted(reference_inbox().glob("*/departments.yml"))


def open_data_dir() -> Path:
    """The public open-data folder: a symlink to its current generation, swapped atomically."""
    return home() / "open_data"


def open_data_generations() -> Path:
    """Generations of the open-data folder (the newest few are kept)."""
    return home() / "open_data.generations"


def dlt_dir() -> Path:
    """dlt's pipelines directory (load packages, state, schemas)."""
    return home() / "dlt"


def dagster_home() -> Path:
    return home() / "dagster"


def dbt_target_dir() -> Path:
    """dbt's run artefacts per installation, so two homes never share a target folder."""
    return home() / "dbt" / "target"


def key_file() -> Path:
    """Default pseudonymisation key file: inside the data directory, never in the repo."""
    return home() / "secrets" / "pseudonym.key"


def protected_dir(name: str = "") -> Path:
    """Folders that hold personal data (rejected files, steward reports, temporary copies):
    created with mode 0700, kept out of every published artefact."""
    root = home() / "protected"
    target = root / name if name else root
    for folder in (root, target):
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder.chmod(0o700)
    return target


def rejected_dir() -> Path:
    """Whole files that could not be loaded, each with a ``.reason.txt`` beside it."""
    return protected_dir("rejected")


def reports_dir() -> Path:
    """Per-file quality reports for data stewards (they may quote rejected values)."""
    return protected_dir("reports")


def impact_reports_dir() -> Path:
    """Impact reports (aggregates only, small counts suppressed): ``<org>/<department>/<date>/``."""
    return home() / "reports"


def quality_dir() -> Path:
    """Great Expectations' file context (suites and scrubbed validation results as JSON)."""
    return home() / "quality"


def data_docs_dir() -> Path:
    """GX Data Docs, rebuilt after every validation; ``index.html`` renders offline."""
    return quality_dir() / "data_docs"


def logs_dir() -> Path:
    """Full logs of command-line runs (dbt output included)."""
    return home() / "logs"
