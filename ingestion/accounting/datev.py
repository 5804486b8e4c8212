"""A reader for DATEV exports (``EXTF`` / ``DTVF``): Buchungsstapel and Kontenbeschriftungen.

Line 1 is a header of up to 31 fields, line 2 the column headings, then one record per line.
The reader is columnar (Arrow compute and numpy, no Python loop over rows), reads a file a batch
of lines at a time and has no Datenwerk dependencies, so it can be used on its own::

    header, headings, dialect = read_header(path)
    stapel = read_buchungsstapel(path)       # bookings, problems (bad lines), control totals
    stapel = read_buchungsstapel(path, write)  # each batch of bookings to write(), as it is read
    labels = read_account_labels(path)       # data category 20

What it accepts (``formats/`` holds the column catalogues of format versions 9-13):

* ``DTVF`` (written by DATEV) and ``EXTF`` (written by other programs); version 510 with format
  version 7, version 700 with format versions 9-13; data category 21 and the 22 some exporters
  write for a Buchungsstapel; category 20 (account labels).
* Windows-1252 (the standard), UTF-8 and UTF-8 with BOM; CRLF or LF (not CR alone); ``;`` or
  ``,`` as delimiter (see :func:`sniff_dialect`); ``""`` inside quoted text.
* Columns are mapped by position when the file has exactly the columns of its (known) format
  version and no heading contradicts that, otherwise by normalised name (hyphen vs en dash,
  ``Basisumsatz``/``Basis-Umsatz``, ``Kost1``/``KOST1``, ``Konto``/``Kontonummer``, umlauts).

Every physical line is one record: blank lines (also of nothing but delimiters) are skipped, a
line whose quotation marks do not pair up is set aside whole instead of swallowing the lines after
it (see :func:`read_buchungsstapel`), and the control totals count physical lines.

A whole file that cannot be read raises :class:`DatevFormatError` with a message that says what
was found; a bad line becomes a row of :attr:`Buchungsstapel.problems` (line, field, reason).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache, lru_cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from warehouse.files import is_blank_line, utf8_count
from warehouse.reasons import error_kind

FORMATS_DIR = Path(__file__).with_name("formats")
CATALOGUED_VERSIONS = (9, 10, 11, 12, 13)
CATEGORY_ACCOUNT_LABELS = 20
CATEGORIES_BUCHUNGSSTAPEL = (21, 22)  # 22: written for a Buchungsstapel by at least one exporter
CATEGORY_NAMES = {
    16: "Debitoren/Kreditoren",
    20: "Kontenbeschriftungen",
    21: "Buchungsstapel",
    46: "Zahlungsbedingungen",
    48: "Diverse Adressen",
    65: "Wiederkehrende Buchungen",
}
SUPPORTED_VERSIONS = "510 with format version 7, 700 with format versions 9-13"
UTF8_BOM = b"\xef\xbb\xbf"
MONEY = pa.decimal128(18, 2)
# DATEV's Umsatz has 10 digits before the comma (format description); 13 leaves headroom and
# still fits decimal(18, 2) after summing millions of lines.
AMOUNT_PATTERN = r"^\d{1,13}(,\d{1,2})?$"

# Catalogue label -> output column. Only these are read: the other ~110 columns hold addresses,
# bank details and free text that the finance marts do not need (and should not store).
KEPT_COLUMNS = {
    "Umsatz (ohne Soll/Haben-Kz)": "amount_raw",
    "Soll/Haben-Kennzeichen": "debit_credit",
    "WKZ Umsatz": "currency_raw",
    "Basis-Umsatz": "base_amount_raw",
    "WKZ Basis-Umsatz": "base_currency_raw",
    "Kontonummer": "account",
    "Gegenkonto (ohne BU-Schlüssel)": "contra_account",
    "BU-Schlüssel": "tax_key",
    "Belegdatum": "document_date_raw",
    "Belegfeld 1": "document_number",
    "Buchungstext": "posting_text",
    "Kost 1 - Kostenstelle": "cost_centre_1",
    "Kost 2 - Kostenstelle": "cost_centre_2",
    "Kost-Menge": "cost_quantity_raw",
    "Generalumkehr (GU)": "reversal_flag",
}
REQUIRED_COLUMNS = (
    "Umsatz (ohne Soll/Haben-Kz)", "Soll/Haben-Kennzeichen", "Kontonummer",
    "Gegenkonto (ohne BU-Schlüssel)", "Belegdatum",
)
# Heading variants and short forms seen in the wild that normalisation alone does not reduce to
# a catalogue name (the catalogue's own labels and aliases win over these).
HEADING_VARIANTS = {
    "Konto": "Kontonummer",
    "Kto": "Kontonummer",
    "Kontonr": "Kontonummer",
    "Gegenkonto": "Gegenkonto (ohne BU-Schlüssel)",
    "Gegenkto": "Gegenkonto (ohne BU-Schlüssel)",
    "GKonto": "Gegenkonto (ohne BU-Schlüssel)",
    "Gegenkontonummer": "Gegenkonto (ohne BU-Schlüssel)",
    "Umsatz": "Umsatz (ohne Soll/Haben-Kz)",
    "Betrag": "Umsatz (ohne Soll/Haben-Kz)",
    "Soll/Haben": "Soll/Haben-Kennzeichen",
    "S/H": "Soll/Haben-Kennzeichen",
    "S/H-Kz": "Soll/Haben-Kennzeichen",
    "Soll/Haben-Kz": "Soll/Haben-Kennzeichen",
    "WKZ": "WKZ Umsatz",
    "Währung": "WKZ Umsatz",
    "BU": "BU-Schlüssel",
    "BU-Schl": "BU-Schlüssel",
    "Steuerschlüssel": "BU-Schlüssel",
    "Datum": "Belegdatum",
    "Belegnummer": "Belegfeld 1",
    "Beleg-Nr": "Belegfeld 1",
    "Rechnungsnummer": "Belegfeld 1",
    "Text": "Buchungstext",
    "KOST1": "Kost 1 - Kostenstelle",
    "KOST2": "Kost 2 - Kostenstelle",
    "Kostenstelle": "Kost 1 - Kostenstelle",
    "Kostenstelle 1": "Kost 1 - Kostenstelle",
    "Kostenstelle 2": "Kost 2 - Kostenstelle",
    "Kostenträger": "Kost 2 - Kostenstelle",
    "Kostmenge": "Kost-Menge",
    "Menge": "Kost-Menge",
    "Generalumkehr": "Generalumkehr (GU)",
    "GU": "Generalumkehr (GU)",
}
# Text columns whose DATEV length limit is enforced: keys that a longer value cannot be (DATEV's
# own import refuses them, and a longer value usually means the columns have shifted).
TEXT_LIMITED = ("Belegfeld 1", "Kost 1 - Kostenstelle", "Kost 2 - Kostenstelle")
# Stands for one letter whose bytes a transfer damaged: U+FFFD (bytes that were not valid in the
# encoding they were read with), UTF-8 read as Windows-1252/Latin-1 (`Ã¼` for ü, `ÃŸ` for ß),
# or `?` inside a word (a converter that could not map the character).
DAMAGED = "\x00"
_DAMAGE = re.compile(r"Ã.|\ufffd|(?<=\w)\?(?=\w)")
# One damaged letter: a plain letter or digit, or an umlaut as it is spelled out after
# normalising. A run of damage marks (one per byte of a multi-byte letter) stands for 1-n letters.
_ONE_LETTER = "(?:ae|oe|ue|ss|[a-z0-9])"

BOOKING_SCHEMA = pa.schema([
    ("amount_eur", MONEY),  # signed relative to `account`: debit +, credit -
    ("amount_unsigned_eur", MONEY),
    ("debit_credit", pa.string()),
    ("is_reversal", pa.bool_()),
    ("currency_code", pa.string()),  # WKZ Umsatz as delivered (EUR when empty)
    ("account", pa.string()),
    ("contra_account", pa.string()),
    ("tax_key", pa.string()),
    ("document_date", pa.date32()),
    ("document_number", pa.string()),
    ("posting_text", pa.string()),
    ("cost_centre_1", pa.string()),
    ("cost_centre_2", pa.string()),
    ("cost_quantity", pa.decimal128(16, 4)),
    ("source_line", pa.int64()),
])
PROBLEM_SCHEMA = pa.schema([
    ("source_line", pa.int64()),
    ("field", pa.string()),
    ("reason", pa.string()),
    ("offending_value", pa.string()),  # the failing field only, never the whole line
    ("amount_eur", MONEY),  # signed amount of the line where it could be read
])
LABEL_SCHEMA = pa.schema([
    ("account", pa.string()),
    ("account_label", pa.string()),
    ("language_id", pa.string()),
    ("source_line", pa.int64()),
])


class DatevFormatError(ValueError):
    """The file as a whole cannot be read; ``reason`` says what was found and what to do."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path.name}: {reason}")
        self.path = path
        self.reason = reason


