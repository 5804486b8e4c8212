"""What a data steward reads about a delivery is German: the report (HTML and CSV), the
``.reason.txt`` beside a rejected file and the e-mail. Each reason goes through the one
translation, :func:`ingestion.validate.translate`; the quarantine table keeps the English reason
(data for engineers)."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pytest

from ingestion.delivery import QUARANTINE_SCHEMA, FileOutcome
from ingestion.validate import translate
from tests.unit.test_reason_translations import COLLECTED

# Words of an English sentence that no German text of ours holds.
ENGLISH = re.compile(
    r"\b(the|a|an|of|is|are|was|were|not|must|found|missing|rejected|deliver|reason|line|lines|"
    r"row|rows|field|fields|file|with|and|or|cannot|expected|known|loaded|please|"
    r"The|Reason|Please|Fix|Row|Field|Delivery|All|Columns)\b"
)

REJECTED = ("the period 01.12.2017-28.02.2018 (header fields 15/16) does not lie within the fiscal "
            "year starting 01.01.2018 (field 13): Belegdatum DDMM has no year, so a batch must "
            "stay within one fiscal year")
SHARE = ("1 of 3 lines rejected, more than the allowed share of 20%; first problem: line 5, "
         "field Umsatz: line has 14 fields, the headings 120")
ROW_REASONS = ["amount missing or not a positive number with decimal comma (618,9)",
               "too few fields in this row", "not in the reference programs of department SB "
               "(known: SB-ALLG)"]


def english(text: str) -> list[str]:
    """The English words of ``text`` (HTML markup, style and paths left out)."""
    return ENGLISH.findall(re.sub(r"<style>.*?</style>|<[^>]+>|\S*/\S*", " ", text))


@pytest.fixture
def inbox_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from warehouse import paths

    monkeypatch.setenv("DATENWERK_HOME", str(tmp_path))
    path = paths.inbox() / "accounting" / "muster" / "buchungen.csv"
    path.parent.mkdir(parents=True)
    path.write_text("EXTF;700\n", encoding="utf-8")
    return path


def outcome(path: Path, rejected: str | None = None) -> FileOutcome:
    o = FileOutcome(path, "ab" * 32, "swm", "bookings", "datev", rows_read=5, rows_loaded=2)
    o.rejected_reason = rejected
    if rejected is None:
        n = len(ROW_REASONS)
        o.quarantine.append(pa.table({
            "source_file": ["accounting/muster/buchungen.csv"] * n,
            "source_sha256": ["ab" * 32] * n, "entity": ["bookings"] * n,
            "source_line": list(range(3, 3 + n)), "field": ["Umsatz", "(row)", "program_code"],
            "reason": ROW_REASONS, "offending_value": ["x", None, "SB-NEU"],
        }, schema=QUARANTINE_SCHEMA))
    return o


def test_no_translated_reason_holds_an_english_sentence() -> None:
    found = {where: english(translate(reason, "de")) for where, reason in COLLECTED}
    assert {w: e for w, e in found.items() if e} == {}


def test_the_reason_file_beside_a_rejected_file_is_german(inbox_file: Path) -> None:
    from ingestion.delivery import reject_file

    moved = reject_file(inbox_file, SHARE)
    text = moved.with_name(moved.name + ".reason.txt").read_text(encoding="utf-8")
    assert "Grund: 1 von 3 Zeilen aussortiert" in text and "Zeile 5, Umsatz: Zeile hat 14" in text
    assert "abgewiesen" in text and english(text) == []


@pytest.mark.parametrize("rejected", [REJECTED, None], ids=["rejected", "rows_set_aside"])
def test_the_delivery_report_is_german(inbox_file: Path, rejected: str | None) -> None:
    from ingestion.reports import write_report

    report = write_report(outcome(inbox_file, rejected))
    page = report.read_text(encoding="utf-8")
    rows = report.with_suffix(".csv").read_text(encoding="utf-8-sig")
    assert "Lieferbericht" in page and english(page) == [] and english(rows) == []
    if rejected:
        assert "als Ganzes abgewiesen" in page and "liegt nicht im Wirtschaftsjahr" in page
    else:
        assert "2 von 5 Zeilen wurden geladen" in page
        assert "zu wenige Felder in dieser Zeile" in page and rows.startswith("Zeile;Feld;Grund")
        assert "(ganze Zeile)" in page and "(ganze Zeile)" in rows
        assert "nicht unter den Programmen der Abteilung SB" in rows


@pytest.mark.parametrize("rejected", [REJECTED, None], ids=["rejected", "rows_set_aside"])
def test_the_steward_email_is_german(rejected: str | None) -> None:
    from orchestration.deliveries import Problem, Reason, steward_message

    problem = Problem("accounting/muster/buchungen.csv", "ab" * 32, "swm", "bookings", "datev",
                      "rejected" if rejected else "loaded", 5, 2, 3, rejected,
                      [Reason("Umsatz", r, 1, (3,)) for r in ROW_REASONS] if not rejected else [])
    subject, text = steward_message(problem, "K. Muster")
    assert english(subject + text) == []
    if rejected:
        assert "Grund: der Zeitraum 01.12.2017-28.02.2018" in text
    else:
        assert "Spalte „Umsatz“: zu wenige Felder in dieser Zeile – 1 Zeile: 3" in text


def test_a_row_the_reader_could_not_split_is_named_in_german_in_the_email() -> None:
    from orchestration.deliveries import _file_column

    assert _file_column("demo_csv", "cases", "(row)") == "(ganze Zeile)"
    assert _file_column("demo_csv", "cases", "start_date") == "Beginn"
