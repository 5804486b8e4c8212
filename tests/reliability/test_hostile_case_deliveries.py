"""Case-management deliveries that would stop every load or corrupt figures: a line over the size
limit, files at the wrong folder depth, a department or program the reference data does not know,
a date years in the future. One night with all of them: each is rejected or quarantined with its
reason, and everything else loads and publishes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from tests.conftest import PipelineRun, copy_home, run_nightly, stored_id


def query(db: Path, sql: str, params: list | None = None) -> list:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def lines_of(path: Path) -> list[str]:
    return path.read_bytes().decode("cp1252").split("\r\n")


def write(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1252"))


def contact(n: int, day: str) -> str:
    return f"C-TEST-{n:03d};F-0000001;{day};online;30;MA-002;"


@pytest.fixture(scope="module")
def night(small_first_run: PipelineRun) -> tuple[Path, object, dict]:
    """A copy of the small demo, loaded once, then a night with every kind of hostile file."""
    from ingestion.case_management.helpers import MAX_LINE_BYTES

    home = copy_home(small_first_run.home, "hostile-deliveries")
    swm = home / "inbox" / "case_management" / "swm"
    contacts_header = lines_of(swm / "SB" / "kontakte.csv")[0]
    cases = lines_of(swm / "SB" / "faelle.csv")
    before = {
        "cases": query(home / "published" / "marts.duckdb", "select count(*) from fct_cases"),
        "last_period": query(home / "published" / "marts.duckdb",
                             "select max(period_start) from mart_outcomes"),
    }
    # A note of more than DuckDB's line limit (a broken export, a pasted binary).
    write(swm / "SB" / "kontakte_lang.csv", [
        contacts_header, contact(1, "01.05.2023"),
        contact(2, "02.05.2023") + "x" * (MAX_LINE_BYTES + 10),
        contact(3, "03.05.2023")])
    # One level too deep and one too shallow.
    write(swm / "SB" / "archiv" / "kontakte_2023.csv", [contacts_header, contact(4, "04.05.2023")])
    write(swm / "kontakte.csv", [contacts_header, contact(5, "05.05.2023")])
    # A department folder that the reference data does not define.
    write(swm / "XY" / "faelle.csv", [cases[0], *(c.replace("F-", "X-") for c in cases[1:] if c)])
    # A contact dated in 2031 among five plausible ones (case F-0000001 ran 04-08/2023).
    write(swm / "SB" / "kontakte_nachtrag.csv", [
        contacts_header, contact(6, "15.03.2031"),
        *(contact(n, f"{n:02d}.06.2023") for n in range(7, 12))])
    # A case of a program that no department has, among five of the department's own program.
    new_cases = [c.replace("F-00", "F-77", 1) for c in cases[1:7]]
    new_cases[0] = new_cases[0].replace(";SB-ALLG;", ";SB-UNBEKANNT;")
    write(swm / "SB" / "faelle_nachtrag.csv", [cases[0], *new_cases])
    # A column the profile does not know, whose name is personal: loaded, the column not read.
    write(swm / "SB" / "kontakte_spalte.csv", [
        contacts_header + ";Bemerkung Frau Müller", contact(20, "01.07.2023") + ";privat"])

    # Links a sender placed: to a file elsewhere on the server, and a folder to another inbox.
    elsewhere = home / "elsewhere"
    write(elsewhere / "kontakte_fremd.csv", [contacts_header, contact(40, "01.07.2023")])
    (swm / "SB" / "kontakte_link.csv").symlink_to(elsewhere / "kontakte_fremd.csv")
    write(elsewhere / "andere" / "faelle.csv", [cases[0], cases[1].replace("F-", "L-")])
    (swm / "SB2").symlink_to(elsewhere / "andere", target_is_directory=True)
    # A note opening a quote that never closes, a later note ending in one: the three
    # contacts between were one accepted note, lost without a word.
    write(swm / "SB" / "kontakte_anfuehrungszeichen.csv", [
        contacts_header, contact(30, "01.08.2023"),
        contact(31, "02.08.2023") + '"Klient sagt ich komme wieder',
        *(contact(n, f"0{n - 29}.08.2023") for n in range(32, 35)),
        contact(35, "06.08.2023") + 'bin wieder da"', contact(36, "07.08.2023")])

    result = run_nightly(home)
    return home, result, before


def registry(home: Path, pattern: str) -> list:
    return query(home / "warehouse" / "build.duckdb",
                 "select outcome, message from raw_case_management.file_registry "
                 "where source_file like ? order by registered_at", [pattern])


def rejected(home: Path, relative: str) -> Path:
    return home / "protected" / "rejected" / "case_management" / relative


def test_the_night_with_hostile_files_publishes_everything_else(night) -> None:  # type: ignore[no-untyped-def]
    home, result, before = night
    failures = [
        str(e.step_failure_data.error)[-800:] for e in result.all_events if e.is_step_failure
    ]
    assert result.success, failures
    marts = home / "published" / "marts.duckdb"
    # The five plausible new cases of SB-ALLG were published beside the ones before.
    assert query(marts, "select count(*) from fct_cases") == [(before["cases"][0][0] + 5,)]
    # Contact numbers are stored as their keyed pseudonyms.
    new_contacts = [stored_id(home, f"C-TEST-{n:03d}") for n in range(7, 12)]
    assert query(home / "warehouse" / "build.duckdb",
                 "select count(*) from raw_case_management.contacts where contact_id in "
                 "(?, ?, ?, ?, ?)", new_contacts) == [(5,)]


def test_a_line_over_the_size_limit_rejects_only_its_file(night) -> None:  # type: ignore[no-untyped-def]
    home, _, _ = night
    [(outcome, message)] = registry(home, "%kontakte_lang.csv")
    assert outcome == "rejected" and "line 3 " in message and "10,000,000 bytes" in message
    moved = rejected(home, "swm/SB/kontakte_lang.csv")
    inbox_sb = home / "inbox" / "case_management" / "swm" / "SB"
    assert moved.exists() and not (inbox_sb / "kontakte_lang.csv").exists()
    assert "Grund: Zeile 3 " in moved.with_name(moved.name + ".reason.txt").read_text(
        encoding="utf-8")
    rejected_contacts = [stored_id(home, f"C-TEST-{n:03d}") for n in range(1, 4)]
    assert query(home / "warehouse" / "build.duckdb",
                 "select count(*) from raw_case_management.contacts "
                 "where contact_id in (?, ?, ?)", rejected_contacts) == [(0,)]


@pytest.mark.parametrize("relative", ["swm/SB/archiv/kontakte_2023.csv", "swm/kontakte.csv"])
def test_files_at_the_wrong_folder_depth_are_rejected_with_a_reason(night, relative: str) -> None:  # type: ignore[no-untyped-def]
    home, _, _ = night
    [(outcome, message)] = registry(home, f"%{relative}")
    assert outcome == "rejected" and "department folder" in message and relative in message
    moved = rejected(home, relative)
    assert moved.exists() and not (home / "inbox" / "case_management" / relative).exists()
    assert "<organisation>/<department>/" in moved.with_name(moved.name + ".reason.txt").read_text()
    reports = list((home / "protected" / "reports" / "case_management").rglob(
        f"{Path(relative).name}.*.html"))
    assert any("nicht in einem Abteilungsordner" in r.read_text(encoding="utf-8")
               for r in reports)
    assert query(home / "published" / "marts.duckdb",
                 "select count(*) from mart_deliveries "
                 "where source_file = ? and outcome = 'rejected'",
                 [f"case_management/{relative}"]) == [(1,)]


def test_a_department_unknown_to_the_reference_data_is_never_published(night) -> None:  # type: ignore[no-untyped-def]
    home, _, _ = night
    [(outcome, message)] = registry(home, "%/XY/faelle.csv")
    assert outcome == "rejected" and "department 'XY'" in message and "SB" in message
    assert rejected(home, "swm/XY/faelle.csv").exists()
    marts = home / "published" / "marts.duckdb"
    for mart in ("fct_cases", "mart_outcomes"):
        assert query(marts, f"select count(*) from {mart} where department_code = 'XY'") == [(0,)]
    open_data = "\n".join(
        p.read_text(errors="replace") for p in (home / "open_data").rglob("*.csv")
    )
    assert open_data and "XY" not in open_data


def test_a_contact_dated_in_the_future_is_quarantined_not_stretching_the_marts(night) -> None:  # type: ignore[no-untyped-def]
    home, _, before = night
    q = query(home / "warehouse" / "build.duckdb",
              "select source_line, field, reason, offending_value "
              "from raw_case_management.quarantine "
              "where source_file like '%kontakte_nachtrag.csv'")
    assert [(r[0], r[1], r[3]) for r in q] == [(2, "contact_date", "15.03.2031")]
    assert "future" in q[0][2]
    marts = home / "published" / "marts.duckdb"
    assert query(marts, "select max(period_start) from mart_outcomes") == before["last_period"]
    assert query(marts, "select max(period_start) from mart_outcomes")[0][0] <= dt.date.today()


def test_a_program_unknown_to_the_reference_data_is_quarantined(night) -> None:  # type: ignore[no-untyped-def]
    home, _, _ = night
    q = query(home / "warehouse" / "build.duckdb",
              "select source_line, field, reason, offending_value "
              "from raw_case_management.quarantine "
              "where source_file like '%faelle_nachtrag.csv'")
    assert [(r[0], r[1], r[3]) for r in q] == [(2, "program_code", "SB-UNBEKANNT")]
    assert "SB-ALLG" in q[0][2]  # names what is known
    assert query(home / "published" / "marts.duckdb",
                 "select count(*) from fct_cases where program_code = 'SB-UNBEKANNT'") == [(0,)]


def test_an_organisation_without_reference_data_is_named_as_such(tmp_path: Path) -> None:
    """Reference data missing entirely is a clear reason, not an unknown department."""
    from ingestion.case_management.plausibility import reference_codes
    from tests.conftest import use_home

    use_home(tmp_path)
    (tmp_path / "inbox" / "reference" / "swm").mkdir(parents=True)
    (tmp_path / "inbox" / "reference" / "swm" / "departments.csv").write_text(
        "organisation_code,department_code,department_name,data_steward\nswm,SB,S,K\n")
    codes = reference_codes()
    assert codes.department_problem("swm", "SB") is None
    assert "never been delivered" in (codes.department_problem("neu", "SB") or "")
    assert "departments.csv" in (codes.department_problem("neu", "SB") or "")
    allowed_from = codes.for_file("swm", "SB").allowed_from
    assert "programs.csv was never delivered" in allowed_from["program_code"]


def test_relationships_of_marts_to_dimensions_are_errors() -> None:
    """A row of a mart whose department or program no dimension knows blocks publication."""
    import json

    from orchestration.transform import DBT_PROJECT

    manifest = json.loads(Path(DBT_PROJECT.manifest_path).read_text())
    relationships = [
        n for n in manifest["nodes"].values()
        if n["resource_type"] == "test"
        and n.get("test_metadata", {}).get("name") == "relationships"
        and (n.get("attached_node") or "").split(".")[-1].startswith(("mart_", "fct_"))
    ]
    on_marts = {(n["attached_node"].split(".")[-1], n["column_name"]) for n in relationships}
    assert {("fct_cases", "department_code"), ("fct_cases", "program_code"),
            ("mart_outcomes", "department_code"), ("mart_outcomes", "program_code")} <= on_marts
    assert {n["config"]["severity"].lower() for n in relationships} == {"error"}


def test_the_department_export_gives_the_reason_of_a_rejected_file_in_german(night) -> None:  # type: ignore[no-untyped-def]
    """The department head reads why a file of theirs was rejected in German ("Hinweis" in the
    workbook and the CSV), never the reader's English kept in the registry and the mart."""
    import openpyxl
    import pandas as pd

    from warehouse.reasons import translate

    home, _, _ = night
    english = dict(query(home / "published" / "marts.duckdb",
                         "select source_file, message from mart_deliveries "
                         "where department_code = 'SB' and message is not null"))
    lang = "case_management/swm/SB/kontakte_lang.csv"
    assert english[lang].startswith("line 3 ")
    latest = home / "exports" / "SB" / "latest"
    workbook = openpyxl.load_workbook(latest / "mart_deliveries.xlsx", read_only=True)
    header, *rows = workbook["Lieferungen"].iter_rows(values_only=True)
    in_xlsx = {r[header.index("Datei")]: r[header.index("Hinweis")] for r in rows}
    csv = pd.read_csv(latest / "mart_deliveries.csv", sep=";", encoding="utf-8-sig",
                      keep_default_na=False)
    in_csv = dict(zip(csv["Datei"], csv["Hinweis"], strict=True))
    for shown in (in_xlsx, in_csv):
        assert shown[lang].startswith("Zeile 3 ") and "10.000.000 Bytes" in shown[lang]
        for source_file, message in english.items():
            assert shown[source_file] == translate(message, "de") != message, source_file
    # The analysts' Parquet keeps the mart's own (English) text, as it keeps codes.
    parquet = pd.read_parquet(latest / "mart_deliveries.parquet")
    assert dict(zip(parquet["source_file"], parquet["message"], strict=True))[lang] == english[lang]


