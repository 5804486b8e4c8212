"""The demo's second vendor: one department delivers Excel workbooks in another system's format.

The generator writes every department as the demo vendor's CSV first; this module re-writes one
department's files as that department's own system would export them (other column names and
codes, dates as date cells, numbers as numbers, see ``profiles/jugendhilfe_xlsx.yml``). The data
are the same rows, so the ground truth stays valid.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pandas as pd

# Excel holds at most 1,048,576 rows a sheet; real Excel exports are small. Larger demo
# departments stay CSV.
MAX_XLSX_ROWS = 200_000
FIXED_TIME = (2026, 1, 1, 0, 0, 0)

FILES = {  # demo CSV -> (workbook, column renames, code maps)
    "klienten": ("Personen", {
        "Klient-Nr": "Personen-ID", "Vorname": "Vorname", "Nachname": "Name",
        "Geburtsdatum": "Geburtsdatum", "Geschlecht": "Geschlecht", "Straße": "Anschrift",
        "PLZ": "Postleitzahl", "Ort": "Wohnort", "Telefon": "Telefonnummer", "E-Mail": "Mail",
    }, {"Geschlecht": {"weiblich": "w", "männlich": "m", "divers": "d", "keine Angabe": "o.A."}}),
    "faelle": ("Hilfen", {
        "Fall-Nr": "Fall-ID", "Klient-Nr": "Personen-ID", "Programm": "Hilfeart",
        "Zuweisung": "Anfrage über", "Beginn": "Hilfebeginn", "Ende": "Hilfeende",
        "Beendigungsgrund": "Beendigung", "Fachkraft-Nr": "Fachkraft",
    }, {"Beendigung": {
        "regulär beendet": "gemäß Hilfeplan beendet",
        "vorzeitig auf Anraten der Fachkraft": "vorzeitig auf Empfehlung der Fachkraft",
        "vorzeitig im Einvernehmen": "vorzeitig einvernehmlich beendet",
        "planmäßige Weitervermittlung": "Zuständigkeitswechsel (geplant)",
        "Abbruch durch Klient/in": "Abbruch durch Leistungsberechtigte",
        "Umzug": "Wegzug", "Sonstiges": "anderer Grund",
    }}),
    "kontakte": ("Kontakte", {
        "Kontakt-Nr": "Kontakt-ID", "Fall-Nr": "Fall-ID", "Datum": "Kontaktdatum",
        "Art": "Kontaktart", "Dauer (Min.)": "Minuten", "Mitarbeiter-Nr": "Fachkraft",
        "Notiz": "Vermerk",
    }, {"Kontaktart": {"persönlich": "Büro", "telefonisch": "Telefon", "online": "Video",
                       "aufsuchend": "Hausbesuch", "Gruppe": "Gruppenangebot"}}),
    "ziele": ("Ziele", {
        "Ziel-Nr": "Ziel-ID", "Fall-Nr": "Fall-ID", "Lebensbereich": "Bereich",
        "Vereinbart am": "Vereinbart", "Ausgangswert": "Ausgangslage", "Zielwert": "Erwartet",
        "Ergebnis": "Erreicht", "Skala": "Skala", "Gewicht": "Gewichtung",
    }, {}),
    "einschaetzungen": ("Bewertungen", {
        "Einschätzung-Nr": "Bewertung-ID", "Fall-Nr": "Fall-ID", "Instrument": "Instrument",
        "Dimension": "Merkmal", "Zeitpunkt": "Messzeitpunkt", "Datum": "Datum", "Wert": "Punkte",
        "Skala min": "Min", "Skala max": "Max",
    }, {"Messzeitpunkt": {"Aufnahme": "Beginn", "Zwischenstand": "Verlauf", "Abschluss": "Ende"}}),
}
DATE_COLUMNS = {"Geburtsdatum", "Hilfebeginn", "Hilfeende", "Kontaktdatum", "Vereinbart", "Datum"}
NUMBER_COLUMNS = {
    "Minuten", "Ausgangslage", "Erwartet", "Erreicht", "Gewichtung", "Punkte", "Min", "Max"
}


def convert_department(dept_dir: Path) -> bool:
    """Rewrite a department's demo CSVs as the Excel vendor's workbooks; False if too large."""
    frames = {}
    for stem in FILES:
        frame = pd.read_csv(dept_dir / f"{stem}.csv", sep=";", encoding="cp1252", dtype=str,
                            keep_default_na=False)
        if len(frame) > MAX_XLSX_ROWS:
            return False
        frames[stem] = frame
    for stem, (book, renames, codes) in FILES.items():
        frame = frames[stem].rename(columns=renames)
        for column, mapping in codes.items():
            frame[column] = frame[column].map(lambda v, m=mapping: m.get(v, v))
        for column in DATE_COLUMNS & set(frame.columns):
            frame[column] = pd.to_datetime(
                frame[column], format="%d.%m.%Y", errors="coerce"
            ).dt.date
        for column in NUMBER_COLUMNS & set(frame.columns):
            frame[column] = pd.to_numeric(frame[column].str.replace(",", ".", regex=False))
        frame = frame.replace({"": None})
        target = dept_dir / f"{book}.xlsx"
        frame.to_excel(target, index=False, engine="openpyxl")
        _make_deterministic(target)
        (dept_dir / f"{stem}.csv").unlink()
    return True


def _make_deterministic(path: Path) -> None:
    """Same seed, same bytes: pin the zip entries' times and the workbook's created/modified."""
    with zipfile.ZipFile(path) as src:
        entries = [(info.filename, src.read(info)) for info in src.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for name, data in entries:
            if name == "docProps/core.xml":
                data = re.sub(
                    rb"(<dcterms:(created|modified)[^>]*>)[^<]*",
                    rb"\g<1>2026-01-01T00:00:00Z",
                    data,
                )
            dst.writestr(zipfile.ZipInfo(name, date_time=FIXED_TIME), data, zipfile.ZIP_DEFLATED)
