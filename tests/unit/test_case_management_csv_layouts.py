"""CSV layouts seen in real exports, built as bytes in each test: line endings, stray quotes,
damaged bytes, odd headers. Whatever the layout, every row is loaded or set aside with its row
number, or the file alone is rejected with a reason naming it."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from ingestion.case_management import detect_profile
from ingestion.delivery import FileOutcome, FileRejected, deliver, quarantine_table
from ingestion.pseudonymise import pseudonym
from tests.unit.parsing import parse
from warehouse.reasons import translate

KEY = "k" * 32
CONTACTS_HEADER = "Kontakt-Nr;Fall-Nr;Datum;Art;Dauer (Min.);Mitarbeiter-Nr;Notiz"
CASES_HEADER = "Fall-Nr;Klient-Nr;Programm;Zuweisung;Beginn;Ende;Beendigungsgrund;Fachkraft-Nr"


@pytest.fixture(autouse=True)
def _home(monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DATENWERK_PSEUDONYM_KEY", KEY)
    monkeypatch.setenv("DATENWERK_HOME", str(tmp_path / "home"))


def contact(n: int, note: str = "ok") -> str:
    return f"C-{n};F-1;17.02.2023;telefonisch;30;MA-1;{note}"


def case(n: int) -> str:
    return f"F-{n};K-{n};SB-ALLG;Selbstmelder;17.02.2023;14.08.2023;Umzug;MA-1"


def lines(*rows: str) -> bytes:
    return "".join(f"{r}\r\n" for r in rows).encode("cp1252")


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def ids(*numbers: str) -> list[str]:
    return [pseudonym(n, KEY.encode()) for n in numbers]


def quarantined(outcome: FileOutcome) -> list[tuple[int, str, str]]:
    q = quarantine_table([outcome])
    return sorted(zip(q["source_line"].to_pylist(), q["field"].to_pylist(),
                      q["reason"].to_pylist(), strict=True))


def test_cr_only_line_endings_are_read(tmp_path: Path) -> None:
    """Old Mac-style exports end lines with CR alone."""
    rows = [CONTACTS_HEADER, *(contact(n) for n in range(1, 6))]
    table, outcome = parse(write(tmp_path, "kontakte.csv", "\r".join(rows).encode("cp1252")))
    assert table["contact_id"].to_pylist() == ids("C-1", "C-2", "C-3", "C-4", "C-5")
    assert table["source_line"].to_pylist() == [2, 3, 4, 5, 6]
    assert outcome.rows_read == 5 and not outcome.quarantine


def test_an_unexpected_error_rejects_that_file_alone_naming_it(
    tmp_path: Path, monkeypatch  # type: ignore[no-untyped-def]
) -> None:
    from warehouse import paths

    monkeypatch.delenv("DATENWERK_SETTLE_SECONDS", raising=False)
    inbox = paths.case_management_inbox()
    broken, good = inbox / "a" / "SB" / "kontakte.csv", inbox / "b" / "SB" / "kontakte.csv"
    for n, path in enumerate((broken, good)):
        path.parent.mkdir(parents=True)
        path.write_text(CONTACTS_HEADER + "\n" + contact(n) + "\n", encoding="cp1252")

    def read(path: Path, outcome: FileOutcome) -> None:
        if path == broken:
            raise ValueError("Could not convert 'Erika Mustermann'")  # personal data in it
        outcome.rows_loaded = outcome.rows_read = 1

    outcomes = deliver([broken, good], set(),
                       lambda p, d: FileOutcome(p, d, p.parts[-3], "contacts", "demo_csv"), read)
    assert [o.rows_loaded for o in outcomes] == [0, 1]
    reason = outcomes[0].rejected_reason
    assert reason is not None and reason.startswith("unexpected error while reading the file "
                                                    "(ValueError in test_")
    assert "Mustermann" not in reason
    assert not outcomes[1].rejected_reason
    assert (paths.rejected_dir() / "case_management" / "a" / "SB" / "kontakte.csv").exists()
    assert translate(reason, "de").startswith("unerwarteter Fehler beim Lesen der Datei")


@pytest.mark.parametrize("end", [";", ";;"])
def test_a_delimiter_at_the_end_of_every_line_adds_no_column(tmp_path: Path, end: str) -> None:
    data = lines(CASES_HEADER + end, *(case(n) + end for n in (1, 2, 3)))
    table, outcome = parse(write(tmp_path, "faelle.csv", data))
    assert table["case_id"].to_pylist() == ids("F-1", "F-2", "F-3")
    assert table["end_reason"].to_pylist() == ["moved"] * 3
    assert outcome.rows_read == 3 and not outcome.quarantine and not outcome.unexpected_columns


def test_columns_without_a_name_are_not_read(tmp_path: Path) -> None:
    data = lines(CASES_HEADER.replace(";Zuweisung;", ";;Zuweisung;") + ";",
                 *(case(n).replace(";Selbstmelder;", ";Notiz;Selbstmelder;") + ";"
                   for n in (1, 2)))
    table, outcome = parse(write(tmp_path, "faelle.csv", data))
    assert table["referral_source"].to_pylist() == ["Selbstmelder"] * 2
    assert outcome.rows_read == 2 and not outcome.quarantine and not outcome.unexpected_columns


@pytest.mark.parametrize("column", ["Fall-Nr", "Beendigungsgrund"])
def test_a_read_column_named_twice_rejects_the_file_naming_it(tmp_path: Path, column: str) -> None:
    data = lines(f"{CASES_HEADER};{column}", *(f"{case(n)};X-{n}" for n in (1, 2)))
    with pytest.raises(FileRejected) as info:
        parse(write(tmp_path, "faelle.csv", data))
    assert info.value.path.name == "faelle.csv"
    assert f"'{column}' (columns " in info.value.reason and "more than once" in info.value.reason
    assert translate(info.value.reason, "de").startswith(
        f"die Kopfzeile nennt die Spalte(n) '{column}' (Spalten ")


def test_an_unread_column_named_twice_is_ignored(tmp_path: Path) -> None:
    data = lines(f"{CONTACTS_HEADER};Notiz", *(f"{contact(n)};mehr" for n in (1, 2)))
    table, outcome = parse(write(tmp_path, "kontakte.csv", data))
    assert table["contact_id"].to_pylist() == ids("C-1", "C-2")
    assert outcome.rows_read == 2 and not outcome.quarantine


def test_an_overlong_number_sets_its_row_aside(tmp_path: Path) -> None:
    data = lines(CONTACTS_HEADER, contact(1),
                 contact(2).replace(";30;", ";99999999999999999999;"), contact(3))
    table, outcome = parse(write(tmp_path, "kontakte.csv", data))
    assert table["contact_id"].to_pylist() == ids("C-1", "C-3")
    assert quarantined(outcome) == [(3, "duration_minutes", "not a number")]


def test_rows_after_a_quote_that_never_closes_are_set_aside_not_lost(tmp_path: Path) -> None:
    """A note opens a quote and never closes it; the reader takes the following lines into that
    value until a later quote. Each swallowed line is a row of its own, set aside with its
    number; the rows after keep their numbers."""
    rows = [contact(n) for n in range(1, 21)]
    rows[1] = contact(2, '"Kl. sagte: ich komme morgen')
    rows[4] = contact(5, 'Kl. meldet "bin wieder da"')
    table, outcome = parse(write(tmp_path, "kontakte.csv", lines(CONTACTS_HEADER, *rows)))
    assert outcome.rows_read == 20 == outcome.rows_loaded + outcome.rows_quarantined
    assert table["contact_id"].to_pylist() == ids("C-1", *(f"C-{n}" for n in range(6, 21)))
    assert table["source_line"].to_pylist() == [2, *range(7, 22)]
    assert quarantined(outcome) == [
        (3, "Notiz", 'a quoted value (") opens in this row and never closes: the next 3 row(s) '
                     "were read into it"),
        (4, "(row)", "read into the unclosed quote of row 3"),
        (5, "(row)", "read into the unclosed quote of row 3"),
        (6, "(row)", "read into the unclosed quote of row 3"),
    ]
    assert [translate(r, "de") for _, _, r in quarantined(outcome)[:2]] == [
        'ein Wert in Anführungszeichen (") beginnt in dieser Zeile und wird nie geschlossen: die '
        "nächsten 3 Zeile(n) wurden in ihn gelesen",
        "in den nicht geschlossenen Wert in Anführungszeichen aus Zeile 3 gelesen",
    ]


def test_quoted_delimiter_quotes_and_line_breaks_stay_in_their_row(tmp_path: Path) -> None:
    """Legitimate quoting still works, also before a quote that never closes: a value with ';',
    doubled quotes and a CRLF inside is one row (as a spreadsheet counts), lines swallowed later
    are rows of their own."""
    data = lines(CONTACTS_HEADER, contact(1, '"Termin; Kl. sagte ""ja""\r\nzweite Zeile"'),
                 contact(2, '"offen'), contact(3), contact(4, 'sagt "nein"'), contact(5),
                 contact(6, '"a;b"'), contact(7))
    table, outcome = parse(write(tmp_path, "kontakte.csv", data))
    assert table["contact_id"].to_pylist() == ids("C-1", "C-5", "C-6", "C-7")
    assert table["source_line"].to_pylist() == [2, 6, 7, 8]
    assert [q[0] for q in quarantined(outcome)] == [3, 4, 5]
    assert outcome.rows_read == 7


def test_a_quote_swallowing_more_than_the_reader_keeps_rejects_the_file(tmp_path: Path) -> None:
    rows = [contact(1), contact(2, '"Kl. sagte'), *(contact(n) for n in range(3, 600)),
            contact(600, 'sagt "ja"')]
    with pytest.raises(FileRejected, match="row 3 opens a quoted value") as info:
        parse(write(tmp_path, "kontakte.csv", lines(CONTACTS_HEADER, *rows)))
    assert translate(info.value.reason, "de").startswith("Zeile 3 öffnet einen Wert")


def test_one_damaged_byte_sets_its_row_aside_the_file_stays_utf8(tmp_path: Path) -> None:
    """A UTF-8 export with one byte damaged (0xF6, Windows-1252 for ö): that row is set aside,
    the others keep their umlauts; the whole file read as Windows-1252 stored 'AngehÃ¶rige'."""
    rows = [case(n).replace("Selbstmelder", "Angehörige") for n in range(1, 11)]
    data = lines(CASES_HEADER).decode() + "".join(f"{r}\r\n" for r in rows)
    damaged = data.encode("utf-8").replace("F-10;K-10;SB-ALLG;Angehörige".encode(),
                                           b"F-10;K-10;SB-ALLG;Angeh\xf6rige")
    table, outcome = parse(write(tmp_path, "faelle.csv", damaged))
    assert table["referral_source"].to_pylist() == ["Angehörige"] * 9
    assert table["case_id"].to_pylist() == ids(*(f"F-{n}" for n in range(1, 10)))
    assert quarantined(outcome) == [
        (11, "referral_source", "characters that are not valid in the file's encoding")]


def test_utf8_umlauts_after_an_ascii_start_decide_the_encoding(tmp_path: Path) -> None:
    """The sample (64 kB) is plain ASCII; later rows have UTF-8 umlauts and one damaged byte."""
    ascii_rows = [contact(n) for n in range(1, 3001)]
    in_person = contact(1).replace("C-1;", "C-{};").replace("telefonisch", "persönlich")
    later = [in_person.format(3001).encode(), in_person.format(3002).encode("cp1252"),
             in_person.format(3003).encode()]
    data = lines(CONTACTS_HEADER, *ascii_rows) + b"".join(r + b"\r\n" for r in later)
    assert len(data) > 1 << 16
    table, outcome = parse(write(tmp_path, "kontakte.csv", data))
    assert outcome.rows_read == 3003 and table.num_rows == 3002
    assert table["contact_type"].to_pylist()[-2:] == ["in_person"] * 2
    assert quarantined(outcome) == [
        (3003, "contact_type", "characters that are not valid in the file's encoding")]


def test_windows_1252_umlauts_after_an_ascii_start_are_read_as_windows_1252(
    tmp_path: Path,
) -> None:
    rows = [contact(n) for n in range(1, 3001)] + [contact(3001).replace("telefonisch",
                                                                         "persönlich")]
    table, outcome = parse(write(tmp_path, "kontakte.csv", lines(CONTACTS_HEADER, *rows)))
    assert outcome.rows_read == 3001 and not outcome.quarantine
    assert table["contact_type"].to_pylist()[-1] == "in_person"


def test_a_quote_running_into_a_multi_line_note_loses_no_row(tmp_path: Path) -> None:
    """The unclosed quote of row 3 ends at the opening quote of a two-line note in row 4, so the
    note's line break (LF, as Excel writes it in a CR LF file) stands outside a value: the line
    ends are mixed. DuckDB's reader then numbered two broken records as row 3, and the file was
    rejected so as not to lose one. It is read with one kind of line end now (one for one): the
    rows the quote broke are set aside, each named, and every other row loads at its line."""
    rows = [contact(1), contact(2, '"Kl. erzählt ausführlich'),
            contact(3, '"Herr G. äußert sich über Mahnungen.\nGläubigeranschreiben vorbereitet."'),
            *(contact(n) for n in range(4, 30))]
    path = write(tmp_path, "kontakte.csv", lines(CONTACTS_HEADER, *rows))
    table, outcome = parse(path)
    # Editor lines: header 1, C-1 2, C-2 3, C-3 4 and 5, C-4 6, ...
    assert table["contact_id"].to_pylist() == ids(*(f"C-{n}" for n in (1, *range(4, 30))))
    assert table["source_line"].to_pylist() == [2, *range(6, 32)]
    assert sorted(quarantine_table([outcome])["source_line"].to_pylist()) == [3, 4, 5]


def test_validate_names_an_unexpected_error_as_the_load_does(
    tmp_path: Path, monkeypatch  # type: ignore[no-untyped-def]
) -> None:
    """`datenwerk validate` on a file whose reading fails in a way no check foresaw: the file's
    reason, as the load gives it (kind of error and where, never its message), no traceback."""
    from ingestion import validate

    class Broken:
        def validate(self, path: Path, v: object, found: object) -> None:
            raise ValueError("Could not convert 'Erika Mustermann'")  # personal data in it

    monkeypatch.setattr(validate, "_detected", lambda path, profile: (Broken(), None))
    path = tmp_path / "kontakte.csv"
    path.write_text(CONTACTS_HEADER + "\n" + contact(1) + "\n", encoding="cp1252")
    reason = validate.validate_file(path).outcome.rejected_reason
    assert reason is not None and reason.startswith("unexpected error while reading the file "
                                                    "(ValueError in test_")
    assert "Mustermann" not in reason
    assert translate(reason, "de").startswith("unerwarteter Fehler beim Lesen der Datei")


def test_a_missing_optional_column_is_reported_not_rejected(tmp_path: Path) -> None:
    """Incomplete is not wrong: a cases export without the optional 'Zuweisung' column loads in
    full, its referral source empty, and the steward reads which column was missing (validate,
    delivery report)."""
    from ingestion.reports import write_report
    from ingestion.validate import report_lines, validate_file

    header = CASES_HEADER.replace("Zuweisung;", "")
    rows = [";".join(f for i, f in enumerate(case(n).split(";")) if i != 3) for n in (1, 2)]
    path = tmp_path / "faelle.csv"
    path.write_bytes("\r\n".join([header, *rows, ""]).encode("cp1252"))
    table, outcome = parse(path)
    assert table.num_rows == 2 and table["referral_source"].to_pylist() == [None, None]
    assert outcome.missing_columns == ["Zuweisung (referral_source)"]
    assert not outcome.quarantine and not outcome.rejected_reason
    shown = report_lines(validate_file(path), "de")
    assert "Fehlende Spalten, nicht Pflicht (ihre Felder bleiben leer): Zuweisung " \
           "(referral_source)" in shown
    assert "In Ordnung: die Datei würde vollständig geladen." in shown
    page = write_report(outcome).read_text(encoding="utf-8")
    assert "Diese Spalten fehlen in der Datei" in page and "Zuweisung (referral_source)" in page
    _, complete = parse(write(tmp_path, "faelle_voll.csv", lines(CASES_HEADER, case(1))))
    assert complete.missing_columns == []


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_excel_unicode_text_utf16_is_read(tmp_path: Path, encoding: str) -> None:
    """Excel's "Unicode-Text" export: UTF-16 with a byte order mark, tab-separated. It was
    rejected as binary data (its NUL bytes); it reads as the same rows as the CSV export."""
    bom = b"\xff\xfe" if encoding.endswith("le") else b"\xfe\xff"
    rows = [CONTACTS_HEADER, contact(1, "Gespräch über Zuständigkeit"), contact(2)]
    text = "".join(f"{r.replace(';', chr(9))}\r\n" for r in rows)
    path = write(tmp_path, "kontakte.txt", bom + text.encode(encoding))
    table, outcome = parse(path)
    assert outcome.rows_read == 2 and not outcome.quarantine and not outcome.rejected_reason
    expected, _ = parse(write(tmp_path, "kontakte.csv", lines(*rows)))
    assert table.drop_columns(["source_file", "source_sha256"]).to_pylist() == \
        expected.drop_columns(["source_file", "source_sha256"]).to_pylist()
    from ingestion.validate import validate_file

    checked = validate_file(path)
    assert checked.passed and checked.outcome.rows_read == 2


def test_a_fault_of_the_machine_fails_the_load_and_keeps_the_file(
    tmp_path: Path, monkeypatch  # type: ignore[no-untyped-def]
) -> None:
    """An I/O error or a full disk while reading is no fault of the file: it is not moved aside
    as rejected (it would never load); the load fails, and its step retries what is transient."""
    import errno

    from warehouse import paths

    monkeypatch.delenv("DATENWERK_SETTLE_SECONDS", raising=False)
    path = paths.case_management_inbox() / "a" / "SB" / "kontakte.csv"
    path.parent.mkdir(parents=True)
    path.write_text(CONTACTS_HEADER + "\n" + contact(1) + "\n", encoding="cp1252")

    def read(path: Path, outcome: FileOutcome) -> None:
        raise OSError(errno.EIO, "Input/output error")

    with pytest.raises(OSError):
        deliver([path], set(), lambda p, d: FileOutcome(p, d, "a", "contacts", "demo_csv"), read)
    assert path.exists()
    assert not (paths.rejected_dir() / "case_management" / "a" / "SB" / "kontakte.csv").exists()


@pytest.mark.parametrize("header", [
    CASES_HEADER.upper(),  # a vendor's new version writes its headers in capitals
    CASES_HEADER.lower(),
    CASES_HEADER.replace(";", "\u00a0;").replace("Fall-Nr", " Fall-Nr"),  # Excel's NBSP
    CASES_HEADER.replace("Beendigungsgrund", "BEENDIGUNGSGRUND").replace("Klient-Nr", "klient-nr"),
])
def test_a_header_spelt_in_another_case_or_with_odd_spaces_is_read(
    tmp_path: Path, header: str
) -> None:
    """Column names that differ from the profile's only in case, spaces or Unicode form are the
    profile's columns: the file loads in full, nothing is reported as unexpected or missing."""
    table, outcome = parse(write(tmp_path, "faelle.csv", lines(header, case(1), case(2))))
    assert table["case_id"].to_pylist() == ids("F-1", "F-2")
    assert table["client_id"].to_pylist() == ids("K-1", "K-2")
    assert table["end_reason"].to_pylist() == ["moved", "moved"]
    assert outcome.rows_read == 2 and not outcome.quarantine
    assert not outcome.unexpected_columns and not outcome.missing_columns


