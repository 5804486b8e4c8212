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

from ingestion.accounting.datev import DatevFormatError, read_buchungsstapel, read_header
from ingestion.validate import translate, validate_file

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
