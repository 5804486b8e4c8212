"""Blank lines in a case-management CSV, built as bytes in each test (Windows-1252 and CR LF as
real exports are written, LF and CR alone too): the reader skips them, a spreadsheet and an
editor show them, so every row after one keeps the number the steward sees."""

from __future__ import annotations

import random
from pathlib import Path

import duckdb
import pytest

from ingestion.case_management.blank_rows import (
    blank_rows,
    mixed_line_ends,
    write_with_lf,
)
from ingestion.delivery import FileOutcome, FileRejected, quarantine_table
from ingestion.pseudonymise import pseudonym
from tests.unit.parsing import parse

KEY = "k" * 32
CONTACTS_HEADER = "Kontakt-Nr;Fall-Nr;Datum;Art;Dauer (Min.);Mitarbeiter-Nr;Notiz"
TOO_FEW = "reader"  # a row with too few fields: the reader rejects it
BAD_DATE = "check"  # a row with an impossible date: a check sets it aside


@pytest.fixture(autouse=True)
def _home(monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DATENWERK_PSEUDONYM_KEY", KEY)
    monkeypatch.setenv("DATENWERK_HOME", str(tmp_path / "home"))


def contact(n: int, note: str = "ok", kind: str = "") -> str:
    if kind == TOO_FEW:
        return f"C-{n};F-1;17.02.2023"
    day = "31.02.2023" if kind == BAD_DATE else "17.02.2023"
    return f"C-{n};F-1;{day};telefonisch;30;MA-1;{note}"


def quarantined(outcome: FileOutcome) -> list[tuple[int, str]]:
    q = quarantine_table([outcome])
    return sorted(zip(q["source_line"].to_pylist(), q["field"].to_pylist(), strict=True))


MIXED = "mixed"  # each row's line end drawn from CR LF, LF and CR alone


def export(rows: list[str], newline: str = "\r\n", encoding: str = "cp1252",
           seed: int = 0) -> bytes:
    """The file's bytes: each entry one row as a spreadsheet shows it ('' a blank line; a
    quoted value may hold line breaks), so entry i is row i + 1. With ``newline`` MIXED the
    rows end as a Windows export edited on Linux ends them: CR LF, LF, now and then CR alone,
    drawn at random (``seed``), at least two kinds."""
    if newline != MIXED:
        return "".join(f"{r}{newline}" for r in rows).encode(encoding)
    draw = random.Random(seed)
    ends = ["\r\n", "\n"] + [draw.choice(["\r\n", "\r\n", "\n", "\n", "\r"])
                              for _ in rows[2:]]
    draw.shuffle(ends)
    for i in range(1, len(rows)):
        if ends[i - 1] == "\r" and not rows[i] and ends[i] == "\n":
            ends[i] = "\r\n"  # CR, then a blank line's LF, would be one CR LF: no blank line
    return "".join(f"{r}{end}" for r, end in zip(rows, ends, strict=True)).encode(encoding)


def expected(rows: list[str]) -> tuple[dict[str, int], list[tuple]]:
    """Row numbers as the steward sees them, from the rows written: accepted contacts by id,
    and the rows set aside with their field."""
    accepted: dict[str, int] = {}
    aside = []
    for row, text in enumerate(rows, start=1):
        if not text.startswith("C-"):
            continue
        if text.count(";") < 6:
            aside.append((row, "contact_type"))  # the first field missing
        elif ";31.02." in text:
            aside.append((row, "contact_date"))
        else:
            accepted[pseudonym(text.split(";")[0], KEY.encode())] = row
    return accepted, sorted(aside)


def test_the_rows_after_a_blank_line_keep_the_numbers_a_steward_sees(tmp_path: Path) -> None:
    """A colleague's export: one blank line after the first row. The reader skips it but counts
    it in its rejects, the accepted rows were numbered without it: C-3 was called row 3 (is
    5), the bad date of C-4 row 5 (is 6). Every number is now the one Excel and an editor show."""
    rows = [CONTACTS_HEADER, contact(1), "", contact(2, kind=TOO_FEW), contact(3),
            contact(4, kind=BAD_DATE), contact(5)]
    path = tmp_path / "kontakte.csv"
    path.write_bytes(export(rows))
    table, outcome = parse(path)
    lines = dict(zip(table["contact_id"].to_pylist(), table["source_line"].to_pylist(),
                     strict=True))
    assert lines == {pseudonym(f"C-{n}", KEY.encode()): row for n, row in
                     [(1, 2), (3, 5), (5, 7)]}
    assert quarantined(outcome) == [(4, "contact_type"), (6, "contact_date")]
    assert outcome.rows_read == 5  # a blank line is no row read


LAYOUT = [
    # A report title, a blank line, then the header (row 3).
    "Kontaktliste Schuldnerberatung;;;;;;", "", CONTACTS_HEADER,
    contact(1), "", "", "", contact(2, kind=TOO_FEW), contact(3),
    # A note over three lines with an empty line inside: one row, no blank one.
    contact(4, '"Termin vereinbart.{nl}{nl}Rückruf wegen Mietschulden; ""dringend"""'), "",
    contact(5, kind=BAD_DATE), "", contact(6), contact(7, '"5"" Akte"'), contact(8, '5" Akte'),
    "", contact(9, kind=TOO_FEW), contact(10), "", "",
]


@pytest.mark.parametrize(("newline", "encoding", "seed"), [
    ("\r\n", "cp1252", 0), ("\n", "utf-8-sig", 0), ("\r", "cp1252", 0),
    *((MIXED, "cp1252", seed) for seed in range(3)), (MIXED, "utf-8-sig", 3)])
def test_blank_lines_anywhere_below_a_title_and_after_a_value_over_lines(
        tmp_path: Path, newline: str, encoding: str, seed: int) -> None:
    """Several blank lines in a row, one after a note over several lines (whose own empty line
    is no row), at the end, and one between a title and the header: accepted rows, rows the
    reader rejects and rows a check sets aside are each named with their spreadsheet row. Line
    ends mixed row by row (DuckDB's reader refused such a file as a whole, 'invalid state', and
    named no row) load the same."""
    rows = [r.replace("{nl}", "\r\n" if newline == MIXED else newline) for r in LAYOUT]
    path = tmp_path / "kontakte.csv"
    path.write_bytes(export(rows, newline, encoding, seed))
    table, outcome = parse(path)
    accepted, aside = expected(rows)
    assert dict(zip(table["contact_id"].to_pylist(), table["source_line"].to_pylist(),
                    strict=True)) == accepted
    assert quarantined(outcome) == aside
    assert outcome.title_rows == 2


def test_a_stray_quote_after_blank_lines_is_named_at_its_row_and_editor_line(
        tmp_path: Path) -> None:
    """The check for rows a stray quote swallowed names the row and the editor's line: blank
    lines above it push both down."""
    stray, closing = '"Klient sagt ich komme wieder', 'Kl. meldet sich: bin wieder da"'
    path = tmp_path / "kontakte.csv"
    path.write_bytes(export([CONTACTS_HEADER, contact(1, '"zwei\r\nZeilen"'), "", "",
                             contact(2, stray), contact(3), contact(4, closing), contact(5)]))
    with pytest.raises(FileRejected) as info:
        parse(path)
    # Row 5 (the note of row 2 takes two lines: line 6), its next line looks like a row.
    assert info.value.reason.startswith("row 5 (line 6 in a text editor), column 7 'Notiz'")
    assert "line 7 of the file looks like a row of its own" in info.value.reason


def test_the_validation_report_names_the_rows_a_spreadsheet_shows(tmp_path: Path) -> None:
    """`datenwerk validate`, which stewards run before sending a file, names the same rows."""
    from ingestion.validate import report_lines, validate_file

    rows = [CONTACTS_HEADER, "", contact(1), "", "", contact(2, kind=BAD_DATE),
            *(contact(n) for n in range(3, 9)), "", contact(9, kind=TOO_FEW), contact(10), ""]
    path = tmp_path / "kontakte.csv"
    path.write_bytes(export(rows))
    shown = report_lines(validate_file(path), "de")
    at = next(i for i, line in enumerate(shown) if line.lstrip().startswith("Zeile  Feld"))
    table = [line for line in shown[at + 1:] if line.split()[0].isdigit()]
    _, aside = expected(rows)
    assert [int(line.split()[0]) for line in table] == [row for row, _ in aside] == [6, 14]
    assert "ABGELEHNT" not in "\n".join(shown)


SHAPES = [
    [CONTACTS_HEADER, contact(1), "", contact(2)],
    [CONTACTS_HEADER, "", "", contact(1), contact(2, '"a{nl}{nl}b"'), "", contact(3), "", ""],
    [CONTACTS_HEADER, contact(1, '""""'), "", contact(2, '"x;{nl}"'), "", contact(3, 'a"b')],
    [CONTACTS_HEADER, contact(1, '"{nl}"'), "", "", contact(2, '""'), "", contact(3)],
]


def reader_records(path: Path) -> dict[int, tuple]:
    """The records DuckDB's reader finds in a file, by the line it counts them on: read with
    one column more than the file has, every record is a reject carrying its line and text."""
    columns = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(9))
    with duckdb.connect() as con:
        con.execute(f"select * from read_csv('{path}', delim=';', quote='\"', escape='\"', "
                    f"header=true, auto_detect=false, columns={{{columns}}}, "
                    "store_rejects=true, strict_mode=true)").fetchall()
        return {r[0]: r[1:] for r in con.execute(
            "select line, csv_line from reject_errors").fetchall()}


