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
