"""Plain-language quality reports on delivered files, for data stewards and for
`datenwerk validate`.

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


def write_report(outcome: FileOutcome) -> Path:
    """Write the steward's report (HTML, with the same rows as CSV beside it); return its path."""
    rel = relative_to_inbox(outcome.path)
    target = paths.reports_dir() / f"{rel}.{outcome.sha256[:12]}.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    rows = sorted(quarantine_table([outcome]).to_pylist(), key=lambda r: r["source_line"])
    with io.StringIO() as buf:
        writer = csv.writer(buf, delimiter=";")
        writer.writerow(["Zeile/row", "Feld/field", "Grund/reason", "Wert/value"])
        for r in rows:
            writer.writerow([r["source_line"], r["field"], r["reason"], r["offending_value"] or ""])
        target.with_suffix(".csv").write_text(buf.getvalue(), encoding="utf-8-sig")
    if outcome.rejected_reason:
        reason = html.escape(outcome.rejected_reason)
        verdict = f"<p class=bad>The whole file was rejected: {reason}</p>"
    elif rows:
        verdict = (f"<p>{outcome.rows_loaded} of {outcome.rows_read} rows were loaded; "
                   f"{len(rows)} rows were set aside. Please correct them in the source system; "
                   "they load with the next delivery.</p>")
    else:
        verdict = f"<p class=ok>All {outcome.rows_read} rows were loaded.</p>"
    table = "".join(
        f"<tr><td>{r['source_line']}</td><td>{html.escape(r['field'])}</td>"
        f"<td>{html.escape(r['reason'])}</td>"
        f"<td>{html.escape(r['offending_value'] or '')}</td></tr>"
        for r in rows
    )
    unexpected = (
        "<p>Columns that the export profile does not know were not read and not stored: "
        + html.escape(", ".join(outcome.unexpected_columns)) + ". If they are needed, the profile "
        "must be extended; if they hold personal data, please remove them from the export.</p>"
        if outcome.unexpected_columns else ""
    )
    target.write_text(
        "<!doctype html><meta charset=utf-8><title>Datenwerk: " + html.escape(rel) + "</title>"
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}td,th{padding:.2em .6em;"
        "border-bottom:1px solid #ddd;text-align:left}.bad{color:#a00}.ok{color:#070}</style>"
        f"<h1>Delivery report</h1><p><b>{html.escape(rel)}</b>"
        f" · profile {html.escape(outcome.profile)}"
        f" · {html.escape(outcome.entity)} · checked {datetime.now(UTC):%Y-%m-%d %H:%M} UTC</p>"
        f"{verdict}{unexpected}"
        + (
            f"<table><tr><th>Row</th><th>Field</th><th>Reason</th><th>Value</th></tr>{table}</table>"
            if rows
            else ""
        )
        + "<p><small>Row numbers count as a spreadsheet shows them (the header is row 1). "
        "Values of personal fields are never shown.</small></p>",
        encoding="utf-8",
    )
    return target
