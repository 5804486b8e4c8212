"""Reading one case-management export into the standard, with DuckDB doing the work.

One pass of DuckDB's parallel CSV reader (or python-calamine for ``.xlsx``) feeds a set-based SQL
mapping: types, codes, rules and duplicate keys are checked in SQL, no Python loop touches a row.
Only stored values are ever materialised: names, addresses, notes, every unexpected column and
the personal fields behind derived ones (birth date, postcode) stay inside the reader. Person
identifiers are pseudonymised before rows leave DuckDB, as a Parquet file that dlt imports as it
is, so nothing personal reaches dlt, logs or the quarantine. (Where a value runs over a line end,
DuckDB looks at the lines of every column, notes too, for rows a stray quote swallowed: only
numbers come out, see :func:`_check_swallowed_rows`.)

Line numbers (``source_line``) count rows as a spreadsheet shows them: the header is row 1 (or
the row below a title; a title cell over two lines is one row) and a quoted value with a line
break stays in its row. Lines that a quote which never closes swallowed into a rejected row are
rows of their own, each set aside with its number. A blank line is a row too (an empty one in a
spreadsheet): the reader skips it but counts it, and the rows after it keep their numbers
(:mod:`ingestion.case_management.blank_rows`).
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import logging
import re
import unicodedata
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ingestion.case_management.blank_rows import blank_rows, mixed_line_ends, write_with_lf
from ingestion.case_management.plausibility import Plausibility
from ingestion.case_management.workbook_guard import check_workbook
from ingestion.delivery import (
    ENVIRONMENT_ERRORS,
    LOAD_ID_COLUMN,
    FileOutcome,
    FileRejected,
    relative_to_inbox,
    scratch_parquet,
)
from ingestion.pseudonymise import pseudonym_sql, use_key_in_sql
from ingestion.standard import EntityMapping, EntitySpec, FieldSpec, Profile, standard
from warehouse import paths
from warehouse.db import sql_name, sql_text
from warehouse.files import BLANK_CHARACTERS, is_blank_line, utf8_count, utf8_evidence
from warehouse.reasons import error_kind

log = logging.getLogger(__name__)

UTF8_BOM = b"\xef\xbb\xbf"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_LINE_BREAK = re.compile(rb"\r\n|\r|\n")
_TEXT_LINE_BREAK = re.compile(r"\r\n|\r|\n")
SNIFF_BYTES = 1 << 16
# dlt's column of the load a row belongs to: written into the Parquet file so that dlt can
# import the file as it is instead of rewriting every row to add it.
# DuckDB's working memory per export; beyond it the parsed table spills to the protected folder.
DUCKDB_MEMORY_LIMIT = "1GB"
# Accepted rows as Parquet: read once, by the loader, right after: cheap compression wins.
PARQUET_COMPRESSION = "snappy"
PARQUET_ROW_GROUP = 1_000_000
# Longest line DuckDB's CSV reader accepts. No export row comes near it (a case with every field
# filled is under 2 kB); a longer line is a broken export, and the whole file is rejected.
# How many rows a title above a workbook's header may take (see :func:`_header_row`).
MAX_TITLE_ROWS = 10
MAX_LINE_BYTES = 10_000_000
# DuckDB keeps this much of a rejected record's text (measured, DuckDB 1.x/2.0): a longer one
# may hide swallowed lines.
REJECT_TEXT_CHARS = 10_000
# DuckDB's reject kinds in the words a data steward understands.
REJECT_REASONS = {
    "MISSING COLUMNS": "too few fields in this row",
    "TOO MANY COLUMNS": "too many fields in this row",
    "UNQUOTED VALUE": "a quote character inside an unquoted value",
    "LINE SIZE OVER MAXIMUM": "the row is longer than allowed",
    "INVALID ENCODING": "characters that are not valid in the file's encoding",
    "INVALID STATE": "the row cannot be read (unbalanced quotes)",
    "CAST": "a value cannot be read",
}


@dataclass
class Header:
    """What the first line of an export says: column names, delimiter, encoding to read with."""

    names: list[str]
    delimiter: str
    encoding: str
    is_excel: bool = False
    unexpected: list[str] = field(default_factory=list)
    # UTF-8 for certain (a BOM, or UTF-8 umlauts in the sample): a byte that is not valid UTF-8
    # damages its row, it does not make the file another encoding.
    utf8_proven: bool = False
    # The spreadsheet row of the header: 1, or below a title a workbook puts above it.
    row: int = 1
    # The lines of a text export up to the header's own (more than ``row`` when a quoted
    # title cell holds a line break).
    lines: int = 1


def _sniff(path: Path) -> bytes:
    with path.open("rb") as fh:
        return fh.read(SNIFF_BYTES)


def read_header(path: Path, profile: Profile) -> Header:
    """Column names of an export without reading its rows; rejects files that are no text table."""
    if path.suffix.lower() == ".xlsx":
        rows = _excel_sheet(path, nrows=MAX_TITLE_ROWS + 1)
        at = _header_row([[str(v).strip() for v in row if v not in (None, "")]
                          for row in rows], profile)
        names = profile_spelling([str(n).strip() for n in rows[at]], profile)
        return Header(names, "", "xlsx", is_excel=True, row=at + 1)
    head = _sniff(path)
    if not head.strip():
        raise FileRejected(path, "the file is empty")
    if head.startswith(UTF16_BOMS):
        # Excel's "Unicode-Text": UTF-16 with a BOM, tab-separated; transcoded like Windows-1252
        # (:func:`utf8_source`).
        whole = head[:len(head) - len(head) % 2].decode("utf-16", errors="replace")
        text = re.split("\r\n|\r|\n", whole, maxsplit=1)[0]
        return _header(path, profile, text, "utf-16", utf8_proven=False)
    if b"\x00" in head:
        raise FileRejected(path, "binary data, not a text export (contains NUL bytes)")
    valid, invalid = utf8_evidence(head)
    is_utf8 = head.startswith(UTF8_BOM) or not invalid or valid >= invalid
    encoding = "utf-8" if is_utf8 else profile.encoding
    # Rows as the CSV reader takes them: any line ending ends one (CR alone, of old Mac
    # exports, as well as LF and CRLF), except inside a quoted value.
    records = _head_records(head.removeprefix(UTF8_BOM), MAX_TITLE_ROWS + 1)
    at = _title_lines(path, profile, [r for r, _ in records], encoding)
    try:
        text = records[at][0].decode(encoding)
    except UnicodeDecodeError as exc:
        raise FileRejected(
            path, f"the header cannot be decoded as {encoding}: {exc.reason}"
        ) from exc
    if records[at][1] > 1:
        # A quote in the header (or a title) that does not close at its line end: the reader
        # would take the rows after it into the header, and the header's names would hold them.
        raise FileRejected(
            path, f"no header found: row {at + 1} runs over {records[at][1]} lines, a quote (\") "
                  "in it or above it opens a value that does not close at its line end; remove "
                  "the stray quote and deliver the file again")
    header = _header(path, profile, text, encoding, utf8_proven=head.startswith(UTF8_BOM) or (
        is_utf8 and valid > 0))
    header.row = at + 1
    header.lines = sum(n for _, n in records[:at + 1])
    return header


def _head_records(head: bytes, limit: int) -> list[tuple[bytes, int]]:
    """The first ``limit`` rows of a text export's start as DuckDB's CSV reader splits them
    (its ``skip`` counts these), each with the number of lines it spans: a quote opening a
    field (at the start of the line or after a delimiter) runs to the next quote that is not
    doubled, line ends included; elsewhere a quote is a character. A title over two lines in
    one quoted cell is one row, as a spreadsheet shows it."""
    records: list[tuple[bytes, int]] = []
    start = i = 0
    lines, quoted, field_start = 1, False, True
    while i < len(head) and len(records) < limit:
        c = head[i:i + 1]
        if quoted:
            if c == b'"':
                if head[i + 1:i + 2] == b'"':
                    i += 1  # a doubled quote inside the value
                else:
                    quoted = False
            elif c == b"\n" or (c == b"\r" and head[i + 1:i + 2] != b"\n"):
                lines += 1
        elif c == b'"' and field_start:
            quoted = True
        elif c in (b"\r", b"\n"):
            records.append((head[start:i], lines))
            i += 2 if head[i:i + 2] == b"\r\n" else 1
            start, lines, field_start = i, 1, True
            continue
        field_start = c in (b";", b",", b"\t")
        i += 1
    if len(records) < limit and start < len(head):
        # A quote open to the end: a line end there ends the last line, it starts none.
        records.append((head[start:], lines - head.endswith((b"\n", b"\r"))))
    return records or [(b"", 1)]


def _title_lines(path: Path, profile: Profile, lines: list[bytes], encoding: str) -> int:
    """How many rows of a title stand above the header of a text export
    (:func:`_header_row`)."""
    candidates: list[list[str]] = []
    for line in lines:
        try:
            candidates.append(_header(path, profile, line.decode(encoding), encoding,
                                      utf8_proven=False).names)
        except (UnicodeDecodeError, FileRejected):
            candidates.append([])
    return _header_row(candidates, profile)


def _header_row(candidates: list[list[str]], profile: Profile) -> int:
    """Which of an export's first rows (their cells as text) is the header: the first, unless it
    names fewer than two of the profile's columns and a row below it, within
    :data:`MAX_TITLE_ROWS`, names two or more (a report title, a date and empty rows above the
    table, as report tools write them). One rule for sheets and text files."""
    columns = _profile_columns(profile)
    for i, names in enumerate(candidates[:MAX_TITLE_ROWS + 1]):
        if len(set(profile_spelling([n for n in names if n], profile)) & columns) >= 2:
            return i
    return 0


def _header(path: Path, profile: Profile, text: str, encoding: str, *,
            utf8_proven: bool) -> Header:
    """The header of a text export from its first line, decoded."""
    # The profile's delimiter first; ',' and ';' both occur in the wild (Excel by locale).
    counts = {d: text.count(d) for d in (profile.delimiter, ";", ",", "\t")}
    delimiter = profile.delimiter if counts[profile.delimiter] else max(counts, key=counts.get)  # type: ignore[arg-type]
    try:
        first_row = next(csv.reader(io.StringIO(text), delimiter=delimiter), [])
    except csv.Error as exc:
        raise FileRejected(path, f"the header (row 1) cannot be read: {exc}") from exc
    names = [n.strip().lstrip("\ufeff") for n in first_row]
    while names and not names[-1]:
        names.pop()  # a delimiter at the end of the line (Excel, many exports): no column
    if len(names) < 2:
        raise FileRejected(path, f"the header has no '{profile.delimiter}'-separated columns")
    return Header(profile_spelling(names, profile), delimiter, encoding, utf8_proven=utf8_proven)


def _spelling(name: str) -> str:
    """A column name as compared with the profile's: Unicode form, case and spaces aside."""
    return " ".join(unicodedata.normalize("NFC", name).casefold().split())


