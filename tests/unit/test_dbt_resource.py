"""The dbt manifest is keyed on the project's contents, not on file times; dbt's entry point
answers dagster-dbt's version question without starting dbt."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

from orchestration.transform import project_fingerprint
from warehouse.dbt_env import dbt_executable


def test_fingerprint_follows_contents_not_times(tmp_path: Any) -> None:
    (tmp_path / "models").mkdir()
    model = tmp_path / "models" / "a.sql"
    model.write_text("select 1")
    (tmp_path / "dbt_project.yml").write_text("name: x")
    first = project_fingerprint(tmp_path)
    model.touch()
    assert project_fingerprint(tmp_path) == first
    model.write_text("select 2")
    changed = project_fingerprint(tmp_path)
    assert changed != first
    (tmp_path / "models" / "b.sql").write_text("select 2")
    assert project_fingerprint(tmp_path) not in (first, changed)


def test_dbt_entry_point_tells_its_version_without_starting_dbt(tmp_path: Any) -> None:
    """dagster-dbt asks ``<executable> --version`` before each invocation and reads the first
    version number. The entry point answers what dbt itself answers, without importing dbt: a
    ``dbt`` package that fails on import comes first on the path and is never touched."""
    executable = dbt_executable()
    assert executable.endswith("datenwerk-dbt")
    broken = tmp_path / "dbt"
    broken.mkdir()
    (broken / "__init__.py").write_text("raise ImportError('dbt was imported')\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    answer = subprocess.run([executable, "--version"], env=env, capture_output=True, text=True,
                            check=True).stdout
    dbts = subprocess.run([str(Path(executable).with_name("dbt")), "--version"],
                          capture_output=True, text=True, check=True).stdout
    first_version = re.compile(r"(\d+\.\d+\.\d+)")
    [ours] = first_version.findall(answer)
    assert ours == first_version.findall(dbts)[0]

    # Anything else is dbt: with the broken package first on the path, dbt fails to start.
    started = subprocess.run([executable, "--help"], env=env, capture_output=True, text=True,
                             check=False)
    assert started.returncode != 0 and "dbt was imported" in started.stderr
    assert "Usage:" in subprocess.run([executable, "--help"], capture_output=True, text=True,
                                      check=True).stdout