@dataclass(frozen=True)
class Dialect:
    """How the file is written: character encoding and field delimiter."""

    encoding: str  # cp1252 | utf-8 | utf-8-sig | ascii
    delimiter: str  # ; or ,


@dataclass(frozen=True)
class DatevHeader:
    """The meaning-bearing fields of a DATEV header line (line 1)."""

    format_kind: str  # EXTF (written by another program) or DTVF (written by DATEV)
    version: int  # 510 or 700
    data_category: int  # 21 (or 22) Buchungsstapel, 20 Kontenbeschriftungen
    format_name: str
    format_version: int
    created_at: datetime | None  # field 6, Erzeugt am
    consultant_number: str  # field 11, Berater
    client_number: str  # field 12, Mandant
    fiscal_year_start: date  # field 13, WJ-Beginn
    account_length: int  # field 14, Sachkontennummernlänge
    period_from: date | None  # field 15, Datum vom
    period_to: date | None  # field 16, Datum bis
    description: str  # field 17, Bezeichnung
    currency: str  # field 22, EUR when empty
    chart_of_accounts: str | None  # field 27, SKR as "SKR04"; None when empty
    header_fields: int  # number of fields in line 1 (31 in current files)

    def as_row(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class ControlTotals:
    """Totals taken from the file's text before any line is validated or dropped.

    The warehouse must hold exactly ``amount_eur - quarantined_amount_eur`` for the file (and the
    same for the absolute sum and the line count): anything else is a loss or a duplicate.
    """

    lines: int  # booking lines in the file (records after line 2, blank lines not counted)
    amount_eur: Decimal  # signed sum over every line whose amount and S/H could be read
    absolute_eur: Decimal  # sum of the unsigned amounts of those lines
    unreadable_lines: int  # lines whose amount or S/H could not be read (money unknown)
    quarantined_lines: int
    quarantined_amount_eur: Decimal
    quarantined_absolute_eur: Decimal


@dataclass(frozen=True)
class Buchungsstapel:
    """One Buchungsstapel file, read: header, good lines, bad lines and control totals."""

    header: DatevHeader
    dialect: Dialect
    column_mapping: str  # "position" (catalogue of the format version) or "name"
    unknown_headings: tuple[str, ...]  # headings matching no catalogued column (never read)
    bookings: pa.Table  # BOOKING_SCHEMA; empty when read_buchungsstapel handed them to `write`
    problems: pa.Table  # PROBLEM_SCHEMA, one row per bad line
    control: ControlTotals
    booked_lines: int  # lines read without a problem (rows of `bookings`, or handed to `write`)
    booking_days: int  # distinct Belegdatum among them


@dataclass(frozen=True)
class AccountLabels:
    """One Kontenbeschriftungen file (data category 20): account number -> label."""

    header: DatevHeader
    dialect: Dialect
    labels: pa.Table  # LABEL_SCHEMA
    problems: pa.Table  # PROBLEM_SCHEMA




def sniff_dialect(path: Path) -> Dialect:
    """Encoding and delimiter of a DATEV file.

    Encoding: a BOM means UTF-8; otherwise the first stretch of non-ASCII bytes decides (valid
    UTF-8 means UTF-8, anything else is Windows-1252, the DATEV standard); a file without any
    non-ASCII byte is ASCII. Delimiter: the character right after ``EXTF``/``DTVF`` in line 1.

    ``,`` is accepted: a ``,``-delimited file is read like a ``;``-delimited one, which is
    unambiguous when amounts with a decimal comma are quoted (``"618,9"``), as CSV requires.
    Lines whose field count does not match the headings then reveal unquoted decimal commas, and
    :func:`read_buchungsstapel` rejects such a file as a whole (no line of it can be trusted).
    """
    with path.open("rb") as fh:
        head = fh.read(1 << 16)
    encoding = "utf-8-sig" if head.startswith(UTF8_BOM) else _detect_encoding(path)
    first = head.removeprefix(UTF8_BOM).split(b"\n", 1)[0]
    match = re.match(rb'\s*"?(EXTF|DTVF)"?\s*([;,])', first)
    if match is None:
        found = first[:20].decode("cp1252", errors="replace").strip() or "an empty first line"
        raise DatevFormatError(
            path,
            f"not a DATEV file: line 1 should start with EXTF or DTVF and a ';', found '{found}'",
        )
    return Dialect(encoding=encoding, delimiter=match.group(2).decode())


# Non-ASCII characters that decide a file's encoding: a damaged byte or two among them does not.
ENCODING_EVIDENCE = 16


def _detect_encoding(path: Path) -> str:
    """UTF-8 when its valid non-ASCII characters are at least as many as the bytes that are not
    UTF-8 (a UTF-8 file's damaged bytes then set their lines aside), Windows-1252 when there are
    none (its umlauts are never valid UTF-8), ASCII without any non-ASCII byte. Counted from the
    first non-ASCII byte on, until :data:`ENCODING_EVIDENCE` characters are seen: a damaged byte
    early in a UTF-8 file, far from its first umlaut, does not make every umlaut unreadable."""
    valid, invalid = utf8_count(path, enough=ENCODING_EVIDENCE)
    if not valid and not invalid:
        return "ascii"
    return "utf-8" if valid and valid >= invalid else "cp1252"


def _decode(raw: bytes, encoding: str) -> str:
    return raw.decode("cp1252" if encoding == "cp1252" else "utf-8-sig", errors="replace")


def _head_lines(path: Path, dialect: Dialect) -> list[str]:
    with path.open("rb") as fh:
        head = fh.read(1 << 16)
    if b"\n" not in head and b"\r" in head.rstrip(b"\r"):
        # Lines that end in CR alone (classic Mac OS, some old editors): the reader counts and
        # numbers lines by their LF, so such a file cannot be read line by line.
        raise DatevFormatError(
            path,
            "the lines end in CR only (no LF): save the file again with Windows line ends "
            "(CR LF), as DATEV writes them",
        )
    lines = head.split(b"\n", 2)
    return [_decode(line.rstrip(b"\r"), dialect.encoding) for line in lines[:2]]


def _date8(value: str, what: str, path: Path) -> date:
    try:
        if not re.fullmatch(r"\d{8}", value):
            raise ValueError(value)
        return date(int(value[:4]), int(value[4:6]), int(value[6:8]))
    except ValueError as exc:
        raise DatevFormatError(
            path, f"header field {what} is not a date YYYYMMDD: '{value}'"
        ) from exc


def _created_at(value: str) -> datetime | None:
    try:
        return datetime.strptime(value[:14], "%Y%m%d%H%M%S") if len(value) >= 14 else None
    except ValueError:
        return None


def _one_fiscal_year_later(start: date) -> date:
    try:
        return start.replace(year=start.year + 1)
    except ValueError:  # 29 February
        return start.replace(year=start.year + 1, day=28)


def fiscal_year_end(start: date) -> date:
    """The last day of the fiscal year that starts at ``start`` (WJ-Beginn, also 29 February)."""
    return date.fromordinal(_one_fiscal_year_later(start).toordinal() - 1)


def _period(path: Path, fields: list[str], fiscal_year_start: date) -> tuple[date, date]:
    """A Buchungsstapel's period (header fields 15/16), which must lie in one fiscal year."""
    period_from = _date8(fields[14], "15 (Datum vom)", path)
    period_to = _date8(fields[15], "16 (Datum bis)", path)
    fiscal_year_end = _one_fiscal_year_later(fiscal_year_start)
    if not fiscal_year_start <= period_from <= period_to < fiscal_year_end:
        raise DatevFormatError(
            path,
            f"the period {period_from:%d.%m.%Y}-{period_to:%d.%m.%Y} (header fields 15/16) "
            f"does not lie within the fiscal year starting {fiscal_year_start:%d.%m.%Y} "
            "(field 13): Belegdatum DDMM has no year, so a batch must stay within one "
            "fiscal year",
        )
    return period_from, period_to


def read_header(path: Path) -> tuple[DatevHeader, list[str], Dialect]:
    """Parse and validate line 1 (header) and line 2 (column headings)."""
    dialect = sniff_dialect(path)
    lines = _head_lines(path, dialect)
    fields = [f.strip() for f in _csv_fields(path, lines[0], dialect, "line 1 (the header)")]
    if len(fields) < 16:
        raise DatevFormatError(
            path,
            f"the DATEV header (line 1) has {len(fields)} fields; at least 16 (up to 'Datum "
            "bis') are needed, 31 are standard",
        )
    header_fields = len(fields)
    fields += [""] * (31 - len(fields))
    try:
        version, category, format_version = int(fields[1]), int(fields[2]), int(fields[4])
    except ValueError as exc:
        raise DatevFormatError(
            path,
            f"header fields 2, 3 and 5 (version, data category, format version) must be "
            f"numbers, found '{fields[1]}', '{fields[2]}', '{fields[4]}'",
        ) from exc
    is_booking = category in CATEGORIES_BUCHUNGSSTAPEL
    if not is_booking and category != CATEGORY_ACCOUNT_LABELS:
        raise _wrong_category(path, category, fields[3])
    if is_booking and (version, format_version) != (510, 7) and not (
        version == 700 and 9 <= format_version <= 13
    ):
        raise DatevFormatError(
            path,
            f"unknown DATEV version {version} with format version {format_version} for a "
            f"Buchungsstapel (supported: {SUPPORTED_VERSIONS})",
        )
    consultant, client = fields[10], fields[11]
    for what, value in (("11 (Berater)", consultant), ("12 (Mandant)", client)):
        if not re.fullmatch(r"\d{1,9}", value):
            raise DatevFormatError(path, f"header field {what} must be a number, found '{value}'")
    account_length = int(fields[13]) if re.fullmatch(r"[4-8]", fields[13]) else None
    if account_length is None:
        raise DatevFormatError(
            path, f"header field 14 (Sachkontennummernlänge) must be 4 to 8, found '{fields[13]}'"
        )
    fiscal_year_start = _date8(fields[12], "13 (WJ-Beginn)", path)
    period_from, period_to = (
        _period(path, fields, fiscal_year_start) if is_booking else (None, None)
    )
    currency = fields[21] or "EUR"
    if is_booking and currency != "EUR":
        raise DatevFormatError(
            path, f"header currency (field 22) is '{currency}'; only EUR books are supported"
        )
    skr = fields[26]
    header = DatevHeader(
        format_kind=fields[0].strip('"'),
        version=version,
        data_category=category,
        format_name=fields[3],
        format_version=format_version,
        created_at=_created_at(fields[5]),
        consultant_number=consultant,
        client_number=client,
        fiscal_year_start=fiscal_year_start,
        account_length=account_length,
        period_from=period_from,
        period_to=period_to,
        description=fields[16],
        currency=currency,
        # ASCII digits only: str.isdigit() also accepts '²', which int() refuses.
        chart_of_accounts=f"SKR{int(skr):02d}" if re.fullmatch(r"[0-9]{1,2}", skr) else None,
        header_fields=header_fields,
    )
    if len(lines) < 2 or not lines[1].strip():
        raise DatevFormatError(path, "line 2 (the column headings) is missing")
    headings = _csv_fields(path, lines[1], dialect, "line 2 (the column headings)")
    return header, [h.strip() for h in headings], dialect


def _csv_fields(path: Path, line: str, dialect: Dialect, what: str) -> list[str]:
    try:
        return next(csv.reader([line], delimiter=dialect.delimiter))
    except csv.Error as exc:  # e.g. a stray CR inside the line
        raise DatevFormatError(path, f"{what} cannot be split into fields: {exc}") from exc




def normalise_heading(label: str) -> str:
    """A heading reduced to what tells columns apart: no case, spaces, punctuation or umlauts
    (ä -> ae, ß -> ss); each damaged letter becomes :data:`DAMAGED`."""
    text = _DAMAGE.sub(DAMAGED, label.replace("\ufeff", "").strip().strip('"'))
    text = text.casefold()
    for umlaut, plain in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss")):
        text = text.replace(umlaut, plain)
    return re.sub(f"[^0-9a-z{DAMAGED}]", "", text)


@lru_cache(maxsize=4096)
def resolve_heading(heading: str) -> str | None:
    """The catalogue label a heading names, or None.

    Exact after :func:`normalise_heading`; a heading with damaged letters matches when its
    damaged letters can be filled in so that it names exactly one known column.
    """
    aliases = heading_aliases()
    key = normalise_heading(heading)
    if not key:
        return None
    if DAMAGED not in key:
        return aliases.get(key)
    pattern = re.compile("".join(
        f"{_ONE_LETTER}{{1,{len(part)}}}" if part[0] == DAMAGED else re.escape(part)
        for part in re.findall(f"{DAMAGED}+|[^{DAMAGED}]+", key)
    ))
    labels = {label for known, label in aliases.items() if pattern.fullmatch(known)}
    return labels.pop() if len(labels) == 1 else None


@cache
def catalogue(format_version: int) -> tuple[str, ...]:
    """Column labels of a format version in position order (empty when not catalogued)."""
    path = FORMATS_DIR / f"datev_buchungsstapel_v{format_version}_columns.csv"
    if not path.exists():
        return ()
    with path.open(encoding="utf-8") as fh:
        return tuple(row["label"] for row in csv.DictReader(fh))


@lru_cache(maxsize=1)
def heading_aliases() -> dict[str, str]:
    """Normalised heading -> catalogue label, over every catalogued format version."""
    out: dict[str, str] = {}
    for path in sorted(FORMATS_DIR.glob("datev_buchungsstapel_v*_columns.csv"), reverse=True):
        with path.open(encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                for name in (row["label"], row.get("label_alias") or ""):
                    if name:
                        out.setdefault(normalise_heading(name), row["label"])
    for variant, label in HEADING_VARIANTS.items():
        out.setdefault(normalise_heading(variant), label)
    return out


@cache
def max_length(label: str) -> int:
    """The longest text DATEV allows in a column (the same in every catalogued version)."""
    with (FORMATS_DIR / f"datev_buchungsstapel_v{CATALOGUED_VERSIONS[-1]}_columns.csv").open(
            encoding="utf-8") as fh:
        return next(int(row["length"]) for row in csv.DictReader(fh) if row["label"] == label)


@lru_cache(maxsize=1)
def stable_layout() -> dict[str, int]:
    """Kept columns that sit at the same position (0-based) in every catalogued format version.

    DATEV appends columns and never moves the leading ones, so these positions also hold for a
    format version without a catalogue here (format 7 of version 510).
    """
    layouts = [catalogue(v) for v in CATALOGUED_VERSIONS]
    return {
        label: layouts[0].index(label) for label in KEPT_COLUMNS
        if all(label in lay and lay.index(label) == layouts[0].index(label) for lay in layouts)
    }


def map_columns(headings: list[str], format_version: int) -> tuple[list[str], str]:
    """One unique name per column (catalogue label where known) and how it was mapped.

    By position when the file has exactly the columns of its catalogued format version and no
    heading names a different known column at a position we read; by normalised name otherwise
    (format 7 has no catalogue here; some exporters write fewer or reordered columns). When
    headings are unusable (damaged beyond recognition), a kept column that no heading names is
    taken from its position in the format version's layout, provided the headings that can be
    read sit where that layout puts them and the heading at that position names nothing else
    (``name+position``).
    """
    by_name = [resolve_heading(h) for h in headings]
    labels = catalogue(format_version)
    if len(labels) == len(headings):
        contradicted = [
            i for i, (label, named) in enumerate(zip(labels, by_name, strict=True))
            if named is not None and named != label
            and (label in KEPT_COLUMNS or named in KEPT_COLUMNS)
        ]
        if not contradicted:
            return list(labels), "position"
    names: list[str] = []
    for i, label in enumerate(by_name):
        name = label or f"_column_{i + 1}"
        names.append(name if name not in names else f"{name}_{i + 1}")
    layout = {label: labels.index(label) for label in KEPT_COLUMNS if label in labels} or (
        stable_layout() if not labels else {}
    )
    consistent = all(layout[n] == i for i, n in enumerate(names) if n in layout)
    taken = [
        label for label, pos in layout.items()
        if consistent and label not in names and pos < len(names)
        and by_name[pos] is None and headings[pos].strip()
    ]
    for label in taken:
        names[layout[label]] = label
    return names, "name+position" if taken else "name"


def describe_missing(label: str, format_version: int) -> str:
    """What the reader looked for when a column is missing: its heading, the short forms it
    accepts, and where the format version puts it."""
    forms = sorted({v for v, target in HEADING_VARIANTS.items() if target == label})
    position = ({**stable_layout(), **{c: i for i, c in enumerate(catalogue(format_version))}}
                .get(label))
    text = f"'{label}'"
    if forms:
        text += f" (or {', '.join(repr(f) for f in forms)})"
    if position is not None:
        text += f", expected at column {position + 1} of format version {format_version}"
    return text




# pyarrow reads a few dozen blocks ahead of the batch being processed: small blocks keep that
# buffer small. A line longer than a block is read again with blocks 16 times larger.
BLOCK_BYTES = 1 << 20
MAX_BLOCK_BYTES = 1 << 28
# Booking lines typed and validated at a time: memory holds one batch of them, whatever the
# size of the file, and a batch is large enough that per-batch work does not add up.
BATCH_ROWS = 100_000


class _ReadAgain(Exception):
    """The fast read cannot number a malformed line: read again, carefully."""


_TextBatch = tuple[dict[str, pa.Array], np.ndarray, dict[str, pa.Array]]
INVALID_BYTES = ("a byte that is not valid UTF-8 although the file is UTF-8 (damaged in "
                 "transfer, or the line is in another encoding); export the whole file in one "
                 "encoding (Windows-1252 is DATEV's standard)")


class _LinesMerged(Exception):
    """A record runs across a line end: read again with each line on its own."""


UNBALANCED_QUOTE = ("unbalanced quotation mark: a quoted field runs across the line end (DATEV "
                    "allows no line break inside a field); the line is set aside whole")


def stray_quote_problem(field: int, heading: str) -> str:
    """Why the last line, without a line end, is set aside for a stray quotation mark: it has
    every field, so it was not cut off (:func:`_reject_broken_structure`)."""
    return (f"unbalanced quotation mark in field {field} ({heading}) of the last line: the "
            "quoted field runs to the end of the file; the line has all its fields, it was not "
            "cut off; the line is set aside whole")


class DatevLinesMerged(DatevFormatError):
    """A quotation mark opened a field across line ends after bookings went to ``write``:
    discard them and read the file again with ``separate_lines=True``."""


class _LinesApart(io.RawIOBase):
    """The file's bytes with every booking line that holds an odd number of quotation marks
    emptied (its line end kept): such a line opens or closes a quoted field across a line end
    (``"Zoll 24 Monitor`` as Excel re-saves it), which would swallow the lines after it. Line
    numbers do not change; ``emptied`` lists the emptied lines."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self._fh = path.open("rb")
        self._out = memoryview(b"")
        self._carry = b""
        self._lines = 0  # complete lines passed on
        self.emptied: list[int] = []

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._fh.close()
        super().close()

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._out and self._fill():
            pass
        n = min(len(buffer), len(self._out))
        buffer[:n] = self._out[:n]
        self._out = self._out[n:]
        return n

    def _fill(self) -> bool:
        chunk = self._fh.read(1 << 22)
        data = self._carry + chunk
        cut = len(data) if not chunk else data.rfind(b"\n") + 1
        self._carry = data[cut:]
        lines = data[:cut].split(b"\n")
        # The last line has no line end to run across (and a cut-off one is told by its fields).
        for i, line in enumerate(lines[:-1]):
            number = self._lines + i + 1
            if number > 2 and line.count(b'"') % 2:
                self.emptied.append(number)
                lines[i] = b"\r" if line.endswith(b"\r") else b""
        self._lines += data[:cut].count(b"\n")
        self._out = memoryview(b"\n".join(lines))
        return bool(chunk) or bool(self._out)


class _Records:
    """The records after line 2, read as a stream: well-formed ones (kept columns, decoded, a
    batch at a time) and malformed ones (wrong field count). Record ``n`` is physical line
    ``n + 2``: a record that runs across a line end (a quoted field with a line break, mostly a
    stray quotation mark) raises :class:`_LinesMerged`, and with ``separate_lines`` the lines
    of unbalanced quotation marks are emptied (:class:`_LinesApart`) and set aside. Blank lines
    are records with every field empty. ``malformed``, ``total_records`` and ``emptied`` are
    complete once :meth:`text_batches` is exhausted."""

    def __init__(self, path: Path, dialect: Dialect, names: list[str],
                 kept: dict[str, str], separate_lines: bool = False) -> None:
        self.path = path
        self.dialect = dialect
        self.names = names
        self.kept = kept
        self.separate_lines = separate_lines
        self.expected_fields = len(names)
        self.good_records = 0  # handed on by the reader
        self._decoded = 0  # numbered and decoded
        self._invalid: list[tuple[int | None, int, str]] = []  # pyarrow row number, fields, text
        self._invalid_checked = 0  # of _invalid, looked at for line breaks
        self._stream: _LinesApart | None = None
        self.empty_records: list[np.ndarray] = []  # records whose kept fields are all empty
        # The last line without a line end, malformed by a stray quotation mark, not cut off:
        # (record, field the quote opens) (:func:`_reject_broken_structure`).
        self.stray_quote_at_end: tuple[int, int] | None = None
        self.lines_after_headings, self.ends_with_newline = _count_lines(path)

    @property
    def emptied(self) -> list[int]:
        """Lines set aside for an unbalanced quotation mark (``separate_lines`` only)."""
        return self._stream.emptied if self._stream is not None else []

    def _numbered(self) -> list[tuple[int, int, str]]:
        # pyarrow numbers records from the start of the file: the two header lines are 1 and 2.
        # An unnumbered one (fast read) lies beyond every record handed on; it forces a re-read.
        return sorted((num - 2, count, text) for num, count, text in self._invalid
                      if num is not None)

    @property
    def malformed(self) -> list[tuple[int, int, str]]:
        """(record, field count, text) of each malformed line; lines of nothing but
        delimiters, quotation marks and spaces excluded (blank)."""
        return [m for m in self._numbered() if not is_blank_line(m[2], self.dialect.delimiter)]

    @property
    def blank_malformed(self) -> int:
        return len(self._numbered()) - len(self.malformed)

    @property
    def total_records(self) -> int:
        return self.good_records + len(self._invalid)

    def _open(self, careful: bool, block_size: int) -> pacsv.CSVStreamingReader:
        def on_invalid(row: pacsv.InvalidRow) -> str:
            self._invalid.append((row.number, row.actual_columns, row.text))
            return "skip"

        include = [n for n in self.names if n in self.kept]
        self._stream = _LinesApart(self.path) if self.separate_lines else None
        # Fast: kept columns as bytes, no transcoding of the whole file (most of it is empty
        # fields); only the few columns we keep are decoded, batch by batch. Careful (only for a
        # file with malformed lines): in order, so pyarrow numbers them, and transcoded, so it
        # can hand us their text.
        return pacsv.open_csv(
            self._stream or self.path,
            read_options=pacsv.ReadOptions(
                column_names=self.names,
                skip_rows=2,
                use_threads=not careful,
                block_size=block_size,
                encoding="cp1252" if careful and self.dialect.encoding == "cp1252" else "utf8",
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=self.dialect.delimiter,
                newlines_in_values=True,
                # Every line a record, also a blank one (all fields empty): record n is line n+2.
                ignore_empty_lines=False,
                invalid_row_handler=on_invalid,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.binary() for n in include},
                include_columns=include,
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )

    def _raw_batches(self) -> Iterator[tuple[pa.RecordBatch, str]]:
        """Well-formed records in file order, each once, with the encoding of their bytes.

        A read that cannot go on (a malformed line the fast read cannot number or decode, a
        line longer than a block) starts again from the top and skips the records already
        handed on, so what came before needs no second pass.
        """
        careful, block_size = False, BLOCK_BYTES
        if not self.lines_after_headings:  # pyarrow cannot skip lines that are not there
            return
        while True:
            self._invalid.clear()
            self._invalid_checked = 0
            skip = self.good_records
            encoding = ("utf-8" if careful and self.dialect.encoding == "cp1252"
                        else self.dialect.encoding)
            try:
                with self._open(careful, block_size) as reader, self._stream or nullcontext():
                    for batch in reader:
                        self._check_numbered(careful)
                        if skip >= batch.num_rows:
                            skip -= batch.num_rows
                            continue
                        batch, skip = batch.slice(skip), 0
                        self._check_single_lines(batch)
                        self.good_records += batch.num_rows
                        yield batch, encoding
                self._check_numbered(careful)
                self._check_single_lines(None)
                return
            except (pa.ArrowInvalid, _ReadAgain) as exc:
                if "straddling object" in str(exc) and block_size < MAX_BLOCK_BYTES:
                    block_size *= 16
                elif careful:
                    raise DatevFormatError(
                        self.path, f"the booking lines cannot be parsed: {error_kind(exc)}"
                    ) from exc
                else:
                    careful = True  # also when the handler could not decode a malformed line

    def _check_numbered(self, careful: bool) -> None:
        if not careful and any(num is None for num, _, _ in self._invalid):
            raise _ReadAgain

    def _check_single_lines(self, batch: pa.RecordBatch | None) -> None:
        """Raise :class:`_LinesMerged` when a record runs across a line end: a line break in a
        kept value or in a malformed line, or (at the end) fewer records than lines."""
        new_invalid, self._invalid_checked = (self._invalid[self._invalid_checked:],
                                              len(self._invalid))
        merged = any("\n" in text for _, _, text in new_invalid) or (
            any(pc.any(pc.match_substring(column, "\n")).as_py() for column in batch.columns)
            if batch is not None
            else self.total_records != self.lines_after_headings
        )
        if not merged:
            return
        if not self.separate_lines:
            raise _LinesMerged
        raise DatevFormatError(
            self.path,
            f"a quoted field runs across line ends although every line has balanced quotation "
            f"marks ({self.total_records} records in {self.lines_after_headings} lines after "
            "the headings): check the quotation marks of the booking texts and export again",
        )

    def text_batches(self, batch_rows: int = BATCH_ROWS) -> Iterator[_TextBatch]:
        """Decoded, trimmed kept columns (by output name), record numbers and, by output name,
        which values held bytes invalid in the file's encoding (decoded with U+FFFD; only
        columns that had such a value), ``batch_rows`` records at a time: memory holds one
        batch of text (and pyarrow's read-ahead)."""
        pending: list[pa.RecordBatch] = []
        held, encoding = 0, self.dialect.encoding
        for batch, batch_encoding in self._raw_batches():
            if held and batch_encoding != encoding:  # read again transcoded from here on
                yield self._decode(pa.Table.from_batches(pending), encoding)
                pending, held = [], 0
            encoding = batch_encoding
            pending.append(batch)
            held += batch.num_rows
            while held >= batch_rows:
                table = pa.Table.from_batches(pending)
                yield self._decode(table.slice(0, batch_rows), encoding)
                pending, held = table.slice(batch_rows).to_batches(), held - batch_rows
        if held:
            yield self._decode(pa.Table.from_batches(pending), encoding)

    def _decode(self, table: pa.Table, encoding: str) -> _TextBatch:
        n = table.num_rows
        ordinal = np.arange(self._decoded + 1, self._decoded + n + 1, dtype=np.int64)
        invalid = np.array([m[0] for m in self._numbered()], dtype=np.int64)
        # Record number = ordinal among good records + malformed records before it.
        records = ordinal + np.searchsorted(invalid - np.arange(len(invalid)), ordinal,
                                            side="right")
        self._decoded += n
        columns, damaged = {}, {}
        empty = np.ones(n, dtype=bool)
        for name in table.schema.names:
            text, invalid_bytes = _to_text(pa.concat_arrays(table.column(name).chunks), encoding)
            text = pc.utf8_trim_whitespace(text)
            empty &= ~pc.fill_null(pc.not_equal(text, ""), False).to_numpy(zero_copy_only=False)
            columns[self.kept[name]] = text
            if invalid_bytes is not None:
                damaged[self.kept[name]] = invalid_bytes
        if empty.any():
            self.empty_records.append(records[empty])
        return columns, records, damaged

    def lines(self, records: np.ndarray) -> np.ndarray:
        """Physical line of each record: lines 1-2 are the header and headings."""
        return records + 2

    def blank_lines(self) -> np.ndarray:
        """Lines of nothing but delimiters, quotation marks and spaces among the records whose
        kept fields are all empty (a line emptied for its quotation marks is not blank)."""
        candidates = self.lines(np.concatenate([np.zeros(0, np.int64), *self.empty_records]))
        candidates = np.setdiff1d(candidates, np.array(self.emptied, dtype=np.int64))
        if not candidates.size:
            return candidates
        text = _lines_at(self.path, candidates)
        return np.array([n for n in candidates
                         if is_blank_line(text[int(n)], self.dialect.delimiter)], np.int64)


def _count_lines(path: Path) -> tuple[int, bool]:
    """Lines after line 2 (a last line without line end counted) and whether the file ends
    with a line end: a count of LF bytes, at the speed of reading the file."""
    newlines, last = 0, b""
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 24):
            newlines += chunk.count(b"\n")
            last = chunk[-1:]
    lines = newlines + (1 if last not in (b"", b"\n") else 0)
    return max(0, lines - 2), last == b"\n"


def _lines_at(path: Path, numbers: np.ndarray) -> dict[int, bytes]:
    """The bytes of the given physical lines (1-based, sorted); only the few blocks that hold
    them are split into lines."""
    out: dict[int, bytes] = {}
    wanted = {int(n) for n in numbers}
    done, carry = 0, b""  # lines complete before `carry`
    with path.open("rb") as fh:
        while wanted and (chunk := fh.read(1 << 24)):
            data = carry + chunk
            count = data.count(b"\n")
            if min(wanted) <= done + count:
                cut = data.rfind(b"\n") + 1
                for i, line in enumerate(data[:cut].split(b"\n")[:-1]):
                    if done + i + 1 in wanted:
                        out[done + i + 1] = line
                carry = data[cut:]
                wanted = {n for n in wanted if n > done + count}
            else:
                carry = data[data.rfind(b"\n") + 1:]
            done += count
        if wanted:  # the last line, without a line end
            out[done + 1] = carry
    return {n: out.get(n, b"") for n in (int(k) for k in numbers)}


def _to_text(values: pa.Array, encoding: str) -> tuple[pa.Array, pa.Array | None]:
    """Text, and which values were not valid UTF-8 (None when all were: the usual case)."""
    if encoding == "cp1252":
        return cp1252_to_utf8(values), None
    try:
        return values.cast(pa.string()), None
    except pa.ArrowInvalid:
        # A byte damaged in transfer, or a line in another encoding: those values only, one
        # batch, value by value (the cast above is the fast path of every intact batch).
        raw = values.to_pylist()
        text = [None if v is None else v.decode("utf-8", errors="replace") for v in raw]
        invalid = [v is not None and _invalid_utf8(v) for v in raw]
        return pa.array(text, pa.string()), pa.array(invalid, pa.bool_())


def _invalid_utf8(value: bytes) -> bool:
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


@lru_cache(maxsize=1)
def _cp1252_table() -> tuple[np.ndarray, np.ndarray]:
    """UTF-8 bytes (padded to 3) and their length for each Windows-1252 byte value."""
    encoded = np.zeros((256, 3), dtype=np.uint8)
    lengths = np.zeros(256, dtype=np.int64)
    for b in range(256):
        try:
            char = bytes([b]).decode("cp1252")
        except UnicodeDecodeError:  # 5 unassigned bytes: keep them as the C1 control they are
            char = chr(b)
        utf8 = char.encode("utf-8")
        encoded[b, : len(utf8)] = list(utf8)
        lengths[b] = len(utf8)
    return encoded, lengths


def cp1252_to_utf8(values: pa.Array) -> pa.Array:
    """Windows-1252 bytes -> UTF-8 text, vectorised over the whole array (no per-value loop)."""
    if values.offset:
        values = pa.concat_arrays([values])
    validity, offsets_buf, data_buf = values.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int32, count=len(values) + 1)
    data = (
        np.frombuffer(data_buf, dtype=np.uint8)[offsets[0]: offsets[-1]]
        if data_buf is not None else np.zeros(0, np.uint8)
    )
    if not (data >= 0x80).any():
        return values.cast(pa.string())
    encoded, lengths = _cp1252_table()
    width = lengths[data]
    ends = np.cumsum(width)
    # Most bytes are ASCII: repeat each byte by its UTF-8 width, then write the few multi-byte
    # sequences over their places.
    out = np.repeat(data, width)
    wide = np.flatnonzero(width > 1)
    starts = ends[wide] - width[wide]
    for k in range(3):
        has = width[wide] > k
        out[starts[has] + k] = encoded[data[wide[has]], k]
    new_offsets = np.concatenate([[0], ends])[offsets - offsets[0]]
    kind, dtype = (pa.string(), np.int32) if out.size < 2**31 else (pa.large_string(), np.int64)
    return pa.Array.from_buffers(
        kind,
        len(values),
        [validity, pa.py_buffer(new_offsets.astype(dtype)), pa.py_buffer(out)],
        null_count=values.null_count,
    )


