"""The DATEV reader on one tiny fixture per format, variant and defect (``tests/fixtures/datev``,
described in its README). Expected values are read off the fixture files by hand."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from ingestion.accounting.datev import (
    DatevFormatError,
    map_columns,
    read_buchungsstapel,
    read_header,
)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "datev"

# The three bookings of the format fixtures: wages, office material (Kost-Menge 3), a grant.
BASIC = [
    {"amount_eur": Decimal("4210.50"), "account": "6020", "contra_account": "1800",
     "document_date": date(2024, 1, 31), "document_number": "LG2024-01",
     "posting_text": "Gehälter Januar Schuldnerberatung", "cost_centre_1": "1100",
     "cost_quantity": None},
    {"amount_eur": Decimal("618.90"), "account": "6815", "contra_account": "1800",
     "document_date": date(2024, 2, 15), "document_number": "RE2024-0042",
     "posting_text": "Bürobedarf Ordner", "cost_centre_1": "1100", "cost_quantity": Decimal(3)},
    {"amount_eur": Decimal("-10000.00"), "account": "4300", "contra_account": "1800",
     "document_date": date(2024, 3, 15), "document_number": "ZW2024-Q1",
     "posting_text": "Zuwendung Land Q1/2024", "cost_centre_1": "1100", "cost_quantity": None},
]


def rows(path: Path, *columns: str) -> list[dict[str, object]]:
    table = read_buchungsstapel(path).bookings
    return table.select(list(columns) or table.column_names).to_pylist()


def problems(path: Path) -> list[tuple[int, str, str | None]]:
    table = read_buchungsstapel(path).problems
    return [(r["source_line"], r["field"], r["offending_value"]) for r in table.to_pylist()]


@pytest.mark.parametrize(
    ("fixture", "kind", "version", "format_version", "mapping"),
    [
        ("extf_format_10.csv", "EXTF", 700, 10, "position"),
        ("extf_format_11.csv", "EXTF", 700, 11, "position"),
        ("extf_format_12.csv", "EXTF", 700, 12, "position"),
        ("extf_format_13.csv", "EXTF", 700, 13, "position"),
        ("dtvf_format_13.csv", "DTVF", 700, 13, "position"),
        ("extf_format_12_heading_variants.csv", "EXTF", 700, 12, "position"),
        ("category_22_buchungsstapel.csv", "EXTF", 700, 13, "position"),
        ("comma_delimited_quoted_amounts.csv", "EXTF", 700, 13, "position"),
    ],
)
def test_formats_and_variants_read_the_same_bookings(
    fixture: str, kind: str, version: int, format_version: int, mapping: str
) -> None:
    stapel = read_buchungsstapel(FIXTURES / fixture)
    header = stapel.header
    assert (header.format_kind, header.version, header.format_version) == (
        kind, version, format_version)
    assert (header.consultant_number, header.client_number) == ("29098", "55003")
    assert header.chart_of_accounts == "SKR04" and header.account_length == 4
    assert stapel.column_mapping == mapping
    assert stapel.bookings.select(list(BASIC[0])).to_pylist() == BASIC
    assert [r["debit_credit"] for r in stapel.bookings.to_pylist()] == ["S", "S", "H"]
    assert [r["source_line"] for r in stapel.bookings.to_pylist()] == [3, 4, 5]
    assert stapel.control.amount_eur == Decimal("-5170.60")
    assert stapel.control.absolute_eur == Decimal("14829.40")
    assert stapel.problems.num_rows == 0


def test_format_7_of_version_510_is_mapped_by_name() -> None:
    stapel = read_buchungsstapel(FIXTURES / "extf_v510_format_7.csv")
    assert (stapel.header.version, stapel.header.format_version) == (510, 7)
    assert stapel.header.chart_of_accounts == "SKR03"
    assert stapel.column_mapping == "name"  # no catalogue for format 7: headings decide
    assert rows(stapel.header and FIXTURES / "extf_v510_format_7.csv", "amount_eur", "account",
                "contra_account", "tax_key", "document_date", "cost_centre_1") == [
        {"amount_eur": Decimal("2500.00"), "account": "4120", "contra_account": "1200",
         "tax_key": None, "document_date": date(2023, 1, 28), "cost_centre_1": "200"},
        {"amount_eur": Decimal("-119.00"), "account": "8400", "contra_account": "1400",
         "tax_key": "3", "document_date": date(2023, 2, 5), "cost_centre_1": "200"},
        {"amount_eur": Decimal("23.80"), "account": "4930", "contra_account": "1000",
         "tax_key": None, "document_date": date(2023, 2, 19), "cost_centre_1": "200"},
    ]


def test_heading_variants_map_by_name_when_columns_are_not_in_catalogue_order() -> None:
    headings = ["Kost1 – Kostenstelle", "Basisumsatz", "Kontonummer", "Soll-/Haben-Kennzeichen",
                "Umsatz (ohne Soll-/Haben-Kz)", "Belegdatum", "Gegenkonto", "KOST2",
                "Generalumkehr", "Kost Menge", "Gegenkonto (ohne BU-Schluessel)", "Irgendwas"]
    names, how = map_columns(headings, 13)
    assert how == "name"
    assert names == [
        "Kost 1 - Kostenstelle", "Basis-Umsatz", "Kontonummer", "Soll/Haben-Kennzeichen",
        "Umsatz (ohne Soll/Haben-Kz)", "Belegdatum", "Gegenkonto (ohne BU-Schlüssel)",
        "Kost 2 - Kostenstelle", "Generalumkehr (GU)", "Kost-Menge",
        "Gegenkonto (ohne BU-Schlüssel)_11", "_column_12",
    ]


@pytest.mark.parametrize(
    ("fixture", "encoding"),
    [("utf8.csv", "utf-8"), ("utf8_bom.csv", "utf-8-sig")],
)
def test_utf8_with_and_without_bom(fixture: str, encoding: str) -> None:
    _, _, dialect = read_header(FIXTURES / fixture)
    assert dialect.encoding == encoding
    assert rows(FIXTURES / fixture, "amount_eur", "posting_text") == [
        {"amount_eur": Decimal("89.90"), "posting_text": "Telefon April – Büro Nürnberg"},
        {"amount_eur": Decimal("-1250.00"),
         "posting_text": "Spende Förderverein „Miteinander“ €"},
    ]


def test_lf_line_endings() -> None:
    assert rows(FIXTURES / "lf_line_endings.csv", "amount_eur", "posting_text",
                "source_line") == [
        {"amount_eur": Decimal("89.90"), "posting_text": "Telefon April", "source_line": 3},
        {"amount_eur": Decimal("-1250.00"), "posting_text": "Spende Förderverein",
         "source_line": 4},
    ]


def test_comma_delimited_file_with_unquoted_decimal_commas_is_rejected() -> None:
    with pytest.raises(DatevFormatError, match="decimal comma must be quoted") as exc:
        read_buchungsstapel(FIXTURES / "comma_delimited_unquoted_amounts.csv")
    assert "2 line(s)" in exc.value.reason  # 4210,5 and 618,9; 10000 alone would fit


def test_fiscal_year_from_july_gives_each_month_its_year() -> None:
    path = FIXTURES / "fiscal_year_from_july.csv"
    assert read_header(path)[0].fiscal_year_start == date(2024, 7, 1)
    assert [r["document_date"] for r in rows(path, "document_date")] == [
        date(2024, 7, 1), date(2024, 12, 31), date(2025, 1, 15), date(2025, 6, 30)]
    # 29.02. does not exist in 2025, the only February of this fiscal year.
    assert problems(path) == [(7, "Belegdatum", "2902")]


def test_belegdatum_with_three_digits() -> None:
    assert [r["document_date"] for r in
            rows(FIXTURES / "belegdatum_3_digits.csv", "document_date")] == [
        date(2024, 3, 5), date(2024, 12, 1), date(2024, 3, 10), date(2024, 7, 9)]


def test_generalumkehr_reverses_the_sign() -> None:
    got = rows(FIXTURES / "generalumkehr_reversal.csv", "amount_eur", "debit_credit",
               "is_reversal")
    assert got == [
        {"amount_eur": Decimal("980.00"), "debit_credit": "S", "is_reversal": False},
        {"amount_eur": Decimal("-980.00"), "debit_credit": "S", "is_reversal": True},  # GU 1
        {"amount_eur": Decimal("-75.00"), "debit_credit": "H", "is_reversal": False},
        {"amount_eur": Decimal("75.00"), "debit_credit": "H", "is_reversal": True},  # GU G
        {"amount_eur": Decimal("120.00"), "debit_credit": "S", "is_reversal": False},  # GU 0
    ]


def test_quotes_and_delimiters_inside_text() -> None:
    assert rows(FIXTURES / "quotes_inside_text.csv", "document_number", "posting_text",
                "account") == [
        {"document_number": 'RE "77"', "posting_text": 'Seminar "Schuldnerberatung" Teil 1; Raum 2',
         "account": "6821"},
        {"document_number": None, "posting_text": 'Ordner "A4"', "account": "6815"},
    ]


def test_line_break_inside_text_sets_both_lines_aside_and_keeps_line_numbers_right() -> None:
    # DATEV allows no line break inside a field (Buchungstext: one line of 60 characters), and
    # a quoted field across a line end is far more often a stray quotation mark that swallows
    # the lines after it: each line is read on its own, the two halves set aside.
    path = FIXTURES / "line_break_in_text.csv"
    assert rows(path, "posting_text", "source_line") == [
        {"posting_text": "Toner", "source_line": 6},
    ]
    assert problems(path) == [(3, "line", None), (4, "line", None), (5, "Belegdatum", "3202")]
    stapel = read_buchungsstapel(path)
    assert stapel.problems["reason"][0].as_py().startswith("unbalanced quotation mark")
    assert (stapel.control.lines, stapel.control.quarantined_lines) == (4, 3)


def test_bad_lines_are_quarantined_with_line_field_and_value() -> None:
    path = FIXTURES / "bad_lines.csv"
    assert problems(path) == [
        (3, "Umsatz", "1.234,56"),
        (4, "Soll/Haben-Kennzeichen", "X"),
        (5, "Konto", "68A5"),
        (6, "Belegdatum", "3102"),
        (7, "Kost-Menge", "drei"),
        (8, "Generalumkehr", "2"),
        (9, "WKZ Umsatz", "USD"),
        (10, "Umsatz", None),
    ]
    assert rows(path, "source_line", "amount_eur", "currency_code", "account") == [
        {"source_line": 11, "amount_eur": Decimal("90.00"), "currency_code": "EUR",
         "account": "6815"},
        # Dollar line with Basis-Umsatz 92,17 EUR: the EUR amount is booked.
        {"source_line": 12, "amount_eur": Decimal("92.17"), "currency_code": "USD",
         "account": "6815"},
        {"source_line": 13, "amount_eur": Decimal("110.00"), "currency_code": "EUR",
         "account": "0731"},  # leading zero kept
    ]
    control = read_buchungsstapel(path).control
    # Readable money: 30 + 40 + 50 - 60 (quarantined) and 90 + 92.17 + 110 (loaded).
    assert (control.lines, control.quarantined_lines, control.unreadable_lines) == (11, 8, 4)
    assert control.amount_eur == Decimal("352.17")
    assert control.quarantined_amount_eur == Decimal("60.00")
    assert control.quarantined_absolute_eur == Decimal("180.00")


def test_skr42_file_with_five_digit_accounts() -> None:
    stapel = read_buchungsstapel(FIXTURES / "skr42_sphere_in_kost1.csv")
    assert stapel.header.chart_of_accounts == "SKR42" and stapel.header.account_length == 5
    assert [(r["account"], r["cost_centre_1"], r["cost_centre_2"])
            for r in stapel.bookings.to_pylist()][:2] == [("60200", "3", "BER"),
                                                          ("68150", "1", "VERW")]


@pytest.mark.parametrize(
    ("fixture", "message"),
    [
        ("truncated.csv", "cut off during transfer"),
        ("wrong_data_category_16.csv",
         r"category 16 \('Debitoren/Kreditoren'\) is not a Buchungsstapel \(21\)"),
        ("unknown_version_700_format_8.csv",
         "unknown DATEV version 700 with format version 8 for a Buchungsstapel"),
        ("not_datev.csv", "not a DATEV file: line 1 should start with EXTF or DTVF"),
        ("ledermann_EXTF_Kontenbeschriftungen.csv", "category 20"),
    ],
)
def test_files_that_are_rejected_as_a_whole_say_why(fixture: str, message: str) -> None:
    with pytest.raises(DatevFormatError, match=message):
        read_buchungsstapel(FIXTURES / fixture)


def _with_header(tmp_path: Path, **changes: str) -> Path:
    """extf_format_13.csv with some header fields (1-based position -> value) replaced."""
    lines = (FIXTURES / "extf_format_13.csv").read_bytes().split(b"\r\n")
    fields = lines[0].split(b";")
    for pos, value in changes.items():
        fields[int(pos.removeprefix("f")) - 1] = value.encode()
    lines[0] = b";".join(fields)
    path = tmp_path / "changed.csv"
    path.write_bytes(b"\r\n".join(lines))
    return path


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"f15": "20231201"},
            r"period 01.12.2023-31.12.2024 .* does not lie within the fiscal year",
        ),
        ({"f14": "3"}, "Sachkontennummernlänge. must be 4 to 8"),
        ({"f12": "ABC"}, r"field 12 \(Mandant\) must be a number"),
        ({"f16": "2024-12-31"}, r"field 16 \(Datum bis\) is not a date YYYYMMDD"),
        ({"f22": '"USD"'}, "only EUR books are supported"),
        ({"f2": "600"}, "unknown DATEV version 600"),
    ],
)
def test_header_validation(tmp_path: Path, changes: dict[str, str], message: str) -> None:
    with pytest.raises(DatevFormatError, match=message):
        read_buchungsstapel(_with_header(tmp_path, **changes))


def test_short_header_is_accepted_when_the_meaningful_fields_are_there(tmp_path: Path) -> None:
    lines = (FIXTURES / "extf_format_13.csv").read_bytes().split(b"\r\n")
    lines[0] = b";".join(lines[0].split(b";")[:26])  # some exporters stop after 26 fields
    path = tmp_path / "short_header.csv"
    path.write_bytes(b"\r\n".join(lines))
    stapel = read_buchungsstapel(path)
    assert stapel.header.header_fields == 26 and stapel.header.chart_of_accounts is None
    assert stapel.bookings.num_rows == 3


def test_ascii_only_file_needs_no_transcoding(tmp_path: Path) -> None:
    text = (FIXTURES / "extf_format_13.csv").read_bytes().decode("cp1252")
    path = tmp_path / "ascii.csv"
    path.write_bytes(text.replace("ä", "ae").replace("ü", "ue").replace("ö", "oe")
                     .replace("ß", "ss").encode("ascii"))
    assert read_header(path)[2].encoding == "ascii"
    assert rows(path, "posting_text")[0] == {"posting_text": "Gehaelter Januar Schuldnerberatung"}
