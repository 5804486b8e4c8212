"""Parsing single exports: each fixture is named after its defect."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from ingestion.case_management import detect_profile
from ingestion.case_management.helpers import parse_export
from ingestion.delivery import FileOutcome, FileRejected, quarantine_table
from ingestion.standard import standard

FIXTURES = Path(__file__).parents[1] / "fixtures" / "case_management"


@pytest.fixture(autouse=True)
def _key(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DATENWERK_PSEUDONYM_KEY", "k" * 32)


def parse(name: str) -> tuple[pa.Table, FileOutcome]:
    path = FIXTURES / name
    profile, mapping = detect_profile(path)
    outcome = FileOutcome(path, "sha", "org", mapping.entity, profile.name)
    table = parse_export(path, profile, mapping, standard()[mapping.entity], outcome,
                         {"organisation_code": "org", "department_code": "SB"})
    return table, outcome


def quarantined(outcome: FileOutcome) -> list[tuple[int, str, str, str | None]]:
    q = quarantine_table([outcome])
    return sorted(zip(q["source_line"].to_pylist(), q["field"].to_pylist(),
                      q["reason"].to_pylist(), q["offending_value"].to_pylist(), strict=True))


def test_impossible_date_is_quarantined_not_rolled_over() -> None:
    table, outcome = parse("faelle_impossible_date.csv")
    assert table["case_id"].to_pylist() == ["F-1"]
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
    assert table["case_id"].to_pylist() == ["F-2"]
    assert [q[:2] for q in quarantined(outcome)] == [(2, "end_date")]


def test_duplicate_key_keeps_first_quarantines_later() -> None:
    table, outcome = parse("faelle_duplicate_key.csv")
    assert table["case_id"].to_pylist() == ["F-1", "F-2"]
    assert [q[:3] for q in quarantined(outcome)] == [(3, "case_id", "duplicate key within the file")]
    assert quarantined(outcome)[0][3] is None  # identifiers are never copied to quarantine


def test_missing_required_column_rejects_the_file() -> None:
    with pytest.raises(FileRejected, match="'Fall-Nr' \\(for case_id\\)"):
        parse("faelle_missing_case_id_column.csv")


def test_utf8_bom_and_mixed_date_styles() -> None:
    table, outcome = parse("faelle_utf8_bom.csv")
    assert outcome.rows_quarantined == 0
    assert str(table["start_date"][0]) == "2024-02-01" and str(table["end_date"][0]) == "2024-03-31"
    assert table["end_reason"].to_pylist() == ["planned"]


def test_quoted_semicolon_and_linebreak_keep_line_numbers_right() -> None:
    table, outcome = parse("kontakte_note_with_semicolon_and_linebreak.csv")
    assert table["contact_id"].to_pylist() == ["C-1", "C-3"]
    assert table["source_line"].to_pylist() == [2, 5]
    assert [q[:2] + (q[3],) for q in quarantined(outcome)] == [(4, "duration_minutes", "abc")]
    assert "notes" not in table.column_names and "Notiz" not in table.column_names


def test_personal_columns_never_leave_the_parser() -> None:
    table, _ = parse("klienten_personal_columns.csv")
    row = table.to_pylist()[0]
    assert row["birth_year"] == 1971 and row["region"] == "041" and row["gender"] == "m"
    text = repr(row)
    for secret in ("Jürgen", "Größmann", "03.04.1971", "Lindenstraße", "0341 555123", "example.org", "K-1"):
        assert secret not in text
    assert set(table.column_names) == {
        "organisation_code", "department_code", "client_id", "birth_year", "gender", "region",
        "source_file", "source_line", "source_sha256",
    }


def test_binary_garbage_is_rejected_with_a_reason() -> None:
    with pytest.raises(FileRejected) as info:
        parse("klienten_binary_garbage.csv")
    assert "klienten_binary_garbage.csv" in str(info.value)