def test_a_decomposed_umlaut_in_a_header_is_the_same_column(tmp_path: Path) -> None:
    """macOS writes 'ü' as 'u' and a combining diaeresis: still the profile's 'Anfrage über'."""
    import openpyxl


    header = ["Fall-ID", "Personen-ID", "Hilfeart", "Anfrage u\u0308ber", "Hilfebeginn",
              "Hilfeende", "BEENDIGUNG", "fachkraft"]
    book = openpyxl.Workbook()
    book.active.append(header)
    book.active.append(["F-1", "P-1", "AJH-SGA", "Jugendamt", "01.02.2024", "30.06.2024",
                        "Wegzug", "MA-1"])
    book.save(tmp_path / "hilfen.xlsx")
    assert detect_profile(tmp_path / "hilfen.xlsx")[0].name == "jugendhilfe_xlsx"
    table, outcome = parse(tmp_path / "hilfen.xlsx")
    assert table["referral_source"].to_pylist() == ["Jugendamt"]
    assert table["end_reason"].to_pylist() == ["moved"]
    assert table["caseworker_id"].to_pylist() == ids("MA-1")
    assert not outcome.unexpected_columns and not outcome.missing_columns


def test_two_spellings_of_one_read_column_reject_the_file(tmp_path: Path) -> None:
    data = lines(f"{CASES_HEADER.replace('Fall-Nr', 'FALL-NR')};fall-nr",
                 *(f"{case(n)};F-{n}" for n in (1, 2)))
    with pytest.raises(FileRejected, match="'Fall-Nr' \\(columns 1 and 9\\) more than once"):
        parse(write(tmp_path, "faelle.csv", data))


