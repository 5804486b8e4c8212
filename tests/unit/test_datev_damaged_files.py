"""DATEV files damaged the way real deliveries are: by Excel, by old editors, by transfers.

Each file is built here from the header and headings of ``extf_format_13.csv`` (Windows-1252,
``;``, CRLF) and booking lines written out in full, so the bytes that matter are visible in the
test. Expected line numbers are counted while the file is put together.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from ingestion.accounting.datev import (
    DatevFormatError,
    read_account_labels,
    read_buchungsstapel,
    read_header,
)
from ingestion.validate import validate_file
from warehouse.reasons import translate

FIXTURES = Path(__file__).parents[1] / "fixtures" / "datev"
HEAD, HEADINGS = (FIXTURES / "extf_format_13.csv").read_bytes().split(b"\r\n")[:2]
FIELDS = HEADINGS.count(b";") + 1


def booking(amount: str = "100,00", text: str = '"Miete"', account: str = "6310",
            date_ddmm: str = "1502") -> bytes:
    """One booking line of format 13 (all 125 fields), Windows-1252."""
    fields = [amount, '"S"', '"EUR"', "", "", '""', account, "1800", '""', date_ddmm,
              '"RE-1"', '""', "", text]
    return ";".join(fields + [""] * (FIELDS - len(fields))).encode("cp1252")


def datev_file(path: Path, lines: list[bytes], head: bytes = HEAD, eol: bytes = b"\r\n",
               final_eol: bool = True) -> Path:
    path.write_bytes(eol.join([head, HEADINGS, *lines]) + (eol if final_eol else b""))
    return path


def with_header_field(position: int, value: bytes) -> bytes:
    """The header line with field ``position`` (1-based) replaced."""
    fields = HEAD.split(b";")
    fields[position - 1] = value
    return b";".join(fields)


def test_skr_field_with_a_superscript_digit_is_no_chart(tmp_path: Path) -> None:
    # '²' is a digit to str.isdigit() but not to int(): the header must still be read.
    path = datev_file(tmp_path / "EXTF_skr_hoch2.csv", [booking()],
                      head=with_header_field(27, '"0²"'.encode("cp1252")))
    header, _, _ = read_header(path)
    assert header.chart_of_accounts is None
    assert read_buchungsstapel(path).booked_lines == 1


def test_fiscal_year_from_29_february_validates(tmp_path: Path) -> None:
    head = HEAD.replace(b"20240101;4;20240101;20241231", b"20240229;4;20240301;20240331")
    path = datev_file(tmp_path / "EXTF_wj_29_februar.csv", [booking(date_ddmm="1503")],
                      head=head)
    v = validate_file(path)
    assert v.outcome.rejected_reason is None
    assert ("fiscal_year", "29.02.2024-27.02.2025") in v.facts
    assert v.outcome.rows_loaded == 1
    assert read_buchungsstapel(path).bookings["document_date"].to_pylist() == [
        date(2024, 3, 15)]
    assert read_buchungsstapel(path).control.amount_eur == Decimal("100.00")


def test_cr_only_line_ends_reject_the_file_naming_it(tmp_path: Path) -> None:
    path = datev_file(tmp_path / "EXTF_mac.csv", [booking(), booking()], eol=b"\r")
    with pytest.raises(DatevFormatError) as caught:
        read_buchungsstapel(path)
    assert str(caught.value).startswith("EXTF_mac.csv: the lines end in CR only")
    assert translate(caught.value.reason, "de").startswith("die Zeilen enden nur mit CR")


def unquoted(line: bytes) -> bytes:
    """A line as Excel writes it back: no quotation marks around text."""
    return line.replace(b'"', b"")


def test_stray_quotation_mark_sets_its_line_aside_and_the_rest_loads(tmp_path: Path) -> None:
    # 100 bookings re-saved by Excel (no quotes), booking 50 with one quotation mark before a
    # text holding a ';': read as CSV, that field would run to the end of the file.
    lines = [unquoted(booking(amount=f"{n},00", text=f"Miete {n}")) for n in range(1, 101)]
    lines[49] = unquoted(booking(amount="50,00")).replace(b";Miete;", b';"Zoll 24;Monitor;')
    path = datev_file(tmp_path / "EXTF_excel.csv", lines,
                      head=unquoted(HEAD), final_eol=True)
    stapel = read_buchungsstapel(path)
    assert stapel.bookings["source_line"].to_pylist() == [n + 2 for n in range(1, 101)
                                                          if n != 50]
    assert [(p["source_line"], p["field"], p["reason"].split(":")[0])
            for p in stapel.problems.to_pylist()] == [(52, "line", "unbalanced quotation mark")]
    control = stapel.control
    assert (control.lines, control.quarantined_lines, control.unreadable_lines) == (100, 1, 1)
    assert control.amount_eur == sum(Decimal(n) for n in range(1, 101) if n != 50)


def test_two_stray_quotation_marks_swallow_nothing(tmp_path: Path) -> None:
    # An opening quote in line 5 and a closing one in line 6: read as CSV, line 6 would vanish
    # into the Buchungstext of line 5, and the control totals would still agree.
    lines = [unquoted(booking(text=f"Miete {n}")) for n in range(1, 8)]
    lines[2] = lines[2].replace(b"Miete 3", b'"Zoll 24 Monitor')
    lines[3] = lines[3].replace(b"Miete 4", b'Kabel 2 m"')
    path = datev_file(tmp_path / "EXTF_zwei_anfuehrungszeichen.csv", lines)
    stapel = read_buchungsstapel(path)
    assert stapel.bookings["source_line"].to_pylist() == [3, 4, 7, 8, 9]
    assert stapel.problems["source_line"].to_pylist() == [5, 6]
    assert stapel.control.lines == 7  # every physical line after the headings
    assert stapel.control.lines == stapel.booked_lines + stapel.control.quarantined_lines


@pytest.mark.parametrize("excel", [False, True])
def test_a_stray_quote_on_a_last_line_without_line_end_is_no_cut(tmp_path: Path,
                                                                  excel: bool) -> None:
    # The last booking's text opens a quotation mark and never closes it, and the file ends
    # without a line end (as many exporters write it): the text runs to the end of the file,
    # as a cut-off line does, but every delimiter of the line is there. The line is set aside
    # for its quotation mark, naming its field; the others load.
    lines = [booking(amount=f"{n},00", text=f'"Miete {n}"') for n in range(1, 5)]
    last = booking(amount="5,00", text='"Zoll 24 Monitor')
    if excel:  # re-saved by Excel: no quotation marks, one before a text holding a ';'
        lines = [unquoted(line) for line in lines]
        last = unquoted(booking(amount="5,00")).replace(b";Miete;", b';"Zoll 24;Monitor;')
    path = datev_file(tmp_path / "EXTF_letzte_zeile.csv", [*lines, last], final_eol=False)
    stapel = read_buchungsstapel(path)
    assert stapel.bookings["source_line"].to_pylist() == [3, 4, 5, 6]
    [problem] = stapel.problems.to_pylist()
    assert (problem["source_line"], problem["field"]) == (7, "line")
    assert problem["reason"].startswith(
        "unbalanced quotation mark in field 14 (Buchungstext) of the last line")
    assert translate(problem["reason"], "de").startswith(
        "unpaariges Anführungszeichen in Feld 14 (Buchungstext) der letzten Zeile")
    assert "abgeschnitten" not in translate(problem["reason"], "de").split(";")[0]
    assert (stapel.control.lines, stapel.control.quarantined_lines) == (5, 1)
    assert stapel.control.amount_eur == Decimal("10.00")


@pytest.mark.parametrize("cut", [
    b'5,00;"S";"EUR";;;"";6310;1800;"";1502;"R',  # inside a quoted field
    b'5,00;"S";"EUR";;;"";6310;1800;"";1502;"RE-1";"";;"Zoll 24 Mon',  # inside the text
    b'5,00;"S";"EUR";;;"";6310;1800;"";1502;"RE-1";"";;"Zoll 24 Monitor";;;;',  # between
])
def test_a_cut_off_last_line_is_still_told_as_cut_off(tmp_path: Path, cut: bytes) -> None:
    lines = [booking(amount=f"{n},00") for n in range(1, 5)]
    path = datev_file(tmp_path / "EXTF_abgeschnitten.csv", [*lines, cut], final_eol=False)
    with pytest.raises(DatevFormatError, match="cut off during transfer") as caught:
        read_buchungsstapel(path)
    assert translate(caught.value.reason, "de").startswith(
        "die Datei endet mitten in ihrer letzten Zeile")


def test_blank_and_separator_only_lines_are_skipped(tmp_path: Path) -> None:
    # The public sample plus one CRLF (as an editor leaves it), a blank line between bookings,
    # a line of nothing but delimiters (an emptied Excel row) and one of a single ';'.
    sample = (FIXTURES / "ledermann_EXTF_Buchungsstapel.csv").read_bytes()
    extra_crlf = tmp_path / "EXTF_ledermann_crlf.csv"
    extra_crlf.write_bytes(sample + b"\r\n")
    stapel = read_buchungsstapel(extra_crlf)
    assert (stapel.booked_lines, stapel.problems.num_rows, stapel.control.lines) == (2, 0, 2)
    labels = tmp_path / "EXTF_kontenbeschriftungen_crlf.csv"
    labels.write_bytes((FIXTURES / "ledermann_EXTF_Kontenbeschriftungen.csv").read_bytes()
                       + b"\r\n;;\r\n")
    read = read_account_labels(labels)
    assert (read.labels.num_rows, read.problems.num_rows) == (3, 0)
    blank = datev_file(tmp_path / "EXTF_leerzeilen.csv", [
        booking(), b"", booking(), b";" * (FIELDS - 1), b'"";""', booking(), b";", b"  ",
        booking(amount=""),  # a line that is not blank: its amount is missing
    ], final_eol=True)
    stapel = read_buchungsstapel(blank)
    assert stapel.bookings["source_line"].to_pylist() == [3, 5, 8]
    assert [(p["source_line"], p["field"]) for p in stapel.problems.to_pylist()] == [
        (11, "Umsatz")]
    control = stapel.control
    assert (control.lines, control.quarantined_lines, control.unreadable_lines) == (4, 1, 1)
    assert control.amount_eur == Decimal("300.00")


def test_lines_with_only_unread_columns_are_not_blank(tmp_path: Path) -> None:
    # Every kept field empty, but a value further right: not a blank line, set aside.
    fields = [""] * FIELDS
    fields[40] = '"Beleginfo"'
    path = datev_file(tmp_path / "EXTF_nur_beleginfo.csv", [booking(), ";".join(fields).encode()])
    stapel = read_buchungsstapel(path)
    assert [(p["source_line"], p["field"]) for p in stapel.problems.to_pylist()] == [
        (4, "Umsatz")]
    assert stapel.control.lines == 2


def test_header_only_file_reads_as_no_lines_with_or_without_final_line_end(
    tmp_path: Path,
) -> None:
    for final_eol in (True, False):
        path = datev_file(tmp_path / f"EXTF_leer_{final_eol}.csv", [], final_eol=final_eol)
        stapel = read_buchungsstapel(path)
        assert (stapel.booked_lines, stapel.problems.num_rows, stapel.control.lines) == (0, 0, 0)


def test_one_damaged_byte_in_a_utf8_file_sets_that_line_aside(tmp_path: Path) -> None:
    # A UTF-8 export (the headings' ü decide the encoding) in which one byte of one booking
    # text was damaged: 'ü' arrived as the Windows-1252 byte FC (beyond the first 4 KB after
    # the headings, from which the encoding is told).
    lines = [booking(text='"Büromaterial"').decode("cp1252").encode("utf-8") for _ in range(60)]
    lines[50] = booking(text='"B\xfcro"')
    assert b"B\xfcro" in lines[50] and len(b"".join(lines[:50])) > 4096
    path = datev_file(tmp_path / "EXTF_utf8_ein_byte.csv", lines,
                      head=HEAD, final_eol=True)
    path.write_bytes(path.read_bytes().replace(HEADINGS, HEADINGS.decode("cp1252").encode()))
    stapel = read_buchungsstapel(path)
    assert stapel.dialect.encoding == "utf-8"
    assert stapel.bookings["source_line"].to_pylist() == [n for n in range(3, 63) if n != 53]
    assert set(stapel.bookings["posting_text"].to_pylist()) == {"Büromaterial"}
    [problem] = stapel.problems.to_pylist()
    assert (problem["source_line"], problem["field"]) == (53, "Buchungstext")
    assert problem["offending_value"] == "B\ufffdro"
    assert problem["reason"].startswith("a byte that is not valid UTF-8")
    assert translate(problem["reason"], "de").startswith("ein Byte, das kein gültiges UTF-8")
    assert stapel.control.quarantined_amount_eur == Decimal("100.00")  # the money is readable


def test_a_damaged_byte_before_the_first_umlaut_does_not_garble_a_utf8_file(
        tmp_path: Path) -> None:
    """The first non-ASCII byte of a UTF-8 export is a damaged one, 100 KB before its first
    umlaut: the file is still read as UTF-8 (its umlauts intact), and only the damaged line is
    set aside. A Windows-1252 file is still Windows-1252."""
    plain = [booking(text='"Miete"') for _ in range(700)]
    umlauts = [booking(text='"Büromaterial"').decode("cp1252").encode("utf-8") for _ in range(20)]
    lines = [booking(text='"B\xfcro"'), *plain, *umlauts]
    assert len(b"".join(plain)) > 1 << 16
    path = datev_file(tmp_path / "EXTF_utf8_frueh_beschaedigt.csv", lines)
    stapel = read_buchungsstapel(path)
    assert stapel.dialect.encoding == "utf-8"
    assert set(stapel.bookings["posting_text"].to_pylist()) == {"Miete", "Büromaterial"}
    assert [(p["source_line"], p["field"]) for p in stapel.problems.to_pylist()] == [
        (3, "Buchungstext")]
    cp1252 = datev_file(tmp_path / "EXTF_cp1252.csv",
                        [booking(text='"B\xfcro"'), *plain, booking(text='"Gebühr"')])
    stapel = read_buchungsstapel(cp1252)
    assert stapel.dialect.encoding == "cp1252"
    assert set(stapel.bookings["posting_text"].to_pylist()) == {"Büro", "Miete", "Gebühr"}