def _profile_columns(profile: Profile) -> set[str]:
    """Every column any entity of the profile reads or knows as personal, and the department's."""
    columns = {profile.department.column} if profile.department else set()
    for mapping in profile.entities.values():
        columns |= mapping.read_columns() | set(mapping.personal_columns)
    return columns


def profile_spelling(names: list[str], profile: Profile) -> list[str]:
    """The header's names, each spelt as the profile spells the column when the two differ
    only in case, spaces (a non-breaking one too) or Unicode form (an umlaut composed or not):
    a vendor's new version that writes ``FALL-NR`` or ``Fall-Nr`` with a trailing non-breaking
    space still delivers the column ``Fall-Nr``. A name the profile has exactly stays as it is;
    two names that both become one column are then both that column, which
    :func:`repeated_columns` rejects when the column is read."""
    columns = _profile_columns(profile)
    spelt = {_spelling(c): c for c in sorted(columns)}
    exact = set(names) & columns
    return [n if n in exact or not n else spelt.get(_spelling(n), n) for n in names]


def _file_is_utf8(path: Path) -> bool:
    """Whether a file whose sample was plain ASCII is UTF-8 with damaged bytes rather than in
    another encoding (see :func:`warehouse.files.utf8_evidence`): the whole file counts."""
    valid, invalid = utf8_count(path)
    return valid >= invalid


def _excel_sheet(path: Path, nrows: int | None = None) -> list[list[Any]]:
    """The rows of a workbook's first visible worksheet (``nrows``: at most that many): a hidden
    sheet (an outdated copy kept in the workbook) is what nobody sees when checking the export."""
    from python_calamine import CalamineWorkbook, SheetTypeEnum, SheetVisibleEnum

    check_workbook(path)  # a zip bomb or an endless cell is rejected before it is unpacked
    try:
        book = CalamineWorkbook.from_path(str(path))
        visible = [m.name for m in book.sheets_metadata
                   if m.visible == SheetVisibleEnum.Visible and m.typ == SheetTypeEnum.WorkSheet]
        if not visible:
            raise FileRejected(path, "the workbook has no visible worksheet")
        sheet = book.get_sheet_by_name(visible[0])
        rows = sheet.to_python(skip_empty_area=False, nrows=nrows)
    except (FileRejected, *ENVIRONMENT_ERRORS):
        raise
    except Exception as exc:
        raise FileRejected(path, f"not a readable .xlsx workbook: {error_kind(exc)}") from exc
    if not rows:
        raise FileRejected(path, f"the workbook's first visible sheet ('{visible[0]}') is empty")
    return rows


def _excel_frame(path: Path, header: Header) -> tuple[pa.Table, np.ndarray]:
    """The first visible sheet of a workbook below its header row as text columns named as
    ``header`` names them (python-calamine: fast, no row loop here), and the rows left out for
    being empty (sheet rows). A repeated header name is kept once, for its first column: a
    repeated column that is read rejects the file (:func:`repeated_columns`).

    An empty row (no cell with a value) is no record, as a blank line of a text export is none:
    set aside as a row without its required values, a sheet with a spacer row every few rows
    would lose its rows to the share of rows set aside."""
    rows = _excel_sheet(path)
    names = header.names  # the header row, spelt as the profile spells it (:func:`read_header`)
    body = rows[header.row:]
    # The cells as one grid of objects (rows of a sheet are all as wide): its columns are
    # slices, no row is taken apart in Python.
    grid = np.array(body, object) if body else np.empty((0, len(names)), object)
    if grid.ndim != 2:  # rows of different widths (not seen from calamine): padded
        width = max(len(row) for row in body)
        grid = np.array([[*row, *[None] * (width - len(row))] for row in body], object)
    width = grid.shape[1]
    blank = (grid == "") | (grid == None)  # noqa: E711 (element by element)
    empty = np.flatnonzero(blank.all(axis=1))
    kept = grid[~blank.all(axis=1)]
    first = {n: i for i, n in reversed(list(enumerate(names)))}
    table = pa.table(
        {
            n: _column_text(kept[:, i])
            for i, n in enumerate(names[:width])
            if first[n] == i
        }
    )
    return table, empty + header.row + 1


def _cell_text(value: object) -> str | None:
    """Excel cells as the text a CSV export would hold (dates ISO, whole numbers without .0);
    one cell at a time, for the few values :func:`_column_text` does not convert itself."""
    if value is None or value == "":
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "isoformat"):
        return value.isoformat()[:10]
    return str(value)


def _column_text(column: np.ndarray) -> pa.Array:
    """A column of a sheet (the values python-calamine gives) as text, cell for cell what
    :func:`_cell_text` makes of it, converted per type of value with Arrow instead of one cell
    at a time (a sheet of 59,000 rows and 10 columns: 0.35 -> 0.14 CPU seconds; with
    calamine's read of the sheet 0.93 -> 0.63).
    A column mostly holds values of one type (and '' for its empty cells): the values of each
    type are converted together and put back in their places."""
    n = len(column)
    kinds = set(map(type, column))
    if len(kinds) <= 1:
        kind = next(iter(kinds), type(None))
        return _TEXT_OF.get(kind, _python_text)(column)
    types = np.fromiter(map(type, column), object, n)
    parts, places = [], []
    for kind in kinds:
        at = np.flatnonzero(types == kind)
        parts.append(_TEXT_OF.get(kind, _python_text)(column[at]))
        places.append(at)
    order = np.empty(n, np.int64)
    order[np.concatenate(places)] = np.arange(n)
    return pa.concat_arrays(parts).take(pa.array(order))