def test_title_lines_above_the_header_are_not_read_and_rows_keep_their_numbers(
    tmp_path: Path,
) -> None:
    """A report tool's export: a title, a date and an empty line above the header. The header
    is the first line naming the profile's columns; every row keeps its line in the file, the
    reader's rejects, the failed checks and the accepted rows alike."""
    data = lines(
        "Kontaktliste Schuldnerberatung;;;;;;",
        "Stand: 01.07.2024;;;;;;",
        "",
        CONTACTS_HEADER,
        contact(1),
        "C-2;F-1;17.02.2023",  # too few fields: the reader rejects it
        contact(3).replace("17.02.2023", "31.02.2023"),  # no such date: a failed check
        contact(4, "Kl. äußert Sorge"),
    )
    path = write(tmp_path, "kontakte.csv", data)
    table, outcome = parse(path)
    assert table["contact_id"].to_pylist() == ids("C-1", "C-4")
    assert table["source_line"].to_pylist() == [5, 8]
    assert [(line, field) for line, field, _ in quarantined(outcome)] == [
        (6, "contact_type"), (7, "contact_date")]
    assert outcome.title_rows == 3 and outcome.rows_read == 4
    from ingestion.validate import report_lines, validate_file

    assert "Kopfzeile in Zeile 4; die 3 Zeile(n) darüber (Titel) nicht gelesen" in report_lines(
        validate_file(path), "de")


