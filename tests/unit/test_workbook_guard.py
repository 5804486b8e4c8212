"""A workbook that unpacks to far more than it weighs is rejected before it is read.

Before, python-calamine unpacked the whole sheet into memory: a 390 KB workbook holding one
400 MB cell took 2.5 GB and 88 s to "validate", and the nightly run of every organisation would
have ended out of memory. Each workbook here is an export of the youth-welfare vendor (written by
openpyxl, as Excel writes it) whose XML is then altered as a broken or hostile file would be.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest

from ingestion.case_management.workbook_guard import check_workbook
from ingestion.delivery import FileOutcome, FileRejected
from ingestion.validate import report_lines, validate_file
from tests.unit.parsing import parse as parse_delivered

SHEET = "xl/worksheets/sheet1.xml"
HEADER = ["Fall-ID", "Personen-ID", "Hilfeart", "Anfrage über", "Hilfebeginn", "Hilfeende",
          "Beendigung", "Fachkraft"]
MARK = "MA-7"  # the text of the last row's last cell, replaced by what each test puts there


@pytest.fixture(autouse=True)
def _home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DATENWERK_PSEUDONYM_KEY", "k" * 32)
    monkeypatch.setenv("DATENWERK_HOME", str(tmp_path / "home"))


def export(path: Path, rows: int = 3, inline: bool = True) -> Path:
    """Cases as the vendor exports them; ``inline``: texts in the cells (as report tools and
    openpyxl write them), else in the shared strings (as Excel does)."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(HEADER)
    for n in range(1, rows + 1):
        sheet.append([f"F-{n}", "P-1", "AJH-SGA", "Jugendamt", dt.date(2024, 2, 1),
                      dt.date(2024, 6, 30), "Wegzug", MARK if n == rows else "MA-1"])
    book.save(path)
    if not inline:
        _share_strings(path)
    return path


def _share_strings(path: Path) -> None:
    """Move the cells' texts into ``xl/sharedStrings.xml``, as Excel keeps them."""
    strings: dict[str, int] = {}

    def cell(m: re.Match[str]) -> str:
        return f'<c {m[1]}t="s"{m[2]}><v>{strings.setdefault(m[3], len(strings))}</v></c>'

    _rewrite(path, SHEET, lambda xml: re.sub(
        r'<c ([^>]*?)t="inlineStr"([^>]*)><is><t>(.*?)</t></is></c>', cell, xml))
    items = "".join(f"<si><t>{text}</t></si>" for text in strings)
    _rewrite(path, "xl/sharedStrings.xml", lambda _: (
        '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        f'count="{len(strings)}" uniqueCount="{len(strings)}">{items}</sst>'))
    _rewrite(path, "xl/_rels/workbook.xml.rels", lambda xml: xml.replace(
        "</Relationships>",
        '<Relationship Id="rIdShared" Type="http://schemas.openxmlformats.org/officeDocument/'
        '2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>'))
    _rewrite(path, "[Content_Types].xml", lambda xml: xml.replace(
        "</Types>",
        '<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>'))


def _rewrite(path: Path, part: str, change, stored: bool = False) -> None:  # type: ignore[no-untyped-def]
    """Rewrite ``part`` of the workbook through ``change`` (``stored``: without compression)."""
    with zipfile.ZipFile(path) as book:
        parts = {i.filename: book.read(i) for i in book.infolist()}
    parts[part] = change(parts[part].decode() if part in parts else "").encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as book:
        for name, data in parts.items():
            book.writestr(name, data,
                          zipfile.ZIP_STORED if stored and name == part else zipfile.ZIP_DEFLATED)


def parse(path: Path) -> FileOutcome:
    return parse_delivered(path, "AJH")[1]


def test_a_real_export_passes_and_loads(tmp_path: Path) -> None:
    for inline in (True, False):
        path = export(tmp_path / f"hilfen_{inline}.xlsx", rows=2_000, inline=inline)
        check_workbook(path)
        assert parse(path).rows_loaded == 2_000


def test_a_zip_bomb_is_rejected_before_it_is_unpacked(tmp_path: Path) -> None:
    """50 MB of one letter in a cell pack into some 50 KB: more than 100 to 1."""
    path = export(tmp_path / "hilfen_bombe.xlsx")
    _rewrite(path, SHEET, lambda xml: xml.replace(MARK, "X" * 50_000_000))
    assert path.stat().st_size < 200_000
    with pytest.raises(FileRejected, match=(
            r"xl/worksheets/sheet1.xml unpacks to more than 100 times its packed size "
            r"\([\d,]+ bytes; a zip bomb\?\); the whole file is rejected")):
        parse(path)
    german = "\n".join(report_lines(validate_file(path), "de"))
    assert "der Teil xl/worksheets/sheet1.xml der Arbeitsmappe entpackt sich auf mehr als das " \
           "100-Fache seiner gepackten Größe" in german


def test_a_cell_longer_than_a_line_may_be_is_rejected_naming_its_row(tmp_path: Path) -> None:
    """11 MB of text that does not pack (a pasted binary): the same limit as a CSV line."""
    pasted = base64.b64encode(os.urandom(8_500_000)).decode()
    path = export(tmp_path / "hilfen_lang.xlsx", rows=3)
    _rewrite(path, SHEET, lambda xml: xml.replace(MARK, pasted))
    with pytest.raises(FileRejected, match=(
            r"^.*: a cell in row 4 is longer than 10,000,000 bytes; a broken export")):
        parse(path)
    assert "eine Zelle in Zeile 4 ist länger als 10.000.000 Bytes" in "\n".join(
        report_lines(validate_file(path), "de"))


def test_a_shared_text_longer_than_a_line_may_be_is_rejected(tmp_path: Path) -> None:
    pasted = base64.b64encode(os.urandom(8_500_000)).decode()
    path = export(tmp_path / "hilfen_text.xlsx", rows=3, inline=False)
    _rewrite(path, "xl/sharedStrings.xml", lambda xml: xml.replace(MARK, pasted))
    with pytest.raises(FileRejected, match="a text of the workbook is longer than 10,000,000"):
        parse(path)


def test_more_rows_than_excel_allows_are_rejected(tmp_path: Path) -> None:
    """Stored without compression (no bomb): 1,048,577 rows are no Excel sheet."""
    path = export(tmp_path / "hilfen_zeilen.xlsx", rows=1)
    empty = "".join(f'<row r="{n}"/>' for n in range(3, 1_048_580))
    _rewrite(path, SHEET, lambda xml: xml.replace("</sheetData>", empty + "</sheetData>"),
             stored=True)
    with pytest.raises(FileRejected, match=(
            "xl/worksheets/sheet1.xml has more than 1,048,576 rows, more than Excel allows")):
        parse(path)
