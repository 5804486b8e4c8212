"""Edge cases of the published figures that the demo does not contain, through the real dlt
pipelines and the real dbt build, checked against figures worked out by hand below (an analyst's
or a funder's independent recount of the delivered files).

Organisation ``kante``, department KD, program P-K (cost centre 100); cost centre 900 is the
department's own (no program). All cases start in 2024:

- K1 regular end 01.02.-30.06.2024; one goal (weight 1, attained -2): T = 50 + 10 * -2 / 1 = 30.
  Contacts on 15.01.2024 (before the case began, 60 min) and 01.07.2024 (after it ended, 30 min).
- K2 closed 01.03.-30.09.2024 without an end reason (closed, not a planned end); goals (w 1,
  x -1), (w 2, x +2) and one unrated of weight 5: T = 50 + 10 * 3 / sqrt(0.7 * 5 + 0.3 * 9)
  = 50 + 30 / sqrt(6.2) = 62.0483. Contacts 01.03. and 05.03.2024, 45 min each.
- K3 open since 15.12.2024: contacts 20.12.2024 (60 min) and 10.01.2025 (30 min), so accepted.
- K4 dropout 01.05.-20.05.2024: contacts 01.05. and 01.06.2024 (30 min each); the second came
  after the dropout, so not accepted.

Departments SBM and GLS deliver a KDS case list whose facility column names the department
(profile kds_suchthilfe_csv): the gambling unit GLS also runs SBM's program SUCHT-BER (one case,
a planned end in 2024) besides its own GLS-BER (a dropout); SBM ends one case in 2024 and one in
2025. A joint project PROJ-Z, not in
programs.csv, has cost centres in KD (950: EUR 1,000) and GLS (951: EUR 500); SBM's cost centre
952 books EUR 80 to GLS's program GLS-BER (October 2024).

Department KX runs a case-management system of its own, whose numbers repeat KD's: its case K1
(client KL-1, a man born 1950, program P-X, 01.03.-31.05.2024, regular end) has contacts C1
(10.03.2024, 20 min) and C2 (20.03.2024, 25 min) and goal Z1 (attained +1). They are other
records than KD's K1, KL-1, C1, C2 and Z1: nothing of either department's K1 reaches the other.

DATEV: one Buchungsstapel of the fiscal year 01.07.2024-30.06.2025 (Belegdatum DDMM: March is
2025). Cost centre 100: EUR 1,000 on 15.08.2024; in 2025 EUR 400, a Generalumkehr of EUR 100
(-100) and a credit of EUR 50 on the cost account (-50): 250; a grant of EUR 700. EUR 300 without
a cost centre and EUR 200 on the department's cost centre 900 (September 2024).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from ingestion.demo.generator import HEADERS, _datev_headings
from tests.conftest import load_and_build, staged_id

ORG, DEPT, PROGRAM = "kante", "KD", "P-K"
CASE_FILES = {
    "klienten": [
        [f"KL-{n}", "A", "B", "01.02.1980", "weiblich", "Weg 1", "04109", "Leipzig", "", ""]
        for n in range(1, 5)
    ],
    "faelle": [
        ["K1", "KL-1", PROGRAM, "Selbstmelder", "01.02.2024", "30.06.2024", "regulär beendet",
         "MA-1"],
        ["K2", "KL-2", PROGRAM, "Selbstmelder", "01.03.2024", "30.09.2024", "", "MA-1"],
        ["K3", "KL-3", PROGRAM, "Selbstmelder", "15.12.2024", "", "", "MA-1"],
        ["K4", "KL-4", PROGRAM, "Selbstmelder", "01.05.2024", "20.05.2024",
         "Abbruch durch Klient/in", "MA-1"],
    ],
    "kontakte": [
        ["C1", "K1", "15.01.2024", "persönlich", "60", "MA-1", ""],
        ["C2", "K1", "01.07.2024", "persönlich", "30", "MA-1", ""],
        ["C3", "K2", "01.03.2024", "persönlich", "45", "MA-1", ""],
        ["C4", "K2", "05.03.2024", "persönlich", "45", "MA-1", ""],
        ["C5", "K3", "20.12.2024", "persönlich", "60", "MA-1", ""],
        ["C6", "K3", "10.01.2025", "telefonisch", "30", "MA-1", ""],
        ["C7", "K4", "01.05.2024", "persönlich", "30", "MA-1", ""],
        ["C8", "K4", "01.06.2024", "telefonisch", "30", "MA-1", ""],
    ],
    "ziele": [
        ["Z1", "K1", "Wohnen", "01.02.2024", "-1", "0", "-2", "GAS", "1"],
        ["Z2", "K2", "Arbeit", "01.03.2024", "-1", "0", "-1", "GAS", "1"],
        ["Z3", "K2", "Familie", "01.03.2024", "-2", "0", "2", "GAS", "2"],
        ["Z4", "K2", "Finanzen", "01.03.2024", "-2", "0", "", "GAS", "5"],
    ],
    "einschaetzungen": [],
}
OTHER_SYSTEM = "KX"  # a department whose own system numbers cases, clients, contacts from 1 too
OTHER_SYSTEM_FILES = {
    "klienten": [["KL-1", "A", "B", "03.07.1950", "männlich", "Weg 2", "01067", "Dresden", "",
                  ""]],
    "faelle": [["K1", "KL-1", "P-X", "Selbstmelder", "01.03.2024", "31.05.2024",
                "regulär beendet", "MA-1"]],
    "kontakte": [["C1", "K1", "10.03.2024", "persönlich", "20", "MA-1", ""],
                 ["C2", "K1", "20.03.2024", "telefonisch", "25", "MA-1", ""]],
    "ziele": [["Z1", "K1", "Wohnen", "01.03.2024", "-1", "0", "1", "GAS", "1"]],
    "einschaetzungen": [],
}
KDS_CASES = [  # Klientennummer, Einrichtung, Angebot, Beginn, Ende, Art der Beendigung, Kontakte
    ("700001", "Suchtberatung Mitte", "Ambulante Beratung", "10.01.2024", "28.06.2024",
     "1 - regulär nach Plan", "4"),
    ("700002", "Fachstelle Glücksspiel", "Ambulante Beratung", "05.02.2024", "30.09.2024",
     "1 - regulär nach Plan", "3"),
    ("700003", "Fachstelle Glücksspiel", "Glücksspielberatung", "05.02.2024", "30.09.2024",
     "4 - vorzeitig ohne Einverständnis / Abbruch durch Klient", "2"),
    ("700004", "Suchtberatung Mitte", "Ambulante Beratung", "10.01.2025", "20.03.2025",
     "1 - regulär nach Plan", "2"),
]
KDS_HEADER = ("Klientennummer;\"Name, Vorname\";Geburtsdatum;PLZ;Geschlecht;Einrichtung;Angebot;"
              "Betreuungsbeginn;Betreuungsende;Art der Beendigung;Hauptdiagnose (ICD-10);"
              "Problematik Suchtmittel bei Betreuungsende;Kontakte gesamt;Bemerkung")
REFERENCE = {
    "departments.csv": "organisation_code,department_code,department_name,data_steward,is_pilot\n"
                       "kante,KD,Kantendienst,K. Steward,false\n"
                       "kante,SBM,Suchtberatung Mitte,K. Steward,false\n"
                       "kante,GLS,Fachstelle Glücksspiel,K. Steward,false\n"
                       "kante,KX,Kantenwerk,K. Steward,false\n",
    "programs.csv": "organisation_code,program_code,department_code,program_name\n"
                    "kante,P-K,KD,Programm K\nkante,SUCHT-BER,SBM,Ambulante Beratung\n"
                    "kante,GLS-BER,GLS,Glücksspielberatung\nkante,P-X,KX,Programm X\n",
    "cost_centres.csv": "organisation_code,cost_centre,department_code,program_code,kost_field\n"
                        "kante,100,KD,P-K,KOST1\nkante,900,KD,,KOST1\n"
                        "kante,950,KD,PROJ-Z,KOST1\nkante,951,GLS,PROJ-Z,KOST1\n"
                        "kante,952,SBM,GLS-BER,KOST1\n",
    "accounts.csv": "organisation_code,chart,account_from,account_to,category_type,category\n"
                    "kante,SKR04,6000,6199,cost,personnel\nkante,SKR04,4300,4399,revenue,grants\n",
}
# amount, S/H, Konto, Belegdatum DDMM, KOST1, Generalumkehr
BOOKINGS = [
    ("1000,00", "S", "6000", "1508", "100", ""),
    ("400,00", "S", "6000", "1503", "100", ""),
    ("100,00", "S", "6000", "1603", "100", "1"),
    ("50,00", "H", "6000", "1703", "100", ""),
    ("700,00", "H", "4300", "0102", "100", ""),
    ("300,00", "S", "6000", "1009", "", ""),
    ("200,00", "S", "6000", "1109", "900", ""),
    ("1000,00", "S", "6000", "0110", "950", ""),
    ("500,00", "S", "6000", "0210", "951", ""),
    ("80,00", "S", "6000", "0310", "952", ""),
]
NO_COST_CENTRE = "(ohne Kostenstelle)"


def _write_inbox(inbox: Path) -> None:
    (inbox / "reference" / ORG).mkdir(parents=True)
    for name, text in REFERENCE.items():
        (inbox / "reference" / ORG / name).write_text(text, encoding="utf-8")
    for department, files in ((DEPT, CASE_FILES), (OTHER_SYSTEM, OTHER_SYSTEM_FILES)):
        folder = inbox / "case_management" / ORG / department
        folder.mkdir(parents=True)
        for name, rows in files.items():
            lines = [";".join(HEADERS[name])] + [";".join(r) for r in rows]
            (folder / f"{name}.csv").write_bytes(
                ("\r\n".join(lines) + "\r\n").encode("cp1252"))
    kds = [KDS_HEADER] + [
        f'{client};"Muster, Kim";01.01.1980;04109;weiblich;{facility};{offer};{start};{end};'
        f"{reason};;;{contacts};" for client, facility, offer, start, end, reason, contacts
        in KDS_CASES]
    (inbox / "case_management" / ORG / "SBM").mkdir(parents=True)
    (inbox / "case_management" / ORG / "SBM" / "Export_2024.csv").write_bytes(
        ("\r\n".join(kds) + "\r\n").encode("cp1252"))
    headings = _datev_headings()
    kost, reversal = headings.index("KOST1 - Kostenstelle"), headings.index("Generalumkehr (GU)")
    header = ['"EXTF"', "700", "21", '"Buchungsstapel"', "13", "20250801120000000", "", '""',
              '""', '""', "1001", "20003", "20240701", "4", "20240701", "20250630",
              '"WJ 2024/25"', '""', "1", "0", "0", '"EUR"', "", '""', "", '""', '"04"', "", '""',
              '""', '""']
    lines = [";".join(header), ";".join(headings)]
    for amount, debit_credit, account, belegdatum, cost_centre, gu in BOOKINGS:
        fields = [""] * len(headings)
        fields[0], fields[1], fields[2] = amount, f'"{debit_credit}"', '"EUR"'
        fields[6], fields[7], fields[9] = account, "1800", belegdatum
        fields[10], fields[13] = f'"B-{belegdatum}"', '"Buchung"'
        fields[kost], fields[reversal] = f'"{cost_centre}"', gu
        lines.append(";".join(fields))
    (inbox / "accounting" / ORG).mkdir(parents=True)
    (inbox / "accounting" / ORG / "EXTF_Buchungsstapel_WJ2024.csv").write_bytes(
        ("\r\n".join(lines) + "\r\n").encode("cp1252"))


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("edge_figures") / "home"
    _write_inbox(home / "inbox")
    yield load_and_build(home)


def rows(db: Path, sql: str) -> list[dict]:
    with duckdb.connect(str(db), read_only=True) as con:
        rel = con.sql(sql)
        return [dict(zip(rel.columns, r, strict=True)) for r in rel.fetchall()]


def cases(db: Path) -> dict[str, dict]:
    by_id = {r["case_id"]: r for r in rows(db, "select * from marts.fct_cases")}
    return {k: by_id[staged_id(db.parents[1], DEPT, k)] for k in ("K1", "K2", "K3", "K4")}


def impact(db: Path) -> dict[int, dict]:
    return {r["year"]: r for r in rows(
        db, f"select * from marts.mart_impact where program_code = '{PROGRAM}'")}


def test_open_case_with_a_second_contact_is_accepted(edge: Path) -> None:
    by_case = cases(edge)
    assert by_case["K3"]["status"] == "open" and by_case["K3"]["n_contacts"] == 2
    assert by_case["K3"]["is_accepted"] is True
    assert by_case["K2"]["is_accepted"] is True  # closed without an end reason
    assert by_case["K1"]["is_accepted"] is True  # second contact after the regular end
    assert by_case["K4"]["is_accepted"] is False  # second contact after the dropout
    y2024 = impact(edge)[2024]
    assert (y2024["n_cases_started"], y2024["n_cases_accepted"],
            y2024["n_cases_acceptance_known"], y2024["acceptance_rate"]) == (4, 3, 4, 0.75)


def test_mean_gas_t_score_is_the_mean_of_the_exact_scores(edge: Path) -> None:
    by_case = cases(edge)
    assert (by_case["K1"]["gas_t_score"], by_case["K2"]["gas_t_score"]) == (30.0, 62.05)
    outcome = rows(edge, "select * from marts.mart_outcomes where period_type = 'year' "
                         f"and year = 2024 and program_code = '{PROGRAM}'")[0]
    # (30 + 62.0483) / 2 = 46.0241 -> 46.02; the mean of the rounded case scores would give
    # (30 + 62.05) / 2 = 46.025 -> 46.03.
    assert (outcome["n_cases_gas"], outcome["mean_gas_t_score"]) == (2, 46.02)
    assert impact(edge)[2024]["mean_gas_t_score"] == 46.02
    assert (outcome["n_goals_rated"], outcome["n_goals_achieved"]) == (3, 1)  # K4 has no goal


def test_closed_without_end_reason_is_closed_but_not_planned(edge: Path) -> None:
    assert cases(edge)["K2"]["end_reason_category"] == "other_end"
    y2024 = impact(edge)[2024]
    assert (y2024["n_cases_closed"], y2024["n_planned_ends"], y2024["planned_end_rate"]) == (
        3, 1, 0.3333)
    assert y2024["n_cases_active"] == 4 and impact(edge)[2025]["n_cases_active"] == 1


def test_contacts_outside_the_case_period_count_in_their_own_year(edge: Path) -> None:
    m = impact(edge)
    # 2024: C1-C5, C7, C8 = 60 + 30 + 45 + 45 + 60 + 30 + 30 minutes; 2025: C6 alone.
    assert (m[2024]["n_contacts"], m[2024]["contact_minutes"], m[2024]["n_clients_reached"]) == (
        7, 300, 4)
    assert (m[2025]["n_contacts"], m[2025]["contact_minutes"], m[2025]["n_clients_reached"]) == (
        1, 30, 1)


def test_costs_of_a_fiscal_year_with_reversal_and_credit(edge: Path) -> None:
    m = impact(edge)
    assert (m[2024]["costs_eur"], m[2024]["revenues_eur"]) == (Decimal("1000.00"), Decimal("0.00"))
    assert (m[2025]["costs_eur"], m[2025]["grants_eur"]) == (Decimal("250.00"), Decimal("700.00"))
    # EUR 1,000 / 5 contact hours, / 4 clients, / 1 planned end, / 1 goal achieved
    assert (m[2024]["cost_per_contact_hour_eur"], m[2024]["cost_per_client_reached_eur"],
            m[2024]["cost_per_planned_end_eur"], m[2024]["cost_per_goal_achieved_eur"]) == (
        Decimal("200.00"), Decimal("250.00"), Decimal("1000.00"), Decimal("1000.00"))
    assert m[2025]["cost_per_contact_hour_eur"] == Decimal("500.00")  # EUR 250 / 0.5 h


def test_costs_outside_programs_are_reported_not_dropped(edge: Path) -> None:
    finance = {(r["month"], r["cost_centre"]): r for r in rows(
        edge, "select * from marts.mart_finance_by_cost_centre_month")}
    none = finance[(date(2024, 9, 1), NO_COST_CENTRE)]
    assert (none["costs_eur"], none["is_cost_centre_mapped"], none["department_code"]) == (
        Decimal("300.00"), False, None)
    own = finance[(date(2024, 9, 1), "900")]
    assert (own["costs_eur"], own["department_code"], own["program_code"]) == (
        Decimal("200.00"), DEPT, None)
    totals = rows(edge, "select year, sum(costs_eur) as c "
                        "from marts.mart_finance_by_cost_centre_month group by year order by year")
    assert [(t["year"], t["c"]) for t in totals] == [
        (2024, Decimal("3080.00")), (2025, Decimal("250.00"))]


def test_a_program_of_two_departments_counts_each_case_and_euro_once(edge: Path) -> None:
    found = {(r["department_code"], r["program_code"]): r for r in rows(
        edge, "select * from marts.mart_impact where year = 2024 "
              "and program_code not in ('P-K', 'P-X')")}
    # every case in its own department's row, none dropped
    assert {k: (r["n_cases_closed"], r["n_planned_ends"]) for k, r in found.items()
            if r["n_cases_closed"]} == {
        ("SBM", "SUCHT-BER"): (1, 1), ("GLS", "SUCHT-BER"): (1, 1), ("GLS", "GLS-BER"): (1, 0)}
    closed = rows(edge, "select sum(n_cases_closed) as n from marts.mart_outcomes "
                        "where period_type = 'year'")[0]["n"]
    assert closed == (len(CASE_FILES["faelle"]) - 1 + len(KDS_CASES)  # all closed but K3
                      + len(OTHER_SYSTEM_FILES["faelle"]))
    # every euro in the row of its cost centre's department and program, once
    assert {k: r["costs_eur"] for k, r in found.items() if r["costs_eur"]} == {
        ("KD", "PROJ-Z"): Decimal("1000.00"), ("GLS", "PROJ-Z"): Decimal("500.00"),
        ("SBM", "GLS-BER"): Decimal("80.00")}
    total = rows(edge, "select sum(costs_eur) as c from marts.mart_impact where year = 2024")
    assert total[0]["c"] == Decimal("2580.00")  # 3,080 booked less 500 outside programs


def test_this_year_vs_last_compares_each_department_with_itself(edge: Path) -> None:
    query = Path(__file__).parents[2] / "warehouse" / "queries" / (
        "01_planned_end_rate_this_year_vs_last.sql")
    with duckdb.connect(str(edge), read_only=True) as con:
        con.execute("set schema 'marts'")
        rel = con.sql(query.read_text(encoding="utf-8"))
        found = [dict(zip(rel.columns, r, strict=True)) for r in rel.fetchall()]
    assert len(found) == len({(r["department_code"], r["program_code"]) for r in found})
    sucht = {r["department_code"]: r for r in found if r["program_code"] == "SUCHT-BER"}
    assert (sucht["SBM"]["year"], sucht["SBM"]["n_cases_closed"],
            sucht["SBM"]["previous_year_n_cases_closed"]) == (2025, 1, 1)
    assert (sucht["GLS"]["n_cases_closed"], sucht["GLS"]["previous_year_n_cases_closed"]) == (0, 1)



def test_numbers_another_department_repeats_are_other_records(edge: Path) -> None:
    """Two systems both number from 1: KX's case K1, client KL-1, contacts C1 and C2 and goal Z1
    stay KX's, and KD's stay KD's (before, the later file's K1 replaced the other one, its
    contact minutes went to the other department's case, and no check said so)."""
    found = {(r["department_code"], r["case_id"]): r for r in rows(
        edge, "select * from marts.fct_cases")}
    assert len(found) == len(CASE_FILES["faelle"]) + len(KDS_CASES) + 1
    home = edge.parents[1]
    ours, theirs = (found[(d, staged_id(home, d, "K1"))] for d in (DEPT, OTHER_SYSTEM))
    assert ours["case_id"] != theirs["case_id"]
    # KD's K1: C1 and C2 of KD (60 + 30 min), a woman born 1980, T = 30 (x = -2)
    assert (ours["program_code"], ours["n_contacts"], ours["contact_minutes"], ours["gender"],
            ours["gas_t_score"]) == (PROGRAM, 2, 90, "w", 30.0)
    # KX's K1: its own C1 and C2 (20 + 25 min), a man born 1950, T = 60 (x = +1)
    assert (theirs["program_code"], theirs["n_contacts"], theirs["contact_minutes"],
            theirs["gender"], theirs["age_band_at_start"], theirs["gas_t_score"]) == (
        "P-X", 2, 45, "m", "65+", 60.0)
    assert ours["client_id"] != theirs["client_id"]
    other = rows(edge, "select * from marts.mart_impact where program_code = 'P-X' and year = 2024")
    assert [(r["year"], r["n_contacts"], r["contact_minutes"], r["n_clients_reached"],
             r["n_planned_ends"]) for r in other] == [(2024, 2, 45, 1, 1)]
    # one goal per department's Z1, each with its own case
    goals = rows(edge, "select department_code, case_id from marts.fct_goals")
    assert sorted(g["department_code"] for g in goals) == [DEPT] * 4 + [OTHER_SYSTEM]
