"""Parsing single exports: each fixture is named after its defect."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from ingestion.case_management import detect_profile
from ingestion.case_management.helpers import parse_export
from ingestion.delivery import FileOutcome, FileRejected, quarantine_table
from ingestion.pseudonymise import pseudonym
from ingestion.standard import standard
from tests.unit.parsing import parse as _parse_file

FIXTURES = Path(__file__).parents[1] / "fixtures" / "case_management"
KEY = "k" * 32


@pytest.fixture(autouse=True)
def _key(monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DATENWERK_PSEUDONYM_KEY", KEY)
    # A home of its own: a home left current by an earlier test on this worker may hold a key
    # file, and two keys are refused.
    monkeypatch.setenv("DATENWERK_HOME", str(tmp_path / "home"))


def parse(name: str) -> tuple[pa.Table, FileOutcome]:
    path = FIXTURES / name
    profile, mapping = detect_profile(path)
    outcome = FileOutcome(path, "sha", "org", mapping.entity, profile.name)
    table = parse_export(path, profile, mapping, standard()[mapping.entity], outcome,
                         {"organisation_code": "org", "department_code": "SB"})
    return table, outcome


def ids(*numbers: str) -> list[str]:
    """What the source system's numbers look like once stored: keyed pseudonyms."""
    return [pseudonym(n, KEY.encode()) for n in numbers]


def quarantined(outcome: FileOutcome) -> list[tuple[int, str, str, str | None]]:
    q = quarantine_table([outcome])
    return sorted(zip(q["source_line"].to_pylist(), q["field"].to_pylist(),
                      q["reason"].to_pylist(), q["offending_value"].to_pylist(), strict=True))


def test_impossible_date_is_quarantined_not_rolled_over() -> None:
    table, outcome = parse("faelle_impossible_date.csv")
    assert table["case_id"].to_pylist() == ids("F-1")
    assert quarantined(outcome) == [(3, "start_date", quarantined(outcome)[0][2], "31.02.2024")]
    assert "not a valid date" in quarantined(outcome)[0][2]
    assert outcome.rows_read == outcome.rows_loaded + outcome.rows_quarantined == 2


def test_unknown_code_names_line_field_and_value() -> None:
    table, outcome = parse("faelle_unknown_code.csv")
    assert table["end_reason"].to_pylist() == ["moved"]
    [(line, field, reason, value)] = quarantined(outcome)
    assert (line, field, value) == (2, "end_reason", "weggelaufen")
    assert "unknown code" in reason and "regulär beendet" in reason


def test_end_before_start() -> None:
    table, outcome = parse("faelle_end_before_start.csv")
    assert table["case_id"].to_pylist() == ids("F-2")
    assert [q[:2] for q in quarantined(outcome)] == [(2, "end_date")]


def test_duplicate_key_keeps_first_quarantines_later() -> None:
    table, outcome = parse("faelle_duplicate_key.csv")
    assert table["case_id"].to_pylist() == ids("F-1", "F-2")
    assert [q[:3] for q in quarantined(outcome)] == [
        (3, "case_id", "duplicate key within the file")
    ]
    assert quarantined(outcome)[0][3] is None  # identifiers are never copied to quarantine


def test_missing_required_column_rejects_the_file() -> None:
    with pytest.raises(FileRejected, match="'Fall-Nr' \\(for case_id\\)"):
        parse("faelle_missing_case_id_column.csv")


def test_utf8_bom_and_mixed_date_styles() -> None:
    table, outcome = parse("faelle_utf8_bom.csv")
    assert outcome.rows_quarantined == 0
    assert str(table["start_date"][0]) == "2024-02-01" and str(table["end_date"][0]) == "2024-03-31"
    assert table["end_reason"].to_pylist() == ["planned"]


def test_quoted_semicolon_and_linebreak_keep_row_numbers_right() -> None:
    """Rows count as a spreadsheet shows them: the two-line note stays in row 2."""
    table, outcome = parse("kontakte_note_with_semicolon_and_linebreak.csv")
    assert table["contact_id"].to_pylist() == ids("C-1", "C-3")
    assert table["source_line"].to_pylist() == [2, 4]
    assert [q[:2] + (q[3],) for q in quarantined(outcome)] == [(3, "duration_minutes", "abc")]
    assert "notes" not in table.column_names and "Notiz" not in table.column_names


