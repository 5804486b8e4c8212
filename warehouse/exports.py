"""Department exports: each pilot department gets its own rows of the published marts, nightly.

What each department receives is configured per organisation in
``inbox/reference/<org>/departments.yml`` (the organisation's reference data, beside
``departments.csv``; the demo set-up writes one)::

    organisation_code: swm          # optional: defaults to the folder name
    defaults:                       # optional: for departments that do not say otherwise
      formats: [xlsx, csv, parquet]
      retention: 14                 # dated folders kept per department
    departments:
      - code: SB
        marts: [fct_cases, mart_finance_by_cost_centre_month]
        formats: [xlsx, csv]        # optional, else the defaults

Nothing is suppressed here, on purpose: a department gets its own cases row by row (pseudonymised),
for its own staff, who know those clients; a count, contact or hour it could add up from them
tells it nothing it does not hold. What others read (the impact reports, the open data) is
suppressed (:mod:`warehouse.report_suppression`).

After each publication, :func:`export_departments` writes, for every configured department,
``exports/<department>/<date>/`` with one file per mart and format holding only the rows whose
``department_code`` (and ``organisation_code``, where the mart has one) is the department's, and a
``manifest.json`` (rows, bytes and sha256 per file, generation, run id). The folder is written
under a temporary name and renamed into place; ``exports/<department>/latest`` is a symlink,
swapped atomically, to the newest. It reads the kept file of the current generation
(``published/generations/``), never ``build.duckdb`` and never ``marts.duckdb``, which an analyst
may hold open read-write.

Formats: ``xlsx`` for a department head (a first sheet "Erläuterungen", then the mart under a
short German name, split at Excel's 1,048,576 rows; German headers and code texts from
:mod:`warehouse.labels`, number formats per column, widths, frozen header, filter), ``csv`` for
German Excel with the same headers and texts (``;``, decimal comma, ``DD.MM.YYYY`` dates,
rates as ``83,33 %``, ``WAHR``/``FALSCH``, UTF-8 with BOM, CRLF) and ``parquet`` for analysts
(the mart's own names and codes). Delivered text that a spreadsheet would run as a formula
(``=``, ``+``, ``-``, ``@``, tab, CR first) stays text: a string cell with Excel's quote prefix
in xlsx, a leading ``'`` in CSV (OWASP's advice).
"""

from __future__ import annotations

import csv
import ctypes
import ctypes.util
import datetime as dt
import decimal
import functools
import hashlib
import json
import math
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml

from warehouse import erasure, labels, marts, paths, reasons, settings
from warehouse.files import sha256_file
from warehouse.publish import generation_source
from warehouse.registry import Registry, unknown_keys

# The formats departments.yml may name; WRITERS (below) must hold a writer for each.
FORMATS = ("xlsx", "csv", "parquet")
# Part of every export's content fingerprint: raise it when the same rows come out differently
# (labels, number formats, a writer), so that every department's export is written again.
EXPORT_VERSION = 3  # 2: rates in CSV as percentages; 3: lists of codes in German
DEFAULT_RETENTION = 14  # two weeks of nightly folders: a department notices a gap within that
# Export folders are named by the organisation's calendar day; times in files are local too.
LOCAL_TZ = ZoneInfo("Europe/Berlin")
EXCEL_MAX_ROWS = 1_048_576  # per sheet, header included
EXCEL_MAX_SHEET_NAME = 31
DATED = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_KNOWN_KEYS = {"organisation_code", "defaults", "departments"}
_DEPARTMENT_KEYS = {"code", "marts", "formats", "retention"}


class ExportConfigError(ValueError):
    """``departments.yml`` is wrong: the message names the file, the entry and the fix."""


@dataclass(frozen=True)
class DepartmentExport:
    """What one department receives."""

    organisation_code: str
    code: str
    marts: tuple[str, ...]
    formats: tuple[str, ...]
    retention: int
    config: Path

    @property
    def name(self) -> str:
        """How logs and folders name it: ``<organisation>/<department>`` in a federation, whose
        members may use the same department codes; else the department code."""
        return f"{self.organisation_code}/{self.code}" if settings.federation() else self.code

    @property
    def folder(self) -> Path:
        """``exports/<department>/``, in a federation ``exports/<organisation>/<department>/``."""
        return paths.department_exports_dir(
            self.code, self.organisation_code if settings.federation() else None)