def _python_text(values: np.ndarray) -> pa.Array:
    return pa.array([_cell_text(v) for v in values], pa.string())


def _str_text(values: np.ndarray) -> pa.Array:
    text = pa.array(values, pa.string())
    return pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)


def _float_text(values: np.ndarray) -> pa.Array:
    """Whole numbers without '.0' (3.0 -> '3'), others as Python writes them. Arrow writes the
    same digits, but with an exponent in other places ('1.23456789012345e+13' for Python's
    '12345678901234.5', '0.00001' for '1e-05', '2.5e-7' for '2.5e-07'): its text is taken
    where neither writes one (Python: 0.0001 <= |x| < 1e16), the few others Python writes."""
    number = pa.array(values.astype(np.float64), pa.float64())
    size = pc.abs(number)
    whole = pc.and_(pc.equal(pc.floor(number), number), pc.less(size, 2.0**62))
    text = pc.if_else(whole, pc.cast(pc.cast(number, pa.int64(), safe=False), pa.string()),
                      pc.cast(number, pa.string()))
    plain = pc.or_(whole, pc.and_(pc.and_(pc.greater_equal(size, 1e-4), pc.less(size, 1e16)),
                                  pc.invert(pc.match_substring(text, "e"))))
    odd = np.flatnonzero(pc.invert(pc.fill_null(plain, False)).to_numpy(zero_copy_only=False))
    if not len(odd):
        return text
    written = text.to_numpy(zero_copy_only=False).astype(object)
    written[odd] = [_cell_text(v) for v in values[odd]]
    return pa.array(written, pa.string())


def _date_text(values: np.ndarray) -> pa.Array:
    return pc.cast(pc.cast(pa.array(values), pa.date32()), pa.string())


def _time_text(values: np.ndarray) -> pa.Array:
    """'12:30:00', with microseconds their first digit ('01:02:03.5'), as isoformat()[:10]."""
    text = pc.cast(pa.array(values, pa.time64("us")), pa.string())  # '12:30:00.000000'
    return pc.if_else(pc.ends_with(text, ".000000"), pc.utf8_slice_codeunits(text, 0, 8),
                      pc.utf8_slice_codeunits(text, 0, 10))


def _bool_text(values: np.ndarray) -> pa.Array:
    return pc.if_else(pa.array(values, pa.bool_()), "True", "False")


def _int_text(values: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(values, pa.int64()), pa.string())


# How the values of each type python-calamine gives become text, a column at a time. Any other
# type (a duration: timedelta) is written one cell at a time by _cell_text.
_TEXT_OF: dict[type, Any] = {
    type(None): lambda values: pa.nulls(len(values), pa.string()),
    str: _str_text,
    float: _float_text,
    int: _int_text,
    bool: _bool_text,
    dt.date: _date_text,
    dt.datetime: _date_text,
    dt.time: _time_text,
}


@contextlib.contextmanager
def utf8_source(path: Path, header: Header) -> Iterator[Path]:
    """A path DuckDB can read. UTF-8 files are read in place; Windows-1252 is transcoded into a
    temporary copy in the protected folder (it holds personal data) and deleted afterwards. A
    file whose rows end in line ends of more than one kind, which DuckDB's reader refuses as a
    whole, is read from a copy whose rows all end in LF (:func:`blank_rows.write_with_lf`):
    one line end for one, so every row keeps its number."""
    if header.is_excel:
        yield path
        return
    with _transcoded(path, header) as utf8:
        if not mixed_line_ends(utf8, header.delimiter):
            yield utf8
            return
        tmp = paths.protected_dir("tmp") / f"{uuid.uuid4().hex}.csv"
        try:
            write_with_lf(utf8, tmp, header.delimiter)
            yield tmp
        finally:
            tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def _transcoded(path: Path, header: Header) -> Iterator[Path]:
    """``path`` in UTF-8: itself, or a temporary copy in the protected folder."""
    encoding = header.encoding.replace("_", "-").lower()
    if encoding in ("utf-8", "utf8", "utf-8-sig"):
        yield path
        return
    tmp = paths.protected_dir("tmp") / f"{uuid.uuid4().hex}.csv"
    try:
        with path.open("r", encoding=header.encoding, newline="") as src, tmp.open(
            "w", encoding="utf-8", newline=""
        ) as dst:
            while chunk := src.read(1 << 24):
                dst.write(chunk)
    except UnicodeDecodeError as exc:
        tmp.unlink(missing_ok=True)
        raise FileRejected(
            path, f"cannot be decoded as {header.encoding} at byte {exc.start}: {exc.reason}"
        ) from exc
    try:
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)


def source_relation(
    con: duckdb.DuckDBPyConnection, path: Path, header: Header, source: Path,
    rejects: str = "rejects",
) -> str:
    """SQL for the rows of an export as text columns (``source``: from :func:`utf8_source`);
    rows the CSV reader cannot split go to its table ``rejects``."""
    if header.is_excel:
        frame, empty = _excel_frame(path, header)
        con.register("src", frame)
        con.register("src_empty_rows", pa.table({"row": empty}))
        return "src"
    columns = "{" + ", ".join(f"{_lit(n)}: 'VARCHAR'" for n in reader_names(header.names)) + "}"
    return (
        f"read_csv({_lit(str(source))}, delim={_lit(header.delimiter)}, quote='\"', "
        f"escape='\"', header=true, skip={header.row - 1}, auto_detect=false, columns={columns}, "
        f"store_rejects=true, rejects_table={_lit(rejects)}, "
        f"rejects_scan={_lit(rejects + '_scans')}, null_padding=false, strict_mode=true, "
        f"max_line_size={MAX_LINE_BYTES})"
    )


def reader_names(names: list[str]) -> list[str]:
    """The header's names as the CSV reader gets them: unique and not empty. A column without a
    name or repeating an earlier one is never read (:func:`repeated_columns` rejects a file that
    repeats a column it reads); it gets a name that says where it is."""
    seen: set[str] = set()
    out = []
    for i, name in enumerate(names, start=1):
        out.append(name if name and name not in seen else f"{name or '(no name)'} (column {i})")
        seen.add(out[-1])
    return out


def repeated_columns(names: list[str], read: set[str]) -> list[str]:
    """Columns of ``read`` that the header names more than once, with where ('X' (columns 1
    and 9)): which of them holds the values is unclear."""
    where: dict[str, list[str]] = {}
    for i, name in enumerate(names, start=1):
        where.setdefault(name, []).append(str(i))
    return [f"'{n}' (columns {' and '.join(w)})" for n, w in where.items()
            if n in read and len(w) > 1]


_q = sql_name
_lit = sql_text


def _typed_sql(name: str, fspec: FieldSpec, mapping: EntityMapping, profile: Profile) -> str:
    raw = f"raw_{name}"
    if fspec.type == "date":
        return _date_sql(raw, profile)
    if fspec.type in ("integer", "decimal"):
        # With a decimal comma a dot only groups thousands (1.234, 12.345.678): '1.5' is no 15.
        digits, mark = ("([0-9]+|[0-9]{1,3}([.][0-9]{3})+)", ",") if profile.decimal == "," else (
            "[0-9]+", ".")
        text = f"replace(replace({raw}, '.', ''), ',', '.')" if mark == "," else raw
        if fspec.type == "integer":
            return (
                f"case when regexp_full_match({raw}, '[+-]?{digits}') "
                f"then try_cast({text} as bigint) end"  # too many digits: not a number
            )
        return (
            f"case when regexp_full_match({raw}, '[+-]?{digits}([{mark}][0-9]+)?') "
            f"then cast({text} as double) end"
        )
    if fspec.codes:
        whens = " ".join(f"when {_lit(c)} then {_lit(c)}" for c in fspec.codes)
        source = f"coalesce({raw}, {_lit(fspec.default)})" if fspec.default else raw
        return f"case {source} {whens} end"
    return raw


