"""A reader for DATEV Buchungsstapel files (EXTF / DTVF), columnar, into Arrow.

Line 1 is a header of 31 fields, line 2 the column headings, then one booking per line. Columns
are matched by normalised heading against the column catalogue of the file's format version
(``formats/datev_buchungsstapel_v<N>_columns.csv``), so hyphen/en-dash variants and aliases
(``Konto``/``Kontonummer``, ``Basisumsatz``/``Basis-Umsatz``) map to one name.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import asdict, dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ingestion.delivery import FileOutcome, FileRejected, relative_to_inbox

FORMATS_DIR = Path(__file__).with_name("formats")
BUCHUNGSSTAPEL_CATEGORIES = {"21", "22"}  # 22: written by at least one public exporter
UTF8_BOM = b"\xef\xbb\xbf"

# Catalogue label -> output column. Only these are kept: the rest of the 125 columns hold
# addresses, bank details and free text that the finance marts do not need.
KEPT_COLUMNS = {
    "Umsatz (ohne Soll/Haben-Kz)": "amount_unsigned_raw",
    "Soll/Haben-Kennzeichen": "debit_credit",
    "WKZ Umsatz": "currency_code",
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


@dataclass(frozen=True)
class DatevHeader:
    """The meaning-bearing fields of a DATEV header line."""

    format_kind: str  # EXTF (written by another program) or DTVF (by DATEV)
    version: int
    data_category: int
    format_name: str
    format_version: int
    consultant_number: str  # Berater
    client_number: str  # Mandant
    fiscal_year_start: date
    account_length: int
    period_from: date
    period_to: date
    description: str
    currency: str
    chart_of_accounts: str  # SKR

    def as_row(self) -> dict[str, object]:
        return asdict(self)


def _norm(label: str) -> str:
    return re.sub(r"[\s\-–—_]", "", label.replace("\ufeff", "")).lower()


@lru_cache(maxsize=None)
def catalogue(format_version: int) -> dict[str, str]:
    """Normalised heading or alias -> catalogue label, for a format version."""
    path = FORMATS_DIR / f"datev_buchungsstapel_v{format_version}_columns.csv"
    if not path.exists():
        path = FORMATS_DIR / "datev_buchungsstapel_v13_columns.csv"
    out: dict[str, str] = {}
    with path.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            for name in (row["label"], row.get("label_alias") or ""):
                if name:
                    out[_norm(name)] = row["label"]
    # Heading variants seen in the wild for the same columns.
    out.setdefault(_norm("Konto"), "Kontonummer")
    out.setdefault(_norm("Basisumsatz"), "Basis-Umsatz")
    out.setdefault(_norm("KOST1 - Kostenstelle"), "Kost 1 - Kostenstelle")
    out.setdefault(_norm("KOST2 - Kostenstelle"), "Kost 2 - Kostenstelle")
    return out


def _encoding(path: Path) -> str:
    with path.open("rb") as fh:
        return "utf-8-sig" if fh.read(3) == UTF8_BOM else "cp1252"


def _date8(value: str, what: str, path: Path) -> date:
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:8]))
    except (ValueError, IndexError) as exc:
        raise FileRejected(path, f"header field {what} is not a date YYYYMMDD: '{value}'") from exc


def read_header(path: Path) -> tuple[DatevHeader, list[str], str, str]:
    """Parse and validate lines 1 and 2; return header, column headings, encoding, delimiter."""
    encoding = _encoding(path)
    try:
        with path.open("r", encoding=encoding, newline="") as fh:
            first, second = fh.readline(), fh.readline()
    except UnicodeDecodeError as exc:
        raise FileRejected(path, f"cannot be decoded as {encoding}: {exc.reason}") from exc
    delimiter = ";" if first.count(";") >= first.count(",") else ","
    fields = next(csv.reader(io.StringIO(first), delimiter=delimiter), [])
    if not fields or fields[0].strip('"') not in ("EXTF", "DTVF"):
        found = (fields[0][:20] if fields else "an empty first line") or "an empty first field"
        raise FileRejected(
            path, f"not a DATEV file: line 1 should start with EXTF or DTVF, found '{found}'"
        )
    if len(fields) < 27:
        raise FileRejected(path, f"DATEV header has {len(fields)} fields, expected 31")
    category = fields[2].strip()
    if category not in BUCHUNGSSTAPEL_CATEGORIES:
        raise FileRejected(
            path,
            f"DATEV data category {category} ('{fields[3]}') is not a Buchungsstapel (21)",
        )
    try:
        version, format_version = int(fields[1]), int(fields[4])
    except ValueError as exc:
        raise FileRejected(path, f"DATEV version '{fields[1]}'/'{fields[4]}' is not a number") from exc
    if (version, format_version) != (510, 7) and not (version == 700 and 9 <= format_version <= 13):
        raise FileRejected(
            path,
            f"unknown DATEV version {version} with format version {format_version} "
            "(supported: 510/7 and 700/9-13)",
        )
    header = DatevHeader(
        format_kind=fields[0],
        version=version,
        data_category=int(category),
        format_name=fields[3],
        format_version=format_version,
        consultant_number=fields[10].strip(),
        client_number=fields[11].strip(),
        fiscal_year_start=_date8(fields[12], "13 (WJ-Beginn)", path),
        account_length=int(fields[13] or 4),
        period_from=_date8(fields[14], "15 (Datum vom)", path),
        period_to=_date8(fields[15], "16 (Datum bis)", path),
        description=fields[16],
        currency=fields[21] or "EUR",
        chart_of_accounts=fields[26] if len(fields) > 26 else "",
    )
    headings = next(csv.reader(io.StringIO(second), delimiter=delimiter), [])
    return header, headings, encoding, delimiter


def _document_dates(raw: pa.Array, header: DatevHeader) -> pa.Array:
    """Belegdatum DDMM (or DMM) + the year from the header's period; null if outside it."""
    ddmm = pc.utf8_lpad(raw, 4, "0")
    result = pa.nulls(len(raw), pa.date32())
    lo = pa.scalar(header.period_from, pa.date32())
    hi = pa.scalar(header.period_to, pa.date32())
    for year in range(header.period_from.year, header.period_to.year + 1):
        text = pc.binary_join_element_wise(ddmm, str(year), "")
        parsed = pc.strptime(text, format="%d%m%Y", unit="s", error_is_null=True)
        exact = pc.equal(pc.strftime(parsed, format="%d%m%Y"), text)
        candidate = pc.if_else(pc.fill_null(exact, False), parsed.cast(pa.date32()), None)
        inside = pc.and_(pc.greater_equal(candidate, lo), pc.less_equal(candidate, hi))
        result = pc.coalesce(result, pc.if_else(pc.fill_null(inside, False), candidate, None))
    return result


