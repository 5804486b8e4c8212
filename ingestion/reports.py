"""Plain-language quality reports on delivered files, for data stewards and for
`datenwerk validate`: in German, every reason translated by :func:`warehouse.reasons.translate`.

A report names each rejected row by its row number, field and reason, and quotes the offending
value only where it is not personal data (codes, event dates, numbers). Reports are written into
the protected folder: rejected values can still say something about a person.
"""

from __future__ import annotations

import csv
import html
import io
from datetime import UTC, datetime
from pathlib import Path

from ingestion.delivery import FileOutcome, quarantine_table, relative_to_inbox
from warehouse import paths
from warehouse.reasons import steward_field, translate


def _german_count(n: int) -> str:
    return f"{n:,}".replace(",", ".")


def write_report(outcome: FileOutcome) -> Path:
    """Write the steward's report (HTML, with the same rows as CSV beside it); return its path.

    German, as everything a steward reads; reasons through :func:`warehouse.reasons.translate`.
    """
    rel = relative_to_inbox(outcome.path)
    target = paths.reports_dir() / f"{rel}.{outcome.sha256[:12]}.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    rows = sorted(quarantine_table([outcome]).to_pylist(), key=lambda r: r["source_line"])
    for r in rows:
        r["field"], r["reason"] = steward_field(r["field"]), translate(r["reason"], "de")
    with io.StringIO() as buf:
        writer = csv.writer(buf, delimiter=";")
        writer.writerow(["Zeile", "Feld", "Grund", "Wert"])
        for r in rows:
            writer.writerow([r["source_line"], r["field"], r["reason"], r["offending_value"] or ""])
        target.with_suffix(".csv").write_text(buf.getvalue(), encoding="utf-8-sig")
    if outcome.rejected_reason:
        reason = html.escape(translate(outcome.rejected_reason, "de"))
        verdict = (f"<p class=bad>Die Datei wurde als Ganzes abgewiesen; nichts daraus wurde "
                   f"geladen. Grund: {reason}</p>")
    elif rows:
        verdict = (f"<p>{_german_count(outcome.rows_loaded)} von "
                   f"{_german_count(outcome.rows_read)} Zeilen wurden geladen; "
                   f"{_german_count(len(rows))} Zeilen wurden zurückgestellt. Bitte "
                   "korrigieren Sie sie in der Fachsoftware; sie werden mit der nächsten "
                   "Lieferung geladen.</p>")
    else:
        verdict = f"<p class=ok>Alle {_german_count(outcome.rows_read)} Zeilen wurden geladen.</p>"
    table = "".join(
        f"<tr><td>{r['source_line']}</td><td>{html.escape(r['field'])}</td>"
        f"<td>{html.escape(r['reason'])}</td>"
        f"<td>{html.escape(r['offending_value'] or '')}</td></tr>"
        for r in rows
    )
    unexpected = (
        "<p>Spalten, die das Exportprofil nicht kennt, wurden weder gelesen noch gespeichert: "
        + html.escape(", ".join(outcome.unexpected_columns)) + ". Werden sie gebraucht, muss das "
        "Profil erweitert werden; enthalten sie personenbezogene Daten, entfernen Sie sie bitte "
        "aus dem Export.</p>"
        if outcome.unexpected_columns else ""
    )
    missing = (
        "<p>Diese Spalten fehlen in der Datei; sie sind nicht Pflicht, ihre Felder bleiben "
        "leer: " + html.escape(", ".join(outcome.missing_columns)) + ". Kann die Fachsoftware "
        "sie liefern, ergänzen Sie sie bitte im Export.</p>"
        if outcome.missing_columns and not outcome.rejected_reason else ""
    )
    no_region = (
        f"<p>{outcome.postcodes_without_region} Zeile(n) haben eine Postleitzahl, die keine "
        "Region ergibt (nicht fünf Ziffern: eine von Excel entfernte führende Null, oder aus dem "
        "Ausland); sie wurden ohne Region geladen. Speichern Sie die Postleitzahl im Export bitte "
        "als Text.</p>"
        if outcome.postcodes_without_region and not outcome.rejected_reason else ""
    )
    title = (
        f"<p>Die Kopfzeile steht in Zeile {outcome.title_rows + 1}; die Zeilen darüber (ein "
        "Titel) wurden nicht gelesen.</p>"
        if outcome.title_rows else ""
    )
    target.write_text(
        "<!doctype html><html lang=de><meta charset=utf-8><title>Datenwerk: "
        + html.escape(rel) + "</title>"
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}td,th{padding:.2em .6em;"
        "border-bottom:1px solid #ddd;text-align:left}.bad{color:#a00}.ok{color:#070}</style>"
        f"<h1>Lieferbericht</h1><p><b>{html.escape(rel)}</b>"
        f" · Exportprofil {html.escape(outcome.profile)}"
        f" · {html.escape(outcome.entity)} · geprüft am {datetime.now(UTC):%d.%m.%Y %H:%M} UTC</p>"
        f"{verdict}{unexpected}{missing}{no_region}{title}"
        + (
            "<table><tr><th>Zeile</th><th>Feld</th><th>Grund</th><th>Wert</th></tr>"
            f"{table}</table>"
            if rows
            else ""
        )
        + "<p><small>Die Zeilennummern zählen wie eine Tabellenkalkulation (die Kopfzeile ist "
        f"Zeile {outcome.title_rows + 1}). Werte personenbezogener Felder werden nie gezeigt."
        "</small></p>",
        encoding="utf-8",
    )
    return target