def test_a_file_whose_first_line_is_data_is_still_rejected(tmp_path: Path) -> None:
    with pytest.raises(FileRejected, match="required column"):
        parse(write(tmp_path, "kontakte.csv", lines(*(contact(n) for n in range(1, 20)))))


def test_a_reader_error_is_named_without_the_line_it_quotes(tmp_path: Path) -> None:
    """DuckDB's CSV errors print the original line (a client's name, birth date, address), and
    conversion errors quote the value: a reason built from one keeps only the first line of the
    message, without what it quotes, since reasons are logged, shown to stewards and published
    in the department's 'Hinweis'."""
    import duckdb
    import pyarrow.csv as pacsv

    from warehouse.reasons import error_kind

    path = write(tmp_path, "klienten.csv", b"a;b;c\nK-1;Dieter Schulte;20.08.1967\n"
                                           b"K-2;Georg-Schwarz-Strasse 99\n")
    with pytest.raises(duckdb.Error) as info:
        duckdb.sql(f"select * from read_csv('{path}', delim=';', header=true, "
                   "auto_detect=false, columns={'a': 'VARCHAR', 'b': 'VARCHAR', 'c': 'VARCHAR'}, "
                   "strict_mode=true, null_padding=false)").fetchall()
    assert "Georg-Schwarz" in str(info.value)  # what DuckDB says
    shown = error_kind(info.value)
    assert "Georg" not in shown and "Schulte" not in shown and "Line: 3" in shown
    reason = f"cannot be read as a ';'-delimited file: {shown}"
    assert translate(reason, "de") == (
        "lässt sich nicht als durch ';' getrennte Datei lesen: Lesefehler in Zeile 3")
    with pytest.raises(duckdb.Error) as info:
        duckdb.sql("select cast('Schulte' as integer)").fetchall()
    assert "Schulte" in str(info.value) and "Schulte" not in error_kind(info.value)
    opts = pacsv.ParseOptions(delimiter=";")
    with pytest.raises(pa.ArrowInvalid) as arrow:
        pacsv.read_csv(path, parse_options=opts)
    assert "Georg" in str(arrow.value) and "Georg" not in error_kind(arrow.value)
    assert "Expected 3 columns, got 2" in error_kind(arrow.value)


