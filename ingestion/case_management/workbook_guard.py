"""A workbook is checked before it is read: an ``.xlsx`` is a zip of XML, and a few hundred
kilobytes of it can unpack to gigabytes (a zip bomb, or a broken export that repeats a cell
endlessly). python-calamine reads the whole sheet into memory, so such a file would end the
night's run for every organisation, out of memory, instead of being rejected on its own.

The worksheets and the shared strings are unpacked as a stream, never held whole, and the file is
rejected, naming the part and the row, when

- a part unpacks to more than :data:`MAX_INFLATE_RATIO` times its packed size (the rule of Apache
  POI, which Excel-reading Java software has used for a decade: ``MIN_INFLATE_RATIO`` 0.01),
  after a grace of :data:`GRACE_BYTES`; real exports are packed about ten to one;
- a cell's text is longer than a CSV line may be (:data:`MAX_TEXT_BYTES`, as
  ``MAX_LINE_BYTES``; Excel itself holds at most 32,767 characters in a cell);
- a worksheet has more rows than Excel allows (1,048,576).

A file that is no zip at all is left to the reader, which says what it is.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from ingestion.delivery import FileRejected

MAX_INFLATE_RATIO = 100
GRACE_BYTES = 1 << 20
MAX_TEXT_BYTES = 10_000_000
EXCEL_MAX_ROWS = 1_048_576
CHUNK_BYTES = 1 << 20
SHARED_STRINGS = "xl/sharedStrings.xml"
ROW_TAG = re.compile(rb'<row\b[^>]*?\br="(\d+)"')


def _holds_cells(name: str) -> bool:
    """Whether a part holds the cells' text: a worksheet or the shared strings."""
    return name == SHARED_STRINGS or (name.startswith("xl/worksheets/") and name.endswith(".xml"))


def check_workbook(path: Path) -> None:
    """Raise FileRejected if ``path``'s worksheets or shared strings are not what an export
    can be (see the module's text); nothing is kept in memory beyond one chunk."""
    try:
        book = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        return  # not a zip: the reader names what is wrong
    with book:
        for info in book.infolist():
            if not info.is_dir():
                _check_part(path, book, info)


def _check_part(path: Path, book: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    cells = _holds_cells(info.filename)
    is_sheet = cells and info.filename != SHARED_STRINGS
    limit = max(info.compress_size * MAX_INFLATE_RATIO, GRACE_BYTES)
    unpacked = run = rows = 0
    row = "?"  # the number of the row being read (its r attribute)
    before = b""  # the end of the previous chunk: a tag cut by the chunk's edge
    with book.open(info) as stream:
        while chunk := stream.read(CHUNK_BYTES):
            unpacked += len(chunk)
            if unpacked > limit:
                raise FileRejected(
                    path, f"{info.filename} unpacks to more than {MAX_INFLATE_RATIO} times its "
                    f"packed size ({info.compress_size:,} bytes; a zip bomb?); the whole file is "
                    "rejected")
            if not cells:
                continue
            first = chunk.find(b"<")
            if (run + (len(chunk) if first < 0 else first)) > MAX_TEXT_BYTES:
                if is_sheet:
                    raise FileRejected(
                        path, f"a cell in row {row} is longer than {MAX_TEXT_BYTES:,} bytes; a "
                        "broken export, the whole file is rejected")
                raise FileRejected(
                    path, f"a text of the workbook is longer than {MAX_TEXT_BYTES:,} bytes; a "
                    "broken export, the whole file is rejected")
            run = run + len(chunk) if first < 0 else len(chunk) - chunk.rfind(b"<") - 1
            if is_sheet:
                counted = before[-4:] + chunk  # a tag cut by the edge is counted once
                rows += counted.count(b"<row ") + counted.count(b"<row>")
                window = before + chunk
                last = window.rfind(b"<row")
                if last >= 0 and (found := ROW_TAG.match(window, last)):
                    row = found.group(1).decode()
                before = chunk[-256:]
                if rows > EXCEL_MAX_ROWS:
                    raise FileRejected(
                        path, f"{info.filename} has more than {EXCEL_MAX_ROWS:,} rows, more than "
                        "Excel allows; the whole file is rejected")