@pytest.mark.parametrize(("newline", "seed"), [
    ("\r\n", 0), ("\n", 0), ("\r", 0), *((MIXED, seed) for seed in range(8))])
@pytest.mark.parametrize("shape", range(len(SHAPES)))
def test_blank_rows_are_where_duckdbs_reader_counts_them(
        tmp_path: Path, shape: int, newline: str, seed: int) -> None:
    """The blank lines found are those the reader itself skips: every record is a reject
    carrying its line, and the lines between are blank. A file with mixed line ends, which the
    reader refuses, is compared with the same rows all ending in LF (the reader's truth), and
    the copy the load reads it from (:func:`write_with_lf`) holds the same records. Only such
    a file is copied: LF in a quoted cell of a CR LF file is no mixing."""
    path = tmp_path / "kontakte.csv"
    # A line break in a cell: Excel writes LF in a CR LF file, which the reader takes.
    inner = {MIXED: "\r\n", "\r\n": "\n"}.get(newline, newline)
    rows = [r.replace("{nl}", inner) for r in SHAPES[shape]]
    path.write_bytes(export(rows, newline, seed=seed))
    assert mixed_line_ends(path, ";") == (newline == MIXED)
    if newline == MIXED:
        uniform = tmp_path / "einheitlich.csv"
        uniform.write_bytes(export(rows, "\n"))
        records = reader_records(uniform)
        copy = tmp_path / "kopie.csv"
        write_with_lf(path, copy, ";")
        assert reader_records(copy) == records
    else:
        records = reader_records(path)
    blank = [r for r in range(2, max(records)) if r not in records]
    assert blank, "the shape has blank lines between its rows"
    assert [r for r in blank_rows(path, ";", 1).tolist() if r < max(records)] == blank


