"""DATENWERK_DUCKDB_MEMORY_LIMIT: 1GB unless set; a value DuckDB would not read as a size is an
error naming the variable, not a dbt failure in the middle of a night. Every dbt process of a
home gets it, and a spill folder inside the home; so does the DuckDB of dlt's loads."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from ingestion.pipelines import pipeline
from warehouse import settings
from warehouse.dbt_env import dbt_environment


def test_one_gigabyte_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATENWERK_DUCKDB_MEMORY_LIMIT", raising=False)
    assert settings.duckdb_memory_limit() == "1GB"


@pytest.mark.parametrize("value", ["512MB", "1.5GB", "2GiB", " 768 mb "])
def test_sizes_duckdb_reads_are_taken(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("DATENWERK_DUCKDB_MEMORY_LIMIT", value)
    assert settings.duckdb_memory_limit() == value.strip()


@pytest.mark.parametrize("value", ["1", "half", "80%", "1GB; drop table x", ""])
def test_anything_else_is_named(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("DATENWERK_DUCKDB_MEMORY_LIMIT", value)
    with pytest.raises(ValueError, match="DATENWERK_DUCKDB_MEMORY_LIMIT"):
        settings.duckdb_memory_limit()


def test_every_dbt_process_gets_the_limit_and_a_spill_folder_in_the_home(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DATENWERK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DATENWERK_DUCKDB_MEMORY_LIMIT", "300MB")
    env = dbt_environment()
    assert env["DATENWERK_DUCKDB_MEMORY_LIMIT"] == "300MB"
    # Below the home, as dbt's process names it (HOME is the home there: warehouse/dbt_cli.py).
    assert env["DATENWERK_DUCKDB_SPILL"] == "~/warehouse/spill"


def test_dlt_loads_into_a_duckdb_with_the_limit_spilling_into_the_home(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Without the limit, DuckDB keeps the blocks of a large load up to 80 % of the machine."""
    home = tmp_path / "home"
    monkeypatch.setenv("DATENWERK_HOME", str(home))
    monkeypatch.setenv("DATENWERK_DUCKDB_MEMORY_LIMIT", "256MiB")
    loads = pipeline("raw_memory_limit")
    rows = pa.table({"contact_id": ["a", "b", "c"], "duration_minutes": [5, 0, 90]})
    loads.run(rows, table_name="contacts")
    with loads.sql_client() as client:
        [(limit, spill, count)] = client.execute_sql(
            "select current_setting('memory_limit'), current_setting('temp_directory'), "
            "(select count(*) from raw_memory_limit.contacts)")
    assert limit == "256.0 MiB"
    assert Path(spill).is_relative_to(home)
    assert count == 3
