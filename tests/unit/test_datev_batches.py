"""The DATEV reader a batch at a time: a file of many batches reads exactly as in one piece.

The files are put together from the lines of the fixtures (``tests/fixtures/datev``): good
lines, lines with a bad Soll/Haben or account, booking texts with a line break inside (each of
their two lines set aside for its unbalanced quotation mark, which sends the reader over the file
again with each line on its own), and a line with too few fields and a Windows-1252 umlaut (which
the fast read cannot hand over, so the reader reads again, carefully, and skips what it already
handed on). Expected line numbers and totals are counted while the file is put together, not
taken from the reader.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from ingestion.accounting import datev
from ingestion.accounting.datev import read_buchungsstapel

FIXTURES = Path(__file__).parents[1] / "fixtures" / "datev"


def _lines(name: str) -> list[bytes]:
    return (FIXTURES / name).read_bytes().split(b"\r\n")


HEAD = b"\r\n".join(_lines("bad_lines.csv")[:2])
GOOD = _lines("bad_lines.csv")[10]  # 90;"S";...;"in Ordnung"
# The same with a long booking text (2 KB), so that a file of a few thousand lines spans
# several of pyarrow's blocks.
LONG = GOOD.replace(b'"in Ordnung"', b'"in Ordnung: ' + b"Sammelbuchung " * 146 + b'"')
BAD_DEBIT_CREDIT = _lines("bad_lines.csv")[3]  # 20;"X": the money cannot be read
BAD_ACCOUNT = _lines("bad_lines.csv")[4]  # 30;"S";...;68A5: readable money, quarantined
TWO_LINES = b"\r\n".join(_lines("line_break_in_text.csv")[2:4])  # "Papier\r\nund Stifte"
BAD_TWO_LINES = TWO_LINES.replace(b";6815;", b";68A5;")  # as TWO_LINES: both lines set aside
TOO_FEW_FIELDS = '7;"Büro";3'.encode("cp1252")


@dataclass
class Built:
    """A Buchungsstapel put together line by line, with what reading it must give."""

    path: Path
    booking_lines: list[int] = field(default_factory=list)
    problems: list[tuple[int, str]] = field(default_factory=list)
    amount: Decimal = Decimal("0.00")
    quarantined_amount: Decimal = Decimal("0.00")
    records: int = 0


def build(path: Path, records: int, malformed_at: int | None) -> Built:
    """``records`` booking records, amount = record number; every 7th with a bad S/H, every
    11th with a bad account, every 13th over two lines, every 17th over two lines with a bad
    account (both: two lines set aside, their money unknown); a line with too few fields at
    record ``malformed_at``."""
    built = Built(path)
    body, line = [], 3
    for number in range(1, records + 1):
        amount = Decimal(number)
        if number == malformed_at:
            text = TOO_FEW_FIELDS
            built.problems.append((line, "line"))
        elif number % 7 == 0:
            text = BAD_DEBIT_CREDIT
            built.problems.append((line, "Soll/Haben-Kennzeichen"))
        elif number % 11 == 0:
            text = BAD_ACCOUNT
            built.problems.append((line, "Konto"))
            built.amount += amount
            built.quarantined_amount += amount
        elif number % 13 == 0 or number % 17 == 0:
            text = TWO_LINES if number % 13 == 0 else BAD_TWO_LINES
            built.problems += [(line, "line"), (line + 1, "line")]
        else:
            text = LONG
            built.booking_lines.append(line)
            built.amount += amount
        if text is not TOO_FEW_FIELDS:
            text = str(number).encode() + text[text.index(b";"):]
        body.append(text)
        line += 1 + text.count(b"\r\n")
    built.records = line - 3  # physical lines after the headings
    path.write_bytes(HEAD + b"\r\n" + b"\r\n".join(body) + b"\r\n")
    return built


def check(stapel: datev.Buchungsstapel, built: Built, bookings: pa.Table) -> None:
    assert bookings["source_line"].to_pylist() == built.booking_lines
    problems = stapel.problems.to_pylist()
    assert [(p["source_line"], p["field"]) for p in problems] == built.problems
    control = stapel.control
    assert control.lines == built.records
    assert control.amount_eur == built.amount
    assert control.quarantined_lines == len(built.problems)
    assert control.quarantined_amount_eur == built.quarantined_amount
    assert stapel.booked_lines == bookings.num_rows == len(built.booking_lines)


@pytest.mark.parametrize("malformed_at", [None, 1900], ids=["fast", "read_again_careful"])
def test_many_batches_read_as_one_piece(tmp_path: Path, malformed_at: int | None) -> None:
    # 2000 records, most of 2.4 KB: several of pyarrow's blocks, so the umlaut of the malformed
    # line stops the fast read after it has handed on the lines of the blocks before it.
    built = build(tmp_path / "EXTF_many_batches.csv", 2000, malformed_at)
    assert built.path.stat().st_size > 3 * datev.BLOCK_BYTES
    whole = read_buchungsstapel(built.path)
    check(whole, built, whole.bookings)
    for batch_rows in (7, 500):
        written: list[pa.Table] = []
        stapel = read_buchungsstapel(built.path, written.append, batch_rows=batch_rows)
        assert stapel.bookings.num_rows == 0  # every booking went to `write`
        assert max(t.num_rows for t in written) <= batch_rows
        bookings = pa.concat_tables(written)
        check(stapel, built, bookings)
        assert bookings.equals(whole.bookings)
        assert stapel.problems.equals(whole.problems)
        assert stapel.control == whole.control
        assert stapel.booking_days == whole.booking_days


def test_line_longer_than_a_block_is_read_with_larger_blocks(tmp_path: Path) -> None:
    text = "Sammelbuchung " + "x" * (2 * datev.BLOCK_BYTES)
    long_line = GOOD.replace(b'"in Ordnung"', f'"{text}"'.encode("cp1252"))
    path = tmp_path / "EXTF_long_line.csv"
    path.write_bytes(b"\r\n".join([HEAD, GOOD, long_line, TWO_LINES, BAD_ACCOUNT, b""]))
    stapel = read_buchungsstapel(path, batch_rows=2)
    assert [len(t) for t in stapel.bookings["posting_text"].to_pylist()] == [10, len(text)]
    assert stapel.bookings["source_line"].to_pylist() == [3, 4]
    assert stapel.problems["source_line"].to_pylist() == [5, 6, 7]  # TWO_LINES set aside


def test_file_cut_off_after_many_batches_is_rejected(tmp_path: Path) -> None:
    built = build(tmp_path / "EXTF_cut_off.csv", 600, None)
    built.path.write_bytes(built.path.read_bytes()[:-1500])  # in the middle of the last line
    written: list[pa.Table] = []
    with pytest.raises(datev.DatevFormatError, match="cut off during transfer"):
        read_buchungsstapel(built.path, written.append, batch_rows=100)
    assert written  # what was handed on before is the caller's to discard


def test_stray_quote_after_bookings_went_to_write_asks_to_read_again(tmp_path: Path) -> None:
    # The stray quotation mark sits blocks after the first bookings were handed to `write`:
    # those cannot be taken back, so the caller is told to discard them and read again.
    path = tmp_path / "EXTF_stray_quote_late.csv"
    good = [str(n).encode() + LONG[LONG.index(b";"):] for n in range(1, 2001)]
    # As Excel re-saves a file: quotation marks gone, but one opening a text with a ';' in it.
    stray = good[1899].replace(b'"', b"").replace(b"in Ordnung: ", b'"Zoll 24 Monitor;', 1)
    assert stray.count(b'"') == 1
    lines = [*good[:1899], stray, *good[1900:]]
    path.write_bytes(HEAD + b"\r\n" + b"\r\n".join(lines) + b"\r\n")
    written: list[pa.Table] = []
    with pytest.raises(datev.DatevLinesMerged):
        read_buchungsstapel(path, written.append, batch_rows=100)
    assert written  # handed on before the quotation mark was found: the caller discards them
    written.clear()
    stapel = read_buchungsstapel(path, written.append, batch_rows=100, separate_lines=True)
    bookings = pa.concat_tables(written)
    assert bookings["source_line"].to_pylist() == [n + 2 for n in range(1, 2001) if n != 1900]
    assert [(p["source_line"], p["field"]) for p in stapel.problems.to_pylist()] == [
        (1902, "line")]
    assert stapel.control.lines == 2000 and stapel.control.quarantined_lines == 1
    assert stapel.control.amount_eur == sum(Decimal(n) for n in range(1, 2001) if n != 1900)
    assert read_buchungsstapel(path).problems.equals(stapel.problems)  # no writer: read again