# A note that opens a quote and never closes it (the client's words, "ich komme wieder), and a
# later note ending in a quote: the reader takes every line between as one value and accepts it.
STRAY = '"Klient sagt ich komme wieder'
CLOSING = 'Kl. meldet sich: bin wieder da"'


def swallowing(reason: str) -> tuple[str, ...]:
    """What a reason of a value spanning rows names: row, editor line, column, the row-like
    line."""
    import re

    found = re.match(r"row (\d+) \(line (\d+) in a text editor\), (column \d+(?: '[^']*')?): "
                     r"a quoted value \(\"\) runs over the next (\d+) line\(s\), and line (\d+) of "
                     r"the file looks like a row of its own", reason)
    assert found, reason
    return found.groups()


@pytest.mark.parametrize(("name", "data", "expected"), [
    # Windows-1252, CRLF, the stray quote in the unread note of row 3, closed at the end of row 6.
    ("kontakte.csv", lines(CONTACTS_HEADER, contact(1), contact(2, STRAY), contact(3),
                           contact(4, "Rückruf; Termin; offen"), contact(5, CLOSING), contact(6)),
     ("3", "3", "column 7 'Notiz'", "3", "4")),
    # One row swallowed: the value spans two lines only.
    ("kontakte.csv", lines(CONTACTS_HEADER, contact(1), contact(2, STRAY), contact(3, CLOSING),
                           contact(4)),
     ("3", "3", "column 7 'Notiz'", "1", "4")),
    # UTF-8 with BOM, LF only: a legitimate two-line note first (row 3 takes lines 3-4), then
    # the stray quote in row 4 (line 5).
    ("kontakte.csv", b"\xef\xbb\xbf" + "".join(f"{r}\n" for r in [
        CONTACTS_HEADER, contact(1), contact(2, '"Gespräch über Schulden;\nzweiter Termin"'),
        contact(3, STRAY), contact(4), contact(5, CLOSING), contact(6)]).encode("utf-8"),
     ("4", "5", "column 7 'Notiz'", "2", "6")),
    # A read column: the contact type opens a quote in row 3 and row 5's closes it; the rows
    # swallowed hold the whole value's delimiters except the last, which begins like a row.
    ("kontakte.csv", lines(CONTACTS_HEADER, contact(1),
                           contact(2).replace(";telefonisch;", ';"telefonisch;'), contact(3),
                           contact(4).replace(";telefonisch;", ';telefonisch";'), contact(5)),
     ("3", "3", "column 4 'Art'", "2", "4")),
    # A column the profile does not know (its name may be personal: named by its place only),
    # below a title.
    ("kontakte.csv", lines("Kontaktliste Schuldnerberatung;;;;;;;", "",
                           f"{CONTACTS_HEADER};Bemerkung Frau Müller", f"{contact(1)};x",
                           f"{contact(2)};{STRAY}", f"{contact(3)};x", f"{contact(4)};{CLOSING}",
                           f"{contact(5)};x"),
     ("5", "5", "column 8", "2", "6")),
    # A KDS case list: the remark (never read) of an episode swallows the next two episodes.
    ("Export_2024.csv", lines(
        "Klientennummer;Name, Vorname;Geburtsdatum;Geschlecht;PLZ;Einrichtung;Angebot;"
        "Betreuungsbeginn;Betreuungsende;Art der Beendigung;Kontakte gesamt;"
        "Problematik Suchtmittel bei Betreuungsende;Bemerkung",
        *(f"{n};Muster, Max;01.01.1980;männlich;04315;Suchtberatung Mitte;Ambulante Beratung;"
          f"0{n}.02.2024;;;3;;{note}"
          for n, note in [(1, ""), (2, STRAY), (3, ""), (4, CLOSING), (5, "")])),
     ("3", "3", "column 13 'Bemerkung'", "2", "4")),
])
def test_a_stray_quote_closed_at_the_end_of_a_later_row_rejects_the_file(
    tmp_path: Path, name: str, data: bytes, expected: tuple[str, ...]
) -> None:
    """A quote opening a value in any column, read or not, and one at the end of a later row
    closing it: the reader accepted the rows between as one value, and they were lost without a
    word. The file is rejected naming its row, the line an editor shows, the column and the first
    swallowed line, in German for the steward, without a word of the client's text."""
    path = write(tmp_path, name, data)
    with pytest.raises(FileRejected) as info:
        parse(path)
    assert info.value.path == path
    assert swallowing(info.value.reason) == expected
    german = translate(info.value.reason, "de")
    row, line, column, _, first = expected
    assert german.startswith(
        f"Zeile {row} (im Texteditor Zeile {line}), {column.replace('column', 'Spalte')}: ein "
        f"Wert in Anführungszeichen (\") läuft über")
    assert f"Zeile {first} im Texteditor sieht aus wie ein eigener Datensatz" in german
    assert "Die ganze Datei wird abgelehnt" in german
    for text in ("Klient sagt", "wieder", "Rückruf", "Müller", "Muster", "C-3", "telefonisch;30"):
        assert text not in info.value.reason and text not in german


