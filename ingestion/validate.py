"""Check one file before it is delivered, exactly as the nightly load would read it.

``datenwerk validate FILE`` works out from the file's CONTENT (never its name) which kind of file
it is, then runs the loader's own per-file code on it without loading or moving anything:

- a DATEV file (line 1 starts with ``EXTF``/``DTVF``): Buchungsstapel or Kontenbeschriftungen,
  :func:`ingestion.accounting.load_file`;
- a reference table (its header has the columns of one of :data:`ingestion.reference.TABLES`):
  :func:`ingestion.reference.parse_reference`;
- a case-management export (its header has the columns one export profile maps for an entity):
  :func:`ingestion.case_management.helpers.parse_export` with the load's plausibility checks
  (dates always; programs and department where the organisation and its reference data are
  known, see :func:`_plausibility`) and the same reject share.

The result (:class:`Validation`) says what was read, accepted and set aside (line, field, reason),
the DATEV header facts and the file's totals. :func:`report_lines` renders it in German (default)
or English; reasons are translated by :func:`warehouse.reasons.translate`. Personal values are
never shown.
"""

from __future__ import annotations

import contextlib
import csv
import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from ingestion.delivery import FileOutcome, FileRejected, quarantine_table, unexpected_error
from warehouse.files import sha256_file
from warehouse.reasons import translate
from warehouse.registry import Registry

if TYPE_CHECKING:
    from ingestion.case_management.plausibility import Plausibility

LANGUAGES = ("de", "en")


def default_language() -> str:
    """German unless the locale asks for English (LC_ALL, LC_MESSAGES or LANG starting 'en')."""
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var, "")
        if value:
            return "en" if value.lower().startswith("en") else "de"
    return "de"


@dataclass
class Validation:
    """What validating one file found."""

    path: Path
    outcome: FileOutcome
    kind: str = "unknown"  # datev_bookings, datev_labels, reference, case_management, unknown
    facts: list[tuple[str, str]] = field(default_factory=list)  # (label key, value), in order
    columns: dict[str, str] = field(default_factory=dict)  # field -> the file's own column
    totals: dict[str, Decimal] = field(default_factory=dict)  # DATEV: debit, credit, balance
    notes: list[str] = field(default_factory=list)  # label keys of hints for the sender
    # Findings in the sender's words that need no translation table (value-map usage).
    extra_lines: list[str] = field(default_factory=list)
    # Whose file it is (programs and departments are checked against their reference data);
    # None: from the folder when the file lies in the case-management inbox, else unknown.
    organisation: str | None = None
    department: str | None = None

    @property
    def passed(self) -> bool:
        """Nothing rejected: no whole-file rejection and no row set aside."""
        return not self.outcome.rejected_reason and not self.outcome.quarantine




def _first_line(path: Path) -> str:
    with path.open("rb") as fh:
        head = fh.read(1 << 16).split(b"\n", 1)[0].rstrip(b"\r")
    try:
        return head.decode("utf-8-sig")
    except UnicodeDecodeError:
        return head.decode("cp1252", errors="replace")


def _is_datev(path: Path) -> bool:
    return re.match(r'\ufeff?\s*"?(EXTF|DTVF)"?\s*[;,]', _first_line(path)) is not None


def _reference_table(path: Path) -> str | None:
    """The reference table whose required columns the header holds (the most specific one)."""
    from ingestion.reference import TABLES

    line = _first_line(path)
    if "\x00" in line or "\r" in line:  # a workbook or other binary file: no CSV header
        return None
    try:
        names = {n.strip() for n in next(csv.reader([line]), [])}
    except csv.Error:
        return None
    fits = [(len(cols), table) for table, (cols, _) in TABLES.items() if set(cols) <= names]
    return max(fits)[1] if fits else None


def _case_management_profile(path: Path, profile_name: str | None):
    """(profile, entity mappings) of an export as the load detects them
    (:func:`ingestion.case_management.detect_mappings`), or None when no profile fits."""
    from ingestion.case_management import detect_mappings
    from ingestion.case_management.helpers import read_header
    from ingestion.standard import profiles

    try:
        return detect_mappings(path, profile_name)
    except FileRejected:
        if profile_name is not None:
            raise
    # No profile fits: when the file is no table at all (binary, empty, undecodable), say that.
    unreadable: FileRejected | None = None
    for profile in profiles().values():
        try:
            read_header(path, profile)
            return None
        except FileRejected as exc:
            unreadable = exc
    if unreadable is not None:
        raise unreadable
    return None




def _fmt_date(value: date | None) -> str:
    return f"{value:%d.%m.%Y}" if value else "-"