def normalise_account(values: pa.Array, account_length: int) -> pa.Array:
    """Account numbers as DATEV reads them: leading zeros beyond the Sachkontenlänge carry no
    meaning (``00006020`` is ``6020`` with length 4, ``000731`` is ``0731``, ``0010000`` the
    personal account ``10000``); numbers not longer than the length stay as delivered."""
    padded = pc.utf8_lpad(pc.utf8_ltrim(values, "0"), width=account_length, padding="0")
    too_long = pc.and_(pc.greater(pc.utf8_length(values), account_length),
                       pc.starts_with(values, "0"))
    return pc.if_else(pc.fill_null(too_long, False), padded, values)


def _document_dates(raw: pa.Array, period_from: date, period_to: date) -> pa.Array:
    """Belegdatum DDMM (or DMM) -> the one date with that day and month inside the period."""
    ok = pc.fill_null(pc.match_substring_regex(raw, r"^\d{3,4}$"), False)
    value = pc.if_else(ok, raw, "0").cast(pa.int32()).to_numpy(zero_copy_only=False)
    day, month = value // 100, value % 100
    lo = np.datetime64(period_from, "D")
    hi = np.datetime64(period_to, "D")
    result = np.full(len(value), np.datetime64("NaT"), dtype="datetime64[D]")
    valid_month = (month >= 1) & (month <= 12)
    safe_month = np.where(valid_month, month, 1)
    for year in range(period_from.year, period_to.year + 1):
        starts = np.array([np.datetime64(f"{year}-{m:02d}-01") for m in range(1, 13)] +
                          [np.datetime64(f"{year + 1}-01-01")], dtype="datetime64[D]")
        days_in_month = (starts[1:] - starts[:-1]).astype(np.int64)
        fits = valid_month & (day >= 1) & (day <= days_in_month[safe_month - 1])
        candidate = starts[safe_month - 1] + (day - 1).astype("timedelta64[D]")
        take = fits & (candidate >= lo) & (candidate <= hi) & np.isnat(result)
        result[take] = candidate[take]
    return pa.array(result, pa.date32(), mask=np.isnat(result) | ~ok.to_numpy(zero_copy_only=False))


