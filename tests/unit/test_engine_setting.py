"""DATENWERK_ENGINE: DuckDB unless Spark is asked for; a misspelt engine is an error, not a
silent fall-back to DuckDB: `datenwerk run` refuses it before anything runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from warehouse import settings


def test_duckdb_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATENWERK_ENGINE", raising=False)
    assert settings.engine() == "duckdb"


def test_spark_is_chosen_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATENWERK_ENGINE", " Spark ")
    assert settings.engine() == "spark"


def test_unknown_engine_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATENWERK_ENGINE", "sparc")
    with pytest.raises(ValueError, match="'sparc'"):
        settings.engine()


def test_run_refuses_a_misspelt_engine_before_anything_runs(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "datenwerk"), "run"],
        env={"PATH": "/usr/bin:/bin", "DATENWERK_HOME": str(tmp_path / "home"),
             "DATENWERK_ENGINE": "sparc"},
        capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert "DATENWERK_ENGINE must be one of duckdb, spark, got 'sparc'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "home").exists()