def _date_sql(text: str, profile: Profile) -> str:
    formats = ", ".join(_lit(f) for f in (*profile.date_formats, "%Y-%m-%d"))
    return f"cast(try_strptime({text}, [{formats}]) as date)"


def _key_part_sql(column: str, mapping: EntityMapping, profile: Profile | None) -> str:
    """A column's text as part of a derived key. A date column is written in the profile's own
    format, so that 10.1.2024 and 2024-01-10 name the episode 10.01.2024 does (and keys of
    dates written that way stay as they were); text that is no date stays as it is, and its
    row is set aside by the date's own check."""
    cell = _cell_sql(column)
    spec = standard()[mapping.entity]
    is_date = any(col == column and spec.fields[f].type == "date"
                  for f, col in mapping.columns.items())
    if profile is None or not is_date:
        return cell
    date = _date_sql(cell, profile)
    # A year below 1000 is a short year ('24'): never normalised into a key.
    return (f"coalesce(case when year({date}) >= 1000 then strftime({date}, "
            f"{_lit(profile.date_formats[0])}) end, {cell})")


def _mapped_sql(text: str, values: dict[str, str], unmapped: str | None) -> str:
    """``text`` through a profile's value map; a text without a mapping becomes ``unmapped``
    (when given) or stays as it is."""
    if not values and unmapped is None:
        return text
    whens = " ".join(f"when {_lit(k)} then {_lit(v)}" for k, v in values.items())
    otherwise = _lit(unmapped) if unmapped is not None else text
    return f"case when {text} is null then null else case {text} {whens} else {otherwise} end end"


def _cell_sql(column: str) -> str:
    return f"nullif(trim({_q(column)}), '')"


def raw_field_sql(name: str, mapping: EntityMapping, profile: Profile | None = None
                  ) -> str | None:
    """The text of field ``name`` in one row, as the profile says to read it: one column through
    the value map, several columns joined into a derived key (dates in it normalised when the
    ``profile`` is given), or a constant (None: absent)."""
    if name in mapping.constants:
        return f"{_lit(mapping.constants[name])}::varchar"
    if name in mapping.derived_keys:
        columns = mapping.derived_keys[name]
        cells = [_cell_sql(c) for c in columns]
        parts = [_key_part_sql(c, mapping, profile) for c in columns]
        # A derived key needs every part: a missing part leaves the key missing, not shorter.
        return (f"case when {' and '.join(f'{c} is not null' for c in cells)} "
                f"then concat_ws('|', {', '.join(parts)}) end")
    if name in mapping.columns:
        return _mapped_sql(_cell_sql(mapping.columns[name]), mapping.values.get(name, {}),
                           mapping.unmapped.get(name))
    return None


def _checks_sql(
    spec: EntitySpec,
    profile: Profile,
    mapping: EntityMapping,
    plausible: Plausibility | None = None,
) -> list[tuple[str, str, str, str | None]]:
    """(condition that marks a row bad, field, reason, offending-value expression) in check
    order."""
    checks: list[tuple[str, str, str, str | None]] = []
    plausible = plausible or Plausibility()
    for name, fspec in spec.fields.items():
        raw = f"raw_{name}"
        shown = None if (fspec.personal or fspec.pseudonymise) else raw
        if fspec.required:
            checks.append((f"{raw} is null", name, "missing required value", None))
        if fspec.type == "date":
            checks.append(
                (f"{raw} is not null and {name} is null", name,
                 "not a valid date (expected DD.MM.YYYY or YYYY-MM-DD)", shown)
            )
            # strptime's %Y reads '24' as the year 24: the century is never guessed. ('0023'
            # has four digits: it is set aside as too early.)
            checks.append(
                (f"year({name}) < 1000 and not regexp_matches({raw}, '[0-9]{{4}}')", name,
                 "the year is not written with four digits (expected DD.MM.YYYY or YYYY-MM-DD)",
                 shown)
            )
        elif fspec.type in ("integer", "decimal"):
            checks.append((f"{raw} is not null and {name} is null", name, "not a number", shown))
            if fspec.minimum is not None:
                checks.append((f"{name} < {fspec.minimum}", name, f"below {fspec.minimum}", shown))
            if fspec.maximum is not None:
                checks.append((f"{name} > {fspec.maximum}", name, f"above {fspec.maximum}", shown))
        elif fspec.codes:
            allowed = ", ".join(sorted(mapping.values.get(name, {}) or fspec.codes))
            checks.append(
                (
                    f"{raw} is not null and {name} is null",
                    name,
                    f"unknown code (allowed: {allowed})",
                    shown,
                )
            )
        checks.extend(_plausibility_checks(name, fspec, plausible, shown))
    for rule in spec.rules:
        condition = " and ".join(f"{c}" for c in rule.check.split(" and "))
        checks.append((f"not coalesce({condition}, true)", rule.field, rule.reason, None))
    checks.append(("is_duplicate", spec.key[0], "duplicate key within the file", None))
    return checks


def _plausibility_checks(
    name: str, fspec: FieldSpec, plausible: Plausibility, shown: str | None
) -> list[tuple[str, str, str, str | None]]:
    """Checks of a well-formed value against the world: no dates before 1900 or in the future,
    known codes only."""
    checks: list[tuple[str, str, str, str | None]] = []
    if fspec.type == "date" and plausible.earliest_date is not None:
        earliest = plausible.earliest_date.isoformat()
        checks.append(
            (f"{name} < date {_lit(earliest)}", name,
             f"date before {plausible.earliest_date:%d.%m.%Y}: implausible", shown)
        )
    if fspec.type == "date" and plausible.latest_date is not None:
        latest = plausible.latest_date.isoformat()
        checks.append(
            (f"{name} > date {_lit(latest)}", name,
             f"date in the future (after {plausible.latest_date:%d.%m.%Y}): implausible", shown)
        )
    if name in plausible.allowed:
        codes = sorted(plausible.allowed[name])
        listed = ", ".join(_lit(c) for c in codes) or "null"
        source = plausible.allowed_from.get(name, "the reference data")
        known = ", ".join(codes) or "none"
        checks.append(
            (f"{name} is not null and {name} not in ({listed})", name,
             f"not in {source} (known: {known})", shown)
        )
    return checks


def _record_lines(rn: np.ndarray, reject_ordinals: np.ndarray) -> np.ndarray:
    """Spreadsheet row of each accepted record, given the ordinals of rejected records and
    blank lines (:func:`_not_accepted`).

    ``rn`` numbers accepted records 1, 2, ...; rejected records and blank lines took ordinals in
    between.
    """
    rejects = np.sort(reject_ordinals)
    accepted_before = rejects - 1 - np.arange(len(rejects))
    shift = np.searchsorted(accepted_before, rn - 1, side="right")
    return rn + shift + 1  # +1: the header is row 1


class _NotThisEncoding(Exception):
    """DuckDB found bytes that are not valid in the encoding the file was read with."""


@dataclass
class _Checked:
    """What one DuckDB pass found: rows written, rows failing a check, reader rejects."""

    accepted: int
    bad: list[tuple]
    reject_rows: list[tuple]
    checks: list[tuple[str, str, str, str | None]]
    header_row: int = 1
    no_region: int = 0  # accepted rows whose postcode gives no region
    blank: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))  # blank rows


def _not_accepted(reject_rows: list[tuple[int, str | None, str]], blank: np.ndarray,
                  header_row: int) -> np.ndarray:
    """Ordinals below the header (row ``header_row``) that hold no accepted record: the rows
    the reader rejected and the blank lines it skipped."""
    rows = np.concatenate((np.array([r[0] for r in reject_rows], np.int64), blank))
    return np.sort(rows) - header_row


@dataclass
class _Job:
    """What one pass over an export needs besides the file: how to map it, where to write."""

    profile: Profile
    mapping: EntityMapping
    spec: EntitySpec
    present: dict[str, str]
    target: Path
    constants: dict[str, str]
    sha256: str
    key: bytes | None
    plausible: Plausibility | None


