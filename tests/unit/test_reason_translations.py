"""Every reason a data steward can read has a German text (:data:`warehouse.reasons.REASONS`).

The reasons are collected from the ingestion code itself, so a new ``FileRejected``, DATEV format
error, quarantine check or reader-reject text without a German translation fails here.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from warehouse.reasons import translate

INGESTION = Path(__file__).resolve().parents[2] / "ingestion"
# Calls whose second argument is a whole-file rejection reason.
REJECTIONS = {"FileRejected", "DatevFormatError"}
# A placeholder value that fits every pattern's group (digits match \d+, \w+ and .+) unless the
# pattern needs a word; these expressions take the value they hold at run time.
SAMPLES = {
    "unit": "lines",
    "source": "the reference programs of department SB",
    "where": "outside",
    "expected": "a Buchungsstapel (21) or account labels (20)",
    "encoding": "utf-8",
    "header.encoding": "cp1252",
    "what": "13 (WJ-Beginn)",
}


def _sample(node: ast.expr) -> str | None:
    """The text a string expression produces, with a sample value for each placeholder."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            if isinstance(value, ast.Constant):
                parts.append(str(value.value))
                continue
            assert isinstance(value, ast.FormattedValue)
            expr = ast.unparse(value.value)
            spec = ast.unparse(value.format_spec)[2:-1] if value.format_spec else ""
            try:
                parts.append(SAMPLES.get(expr) or format(7, spec))
            except ValueError:  # a date's format
                parts.append("01.01.2024")
        return "".join(parts)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _sample(node.left), _sample(node.right)
        return None if left is None or right is None else left + right
    if isinstance(node, ast.IfExp):
        return _sample(node.body)
    return None


def _call_reasons(node: ast.Call) -> list[ast.expr]:
    name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
    if name in REJECTIONS and len(node.args) >= 2:
        return [node.args[1]]
    if name == "mark" and len(node.args) >= 3:  # a DATEV booking line set aside
        return [node.args[2]]
    if name == "append" and node.args and isinstance(node.args[0], ast.Tuple):
        items = node.args[0].elts  # a case-management check: (sql, field, reason, value)
        return [items[2]] if len(items) == 4 else []
    return []


def _reasons(tree: ast.Module) -> Iterator[tuple[int, ast.expr]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield from ((node.lineno, r) for r in _call_reasons(node))
        elif isinstance(node, ast.FunctionDef) and node.name.endswith("_problem"):
            # "why this cannot load" helpers return the reason
            yield from ((sub.lineno, sub.value) for sub in ast.walk(node)
                        if isinstance(sub, ast.Return) and sub.value is not None)
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict) and any(
            isinstance(t, ast.Name) and t.id.endswith("REASONS") for t in node.targets
        ):
            # reader rejects in a steward's words
            yield from ((node.lineno, v) for v in node.value.values if v is not None)