def read_buchungsstapel(path: Path, outcome: FileOutcome) -> tuple[pa.Table, DatevHeader]:
    """Read a Buchungsstapel into one Arrow table of bookings; bad lines go to quarantine."""
    header, headings, encoding, delimiter = read_header(path)
    cat = catalogue(header.format_version)
    names = []
    for i, h in enumerate(headings):
        label = cat.get(_norm(h), f"_unknown_{i}")
        names.append(label if label not in names else f"{label}_{i}")
    missing = [c for c in ("Umsatz (ohne Soll/Haben-Kz)", "Soll/Haben-Kennzeichen",
                           "Kontonummer", "Belegdatum") if c not in names]
    if missing:
        raise FileRejected(path, f"line 2 lacks the column(s) {', '.join(missing)}")
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(encoding=encoding, column_names=names, skip_rows=2),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names},
                include_columns=[c for c in KEPT_COLUMNS if c in names],
                null_values=[""],
                strings_can_be_null=True,
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise FileRejected(path, f"bookings cannot be read: {exc}") from exc
    n = table.num_rows
    outcome.rows_read = n
    cols = {
        KEPT_COLUMNS[c]: pc.utf8_trim_whitespace(table.column(c).combine_chunks())
        for c in table.column_names
    }
    for out in KEPT_COLUMNS.values():
        cols.setdefault(out, pa.nulls(n, pa.string()))
    # Physical lines: header and headings take lines 1-2 (no line breaks inside values here:
    # the kept columns are short codes; Buchungstext may hold one, so count them).
    extra = pc.fill_null(pc.count_substring(cols["posting_text"], "\n"), 0).cast(pa.int64())
    lines = pc.add(
        pa.array(range(3, n + 3), pa.int64()),
        pc.subtract(pc.cumulative_sum(extra), extra),
    )

    amount_text = pc.replace_substring(cols["amount_unsigned_raw"], ",", ".")
    amount_ok = pc.match_substring_regex(amount_text, r"^\d+(\.\d{1,2})?$")
    amount = pc.if_else(amount_ok, amount_text, None).cast(pa.decimal128(18, 2))
    dc = pc.utf8_upper(cols["debit_credit"])
    dates = _document_dates(cols["document_date_raw"], header)
    is_reversal = pc.is_in(cols["reversal_flag"], value_set=pa.array(["1", "G"]))
    qty_text = pc.replace_substring(cols["cost_quantity_raw"], ",", ".")

    problems: list[tuple[pa.Array, str, str, pa.Array | None]] = [
        (pc.invert(pc.fill_null(amount_ok, False)), "Umsatz", "amount missing or not a positive decimal-comma number", cols["amount_unsigned_raw"]),
        (pc.invert(pc.fill_null(pc.is_in(dc, value_set=pa.array(["S", "H"])), False)), "Soll/Haben-Kennzeichen", "must be S or H", cols["debit_credit"]),
        (pc.invert(pc.fill_null(pc.match_substring_regex(cols["account"], r"^\d+$"), False)), "Konto", "account missing or not digits", cols["account"]),
        (pc.is_null(dates), "Belegdatum", f"not a date DDMM within the header period {header.period_from:%d.%m.%Y}-{header.period_to:%d.%m.%Y}", cols["document_date_raw"]),
    ]
    bad = pa.array([False] * n)
    for mask, fld, reason, values in problems:
        mask = pc.and_(mask, pc.invert(bad))
        count = int(pc.sum(mask.cast(pa.int64())).as_py() or 0)
        if count:
            outcome.quarantine.append(pa.table({
                "source_file": pa.array([relative_to_inbox(path)] * count),
                "source_sha256": pa.array([outcome.sha256] * count),
                "entity": pa.array(["bookings"] * count),
                "source_line": lines.filter(mask),
                "field": pa.array([fld] * count),
                "reason": pa.array([reason] * count),
                "offending_value": values.filter(mask) if values is not None else pa.nulls(count, pa.string()),
            }))
            bad = pc.or_(bad, mask)
    good = pc.invert(bad)
    sign = pc.if_else(pc.equal(dc, "H"), -1, 1)
    # A Generalumkehr booking reverses an earlier one: same fields, opposite effect.
    sign = pc.if_else(pc.fill_null(is_reversal, False), pc.negate(sign), sign)
    signed = pc.if_else(pc.equal(sign, -1), pc.negate(amount), amount)
    keep = {
        "amount_eur": signed,
        "amount_unsigned_eur": amount,
        "debit_credit": dc,
        "currency_code": pc.fill_null(cols["currency_code"], header.currency),
        "account": cols["account"],
        "contra_account": cols["contra_account"],
        "tax_key": cols["tax_key"],
        "document_date": dates,
        "document_number": cols["document_number"],
        "posting_text": cols["posting_text"],
        "cost_centre_1": cols["cost_centre_1"],
        "cost_centre_2": cols["cost_centre_2"],
        "cost_quantity": pc.if_else(pc.match_substring_regex(qty_text, r"^-?\d+(\.\d+)?$"), qty_text, None).cast(pa.float64()),
        "is_reversal": pc.fill_null(is_reversal, False),
        "source_line": lines,
    }
    result = pa.table({k: v.filter(good) for k, v in keep.items()})
    m = result.num_rows
    for name, value in (
        ("consultant_number", header.consultant_number),
        ("client_number", header.client_number),
        ("period_from", header.period_from),
        ("period_to", header.period_to),
        ("source_file", relative_to_inbox(path)),
        ("source_sha256", outcome.sha256),
    ):
        result = result.append_column(name, pa.array([value] * m))
    outcome.rows_loaded = m
    return result, header
