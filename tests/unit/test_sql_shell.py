"""`datenwerk sql`: dot commands with -c as on stdin, no extension is ever installed or loaded,
an analyst holding marts.duckdb read-write does not lock the others out, and `datenwerk --help`
speaks to its users."""

from __future__ import annotations

from pathlib import Path

from tests.unit.conftest import SYNTHETIC_MARTS
from tests.unit.test_publish_generations import _cli
from warehouse import publish as pub


def test_dot_commands_work_with_c(synthetic_home: Path) -> None:
    pub.publish(SYNTHETIC_MARTS, run_id="run00001")
    done = _cli(synthetic_home, "sql", "-c", ".schema fct_cases")
    assert done.returncode == 0, done.stderr
    assert "department_code" in done.stdout and "is_planned_end" in done.stdout
    mixed = _cli(synthetic_home, "sql", "-c", ".tables\nselect 41 + 1 as answer;")
    assert mixed.returncode == 0 and "fct_cases" in mixed.stdout and "42" in mixed.stdout


def test_extensions_are_never_installed_or_loaded(synthetic_home: Path) -> None:
    pub.publish(SYNTHETIC_MARTS, run_id="run00001")
    for statement in ("install httpfs;", "load httpfs;", "force install spatial;"):
        done = _cli(synthetic_home, "sql", "-c", statement)
        assert done.returncode == 1 and "Refused" in done.stderr, (statement, done.stderr)
        assert "download" not in done.stderr.lower().replace("never downloads", "")
    piped = _cli(synthetic_home, "sql", stdin="install httpfs;\nselect 1 as one;\n")
    assert "Refused: install httpfs" in piped.stderr and "one" in piped.stdout
    locked = _cli(synthetic_home, "sql", "-c", "set autoinstall_known_extensions = true;")
    assert locked.returncode == 1 and "locked" in locked.stderr


def test_a_read_write_analyst_does_not_lock_the_others_out(synthetic_home: Path) -> None:
    """DuckDB lets nobody else open a file held read-write, not even to read: `datenwerk sql`
    stopped with "Could not set lock". It reads the same publication from its kept file."""
    import subprocess
    import sys

    pub.publish(SYNTHETIC_MARTS, run_id="run00001")
    marts = synthetic_home / "published" / "marts.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time, duckdb; con = duckdb.connect(sys.argv[1]); "
         "con.execute('delete from fct_cases'); print('holding', flush=True); time.sleep(300)",
         str(marts)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        done = _cli(synthetic_home, "sql", "-c", "select count(*) as n from fct_cases")
    finally:
        holder.kill()
        holder.wait(timeout=30)
    assert done.returncode == 0, done.stderr
    assert "held read-write by another process" in done.stderr
    assert "60" in done.stdout  # the publication's 60 cases, not the analyst's emptied copy


def test_help_is_written_for_users(synthetic_home: Path) -> None:
    done = _cli(synthetic_home, "--help")
    assert done.returncode == 0
    assert "datenwerk run" in done.stdout and "DATENWERK_HOME" in done.stdout
    assert "front door" not in done.stdout and "everything else logs" not in done.stdout

