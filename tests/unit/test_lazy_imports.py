"""Loading the definitions (every `datenwerk run`, every Dagster code-server start) imports no
heavy library that only some steps use: Great Expectations, scipy, openpyxl."""

from __future__ import annotations

import json
import os
import subprocess
import sys

LAZY = ("great_expectations", "scipy", "openpyxl", "xlsxwriter")


def test_definitions_import_no_library_a_step_imports_itself() -> None:
    code = ("import json, sys; import orchestration.definitions; "
            f"print(json.dumps(sorted(m for m in {LAZY!r} if m in sys.modules)))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=os.environ.copy(), check=True)
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []


def test_run_command_names_sources_without_data_without_loading_dlt(tmp_path) -> None:
    """`datenwerk run` starts the run in a worker; its own process, which names the sources
    nothing was loaded from, stays light (dlt and the ingestion packages cost ~0.8 s of CPU)."""
    heavy = ("dlt", "pyarrow", "dagster", "ingestion")
    code = ("import json, sys; from orchestration import cli; cli.print_sources_without_data(); "
            f"print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "DATENWERK_HOME": str(tmp_path)}, check=True)
    *said, loaded = proc.stdout.strip().splitlines()
    assert json.loads(loaded) == []
    assert said == ["No data from: case-management, accounting, reference (nothing delivered or "
                    "loaded yet; their marts are published empty)."]