def test_empty_rows_of_a_workbook_are_no_rows_set_aside(tmp_path: Path) -> None:
    """A workbook with spacer rows between groups of cases, as people lay out a sheet: an empty
    row was set aside as a row without its case number, and enough of them rejected the whole
    file for its share of rows set aside. Empty rows are now skipped as blank lines of a text
    export are, and every row keeps the number Excel shows."""
    import datetime as dt

    import openpyxl

    from ingestion.validate import report_lines, validate_file

    header = ["Fall-ID", "Personen-ID", "Hilfeart", "Anfrage über", "Hilfebeginn", "Hilfeende",
              "Beendigung", "Fachkraft"]
    rows: list[list[object]] = [["Hilfen – Auswertung"], [], header]
    for group in range(3):
        rows += [[f"F-{group}{n}", "P-1", "AJH-SGA", "Jugendamt", dt.date(2024, 2, 1),
                  dt.date(2024, 6, 30), "Wegzug" if n or group else "kein bekannter Grund", "MA-1"]
                 for n in range(3)]
        rows += [[], []] if group == 0 else [[]]
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    path = tmp_path / "hilfen_mit_leerzeilen.xlsx"
    book.save(path)

    table, outcome = parse(path)
    filled = {row: r for row, r in enumerate(rows, start=1) if str(r[:1]).startswith("['F-")}
    assert dict(zip(table["case_id"].to_pylist(), table["source_line"].to_pylist(),
                    strict=True)) == {pseudonym(r[0], KEY.encode()): row
                                      for row, r in filled.items() if r[6] == "Wegzug"}
    assert quarantined(outcome) == [(row, "end_reason") for row, r in filled.items()
                                    if r[6] != "Wegzug"]
    assert outcome.rows_read == len(filled) == 9
    assert not any("ABGELEHNT" in line for line in report_lines(validate_file(path), "de"))