def test_a_column_not_read_is_a_german_notice_without_its_name(night) -> None:  # type: ignore[no-untyped-def]
    """The file loads; mart_deliveries says that one column was not read (the department's
    export in German), and never the column's name, which may be personal."""
    import openpyxl

    home, _, _ = night
    source = "case_management/swm/SB/kontakte_spalte.csv"
    marts = home / "published" / "marts.duckdb"
    [(outcome, rows, message)] = query(
        marts, "select outcome, rows_loaded, message from mart_deliveries where source_file = ?",
        [source])
    assert (outcome, rows) == ("loaded", 1) and message.startswith("1 column(s) not read")
    sheet = openpyxl.load_workbook(home / "exports" / "SB" / "latest" / "mart_deliveries.xlsx",
                                   read_only=True)["Lieferungen"]
    header, *rows_ = sheet.iter_rows(values_only=True)
    [hint] = [r[header.index("Hinweis")] for r in rows_ if r[header.index("Datei")] == source]
    assert hint.startswith("1 Spalte(n) nicht gelesen (dem Exportprofil unbekannt")
    def rows_holding(text: str) -> list:
        return query(marts, "select count(*) from mart_deliveries "
                            "where concat_ws('|', *columns(*)) like ?", [f"%{text}%"])

    assert rows_holding("kontakte_spalte") == [(1,)] and rows_holding("Müller") == [(0,)]
    assert not any("Müller" in p.read_text(encoding="utf-8-sig")
                   for p in (home / "exports").rglob("*.csv"))


