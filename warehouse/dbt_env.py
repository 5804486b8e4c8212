"""How every dbt process of a home starts: its environment and its executable.

Here, below the orchestration, because both the Dagster step and the Spark build
(:mod:`warehouse.lake`) start dbt, and the warehouse must not import the orchestration."""

from __future__ import annotations

import sys
from pathlib import Path

from warehouse import holds, paths, settings


def in_home(path: Path) -> str:
    """``path`` (below the home) as dbt's processes name it: ``~/...`` (``HOME`` is the
    Datenwerk home there, :mod:`warehouse.dbt_cli`)."""
    return f"~/{path.relative_to(paths.home()).as_posix()}"


def dbt_environment() -> dict[str, str]:
    """The variables the dbt project reads (profiles.yml, macros), from DATENWERK_HOME.

    The same for every home wherever it lies (paths below the home as ``~/...``): dbt parses
    only what changed (partial parsing) when the profile and these variables are the same as in
    the last parse, and dagster-dbt starts a home's first build from the project's own parse.
    Two stay absolute: the held loads (the staging views keep their path, and any process may
    query them; the project reads it only when dbt executes), and the lake (Spark does not
    expand ``~``)."""
    return {
        "DATENWERK_HOME": str(paths.home()),
        "DATENWERK_BUILD_DB": in_home(paths.build_db()),
        "DATENWERK_LAKE": str(paths.lake_dir()),
        "DATENWERK_HELD_LOADS": str(holds.held_dir()),
        "DATENWERK_DUCKDB_MEMORY_LIMIT": settings.duckdb_memory_limit(),
        "DATENWERK_DUCKDB_SPILL": in_home(paths.spill_dir()),
    }


def dbt_executable() -> str:
    """dbt from this interpreter's environment: `dagster dev` without an activated venv has no
    `dbt` on PATH, and a different dbt on PATH would be worse. Datenwerk's own entry point to it
    (``datenwerk-dbt``, :mod:`warehouse.dbt_cli`) when installed: it answers dagster-dbt's
    ``--version`` question without starting dbt."""
    folder = Path(sys.executable).parent
    for name in ("datenwerk-dbt", "dbt"):
        if (folder / name).exists():
            return str(folder / name)
    return "dbt"