def _run_sql(path: Path, header: Header, job: _Job) -> _Checked:
    """Read, type and check an export in DuckDB and write its accepted rows to ``target``.

    The file is parsed once, into one temporary table of the values that are stored and each
    row's first problem (checks are set-based SQL; only the duplicate-key check needs a second
    look, one hash aggregate). The quarantine, the distinct identifiers to pseudonymise and the
    accepted rows are all read from that table. Pseudonyms are HMACs computed by DuckDB itself
    (:func:`ingestion.pseudonymise.pseudonym_sql`): the entity's key in its row, references once
    per distinct value and joined back. The accepted rows go from DuckDB straight into Parquet, no
    row passes through Python.
    """
    profile, mapping, spec, present = job.profile, job.mapping, job.spec, job.present
    names = header.names
    with duckdb.connect() as con, utf8_source(path, header) as source:
        # Spill files hold personal data before pseudonymisation: only in the protected folder.
        con.execute(f"set temp_directory = {_lit(str(paths.protected_dir('tmp')))}")
        con.execute(f"set memory_limit = {_lit(DUCKDB_MEMORY_LIMIT)}")
        relation = source_relation(con, path, header, source)
        select_raw = ", ".join(
            f"{present.get(f, 'null::varchar')} as raw_{f}" for f in spec.fields
        )
        department = profile.department
        if department is not None and department.column in names:
            select_raw += f", {_cell_sql(department.column)} as raw__department"
        else:
            department = None
        typed = ", ".join(
            f"{_typed_sql(n, f, mapping, profile)} as {n}" for n, f in spec.fields.items()
        )
        checks = _checks_sql(spec, profile, mapping, job.plausible)
        # Every check but the duplicate key (the last) is decided row by row while parsing:
        # only the typed values that are stored, a problem code and the shown value are kept.
        *row_checks, _ = checks
        problem = "case " + " ".join(
            f"when {cond} then {i}" for i, (cond, _, _, _) in enumerate(row_checks)
        ) + " end"
        shown_whens = " ".join(
            f"when {i} then cast({expr} as varchar)"
            for i, (_, _, _, expr) in enumerate(row_checks)
            if expr
        )
        shown = f"case {problem} {shown_whens} end" if shown_whens else "null::varchar"
        keep, key_cols = _kept_columns(spec, department is not None)
        # The columns read (the cheap first look for blank records, :func:`_blank_records`).
        read = [n for n in reader_names(names) if n in mapping.read_columns() or (
            department is not None and n == department.column)]
        try:
            # The CSV is parsed once, into one table of what is stored plus each row's problem.
            con.execute(
                f"create temp table parsed as select rn, {', '.join(keep)}, "
                f"{problem} as problem0, {shown} as shown, is_blank from (select *, {typed} "
                f"from (select row_number() over () as rn, {select_raw}, "
                f"{_blank_record_sql(read)} as is_blank from {relation}))"
            )
        except ENVIRONMENT_ERRORS:
            raise  # the machine, not the file (ingestion.delivery.deliver)
        except duckdb.Error as exc:
            raise FileRejected(
                path,
                f"cannot be read as a '{header.delimiter}'-delimited file: {error_kind(exc)}",
            ) from exc
        records = _blank_records(con, path, header, source)
        reject_rows, blank = _rows_without_record(con, path, header, source,
                                                  known_columns(profile, mapping), records)
        _check_duplicates(con, mapping.primary, key_cols, len(row_checks))
        bad = con.execute(
            "select rn, problem, shown from checked where problem is not null order by rn"
        ).fetchall()

        out, joins = _stored_columns(con, spec, job.constants, job.key)
        if department is not None and "department_code" in out:
            mapped = _mapped_sql("c.raw__department", department.values, department.unmapped)
            out["department_code"] = f"coalesce({mapped}, {out['department_code']})"
        out["source_file"] = _lit(relative_to_inbox(path))
        out["source_line"] = (
            f"{_line_sql(con, _not_accepted(reject_rows, blank, header.row), joins)} "
            f"+ {header.row - 1}")
        out["source_sha256"] = _lit(job.sha256)
        order = output_schema(spec, list(job.constants)).names
        # Every column nullable, as in the table dlt creates: DuckDB would mark columns it proves
        # non-null as required in the Parquet schema, and dlt would then rewrite the whole file.
        select = ", ".join(
            f"case when c.problem is null then {out[n]} end as {_q(n)}" for n in order
        )
        # No order needed in the file (source_line says where a row came from): lets DuckDB write
        # in parallel without buffering.
        con.execute("set preserve_insertion_order = false")
        accepted = con.execute(
            f"copy (select {select} from checked as c {' '.join(joins)} "
            "where c.problem is null and not c.collapsed) "
            f"to {_lit(str(job.target))} (format parquet, compression {PARQUET_COMPRESSION}, "
            f"row_group_size {PARQUET_ROW_GROUP})"
        ).fetchall()[0][0]
        no_region = con.execute(
            "select count(*) from checked where problem is null and not collapsed and no_region"
        ).fetchall()[0][0] if "no_region" in con.table("parsed").columns else 0
    return _Checked(accepted, bad, reject_rows, checks, header.row, no_region, blank)


def _kept_columns(spec: EntitySpec, has_department: bool) -> tuple[list[str], list[str]]:
    """Columns of the parsed table besides row number and problem (stored fields, the
    department column, derived fields, raw keys where the stored value differs), and the key
    columns duplicates are found by."""
    keep = [f"{n}" for n, f in spec.fields.items() if not f.personal]
    if has_department:
        keep.append("raw__department")
    keep += [
        f"{'year(' + n + ')' if how == 'year' else _region_sql('raw_' + n)} as {out}"
        for n, f in spec.fields.items()
        for out, how in f.derive.items()
    ]
    # A postcode given that yields no region (four digits: a leading zero Excel dropped, or a
    # foreign code): the row loads without a region, and the steward hears how many.
    keep += [
        f"(nullif(trim(raw_{n}), '') is not null and {_region_sql('raw_' + n)} is null) "
        "as no_region"
        for n, f in spec.fields.items()
        for how in f.derive.values()
        if how == "postcode_region"
    ][:1]
    key_cols = []
    for k in spec.key:
        f = spec.fields[k]
        if f.personal or f.type != "string" or f.codes:
            keep.append(f"raw_{k} as key_{k}")
            key_cols.append(f"key_{k}")
        else:
            key_cols.append(k)  # the stored value is the raw one
    return keep, key_cols


def _reader_rejects(con: duckdb.DuckDBPyConnection, path: Path, header: Header
                    ) -> tuple[list[tuple[int, str | None, str]], list[tuple[int, int]],
                               list[int]]:
    """Lines the CSV reader rejected (line, column, error), one per line, where a rejected
    record swallowed lines (:func:`_with_swallowed_rows`), and the rejected lines that are blank
    (delimiters only, too few or too many: :func:`is_blank_line`); a wrong encoding or an
    oversized line rejects the whole file. In a file proven UTF-8 a byte that is not valid
    UTF-8 sets its row aside."""
    found: list[tuple[int, str | None, str, str | None]] = con.execute(
        # One row may be reported once per missing column: one quarantine row per line.
        # Errors of the whole line (its size) have no column: they sort first.
        "select line, arg_min(column_name, coalesce(column_idx, -1)), "
        "arg_min(error_type::varchar, coalesce(column_idx, -1)), "
        "arg_min(csv_line, coalesce(column_idx, -1)) "
        "from rejects group by line order by line"
    ).fetchall()
    if not header.utf8_proven and any(r[2] == "INVALID ENCODING" for r in found):
        raise _NotThisEncoding
    oversized = [r[0] for r in found if r[2] == "LINE SIZE OVER MAXIMUM"]
    if oversized:
        # A line this long is no export row: the file is broken, not one of its rows.
        raise FileRejected(
            path,
            f"line {oversized[0]} is longer than {MAX_LINE_BYTES:,} bytes"
            + (f" (and {len(oversized) - 1} more lines)" if len(oversized) > 1 else "")
            + "; a broken export, the whole file is rejected",
        )
    # Two rejected records under one row number: the reader lost count after a quote that never
    # closed (its text of the record may then be another line's). Which lines were swallowed
    # cannot be told, so nothing of the file loads rather than rows going missing.
    lost = con.execute(
        "select line from rejects group by line "
        "having count(distinct line_byte_position) > 1 order by line limit 1"
    ).fetchall()
    if lost:
        raise FileRejected(
            path,
            f"around row {lost[0][0]} a quoted value (\") never closes and the rows after it "
            "cannot be counted reliably; the whole file is rejected so that no row is lost: "
            "close the quote (or remove it) and deliver the file again",
        )
    return _with_swallowed_rows(path, found, header.delimiter)


