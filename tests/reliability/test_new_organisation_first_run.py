"""A new organisation's first steps as the README gives them: `datenwerk init-org`, a first
partial delivery (only its cases, two reference tables), `datenwerk run`.

Before, init-org never mentioned the pseudonymisation key, so the first run failed on the missing
key; and that failed run still said "No data from: case-management, accounting, reference
(nothing delivered or loaded yet; their marts are published empty)": files had been delivered,
and nothing was published.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def datenwerk(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATENWERK_HOME": str(home)}
    for name in ("DAGSTER_HOME", "DATENWERK_PSEUDONYM_KEY", "DATENWERK_KEY_FILE"):
        env.pop(name, None)
    return subprocess.run([str(BIN / "datenwerk"), *args], cwd=REPO_ROOT, env=env, text=True,
                          capture_output=True, timeout=900)


def test_init_org_names_the_key_and_a_failed_first_run_claims_nothing(
    small_demo_home: Path, tmp_path: Path,
) -> None:
    home = tmp_path / "neu"
    started = datenwerk(home, "init-org", "swm")
    assert started.returncode == 0, started.stderr
    assert "datenwerk init-key" in started.stdout

    demo = small_demo_home / "inbox"
    (home / "inbox" / "case_management" / "swm" / "SB").mkdir(parents=True)
    shutil.copy(demo / "case_management" / "swm" / "SB" / "faelle.csv",
                home / "inbox" / "case_management" / "swm" / "SB")
    for table in ("departments.csv", "programs.csv"):
        shutil.copy(demo / "reference" / "swm" / table, home / "inbox" / "reference" / "swm")

    failed = datenwerk(home, "run")  # no key yet
    output = failed.stdout + failed.stderr
    assert failed.returncode != 0
    assert "No pseudonymisation key" in output and "datenwerk init-key" in output
    assert "No data from" not in output and "published empty" not in output
    assert not (home / "published" / "marts.duckdb").exists()

    assert datenwerk(home, "init-key").returncode == 0
    assert "init-key" not in datenwerk(tmp_path / "neu", "init-org", "swm").stdout


def test_init_org_takes_every_code_the_reference_tables_take(tmp_path: Path) -> None:
    """init-org used to refuse codes such as ``caritas.nord`` or ``diakonie-süd`` that the
    reference tables accept as ``organisation_code``; both follow one rule now."""
    for org in ("caritas.nord", "diakonie-süd", "AWO_2"):
        made = datenwerk(tmp_path / "home", "init-org", org)
        assert made.returncode == 0, made.stderr
        assert (tmp_path / "home" / "inbox" / "reference" / org).is_dir()
    for org in ("../etc", "caritas nord", ".hidden", "a" * 65):
        refused = datenwerk(tmp_path / "home", "init-org", org)
        assert refused.returncode == 2
        assert f"organisation code {org!r} is not a valid code" in refused.stderr
        assert not (tmp_path / "home" / "inbox" / "reference" / org).exists()