@dataclass(frozen=True)
class ExportResult:
    department: str
    folder: Path
    date: str
    generation: str
    files: list[dict[str, Any]]
    pruned: list[str]
    unchanged: bool = False  # its rows were those of its latest export: nothing was rewritten




def _formats(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise ExportConfigError(f"{where}: 'formats' must be a list of {', '.join(FORMATS)}")
    unknown = [f for f in value if f not in FORMATS]
    if unknown:
        raise ExportConfigError(
            f"{where}: unknown format(s) {', '.join(map(str, unknown))}; use {', '.join(FORMATS)}"
        )
    return tuple(dict.fromkeys(value))


def _retention(value: Any, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ExportConfigError(f"{where}: 'retention' must be a whole number of at least 1, "
                                f"got {value!r}")
    return value


def load_config(path: Path) -> list[DepartmentExport]:
    """The departments configured in one ``departments.yml``."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ExportConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ExportConfigError(f"{path}: expected a mapping with 'departments'")
    unknown = unknown_keys(data, _KNOWN_KEYS)
    if unknown:
        raise ExportConfigError(f"{path}: {unknown}")
    organisation = str(data.get("organisation_code") or path.parent.name)
    defaults = data.get("defaults") or {}
    default_formats = _formats(defaults.get("formats", list(FORMATS)), f"{path}: defaults")
    default_retention = _retention(defaults.get("retention", DEFAULT_RETENTION),
                                   f"{path}: defaults")
    entries = data.get("departments")
    if not isinstance(entries, list):
        raise ExportConfigError(f"{path}: 'departments' must be a list of entries with a 'code'")
    departments = [
        _department(path, i, entry, organisation, default_formats, default_retention)
        for i, entry in enumerate(entries, start=1)
    ]
    codes = [d.code for d in departments]
    duplicates = sorted({c for c in codes if codes.count(c) > 1})
    if duplicates:
        raise ExportConfigError(f"{path}: department(s) listed twice: {', '.join(duplicates)}")
    _check_known_departments(path, organisation, codes)
    return departments


def _department(path: Path, i: int, entry: Any, organisation: str,
                default_formats: tuple[str, ...], default_retention: int) -> DepartmentExport:
    """Entry ``i`` of the file's ``departments`` list, checked."""
    where = f"{path}: departments entry {i}"
    if not isinstance(entry, dict) or not entry.get("code"):
        raise ExportConfigError(f"{where}: each entry needs a 'code' (the department code)")
    where = f"{path}: department {entry['code']}"
    try:
        paths.checked_code(str(entry["code"]), "department code")
    except paths.InvalidCodeError as exc:
        raise ExportConfigError(f"{where}: {exc}") from exc
    unknown = unknown_keys(entry, _DEPARTMENT_KEYS)
    if unknown:
        raise ExportConfigError(f"{where}: {unknown}")
    marts = entry.get("marts")
    if isinstance(marts, str):
        marts = [marts]
    if not isinstance(marts, list) or not marts or not all(isinstance(m, str) for m in marts):
        raise ExportConfigError(f"{where}: 'marts' must be a list of published mart names")
    return DepartmentExport(
        organisation_code=organisation,
        code=str(entry["code"]),
        marts=tuple(dict.fromkeys(marts)),
        formats=_formats(entry["formats"], where) if "formats" in entry else default_formats,
        retention=(_retention(entry["retention"], where) if "retention" in entry
                   else default_retention),
        config=path,
    )


def _check_known_departments(path: Path, organisation: str, codes: Sequence[str]) -> None:
    """A typo in a code would silently export nothing: codes must be in departments.csv."""
    reference = path.with_name("departments.csv")
    if not reference.is_file():
        return
    with reference.open(encoding="utf-8-sig", newline="") as fh:
        known = {row.get("department_code") for row in csv.DictReader(fh)}
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise ExportConfigError(
            f"{path}: unknown department(s) {', '.join(unknown)} for {organisation}; "
            f"departments.csv beside it lists {', '.join(sorted(k for k in known if k))}"
        )


def load_all_configs(config_files: Sequence[Path] | None = None) -> list[DepartmentExport]:
    """Departments of every organisation's ``departments.yml``; a code used twice is an error
    (exports are filed by department code; in a federation by organisation and department)."""
    files = paths.departments_configs() if config_files is None else list(config_files)
    departments = [d for path in files for d in load_config(path)]
    seen: dict[str, DepartmentExport] = {}
    for d in departments:
        if d.name in seen:
            raise ExportConfigError(
                f"department {d.name} is configured in {seen[d.name].config} and in "
                f"{d.config}: {d.folder} would mix two departments; rename one")
        seen[d.name] = d
    return departments


def validate_against_publication(con: duckdb.DuckDBPyConnection,
                                 departments: Sequence[DepartmentExport]) -> None:
    """Every configured mart is published and may go to departments (``meta.department_export``
    in its dbt YAML names a column it has); else a config error."""
    columns: dict[str, set[str]] = {}
    for table, column in con.execute(
        "select table_name, column_name from information_schema.columns "
        "where table_schema = 'main'"
    ).fetchall():
        columns.setdefault(table, set()).add(column)
    published = sorted(t for t in columns if not t.startswith("_"))
    for d in departments:
        for mart in d.marts:
            if mart not in columns:
                raise ExportConfigError(
                    f"{d.config}: department {d.code} asks for '{mart}', which is not published "
                    f"(published marts: {', '.join(published)})")
            by = marts.department_column(mart)
            if by is None:
                raise ExportConfigError(
                    f"{d.config}: department {d.code} asks for '{mart}', which its dbt YAML "
                    "does not give to departments (no meta.department_export); remove it from "
                    "the list")
            if by not in columns[mart]:
                raise ExportConfigError(
                    f"{d.config}: department {d.code} asks for '{mart}', which has no {by} "
                    "column, so it cannot be limited to one department; remove it from the list")
            if settings.federation() and "organisation_code" not in columns[mart]:
                # Members share department codes: without it, rows of another would go out.
                raise ExportConfigError(
                    f"{d.config}: department {d.code} asks for '{mart}', which has no "
                    "organisation_code column, so in a federation it cannot be limited to one "
                    "organisation; remove it from the list")



# OWASP CSV injection: a cell starting with one of these is a formula to a spreadsheet.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str) -> str:
    """Text a spreadsheet would run as a formula, prefixed with ``'`` so it stays text."""
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


@dataclass(frozen=True)
class Sheet:
    """One mart's rows as a department reads them: German headers, code texts, formats."""

    mart: str
    table: pa.Table
    columns: list[labels.Column]

    @classmethod
    def of(cls, mart: str, table: pa.Table) -> Sheet:
        return cls(mart, table, labels.columns(mart, table.column_names))

    @property
    def headers(self) -> list[str]:
        """German labels, unique within the sheet (a repeated label gets its column name)."""
        seen = [c.label for c in self.columns]
        return [c.label if seen.count(c.label) == 1 else f"{c.label} ({c.name})"
                for c in self.columns]

    def values(self, i: int) -> pa.ChunkedArray:
        """Column ``i`` with its codes replaced by their German text and English texts
        (``meta.translate``, such as the reason a file was rejected) by their German one."""
        column = self.table.column(i)
        if self.columns[i].translate and pa.types.is_string(column.type):
            english = pc.unique(column).drop_null()
            german = pa.array([labels.german_text(self.columns[i], t)
                               for t in english.to_pylist()], pa.string())
            return pc.take(german, pc.index_in(column, value_set=english))
        code_list = self.columns[i].codes
        if not code_list or not pa.types.is_string(column.type):
            return column
        # Each distinct value once (labels.code_text: also lists of codes; an unknown code is
        # shown as delivered).
        codes = pc.unique(column).drop_null()
        german = pa.array([labels.code_text(code_list, c) for c in codes.to_pylist()],
                          pa.string())
        return pc.take(german, pc.index_in(column, value_set=codes))


@functools.singledispatch
def _csv_value(value: Any) -> str:
    """One value as German Excel reads it (by its type; text is neutralised)."""
    return neutralise(str(value))


@_csv_value.register(type(None))
def _(value: None) -> str:
    return ""


@_csv_value.register
def _(value: bool) -> str:
    return "WAHR" if value else "FALSCH"


@_csv_value.register
def _(value: int) -> str:
    return str(value)


@_csv_value.register
def _(value: float) -> str:
    if math.isnan(value) or math.isinf(value):
        return ""
    text = repr(value)
    if "e" in text or "E" in text:
        text = f"{decimal.Decimal(text):f}"
    return text.removesuffix(".0").replace(".", ",")


@_csv_value.register
def _(value: decimal.Decimal) -> str:
    return f"{value:f}".replace(".", ",")


@_csv_value.register
def _(value: dt.datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(LOCAL_TZ).replace(tzinfo=None)
    return value.strftime("%d.%m.%Y %H:%M:%S")


@_csv_value.register
def _(value: dt.date) -> str:
    return value.strftime("%d.%m.%Y")


@_csv_value.register(list)
@_csv_value.register(dict)
def _(value: list[Any] | dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _csv_texts(values: pa.Array) -> list[str]:
    """One column's values as :func:`_csv_value` writes them, one value at a time. An Arrow
    column gives values of one Python type (and None): the formatter is looked up once per
    type, not once per value."""
    formats: dict[type, Callable[[Any], str]] = {}
    texts = []
    for value in values.to_pylist():
        kind = type(value)
        format_ = formats.get(kind)
        if format_ is None:
            format_ = formats[kind] = _csv_value.dispatch(kind)
        texts.append(format_(value))
    return texts


def _csv_text_column(values: pa.Array) -> list[str]:
    """Text as :func:`_csv_value` writes it (:func:`neutralise`), the whole column at once."""
    formula = pc.match_substring_regex(
        values, "^[" + "".join(re.escape(c) for c in FORMULA_TRIGGERS) + "]")
    quoted = pc.if_else(formula, pc.binary_join_element_wise("'", values, ""), values)
    return pc.fill_null(quoted, "").to_pylist()


def _csv_integer_column(values: pa.Array) -> list[str]:
    return pc.fill_null(pc.cast(values, pa.string()), "").to_pylist()


def _csv_boolean_column(values: pa.Array) -> list[str]:
    texts = pc.if_else(values, pa.scalar("WAHR"), pa.scalar("FALSCH"))
    return pc.fill_null(texts, "").to_pylist()


def _csv_date_column(values: pa.Array) -> list[str]:
    """Dates as ``date.strftime("%d.%m.%Y")`` writes them, the whole column at once where Arrow
    writes the same: Python does not pad a year before 1000 to four digits, Arrow does."""
    years = pc.min_max(pc.year(values))
    if years["min"].is_valid and not 1000 <= years["min"].as_py() <= years["max"].as_py() <= 9999:
        return _csv_texts(values)
    texts = pc.strftime(values.cast(pa.timestamp("s")), format="%d.%m.%Y")
    return pc.fill_null(texts, "").to_pylist()


# Columns whose texts Arrow writes as :func:`_csv_value` would, a column at a time (the first
# matching type test); any other column is formatted a value at a time (:func:`_csv_texts`).
_CSV_COLUMNS: tuple[tuple[Callable[[pa.DataType], bool], Callable[[pa.Array], list[str]]], ...] = (
    (lambda t: pa.types.is_string(t) or pa.types.is_large_string(t), _csv_text_column),
    (pa.types.is_integer, _csv_integer_column),
    (pa.types.is_boolean, _csv_boolean_column),
    (pa.types.is_date, _csv_date_column),
)


def _csv_column(values: pa.Array) -> list[str]:
    """One column's texts in the CSV."""
    format_ = next((f for test, f in _CSV_COLUMNS if test(values.type)), _csv_texts)
    return format_(values)


def _csv_percent_column(values: pa.Array) -> list[str]:
    """A rate (0.8333) as German Excel reads a percentage: ``83,33 %``, not a bare 0,8333 that
    a reader takes for less than one percent (the workbook shows it by its number format)."""
    texts = []
    for value in values.to_pylist():
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            texts.append("")
            continue
        percent = (decimal.Decimal(repr(value) if isinstance(value, float) else value)
                   * 100).normalize()
        texts.append(f"{percent:f}".replace(".", ",") + " %")
    return texts


def _csv_rows(columns: Sequence[pa.ChunkedArray],
              kinds: Sequence[str] = ()) -> Iterator[Iterable[Sequence[str]]]:
    """The rows' texts for the CSV, 50,000 rows at a time (formatted column by column; a
    column of kind ``percent`` as a percentage)."""
    table = pa.table({str(i): c for i, c in enumerate(columns)})
    percent = {i for i, kind in enumerate(kinds) if kind == "percent"
               and (pa.types.is_floating(columns[i].type) or pa.types.is_decimal(columns[i].type))}
    for batch in table.to_batches(max_chunksize=50_000):
        yield zip(*[_csv_percent_column(column) if i in percent else _csv_column(column)
                    for i, column in enumerate(batch.columns)], strict=True)


def write_csv(sheet: Sheet, path: Path) -> None:
    """CSV for German Excel: German headers and code texts, UTF-8 with BOM, ``;``, decimal
    comma, rates as percentages (``83,33 %``), CRLF; text that a spreadsheet would run as a
    formula starts with ``'``."""
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh, delimiter=";", lineterminator="\r\n")
        writer.writerow([neutralise(h) for h in sheet.headers])
        columns = [sheet.values(i) for i in range(sheet.table.num_columns)]
        for rows in _csv_rows(columns, [c.kind for c in sheet.columns]):
            writer.writerows(rows)


# Excel number formats (stored in the file in Excel's neutral syntax; German Excel shows
# 1.234,56 € and 69,0 %).
_NUMBER_FORMATS = {
    "percent": "0.0%",
    "euro": '#,##0.00 "€"',
    "integer": "#,##0",
    "year": "0",
    "decimal": "#,##0.0#",
    "date": "dd.mm.yyyy",
    "datetime": "dd.mm.yyyy hh:mm",
    "text": "@",
}
# Widths in characters; a column is at least as wide as its header (up to 40).
_WIDTHS = {"year": 6, "percent": 9, "euro": 14, "integer": 9, "decimal": 10, "date": 11,
           "datetime": 17, "text": 12, "": 8}
MAX_WIDTH = 40


def _display(column: labels.Column, type_: pa.DataType) -> str:
    """How a column is shown: its kind by name (percent, euro), else by its type."""
    if column.kind:
        return column.kind
    return next((kind for test, kind in _KIND_BY_TYPE if test(type_)), "")


# The first matching Arrow type test gives a column's display kind (a key of _NUMBER_FORMATS).
_KIND_BY_TYPE: tuple[tuple[Callable[[pa.DataType], bool], str], ...] = (
    (pa.types.is_integer, "integer"),
    (lambda t: pa.types.is_floating(t) or pa.types.is_decimal(t), "decimal"),
    (pa.types.is_timestamp, "datetime"),
    (pa.types.is_date, "date"),
    (lambda t: pa.types.is_string(t) or pa.types.is_large_string(t), "text"),
)


def _excel_column(values: pa.ChunkedArray) -> pa.ChunkedArray:
    """Arrow types the writer stores as Excel numbers and dates."""
    type_ = values.type
    if pa.types.is_decimal(type_):
        return values.cast(pa.float64())
    if pa.types.is_timestamp(type_) and type_.tz is not None:
        local = pc.local_timestamp(values.cast(pa.timestamp(type_.unit, str(LOCAL_TZ))))
        return local
    if pa.types.is_date(type_):
        return values.cast(pa.timestamp("s"))
    if pa.types.is_floating(type_):
        return pc.if_else(pc.is_finite(values), values, pa.scalar(None, type_))
    if pa.types.is_nested(type_):
        return pa.chunked_array([pa.array(
            [None if v is None else json.dumps(v, ensure_ascii=False, default=str)
             for v in values.to_pylist()], pa.string())], pa.string())
    return values


def _width(kind: str, header: str, values: pa.ChunkedArray) -> float:
    width = _WIDTHS.get(kind, 8)
    if kind == "text" and len(values):
        longest = pc.max(pc.utf8_length(values)).as_py() or 0
        width = max(width, longest + 1)
    return float(min(max(width, len(header) + 2), MAX_WIDTH))


def _explanations(sheets: Sequence[Sheet], about: dict[str, str]) -> pd.DataFrame:
    rows = []
    for sheet in sheets:
        by_name = dict(zip([c.name for c in sheet.columns], sheet.headers, strict=True))
        for column, header in zip(sheet.columns, sheet.headers, strict=True):
            rows.append({"Tabelle": labels.sheet_name(sheet.mart), "Spalte": header,
                         "Erläuterung": column.description,
                         "Fallzahl (n) in Spalte": by_name.get(column.n or "", column.n or ""),
                         "Technischer Name": column.name})
    rows.append(dict.fromkeys(rows[0] if rows else ["Tabelle"], ""))
    for key, value in about.items():
        rows.append({"Tabelle": key, "Spalte": value})
    return pd.DataFrame(rows).fillna("")


def write_xlsx(sheets: Sequence[Sheet], path: Path, about: dict[str, str]) -> None:
    """A workbook for a department head: first the sheet "Erläuterungen" (each column's label,
    explanation and n-column, and ``about``: generation, run, ...), then one sheet per mart
    with German headers and code texts, number formats per column, widths, a frozen header
    row and a filter; continued on further sheets beyond Excel's row limit.

    Text is written as text, never as a formula, and marked with Excel's quote prefix, so a
    value like ``=HYPERLINK(...)`` stays text even when someone edits the cell."""
    import rustpy_xlsxwriter as rx

    # The writer declares its sheets as dict rows or Any; it reads DataFrames directly.
    entries: list[tuple[str, Any]] = [("Erläuterungen", _explanations(sheets, about))]
    formats: dict[str, dict[str, rx.Format] | list[rx.Format]] = {}
    widths: dict[str, dict[str, float] | list[float]] = {
        "Erläuterungen": {"Tabelle": 28, "Spalte": 34, "Erläuterung": 70,
                          "Fallzahl (n) in Spalte": 24, "Technischer Name": 30}}
    filters: dict[str, bool] = {"Erläuterungen": True}
    header = rx.Format().set_bold().set_text_wrap().set_align("top")
    per_sheet = EXCEL_MAX_ROWS - 1
    for sheet in sheets:
        headers = sheet.headers
        data: dict[str, pa.ChunkedArray] = {}
        column_formats: dict[str, rx.Format] = {}
        column_widths: dict[str, float] = {}
        for i, (column, title) in enumerate(zip(sheet.columns, headers, strict=True)):
            values = sheet.values(i)
            kind = _display(column, values.type)
            data[title] = _excel_column(values)
            column_widths[title] = _width(kind, title, values)
            if kind == "text":
                column_formats[title] = rx.Format().set_quote_prefix()
            elif kind:
                column_formats[title] = rx.Format().set_num_format(_NUMBER_FORMATS[kind])
        frame = pa.table(data).to_pandas()
        base = labels.sheet_name(sheet.mart)
        n_parts = max(1, math.ceil(len(frame) / per_sheet))
        for part in range(n_parts):
            suffix = "" if part == 0 else f" ({part + 1})"
            name = base[: EXCEL_MAX_SHEET_NAME - len(suffix)] + suffix
            entries.append((name, frame.iloc[part * per_sheet:(part + 1) * per_sheet]))
            formats[name], widths[name], filters[name] = column_formats, column_widths, True
    rx.write_worksheets(
        entries, str(path),
        freeze_panes={"general": {"row": 1, "col": 0}},
        column_formats=formats, column_widths=widths, autofilter=filters,
        header_format={name: header for name, _ in entries},
    )


def write_parquet(sheet: Sheet, path: Path) -> None:
    """The mart's rows as published (English column names and codes, for analysts)."""
    pq.write_table(sheet.table, path, compression="zstd")


# A format's writer: one mart's sheet to one file, with the facts of the export ("about").
Writer = Callable[[Sheet, Path, Mapping[str, str]], None]


def _write_xlsx_sheet(sheet: Sheet, path: Path, about: Mapping[str, str]) -> None:
    write_xlsx([sheet], path, dict(about))


def _without_about(write: Callable[[Sheet, Path], None]) -> Writer:
    def writer(sheet: Sheet, path: Path, about: Mapping[str, str]) -> None:
        write(sheet, path)

    writer.__doc__ = write.__doc__
    return writer


# One writer per format of FORMATS: a format without one fails here, at import.
WRITERS: Registry[Writer] = Registry("export format", {
    "xlsx": _write_xlsx_sheet,
    "csv": _without_about(write_csv),
    "parquet": _without_about(write_parquet),
}, declared=FORMATS)




_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd = -100
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE)
    return bool(result == 0)


def _swap_in(tmp: Path, final: Path) -> None:
    """Rename the finished folder ``tmp`` to ``final``; an existing ``final`` (a second export
    on the same day) is exchanged atomically where the system allows it, then removed."""
    if not final.exists():
        os.rename(tmp, final)
        return
    if _exchange(tmp, final):
        shutil.rmtree(tmp)
        return
    old = final.with_name(f".old-{final.name}-{uuid.uuid4().hex}")
    os.rename(final, old)
    os.rename(tmp, final)
    shutil.rmtree(old)


def _point_latest(department_dir: Path, name: str) -> None:
    latest = department_dir / "latest"
    if latest.is_dir() and not latest.is_symlink():
        # a copy of the data directory made without keeping symlinks (cp -r, copytree)
        shutil.rmtree(latest)
    link = department_dir / f".latest-{uuid.uuid4().hex}"
    os.symlink(name, link)
    os.replace(link, latest)


def _prune(department_dir: Path, retention: int, organisation: str | None = None) -> list[str]:
    """Remove all but the newest ``retention`` dated folders, and (given the ``organisation`` of
    a department export) every folder exported before the latest erasure of the organisation's
    clients; never the one ``latest`` points to."""
    dated = sorted(p.name for p in department_dir.iterdir() if p.is_dir() and DATED.match(p.name))
    removed = _remove_dated(department_dir, dated[: max(len(dated) - retention, 0)])
    erased_at = None if organisation is None else erasure.last_erasure_at(organisation)
    if erased_at is not None:
        removed += _remove_dated(department_dir, [
            name for name in dated if name not in removed
            and _exported_before(department_dir / name, erased_at)])
    return removed


def _remove_dated(department_dir: Path, names: Sequence[str]) -> list[str]:
    latest = department_dir / "latest"
    keep_name = os.readlink(latest) if latest.is_symlink() else None
    removed = []
    for name in names:
        if name != keep_name:
            shutil.rmtree(department_dir / name)
            removed.append(name)
    return removed


def _exported_before(folder: Path, at: dt.datetime) -> bool:
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        return dt.datetime.fromisoformat(manifest["exported_at"]) < at
    except (OSError, ValueError, KeyError):
        return True  # a folder without a readable manifest cannot show it is newer


def drop_exports_before(organisation: str, at: dt.datetime) -> list[Path]:
    """Remove the organisation's dated export folders written before ``at`` (an erasure), but
    the one each department's ``latest`` points to: the department reads it until the next
    export replaces it, and that export's prune removes it. Returns the folders removed."""
    removed: list[Path] = []
    root = paths.exports_dir()
    if not root.is_dir():
        return removed
    for department_dir in sorted({m.parent.parent for m in [
            *root.glob("*/*/manifest.json"), *root.glob("*/*/*/manifest.json")]
            if DATED.match(m.parent.name)}):
        mine = [p.name for p in department_dir.iterdir() if p.is_dir() and DATED.match(p.name)
                and _export_of(p, organisation) and _exported_before(p, at)]
        removed += [department_dir / name for name in _remove_dated(department_dir, mine)]
    return removed


def _export_of(folder: Path, organisation: str) -> bool:
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return True  # whose it is cannot be told: it may hold the client
    return bool(manifest.get("organisation_code") == organisation)




def today() -> dt.date:
    """The organisation's calendar day (the nightly run at 02:00 Berlin time is that day's)."""
    return dt.datetime.now(LOCAL_TZ).date()


def publication_day(manifest: dict[str, Any]) -> dt.date:
    """The organisation's calendar day of a publication: the day (Berlin) its generation became
    current, after a rollback the day of the rollback. The exports and reports made from it are
    that day's, decided once in its manifest: a run that crosses midnight writes one day's."""
    since = manifest.get("current_since") or manifest["published_at"]
    return dt.datetime.fromisoformat(str(since)).astimezone(LOCAL_TZ).date()


def _department_filter(con: duckdb.DuckDBPyConnection, mart: str,
                       d: DepartmentExport) -> tuple[str, list[str]]:
    columns = {r[0] for r in con.execute(
        "select column_name from information_schema.columns "
        "where table_schema = 'main' and table_name = ?", [mart]).fetchall()}
    where, params = f'"{marts.department_column(mart)}" = ?', [d.code]
    if "organisation_code" in columns:
        where += " and organisation_code = ?"
        params.append(d.organisation_code)
    return where, params


def _department_rows(con: duckdb.DuckDBPyConnection, mart: str,
                     d: DepartmentExport) -> pa.Table:
    where, params = _department_filter(con, mart, d)
    # A stable order: the same generation always gives the same rows in the same order.
    return con.sql(f'select * from main."{mart}" where {where} order by all',
                   params=params).to_arrow_table()


def content_fingerprint(con: duckdb.DuckDBPyConnection, d: DepartmentExport) -> str:
    """SHA-256 of what the department receives: its marts' columns and rows (in any order), the
    German sheet names, column labels, code texts and reasons' German texts, and its formats.
    Equal fingerprints mean an export would write the same content again."""
    digest = hashlib.sha256(f"{EXPORT_VERSION}|{','.join(d.formats)}".encode())
    digest.update(repr(sorted(labels.code_labels().items())).encode())
    digest.update(reasons.fingerprint().encode())
    for mart in d.marts:
        digest.update(repr((labels.sheet_name(mart),
                            sorted(labels.described_columns(mart).items()))).encode())
        columns = con.execute(
            "select string_agg(column_name || ' ' || data_type, ', ' order by ordinal_position) "
            "from information_schema.columns where table_schema = 'main' and table_name = ?",
            [mart]).fetchall()[0][0]
        where, params = _department_filter(con, mart, d)
        rows, xor, total = con.execute(
            "select count(*), coalesce(bit_xor(hash(t)), 0), coalesce(sum(hash(t)::hugeint), 0) "
            f'from (select * from main."{mart}" where {where}) as t', params).fetchall()[0]
        digest.update(f"|{mart}|{columns}|{rows}|{xor}|{total}".encode())
    return digest.hexdigest()


def _latest_manifest(department_dir: Path) -> dict[str, Any] | None:
    path = department_dir / "latest" / "manifest.json"
    try:
        manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest


def _impact_report(d: DepartmentExport, date: str) -> str | None:
    """The department's impact report of the same day, relative to ``DATENWERK_HOME``."""
    from warehouse.reports import latest_report

    return latest_report(d.organisation_code, d.code, date)


def _export_one(con: duckdb.DuckDBPyConnection, d: DepartmentExport, manifest: dict[str, Any],
                date: str, rewrite_unchanged: bool = False) -> ExportResult:
    department_dir = d.folder
    department_dir.mkdir(parents=True, exist_ok=True)
    fingerprint = content_fingerprint(con, d)
    latest = _latest_manifest(department_dir)
    if not rewrite_unchanged and latest is not None and latest.get("fingerprint") == fingerprint:
        return ExportResult(d.name, (department_dir / "latest").resolve(), str(latest["date"]),
                            str(latest["generation"]), list(latest["files"]), [], unchanged=True)
    for leftover in department_dir.glob(".tmp-*"):  # from an interrupted earlier export
        shutil.rmtree(leftover, ignore_errors=True)
    tmp = department_dir / f".tmp-{date}-{uuid.uuid4().hex}"
    tmp.mkdir()
    files: list[dict[str, Any]] = []
    about = {"Fachbereich": d.code, "Träger": d.organisation_code,
             "Stand": dt.date.fromisoformat(date).strftime("%d.%m.%Y"),
             "Generation": str(manifest["generation"]), "Lauf": str(manifest.get("run_id") or ""),
             "Veröffentlicht": _csv_value(dt.datetime.fromisoformat(manifest["published_at"]))}
    try:
        for mart in d.marts:
            table = _department_rows(con, mart, d)
            sheet = Sheet.of(mart, table)
            for fmt in d.formats:
                target = tmp / f"{mart}.{fmt}"
                WRITERS[fmt](sheet, target, about)
                files.append({"file": target.name, "mart": mart, "format": fmt,
                              "rows": table.num_rows, "bytes": target.stat().st_size,
                              "sha256": sha256_file(target)})
        (tmp / "manifest.json").write_text(json.dumps({
            "department_code": d.code,
            "organisation_code": d.organisation_code,
            "date": date,
            "generation": manifest["generation"],
            "run_id": manifest.get("run_id"),
            "published_at": manifest["published_at"],
            "exported_at": dt.datetime.now(dt.UTC).isoformat(),
            "config": str(d.config),
            "impact_report": _impact_report(d, date),
            "fingerprint": fingerprint,
            "files": files,
        }, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        _swap_in(tmp, department_dir / date)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    _point_latest(department_dir, date)
    pruned = _prune(department_dir, d.retention, d.organisation_code)
    return ExportResult(d.name, department_dir / date, date, manifest["generation"], files, pruned)


def export_departments(
    departments: Sequence[DepartmentExport] | None = None,
    manifest: dict[str, Any] | None = None,
    date: dt.date | None = None,
    rewrite_unchanged: bool = False,
) -> list[ExportResult]:
    """Write every configured department's export of ``date`` (default the generation's
    :func:`publication_day`) from the current (or given) generation. A second export on the same
    day replaces that day's folder: after a rollback, its day's folder holds the restored
    generation.

    A department whose rows (and formats) are those of its latest export keeps that export
    (``unchanged`` in its result), unless ``rewrite_unchanged``."""
    departments = load_all_configs() if departments is None else list(departments)
    if not departments:
        return []
    manifest, source = generation_source(manifest, "department exports")
    day = (date or publication_day(manifest)).isoformat()
    with duckdb.connect(str(source), read_only=True) as con:
        validate_against_publication(con, departments)
        return [_export_one(con, d, manifest, day, rewrite_unchanged) for d in departments]