def _decimal(text: pa.Array, pattern: str, kind: pa.DataType) -> tuple[pa.Array, pa.Array]:
    """(parsed decimal or null, matched) for decimal-comma text."""
    matched = pc.fill_null(pc.match_substring_regex(text, pattern), False)
    dotted = pc.replace_substring(pc.if_else(matched, text, None), ",", ".")
    return dotted.cast(kind), matched


class _Problems:
    """Marks each bad record once, with the first problem found, in the order checks run."""

    def __init__(self, records: np.ndarray, amounts: pa.Array) -> None:
        self.records = records
        self.amounts = amounts
        self.bad = np.zeros(len(records), dtype=bool)
        self.parts: list[pa.Table] = []

    def mark(self, mask: pa.Array, field: str, reason: str, values: pa.Array | None) -> None:
        new = pc.fill_null(mask, False).to_numpy(zero_copy_only=False) & ~self.bad
        count = int(new.sum())
        if not count:
            return
        self.bad |= new
        sel = pa.array(new)
        self.parts.append(pa.table({
            "source_line": pa.array(self.records[new], pa.int64()),
            "field": pa.array([field] * count, pa.string()),
            "reason": pa.array([reason] * count, pa.string()),
            "offending_value": values.filter(sel) if values is not None
            else pa.nulls(count, pa.string()),
            "amount_eur": self.amounts.filter(sel),
        }, schema=PROBLEM_SCHEMA))


