"""Only complete files are picked up: write under a temporary name, then rename into place."""

from __future__ import annotations

import os
import time
from pathlib import Path

from ingestion.delivery import is_complete


def test_temporary_names_are_left_alone(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("DATENWERK_SETTLE_SECONDS", raising=False)
    for name in (".kontakte.csv", "kontakte.csv.part", "kontakte.csv.tmp", "~$kontakte.xlsx"):
        (tmp_path / name).write_text("x")
        assert not is_complete(tmp_path / name), name
    (tmp_path / "kontakte.csv").write_text("x")
    assert is_complete(tmp_path / "kontakte.csv")


def test_settle_time_for_senders_that_cannot_rename(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DATENWERK_SETTLE_SECONDS", "60")
    path = tmp_path / "kontakte.csv"
    path.write_text("x")
    assert not is_complete(path)
    old = time.time() - 120
    os.utime(path, (old, old))
    assert is_complete(path)


DEPARTMENTS = ("organisation_code,department_code,department_name,data_steward\n"
               "neu,SB,Schuldnerberatung,K. Muster\n")


def test_a_reference_file_under_a_temporary_name_is_left_alone_until_renamed(
    tmp_path: Path, monkeypatch  # type: ignore[no-untyped-def]
) -> None:
    """The reference loader and the inbox sensor follow the same protocol as the other
    sources: `.departments.csv` is still being written, so nobody touches it."""
    from ingestion.reference import Delivery
    from orchestration.sensors import complete_files
    from warehouse import paths

    monkeypatch.setenv("DATENWERK_HOME", str(tmp_path))
    monkeypatch.delenv("DATENWERK_SETTLE_SECONDS", raising=False)
    folder = paths.reference_inbox() / "neu"
    folder.mkdir(parents=True)
    writing = folder / ".departments.csv"
    writing.write_text(DEPARTMENTS, encoding="utf-8")
    (folder / "programs.csv.part").write_text("organisation_code", encoding="utf-8")

    tables, outcomes = Delivery(paths.reference_inbox(), frozenset()).parsed
    assert outcomes == [] and tables["departments"] == []
    assert writing.exists() and not list(paths.rejected_dir().rglob("*"))
    assert complete_files(paths.inbox()) == []

    final = writing.rename(folder / "departments.csv")
    tables, outcomes = Delivery(paths.reference_inbox(), frozenset()).parsed
    assert [(o.entity, o.rows_loaded, o.rejected_reason) for o in outcomes] == [
        ("departments", 1, None)]
    assert tables["departments"][0].column("department_code").to_pylist() == ["SB"]
    assert complete_files(paths.inbox()) == [final]


def test_a_reference_file_that_settles_too_recently_waits(
    tmp_path: Path, monkeypatch  # type: ignore[no-untyped-def]
) -> None:
    from ingestion.reference import Delivery
    from warehouse import paths

    monkeypatch.setenv("DATENWERK_HOME", str(tmp_path))
    monkeypatch.setenv("DATENWERK_SETTLE_SECONDS", "60")
    folder = paths.reference_inbox() / "neu"
    folder.mkdir(parents=True)
    path = folder / "departments.csv"
    path.write_text(DEPARTMENTS, encoding="utf-8")
    assert Delivery(paths.reference_inbox(), frozenset()).parsed[1] == []
    old = time.time() - 120
    os.utime(path, (old, old))
    assert len(Delivery(paths.reference_inbox(), frozenset()).parsed[1]) == 1


def test_a_broken_reference_file_is_rejected_with_a_steward_report(
    tmp_path: Path, monkeypatch  # type: ignore[no-untyped-def]
) -> None:
    from ingestion.reference import Delivery
    from warehouse import paths

    monkeypatch.setenv("DATENWERK_HOME", str(tmp_path))
    monkeypatch.delenv("DATENWERK_SETTLE_SECONDS", raising=False)
    folder = paths.reference_inbox() / "neu"
    folder.mkdir(parents=True)
    (folder / "departments.csv").write_text("organisation_code,department_code\nneu,SB\n",
                                            encoding="utf-8")
    [outcome] = Delivery(paths.reference_inbox(), frozenset()).parsed[1]
    assert outcome.rejected_reason == "missing column(s) department_name, data_steward"
    assert (paths.rejected_dir() / "reference" / "neu" / "departments.csv").exists()
    assert list(paths.reports_dir().rglob("*departments*"))


def test_init_org_writes_templates_that_load_only_once_renamed(
    tmp_path: Path, monkeypatch  # type: ignore[no-untyped-def]
) -> None:
    """`datenwerk init-org` prepares a new organisation: every reference table as a header-only
    template, which no loader picks up until it is filled in and renamed."""
    from ingestion.reference import OPTIONAL, TABLES, Delivery
    from orchestration.cli import main
    from warehouse import paths

    monkeypatch.setenv("DATENWERK_HOME", str(tmp_path))
    monkeypatch.delenv("DATENWERK_SETTLE_SECONDS", raising=False)
    assert main(["init-org", "neu"]) == 0
    folder = paths.reference_inbox() / "neu"
    headers = {p.name: p.read_text(encoding="utf-8").strip().split(",")
               for p in folder.iterdir()}
    assert headers == {f"{name}.csv.template": [*columns, *OPTIONAL.get(name, ())]
                       for name, (columns, _) in TABLES.items()}
    assert (paths.case_management_inbox() / "neu").is_dir()
    assert (paths.accounting_inbox() / "neu").is_dir()
    assert Delivery(paths.reference_inbox(), frozenset()).parsed[1] == []

    template = folder / "departments.csv.template"
    template.write_text(template.read_text(encoding="utf-8") + "neu,SB,Schuldnerberatung,"
                        "K. Muster,true\n", encoding="utf-8")
    template.rename(folder / "departments.csv")
    [outcome] = Delivery(paths.reference_inbox(), frozenset()).parsed[1]
    assert (outcome.organisation_code, outcome.rows_loaded, outcome.rejected_reason) == (
        "neu", 1, None)
    assert main(["init-org", "neu"]) == 0  # again: nothing is overwritten or re-created
    assert not template.exists() and (folder / "departments.csv").exists()
    assert main(["init-org", "../x"]) == 2
