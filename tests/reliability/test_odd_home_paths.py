"""Data directories with odd names, as organisations name their folders.

A single quotation mark in DATENWERK_HOME ("Jugendhilfe d'Ünna") broke every load deep inside
dlt (it writes load file paths into SQL between quotes, unescaped), after minutes of retries and
a traceback per table. Every command that uses the home now refuses such a folder at once, in
one line, before writing anything there. Spaces, umlauts and a trailing slash are fine, and a
relative home names the same folder for every process of a run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def datenwerk(home: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATENWERK_HOME": home}
    env.pop("DAGSTER_HOME", None)
    return subprocess.run([str(BIN / "datenwerk"), *args], cwd=REPO_ROOT, env=env, text=True,
                          capture_output=True, timeout=600)


@pytest.mark.parametrize("command", [
    ("demo-data", "--scale", "0.02"), ("run", "--demo-if-empty", "--scale", "0.02"),
    ("init-org", "caritas-nord"), ("init-key",),
])
def test_a_home_with_a_quotation_mark_is_refused_before_anything_is_written(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    home = tmp_path / "Jugendhilfe d'Ünna"
    done = datenwerk(str(home), *command)
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("Stopped: DATENWERK_HOME") and "quotation mark" in lines[0]
    assert str(home) in lines[0]
    assert not home.exists()


def test_spaces_umlauts_and_a_trailing_slash_name_the_same_home(tmp_path: Path) -> None:
    home = tmp_path / "Jugendhilfe Ünna Süd"
    done = datenwerk(f"{home}/", "init-org", "caritas-nord")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (home / "inbox" / "reference" / "caritas-nord" / "programs.csv.template").is_file()
    # validate and standard need no home: they still work whatever it is called.
    assert datenwerk(str(tmp_path / "d'Ünna"), "standard").returncode == 0


def test_a_relative_home_is_the_same_folder_for_the_run_worker(
    small_demo_home: Path, tmp_path: Path,
) -> None:
    """`datenwerk run` with DATENWERK_HOME=relative/ (or the default ./data) from another folder
    than the repository: the run worker starts in the repository and took the path from there,
    another installation (it failed on a missing key there, or loaded into another warehouse)."""
    import shutil
    import signal
    import time
    import uuid

    name = f"relative-home-{uuid.uuid4().hex[:8]}"
    shutil.copytree(small_demo_home, tmp_path / name)
    env = {**os.environ, "DATENWERK_HOME": f"{name}/"}
    env.pop("DAGSTER_HOME", None)
    run = subprocess.Popen([str(BIN / "datenwerk"), "run"], cwd=tmp_path, env=env, text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines: list[str] = []
    try:
        assert run.stdout is not None
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            line = run.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "done         load_accounting" in line or "FAILED" in line:
                break
        assert any("done         load_accounting" in line for line in lines), "".join(lines)
    finally:
        run.send_signal(signal.SIGTERM)
        run.wait(timeout=120)
        stray = REPO_ROOT / name
        found = stray.exists()
        shutil.rmtree(stray, ignore_errors=True)
    assert not found, "the run worker used a home below the repository"
    assert list((tmp_path / name / "logs").glob("run-*.log"))
