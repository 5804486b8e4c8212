"""Publication generations: each run's marts in a kept file with its run id, row counts and
check results; the current one atomically renamed over marts.duckdb; retention; rollback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.unit.conftest import SYNTHETIC_MARTS, write_build
from warehouse import publish as pub
from warehouse.checks import CheckResult

CHECKS = [
    CheckResult("fct_cases", "gx_fct_cases", True, "ERROR", True, "12 expectations met"),
    CheckResult("mart_finance_by_cost_centre_month", "unmapped_bookings", False, "WARN", False,
                 "1 unmapped cost centre"),
]


def test_publication_records_run_counts_and_checks(synthetic_home: Path) -> None:
    publication = pub.publish(SYNTHETIC_MARTS, run_id="abcdef12-3456", checks=CHECKS)

    gens = synthetic_home / "published" / "generations"
    db_file = gens / f"{publication.generation}.duckdb"
    manifest = json.loads((gens / f"{publication.generation}.json").read_text())
    assert publication.generation.endswith("-abcdef12")
    assert manifest["run_id"] == "abcdef12-3456"
    assert manifest["row_counts"] == {"fct_cases": 60, "mart_finance_by_cost_centre_month": 36,
                                      "mart_deliveries": 1}
    assert manifest["sha256"] == pub.sha256_file(db_file)
    assert [c["check_name"] for c in manifest["checks"]] == ["gx_fct_cases", "unmapped_bookings"]
    # the current file is a byte copy of the generation, and the manifest beside it says which
    current = synthetic_home / "published" / "marts.duckdb"
    assert current.read_bytes() == db_file.read_bytes()
    assert os.stat(current).st_ino != os.stat(db_file).st_ino  # a copy: analysts cannot alter it
    assert pub.current_manifest()["generation"] == publication.generation  # type: ignore[index]
    with duckdb.connect(str(current), read_only=True) as con:
        rows = con.sql("select generation, run_id, mart, row_count from _publication "
                       "order by mart").fetchall()
        checks = con.sql("select check_name, passed, severity from _checks order by 1").fetchall()
    assert rows == [(publication.generation, "abcdef12-3456", "fct_cases", 60),
                    (publication.generation, "abcdef12-3456", "mart_deliveries", 1),
                    (publication.generation, "abcdef12-3456",
                     "mart_finance_by_cost_centre_month", 36)]
    assert checks == [("gx_fct_cases", True, "ERROR"), ("unmapped_bookings", False, "WARN")]
    assert not list(gens.glob(".*")) and not list(current.parent.glob(".*"))  # no temp files


def test_retention_keeps_the_newest_generations(synthetic_home: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATENWERK_KEEP_GENERATIONS", "3")
    made = [pub.publish(SYNTHETIC_MARTS, run_id=f"run{i:05d}").generation for i in range(5)]

    kept = [m["generation"] for m in pub.list_generations()]
    assert kept == made[-3:]
    files = sorted(p.name for p in (synthetic_home / "published" / "generations").iterdir())
    assert files == sorted([f"{g}.duckdb" for g in kept] + [f"{g}.json" for g in kept])


def test_prune_never_removes_the_current_generation(synthetic_home: Path) -> None:
    first = pub.publish(SYNTHETIC_MARTS, run_id="first000", keep=5).generation
    second = pub.publish(SYNTHETIC_MARTS, run_id="second00", keep=5).generation
    pub.rollback(first)

    assert pub.prune_generations(1) == []  # the newest stays, and so does the current one
    assert [m["generation"] for m in pub.list_generations()] == [first, second]
    assert pub.current_manifest()["generation"] == first  # type: ignore[index]


def test_rollback_restores_an_older_generation(synthetic_home: Path) -> None:
    old = pub.publish(SYNTHETIC_MARTS, run_id="old00000")
    write_build(synthetic_home, cases_per_department=50, version=2)
    new = pub.publish(SYNTHETIC_MARTS, run_id="new00000")
    current = synthetic_home / "published" / "marts.duckdb"
    old_file = synthetic_home / "published" / "generations" / f"{old.generation}.duckdb"
    assert new.row_counts["fct_cases"] == 100

    restored = pub.rollback("previous")

    assert restored["generation"] == old.generation
    assert current.read_bytes() == old_file.read_bytes()
    with duckdb.connect(str(current), read_only=True) as con:
        assert con.sql("select count(*) from fct_cases").fetchall() == [(60,)]
    assert pub.current_manifest()["generation"] == old.generation  # type: ignore[index]
    with pytest.raises(pub.RollbackError, match="no generation before"):
        pub.rollback("previous")
    pub.rollback(new.generation)
    with duckdb.connect(str(current), read_only=True) as con:
        assert con.sql("select count(*) from fct_cases").fetchall() == [(100,)]


def test_rollback_refuses_a_changed_or_unknown_generation(synthetic_home: Path) -> None:
    old = pub.publish(SYNTHETIC_MARTS, run_id="old00000")
    pub.publish(SYNTHETIC_MARTS, run_id="new00000")
    before = (synthetic_home / "published" / "marts.duckdb").read_bytes()
    old_file = synthetic_home / "published" / "generations" / f"{old.generation}.duckdb"
    with duckdb.connect(str(old_file)) as con:
        con.execute("delete from fct_cases where department_code = 'SB'")

    with pytest.raises(pub.RollbackError, match="does not match its manifest"):
        pub.rollback(old.generation)
    with pytest.raises(pub.RollbackError, match="no generation 'nonsense'"):
        pub.rollback("nonsense")
    assert (synthetic_home / "published" / "marts.duckdb").read_bytes() == before


def _cli(home: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATENWERK_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "orchestration.cli", *args], input=stdin,
                          capture_output=True, text=True, env=env, timeout=120, check=False)


def test_rollback_command_lists_and_restores(synthetic_home: Path) -> None:
    old = pub.publish(SYNTHETIC_MARTS, run_id="old00000")
    new = pub.publish(SYNTHETIC_MARTS, run_id="new00000")

    listing = _cli(synthetic_home, "rollback")
    assert listing.returncode == 0, listing.stderr
    lines = [
        line for line in listing.stdout.splitlines() if "-old0000" in line or "-new0000" in line
    ]
    assert lines[0].startswith("  " + old.generation) and lines[1].startswith("* " + new.generation)

    restored = _cli(synthetic_home, "rollback", old.generation, "--no-exports")
    assert restored.returncode == 0, restored.stderr
    assert pub.current_manifest()["generation"] == old.generation  # type: ignore[index]
    assert _cli(synthetic_home, "rollback", "nope").returncode == 1


def test_sql_shell_reads_stdin_and_is_read_only(synthetic_home: Path) -> None:
    pub.publish(SYNTHETIC_MARTS, run_id="abc00000")

    shell = _cli(synthetic_home, "sql", stdin=(
        "select department_code, count(*) as n\n  from fct_cases group by 1 order by 1;\n"
        ".tables\n"
        "select 'a;b' as tricky; select 41 + 1 as answer;\n"
    ))
    assert shell.returncode == 0, shell.stderr
    out = shell.stdout
    cells = [[c.strip() for c in line.strip("│").split("│")] for line in out.splitlines()
             if line.startswith("│")]
    assert ["SB", "30"] in cells and ["SUB", "30"] in cells
    assert "mart_finance_by_cost_centre_month" in out  # .tables
    assert "a;b" in out and "42" in out

    write = _cli(synthetic_home, "sql", stdin="create table mine as select 1;\n")
    assert write.returncode == 1
    assert "read-only" in write.stderr
    with duckdb.connect(str(synthetic_home / "published" / "marts.duckdb"),
                        read_only=True) as con:
        assert "mine" not in {r[0] for r in con.sql("show tables").fetchall()}

    one_shot = _cli(synthetic_home, "sql", "-c", "select count(*) as n from mart_deliveries")
    assert one_shot.returncode == 0 and "1" in one_shot.stdout


def test_the_run_summary_names_only_what_was_written(synthetic_home: Path) -> None:
    """An organisation without pilot departments got 'department exports <folder>' for a folder
    that did not exist."""
    import contextlib
    import io

    from orchestration.cli import print_summary

    pub.publish(SYNTHETIC_MARTS, run_id="run00001")
    said = io.StringIO()
    with contextlib.redirect_stdout(said):
        print_summary(1.0)
    lines = {line.split("  ")[1].strip(): line.rsplit(" ", 1)[-1]
             for line in said.getvalue().splitlines() if line.startswith("  ") and "  " in line[2:]}
    assert lines["department exports"] == "none"
    assert lines["steward reports (personal data)"] == "none"