def test_personal_columns_never_leave_the_parser() -> None:
    table, _ = parse("klienten_personal_columns.csv")
    row = table.to_pylist()[0]
    assert row["birth_year"] == 1971 and row["region"] == "041" and row["gender"] == "m"
    text = repr(row)
    for secret in (
        "Jürgen", "Größmann", "03.04.1971", "Lindenstraße", "0341 555123", "example.org", "K-1"
    ):
        assert secret not in text
    assert set(table.column_names) == {
        "organisation_code", "department_code", "client_id", "birth_year", "gender", "region",
        "source_file", "source_line", "source_sha256",
    }


def test_binary_garbage_is_rejected_with_a_reason() -> None:
    with pytest.raises(FileRejected) as info:
        parse("klienten_binary_garbage.csv")
    assert "klienten_binary_garbage.csv" in str(info.value)


def test_too_many_and_too_few_fields_are_quarantined_with_their_row() -> None:
    table, outcome = parse("kontakte_too_many_and_too_few_fields.csv")
    assert table["contact_id"].to_pylist() == ids("C-1", "C-4")
    assert table["source_line"].to_pylist() == [2, 5]
    assert table["duration_minutes"].to_pylist() == [45, 1200]  # thousands dot: 1.200
    assert [q[:3] for q in quarantined(outcome)] == [
        (3, "staff_id", "too few fields in this row"),  # the first column that is missing
        (4, "(row)", "too many fields in this row"),
    ]
    assert outcome.rows_read == 4 == outcome.rows_loaded + outcome.rows_quarantined


def test_comma_delimited_export_is_read() -> None:
    table, outcome = parse("kontakte_comma_delimiter.csv")
    assert table["contact_id"].to_pylist() == ids("C-1") and outcome.rows_quarantined == 0


def test_utf8_export_with_typographic_characters() -> None:
    from dataclasses import replace

    path = FIXTURES / "kontakte_utf8_without_bom.csv"
    profile, mapping = detect_profile(path)
    profile = replace(profile, encoding="utf-8")
    outcome = FileOutcome(path, "sha", "org", mapping.entity, profile.name)
    table = parse_export(path, profile, mapping, standard()["contacts"], outcome,
                         {"organisation_code": "org", "department_code": "SB"})
    assert table["contact_type"].to_pylist() == ["in_person"]
    assert str(table["contact_date"][0]) == "2024-02-01"


def test_header_only_file_loads_nothing_and_is_not_an_error() -> None:
    table, outcome = parse("kontakte_header_only.csv")
    assert table.num_rows == 0 and outcome.rows_read == 0 and not outcome.quarantine


def test_empty_file_is_rejected() -> None:
    with pytest.raises(FileRejected, match="empty"):
        parse("kontakte_empty.csv")


def test_undecodable_byte_rejects_the_file_naming_the_byte() -> None:
    with pytest.raises(FileRejected, match="cannot be decoded as cp1252 at byte"):
        parse("kontakte_undecodable_byte.csv")


def test_unexpected_column_is_reported_never_read() -> None:
    table, outcome = parse("kontakte_unexpected_column.csv")
    assert outcome.unexpected_columns == ["Diagnose"]
    assert "Diagnose" not in table.column_names
    assert "F32.1" not in repr(table.to_pylist())


def test_xlsx_of_the_second_vendor() -> None:
    table, outcome = parse("kontakte_xlsx_vendor.xlsx")
    assert outcome.profile == "jugendhilfe_xlsx"
    assert table.to_pylist()[0] | {"staff_id": None, "source_sha256": None} == {
        "organisation_code": "org", "department_code": "SB", "contact_id": ids("K1")[0],
        "case_id": ids("FALL-1")[0], "contact_date": __import__("datetime").date(2024, 2, 1),
        "contact_type": "outreach", "duration_minutes": 60, "staff_id": None,
        "source_file": "kontakte_xlsx_vendor.xlsx", "source_line": 2, "source_sha256": None,
    }
    assert [q[:2] + (q[3],) for q in quarantined(outcome)] == [(3, "contact_date", "31.02.2024")]
    assert "Özdemir" not in repr(table.to_pylist())


