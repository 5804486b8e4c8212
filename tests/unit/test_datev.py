"""The DATEV reader on the two public samples (values checked by hand against the files)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from ingestion.accounting.datev import (
    AccountLabels,
    Buchungsstapel,
    DatevFormatError,
    read_account_labels,
    read_buchungsstapel,
    read_datev,
    read_header,
)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "datev"
SAMPLE = FIXTURES / "ledermann_EXTF_Buchungsstapel.csv"
LABELS = FIXTURES / "ledermann_EXTF_Kontenbeschriftungen.csv"


def test_public_sample_header() -> None:
    header, headings, dialect = read_header(SAMPLE)
    assert (header.format_kind, header.version, header.data_category) == ("EXTF", 700, 21)
    assert (header.format_name, header.format_version) == ("Buchungsstapel", 9)
    assert header.created_at == datetime(2018, 3, 6, 10, 25, 0)
    assert (header.consultant_number, header.client_number) == ("1001", "456")
    assert header.fiscal_year_start == date(2018, 1, 1) and header.account_length == 4
    assert (header.period_from, header.period_to) == (date(2018, 2, 1), date(2018, 2, 28))
    assert (header.description, header.currency) == ("Beispiel-Buchungen", "EUR")
    assert header.chart_of_accounts is None  # field 27 is empty in this file
    assert header.header_fields == 31
    assert len(headings) == 120 and headings[36] == "KOST1 – Kostenstelle"  # en dash
    assert (dialect.encoding, dialect.delimiter) == ("cp1252", ";")


def test_public_sample_bookings() -> None:
    stapel = read_buchungsstapel(SAMPLE)
    assert stapel.column_mapping == "position"  # 120 headings = format 9's catalogue
    rows = stapel.bookings.to_pylist()
    # Line 3: 24,95 H on bank 1200 against 4940, BU 8, Belegdatum 2102, text with an umlaut.
    assert rows[0]["amount_eur"] == Decimal("-24.95")
    assert (rows[0]["debit_credit"], rows[0]["amount_unsigned_eur"]) == ("H", Decimal("24.95"))
    assert (rows[0]["account"], rows[0]["contra_account"], rows[0]["tax_key"]) == (
        "1200", "4940", "8")
    assert rows[0]["document_date"] == date(2018, 2, 21)
    assert rows[0]["posting_text"] == "Fachbuch: Controlling für Dummies"
    assert rows[0]["document_number"] is None and rows[0]["cost_centre_1"] is None
    # Line 4: 5950,00 S on debtor 10000 against 8400, Belegdatum 2202, Belegfeld RE201802-135.
    assert rows[1]["amount_eur"] == Decimal("5950.00") and rows[1]["account"] == "10000"
    assert rows[1]["contra_account"] == "8400" and rows[1]["document_date"] == date(2018, 2, 22)
    assert rows[1]["document_number"] == "RE201802-135"
    assert rows[1]["posting_text"] == "Honorar FiBu-Seminar"
    assert [r["source_line"] for r in rows] == [3, 4]
    assert not any(r["is_reversal"] for r in rows)
    assert stapel.problems.num_rows == 0
    control = stapel.control
    assert (control.lines, control.unreadable_lines, control.quarantined_lines) == (2, 0, 0)
    assert control.amount_eur == Decimal("5925.05")
    assert control.absolute_eur == Decimal("5974.95")


def test_public_sample_account_labels() -> None:
    labels = read_account_labels(LABELS)
    assert labels.header.data_category == 20 and labels.header.format_name == "Kontenbeschriftungen"
    assert labels.header.period_from is None
    assert labels.labels.to_pylist() == [
        {"account": "400", "account_label": "Betriebsausstattung", "language_id": "de-DE",
         "source_line": 3},
        {"account": "1000", "account_label": "Kasse", "language_id": "de-DE", "source_line": 4},
        {"account": "1200", "account_label": "Girokonto", "language_id": "de-DE",
         "source_line": 5},
    ]


def test_read_datev_dispatches_by_data_category() -> None:
    assert isinstance(read_datev(SAMPLE), Buchungsstapel)
    assert isinstance(read_datev(LABELS), AccountLabels)


def test_account_labels_are_not_a_buchungsstapel() -> None:
    with pytest.raises(
        DatevFormatError,
        match=r"category 20 .'Kontenbeschriftungen'. is not a Buchungsstapel \(21\);",
    ):
        read_buchungsstapel(LABELS)