def _malformed_problems(records: _Records) -> pa.Table:
    rows = records.malformed
    stray = records.stray_quote_at_end
    return pa.table({
        "source_line": pa.array([r[0] for r in rows], pa.int64()),
        "field": pa.array(["line"] * len(rows), pa.string()),
        "reason": pa.array(
            [stray_quote_problem(stray[1], _heading(records, stray[1]))
             if stray is not None and r[0] == stray[0]
             else f"line has {r[1]} fields, the headings {records.expected_fields}" for r in rows],
            pa.string(),
        ),
        "offending_value": pa.nulls(len(rows), pa.string()),
        "amount_eur": pa.nulls(len(rows), MONEY),
    }, schema=PROBLEM_SCHEMA)


def _with_lines(table: pa.Table, records: _Records) -> pa.Table:
    """Record numbers in ``source_line`` -> physical line numbers."""
    idx = table.schema.get_field_index("source_line")
    numbers = table.column(idx).to_numpy()
    return table.set_column(idx, "source_line", pa.array(records.lines(numbers), pa.int64()))


def _sum(values: pa.Array) -> Decimal:
    total = pc.sum(values).as_py()
    return Decimal(total) if total is not None else Decimal("0.00")


@dataclass
class _Batch:
    bookings: pa.Table
    problems: list[pa.Table]
    amount: Decimal
    absolute: Decimal
    unreadable: int