def _validate_datev(path: Path, v: Validation, _: object) -> None:
    from ingestion.accounting import Parsed, load_file
    from ingestion.accounting.datev import (
        CATEGORIES_BUCHUNGSSTAPEL,
        CATEGORY_NAMES,
        Buchungsstapel,
        fiscal_year_end,
        read_datev,
        read_header,
    )

    v.outcome.profile = "datev"
    header, _, dialect = read_header(path)  # facts first: shown even if the file is rejected
    v.kind = ("datev_bookings" if header.data_category in CATEGORIES_BUCHUNGSSTAPEL
              else "datev_labels")
    end = fiscal_year_end(header.fiscal_year_start)
    v.facts += [
        ("format", (f"{header.format_kind} {header.version}, "
                   f"{header.data_category} {CATEGORY_NAMES.get(header.data_category, '')}, "
                   f"format {header.format_version}")),
        ("client", f"{header.consultant_number} / {header.client_number}"),
        ("fiscal_year", (f"{_fmt_date(header.fiscal_year_start)}-"
                        f"{_fmt_date(end)}")),
        *([("period", f"{_fmt_date(header.period_from)}-{_fmt_date(header.period_to)}")]
          if header.period_from else []),
        ("chart", f"{header.chart_of_accounts or '-'}, {header.account_length}"),
        ("encoding", f"{dialect.encoding}, '{dialect.delimiter}'"),
    ]
    read = read_datev(path)
    if isinstance(read, Buchungsstapel):
        v.facts.append(("mapping", read.column_mapping))
        control = read.control
        debit = (control.absolute_eur + control.amount_eur) / 2
        credit = (control.absolute_eur - control.amount_eur) / 2
        v.totals = {"debit": debit, "credit": credit, "balance": control.amount_eur,
                    "quarantined": control.quarantined_amount_eur}
    load_file(path, v.outcome, Parsed(), read)


def _validate_reference(path: Path, v: Validation, table: str) -> None:
    from ingestion.reference import parse_reference

    v.kind, v.outcome.entity, v.outcome.profile = "reference", table, "reference"
    v.facts.append(("table", table))
    if path.stem != table:
        v.notes.append("reference_name")
    parse_reference(path, table, v.outcome)


def _validate_case_management(path: Path, v: Validation, found) -> None:
    from ingestion.case_management.helpers import parse_export
    from ingestion.case_management.mapping_report import usage_lines, value_map_usage
    from ingestion.delivery import check_reject_share
    from ingestion.standard import standard

    profile, mappings = found
    mapping = mappings[0]
    v.kind, v.outcome.entity, v.outcome.profile = "case_management", mapping.entity, profile.name
    v.facts += [("profile", profile.name),
                ("entity", ", ".join(m.entity for m in mappings))]
    v.columns = dict(mapping.columns)
    # A throwaway key: validation needs no stable pseudonyms and must not need the real key.
    parse_export(path, profile, mapping, standard()[mapping.entity], v.outcome,
                 {"organisation_code": "-", "department_code": "-"}, key=secrets.token_bytes(32),
                 plausible=_plausibility(path, v, profile.department is not None))
    v.extra_lines += usage_lines(value_map_usage(path, profile, mappings))
    check_reject_share(path, v.outcome)


def _plausibility(path: Path, v: Validation, rows_name_department: bool) -> Plausibility:
    """The load's plausibility checks for this file, as far as they can be known here: dates
    (before 1900, in the future) always; programs and the department only when the organisation
    is known (``--organisation``, or the inbox folder the file lies in) and reference data of it
    is found (loaded, or waiting in the reference inbox). Otherwise a note says what was not
    checked: a check without its reference data would set aside rows the load accepts."""
    import duckdb

    from ingestion.case_management.plausibility import (
        Plausibility,
        latest_plausible_date,
        reference_codes,
    )
    from warehouse import paths

    if v.organisation is None:
        with contextlib.suppress(ValueError):
            parts = path.resolve().relative_to(paths.case_management_inbox().resolve()).parts
            if len(parts) == 3:  # <organisation>/<department>/<file>
                v.organisation, v.department = parts[0], v.department or parts[1]
    dates_only = Plausibility(latest_date=latest_plausible_date())
    if v.organisation is None:
        v.notes.append("programs_unchecked")
        return dates_only
    try:
        codes = reference_codes()
    except duckdb.Error:  # the warehouse is busy (a load holds it): its codes are unknown here
        codes = None
    if codes is None or not codes.departments.get(v.organisation):
        v.notes.append("no_reference_data")
        return dates_only
    if v.department is not None and (
            problem := codes.department_problem(v.organisation, v.department)):
        raise FileRejected(path, problem)
    return codes.for_file(v.organisation, None if rows_name_department else v.department)


@dataclass(frozen=True)
class FileKind:
    """One kind of delivered file: how validation recognises it and reads it as the load would.

    ``detect(path, profile)`` returns what it found (truthy) or None; ``validate(path, v, found)``
    reads the file into the validation ``v``.
    """

    detect: Callable[[Path, str | None], Any]
    validate: Callable[[Path, Validation, Any], None]


