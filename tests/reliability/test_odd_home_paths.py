"""Data directories with odd names, as organisations name their folders.

A single quotation mark in DATENWERK_HOME ("Jugendhilfe d'Ünna") broke every load deep inside
dlt (it writes load file paths into SQL between quotes, unescaped), after minutes of retries and
a traceback per table. Every command that uses the home now refuses such a folder at once, in
one line, before writing anything there. Spaces, umlauts and a trailing slash are fine.
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