def _booking_batch(cols: dict[str, pa.Array], records: np.ndarray, header: DatevHeader,
                   damaged: dict[str, pa.Array]) -> _Batch:
    """Type, sign and validate one batch of booking lines."""
    assert header.period_from is not None and header.period_to is not None
    n = len(records)
    for out in KEPT_COLUMNS.values():
        if out not in cols:
            cols[out] = pa.nulls(n, pa.string())
    amount, amount_ok = _decimal(cols["amount_raw"], AMOUNT_PATTERN, MONEY)
    dc = pc.utf8_upper(cols["debit_credit"])
    dc_ok = pc.fill_null(pc.is_in(dc, value_set=pa.array(["S", "H"])), False)
    reversal_flag = pc.utf8_upper(cols["reversal_flag"])
    is_reversal = pc.fill_null(pc.is_in(reversal_flag, value_set=pa.array(["1", "G"])), False)
    # Debit (S) increases the account, credit (H) decreases it; a Generalumkehr line reverses
    # an earlier booking: same fields, opposite effect.
    negative = pc.xor(pc.equal(dc, "H"), is_reversal)
    currency = pc.utf8_upper(cols["currency_raw"])
    is_foreign = pc.fill_null(pc.not_equal(currency, header.currency), False)
    base_amount, base_ok = _decimal(cols["base_amount_raw"], AMOUNT_PATTERN, MONEY)
    base_is_eur = pc.fill_null(
        pc.equal(pc.coalesce(pc.utf8_upper(cols["base_currency_raw"]), header.currency),
                 header.currency),
        False,
    )
    amount_eur = pc.if_else(is_foreign, pc.if_else(base_is_eur, base_amount, None), amount)
    signed = pc.if_else(negative, pc.negate(amount_eur), amount_eur)
    readable = pc.and_(pc.is_valid(signed), dc_ok)
    signed_or_null = pc.if_else(readable, signed, None)

    period = f"{header.period_from:%d.%m.%Y}-{header.period_to:%d.%m.%Y}"
    dates = _document_dates(cols["document_date_raw"], header.period_from, header.period_to)
    quantity, quantity_ok = _decimal(cols["cost_quantity_raw"], r"^-?\d{1,12}(,\d{1,4})?$",
                                     pa.decimal128(16, 4))
    digits = r"^\d{1,9}$"
    for column in ("account", "contra_account"):
        cols[column] = normalise_account(cols[column], header.account_length)
    problems = _Problems(records, signed_or_null)
    for label, out in KEPT_COLUMNS.items():
        if out in damaged:
            problems.mark(damaged[out], label, INVALID_BYTES, cols[out])
    problems.mark(pc.invert(amount_ok), "Umsatz",
                  "amount missing or not a positive number with decimal comma (618,9)",
                  cols["amount_raw"])
    problems.mark(pc.invert(dc_ok), "Soll/Haben-Kennzeichen", "must be S or H",
                  cols["debit_credit"])
    problems.mark(pc.and_(is_foreign, pc.invert(pc.and_(base_ok, base_is_eur))), "WKZ Umsatz",
                  f"amount in another currency than {header.currency} without a Basis-Umsatz "
                  f"in {header.currency}", cols["currency_raw"])
    problems.mark(pc.invert(pc.fill_null(pc.match_substring_regex(cols["account"], digits),
                                         False)),
                  "Konto", "account missing or not digits", cols["account"])
    problems.mark(pc.invert(pc.match_substring_regex(cols["contra_account"], digits)),
                  "Gegenkonto", "contra account not digits", cols["contra_account"])
    problems.mark(pc.is_null(dates), "Belegdatum",
                  f"not a date DDMM within the header period {period}", cols["document_date_raw"])
    problems.mark(pc.invert(pc.is_in(pc.coalesce(reversal_flag, "0"),
                                     value_set=pa.array(["0", "1", "G"]))),
                  "Generalumkehr", "must be empty, 0, 1 or G", cols["reversal_flag"])
    problems.mark(pc.and_(pc.is_valid(cols["cost_quantity_raw"]), pc.invert(quantity_ok)),
                  "Kost-Menge", "not a number with decimal comma", cols["cost_quantity_raw"])
    for label in TEXT_LIMITED:
        limit = max_length(label)
        column = cols[KEPT_COLUMNS[label]]
        problems.mark(pc.greater(pc.utf8_length(column), limit), label,
                      f"longer than the {limit} characters DATEV allows (a shifted column?)",
                      column)

    bookings = pa.table({
        "amount_eur": signed,
        "amount_unsigned_eur": amount_eur,
        "debit_credit": dc,
        "is_reversal": is_reversal,
        "currency_code": pc.coalesce(currency, header.currency),
        "account": cols["account"],
        "contra_account": cols["contra_account"],
        "tax_key": cols["tax_key"],
        "document_date": dates,
        "document_number": cols["document_number"],
        "posting_text": cols["posting_text"],
        "cost_centre_1": cols["cost_centre_1"],
        "cost_centre_2": cols["cost_centre_2"],
        "cost_quantity": quantity,
        "source_line": pa.array(records, pa.int64()),
    }, schema=BOOKING_SCHEMA).filter(pa.array(~problems.bad))
    return _Batch(
        bookings=bookings,
        problems=problems.parts,
        amount=_sum(signed_or_null),
        absolute=_sum(pc.if_else(readable, amount_eur, None)),
        unreadable=n - int(pc.sum(readable.cast(pa.int64())).as_py() or 0),
    )