def _datev_header(path: Path, profile: str | None) -> bool | None:
    return True if profile is None and _is_datev(path) else None


def _reference_columns(path: Path, profile: str | None) -> str | None:
    return _reference_table(path) if profile is None else None


# Tried in this order; the first kind that recognises the file reads it. A forced export profile
# (``--profile``) is recognised only by the case-management kind.
FILE_KINDS: Registry[FileKind] = Registry("file kind", {
    "datev": FileKind(_datev_header, _validate_datev),
    "reference": FileKind(_reference_columns, _validate_reference),
    "case_management": FileKind(_case_management_profile, _validate_case_management),
})


def _detected(path: Path, profile: str | None) -> tuple[FileKind, Any]:
    for kind in FILE_KINDS.values():
        if found := kind.detect(path, profile):
            return kind, found
    raise FileRejected(path, "not a kind of file Datenwerk loads: no DATEV header, and the "
                             "header has the columns of no reference table and of no export "
                             "profile")


def validate_file(path: Path, profile: str | None = None, organisation: str | None = None,
                  department: str | None = None) -> Validation:
    """Validate one file as the nightly load would read it; nothing is loaded or moved.

    ``profile`` forces a case-management export profile (otherwise detected from the header).
    ``organisation`` and ``department`` say whose export it is (otherwise taken from its folder
    in the case-management inbox): its programs and department are then checked against the
    organisation's reference data, as the load checks them.
    """
    from ingestion.accounting.datev import DatevFormatError

    v = Validation(path, FileOutcome(path, sha256_file(path), "-", entity="-", profile="-"),
                   organisation=organisation, department=department)
    try:
        if not path.stat().st_size:
            raise FileRejected(path, "the file is empty")
        kind, found = _detected(path, profile)
        kind.validate(path, v, found)
    except (FileRejected, DatevFormatError, pa.ArrowInvalid) as exc:
        # Unlike the load, the rows set aside stay listed: the sender wants to fix them all.
        v.outcome.rejected_reason = getattr(exc, "reason", str(exc))
        v.outcome.rows_loaded = 0
    except Exception as exc:  # as the load: this file set aside, named, no traceback
        v.outcome.rejected_reason = unexpected_error(exc)
        v.outcome.rows_loaded = 0
    return v



LABELS: dict[str, tuple[str, str]] = {
    "file": ("Datei", "File"),
    "kind": ("Art", "Kind"),
    "format": ("Format", "Format"),
    "client": ("Berater/Mandant", "Consultant/client"),
    "fiscal_year": ("Wirtschaftsjahr", "Fiscal year"),
    "period": ("Zeitraum", "Period"),
    "chart": ("SKR, Sachkontenlänge", "Chart, account length"),
    "encoding": ("Zeichensatz, Trenner", "Encoding, delimiter"),
    "mapping": ("Spalten erkannt", "Columns mapped by"),
    "table": ("Tabelle", "Table"),
    "profile": ("Exportprofil", "Export profile"),
    "entity": ("Inhalt", "Entity"),
    "rows_read": ("Zeilen gelesen", "Rows read"),
    "accepted": ("Übernommen", "Accepted"),
    "quarantined": ("Aussortiert", "Rejected"),
    "totals": ("Summen der Datei", "File totals"),
    "debit": ("Soll", "debit"),
    "credit": ("Haben", "credit"),
    "balance": ("Saldo", "balance"),
    "quarantined_eur": ("davon aussortiert (Saldo)", "of which rejected (balance)"),
    "rejected": (
        "ABGELEHNT als Ganzes, nichts würde geladen", "REJECTED as a whole, nothing loaded"
    ),
    "reason": ("Grund", "Reason"),
    "ok": ("In Ordnung: die Datei würde vollständig geladen.", "OK: the file would load in full."),
    "partly": ("Teilweise: die aussortierten Zeilen würden nicht geladen.",
               "Partly: the rejected rows would not load."),
    "unexpected": ("Spalten, die das Profil nicht kennt (nicht gelesen, nicht gespeichert)",
                   "Columns not in the profile (not read, not stored)"),
    "missing": ("Fehlende Spalten, nicht Pflicht (ihre Felder bleiben leer)",
                "Missing optional columns (their fields stay empty)"),
    "title": ("Kopfzeile in Zeile {header}; die {rows} Zeile(n) darüber (Titel) nicht gelesen",
              "Header in row {header}; the {rows} row(s) above it (a title) not read"),
    "no_region": ("{rows} Zeile(n) mit einer Postleitzahl, die keine Region ergibt (nicht fünf "
                  "Ziffern: eine von Excel entfernte führende Null, oder aus dem Ausland); sie "
                  "werden ohne Region geladen",
                  "{rows} row(s) with a postcode that gives no region (not five digits: a leading "
                  "zero Excel removed, or a foreign code); they load without a region"),
    "row": ("Zeile", "row"),
    "field": ("Feld (Spalte der Datei)", "field (file column)"),
    "value": ("Wert", "value"),
    "datev_bookings": ("DATEV-Buchungsstapel", "DATEV Buchungsstapel (bookings)"),
    "datev_labels": ("DATEV-Kontenbeschriftungen", "DATEV Kontenbeschriftungen (account labels)"),
    "reference": ("Referenztabelle", "reference table"),
    "case_management": ("Export der Fallverwaltung", "case-management export"),
    "unknown": ("unbekannt", "unknown"),
    "programs_unchecked": (
        ("Hinweis: Programme und Abteilung nicht geprüft, die Organisation ist unbekannt "
         "(--organisation ORG --department ABT angeben oder die Datei im Eingangsordner prüfen)."),
        ("Note: programs and department not checked, the organisation is unknown (give "
         "--organisation ORG --department DEPT, or validate the file in its inbox folder)."),
    ),
    "no_reference_data": (
        ("Hinweis: Programme und Abteilung nicht geprüft, hier sind keine Referenzdaten der "
         "Organisation zu finden."),
        ("Note: programs and department not checked, no reference data of the organisation is "
         "found here."),
    ),
    "reference_name": (
        ("Hinweis: der nächtliche Import erkennt Referenztabellen am Dateinamen; "
        "nennen Sie die Datei wie die Tabelle (z. B. departments.csv)."),
        ("Note: the nightly load tells reference tables by their file name; name the file "
        "after its table (e.g. departments.csv)."),
    ),
}