def test_links_in_the_inbox_are_not_followed(night) -> None:  # type: ignore[no-untyped-def]
    """A link to a file elsewhere is rejected and leaves the inbox (the link, never its target);
    a folder that is a link is not entered (the log names it). Nothing of either is read."""
    from ingestion.delivery import LINK_REASON
    from warehouse.reasons import translate

    home, _, _ = night
    [(outcome, message)] = registry(home, "%/SB/kontakte_link.csv")
    assert (outcome, message) == ("rejected", LINK_REASON)
    assert registry(home, "%/SB2/%") == []
    moved = rejected(home, "swm/SB/kontakte_link.csv")
    assert moved.is_symlink() and not (home / "inbox" / "case_management" / "swm" / "SB" /
                                       "kontakte_link.csv").exists()
    assert (home / "elsewhere" / "kontakte_fremd.csv").is_file()  # the target, untouched
    assert (home / "elsewhere" / "andere" / "faelle.csv").is_file()
    assert "Links werden nicht verfolgt" in moved.with_name(
        moved.name + ".reason.txt").read_text(encoding="utf-8")
    assert "symbolic" not in translate(LINK_REASON, "de")
    build = home / "warehouse" / "build.duckdb"
    assert query(build, "select count(*) from raw_case_management.contacts where contact_id = ?",
                 [stored_id(home, "C-TEST-040")]) == [(0,)]
    assert query(build, "select count(*) from raw_case_management.cases "
                 "where department_code = 'SB2'") == [(0,)]