def read_buchungsstapel(
    path: Path, write: Callable[[pa.Table], None] | None = None, batch_rows: int = BATCH_ROWS,
    separate_lines: bool = False,
) -> Buchungsstapel:
    """Read a Buchungsstapel (data category 21 or 22) into bookings, problems and totals.

    The lines are read ``batch_rows`` at a time. With ``write``, each batch of bookings goes
    there as soon as it is read, so memory holds one batch whatever the size of the file, and
    ``bookings`` of the result is empty; without, ``bookings`` holds them all. A file rejected
    as a whole may have handed batches to ``write`` before: on :class:`DatevFormatError` they
    are to be discarded.

    Every physical line is one record: blank lines (also of nothing but delimiters) are
    skipped and not counted; a line with an odd number of quotation marks, whose quoted field
    would run across the line end and swallow the lines after it, is set aside whole with the
    reason :data:`UNBALANCED_QUOTE` (so is each line of a text with a line break inside). Such a
    file is found as it is read, and read again with ``separate_lines``; when bookings had gone
    to ``write`` already, :class:`DatevLinesMerged` asks the caller to discard them and call
    again with ``separate_lines=True``.

    Raises :class:`DatevFormatError` for a file that is not a supported Buchungsstapel, lacks a
    required column, was cut off during transfer (its last line is incomplete), or is
    ``,``-delimited with unquoted decimal commas.
    """
    header, headings, dialect = read_header(path)
    if header.data_category not in CATEGORIES_BUCHUNGSSTAPEL:
        raise _wrong_category(path, header.data_category, header.format_name,
                              "a Buchungsstapel (21)")
    names, mapping = map_columns(headings, header.format_version)
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        # Never read on without it: a column loaded as NULL passes every later check.
        raise DatevFormatError(
            path,
            f"line 2 (column headings) has no required column "
            f"{'; '.join(describe_missing(m, header.format_version) for m in missing)}; found "
            f"{len(headings)} headings starting {', '.join(headings[:4])}",
        )
    handed_on = False

    def tracked(bookings: pa.Table) -> None:
        nonlocal handed_on
        handed_on = True
        assert write is not None
        write(bookings)

    try:
        records = _Records(path, dialect, names, KEPT_COLUMNS, separate_lines)
        return _read_bookings(records, header, headings, mapping, write and tracked, batch_rows)
    except _LinesMerged:
        if handed_on:
            raise DatevLinesMerged(
                path, "a quoted field runs across a line end: read the file again with each "
                      "line on its own (separate_lines)") from None
        records = _Records(path, dialect, names, KEPT_COLUMNS, separate_lines=True)
        return _read_bookings(records, header, headings, mapping, write, batch_rows)


