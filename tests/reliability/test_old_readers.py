"""Analysts open the published marts with whatever DuckDB their tool ships, often a 1.x release.
Publications are written in the storage format every DuckDB since 1.0 reads, and DuckDB 1.0
itself (in an environment of its own, made by `make old-reader`) opens them."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import duckdb
import pytest

from tests.conftest import PipelineRun, use_home

OLD_READER = Path(__file__).resolve().parents[2] / ".venv-duckdb1" / "bin" / "python"


def storage_version(path: Path) -> str:
    with duckdb.connect() as con:
        con.execute(f"attach '{path}' as published (read_only)")
        return con.execute(
            "select tags['storage_version'] from duckdb_databases() "
            "where database_name = 'published'"
        ).fetchall()[0][0]


def test_published_files_declare_the_storage_version_of_duckdb_1(
    small_first_run: PipelineRun,
) -> None:
    from warehouse.publish import STORAGE_VERSION, current_generation_file

    assert STORAGE_VERSION == "v1.0.0"
    home = small_first_run.home
    assert storage_version(home / "published" / "marts.duckdb") == "v1.0.0+"
    use_home(home)
    assert storage_version(current_generation_file()) == "v1.0.0+"


def test_duckdb_1_0_opens_the_published_marts(small_first_run: PipelineRun) -> None:
    if not OLD_READER.exists():
        pytest.skip("no DuckDB 1.0 environment: `make old-reader` makes it (`make test` does)")
    published = small_first_run.home / "published" / "marts.duckdb"
    with duckdb.connect(str(published), read_only=True) as con:
        expected = {t: con.execute(f'select count(*) from "{t}"').fetchall()[0][0]
                    for (t,) in con.execute("show tables").fetchall()}
    script = (
        "import duckdb, json, sys\n"
        "con = duckdb.connect(sys.argv[1], read_only=True)\n"
        "tables = [t for (t,) in con.execute('show tables').fetchall()]\n"
        "print(json.dumps({'version': duckdb.__version__, 'counts': {t: con.execute("
        "f'select count(*) from \"{t}\"').fetchall()[0][0] for t in tables}}))\n"
    )
    done = subprocess.run([str(OLD_READER), "-c", script, str(published)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    answer = json.loads(done.stdout)
    assert answer["version"].startswith("1.0.")
    assert answer["counts"] == expected and expected["fct_cases"] > 0
