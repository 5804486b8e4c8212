"""`datenwerk validate` sets aside what the load's plausibility checks would: dates in the future
always, unknown programs and departments where the organisation's reference data is found."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from ingestion.validate import report_lines, validate_file

CASES_HEADER = "Fall-Nr;Klient-Nr;Programm;Zuweisung;Beginn;Ende;Beendigungsgrund;Fachkraft-Nr\n"


@pytest.fixture(autouse=True)
def _home(monkeypatch, tmp_path) -> Path:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DATENWERK_PSEUDONYM_KEY", "k" * 32)
    monkeypatch.setenv("DATENWERK_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _cases(path: Path, rows: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(CASES_HEADER + "".join(f"{r}\n" for r in rows), encoding="cp1252")
    return path


def _reference(home: Path, org: str, departments: list[str], programs: list[tuple[str, str]]
               ) -> None:
    folder = home / "inbox" / "reference" / org
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "departments.csv").write_text(
        "organisation_code,department_code\n" + "".join(f"{org},{d}\n" for d in departments))
    (folder / "programs.csv").write_text(
        "organisation_code,department_code,program_code\n"
        + "".join(f"{org},{d},{p}\n" for d, p in programs))


def _set_aside(v) -> list[tuple[int, str, str]]:  # type: ignore[no-untyped-def]
    return sorted((r["source_line"], r["field"], r["reason"])
                  for q in v.outcome.quarantine for r in q.to_pylist())


def test_a_date_in_the_future_is_set_aside_as_the_load_would(tmp_path: Path) -> None:
    future = (dt.date.today() + dt.timedelta(days=400)).strftime("%d.%m.%Y")
    path = _cases(tmp_path / "faelle.csv", [
        "F-1;K-1;SB-ALLG;;01.02.2024;;;MA-1",
        f"F-2;K-1;SB-ALLG;;{future};;;MA-1",
        "F-3;K-1;SB-ALLG;;01.02.2024;;;MA-1",
    ])
    v = validate_file(path)
    assert [r[:2] for r in _set_aside(v)] == [(3, "start_date")]
    assert _set_aside(v)[0][2].startswith("date in the future")
    assert not v.passed
    # Programs need the organisation: not checked, and the report says so.
    assert v.notes == ["programs_unchecked"]
    assert any("Programme und Abteilung nicht geprüft" in line for line in report_lines(v))


def test_unknown_program_is_set_aside_for_a_named_organisation(
        tmp_path: Path, _home: Path) -> None:
    _reference(_home, "caritas", ["SB"], [("SB", "SB-ALLG")])
    path = _cases(tmp_path / "faelle.csv", [
        "F-1;K-1;SB-ALLG;;01.02.2024;;;MA-1",
        "F-2;K-1;SB-NEU;;01.02.2024;;;MA-1",
    ])
    v = validate_file(path, organisation="caritas", department="SB")
    assert [r[:2] for r in _set_aside(v)] == [(3, "program_code")]
    assert "not in the reference programs of department SB" in _set_aside(v)[0][2]
    assert not v.notes
    # Another organisation's reference data is not found: nothing guessed, a note instead.
    v = validate_file(path, organisation="diakonie", department="SB")
    assert not _set_aside(v) and v.notes == ["no_reference_data"]


def test_a_file_in_its_inbox_folder_is_checked_as_its_department(_home: Path) -> None:
    """The folder says whose file it is, as in the load: an unknown department rejects it."""
    _reference(_home, "caritas", ["SB"], [("SB", "SB-ALLG")])
    rows = ["F-1;K-1;SB-ALLG;;01.02.2024;;;MA-1", "F-2;K-1;SB-NEU;;01.02.2024;;;MA-1"]
    inbox = _home / "inbox" / "case_management" / "caritas"
    v = validate_file(_cases(inbox / "SB" / "faelle.csv", rows))
    assert [r[:2] for r in _set_aside(v)] == [(3, "program_code")]
    v = validate_file(_cases(inbox / "XY" / "faelle.csv", rows))
    assert "department 'XY'" in v.outcome.rejected_reason