def test_blank_lines_around_rows_a_quote_swallowed(tmp_path: Path) -> None:
    """A quote that opens in row 4 and is closed only inside row 7 (by a quote within a word)
    makes the reader reject one record of four lines, a blank one among them; each of those
    lines is set aside as a row of its own. The blank lines before and after keep the rows
    below at their place."""
    rows = [CONTACTS_HEADER, contact(1), "", contact(2, '"offen'), contact(3), "",
            contact(4, 'x" weiter'), "", contact(5), contact(6)]
    path = tmp_path / "kontakte.csv"
    path.write_bytes(export(rows))
    table, outcome = parse(path)
    assert dict(zip(table["contact_id"].to_pylist(), table["source_line"].to_pylist(),
                    strict=True)) == {pseudonym(f"C-{n}", KEY.encode()): rows.index(contact(n)) + 1
                                      for n in (1, 5, 6)}
    first, last = rows.index(contact(2, '"offen')) + 1, rows.index(contact(4, 'x" weiter')) + 1
    assert [line for line, _ in quarantined(outcome)] == list(range(first, last + 1))


# Lines that hold no row, as exports write them: Excel's empty row (a delimiter per column
# boundary), one with fewer or more delimiters (a row emptied in an editor, a sheet wider than
# the table), quoted empty values, spaces. The DATEV reader skips the same lines.
DELIMITERS_ONLY = [";" * 6, ";;;;", ";" * 11, '"";"";""', ' ; ;"" ; ', "   ", ";"]


@pytest.mark.parametrize("newline", ["\r\n", "\n"])
def test_lines_of_delimiters_only_are_blank_lines(tmp_path: Path, newline: str) -> None:
    """A line of nothing but delimiters (``;;;;;;``, as Excel saves an empty row) was set aside
    as a row missing its values, or with too few fields, and counted in the share of rows set
    aside that rejects a whole file. It is a blank line now, as in a DATEV file: skipped, not
    read, and the rows after it keep their numbers. A line with one value (a note alone) is
    still a row, set aside."""
    rows = [CONTACTS_HEADER, *DELIMITERS_ONLY[:3], contact(1), DELIMITERS_ONLY[3],
            contact(2, kind=BAD_DATE), *DELIMITERS_ONLY[4:], contact(3), ";;;;;;nur Notiz",
            contact(4, kind=TOO_FEW), ";" * 6, contact(5), ";" * 6]
    path = tmp_path / "kontakte.csv"
    path.write_bytes(export(rows, newline))
    table, outcome = parse(path)
    accepted, aside = expected(rows)
    assert dict(zip(table["contact_id"].to_pylist(), table["source_line"].to_pylist(),
                    strict=True)) == accepted
    assert quarantined(outcome) == sorted([*aside, (rows.index(";;;;;;nur Notiz") + 1,
                                                     "contact_id")])
    assert outcome.rows_read == 6  # five contacts and the note alone


def test_a_datev_file_skips_the_same_lines(tmp_path: Path) -> None:
    """The same lines in a DATEV Buchungsstapel: no booking, no problem, no line counted."""
    from ingestion.accounting.datev import read_buchungsstapel
    from tests.unit.test_datev_damaged_files import booking, datev_file

    lines = [booking(), *(line.encode() for line in DELIMITERS_ONLY), booking()]
    stapel = read_buchungsstapel(datev_file(tmp_path / "EXTF_leerzeilen.csv", lines))
    assert stapel.bookings["source_line"].to_pylist() == [3, len(lines) + 2]
    assert stapel.problems.num_rows == 0
    assert stapel.control.lines == 2
