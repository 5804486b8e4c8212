"""The dbt manifest is keyed on the project's contents, not on file times; dbt's entry point
answers dagster-dbt's version question without starting dbt."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from dagster_dbt import DbtCliResource

from orchestration.runs import zombie_children
from orchestration.transform import ended, project_fingerprint
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


@pytest.fixture
def tiny_dbt(tmp_path: Path) -> DbtCliResource:
    """dagster-dbt's resource on a dbt project of one model (DuckDB in ``tmp_path``), run by
    Datenwerk's dbt entry point."""
    project = tmp_path / "project"
    (project / "models").mkdir(parents=True)
    (project / "models" / "one.sql").write_text("select 1 as one\n")
    (project / "dbt_project.yml").write_text(
        "name: tiny\nversion: '1.0'\nconfig-version: 2\nprofile: tiny\n")
    (project / "profiles.yml").write_text(
        "tiny:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
        f"      path: {tmp_path / 'tiny.duckdb'}\n")
    return DbtCliResource(project_dir=str(project), profiles_dir=str(project),
                          dbt_executable=dbt_executable())


@pytest.mark.parametrize("read", ["wait", "stream"])
def test_dbt_is_ended_and_waited_for_when_reading_its_events_fails(
    tiny_dbt: DbtCliResource, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, read: str,
) -> None:
    """dagster-dbt copies each of dbt's events to stdout as it reads them; with stdout on a full
    disk (/dev/full) that fails at dbt's first event, as any error or interrupt while the events
    are read does. dbt is then stopped and waited for: it goes on with nothing reading it and
    then stays a zombie of the run worker otherwise (as it did, for as long as the failed
    invocation was referenced)."""
    zombies_before = set(zombie_children())
    monkeypatch.setattr(sys, "stdout", open("/dev/full", "w"))  # noqa: SIM115
    with pytest.raises(OSError, match="No space left"), \
            ended(tiny_dbt.cli(["parse"], target_path=tmp_path / "target")) as invocation:
        if read == "wait":
            invocation.wait()
        else:
            list(invocation.stream())
    monkeypatch.undo()

    assert invocation.process.returncode is not None
    assert not Path(f"/proc/{invocation.process.pid}").exists()
    assert set(zombie_children()) - zombies_before == set()
