"""`datenwerk sql`: dot commands with -c as on stdin, no extension is ever installed or loaded,
and `datenwerk --help` speaks to its users."""

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


def test_help_is_written_for_users(synthetic_home: Path) -> None:
    done = _cli(synthetic_home, "--help")
    assert done.returncode == 0
    assert "datenwerk run" in done.stdout and "DATENWERK_HOME" in done.stdout
    assert "front door" not in done.stdout and "everything else logs" not in done.stdout
