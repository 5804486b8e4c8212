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
or English; reasons are translated by :data:`REASONS`. Personal values are never shown.
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

# English reason (as the readers write it) -> German. Patterns are tried in order; a reason that
# matches none is shown as written.
REASONS: list[tuple[re.Pattern[str], str]] = [(re.compile(p), de) for p, de in [
    (r"^amount missing or not a positive number with decimal comma \(618,9\)$",
     "Betrag fehlt oder ist keine positive Zahl mit Dezimalkomma (618,9)"),
    (r"^must be S or H$", "muss S oder H sein"),
    (r"^amount in another currency than (?P<c>\w+) without a Basis-Umsatz in \w+$",
     r"Betrag in anderer Währung als {c} ohne Basis-Umsatz in {c}"),
    (r"^account missing or not digits$", "Konto fehlt oder besteht nicht nur aus Ziffern"),
    (r"^contra account not digits$", "Gegenkonto besteht nicht nur aus Ziffern"),
    (r"^not a date DDMM within the header period (?P<p>.+)$",
     r"kein Datum TTMM im Zeitraum des Kopfs ({p})"),
    (r"^must be empty, 0, 1 or G$", "muss leer, 0, 1 oder G sein"),
    (r"^not a number with decimal comma$", "keine Zahl mit Dezimalkomma"),
    (r"^longer than the (?P<n>\d+) characters DATEV allows \(a shifted column\?\)$",
     r"länger als die {n} Zeichen, die DATEV erlaubt (verschobene Spalte?)"),
    (r"^a byte that is not valid UTF-8 although the file is UTF-8 .*$",
     ("ein Byte, das kein gültiges UTF-8 ist, obwohl die Datei UTF-8 ist (bei der Übertragung "
     "beschädigt, oder die Zeile ist anders kodiert); bitte die ganze Datei in einer Kodierung "
     "exportieren (Windows-1252 ist DATEVs Standard)")),
    (r"^unbalanced quotation mark: .*$",
     ("unpaariges Anführungszeichen: ein Feld in Anführungszeichen läuft über das Zeilenende "
     "(DATEV erlaubt keinen Zeilenumbruch in einem Feld); die Zeile ist ganz aussortiert")),
    (r"^a quoted field runs across line ends .*$",
     ("ein Feld in Anführungszeichen läuft über mehrere Zeilen, obwohl jede Zeile paarige "
     "Anführungszeichen hat: bitte die Anführungszeichen der Buchungstexte prüfen und neu "
     "exportieren")),
    (r"^line has (?P<a>\d+) fields, the headings (?P<b>\d+)$",
     r"Zeile hat {a} Felder, die Überschriften {b}"),
    ((r"^line 2 \(column headings\) has no required column (?P<c>.+); found (?P<n>\d+) headings "
     r"starting (?P<h>.*)$"),
     (r"Zeile 2 (Spaltenüberschriften): Pflichtspalte {c} fehlt; gefunden: {n} "
     r"Überschriften, beginnend mit {h}")),
    (r"^the file ends in the middle of its last line .*deliver it again$",
     ("die Datei endet mitten in ihrer letzten Zeile: sie wurde wohl bei der Übertragung "
     "abgeschnitten; bitte neu liefern")),
    (r"^the lines end in CR only \(no LF\).*$",
     ("die Zeilen enden nur mit CR (ohne LF): bitte die Datei mit Windows-Zeilenenden (CR LF) "
     "neu speichern, wie DATEV sie schreibt")),
    (r"^not a DATEV file: .*found '(?P<f>.*)'$",
     r"keine DATEV-Datei: Zeile 1 muss mit EXTF oder DTVF und ';' beginnen, gefunden '{f}'"),
    (r"^DATEV data category (?P<c>\d+) \('(?P<n>[^']*)'\) is not .*$",
     (r"DATEV-Datenkategorie {c} ('{n}') ist kein Buchungsstapel (21) und keine "
     r"Kontenbeschriftung (20); bitte Buchungen als DATEV-Buchungsstapel (21) exportieren")),
    (r"^unknown DATEV version (?P<v>\d+) with format version (?P<f>\d+) .*$",
     (r"unbekannte DATEV-Version {v} mit Formatversion {f} (unterstützt: 510 mit "
     r"Formatversion 7, 700 mit Formatversion 9-13)")),
    ((r"^(?P<a>\d+) of (?P<b>\d+) (lines|rows) rejected, more than the allowed share of "
     r"(?P<s>\d+) ?%; first problem: (?P<inner>.*)$"),
     (r"{a} von {b} Zeilen aussortiert, mehr als der erlaubte Anteil von {s} %; erstes "
     r"Problem: {inner}")),
    (r"^line 1 \(the header\) cannot be split into fields: .*$",
     "Zeile 1 (der DATEV-Kopf) lässt sich nicht in Felder zerlegen (ein Zeilenumbruch oder "
     "Anführungszeichen am falschen Ort?)"),
    (r"^line 2 \(the column headings\) cannot be split into fields: .*$",
     "Zeile 2 (die Spaltenüberschriften) lässt sich nicht in Felder zerlegen (ein Zeilenumbruch "
     "oder Anführungszeichen am falschen Ort?)"),
    (r"^(?P<w>.+) cannot be split into fields: .*$",
     "{w}: lässt sich nicht in Felder zerlegen (ein Zeilenumbruch oder Anführungszeichen am "
     "falschen Ort?)"),
    (r"^line (?P<n>\d+), (?:field )?(?P<field>[^:]+): (?P<inner>.*)$",
     "Zeile {n}, {field}: {inner}"),
    (r"^missing required value$", "Pflichtwert fehlt"),
    (r"^not a valid date \(expected DD\.MM\.YYYY or YYYY-MM-DD\)$",
     "kein gültiges Datum (erwartet TT.MM.JJJJ oder JJJJ-MM-TT)"),
    (r"^the year is not written with four digits \(expected DD\.MM\.YYYY or YYYY-MM-DD\)$",
     "die Jahreszahl hat nicht vier Stellen (erwartet TT.MM.JJJJ oder JJJJ-MM-TT)"),
    (r"^date before (?P<d>[0-9.]+): implausible$", r"Datum vor dem {d}: unplausibel"),
    (r"^not a number$", "keine Zahl"),
    (r"^below (?P<n>.+)$", r"kleiner als {n}"),
    (r"^above (?P<n>.+)$", r"größer als {n}"),
    (r"^unknown code \(allowed: (?P<c>.*)\)$", r"unbekannter Code (erlaubt: {c})"),
    (r"^duplicate key within the file$", "Schlüssel kommt in der Datei doppelt vor"),
    (r"^the end date lies before the start date$", "das Enddatum liegt vor dem Beginn"),
    (r"^the score lies outside the instrument's scale$",
     "der Wert liegt außerhalb der Skala des Instruments"),
    (r"^the file is empty$", "die Datei ist leer"),
    (r"^binary data, not a text export \(contains NUL bytes\)$",
     "Binärdaten, kein Textexport (enthält NUL-Bytes)"),
    (r"^missing column\(s\) (?P<c>.*)$", r"fehlende Spalte(n) {c}"),
    (r"^unexpected error while reading the file \((?P<e>[^)]*)\); .*$",
     (r"unerwarteter Fehler beim Lesen der Datei ({e}); die Datei wird beiseitegelegt, die "
      r"anderen werden geladen: bitte das Plattform-Team informieren")),
    (r"^the header names column\(s\) (?P<c>.*) more than once; .*$",
     (r"die Kopfzeile nennt die Spalte(n) {c} mehr als einmal; welche die Werte enthält, ist "
      r"unklar: die doppelte Spalte umbenennen oder entfernen und neu liefern")),
    (r"^a quoted value \(\"\) opens in this row and never closes: the next (?P<n>\d+) row\(s\) "
     r"were read into it$",
     ('ein Wert in Anführungszeichen (") beginnt in dieser Zeile und wird nie geschlossen: '
      "die nächsten {n} Zeile(n) wurden in ihn gelesen")),
    (r"^read into the unclosed quote of row (?P<n>\d+)$",
     r"in den nicht geschlossenen Wert in Anführungszeichen aus Zeile {n} gelesen"),
    (r"^row (?P<n>\d+) opens a quoted value \(\"\) that never closes: more than (?P<c>[\d,]+) "
     r"characters .*$",
     ('Zeile {n} öffnet einen Wert in Anführungszeichen ("), der nie geschlossen wird: mehr als '
      r"{c} Zeichen der folgenden Zeilen wurden in ihn gelesen, die verschluckten Zeilen lassen "
      r"sich nicht zählen; das Anführungszeichen schließen (oder entfernen) und die Datei neu "
      r"liefern")),
    (r"^around row (?P<n>\d+) a quoted value \(\"\) never closes and the rows after it .*$",
     ('um Zeile {n} wird ein Wert in Anführungszeichen (") nie geschlossen, und die Zeilen '
      "danach lassen sich nicht sicher zählen; die ganze Datei wird abgelehnt, damit keine "
      "Zeile verloren geht: das Anführungszeichen schließen (oder entfernen) und die Datei neu "
      "liefern")),
    (r"^the header \(row 1\) cannot be read: (?P<e>.*)$",
     r"die Kopfzeile (Zeile 1) kann nicht gelesen werden: {e}"),
    (r"^the workbook has no visible worksheet$", "die Arbeitsmappe hat kein sichtbares Blatt"),
    (r"^the workbook's first visible sheet \('(?P<s>.*)'\) is empty$",
     r"das erste sichtbare Blatt der Arbeitsmappe ('{s}') ist leer"),
    (r"^not a kind of file Datenwerk loads: .*$",
     ("keine Datei, die Datenwerk lädt: kein DATEV-Kopf, und die Kopfzeile hat weder die Spalten "
     "einer Referenztabelle noch die eines Exportprofils")),
    # DATEV header and structure (ingestion/accounting/datev.py).
    (r"^the period (?P<a>\S+)-(?P<b>\S+) \(header fields 15/16\) does not lie within the fiscal "
     r"year starting (?P<s>\S+) \(field 13\).*$",
     (r"der Zeitraum {a}-{b} (Kopffelder 15/16) liegt nicht im Wirtschaftsjahr ab {s} "
     r"(Feld 13): das Belegdatum TTMM hat kein Jahr, deshalb muss ein Stapel in einem "
     r"Wirtschaftsjahr bleiben")),
    (r"^header field (?P<f>\d+) \((?P<n>[^)]*)\) is not a date YYYYMMDD: '(?P<v>.*)'$",
     r"Kopffeld {f} ({n}) ist kein Datum JJJJMMTT: '{v}'"),
    (r"^header field (?P<f>\d+) \((?P<n>[^)]*)\) must be a number, found '(?P<v>.*)'$",
     r"Kopffeld {f} ({n}) muss eine Zahl sein, gefunden '{v}'"),
    (r"^header field 14 \(Sachkontennummernlänge\) must be 4 to 8, found '(?P<v>.*)'$",
     r"Kopffeld 14 (Sachkontennummernlänge) muss 4 bis 8 sein, gefunden '{v}'"),
    (r"^header fields 2, 3 and 5 \(version, data category, format version\) must be numbers, "
     r"found (?P<v>.*)$",
     (r"Kopffelder 2, 3 und 5 (Version, Datenkategorie, Formatversion) müssen Zahlen sein, "
     r"gefunden {v}")),
    (r"^header currency \(field 22\) is '(?P<c>.*)'; only EUR books are supported$",
     r"Währung im Kopf (Feld 22) ist '{c}'; unterstützt werden nur Bücher in EUR"),
    (r"^the DATEV header \(line 1\) has (?P<n>\d+) fields; at least 16 .*$",
     (r"der DATEV-Kopf (Zeile 1) hat {n} Felder; nötig sind mindestens 16 (bis 'Datum bis'), "
     r"üblich sind 31")),
    (r"^line 2 \(the column headings\) is missing$", "Zeile 2 (die Spaltenüberschriften) fehlt"),
    (r"^line 2 \(column headings\) needs 'Konto' and 'Kontenbeschriftung', found (?P<h>.*)$",
     (r"Zeile 2 (Spaltenüberschriften) braucht 'Konto' und 'Kontenbeschriftung', "
     r"gefunden: {h}")),
    (r"^column '(?P<c>.*)' is not valid (?P<e>\S+) although the file starts as (?P<s>\S+); .*$",
     (r"Spalte '{c}' ist kein gültiges {e}, obwohl die Datei als {s} beginnt; bitte die ganze "
     r"Datei in einem Zeichensatz exportieren (Windows-1252 ist der DATEV-Standard)")),
    (r"^','-delimited file with (?P<n>\d+) line\(s\) whose field count differs from the headings "
     r"\(first: booking (?P<b>\d+), (?P<c>\d+) of (?P<e>\d+) fields\).*$",
     (r"mit ',' getrennte Datei mit {n} Zeile(n), deren Feldzahl von den Überschriften "
     r"abweicht (erste: Buchung {b}, {c} von {e} Feldern): Beträge mit Dezimalkomma müssen in "
     r"einer mit ',' getrennten Datei in Anführungszeichen stehen; bitte mit ';' exportieren "
     r"(DATEV-Standard)")),
    (r"^the booking lines cannot be parsed: (?P<inner>.*)$",
     r"die Buchungszeilen können nicht gelesen werden: {inner}"),
    # pyarrow's CSV reader (quoted inside the reasons above, or a reference table's own reason).
    (r"^Could not skip initial (?P<n>\d+) rows from CSV file, either file is too short.*$",
     (r"nach den ersten {n} Zeilen folgt nichts: die Datei ist zu kurz (keine Buchungszeile, "
     r"kein Zeilenende)")),
    (r"^CSV parse error: Expected (?P<a>\d+) columns, got (?P<b>\d+).*$",
     r"CSV-Lesefehler: {a} Spalten erwartet, {b} gefunden"),
    (r"^CSV conversion error to (?P<t>\S+): invalid value '(?P<v>.*)'$",
     r"CSV-Umwandlungsfehler nach {t}: ungültiger Wert '{v}'"),
    (r"^Empty CSV file$", "leere CSV-Datei"),
    # Case-management exports (ingestion/case_management/).
    (r"^the file lies (?:outside|deeper than) a department folder \((?P<p>.*)\); .*$",
     ("die Datei liegt nicht in einem Abteilungsordner ({p}); Exporte gehören in "
     "<organisation>/<department>/ des Posteingangs der Fallverwaltung, wo die Ordner sagen, "
     "wessen Daten es sind. Bitte dorthin verschieben (Unterordner wie ein Archiv werden nicht "
     "gelesen).")),
    (r"^unknown profile '(?P<p>.*)'; known: (?P<k>.*)$",
     r"unbekanntes Exportprofil '{p}'; bekannt: {k}"),
    (r"^neither the file name nor the header matches an export profile \(checked: (?P<k>.*)\);.*$",
     (r"weder Dateiname noch Kopfzeile passen zu einem Exportprofil (geprüft: {k}); Profil mit "
     r"--profile nennen oder eines für diesen Export anlegen")),
    (r"^the header fits several export profiles \((?P<a>[^,]*), (?P<b>[^)]*)\):.*$",
     (r"die Kopfzeile passt zu mehreren Exportprofilen ({a}, {b}): eines mit --profile nennen "
     r"oder der Datei einen Namen geben, den ihr Profil erwartet")),
    (r"^the header cannot be decoded as (?P<e>\S+): (?P<r>.*)$",
     r"die Kopfzeile lässt sich nicht als {e} lesen: {r}"),
    (r"^the header has no '(?P<d>.*)'-separated columns$",
     r"die Kopfzeile hat keine durch '{d}' getrennten Spalten"),
    (r"^not a readable \.xlsx workbook: (?P<r>.*)$", r"keine lesbare .xlsx-Arbeitsmappe: {r}"),
    (r"^the workbook's first sheet is empty$", "das erste Blatt der Arbeitsmappe ist leer"),
    (r"^cannot be decoded as (?P<e>\S+) at byte (?P<b>\d+): (?P<r>.*)$",
     r"lässt sich ab Byte {b} nicht als {e} lesen: {r}"),
    (r"^cannot be read as a '(?P<d>.*)'-delimited file: (?P<r>.*)$",
     r"lässt sich nicht als durch '{d}' getrennte Datei lesen: {r}"),
    (r"^line (?P<n>\d+) is longer than (?P<b>[\d,]+) bytes \(and (?P<m>\d+) more lines\); .*$",
     (r"Zeile {n} ist länger als {b} Bytes (und {m} weitere Zeilen); ein defekter Export, die "
     r"ganze Datei ist abgewiesen")),
    (r"^line (?P<n>\d+) is longer than (?P<b>[\d,]+) bytes; .*$",
     r"Zeile {n} ist länger als {b} Bytes; ein defekter Export, die ganze Datei ist abgewiesen"),
    (r"^required column\(s\) (?P<c>.*) missing for (?P<e>\S+) \(profile (?P<p>[^)]*)\); the "
     r"profile's columns in the header: (?P<h>.*); (?P<n>\d+) other column\(s\), not shown$",
     r"Pflichtspalte(n) {c} fehlen für {e} (Exportprofil {p}); Spalten des Profils in der "
     r"Kopfzeile: {h}; {n} weitere Spalte(n), hier nicht gezeigt (fehlt die Kopfzeile?)"),
    (r"^contains bytes that are not valid (?P<e>\S+)$",
     r"enthält Bytes, die kein gültiges {e} sind"),
    (r"^date in the future \(after (?P<d>\S+)\): implausible$",
     r"Datum in der Zukunft (nach dem {d}): unplausibel"),
    (r"^not in the reference programs of department (?P<d>\S+) \(known: (?P<k>.*)\)$",
     r"nicht unter den Programmen der Abteilung {d} in den Referenzdaten (bekannt: {k})"),
    (r"^not in the reference programs of (?P<o>\S+) \(programs\.csv was never delivered\) "
     r"\(known: (?P<k>.*)\)$",
     (r"nicht unter den Programmen von {o} in den Referenzdaten (programs.csv wurde nie "
     r"geliefert) (bekannt: {k})")),
    (r"^not in the reference programs of (?P<o>\S+) \(known: (?P<k>.*)\)$",
     r"nicht unter den Programmen von {o} in den Referenzdaten (bekannt: {k})"),
    (r"^not in the reference data \(known: (?P<k>.*)\)$",
     r"nicht in den Referenzdaten (bekannt: {k})"),
    (r"^no reference data for organisation '(?P<o>.*)': departments\.csv has never been "
     r"delivered.*$",
     (r"keine Referenzdaten für die Organisation '{o}': departments.csv wurde nie geliefert "
     r"(erwartet im Posteingang der Referenzdaten als {o}/departments.csv), deshalb lassen sich "
     r"ihre Falldaten keiner Abteilung zuordnen")),
    (r"^department '(?P<d>.*)' \(the folder this file arrived in\) is not in the reference "
     r"departments of (?P<o>\S+) \(known: (?P<k>.*)\);.*$",
     (r"die Abteilung '{d}' (der Ordner, in dem die Datei ankam) steht nicht in den "
     r"Referenzabteilungen von {o} (bekannt: {k}); bitte in departments.csv ergänzen oder die "
     r"Datei in den Ordner der richtigen Abteilung verschieben")),
    (r"^too few fields in this row$", "zu wenige Felder in dieser Zeile"),
    (r"^too many fields in this row$", "zu viele Felder in dieser Zeile"),
    (r"^a quote character inside an unquoted value$",
     "ein Anführungszeichen in einem Wert ohne Anführungszeichen"),
    (r"^the row is longer than allowed$", "die Zeile ist länger als erlaubt"),
    (r"^characters that are not valid in the file's encoding$",
     "Zeichen, die im Zeichensatz der Datei ungültig sind"),
    (r"^the row cannot be read \(unbalanced quotes\)$",
     "die Zeile lässt sich nicht lesen (unpaarige Anführungszeichen)"),
    (r"^a value cannot be read$", "ein Wert lässt sich nicht lesen"),
    # Reference tables (ingestion/reference/).
    (r"^unknown reference table; expected one of (?P<t>.*)$",
     r"unbekannte Referenztabelle; erwartet eine von {t}"),
    (r"^chart '(?P<c>.*)' is not a DATEV chart such as SKR03, SKR04, SKR42 or SKR49$",
     r"Kontenrahmen '{c}' ist kein DATEV-Kontenrahmen wie SKR03, SKR04, SKR42 oder SKR49"),
    (r"^account_from '(?P<a>.*)' and account_to '(?P<b>.*)' must be digit strings .*$",
     (r"account_from '{a}' und account_to '{b}' müssen Ziffernfolgen gleicher Länge sein, "
     r"mit von <= bis")),
    (r"^category_type '(?P<k>.*)' is not one of (?P<c>.*)$",
     r"category_type '{k}' ist keiner von {c}"),
    (r"^category '(?P<c>.*)' is not a (?P<k>\S+) category \((?P<a>.*)\)$",
     r"category '{c}' ist keine Kategorie der Art {k} ({a})"),
    (r"^kost_field '(?P<k>.*)' is not KOST1 or KOST2$",
     r"kost_field '{k}' ist nicht KOST1 oder KOST2"),
    (r"^kost_field must be the same for all cost centres of an organisation; found (?P<f>.*): .*$",
     (r"kost_field muss für alle Kostenstellen einer Organisation gleich sein; gefunden {f}: "
     r"ein DATEV-Feld trägt die Kostenstelle der Abteilung bzw. des Programms")),
    (r"^(?P<w>\w+) (?P<c>'.*'|\".*\") is not a valid code: .*$",
     (r"{w} {c} ist kein gültiger Code: nur Buchstaben, Ziffern, '_', '-' und '.', beginnend "
     r"mit Buchstabe oder Ziffer, höchstens 64 Zeichen")),
    (r"^line (?P<n>\d+): (?P<inner>.*)$", "Zeile {n}: {inner}"),
]]


