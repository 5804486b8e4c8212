"""The data directory holds names, birth dates and the pseudonym key: no other local user may read
it. dlt's working folder keeps no second copy of loaded rows, and dbt's run folders do not pile
up."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tests.conftest import PipelineRun, use_home


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_after_a_run_no_other_user_can_read_the_data_directory(
    small_first_run: PipelineRun,
) -> None:
    home = small_first_run.home
    assert mode(home) == 0o700
    for name in ("inbox", "secrets", "warehouse", "dlt", "protected"):
        assert mode(home / name) & 0o007 == 0, name
    # Files the pipeline writes are its owner's alone.
    for written in (home / "warehouse" / "build.duckdb", home / "published" / "marts.duckdb",
                    home / "secrets" / "pseudonym.key"):
        assert mode(written) & 0o077 == 0, written


def test_dlt_keeps_no_copy_of_loaded_rows(small_first_run: PipelineRun) -> None:
    dlt_dir = small_first_run.home / "dlt"
    assert dlt_dir.is_dir()
    copies = [p for p in dlt_dir.rglob("*") if p.is_file() and (
        p.suffix in (".parquet", ".jsonl", ".insert_values", ".gz") or "completed_jobs" in p.parts)]
    assert copies == []


def test_group_access_is_a_setting_and_never_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from warehouse import paths

    before = os.umask(0o022)
    try:
        use_home(tmp_path / "group-home")
        monkeypatch.setenv("DATENWERK_HOME_ACCESS", "group")
        paths.secure_home()
        assert mode(tmp_path / "group-home") == 0o750
        (tmp_path / "group-home" / "file").write_text("x")
        assert mode(tmp_path / "group-home" / "file") == 0o640
        # An installation made before: its private folders lose other users' access.
        (tmp_path / "group-home" / "inbox").mkdir(mode=0o755)
        (tmp_path / "group-home" / "inbox").chmod(0o755)
        paths.secure_home()
        assert mode(tmp_path / "group-home" / "inbox") == 0o750
        monkeypatch.setenv("DATENWERK_HOME_ACCESS", "everyone")
        with pytest.raises(ValueError, match="owner, group"):
            paths.secure_home()
    finally:
        os.umask(before)


def test_dbt_artefacts_do_not_pile_up(small_first_run: PipelineRun) -> None:
    """dbt writes into one target folder per installation, kept from run to run (so it re-parses
    only what changed): no folder per run that would grow by some 9 MB every night."""
    target = small_first_run.home / "dbt" / "target"
    assert (target / "manifest.json").is_file()
    assert {p.name for p in target.iterdir() if p.is_dir()} <= {"compiled", "run"}