def _with_swallowed_rows(path: Path, found: list[tuple[int, str | None, str, str | None]],
                         delimiter: str
                         ) -> tuple[list[tuple[int, str | None, str]], list[tuple[int, int]],
                                    list[int]]:
    """The reader's rejects (line, column, error, text) as rows of the file, one per line: a
    quote that never closes makes the reader take the following lines into one rejected record;
    each of them is a row of its own, set aside with the row whose quote swallowed it. The reader
    numbers records, so the rows after a swallowing record move down by what it swallowed: the
    reader's line of each such record and the lines it swallowed come out beside the rows."""
    rows: list[tuple[int, str | None, str]] = []
    spans: list[tuple[int, int]] = []
    blank: list[int] = []
    moved = 0
    for line, column, error, text in found:
        row = line + moved
        inside = _TEXT_LINE_BREAK.findall((text or "").strip("\r\n"))
        if not inside and is_blank_line(text or "", delimiter):
            blank.append(row)  # too few or too many delimiters, and nothing else: no row
            continue
        if inside and len(text or "") >= REJECT_TEXT_CHARS:
            raise FileRejected(
                path,
                f"row {row} opens a quoted value (\") that never closes: more than "
                f"{REJECT_TEXT_CHARS:,} characters of the following rows were read into it, the "
                "rows it swallowed cannot be counted; close the quote (or remove it) and deliver "
                "the file again",
            )
        if not inside:
            rows.append((row, column, error))
            continue
        swallowed = len(inside)
        rows.append((row, column, f"a quoted value (\") opens in this row and never closes: "
                                  f"the next {swallowed} row(s) were read into it"))
        rows += [(row + i, None, f"read into the unclosed quote of row {row}")
                 for i in range(1, swallowed + 1)]
        moved += swallowed
        spans.append((line, swallowed))
    return rows, spans, blank


def _blank_record_sql(names: list[str]) -> str:
    """SQL of whether the fields ``names`` of a record are all empty or spaces only (a line of
    delimiters, :func:`is_blank_line`), field by field only while the fields before are empty:
    for nearly every record one field."""
    spaces = _lit(BLANK_CHARACTERS.strip('"\r\n'))  # the reader took the quotes
    empty = [f"coalesce(trim({_q(n)}, {spaces}) = '', true)" for n in names] or ["true"]
    return "".join(f"case when {e} then " for e in empty[:-1]) + empty[-1] + (
        " else false end" * (len(empty) - 1))


def _blank_records(con: duckdb.DuckDBPyConnection, path: Path, header: Header,
                   source: Path) -> int:
    """Drops the records of the parsed table that are blank lines (every field empty: a line of
    delimiters, as Excel saves an empty row; :func:`is_blank_line`): they keep their place among
    the records (their numbers), nothing else. Returns the records the reader split.

    The parse looks only at the columns it reads (``is_blank``); only its candidates are looked
    at in every column, a second read of the file: a row with a note alone is a row. Reading
    every column in the parse cost 0.15 CPU seconds per 1M contacts of seven columns, each of
    them; a file without candidates pays nothing."""
    records, candidates = con.execute(
        "select count(*), count(*) filter (where is_blank) from parsed").fetchall()[0]
    if not candidates:
        return int(records)
    # The same reader as the parse (its rejects into a table of their own): the same records,
    # in the same order.
    relation = "src" if header.is_excel else source_relation(con, path, header, source,
                                                              rejects="rejects_blank")
    names = reader_names(header.names) if not header.is_excel else list(
        dict.fromkeys(header.names))
    con.execute(
        "delete from parsed where rn in (select rn from (select row_number() over () as rn, * "
        f"from {relation}) where rn in (select rn from parsed where is_blank) "
        f"and {_blank_record_sql(names)})"
    )
    return int(records)


def has_quote(path: Path) -> bool:
    """Whether a text file holds a quote character at all (a pass over its bytes that stops at
    the first): without one no value can run over a line end."""
    with path.open("rb") as fh:
        return any(b'"' in chunk for chunk in iter(lambda: fh.read(1 << 24), b""))


def line_count(path: Path) -> int:
    """Lines of a text file as an editor counts them: CR LF, LF and CR alone each end one, and
    a last line without an end counts too."""
    count, cr_before, last = 0, False, b""
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 24):
            count += chunk.count(b"\n") + chunk.count(b"\r") - chunk.count(b"\r\n")
            count -= cr_before and chunk.startswith(b"\n")  # CR LF across two chunks
            cr_before, last = chunk.endswith(b"\r"), chunk[-1:]
    return count + (last not in (b"", b"\n", b"\r"))


def _shape_sql(text: str) -> str:
    """What a value looks like, not what it says: runs of digits become 9, runs of letters a
    ('C-000123' and 'C-7' are both 'a-9')."""
    return (f"regexp_replace(regexp_replace(trim({text}), '[0-9]+', '9', 'g'), "
            "'\\pL+', 'a', 'g')")


def _lines_sql(text: str) -> str:
    """The lines of a text (CR LF, LF or CR alone), without a regular expression: cheap."""
    return f"string_split(replace(replace({text}, chr(13) || chr(10), chr(10)), chr(13), " \
           "chr(10)), chr(10))"


def _rows_without_record(con: duckdb.DuckDBPyConnection, path: Path, header: Header,
                         source: Path, known: set[str], records: int
                         ) -> tuple[list[tuple[int, str | None, str]], np.ndarray]:
    """The rows of an export that hold no record (the reader split ``records``): those the
    reader rejected and the blank lines it skipped (spreadsheet rows; a workbook's empty rows),
    lines of delimiters only it rejected among them; rejects the file when a stray quote
    swallowed rows."""
    if header.is_excel:
        empty = con.execute("select row from src_empty_rows order by row").fetchall()
        return [], np.array([r[0] for r in empty], np.int64)
    reject_rows, spans, blank_rejects = _reader_rejects(con, path, header)
    # With a quote a value may run over line ends: the file's lines are counted for that, and
    # only lines beyond the rows can be blank. Without one, a byte search looks for them.
    quoted = has_quote(source)
    extra_lines = line_count(source) - header.lines - records - len(reject_rows) - len(
        blank_rejects) if quoted else 1
    blank = blank_rows(source, header.delimiter, header.row) if extra_lines > 0 else np.empty(
        0, np.int64)
    if spans and len(blank):
        # Blank lines are found as the reader counts (a record one row, whatever it spans);
        # the lines a rejected record swallowed are rows of their own.
        at, swallowed = np.array(spans, np.int64).T
        blank = blank + np.concatenate(([0], np.cumsum(swallowed)))[np.searchsorted(at, blank)]
    empty_lines = len(blank)
    if blank_rejects:  # lines of delimiters only that the reader could not split: blank too
        blank = np.sort(np.concatenate((blank, np.array(blank_rejects, np.int64))))
    if quoted and extra_lines > empty_lines:  # a value runs over a line end
        _check_swallowed_rows(con, path, header, source, reject_rows, blank, known)
    return reject_rows, blank


