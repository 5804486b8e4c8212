"""`datenwerk validate` as a user runs it: a real process, its output and exit code, on every
kind of file the nightly load reads (case-management exports, DATEV Buchungsstapel and
Kontenbeschriftungen, reference tables), told apart by content, not by name."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

FIXTURES = Path(__file__).parents[1] / "fixtures"
CASES = FIXTURES / "case_management"
DATEV = FIXTURES / "datev"


def validate(*args: str, lang: str = "de_DE.UTF-8") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("LC_ALL", "LC_MESSAGES")}
    return subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "validate", *args],
        capture_output=True, text=True, check=False, env={**env, "LANG": lang},
    )


def test_rejected_rows_are_listed_with_row_the_files_column_reason_and_exit_code() -> None:
    result = validate(str(CASES / "faelle_unknown_code.csv"))
    assert result.returncode == 1, result.stderr
    # The file's own column beside the standard's field, the reason in German.
    assert "Beendigungsgrund (end_reason)" in result.stdout
    assert "unbekannter Code" in result.stdout and "'weggelaufen'" in result.stdout
    # 1 of 2 rows: more than the reject share, so the load would reject the whole file.
    assert "ABGELEHNT als Ganzes" in result.stdout


def test_english_with_lang_flag_or_locale() -> None:
    for result in (validate("--lang", "en", str(CASES / "faelle_end_before_start.csv")),
                   validate(str(CASES / "faelle_end_before_start.csv"), lang="en_GB.UTF-8")):
        assert "the end date lies before the start date" in result.stdout
        assert "Ende (end_date)" in result.stdout and "REJECTED" in result.stdout


def test_personal_values_are_never_printed() -> None:
    result = validate(str(CASES / "faelle_duplicate_key.csv"))
    assert result.returncode == 1
    assert "Schlüssel kommt in der Datei doppelt vor" in result.stdout
    assert "K-9" not in result.stdout  # the duplicate row's client number


def test_clean_file_exits_zero_and_profile_can_be_named() -> None:
    result = validate("--profile", "demo_csv", str(CASES / "faelle_utf8_bom.csv"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Aussortiert:             0" in result.stdout and "In Ordnung" in result.stdout


def test_rejected_file_names_the_reason() -> None:
    result = validate(str(CASES / "klienten_binary_garbage.csv"))
    assert result.returncode == 1
    assert "ABGELEHNT" in result.stdout and "Binärdaten" in result.stdout


def test_valid_buchungsstapel_under_any_name_shows_header_facts_and_totals(
    tmp_path: Path,
) -> None:
    renamed = tmp_path / "export vom steuerbuero.txt"  # the name says nothing
    shutil.copy(DATEV / "extf_format_13.csv", renamed)
    result = validate(str(renamed))
    assert result.returncode == 0, result.stdout
    out = result.stdout
    for fact in ("DATEV-Buchungsstapel", "EXTF 700, 21 Buchungsstapel, format 13",
                 "29098 / 55003", "01.01.2024-31.12.2024", "SKR04, 4",
                 "Zeilen gelesen:          3", "Übernommen:              3",
                 "Soll 4.829,40 €, Haben 10.000,00 €, Saldo -5.170,60 €"):
        assert fact in out, (fact, out)


def test_buchungsstapel_with_bad_lines_lists_line_field_and_reason() -> None:
    result = validate(str(DATEV / "belegfeld_1_too_long.csv"))
    assert result.returncode == 1
    assert "ABGELEHNT" in result.stdout  # 1 of 3 lines: more than the reject share
    assert "4  Belegfeld 1" in result.stdout and "länger als die 36 Zeichen" in result.stdout
    assert "davon aussortiert (Saldo): 618,90 €" in result.stdout


def test_missing_required_datev_column_is_named() -> None:
    result = validate("--lang", "en", str(DATEV / "missing_gegenkonto_column.csv"))
    assert result.returncode == 1
    assert "REJECTED" in result.stdout
    assert "no required column 'Gegenkonto (ohne BU-Schlüssel)'" in result.stdout


def test_account_labels_and_reference_tables_are_recognised(tmp_path: Path) -> None:
    labels = validate(str(DATEV / "ledermann_EXTF_Kontenbeschriftungen.csv"))
    assert labels.returncode == 0 and "DATEV-Kontenbeschriftungen" in labels.stdout
    table = tmp_path / "kostenstellen.csv"
    table.write_text("organisation_code,cost_centre,department_code,program_code,kost_field\n"
                     "swm,1100,SB,,KOST3\n", encoding="utf-8")
    result = validate(str(table))
    assert result.returncode == 1
    assert "Referenztabelle" in result.stdout and "cost_centres" in result.stdout
    assert "Zeile 2: kost_field 'KOST3' ist nicht KOST1 oder KOST2" in result.stdout


def test_a_file_of_no_known_kind_is_rejected(tmp_path: Path) -> None:
    other = tmp_path / "notizen.csv"
    other.write_text("a;b;c\n1;2;3\n", encoding="utf-8")
    result = validate(str(other))
    assert result.returncode == 1 and "keine Datei, die Datenwerk lädt" in result.stdout


def test_vendor_workbook_is_recognised_by_its_columns() -> None:
    result = validate(str(CASES / "kontakte_xlsx_vendor.xlsx"))
    assert "Export der Fallverwaltung" in result.stdout, result.stdout + result.stderr
    assert "jugendhilfe_xlsx" in result.stdout
