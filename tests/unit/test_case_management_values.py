"""Reading single values of an export: dates, numbers. Each input is built in its test."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from ingestion.delivery import FileOutcome, quarantine_table
from ingestion.pseudonymise import pseudonym
from tests.unit.parsing import parse

KEY = "k" * 32
CONTACTS_HEADER = "Kontakt-Nr;Fall-Nr;Datum;Art;Dauer (Min.);Mitarbeiter-Nr\n"
CLIENTS_HEADER = "Klient-Nr;Vorname;Nachname;Geburtsdatum;Geschlecht;PLZ\n"


@pytest.fixture(autouse=True)
def _key(monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DATENWERK_PSEUDONYM_KEY", KEY)
    monkeypatch.setenv("DATENWERK_HOME", str(tmp_path / "home"))


def quarantined(outcome: FileOutcome) -> list[tuple[int, str, str, str | None]]:
    q = quarantine_table([outcome])
    return sorted(zip(q["source_line"].to_pylist(), q["field"].to_pylist(),
                      q["reason"].to_pylist(), q["offending_value"].to_pylist(), strict=True))


def ids(*numbers: str) -> list[str]:
    return [pseudonym(n, KEY.encode()) for n in numbers]


def write(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text(header + "".join(f"{r}\n" for r in rows), encoding="cp1252")
    return path


def test_a_year_of_fewer_than_four_digits_is_set_aside_not_read_as_year_24(
        tmp_path: Path) -> None:
    """'01.02.24' was stored as 0024-02-01 (and '18.07.23' grew dim_date to 731,581 days): the
    century is never guessed, the row is set aside naming its row, field and value."""
    path = write(tmp_path / "kontakte_short_years.csv", CONTACTS_HEADER, [
        "C-1;F-1;01.02.2024;persönlich;30;MA-1",
        "C-2;F-1;01.02.24;persönlich;30;MA-1",
        "C-3;F-1;1.2.24;persönlich;30;MA-1",
        "C-4;F-1;18.07.023;persönlich;30;MA-1",
        "C-5;F-1;24-02-01;persönlich;30;MA-1",
        "C-6;F-1;2024-02-01;persönlich;30;MA-1",
    ])
    table, outcome = parse(path)
    assert table["contact_id"].to_pylist() == ids("C-1", "C-6")
    assert table["contact_date"].to_pylist() == [dt.date(2024, 2, 1)] * 2
    reason = ("the year is not written with four digits (expected DD.MM.YYYY or YYYY-MM-DD)")
    assert quarantined(outcome) == [
        (3, "contact_date", reason, "01.02.24"), (4, "contact_date", reason, "1.2.24"),
        (5, "contact_date", reason, "18.07.023"), (6, "contact_date", reason, "24-02-01"),
    ]


def test_a_date_before_1900_is_set_aside_birth_dates_too(tmp_path: Path) -> None:
    """A four-digit year can still be a typo (0023, 1023): before 1900 no date is plausible,
    and no birth year either (the birth date itself is personal: its value is never shown)."""
    contacts = write(tmp_path / "kontakte_early.csv", CONTACTS_HEADER, [
        "C-1;F-1;18.07.0023;persönlich;30;MA-1",
        "C-2;F-1;31.12.1899;persönlich;30;MA-1",
        "C-3;F-1;01.01.1900;persönlich;30;MA-1",
    ])
    clients = write(tmp_path / "klienten_early.csv", CLIENTS_HEADER, [
        "K-1;A;B;20.08.67;männlich;04315",
        "K-2;A;B;20.08.1867;männlich;04315",
        "K-3;A;B;20.08.1967;weiblich;04315",
    ])
    table, outcome = parse(contacts)
    assert table["contact_date"].to_pylist() == [dt.date(1900, 1, 1)]
    assert quarantined(outcome) == [
        (2, "contact_date", "date before 01.01.1900: implausible", "18.07.0023"),
        (3, "contact_date", "date before 01.01.1900: implausible", "31.12.1899"),
    ]
    table, outcome = parse(clients)
    assert table["birth_year"].to_pylist() == [1967]
    assert [q[:3] for q in quarantined(outcome)] == [
        (2, "birth_date",
         "the year is not written with four digits (expected DD.MM.YYYY or YYYY-MM-DD)"),
        (3, "birth_date", "date before 01.01.1900: implausible"),
    ]
    assert {q[3] for q in quarantined(outcome)} == {None}


def test_a_dot_is_only_a_thousands_separator_with_a_decimal_comma(tmp_path: Path) -> None:
    """'1.5' minutes were stored as 15: a dot groups thousands (1.000) or the value is no
    number, and the row is set aside."""
    path = write(tmp_path / "kontakte_numbers.csv", CONTACTS_HEADER, [
        f"C-{i};F-1;01.02.2024;persönlich;{v};MA-1"
        for i, v in enumerate(["1.5", "1.000", "1.5.", "45", "45,0", "1.00", "1.0000", ".5",
                               "1..000", "-1.000"], start=1)
    ])
    table, outcome = parse(path)
    assert table["duration_minutes"].to_pylist() == [1000, 45]
    assert [(q[0], q[1], q[3]) for q in quarantined(outcome)] == [
        (2, "duration_minutes", "1.5"), (4, "duration_minutes", "1.5."),
        (6, "duration_minutes", "45,0"), (7, "duration_minutes", "1.00"),
        (8, "duration_minutes", "1.0000"), (9, "duration_minutes", ".5"),
        (10, "duration_minutes", "1..000"), (11, "duration_minutes", "-1.000"),
    ]
    assert {q[2] for q in quarantined(outcome)} == {"not a number", "below 0"}
    assert [q[2] for q in quarantined(outcome)][-1] == "below 0"


def test_decimal_scores_with_grouped_thousands_and_a_comma(tmp_path: Path) -> None:
    path = write(
        tmp_path / "einschaetzungen_numbers.csv",
        "Einschätzung-Nr;Fall-Nr;Instrument;Dimension;Zeitpunkt;Datum;Wert;Skala min;Skala max\n",
        [f"E-{i};F-1;GAS;d;Aufnahme;01.02.2024;{v};;" for i, v in enumerate(
            ["2,5", "1.234,5", "1.234", "1.5", "2,5,0", "12.345.678,25"], start=1)],
    )
    table, outcome = parse(path)
    assert table["score"].to_pylist() == [2.5, 1234.5, 1234.0, 12345678.25]
    assert [(q[0], q[2], q[3]) for q in quarantined(outcome)] == [
        (5, "not a number", "1.5"), (6, "not a number", "2,5,0"),
    ]


@pytest.mark.parametrize("reason", [
    "the year is not written with four digits (expected DD.MM.YYYY or YYYY-MM-DD)",
    "date before 01.01.1900: implausible",
])
def test_new_date_reasons_read_in_german(reason: str) -> None:
    from warehouse.reasons import translate

    assert translate(reason, "de") in (
        "die Jahreszahl hat nicht vier Stellen (erwartet TT.MM.JJJJ oder JJJJ-MM-TT)",
        "Datum vor dem 01.01.1900: unplausibel",
    )


HILFEN_HEADER = ["Fall-ID", "Personen-ID", "Hilfeart", "Anfrage über", "Hilfebeginn", "Hilfeende",
                 "Beendigung", "Fachkraft"]


def _hilfe(case: str, end_reason: str) -> list[object]:
    return [case, "P-1", "AJH-SGA", "Jugendamt", dt.date(2024, 2, 1), dt.date(2024, 6, 30),
            end_reason, "MA-1"]


def test_a_hidden_first_sheet_is_not_read(tmp_path: Path) -> None:
    """An outdated copy kept as a hidden first sheet: the rows come from the first visible one,
    the sheet anybody checking the export sees."""
    import openpyxl

    book = openpyxl.Workbook()
    old = book.active
    old.title = "alt"
    old.append(HILFEN_HEADER)
    old.append(_hilfe("F-OLD", "Wegzug"))
    old.sheet_state = "hidden"
    current = book.create_sheet("Hilfen")
    current.append(HILFEN_HEADER)
    current.append(_hilfe("F-1", "gemäß Hilfeplan beendet"))
    book.active = 1
    book.save(tmp_path / "hilfen_hidden_first_sheet.xlsx")

    table, outcome = parse(tmp_path / "hilfen_hidden_first_sheet.xlsx")
    assert table["case_id"].to_pylist() == ids("F-1")
    assert table["end_reason"].to_pylist() == ["planned"]
    assert outcome.rows_read == 1 and not quarantined(outcome)


def test_a_repeated_column_the_profile_reads_rejects_the_file(tmp_path: Path) -> None:
    """A second, empty 'Beendigung' column made every end reason NULL: now the file is rejected
    naming the column; a repeated column the profile does not read is ignored."""
    import openpyxl

    from ingestion.delivery import FileRejected

    for name, extra, rejected in [("hilfen_dup_read.xlsx", "Beendigung", True),
                                  ("hilfen_dup_unread.xlsx", "Bemerkung", False)]:
        book = openpyxl.Workbook()
        sheet = book.active
        sheet.append([*HILFEN_HEADER, "Bemerkung", extra])
        sheet.append([*_hilfe("F-1", "gemäß Hilfeplan beendet"), "x", None])
        book.save(tmp_path / name)
        if rejected:
            with pytest.raises(FileRejected, match="'Beendigung' \\(columns 7 and 10\\) more "
                                                   "than once"):
                parse(tmp_path / name)
        else:
            table, outcome = parse(tmp_path / name)
            assert table["end_reason"].to_pylist() == ["planned"]
            assert not quarantined(outcome)


def test_a_repeated_column_the_profile_reads_rejects_a_csv_too(tmp_path: Path) -> None:
    from ingestion.delivery import FileRejected

    path = write(tmp_path / "kontakte_dup.csv", CONTACTS_HEADER.rstrip("\n") + ";Datum\n",
                 ["C-1;F-1;01.02.2024;persönlich;30;MA-1;"])
    with pytest.raises(FileRejected, match="'Datum' \\(columns 3 and 7\\) more than once") as info:
        parse(path)
    from warehouse.reasons import translate

    assert translate(info.value.reason, "de").startswith(
        "die Kopfzeile nennt die Spalte(n) 'Datum' (Spalten 3 und 7) mehr als einmal")


KDS_HEADER = ("Klientennummer;Name, Vorname;Geburtsdatum;PLZ;Geschlecht;Einrichtung;Angebot;"
              "Betreuungsbeginn;Betreuungsende;Art der Beendigung;Hauptdiagnose (ICD-10);"
              "Problematik Suchtmittel bei Betreuungsende;Kontakte gesamt;Bemerkung\n")


def _kds_row(client: str, start: str) -> str:
    return (f"{client};X;03.04.1971;04109;männlich;Suchtberatung Mitte;Ambulante Beratung;{start};"
            "28.06.2024;1 - regulär nach Plan;;gebessert;12;")


def test_a_derived_key_uses_the_date_not_how_it_is_written(tmp_path: Path) -> None:
    """KDS episodes are keyed by client number and start date: 10.01.2024, 10.1.2024 and
    2024-01-10 are one episode (the later rows are the same key again), not three cases."""
    path = write(tmp_path / "Export_date_variants.csv", KDS_HEADER, [
        _kds_row("9004711", "10.01.2024"), _kds_row("9004711", "10.1.2024"),
        _kds_row("9004711", "2024-01-10"), _kds_row("9004712", "5.2.2024"),
    ])
    table, outcome = parse(path)
    assert table["case_id"].to_pylist() == ids("9004711|10.01.2024", "9004712|05.02.2024")
    assert [q[:3] for q in quarantined(outcome)] == [
        (3, "case_id", "duplicate key within the file"),
        (4, "case_id", "duplicate key within the file"),
    ]


def test_derived_keys_of_dates_in_the_profile_format_stay_as_they_were() -> None:
    """Keys already loaded must not change: for every episode of the shipped KDS example (dates
    written DD.MM.YYYY, as the profile says) the key is the one the raw text gave before."""
    import csv

    path = Path(__file__).parents[1] / "fixtures" / "vendors" / (
        "kds_case_list_with_diagnosis_and_names.csv")
    with path.open(encoding="cp1252", newline="") as fh:
        before = [f"{r['Klientennummer'].strip()}|{r['Betreuungsbeginn'].strip()}"
                  for r in csv.DictReader(fh, delimiter=";")]
    table, _ = parse(path)
    assert len(before) > 3
    assert sorted(table["case_id"].to_pylist()) == sorted(ids(*before))


def test_a_postcode_with_a_country_prefix_keeps_its_region(tmp_path: Path) -> None:
    """``D-04315`` and ``DE 04315`` are the German postcode 04315: region 043. Four digits (a
    leading zero Excel dropped, or an Austrian or Swiss postcode) and six give no region: no
    guess."""
    clients = write(tmp_path / "klienten_plz.csv", CLIENTS_HEADER, [
        f"K-{n};A;B;20.08.1967;weiblich;{plz}"
        for n, plz in enumerate(["04315", "D-04315", "DE 04315", " 04315 ", "4315", "043151",
                                 "A-1010", ""])])
    table, outcome = parse(clients)
    assert table["region"].to_pylist() == ["043", "043", "043", "043", None, None, None, None]
    assert not quarantined(outcome)
    # Incomplete, not wrong: the rows load, and the steward hears of the three postcodes that
    # give no region (an empty one is no postcode).
    assert outcome.postcodes_without_region == 3
    assert outcome.registry_row()["message"] == (
        "3 row(s) with a postcode that gives no region (not five digits), loaded without one")
    from ingestion.reports import write_report
    from ingestion.validate import report_lines, validate_file

    assert ("3 Zeile(n) mit einer Postleitzahl, die keine Region ergibt" in
            "\n".join(report_lines(validate_file(clients), "de")))
    assert "3 Zeile(n) haben eine Postleitzahl" in write_report(outcome).read_text()


def test_a_title_above_a_workbooks_header_is_not_read(tmp_path: Path) -> None:
    """Report tools put a title, a date and an empty row above the table: the header is the
    first row naming the profile's columns, rows count as Excel shows them, the steward hears
    which row was taken for the header."""
    import openpyxl

    from ingestion.validate import report_lines, validate_file

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Hilfen – Auswertung Fachbereich Jugendhilfe"])
    sheet.append(["Stand:", dt.date(2024, 7, 1)])
    sheet.append([])
    sheet.append(HILFEN_HEADER)
    sheet.append(_hilfe("F-1", "gemäß Hilfeplan beendet"))
    sheet.append(_hilfe("F-2", "kein bekannter Grund"))  # not in the profile: set aside
    sheet.append(_hilfe("F-3", "Wegzug"))
    book.save(tmp_path / "hilfen_mit_titel.xlsx")

    table, outcome = parse(tmp_path / "hilfen_mit_titel.xlsx")
    assert table["case_id"].to_pylist() == ids("F-1", "F-3")
    assert table["source_line"].to_pylist() == [5, 7]
    assert [(line, field) for line, field, *_ in quarantined(outcome)] == [(6, "end_reason")]
    assert outcome.title_rows == 3 and not outcome.unexpected_columns
    shown = report_lines(validate_file(tmp_path / "hilfen_mit_titel.xlsx"), "de")
    assert "Kopfzeile in Zeile 4; die 3 Zeile(n) darüber (Titel) nicht gelesen" in shown
    from ingestion.reports import write_report

    page = write_report(outcome).read_text()
    assert "Die Kopfzeile steht in Zeile 4" in page and "<td>6</td>" in page
    assert "(die Kopfzeile ist Zeile 4)" in page


def test_a_workbook_without_a_header_is_still_refused(tmp_path: Path) -> None:
    """No row among the first ones names the profile's columns: the first row is the header,
    and the file is rejected for its missing columns, as before."""
    import openpyxl

    from ingestion.delivery import FileRejected

    book = openpyxl.Workbook()
    for n in range(1, 15):
        book.active.append(_hilfe(f"F-{n}", "Wegzug"))
    book.save(tmp_path / "hilfen_ohne_kopf.xlsx")
    with pytest.raises(FileRejected, match="required column"):
        parse(tmp_path / "hilfen_ohne_kopf.xlsx")


# Cells of every type python-calamine gives, with the text a CSV export would hold: dates ISO,
# a datetime its date, times to the first digit of their microseconds (as before), whole numbers
# without '.0', other numbers as Python writes them (also where Arrow would use an exponent).
CELLS: list[tuple[object, str | None]] = [
    (dt.date(2024, 2, 1), "2024-02-01"), (dt.datetime(2023, 12, 31, 23, 59, 59), "2023-12-31"),
    (dt.time(12, 30), "12:30:00"), (dt.time(1, 2, 3, 500000), "01:02:03.5"),
    (3.0, "3"), (7, "7"), (-0.0, "0"), (1e20, "100000000000000000000"), (1.5, "1.5"),
    (0.1, "0.1"), (2.5e-7, "2.5e-07"), (12345678901234.5, "12345678901234.5"), (1e-05, "1e-05"),
    (True, "True"), (False, "False"), ("", None), (None, None), (" x ", " x "),
    ("Müller; \"M\"", "Müller; \"M\""), (dt.timedelta(hours=1, minutes=30), "1:30:00"),
]


def test_workbook_cells_of_every_type_are_read_as_their_text(tmp_path: Path) -> None:
    """Each column of a sheet is converted per type of value with Arrow (a sheet of 59,000 rows
    took a second cell by cell): a column of one type, a column of all types in turn and columns
    mixing them at random (with empty rows) give every cell the text of the table above, and the
    same as the cell-by-cell conversion, which stays for the odd value."""
    import random

    import openpyxl

    from ingestion.case_management.helpers import Header, _cell_text, _excel_frame, _excel_sheet

    draw = random.Random(7)
    names = ["one type", "every type", "mixed", "dates or empty", "numbers or text"]
    rows: list[list[object]] = []
    for i in range(400):
        value, _ = CELLS[i % len(CELLS)]
        rows.append([float(i) + 0.25, value, draw.choice(CELLS)[0],
                     draw.choice([dt.date(2024, 1, 1) + dt.timedelta(i), "", None]),
                     draw.choice([float(i), i / 8, "k. A.", ""])])
    rows[5] = rows[9] = [None] * len(names)  # empty rows are left out, not converted
    book = openpyxl.Workbook()
    book.active.append(names)
    for row in rows:
        book.active.append(row)
    path = tmp_path / "alle_typen.xlsx"
    book.save(path)

    table, empty = _excel_frame(path, Header(names, "", "xlsx", is_excel=True, row=1))
    assert empty.tolist() == [7, 11]  # sheet rows
    cells = [row for i, row in enumerate(_excel_sheet(path)[1:]) if i not in (5, 9)]
    kept = [i for i in range(len(rows)) if i not in (5, 9)]
    assert table["every type"].to_pylist() == [CELLS[i % len(CELLS)][1] for i in kept]
    assert table["one type"].to_pylist() == [f"{i}.25" for i in kept]
    for j, name in enumerate(names):
        assert table[name].to_pylist() == [_cell_text(row[j]) for row in cells], name
    # Numbers of every size, whole or not, as Python writes them.
    import numpy as np

    from ingestion.case_management.helpers import _column_text

    numbers = np.array([draw.choice([1, -1]) * round(draw.uniform(1, 10), draw.randint(0, 9))
                        * 10.0 ** draw.randint(-9, 19) for _ in range(5000)], object)
    assert _column_text(numbers).to_pylist() == [_cell_text(v) for v in numbers]
