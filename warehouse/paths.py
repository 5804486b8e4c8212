"""Where Datenwerk keeps its runtime data. The only module that knows file locations.

Everything lives under one data directory, ``DATENWERK_HOME`` (default ``./data`` relative to
the current directory). Setting it to another folder gives a completely separate installation:
inbox, warehouse files, dlt working directories, Dagster home, published files and exports.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

# Organisation, department and program codes become folder names (exports/<department>/):
# a letter or digit first, then letters, digits, '_', '-' and '.', so no code can be a path
# ('/', '\\', '..' or a leading dot) or a hidden folder.
CODE_PATTERN = re.compile(r"[^\W_][\w.-]{0,63}")


class InvalidCodeError(ValueError):
    """A code from a reference or configuration file that cannot safely name a folder."""


def checked_code(code: str, what: str = "code") -> str:
    """``code`` if it is a valid identifier (see :data:`CODE_PATTERN`); else InvalidCodeError.

    The one check for codes that become paths: reference loads and export configuration use it.
    """
    if not isinstance(code, str) or not CODE_PATTERN.fullmatch(code):
        raise InvalidCodeError(
            f"{what} {code!r} is not a valid code: letters, digits, '_', '-' and '.' only, "
            "starting with a letter or digit, at most 64 characters"
        )
    return code


REPO_ROOT = Path(__file__).resolve().parent.parent
# The dbt project: the repository's, or another copy (``DATENWERK_DBT_PROJECT_DIR``), read once
# at start-up because the code location's assets are defined from its manifest.
TRANSFORM_DIR = Path(
    os.environ.get("DATENWERK_DBT_PROJECT_DIR") or REPO_ROOT / "transform").expanduser().resolve()


class UnusableHomeError(ValueError):
    """The data directory's path cannot be used (see :func:`check_home`)."""


def home() -> Path:
    """The data directory, absolute (``DATENWERK_HOME``, default ``./data``)."""
    return Path(os.environ.get("DATENWERK_HOME", "data")).expanduser().resolve()


# dlt's DuckDB loader puts each load file's path into SQL between single quotes, unescaped
# (dlt/destinations/impl/duckdb/duck.py): below a folder named with one, every load fails.
UNUSABLE_IN_HOME = ("'",)


def check_home() -> Path:
    """The data directory, or UnusableHomeError naming the character that would break the
    tools below Datenwerk, before anything is written there."""
    root = home()
    found = [c for c in UNUSABLE_IN_HOME if c in str(root)]
    if found:
        raise UnusableHomeError(
            f"DATENWERK_HOME {str(root)!r} contains {' '.join(found)}: dlt cannot load files "
            "from a folder whose path has a single quotation mark. Choose a folder without it "
            "(spaces and umlauts are fine).")
    return root


# Folders with personal data or secrets: never readable by other users, whatever made them.
PRIVATE_FOLDERS = (
    "inbox", "secrets", "warehouse", "dlt", "protected", "dagster", "logs", "dbt", "lake")


def secure_home() -> Path:
    """Create the data directory for its owner only (or its group, ``DATENWERK_HOME_ACCESS``),
    set the process umask to match, and take other users' access off the private folders of an
    existing installation. Returns the data directory."""
    from warehouse import settings

    mode, umask = settings.home_access()
    os.umask(umask)
    root = check_home()
    root.mkdir(mode=mode, parents=True, exist_ok=True)
    root.chmod(mode)
    for name in PRIVATE_FOLDERS:
        folder = root / name
        if folder.is_dir():
            folder.chmod(stat.S_IMODE(folder.stat().st_mode) & ~0o007)
    return root


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


def spill_dir() -> Path:
    """Where DuckDB inside dbt writes what exceeds its memory limit (deleted when it ends)."""
    return warehouse_dir() / "spill"


def lake_dir() -> Path:
    """The Spark engine's lake: raw tables as Parquet (``raw/<dataset>/<table>/``), the
    warehouse of the built tables and its catalog. A bucket URL in production."""
    return home() / "lake"


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


def department_exports_dir(department_code: str, organisation_code: str | None = None) -> Path:
    """``exports/<department>/``, or ``exports/<organisation>/<department>/`` where departments
    are filed by organisation (a federation); codes are checked, so they never leave the exports
    folder."""
    parent = exports_dir()
    if organisation_code is not None:
        parent /= checked_code(organisation_code, "organisation code")
    return parent / checked_code(department_code, "department code")


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


def chart_cache_dir() -> Path:
    """The impact reports' charts as SVG, by the hash of their Vega-Lite spec (derived data,
    safe to delete: what is missing is drawn again)."""
    return home() / "cache" / "charts"


def docs_template_cache_dir() -> Path:
    """GX's Data Docs templates compiled by Jinja (derived data, safe to delete)."""
    return home() / "cache" / "docs_templates"


def quality_dir() -> Path:
    """Great Expectations' file context (suites and scrubbed validation results as JSON)."""
    return home() / "quality"


def data_docs_dir() -> Path:
    """GX Data Docs, rebuilt after every validation; ``index.html`` renders offline."""
    return quality_dir() / "data_docs"


def reminders_file() -> Path:
    """Which overdue deliveries their stewards were already reminded of (one e-mail each)."""
    return home() / "state" / "delivery_reminders.json"


def logs_dir() -> Path:
    """Full logs of command-line runs (dbt output included)."""
    return home() / "logs"
