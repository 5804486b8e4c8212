"""``datenwerk-dbt``: dbt's own command line for a Datenwerk home.

Two differences from ``dbt``, both for speed, neither visible in what dbt builds:

- ``--version`` alone is answered from the installed package's metadata. dagster-dbt asks its
  executable for dbt's version before every invocation; ``dbt --version`` costs about 2 s of
  CPU (it imports dbt and tries to look up the latest release online).
- ``~`` is the Datenwerk home (``DATENWERK_HOME``): dbt runs with ``HOME`` set to it, and the
  profile names the build database and its spill folder as ``~/...``
  (:func:`warehouse.dbt_env.dbt_environment`). Every home then has the same profile, so dbt's
  partial parsing applies to a home's first build and to a copied home as well (dbt parses the
  whole project again, about 3 s, whenever a profile value differs from the last parse)."""

from __future__ import annotations

import os
import sys
from importlib import metadata

from warehouse import paths


def main() -> None:
    """``--version`` alone: the installed dbt-core's version, as ``dbt --version`` prints it
    first; any other arguments: dbt, in the Datenwerk home."""
    if sys.argv[1:] == ["--version"]:
        print(f"Core:\n  - installed: {metadata.version('dbt-core')}")
        return
    if os.environ.get("DATENWERK_HOME"):  # DuckDB expands `~` with HOME
        os.environ["HOME"] = str(paths.home())
    from dbt.cli.main import cli

    sys.exit(cli())
