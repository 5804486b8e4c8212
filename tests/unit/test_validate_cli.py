"""`datenwerk validate` as a user runs it: a real process, its output and exit code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

FIXTURES = Path(__file__).parents[1] / "fixtures" / "case_management"


def validate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "validate", *args],
        capture_output=True, text=True, check=False,
    )


def test_rejected_rows_are_listed_with_row_field_reason_and_exit_code() -> None:
    result = validate(str(FIXTURES / "faelle_unknown_code.csv"))
    assert result.returncode == 1, result.stderr
    assert "Rows read: 2" in result.stdout and "Accepted:  1" in result.stdout
    assert "end_reason" in result.stdout and "'weggelaufen'" in result.stdout


def test_personal_values_are_never_printed() -> None:
    result = validate(str(FIXTURES / "faelle_duplicate_key.csv"))
    assert result.returncode == 1
    assert "duplicate key within the file" in result.stdout
    assert "K-9" not in result.stdout  # the duplicate row's client number


def test_clean_file_exits_zero_and_profile_can_be_named() -> None:
    result = validate("--profile", "demo_csv", str(FIXTURES / "faelle_utf8_bom.csv"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Rejected:  0" in result.stdout


def test_rejected_file_names_the_reason() -> None:
    result = validate(str(FIXTURES / "klienten_binary_garbage.csv"))
    assert result.returncode == 1
    assert "REJECTED" in result.stdout and "binary" in result.stdout
