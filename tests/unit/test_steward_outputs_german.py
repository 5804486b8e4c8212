"""What a data steward reads about a delivery is German: the report (HTML and CSV), the
``.reason.txt`` beside a rejected file and the e-mail. Each reason goes through the one
translation, :func:`warehouse.reasons.translate`; the quarantine table keeps the English reason
(data for engineers)."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pyarrow as pa
import pytest

from ingestion.delivery import QUARANTINE_SCHEMA, FileOutcome
from tests.unit.test_reason_translations import COLLECTED
from warehouse.reasons import translate

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
    assert _file_column("datev", "bookings", "line") == "(ganze Zeile)"
    assert _file_column("demo_csv", "cases", "start_date") == "Beginn"


FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def test_every_fixture_reaches_the_steward_in_german(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Each bad-input fixture as the load reads it (``validate_file``), through the report and
    the e-mail: reasons the code builds at run time (a parser's message) are covered too."""
    from ingestion.reports import write_report
    from ingestion.validate import validate_file
    from orchestration.deliveries import Problem, Reason, _file_column, steward_message

    monkeypatch.setenv("DATENWERK_HOME", str(tmp_path))
    found: dict[str, list[str]] = {}
    for path in sorted(p for p in FIXTURES.rglob("*") if p.is_file()):
        o = validate_file(path).outcome
        if not (o.rejected_reason or o.quarantine):
            continue
        report = write_report(o).with_suffix(".csv").read_text(encoding="utf-8-sig")
        texts = [" ".join(line.split(";")[1:3]) for line in report.splitlines()[1:]]
        rows = {(r["field"], r["reason"]) for t in o.quarantine for r in t.to_pylist()}
        reasons = [Reason(_file_column(o.profile, o.entity, f), r, 1, (2,)) for f, r in rows]
        for outcome, message in (("rejected", o.rejected_reason), ("loaded", None)):
            problem = Problem(path.name, o.sha256, "swm", o.entity, o.profile, outcome,
                              o.rows_read, o.rows_loaded, o.rows_quarantined, message, reasons)
            texts += steward_message(problem, None)
        text = "\n".join(texts).replace(path.name, "").replace(o.profile, "")
        found[path.name] = english(text)
    assert len(found) > 20
    assert {name: words for name, words in found.items() if words} == {}


def _datev(tmp_path: Path, lines: int | None = None, end: bytes = b"\r\n",
           **changes: str) -> Path:
    """extf_format_13.csv with header fields (``f15`` = field 15) replaced, cut to ``lines``."""
    rows = (FIXTURES / "datev" / "extf_format_13.csv").read_bytes().split(b"\r\n")
    fields = rows[0].split(b";")
    for pos, value in changes.items():
        fields[int(pos.removeprefix("f")) - 1] = value.encode()
    rows[0] = b";".join(f for f in fields if f != b"<cut>")
    path = tmp_path / "buchungen.csv"
    path.write_bytes(b"\r\n".join(rows[:lines]).rstrip(b"\r\n") + end)
    return path


CUT = {f"f{i}": "<cut>" for i in range(16, 32)}


@pytest.mark.parametrize(("changes", "german"), [
    ({"f15": "20231201"}, "liegt nicht im Wirtschaftsjahr ab 01.01.2024"),
    ({"f16": "20230101"}, "liegt nicht im Wirtschaftsjahr ab 01.01.2024"),
    ({"f13": ""}, "Kopffeld 13 (WJ-Beginn) ist kein Datum JJJJMMTT"),
    ({"f11": "AB12"}, "Kopffeld 11 (Berater) muss eine Zahl sein"),
    ({"f14": "3"}, "Kopffeld 14 (Sachkontennummernlänge) muss 4 bis 8 sein"),
    ({"f22": '"USD"'}, "nur Bücher in EUR"),
    ({"f3": "20"}, "braucht 'Konto' und 'Kontenbeschriftung'"),
    (CUT, "der DATEV-Kopf (Zeile 1) hat 15 Felder"),
    ({"lines": "1"}, "Zeile 2 (die Spaltenüberschriften) fehlt"),
], ids=["period_before_fiscal_year", "period_to_before_from", "fiscal_year_empty",
        "berater_not_a_number", "account_length_3", "currency_usd", "labels_category_bookings",
        "header_15_fields", "headings_missing"])
def test_the_reviewers_datev_defects_reach_the_steward_in_german(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, changes: dict[str, str], german: str
) -> None:
    from ingestion.delivery import reject_file
    from ingestion.reports import write_report
    from ingestion.validate import report_lines, validate_file

    monkeypatch.setenv("DATENWERK_HOME", str(tmp_path / "home"))
    lines = int(changes.pop("lines")) if "lines" in changes else None
    end = changes.pop("end", "\r\n").encode()
    path = _datev(tmp_path, lines, end, **changes)
    v = validate_file(path)
    assert v.outcome.rejected_reason
    [shown] = [line for line in report_lines(v, "de") if line.startswith("Grund:")]
    page = html.unescape(write_report(v.outcome).read_text(encoding="utf-8"))
    moved = reject_file(path, v.outcome.rejected_reason)
    reason_file = moved.with_name(moved.name + ".reason.txt").read_text(encoding="utf-8")
    for text in (shown, page, reason_file):
        assert german in text and english(text.replace(path.name, "")) == []