def _money(value: Decimal, lang: str) -> str:
    text = f"{value:,.2f}"
    return (text.translate(str.maketrans(",.", ".,")) + " €") if lang == "de" else f"{text} EUR"


def _column(v: Validation, field_name: str) -> str:
    """``Beginn (start_date)``: the file's own column beside the standard's field."""
    column = v.columns.get(field_name)
    return f"{column} ({field_name})" if column and column != field_name else field_name


def _column_notes(o: FileOutcome, label: Callable[[str], str]) -> list[str]:
    """Columns the profile does not know, and optional ones the file lacks (not after a
    rejection: nothing loads then)."""
    notes = [f"{label('unexpected')}: {', '.join(o.unexpected_columns)}"] \
        if o.unexpected_columns else []
    if o.missing_columns and not o.rejected_reason:
        notes.append(f"{label('missing')}: {', '.join(o.missing_columns)}")
    if o.title_rows:
        notes.append(label("title").format(header=o.title_rows + 1, rows=o.title_rows))
    if o.postcodes_without_region and not o.rejected_reason:
        notes.append(label("no_region").format(rows=o.postcodes_without_region))
    return notes


def report_lines(v: Validation, lang: str = "de") -> list[str]:
    """The validation as text lines, in German (``de``) or English (``en``)."""
    i = LANGUAGES.index(lang)

    def label(key: str) -> str:
        return LABELS[key][i]

    def line(key: str, value: object) -> str:
        return f"{label(key) + ':':<24} {value}"

    out = [line("file", v.path.name), line("kind", label(v.kind))]
    out += [line(key, value) for key, value in v.facts]
    o = v.outcome
    if v.totals:
        out.append(line("totals", ", ".join(
            f"{label(k)} {_money(v.totals[k], lang)}" for k in ("debit", "credit", "balance"))))
        if v.totals["quarantined"]:
            out.append(line("quarantined_eur", _money(v.totals["quarantined"], lang)))
    if o.rejected_reason:
        # The file's own column for the standard's field named in the reason.
        reason = re.sub(r"\bfield (\w+):", lambda m: f"field {_column(v, m.group(1))}:",
                        o.rejected_reason)
        out += [line("reason", translate(reason, lang)), label("rejected")]
    else:
        out += [line("rows_read", o.rows_read), line("accepted", o.rows_loaded),
                line("quarantined", o.rows_quarantined)]
    out += _column_notes(o, label)
    out += [label(n) for n in v.notes]
    out += v.extra_lines
    rows = sorted(quarantine_table([o]).to_pylist(), key=lambda r: r["source_line"])
    if rows:
        out += ["", f"{label('row'):>7}  {label('field'):<28} {label('reason')}"]
        for r in rows:
            name = _column(v, r["field"])
            value = (f" ({label('value')}: {r['offending_value']!r})"
                     if r["offending_value"] is not None else "")
            out.append(f"{r['source_line']:>7}  {name:<28} {translate(r['reason'], lang)}{value}")
    if not o.rejected_reason:
        out.append(label("ok") if v.passed else label("partly"))
    return out

