"""Golden edge cases for the outcome and impact marts: a tiny hand-made delivery of organisation
``gold`` goes through the real dlt pipelines and the real dbt build (models, contracts, tests,
unit tests); the expected figures are worked out by hand below.

Department GD, programs:

- ``P-A`` (cost centre 100; EUR 1,000 booked in 2024, EUR 2,000 in 2025):
  - G1 spans two years (15.11.2024-10.02.2025), ends regularly (planned), 2 contacts of 60 min;
    goal Z1 (weight 2, attained +1) and goal Z2 without an attained level -> GAS T = 50 + 10 * 2
    / sqrt(0.7 * 4 + 0.3 * 4) = 60; Wohnsituation 4 -> 6 (improved), Sprache only at exit (new).
  - G2 has no contacts at all and ends with a dropout (01.03.-01.04.2024).
  - G3 is still open (since 01.06.2025), 1 contact of 30 min, a goal without an attained level,
    and an intake assessment without an exit.
- ``P-NOCOST`` (cost centre 200, nothing booked): G4, a planned transfer in 2024, 3 contacts.
- ``P-COSTONLY`` (cost centre 300): EUR 500 booked in 2024, no cases.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from ingestion.demo.generator import HEADERS
from tests.conftest import load_and_build, staged_id, write_datev_bookings

ORG, DEPT = "gold", "GD"
CASE_FILES = {
    "klienten": [
        ["K-1", "Anna", "Muster", "01.02.1980", "weiblich", "Weg 1", "04109", "Leipzig", "", ""],
        ["K-2", "Bert", "Muster", "03.04.2010", "männlich", "Weg 2", "04110", "Leipzig", "", ""],
        ["K-3", "Cem", "Muster", "05.06.1995", "divers", "Weg 3", "04229", "Leipzig", "", ""],
        [
            "K-4", "Dora", "Muster", "07.08.1950", "keine Angabe", "Weg 4", "04109", "Leipzig",
            "", "",
        ],
    ],
    "faelle": [
        ["G1", "K-1", "P-A", "Jobcenter", "15.11.2024", "10.02.2025", "regulär beendet", "MA-1"],
        ["G2", "K-2", "P-A", "Jugendamt", "01.03.2024", "01.04.2024", "Abbruch durch Klient/in",
         "MA-1"],
        ["G3", "K-3", "P-A", "Selbstmelder", "01.06.2025", "", "", "MA-1"],
        ["G4", "K-4", "P-NOCOST", "Selbstmelder", "01.02.2024", "31.05.2024",
         "planmäßige Weitervermittlung", "MA-2"],
    ],
    "kontakte": [
        ["C1", "G1", "15.11.2024", "persönlich", "60", "MA-1", ""],
        ["C2", "G1", "20.01.2025", "Gruppe", "60", "MA-1", ""],
        ["C3", "G3", "01.06.2025", "telefonisch", "30", "MA-1", ""],
        ["C4", "G4", "01.02.2024", "persönlich", "45", "MA-2", ""],
        ["C5", "G4", "01.03.2024", "persönlich", "45", "MA-2", ""],
        ["C6", "G4", "02.04.2024", "online", "45", "MA-2", ""],
    ],
    "ziele": [
        ["Z1", "G1", "Wohnen", "20.11.2024", "-1", "0", "1", "GAS", "2"],
        ["Z2", "G1", "Arbeit", "20.11.2024", "-2", "0", "", "GAS", "1"],
        ["Z3", "G3", "Finanzen", "05.06.2025", "-2", "0", "", "GAS", "1"],
        ["Z4", "G4", "Gesundheit", "05.02.2024", "-1", "0", "0", "GAS", "1"],
    ],
    "einschaetzungen": [
        ["E1", "G1", "LE", "Wohnsituation", "Aufnahme", "15.11.2024", "4,0", "1", "10"],
        ["E2", "G1", "LE", "Wohnsituation", "Abschluss", "05.02.2025", "6,0", "1", "10"],
        ["E3", "G1", "LE", "Sprache", "Abschluss", "05.02.2025", "5,0", "1", "10"],
        ["E4", "G3", "LE", "Wohnsituation", "Aufnahme", "01.06.2025", "5,0", "1", "10"],
    ],
}
REFERENCE = {
    "departments.csv": "organisation_code,department_code,department_name,data_steward,is_pilot\n"
                       "gold,GD,Golddepartment,G. Steward,true\n",
    "programs.csv": "organisation_code,program_code,department_code,program_name\n"
                    "gold,P-A,GD,Programm A\ngold,P-NOCOST,GD,Ohne Kosten\n"
                    "gold,P-COSTONLY,GD,Nur Kosten\n",
    "cost_centres.csv": "organisation_code,cost_centre,department_code,program_code,kost_field\n"
                        "gold,100,GD,P-A,KOST1\ngold,200,GD,P-NOCOST,KOST1\n"
                        "gold,300,GD,P-COSTONLY,KOST1\n",
    "accounts.csv": "organisation_code,chart,account_from,account_to,category_type,category\n"
                    "gold,SKR04,6000,6199,cost,personnel\ngold,SKR04,4300,4399,revenue,grants\n",
}
BOOKINGS = {  # year -> (amount, Konto, Belegdatum DDMM, KOST1)
    2024: [("1000,00", "6000", "1503", "100"), ("500,00", "6000", "1603", "300")],
    2025: [("2000,00", "6000", "1503", "100")],
}


def _write_case_management(inbox: Path) -> None:
    folder = inbox / "case_management" / ORG / DEPT
    folder.mkdir(parents=True)
    for name, rows in CASE_FILES.items():
        lines = [";".join(HEADERS[name])] + [";".join(r) for r in rows]
        (folder / f"{name}.csv").write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1252"))


@pytest.fixture(scope="module")
def gold(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("golden") / "home"
    inbox = home / "inbox"
    (inbox / "reference" / ORG).mkdir(parents=True)
    for name, text in REFERENCE.items():
        (inbox / "reference" / ORG / name).write_text(text, encoding="utf-8")
    _write_case_management(inbox)
    write_datev_bookings(inbox, ORG, BOOKINGS)
    yield load_and_build(home)


def rows(db: Path, sql: str) -> list[dict]:
    with duckdb.connect(str(db), read_only=True) as con:
        rel = con.sql(sql)
        return [dict(zip(rel.columns, r, strict=True)) for r in rel.fetchall()]


def pid(db: Path, number: str) -> str:
    """How a source-system number (case, goal, ...) of the gold home is keyed in the marts."""
    return staged_id(db.parents[1], DEPT, number)


def one(db: Path, sql: str) -> dict:
    found = rows(db, sql)
    assert len(found) == 1, found
    return found[0]


def test_loaded_everything(gold: Path) -> None:
    assert one(gold, "select count(*) as n from marts.fct_cases")["n"] == 4
    assert one(gold, "select count(*) as n from staging.stg_accounting__bookings")["n"] == 3


def test_case_without_contacts(gold: Path) -> None:
    g2 = one(gold, f"select * from marts.fct_cases where case_id = '{pid(gold, 'G2')}'")
    assert (g2["n_contacts"], g2["contact_minutes"], g2["first_contact_date"]) == (0, 0, None)
    assert g2["is_accepted"] is False
    assert (g2["end_reason_category"], g2["is_planned_end"], g2["duration_days"]) == (
        "dropout", False, 31)
    assert g2["gas_t_score"] is None and g2["n_goals"] == 0
    assert g2["age_band_at_start"] == "14-17" and g2["gender"] == "m"


def test_open_case(gold: Path) -> None:
    g3 = one(gold, f"select * from marts.fct_cases where case_id = '{pid(gold, 'G3')}'")
    assert (g3["status"], g3["end_date"], g3["duration_days"], g3["end_year"]) == (
        "open", None, None, None)
    assert (g3["is_planned_end"], g3["end_reason_category"]) == (False, None)
    assert g3["n_contacts"] == 1 and g3["is_accepted"] is False


def test_goal_without_attained_level(gold: Path) -> None:
    by_id = {g["goal_id"]: g for g in rows(gold, "select * from marts.fct_goals")}
    goals = {z: by_id[pid(gold, z)] for z in ("Z1", "Z2", "Z4")}
    assert (goals["Z2"]["is_rated"], goals["Z2"]["is_achieved"], goals["Z2"]["attained_level"]) == (
        False, None, None)
    assert (goals["Z1"]["is_achieved"], goals["Z1"]["level_change"]) == (True, 2)
    assert goals["Z1"]["wirkungstreppe_step"] == 6 and goals["Z4"]["wirkungstreppe_step"] == 5
    g1 = one(gold, f"select * from marts.fct_cases where case_id = '{pid(gold, 'G1')}'")
    # only the rated goal counts: 50 + 10 * (2 * 1) / sqrt(0.7 * 2^2 + 0.3 * 2^2) = 60
    assert g1["gas_t_score"] == pytest.approx(60.0)
    assert (g1["n_goals"], g1["n_goals_rated"], g1["n_goals_achieved"]) == (2, 1, 1)


def test_assessment_without_exit_and_new_problem_area(gold: Path) -> None:
    case_of = {pid(gold, g): g for g in ("G1", "G3")}
    change = {(case_of[a["case_id"]], a["dimension"]): a
              for a in rows(gold, "select * from marts.fct_assessment_change")}
    open_intake = change[("G3", "Wohnsituation")]
    assert (open_intake["intake_score"], open_intake["exit_score"], open_intake["has_pre_post"],
            open_intake["is_improved"], open_intake["problem_area_result"]) == (
        5.0, None, False, None, None)
    assert change[("G1", "Wohnsituation")]["problem_area_result"] == "improved"
    assert change[("G1", "Wohnsituation")]["score_change"] == 2.0
    assert change[("G1", "Sprache")]["problem_area_result"] == "new"
    assert change[("G1", "Sprache")]["has_pre_post"] is False


def test_case_spanning_two_years(gold: Path) -> None:
    outcome = {(r["period_type"], r["period_start"]): r for r in rows(
        gold, "select * from marts.mart_outcomes where program_code = 'P-A'")}
    y2024, y2025 = outcome[("year", date(2024, 1, 1))], outcome[("year", date(2025, 1, 1))]
    # 2024: G1 and G2 started and active, only G2 (dropout) closed.
    assert (y2024["n_cases_started"], y2024["n_cases_active"], y2024["n_cases_closed"]) == (2, 2, 1)
    assert y2024["planned_end_rate"] == 0.0 and y2024["median_duration_days"] == 31
    assert y2024["goal_attainment_rate"] is None and y2024["n_goals_rated"] == 0
    assert y2024["mean_gas_t_score"] is None and y2024["n_cases_gas"] == 0
    # 2025: G1 ends (planned, 87 days) and G3 starts; G1 counts as active in both years.
    assert (y2025["n_cases_started"], y2025["n_cases_active"], y2025["n_cases_closed"]) == (1, 2, 1)
    assert (y2025["n_planned_ends"], y2025["planned_end_rate"]) == (1, 1.0)
    assert (y2025["n_goals_rated"], y2025["goal_attainment_rate"]) == (1, 1.0)
    assert (y2025["n_cases_gas"], y2025["mean_gas_t_score"]) == (1, pytest.approx(60.0))
    assert (y2025["n_assessed_pairs"], y2025["share_improved"]) == (1, 1.0)
    assert y2025["median_duration_days"] == 87
    # G1 is active in every month from November 2024 to February 2025, and closes in February.
    active = [d.strftime("%Y-%m") for (t, d), r in sorted(outcome.items())
              if t == "month" and r["n_cases_active"] and d >= date(2024, 11, 1)]
    assert active[:4] == ["2024-11", "2024-12", "2025-01", "2025-02"]
    assert outcome[("month", date(2025, 2, 1))]["n_cases_closed"] == 1
    assert outcome[("quarter", date(2024, 10, 1))]["n_cases_active"] == 1
    assert outcome[("quarter", date(2025, 1, 1))]["n_planned_ends"] == 1
    # every program appears in every period, with n = 0 where nothing happened
    assert one(gold, "select count(*) as n from marts.mart_outcomes")["n"] == 3 * 2 * (12 + 4 + 1)
    dims = rows(gold, "select * from marts.mart_outcomes_by_dimension where period_type = 'year'")
    assert {(d["dimension"], d["n_results_improved"], d["n_results_new"]) for d in dims} == {
        ("Wohnsituation", 1, 0), ("Sprache", 0, 1)}


def impact(db: Path) -> dict[tuple[str, int], dict]:
    return {(r["program_code"], r["year"]): r for r in rows(db, "select * from marts.mart_impact")}


def test_cost_per_result(gold: Path) -> None:
    m = impact(gold)
    a24, a25 = m[("P-A", 2024)], m[("P-A", 2025)]
    assert (a24["costs_eur"], a24["personnel_costs_eur"]) == (
        Decimal("1000.00"), Decimal("1000.00")
    )
    assert (a24["n_clients_reached"], a24["contact_minutes"]) == (1, 60)  # G2 had no contact
    assert a24["cost_per_client_reached_eur"] == Decimal("1000.00")
    assert a24["cost_per_contact_hour_eur"] == Decimal("1000.00")
    assert a24["cost_per_planned_end_eur"] is None  # no planned end in 2024: empty, not an error
    assert a24["cost_per_goal_achieved_eur"] is None
    assert (a24["n_cases_started"], a24["n_cases_accepted"], a24["acceptance_rate"]) == (2, 1, 0.5)
    assert (a25["n_clients_reached"], a25["n_planned_ends"], a25["n_goals_achieved"]) == (2, 1, 1)
    assert a25["cost_per_client_reached_eur"] == Decimal("1000.00")
    assert a25["cost_per_planned_end_eur"] == Decimal("2000.00")
    assert a25["cost_per_goal_achieved_eur"] == Decimal("2000.00")
    assert (a25["n_group_contacts"], a25["contact_minutes"]) == (1, 90)
    assert a25["cost_per_contact_hour_eur"] == Decimal("1333.33")  # EUR 2,000 / 1.5 h


def test_program_without_costs(gold: Path) -> None:
    nocost = impact(gold)[("P-NOCOST", 2024)]
    assert (nocost["costs_eur"], nocost["n_clients_reached"], nocost["n_planned_ends"]) == (
        Decimal("0.00"), 1, 1)
    for col in ("cost_per_client_reached_eur", "cost_per_contact_hour_eur",
                "cost_per_planned_end_eur", "cost_per_goal_achieved_eur"):
        assert nocost[col] is None, col  # no cost booked: unknown, not free


def test_costs_without_cases(gold: Path) -> None:
    costonly = impact(gold)[("P-COSTONLY", 2024)]
    assert costonly["costs_eur"] == Decimal("500.00")
    assert (costonly["n_contacts"], costonly["n_clients_reached"], costonly["n_cases_closed"]) == (
        0, 0, 0)
    for col in ("cost_per_client_reached_eur", "cost_per_contact_hour_eur",
                "cost_per_planned_end_eur", "cost_per_goal_achieved_eur"):
        assert costonly[col] is None, col  # nothing to divide by: empty, not division by zero
    srs = one(gold, "select * from marts.mart_srs_report "
                    "where program_code = 'P-COSTONLY' and year = 2024")
    assert srs["costs_eur"] == Decimal("500.00") and srs["planned_end_rate"] is None
    total = one(gold, "select sum(costs_eur) as c from marts.mart_impact")["c"]
    assert total == Decimal("3500.00")  # every booked euro lands in exactly one program-year


def test_one_organisation_discloses_nothing_at_federation_level(gold: Path) -> None:
    # G2 (dropout) and G4 (transfer) ended in 2024, G1 in 2025; G3 is open. One organisation
    # alone is recognisable in any federation figure: every cell and total is hidden.
    found = rows(gold, "select year, program_code, suppression_reason, n_cases_closed, "
                       "n_planned_ends, planned_end_rate from marts.mart_federation_program_year "
                       "order by all")
    assert [(r["year"], r["program_code"], r["suppression_reason"]) for r in found] == [
        (2024, "P-A", "few_organisations"), (2024, "P-NOCOST", "few_organisations"),
        (2024, "total", "few_organisations"), (2025, "P-A", "few_organisations"),
        (2025, "total", "few_organisations")]
    assert all(r["n_cases_closed"] is r["n_planned_ends"] is r["planned_end_rate"] is None
               for r in found)
