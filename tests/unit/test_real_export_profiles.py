"""Profiles that describe real exports without Python: one file for several entities, derived
keys, constants, value maps with a default, department from a column, detection by header, and
special categories of personal data refused. Fixtures: ``tests/fixtures/vendors/``."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from ingestion.case_management import detect_mappings
from ingestion.case_management.helpers import parse_export
from ingestion.case_management.mapping_report import value_map_usage
from ingestion.delivery import FileOutcome, FileRejected
from ingestion.pseudonymise import pseudonym
from ingestion.standard import load_profile, standard

VENDORS = Path(__file__).parents[1] / "fixtures" / "vendors"
KDS = VENDORS / "kds_case_list_with_diagnosis_and_names.csv"
YOUTH = VENDORS / "youth_welfare_contact_list_with_names.csv"
KEY = "v" * 32
# What the fixtures plant and nothing may keep: names, diagnoses, contact details, notes.
PLANTED = ("Brandt", "Jürgen", "Öztürk", "Kemal", "F10.2", "F63.0", "F90.0", "F43.2",
           "0341 5550123", "claudia.meier@example.org", "Krüger", "Eisenbahnstraße", "Gutachten",
           "03.04.1971", "9004711", "P-10233", "H-2024-017", "KT-880101")


@pytest.fixture(autouse=True)
def _key(monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # A home of its own: the key comes from the environment only, never also from a key file.
    monkeypatch.setenv("DATENWERK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DATENWERK_PSEUDONYM_KEY", KEY)


def renamed(src: Path, tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    shutil.copy(src, target)
    return target


def parse_all(
    path: Path, profile_name: str | None = None
) -> dict[str, tuple[pa.Table, FileOutcome]]:
    profile, mappings = detect_mappings(path, profile_name)
    out = {}
    for mapping in mappings:
        outcome = FileOutcome(path, "sha", "org", mapping.entity, profile.name)
        table = parse_export(path, profile, mapping, standard()[mapping.entity], outcome,
                             {"organisation_code": "org", "department_code": "SBM"})
        out[mapping.entity] = (table, outcome)
    return out


def test_case_list_yields_cases_and_each_client_once(tmp_path: Path) -> None:
    parsed = parse_all(renamed(KDS, tmp_path, "Export_2025-12-31.csv"))
    assert list(parsed) == ["cases", "clients"]
    cases, outcome = parsed["cases"]
    assert (outcome.rows_read, outcome.rows_loaded, outcome.rows_quarantined) == (11, 11, 0)
    clients, client_outcome = parsed["clients"]
    # 9004711 has two episodes: one client, both cases, no duplicate-key quarantine
    assert clients.num_rows == 10 and client_outcome.rows_quarantined == 0
    brandt = pseudonym("9004711", KEY.encode())
    assert cases.filter(pa.compute.equal(cases["client_id"], brandt)).num_rows == 2
    # the derived key: client number + start date, pseudonymised like every identifier
    assert cases["case_id"][0].as_py() == pseudonym("9004711|10.01.2024", KEY.encode())
    assert len(set(cases["case_id"].to_pylist())) == 11


def test_value_maps_constants_defaults_and_department_column(tmp_path: Path) -> None:
    cases = parse_all(renamed(KDS, tmp_path, "Export_2025-12-31.csv"))["cases"][0].to_pylist()
    by_line = {c["source_line"]: c for c in cases}
    assert by_line[2]["program_code"] == "SUCHT-BER"  # free text mapped to a program code
    assert by_line[10]["program_code"] == "SUCHT-SONST"  # no entry: the profile's default
    assert [by_line[n]["end_reason"] for n in (2, 3, 5, 9)] == [
        "planned", "dropout", "referral", "other"]  # KDS codes with their text
    assert {c["problem_area"] for c in cases} == {"Suchtmittelkonsum"}  # a constant
    assert by_line[7]["problem_area_result"] == "worse" and by_line[2]["contacts_total"] == 12
    assert by_line[4]["department_code"] == "GLS"  # from the Einrichtung column
    assert by_line[12]["department_code"] == "SBM"  # empty cell: the folder's department


def test_nothing_planted_leaves_the_parser(tmp_path: Path) -> None:
    for src, name in ((KDS, "Export_2025-12-31.csv"), (YOUTH, "Kontaktliste 2025.csv")):
        for table, outcome in parse_all(renamed(src, tmp_path, name)).values():
            text = repr(table.to_pylist()) + repr(outcome.quarantine)
            assert [p for p in PLANTED if p in text] == [], (name, outcome.entity)


def test_contact_list_yields_contacts_cases_and_clients(tmp_path: Path) -> None:
    parsed = parse_all(renamed(YOUTH, tmp_path, "Kontaktliste Hilfen 2025.csv"))
    assert list(parsed) == ["contacts", "cases", "clients"]
    assert [parsed[e][0].num_rows for e in parsed] == [9, 3, 3]
    assert sum(o.rows_quarantined for _, o in parsed.values()) == 0
    cases = {c["case_id"]: c for c in parsed["cases"][0].to_pylist()}
    assert cases[pseudonym("H-2024-031", KEY.encode())]["end_reason"] == "dropout"
    assert {c["program_code"] for c in cases.values()} == {"AJH-SPFH", "AJH-EB"}


@pytest.mark.parametrize("name", ["betreuungen (2).csv", "Statistik Q4.csv", "faelle_2025.csv"])
def test_any_file_name_is_recognised_by_its_header(tmp_path: Path, name: str) -> None:
    """Also under a name another profile expects (faelle*.csv is the demo's case file)."""
    profile, mappings = detect_mappings(renamed(KDS, tmp_path, name))
    assert profile.name == "kds_suchthilfe_csv"
    assert [m.entity for m in mappings] == ["cases", "clients"]


def test_named_profile_works_with_any_file_name(tmp_path: Path) -> None:
    path = renamed(YOUTH, tmp_path, "export.csv")
    assert detect_mappings(path, "jugendhilfe_kontaktliste_csv")[0].name == (
        "jugendhilfe_kontaktliste_csv")
    with pytest.raises(FileRejected, match="neither the file name nor the header"):
        detect_mappings(path, "demo_csv")


def test_value_map_report_lists_unused_entries_and_unmapped_texts(tmp_path: Path) -> None:
    path = renamed(KDS, tmp_path, "Export_2025-12-31.csv")
    profile, mappings = detect_mappings(path)
    usage = {(u.entity, u.field): u for u in value_map_usage(path, profile, mappings)}
    program = usage[("cases", "program_code")]
    assert program.unmapped_values == [("Angehörigengruppe", 1)]
    assert program.becomes == "SUCHT-SONST"
    assert program.unused_entries == []
    assert usage[("-", "department_code")].unmapped_values == []
    youth = renamed(YOUTH, tmp_path, "Kontaktliste.csv")
    profile, mappings = detect_mappings(youth)
    usage = {(u.entity, u.field): u for u in value_map_usage(youth, profile, mappings)}
    assert usage[("cases", "program_code")].unused_entries == ["Soziale Gruppenarbeit (§ 29)"]
    assert "Wegzug" in usage[("cases", "end_reason")].unused_entries


def test_validate_prints_the_mapping_findings_for_any_file_name(tmp_path: Path) -> None:
    path = renamed(KDS, tmp_path, "Export_2025-12-31 (1).csv")
    result = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "validate", "--profile",
         "kds_suchthilfe_csv", str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "'Angehörigengruppe' (1x)" in result.stdout and "SUCHT-SONST" in result.stdout
    assert "F10.2" not in result.stdout and "Brandt" not in result.stdout


@pytest.mark.parametrize(("column", "category"), [
    ("Hauptdiagnose (ICD-10)", "health data"),
    ("ICD-10 (§ 35a)", "health data"),
    ("Konfession", "religious"),
    ("Sexuelle Orientierung", "sex life"),
])
def test_a_profile_mapping_special_category_data_is_refused(
    tmp_path: Path, column: str, category: str
) -> None:
    path = tmp_path / "sneaky.yml"
    path.write_text(
        "name: sneaky\nentities:\n  cases:\n    file_pattern: 'x*.csv'\n    columns:\n"
        f"      case_id: Fall\n      client_id: Klient\n      program_code: Angebot\n"
        f"      start_date: Beginn\n      referral_source: '{column}'\n", encoding="utf-8")
    with pytest.raises(ValueError, match=f"{category}.*GDPR Art. 9"):
        load_profile(path)


def test_a_special_category_column_as_part_of_a_derived_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "sneaky.yml"
    path.write_text(
        "name: sneaky\nentities:\n  cases:\n    file_pattern: 'x*.csv'\n"
        "    derived_keys: {case_id: [Klient, Diagnose]}\n"
        "    columns: {client_id: Klient, program_code: Angebot, start_date: Beginn}\n",
        encoding="utf-8")
    with pytest.raises(ValueError, match="'Diagnose'.*health data"):
        load_profile(path)
