"""DATEV files shaped like real transfers damage them (``tests/fixtures/datev``, built from the
public samples): damaged and short headings, leading zeros, long Belegfeld 1, a missing column.

Each file's expected sums are computed here straight from its text with Python's csv module and
the column positions read off the file by hand, independently of the reader under test."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pytest

from ingestion.accounting.datev import (
    DatevFormatError,
    map_columns,
    normalise_heading,
    read_buchungsstapel,
    resolve_heading,
)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "datev"
CONTRA = "Gegenkonto (ohne BU-Schlüssel)"


def file_sums(name: str, amount: int, sh: int, base: int | None = None,
              wkz: int | None = None) -> tuple[int, Decimal, Decimal]:
    """(lines, signed sum in EUR, absolute sum) from the file's text: S +, H -; a line in another
    currency counts with its Basis-Umsatz."""
    raw = (FIXTURES / name).read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252")
    delimiter = text[4] if text[4] in ";," else text[6]
    rows = [r for r in csv.reader(text.splitlines()[2:], delimiter=delimiter) if r]
    signed = absolute = Decimal(0)
    for row in rows:
        foreign = wkz is not None and row[wkz] not in ("", "EUR")
        value = Decimal((row[base] if foreign and base is not None else row[amount])
                        .replace(",", "."))
        signed += value if row[sh].upper() == "S" else -value
        absolute += value
    return len(rows), signed, absolute


# fixture, (amount, S/H, Basis-Umsatz, WKZ) column positions, mapping, (account, contra, KOST1)
CASES = [
    ("ledermann_most_lines_without_cost_centre.csv", (0, 1, 4, 2), "position",
     [("1200", "4940", None), ("10000", "8400", None), ("4120", "1200", "100"),
      ("4930", "1000", None), ("8400", "1400", "100"), ("4910", "1200", None),
      ("1200", "8400", None), ("4970", "1200", None)]),
    ("format_7_headings_replacement_char.csv", (0, 1, 4, 2), "name",
     [("4120", "1200", "200"), ("8400", "1400", "200"), ("4930", "1000", "200")]),
    ("format_7_headings_utf8_read_as_cp1252.csv", (0, 1, 4, 2), "name",
     [("4120", "1200", "200"), ("8400", "1400", "200"), ("4930", "1000", "200")]),
    ("format_7_gegenkonto_heading_unreadable.csv", (0, 1, 4, 2), "name+position",
     [("4120", "1200", "200"), ("8400", "1400", "200"), ("4930", "1000", "200")]),
    ("short_headings_s_h.csv", (0, 1, 4, 2), "name",
     [("6020", "1800", "1100"), ("6815", "1800", None), ("4300", "1800", "1100"),
      ("1800", "6815", None)]),
    ("comma_delimited_quoted_amounts.csv", (0, 1, 4, 2), "position",
     [("6020", "1800", "1100"), ("6815", "1800", "1100"), ("4300", "1800", "1100")]),
    ("foreign_currency_with_eur_base_amount.csv", (0, 1, 4, 2), "position",
     [("6020", "1800", "1100"), ("6815", "1800", "1100"), ("4300", "1800", "1100")]),
]


@pytest.mark.parametrize(("fixture", "columns", "mapping", "accounts"), CASES,
                         ids=[c[0] for c in CASES])
def test_real_world_file_loads_every_line_and_reconciles_to_the_cent(
    fixture: str, columns: tuple[int, int, int, int], mapping: str,
    accounts: list[tuple[str, str, str | None]],
) -> None:
    stapel = read_buchungsstapel(FIXTURES / fixture)
    lines, signed, absolute = file_sums(fixture, *columns)
    bookings = stapel.bookings.to_pylist()
    assert stapel.problems.num_rows == 0
    assert stapel.column_mapping == mapping
    assert [(b["account"], b["contra_account"], b["cost_centre_1"]) for b in bookings] == accounts
    assert len(bookings) == stapel.control.lines == lines
    assert sum((b["amount_eur"] for b in bookings), Decimal(0)) == signed
    assert sum((abs(b["amount_eur"]) for b in bookings), Decimal(0)) == absolute
    assert (stapel.control.amount_eur, stapel.control.absolute_eur) == (signed, absolute)
    # Signs follow S/H relative to the account (debit +, credit -).
    assert all((b["amount_eur"] > 0) == (b["debit_credit"] == "S") for b in bookings)


def test_most_lines_without_cost_centre_keep_them_empty_not_missing() -> None:
    bookings = read_buchungsstapel(
        FIXTURES / "ledermann_most_lines_without_cost_centre.csv").bookings.to_pylist()
    assert sum(b["cost_centre_1"] is None for b in bookings) == 6
    assert len(bookings) == 8


def test_foreign_currency_line_is_booked_with_its_eur_base_amount() -> None:
    usd = read_buchungsstapel(
        FIXTURES / "foreign_currency_with_eur_base_amount.csv").bookings.to_pylist()[1]
    assert (usd["currency_code"], usd["amount_eur"]) == ("USD", Decimal("1106.91"))


@pytest.mark.parametrize(("damaged", "label"), [
    ("Gegenkonto (ohne BU-Schl\ufffdssel)", CONTRA),  # cp1252 byte read as UTF-8
    ("Gegenkonto (ohne BU-Schl\ufffd\ufffdssel)", CONTRA),  # one mark per UTF-8 byte
    ("Gegenkonto (ohne BU-SchlÃ¼ssel)", CONTRA),  # UTF-8 read as Windows-1252
    ("Gegenkonto (ohne BU-Schl?ssel)", CONTRA),  # a converter's '?'
    ("gegenkonto  ohne bu schluessel", CONTRA),  # case, spacing, umlaut spelled out
    ("S/H", "Soll/Haben-Kennzeichen"),
    ("WKZ", "WKZ Umsatz"),
    ("BU", "BU-Schlüssel"),
    ("Kost1", "Kost 1 - Kostenstelle"),
    ("KOST1 – Kostenstelle", "Kost 1 - Kostenstelle"),  # en dash
    ("Belegfeld1", "Belegfeld 1"),
    ("Gesch\ufffdftspartnerbank", "Geschäftspartnerbank"),
    ("WKZ Basisumsatz", "WKZ Basis-Umsatz"),
    ("Stra\ufffde", None),  # fills in to nothing known
    ("\ufffd\ufffd\ufffd", None),  # could be anything: not a guess
])
def test_damaged_and_short_headings_resolve_to_one_column(damaged: str, label: str | None) -> None:
    assert resolve_heading(damaged) == label


def test_normalised_heading_spells_out_umlauts_and_marks_damage() -> None:
    assert normalise_heading("BU-Schlüssel") == "buschluessel"
    assert normalise_heading("Straße") == "strasse"
    assert normalise_heading("Schl\ufffdssel") == "schl\x00ssel"


def test_unusable_headings_fall_back_to_the_format_versions_positions() -> None:
    headings = ["Umsatz", "S/H", "???", "???", "???", "???", "Konto", "???", "???", "Belegdatum"]
    names, how = map_columns(headings, 7)
    assert how == "name+position"
    assert names[7] == CONTRA  # the unreadable heading where the layout puts Gegenkonto
    assert names[2] == "WKZ Umsatz"
    # A heading that names a known column at the wrong place: the layout is not trusted.
    shifted = ["Konto", "S/H", "Umsatz", "???", "???", "???", "???", "???", "???", "Belegdatum"]
    assert CONTRA not in map_columns(shifted, 7)[0]


def test_a_missing_required_column_rejects_the_file_naming_the_heading() -> None:
    with pytest.raises(DatevFormatError) as err:
        read_buchungsstapel(FIXTURES / "missing_gegenkonto_column.csv")
    assert "no required column 'Gegenkonto (ohne BU-Schlüssel)'" in err.value.reason
    assert "'Gegenkonto'" in err.value.reason
    assert "column 8 of format version 13" in err.value.reason


def test_leading_zeros_beyond_the_account_length_are_dropped_as_datev_does() -> None:
    stapel = read_buchungsstapel(FIXTURES / "accounts_with_leading_zeros.csv")
    assert stapel.header.account_length == 4
    assert [(b["account"], b["contra_account"]) for b in stapel.bookings.to_pylist()] == [
        ("6020", "1800"),  # 00006020 / 0001800
        ("0731", "10000"),  # 0731 is 4 digits: kept; 00010000 is the personal account 10000
        ("4300", "1800"),  # 000004300
    ]


def test_belegfeld_1_longer_than_36_characters_is_quarantined() -> None:
    stapel = read_buchungsstapel(FIXTURES / "belegfeld_1_too_long.csv")
    problem = stapel.problems.to_pylist()
    assert [(p["source_line"], p["field"]) for p in problem] == [(4, "Belegfeld 1")]
    assert "36 characters" in problem[0]["reason"]
    assert stapel.bookings.num_rows == 2