def _collected() -> list[tuple[str, str]]:
    found = []
    for path in sorted(INGESTION.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for line, expr in _reasons(tree):
            text = _sample(expr)
            if text is not None:
                found.append((f"{path.relative_to(INGESTION.parent)}:{line}", text))
    return found


COLLECTED = _collected()


def test_the_collector_finds_the_reasons_of_every_source() -> None:
    where = {w.split(":")[0] for w, _ in COLLECTED}
    assert {"ingestion/accounting/datev.py", "ingestion/case_management/helpers.py",
            "ingestion/case_management/__init__.py", "ingestion/case_management/plausibility.py",
            "ingestion/reference/__init__.py", "ingestion/delivery.py"} <= where
    assert len(COLLECTED) > 50


@pytest.mark.parametrize(("where", "reason"), COLLECTED, ids=[w for w, _ in COLLECTED])
def test_every_reason_in_the_ingestion_code_has_a_german_text(where: str, reason: str) -> None:
    assert translate(reason, "de") != reason, f"{where}: no German text for {reason!r}"


def test_the_rules_of_the_standard_have_a_german_text() -> None:
    from ingestion.standard import standard

    for spec in standard().values():
        for rule in spec.rules:
            assert translate(rule.reason, "de") != rule.reason, rule.reason


@pytest.mark.parametrize(("reason", "german"), [
    ("line 3: department_code 'S B' is not a valid code: letters, digits, '_', '-' and '.' "
     "only, starting with a letter or digit, at most 64 characters",
     "Zeile 3: department_code 'S B' ist kein gültiger Code: nur Buchstaben, Ziffern, '_', '-' "
     "und '.', beginnend mit Buchstabe oder Ziffer, höchstens 64 Zeichen"),
    ("the booking lines cannot be parsed: Could not skip initial 2 rows from CSV file, either "
     "file is too short or header is larger than block size",
     "die Buchungszeilen können nicht gelesen werden: nach den ersten 2 Zeilen folgt nichts: "
     "die Datei ist zu kurz (keine Buchungszeile, kein Zeilenende)"),
    ("the period 01.12.2017-28.02.2018 (header fields 15/16) does not lie within the fiscal "
     "year starting 01.01.2018 (field 13): Belegdatum DDMM has no year, so a batch must stay "
     "within one fiscal year",
     "der Zeitraum 01.12.2017-28.02.2018 (Kopffelder 15/16) liegt nicht im Wirtschaftsjahr ab "
     "01.01.2018 (Feld 13): das Belegdatum TTMM hat kein Jahr, deshalb muss ein Stapel in einem "
     "Wirtschaftsjahr bleiben"),
    ("1 of 3 lines rejected, more than the allowed share of 20%; first problem: line 5, field "
     "Umsatz: line has 14 fields, the headings 120",
     "1 von 3 Zeilen aussortiert, mehr als der erlaubte Anteil von 20 %; erstes Problem: "
     "Zeile 5, Umsatz: Zeile hat 14 Felder, die Überschriften 120"),
    # the file's columns, what they are for and the entity in German
    ("required column(s) 'Klient-Nr' (for client_id), 'Beginn' (for start_date) missing for "
     "cases (profile demo_csv); the profile's columns in the header: Fall-Nr; 1 other "
     "column(s), not shown",
     "Pflichtspalte(n) 'Klient-Nr' (für client_id), 'Beginn' (für start_date) fehlen für Fälle "
     "(Exportprofil demo_csv); Spalten des Profils in der Kopfzeile: Fall-Nr; 1 weitere "
     "Spalte(n), hier nicht gezeigt (fehlt die Kopfzeile?)"),
    # what the reader noticed in a file that loaded (FileOutcome.notice)
    ("2 column(s) not read (unknown to the export profile; the file's report names them); "
     "optional column(s) missing, their fields stay empty: Zuweisung (referral_source)",
     "2 Spalte(n) nicht gelesen (dem Exportprofil unbekannt; der Prüfbericht der Datei nennt "
     "sie); optionale Spalte(n) fehlen, ihre Felder bleiben leer: Zuweisung (referral_source)"),
    ("2 column(s) not read (unknown to the export profile; the file's report names them); "
     "3 row(s) with a postcode that gives no region (not five digits), loaded without one; "
     "optional column(s) missing, their fields stay empty: PLZ (postcode)",
     "2 Spalte(n) nicht gelesen (dem Exportprofil unbekannt; der Prüfbericht der Datei nennt "
     "sie); 3 Zeile(n) mit einer Postleitzahl, die keine Region ergibt (nicht fünf Ziffern), "
     "ohne Region geladen; optionale Spalte(n) fehlen, ihre Felder bleiben leer: PLZ (postcode)"),
    ("3 row(s) with a postcode that gives no region (not five digits), loaded without one",
     "3 Zeile(n) mit einer Postleitzahl, die keine Region ergibt (nicht fünf Ziffern), ohne "
     "Region geladen"),
    ("optional column(s) missing, their fields stay empty: Beginn (start_date)",
     "optionale Spalte(n) fehlen, ihre Felder bleiben leer: Beginn (start_date)"),
    # German thousands separators in a German text
    ("line 3 is longer than 10,000,000 bytes; a broken export, the whole file is rejected",
     "Zeile 3 ist länger als 10.000.000 Bytes; ein defekter Export, die ganze Datei ist "
     "abgewiesen"),
    ("row 4 opens a quoted value (\") that never closes: more than 10,000 characters of the "
     "following rows were read into it, the rows it swallowed cannot be counted; close the quote "
     "(or remove it) and deliver the file again",
     'Zeile 4 öffnet einen Wert in Anführungszeichen ("), der nie geschlossen wird: mehr als '
     "10.000 Zeichen der folgenden Zeilen wurden in ihn gelesen, die verschluckten Zeilen lassen "
     "sich nicht zählen; das Anführungszeichen schließen (oder entfernen) und die Datei neu "
     "liefern"),
])
def test_reasons_quoted_inside_reasons_are_german_too(reason: str, german: str) -> None:
    assert translate(reason, "de") == german
    assert translate(reason, "en") == reason


def test_the_notice_of_a_loaded_file_is_german_and_names_no_unknown_column() -> None:
    from ingestion.delivery import FileOutcome

    outcome = FileOutcome(Path("k.csv"), "0" * 64, "swm", "contacts", "demo_csv",
                          unexpected_columns=["Bemerkung Frau Müller"],
                          missing_columns=["Zuweisung (referral_source)"])
    message = outcome.registry_row()["message"]
    assert isinstance(message, str) and "Müller" not in message
    assert translate(message, "de").startswith("1 Spalte(n) nicht gelesen")
    assert FileOutcome(Path("k.csv"), "0" * 64, "swm", "contacts", "demo_csv").notice is None