def test_notes_over_several_lines_with_semicolons_still_load(tmp_path: Path) -> None:
    """Notes written over several lines, with a ';' here and there and a quote doubled as the
    export writes it, are one value in their row: the file loads in full, each row with its row
    number."""
    notes = ['"Gespräch über Mahnungen; Inkasso.\r\nNächster Termin: 03.03.; Unterlagen mitbringen'
             '\r\nKl. sagte ""ja"""',
             '"1) Haushaltsplan\r\n2) Gläubigerliste; Kontoauszüge\r\n\r\n3) Termin Jobcenter"',
             '"C-Nummer folgt\r\nF-1 bleibt"']
    rows = [contact(1), contact(2, notes[0]), contact(3), contact(4, notes[1]),
            contact(5, notes[2]), *(contact(n) for n in range(6, 40))]
    table, outcome = parse(write(tmp_path, "kontakte.csv", lines(CONTACTS_HEADER, *rows)))
    assert table["contact_id"].to_pylist() == ids(*(f"C-{n}" for n in range(1, 40)))
    assert table["source_line"].to_pylist() == list(range(2, 41))
    assert outcome.rows_read == 39 and not outcome.quarantine


def test_a_workbook_cell_over_several_lines_that_look_like_rows_loads(tmp_path: Path) -> None:
    """A workbook has no quoting: a cell is a cell, whatever lines it holds."""
    import openpyxl

    book = openpyxl.Workbook()
    book.active.append(["Kontakt-ID", "Fall-ID", "Kontaktdatum", "Kontaktart", "Minuten",
                        "Fachkraft", "Vermerk"])
    row_like = "K9;FALL-1;01.02.2024;Telefon;30;MA-1;x"
    for n in range(1, 5):
        book.active.append([f"K{n}", "FALL-1", "01.02.2024", "Telefon", 30, "MA-1",
                            f'"ich komme wieder\n{row_like}\n{row_like}"' if n == 2 else "ok"])
    book.save(tmp_path / "kontakte.xlsx")
    table, outcome = parse(tmp_path / "kontakte.xlsx")
    assert table["contact_id"].to_pylist() == ids("K1", "K2", "K3", "K4")
    assert table["source_line"].to_pylist() == [2, 3, 4, 5] and not outcome.quarantine