def _check_swallowed_rows(con: duckdb.DuckDBPyConnection, path: Path, header: Header,
                          source: Path, reject_rows: list[tuple[int, str | None, str]],
                          blank: np.ndarray, known: set[str]) -> None:
    """Rejects the file when a quoted value the reader accepted runs over lines that look like
    rows of this file: a stray quote opening a value (a note starting with '"ich komme wieder')
    and a quote at the end of a later row closing it make the rows between one value, of a
    column that is often never read (notes); they would be lost without a word.

    A line inside such a value looks like a row when it holds as many delimiters as the header
    (a whole row: inside the value it cannot hold a quote, so no quoted ';' either), or when it
    holds a delimiter and its first field has the shape of the row's own first field (the last
    row swallowed, closed by a quote at the end of an earlier column). Several lines of free
    text, with a ';' here and there, are a note and load.

    Cost (CPU seconds; 1M contacts, 70 MB, extract 3.5, with dlt's load 4.8): a file without a
    quote character, 0.05 to look; with quotes, its lines are counted (by the caller), 0.13;
    only when there are more lines than title, header, records and blank lines, that is when
    some value runs over a line end, the file is read again for the values that do: 0.5 with
    17,000 two-line notes; the demo's 1.14M contacts with 130,000 of them, 4.6 -> 5.9 for the
    four files.
    Computing it in the one parse instead cost 0.15 for any file with quotes and, looking at
    the lines in lambdas, 2.3 (DuckDB evaluated them far beyond the rows with a line end). The
    values, the personal ones too, stay inside DuckDB: only row, column and line numbers come
    out.

    The whole file rather than the rows: the row that opened the value holds another row's
    fields after it, and the stray quote may as well be in one of the swallowed rows; which
    rows are whole cannot be told, so none is loaded.
    """
    names = reader_names(header.names)
    delimiter = _lit(header.delimiter)
    breaks = " or ".join(f"contains({_q(n)}, chr(10)) or contains({_q(n)}, chr(13))"
                         for n in names)
    cells = ", ".join(f"{{'col': {i}, 'v': {_q(n)}}}" for i, n in enumerate(names, start=1))
    first_line = f"split_part(split_part({_q(names[0])}, chr(10), 1), chr(13), 1)"
    delimiters = f"length(line) - length(replace(line, {delimiter}, ''))"
    # The same reader as the parse (its rejects into a table of their own): the same records,
    # in the same order.
    relation = source_relation(con, path, header, source, rejects="rejects_again")
    con.execute(
        f"create temp table spanning as "
        f"with hits as (select * from (select row_number() over () as rn, * from {relation}) "
        f"where {breaks}), "
        f"cells as (select rn, {first_line} as first_field, unnest([{cells}]) as cell "
        "from hits), "
        "spans as (select rn, cell.col as col, first_field, "
        f"{_lines_sql('cell.v')}[2:] as parts from cells "
        "where contains(cell.v, chr(10)) or contains(cell.v, chr(13))), "
        "lined as (select rn, col, first_field, len(parts) as breaks, unnest(parts) as line, "
        "generate_subscripts(parts, 1) as pos from spans), "
        # Row by row, not in a lambda: the shapes (regular expressions) only for the lines that
        # need them.
        f"judged as (select rn, col, breaks, pos, case when {delimiters} >= "
        f"{max(len(names) - 1, 1)} then true when not contains(line, {delimiter}) then false "
        f"else {_shape_sql(f'split_part(line, {delimiter}, 1)')} = {_shape_sql('first_field')} "
        f"and {_shape_sql('first_field')} <> '' end as row_like from lined), "
        "marked as (select rn, col, any_value(breaks) as breaks, "
        "min(pos) filter (where row_like) as row_like from judged group by rn, col) "
        # Line ends of earlier values push a row, and a line, down in an editor.
        "select rn, col, breaks, row_like, "
        "coalesce(sum(breaks) over (order by rn range between unbounded preceding and 1 "
        "preceding), 0) as rows_before, coalesce(sum(breaks) over (order by rn, col rows "
        "between unbounded preceding and 1 preceding), 0) as cells_before from marked"
    )
    found = con.execute(
        "select rn, col, breaks, row_like, rows_before, cells_before from spanning "
        "where row_like is not null order by rn, col"
    ).fetchall()
    if not found:
        return
    rn, col, spanned, first_like, rows_before, cells_before = found[0]
    skipped = _not_accepted(reject_rows, blank, header.row)
    row = int(_record_lines(np.array([rn]), skipped)[0]) + header.row - 1
    # In an editor, also a title cell over several lines pushes the rows down.
    rows_before += header.lines - header.row
    cells_before += header.lines - header.row
    # A column the profile does not know is named by its place: its name may be personal.
    name = header.names[col - 1]
    named = f" '{name}'" if name in known else ""
    more = f" ({len(found) - 1} more such value(s) in the file)" if len(found) > 1 else ""
    raise FileRejected(
        path,
        f"row {row} (line {row + rows_before} in a text editor), column {col}{named}: a quoted "
        f"value (\") runs over the next {spanned} line(s), and line "
        f"{row + cells_before + first_like} of the file looks like a row of its own{more}; a "
        "stray quote probably opened the value and a quote at the end of a later row closed it, "
        "the rows between would be lost. The whole file is rejected so that no row is lost: "
        "remove the stray quote (or double it) and deliver the file again",
    )


def _check_duplicates(con: duckdb.DuckDBPyConnection, primary: bool, key_cols: list[str],
                      duplicate_check: int) -> None:
    """The view ``checked``: each parsed row's problem, duplicate keys included (check number
    ``duplicate_check``), and whether it collapses into a later row of the same record."""
    keys = ", ".join(key_cols)
    if primary:
        # Later rows repeating a key: one hash aggregate, not a window over every row.
        con.execute(
            f"create temp table duplicates as select p.rn from parsed as p join ("
            f"select {keys}, min(rn) as first_rn from parsed where {key_cols[0]} is not null "
            f"group by {keys} having count(*) > 1) as d using ({keys}) where p.rn <> d.first_rn"
        )
        con.execute(
            "create temp view checked as select *, coalesce(problem0, case when rn in "
            f"(select rn from duplicates) then {duplicate_check} end) as problem, "
            "false as collapsed from parsed"
        )
    else:
        # An entity repeated on the rows of another (a client on each of her cases) is one
        # record: its last good row counts, the others are no error.
        con.execute(
            f"create temp table duplicates as select rn from parsed where problem0 is null "
            f"and {key_cols[0]} is not null qualify rn <> max(rn) over (partition by {keys})"
        )
        con.execute(
            "create temp view checked as select *, problem0 as problem, "
            "rn in (select rn from duplicates) as collapsed from parsed"
        )


def _stored_columns(con: duckdb.DuckDBPyConnection, spec: EntitySpec,
                    constants: dict[str, str], key: bytes | None
                    ) -> tuple[dict[str, str], list[str]]:
    """SQL of each stored column over ``checked as c`` (identifiers pseudonymised), and the
    joins it needs."""
    use_key_in_sql(con, key)
    joins = []
    out: dict[str, str] = {n: f"{_lit(v)}::varchar" for n, v in constants.items()}
    for n, f in spec.fields.items():
        if f.pseudonymise and not f.personal and list(spec.key) == [n]:
            # A key is distinct on every stored row: its HMAC is computed in the row itself.
            out[n] = pseudonym_sql(f"c.{n}")
        elif f.pseudonymise and not f.personal:
            # Other identifiers repeat (a case on each of its contacts): HMAC once per distinct
            # value, then a hash join.
            con.execute(
                f"create temp table pseudo_{n} as select v, {pseudonym_sql('v')} as p from ("
                f"select distinct {n} as v from parsed where {n} is not null)"
            )
            joins.append(f"left join pseudo_{n} on pseudo_{n}.v = c.{n}")
            out[n] = f"pseudo_{n}.p"
        elif not f.personal:
            out[n] = f"c.{n}"
        for derived in f.derive:
            out[derived] = f"c.{derived}"
    return out, joins


def _line_sql(con: duckdb.DuckDBPyConnection, ordinals: np.ndarray, joins: list[str]) -> str:
    """SQL of an accepted row's line counted from the header (row 1; add the rows above it) in
    the file, given the ordinals of the rows that hold no accepted record
    (:func:`_not_accepted`; adds the join it needs to ``joins``)."""
    if not len(ordinals):
        return "c.rn + 1"  # the header is row 1
    # Reader rejects and blank lines took line numbers between accepted records: shift by
    # those before.
    before = ordinals - 1 - np.arange(len(ordinals))
    con.register(
        "shifts",
        pa.table({"accepted_before": before, "shift": np.arange(1, len(before) + 1)})
        .group_by("accepted_before").aggregate([("shift", "max")]),
    )
    joins.append("asof left join shifts as s on c.rn > s.accepted_before")
    return "c.rn + coalesce(s.shift_max, 0) + 1"