def _read_bookings(records: _Records, header: DatevHeader, headings: list[str], mapping: str,
                   write: Callable[[pa.Table], None] | None, batch_rows: int) -> Buchungsstapel:
    kept: list[pa.Table] = []
    total = _Batch(BOOKING_SCHEMA.empty_table(), [], Decimal("0.00"), Decimal("0.00"), 0)
    booked, days = 0, pa.array([], pa.date32())
    for cols, numbers, damaged in records.text_batches(batch_rows):
        batch = _booking_batch(cols, numbers, header, damaged)
        bookings = _with_lines(batch.bookings, records)
        total.problems += batch.problems
        total.amount += batch.amount
        total.absolute += batch.absolute
        total.unreadable += batch.unreadable
        booked += bookings.num_rows
        days = pc.unique(pa.concat_arrays([days, pc.unique(bookings["document_date"])]))
        (write or kept.append)(bookings)
    _reject_broken_structure(records.path, records.dialect, records)
    problems = pa.concat_tables([_malformed_problems(records), *total.problems])
    problems, blank = _set_aside_lines(_with_lines(problems, records), records)
    quarantined = problems["amount_eur"]
    control = ControlTotals(
        lines=records.total_records - records.blank_malformed - blank,
        amount_eur=total.amount,
        absolute_eur=total.absolute,
        unreadable_lines=total.unreadable - blank + len(records.malformed),
        quarantined_lines=problems.num_rows,
        quarantined_amount_eur=_sum(quarantined),
        quarantined_absolute_eur=_sum(pc.abs(quarantined)),
    )
    unknown = tuple(h for h, n in zip(headings, records.names, strict=True)
                    if h and n.startswith("_column_"))
    bookings = pa.concat_tables(kept) if kept else BOOKING_SCHEMA.empty_table()
    return Buchungsstapel(header, records.dialect, mapping, unknown, bookings, problems, control,
                          booked, len(days))


def _set_aside_lines(problems: pa.Table, records: _Records) -> tuple[pa.Table, int]:
    """Problems (physical lines) without the blank lines, with the lines emptied for an
    unbalanced quotation mark given that reason; and the number of blank lines dropped."""
    blank = records.blank_lines()
    lines = problems["source_line"]
    problems = problems.filter(pc.invert(pc.is_in(lines, value_set=pa.array(blank, pa.int64()))))
    emptied = pc.is_in(problems["source_line"],
                       value_set=pa.array(records.emptied, pa.int64()))
    if pc.any(emptied).as_py():
        problems = pa.table({
            "source_line": problems["source_line"],
            "field": pc.if_else(emptied, "line", problems["field"]),
            "reason": pc.if_else(emptied, UNBALANCED_QUOTE, problems["reason"]),
            "offending_value": pc.if_else(emptied, pa.scalar(None, pa.string()),
                                          problems["offending_value"]),
            "amount_eur": problems["amount_eur"],
        }, schema=PROBLEM_SCHEMA)
    return problems.sort_by("source_line"), len(blank)


def _wrong_category(path: Path, category: int, name: str,
                    expected: str = "a Buchungsstapel (21) or account labels (20)"
                    ) -> DatevFormatError:
    name = name or CATEGORY_NAMES.get(category, "unknown")
    return DatevFormatError(
        path,
        f"DATEV data category {category} ('{name}') is not {expected}; deliver bookings as a "
        "DATEV Buchungsstapel export (data category 21)",
    )


def _heading(records: _Records, field: int) -> str:
    """The column heading of field ``field`` (1-based), as the steward's file names it."""
    name = records.names[field - 1] if field <= len(records.names) else ""
    return name if name and not name.startswith("_column_") else f"column {field}"


def _reject_broken_structure(path: Path, dialect: Dialect, records: _Records) -> None:
    if not records.malformed:
        return
    last_record, count, text = records.malformed[-1]
    if (not records.ends_with_newline and last_record == records.total_records
            and count < records.expected_fields):
        # A quotation mark that opens a field and never closes takes the rest of the last line
        # into that field, as a cut does; but a stray quote leaves every delimiter in place.
        whole = text.count(dialect.delimiter) + 1 >= records.expected_fields
        if not (whole and text.count('"') % 2):
            raise DatevFormatError(
                path,
                f"the file ends in the middle of its last line ({count} of "
                f"{records.expected_fields} fields, no line end): it was probably cut off "
                "during transfer; deliver it again",
            )
        # The parser's open field is where the last quote it paired wrongly opens; split at
        # every delimiter, the one field with an odd number of quotes is where the stray one
        # stands (a quoted text holding a delimiter makes two: then the parser's field).
        odd = [i for i, f in enumerate(text.split(dialect.delimiter), start=1) if f.count('"') % 2]
        records.stray_quote_at_end = (last_record, odd[0] if len(odd) == 1 else count)
    malformed = [m for m in records.malformed if records.stray_quote_at_end is None
                 or m[0] != records.stray_quote_at_end[0]]
    if dialect.delimiter == "," and malformed:
        first = malformed[0]
        raise DatevFormatError(
            path,
            f"','-delimited file with {len(malformed)} line(s) whose field count differs "
            f"from the headings (first: booking {first[0]}, {first[1]} of "
            f"{records.expected_fields} fields): amounts with a decimal comma must be quoted "
            "in a ','-delimited file; export with ';' (DATEV's standard) instead",
        )


def read_account_labels(path: Path) -> AccountLabels:
    """Read a Kontenbeschriftungen file (data category 20): account, label, language."""
    header, headings, dialect = read_header(path)
    if header.data_category != CATEGORY_ACCOUNT_LABELS:
        raise _wrong_category(path, header.data_category, header.format_name,
                              "account labels (Kontenbeschriftungen, 20)")
    wanted = {"konto": "account", "kontonummer": "account",
              "kontenbeschriftung": "account_label", "spracheid": "language_id",
              "sprachid": "language_id"}
    names: list[str] = []
    for i, h in enumerate(headings):
        name = wanted.get(normalise_heading(h), f"_column_{i + 1}")
        names.append(name if name not in names else f"{name}_{i + 1}")
    if "account" not in names or "account_label" not in names:
        raise DatevFormatError(
            path, "line 2 (column headings) needs 'Konto' and 'Kontenbeschriftung', found "
                  f"{', '.join(headings[:4])}",
        )
    kept = {n: n for n in ("account", "account_label", "language_id") if n in names}
    try:
        table, problems = _read_labels(_Records(path, dialect, names, kept))
    except _LinesMerged:  # lines are read on their own, as in read_buchungsstapel
        table, problems = _read_labels(_Records(path, dialect, names, kept, separate_lines=True))
    return AccountLabels(header, dialect, table, problems)


def _read_labels(records: _Records) -> tuple[pa.Table, pa.Table]:
    parts: list[pa.Table] = []
    labels: list[pa.Table] = []
    for cols, numbers, damaged in records.text_batches():
        n = len(numbers)
        problems = _Problems(numbers, pa.nulls(n, MONEY))
        for out, label in (("account", "Konto"), ("account_label", "Kontenbeschriftung"),
                           ("language_id", "SprachId")):
            if out in damaged:
                problems.mark(damaged[out], label, INVALID_BYTES, cols[out])
        problems.mark(
            pc.invert(pc.fill_null(pc.match_substring_regex(cols["account"], r"^\d{1,9}$"),
                                   False)),
            "Konto", "account missing or not digits", cols["account"],
        )
        parts.extend(problems.parts)
        labels.append(pa.table({
            "account": cols["account"],
            "account_label": cols["account_label"],
            "language_id": cols.get("language_id", pa.nulls(n, pa.string())),
            "source_line": pa.array(numbers, pa.int64()),
        }, schema=LABEL_SCHEMA).filter(pa.array(~problems.bad)))
        labels[-1] = _with_lines(labels[-1], records)
    _reject_broken_structure(records.path, records.dialect, records)
    table = pa.concat_tables(labels) if labels else LABEL_SCHEMA.empty_table()
    problems, _ = _set_aside_lines(
        _with_lines(pa.concat_tables([_malformed_problems(records), *parts]), records), records)
    return table, problems


def read_datev(
    path: Path, write: Callable[[pa.Table], None] | None = None, separate_lines: bool = False,
) -> Buchungsstapel | AccountLabels:
    """Read a DATEV file of either supported data category (21/22 bookings, 20 labels);
    ``write`` receives the bookings a batch at a time, ``separate_lines`` reads each line on
    its own from the start (see :func:`read_buchungsstapel`)."""
    header, _, _ = read_header(path)
    if header.data_category == CATEGORY_ACCOUNT_LABELS:
        return read_account_labels(path)
    return read_buchungsstapel(path, write, separate_lines=separate_lines)
