"""``datenwerk-dbt``: dbt's own command line, which answers ``--version`` without starting dbt.

dagster-dbt asks its executable for dbt's version before every invocation it starts (a
``dbt --version`` process: about 2 s of CPU to import dbt, and an attempt to look up the latest
release online). The installed package's metadata holds the same answer. Everything else is
dbt's command line, unchanged."""

from __future__ import annotations

import sys
from importlib import metadata


def main() -> None:
    """``--version`` alone: the installed dbt-core's version, as ``dbt --version`` prints it
    first; any other arguments: dbt."""
    if sys.argv[1:] == ["--version"]:
        print(f"Core:\n  - installed: {metadata.version('dbt-core')}")
        return
    from dbt.cli.main import cli

    sys.exit(cli())