def _missing_columns(missing: list[str], entity: str, profile: str, names: list[str],
                     known: set[str]) -> str:
    """Why a file lacks required columns. Of the header it names only the columns the profile
    knows: in a file without a header line the first row stands there, a client's name, birth
    date and address among it, and this reason is logged, shown and published."""
    found = ", ".join(n for n in names if n in known) or "-"
    others = len([n for n in names if n and n not in known])
    return (f"required column(s) {', '.join(missing)} missing for {entity} (profile {profile}); "
            f"the profile's columns in the header: {found}; {others} other column(s), not shown")


def known_columns(profile: Profile, mapping: EntityMapping) -> set[str]:
    """The columns a file of this mapping may have: read by one of its entities, the department
    column, or known personal columns (never read)."""
    known = {profile.department.column} if profile.department else set()
    for m in profile.entities_of(mapping):
        known |= m.read_columns() | set(m.personal_columns)
    return known


def output_schema(spec: EntitySpec, extra_columns: list[str]) -> pa.Schema:
    """All columns an entity stores: where it came from, the standard's fields, lineage.

    ``extra_columns`` are constant text columns: the context (organisation, department) first;
    ``_dlt_load_id`` (when given) last, where dlt puts it.
    """
    fields = [pa.field(k, pa.string()) for k in extra_columns if k != LOAD_ID_COLUMN]
    fields += list(spec.output_schema())
    fields += [pa.field("source_file", pa.string()), pa.field("source_line", pa.int64()),
               pa.field("source_sha256", pa.string())]
    if LOAD_ID_COLUMN in extra_columns:
        fields.append(pa.field(LOAD_ID_COLUMN, pa.string()))
    return pa.schema(fields)


def write_export(
    path: Path,
    profile: Profile,
    mapping: EntityMapping,
    outcome: FileOutcome,
    context_columns: dict[str, str],
    target: Path,
    key: bytes | None = None,
    plausible: Plausibility | None = None,
) -> int:
    """Parse one export into the standard and write its accepted rows to the Parquet file
    ``target`` (columns of :func:`output_schema`); bad rows go to ``outcome.quarantine``.

    ``context_columns`` are constant columns of every row (organisation, department, and
    ``_dlt_load_id`` when dlt imports the file as it is). ``key`` is the pseudonymisation key
    (default: the configured one). ``plausible``: reference codes and the latest valid date
    (default: only the earliest valid date). Returns the number of accepted rows. Raises
    :class:`FileRejected` for problems of the whole file. The entity is the standard's
    ``mapping.entity``.
    """
    spec = standard()[mapping.entity]
    header = read_header(path, profile)
    names = header.names
    sources = {**{f: (c,) for f, c in mapping.columns.items()}, **mapping.derived_keys}
    missing = [
        f"'{col}' (for {fld})"
        for fld, cols in sources.items()
        for col in cols
        if spec.fields[fld].required and col not in names
    ]
    known = known_columns(profile, mapping)
    if missing:
        raise FileRejected(path, _missing_columns(missing, spec.name, profile.name, names, known))
    read = {c for m in profile.entities_of(mapping) for c in m.read_columns()}
    if profile.department is not None:
        read.add(profile.department.column)
    if repeated := repeated_columns(names, read):
        raise FileRejected(
            path,
            f"the header names column(s) {', '.join(repeated)} more than once; which one holds "
            "the values is unclear: rename or remove the repeated column and deliver it again",
        )
    outcome.unexpected_columns = list(dict.fromkeys(n for n in names if n and n not in known))
    outcome.title_rows = header.row - 1
    # Incomplete is not wrong: an optional column the profile maps but the file lacks loads as
    # empty values, and the steward hears of it.
    outcome.missing_columns = list(dict.fromkeys(
        f"{col} ({fld})" for fld, cols in sources.items() for col in cols
        if not spec.fields[fld].required and col not in names))
    present = {
        fld: sql
        for fld in spec.fields
        if all(c in names for c in sources.get(fld, ()))
        and (sql := raw_field_sql(fld, mapping, profile)) is not None
    }
    job = _Job(
        profile, mapping, spec, present, target, context_columns, outcome.sha256, key, plausible
    )

    try:
        checked = _run_sql(path, header, job)
    except _NotThisEncoding:
        if _file_is_utf8(path):
            header.utf8_proven = True  # UTF-8 umlauts after the sample: damaged rows set aside
        elif header.encoding == profile.encoding:
            raise FileRejected(
                path, f"contains bytes that are not valid {header.encoding}"
            ) from None
        else:
            header.encoding = profile.encoding  # the UTF-8 guess was wrong: read it as declared
        checked = _run_sql(path, header, job)
    bad, reject_rows, checks = checked.bad, checked.reject_rows, checked.checks

    outcome.rows_read = len(bad) + checked.accepted + len(reject_rows)
    outcome.rows_loaded = checked.accepted
    outcome.postcodes_without_region = checked.no_region
    reject_ordinals = _not_accepted(reject_rows, checked.blank, checked.header_row)
    source_file = relative_to_inbox(path)
    if reject_rows:
        outcome.quarantine.append(
            _quarantine(
                source_file, outcome.sha256, spec.name,
                [r[0] for r in reject_rows],
                [_field_of(r[1], mapping) for r in reject_rows],
                [REJECT_REASONS.get(r[2]) or str(r[2]).lower() for r in reject_rows],
                [None] * len(reject_rows),
            )
        )
    if bad:
        lines = _record_lines(np.array([b[0] for b in bad], dtype=np.int64), reject_ordinals)
        lines += checked.header_row - 1  # rows of a title above the header
        outcome.quarantine.append(
            _quarantine(
                source_file, outcome.sha256, spec.name, lines.tolist(),
                [checks[b[1]][1] for b in bad], [checks[b[1]][2] for b in bad], [b[2] for b in bad],
            )
        )
    return checked.accepted


def parse_export(
    path: Path,
    profile: Profile,
    mapping: EntityMapping,
    spec: EntitySpec,
    outcome: FileOutcome,
    context_columns: dict[str, str],
    key: bytes | None = None,
    plausible: Plausibility | None = None,
) -> pa.Table:
    """:func:`write_export` as an Arrow table in memory (for validation and small files)."""
    target = scratch_parquet()
    try:
        write_export(path, profile, mapping, outcome, context_columns, target, key, plausible)
        table = pq.read_table(target).cast(output_schema(spec, list(context_columns)))
        return table.sort_by("source_line")  # rows in file order
    finally:
        target.unlink(missing_ok=True)


def empty_table(spec: EntitySpec, extra_columns: list[str]) -> pa.Table:
    """No rows, all columns an entity stores (see :func:`output_schema`)."""
    return output_schema(spec, extra_columns).empty_table()


def _region_sql(raw: str) -> str:
    """The 3-digit region of a German postcode, also written ``D-04315`` or ``DE 04315``; any
    other value (four digits: a lost leading zero, or an Austrian or Swiss postcode) none."""
    code = f"regexp_replace(trim({raw}), '^(DE|D)[- ]?', '')"
    return f"case when regexp_full_match({code}, '[0-9]{{5}}') then left({code}, 3) end"


def _field_of(column: str | None, mapping: EntityMapping) -> str:
    """The standard field behind an export column (or the column's own name)."""
    if column is None:
        return "(row)"
    for fld, col in mapping.columns.items():
        if col == column:
            return fld
    return column


def _quarantine(
    source_file: str,
    sha: str,
    entity: str,
    lines: list[int],
    fields: list[str],
    reasons: list[str],
    values: list[str | None],
) -> pa.Table:
    n = len(lines)
    return pa.table(
        {
            "source_file": pa.repeat(source_file, n),
            "source_sha256": pa.repeat(sha, n),
            "entity": pa.repeat(entity, n),
            "source_line": pa.array(lines, pa.int64()),
            "field": pa.array(fields, pa.string()),
            "reason": pa.array(reasons, pa.string()),
            "offending_value": pa.array(values, pa.string()),
        }
    )