def test_rows_deep_in_a_large_export_keep_their_row_and_field(tmp_path: Path) -> None:
    """300,000 contacts (about 20 MB: DuckDB reads it in parallel, in many buffers, vectors and
    row groups): a broken line near the start, bad values and a repeated key far beyond every
    boundary are each named by their spreadsheet row and field, and every accepted row keeps
    its own row number."""
    rows = 300_000
    lines = ["Kontakt-Nr;Fall-Nr;Datum;Art;Dauer (Min.);Mitarbeiter-Nr;Notiz"]
    lines += [f"C-{i};F-{i // 12};{1 + i % 28:02d}.03.2024;telefonisch;{10 + i % 90};MA-{i % 40};"
              f"Gespräch {i}" for i in range(rows)]
    broken, bad_date, bad_type, repeated = 1_000, 150_001, 245_760, 299_998
    lines[broken + 1] = "C-x;F-x;01.03.2024;telefonisch;15;MA-1;too;many;fields"
    lines[bad_date + 1] = lines[bad_date + 1].replace("03.2024", "13.2024", 1)
    lines[bad_type + 1] = lines[bad_type + 1].replace("telefonisch", "Brieftaube")
    lines[repeated + 1] = lines[repeated + 1].replace(f"C-{repeated};", "C-77;", 1)
    path = tmp_path / "kontakte_large_with_late_errors.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    table, outcome = _parse_file(path)

    # Row numbers count the header as row 1: record i is row i + 2.
    assert [q[:2] for q in quarantined(outcome)] == [
        (broken + 2, "(row)"), (bad_date + 2, "contact_date"), (bad_type + 2, "contact_type"),
        (repeated + 2, "contact_id"),
    ]
    assert quarantined(outcome)[2][3] == "Brieftaube"
    assert outcome.rows_read == rows and table.num_rows == rows - 4
    line_of = dict(zip(table["contact_id"].to_pylist(), table["source_line"].to_pylist(),
                       strict=True))
    for i in (0, 999, 1_001, 122_879, 122_880, 150_000, 150_002, 245_761, 299_999):
        assert line_of[ids(f"C-{i}")[0]] == i + 2, i


def test_one_identifier_one_pseudonym_across_files_and_entities(tmp_path: Path) -> None:
    """A case number is hashed in its own row where it is the key (the case list) and once per
    distinct value where it is a reference (contacts): both ways, and in every file, give the
    same pseudonym, the one Python computes."""
    cases = tmp_path / "faelle_two_cases.csv"
    cases.write_text(
        "Fall-Nr;Klient-Nr;Programm;Zuweisung;Beginn;Ende;Beendigungsgrund;Fachkraft-Nr\n"
        "F-7;K-1;SB-ALLG;;01.02.2024;;;MA-1\n F-8 ;K-1;SB-ALLG;;01.02.2024;;;MA-2\n",
        encoding="cp1252")
    contacts = [tmp_path / f"kontakte_{n}.csv" for n in ("januar", "februar")]
    for n, path in enumerate(contacts):
        path.write_text(
            "Kontakt-Nr;Fall-Nr;Datum;Art;Dauer (Min.);Mitarbeiter-Nr\n"
            + "".join(f"C-{n}{i};F-{7 + i % 2};0{1 + i}.02.2024;persönlich;30;MA-{1 + i % 2}\n"
                      for i in range(4)),
            encoding="cp1252")

    case_table, _ = _parse_file(cases)
    contact_tables = [_parse_file(path)[0] for path in contacts]

    assert case_table["case_id"].to_pylist() == ids("F-7", "F-8")
    assert case_table["caseworker_id"].to_pylist() == ids("MA-1", "MA-2")
    for table in contact_tables:
        assert table["case_id"].to_pylist() == ids("F-7", "F-8", "F-7", "F-8")
        assert table["staff_id"].to_pylist() == ids("MA-1", "MA-2", "MA-1", "MA-2")
    assert contact_tables[1]["contact_id"].to_pylist() == ids("C-10", "C-11", "C-12", "C-13")


def test_a_file_without_header_line_is_rejected_without_quoting_its_first_row(
        tmp_path: Path) -> None:
    """A clients export saved without its header line: the first row stands where the column
    names belong. The reason (logged, shown to the steward, published in mart_deliveries) names
    the missing column and the profile's columns it found, never the cells of that row."""
    rows = (FIXTURES / "klienten_personal_columns.csv").read_bytes().split(b"\r\n", 1)[1]
    path = tmp_path / "klienten.csv"
    path.write_bytes(rows * 3)
    with pytest.raises(FileRejected) as rejected:
        _parse_file(path)
    reason = rejected.value.reason
    assert "'Klient-Nr' (for client_id)" in reason and "10 other column(s), not shown" in reason
    first = rows.decode("cp1252").split("\r\n")[0].split(";")
    assert [cell for cell in first if cell in reason] == []  # "Jürgen", "03.04.1971", ...