def test_rows_swallowed_by_a_stray_quote_reject_their_file_in_german(night) -> None:  # type: ignore[no-untyped-def]
    """The rows between a stray quote and a later one are not lost: the file is rejected, the
    steward reads row, line and column in German, and no word of the notes."""
    home, _, _ = night
    [(outcome, message)] = registry(home, "%kontakte_anfuehrungszeichen.csv")
    assert outcome == "rejected" and message.startswith(
        "row 3 (line 3 in a text editor), column 7 'Notiz': a quoted value")
    moved = rejected(home, "swm/SB/kontakte_anfuehrungszeichen.csv")
    reason = moved.with_name(moved.name + ".reason.txt").read_text(encoding="utf-8")
    assert "Zeile 3 (im Texteditor Zeile 3), Spalte 7 'Notiz': ein Wert in Anführungszeichen" \
        in reason and "Zeile 4 im Texteditor sieht aus wie ein eigener Datensatz" in reason
    assert "Klient" not in reason and "wieder" not in reason
    contacts = [stored_id(home, f"C-TEST-{n:03d}") for n in range(30, 37)]
    assert query(home / "warehouse" / "build.duckdb",
                 "select count(*) from raw_case_management.contacts where contact_id in "
                 f"({', '.join('?' * len(contacts))})", contacts) == [(0,)]