# Phrases inside a reason that the patterns above keep as a group.
PHRASES = [(re.compile(p), de) for p, de in [
    (r"\(or ", "(oder "),
    (r"\(columns (\d+) and (\d+)\)", r"(Spalten \1 und \2)"),
    (r"expected at column (\d+) of format version (\d+)", (r"erwartet in Spalte \1 der "
                                                            r"Formatversion \2")),
]]


# The field of a row the reader could not split into fields: "(row)" in a case-management
# export (ingestion.case_management.helpers), "line" in a DATEV file (ingestion.accounting.datev).
WHOLE_ROW = ("(row)", "line")


def steward_field(name: str) -> str:
    """A quarantine row's field as the steward reads it: the whole row is "(ganze Zeile)"."""
    return "(ganze Zeile)" if name in WHOLE_ROW else name


def translate(reason: str, lang: str) -> str:
    """A reason in ``lang``: German through :data:`REASONS`, English as written. A group named
    ``inner`` (a reason quoted inside another) is translated too."""
    if lang != "de":
        return reason
    for pattern, german in REASONS:
        match = pattern.match(reason)
        if match:
            groups = {k: v or "" for k, v in match.groupdict().items()}
            if "inner" in groups:
                groups["inner"] = translate(groups["inner"], lang)
            if "field" in groups:  # a field named in the reason ("line 3, field line: ...")
                groups["field"] = steward_field(groups["field"])
            text = german.format(**groups)
            for phrase, replacement in PHRASES:
                text = phrase.sub(replacement, text)
            return text
    return reason


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

