"""The vendor gallery end to end: two real export shapes, each with one YAML profile and no
Python, go through the real nightly job (dlt, dbt, GX, publication, exports, open data) into the
published figures, and nothing personal or clear comes out.

- ``kvs`` (an addiction-care provider) delivers the KDS case list of an EBIS/PATFAK-style system
  under the vendor's default file name ``Export_2025-12-31.csv``: one row per episode, no case
  number, client columns, "Name, Vorname", ICD-10 main diagnosis, KDS end codes with their text,
  contacts total, the facility as a column, a remark. It also delivers bookings.
- ``jhv`` (a youth-welfare provider) delivers a contact list with the case and the young
  person's columns on every row, a § 35a diagnosis and notes; it delivers no bookings.

Expected figures are worked out by hand from ``tests/fixtures/vendors/``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from tests.conftest import PipelineRun, run_nightly, staged_id, use_home, write_datev_bookings
from tests.privacy_scan import leaked_keys, planted_in_files, source_keys

VENDORS = Path(__file__).parents[1] / "fixtures" / "vendors"
REFERENCE = {
    "kvs": {
        "departments.csv": "organisation_code,department_code,department_name,data_steward,"
                           "is_pilot\n"
                           "kvs,SBM,Suchtberatung Mitte,S. Steward,true\n"
                           "kvs,GLS,Fachstelle Glücksspiel,S. Steward,false\n",
        "programs.csv": "organisation_code,program_code,department_code,program_name\n"
                        "kvs,SUCHT-BER,SBM,Ambulante Beratung\n"
                        "kvs,SUCHT-REHA,SBM,Ambulante Rehabilitation\n"
                        "kvs,SUCHT-SONST,SBM,Weitere Angebote\n"
                        "kvs,GLS-BER,GLS,Glücksspielberatung\n",
        "cost_centres.csv": "organisation_code,cost_centre,department_code,program_code,"
                            "kost_field\n"
                            "kvs,100,SBM,SUCHT-BER,KOST1\nkvs,200,GLS,GLS-BER,KOST1\n",
        "accounts.csv": "organisation_code,chart,account_from,account_to,category_type,category\n"
                        "kvs,SKR04,6000,6199,cost,personnel\n",
    },
    "jhv": {
        "departments.csv": "organisation_code,department_code,department_name,data_steward,"
                           "is_pilot\n"
                           "jhv,AJH,Ambulante Jugendhilfe,J. Steward,true\n",
        "programs.csv": "organisation_code,program_code,department_code,program_name\n"
                        "jhv,AJH-SPFH,AJH,Sozialpädagogische Familienhilfe\n"
                        "jhv,AJH-EB,AJH,Erziehungsbeistandschaft\n",
        "cost_centres.csv": "organisation_code,cost_centre,department_code,program_code,"
                            "kost_field\n"
                            "jhv,400,AJH,AJH-SPFH,KOST1\n",
        "accounts.csv": "organisation_code,chart,account_from,account_to,category_type,category\n"
                        "jhv,SKR04,6000,6199,cost,personnel\n",
    },
}
DELIVERIES = {  # fixture -> where the provider puts it (organisation / department folder / name)
    "kds_case_list_with_diagnosis_and_names.csv": "kvs/SBM/Export_2025-12-31.csv",
    "youth_welfare_contact_list_with_names.csv": "jhv/AJH/Kontaktliste Hilfen 2025.csv",
}
# Planted in the fixtures, never to be stored: names, relatives, diagnoses, contact details.
PLANTED = ["Brandt, Jürgen", "Sabine Brandt", "Öztürk, Ayla", "Kemal", "Kowalski", "Lehmann",
           "Karl-Liebknecht-Str", "0341 5550123", "claudia.meier@example.org", "Krüger", "Leonie",
           "Eisenbahnstraße", "Yilmaz", "0176 5550199", "Finn.Krueger@example.net",
           "Gutachten", "F10.2", "F10.1", "F11.2", "F12.2", "F15.2", "F63.0", "F90.0", "F43.2",
           "03.04.1971", "1971-04-03", "14.03.2009", "2009-03-14"]


@pytest.fixture(scope="module")
def gallery(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PipelineRun]:
    from ingestion.pseudonymise import ensure_key_file

    home = tmp_path_factory.mktemp("gallery") / "home"
    inbox = home / "inbox"
    for org, files in REFERENCE.items():
        (inbox / "reference" / org).mkdir(parents=True)
        for name, text in files.items():
            (inbox / "reference" / org / name).write_text(text, encoding="utf-8")
    for fixture, target in DELIVERIES.items():
        (inbox / "case_management" / target).parent.mkdir(parents=True)
        shutil.copy(VENDORS / fixture, inbox / "case_management" / target)
    write_datev_bookings(inbox, "kvs", {2024: [("12000,00", "6000", "1503", "100"),
                                               ("3000,00", "6000", "1603", "200")],
                                        2025: [("14000,00", "6000", "1503", "100")]})
    use_home(home)
    ensure_key_file()
    result = run_nightly(home, compute_logs=True)
    assert result.success, [  # type: ignore[attr-defined]
        (e.step_key, str(e.step_failure_data.error)[-2500:])
        for e in result.all_events if e.is_step_failure]  # type: ignore[attr-defined]
    yield PipelineRun(home, result)


def published(run: PipelineRun, sql: str) -> list[tuple]:
    with duckdb.connect(str(run.home / "published" / "marts.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_each_file_is_registered_once_for_all_its_entities(gallery: PipelineRun) -> None:
    rows = published(gallery, "select organisation_code, entity, profile, rows_read, rows_loaded, "
                              "rows_quarantined, is_reconciled from mart_deliveries "
                              "where source_system = 'case_management' order by 1")
    assert rows == [
        ("jhv", "contacts, cases, clients", "jugendhilfe_kontaktliste_csv", 9, 9, 0, True),
        ("kvs", "cases, clients", "kds_suchthilfe_csv", 11, 11, 0, True),
    ]


def test_planned_ends_per_year_from_kds_end_codes(gallery: PipelineRun) -> None:
    # 2024: codes 1, 2, 7 planned, 6 not; 2025: codes 3 and 1 (twice) planned; 4, 5, 8 not.
    assert published(gallery, """
        select end_year, count(*), count(*) filter (where is_planned_end) from fct_cases
        where organisation_code = 'kvs' and status = 'closed' group by 1 order by 1""") == [
        (2024, 4, 3), (2025, 6, 3)]
    assert published(gallery, """
        select program_code, year, n_cases_closed, n_planned_ends, planned_end_rate
        from mart_outcomes where organisation_code = 'kvs' and period_type = 'year'
            and n_cases_closed > 0 order by 1, 2""") == [
        ("GLS-BER", 2024, 1, 1, 1.0), ("GLS-BER", 2025, 1, 0, 0.0),
        ("SUCHT-BER", 2024, 3, 2, 0.6667), ("SUCHT-BER", 2025, 2, 1, 0.5),
        ("SUCHT-REHA", 2025, 2, 1, 0.5), ("SUCHT-SONST", 2025, 1, 1, 1.0)]
    # a client's second episode is a case of its own (client number + start date)
    assert published(gallery, f"""
        select count(*) from fct_cases
        where client_id = '{staged_id(gallery.home, "SBM", "9004711")}'""") == [(2,)]
    # the youth-welfare contact list: one planned end in 2024, one dropout in 2025, one open
    assert published(gallery, """
        select end_year, end_reason_category from fct_cases where organisation_code = 'jhv'
        order by end_year nulls last""") == [(2024, "planned_end"), (2025, "dropout"), (None, None)]


def test_department_from_the_facility_column(gallery: PipelineRun) -> None:
    assert published(gallery, """
        select department_code, count(*) from fct_cases where organisation_code = 'kvs'
        group by 1 order by 1""") == [("GLS", 2), ("SBM", 9)]


def test_client_demographics(gallery: PipelineRun) -> None:
    rows = published(gallery, """
        select organisation_code, gender, count(distinct client_id) from fct_cases
        group by 1, 2 order by 1, 2""")
    assert rows == [("jhv", "d", 1), ("jhv", "m", 1), ("jhv", "w", 1),
                    ("kvs", "d", 1), ("kvs", "m", 4), ("kvs", "w", 4), ("kvs", "x", 1)]
    assert published(gallery, """
        select age_band_at_start from fct_cases where organisation_code = 'jhv'
        order by start_date""") == [("14-17",), ("0-13",), ("14-17",)]


def test_reach_and_contacts_from_case_totals_and_from_contact_rows(gallery: PipelineRun) -> None:
    impact = {(r[0], r[1]): r[2:] for r in published(gallery, """
        select program_code, year, n_contacts, n_clients_reached, contact_minutes,
            n_cases_accepted, n_cases_acceptance_known, acceptance_rate
        from mart_impact""")}
    # case totals count in the year the case ended: 12 + 5 + 0 contacts, two clients reached
    assert impact[("SUCHT-BER", 2024)][:2] == (17, 2)
    assert impact[("GLS-BER", 2024)][:2] == (9, 1)
    # started 2024: 10.01. (12 contacts), 12.03. (5), 02.04. (0) -> two of three accepted
    assert impact[("SUCHT-BER", 2024)][3:] == (2, 3, 0.6667)
    # the contact list: contact rows by contact date
    assert impact[("AJH-SPFH", 2024)][:3] == (4, 1, 285)
    assert impact[("AJH-EB", 2025)][:3] == (3, 2, 210)
    assert published(gallery, "select distinct contacts_source from fct_cases "
                              "where organisation_code = 'kvs'") == [("case_total",)]
    # the published funder report says the same, not 0
    assert published(gallery, """
        select n_clients_reached, n_contacts from mart_srs_report
        where program_code = 'SUCHT-BER' and year = 2024""") == [(2, 17)]


def test_costs_are_empty_where_no_bookings_were_delivered(gallery: PipelineRun) -> None:
    costs = {(r[0], r[1]): r[2] for r in published(
        gallery, "select program_code, year, costs_eur from mart_impact")}
    assert costs[("SUCHT-BER", 2024)] == Decimal("12000.00")
    assert costs[("SUCHT-REHA", 2024)] == Decimal("0.00")  # bookings delivered, none for it
    assert costs[("AJH-SPFH", 2024)] is None  # jhv delivered no bookings: unknown, not free


def test_end_only_problem_area_results(gallery: PipelineRun) -> None:
    assert published(gallery, """
        select problem_area_result, count(*) from fct_assessment_change
        where organisation_code = 'kvs' and dimension = 'Suchtmittelkonsum'
        group by 1 order by 1""") == [("improved", 4), ("new", 1), ("unchanged", 2), ("worse", 1)]


def test_no_clear_identifier_diagnosis_or_name_anywhere(gallery: PipelineRun) -> None:
    needles = source_keys(gallery.home / "inbox")
    assert {"9004711", "P-10233", "H-2024-017", "KT-880101", "FK-07"} <= needles
    assert leaked_keys(gallery.home, needles) == []
    assert planted_in_files(gallery.home, PLANTED) == []


def test_the_planted_values_really_are_in_the_deliveries(gallery: PipelineRun) -> None:
    blob = b"".join(p.read_bytes() for p in (gallery.home / "inbox").rglob("*.csv"))
    for value in ("Brandt, Jürgen", "F10.2", "F90.0", "Eisenbahnstraße"):
        assert value.encode("cp1252") in blob or value.encode("utf-8") in blob, value