def test_a_title_cell_over_two_lines_keeps_every_row_and_its_number(tmp_path: Path) -> None:
    """A report tool's title in one quoted cell with a line break, a date, then the header: the
    reader counts the title as one row, as a spreadsheet shows it. Counted as two lines, the
    header was skipped as a title and the first contact read as the header, without a word."""
    data = lines(
        '"Kontaktliste\r\nSchuldnerberatung";;;;;;',
        "Stand: 01.07.2024;;;;;;",
        CONTACTS_HEADER,
        contact(1),
        "C-2;F-1;17.02.2023",  # too few fields: the reader rejects it
        contact(3).replace("17.02.2023", "31.02.2023"),  # no such date: a failed check
        contact(4, '"Termin;\r\nverlegt"'),
        contact(5, STRAY), contact(6), contact(7, CLOSING),
    )
    path = write(tmp_path, "kontakte.csv", data)
    with pytest.raises(FileRejected) as info:
        parse(path)
    # Row 8 of the spreadsheet; in an editor the title's and row 7's line breaks push it down.
    assert swallowing(info.value.reason) == ("8", "10", "column 7 'Notiz'", "2", "11")
    path.write_bytes(data.replace(STRAY.encode(), b"x").replace(CLOSING.encode(), b"y"))
    table, outcome = parse(path)
    assert table["contact_id"].to_pylist() == ids("C-1", "C-4", "C-5", "C-6", "C-7")
    assert table["source_line"].to_pylist() == [4, 7, 8, 9, 10]
    assert [(line, field) for line, field, _ in quarantined(outcome)] == [
        (5, "contact_type"), (6, "contact_date")]
    assert outcome.title_rows == 2 and outcome.rows_read == 7


@pytest.mark.parametrize("first", [
    ['"Kontaktliste 2024;;;;;;', "Stand: 01.07.2024;;;;;;", CONTACTS_HEADER],  # in the title
    [CONTACTS_HEADER.replace(";Notiz", ';"Notiz')],  # in the header
])
def test_a_quote_in_the_title_or_header_that_never_closes_rejects_the_file(
    tmp_path: Path, first: list[str]
) -> None:
    """The reader took every row after it into the title or the header: nothing loaded, and no
    row was rejected. The file is rejected, naming the row and the quote; no header name holds
    the rows."""
    path = write(tmp_path, "kontakte.csv", lines(*first, contact(1), contact(2), contact(3)))
    with pytest.raises(FileRejected, match=r"no header found: row 1 runs over \d+ lines, a "
                                           r"quote") as info:
        parse(path)
    assert "C-1" not in info.value.reason
    assert translate(info.value.reason, "de").startswith(
        "keine Kopfzeile gefunden: Zeile 1 läuft über")
